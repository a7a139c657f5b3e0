//! What `canary run` and `canary status` show, rendered from data only: the live panel (steps
//! done and to come, the weights, each gate's value against its limit, in the spirit of
//! `kubectl argo rollouts get rollout -w`), the one plain line a passed step gets, and a recorded
//! run. Every mark has a word beside it, so the output reads the same without colour.

use std::collections::BTreeMap;

use crate::config::edit::bp_to_percent;
use crate::output::colour::{paint, Tone};
use crate::progressive::gates::{Reading, Verdict};
use crate::progressive::state::{Phase, RunState};

/// What the live panel shows.
#[derive(Debug, Clone, Copy)]
pub struct Panel<'a> {
    /// The run (its steps, where it is, what passed).
    pub run: &'a RunState,
    /// What the run is doing (`watching`, `waiting for traffic`, ...).
    pub activity: &'a str,
    /// The service's live default split (basis points).
    pub weights: &'a BTreeMap<String, i64>,
    /// The latest gate readings.
    pub readings: &'a [Reading],
}

/// The live panel.
pub fn panel(p: &Panel<'_>, colour: bool) -> String {
    let r = p.run;
    let mut out = format!(
        "{}: canary {}, stable {} · step {} · {}\n",
        r.service,
        r.variant,
        r.stable,
        r.position(),
        p.activity
    );
    out.push_str(&format!("  steps    {}\n", steps(r, colour)));
    let weights: Vec<String> = p
        .weights
        .iter()
        .map(|(v, bp)| format!("{v} {}", bp_to_percent(*bp)))
        .collect();
    out.push_str(&format!("  weights  {}\n", weights.join("  ")));
    out.push_str(&gates(p.readings, colour));
    out
}

/// The gates as rows: name, value, limit, verdict.
fn gates(readings: &[Reading], colour: bool) -> String {
    if readings.is_empty() {
        return "  gates    not read yet\n".to_owned();
    }
    let rows: Vec<[String; 3]> = readings
        .iter()
        .map(|g| {
            let value = g.value.map_or_else(|| "-".to_owned(), |v| g.unit.show(v));
            [g.gate.clone(), value, g.limit()]
        })
        .collect();
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let (w0, w1, w2) = (width(0), width(1), width(2));
    let mut out = String::new();
    for (i, (row, g)) in rows.iter().zip(readings).enumerate() {
        let label = if i == 0 { "gates" } else { "" };
        out.push_str(&format!(
            "  {label:<8} {:<w0$}  {:>w1$}  {:<w2$}  {}\n",
            row[0],
            row[1],
            row[2],
            verdict(g.verdict, colour)
        ));
    }
    out
}

/// `✔ pass`, `✖ fail`, `… no data`, `- skipped`.
fn verdict(v: Verdict, colour: bool) -> String {
    match v {
        Verdict::Pass => paint("✔ pass", Tone::Good, colour),
        Verdict::Fail => paint("✖ fail", Tone::Bad, colour),
        Verdict::NoData => "… no data".to_owned(),
        Verdict::Skipped => "- skipped".to_owned(),
    }
}

/// `✔ 10%  ▶ 30%  ○ 60%  ○ promote`: done, current (▶ running, ॥ halted, ✖ rolled back), to come.
pub fn steps(r: &RunState, colour: bool) -> String {
    let current = match r.phase {
        Phase::Running => "▶",
        Phase::Halted { .. } => "॥",
        Phase::RolledBack { .. } => "✖",
        Phase::Promoted | Phase::Completed => "✔",
    };
    let mark = |i: usize| {
        if i < r.step || (i == r.step && matches!(r.phase, Phase::Promoted | Phase::Completed)) {
            paint("✔", Tone::Good, colour)
        } else if i == r.step {
            match r.phase {
                Phase::RolledBack { .. } => paint(current, Tone::Bad, colour),
                _ => current.to_owned(),
            }
        } else {
            "○".to_owned()
        }
    };
    let mut parts: Vec<String> = r
        .steps
        .iter()
        .enumerate()
        .map(|(i, bp)| format!("{} {}", mark(i), bp_to_percent(*bp)))
        .collect();
    if r.promote {
        parts.push(format!("{} promote", mark(r.steps.len())));
    }
    parts.join("  ")
}

