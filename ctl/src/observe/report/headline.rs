//! The verdict in words: one sentence for the top of the report, and per non-control arm its
//! primary goal's verdict with the lift and its interval, and why there is no conclusion yet.

use serde::Serialize;
use veer_stats::{Analysis, Decision, Interval, KeepRunning, Verdict};

/// The verdict in words, per non-control arm.
#[derive(Debug, Clone, Serialize)]
pub struct Headline {
    /// One sentence for the top of the report.
    pub text: String,
    /// Per non-control arm: its primary goal's verdict.
    pub arms: Vec<ArmHeadline>,
}

/// One arm's verdict on the primary goal.
#[derive(Debug, Clone, Serialize)]
pub struct ArmHeadline {
    /// Arm name.
    pub arm: String,
    /// The primary goal.
    pub goal: String,
    /// `winner`, `loser`, `no_detectable_difference`, `keep_running` or `withheld`.
    pub verdict: &'static str,
    /// Why no conclusion yet, for `keep_running`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub because: Option<String>,
    /// Relative difference against the control.
    pub lift: Option<f64>,
    /// Its interval (always-valid unless fixed-horizon was asked for).
    pub lift_interval: Option<Interval>,
}

/// The headline of `analysis`.
pub(super) fn headline(analysis: &Analysis, control: &str, fixed: bool) -> Headline {
    let lift_of = |arm: &str, goal: &str| {
        let c = analysis
            .comparisons
            .iter()
            .find(|c| c.arm == arm && c.goal == goal)?;
        let e = c.effect.measured()?;
        let inference = if fixed {
            &e.fixed_horizon
        } else {
            &e.always_valid
        };
        Some((
            e.relative.measured().copied(),
            inference.relative_interval.measured().copied(),
        ))
    };
    let (srm_failed, verdicts) = match &analysis.decision {
        Decision::Withheld { srm, .. } => (Some(srm.test().p_value()), Vec::new()),
        Decision::Judged { arms, .. } => (None, arms.clone()),
    };
    let arms: Vec<ArmHeadline> = verdicts
        .iter()
        .map(|v| {
            let (lift, lift_interval) = lift_of(&v.arm, &v.primary_goal).unwrap_or((None, None));
            let (verdict, because) = match &v.verdict {
                Verdict::Winner => ("winner", None),
                Verdict::Loser => ("loser", None),
                Verdict::NoDetectableDifference => ("no_detectable_difference", None),
                Verdict::KeepRunning(k) => ("keep_running", Some(keep_running(k))),
            };
            ArmHeadline {
                arm: v.arm.clone(),
                goal: v.primary_goal.clone(),
                verdict,
                because,
                lift,
                lift_interval,
            }
        })
        .collect();
    let text = match srm_failed {
        Some(p) => format!(
            "NO VERDICT: users did not reach the arms as configured (sample-ratio mismatch, \
             p = {p:.2e}); every comparison below is suspect until the cause is fixed"
        ),
        None => sentence(&arms, control),
    };
    Headline { text, arms }
}

fn sentence(arms: &[ArmHeadline], control: &str) -> String {
    let pct = |x: Option<f64>| x.map_or("?".to_owned(), |x| format!("{:+.1} %", 100.0 * x));
    let lift = |a: &ArmHeadline| match a.lift_interval {
        Some(i) => format!(
            "{} (interval {} to {})",
            pct(a.lift),
            pct(Some(i.lower)),
            pct(Some(i.upper))
        ),
        None => pct(a.lift),
    };
    let mut winners: Vec<&ArmHeadline> = arms.iter().filter(|a| a.verdict == "winner").collect();
    winners.sort_by(|a, b| b.lift.unwrap_or(0.0).total_cmp(&a.lift.unwrap_or(0.0)));
    if let Some(best) = winners.first() {
        return format!(
            "WINNER: {} beats {control} on {}: {}",
            best.arm,
            best.goal,
            lift(best)
        );
    }
    if arms.is_empty() {
        return "NO VERDICT: the experiment has no primary goal to judge its arms on".to_owned();
    }
    let parts: Vec<String> = arms
        .iter()
        .map(|a| match a.verdict {
            "loser" => format!("{} LOSES to {control} on {}: {}", a.arm, a.goal, lift(a)),
            "no_detectable_difference" => format!(
                "{}: no detectable difference from {control} on {} ({})",
                a.arm,
                a.goal,
                pct(a.lift)
            ),
            _ => format!(
                "{}: keep running, {}",
                a.arm,
                a.because.as_deref().unwrap_or("no conclusion yet")
            ),
        })
        .collect();
    format!("NO WINNER: {}", parts.join("; "))
}

/// Why an arm has no conclusion yet, in words.
pub fn keep_running(k: &KeepRunning) -> String {
    let days = |d: Option<f64>| d.map_or(String::new(), |d| format!(", about {d:.1} days"));
    match k {
        KeepRunning::NotEnoughData(r) => format!(
            "not enough data yet ({})",
            serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                .unwrap_or_default()
        ),
        KeepRunning::SrmNotCheckedYet => "too few users to check the split yet".to_owned(),
        KeepRunning::PlannedSampleNotReached(p) | KeepRunning::NotSignificantYet(p) => format!(
            "{} more users in the arm and {} in the control{}",
            p.still_needed_arm,
            p.still_needed_control,
            days(p.days_remaining)
        ),
        KeepRunning::NoMinimumEffect => {
            "not significant yet (give --min-lift for a planned end)".to_owned()
        }
        KeepRunning::Unplannable(_) => {
            "not significant, and the minimum lift cannot be planned from this data".to_owned()
        }
    }
}
