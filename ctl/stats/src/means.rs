//! Value metrics (revenue per user and the like): one arm's mean, and Welch's t-test of an arm
//! against the control (Welch 1947; degrees of freedom by Welch–Satterthwaite).
//!
//! An arm's values are kept as (n, mean, sum of squared deviations), built with Welford's update
//! from per-user values, or from the sufficient statistics (n, Σx, Σx²) a metrics source can
//! export. The latter lose digits when the mean is large against the spread (Σx² − (Σx)²/n
//! cancels); per-user values do not.
//!
//! The relative difference (arm mean / control mean − 1) uses the delta method on the ratio of two
//! independent means. Unlike a rate, a mean can be 0 or negative (refunds), so the log scale is not
//! available; Fieller's interval would be exact under normality but can be unbounded, which a
//! report cannot show.

use crate::dist;
use crate::estimate::{Interval, NotEnoughData};
use crate::proportion::Scale;
use serde::Serialize;

/// One arm's values: count, mean and the sum of squared deviations from the mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ValueStats {
    /// Users.
    pub n: u64,
    /// Mean value per user.
    pub mean: f64,
    /// Σ (x − mean)².
    pub sum_squared_deviations: f64,
}

impl ValueStats {
    /// From per-user values, then `zeros` more users with value 0 (exposed users with no value).
    pub fn from_values(values: &[f64], zeros: u64) -> Self {
        let mut s = ValueStats {
            n: 0,
            mean: 0.0,
            sum_squared_deviations: 0.0,
        };
        for &x in values {
            s.n += 1;
            let delta = x - s.mean;
            s.mean += delta / s.n as f64;
            s.sum_squared_deviations += delta * (x - s.mean);
        }
        s.merge(ValueStats {
            n: zeros,
            mean: 0.0,
            sum_squared_deviations: 0.0,
        })
    }

    /// From n, Σx and Σx², then `zeros` more users with value 0. A sum of squares a little below
    /// (Σx)²/n from rounding counts as zero spread.
    pub fn from_sums(n: u64, sum: f64, sum_of_squares: f64, zeros: u64) -> Self {
        let base = if n == 0 {
            ValueStats {
                n: 0,
                mean: 0.0,
                sum_squared_deviations: 0.0,
            }
        } else {
            ValueStats {
                n,
                mean: sum / n as f64,
                sum_squared_deviations: (sum_of_squares - sum * sum / n as f64).max(0.0),
            }
        };
        base.merge(ValueStats {
            n: zeros,
            mean: 0.0,
            sum_squared_deviations: 0.0,
        })
    }

    /// Chan et al.'s pairwise combination of two groups.
    fn merge(self, other: ValueStats) -> ValueStats {
        if other.n == 0 {
            return self;
        }
        if self.n == 0 {
            return other;
        }
        let n = self.n + other.n;
        let delta = other.mean - self.mean;
        let weight = other.n as f64 / n as f64;
        ValueStats {
            n,
            mean: self.mean + delta * weight,
            sum_squared_deviations: self.sum_squared_deviations
                + other.sum_squared_deviations
                + delta * delta * self.n as f64 * weight,
        }
    }

    /// Sample variance (n − 1 denominator); needs two users.
    pub fn variance(&self) -> Result<f64, NotEnoughData> {
        if self.n < 2 {
            return Err(NotEnoughData::FewerThanTwoUsers);
        }
        Ok(self.sum_squared_deviations / (self.n - 1) as f64)
    }

    /// Student's t interval for the mean at level 1 − `alpha`.
    pub fn interval(&self, alpha: f64) -> Result<Interval, NotEnoughData> {
        let variance = self.variance()?;
        let half = dist::students_t_isf(alpha / 2.0, (self.n - 1) as f64)
            * (variance / self.n as f64).sqrt();
        Ok(Interval::around(self.mean, half))
    }
}