/// The line a step gets when its gates were read for the last time:
/// `v2 at 30%: 0.00% 5xx (0 of 812 requests answered 5xx), within --max-error-rate 1%; ...`.
pub fn summary(variant: &str, at: &str, readings: &[Reading]) -> String {
    let phrases: Vec<String> = readings.iter().filter_map(phrase).collect();
    format!("{variant} at {at}: {}", phrases.join("; "))
}

/// One gate in a summary (`None`: nothing worth a word, e.g. enough requests).
fn phrase(g: &Reading) -> Option<String> {
    let detail = g.detail.as_deref().unwrap_or_default();
    let Some(value) = g.value.map(|v| g.unit.show(v)) else {
        return match (g.gate.as_str(), g.verdict) {
            ("split", Verdict::Skipped) => None,
            ("error-rate", _) => Some(detail.to_owned()),
            _ => Some(format!("{}: {detail}", g.gate)),
        };
    };
    let within = if g.verdict == Verdict::Pass {
        "within"
    } else {
        "breaking"
    };
    Some(match g.gate.as_str() {
        "requests" => return None,
        "error-rate" => {
            let requests = detail.split_once(" answered").map_or(detail, |(r, _)| r);
            let limit = g.limit();
            let limit = limit.trim_start_matches("<= ");
            format!("{value} 5xx ({requests}), {within} --max-error-rate {limit}")
        }
        "p99" => format!("p99 {value} ({detail}), {within} --max-p99"),
        "p99-increase" => format!("p99 {value} ({detail}), {within} --max-p99-increase"),
        "split" if g.verdict == Verdict::Pass => {
            format!("the split fits its weights ({value} {detail})")
        }
        "split" => format!("the split does not fit its weights ({value} {detail})"),
        name => format!("{name} {value}, {within} {}", g.limit()),
    })
}

/// A recorded run, for `canary status`.
pub fn run_status(r: &RunState, colour: bool) -> String {
    let state = match &r.phase {
        Phase::Running => "running, or stopped without a word (a kill, a lost terminal): veerctl cannot tell which".to_owned(),
        Phase::Halted { reason } => paint(&format!("halted: {reason}"), Tone::Bad, colour),
        Phase::RolledBack { reason } => paint(&format!("rolled back: {reason}"), Tone::Bad, colour),
        Phase::Promoted => paint("promoted", Tone::Good, colour),
        Phase::Completed => paint("completed (not promoted)", Tone::Good, colour),
    };
    let mut out = format!(
        "{}: canary {}, stable {} at the start, started {}\n  state    {state}\n  step     {}, since {}\n  steps    {}\n",
        r.service,
        r.variant,
        r.stable,
        r.started_at,
        r.position(),
        r.step_started_at,
        steps(r, colour)
    );
    for p in &r.passed {
        let gates: Vec<String> = p
            .gates
            .iter()
            .filter(|g| g.verdict == Verdict::Pass)
            .map(|g| {
                let value = g.value.map_or_else(|| "-".to_owned(), |v| g.unit.show(v));
                format!("{} {value} {}", g.gate, g.limit())
            })
            .collect();
        out.push_str(&format!(
            "  passed   step {} ({}) at {}: {}\n",
            p.number,
            bp_to_percent(p.weight_bp),
            p.passed_at,
            gates.join(", ")
        ));
    }
    if let Some(c) = &r.current {
        let gates: Vec<String> = c
            .gates
            .iter()
            .map(|g| {
                let value = g.value.map_or_else(|| "-".to_owned(), |v| g.unit.show(v));
                format!("{} {value} {} ({})", g.gate, g.limit(), g.verdict.name())
            })
            .collect();
        out.push_str(&format!(
            "  read     step {} at {}: {}\n",
            r.info(r.step).number,
            c.read_at,
            gates.join(", ")
        ));
    }
    out.push_str(&format!("  recorded {}\n", r.updated_at));
    if !r.phase.ended() {
        let steps: Vec<String> = r
            .steps
            .iter()
            .map(|bp| bp_to_percent(*bp).trim_end_matches('%').to_owned())
            .collect();
        out.push_str(&format!(
            "  continue with `veerctl canary run {} {} --steps {}{}`\n",
            r.service,
            r.variant,
            steps.join(","),
            if r.promote { " --promote" } else { "" }
        ));
    }
    out
}

#[cfg(test)]
mod tests;
