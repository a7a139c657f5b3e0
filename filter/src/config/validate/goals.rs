//! Goals, the experiments' references to them, and the marks cookie that counts users once.

use std::collections::BTreeSet;

use super::super::names::Name;
use super::super::problems::{Collector, Path};
use super::super::wire::{WireAssignCookie, WireExperiment, WireGoal};
use super::super::{AssignCookie, Goal, Judged, KeySource, Service, StatusClass};
use super::cookies::assign_cookie;
use crate::marks::Mark;
use crate::matcher::Match;

/// The marks cookie when the config names none.
const DEFAULT_MARKS_COOKIE: &str = "veer_marks";
/// Its default lifetime: long enough for an experiment, short enough to be forgotten after one.
const DEFAULT_MARKS_MAX_AGE: u64 = 90 * 24 * 3600;

/// The goals, each valid and uniquely named; who lists them is filled in by [`link`].
pub(super) fn goals(w: &[WireGoal], path: &Path, out: &mut Collector) -> Option<Vec<Goal>> {
    let mut names = BTreeSet::new();
    let goals: Vec<Option<Goal>> = w
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let p = path.index(i);
            if !names.insert(g.name.as_str()) {
                out.report(
                    &p.field("name"),
                    format!("duplicate goal name {:?}", g.name),
                );
            }
            let name = Name::parse(&g.name, &p.field("name"), out);
            let matcher = Match::from_wire(&g.match_, &p.field("match"), out);
            let status = match &g.status {
                None => Some(None),
                Some(s) => match StatusClass::parse(s) {
                    Some(c) => Some(Some(c)),
                    None => {
                        out.report(
                            &p.field("status"),
                            format!("{s:?} is not a status class (1xx, 2xx, 3xx, 4xx or 5xx)"),
                        );
                        None
                    }
                },
            };
            Some(Goal {
                name: name?,
                matcher: matcher?,
                status: status?,
                judged_by: Vec::new(),
            })
        })
        .collect();
    goals.into_iter().collect()
}

/// An experiment's `goals` and `primary_goal`, as indices into the config's goals.
pub(super) fn experiment_goals(
    w: &WireExperiment,
    all: &[WireGoal],
    path: &Path,
    out: &mut Collector,
) -> Option<(Vec<usize>, Option<usize>)> {
    let index_of = |name: &str| all.iter().position(|g| g.name == name);
    let mut ok = true;
    let mut seen = BTreeSet::new();
    let mut goals = Vec::with_capacity(w.goals.len());
    for (i, name) in w.goals.iter().enumerate() {
        let p = path.field("goals").index(i);
        match index_of(name) {
            None => {
                out.report(&p, format!("unknown goal {name:?}: declare it under goals"));
                ok = false;
            }
            Some(_) if !seen.insert(name.as_str()) => {
                out.report(&p, format!("goal {name:?} is listed twice"));
                ok = false;
            }
            Some(g) => goals.push(g),
        }
    }
    let primary = match &w.primary_goal {
        None => goals.first().copied(),
        Some(name) if w.goals.contains(name) => index_of(name),
        Some(name) => {
            out.report(
                &path.field("primary_goal"),
                format!("{name:?} is not one of the experiment's goals"),
            );
            ok = false;
            None
        }
    };
    ok.then_some((goals, primary))
}

/// Records on each goal the experiments that list it; a goal needs the user's key, so an
/// experiment with goals in a service without key sources is refused.
pub(super) fn link(goals: &mut [Goal], services: &[Service], path: &Path, out: &mut Collector) {
    for (si, service) in services.iter().enumerate() {
        for (ei, exp) in service.experiments.iter().enumerate() {
            if !exp.goals.is_empty() && service.stickiness.sources.is_empty() {
                out.report(
                    &path.index(si).field("experiments").index(ei).field("goals"),
                    "goals are counted per user, and this service has no stickiness sources: add a cookie, header or query source (stickiness.sources)",
                );
            }
            for &g in &exp.goals {
                if let Some(goal) = goals.get_mut(g) {
                    goal.judged_by.push(Judged {
                        service: si,
                        experiment: ei,
                        conversion: Mark::conversion(exp.salt, goal.name.as_str()),
                    });
                }
            }
        }
    }
}

/// The marks cookie: as configured, or `veer_marks` for 90 days; never a key source's cookie.
pub(super) fn marks(
    w: Option<&WireAssignCookie>,
    key_sources: &[&KeySource],
    path: &Path,
    out: &mut Collector,
) -> Option<AssignCookie> {
    let mut w = w.cloned().unwrap_or_else(|| WireAssignCookie {
        name: DEFAULT_MARKS_COOKIE.to_owned(),
        ..WireAssignCookie::default()
    });
    w.max_age_seconds.get_or_insert(DEFAULT_MARKS_MAX_AGE);
    let clash = key_sources
        .iter()
        .any(|s| matches!(s, KeySource::Cookie(c) if *c == w.name));
    if clash {
        out.report(
            &path.field("name"),
            format!(
                "cookie {:?} is a stickiness source; the marks need a cookie of their own",
                w.name
            ),
        );
        return None;
    }
    assign_cookie(&w, path, out)
}
