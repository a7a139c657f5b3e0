//! The analysis: every (arm, goal) against the control, Holm across them, the sample-ratio check,
//! then the verdicts.

use crate::compare::{self, Baseline, Measured, Raw};
use crate::dist;
use crate::error::InputError;
use crate::estimate::{Estimate, NotEnoughData};
use crate::holm;
use crate::input::{Arm, Experiment, Goal, DEFAULT_PLANNED_USERS_PER_ARM};
use crate::means::ValueStats;
use crate::power::{Plan, SampleSize, Traffic, Unplannable};
use crate::proportion::{self, Counts};
use crate::report::{
    Analysis, ArmGoal, ArmMetric, ArmSummary, ArmVerdict, Comparison, ComparisonVerdict, Decision,
    Effect, Inference, MeanSummary, Planned, Power, RateSummary,
};
use crate::sequential::{self, Mixture};
use crate::srm::{self, ArmExposure, SrmOk};
use crate::validate::{validate, GoalMetrics, Valid};
use crate::verdict::{self, Facts, Verdict};

/// Analyses one experiment. Fails only on input it cannot accept; data too thin for a statistic
/// gives that statistic's typed "not enough data" instead.
pub fn analyze(experiment: &Experiment) -> Result<Analysis, InputError> {
    let valid = validate(experiment)?;
    let treatments: Vec<usize> = (0..experiment.arms.len())
        .filter(|&i| i != valid.control)
        .collect();
    let family = treatments.len() * experiment.goals.len();
    let planning_alpha = experiment.settings.alpha / family.max(1) as f64;
    let ctx = Context {
        e: experiment,
        valid: &valid,
        mixture: Mixture::tuned(planning_alpha),
        planning_alpha,
        share_sum: experiment.arms.iter().map(|a| a.share).sum(),
    };
    let mut comparisons: Vec<Comparison> = treatments
        .iter()
        .flat_map(|&arm| (0..experiment.goals.len()).map(move |goal| (arm, goal)))
        .map(|(arm, goal)| ctx.compare(arm, goal))
        .collect();
    apply_holm(&mut comparisons);
    Ok(Analysis {
        settings: experiment.settings,
        comparisons_in_family: family,
        planning_alpha,
        mixture: ctx.mixture,
        arms: ctx.summaries(),
        decision: ctx.decision(&comparisons),
        comparisons,
    })
}

struct Context<'a> {
    e: &'a Experiment,
    valid: &'a Valid,
    mixture: Mixture,
    planning_alpha: f64,
    share_sum: f64,
}

