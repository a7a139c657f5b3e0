//! How the report's numbers read, the same in the table and the HTML.

use veer_stats::{Decision, Estimate, Interval, Verdict};

use crate::observe::report::events::Malformed;
use crate::observe::report::{Report, Traffic};

/// The traffic the power section plans days on, in a sentence: the rate and how it was
/// measured, or why it is unknown (then the power figures are users, not days).
pub fn traffic(t: &Traffic) -> String {
    match t {
        Traffic::Measured {
            exposures_per_day,
            how,
            ..
        } => format!(
            "traffic: {exposures_per_day:.0} users newly exposed per day ({how}); the days still \
             needed are at this rate"
        ),
        Traffic::Unknown { why } => {
            format!("traffic: unknown: {why}; the users still needed are given without days")
        }
    }
}

/// A p-value: 4 decimals, or scientific below 0.0001.
pub fn p(x: f64) -> String {
    if x < 1e-4 {
        format!("{x:.1e}")
    } else {
        format!("{x:.4}")
    }
}

/// A share in percent with one decimal (`0.1234` -> `12.3 %`).
pub fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

/// A signed change in percent (`+12.3 %`).
pub fn signed_pct(x: f64) -> String {
    format!("{:+.1} %", 100.0 * x)
}

/// A rate with its interval: `10.0 % (8.3 to 12.0)`.
pub fn rate(x: f64, i: Interval) -> String {
    format!(
        "{} ({:.1} to {:.1})",
        pct(x),
        100.0 * i.lower,
        100.0 * i.upper
    )
}

/// A mean with its interval.
pub fn mean(x: f64, i: Interval) -> String {
    format!("{x:.2} ({:.2} to {:.2})", i.lower, i.upper)
}

/// Basis points as a percent (`5000` -> `50%`).
pub fn bp(x: u16) -> String {
    crate::config::edit::bp_to_percent(i64::from(x))
}

/// `a / b` with two decimals (`-` when b is 0).
pub fn ratio(a: u64, b: u64) -> String {
    match b {
        0 => "-".into(),
        _ => format!("{:.2}", a as f64 / b as f64),
    }
}

/// Microseconds as `1.2 ms` or `230 us`.
pub fn micros(us: Option<f64>) -> String {
    match us {
        Some(us) if us >= 1000.0 => format!("{:.1} ms", us / 1000.0),
        Some(us) => format!("{us:.0} us"),
        None => "-".into(),
    }
}

/// ` (lines 3, 4, 9)`, at most 10 listed; empty without any.
pub fn line_numbers(m: &[Malformed]) -> String {
    if m.is_empty() {
        return String::new();
    }
    let mut lines: Vec<String> = m.iter().take(10).map(|m| m.line.to_string()).collect();
    if m.len() > 10 {
        lines.push("...".into());
    }
    format!(" (lines {})", lines.join(", "))
}

/// One arm against the control on one goal, as text.
pub struct Compared {
    /// Difference with its interval, in points for rates.
    pub difference: String,
    /// Relative difference with its interval.
    pub relative: String,
    /// Holm-adjusted p-value of the deciding numbers.
    pub p: String,
    /// Bayesian chance to beat the control.
    pub chance: String,
}

impl Compared {
    /// The comparison of `arm` with the control on `goal` in `r`.
    pub fn of(r: &Report, arm: &str, goal: &str) -> Compared {
        let none = || Compared {
            difference: "-".into(),
            relative: "-".into(),
            p: "-".into(),
            chance: "-".into(),
        };
        let Some(c) = r
            .analysis
            .comparisons
            .iter()
            .find(|c| c.arm == arm && c.goal == goal)
        else {
            return none();
        };
        let chance = c
            .bayesian
            .measured()
            .map_or("-".into(), |b| pct(b.chance_to_beat_control));
        let Estimate::Measured(e) = &c.effect else {
            return Compared { chance, ..none() };
        };
        let inf = match r.analysis.settings.mode {
            veer_stats::Mode::AlwaysValid => &e.always_valid,
            veer_stats::Mode::FixedHorizon => &e.fixed_horizon,
        };
        let rate = matches!(e.test, veer_stats::compare::Test::TwoProportionZ);
        let d = |x: f64| match rate {
            true => format!("{:+.2} pp", 100.0 * x),
            false => format!("{x:+.2}"),
        };
        let relative = match (e.relative.measured(), inf.relative_interval.measured()) {
            (Some(x), Some(i)) => format!(
                "{} ({} to {})",
                signed_pct(*x),
                signed_pct(i.lower),
                signed_pct(i.upper)
            ),
            (Some(x), None) => signed_pct(*x),
            _ => "-".into(),
        };
        Compared {
            difference: format!(
                "{} ({} to {})",
                d(e.difference),
                d(inf.difference_interval.lower),
                d(inf.difference_interval.upper)
            ),
            relative,
            p: p(inf.p_value_holm),
            chance,
        }
    }
}

/// The verdict of `arm` on `goal`: `WINNER`, `LOSER`, `no detectable difference`,
/// `keep running: ...`, or `withheld` after a failed split check.
pub fn verdict(r: &Report, arm: &str, goal: &str) -> String {
    let Decision::Judged { verdicts, .. } = &r.analysis.decision else {
        return "withheld (split check failed)".into();
    };
    match verdicts.iter().find(|v| v.arm == arm && v.goal == goal) {
        Some(v) => match &v.verdict {
            Verdict::Winner => "WINNER".into(),
            Verdict::Loser => "LOSER".into(),
            Verdict::NoDetectableDifference => "no detectable difference".into(),
            Verdict::KeepRunning(k) => {
                format!("keep running: {}", crate::observe::report::keep_running(k))
            }
        },
        None => "-".into(),
    }
}
