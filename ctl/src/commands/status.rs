//! `status`: configured beside observed, from the proxies' own counters.

use std::io::Write;

use super::print_json;
use crate::admin::{Admin, Snapshot};
use crate::change;
use crate::cli::{Global, Output, StatusArgs};
use crate::error::{CliError, Result};
use crate::report::use_color;
use crate::status::{self, Baselines, Status};

/// Reads everything and computes the status once.
pub fn collect(g: &Global) -> Result<Status> {
    let store = change::store(g)?;
    let current = store.current()?.ok_or_else(|| {
        CliError::failed(format!("{} has no live config yet", store.dir().display()))
    })?;
    if g.admins.is_empty() {
        return Err(CliError::failed(
            "no --admin URL: status reads the observed split from each proxy's admin API",
        ));
    }
    let admin = Admin::default();
    let snapshots: Vec<(String, std::result::Result<Snapshot, String>)> = g
        .admins
        .iter()
        .map(|url| (url.clone(), admin.snapshot(url).map_err(|e| e.to_string())))
        .collect();
    let baselines: Baselines = store.read_state("baseline.json")?.unwrap_or_default();
    let history = store.history()?;
    Ok(status::compute(&status::Inputs {
        config: &current.wire,
        version: current.version,
        snapshots: &snapshots,
        baselines: &baselines,
        history: &history,
    }))
}

/// `status`.
pub fn run(g: &Global, a: &StatusArgs) -> Result<()> {
    loop {
        let s = collect(g)?;
        match g.output {
            Output::Json => print_json(&s)?,
            Output::Table => {
                if a.watch && use_color() {
                    // Clear the screen and home the cursor between refreshes.
                    print!("\x1b[2J\x1b[H");
                }
                print!("{}", crate::render::status(&s, use_color()));
                let _ = std::io::stdout().flush();
            }
        }
        if !a.watch {
            let mismatched: Vec<&str> = s
                .services
                .iter()
                .filter(|v| v.srm.as_ref().is_some_and(|r| r.mismatch))
                .map(|v| v.name.as_str())
                .collect();
            if a.check && !mismatched.is_empty() {
                return Err(CliError::Mismatch(format!(
                    "observed split mismatches the configured one for: {}",
                    mismatched.join(", ")
                )));
            }
            return Ok(());
        }
        std::thread::sleep(a.interval);
    }
}
