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
use veer_filter::Config;

use super::edited;
use crate::cli::{At, CohortCommand, Output, TargetArgs};
use crate::config::cohort::{self, reach, CohortEdit, Position, Target};
use crate::config::edit::service;
use crate::config::request::{self, Compared, Sample};
use crate::error::{CliError, Result};
use crate::history::Change;
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
    s.host.live()?.ok_or_else(|| {
        CliError::failed("no live config yet; start with `veerctl apply -f FILE --wasm PATH`")
    })
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

/// Checks, estimates and makes a change to the rules of `name` planned on `live`, then shows
/// the rules (before and after in a dry run) and the samples both ways.
fn change(s: &Settings, live: &Live, name: &str, made: Made, samples: &[Sample]) -> Result<()> {
    let applied = made.applied();
    let before_rules: Vec<WireRule> = cohort::rules_of(&live.wire, name)?.to_vec();
    let mut after = live.wire.clone();
    cohort::apply_planned(&mut after, name, &before_rules, &applied)?;
    let config = Config::from_wire(&after).map_err(CliError::invalid_edit)?;
    let placed = applied.placed_at();
    // An undo restores rules as they were, checked when they were made.
    if let (Some(at), Made::Edit(_)) = (placed, &made) {
        reach::check(&config, name, at)?;
    }
    let live_config = Config::from_wire(&live.wire).map_err(CliError::invalid_edit)?;
    let warnings = takes::warnings(s, &live_config, &config, service(&after, name)?, &applied)?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let compared = request::compare(&live_config, &config, service(&after, name)?, samples);

    let what = made.change(name);
    let edited = s.host.edit(&what, |w| {
        cohort::apply_planned(w, name, &before_rules, &applied)
    })?;
    let shown = Shown {
        service: name,
        before: show::rows(name, &before_rules, |_| None),
        after: show::rows(name, cohort::rules_of(&after, name)?, |_| None),
        applied: &applied,
        samples: &compared,
        dry_run: s.dry_run.is_some(),
    };
    match s.printer.format {
        Output::Json => {
            let mut doc = edited::document(&edited, Some(name), &what.to_string());
            if let Some(map) = doc.as_object_mut() {
                map.insert(
                    "rules".into(),
                    serde_json::to_value(&shown.after).unwrap_or_default(),
                );
                if shown.dry_run {
                    let before = serde_json::to_value(&shown.before).unwrap_or_default();
                    map.insert("rules_before".into(), before);
                }
                map.insert("warnings".into(), serde_json::json!(warnings));
                map.insert(
                    "samples".into(),
                    serde_json::to_value(&compared).unwrap_or_default(),
                );
            }
            output::print_json(&doc)
        }
        Output::Table => {
            edited::print(s, &edited, Some(name), &what.to_string())?;
            print_rules(s, &shown, &after);
            Ok(())
        }
    }
}

/// What a change shows after its outcome.
struct Shown<'a> {
    service: &'a str,
    before: Vec<show::RuleRow>,
    after: Vec<show::RuleRow>,
    applied: &'a CohortEdit,
    samples: &'a [Compared],
    dry_run: bool,
}

fn print_rules(s: &Settings, shown: &Shown<'_>, after: &veer_filter::config::WireConfig) {
    let colour = s.printer.colour;
    let name = shown.applied.rule_name();
    let mark_after = |r: &show::RuleRow| {
        (r.rule == name).then(|| match shown.applied {
            CohortEdit::Add { .. } => "<- added".to_owned(),
            CohortEdit::Move { from, .. } => format!("<- moved from {}", from + 1),
            CohortEdit::Set { .. } => "<- changed".to_owned(),
            CohortEdit::Remove { .. } => String::new(),
        })
    };
    if shown.dry_run {
        let removed = |r: &show::RuleRow| {
            (r.rule == name && matches!(shown.applied, CohortEdit::Remove { .. }))
                .then(|| "<- removed".to_owned())
        };
        println!("rules of {} before:", shown.service);
        println!(
            "{}",
            show::rules_table(&shown.before, false, removed, colour)
        );
        println!("rules of {} after:", shown.service);
    } else {
        println!("rules of {} now:", shown.service);
    }
    println!(
        "{}",
        show::rules_table(&shown.after, false, mark_after, colour)
    );
    if let Ok(svc) = service(after, shown.service) {
        println!("{}", show::after_rules(svc));
    }
    if !shown.samples.is_empty() {
        println!("samples (the engine's decision on the live config, then on the changed one):");
        print!("{}", show::samples(shown.samples, colour));
    }
}
