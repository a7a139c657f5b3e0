//! `compute` from hand-made snapshots: what each line of `status` says, and when.

use serde_json::json;

use super::*;
use crate::history::Change;
use crate::observe::latency::{Bin, Histogram};

const A: &str = "http://127.0.0.1:9901";
const B: &str = "http://127.0.0.1:9902";

/// Service `web` with variants v1, v2 and the split given in bp.
fn config(version: u64, v1: i64, v2: i64) -> WireConfig {
    serde_json::from_value(json!({
        "version": version,
        "services": [{
            "name": "web",
            "variants": [{ "name": "v1", "cluster": "web_v1" }, { "name": "v2", "cluster": "web_v2" }],
            "split": { "v1": v1, "v2": v2 }
        }]
    }))
    .unwrap()
}

/// A proxy at `url` running `version` whose default split sent `v1` and `v2` requests.
fn snap(url: &str, version: u64, v1: u64, v2: u64) -> Snapshot {
    let mut s = Snapshot {
        url: url.to_owned(),
        ..Snapshot::default()
    };
    for (k, v) in [
        ("config.version", version),
        ("split.web.v1", v1),
        ("rq.web.v1", v1),
        ("split.web.v2", v2),
        ("rq.web.v2", v2),
    ] {
        s.veer.insert(k.to_owned(), v);
    }
    s
}

/// `n` latency values of about `us` microseconds (two significant digits).
fn latency(us: u32, n: u64) -> Histogram {
    let e = us.ilog10() - 1;
    let m = i64::from(us / 10u32.pow(e));
    Histogram::from(vec![(Bin { m, e: e as i32 }, n)])
}

struct Case {
    config: WireConfig,
    snapshots: Vec<(String, Result<Snapshot, String>)>,
    baselines: Baselines,
    history: Vec<Entry>,
}

impl Case {
    fn new(config: WireConfig, snapshots: Vec<Snapshot>) -> Case {
        Case {
            config,
            snapshots: snapshots
                .into_iter()
                .map(|s| (s.url.clone(), Ok(s)))
                .collect(),
            baselines: Baselines::new(),
            history: Vec::new(),
        }
    }

    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            version: self.config.version.unwrap(),
            config: &self.config,
            digest: None,
            snapshots: &self.snapshots,
            baselines: &self.baselines,
            window: SINCE_LAST_CHANGE,
            history: &self.history,
        }
    }

    fn compute(&self) -> Status {
        compute(&self.inputs())
    }
}

fn web(s: &Status) -> &ServiceStatus {
    &s.services[0]
}

fn cause(s: &Status) -> &str {
    web(s).cause.as_deref().expect("a likely cause")
}

#[test]
fn counts_are_summed_over_proxies_minus_each_ones_baseline() {
    let mut case = Case::new(
        config(2, 8000, 2000),
        vec![snap(A, 2, 1000, 300), snap(B, 2, 500, 100)],
    );
    case.baselines.insert(A.into(), snap(A, 2, 400, 150));
    // B has no baseline (it was not verified by the last change): all of its counts count.
    let s = case.compute();
    let v: Vec<u64> = web(&s).variants.iter().map(|v| v.split_requests).collect();
    assert_eq!(v, [600 + 500, 150 + 100]);
    assert_eq!(web(&s).split_requests, 1350);
    assert_eq!(web(&s).variants[0].requests, 1100);
    assert!((web(&s).variants[0].observed_share(1350) - 1100.0 / 1350.0).abs() < 1e-12);
}

#[test]
fn a_proxy_restarted_since_its_baseline_counts_nothing_rather_than_underflowing() {
    let mut case = Case::new(config(2, 5000, 5000), vec![snap(A, 2, 10, 10)]);
    case.baselines.insert(A.into(), snap(A, 2, 900, 900));
    let s = case.compute();
    assert_eq!(web(&s).split_requests, 0);
}

