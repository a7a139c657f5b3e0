//! The report as one self-contained HTML file: inline CSS and SVG, no script, nothing fetched.
//! The page is an askama template (`ctl/templates/report.html`, checked when veerctl is built,
//! HTML-escaped by default); the numbers a reader compares with `-o json` carry them exactly in
//! `data-field`/`data-value` attributes.

use askama::Template;
use veer_stats::srm::SrmOk;
use veer_stats::{ArmMetric, Decision, Estimate};

use super::charts::{self, Row};
use super::fmt::{self, Compared};
use crate::error::{CliError, Result};
use crate::observe::report::{ArmCounts, Report};

#[derive(Template)]
#[template(path = "report.html")]
struct Page<'a> {
    r: &'a Report,
    title: String,
    generated: String,
    headline_class: &'static str,
    srm: Srm,
    arms: Vec<ArmRow<'a>>,
    /// Arms share a variant: each has its own 5xx and latency columns.
    shared: bool,
    goals: Vec<GoalView>,
    lift_svg: Option<String>,
    history_svg: Option<String>,
    event_lines: String,
    traffic: String,
    mode: &'static str,
}

struct Srm {
    class: &'static str,
    state: &'static str,
    title: &'static str,
    text: String,
    p: Option<f64>,
    causes: Vec<String>,
}

struct ArmRow<'a> {
    arm: &'a ArmCounts,
    share: String,
    per_user: String,
    p50: String,
    p99: String,
}

struct GoalView {
    name: String,
    primary: bool,
    rows: Vec<GoalRow>,
    chart: String,
}

struct GoalRow {
    arm: String,
    users: String,
    converted: Option<u64>,
    value: Option<f64>,
    value_text: String,
    compared: Compared,
    relative: Option<f64>,
    p_value_holm: Option<f64>,
    chance: Option<f64>,
    verdict: String,
    verdict_code: String,
    verdict_class: &'static str,
}

/// Renders `r` as one HTML document.
pub fn html(r: &Report) -> Result<String> {
    let fail = |e: String| CliError::failed(format!("failed to draw the HTML report: {e}"));
    let goals = r
        .analysis
        .arms
        .first()
        .map_or(&[][..], |a| &a.goals)
        .iter()
        .map(|g| goal_view(r, &g.goal))
        .collect::<std::result::Result<Vec<_>, String>>()
        .map_err(fail)?;
    let page = Page {
        title: format!("Experiment {}/{}", r.service, r.experiment),
        generated: humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs_f64(r.generated_at.max(0.0)),
        )
        .to_string(),
        headline_class: headline_class(r),
        srm: srm(r),
        arms: r
            .arms
            .iter()
            .map(|a| ArmRow {
                arm: a,
                share: fmt::bp(a.share_bp),
                per_user: fmt::ratio(a.exposure_requests, a.exposed_users),
                p50: fmt::micros(a.responses.as_ref().and_then(|r| r.latency).map(|l| l.p50_us)),
                p99: fmt::micros(a.responses.as_ref().and_then(|r| r.latency).map(|l| l.p99_us)),
            })
            .collect(),
        shared: r.arms.iter().any(|a| a.responses.is_some()),
        goals,
        lift_svg: lift_chart(r).map_err(fail)?,
        history_svg: match r.history.is_empty() {
            true => None,
            false => Some(charts::lift_over_time(&r.history).map_err(fail)?),
        },
        event_lines: r
            .events
            .as_ref()
            .map_or(String::new(), |e| fmt::line_numbers(&e.malformed)),
        traffic: fmt::traffic(&r.source.traffic),
        mode: match r.analysis.settings.mode {
            veer_stats::Mode::AlwaysValid => {
                "Intervals and p-values are always valid: safe to look at any time"
            }
            veer_stats::Mode::FixedHorizon => {
                "Intervals and p-values are fixed-horizon: valid when read once, at the planned sample"
            }
        },
        r,
    };
    page.render()
        .map_err(|e| CliError::failed(format!("failed to render the HTML report: {e}")))
}

fn headline_class(r: &Report) -> &'static str {
    if matches!(r.analysis.decision, Decision::Withheld { .. }) {
        "bad"
    } else if r.headline.arms.iter().any(|a| a.verdict == "winner") {
        "good"
    } else if r.headline.arms.iter().any(|a| a.verdict == "loser") {
        "bad"
    } else {
        "wait"
    }
}

fn srm(r: &Report) -> Srm {
    match &r.analysis.decision {
        Decision::Withheld { srm, likely_causes } => Srm {
            class: "failed",
            state: "failed",
            title: "FAILED:",
            text: format!(
                "exposed users do not follow the configured shares (chi-square p = {}); every verdict is withheld. Likely causes:",
                fmt::p(srm.test().p_value())
            ),
            p: Some(srm.test().p_value()),
            causes: likely_causes.clone(),
        },
        Decision::Judged { srm, .. } => match srm {
            SrmOk::Passed(t) => Srm {
                class: "passed",
                state: "passed",
                title: "Passed:",
                text: format!(
                    "exposed users follow the configured shares (chi-square p = {}).",
                    fmt::p(t.test().p_value())
                ),
                p: Some(t.test().p_value()),
                causes: Vec::new(),
            },
            SrmOk::TooFewUsers { exposed, needed } => Srm {
                class: "pending",
                state: "too_few_users",
                title: "Not yet:",
                text: format!("{exposed} users so far; the check needs {needed}. Verdicts wait for it."),
                p: None,
                causes: Vec::new(),
            },
            SrmOk::SingleArm => Srm {
                class: "pending",
                state: "single_arm",
                title: "One arm:",
                text: "nothing to check.".to_owned(),
                p: None,
                causes: Vec::new(),
            },
        },
    }
}

