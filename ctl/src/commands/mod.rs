//! One module per command group; each `run` computes, then prints through the chosen format.

pub mod bluegreen;
pub mod canary;
pub mod config;
pub mod experiment;
pub mod explain;
pub mod kubernetes;
pub mod override_;
pub mod status;

use serde_json::json;

use crate::cli::{Global, Output};
use crate::error::{CliError, Result};
use crate::host::envoy::change::Applied;

/// Prints what a change did: the service's new split, the version, where it is verified.
pub fn print_applied(
    g: &Global,
    applied: &Applied,
    service: Option<&str>,
    what: &str,
) -> Result<()> {
    let splits: Vec<(String, String)> = applied
        .wire
        .services
        .iter()
        .filter(|s| service.is_none_or(|n| n == s.name))
        .map(|s| (s.name.clone(), crate::config::edit::split_summary(s)))
        .collect();
    if let Some(differences) = &applied.dry_run {
        return match g.output {
            Output::Json => print_json(&json!({
                "change": what,
                "dry_run": true,
                "version": applied.version,
                "differences": differences,
            })),
            Output::Table => {
                println!(
                    "{what}: dry run, nothing written (it would be version {}):",
                    applied.version
                );
                print_differences(differences);
                Ok(())
            }
        };
    }
    match g.output {
        Output::Json => {
            let doc = json!({
                "change": what,
                "version": applied.version,
                "verified": applied.verified,
                "splits": splits.iter().map(|(s, p)| json!({"service": s, "split": p})).collect::<Vec<_>>(),
            });
            println!("{doc:#}");
        }
        Output::Table => {
            let live = if applied.verified.is_empty() {
                "written, not verified (--no-wait)".to_owned()
            } else {
                format!(
                    "live on {} prox{}",
                    applied.verified.len(),
                    if applied.verified.len() == 1 {
                        "y"
                    } else {
                        "ies"
                    }
                )
            };
            println!("{what}: version {} {live}", applied.version);
            for (s, p) in splits {
                println!("  {s}: {p}");
            }
        }
    }
    Ok(())
}

/// Applies `edit` to the live config of whichever host veerctl drives: the ECDS file with
/// --envoy (verified on every --admin proxy, then printed), else the WasmPlugin on Kubernetes
/// (verified on its sidecars). `edit` may run more than once: a Kubernetes conflict re-applies
/// it on a fresh read.
pub fn edit_live(
    g: &Global,
    service: &str,
    what: &str,
    edit: impl Fn(&mut veer_filter::config::WireConfig) -> Result<()>,
) -> Result<()> {
    if g.envoy.is_none() {
        return crate::host::kubernetes::change(g, what, edit);
    }
    let applied = crate::host::envoy::change::change(
        g,
        what,
        crate::host::envoy::change::Base::Live,
        true,
        edit,
    )?;
    print_applied(g, &applied, Some(service), what)
}

/// Prints differences for people: each path and change, warnings on their own line.
pub fn print_differences(differences: &[crate::config::diff::Difference]) {
    if differences.is_empty() {
        println!("no changes");
    }
    for d in differences {
        println!("{}: {}", d.path, d.change);
        if let Some(w) = &d.warning {
            println!("  WARNING: {w}");
        }
    }
}

/// Serialises data as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::failed(format!("failed to encode output: {e}")))?;
    println!("{text}");
    Ok(())
}
