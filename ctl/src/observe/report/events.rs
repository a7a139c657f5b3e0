//! An app's own events (`--events FILE`), for what the proxy cannot see (revenue, a signup in a
//! native app): JSON lines of a user id, an event name, a timestamp, an optional value and
//! optionally the arm the app recorded.
//!
//! Each user's arm is recomputed with the engine from the user id (the stickiness key the proxy
//! reads), exactly as the proxy placed them; a recorded arm that disagrees is a broken
//! integration (the app reads the wrong header, caches an old assignment...), reported with
//! examples. Lines that cannot be read are reported with their numbers and the rest is used.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use veer_filter::config::Experiment;

/// Examples of each problem kept for the report.
const EXAMPLES: usize = 10;

/// One line as the app writes it.
#[derive(Debug, Deserialize)]
struct Line {
    user: String,
    event: String,
    timestamp: Timestamp,
    #[serde(default)]
    value: Option<f64>,
    #[serde(default)]
    arm: Option<String>,
}

/// Unix seconds, or RFC 3339 text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Timestamp {
    Unix(f64),
    Text(String),
}

/// One event, read and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The user id: the stickiness key the proxy reads (the `uid` cookie, ...).
    pub user: String,
    /// Event name.
    pub event: String,
    /// Unix seconds.
    pub at: f64,
    /// A value (revenue), if any.
    pub value: Option<f64>,
    /// The arm the app recorded, if any.
    pub arm: Option<String>,
}

/// A line that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Malformed {
    /// Line number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub error: String,
}

/// The events of a file, and the lines that could not be read.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// Lines that were not blank.
    pub lines: usize,
    /// The events read.
    pub events: Vec<Event>,
    /// The lines that could not be read, in order.
    pub malformed: Vec<Malformed>,
}

/// Reads JSON lines; never fails: every line that cannot be read is reported with its number.
pub fn parse(bytes: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.lines += 1;
        match event(raw) {
            Ok(e) => out.events.push(e),
            Err(error) => out.malformed.push(Malformed { line: i + 1, error }),
        }
    }
    out
}

fn event(raw: &[u8]) -> Result<Event, String> {
    let text = std::str::from_utf8(raw).map_err(|e| format!("not UTF-8 ({e})"))?;
    let line: Line = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if line.user.is_empty() || line.event.is_empty() {
        return Err("`user` and `event` must not be empty".into());
    }
    if line.value.is_some_and(|v| !v.is_finite()) {
        return Err("`value` must be a finite number".into());
    }
    let at = match line.timestamp {
        Timestamp::Unix(t) if t.is_finite() => t,
        Timestamp::Unix(_) => return Err("`timestamp` must be finite".into()),
        Timestamp::Text(t) => humantime::parse_rfc3339_weak(&t)
            .map_err(|e| format!("`timestamp` {t:?} is not RFC 3339 or unix seconds ({e})"))?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
    };
    Ok(Event {
        user: line.user,
        event: line.event,
        at,
        value: line.value,
        arm: line.arm,
    })
}

/// A user whose recorded arm is not the one the engine gives their id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// User id.
    pub user: String,
    /// The arm the app recorded.
    pub recorded: String,
    /// The arm the engine gives the id (`None`: the allocation does not enrol it).
    pub computed: Option<String>,
}

/// The events joined with an experiment: per metric, per arm, per user.
#[derive(Debug, Clone, Default)]
pub struct Joined {
    /// Per event name: per arm (index), each user's summed value (users without a value: 0)
    /// and whether any of its events carried a value.
    pub metrics: BTreeMap<String, EventMetric>,
    /// What the join found, for the report.
    pub summary: EventSummary,
}

/// One event name's data per arm.
#[derive(Debug, Clone, Default)]
pub struct EventMetric {
    /// Some event carried a value: a value metric (revenue per user), else a conversion.
    pub valued: bool,
    /// Per arm index: user -> summed value.
    pub per_arm: BTreeMap<usize, BTreeMap<String, f64>>,
}

