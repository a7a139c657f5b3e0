//! `cohort list | add | remove | move | set | undo`. Each change is planned on the live rules
//! first (so the output can show them before and after), checked (the engine validates the
//! result, and a rule that can never match, or that empties a later one, is refused: exit code 3,
//! nothing written), estimated (what it takes from running experiments and canaries, from the
//! counters), and then made like any other edit through the host: verified on every proxy and
//! recorded as data, from which `cohort undo` takes the exact inverse.

mod list;
mod takes;
mod undo;

use veer_filter::config::wire::WireRule;
use veer_filter::config::WireConfig;
use veer_filter::Config;

use super::edited;
use crate::cli::{At, CohortCommand, Output, TargetArgs};
use crate::config::cohort::{self, reach, CohortEdit, Position, Target};
use crate::config::edit::service;
use crate::config::request::{self, Compared, Sample};
use crate::error::{CliError, Result};
use crate::history::Change;
use crate::host::envoy::FIRST_APPLY;
use crate::host::Live;
use crate::output::{self, cohort as show};
use crate::settings::Settings;

/// Dispatches `cohort ...`: the ECDS file with --envoy, the WasmPlugin on Kubernetes otherwise.
pub fn run(s: &Settings, c: &CohortCommand) -> Result<()> {
    match c {
        CohortCommand::List { service } => list::run(s, service.as_deref()),
        CohortCommand::Add(a) => {
            let target = target(&a.target)?
                .ok_or_else(|| CliError::failed("give --variant VARIANT or --split v1=90,v2=10"))?;
            let rule = cohort::new_rule(&a.rule, a.matcher.clone(), &target);
            let live = live(s)?;
            let edit = cohort::plan_add(
                service(&live.wire, &a.service)?,
                rule,
                &position(&a.position),
            )?;
            change(s, &live, &a.service, Made::Edit(edit), &a.samples.samples)
        }
        CohortCommand::Remove {
            service: name,
            rule,
            samples,
        } => {
            let live = live(s)?;
            let edit = cohort::plan_remove(service(&live.wire, name)?, rule)?;
            change(s, &live, name, Made::Edit(edit), &samples.samples)
        }
        CohortCommand::Move {
            service: name,
            rule,
            position,
            samples,
        } => {
            let live = live(s)?;
            let to = self::position(position);
            match cohort::plan_move(service(&live.wire, name)?, rule, &to)? {
                Some(edit) => change(s, &live, name, Made::Edit(edit), &samples.samples),
                None => unchanged(s, &format!("rule {rule:?} of {name} is there already")),
            }
        }
        CohortCommand::Set(a) => {
            let target = target(&a.target)?;
            let live = live(s)?;
            let svc = service(&live.wire, &a.service)?;
            match cohort::plan_set(svc, &a.rule, a.matcher.clone(), target.as_ref())? {
                Some(edit) => change(s, &live, &a.service, Made::Edit(edit), &a.samples.samples),
                None => unchanged(
                    s,
                    &format!("rule {:?} of {} is so already", a.rule, a.service),
                ),
            }
        }
        CohortCommand::Undo { service, samples } => undo::run(s, service, &samples.samples),
    }
}

/// The live config; none yet is an error that says how to start.
fn live(s: &Settings) -> Result<Live> {
    s.host
        .live()?
        .ok_or_else(|| CliError::failed(format!("no live config yet; start with {FIRST_APPLY}")))
}

/// The target given (`None`: neither --variant nor --split).
fn target(t: &TargetArgs) -> Result<Option<Target>> {
    match (&t.variant, &t.split) {
        (Some(v), _) => Ok(Some(Target::Variant(v.clone()))),
        (None, Some(split)) => Target::parse_split(split).map(Some),
        (None, None) => Ok(None),
    }
}

fn position(p: &At) -> Position {
    match (&p.before, &p.after, p.first) {
        (Some(r), _, _) => Position::Before(r.clone()),
        (_, Some(r), _) => Position::After(r.clone()),
        (_, _, true) => Position::First,
        _ => Position::Last,
    }
}

