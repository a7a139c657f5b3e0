//! Proving a change is live: every proxy must report the new version from its own counters.
//! A proxy whose Envoy rejected the update, or that does not pick it up in time, fails the
//! change loudly, with what every proxy runs.

use std::fmt;
use std::time::{Duration, Instant};

use crate::error::{CliError, Result};
use crate::host::envoy::admin::Admin;
use crate::observe::snapshot::Snapshot;
use crate::output::progress::Progress;

/// Each proxy's state before a change, to tell a rejection from a slow pickup, and an update
/// every worker applied from one only the main thread has.
#[derive(Debug, Clone)]
pub struct Before {
    rejected: Vec<(String, Counters)>,
}

/// What a proxy ran and had counted before a change.
#[derive(Debug, Clone, Copy)]
struct Counters {
    version: u64,
    rejected: u64,
    reloads: u64,
}

/// Records the ECDS counters of `admins` before writing.
pub fn before(admin: &Admin, admins: &[String]) -> Result<Before> {
    let mut rejected = Vec::with_capacity(admins.len());
    for url in admins {
        let s = admin.snapshot(url)?;
        let counters = Counters {
            version: s.version(),
            rejected: s.rejected(),
            reloads: s.reloads(),
        };
        rejected.push((url.clone(), counters));
    }
    Ok(Before { rejected })
}

/// Whether `s` shows that `version` (or a later one) runs on every thread of its Envoy: the
/// filter reports it (its gauge is set by the first thread that runs it), Envoy's ECDS holds it,
/// and Envoy counted a reload since `before` (it does so once every worker has applied the
/// update, and each worker's filter published what the old config counted before running the
/// new one), unless the proxy already ran it then. A reload counter below `before` is an Envoy
/// that restarted since, and loaded the file on every thread before serving.
fn live_everywhere(s: &Snapshot, version: u64, before: Counters) -> bool {
    let applied = before.version >= version || s.reloads() != before.reloads;
    s.version() >= version && s.ecds_version >= Some(version) && applied
}

/// What one proxy reported when verification stopped.
#[derive(Debug, Clone)]
pub enum ProxyState {
    /// Runs the version, or a later one.
    Live(Snapshot),
    /// Its Envoy refused an update since the change was written; it runs an older version.
    Rejected(Snapshot),
    /// Has not picked the change up.
    Behind(Snapshot),
    /// Its admin API did not answer.
    Unreachable(String),
}

impl ProxyState {
    /// Live or rejected: waiting longer will not change what this proxy runs.
    fn settled(&self) -> bool {
        matches!(self, ProxyState::Live(_) | ProxyState::Rejected(_))
    }
}

/// A change that is not live everywhere, with every proxy's state (not only the failing ones,
/// so that the operator sees at once what runs where).
#[derive(Debug, Clone)]
pub struct NotLive {
    /// The version that was written.
    pub version: u64,
    /// How long verification waited.
    pub waited: Duration,
    /// Each admin URL and what it reported.
    pub proxies: Vec<(String, ProxyState)>,
}

impl NotLive {
    /// Whether any proxy's Envoy refused the change (as opposed to being slow or unreachable).
    pub fn rejected(&self) -> bool {
        self.proxies
            .iter()
            .any(|(_, s)| matches!(s, ProxyState::Rejected(_)))
    }

    /// The version every rejecting proxy still runs, when they all run the same one: the last
    /// config they accepted.
    pub fn still_running(&self) -> Option<u64> {
        let mut versions = self.proxies.iter().filter_map(|(_, s)| match s {
            ProxyState::Rejected(snap) => Some(snap.version()),
            _ => None,
        });
        let first = versions.next()?;
        versions.all(|v| v == first).then_some(first)
    }
}

impl fmt::Display for NotLive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.version;
        if self.rejected() {
            write!(
                f,
                "version {v} was rejected by a proxy (see that Envoy's log for the filter's reasons):"
            )?;
        } else {
            write!(
                f,
                "version {v} was written but is not live everywhere after {}:",
                humantime::format_duration(self.waited)
            )?;
        }
        for (url, state) in &self.proxies {
            match state {
                ProxyState::Live(s) => write!(f, "\n  {url} runs version {}: live", s.version())?,
                ProxyState::Rejected(s) => write!(
                    f,
                    "\n  {url} rejected version {v} and still runs version {}",
                    s.version()
                )?,
                ProxyState::Behind(s) => write!(
                    f,
                    "\n  {url} runs version {}: has not picked up version {v}",
                    s.version()
                )?,
                ProxyState::Unreachable(e) => write!(f, "\n  {url} unreachable: {e}")?,
            }
        }
        Ok(())
    }
}

impl From<NotLive> for CliError {
    fn from(n: NotLive) -> CliError {
        CliError::not_verified(n.to_string())
    }
}

/// Waits until every admin reports `version` or a later one; returns their final snapshots.
///
/// A later version counts: changes are written under the store's lock, each one on top of the
/// live config, so a later version contains this change (and Envoy may skip straight to it when
/// two writes land within one file-watch event). A rejection fails the change, but only once
/// every proxy has settled (or the timeout passed), so the report says what each one runs.
pub fn wait_live(
    admin: &Admin,
    before: &Before,
    version: u64,
    timeout: Duration,
    progress: &Progress,
) -> Result<Vec<Snapshot>, NotLive> {
    let start = Instant::now();
    let total = before.rejected.len();
    loop {
        let proxies: Vec<(String, ProxyState)> = before
            .rejected
            .iter()
            .map(|(url, before)| {
                let state = match admin.snapshot(url) {
                    Ok(s) if live_everywhere(&s, version, *before) => ProxyState::Live(s),
                    Ok(s) if s.rejected() > before.rejected => ProxyState::Rejected(s),
                    Ok(s) => ProxyState::Behind(s),
                    Err(e) => ProxyState::Unreachable(e.to_string()),
                };
                (url.clone(), state)
            })
            .collect();
        let live = proxies
            .iter()
            .filter(|(_, s)| matches!(s, ProxyState::Live(_)))
            .count();
        progress.set(&format!(
            "{live}/{total} proxies run version {version} or later"
        ));
        if live == total {
            return Ok(proxies
                .into_iter()
                .filter_map(|(_, s)| match s {
                    ProxyState::Live(snap) => Some(snap),
                    _ => None,
                })
                .collect());
        }
        let settled = proxies.iter().all(|(_, s)| s.settled());
        let rejected = proxies
            .iter()
            .any(|(_, s)| matches!(s, ProxyState::Rejected(_)));
        if (rejected && settled) || start.elapsed() >= timeout {
            return Err(NotLive {
                version,
                waited: start.elapsed().min(timeout),
                proxies,
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
