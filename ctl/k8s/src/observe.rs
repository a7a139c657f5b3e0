//! Veer's counters from Prometheus, for `status --prometheus` and `experiment report
//! --prometheus` (which also reads their history, with range queries). (From the sidecars themselves,
//! veerctl reads each Envoy's admin stats instead.) The counters come back under Veer's own stat
//! names (`split.web.v1`), so `status` computes the same report from them as from an admin API.
//!
//! The filter counts `veer.split_requests_total.<service>.<variant>`; with the bootstrap's
//! `stats_tags` (veer_filter::metrics::tags) Prometheus has it as
//! `veer_split_requests_total{service="<service>",variant="<variant>"}`. Every counter the
//! config defines is asked for by that selector, and each answer is labelled with its key.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use veer_filter::config::{StatusClass, WireConfig};
use veer_filter::metrics::{self, Stat};

use crate::error::{Error, Result};

/// The key of the config version gauge (`config.version`; `veer_config_version` in
/// Prometheus).
pub static VERSION_STAT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| Stat::global(&metrics::CONFIG_VERSION).key());

/// The Prometheus series of the Veer stat with key `stat` (`split.web-app.v1` ->
/// `veer_split_requests_total{service="web-app",variant="v1"}`), as the bootstrap's `stats_tags`
/// export it; `None` for a key that names no Veer metric.
pub fn prometheus_name(stat: &str) -> Option<String> {
    Stat::from_key(stat).map(|s| s.prometheus_selector())
}

/// The counters `status` reads for `config`, by key: per variant all requests, the default
/// split's and the 5xx responses; per experiment arm the assignments.
pub fn status_counters(config: &WireConfig) -> Vec<String> {
    let mut stats = Vec::new();
    for s in &config.services {
        let service = s.name.as_str();
        for v in &s.variants {
            let variant = v.name.as_str();
            stats.push(Stat::requests(service, variant).key());
            stats.push(Stat::split_requests(service, variant).key());
            stats.push(Stat::responses(service, variant, StatusClass::SERVER_ERROR).key());
        }
        for e in &s.experiments {
            for a in &e.arms {
                stats.push(Stat::experiment_requests(service, &e.id, &a.name).key());
            }
        }
    }
    stats
}

/// The Prometheus series of the config version gauge (`veer_config_version`).
pub fn version_selector() -> String {
    Stat::global(&metrics::CONFIG_VERSION).prometheus_selector()
}

/// The label that carries the Veer stat name in [`prometheus_query`]'s answer.
const STAT_LABEL: &str = "veer_stat";

/// One PromQL query for every counter of [`status_counters`], each summed over the proxies (its
/// increase over `window` if given), plus the lowest config version any proxy reports (so a
/// proxy on an old config shows), each labelled with its stat name.
pub fn prometheus_query(config: &WireConfig, window: Option<Duration>) -> String {
    query_for(&status_counters(config), window)
}

/// One PromQL query for each of `stats` (Veer stat names), summed over the proxies (its increase
/// over `window` if given), plus the lowest config version any proxy reports, each labelled
/// with its stat name.
pub fn query_for(stats: &[String], window: Option<Duration>) -> String {
    let labelled = |expr: String, stat: &str| {
        format!("label_replace({expr}, \"{STAT_LABEL}\", \"{stat}\", \"\", \"\")")
    };
    let mut parts: Vec<String> = stats
        .iter()
        .filter_map(|stat| {
            let name = prometheus_name(stat)?;
            let expr = match window {
                Some(w) => format!("sum(increase({name}[{}s]))", w.as_secs().max(1)),
                None => format!("sum({name})"),
            };
            Some(labelled(expr, stat))
        })
        .collect();
    parts.push(labelled(
        format!("min({})", version_selector()),
        &VERSION_STAT,
    ));
    parts.join(" or ")
}

/// Reads the answer (`/api/v1/query` JSON) to [`prometheus_query`]: values by Veer stat name
/// (a counter Prometheus has no series for is absent, i.e. 0).
pub fn from_prometheus_response(url: &str, body: &str) -> Result<BTreeMap<String, u64>> {
    let bad = |reason: String| Error::Prometheus {
        url: url.to_owned(),
        reason,
    };
    let v = success(url, body)?;
    let mut values = BTreeMap::new();
    for r in v["data"]["result"].as_array().into_iter().flatten() {
        let Some(stat) = r["metric"][STAT_LABEL].as_str() else {
            continue;
        };
        let raw = r["value"][1].as_str().unwrap_or("0");
        let n: f64 = raw
            .parse()
            .map_err(|_| bad(format!("value {raw:?} of {stat} is not a number")))?;
        // increase() extrapolates, so counts come back fractional.
        *values.entry(stat.to_owned()).or_default() += n.max(0.0).round() as u64;
    }
    Ok(values)
}

