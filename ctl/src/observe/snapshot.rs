//! One proxy's counters at one moment, from Envoy's admin answers however they were fetched
//! (`--admin` over HTTP, or a port-forward to a sidecar): both hosts read the same figures.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::host::envoy::server_info::HotRestart;
use crate::observe::latency::{self, Histogram};

const ECDS: &str = "extension_config_discovery.http_filter.veer.";

/// One proxy's Veer-related stats at one moment.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Admin URL it came from.
    pub url: String,
    /// Veer's counters and gauges, without the `wasmcustom.veer.` (or, native build,
    /// `dynamicmodulescustom.veer.`) prefix (`rq.web.v1`).
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
    /// A Veer counter (0 when absent).
    pub fn get(&self, name: &str) -> u64 {
        self.veer.get(name).copied().unwrap_or(0)
    }

    /// The config version the filter runs (gauge `veer.config.version`).
    pub fn version(&self) -> u64 {
        self.get("config.version")
    }

    /// The digest of the routing config the filter runs (gauge `veer.config.digest`, see
    /// [`veer_filter::config::digest`]); `None` from a filter too old to report it.
    pub fn digest(&self) -> Option<u64> {
        self.veer.get("config.digest").copied()
    }

    /// Whether the filter runs the bootstrap's fallback config (`default_config`, version 0):
    /// Envoy accepted no file since it started (its ECDS version text is empty), so every
    /// request goes to the stable route.
    pub fn runs_fallback(&self) -> bool {
        self.veer.contains_key("config.version")
            && self.version() == 0
            && self.ecds_version.is_none()
    }

    /// How many updates Envoy refused so far.
    pub fn rejected(&self) -> u64 {
        self.ecds.get("update_rejected").copied().unwrap_or(0)
    }
}

/// The names of Veer's counters as [`Snapshot::get`] and `Counted` read them (the filter's
/// metrics, `filter/src/plugin/metrics.rs`, without the `wasmcustom.veer.` prefix): every
/// command builds them here, so renaming a metric is one edit.
pub mod counter {
    /// Requests a cohort rule decided.
    pub fn rule(service: &str, rule: &str) -> String {
        format!("{}{rule}", rules(service))
    }

    /// The prefix of every rule counter of `service` (the rest is the rule's name).
    pub fn rules(service: &str) -> String {
        format!("rule.{service}.")
    }

    /// Requests the default split sent to `variant`.
    pub fn split(service: &str, variant: &str) -> String {
        format!("split.{service}.{variant}")
    }

    /// All requests `variant` got, however decided.
    pub fn requests(service: &str, variant: &str) -> String {
        format!("rq.{service}.{variant}")
    }

    /// 5xx responses of `variant`.
    pub fn errors(service: &str, variant: &str) -> String {
        format!("rs.{service}.{variant}.5xx")
    }

    /// Assignments to an experiment's arm (named where the filter names every arm metric).
    pub fn arm(service: &str, experiment: &str, arm: &str) -> String {
        use veer_filter::arm_metrics::{ArmKey, ArmStat};
        let key = ArmKey {
            service,
            experiment,
            arm,
        };
        key.name(ArmStat::Requests)
    }

    /// The prefix of every arm counter of an experiment (the rest is the arm's name).
    pub fn arms(service: &str, experiment: &str) -> String {
        format!("exp.{service}.{experiment}.")
    }
}

/// Where Envoy puts Veer's own metrics in `/stats`: the wasm filter's under `wasmcustom.`, the
/// dynamic module's (Veer native) under `dynamicmodulescustom.`. Either build's names follow.
const BUILD_PREFIXES: [&str; 2] = ["wasmcustom.veer.", "dynamicmodulescustom.veer."];

/// The name of one of Veer's metrics without its build's prefix (`rq.web.v1`), or `None` for
/// any other stat.
pub fn veer_metric(stat: &str) -> Option<&str> {
    BUILD_PREFIXES.iter().find_map(|p| stat.strip_prefix(p))
}

/// Veer's counters and gauges (either build's) and Envoy's ECDS counters for the filter, as text.
pub const STATS_PATH: &str =
    "/stats?filter=^((wasm|dynamicmodules)custom%5C.veer%5C.|extension_config_discovery%5C.http_filter%5C.veer%5C.)";

/// Veer's latency histograms (per variant, and per experiment arm where arms share a variant), as
/// JSON with every bucket.
pub const LATENCY_PATH: &str = "/stats?format=json&histogram_buckets=detailed&filter=%5E(wasm%7Cdynamicmodules)custom%5C.veer%5C.(exp_)%3Flatency_us%5C.";

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
        if let Some(rest) = veer_metric(name) {
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

    /// The dynamic module's metrics (Veer native) read the same as the wasm filter's.
    #[test]
    fn the_native_builds_metrics_read_as_the_wasm_filters() {
        let wasm = "wasmcustom.veer.rq.web.v1: 12
wasmcustom.veer.config.version: 7
";
        let native = wasm.replace("wasmcustom.", "dynamicmodulescustom.");
        let (w, n) = (parse_stats(wasm), parse_stats(&native));
        assert_eq!(n.veer, w.veer);
        assert_eq!((n.get("rq.web.v1"), n.version()), (12, 7));
        assert_eq!(veer_metric("dynamicmodulescustom.other.x"), None);
    }
}
