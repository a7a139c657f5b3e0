//! Checks an [`Experiment`] once and turns each arm's goal data into the numbers the tests use, so
//! the analysis works on indices and values it knows are consistent.

use crate::error::InputError;
use crate::input::{Arm, Experiment, GoalData, Settings, ValueData};
use crate::means::ValueStats;
use crate::power::MinimumEffect;
use crate::proportion::Counts;
use std::collections::BTreeSet;

/// One arm's numbers for one goal.
#[derive(Debug, Clone, PartialEq)]
enum Metric {
    Rate(Counts),
    Value(ValueStats),
}

/// Every arm's numbers for one goal, indexed like the input's arms; one kind per goal by type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GoalMetrics {
    /// Conversions.
    Rates(Vec<Counts>),
    /// A value per exposed user.
    Values(Vec<ValueStats>),
}

/// A checked experiment: `goals[goal]`, in the input's order.
#[derive(Debug)]
pub(crate) struct Valid {
    pub control: usize,
    pub primary: Option<usize>,
    pub goals: Vec<GoalMetrics>,
}

/// Checks everything or names the first problem.
pub(crate) fn validate(e: &Experiment) -> Result<Valid, InputError> {
    settings(&e.settings)?;
    let control = arms(e)?;
    let primary = goals(e)?;
    let goals = e
        .goals
        .iter()
        .map(|g| goal_metrics(e, &g.name))
        .collect::<Result<_, _>>()?;
    for arm in &e.arms {
        if let Some(goal) = arm
            .goals
            .keys()
            .find(|k| !e.goals.iter().any(|g| &g.name == *k))
        {
            return Err(InputError::UnknownGoal {
                arm: arm.name.clone(),
                goal: goal.clone(),
            });
        }
    }
    Ok(Valid {
        control,
        primary,
        goals,
    })
}

fn settings(s: &Settings) -> Result<(), InputError> {
    for (field, value) in [("alpha", s.alpha), ("power", s.power)] {
        if !(value > 0.0 && value < 1.0) {
            return Err(InputError::NotAProbability { field, value });
        }
    }
    if let Some(rate) = s.exposures_per_day {
        if !(rate.is_finite() && rate >= 0.0) {
            return Err(InputError::BadExposureRate(rate));
        }
    }
    match s.planned_users_per_arm {
        Some(n) if n < 2 => Err(InputError::BadPlannedUsers(n)),
        _ => Ok(()),
    }
}

/// The control's index, after checking names and shares.
fn arms(e: &Experiment) -> Result<usize, InputError> {
    let mut seen = BTreeSet::new();
    for arm in &e.arms {
        if !seen.insert(arm.name.as_str()) {
            return Err(InputError::DuplicateArm(arm.name.clone()));
        }
        if !(arm.share.is_finite() && arm.share >= 0.0) {
            return Err(InputError::BadShare {
                arm: arm.name.clone(),
                value: arm.share,
            });
        }
    }
    if e.arms.iter().all(|a| a.share == 0.0) && !e.arms.is_empty() {
        return Err(InputError::NoShares);
    }
    e.arms
        .iter()
        .position(|a| a.name == e.control)
        .ok_or_else(|| InputError::UnknownControl(e.control.clone()))
}

/// The primary goal's index (a lone goal is primary), after checking names and effects.
fn goals(e: &Experiment) -> Result<Option<usize>, InputError> {
    let mut seen = BTreeSet::new();
    let mut primary: Option<usize> = None;
    for (i, goal) in e.goals.iter().enumerate() {
        if !seen.insert(goal.name.as_str()) {
            return Err(InputError::DuplicateGoal(goal.name.clone()));
        }
        if let Some(effect) = goal.minimum_effect {
            let (MinimumEffect::Relative(value) | MinimumEffect::Absolute(value)) = effect;
            if !(value.is_finite() && value > 0.0) {
                return Err(InputError::BadMinimumEffect {
                    goal: goal.name.clone(),
                    value,
                });
            }
        }
        if goal.primary {
            if let Some(first) = primary {
                let first = e
                    .goals
                    .get(first)
                    .map(|g| g.name.clone())
                    .unwrap_or_default();
                return Err(InputError::TwoPrimaries(first, goal.name.clone()));
            }
            primary = Some(i);
        }
    }
    Ok(primary.or((e.goals.len() == 1).then_some(0)))
}