#[test]
fn latency_is_merged_over_proxies_minus_each_ones_baseline() {
    let mut a = snap(A, 2, 100, 0);
    a.latency.insert("web.v1".into(), latency(250, 100));
    let mut b = snap(B, 2, 50, 0);
    let mut b_latency = latency(250, 50);
    // B's slow responses were all before the change: its baseline holds them.
    b_latency.merge(&latency(90_000, 40));
    b.latency.insert("web.v1".into(), b_latency.clone());
    let mut case = Case::new(config(2, 10000, 0), vec![a, b.clone()]);
    let mut b_base = snap(B, 2, 0, 0);
    b_base.latency.insert("web.v1".into(), latency(90_000, 40));
    case.baselines.insert(B.into(), b_base);
    let v1 = web(&case.compute()).variants[0].latency.unwrap();
    assert_eq!(v1.samples, 150);
    assert!(v1.p99_us < 260.0, "{v1:?}");

    // Without B's baseline, its slow responses are in the window and dominate p99.
    case.baselines.clear();
    let v1 = web(&case.compute()).variants[0].latency.unwrap();
    assert_eq!(v1.samples, 190);
    assert!(v1.p99_us >= 90_000.0, "{v1:?}");
}

#[test]
fn no_traffic_yet_gives_no_verdict_no_cause_and_no_latency() {
    let s = Case::new(config(1, 5000, 5000), vec![snap(A, 1, 0, 0)]).compute();
    assert_eq!(web(&s).split_requests, 0);
    assert_eq!(web(&s).srm, None);
    assert_eq!(web(&s).cause, None);
    for v in &web(&s).variants {
        assert_eq!(v.observed_share(0), 0.0);
        assert_eq!(v.errors, Some(0));
        assert_eq!(v.error_rate(), Some(0.0));
        assert_eq!(v.latency, None);
    }
}

#[test]
fn a_matching_split_is_ok_and_names_no_cause() {
    let s = Case::new(config(1, 8000, 2000), vec![snap(A, 1, 795, 205)]).compute();
    assert!(!web(&s).srm.as_ref().unwrap().mismatch);
    assert_eq!(web(&s).cause, None);
}

#[test]
fn errors_count_5xx_since_the_change_and_give_a_rate() {
    let mut a = snap(A, 1, 900, 100);
    a.veer.insert("rs.web.v2.5xx".into(), 7);
    let mut case = Case::new(config(1, 9000, 1000), vec![a]);
    let mut base = snap(A, 1, 0, 0);
    base.veer.insert("rs.web.v2.5xx".into(), 2);
    case.baselines.insert(A.into(), base);
    let s = case.compute();
    let v2 = &web(&s).variants[1];
    assert_eq!(v2.errors, Some(5));
    assert_eq!(v2.error_rate(), Some(0.05));
}

#[test]
fn errors_and_latency_are_off_not_zero_when_response_metrics_are_off() {
    let mut config = config(1, 9000, 1000);
    config.metrics = serde_json::from_value(json!({ "responses": false })).unwrap();
    let mut a = snap(A, 1, 900, 100);
    // Even if a histogram is left over from before metrics were turned off.
    a.latency.insert("web.v2".into(), latency(300, 100));
    let s = Case::new(config, vec![a]).compute();
    for v in &web(&s).variants {
        assert_eq!(v.errors, None, "{v:?}");
        assert_eq!(v.error_rate(), None);
        assert_eq!(v.latency, None);
    }
    // Routing counts are still there.
    assert_eq!(web(&s).split_requests, 1000);
}

#[test]
fn an_unreachable_proxy_is_reported_and_the_others_still_count() {
    let mut case = Case::new(config(1, 5000, 5000), vec![snap(A, 1, 60, 40)]);
    case.snapshots
        .push((B.into(), Err(format!("cannot reach Envoy admin at {B}"))));
    let s = case.compute();
    assert_eq!(s.proxies[1].version, None);
    assert!(s.proxies[1].error.as_deref().unwrap().contains(B));
    assert_eq!(web(&s).split_requests, 100);
}