/// A change that would change nothing: said, nothing written.
fn unchanged(s: &Settings, why: &str) -> Result<()> {
    s.printer
        .print(&serde_json::json!({ "changed": false, "why": why }), || {
            println!("nothing to change: {why}");
        })
}

/// What a change applies and records: a cohort edit, or the undo of one.
enum Made {
    /// `cohort add | remove | move | set`.
    Edit(CohortEdit),
    /// `cohort undo`: the inverse of the edit that wrote `version`.
    Undo {
        /// The version the undone change wrote.
        version: u64,
        /// The undone change's edit.
        edit: CohortEdit,
    },
}

impl Made {
    /// The edit applied to the rules.
    fn applied(&self) -> CohortEdit {
        match self {
            Made::Edit(e) => e.clone(),
            Made::Undo { edit, .. } => edit.inverse(),
        }
    }

    /// The change as the history records it.
    fn change(&self, service: &str) -> Change {
        match self {
            Made::Edit(edit) => Change::Cohort {
                service: service.to_owned(),
                edit: edit.clone(),
            },
            Made::Undo { version, edit } => Change::CohortUndo {
                service: service.to_owned(),
                undone: *version,
                edit: edit.clone(),
            },
        }
    }
}

/// A change checked and explained before it is made.
struct Checked {
    /// The edit applied to the rules.
    applied: CohortEdit,
    /// The rules it was planned on.
    before: Vec<WireRule>,
    /// The config after it.
    after: WireConfig,
    /// What it takes from experiments and canaries.
    warnings: Vec<String>,
    /// The samples, decided before and after.
    samples: Vec<Compared>,
}

/// Checks, estimates and makes a change to the rules of `name` planned on `live`, then shows
/// the rules (before and after in a dry run) and the samples both ways.
fn change(s: &Settings, live: &Live, name: &str, made: Made, samples: &[Sample]) -> Result<()> {
    let c = check(s, live, name, &made, samples)?;
    for w in &c.warnings {
        eprintln!("warning: {w}");
    }
    let what = made.change(name);
    let edited = s.host.edit(&what, |w| {
        cohort::apply_planned(w, name, &c.before, &c.applied)
    })?;
    let view = show::ChangeView {
        service: service(&c.after, name)?,
        before: show::rows(name, &c.before, |_| None),
        after: show::rows(name, cohort::rules_of(&c.after, name)?, |_| None),
        edit: &c.applied,
        samples: &c.samples,
        dry_run: s.dry_run.is_some(),
    };
    match s.printer.format {
        Output::Json => {
            let mut doc = edited::document(&edited, Some(name), &what.to_string());
            if let Some(map) = doc.as_object_mut() {
                map.extend(view.document(&c.warnings));
            }
            output::print_json(&doc)
        }
        Output::Table => {
            edited::print(s, &edited, Some(name), &what.to_string())?;
            print!("{}", view.text(s.printer.colour));
            Ok(())
        }
    }
}

/// Applies `made` to a copy of the live config and checks the result: the engine validates it,
/// and a rule placed by an edit must be able to match (an undo restores rules as they were,
/// checked when they were made). Then estimates what it takes and decides the samples.
fn check(
    s: &Settings,
    live: &Live,
    name: &str,
    made: &Made,
    samples: &[Sample],
) -> Result<Checked> {
    let applied = made.applied();
    let before = cohort::rules_of(&live.wire, name)?.to_vec();
    let mut after = live.wire.clone();
    cohort::apply_planned(&mut after, name, &before, &applied)?;
    let config = Config::from_wire(&after).map_err(CliError::invalid_edit)?;
    if let (Some(at), Made::Edit(_)) = (applied.placed_at(), made) {
        reach::check(&config, name, at)?;
    }
    let live_config = Config::from_wire(&live.wire).map_err(CliError::invalid_edit)?;
    let changed = service(&after, name)?;
    let warnings = takes::warnings(s, &live_config, &config, changed, &applied)?;
    let samples = request::compare(&live_config, &config, changed, samples);
    Ok(Checked {
        applied,
        before,
        after,
        warnings,
        samples,
    })
}
