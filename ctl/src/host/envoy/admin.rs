//! Envoy's admin API over HTTP: one proxy's snapshot, with errors that name the admin URL and
//! what to check.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{CliError, Result};
use crate::host::envoy::native::{release_of, Release};
use crate::host::envoy::server_info::{self, HotRestart};
use crate::observe::snapshot::{
    parse_stats, snapshot_from, Snapshot, LATENCY_PATH, PENDING_PATH, STATS_PATH,
};

/// How long [`Admin::settled_snapshot`] waits for the filter to publish what it counted, where
/// a reading is repeated (`status`, a canary's gates): four of its flush periods (250 ms).
/// Counts still pending after that mean traffic did not pause.
pub const SETTLE: Duration = Duration::from_secs(1);

/// The same wait for a reading made once, where exactness matters more than a second (a
/// report): it also covers a loaded proxy host whose timers run late.
pub const SETTLE_ONCE: Duration = Duration::from_secs(3);

/// An admin client with short timeouts (a dead proxy must not hang veerctl).
#[derive(Clone)]
pub struct Admin {
    agent: ureq::Agent,
    /// Each proxy's hot restart as last read from `/server_info`, and when: read again after
    /// [`HOT_RESTART_TTL`], not at every snapshot (verification polls every 50 ms).
    hot_restarts: Arc<Mutex<HashMap<String, HotRestartRead>>>,
}

/// When a proxy's `/server_info` was read, and the hot restart it showed.
type HotRestartRead = (Instant, Option<HotRestart>);

/// How long a proxy's `/server_info` answer stands for.
const HOT_RESTART_TTL: Duration = Duration::from_secs(5);

impl Default for Admin {
    fn default() -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(true)
            .timeout_global(Some(Duration::from_secs(5)))
            .build();
        Admin {
            agent: ureq::Agent::new_with_config(config),
            hot_restarts: Arc::default(),
        }
    }
}

impl Admin {
    /// A snapshot that holds every count of every request the proxy answered before it was
    /// asked for, when traffic allows: the filter publishes its counts on a timer, so this first
    /// waits (up to `within`: [`SETTLE`], [`SETTLE_ONCE`]) until no filter instance holds any
    /// (`counts_pending` at 0), then reads. Under continuous traffic that may not happen: the
    /// snapshot then says so ([`Snapshot::counts_pending`] above 0), and its counts lag by at
    /// most one flush period.
    pub fn settled_snapshot(&self, url: &str, within: Duration) -> Result<Snapshot> {
        let base = url.trim_end_matches('/');
        let deadline = std::time::Instant::now() + within;
        while base.contains("://")
            && parse_stats(&self.get(base, &PENDING_PATH)?).counts_pending() > 0
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.snapshot(url)
    }

    /// Fetches a snapshot from `url` (e.g. `http://127.0.0.1:9901`) as it is now: the config
    /// version is exact, the filter's counts may lag by one flush ([`Admin::settled_snapshot`]).
    pub fn snapshot(&self, url: &str) -> Result<Snapshot> {
        let url = url.trim_end_matches('/');
        if !url.contains("://") {
            return Err(CliError::failed(format!(
                "--admin {url:?} is not a URL: write it as http://HOST:PORT (e.g. http://{url}); {ADMIN_HINT}"
            )));
        }
        let text = self.get(url, &STATS_PATH)?;
        let json = self.get(url, &LATENCY_PATH)?;
        let mut snap = snapshot_from(url, &text, &json).map_err(|e| {
            CliError::failed(format!(
                "{url} does not answer like an Envoy admin API ({e}); {ADMIN_HINT}"
            ))
        })?;
        // Anything that answers HTTP 200 would otherwise read as a proxy at version 0.
        if snap.veer.is_empty() && snap.ecds.is_empty() && snap.ecds_version.is_none() {
            return Err(CliError::failed(format!(
                "{url} answers, but not like an Envoy running Veer's filter: its /stats has none of the filter's or its ECDS counters; {ADMIN_HINT}"
            )));
        }
        snap.hot_restart = self.hot_restart(url);
        Ok(snap)
    }

    /// Whether the proxy at `url` is in a hot restart, read at most every [`HOT_RESTART_TTL`]. An
    /// admin API that does not answer `/server_info` (not Envoy's) shows none.
    fn hot_restart(&self, url: &str) -> Option<HotRestart> {
        let known = || self.hot_restarts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, h)) = known().get(url) {
            if at.elapsed() < HOT_RESTART_TTL {
                return *h;
            }
        }
        let h = self
            .get(url, "/server_info")
            .ok()
            .and_then(|info| server_info::hot_restart(&info));
        known().insert(url.to_owned(), (Instant::now(), h));
        h
    }

    /// The Envoy release the proxy at `url` runs (`/server_info`).
    pub fn release(&self, url: &str) -> Result<Release> {
        let url = url.trim_end_matches('/');
        let text = self.get(url, "/server_info")?;
        release_of(&text).map_err(|e| {
            CliError::failed(format!(
                "{url} does not say which Envoy it runs (GET /server_info: {e}); {ADMIN_HINT}"
            ))
        })
    }

    /// GET `path` from the admin API at `url`; errors name the admin URL and what to check.
    fn get(&self, url: &str, path: &str) -> Result<String> {
        let endpoint = path.split('?').next().unwrap_or(path);
        let mut resp = self
            .agent
            .get(format!("{url}{path}"))
            .call()
            .map_err(|e| match e {
                ureq::Error::StatusCode(code) => CliError::failed(format!(
                    "Envoy admin at {url} answered GET {endpoint} with HTTP {code}; {ADMIN_HINT}"
                )),
                e => CliError::failed(format!(
                    "cannot reach Envoy admin at {url}: {e}; check that the proxy is running and {ADMIN_HINT}"
                )),
            })?;
        resp.body_mut()
            .read_to_string()
            .map_err(|e| CliError::failed(format!("failed to read GET {endpoint} from {url}: {e}")))
    }
}

/// What to check when an admin URL does not work.
const ADMIN_HINT: &str = "that --admin (or VEER_ADMIN) is its admin address (`admin.address` in its bootstrap), not its listener";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_admin_address_without_a_scheme_is_named_with_the_fix() {
        let err = Admin::default().snapshot("127.0.0.1:9901").unwrap_err();
        assert!(
            err.to_string().starts_with(
                "--admin \"127.0.0.1:9901\" is not a URL: write it as http://HOST:PORT (e.g. http://127.0.0.1:9901)"
            ),
            "{err}"
        );
    }

    #[test]
    fn an_unreachable_admin_is_named_with_what_to_check() {
        // A port that was just free on loopback: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let err = Admin::default().snapshot(&format!("{url}/")).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("cannot reach Envoy admin at {url}: ")),
            "{msg}"
        );
        assert!(msg.contains("check that the proxy is running"), "{msg}");
        assert!(
            msg.contains("--admin (or VEER_ADMIN) is its admin address"),
            "{msg}"
        );
        assert!(!msg.contains("filter="), "no query string noise: {msg}");
    }
}
