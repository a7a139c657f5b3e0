//! Decoding a parsed document (a routing config, a gate file) into its type, reporting every
//! problem instead of the first: serde stops at the first error, so each one is repaired in a copy
//! and decoding runs again.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use serde_path_to_error::Segment;

/// At most this many decode problems are reported; each one costs a few decodes of the document.
pub(super) const MAX_DECODE_PROBLEMS: usize = 50;

/// Values tried in place of a node of the wrong type, so that decoding can go on past it: the
/// first that decodes at that place stands in for it.
fn placeholders() -> [Value; 6] {
    [
        Value::Null,
        Value::String(String::new()),
        Value::from(0),
        Value::Bool(false),
        Value::Array(Vec::new()),
        Value::Object(Map::new()),
    ]
}

/// Decodes `value`, reporting every problem serde finds rather than the first: after each, the
/// offending node is repaired (an unknown field removed, a wrong-typed or missing value replaced
/// by a placeholder that decodes there, so no consequential "missing field" follows) and decoding
/// starts again. `None` when decoding cannot go on; a repaired config is for counting problems
/// only, and the caller refuses the file when anything was reported.
pub(super) fn decode_all<T: DeserializeOwned>(
    mut value: Value,
    report: &mut dyn FnMut(String, String),
) -> Option<T> {
    for _ in 0..MAX_DECODE_PROBLEMS {
        let e = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(wire) => return Some(wire),
            Err(e) => e,
        };
        let mut target: Vec<Segment> = e.path().iter().cloned().collect();
        let message = e.inner().to_string();
        report(display(&target), message.clone());
        let repaired = if message.starts_with("unknown field") {
            remove(&mut value, &target)
        } else {
            if let Some(field) = missing_field(&message) {
                target.push(Segment::Map { key: field });
            }
            fit_placeholder::<T>(&mut value, &target)
        };
        if !repaired {
            return None;
        }
    }
    None
}

/// `missing field `x`` -> `x`.
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split_once('`').map(|(f, _)| f.to_owned())
}

/// Puts the first placeholder that decodes at `target`, judged by where the next error (if any)
/// is: anywhere but at or below `target`.
fn fit_placeholder<T: DeserializeOwned>(value: &mut Value, target: &[Segment]) -> bool {
    let at = display(target);
    for candidate in placeholders() {
        let mut trial = value.clone();
        if !set(&mut trial, target, candidate) {
            return false;
        }
        let fits = match serde_path_to_error::deserialize::<_, T>(trial.clone()) {
            Ok(_) => true,
            Err(e) => {
                let next = display(&e.path().iter().cloned().collect::<Vec<_>>());
                next != at
                    && !next.starts_with(&format!("{at}."))
                    && !next.starts_with(&format!("{at}["))
            }
        };
        if fits {
            *value = trial;
            return true;
        }
    }
    false
}

/// The path as veerctl prints paths (`services[0].split.v2`; the document is `$`).
fn display(path: &[Segment]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } if out.is_empty() => out.push_str(key),
            Segment::Map { key } => out.push_str(&format!(".{key}")),
            Segment::Enum { .. } | Segment::Unknown => out.push_str(".?"),
        }
    }
    if out.is_empty() {
        "$".to_owned()
    } else {
        out
    }
}

/// The node that holds `path`'s last segment.
fn parent_mut<'v>(value: &'v mut Value, path: &[Segment]) -> Option<&'v mut Value> {
    let (_, up) = path.split_last()?;
    up.iter().try_fold(value, |v, s| match (s, v) {
        (Segment::Seq { index }, Value::Array(items)) => items.get_mut(*index),
        (Segment::Map { key }, Value::Object(map)) => map.get_mut(key),
        _ => None,
    })
}

fn set(value: &mut Value, path: &[Segment], new: Value) -> bool {
    match (path.last(), parent_mut(value, path)) {
        (Some(Segment::Seq { index }), Some(Value::Array(items))) if *index < items.len() => {
            items[*index] = new;
            true
        }
        (Some(Segment::Map { key }), Some(Value::Object(map))) => {
            map.insert(key.clone(), new);
            true
        }
        _ => false,
    }
}

fn remove(value: &mut Value, path: &[Segment]) -> bool {
    match (path.last(), parent_mut(value, path)) {
        (Some(Segment::Map { key }), Some(Value::Object(map))) => map.remove(key).is_some(),
        _ => false,
    }
}
