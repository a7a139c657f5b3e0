//! The observed split from Prometheus: how many requests each variant actually got, from the
//! filter's counters. (From the sidecars themselves, veerctl builds the same snapshots as for a
//! standalone Envoy.)
//!
//! The filter counts `veer.rq.<service>.<variant>`; Envoy shows it as
//! `wasmcustom.veer.rq.<service>.<variant>` in `/stats` and as `veer_rq_<service>_<variant>` in
//! Prometheus (dots and dashes become `_`). The Prometheus name is ambiguous (`_` is allowed in
//! names), so it is never split: the expected name of every (service, variant) of the config is
//! queried and each answer is labelled with its pair.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use veer_filter::config::WireConfig;

use crate::error::{Error, Result};

/// Requests per variant of every service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedSplit {
    /// In config order; pairs seen but not in the config come last.
    pub services: Vec<ServiceSplit>,
}

/// One service's counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceSplit {
    /// The service.
    pub service: String,
    /// All its requests.
    pub total: u64,
    /// Per variant.
    pub variants: Vec<VariantCount>,
}

/// One variant's count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VariantCount {
    /// The variant.
    pub variant: String,
    /// Requests routed to it.
    pub requests: u64,
    /// Its share of the service's requests in basis points (10000 = 100 %), like the config.
    pub share_bp: u64,
}

/// Prometheus name of a counter: `veer_rq_<service>_<variant>`, characters Prometheus does not
/// allow replaced by `_` (Envoy drops the `wasmcustom` prefix of custom stats there).
pub fn prometheus_name(service: &str, variant: &str) -> String {
    format!("veer_rq_{service}_{variant}")
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

type Counts = BTreeMap<(String, String), u64>;

fn assemble(config: &WireConfig, mut counts: Counts) -> ObservedSplit {
    let mut services = Vec::new();
    for s in &config.services {
        let variants: Vec<(String, u64)> = s
            .variants
            .iter()
            .map(|v| {
                let n = counts
                    .remove(&(s.name.clone(), v.name.clone()))
                    .unwrap_or(0);
                (v.name.clone(), n)
            })
            .collect();
        services.push((s.name.clone(), variants));
    }
    for ((service, variant), n) in counts {
        match services.iter_mut().find(|(s, _)| *s == service) {
            Some((_, vs)) => vs.push((variant, n)),
            None => services.push((service, vec![(variant, n)])),
        }
    }
    ObservedSplit {
        services: services
            .into_iter()
            .map(|(service, variants)| {
                let total: u64 = variants.iter().map(|(_, n)| n).sum();
                ServiceSplit {
                    service,
                    total,
                    variants: variants
                        .into_iter()
                        .map(|(variant, requests)| VariantCount {
                            variant,
                            requests,
                            share_bp: (requests * 10_000).checked_div(total).unwrap_or(0),
                        })
                        .collect(),
                }
            })
            .collect(),
    }
}

/// The label that carries `service/variant` in [`prometheus_query`]'s answer.
const PAIR_LABEL: &str = "veer_pair";

/// One PromQL query for every (service, variant) of the config: each expected counter name,
/// summed over proxies (and its increase over `window` if given), labelled with its pair.
pub fn prometheus_query(config: &WireConfig, window: Option<Duration>) -> String {
    let mut parts = Vec::new();
    for s in &config.services {
        for v in &s.variants {
            let name = prometheus_name(&s.name, &v.name);
            let expr = match window {
                Some(w) => format!("sum(increase({name}[{}s]))", w.as_secs().max(1)),
                None => format!("sum({name})"),
            };
            parts.push(format!(
                "label_replace({expr}, \"{PAIR_LABEL}\", \"{}/{}\", \"\", \"\")",
                s.name, v.name
            ));
        }
    }
    parts.join(" or ")
}

/// Reads the answer (`/api/v1/query` JSON) to [`prometheus_query`].
pub fn from_prometheus_response(
    url: &str,
    body: &str,
    config: &WireConfig,
) -> Result<ObservedSplit> {
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
    let mut counts = Counts::new();
    for r in v["data"]["result"].as_array().into_iter().flatten() {
        let Some((service, variant)) = r["metric"][PAIR_LABEL]
            .as_str()
            .and_then(|p| p.split_once('/'))
        else {
            continue;
        };
        let raw = r["value"][1].as_str().unwrap_or("0");
        let n: f64 = raw
            .parse()
            .map_err(|_| bad(format!("value {raw:?} is not a number")))?;
        *counts.entry((service.into(), variant.into())).or_default() += n.max(0.0).round() as u64;
    }
    Ok(assemble(config, counts))
}

/// Queries Prometheus at `url` (e.g. `http://localhost:9090`) for the observed split: totals
/// since the proxies started, or the increase over `window`. Blocking (ureq): call it from
/// `spawn_blocking` in async code.
pub fn from_prometheus(
    url: &str,
    config: &WireConfig,
    window: Option<Duration>,
) -> Result<ObservedSplit> {
    let endpoint = format!("{}/api/v1/query", url.trim_end_matches('/'));
    let query = prometheus_query(config, window);
    if query.is_empty() {
        return Ok(assemble(config, Counts::new()));
    }
    let body = ureq::get(&endpoint)
        .query("query", &query)
        .call()
        .and_then(|mut r| r.body_mut().read_to_string())
        .map_err(|e| Error::Prometheus {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
    from_prometheus_response(url, &body, config)
}
