//! Veer's counters as Prometheus has them, summed over the proxies it scrapes: the increase over
//! a window, or the totals since the proxies started. Latency is not read: Envoy exports only
//! coarse fixed buckets there.

use std::time::Duration;

use veer_filter::config::WireConfig;
use veer_k8s::observe;

use super::err;
use crate::error::{CliError, Result};
use crate::observe::snapshot::Snapshot;
use crate::observe::window::{Baselines, Counted};

/// The counters `config`'s status needs, from the Prometheus at `url`, as one reading named after
/// it; with the lowest config version any proxy reports. A Prometheus that scrapes no Veer proxy
/// is an error that says what to check.
pub fn counted(url: &str, config: &WireConfig, window: Option<Duration>) -> Result<Counted> {
    let veer = observe::from_prometheus(url, config, window).map_err(err)?;
    reading(url, veer, &observe::status_counters(config), window)
}

/// Prometheus's answer for the counters `asked` as one reading named after it.
fn reading(
    url: &str,
    veer: std::collections::BTreeMap<String, u64>,
    asked: &[String],
    window: Option<Duration>,
) -> Result<Counted> {
    if !veer.contains_key(observe::VERSION_STAT.as_str()) {
        return Err(CliError::failed(format!(
            "Prometheus at {url} has no {}: it scrapes no proxy that runs Veer's filter; check \
             that it scrapes the sidecars' /stats/prometheus (Istio's merged metrics do) and \
             that the WasmPlugin runs, or read the sidecars directly without --prometheus",
            observe::version_selector()
        )));
    }
    // A proxy that runs a config has its counters (at 0 until counted): none at all means they
    // reach Prometheus under other names, without the bootstrap's stats_tags.
    if veer.len() == 1 && !asked.is_empty() {
        return Err(CliError::failed(format!(
            "Prometheus at {url} has Veer's config version but none of its counters labelled by \
             service and variant (e.g. {}): the sidecars lack Veer's stats_tags; give them the \
             custom bootstrap in deploy/k8s/veer-stats-tags.yaml (deploy/istio/README.md, \
             \"Prometheus labels\") and restart them",
            asked
                .first()
                .and_then(|s| observe::prometheus_name(s))
                .unwrap_or_default()
        )));
    }
    let snapshot = Snapshot {
        url: format!("Prometheus {url} (the oldest config version of its proxies)"),
        veer,
        ..Snapshot::default()
    };
    let label = window.map_or_else(
        || "since each proxy started (Prometheus totals)".to_owned(),
        |w| {
            format!(
                "over the last {} (Prometheus increase())",
                humantime::format_duration(w)
            )
        },
    );
    Ok(Counted {
        readings: vec![(snapshot.url.clone(), Ok(snapshot))],
        baselines: Baselines::new(),
        label,
    })
}

/// Veer stats `stats` from the Prometheus at `url`, as one reading named after it (totals since
/// the proxies started, or the increase over `window`); a Prometheus that scrapes no Veer proxy
/// is an error that says what to check.
pub fn counted_stats(url: &str, stats: &[String], window: Option<Duration>) -> Result<Counted> {
    let veer = observe::from_prometheus_stats(url, stats, window).map_err(err)?;
    reading(url, veer, stats, window)
}

/// `stats` at every `step` over (`start`, `end`, `step`), oldest first: the history of a report.
pub fn range(
    url: &str,
    stats: &[String],
    span: (f64, f64, Duration),
) -> Result<Vec<observe::RangePoint>> {
    observe::range_from_prometheus(url, stats, span).map_err(err)
}
