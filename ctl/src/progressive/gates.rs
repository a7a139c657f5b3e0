//! The gates of a progressive canary and what a step's readings decide. Pure: the figures come
//! from [`Status`] (what the proxies counted since the step went live, the one place veerctl
//! reads the filter's metrics) and from the gate file's queries; this module judges them.
//!
//! A step passes only on evidence: a gate without enough data is `NoData`, which holds the step
//! (it waits, then halts or rolls back as configured), never `Pass`. A failing gate rolls back
//! (or, as configured, halts) at once, even before the step's interval is over.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::condition::Condition;
use crate::observe::srm;
use crate::observe::status::{ServiceStatus, Status, VariantStatus};

/// What a failing gate does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// All traffic back to the stable variant; the run ends.
    Rollback,
    /// The run stops where it is (weights kept) and can be continued with `canary run` again.
    Halt,
}

/// One gate's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The value satisfies the condition.
    Pass,
    /// The value breaks the condition.
    Fail,
    /// Not enough data to judge: the step waits.
    NoData,
    /// The gate does not apply here (and says why): it neither holds nor passes the step.
    Skipped,
}

impl Verdict {
    /// As the JSON events and records spell it (`no-data`).
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NoData => "no-data",
            Verdict::Skipped => "skipped",
        }
    }
}

/// The unit a gate's value is in, for showing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    /// Percent of requests (`0.52%`).
    Percent,
    /// A relative change in percent (`+25%`).
    Change,
    /// Milliseconds.
    Ms,
    /// A count of requests.
    Requests,
    /// A p-value.
    P,
    /// A plain number (a query's result).
    Number,
}

impl Unit {
    /// `value` shown in this unit.
    pub fn show(self, value: f64) -> String {
        match self {
            Unit::Percent => format!("{value:.2}%"),
            Unit::Change => format!("{value:+.0}%"),
            Unit::Ms => format!("{} ms", significant(value)),
            Unit::Requests => format!("{value:.0}"),
            Unit::P => format!("p={}", significant(value)),
            Unit::Number => significant(value),
        }
    }

    /// A limit shown in this unit (without the sign of a change, which `+` makes clear).
    pub fn show_limit(self, limit: f64) -> String {
        match self {
            Unit::Percent | Unit::Change => format!("{}%", significant(limit)),
            Unit::P => significant(limit),
            _ => self.show(limit),
        }
    }
}