fn goal_view(r: &Report, goal: &str) -> std::result::Result<GoalView, String> {
    let mut rows = Vec::new();
    let mut bars = Vec::new();
    for a in &r.analysis.arms {
        let Some(g) = a.goals.iter().find(|g| g.goal == goal) else {
            continue;
        };
        let (users, converted, value, interval) = match &g.metric {
            ArmMetric::Rate { converted, rate } => (
                format!("{converted} of {}", a.exposed),
                Some(*converted),
                rate.measured().map(|x| x.rate),
                rate.measured().map(|x| x.wilson_interval),
            ),
            ArmMetric::Value { users, mean } => (
                users.to_string(),
                None,
                mean.measured().map(|x| x.mean),
                mean.measured().map(|x| x.t_interval),
            ),
        };
        let rate = matches!(g.metric, ArmMetric::Rate { .. });
        let value_text = match (value, interval) {
            (Some(x), Some(i)) if rate => fmt::rate(x, i),
            (Some(x), Some(i)) => fmt::mean(x, i),
            _ => "-".into(),
        };
        if let (Some(x), Some(i)) = (value, interval) {
            let scale = if rate { 1.0 } else { 0.01 };
            bars.push(Row {
                label: a.arm.clone(),
                value: x * scale,
                lower: i.lower * scale,
                upper: i.upper * scale,
            });
        }
        let comparison = r
            .analysis
            .comparisons
            .iter()
            .find(|c| c.arm == a.arm && c.goal == goal);
        let effect = comparison.and_then(|c| c.effect.measured());
        let inference = effect.map(|e| match r.analysis.settings.mode {
            veer_stats::Mode::AlwaysValid => &e.always_valid,
            veer_stats::Mode::FixedHorizon => &e.fixed_horizon,
        });
        let (verdict, verdict_code) = verdict_of(r, &a.arm, goal, a.control);
        rows.push(GoalRow {
            arm: a.arm.clone(),
            users,
            converted,
            value,
            value_text,
            compared: match a.control {
                true => Compared {
                    difference: String::new(),
                    relative: String::new(),
                    p: String::new(),
                    chance: String::new(),
                },
                false => Compared::of(r, &a.arm, goal),
            },
            relative: effect.and_then(|e| e.relative.measured().copied()),
            p_value_holm: inference.map(|i| i.p_value_holm),
            chance: comparison
                .and_then(|c| c.bayesian.measured())
                .map(|b| b.chance_to_beat_control),
            verdict_class: match verdict_code.as_str() {
                "winner" => "winner",
                "loser" => "loser",
                _ => "",
            },
            verdict,
            verdict_code,
        });
    }
    let label = match r
        .analysis
        .arms
        .first()
        .and_then(|a| a.goals.iter().find(|g| g.goal == goal))
    {
        Some(g) if matches!(g.metric, ArmMetric::Value { .. }) => "mean per user",
        _ => "rate, %",
    };
    Ok(GoalView {
        name: goal.to_owned(),
        primary: r.primary_goal.as_deref() == Some(goal),
        chart: match bars.is_empty() {
            true => String::new(),
            false => charts::intervals(&bars, label, false)?,
        },
        rows,
    })
}

/// The verdict's words and code (`winner`, `loser`, `no_detectable_difference`,
/// `keep_running`, `withheld`, `control`).
fn verdict_of(r: &Report, arm: &str, goal: &str, control: bool) -> (String, String) {
    if control {
        return ("control".into(), "control".into());
    }
    let code = match &r.analysis.decision {
        Decision::Withheld { .. } => "withheld".to_owned(),
        Decision::Judged { verdicts, .. } => verdicts
            .iter()
            .find(|v| v.arm == arm && v.goal == goal)
            .and_then(|v| serde_json::to_value(&v.verdict).ok())
            .and_then(|v| v["verdict"].as_str().map(str::to_owned))
            .unwrap_or_default(),
    };
    (fmt::verdict(r, arm, goal), code)
}

/// Each arm's lift against the control on the primary goal, with its interval.
fn lift_chart(r: &Report) -> std::result::Result<Option<String>, String> {
    let Some(goal) = r.primary_goal.as_deref() else {
        return Ok(None);
    };
    let rows: Vec<Row> = r
        .analysis
        .comparisons
        .iter()
        .filter(|c| c.goal == goal)
        .filter_map(|c| {
            let e = c.effect.measured()?;
            let inference = match r.analysis.settings.mode {
                veer_stats::Mode::AlwaysValid => &e.always_valid,
                veer_stats::Mode::FixedHorizon => &e.fixed_horizon,
            };
            let i = match &inference.relative_interval {
                Estimate::Measured(i) => *i,
                Estimate::NotEnoughData(_) => return None,
            };
            Some(Row {
                label: c.arm.clone(),
                value: *e.relative.measured()?,
                lower: i.lower,
                upper: i.upper,
            })
        })
        .collect();
    match rows.is_empty() {
        true => Ok(None),
        false => charts::intervals(&rows, "lift against the control, %", true).map(Some),
    }
}
