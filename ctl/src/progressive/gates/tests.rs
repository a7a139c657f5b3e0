//! The gates and the decision from hand-made statuses: each gate's pass, fail and no-data case,
//! and the order of what a step's readings decide.

use super::*;
use crate::observe::srm::Verdict as Srm;
use crate::observe::status::{Latency, ServiceStatus, Status, VariantStatus};
use crate::progressive::decision::{decide, Decision};

const WHO: Subject<'static> = Subject {
    service: "web",
    variant: "v2",
    stable: "v1",
};

fn limits(min_requests: u64) -> Limits {
    Limits {
        max_error_rate: 1.0,
        max_p99: Some(Duration::from_millis(500)),
        max_p99_increase: Some(20.0),
        min_requests,
    }
}

/// A variant with `requests` (`errors` of them 5xx), latency p99 `p99_ms` over `samples`.
fn variant(
    name: &str,
    bp: i64,
    requests: u64,
    errors: u64,
    p99_ms: f64,
    samples: u64,
) -> VariantStatus {
    VariantStatus {
        name: name.into(),
        cluster: format!("web_{name}"),
        configured_bp: bp,
        split_requests: requests,
        requests,
        errors: Some(errors),
        latency: (samples > 0).then_some(Latency {
            samples,
            p50_us: p99_ms * 500.0,
            p99_us: p99_ms * 1000.0,
        }),
    }
}

fn status(variants: Vec<VariantStatus>, srm: Option<Srm>) -> Status {
    Status {
        configured_version: 3,
        window: "since the step went live".into(),
        proxies: Vec::new(),
        services: vec![ServiceStatus {
            name: "web".into(),
            split_requests: variants.iter().map(|v| v.split_requests).sum(),
            variants,
            cause: srm
                .as_ref()
                .filter(|v| v.mismatch)
                .map(|_| "a proxy runs an old config".into()),
            srm,
            experiments: Vec::new(),
        }],
    }
}

/// A variant's figures: weight (bp), requests, 5xx, p99 (ms), latency samples.
type Figures = (i64, u64, u64, f64, u64);

/// `web` with v1 and v2 as `v1` and `v2` say, and the split's verdict.
fn web(v1: Figures, v2: Figures, srm: Option<Srm>) -> Status {
    let of = |name, (bp, requests, errors, p99, samples): Figures| {
        variant(name, bp, requests, errors, p99, samples)
    };
    status(vec![of("v1", v1), of("v2", v2)], srm)
}

fn srm(p_value: f64, mismatch: bool) -> Option<Srm> {
    Some(Srm {
        total: 1000,
        chi2: 1.0,
        p_value,
        off: 0.0,
        mismatch,
        unexpected: Vec::new(),
    })
}

fn verdicts(readings: &[Reading]) -> Vec<(&str, Verdict)> {
    readings
        .iter()
        .map(|r| (r.gate.as_str(), r.verdict))
        .collect()
}

/// A healthy canary with enough data passes every gate.
#[test]
fn a_healthy_step_passes() {
    let st = web(
        (8000, 800, 0, 10.0, 800),
        (2000, 200, 1, 11.0, 200),
        srm(0.5, false),
    );
    let r = builtin(&limits(100), WHO, &st);
    assert_eq!(
        verdicts(&r),
        [
            ("requests", Verdict::Pass),
            ("error-rate", Verdict::Pass),
            ("p99", Verdict::Pass),
            ("p99-increase", Verdict::Pass),
            ("split", Verdict::Pass),
        ]
    );
    assert_eq!(decide(&r), Decision::Pass);
    assert_eq!(r[1].value, Some(0.5));
    assert_eq!(
        r[1].detail.as_deref(),
        Some("1 of 200 requests answered 5xx")
    );
    assert!((r[3].value.unwrap() - 10.0).abs() < 1e-9, "{:?}", r[3]);
}

/// 5xx are counted when answered, requests when they come: a window can hold answers of
/// requests from before it. The rate never goes over 100 %.
#[test]
fn the_error_rate_never_exceeds_every_request() {
    let st = web(
        (8000, 800, 0, 10.0, 800),
        (2000, 351, 353, 11.0, 300),
        srm(0.5, false),
    );
    let r = builtin(&limits(100), WHO, &st).remove(1);
    assert_eq!(r.value, Some(100.0));
    assert_eq!(
        r.detail.as_deref(),
        Some("353 of 353 requests answered 5xx")
    );
}

/// Too little traffic never passes: the step waits, and says for what.
#[test]
fn too_little_data_waits_and_never_passes() {
    let st = web((9000, 90, 0, 10.0, 0), (1000, 12, 0, 11.0, 3), None);
    let r = builtin(&limits(100), WHO, &st);
    assert_eq!(
        verdicts(&r),
        [
            ("requests", Verdict::NoData),
            ("error-rate", Verdict::NoData),
            ("p99", Verdict::NoData),
            ("p99-increase", Verdict::NoData),
            ("split", Verdict::Skipped),
        ]
    );
    let Decision::Wait(why) = decide(&r) else {
        panic!("{:?}", decide(&r));
    };
    assert_eq!(
        why[0],
        "requests: 12 of the 100 requests --min-requests asks for"
    );
    assert!(
        why[2].contains("3 of the 100 latency samples needed"),
        "{why:?}"
    );
    // No traffic at all with --min-requests 1 (the default) waits too.
    let none = web((9000, 0, 0, 0.0, 0), (1000, 0, 0, 0.0, 0), None);
    assert!(matches!(
        decide(&builtin(&limits(1), WHO, &none)),
        Decision::Wait(_)
    ));
    // With --min-requests 0 (a person decides, --manual) the gates say they saw nothing.
    let r = builtin(&limits(0), WHO, &none);
    assert_eq!(decide(&r), Decision::Pass);
    assert_eq!(r[1].verdict, Verdict::Skipped);
    assert_eq!(
        r[1].detail.as_deref(),
        Some("no requests reached it, so the error gate saw nothing")
    );
}

