//! `experiment report` for people: a table (`table`) and one self-contained HTML file
//! (`html`, with `charts` drawn as inline SVG). Both read the same [`Report`] that `-o json`
//! prints, and format its numbers through [`fmt`], so the three agree.

mod charts;
pub mod fmt;
mod html;

use comfy_table::{presets, Cell, ContentArrangement, Table};
use veer_stats::srm::SrmOk;
use veer_stats::{ArmMetric, Decision, Estimate};

use super::colour::{paint, Tone};
use crate::observe::report::Report;
pub use html::html;

fn table_of(colour: bool) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    if colour {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    t
}

/// Renders the report as text tables.
pub fn table(r: &Report, colour: bool) -> String {
    let mut out = format!(
        "experiment {}/{}  (config version {}; counted {})\n",
        r.service, r.experiment, r.config_version, r.source.window
    );
    for (proxy, version) in &r.source.proxies {
        let v = version.map_or("unreadable".to_owned(), |v| format!("runs version {v}"));
        out.push_str(&format!("  {proxy}  {v}\n"));
    }
    let tone = match r.headline.arms.iter().any(|a| a.verdict == "winner") {
        true => Tone::Good,
        false => Tone::Bad,
    };
    out.push_str(&format!("\n{}\n", paint(&r.headline.text, tone, colour)));
    out.push_str(&format!("\n{}", split_check(r, colour)));
    out.push_str(&arms_table(r, colour));
    for goal in r.analysis.arms.first().map_or(&[][..], |a| &a.goals) {
        out.push_str(&goal_table(r, &goal.goal, colour));
    }
    out.push_str(&format!("\n{}\n", fmt::traffic(&r.source.traffic)));
    for l in &r.left_out {
        out.push_str(&format!("\nleft out: {l}\n"));
    }
    if let Some(e) = &r.events {
        out.push_str(&format!(
            "\nevents {}: {} lines, {} used from {} users; {} unreadable{}; {} before the start; \
             {} users not enrolled; {} users whose recorded arm disagrees with the engine's\n",
            e.file,
            e.lines,
            e.used,
            e.users,
            e.malformed.len(),
            fmt::line_numbers(&e.malformed),
            e.before_start,
            e.not_enrolled_users,
            e.arm_mismatches
        ));
        for m in &e.mismatch_examples {
            out.push_str(&format!(
                "  user {:?}: recorded {:?}, the engine gives {}\n",
                m.user,
                m.recorded,
                m.computed
                    .as_deref()
                    .map_or("no arm (not enrolled)".to_owned(), |c| format!("{c:?}"))
            ));
        }
    }
    out.push_str("\nwhat is approximate:\n");
    for a in &r.approximations {
        out.push_str(&format!("  - {a}\n"));
    }
    out
}

/// The sample-ratio check, first: a failed one withholds every verdict.
fn split_check(r: &Report, colour: bool) -> String {
    match &r.analysis.decision {
        Decision::Withheld { srm, likely_causes } => {
            let mut s = format!(
                "split check: {} (chi-square p = {}): exposed users do not follow the \
                 configured shares; likely causes:\n",
                paint("FAILED", Tone::Bad, colour),
                fmt::p(srm.test().p_value())
            );
            for c in likely_causes {
                s.push_str(&format!("  - {c}\n"));
            }
            s
        }
        Decision::Judged { srm, .. } => match srm {
            SrmOk::Passed(p) => format!(
                "split check: {} (chi-square p = {})\n",
                paint("passed", Tone::Good, colour),
                fmt::p(p.test().p_value())
            ),
            SrmOk::TooFewUsers { exposed, needed } => format!(
                "split check: not yet ({exposed} users; it needs {needed}); verdicts wait for it\n"
            ),
            SrmOk::SingleArm => "split check: one arm, nothing to check\n".to_owned(),
        },
    }
}

fn arms_table(r: &Report, colour: bool) -> String {
    let mut t = table_of(colour);
    let shared = r.arms.iter().any(|a| a.responses.is_some());
    let mut header = vec![
        "arm",
        "variant",
        "configured",
        "exposed users",
        "exposure requests",
        "requests per user",
    ];
    if shared {
        header.extend(["5xx", "p50", "p99"]);
    }
    t.set_header(header);
    for a in &r.arms {
        let mut row = vec![
            Cell::new(if a.arm == r.control {
                format!("{} (control)", a.arm)
            } else {
                a.arm.clone()
            }),
            Cell::new(&a.variant),
            Cell::new(fmt::bp(a.share_bp)),
            Cell::new(a.exposed_users),
            Cell::new(a.exposure_requests),
            Cell::new(fmt::ratio(a.exposure_requests, a.exposed_users)),
        ];
        if let Some(resp) = &a.responses {
            row.push(Cell::new(resp.by_class[4]));
            row.push(Cell::new(fmt::micros(resp.latency.map(|l| l.p50_us))));
            row.push(Cell::new(fmt::micros(resp.latency.map(|l| l.p99_us))));
        }
        t.add_row(row);
    }
    format!("\n{t}\n")
}

/// One goal: per arm its rate (or mean), and against the control the difference, p-value,
/// Bayesian chance, power and verdict.
fn goal_table(r: &Report, goal: &str, colour: bool) -> String {
    let primary = r.primary_goal.as_deref() == Some(goal);
    let mut t = table_of(colour);
    t.set_header([
        "arm",
        "users",
        "rate / mean (95% interval)",
        "difference (interval)",
        "relative (interval)",
        "p (Holm)",
        "chance to beat",
        "verdict",
    ]);
    for a in &r.analysis.arms {
        let Some(g) = a.goals.iter().find(|g| g.goal == goal) else {
            continue;
        };
        let (users, value) = match &g.metric {
            ArmMetric::Rate { converted, rate } => (
                format!("{converted} of {}", a.exposed),
                match rate {
                    Estimate::Measured(x) => fmt::rate(x.rate, x.wilson_interval),
                    Estimate::NotEnoughData(_) => "-".into(),
                },
            ),
            ArmMetric::Value { users, mean } => (
                users.to_string(),
                match mean {
                    Estimate::Measured(x) => fmt::mean(x.mean, x.t_interval),
                    Estimate::NotEnoughData(_) => "-".into(),
                },
            ),
        };
        let mut row = vec![Cell::new(&a.arm), Cell::new(users), Cell::new(value)];
        if a.control {
            row.extend(["control", "", "", "", ""].map(Cell::new));
        } else {
            let c = fmt::Compared::of(r, &a.arm, goal);
            row.extend([c.difference, c.relative, c.p, c.chance].map(Cell::new));
            let verdict = fmt::verdict(r, &a.arm, goal);
            let tone = match verdict.as_str() {
                "WINNER" => Some(Tone::Good),
                "LOSER" => Some(Tone::Bad),
                _ => None,
            };
            row.push(Cell::new(match tone {
                Some(t) => paint(&verdict, t, colour),
                None => verdict,
            }));
        }
        t.add_row(row);
    }
    let mode = match r.analysis.settings.mode {
        veer_stats::Mode::AlwaysValid => "always-valid intervals and p-values: safe to peek",
        veer_stats::Mode::FixedHorizon => {
            "fixed-horizon intervals and p-values: read once, at the planned sample"
        }
    };
    format!(
        "\ngoal {goal}{}  ({mode})\n{t}\n",
        if primary { " (primary)" } else { "" }
    )
}