impl Context<'_> {
    fn share(&self, arm: usize) -> f64 {
        self.e
            .arms
            .get(arm)
            .map_or(0.0, |a| a.share / self.share_sum)
    }

    fn compare(&self, arm: usize, goal_index: usize) -> Comparison {
        let s = &self.e.settings;
        let goal = &self.e.goals[goal_index];
        let higher = goal.direction.sign() > 0.0;
        let metrics = &self.valid.goals[goal_index];
        let measured = compare::measure(metrics, self.valid.control, arm, s.alpha, s.prior, higher);
        let (power, planned) = self.power(goal, &measured, arm);
        // The mixture is tuned to the always-valid plan, or where none exists (no minimum effect,
        // or one too small to plan in finite users) to the settings' planned users per arm.
        let planned_users = planned
            .map(|size| sequential::effective_users(size.control, size.arm))
            .filter(|n| n.is_finite() && *n >= 1.0)
            .unwrap_or_else(|| {
                let n = s
                    .planned_users_per_arm
                    .unwrap_or(DEFAULT_PLANNED_USERS_PER_ARM) as f64;
                sequential::effective_users(n, n)
            });
        let (nc, na) = measured.users;
        let fraction = sequential::effective_users(nc as f64, na as f64) / planned_users;
        Comparison {
            arm: self.e.arms[arm].name.clone(),
            goal: goal.name.clone(),
            primary: self.valid.primary == Some(goal_index),
            direction: goal.direction,
            effect: measured.raw.map(|raw| self.effect(raw, fraction)).into(),
            bayesian: measured.bayesian.into(),
            power,
        }
    }

    /// Both modes' inference from the metric's numbers.
    fn effect(&self, raw: Raw, information_fraction: f64) -> Effect {
        let alpha = self.e.settings.alpha;
        let r = self.mixture.ratio(information_fraction);
        let always = sequential::multiplier(r, alpha);
        let z = dist::normal_isf(alpha / 2.0);
        let relative = |m: f64| -> Estimate<_> { raw.relative_scale.map(|s| s.interval(m)).into() };
        let always_valid_p = sequential::p_value(raw.statistic, r);
        Effect {
            test: raw.test,
            difference: raw.difference,
            relative: raw.relative.into(),
            statistic: raw.statistic,
            information_fraction,
            always_valid: Inference {
                p_value: always_valid_p,
                p_value_holm: always_valid_p,
                difference_interval: raw.difference_scale.interval(always),
                relative_interval: relative(always),
            },
            fixed_horizon: Inference {
                p_value: raw.p_value,
                p_value_holm: raw.p_value,
                difference_interval: raw
                    .difference_scale
                    .interval(raw.fixed_difference_multiplier),
                relative_interval: relative(z),
            },
        }
    }

    /// The power plan, and the always-valid sample size the mixture is tuned to.
    fn power(&self, goal: &Goal, m: &Measured, arm: usize) -> (Power, Option<SampleSize>) {
        let Some(minimum) = goal.minimum_effect else {
            return (Power::NoMinimumEffect, None);
        };
        let unplannable =
            |r: NotEnoughData| (Power::Unplannable(Unplannable::NotEnoughData(r)), None);
        let baseline: Baseline = match m.baseline {
            Ok(b) => b,
            Err(r) => return unplannable(r),
        };
        let effect = match minimum.absolute(baseline.level()) {
            Ok(d) => d * goal.direction.sign(),
            Err(r) => return unplannable(r),
        };
        let s = &self.e.settings;
        let (share_c, share_a) = (self.share(self.valid.control), self.share(arm));
        let k = if share_c > 0.0 && share_a > 0.0 {
            share_c / share_a
        } else {
            1.0
        };
        let fixed_critical = dist::normal_isf(self.planning_alpha / 2.0);
        let sizes = baseline
            .sample_size(effect, k, self.mixture.critical_at_plan(), s.power)
            .and_then(|av| {
                Ok((
                    av,
                    baseline.sample_size(effect, k, fixed_critical, s.power)?,
                ))
            });
        let (av, fx) = match sizes {
            Ok(sizes) => sizes,
            Err(u) => return (Power::Unplannable(u), None),
        };
        let traffic = Traffic {
            exposures_per_day: s.exposures_per_day,
            control_share: share_c,
            arm_share: share_a,
        };
        let planned = Planned {
            minimum_effect: effect.abs(),
            baseline: baseline.level(),
            always_valid: Plan::new(av, m.users, traffic),
            fixed_horizon: Plan::new(fx, m.users, traffic),
        };
        (Power::Planned(planned), Some(av))
    }

    fn summaries(&self) -> Vec<ArmSummary> {
        let alpha = self.e.settings.alpha;
        let summary = |(i, arm): (usize, &Arm)| ArmSummary {
            arm: arm.name.clone(),
            control: i == self.valid.control,
            configured_share: self.share(i),
            exposed: arm.exposed,
            goals: self
                .e
                .goals
                .iter()
                .zip(&self.valid.goals)
                .map(|(goal, metrics)| ArmGoal {
                    goal: goal.name.clone(),
                    metric: arm_metric(metrics, i, alpha),
                })
                .collect(),
        };
        self.e.arms.iter().enumerate().map(summary).collect()
    }

    fn decision(&self, comparisons: &[Comparison]) -> Decision {
        let exposures: Vec<ArmExposure<'_>> = self
            .e
            .arms
            .iter()
            .map(|a| ArmExposure {
                arm: &a.name,
                share: a.share,
                exposed: a.exposed,
            })
            .collect();
        let srm = match srm::check(&exposures) {
            Err(srm) => {
                return Decision::Withheld {
                    srm,
                    likely_causes: Vec::new(),
                }
            }
            Ok(srm) => srm,
        };
        let s = &self.e.settings;
        let verdicts: Vec<ComparisonVerdict> = comparisons
            .iter()
            .map(|c| ComparisonVerdict {
                arm: c.arm.clone(),
                goal: c.goal.clone(),
                verdict: verdict::decide(&Facts {
                    mode: s.mode,
                    alpha: s.alpha,
                    direction: c.direction,
                    srm_checked: matches!(srm, SrmOk::Passed(_) | SrmOk::SingleArm),
                    effect: &c.effect,
                    power: &c.power,
                }),
            })
            .collect();
        Decision::Judged {
            arms: self.arm_verdicts(&verdicts),
            srm,
            verdicts,
        }
    }

    /// Each arm's primary-goal verdict and the goals it loses on.
    fn arm_verdicts(&self, verdicts: &[ComparisonVerdict]) -> Vec<ArmVerdict> {
        let Some(primary) = self.valid.primary.and_then(|p| self.e.goals.get(p)) else {
            return Vec::new();
        };
        verdicts
            .iter()
            .filter(|v| v.goal == primary.name)
            .map(|v| ArmVerdict {
                arm: v.arm.clone(),
                primary_goal: primary.name.clone(),
                verdict: v.verdict.clone(),
                losing_goals: verdicts
                    .iter()
                    .filter(|o| o.arm == v.arm && o.goal != primary.name)
                    .filter(|o| o.verdict == Verdict::Loser)
                    .map(|o| o.goal.clone())
                    .collect(),
            })
            .collect()
    }
}

