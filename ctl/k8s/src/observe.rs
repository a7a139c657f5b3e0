//! Veer's counters from Prometheus, for `status --prometheus` and `experiment report
//! --prometheus` (which also reads their history, with range queries). (From the sidecars themselves,
//! veerctl reads each Envoy's admin stats instead.) The counters come back under Veer's own stat
//! names (`split.web.v1`), so `status` computes the same report from them as from an admin API.
//!
//! The filter counts `veer.split.<service>.<variant>`; Envoy shows it as
//! `wasmcustom.veer.split.<service>.<variant>` in `/stats` and as
//! `veer_split_<service>_<variant>` in Prometheus (dots and dashes become `_`). The Prometheus
//! name is ambiguous (`_` is allowed in names), so it is never split: the expected name of every
//! counter the config defines is queried and each answer is labelled with its stat name.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use veer_filter::config::WireConfig;

use crate::error::{Error, Result};

/// The stat name of the config version gauge (`veer.config.version`).
pub const VERSION_STAT: &str = "config.version";

/// Prometheus name of Veer stat `stat` (`split.web-app.v1` -> `veer_split_web_app_v1`):
/// characters Prometheus does not allow replaced by `_` (Envoy drops the `wasmcustom` prefix of
/// custom stats there).
pub fn prometheus_name(stat: &str) -> String {
    format!("veer_{stat}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The counters `status` reads for `config`, by Veer stat name: per variant all requests, the
/// default split's and the 5xx responses; per experiment arm the assignments.
pub fn status_counters(config: &WireConfig) -> Vec<String> {
    let mut stats = Vec::new();
    for s in &config.services {
        for v in &s.variants {
            let key = format!("{}.{}", s.name, v.name);
            stats.push(format!("rq.{key}"));
            stats.push(format!("split.{key}"));
            stats.push(format!("rs.{key}.5xx"));
        }
        for e in &s.experiments {
            for a in &e.arms {
                stats.push(format!("exp.{}.{}.{}", s.name, e.id, a.name));
            }
        }
    }
    stats
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
        .map(|stat| {
            let name = prometheus_name(stat);
            let expr = match window {
                Some(w) => format!("sum(increase({name}[{}s]))", w.as_secs().max(1)),
                None => format!("sum({name})"),
            };
            labelled(expr, stat)
        })
        .collect();
    parts.push(labelled(
        format!("min({})", prometheus_name(VERSION_STAT)),
        VERSION_STAT,
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