/// Queries Prometheus at `url` (e.g. `http://localhost:9090`) for Veer's counters: totals since
/// the proxies started, or the increase over `window`. Blocking (ureq): call it from
/// `spawn_blocking` in async code.
pub fn from_prometheus(
    url: &str,
    config: &WireConfig,
    window: Option<Duration>,
) -> Result<BTreeMap<String, u64>> {
    from_prometheus_stats(url, &status_counters(config), window)
}

/// Like [`from_prometheus`], for any Veer stats (`exp_users.web.checkout.a`, ...).
pub fn from_prometheus_stats(
    url: &str,
    stats: &[String],
    window: Option<Duration>,
) -> Result<BTreeMap<String, u64>> {
    let body = get(url, "query", &[("query", query_for(stats, window))])?;
    from_prometheus_response(url, &body)
}

/// One point of a range query: unix seconds, and each stat's value then (totals since the
/// proxies started).
pub type RangePoint = (f64, BTreeMap<String, u64>);

/// `stats` at every `step` from `start` to `end` (unix seconds), with `/api/v1/query_range`:
/// what a report draws over time. Points where Prometheus has no series at all are left out.
pub fn range_from_prometheus(
    url: &str,
    stats: &[String],
    (start, end, step): (f64, f64, Duration),
) -> Result<Vec<RangePoint>> {
    let query = [
        ("query", query_for(stats, None)),
        ("start", format!("{start:.3}")),
        ("end", format!("{end:.3}")),
        ("step", format!("{}s", step.as_secs().max(1))),
    ];
    let body = get(url, "query_range", &query)?;
    from_prometheus_range_response(url, &body)
}

/// Reads the answer (`/api/v1/query_range` JSON, a matrix) to a [`query_for`] query: each time's
/// values by Veer stat name, oldest first.
pub fn from_prometheus_range_response(url: &str, body: &str) -> Result<Vec<RangePoint>> {
    let bad = |reason: String| Error::Prometheus {
        url: url.to_owned(),
        reason,
    };
    let v = success(url, body)?;
    let mut points: BTreeMap<i64, BTreeMap<String, u64>> = BTreeMap::new();
    for r in v["data"]["result"].as_array().into_iter().flatten() {
        let Some(stat) = r["metric"][STAT_LABEL].as_str() else {
            continue;
        };
        for pair in r["values"].as_array().into_iter().flatten() {
            let (Some(t), Some(raw)) = (pair[0].as_f64(), pair[1].as_str()) else {
                return Err(bad(format!(
                    "a point of {stat} is not [time, \"value\"]: {pair}"
                )));
            };
            let n: f64 = raw
                .parse()
                .map_err(|_| bad(format!("value {raw:?} of {stat} is not a number")))?;
            // Milliseconds as the key: the same time in every series is the same point.
            *points
                .entry((t * 1000.0).round() as i64)
                .or_default()
                .entry(stat.to_owned())
                .or_default() += n.max(0.0).round() as u64;
        }
    }
    Ok(points
        .into_iter()
        .map(|(ms, values)| (ms as f64 / 1000.0, values))
        .collect())
}

/// GET `url`'s `/api/v1/<api>` with `query`; the body.
fn get(url: &str, api: &str, query: &[(&str, String)]) -> Result<String> {
    let endpoint = format!("{}/api/v1/{api}", url.trim_end_matches('/'));
    let mut request = ureq::get(&endpoint);
    for (k, v) in query {
        request = request.query(*k, v);
    }
    request
        .call()
        .and_then(|mut r| r.body_mut().read_to_string())
        .map_err(|e| Error::Prometheus {
            url: url.to_owned(),
            reason: e.to_string(),
        })
}

/// The answer as JSON, when Prometheus says it succeeded.
fn success(url: &str, body: &str) -> Result<Value> {
    let bad = |reason: String| Error::Prometheus {
        url: url.to_owned(),
        reason,
    };
    let v: Value =
        serde_json::from_str(body).map_err(|e| bad(format!("answer is not JSON: {e}")))?;
    if v["status"] != "success" {
        return Err(bad(format!(
            "query failed: {}",
            v["error"].as_str().unwrap_or("no error message")
        )));
    }
    Ok(v)
}