#[test]
fn a_mismatch_with_a_stale_proxy_names_that_proxy() {
    let s = Case::new(
        config(3, 5000, 5000),
        vec![snap(A, 3, 500, 500), snap(B, 2, 900, 100)],
    )
    .compute();
    assert!(web(&s).srm.as_ref().unwrap().mismatch);
    let c = cause(&s);
    assert!(c.starts_with("a proxy still runs an old config"), "{c}");
    assert!(
        c.contains(&format!("{B} runs version 2 (configured 3)")),
        "{c}"
    );
    assert!(!c.contains(A), "{c}");
}

/// What each proxy runs: the configured config, another version, the bootstrap's fallback
/// (version 0 with no file accepted: Envoy's ECDS version text is empty), or another config
/// under the configured version (its digest differs, where the digest is known).
#[test]
fn each_proxy_is_told_apart_by_version_fallback_and_digest() {
    let digest = |s: Snapshot, d: u64| {
        let mut s = s;
        s.veer.insert("config.digest".into(), d);
        s.ecds_version = Some(s.version());
        s
    };
    let mut fallback = snap("http://fallback", 0, 0, 0);
    fallback.ecds.insert("update_rejected".into(), 1);
    let mut hand_written = snap("http://hand-written-version-0", 0, 0, 0);
    hand_written.ecds_version = Some(0);
    let mut case = Case::new(
        config(3, 5000, 5000),
        vec![
            digest(snap(A, 3, 500, 500), 42),
            digest(snap(B, 3, 500, 500), 43),
            snap("http://stale", 2, 0, 0),
            fallback,
            hand_written,
        ],
    );
    let runs = |s: &Status| s.proxies.iter().map(|p| p.runs).collect::<Vec<_>>();
    let with_digest = compute(&Inputs {
        digest: Some(42),
        ..case.inputs()
    });
    assert_eq!(
        runs(&with_digest),
        [
            Runs::Configured,
            Runs::OtherConfig,
            Runs::Stale,
            Runs::Fallback,
            Runs::Stale
        ]
    );
    assert_eq!(with_digest.proxies[3].rejected_updates, 1);
    // Without a digest to compare (Kubernetes), the version alone decides.
    assert_eq!(runs(&case.compute())[1], Runs::Configured);
    case.snapshots.truncate(1);
    assert_eq!(runs(&case.compute()), [Runs::Configured]);
}

#[test]
fn a_mismatch_that_fits_an_earlier_split_names_that_change() {
    let mut case = Case::new(config(3, 5000, 5000), vec![snap(A, 3, 805, 195)]);
    case.history = vec![
        Entry {
            version: 2,
            what: "canary set-weight web v2 20".into(),
            change: Change::Other {
                what: "canary set-weight web v2 20".into(),
            },
            splits_before: None,
            at: 0,
            before: Some(config(1, 10000, 0)),
            before_wasm: None,
            before_module: None,
            rejected: false,
        },
        Entry {
            version: 3,
            what: "canary set-weight web v2 50".into(),
            change: Change::Other {
                what: "canary set-weight web v2 50".into(),
            },
            splits_before: None,
            at: 0,
            before: Some(config(2, 8000, 2000)),
            before_wasm: None,
            before_module: None,
            rejected: false,
        },
    ];
    let s = case.compute();
    let c = cause(&s);
    assert!(
        c.starts_with("the traffic fits the split before version 3 (canary set-weight web v2 50)"),
        "{c}"
    );
}

#[test]
fn a_mismatch_that_fits_nothing_known_lists_the_usual_suspects() {
    let mut case = Case::new(config(2, 5000, 5000), vec![snap(A, 2, 700, 300)]);
    case.history = vec![Entry {
        version: 2,
        what: "canary set-weight web v2 50".into(),
        change: Change::Other {
            what: "canary set-weight web v2 50".into(),
        },
        splits_before: None,
        at: 0,
        before: Some(config(1, 10000, 0)),
        before_wasm: None,
        before_module: None,
        rejected: false,
    }];
    let c = cause(&case.compute()).to_owned();
    assert!(
        c.starts_with("the split differs from the configured one beyond chance"),
        "{c}"
    );
    assert!(c.contains("second routing layer"), "{c}");
}

