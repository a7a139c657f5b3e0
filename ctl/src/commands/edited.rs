//! What an edit of the live config did, as each host reports it: on Envoy the version, the
//! proxies it is live on and the service's new split (or, in a dry run, every field it would
//! change); on Kubernetes the WasmPlugin's new version, the sidecars it is live in, and the
//! requests of a dry run.

use std::collections::BTreeMap;

use serde_json::json;
use veer_k8s::plugin_config::PluginConfigUpdate;

use crate::config::edit::split_summary;
use crate::error::Result;
use crate::host::envoy::change::Applied;
use crate::host::Edited;
use crate::output;
use crate::settings::Settings;

/// Prints `edited`: the split of `service` (all services when `None`), under `what`.
pub fn print(s: &Settings, edited: &Edited, service: Option<&str>, what: &str) -> Result<()> {
    match edited {
        Edited::Envoy(applied) => applied_on_envoy(s, applied, service, what),
        Edited::Kubernetes(update) => updated_on_kubernetes(s, update, what),
    }
}

/// The Envoy outcome: the service's new split, the version, where it is verified.
pub fn applied_on_envoy(
    s: &Settings,
    applied: &Applied,
    service: Option<&str>,
    what: &str,
) -> Result<()> {
    let splits: Vec<(String, String)> = applied
        .wire
        .services
        .iter()
        .filter(|x| service.is_none_or(|n| n == x.name))
        .map(|x| (x.name.clone(), split_summary(x)))
        .collect();
    if let Some(differences) = &applied.dry_run {
        let doc = json!({
            "change": what,
            "dry_run": true,
            "version": applied.version,
            "differences": differences,
        });
        return s.printer.print(&doc, || {
            println!(
                "{what}: dry run, nothing written (it would be version {}):",
                applied.version
            );
            output::diff::print(differences);
        });
    }
    let doc = json!({
        "change": what,
        "version": applied.version,
        "verified": applied.verified,
        "splits": splits.iter().map(|(s, p)| json!({"service": s, "split": p})).collect::<Vec<_>>(),
    });
    s.printer.print(&doc, || {
        let n = applied.verified.len();
        let live = if n == 0 {
            "written, not verified (--no-wait)".to_owned()
        } else {
            format!("live on {n} prox{}", if n == 1 { "y" } else { "ies" })
        };
        println!("{what}: version {} {live}", applied.version);
        for (s, p) in splits {
            println!("  {s}: {p}");
        }
    })
}

/// The Kubernetes outcome: the WasmPlugin's version, every service's split, the sidecars it is
/// verified in.
fn updated_on_kubernetes(s: &Settings, update: &PluginConfigUpdate, what: &str) -> Result<()> {
    let splits: BTreeMap<&str, String> = update
        .config
        .services
        .iter()
        .map(|x| (x.name.as_str(), split_summary(x)))
        .collect();
    let mut summary = format!(
        "{what}: WasmPlugin {} now carries version {} ({} attempt{})",
        update.name,
        update.version,
        update.attempts,
        if update.attempts == 1 { "" } else { "s" }
    );
    for (s, p) in splits {
        summary.push_str(&format!("\n  {s}: {p}"));
    }
    match update.live_in {
        Some(0) => summary.push_str("\n  not verified: no sidecar runs the plugin"),
        Some(n) => summary.push_str(&format!("\n  verified live in {n} sidecar(s)")),
        None => {}
    }
    summary.push_str(
        "\n  observed split: `veerctl status` (the plugin's sidecars, or --selector LABELS)",
    );
    super::print_outcome(s, update, &summary, &update.requests)
}
