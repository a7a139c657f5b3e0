//! Reading a proxy's own counters from Envoy's admin API: what config it runs, what it routed.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{CliError, Result};

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
    /// Latency quantiles per `<service>.<variant>`, in microseconds, since Envoy started.
    pub latency: BTreeMap<String, Quantiles>,
}

/// p50 / p99 in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Quantiles {
    /// Median.
    pub p50: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
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
        let text = self.get(&format!("{url}/stats?filter=^(wasmcustom%5C.veer%5C.|extension_config_discovery%5C.http_filter%5C.veer%5C.)"))?;
        let mut snap = parse_stats(&text);
        snap.url = url.to_owned();
        if let Ok(json) = self.get(&format!("{url}/stats?format=json&filter=latency_us")) {
            snap.latency = parse_latency(&json);
        }
        Ok(snap)
    }

    fn get(&self, url: &str) -> Result<String> {
        let mut resp = self.agent.get(url).call().map_err(|e| {
            CliError::failed(format!(
                "cannot reach Envoy admin at {url}: {e}; is the proxy running and --admin right?"
            ))
        })?;
        resp.body_mut()
            .read_to_string()
            .map_err(|e| CliError::failed(format!("failed to read {url}: {e}")))
    }
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

/// Parses the computed quantiles of `/stats?format=json` for `latency_us` histograms.
pub fn parse_latency(json: &str) -> BTreeMap<String, Quantiles> {
    let mut out = BTreeMap::new();
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(json) else {
        return out;
    };
    let Some(stats) = doc["stats"].as_array() else {
        return out;
    };
    for s in stats {
        let h = &s["histograms"];
        let Some(supported) = h["supported_quantiles"].as_array() else {
            continue;
        };
        let index_of = |q: f64| supported.iter().position(|v| v.as_f64() == Some(q));
        let (i50, i99) = (index_of(50.0), index_of(99.0));
        for cq in h["computed_quantiles"].as_array().into_iter().flatten() {
            let Some(name) = cq["name"]
                .as_str()
                .and_then(|n| n.strip_prefix("wasmcustom.veer.latency_us."))
            else {
                continue;
            };
            let at = |i: Option<usize>| i.and_then(|i| cq["values"][i]["cumulative"].as_f64());
            out.insert(
                name.to_owned(),
                Quantiles {
                    p50: at(i50),
                    p99: at(i99),
                },
            );
        }
    }
    out
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

    #[test]
    fn latency_quantiles_come_from_cumulative_values() {
        let json = r#"{"stats":[{"histograms":{"supported_quantiles":[0,25,50,75,90,95,99,99.5,99.9,100],
          "computed_quantiles":[{"name":"wasmcustom.veer.latency_us.web.v2","values":[
            {"interval":null,"cumulative":1},{"interval":null,"cumulative":2},{"interval":null,"cumulative":350},
            {"interval":null,"cumulative":4},{"interval":null,"cumulative":5},{"interval":null,"cumulative":6},
            {"interval":null,"cumulative":990},{"interval":null,"cumulative":8},{"interval":null,"cumulative":9},
            {"interval":null,"cumulative":10}]}]}}]}"#;
        let l = parse_latency(json);
        assert_eq!(
            l["web.v2"],
            Quantiles {
                p50: Some(350.0),
                p99: Some(990.0)
            }
        );
    }
}
