//! Cohort rules as `veerctl cohort` edits them: where a rule goes in the evaluation order
//! ([`Position`]), where it sends requests ([`Target`]), and each edit as data ([`CohortEdit`]):
//! planned on the rules read from the live config, applied only to rules that are still as it
//! found them, and with an exact inverse, which is what `cohort undo` applies. `reach` refuses a
//! rule that can never match and says which experiments and canaries a rule takes requests from.

pub mod reach;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use veer_filter::config::wire::{WireMatch, WireRule, WireService};
use veer_filter::config::WireConfig;

use super::edit::{bp_to_percent, percent_to_bp, service, service_mut};
use super::match_expr;
use crate::error::{CliError, Result};

/// Where a rule sends the requests it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// All of them to one variant.
    Variant(String),
    /// A split of the rule's own: variant -> basis points.
    Split(BTreeMap<String, i64>),
}

impl Target {
    /// Parses `--split v1=90,v2=10` (percentages with up to two decimals).
    pub fn parse_split(text: &str) -> Result<Target> {
        let mut split = BTreeMap::new();
        for part in text.split(',').map(str::trim) {
            let Some((variant, percent)) = part.split_once('=') else {
                return Err(CliError::failed(format!(
                    "--split {text:?}: {part:?} must look like VARIANT=PERCENT, e.g. v1=90,v2=10"
                )));
            };
            let bp = percent_to_bp(percent)
                .map_err(|e| CliError::failed(format!("--split {text:?}: {e}")))?;
            if split.insert(variant.trim().to_owned(), bp).is_some() {
                return Err(CliError::failed(format!(
                    "--split {text:?}: variant {variant:?} appears twice"
                )));
            }
        }
        Ok(Target::Split(split))
    }

    /// The target of `rule` (a rule the engine accepted has exactly one).
    pub fn of(rule: &WireRule) -> Target {
        match (&rule.variant, &rule.split) {
            (Some(v), _) => Target::Variant(v.clone()),
            (None, Some(s)) => Target::Split(s.clone()),
            (None, None) => Target::Split(BTreeMap::new()),
        }
    }

    fn set_on(&self, rule: &mut WireRule) {
        match self {
            Target::Variant(v) => {
                rule.variant = Some(v.clone());
                rule.split = None;
            }
            Target::Split(s) => {
                rule.variant = None;
                rule.split = Some(s.clone());
            }
        }
    }
}

impl fmt::Display for Target {
    /// `v2`, or a split as `v1 90% | v2 10%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Variant(v) => f.write_str(v),
            Target::Split(s) => {
                let parts: Vec<String> = s
                    .iter()
                    .map(|(v, bp)| format!("{v} {}", bp_to_percent(*bp)))
                    .collect();
                f.write_str(&parts.join(" | "))
            }
        }
    }
}

/// A rule as a new one is given on the command line.
pub fn new_rule(name: &str, matcher: WireMatch, target: &Target) -> WireRule {
    let mut rule = WireRule {
        name: name.to_owned(),
        match_: matcher,
        ..WireRule::default()
    };
    target.set_on(&mut rule);
    rule
}

/// Where a rule goes in its service's evaluation order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// Before every other rule.
    First,
    /// After every other rule (what `cohort add` does by default: no existing rule changes
    /// meaning).
    Last,
    /// Just before this rule.
    Before(String),
    /// Just after this rule.
    After(String),
}

impl Position {
    /// The index this position is in `rules` (which do not hold the rule being placed).
    fn index(&self, service: &str, rules: &[WireRule]) -> Result<usize> {
        Ok(match self {
            Position::First => 0,
            Position::Last => rules.len(),
            Position::Before(r) => find(service, rules, r)?,
            Position::After(r) => find(service, rules, r)? + 1,
        })
    }

    fn names(&self, rule: &str) -> bool {
        matches!(self, Position::Before(r) | Position::After(r) if r == rule)
    }
}

