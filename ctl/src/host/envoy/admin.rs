//! Reading a proxy's own counters from Envoy's admin API: what config it runs, what it routed.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{CliError, Result};
use crate::observe::latency::{self, Histogram};

const ECDS: &str = "extension_config_discovery.http_filter.veer.";

/// One proxy's Veer-related stats at one moment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Admin URL it came from.
    pub url: String,
    /// Veer's counters and gauges, without the `wasmcustom.veer.` prefix (`rq.web.v1`).
    pub veer: BTreeMap<String, u64>,
    /// Envoy's ECDS counters for the filter (`update_rejected`, ...).
    pub ecds: BTreeMap<String, u64>,
    /// The version Envoy's ECDS holds (`version_text`).
    pub ecds_version: Option<u64>,
    /// Latency histograms (us) per `<service>.<variant>`, since Envoy started. Absent from
    /// baselines written before veerctl recorded them, hence the default.
    #[serde(default)]
    pub latency: BTreeMap<String, Histogram>,
}

impl Snapshot {
    /// A Veer counter (0 when absent).
    pub fn get(&self, name: &str) -> u64 {
        self.veer.get(name).copied().unwrap_or(0)
    }

    /// The config version the filter runs (gauge `veer.config.version`).
    pub fn version(&self) -> u64 {
        self.get("config.version")
    }

    /// How many updates Envoy refused so far.
    pub fn rejected(&self) -> u64 {
        self.ecds.get("update_rejected").copied().unwrap_or(0)
    }
}

/// An admin client with short timeouts (a dead proxy must not hang veerctl).
#[derive(Clone)]
pub struct Admin {
    agent: ureq::Agent,
}

impl Default for Admin {
    fn default() -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(true)
            .timeout_global(Some(Duration::from_secs(3)))
            .build();
        Admin {
            agent: ureq::Agent::new_with_config(config),
        }
    }
}

impl Admin {
    /// Fetches a snapshot from `url` (e.g. `http://127.0.0.1:9901`).
    pub fn snapshot(&self, url: &str) -> Result<Snapshot> {
        let url = url.trim_end_matches('/');
        let text = self.get(url, STATS_PATH)?;
        let json = self.get(url, LATENCY_PATH)?;
        snapshot_from(url, &text, &json).map_err(|e| {
            CliError::failed(format!(
                "{url} does not answer like an Envoy admin API ({e}); {ADMIN_HINT}"
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

/// Veer's counters and gauges and Envoy's ECDS counters for the filter, as text.
pub const STATS_PATH: &str =
    "/stats?filter=^(wasmcustom%5C.veer%5C.|extension_config_discovery%5C.http_filter%5C.veer%5C.)";

/// Veer's latency histograms, as JSON with every bucket.
pub const LATENCY_PATH: &str =
    "/stats?format=json&histogram_buckets=detailed&filter=%5Ewasmcustom%5C.veer%5C.latency_us%5C.";

/// A snapshot from a proxy's answers to [`STATS_PATH`] and [`LATENCY_PATH`], however they were
/// fetched (`--admin`, or a port-forward to a sidecar), so both paths read the same figures.
/// Fails only on latency JSON that is not Envoy's.
pub fn snapshot_from(
    url: &str,
    stats: &str,
    latency_json: &str,
) -> std::result::Result<Snapshot, String> {
    let mut snap = parse_stats(stats);
    snap.url = url.to_owned();
    snap.latency =
        latency::parse_detailed(latency_json).map_err(|e| format!("its /stats JSON: {e}"))?;
    Ok(snap)
}

/// Parses `/stats` text lines (`name: value`).
pub fn parse_stats(text: &str) -> Snapshot {
    let mut snap = Snapshot::default();
    for (name, value) in text.lines().filter_map(|l| l.split_once(": ")) {
        if let Some(rest) = name.strip_prefix("wasmcustom.veer.") {
            if let Ok(v) = value.parse() {
                snap.veer.insert(rest.to_owned(), v);
            }
        } else if let Some(rest) = name.strip_prefix(ECDS) {
            if rest == "version_text" {
                snap.ecds_version = value.trim_matches('"').parse().ok();
            } else if let Ok(v) = value.parse() {
                snap.ecds.insert(rest.to_owned(), v);
            }
        }
    }
    snap
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn stats_text_is_split_into_veer_and_ecds_parts() {
        let text = "wasmcustom.veer.rq.web.v1: 12\nwasmcustom.veer.config.version: 7\n\
                    extension_config_discovery.http_filter.veer.update_rejected: 2\n\
                    extension_config_discovery.http_filter.veer.version_text: \"7\"\n\
                    wasmcustom.veer.latency_us.web.v1: P0(nan,1) P25(nan,2)\ncluster.x.upstream_rq: 5\n";
        let s = parse_stats(text);
        assert_eq!(s.get("rq.web.v1"), 12);
        assert_eq!(s.version(), 7);
        assert_eq!(s.rejected(), 2);
        assert_eq!(s.ecds_version, Some(7));
        assert!(!s.veer.contains_key("latency_us.web.v1"));
    }
}
