//! Power: how many users each arm needs to detect the stated minimum effect, how many are still
//! missing, and at the current exposure rate how many days that takes.
//!
//! Rates: the normal-approximation sample size with the null variance pooled and the alternative
//! variance unpooled (Fleiss, Levin & Paik, "Statistical Methods for Rates and Proportions", 3rd
//! ed. 2003, ch. 4; statsmodels' `samplesize_proportions_2indep_onetail`):
//!
//! ```text
//! n_arm = ((c · σ₀ + z_power · σ₁) / δ)²,  n_control = k · n_arm
//! σ₀² = p̄(1 − p̄)(1 + 1/k),  σ₁² = p_arm(1 − p_arm) + p_control(1 − p_control)/k
//! ```
//!
//! with k = n_control / n_arm from the configured shares, p̄ the share-weighted mean rate and
//! p_arm = p_control ± δ (the goal's better direction). Means: the same with σ₀ = σ₁ =
//! σ·√(1 + 1/k), σ the control arm's standard deviation. The baseline (control rate, control
//! standard deviation) is the one observed so far, so the plan moves a little as data arrives.
//!
//! c is the critical value of the test that decides: z_{1−α/2} for the fixed-horizon test, and
//! for the always-valid test the mixture's critical value at the planned sample
//! ([`crate::sequential::Mixture::critical_at_plan`], ≈ 3.0 at α = 0.05), because the mixture is
//! tuned to that very sample. The far tail of the two-sided test is ignored (it adds < α/2 power).

use crate::dist;
use crate::estimate::NotEnoughData;
use serde::{Deserialize, Serialize};

/// The smallest effect worth detecting, per goal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MinimumEffect {
    /// A fraction of the control's rate or mean (0.05 = a 5 % lift).
    Relative(f64),
    /// In the metric's own units (0.01 = one percentage point for a rate).
    Absolute(f64),
}

impl MinimumEffect {
    /// The absolute effect at `baseline` (the control's rate or mean).
    pub fn absolute(&self, baseline: f64) -> Result<f64, NotEnoughData> {
        match *self {
            MinimumEffect::Absolute(d) => Ok(d),
            MinimumEffect::Relative(_) if baseline == 0.0 => Err(NotEnoughData::ControlIsZero),
            MinimumEffect::Relative(f) => Ok(f * baseline.abs()),
        }
    }
}

/// Users per arm a test needs (not rounded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleSize {
    /// Control arm.
    pub control: f64,
    /// The compared arm.
    pub arm: f64,
}

/// Why no sample size exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unplannable {
    /// The data does not give a baseline.
    NotEnoughData(NotEnoughData),
    /// The effect would take the arm's rate outside [0, 1].
    EffectOutOfRange,
}

/// Sample size for rates: `control_rate` observed, `effect` the absolute change in the better
/// direction (signed), `control_per_arm` = k, `critical` = c, `power` in (0, 1).
pub fn rates(
    control_rate: f64,
    effect: f64,
    control_per_arm: f64,
    critical: f64,
    power: f64,
) -> Result<SampleSize, Unplannable> {
    let pc = control_rate;
    let pa = pc + effect;
    if !(0.0..=1.0).contains(&pa) || effect == 0.0 {
        return Err(Unplannable::EffectOutOfRange);
    }
    let k = control_per_arm;
    let pooled = (pa + k * pc) / (1.0 + k);
    let sd_null = (pooled * (1.0 - pooled) * (1.0 + 1.0 / k)).sqrt();
    let sd_alt = (pa * (1.0 - pa) + pc * (1.0 - pc) / k).sqrt();
    Ok(size(effect, sd_null, sd_alt, k, critical, power))
}

/// Sample size for means: `sd` the per-user standard deviation (> 0), `effect` the absolute change.
pub fn means(
    sd: f64,
    effect: f64,
    control_per_arm: f64,
    critical: f64,
    power: f64,
) -> Result<SampleSize, Unplannable> {
    if effect == 0.0 {
        return Err(Unplannable::EffectOutOfRange);
    }
    let k = control_per_arm;
    let sd_diff = sd * (1.0 + 1.0 / k).sqrt();
    Ok(size(effect, sd_diff, sd_diff, k, critical, power))
}

