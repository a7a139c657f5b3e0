//! Latency percentiles over any window and any set of proxies, from Envoy's histogram bins.
//!
//! Envoy's own quantiles cover one proxy since it started, and quantiles cannot be merged or
//! subtracted. Bin counts can: `/stats?format=json&histogram_buckets=detailed` gives each
//! histogram's `totals` (since start) in Envoy's log-linear bins (two significant digits, so
//! within 10 % of the value). Summing bins over proxies and subtracting the bins recorded at the
//! last change gives the window `status` shows. The fixed `cumulative` buckets (250, 500,
//! 1000 us, ...) would be mergeable too, but too coarse to tell 230 us from 460 us.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::observe::snapshot::veer_metric;

/// Name prefix of the filter's histograms after `veer.` (`latency_us.<service>.<variant>`). The
/// others (`exp_latency_us.<service>.<experiment>.<arm>`) are kept under their whole name after
/// `veer.`: no `<service>.<variant>` has 4 parts.
const PREFIX: &str = "latency_us.";

/// One of Envoy's bins: values in `[m * 10^e, (m + 1) * 10^e)`.
///
/// Kept as integers, not Envoy's float bounds (`220.00000000000003`), so that the same bin read
/// from two proxies, or from a baseline file, is the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bin {
    /// Mantissa (10..=99 for non-zero values; 0 for Envoy's bin of zeros).
    pub m: i64,
    /// Decimal exponent of the bin width.
    pub e: i32,
}

impl Bin {
    /// The bin Envoy reports as `lower_bound` and `width` (a width of 0 is its bin of zeros).
    fn from_bounds(lower: f64, width: f64) -> Option<Bin> {
        if !(lower.is_finite() && width.is_finite() && lower >= 0.0 && width >= 0.0) {
            return None;
        }
        if width == 0.0 {
            return Some(Bin { m: 0, e: 0 });
        }
        let e = width.log10().round() as i32;
        Some(Bin {
            m: (lower / 10f64.powi(e)).round() as i64,
            e,
        })
    }

    fn lower(self) -> f64 {
        self.m as f64 * 10f64.powi(self.e)
    }

    fn width(self) -> f64 {
        10f64.powi(self.e)
    }
}

impl Ord for Bin {
    fn cmp(&self, other: &Self) -> Ordering {
        self.lower()
            .total_cmp(&other.lower())
            .then(self.e.cmp(&other.e))
    }
}

impl PartialOrd for Bin {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A histogram as counts per bin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Vec<(Bin, u64)>", into = "Vec<(Bin, u64)>")]
pub struct Histogram(BTreeMap<Bin, u64>);

impl From<Vec<(Bin, u64)>> for Histogram {
    fn from(bins: Vec<(Bin, u64)>) -> Histogram {
        let mut h = Histogram::default();
        for (bin, n) in bins {
            h.add(bin, n);
        }
        h
    }
}

impl From<Histogram> for Vec<(Bin, u64)> {
    fn from(h: Histogram) -> Self {
        h.0.into_iter().collect()
    }
}

impl Histogram {
    fn add(&mut self, bin: Bin, n: u64) {
        if n > 0 {
            *self.0.entry(bin).or_insert(0) += n;
        }
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.0.values().sum()
    }

    /// Adds another proxy's counts.
    pub fn merge(&mut self, other: &Histogram) {
        for (bin, n) in &other.0 {
            self.add(*bin, *n);
        }
    }

    /// What was recorded after `baseline` (bin by bin; a bin that shrank, as after a restart of
    /// the proxy, counts as nothing new).
    pub fn since(&self, baseline: &Histogram) -> Histogram {
        Histogram(
            self.0
                .iter()
                .map(|(bin, n)| {
                    (
                        *bin,
                        n.saturating_sub(baseline.0.get(bin).copied().unwrap_or(0)),
                    )
                })
                .filter(|(_, n)| *n > 0)
                .collect(),
        )
    }

    /// The `q`-th percentile (0..=100); `None` when nothing was recorded.
    ///
    /// Envoy's rule (circllhist): the k values of a bin sit evenly inside it, the j-th at
    /// `lower + width * j / (k + 1)`, and the percentile is the value of rank `ceil(q% of n)`.
    /// The same rule gives the same figures as Envoy's own quantiles for one proxy since start.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 100.0) / 100.0 * total as f64).ceil() as u64).clamp(1, total);
        let mut below = 0;
        for (bin, n) in &self.0 {
            if below + n >= rank {
                let j = (rank - below) as f64;
                return Some(bin.lower() + bin.width() * j / (*n as f64 + 1.0));
            }
            below += n;
        }
        None
    }
}