/// Holm across every comparison, separately for the always-valid and the fixed-horizon p-values.
/// A comparison without data counts as p = 1: it stays in the family, so the family does not
/// shrink (and the correction does not loosen) while data is missing.
fn apply_holm(comparisons: &mut [Comparison]) {
    for always_valid in [true, false] {
        let p: Vec<f64> = comparisons
            .iter()
            .map(|c| match &c.effect {
                Estimate::Measured(e) if always_valid => e.always_valid.p_value,
                Estimate::Measured(e) => e.fixed_horizon.p_value,
                Estimate::NotEnoughData(_) => 1.0,
            })
            .collect();
        for (c, adjusted) in comparisons.iter_mut().zip(holm::adjust(&p)) {
            if let Estimate::Measured(e) = &mut c.effect {
                let inference = if always_valid {
                    &mut e.always_valid
                } else {
                    &mut e.fixed_horizon
                };
                inference.p_value_holm = adjusted;
            }
        }
    }
}

fn arm_metric(metrics: &GoalMetrics, arm: usize, alpha: f64) -> ArmMetric {
    match metrics {
        GoalMetrics::Rates(r) => {
            let c: Counts = r[arm];
            let rate = proportion::wilson(c, alpha).and_then(|wilson_interval| {
                c.rate()
                    .map(|rate| RateSummary {
                        rate,
                        wilson_interval,
                    })
                    .ok_or(NotEnoughData::NoExposures)
            });
            ArmMetric::Rate {
                converted: c.converted,
                rate: rate.into(),
            }
        }
        GoalMetrics::Values(v) => {
            let v: &ValueStats = &v[arm];
            let mean = v.interval(alpha).and_then(|t_interval| {
                v.variance().map(|var| MeanSummary {
                    mean: v.mean,
                    standard_deviation: var.sqrt(),
                    t_interval,
                })
            });
            ArmMetric::Value {
                users: v.n,
                mean: mean.into(),
            }
        }
    }
}
