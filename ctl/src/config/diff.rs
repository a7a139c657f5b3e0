//! What replacing one routing config with another changes: every field, found by a structural
//! walk of the two configs as serialised (so a field added to the config later is covered
//! without touching this file), plus what the engine says it does to users.
//!
//! Lists of named things (services, variants, rules, experiments, arms) are compared by name,
//! not by position, and a change of their order is reported on its own: services and rules match
//! in order, so order is behaviour.

use serde::Serialize;
use serde_json::{Map, Value};
use veer_filter::config::WireConfig;
use veer_filter::hash::{Bucket, BUCKETS};

use crate::config::edit::bp_to_percent;
use crate::config::owned_headers;

/// One difference.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Difference {
    /// Where, with named list items by name: `services[web].variants[v2].cluster`.
    pub path: String,
    /// What changed: `"a" -> "b"`, `added: ...`, `removed (was ...)`.
    pub change: String,
    /// Said loudly: the change moves users or needs an action elsewhere first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// Every difference between the live config and a new one. The version is left out: veerctl
/// stamps it on every change.
pub fn compare(old: &WireConfig, new: &WireConfig) -> Vec<Difference> {
    let (mut o, mut n) = (to_object(old), to_object(new));
    for m in [&mut o, &mut n] {
        m.remove("version");
    }
    let (os, ns) = (o.remove("services"), n.remove("services"));
    let mut out = Vec::new();
    walk_object("", &o, &n, &mut out);
    walk("services", os.as_ref(), ns.as_ref(), &mut out);
    for d in &mut out {
        d.warning = warning(&d.path, old, new);
    }
    header_renames(old, new, &mut out);
    for (name, split_path) in changed_service_splits(&out) {
        if let Some(d) = out.iter_mut().find(|d| d.path == split_path) {
            d.change.push_str(&users_moved(old, new, &name));
        }
    }
    out
}

fn to_object(w: &WireConfig) -> Map<String, Value> {
    match serde_json::to_value(w) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn walk(path: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<Difference>) {
    let change = match (old, new) {
        (Some(o), Some(n)) if o == n => return,
        (None, None) => return,
        (Some(Value::Object(o)), Some(Value::Object(n))) if !is_split(path) => {
            return walk_object(path, o, n, out)
        }
        (Some(Value::Array(o)), Some(Value::Array(n))) if keyed(o) && keyed(n) => {
            return walk_named(path, o, n, out)
        }
        (Some(o), Some(n)) => format!("{} -> {}", show(path, o), show(path, n)),
        (None, Some(n)) => format!("added: {}", show(path, n)),
        (Some(o), None) => format!("removed (was {})", show(path, o)),
    };
    out.push(Difference {
        path: path.to_owned(),
        change,
        warning: None,
    });
}

fn walk_object(
    path: &str,
    o: &Map<String, Value>,
    n: &Map<String, Value>,
    out: &mut Vec<Difference>,
) {
    let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let child = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        walk(&child, o.get(k), n.get(k), out);
    }
}

/// Compares lists of named objects by name; reports a new order of the common ones.
fn walk_named(path: &str, o: &[Value], n: &[Value], out: &mut Vec<Difference>) {
    let names = |items: &[Value]| items.iter().filter_map(key_of).collect::<Vec<_>>();
    let (on, nn) = (names(o), names(n));
    let common = |of: &[String], other: &[String]| {
        of.iter()
            .filter(|x| other.contains(x))
            .cloned()
            .collect::<Vec<_>>()
    };
    let (oc, nc) = (common(&on, &nn), common(&nn, &on));
    if oc != nc {
        out.push(Difference {
            path: format!("{path} order"),
            change: format!(
                "{} -> {} (the first that matches wins)",
                oc.join(", "),
                nc.join(", ")
            ),
            warning: None,
        });
    }
    let find = |items: &[Value], name: &str| {
        items
            .iter()
            .find(|v| key_of(v).as_deref() == Some(name))
            .cloned()
    };
    let mut all = on.clone();
    all.extend(nn.iter().filter(|x| !on.contains(x)).cloned());
    for name in all {
        let (a, b) = (find(o, &name), find(n, &name));
        walk(&format!("{path}[{name}]"), a.as_ref(), b.as_ref(), out);
    }
}

/// The name (or experiment id) that identifies a list item.
fn key_of(v: &Value) -> Option<String> {
    ["name", "id"]
        .iter()
        .find_map(|k| v.get(k).and_then(Value::as_str))
        .map(str::to_owned)
}

fn keyed(items: &[Value]) -> bool {
    let names: Vec<String> = items.iter().filter_map(key_of).collect();
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    !items.is_empty() && names.len() == items.len() && unique.len() == names.len()
}

fn is_split(path: &str) -> bool {
    path.ends_with(".split")
}