/// Every arm's numbers for `goal`, all of one kind.
fn goal_metrics(e: &Experiment, goal: &str) -> Result<GoalMetrics, InputError> {
    let mut metrics = Vec::with_capacity(e.arms.len());
    for arm in &e.arms {
        let data = arm.goals.get(goal).ok_or_else(|| InputError::MissingGoal {
            arm: arm.name.clone(),
            goal: goal.to_owned(),
        })?;
        metrics.push((arm, metric(arm, goal, data)?));
    }
    let first = metrics.first().map(|(arm, m)| (arm.name.clone(), kind(m)));
    if let Some((first_arm, expected)) = first {
        if let Some((arm, m)) = metrics.iter().find(|(_, m)| kind(m) != expected) {
            return Err(InputError::MixedKinds {
                goal: goal.to_owned(),
                first_arm,
                expected,
                arm: arm.name.clone(),
                found: kind(m),
            });
        }
    }
    let mut rates = Vec::new();
    let mut values = Vec::new();
    for (_, m) in metrics {
        match m {
            Metric::Rate(c) => rates.push(c),
            Metric::Value(v) => values.push(v),
        }
    }
    Ok(if values.is_empty() {
        GoalMetrics::Rates(rates)
    } else {
        GoalMetrics::Values(values)
    })
}

fn kind(m: &Metric) -> &'static str {
    match m {
        Metric::Rate(_) => "conversions",
        Metric::Value(_) => "values",
    }
}

fn metric(arm: &Arm, goal: &str, data: &GoalData) -> Result<Metric, InputError> {
    let over = |count: u64| InputError::MoreThanExposed {
        arm: arm.name.clone(),
        goal: goal.to_owned(),
        count,
        exposed: arm.exposed,
    };
    let not_finite = |what: String, value: f64| InputError::NotFinite {
        arm: arm.name.clone(),
        goal: goal.to_owned(),
        what,
        value,
    };
    match data {
        GoalData::Converted(c) if *c > arm.exposed => Err(over(*c)),
        GoalData::Converted(c) => Ok(Metric::Rate(Counts {
            converted: *c,
            exposed: arm.exposed,
        })),
        GoalData::Values(ValueData::PerUser(values)) => {
            let n = values.len() as u64;
            if n > arm.exposed {
                return Err(over(n));
            }
            if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(not_finite(format!("value #{i}"), *v));
            }
            Ok(Metric::Value(ValueStats::from_values(
                values,
                arm.exposed - n,
            )))
        }
        GoalData::Values(ValueData::Sums {
            n,
            sum,
            sum_of_squares,
        }) => {
            if *n > arm.exposed {
                return Err(over(*n));
            }
            for (what, v) in [("sum", *sum), ("sum_of_squares", *sum_of_squares)] {
                if !v.is_finite() {
                    return Err(not_finite(what.to_owned(), v));
                }
            }
            sums_possible(arm, goal, *n, *sum, *sum_of_squares)?;
            let stats = ValueStats::from_sums(*n, *sum, *sum_of_squares, arm.exposed - n);
            Ok(Metric::Value(stats))
        }
    }
}

/// Σx² ≥ (Σx)²/n for any real data (Cauchy–Schwarz), up to rounding in the source's sums.
fn sums_possible(
    arm: &Arm,
    goal: &str,
    n: u64,
    sum: f64,
    sum_of_squares: f64,
) -> Result<(), InputError> {
    let floor = if n == 0 { 0.0 } else { sum * sum / n as f64 };
    let impossible = if n == 0 {
        sum != 0.0 || sum_of_squares != 0.0
    } else {
        sum_of_squares < floor - 1e-9 * floor.max(1.0)
    };
    if impossible {
        return Err(InputError::ImpossibleSums {
            arm: arm.name.clone(),
            goal: goal.to_owned(),
            sum_of_squares,
            floor,
        });
    }
    Ok(())
}