/// The index of rule `name`, or an error that lists the rules there are.
fn find(service: &str, rules: &[WireRule], name: &str) -> Result<usize> {
    rules.iter().position(|r| r.name == name).ok_or_else(|| {
        let known: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        CliError::failed(format!(
            "service {service:?} has no cohort rule {name:?} ({}); see `veerctl cohort list {service}`",
            if known.is_empty() {
                "it has no rules".to_owned()
            } else {
                format!("rules: {}", known.join(", "))
            }
        ))
    })
}

/// One change to a service's cohort rules, with what it needs to be undone exactly. Indices are
/// 0-based positions in the service's rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum CohortEdit {
    /// `rule` inserted at `at`.
    Add {
        /// The rule.
        rule: WireRule,
        /// Where it went.
        at: usize,
    },
    /// `rule`, which was at `at`, removed.
    Remove {
        /// The rule as it was.
        rule: WireRule,
        /// Where it was.
        at: usize,
    },
    /// Rule `rule` moved from `from` to `to` (its index in the rules after the move).
    Move {
        /// The rule's name.
        rule: String,
        /// Where it was.
        from: usize,
        /// Where it is.
        to: usize,
    },
    /// The rule at `at` changed from `before` to `after` (its match or its target).
    Set {
        /// Where it is.
        at: usize,
        /// The rule as it was.
        before: Box<WireRule>,
        /// The rule as it is.
        after: Box<WireRule>,
    },
}

impl CohortEdit {
    /// The edit that takes the rules back to where this one found them.
    pub fn inverse(&self) -> CohortEdit {
        match self.clone() {
            CohortEdit::Add { rule, at } => CohortEdit::Remove { rule, at },
            CohortEdit::Remove { rule, at } => CohortEdit::Add { rule, at },
            CohortEdit::Move { rule, from, to } => CohortEdit::Move {
                rule,
                from: to,
                to: from,
            },
            CohortEdit::Set { at, before, after } => CohortEdit::Set {
                at,
                before: after,
                after: before,
            },
        }
    }

    /// The name of the rule it changes.
    pub fn rule_name(&self) -> &str {
        match self {
            CohortEdit::Add { rule, .. } | CohortEdit::Remove { rule, .. } => &rule.name,
            CohortEdit::Move { rule, .. } => rule,
            CohortEdit::Set { after, .. } => &after.name,
        }
    }

    /// Where the rule it changes stands afterwards (`None`: it is gone).
    pub fn placed_at(&self) -> Option<usize> {
        match self {
            CohortEdit::Add { at, .. } | CohortEdit::Set { at, .. } => Some(*at),
            CohortEdit::Move { to, .. } => Some(*to),
            CohortEdit::Remove { .. } => None,
        }
    }

    /// Applies the edit to `rules`, which must be as it expects where it changes them (the rule
    /// it removes, moves or replaces is there, as it was; the rule it adds is not): otherwise
    /// they changed since it was planned, and it refuses rather than change something else.
    pub fn apply(&self, service: &str, rules: &mut Vec<WireRule>) -> Result<()> {
        let changed = |what: String| {
            CliError::conflict(format!(
                "the cohort rules of service {service:?} are not as this change expects: {what}; \
                 they changed meanwhile: see `veerctl cohort list {service}`"
            ))
        };
        match self {
            CohortEdit::Add { rule, at } => {
                if rules.iter().any(|r| r.name == rule.name) {
                    return Err(changed(format!("rule {:?} exists already", rule.name)));
                }
                if *at > rules.len() {
                    return Err(changed(format!("there is no position {}", at + 1)));
                }
                rules.insert(*at, rule.clone());
            }
            CohortEdit::Remove { rule, at } => {
                if rules.get(*at) != Some(rule) {
                    return Err(changed(format!(
                        "rule {:?} is not at position {} as it was",
                        rule.name,
                        at + 1
                    )));
                }
                rules.remove(*at);
            }
            CohortEdit::Move { rule, from, to } => {
                if rules.get(*from).map(|r| r.name.as_str()) != Some(rule) {
                    return Err(changed(format!(
                        "rule {rule:?} is not at position {}",
                        from + 1
                    )));
                }
                let moved = rules.remove(*from);
                if *to > rules.len() {
                    return Err(changed(format!("there is no position {}", to + 1)));
                }
                rules.insert(*to, moved);
            }
            CohortEdit::Set { at, before, after } => match rules.get_mut(*at) {
                Some(r) if r == before.as_ref() => *r = after.as_ref().clone(),
                _ => {
                    return Err(changed(format!(
                        "rule {:?} is not at position {} as it was",
                        before.name,
                        at + 1
                    )))
                }
            },
        }
        Ok(())
    }
}