#[test]
fn errors_and_latency_over_their_limits_roll_back() {
    let st = web(
        (8000, 800, 0, 100.0, 800),
        (2000, 200, 4, 700.0, 200),
        srm(0.5, false),
    );
    let r = builtin(&limits(100), WHO, &st);
    assert_eq!(r[1].verdict, Verdict::Fail);
    assert_eq!(r[2].verdict, Verdict::Fail);
    assert_eq!(r[3].verdict, Verdict::Fail);
    let Decision::Fail(Action::Rollback, why) = decide(&r) else {
        panic!("{:?}", decide(&r));
    };
    assert!(
        why.starts_with("error-rate 2.00% (4 of 200 requests answered 5xx), above --max-error-rate 1%; p99 700 ms (over 200 responses), above --max-p99 500 ms; "),
        "{why}"
    );
    assert!(
        why.ends_with("p99-increase +600% (p99 700 ms against the stable variant's 100 ms), above --max-p99-increase 20%"),
        "{why}"
    );
}

/// The comparison with the stable variant: an increase within the limit passes, one above
/// fails; with the stable variant at 0 % there is nothing to compare with.
#[test]
fn p99_is_compared_with_the_stable_variant_of_the_same_window() {
    let only = |limit| Limits {
        max_p99: None,
        max_p99_increase: Some(limit),
        ..limits(10)
    };
    let st = web(
        (5000, 500, 0, 100.0, 500),
        (5000, 500, 0, 125.0, 500),
        srm(0.5, false),
    );
    let gate = |l: f64| builtin(&only(l), WHO, &st).remove(2);
    assert_eq!(gate(30.0).verdict, Verdict::Pass);
    assert_eq!(gate(20.0).verdict, Verdict::Fail);
    assert_eq!(
        gate(20.0).detail.as_deref(),
        Some("p99 125 ms against the stable variant's 100 ms")
    );
    let all_in = web(
        (0, 0, 0, 0.0, 0),
        (10000, 500, 0, 125.0, 500),
        srm(0.5, false),
    );
    let r = builtin(&only(20.0), WHO, &all_in).remove(2);
    assert_eq!(r.verdict, Verdict::Skipped, "{r:?}");
}

/// A split that does not fit its weights halts the run, naming the likely cause, and a gate
/// that rolls back wins over one that halts.
#[test]
fn a_split_mismatch_halts_and_a_rollback_wins() {
    let st = web(
        (9000, 500, 0, 10.0, 500),
        (1000, 500, 0, 10.0, 500),
        srm(1e-30, true),
    );
    let r = builtin(&limits(10), WHO, &st);
    let Decision::Fail(Action::Halt, why) = decide(&r) else {
        panic!("{:?}", decide(&r));
    };
    assert!(
        why.starts_with("split 50.00% breaks its limit between 7.5% 12.5% (of 1000 split requests, p=1e-30: the observed split does not match the configured one: a proxy runs an old config)"),
        "{why}"
    );
    let failing = web(
        (9000, 500, 0, 10.0, 500),
        (1000, 500, 100, 10.0, 500),
        srm(1e-30, true),
    );
    assert!(matches!(
        decide(&builtin(&limits(10), WHO, &failing)),
        Decision::Fail(Action::Rollback, _)
    ));
}

/// A deviation the test calls significant but that is small against the weight passes (sticky
/// users make requests far from independent); one within chance passes whatever its size.
#[test]
fn a_small_or_chance_deviation_of_the_split_passes() {
    let small = web(
        (5000, 460, 0, 10.0, 460),
        (5000, 540, 0, 10.0, 540),
        srm(1e-4, true),
    );
    let r = builtin(&limits(10), WHO, &small).remove(4);
    assert_eq!(
        (r.gate.as_str(), r.verdict),
        ("split", Verdict::Pass),
        "{r:?}"
    );
    assert_eq!(r.value, Some(54.0));
    let by_chance = web(
        (9500, 100, 0, 10.0, 100),
        (500, 1, 0, 10.0, 1),
        srm(0.1, false),
    );
    let r = builtin(&limits(1), WHO, &by_chance).remove(4);
    assert_eq!(r.verdict, Verdict::Pass, "{r:?}");
    assert!(r
        .detail
        .unwrap()
        .ends_with("off its weight, but within chance"));
}

#[test]
fn values_and_limits_show_in_their_units() {
    assert_eq!(Unit::Percent.show(0.5), "0.50%");
    assert_eq!(Unit::Change.show(12.4), "+12%");
    assert_eq!(Unit::Change.show(-3.0), "-3%");
    assert_eq!(Unit::Ms.show(12.345), "12.3 ms");
    assert_eq!(Unit::Ms.show(1500.0), "1500 ms");
    assert_eq!(Unit::P.show(0.000123), "p=1.23e-4");
    assert_eq!(Unit::P.show(0.001), "p=0.001");
    assert_eq!(Unit::Number.show(0.0123), "0.0123");
    let r = Reading::of(
        "p99",
        1.0,
        Unit::Ms,
        Condition::AtMost(500.0),
        Action::Rollback,
    );
    assert_eq!(r.limit(), "<= 500 ms");
    let r = Reading::of(
        "x",
        1.0,
        Unit::Change,
        Condition::AtMost(20.0),
        Action::Rollback,
    );
    assert_eq!(r.limit(), "<= 20%");
}