/// Welch's t-test of arm − control.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Welch {
    /// arm mean − control mean.
    pub difference: f64,
    /// Standard error of the difference (unpooled).
    pub standard_error: f64,
    /// t statistic.
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub degrees_of_freedom: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

impl Welch {
    /// The test; needs two users per arm and some spread in at least one arm.
    pub fn test(control: &ValueStats, arm: &ValueStats) -> Result<Welch, NotEnoughData> {
        let vc = control.variance()? / control.n as f64;
        let va = arm.variance()? / arm.n as f64;
        let se2 = vc + va;
        if se2 <= 0.0 {
            return Err(NotEnoughData::NoVariance);
        }
        let df = se2 * se2 / (vc * vc / (control.n - 1) as f64 + va * va / (arm.n - 1) as f64);
        let difference = arm.mean - control.mean;
        let standard_error = se2.sqrt();
        let t = difference / standard_error;
        Ok(Welch {
            difference,
            standard_error,
            t,
            degrees_of_freedom: df,
            p_value: dist::students_t_two_sided(t, df),
        })
    }

    /// The difference's scale (for intervals at any multiplier).
    pub fn difference_scale(&self) -> Scale {
        Scale {
            center: self.difference,
            standard_error: self.standard_error,
            log_ratio: false,
        }
    }

    /// The fixed-horizon interval of the difference: t quantile with Welch's degrees of freedom.
    pub fn interval(&self, alpha: f64) -> Interval {
        let t = dist::students_t_isf(alpha / 2.0, self.degrees_of_freedom);
        self.difference_scale().interval(t)
    }
}

/// Delta-method scale of arm mean / control mean − 1 (independent arms).
pub fn relative_scale(control: &ValueStats, arm: &ValueStats) -> Result<Scale, NotEnoughData> {
    let vc = control.variance()? / control.n as f64;
    let va = arm.variance()? / arm.n as f64;
    let mc = control.mean;
    if mc == 0.0 {
        return Err(NotEnoughData::ControlIsZero);
    }
    let ratio = arm.mean / mc;
    let variance = va / (mc * mc) + ratio * ratio * vc / (mc * mc);
    Ok(Scale {
        center: ratio - 1.0,
        standard_error: variance.sqrt(),
        log_ratio: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welford_with_implicit_zeros_equals_the_values_written_out() {
        let a = ValueStats::from_values(&[3.0, 5.0, 10.0], 2);
        let b = ValueStats::from_values(&[3.0, 5.0, 10.0, 0.0, 0.0], 0);
        assert_eq!(a.n, 5);
        assert!((a.mean - b.mean).abs() < 1e-12);
        assert!((a.sum_squared_deviations - b.sum_squared_deviations).abs() < 1e-9);
        let s = ValueStats::from_sums(3, 18.0, 134.0, 2);
        assert!((s.sum_squared_deviations - b.sum_squared_deviations).abs() < 1e-9);
    }

    #[test]
    fn one_user_is_not_enough_for_welch() {
        let one = ValueStats::from_values(&[4.0], 0);
        let many = ValueStats::from_values(&[1.0, 2.0, 3.0], 0);
        assert_eq!(
            Welch::test(&one, &many),
            Err(NotEnoughData::FewerThanTwoUsers)
        );
        assert_eq!(one.interval(0.05), Err(NotEnoughData::FewerThanTwoUsers));
    }

    #[test]
    fn equal_values_everywhere_have_no_variance() {
        let a = ValueStats::from_values(&[2.0, 2.0], 0);
        assert_eq!(Welch::test(&a, &a), Err(NotEnoughData::NoVariance));
    }

    #[test]
    fn a_zero_control_mean_has_no_relative_change() {
        let zero = ValueStats::from_values(&[-1.0, 1.0], 0);
        let arm = ValueStats::from_values(&[1.0, 2.0], 0);
        assert_eq!(
            relative_scale(&zero, &arm),
            Err(NotEnoughData::ControlIsZero)
        );
    }
}
