//! One module per command group; each `run` computes, then prints through the chosen format.

pub mod bluegreen;
pub mod canary;
pub mod config;
pub mod experiment;
pub mod explain;
pub mod k8s;
pub mod override_;
pub mod status;

use serde_json::json;

use crate::change::Applied;
use crate::cli::{Global, Output};
use crate::error::{CliError, Result};

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
        .map(|s| (s.name.clone(), crate::edit::split_summary(s)))
        .collect();
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

/// Serialises data as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::failed(format!("failed to encode output: {e}")))?;
    println!("{text}");
    Ok(())
}
