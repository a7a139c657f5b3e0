//! One proxy's counters at one moment, from Envoy's admin answers however they were fetched
//! (`--admin` over HTTP, or a port-forward to a sidecar): both hosts read the same figures.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use veer_filter::metrics::{self, Kind, Stat};

use crate::host::envoy::server_info::HotRestart;
use crate::observe::latency::{self, Histogram};

const ECDS: &str = "extension_config_discovery.http_filter.veer.";

/// One proxy's Veer-related stats at one moment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Admin URL it came from.
    pub url: String,
    /// Veer's counters and gauges by veerctl's short key (`rq.web.v1`:
    /// [`veer_filter::metrics::Stat::key`]).
    pub veer: BTreeMap<String, u64>,
    /// Envoy's ECDS counters for the filter (`update_rejected`, ...).
    pub ecds: BTreeMap<String, u64>,
    /// The version Envoy's ECDS holds (`version_text`).
    pub ecds_version: Option<u64>,
    /// Latency histograms (us) per `<service>.<variant>`, since Envoy started. Absent from
    /// baselines written before veerctl recorded them, hence the default.
    #[serde(default)]
    pub latency: BTreeMap<String, Histogram>,
    /// A hot restart whose old process may still run: until it exits, Envoy's `/stats` adds in
    /// the old process's figures, so what this proxy runs cannot be read from them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hot_restart: Option<HotRestart>,
}

impl Snapshot {
    /// A Veer counter or gauge by key (0 when absent).
    pub fn get(&self, key: &str) -> u64 {
        self.veer.get(key).copied().unwrap_or(0)
    }

    /// A Veer metric (0 when absent).
    pub fn stat(&self, stat: &Stat<'_>) -> u64 {
        self.get(&stat.key())
    }

    /// The config version the filter runs (its version gauge).
    pub fn version(&self) -> u64 {
        self.stat(&Stat::global(&metrics::CONFIG_VERSION))
    }

    /// How many of the proxy's filter instances held counts they had not published yet
    /// (`counts_pending`): 0 means the counters hold every request answered before the reading.
    pub fn counts_pending(&self) -> u64 {
        self.stat(&Stat::global(&metrics::COUNTS_PENDING))
    }

    /// The digest of the routing config the filter runs (its digest gauge, see
    /// [`veer_filter::config::digest`]); `None` from a filter too old to report it.
    pub fn digest(&self) -> Option<u64> {
        let key = Stat::global(&metrics::CONFIG_DIGEST).key();
        self.veer.get(&key).copied()
    }

    /// Whether the filter runs the bootstrap's fallback config (`default_config`, version 0):
    /// Envoy accepted no file since it started (its ECDS version text is empty), so every
    /// request goes to the stable route.
    pub fn runs_fallback(&self) -> bool {
        self.veer
            .contains_key(&Stat::global(&metrics::CONFIG_VERSION).key())
            && self.version() == 0
            && self.ecds_version.is_none()
    }

    /// How many updates Envoy refused so far.
    pub fn rejected(&self) -> u64 {
        self.ecds.get("update_rejected").copied().unwrap_or(0)
    }

    /// How many updates Envoy applied on every worker so far (`config_reload`).
    pub fn reloads(&self) -> u64 {
        self.ecds.get("config_reload").copied().unwrap_or(0)
    }
}

/// Whether the metric of short key `key` is a gauge (which may go down without a restart).
pub fn is_gauge(key: &str) -> bool {
    Stat::from_key(key).is_some_and(|s| s.family().kind == Kind::Gauge)
}

/// The keys of Veer's counters as [`Snapshot::get`] and `Counted` read them
/// ([`veer_filter::metrics::Stat::key`]): every command builds them here.
pub mod counter {
    use veer_filter::config::StatusClass;
    use veer_filter::metrics::{Stat, EXPERIMENT_REQUESTS, RULE_REQUESTS};

    /// Requests a cohort rule decided.
    pub fn rule(service: &str, rule: &str) -> String {
        Stat::rule_requests(service, rule).key()
    }

    /// The prefix of every rule counter of `service` (the rest is the rule's name).
    pub fn rules(service: &str) -> String {
        format!("{}.{service}.", RULE_REQUESTS.key)
    }

    /// Requests the default split sent to `variant`.
    pub fn split(service: &str, variant: &str) -> String {
        Stat::split_requests(service, variant).key()
    }

    /// All requests `variant` got, however decided.
    pub fn requests(service: &str, variant: &str) -> String {
        Stat::requests(service, variant).key()
    }