impl CohortEdit {
    /// The command line that makes this edit on `service`, as the output and the history say it
    /// (`cohort add web employees`).
    pub fn command(&self, service: &str) -> String {
        match self {
            CohortEdit::Add { rule, .. } => format!("cohort add {service} {}", rule.name),
            CohortEdit::Remove { rule, .. } => format!("cohort remove {service} {}", rule.name),
            CohortEdit::Move { rule, from, to } => format!(
                "cohort move {service} {rule} (position {} -> {})",
                from + 1,
                to + 1
            ),
            CohortEdit::Set { after, .. } => format!("cohort set {service} {}", after.name),
        }
    }
}

/// Plans adding `rule` to `service` at `position`.
pub fn plan_add(service: &WireService, rule: WireRule, position: &Position) -> Result<CohortEdit> {
    if service.rules.iter().any(|r| r.name == rule.name) {
        return Err(CliError::failed(format!(
            "service {:?} has a cohort rule {:?} already; change it with `veerctl cohort set`, or pick another name",
            service.name, rule.name
        )));
    }
    let at = position.index(&service.name, &service.rules)?;
    Ok(CohortEdit::Add { rule, at })
}

/// Plans removing rule `name` of `service`.
pub fn plan_remove(service: &WireService, name: &str) -> Result<CohortEdit> {
    let at = find(&service.name, &service.rules, name)?;
    let rule = service.rules[at].clone();
    Ok(CohortEdit::Remove { rule, at })
}

/// Plans moving rule `name` of `service` to `position`; `None` when it is there already.
pub fn plan_move(
    service: &WireService,
    name: &str,
    position: &Position,
) -> Result<Option<CohortEdit>> {
    let from = find(&service.name, &service.rules, name)?;
    if position.names(name) {
        return Err(CliError::failed(format!(
            "rule {name:?} cannot be placed before or after itself"
        )));
    }
    let mut others = service.rules.clone();
    others.remove(from);
    let to = position.index(&service.name, &others)?;
    Ok((to != from).then(|| CohortEdit::Move {
        rule: name.to_owned(),
        from,
        to,
    }))
}

/// Plans changing the match and/or the target of rule `name`; `None` when it has them already.
pub fn plan_set(
    service: &WireService,
    name: &str,
    matcher: Option<WireMatch>,
    target: Option<&Target>,
) -> Result<Option<CohortEdit>> {
    let at = find(&service.name, &service.rules, name)?;
    let before = service.rules[at].clone();
    let mut after = before.clone();
    if let Some(m) = matcher {
        after.match_ = m;
    }
    if let Some(t) = target {
        t.set_on(&mut after);
    }
    Ok((after != before).then(|| CohortEdit::Set {
        at,
        before: Box::new(before),
        after: Box::new(after),
    }))
}

/// Applies `edit` to the rules of `service` in `wire`, provided they are still `expected` (the
/// rules it was planned on): a change made since, by anyone, is not overwritten.
pub fn apply_planned(
    wire: &mut WireConfig,
    service: &str,
    expected: &[WireRule],
    edit: &CohortEdit,
) -> Result<()> {
    let s = service_mut(wire, service)?;
    if s.rules != expected {
        return Err(CliError::conflict(format!(
            "the cohort rules of service {service:?} changed since veerctl read them (another \
             change was made meanwhile); run the command again"
        )));
    }
    edit.apply(service, &mut s.rules)
}

/// The rules of `service` in `wire`.
pub fn rules_of<'w>(wire: &'w WireConfig, name: &str) -> Result<&'w [WireRule]> {
    Ok(&service(wire, name)?.rules)
}

/// A rule's match in the command line's syntax.
pub fn render_match(rule: &WireRule) -> String {
    match_expr::render(&rule.match_)
}

#[cfg(test)]
mod tests;
