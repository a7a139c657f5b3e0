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

/// What an edit did, as `-o json` prints it: on Envoy the change, version, proxies verified and
/// splits (or, in a dry run, the differences); on Kubernetes the WasmPlugin update.
pub fn document(edited: &Edited, service: Option<&str>, what: &str) -> serde_json::Value {
    match edited {
        Edited::Envoy(applied) => envoy_document(applied, service, what),
        Edited::Kubernetes(update) => {
            serde_json::to_value(update).unwrap_or(serde_json::Value::Null)
        }
    }
}

/// The splits of `service` (all services when `None`) in `applied`, for people.
fn splits(applied: &Applied, service: Option<&str>) -> Vec<(String, String)> {
    applied
        .wire
        .services
        .iter()
        .filter(|x| service.is_none_or(|n| n == x.name))
        .map(|x| (x.name.clone(), split_summary(x)))
        .collect()
}

fn envoy_document(applied: &Applied, service: Option<&str>, what: &str) -> serde_json::Value {
    match &applied.dry_run {
        Some(differences) => json!({
            "change": what,
            "dry_run": true,
            "version": applied.version,
            "differences": differences,
        }),
        None => json!({
            "change": what,
            "version": applied.version,
            "verified": applied.verified,
            "splits": splits(applied, service).iter().map(|(s, p)| json!({"service": s, "split": p})).collect::<Vec<_>>(),
        }),
    }
}

/// The Envoy outcome: the service's new split, the version, where it is verified.
pub fn applied_on_envoy(
    s: &Settings,
    applied: &Applied,
    service: Option<&str>,
    what: &str,
) -> Result<()> {
    let doc = envoy_document(applied, service, what);
    if let Some(differences) = &applied.dry_run {
        return s.printer.print(&doc, || {
            println!(
                "{what}: dry run, nothing written (it would be version {}):",
                applied.version
            );
            output::diff::print(differences);
        });
    }
    s.printer.print(&doc, || {
        let n = applied.verified.len();
        let live = if n == 0 {
            "written, not verified (--no-wait)".to_owned()
        } else {
            format!("live on {n} prox{}", if n == 1 { "y" } else { "ies" })
        };
        println!("{what}: version {} {live}", applied.version);
        for (s, p) in splits(applied, service) {
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
