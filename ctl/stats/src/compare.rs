//! One arm against the control on one goal: the metric-specific part (rates or means), reduced to
//! the numbers the mode-independent part of the analysis needs.

use crate::bayes::{self, Bayesian, BetaPrior};
use crate::dist;
use crate::estimate::NotEnoughData;
use crate::means::{self, ValueStats, Welch};
use crate::power::{self, SampleSize, Unplannable};
use crate::proportion::{self, Counts, Scale};
use crate::validate::GoalMetrics;
use serde::Serialize;

/// Which test produced the fixed-horizon p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// Pooled two-proportion z-test (rates).
    TwoProportionZ,
    /// Welch's t-test (values).
    Welch {
        /// Welch–Satterthwaite degrees of freedom.
        degrees_of_freedom: f64,
    },
}

/// The metric-specific numbers of one comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Raw {
    pub test: Test,
    /// arm − control.
    pub difference: f64,
    /// arm / control − 1.
    pub relative: Result<f64, NotEnoughData>,
    /// z (rates) or t (values); the always-valid p-value treats it as normal.
    pub statistic: f64,
    /// Fixed-horizon two-sided p-value.
    pub p_value: f64,
    /// The fixed-horizon multiplier for the difference (z or Welch's t quantile).
    pub fixed_difference_multiplier: f64,
    pub difference_scale: Scale,
    pub relative_scale: Result<Scale, NotEnoughData>,
}

/// What the power plan starts from: the control's rate, or its mean and standard deviation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Baseline {
    Rate(f64),
    Mean { mean: f64, sd: f64 },
}

impl Baseline {
    /// The control's rate or mean (what a relative minimum effect is a fraction of).
    pub fn level(&self) -> f64 {
        match *self {
            Baseline::Rate(p) => p,
            Baseline::Mean { mean, .. } => mean,
        }
    }

    /// Users per arm to detect `effect` (signed, absolute) at `critical` with `power`.
    pub fn sample_size(
        &self,
        effect: f64,
        control_per_arm: f64,
        critical: f64,
        power: f64,
    ) -> Result<SampleSize, Unplannable> {
        match *self {
            Baseline::Rate(p) => power::rates(p, effect, control_per_arm, critical, power),
            Baseline::Mean { sd, .. } => power::means(sd, effect, control_per_arm, critical, power),
        }
    }
}

/// Everything metric-specific about one comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Measured {
    pub raw: Result<Raw, NotEnoughData>,
    pub bayesian: Result<Bayesian, NotEnoughData>,
    pub baseline: Result<Baseline, NotEnoughData>,
    /// Users in (control, arm).
    pub users: (u64, u64),
}

/// Measures arm `arm` against arm `control` on one goal (indices into the input's arms).
pub(crate) fn measure(
    goal: &GoalMetrics,
    control: usize,
    arm: usize,
    alpha: f64,
    prior: BetaPrior,
    higher_is_better: bool,
) -> Measured {
    match goal {
        GoalMetrics::Rates(r) => rates(r[control], r[arm], alpha, prior, higher_is_better),
        GoalMetrics::Values(v) => values(&v[control], &v[arm], alpha, higher_is_better),
    }
}

fn rates(c: Counts, a: Counts, alpha: f64, prior: BetaPrior, higher: bool) -> Measured {
    let raw = || -> Result<Raw, NotEnoughData> {
        let z = proportion::z_statistic(c, a)?;
        let (pc, pa) = match (c.rate(), a.rate()) {
            (Some(pc), Some(pa)) => (pc, pa),
            _ => return Err(NotEnoughData::NoExposures),
        };
        let relative = if pc > 0.0 {
            Ok(pa / pc - 1.0)
        } else {
            Err(NotEnoughData::ControlIsZero)
        };
        Ok(Raw {
            test: Test::TwoProportionZ,
            difference: pa - pc,
            relative_scale: relative.and_then(|_| proportion::ratio_scale(c, a)),
            relative,
            statistic: z,
            p_value: dist::normal_two_sided(z),
            fixed_difference_multiplier: dist::normal_isf(alpha / 2.0),
            difference_scale: proportion::difference_scale(c, a)?,
        })
    };
    let exposed = c.exposed > 0 && a.exposed > 0;
    Measured {
        raw: raw(),
        bayesian: if exposed {
            Ok(bayes::rates(prior, c, a, higher))
        } else {
            Err(NotEnoughData::NoExposures)
        },
        baseline: c
            .rate()
            .map(Baseline::Rate)
            .ok_or(NotEnoughData::NoExposures),
        users: (c.exposed, a.exposed),
    }
}

fn values(c: &ValueStats, a: &ValueStats, alpha: f64, higher: bool) -> Measured {
    let welch = Welch::test(c, a);
    let raw = welch.map(|w| Raw {
        test: Test::Welch {
            degrees_of_freedom: w.degrees_of_freedom,
        },
        difference: w.difference,
        relative: if c.mean != 0.0 {
            Ok(a.mean / c.mean - 1.0)
        } else {
            Err(NotEnoughData::ControlIsZero)
        },
        statistic: w.t,
        p_value: w.p_value,
        fixed_difference_multiplier: dist::students_t_isf(alpha / 2.0, w.degrees_of_freedom),
        difference_scale: w.difference_scale(),
        relative_scale: means::relative_scale(c, a),
    });
    let baseline = c.variance().and_then(|v| {
        if v > 0.0 {
            Ok(Baseline::Mean {
                mean: c.mean,
                sd: v.sqrt(),
            })
        } else {
            Err(NotEnoughData::NoVariance)
        }
    });
    Measured {
        bayesian: welch.map(|w| bayes::means(w.difference, w.standard_error, higher)),
        raw,
        baseline,
        users: (c.n, a.n),
    }
}