/// Up to 3 significant digits, without trailing zeros (`12.3`, `0.001`, `1500`; `1.2e-7` below
/// a thousandth).
fn significant(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    if v.abs() < 1e-3 {
        let text = format!("{v:.2e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exponent}");
    }
    let digits = (2 - v.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{v:.digits$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// One gate's reading over a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// The gate: `requests`, `error-rate`, `p99`, `p99-increase`, `split`, or a gate file's name.
    pub gate: String,
    /// Its value (`None`: no data).
    pub value: Option<f64>,
    /// The unit of `value` and of the condition's numbers.
    pub unit: Unit,
    /// What the value must satisfy.
    pub condition: Condition,
    /// The verdict.
    pub verdict: Verdict,
    /// What a failure does.
    pub on_failure: Action,
    /// What the figure is made of, or why there is none (`3 of 512 requests`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Reading {
    /// A reading of `value` against `condition`.
    pub fn of(
        gate: &str,
        value: f64,
        unit: Unit,
        condition: Condition,
        on_failure: Action,
    ) -> Reading {
        Reading {
            gate: gate.to_owned(),
            value: Some(value),
            unit,
            verdict: if condition.holds(value) {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            condition,
            on_failure,
            detail: None,
        }
    }

    /// A reading without a value: `verdict` is [`Verdict::NoData`] or [`Verdict::Skipped`].
    pub fn without(
        gate: &str,
        unit: Unit,
        condition: Condition,
        verdict: Verdict,
        why: String,
    ) -> Reading {
        Reading {
            gate: gate.to_owned(),
            value: None,
            unit,
            condition,
            verdict,
            on_failure: Action::Rollback,
            detail: Some(why),
        }
    }

    fn detail(mut self, detail: String) -> Reading {
        self.detail = Some(detail);
        self
    }

    /// The limit as shown: `<= 500 ms`.
    pub fn limit(&self) -> String {
        self.condition.show(|n| self.unit.show_limit(n))
    }
}

/// The built-in gates' limits, from `canary run`'s flags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// `--max-error-rate`: percent of the canary's requests that may answer 5xx.
    pub max_error_rate: f64,
    /// `--max-p99`: the canary's p99 latency.
    pub max_p99: Option<Duration>,
    /// `--max-p99-increase`: percent the canary's p99 may exceed the stable variant's.
    pub max_p99_increase: Option<f64>,
    /// `--min-requests`: requests (and latency samples) a step needs before it can pass. 0: a
    /// step with no data passes, saying the gates saw nothing.
    pub min_requests: u64,
}

/// Who the gates judge: the service, its canary and its stable variant.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The service.
    pub service: &'a str,
    /// The canary.
    pub variant: &'a str,
    /// The stable variant it is compared with.
    pub stable: &'a str,
}

/// The built-in gates' readings from `status` (what the proxies counted during the step).
pub fn builtin(limits: &Limits, who: Subject<'_>, status: &Status) -> Vec<Reading> {
    let svc = status.services.iter().find(|s| s.name == who.service);
    let variant = |name: &str| svc.and_then(|s| s.variants.iter().find(|v| v.name == name));
    let (canary, stable) = (variant(who.variant), variant(who.stable));
    let enough = limits.min_requests.max(1);
    let lacking = if limits.min_requests == 0 {
        Verdict::Skipped
    } else {
        Verdict::NoData
    };
    let requests = canary.map_or(0, |v| v.requests);
    let mut out = vec![requests_gate(limits.min_requests, requests)];
    out.push(error_rate(limits.max_error_rate, canary, enough, lacking));
    if let Some(max) = limits.max_p99 {
        out.push(p99(max, canary, enough, lacking));
    }
    if let Some(max) = limits.max_p99_increase {
        out.push(p99_increase(max, canary, stable, enough, lacking));
    }
    out.push(split(svc, canary));
    out
}

fn requests_gate(min: u64, requests: u64) -> Reading {
    let mut r = Reading::of(
        "requests",
        requests as f64,
        Unit::Requests,
        Condition::AtLeast(min as f64),
        Action::Halt,
    );
    // Too few requests is a reason to wait, never a failure.
    if r.verdict == Verdict::Fail {
        r.verdict = Verdict::NoData;
        r.detail = Some(format!(
            "{requests} of the {min} requests --min-requests asks for"
        ));
    }
    r
}

fn error_rate(max: f64, canary: Option<&VariantStatus>, enough: u64, lacking: Verdict) -> Reading {
    let condition = Condition::AtMost(max);
    match canary.filter(|v| v.requests >= enough) {
        Some(v) => {
            // Requests are counted when they come, 5xx when they are answered: over a window
            // the answers of requests from before it can make more 5xx than requests.
            let errors = v.errors.unwrap_or(0);
            let answered = v.requests.max(errors);
            let rate = errors as f64 / answered as f64 * 100.0;
            Reading::of(
                "error-rate",
                rate,
                Unit::Percent,
                condition,
                Action::Rollback,
            )
            .detail(format!("{errors} of {answered} requests answered 5xx"))
        }
        None => Reading::without(
            "error-rate",
            Unit::Percent,
            condition,
            lacking,
            "no requests reached it, so the error gate saw nothing".into(),
        ),
    }
}

fn p99(max: Duration, canary: Option<&VariantStatus>, enough: u64, lacking: Verdict) -> Reading {
    let condition = Condition::AtMost(max.as_secs_f64() * 1000.0);
    match canary
        .and_then(|v| v.latency)
        .filter(|l| l.samples >= enough)
    {
        Some(l) => Reading::of(
            "p99",
            l.p99_us / 1000.0,
            Unit::Ms,
            condition,
            Action::Rollback,
        )
        .detail(format!("over {} responses", l.samples)),
        None => Reading::without(
            "p99",
            Unit::Ms,
            condition,
            lacking,
            too_few_samples(canary, enough),
        ),
    }
}

fn p99_increase(
    max: f64,
    canary: Option<&VariantStatus>,
    stable: Option<&VariantStatus>,
    enough: u64,
    lacking: Verdict,
) -> Reading {
    let condition = Condition::AtMost(max);
    let without =
        |verdict, why| Reading::without("p99-increase", Unit::Change, condition, verdict, why);
    if stable.is_some_and(|s| s.configured_bp == 0) {
        return without(
            Verdict::Skipped,
            "the stable variant gets no traffic at this step: nothing to compare with".into(),
        );
    }
    let latency =
        |v: Option<&VariantStatus>| v.and_then(|v| v.latency).filter(|l| l.samples >= enough);
    match (latency(canary), latency(stable)) {
        (Some(c), Some(s)) if s.p99_us > 0.0 => Reading::of(
            "p99-increase",
            (c.p99_us / s.p99_us - 1.0) * 100.0,
            Unit::Change,
            condition,
            Action::Rollback,
        )
        .detail(format!(
            "p99 {} against the stable variant's {}",
            Unit::Ms.show(c.p99_us / 1000.0),
            Unit::Ms.show(s.p99_us / 1000.0)
        )),
        (Some(_), _) => without(
            lacking,
            format!("stable variant: {}", too_few_samples(stable, enough)),
        ),
        (None, _) => without(lacking, too_few_samples(canary, enough)),
    }
}

/// Why a latency figure is missing.
fn too_few_samples(v: Option<&VariantStatus>, enough: u64) -> String {
    let samples = v.and_then(|v| v.latency).map_or(0, |l| l.samples);
    format!(
        "{samples} of the {enough} latency samples needed (Envoy publishes latency at each stats flush, every 5 s by default)"
    )
}

/// How far (relative) the canary's observed share of the split may be from its weight before a
/// significant sample-ratio mismatch stops the run: the same bound the sample-ratio check itself
/// applies ([`srm::MATERIAL`]).
pub const SPLIT_TOLERANCE: f64 = srm::MATERIAL;

/// The split as a gate: the canary's observed share of the default split must fit its weight. A
/// mismatch means the step's weight did not take effect everywhere (a proxy on an old config, a
/// second routing layer), so the run halts.
///
/// It fails when the sample-ratio test flags the split (p < 0.001, or traffic to a variant at
/// 0 %) and the canary's share is off its weight by more than [`SPLIT_TOLERANCE`] of it. The test
/// alone is not enough: users are sticky, so one user's requests all go to one variant and are
/// not the independent draws it assumes; a few busy users then make a small, harmless deviation
/// look significant. A weight that did not take effect is off by far more.
fn split(svc: Option<&ServiceStatus>, variant: Option<&VariantStatus>) -> Reading {
    let (Some(s), Some(v)) = (svc, variant) else {
        return Reading::without(
            "split",
            Unit::Percent,
            Condition::AtLeast(0.0),
            Verdict::Skipped,
            "the service or the variant is not in the status".into(),
        );
    };
    let weight = v.configured_bp as f64 / 100.0;
    let condition = Condition::Between(
        weight * (1.0 - SPLIT_TOLERANCE),
        weight * (1.0 + SPLIT_TOLERANCE),
    );
    let Some(srm) = &s.srm else {
        return Reading::without(
            "split",
            Unit::Percent,
            condition,
            Verdict::Skipped,
            format!(
                "fewer than {} split requests: too few to test",
                srm::MIN_SAMPLE
            ),
        );
    };
    let share = v.split_requests as f64 / s.split_requests.max(1) as f64 * 100.0;
    let mut r = Reading::of("split", share, Unit::Percent, condition, Action::Halt);
    let off = r.verdict == Verdict::Fail;
    r.verdict = if srm.mismatch && (off || !srm.unexpected.is_empty()) {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    let p = Unit::P.show(srm.p_value);
    let verdict = r.verdict;
    r.detail(match (verdict, off) {
        (Verdict::Fail, _) => format!(
            "of {} split requests, {p}: the observed split does not match the configured one: {}",
            srm.total,
            s.cause.as_deref().unwrap_or_default()
        ),
        (_, true) => format!(
            "of {} split requests, {p}: off its weight, but within chance",
            srm.total
        ),
        _ => format!("of {} split requests, {p}", srm.total),
    })
}

#[cfg(test)]
mod tests;