    /// 5xx responses of `variant`.
    pub fn errors(service: &str, variant: &str) -> String {
        Stat::responses(service, variant, StatusClass::SERVER_ERROR).key()
    }

    /// Assignments to an experiment's arm.
    pub fn arm(service: &str, experiment: &str, arm: &str) -> String {
        Stat::experiment_requests(service, experiment, arm).key()
    }

    /// The prefix of every arm counter of an experiment (the rest is the arm's name).
    pub fn arms(service: &str, experiment: &str) -> String {
        format!("{}.{service}.{experiment}.", EXPERIMENT_REQUESTS.key)
    }
}

/// Veer's metrics under any host's prefix, and Envoy's ECDS counters for the filter, as text.
pub static STATS_PATH: LazyLock<String> = LazyLock::new(|| {
    metrics::admin_stats_filter(&format!(
        "^({}|{})",
        metrics::name_pattern(None),
        ECDS.replace('.', "\\.")
    ))
});

/// Veer's latency histograms (per variant, and per experiment arm where arms share a variant), as
/// JSON with every bucket.
pub static LATENCY_PATH: LazyLock<String> = LazyLock::new(|| {
    let filter = metrics::admin_stats_filter(&format!(
        "^{}(?:{}|{})\\.",
        metrics::name_pattern(None),
        metrics::LATENCY.name,
        metrics::ARM_LATENCY.name
    ));
    filter.replacen(
        "/stats?",
        "/stats?format=json&histogram_buckets=detailed&",
        1,
    )
});

/// The gauge of counts the filter has not published yet, alone.
pub static PENDING_PATH: LazyLock<String> = LazyLock::new(|| {
    metrics::admin_stats_filter(&format!(
        "^{}$",
        metrics::name_pattern(Some(&metrics::COUNTS_PENDING))
    ))
});

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
        if let Some(stat) = Stat::parse(name) {
            if let Ok(v) = value.parse() {
                snap.veer.insert(stat.key(), v);
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
    fn stats_text_is_split_into_veer_and_ecds_parts() {
        let text = format!(
            "{}: 12\n{}: 7\n\
             extension_config_discovery.http_filter.veer.update_rejected: 2\n\
             extension_config_discovery.http_filter.veer.version_text: \"7\"\n\
             {}: P0(nan,1) P25(nan,2)\ncluster.x.upstream_rq: 5\n\
             wasmcustom.veer.some_future_total: 3\n",
            Stat::requests("web", "v1").envoy_name(),
            Stat::global(&metrics::CONFIG_VERSION).envoy_name(),
            Stat::latency("web", "v1").envoy_name(),
        );
        let s = parse_stats(&text);
        assert_eq!(s.get("rq.web.v1"), 12);
        assert_eq!(s.version(), 7);
        assert_eq!(s.rejected(), 2);
        assert_eq!(s.ecds_version, Some(7));
        assert!(!s.veer.contains_key("latency_us.web.v1"));
        assert_eq!(
            s.veer.len(),
            2,
            "names Veer does not have are not read: {:?}",
            s.veer
        );
    }

    #[test]
    fn the_admin_paths_ask_for_veers_names_under_any_prefix() {
        assert!(
            STATS_PATH
                .starts_with("/stats?filter=%5E%28%28%3F%3Awasmcustom%7Cdynamicmodulescustom%29"),
            "{}",
            *STATS_PATH
        );
        assert!(LATENCY_PATH.starts_with("/stats?format=json&histogram_buckets=detailed&filter="));
        assert!(
            LATENCY_PATH.ends_with(
                "%28%3F%3Aresponse_latency_microseconds%7Carm_response_latency_microseconds%29%5C."
            ),
            "{}",
            *LATENCY_PATH
        );
        assert!(
            PENDING_PATH.ends_with("counts_pending%24"),
            "{}",
            *PENDING_PATH
        );
    }

    /// The dynamic module's metrics (Veer native) read the same as the wasm filter's.
    #[test]
    fn the_native_builds_metrics_read_as_the_wasm_filters() {
        let wasm = format!(
            "{}: 12\n{}: 7\n",
            Stat::requests("web", "v1").envoy_name(),
            Stat::global(&metrics::CONFIG_VERSION).envoy_name()
        );
        let native = wasm.replace("wasmcustom.", "dynamicmodulescustom.");
        let (w, n) = (parse_stats(&wasm), parse_stats(&native));
        assert_eq!(n.veer, w.veer);
        assert_eq!((n.get("rq.web.v1"), n.version()), (12, 7));
        assert!(parse_stats("dynamicmodulescustom.other.x: 1\n")
            .veer
            .is_empty());
    }
}