/// What the events contributed, and what was left out and why.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EventSummary {
    /// The file.
    pub file: String,
    /// Lines that were not blank.
    pub lines: usize,
    /// Events used.
    pub used: usize,
    /// Lines that could not be read (all of them, with their numbers).
    pub malformed: Vec<Malformed>,
    /// Events before the experiment started (left out).
    pub before_start: usize,
    /// Users the experiment's allocation does not enrol (their events left out).
    pub not_enrolled_users: usize,
    /// Users placed in an arm.
    pub users: usize,
    /// Users whose recorded arm disagrees with the engine's.
    pub arm_mismatches: usize,
    /// Some of them.
    pub mismatch_examples: Vec<Mismatch>,
    /// Metrics that could not be analysed, and why.
    pub left_out: Vec<String>,
}

/// Joins `parsed` with `experiment`: events from `start` (unix seconds) on, each user placed
/// by the engine.
pub fn join(file: &str, parsed: Parsed, experiment: &Experiment, start: Option<f64>) -> Joined {
    let mut j = Joined::default();
    let s = &mut j.summary;
    s.file = file.to_owned();
    s.lines = parsed.lines;
    s.malformed = parsed.malformed;
    let mut placed: BTreeMap<String, Option<usize>> = BTreeMap::new();
    let mut mismatched = BTreeSet::new();
    for e in parsed.events {
        if start.is_some_and(|t| e.at < t) {
            s.before_start += 1;
            continue;
        }
        let arm = *placed.entry(e.user.clone()).or_insert_with(|| {
            let p = experiment.place(e.user.as_bytes());
            p.enrolled.then_some(p.arm)
        });
        let name_of = |i: usize| experiment.arms.get(i).map(|a| a.name.to_string());
        if let Some(recorded) = &e.arm {
            if arm.and_then(name_of).as_deref() != Some(recorded.as_str())
                && mismatched.insert(e.user.clone())
                && s.mismatch_examples.len() < EXAMPLES
            {
                s.mismatch_examples.push(Mismatch {
                    user: e.user.clone(),
                    recorded: recorded.clone(),
                    computed: arm.and_then(name_of),
                });
            }
        }
        let Some(arm) = arm else { continue };
        s.used += 1;
        let metric = j.metrics.entry(e.event).or_default();
        metric.valued |= e.value.is_some();
        *metric
            .per_arm
            .entry(arm)
            .or_default()
            .entry(e.user)
            .or_default() += e.value.unwrap_or(0.0);
    }
    s.arm_mismatches = mismatched.len();
    s.users = placed.values().filter(|a| a.is_some()).count();
    s.not_enrolled_users = placed.len() - s.users;
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind of bad line is reported with its number and the good ones are kept; nothing
    /// panics on bytes that are not text.
    #[test]
    fn bad_lines_are_reported_by_number_and_the_rest_is_read() {
        let text = b"{\"user\": \"u1\", \"event\": \"buy\", \"timestamp\": 1700000000, \"value\": 12.5}\n\
            \n\
            not json\n\
            {\"user\": \"u2\", \"event\": \"buy\"}\n\
            {\"user\": \"u3\", \"event\": \"buy\", \"timestamp\": \"yesterday\"}\n\
            {\"user\": \"\", \"event\": \"buy\", \"timestamp\": 1}\n\
            \xff\xfe\n\
            {\"user\": \"u4\", \"event\": \"signup\", \"timestamp\": \"2026-01-02T03:04:05Z\", \"arm\": \"b\"}\r\n";
        let p = parse(text);
        assert_eq!(p.lines, 7);
        let lines: Vec<usize> = p.malformed.iter().map(|m| m.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7], "{:?}", p.malformed);
        assert!(
            p.malformed[1].error.contains("missing field `timestamp`"),
            "{:?}",
            p.malformed
        );
        assert!(p.malformed[2].error.contains("yesterday"));
        assert!(p.malformed[4].error.contains("not UTF-8"));
        assert_eq!(p.events.len(), 2);
        assert_eq!(p.events[0].value, Some(12.5));
        assert_eq!(p.events[1].at, 1_767_323_045.0);
        assert_eq!(p.events[1].arm.as_deref(), Some("b"));
    }
}
