//! What a step's readings decide: roll back, halt, wait or pass, with the reason a person reads.

use super::condition::Condition;
use super::gates::{Action, Reading, Verdict};

/// What a step's readings decide.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Every gate passed (or does not apply).
    Pass,
    /// Some gates lack data: wait; each reason names the gate.
    Wait(Vec<String>),
    /// A gate failed: act; the reason names the gate, its value and its limit.
    Fail(Action, String),
}

/// The decision of `readings`: a failure that rolls back over one that halts, over waiting,
/// over passing.
pub fn decide(readings: &[Reading]) -> Decision {
    let failed = |action| {
        readings
            .iter()
            .filter(|r| r.verdict == Verdict::Fail && r.on_failure == action)
            .map(failure)
            .collect::<Vec<_>>()
    };
    for action in [Action::Rollback, Action::Halt] {
        let reasons = failed(action);
        if !reasons.is_empty() {
            return Decision::Fail(action, reasons.join("; "));
        }
    }
    let waiting: Vec<String> = readings
        .iter()
        .filter(|r| r.verdict == Verdict::NoData)
        .map(|r| format!("{}: {}", r.gate, r.detail.as_deref().unwrap_or("no data")))
        .collect();
    if waiting.is_empty() {
        Decision::Pass
    } else {
        Decision::Wait(waiting)
    }
}

/// Why `r` failed: for a flag's gate, `p99 812 ms (over 912 responses), above --max-p99 500 ms`;
/// for the others, `error-ratio 0.05 breaks its limit < 0.01`.
fn failure(r: &Reading) -> String {
    let value = r
        .value
        .map_or_else(|| "no value".to_owned(), |v| r.unit.show(v));
    let detail = r
        .detail
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    match (flag(&r.gate), r.condition) {
        (Some(flag), Condition::AtMost(limit)) => format!(
            "{} {value}{detail}, above {flag} {}",
            r.gate,
            r.unit.show_limit(limit)
        ),
        _ => format!("{} {value} breaks its limit {}{detail}", r.gate, r.limit()),
    }
}

/// The flag that sets built-in gate `gate`'s limit.
pub fn flag(gate: &str) -> Option<&'static str> {
    match gate {
        "error-rate" => Some("--max-error-rate"),
        "p99" => Some("--max-p99"),
        "p99-increase" => Some("--max-p99-increase"),
        "requests" => Some("--min-requests"),
        _ => None,
    }
}
