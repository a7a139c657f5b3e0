//! Conversion rates: one arm's rate, and an arm against the control.
//!
//! - One arm: the Wilson score interval (Wilson 1927), which stays inside [0, 1] and keeps its
//!   coverage at 0 % and 100 % where the Wald interval collapses to a point.
//! - The difference: the pooled two-proportion z-test for the p-value (the classic test, what
//!   `statsmodels.stats.proportion.proportions_ztest` computes), and the Agresti–Caffo interval
//!   (Agresti & Caffo 2000: Wald after adding one success and one failure to each arm), which
//!   never degenerates to a point when an arm has 0 % or 100 %.
//! - The relative difference (arm / control − 1): Katz's log interval for the risk ratio (Katz et
//!   al. 1978, the delta method on log(ratio)) with ½ added to each count and each total, so an arm
//!   with no conversions still gets an interval (statsmodels' `log-adjusted`). On the log scale the
//!   interval is asymmetric like the ratio itself and never goes below −100 %.
//!
//! Intervals are built from a [`Scale`] (centre and standard error) and a multiplier, so the same
//! numbers serve the fixed-horizon interval (multiplier z_{1−α/2}) and the always-valid one (the
//! mixture's multiplier, see [`crate::sequential`]).

use crate::dist;
use crate::estimate::{Interval, NotEnoughData};
use serde::{Deserialize, Serialize};

/// Users exposed and users converted in one arm for one goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Users who reached the goal (at most `exposed`).
    pub converted: u64,
    /// Users exposed to the arm.
    pub exposed: u64,
}

impl Counts {
    /// converted / exposed; `None` without exposures.
    pub fn rate(&self) -> Option<f64> {
        (self.exposed > 0).then(|| self.converted as f64 / self.exposed as f64)
    }
}

/// An estimate with a normal standard error on some scale: the raw scale, or the log scale for a
/// ratio (whose interval is mapped back with `exp(x) − 1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// Centre of the interval on this scale.
    pub center: f64,
    /// Standard error on this scale.
    pub standard_error: f64,
    /// The scale is log(ratio); intervals are reported as ratio − 1.
    pub log_ratio: bool,
}

impl Scale {
    /// `center ± multiplier · standard_error`, mapped back to the reported scale.
    pub fn interval(&self, multiplier: f64) -> Interval {
        let raw = Interval::around(self.center, multiplier * self.standard_error);
        if self.log_ratio {
            Interval {
                lower: raw.lower.exp_m1(),
                upper: raw.upper.exp_m1(),
            }
        } else {
            raw
        }
    }
}

/// Wilson score interval for one arm's rate at level 1 − `alpha`.
pub fn wilson(counts: Counts, alpha: f64) -> Result<Interval, NotEnoughData> {
    let p = counts.rate().ok_or(NotEnoughData::NoExposures)?;
    let n = counts.exposed as f64;
    let z = dist::normal_isf(alpha / 2.0);
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    Ok(Interval::around(center, half))
}

/// The pooled two-proportion z statistic for arm − control (positive when the arm converts more).
pub fn z_statistic(control: Counts, arm: Counts) -> Result<f64, NotEnoughData> {
    let (pc, pa) = rates(control, arm)?;
    let n_c = control.exposed as f64;
    let n_a = arm.exposed as f64;
    let pooled = (control.converted + arm.converted) as f64 / (n_c + n_a);
    let variance = pooled * (1.0 - pooled) * (1.0 / n_c + 1.0 / n_a);
    if variance <= 0.0 {
        return Err(NotEnoughData::NoVariance);
    }
    Ok((pa - pc) / variance.sqrt())
}

/// The two-sided p-value of the pooled two-proportion z-test.
pub fn z_test_p_value(control: Counts, arm: Counts) -> Result<f64, NotEnoughData> {
    z_statistic(control, arm).map(dist::normal_two_sided)
}

/// Agresti–Caffo scale for arm − control: each arm's rate after adding one success and one
/// failure, and the unpooled Wald standard error of their difference.
pub fn difference_scale(control: Counts, arm: Counts) -> Result<Scale, NotEnoughData> {
    rates(control, arm)?;
    let adjusted = |c: Counts| {
        let n = c.exposed as f64 + 2.0;
        let p = (c.converted as f64 + 1.0) / n;
        (p, p * (1.0 - p) / n)
    };
    let (pc, vc) = adjusted(control);
    let (pa, va) = adjusted(arm);
    Ok(Scale {
        center: pa - pc,
        standard_error: (va + vc).sqrt(),
        log_ratio: false,
    })
}

/// Katz log scale for arm / control with ½ added to every count and total.
pub fn ratio_scale(control: Counts, arm: Counts) -> Result<Scale, NotEnoughData> {
    rates(control, arm)?;
    let adjusted = |c: Counts| (c.converted as f64 + 0.5, c.exposed as f64 + 0.5);
    let (xc, nc) = adjusted(control);
    let (xa, na) = adjusted(arm);
    let variance = 1.0 / xa - 1.0 / na + 1.0 / xc - 1.0 / nc;
    Ok(Scale {
        center: (xa / na).ln() - (xc / nc).ln(),
        standard_error: variance.max(0.0).sqrt(),
        log_ratio: true,
    })
}

/// Both arms' rates, or why they are missing.
fn rates(control: Counts, arm: Counts) -> Result<(f64, f64), NotEnoughData> {
    match (control.rate(), arm.rate()) {
        (Some(c), Some(a)) => Ok((c, a)),
        _ => Err(NotEnoughData::NoExposures),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(converted: u64, exposed: u64) -> Counts {
        Counts { converted, exposed }
    }

    #[test]
    fn wilson_stays_inside_zero_and_one_at_the_extremes() {
        let none = wilson(c(0, 20), 0.05).unwrap();
        assert_eq!(none.lower, 0.0);
        assert!(none.upper > 0.1 && none.upper < 0.2, "{none:?}");
        let all = wilson(c(20, 20), 0.05).unwrap();
        assert!(
            (all.upper - 1.0).abs() < 1e-12 && all.lower < 0.9,
            "{all:?}"
        );
    }

    #[test]
    fn no_exposures_is_not_enough_data() {
        assert_eq!(wilson(c(0, 0), 0.05), Err(NotEnoughData::NoExposures));
        assert_eq!(
            z_statistic(c(0, 0), c(1, 5)),
            Err(NotEnoughData::NoExposures)
        );
    }

    #[test]
    fn nobody_or_everybody_converting_has_no_variance() {
        assert_eq!(
            z_statistic(c(0, 50), c(0, 60)),
            Err(NotEnoughData::NoVariance)
        );
        assert_eq!(
            z_statistic(c(50, 50), c(60, 60)),
            Err(NotEnoughData::NoVariance)
        );
    }

    #[test]
    fn zero_against_everything_still_gets_intervals_that_are_not_points() {
        let d = difference_scale(c(0, 40), c(40, 40))
            .unwrap()
            .interval(1.96);
        assert!(d.upper - d.lower > 0.05 && d.contains(0.95), "{d:?}");
        let r = ratio_scale(c(10, 40), c(0, 40)).unwrap().interval(1.96);
        assert!(r.lower > -1.0 && r.upper < 0.0, "{r:?}");
    }
}
