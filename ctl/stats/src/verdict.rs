//! The plain verdict per (arm, goal), from explicit rules.
//!
//! A failed sample-ratio check withholds every verdict (the type [`crate::Decision`] has no place
//! for them then). Otherwise, with "the test" meaning the always-valid numbers by default or the
//! fixed-horizon ones in [`crate::Mode::FixedHorizon`], and "significant" meaning the test's
//! Holm-adjusted p-value is below alpha:
//!
//! 1. The comparison lacks data (no users, no variance...) → keep running (not enough data).
//! 2. Too few users to check the split yet → keep running (SRM not checked yet).
//! 3. Fixed horizon only: a minimum effect is stated and the planned sample is not reached →
//!    keep running, significant or not: a fixed-horizon p-value read early is not valid.
//! 4. Significant → winner when the difference goes the goal's better way, loser otherwise.
//! 5. Not significant, a minimum effect is stated and both arms have the planned users →
//!    no detectable difference (an effect of that size would have been found with the stated
//!    power; a smaller one may still exist).
//! 6. Otherwise → keep running, with the users and days still needed, or a note that without a
//!    minimum effect the experiment can only end on a significant result.
//!
//! In always-valid mode rules 4 and 5 may fire at any look; stopping there keeps the false-positive
//! rate at alpha. In fixed-horizon mode without a minimum effect, rule 4 fires at any look too, and
//! the reader is responsible for looking only once.

use crate::estimate::{Estimate, NotEnoughData};
use crate::input::{Direction, Mode};
use crate::power::{Plan, Unplannable};
use crate::report::{Effect, Power};
use serde::Serialize;

/// The verdict of one comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", content = "because", rename_all = "snake_case")]
pub enum Verdict {
    /// Significantly better than the control.
    Winner,
    /// Significantly worse than the control.
    Loser,
    /// The planned sample for the minimum effect is reached and the difference is not significant.
    NoDetectableDifference,
    /// No conclusion yet.
    KeepRunning(KeepRunning),
}

/// Why no conclusion yet.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepRunning {
    /// The comparison cannot be computed yet.
    NotEnoughData(NotEnoughData),
    /// Too few users to check the split; verdicts wait for it.
    SrmNotCheckedYet,
    /// Fixed horizon: the planned sample is not reached, so the p-value is not read yet.
    PlannedSampleNotReached(Plan),
    /// Not significant; the plan says how many users and days remain.
    NotSignificantYet(Plan),
    /// Not significant, and with no minimum effect stated "no detectable difference" is never
    /// concluded: state one to get a planned end.
    NoMinimumEffect,
    /// Not significant, and the stated minimum effect cannot be planned from this data.
    Unplannable(Unplannable),
}

/// What the rules look at for one comparison.
pub(crate) struct Facts<'a> {
    pub mode: Mode,
    pub alpha: f64,
    pub direction: Direction,
    pub srm_checked: bool,
    pub effect: &'a Estimate<Effect>,
    pub power: &'a Power,
}

/// Applies the rules in the module documentation, in order.
pub(crate) fn decide(f: &Facts<'_>) -> Verdict {
    let effect = match f.effect {
        Estimate::Measured(e) => e,
        Estimate::NotEnoughData(reason) => {
            return Verdict::KeepRunning(KeepRunning::NotEnoughData(*reason))
        }
    };
    if !f.srm_checked {
        return Verdict::KeepRunning(KeepRunning::SrmNotCheckedYet);
    }
    let always_valid = f.mode == Mode::AlwaysValid;
    let plan = f.power.plan(always_valid);
    if let Some(plan) = plan.filter(|p| !always_valid && !p.reached()) {
        return Verdict::KeepRunning(KeepRunning::PlannedSampleNotReached(*plan));
    }
    let inference = if always_valid {
        &effect.always_valid
    } else {
        &effect.fixed_horizon
    };
    if inference.p_value_holm < f.alpha {
        return if effect.difference * f.direction.sign() > 0.0 {
            Verdict::Winner
        } else {
            Verdict::Loser
        };
    }
    match f.power {
        Power::Planned(_) => match plan {
            Some(p) if !p.reached() => Verdict::KeepRunning(KeepRunning::NotSignificantYet(*p)),
            _ => Verdict::NoDetectableDifference,
        },
        Power::NoMinimumEffect => Verdict::KeepRunning(KeepRunning::NoMinimumEffect),
        Power::Unplannable(u) => Verdict::KeepRunning(KeepRunning::Unplannable(*u)),
    }
}
