//! What a new or widened rule takes from running experiments and canary splits, said before the
//! change is made, with how much from the counters.
//!
//! An estimate, and the warning says so: the proxies count decisions (per rule, per experiment
//! arm, per split variant), not request shapes, so nobody can replay recent requests against the
//! new matcher. What can be said exactly: which experiments and splits the rule can reach (the
//! matchers), whether it provably takes all of one (its segment lies within the rule's match),
//! and how many requests each decided over the window (the counters). When it takes all, those
//! requests are what moves; otherwise they are an upper bound.

use veer_filter::config::wire::WireService;
use veer_filter::Config;

use crate::config::cohort::reach::{self, Source, Taking};
use crate::config::cohort::{render_match, CohortEdit};
use crate::config::edit::split_summary;
use crate::config::match_expr;
use crate::error::Result;
use crate::host::kubernetes::sidecars::window_label;
use crate::observe::snapshot::counter;
use crate::observe::window::{Counted, Window};
use crate::settings::Settings;

/// The warnings for `edit`, applied to the live config `live` giving `after` (whose service
/// `wire` it changes): none unless the edit adds a rule or changes one's match so that it may
/// take requests nothing took before.
pub fn warnings(
    s: &Settings,
    live: &Config,
    after: &Config,
    wire: &WireService,
    edit: &CohortEdit,
) -> Result<Vec<String>> {
    let (at, rule) = match edit {
        CohortEdit::Add { rule, at } => (*at, rule),
        CohortEdit::Set { at, before, after } if before.match_ != after.match_ => (*at, &**after),
        _ => return Ok(Vec::new()),
    };
    let Some(service) = after.service(&wire.name) else {
        return Ok(Vec::new());
    };
    let Some(new) = service.rules.get(at) else {
        return Ok(Vec::new());
    };
    // Requests that another rule (or this one before a set) already decides move among rules,
    // not away from an experiment or the split.
    let others = service.rules.iter().enumerate().filter(|(i, _)| *i != at);
    let previous = live
        .service(&wire.name)
        .and_then(|s| s.rules.get(at))
        .filter(|_| matches!(edit, CohortEdit::Set { .. }));
    if others
        .map(|(_, r)| &r.matcher)
        .chain(previous.map(|r| &r.matcher))
        .any(|m| m.covers(&new.matcher))
    {
        return Ok(Vec::new());
    }
    let takings = reach::takes_from(after, wire, at);
    if takings.is_empty() {
        return Ok(Vec::new());
    }
    let counted = counters(s);
    let matcher = render_match(rule);
    Ok(takings
        .iter()
        .map(|t| warning(&rule.name, &matcher, wire, t, &counted))
        .collect())
}

/// The counters to estimate from: on Envoy since the last verified change; on Kubernetes (which
/// keeps no baseline) since each sidecar started. Why there are none, otherwise.
fn counters(s: &Settings) -> std::result::Result<Counted, String> {
    match s.host.since_last_change() {
        Ok(Some(c)) if c.any_readable() => return Ok(c),
        Ok(Some(c)) if c.readings.is_empty() => {
            return Err("no --admin proxy to read counters from".into())
        }
        Ok(Some(c)) => {
            let why: Vec<String> = c
                .readings
                .iter()
                .filter_map(|(_, r)| r.as_ref().err().cloned())
                .collect();
            return Err(format!("no proxy could be read: {}", why.join("; ")));
        }
        Ok(None) => {}
        Err(e) => return Err(e.to_string()),
    }
    let (_, proxies) = s.host.observe(None).map_err(|e| e.to_string())?;
    let readings = proxies.read().map_err(|e| e.to_string())?;
    Window::open(readings)
        .map(|w| w.since_start(&window_label(std::time::Duration::ZERO)))
        .map_err(|e| e.to_string())
}

/// One warning: what the rule takes from, whether all of it, and how many requests that was.
fn warning(
    rule: &str,
    matcher: &str,
    wire: &WireService,
    taking: &Taking,
    counted: &std::result::Result<Counted, String>,
) -> String {
    let unknown = format!(
        "how many of those match {matcher} is not known (the proxies count decisions, not request \
         shapes), so that is an upper bound"
    );
    match &taking.source {
        Source::Experiment(id) => {
            let segment = wire
                .experiments
                .iter()
                .find(|e| &e.id == id)
                .and_then(|e| e.segment.as_ref())
                .map_or("everyone".to_owned(), match_expr::render);
            let count = counted.as_ref().map(|c| {
                let n: u64 = c.by_prefix(&counter::arms(&wire.name, id)).values().sum();
                format!("it enrolled {n} {}", c.label)
            });
            if taking.all {
                format!(
                    "rule {rule} takes every request experiment {id} would enroll (its segment, \
                     {segment}, lies within the rule's match): the experiment gets none; {}",
                    how_many(count)
                )
            } else {
                format!(
                    "rule {rule} may take requests from experiment {id} (segment {segment}): {}{}",
                    how_many(count.clone()),
                    if count.is_ok() {
                        format!("; {unknown}")
                    } else {
                        String::new()
                    }
                )
            }
        }
        Source::Canary => {
            let count = counted.as_ref().map(|c| {
                let per: Vec<(String, u64)> = wire
                    .variants
                    .iter()
                    .map(|v| (v.name.clone(), c.sum(&counter::split(&wire.name, &v.name))))
                    .collect();
                let total: u64 = per.iter().map(|(_, n)| n).sum();
                let parts: Vec<String> = per.iter().map(|(v, n)| format!("{v} {n}")).collect();
                format!(
                    "the split decided {total} {} ({})",
                    c.label,
                    parts.join(", ")
                )
            });
            let split = format!(
                "the canary split of {} ({})",
                wire.name,
                split_summary(wire)
            );
            if taking.all {
                format!(
                    "rule {rule} takes every request from {split}: the split decides none; {}",
                    how_many(count)
                )
            } else {
                format!(
                    "rule {rule} may take requests from {split}, away from the canary's \
                     measurement: {}{}",
                    how_many(count.clone()),
                    if count.is_ok() {
                        format!("; {unknown}")
                    } else {
                        String::new()
                    }
                )
            }
        }
    }
}

/// The count, or why it is unknown.
fn how_many(count: std::result::Result<String, &String>) -> String {
    count.unwrap_or_else(|why| format!("how many is unknown ({why})"))
}
