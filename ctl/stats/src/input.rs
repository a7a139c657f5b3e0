//! What the analysis is given: arms with their configured shares and exposures, goals, and each
//! arm's data per goal. Serde types, so a caller can also load them from JSON.

use crate::bayes::BetaPrior;
use crate::power::MinimumEffect;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One experiment's data at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Name of the control arm (one of `arms`).
    pub control: String,
    /// Every arm, the control included.
    pub arms: Vec<Arm>,
    /// The goals the experiment is judged on.
    pub goals: Vec<Goal>,
    /// Levels and options; every field has a default.
    #[serde(default)]
    pub settings: Settings,
}

/// One arm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    /// Arm name.
    pub name: String,
    /// Configured share (weight; any non-negative scale, e.g. basis points). For the SRM check.
    pub share: f64,
    /// Users exposed to this arm (counted once per user).
    pub exposed: u64,
    /// The arm's data for every goal, by goal name.
    pub goals: BTreeMap<String, GoalData>,
}

/// A goal the experiment is judged on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    /// Goal name.
    pub name: String,
    /// The goal that decides each arm's overall verdict (at most one; a lone goal is primary).
    #[serde(default)]
    pub primary: bool,
    /// Whether a higher rate or mean is the better outcome.
    #[serde(default)]
    pub direction: Direction,
    /// Smallest effect worth detecting; enables the power plan and "no detectable difference".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_effect: Option<MinimumEffect>,
}

/// Which way is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// More conversions / a larger mean is better (purchases, revenue).
    #[default]
    HigherIsBetter,
    /// Less is better (errors, refunds, time to checkout).
    LowerIsBetter,
}

impl Direction {
    /// +1 or −1: the sign of an improvement.
    pub fn sign(self) -> f64 {
        match self {
            Direction::HigherIsBetter => 1.0,
            Direction::LowerIsBetter => -1.0,
        }
    }
}

/// One arm's data for one goal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalData {
    /// A conversion goal: exposed users who reached it (each counted once).
    Converted(u64),
    /// A value metric per exposed user (e.g. revenue). Exposed users beyond the values given count
    /// as 0 (a user who bought nothing spent 0).
    Values(ValueData),
}

/// A value metric's data: per-user values or their sufficient statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueData {
    /// One value per user (at most the arm's exposed users).
    PerUser(Vec<f64>),
    /// n users' Σx and Σx² (n at most the arm's exposed users).
    Sums {
        /// Users the sums cover.
        n: u64,
        /// Σx.
        sum: f64,
        /// Σx².
        sum_of_squares: f64,
    },
}

/// Which numbers decide the verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Always-valid p-values and intervals: safe to look at any time and stop on (the default).
    #[default]
    AlwaysValid,
    /// Classic fixed-horizon numbers: valid only when read once, at the planned sample.
    FixedHorizon,
}

/// Levels and options.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Significance level (family-wise, after Holm) and 1 − confidence of every interval.
    pub alpha: f64,
    /// Power the sample-size plan aims for.
    pub power: f64,
    /// Which numbers decide the verdicts; both sets are always computed.
    pub mode: Mode,
    /// Beta prior for the Bayesian numbers on rates.
    pub prior: BetaPrior,
    /// Users exposed per day across all arms, for "how many days".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposures_per_day: Option<f64>,
    /// Where the always-valid intervals are narrowest for a goal with no minimum effect (users per
    /// arm); a goal with one uses its own planned sample. Default 10,000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planned_users_per_arm: Option<u64>,
}

/// Where the always-valid intervals are narrowest when nothing says otherwise.
pub const DEFAULT_PLANNED_USERS_PER_ARM: u64 = 10_000;

impl Default for Settings {
    fn default() -> Self {
        Settings {
            alpha: 0.05,
            power: 0.8,
            mode: Mode::AlwaysValid,
            prior: BetaPrior::default(),
            exposures_per_day: None,
            planned_users_per_arm: None,
        }
    }
}