fn last_segment(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

/// A value for people; override keys are secrets and only counted, wherever they appear.
fn show(path: &str, v: &Value) -> String {
    match v {
        Value::Object(m) if is_split(path) => m
            .iter()
            .map(|(k, w)| {
                let weight = w.as_i64().map_or_else(|| w.to_string(), bp_to_percent);
                format!("{k} {weight}")
            })
            .collect::<Vec<_>>()
            .join(" | "),
        _ if last_segment(path) == "keys" => hide_keys(v).to_string(),
        _ => redact(v).to_string(),
    }
}

fn hide_keys(v: &Value) -> Value {
    match v {
        Value::Array(keys) => Value::String(format!("{} key(s), values hidden", keys.len())),
        _ => Value::String("values hidden".into()),
    }
}

fn redact(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x = if k == "keys" { hide_keys(x) } else { redact(x) };
                    (k.clone(), x)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// The service-level split lines: (service, path).
fn changed_service_splits(diffs: &[Difference]) -> Vec<(String, String)> {
    diffs
        .iter()
        .filter_map(|d| {
            let name = d.path.strip_prefix("services[")?.strip_suffix("].split")?;
            (!name.contains('[')).then(|| (name.to_owned(), d.path.clone()))
        })
        .collect()
}

/// Where a service's salt and split both stand in each config.
struct Sides<'a> {
    old: &'a veer_filter::config::wire::WireService,
    new: &'a veer_filter::config::wire::WireService,
}

fn sides<'a>(old: &'a WireConfig, new: &'a WireConfig, service: &str) -> Option<Sides<'a>> {
    Some(Sides {
        old: old.services.iter().find(|s| s.name == service)?,
        new: new.services.iter().find(|s| s.name == service)?,
    })
}

fn salt(s: &veer_filter::config::wire::WireService) -> &str {
    s.salt.as_deref().unwrap_or(&s.name)
}

/// How many users a service's split change moves.
fn users_moved(old: &WireConfig, new: &WireConfig, service: &str) -> String {
    match sides(old, new, service) {
        Some(s) if salt(s.old) != salt(s.new) => " (users re-bucketed by the salt change)".into(),
        _ => match moved_share(old, new, service) {
            Some(m) => format!(" (moves {:.2}% of users)", m * 100.0),
            None => String::new(),
        },
    }
}

/// Warns on the difference that renames a header the filter owns (`headers.cluster`, or
/// `headers` when the whole section appears): apply refuses it without a flag.
fn header_renames(old: &WireConfig, new: &WireConfig, out: &mut [Difference]) {
    let (Ok(o), Ok(n)) = (
        veer_filter::Config::from_wire(old),
        veer_filter::Config::from_wire(new),
    ) else {
        return;
    };
    for r in owned_headers::renames(&o, &n) {
        let prefix = r.field.split('.').next().unwrap_or(r.field);
        if let Some(d) = out
            .iter_mut()
            .find(|d| d.path == r.field || d.path == prefix)
        {
            d.warning = Some(format!(
                "renames the owned header {} from {:?} to {:?}: what reads the old name (the route's cluster_header, the apps) must change first; apply refuses it without --allow-header-rename",
                r.field, r.from, r.to
            ));
        }
    }
}

/// What to say loudly about the change at `path`.
fn warning(path: &str, old: &WireConfig, new: &WireConfig) -> Option<String> {
    if let Some(service) = path
        .strip_prefix("services[")
        .and_then(|p| p.strip_suffix("].salt"))
        .filter(|name| !name.contains('['))
    {
        let s = sides(old, new, service)?;
        return Some(format!(
            "the salt of {service} changes ({:?} -> {:?}): EVERY user of {service} is hashed into a new bucket, so sticky assignments are reshuffled at random: about {:.1}% of users change variant{}",
            salt(s.old),
            salt(s.new),
            reshuffled_share(s.old, s.new) * 100.0,
            if s.new.rules.iter().any(|r| r.split.is_some()) {
                ", and the splits of its cohort rules are reshuffled too"
            } else {
                ""
            }
        ));
    }
    if path.contains(".experiments[") && path.ends_with(".salt") {
        return Some(
            "an experiment's salt changes: every enrolled user is assigned an arm afresh, which breaks the experiment's comparison".into(),
        );
    }
    if path.contains("stickiness.sources") || path.ends_with("stickiness") {
        return Some(
            "where the stickiness key comes from changes: users whose key now comes from another source (or none) are hashed afresh and may change variant".into(),
        );
    }
    None
}

/// The share of users who change variant when a split is hashed with a new salt: with
/// independent hashes a user stays only where old and new assignments happen to agree.
fn reshuffled_share(
    old: &veer_filter::config::wire::WireService,
    new: &veer_filter::config::wire::WireService,
) -> f64 {
    let stay: f64 = new
        .split
        .iter()
        .map(|(variant, w)| {
            let before = old.split.get(variant).copied().unwrap_or(0);
            (before as f64 / 10_000.0) * (*w as f64 / 10_000.0)
        })
        .sum();
    1.0 - stay
}

/// Share of buckets whose default-split variant changes between two configs, computed with the
/// engine's own layout: exactly the share of sticky users who would move (salt unchanged).
pub fn moved_share(old: &WireConfig, new: &WireConfig, service: &str) -> Option<f64> {
    let (o, n) = (
        veer_filter::Config::from_wire(old).ok()?,
        veer_filter::Config::from_wire(new).ok()?,
    );
    let (os, ns) = (o.service(service)?, n.service(service)?);
    let moved = (0..BUCKETS)
        .filter(|b| {
            let bucket = Bucket::from_u64(u64::from(*b));
            let ov = os.variant(os.split.pick(bucket)).map(|v| v.name.as_str());
            let nv = ns.variant(ns.split.pick(bucket)).map(|v| v.name.as_str());
            ov != nv
        })
        .count();
    Some(moved as f64 / f64::from(BUCKETS))
}

#[cfg(test)]
mod tests;
