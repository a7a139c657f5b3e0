//! `experiment start | stop | list`.

use serde::Serialize;

use super::{edit_live, print_json};
use crate::cli::{ExperimentCommand, Global, Output};
use crate::config::edit::{self, NewExperiment};
use crate::error::{CliError, Result};
use crate::host::envoy::admin::Admin;
use crate::host::envoy::change;
use crate::observe::status::Baselines;
use veer_filter::config::WireConfig;

/// Dispatches `experiment ...`: the ECDS file with --envoy, the WasmPlugin on Kubernetes otherwise.
pub fn run(g: &Global, c: &ExperimentCommand) -> Result<()> {
    let on_kubernetes = g.envoy.is_none();
    match c {
        ExperimentCommand::Start {
            service,
            id,
            arms,
            segments,
            allocation,
            salt,
        } => {
            let segment = segments
                .iter()
                .map(|s| edit::parse_segment(s))
                .collect::<Result<Vec<_>>>()?;
            let e = NewExperiment {
                id: id.clone(),
                arms: arms.clone(),
                segment,
                allocation: edit::percent_to_bp(allocation)?,
                salt: salt.clone(),
            };
            // Cloned per attempt: a conflict re-applies the edit on a fresh read.
            edit_live(
                g,
                service,
                &format!("experiment start {service} {id}"),
                |w| edit::start_experiment(w, service, e.clone()),
            )
        }
        ExperimentCommand::Stop { service, id } => edit_live(
            g,
            service,
            &format!("experiment stop {service} {id}"),
            |w| edit::stop_experiment(w, service, id),
        ),
        ExperimentCommand::List if on_kubernetes => {
            let wire = crate::host::kubernetes::run(g, |t| async move {
                veer_k8s::plugin_config::live_config(&t, &g.plugin)
                    .await
                    .map_err(crate::host::kubernetes::err)
            })?;
            // Assignment counts live in the sidecars: `status --selector` reads those.
            print_rows(g, rows(&wire, |_| None))
        }
        ExperimentCommand::List => list(g),
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

/// Lists the live experiments of a standalone Envoy, with assignments since the last change
/// from the proxies given with --admin.
fn list(g: &Global) -> Result<()> {
    let store = change::store(g)?;
    let current = store
        .current()?
        .ok_or_else(|| CliError::failed("no live config yet"))?;
    let admin = Admin::default();
    let baselines: Baselines = store.read_state("baseline.json")?.unwrap_or_default();
    let snaps: Vec<_> = g
        .admins
        .iter()
        .filter_map(|u| admin.snapshot(u).ok())
        .collect();
    let rows = rows(&current.wire, |name| {
        (!snaps.is_empty()).then(|| {
            snaps
                .iter()
                .map(|x| {
                    x.get(name)
                        .saturating_sub(baselines.get(&x.url).map_or(0, |b| b.get(name)))
                })
                .sum()
        })
    });
    print_rows(g, rows)
}

/// One row per arm of every experiment in `wire`; `assigned` counts an arm by its metric name
/// (`exp.<service>.<experiment>.<arm>`).
fn rows(wire: &WireConfig, assigned: impl Fn(&str) -> Option<u64>) -> Vec<Row> {
    let mut rows = Vec::new();
    for s in &wire.services {
        for e in &s.experiments {
            for a in &e.arms {
                let assigned = assigned(&format!("exp.{}.{}.{}", s.name, e.id, a.name));
                rows.push(Row {
                    service: s.name.clone(),
                    id: e.id.clone(),
                    segment: e.segment.as_ref().map_or("everyone".into(), |m| {
                        serde_json::to_string(m).unwrap_or_default()
                    }),
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

fn print_rows(g: &Global, rows: Vec<Row>) -> Result<()> {
    match g.output {
        Output::Json => print_json(&rows),
        Output::Table => {
            if rows.is_empty() {
                println!("no experiments");
            }
            for r in rows {
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
            Ok(())
        }
    }
}
