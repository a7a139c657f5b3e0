//! What the analysis returns: plain data, serialisable for `-o json`, with every missing number a
//! typed reason and no verdict possible beside a failed sample-ratio check.

use crate::bayes::Bayesian;
use crate::compare::Test;
use crate::estimate::{Estimate, Interval};
use crate::input::{Direction, Settings};
use crate::power::{Plan, Unplannable};
use crate::sequential::Mixture;
use crate::srm::{SrmFailed, SrmOk};
use crate::verdict::Verdict;
use serde::Serialize;

/// The whole analysis of one experiment at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// The settings used (defaults filled in).
    pub settings: Settings,
    /// Comparisons in the Holm family: (arms − 1) × goals.
    pub comparisons_in_family: usize,
    /// alpha / comparisons: the level the power plan and the mixture's tuning use (the threshold
    /// Holm applies to the smallest p-value, so the stated power holds in the worst case).
    pub planning_alpha: f64,
    /// The always-valid mixture's tuning.
    pub mixture: Mixture,
    /// Per arm, per goal: what each arm did.
    pub arms: Vec<ArmSummary>,
    /// Per non-control arm, per goal: the arm against the control.
    pub comparisons: Vec<Comparison>,
    /// The sample-ratio check and, unless it failed, the verdicts.
    pub decision: Decision,
}

impl Analysis {
    /// Adds likely causes of a failed sample-ratio check (the caller knows its data source: bots,
    /// a redirect, caching...). Does nothing when the check did not fail.
    pub fn with_likely_causes(mut self, causes: impl IntoIterator<Item = String>) -> Self {
        if let Decision::Withheld {
            ref mut likely_causes,
            ..
        } = self.decision
        {
            likely_causes.extend(causes);
        }
        self
    }
}

/// One arm's numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmSummary {
    /// Arm name.
    pub arm: String,
    /// This is the control.
    pub control: bool,
    /// Configured share, normalised to sum to 1.
    pub configured_share: f64,
    /// Users exposed.
    pub exposed: u64,
    /// Per goal, in the goals' order.
    pub goals: Vec<ArmGoal>,
}

/// One arm's numbers for one goal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmGoal {
    /// Goal name.
    pub goal: String,
    /// The numbers.
    pub metric: ArmMetric,
}

/// A rate or a mean, with its (fixed-horizon, descriptive) interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArmMetric {
    /// A conversion goal.
    Rate {
        /// Users who converted.
        converted: u64,
        /// Rate and its Wilson interval.
        rate: Estimate<RateSummary>,
    },
    /// A value metric.
    Value {
        /// Users (exposed; users without a value count as 0).
        users: u64,
        /// Mean and its Student's t interval.
        mean: Estimate<MeanSummary>,
    },
}

/// A rate with its Wilson score interval at 1 − alpha.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RateSummary {
    /// converted / exposed.
    pub rate: f64,
    /// Wilson score interval.
    pub wilson_interval: Interval,
}

/// A mean with its Student's t interval at 1 − alpha.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MeanSummary {
    /// Mean per user.
    pub mean: f64,
    /// Sample standard deviation.
    pub standard_deviation: f64,
    /// Student's t interval of the mean.
    pub t_interval: Interval,
}

/// One arm against the control on one goal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Arm name.
    pub arm: String,
    /// Goal name.
    pub goal: String,
    /// The goal is the primary one.
    pub primary: bool,
    /// Which way is better for this goal.
    pub direction: Direction,
    /// The frequentist numbers.
    pub effect: Estimate<Effect>,
    /// The Bayesian numbers.
    pub bayesian: Estimate<Bayesian>,
    /// The power plan.
    pub power: Power,
}

/// The difference between the arm and the control, with both sets of inference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Effect {
    /// The fixed-horizon test.
    pub test: Test,
    /// arm − control (rate or mean).
    pub difference: f64,
    /// arm / control − 1.
    pub relative: Estimate<f64>,
    /// z or t statistic.
    pub statistic: f64,
    /// Effective users now over effective users at the planned sample (1 = the plan).
    pub information_fraction: f64,
    /// Safe to read at any time (the default).
    pub always_valid: Inference,
    /// Valid only when read once, at the planned sample.
    pub fixed_horizon: Inference,
}

/// p-values and intervals of one kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inference {
    /// Two-sided p-value of this comparison alone.
    pub p_value: f64,
    /// Holm-adjusted across every (arm, goal) comparison: what the verdicts use.
    pub p_value_holm: f64,
    /// Interval of the difference at 1 − alpha (not adjusted for multiplicity).
    pub difference_interval: Interval,
    /// Interval of the relative difference at 1 − alpha (not adjusted for multiplicity).
    pub relative_interval: Estimate<Interval>,
}

/// Users needed to detect the goal's minimum effect.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Power {
    /// The goal states no minimum effect.
    NoMinimumEffect,
    /// A minimum effect is stated but no plan can be made from this data.
    Unplannable(Unplannable),
    /// The plan.
    Planned(Planned),
}

impl Power {
    /// The plan for the deciding test of `always_valid` (true) or fixed-horizon (false) mode.
    pub fn plan(&self, always_valid: bool) -> Option<&Plan> {
        match self {
            Power::Planned(p) if always_valid => Some(&p.always_valid),
            Power::Planned(p) => Some(&p.fixed_horizon),
            _ => None,
        }
    }
}

/// A sample-size plan for both tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    /// The minimum effect in the metric's units.
    pub minimum_effect: f64,
    /// The control's rate or mean the plan starts from (observed so far).
    pub baseline: f64,
    /// For the always-valid test.
    pub always_valid: Plan,
    /// For the fixed-horizon test.
    pub fixed_horizon: Plan,
}

/// The sample-ratio check, and the verdicts unless it failed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The split does not match the configuration: every comparison is suspect, no verdict.
    Withheld {
        /// The failed check.
        srm: SrmFailed,
        /// Why the split may be off, as the caller knows its source.
        likely_causes: Vec<String>,
    },
    /// The check did not fail; each comparison has a verdict.
    Judged {
        /// The check.
        srm: SrmOk,
        /// One per comparison, in the same order.
        verdicts: Vec<ComparisonVerdict>,
        /// One per non-control arm, from the primary goal; empty without a primary goal.
        arms: Vec<ArmVerdict>,
    },
}

/// The verdict of one comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparisonVerdict {
    /// Arm name.
    pub arm: String,
    /// Goal name.
    pub goal: String,
    /// The verdict.
    pub verdict: Verdict,
}

/// An arm's overall verdict: its primary goal's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmVerdict {
    /// Arm name.
    pub arm: String,
    /// The primary goal.
    pub primary_goal: String,
    /// The primary goal's verdict.
    pub verdict: Verdict,
    /// Other goals on which the arm is a significant loser (a guardrail to look at).
    pub losing_goals: Vec<String>,
}
