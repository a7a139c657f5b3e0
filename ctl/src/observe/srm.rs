//! Sample-ratio mismatch: does an observed split differ from the configured one beyond chance?
//!
//! Pearson's chi-square goodness-of-fit over the variants with non-zero weight; a variant with
//! zero weight that still gets traffic is a mismatch outright. The threshold is p < 0.001, the
//! usual choice for SRM checks: strict enough that a healthy split is flagged about once in a
//! thousand looks, loose enough to catch an 80/20 that was configured as 50/50 within a few
//! hundred requests.
//!
//! The counts are requests, and a significant difference is a mismatch only when it is also
//! material: some variant's share is more than [`MATERIAL`] of its weight away from it. The test
//! assumes independent draws, but users are sticky: all of one user's requests go to one
//! variant, so a few busy users move the shares by more than chance would, and at production
//! volumes such a small, harmless difference is always "significant". A weight that did not
//! take effect is off by far more.

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF};

/// Below this p-value the split is flagged.
pub const ALPHA: f64 = 0.001;
/// Fewer requests than this say nothing either way.
pub const MIN_SAMPLE: u64 = 100;
/// How far (relative to its weight) a variant's observed share must be from its weight for a
/// significant difference to be a mismatch: a 20 % weight flags below 15 % or above 25 %.
pub const MATERIAL: f64 = 0.25;

/// The verdict of one test.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Verdict {
    /// Requests the test saw.
    pub total: u64,
    /// Chi-square statistic.
    pub chi2: f64,
    /// p-value (1.0 when there is nothing to test).
    pub p_value: f64,
    /// The largest distance of a variant's observed share from its weight, relative to the
    /// weight (0.1: a 20 % weight got 18 % or 22 %).
    pub off: f64,
    /// Flagged as a mismatch: significant and material, or traffic to a variant at 0 %.
    pub mismatch: bool,
    /// Variants that got traffic although their weight is 0.
    pub unexpected: Vec<String>,
}

/// Tests `observed` counts against `weights` (basis points), per variant name.
pub fn test(observed: &[(String, u64, i64)]) -> Option<Verdict> {
    let total: u64 = observed.iter().map(|(_, n, _)| n).sum();
    if total < MIN_SAMPLE {
        return None;
    }
    let unexpected: Vec<String> = observed
        .iter()
        .filter(|(_, n, w)| *w == 0 && *n > 0)
        .map(|(name, _, _)| name.clone())
        .collect();
    let live: Vec<(u64, i64)> = observed
        .iter()
        .filter(|(_, _, w)| *w > 0)
        .map(|(_, n, w)| (*n, *w))
        .collect();
    let weight_sum: i64 = live.iter().map(|(_, w)| w).sum();
    let live_total: u64 = live.iter().map(|(n, _)| n).sum();
    let chi2: f64 = live
        .iter()
        .map(|(n, w)| {
            let expected = live_total as f64 * *w as f64 / weight_sum as f64;
            (*n as f64 - expected).powi(2) / expected
        })
        .sum();
    let dof = live.len().saturating_sub(1);
    let p_value = if dof == 0 {
        1.0
    } else {
        ChiSquared::new(dof as f64).map_or(1.0, |d| 1.0 - d.cdf(chi2))
    };
    let off = live
        .iter()
        .map(|(n, w)| {
            let expected = *w as f64 / weight_sum as f64;
            (*n as f64 / live_total.max(1) as f64 - expected).abs() / expected
        })
        .fold(0.0, f64::max);
    let mismatch = (p_value < ALPHA && off > MATERIAL) || !unexpected.is_empty();
    Some(Verdict {
        total,
        chi2,
        p_value,
        off,
        mismatch,
        unexpected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(v: &[(&str, u64, i64)]) -> Vec<(String, u64, i64)> {
        v.iter()
            .map(|(n, c, w)| ((*n).to_owned(), *c, *w))
            .collect()
    }

    #[test]
    fn a_split_that_matches_is_not_flagged() {
        let v = test(&obs(&[("v1", 805, 8000), ("v2", 195, 2000)])).unwrap();
        assert!(!v.mismatch, "{v:?}");
        assert!(v.p_value > 0.5);
    }

    #[test]
    fn eighty_twenty_measured_when_fifty_fifty_is_configured_is_flagged() {
        let v = test(&obs(&[("v1", 800, 5000), ("v2", 200, 5000)])).unwrap();
        assert!(v.mismatch);
        assert!(v.p_value < 1e-10, "{v:?}");
    }

    /// Returning users: 20.3 % of a million requests for a 20 % weight is far beyond chance for
    /// independent draws (p < 1e-10) but harmless; 26 % is not.
    #[test]
    fn a_significant_but_small_difference_is_not_a_mismatch() {
        let v = test(&obs(&[("v1", 797_000, 8000), ("v2", 203_000, 2000)])).unwrap();
        assert!(v.p_value < 1e-10, "{v:?}");
        assert!((v.off - 0.015).abs() < 1e-9, "{v:?}");
        assert!(!v.mismatch, "{v:?}");
        let v = test(&obs(&[("v1", 740_000, 8000), ("v2", 260_000, 2000)])).unwrap();
        assert!(v.mismatch, "{v:?}");
    }

    /// Material but within chance (a few requests) is no mismatch either.
    #[test]
    fn a_material_difference_within_chance_is_not_a_mismatch() {
        let v = test(&obs(&[("v1", 73, 8000), ("v2", 27, 2000)])).unwrap();
        assert!(v.off > MATERIAL, "{v:?}");
        assert!(!v.mismatch, "{v:?}");
    }

    #[test]
    fn traffic_to_a_zero_weight_variant_is_flagged() {
        let v = test(&obs(&[("v1", 999, 10000), ("v2", 1, 0)])).unwrap();
        assert!(v.mismatch);
        assert_eq!(v.unexpected, ["v2"]);
    }

    #[test]
    fn too_little_traffic_gives_no_verdict() {
        assert!(test(&obs(&[("v1", 50, 5000), ("v2", 10, 5000)])).is_none());
    }
}