fn size(effect: f64, sd_null: f64, sd_alt: f64, k: f64, critical: f64, power: f64) -> SampleSize {
    let z_power = dist::normal_isf(1.0 - power);
    let arm = ((critical * sd_null + z_power * sd_alt).max(0.0) / effect).powi(2);
    SampleSize {
        control: k * arm,
        arm,
    }
}

/// A sample-size plan against the users exposed so far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Plan {
    /// Users the control needs in total.
    pub planned_control: u64,
    /// Users the arm needs in total.
    pub planned_arm: u64,
    /// Control users still missing (0 once reached).
    pub still_needed_control: u64,
    /// Arm users still missing (0 once reached).
    pub still_needed_arm: u64,
    /// Days until both arms have their users at the stated exposure rate; absent without a rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_remaining: Option<f64>,
}

/// The experiment's exposure rate and how it splits between the control and the arm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Traffic {
    /// Users exposed per day across all arms.
    pub exposures_per_day: Option<f64>,
    /// The control's share of exposures (0..=1).
    pub control_share: f64,
    /// The arm's share of exposures (0..=1).
    pub arm_share: f64,
}

impl Plan {
    /// The plan for `size` given `exposed` = (control, arm) users so far.
    pub fn new(size: SampleSize, exposed: (u64, u64), traffic: Traffic) -> Plan {
        // `as` saturates: an effect too small to detect in any realistic time plans u64::MAX.
        let planned_control = size.control.ceil() as u64;
        let planned_arm = size.arm.ceil() as u64;
        let still_needed_control = planned_control.saturating_sub(exposed.0);
        let still_needed_arm = planned_arm.saturating_sub(exposed.1);
        let days = |needed: u64, share: f64| match traffic.exposures_per_day {
            _ if needed == 0 => Some(0.0),
            Some(rate) if rate > 0.0 && share > 0.0 => Some(needed as f64 / (rate * share)),
            _ => None,
        };
        let days_remaining = match (
            days(still_needed_control, traffic.control_share),
            days(still_needed_arm, traffic.arm_share),
        ) {
            (Some(a), Some(b)) => Some(a.max(b)).filter(|d| d.is_finite()),
            _ => None,
        };
        Plan {
            planned_control,
            planned_arm,
            still_needed_control,
            still_needed_arm,
            days_remaining,
        }
    }

    /// Both arms have the users the plan asks for.
    pub fn reached(&self) -> bool {
        self.still_needed_control == 0 && self.still_needed_arm == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_to_thirteen_percent_needs_the_textbook_count() {
        // 10 % → 13 %, α = 0.05 two-sided, 80 % power, equal arms: about 1,774 per arm.
        let n = rates(0.10, 0.03, 1.0, dist::normal_isf(0.025), 0.8).unwrap();
        assert!((n.arm - 1773.98).abs() < 0.01, "{n:?}");
        assert_eq!(n.arm, n.control);
    }

    #[test]
    fn an_effect_past_one_hundred_percent_cannot_be_planned() {
        assert_eq!(
            rates(0.95, 0.1, 1.0, 1.96, 0.8),
            Err(Unplannable::EffectOutOfRange)
        );
    }

    #[test]
    fn days_follow_the_slower_arm() {
        let size = SampleSize {
            control: 1000.0,
            arm: 1000.0,
        };
        let traffic = Traffic {
            exposures_per_day: Some(100.0),
            control_share: 0.8,
            arm_share: 0.2,
        };
        let plan = Plan::new(size, (200, 200), traffic);
        assert_eq!(plan.still_needed_arm, 800);
        assert_eq!(plan.days_remaining, Some(40.0));
        let reached = Plan::new(size, (1000, 1000), traffic);
        assert!(reached.reached());
        assert_eq!(reached.days_remaining, Some(0.0));
    }

    #[test]
    fn no_rate_no_days() {
        let size = SampleSize {
            control: 10.0,
            arm: 10.0,
        };
        let traffic = Traffic {
            exposures_per_day: None,
            control_share: 0.5,
            arm_share: 0.5,
        };
        assert_eq!(Plan::new(size, (1, 1), traffic).days_remaining, None);
    }
}
