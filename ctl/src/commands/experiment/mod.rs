//! `experiment start | stop | list | report`.

mod report;

use serde::Serialize;
use veer_filter::config::WireConfig;
use veer_filter::metrics::Stat;

use super::edit_live;
use crate::cli::ExperimentCommand;
use crate::config::edit::{self, NewExperiment};
use crate::config::match_expr;
use crate::error::{CliError, Result};
use crate::history::Change;
use crate::settings::Settings;

/// Dispatches `experiment ...`: the ECDS file with --envoy, the WasmPlugin on Kubernetes otherwise.
pub fn run(s: &Settings, c: &ExperimentCommand) -> Result<()> {
    match c {
        ExperimentCommand::Start {
            service,
            id,
            arms,
            segments,
            allocation,
            salt,
            goals,
            primary_goal,
        } => {
            let e = NewExperiment {
                id: id.clone(),
                arms: arms.clone(),
                segment: segments.clone(),
                allocation: edit::percent_to_bp(allocation)?,
                salt: salt.clone(),
                goals: goals.clone(),
                primary_goal: primary_goal.clone(),
            };
            let what = Change::ExperimentStart {
                service: service.clone(),
                id: id.clone(),
            };
            // Cloned per attempt: a conflict re-applies the edit on a fresh read.
            let edited = s
                .host
                .edit(&what, |w| edit::start_experiment(w, service, e.clone()))?;
            if !goals.is_empty() {
                report::record_start(s, &edited, service, id)?;
            }
            super::edited::print(s, &edited, Some(service), &what.to_string())
        }
        ExperimentCommand::Stop { service, id } => edit_live(
            s,
            service,
            &Change::ExperimentStop {
                service: service.clone(),
                id: id.clone(),
            },
            |w| edit::stop_experiment(w, service, id),
        ),
        ExperimentCommand::List => list(s),
        ExperimentCommand::Report(a) => report::run(s, a),
    }
}

#[derive(Debug, Serialize)]
struct Row {
    service: String,
    id: String,
    segment: String,
    allocation: String,
    arm: String,
    variant: String,
    weight: String,
    /// Assignments since the last change, summed over the proxies given with --admin.
    assigned: Option<u64>,
}

/// Lists the live experiments, with assignments since the last change summed over the proxies
/// (on a standalone Envoy, from those given with --admin; Kubernetes records no baseline, so
/// `status` reads the sidecars' assignments over a window).
fn list(s: &Settings) -> Result<()> {
    let live = s
        .host
        .live()?
        .ok_or_else(|| CliError::failed("no live config yet"))?;
    let counted = s.host.since_last_change()?.filter(|c| c.any_readable());
    let rows = rows(&live.wire, |name| counted.as_ref().map(|c| c.sum(name)));
    print_rows(s, rows)
}

/// One row per arm of every experiment in `wire`; `assigned` counts an arm by its metric's key
/// (`exp.<service>.<experiment>.<arm>`: [`Stat::experiment_requests`]).
fn rows(wire: &WireConfig, assigned: impl Fn(&str) -> Option<u64>) -> Vec<Row> {
    let mut rows = Vec::new();
    for s in &wire.services {
        for e in &s.experiments {
            for a in &e.arms {
                let assigned = assigned(&Stat::experiment_requests(&s.name, &e.id, &a.name).key());
                rows.push(Row {
                    service: s.name.clone(),
                    id: e.id.clone(),
                    segment: e
                        .segment
                        .as_ref()
                        .map_or("everyone".into(), match_expr::render),
                    allocation: edit::bp_to_percent(e.allocation.unwrap_or(10_000)),
                    arm: a.name.clone(),
                    variant: a.variant.clone(),
                    weight: edit::bp_to_percent(a.weight),
                    assigned,
                });
            }
        }
    }
    rows
}

fn print_rows(s: &Settings, rows: Vec<Row>) -> Result<()> {
    s.printer.print(&rows, || {
        if rows.is_empty() {
            println!("no experiments");
        }
        for r in &rows {
            println!(
                "{}/{}  segment {}  allocation {}  arm {} -> {} {}{}",
                r.service,
                r.id,
                r.segment,
                r.allocation,
                r.arm,
                r.variant,
                r.weight,
                r.assigned
                    .map_or(String::new(), |n| format!("  assigned {n}"))
            );
        }
    })
}
