//! Cohort rules for people: a service's rules in evaluation order (each match in the command
//! line's syntax, its target, the requests it decided), the rules before and after a change with
//! the changed rule marked, and sample requests decided on both configs.

use std::collections::BTreeMap;

use comfy_table::Cell;
use serde::Serialize;
use serde_json::{json, Map, Value};
use veer_filter::config::wire::{WireRule, WireService};

use super::colour::{paint, Tone};
use super::status::table;
use crate::config::cohort::{render_match, CohortEdit, Target};
use crate::config::edit::split_summary;
use crate::config::request::{Compared, Decided};

/// One rule, as `cohort list` and a change show it.
#[derive(Debug, Clone, Serialize)]
pub struct RuleRow {
    /// The service.
    pub service: String,
    /// Its place in the evaluation order, from 1.
    pub position: usize,
    /// Its name.
    pub rule: String,
    /// Its match, as a match expression.
    #[serde(rename = "match")]
    pub matcher: String,
    /// Its target for people: a variant, or a split (`v1 90% | v2 10%`).
    pub target: String,
    /// The variant it sends everything to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Its own split (variant -> basis points).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub split: Option<BTreeMap<String, i64>>,
    /// Requests it decided over the window the output names (`None`: not counted).
    pub decided: Option<u64>,
}

/// The rows of `rules` of `service`; `decided` counts a rule by its name.
pub fn rows(
    service: &str,
    rules: &[WireRule],
    decided: impl Fn(&str) -> Option<u64>,
) -> Vec<RuleRow> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| RuleRow {
            service: service.to_owned(),
            position: i + 1,
            rule: r.name.clone(),
            matcher: render_match(r),
            target: Target::of(r).to_string(),
            variant: r.variant.clone(),
            split: r.split.clone(),
            decided: decided(&r.name),
        })
        .collect()
}

/// What comes after the rules in `service`: its experiments, then its default split.
pub fn after_rules(service: &WireService) -> String {
    let experiments: Vec<&str> = service.experiments.iter().map(|e| e.id.as_str()).collect();
    let split = format!("the default split {}", split_summary(service));
    if experiments.is_empty() {
        format!("then {split}")
    } else {
        format!("then experiments {}; then {split}", experiments.join(", "))
    }
}

/// The rules as a table, each with the note `notes` gives it (the change's mark), and the count
/// column when `counted`.
pub fn rules_table(
    rows: &[RuleRow],
    counted: bool,
    notes: impl Fn(&RuleRow) -> Option<String>,
    colour: bool,
) -> String {
    if rows.is_empty() {
        return "  (no rules)".to_owned();
    }
    let mut t = table(colour);
    let mut header = vec!["#", "rule", "match", "target"];
    if counted {
        header.push("decided");
    }
    let with_notes = rows.iter().any(|r| notes(r).is_some());
    if with_notes {
        header.push("");
    }
    t.set_header(header);
    for r in rows {
        let mut cells = vec![
            Cell::new(r.position),
            Cell::new(&r.rule),
            Cell::new(&r.matcher),
            Cell::new(&r.target),
        ];
        if counted {
            cells.push(Cell::new(
                r.decided.map_or("-".to_owned(), |n| n.to_string()),
            ));
        }
        if with_notes {
            let note = notes(r).unwrap_or_default();
            cells.push(Cell::new(paint(
                &note,
                Tone::Good,
                colour && !note.is_empty(),
            )));
        }
        t.add_row(cells);
    }
    t.to_string()
}

/// Each sample's decision before and after, one block per sample.
pub fn samples(compared: &[Compared], colour: bool) -> String {
    let mut out = String::new();
    for c in compared {
        let show = |d: &Option<Decided>| {
            d.as_ref()
                .map_or("no service (passes through)".to_owned(), |d| {
                    format!("{} ({})", d.variant, d.decided_by)
                })
        };
        let verdict = if c.changes() {
            paint("CHANGES", Tone::Bad, colour)
        } else {
            "unchanged".to_owned()
        };
        out.push_str(&format!(
            "  {}: {verdict}\n    before: {}\n    after:  {}\n",
            c.sample,
            show(&c.before),
            show(&c.after)
        ));
    }
    out
}

/// What a cohort change shows after the host's outcome: the rules (before and after in a dry
/// run) with the changed rule marked, what follows them, and the samples.
pub struct ChangeView<'a> {
    /// The service, after the change.
    pub service: &'a WireService,
    /// Its rules before.
    pub before: Vec<RuleRow>,
    /// Its rules after.
    pub after: Vec<RuleRow>,
    /// The edit applied.
    pub edit: &'a CohortEdit,
    /// The samples, decided before and after.
    pub samples: &'a [Compared],
    /// Nothing was written.
    pub dry_run: bool,
}

impl ChangeView<'_> {
    /// The keys `-o json` adds to the host's outcome.
    pub fn document(&self, warnings: &[String]) -> Map<String, Value> {
        let mut map = Map::new();
        map.insert("rules".into(), json!(self.after));
        if self.dry_run {
            map.insert("rules_before".into(), json!(self.before));
        }
        map.insert("warnings".into(), json!(warnings));
        map.insert("samples".into(), json!(self.samples));
        map
    }

    /// For people.
    pub fn text(&self, colour: bool) -> String {
        let name = self.edit.rule_name();
        let mut out = String::new();
        if self.dry_run {
            let removed = |r: &RuleRow| {
                (r.rule == name && matches!(self.edit, CohortEdit::Remove { .. }))
                    .then(|| "<- removed".to_owned())
            };
            out.push_str(&format!("rules of {} before:\n", self.service.name));
            out.push_str(&rules_table(&self.before, false, removed, colour));
            out.push_str(&format!("\nrules of {} after:\n", self.service.name));
        } else {
            out.push_str(&format!("rules of {} now:\n", self.service.name));
        }
        let changed = |r: &RuleRow| {
            (r.rule == name).then(|| match self.edit {
                CohortEdit::Add { .. } => "<- added".to_owned(),
                CohortEdit::Move { from, .. } => format!("<- moved from {}", from + 1),
                CohortEdit::Set { .. } => "<- changed".to_owned(),
                CohortEdit::Remove { .. } => String::new(),
            })
        };
        out.push_str(&rules_table(&self.after, false, changed, colour));
        out.push_str(&format!("\n{}\n", after_rules(self.service)));
        if !self.samples.is_empty() {
            out.push_str(
                "samples (the engine's decision on the live config, then on the changed one):\n",
            );
            out.push_str(&samples(self.samples, colour));
        }
        out
    }
}