/// Parses `/stats?format=json&histogram_buckets=detailed`: each Veer latency histogram's
/// since-start bins, per `<service>.<variant>`.
pub fn parse_detailed(json: &str) -> Result<BTreeMap<String, Histogram>, String> {
    let doc: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let mut out = BTreeMap::new();
    let details = doc["stats"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["histograms"]["details"].as_array())
        .flatten();
    for d in details {
        let Some(name) = d["name"]
            .as_str()
            .and_then(veer_metric)
            .map(|n| n.strip_prefix(PREFIX).unwrap_or(n))
        else {
            continue;
        };
        let mut h = Histogram::default();
        for b in d["totals"].as_array().into_iter().flatten() {
            let (Some(lower), Some(width), Some(n)) = (
                b["lower_bound"].as_f64(),
                b["width"].as_f64(),
                b["count"].as_u64(),
            ) else {
                return Err(format!(
                    "{name}: a bin without lower_bound, width or count: {b}"
                ));
            };
            let bin = Bin::from_bounds(lower, width)
                .ok_or_else(|| format!("{name}: a bin with bounds {lower} + {width}"))?;
            h.add(bin, n);
        }
        out.insert(name.to_owned(), h);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real output of Envoy 1.40 after ~200 requests, with Envoy's own percentiles beside it.
    const ENVOY: &str = include_str!("../../testdata/envoy-1.40-detailed-histograms.json");

    fn envoy_percentiles(name: &str) -> Vec<(f64, f64)> {
        let doc: serde_json::Value = serde_json::from_str(ENVOY).unwrap();
        let h = &doc["stats"][0]["histograms"];
        let d = h["details"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == format!("wasmcustom.veer.{PREFIX}{name}"))
            .unwrap();
        h["supported_percentiles"]
            .as_array()
            .unwrap()
            .iter()
            .zip(d["percentiles"].as_array().unwrap())
            .map(|(q, v)| (q.as_f64().unwrap(), v["cumulative"].as_f64().unwrap()))
            .collect()
    }

    fn hist(bins: &[(i64, i32, u64)]) -> Histogram {
        bins.iter()
            .map(|(m, e, n)| (Bin { m: *m, e: *e }, *n))
            .collect::<Vec<_>>()
            .into()
    }

    #[test]
    fn percentiles_match_envoys_own_for_one_proxy_since_start() {
        let parsed = parse_detailed(ENVOY).unwrap();
        for name in ["web.v1", "web.v2"] {
            let h = &parsed[name];
            for (q, expected) in envoy_percentiles(name) {
                let got = h.percentile(q).unwrap();
                assert!(
                    (got - expected).abs() < 1e-6,
                    "{name} p{q}: got {got}, Envoy says {expected}"
                );
            }
        }
        assert_eq!(parsed["web.v1"].count(), 105);
        assert_eq!(parsed["web.v3"].count(), 0);
        assert_eq!(parsed["web.v3"].percentile(50.0), None);
    }

    #[test]
    fn float_bounds_map_to_exact_bins() {
        assert_eq!(
            Bin::from_bounds(220.00000000000003, 10.0),
            Some(Bin { m: 22, e: 1 })
        );
        assert_eq!(
            Bin::from_bounds(409.99999999999994, 10.0),
            Some(Bin { m: 41, e: 1 })
        );
        assert_eq!(Bin::from_bounds(1000.0, 100.0), Some(Bin { m: 10, e: 2 }));
        assert_eq!(Bin::from_bounds(0.5, 0.01), Some(Bin { m: 50, e: -2 }));
        assert_eq!(Bin::from_bounds(0.0, 0.0), Some(Bin { m: 0, e: 0 }));
        assert_eq!(Bin::from_bounds(f64::NAN, 10.0), None);
        // Ordered by value, not by mantissa: 990 us comes before 1000 us.
        assert!(Bin { m: 99, e: 1 } < Bin { m: 10, e: 2 });
    }

    #[test]
    fn merged_proxies_give_the_percentiles_of_all_their_values() {
        // Proxy a: 90 fast values (~210 us); proxy b: 10 slow ones (~50 ms).
        let mut all = hist(&[(21, 1, 90)]);
        all.merge(&hist(&[(50, 3, 10)]));
        assert_eq!(all.count(), 100);
        assert!(all.percentile(50.0).unwrap() < 220.0);
        // Rank 91 and above are b's values: p95 is slow, which neither proxy alone shows at p50.
        let p95 = all.percentile(95.0).unwrap();
        assert!((50_000.0..51_000.0).contains(&p95), "{p95}");
        // Rank 90 is a's last value.
        assert!(all.percentile(90.0).unwrap() < 220.0);
    }

    #[test]
    fn subtracting_a_baseline_leaves_only_the_later_values() {
        let baseline = hist(&[(21, 1, 90), (50, 3, 10)]);
        let now = hist(&[(21, 1, 90), (50, 3, 10), (30, 1, 7)]);
        let window = now.since(&baseline);
        assert_eq!(window, hist(&[(30, 1, 7)]));
        assert!((300.0..310.0).contains(&window.percentile(99.0).unwrap()));
        // Nothing new: no percentile rather than a stale one.
        assert_eq!(baseline.since(&baseline).percentile(50.0), None);
        // A proxy that restarted has fewer values than its baseline: nothing new, not underflow.
        assert_eq!(hist(&[(21, 1, 3)]).since(&baseline).count(), 0);
    }

    #[test]
    fn bins_survive_a_round_trip_through_the_baseline_file() {
        let h = parse_detailed(ENVOY).unwrap().remove("web.v1").unwrap();
        let text = serde_json::to_string(&h).unwrap();
        let back: Histogram = serde_json::from_str(&text).unwrap();
        assert_eq!(back, h);
        assert_eq!(h.since(&back).count(), 0);
    }

    #[test]
    fn malformed_output_is_an_error_not_an_empty_histogram() {
        assert!(parse_detailed("nope").is_err());
        let bad = r#"{"stats":[{"histograms":{"details":[{"name":"wasmcustom.veer.latency_us.web.v1","totals":[{"lower_bound":1}]}]}}]}"#;
        assert!(parse_detailed(bad).unwrap_err().contains("web.v1"));
    }
}
