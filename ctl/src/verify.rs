//! Proving a change is live: every proxy must report the new version from its own counters.
//! A proxy whose Envoy rejected the update, or that does not pick it up in time, fails the
//! change loudly, with what each proxy runs.

use std::time::{Duration, Instant};

use crate::admin::{Admin, Snapshot};
use crate::error::{CliError, Result};
use crate::report::Progress;

/// Each proxy's state before a change, to tell a rejection from a slow pickup.
#[derive(Debug, Clone)]
pub struct Before {
    rejected: Vec<(String, u64)>,
}

/// Records the rejection counters of `admins` before writing.
pub fn before(admin: &Admin, admins: &[String]) -> Result<Before> {
    let mut rejected = Vec::with_capacity(admins.len());
    for url in admins {
        rejected.push((url.clone(), admin.snapshot(url)?.rejected()));
    }
    Ok(Before { rejected })
}

/// Waits until every admin reports `version` or a later one; returns their final snapshots.
///
/// A later version counts: changes are written under the store's lock, each one on top of the
/// live config, so a later version contains this change (and Envoy may skip straight to it when
/// two writes land within one file-watch event).
pub fn wait_live(
    admin: &Admin,
    before: &Before,
    version: u64,
    timeout: Duration,
    progress: &Progress,
) -> Result<Vec<Snapshot>> {
    let deadline = Instant::now() + timeout;
    let total = before.rejected.len();
    loop {
        let mut snaps = Vec::with_capacity(total);
        let mut problems = Vec::new();
        for (url, rejected_before) in &before.rejected {
            match admin.snapshot(url) {
                Ok(s) if s.version() >= version && s.ecds_version >= Some(version) => snaps.push(s),
                Ok(s) if s.rejected() > *rejected_before => {
                    return Err(CliError::NotVerified(format!(
                        "{url} rejected version {version} and still runs version {}; see that Envoy's log for the filter's reasons",
                        s.version()
                    )));
                }
                Ok(s) => problems.push(format!("{url} runs version {}", s.version())),
                Err(e) => problems.push(e.to_string()),
            }
        }
        progress.set(&format!(
            "{}/{total} proxies run version {version} or later",
            snaps.len()
        ));
        if problems.is_empty() {
            return Ok(snaps);
        }
        if Instant::now() >= deadline {
            return Err(CliError::NotVerified(format!(
                "version {version} was written but is not live everywhere after {}:\n  {}",
                humantime::format_duration(timeout),
                problems.join("\n  ")
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