#[test]
fn traffic_to_a_zero_weight_variant_is_a_mismatch_even_when_the_rest_fits() {
    let s = Case::new(config(1, 10000, 0), vec![snap(A, 1, 995, 5)]).compute();
    let verdict = web(&s).srm.as_ref().unwrap();
    assert!(verdict.mismatch);
    assert_eq!(verdict.unexpected, ["v2"]);
    assert!(web(&s).cause.is_some());
}

/// `config(version, 5000, 5000)` with experiment `checkout` enrolling 20 % into arms a (v1) and
/// b (v2), 50/50.
fn with_experiment(version: u64) -> WireConfig {
    let mut c = config(version, 5000, 5000);
    c.services[0].experiments = vec![serde_json::from_value(json!({
        "id": "checkout",
        "allocation": 2000,
        "arms": [
            { "name": "a", "variant": "v1", "weight": 5000 },
            { "name": "b", "variant": "v2", "weight": 5000 }
        ]
    }))
    .unwrap()];
    c
}

/// `s` with `a` and `b` assignments to experiment `checkout`.
fn assigned(mut s: Snapshot, a: u64, b: u64) -> Snapshot {
    s.veer.insert("exp.web.checkout.a".into(), a);
    s.veer.insert("exp.web.checkout.b".into(), b);
    s
}

#[test]
fn experiment_arms_are_counted_since_the_change_over_proxies_and_tested_for_a_mismatch() {
    let mut case = Case::new(
        with_experiment(2),
        vec![
            assigned(snap(A, 2, 500, 500), 130, 120),
            assigned(snap(B, 2, 500, 500), 100, 100),
        ],
    );
    case.baselines
        .insert(A.into(), assigned(snap(A, 2, 0, 0), 30, 20));
    let s = case.compute();
    let e = &web(&s).experiments[0];
    assert_eq!((e.id.as_str(), e.allocation_bp), ("checkout", 2000));
    let arms: Vec<(&str, &str, i64, u64)> = e
        .arms
        .iter()
        .map(|a| {
            (
                a.name.as_str(),
                a.variant.as_str(),
                a.configured_bp,
                a.assigned,
            )
        })
        .collect();
    assert_eq!(arms, [("a", "v1", 5000, 200), ("b", "v2", 5000, 200)]);
    assert_eq!(e.assigned, 400);
    assert!(!e.srm.as_ref().expect("a verdict").mismatch);
    assert_eq!(e.cause, None);

    let s = Case::new(
        with_experiment(2),
        vec![assigned(snap(A, 2, 500, 500), 700, 300)],
    )
    .compute();
    let e = &web(&s).experiments[0];
    assert!(e.srm.as_ref().expect("a verdict").mismatch);
    assert!(
        e.cause
            .as_deref()
            .unwrap()
            .starts_with("the arms' shares differ beyond chance"),
        "{:?}",
        e.cause
    );
    // The default split itself is fine: only the experiment is flagged.
    assert!(!web(&s).srm.as_ref().unwrap().mismatch);
}

#[test]
fn an_experiment_mismatch_with_a_stale_proxy_names_that_proxy_and_little_traffic_gives_no_verdict()
{
    let s = Case::new(
        with_experiment(3),
        vec![assigned(snap(A, 2, 500, 500), 700, 300)],
    )
    .compute();
    let cause = web(&s).experiments[0].cause.as_deref().unwrap().to_owned();
    assert!(
        cause.contains(&format!("{A} runs version 2 (configured 3)")),
        "{cause}"
    );

    let s = Case::new(
        with_experiment(1),
        vec![assigned(snap(A, 1, 500, 500), 60, 20)],
    )
    .compute();
    let e = &web(&s).experiments[0];
    assert_eq!(
        (e.assigned, e.srm.is_none(), e.cause.is_none()),
        (80, true, true)
    );
}
