//! One module per command or group; each `run` takes the resolved [`Settings`], computes through
//! the host, then prints through the chosen format. Both hosts are inside each module.

pub mod bluegreen;
pub mod bootstrap;
pub mod canary;
pub mod cohort;
pub mod completions;
pub mod config;
pub mod experiment;
pub mod explain;
pub mod mesh;
pub mod override_;
pub mod rollout;
pub mod schema;
pub mod status;

mod edited;

use veer_filter::config::WireConfig;

use crate::error::Result;
use crate::history::Change;
use crate::settings::Settings;

/// Applies `edit` to the live config on the host (verified on every proxy), then prints what it
/// did to `service`: `what` names the change in the history and the output.
pub fn edit_live(
    s: &Settings,
    service: &str,
    what: &Change,
    edit: impl Fn(&mut WireConfig) -> Result<()>,
) -> Result<()> {
    let edited = s.host.edit(what, edit)?;
    edited::print(s, &edited, Some(service), &what.to_string())
}

/// Prints the outcome of a Kubernetes operation: JSON with -o json; otherwise `summary`, then the
/// requests of a dry run.
fn print_outcome<T: serde::Serialize>(
    s: &Settings,
    outcome: &T,
    summary: &str,
    requests: &[veer_k8s::PlannedRequest],
) -> Result<()> {
    crate::output::planned::print(&s.printer, s.dry_run, outcome, summary, requests)
}
