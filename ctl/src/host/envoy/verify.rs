//! Proving a change is live: every proxy must report the config that was written, by its version
//! and by the digest of its text (the filter's gauges). A proxy whose Envoy rejected the update,
//! that does not pick it up in time, or that runs some other config under a number as high, fails
//! the change loudly, with what every proxy runs.

use std::fmt;
use std::time::{Duration, Instant};

use crate::error::{CliError, Result};
use crate::host::envoy::admin::Admin;
use crate::observe::snapshot::Snapshot;
use crate::output::progress::Progress;

/// Each proxy's state before a change: to tell a rejection from a slow pickup, and to number the
/// change above every version a proxy already runs.
#[derive(Debug, Clone, Default)]
pub struct Before {
    proxies: Vec<(String, Snapshot)>,
}

impl Before {
    /// The admin URLs of the proxies read.
    pub fn urls(&self) -> impl Iterator<Item = &str> {
        self.proxies.iter().map(|(url, _)| url.as_str())
    }

    /// The highest version any proxy reported, by its filter or by Envoy's ECDS.
    pub fn highest_version(&self) -> u64 {
        self.proxies
            .iter()
            .map(|(_, s)| s.version().max(s.ecds_version.unwrap_or(0)))
            .max()
            .unwrap_or(0)
    }
}

/// Reads every proxy in `admins` before writing; any that does not answer is an error.
pub fn before(admin: &Admin, admins: &[String]) -> Result<Before> {
    let mut proxies = Vec::with_capacity(admins.len());
    for url in admins {
        proxies.push((url.clone(), admin.snapshot(url)?));
    }
    Ok(Before { proxies })
}

/// Reads the proxies in `admins` that answer (`apply --no-wait`, which may run before Envoy is
/// up); returns the others with why they did not.
pub fn before_reachable(admin: &Admin, admins: &[String]) -> (Before, Vec<(String, CliError)>) {
    let mut before = Before::default();
    let mut unreachable = Vec::new();
    for url in admins {
        match admin.snapshot(url) {
            Ok(s) => before.proxies.push((url.clone(), s)),
            Err(e) => unreachable.push((url.clone(), e)),
        }
    }
    (before, unreachable)
}

/// A config as a proxy reports it: its version and the digest of its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The version written.
    pub version: u64,
    /// [`veer_filter::config::digest`] of the routing config written.
    pub digest: u64,
}

impl Target {
    /// Whether `s` reports exactly this config, filter and Envoy's ECDS alike.
    fn runs_on(&self, s: &Snapshot) -> bool {
        s.version() == self.version
            && s.digest() == Some(self.digest)
            && s.ecds_version == Some(self.version)
    }
}

/// Whether every thread of `s`'s Envoy runs what it reports, given its snapshot `was` before the
/// change: Envoy counts an ECDS reload once every worker has applied an update (and each
/// worker's filter published what the old config counted before running the new one), and the
/// filter's gauges are set by the first thread that runs the new config. So the reload counter
/// must have moved since `was`, unless the proxy already ran that version then. A reload counter
/// below `was` is an Envoy that restarted since, and loaded the file on every thread before
/// serving.
fn on_every_worker(s: &Snapshot, was: &Snapshot) -> bool {
    was.version() >= s.version() || s.reloads() != was.reloads()
}

/// What one proxy reported when verification stopped.
#[derive(Debug, Clone)]
pub enum ProxyState {
    /// Runs the config written, or a later one written on top of it.
    Live(Snapshot),
    /// Its Envoy refused an update since the change was written; it runs an older version.
    Rejected(Snapshot),
    /// Has not picked the change up.
    Behind(Snapshot),
    /// Runs a config that does not contain the change under a version as high or higher: it
    /// loads another file (another copy of the directory), or the file was replaced meanwhile;
    /// or its filter reports no digest, so what it runs cannot be verified.
    Other(Snapshot),
    /// In a hot restart whose old process may still run: Envoy's stats add in the old
    /// process's, so what it runs cannot be verified until that process exits.
    HotRestart(Snapshot),
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
                ProxyState::Other(s) => write!(f, "\n  {url} {}", other(s, v))?,
                ProxyState::HotRestart(s) => write!(f, "\n  {url} {}", hot_restart(s))?,
                ProxyState::Unreachable(e) => write!(f, "\n  {url} unreachable: {e}")?,
            }
        }
        Ok(())
    }
}

/// Why a proxy in [`ProxyState::HotRestart`] cannot be verified.
pub fn hot_restart(s: &Snapshot) -> String {
    match s.hot_restart {
        Some(h) => format!(
            "is in a hot restart (epoch {}): until its old process exits (in at most {} s), Envoy's stats add in the old process's, so which config it runs cannot be verified; check again then",
            h.epoch, h.parent_exits_in_s
        ),
        None => "is not in a hot restart".to_owned(),
    }
}

/// What a proxy in [`ProxyState::Other`] runs, against version `v` that was written.
fn other(s: &Snapshot, v: u64) -> String {
    let runs = s.version();
    match s.digest() {
        None => format!(
            "runs version {runs} but its filter reports no config digest (a filter older than this veerctl): which config it runs cannot be verified; load the filter veerctl was built with"
        ),
        Some(d) if runs == v => format!(
            "runs another config under version {v} (digest {d:012x}, not the one written): it loads another file than the one veerctl wrote"
        ),
        Some(_) => format!(
            "runs version {runs}, which was not written on top of version {v}: it does not contain this change (it loads another file, or the file was replaced meanwhile)"
        ),
    }
}

impl From<NotLive> for CliError {
    fn from(n: NotLive) -> CliError {
        CliError::not_verified(n.to_string())
    }
}

/// Waits until every admin reports the config of `target`, or of the successor `later()` names
/// (a config veerctl wrote on top of the target, so it contains the change: Envoy may skip
/// straight to it when two writes land within one file-watch event); returns their final
/// snapshots. A version number alone proves nothing (another copy of the directory may hold a
/// higher one): the digest of the config's text must match too.
///
/// A rejection fails the change, but only once every proxy has settled (or the timeout passed),
/// so the report says what each one runs.
pub fn wait_live(
    admin: &Admin,
    before: &Before,
    target: Target,
    later: &dyn Fn() -> Option<Target>,
    timeout: Duration,
    progress: &Progress,
) -> Result<Vec<Snapshot>, NotLive> {
    let start = Instant::now();
    let total = before.proxies.len();
    let version = target.version;
    loop {
        let successor = later();
        let proxies: Vec<(String, ProxyState)> = before
            .proxies
            .iter()
            .map(|(url, was)| {
                let state = match admin.snapshot(url) {
                    Ok(s) => classify(s, target, successor, was),
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
            "{live}/{total} proxies run version {version} (or a later one written on top of it)"
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

/// What `s` says about the change that wrote `target`, given a successor built on it and the
/// proxy's snapshot `was` before the change. A proxy whose main thread runs the change but
/// whose workers have not all applied it yet is behind.
fn classify(s: Snapshot, target: Target, successor: Option<Target>, was: &Snapshot) -> ProxyState {
    let runs = target.runs_on(&s)
        || successor.is_some_and(|t| t.version > target.version && t.runs_on(&s));
    if s.hot_restart.is_some() {
        ProxyState::HotRestart(s)
    } else if runs && on_every_worker(&s, was) {
        ProxyState::Live(s)
    } else if runs {
        ProxyState::Behind(s)
    } else if s.version() >= target.version {
        ProxyState::Other(s)
    } else if s.rejected() > was.rejected() {
        ProxyState::Rejected(s)
    } else {
        ProxyState::Behind(s)
    }
}
