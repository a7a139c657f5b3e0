//! What a cohort rule can reach, proved from the matchers alone (`Match::covers`, a conservative
//! proof: "covers" is never claimed wrongly, but some coverings go unproved): a rule that can
//! never match because earlier rules take every request it would, or that would leave a later
//! rule nothing to match, is refused; and the experiments and canary splits a rule takes requests
//! from are named, with whether it takes all of them or possibly some.

use veer_filter::config::wire::WireService;
use veer_filter::config::{Config, Problem, Problems, Service};
use veer_filter::matcher::Match;

use crate::error::{CliError, Result};

/// Refuses rule `at` of service `name` in `config` (validated) when it can never match, or when
/// it would leave a later rule nothing to match: an invalid config (exit code 3), with the
/// rules that cause it named.
pub fn check(config: &Config, name: &str, at: usize) -> Result<()> {
    let Some((index, service)) = config
        .services
        .iter()
        .enumerate()
        .find(|(_, s)| s.name.as_str() == name)
    else {
        return Ok(());
    };
    let Some(rule) = service.rules.get(at) else {
        return Ok(());
    };
    let problem = |message: String| {
        CliError::invalid_edit(Problems(vec![Problem {
            path: format!("services[{index}].rules[{at}]"),
            message,
        }]))
    };
    if let Some(earlier) = shadowed_by(service, at) {
        let place = match earlier.as_slice() {
            [(_, one)] => format!("that rule (--before {one})"),
            _ => "them".to_owned(),
        };
        return Err(problem(format!(
            "rule {:?} can never match: {} every request it would; place it before {place} or change its match",
            rule.name.as_str(),
            takes(&earlier),
        )));
    }
    let later = service
        .rules
        .iter()
        .enumerate()
        .skip(at + 1)
        .find(|(_, r)| rule.matcher.covers(&r.matcher));
    if let Some((j, r)) = later {
        return Err(problem(format!(
            "rule {:?} would take every request of rule {:?} (position {}), which could then never match; place it after that rule (--after {}) or remove that rule first",
            rule.name.as_str(),
            r.name.as_str(),
            j + 1,
            r.name.as_str()
        )));
    }
    Ok(())
}

/// The earlier rules of `service` that together take every request rule `at` would match (one
/// rule when one is enough, else the fewest of them found by dropping the others in turn);
/// `None` when that is not provable.
fn shadowed_by(service: &Service, at: usize) -> Option<Vec<(usize, &str)>> {
    let rule = service.rules.get(at)?;
    let earlier = service.rules.get(..at)?;
    if let Some((i, r)) = earlier
        .iter()
        .enumerate()
        .find(|(_, r)| r.matcher.covers(&rule.matcher))
    {
        return Some(vec![(i, r.name.as_str())]);
    }
    let union = |keep: &[usize]| {
        let parts = keep
            .iter()
            .filter_map(|i| earlier.get(*i).map(|r| r.matcher.clone()));
        Match::Any(parts.collect()).covers(&rule.matcher)
    };
    let mut keep: Vec<usize> = (0..earlier.len()).collect();
    if !union(&keep) {
        return None;
    }
    let mut k = 0;
    while k < keep.len() {
        let mut without = keep.clone();
        without.remove(k);
        if union(&without) {
            keep = without;
        } else {
            k += 1;
        }
    }
    Some(
        keep.into_iter()
            .filter_map(|i| earlier.get(i).map(|r| (i, r.name.as_str())))
            .collect(),
    )
}

/// `rule "a" (position 1) takes`, or `rules "a" (position 1) and "b" (position 3) together take`.
fn takes(rules: &[(usize, &str)]) -> String {
    let named: Vec<String> = rules
        .iter()
        .map(|(i, n)| format!("{n:?} (position {})", i + 1))
        .collect();
    match named.as_slice() {
        [one] => format!("rule {one} takes"),
        _ => format!("rules {} together take", named.join(" and ")),
    }
}

/// Where a rule's requests came from before it: what it takes them from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An experiment, by id.
    Experiment(String),
    /// The service's default split, a canary (two or more variants with weight).
    Canary,
}

/// An experiment or canary that rule takes requests from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taking {
    /// What it takes from.
    pub source: Source,
    /// Every request of it matches the rule (proved); otherwise some may, how many is unknown.
    pub all: bool,
}

/// The running experiments and the canary split that rule `at` of service `name` takes requests
/// from: each experiment whose segment the rule may overlap and that no earlier rule already
/// empties, and the default split when it is a canary. Without a proof that the two cannot
/// overlap, they are assumed to.
pub fn takes_from(config: &Config, wire: &WireService, at: usize) -> Vec<Taking> {
    let Some(service) = config.service(&wire.name) else {
        return Vec::new();
    };
    let (Some(rule), Some(earlier)) = (service.rules.get(at), service.rules.get(..at)) else {
        return Vec::new();
    };
    let everyone = Match::All(Vec::new());
    let mut out = Vec::new();
    for e in &service.experiments {
        let segment = e.segment.as_ref().unwrap_or(&everyone);
        if earlier.iter().any(|r| r.matcher.covers(segment)) {
            continue;
        }
        out.push(Taking {
            source: Source::Experiment(e.id.as_str().to_owned()),
            all: rule.matcher.covers(segment),
        });
    }
    if wire.split.values().filter(|bp| **bp > 0).count() >= 2 {
        out.push(Taking {
            source: Source::Canary,
            all: rule.matcher.covers(&everyone),
        });
    }
    out
}
