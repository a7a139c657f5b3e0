use std::collections::HashMap;

use veer_filter::decide::Inputs;

use super::*;
use crate::abi::MetricKind;
use crate::metrics::{Globals, Metrics};

/// A config's shared state with metric ids 1.. and their names, to read counters back by name.
fn shared(json: &str) -> (Shared, HashMap<usize, String>) {
    let config = veer_filter::Config::from_json(json).unwrap();
    let mut names = HashMap::new();
    let mut define = |_: MetricKind, name: &str| {
        let id = names.len() + 1;
        names.insert(id, name.to_owned());
        Some(id)
    };
    let globals = Globals::define(&mut define);
    let metrics = Metrics::define(&config, globals, &mut define);
    (Shared { config, metrics }, names)
}

fn counted(names: &HashMap<usize, String>, counters: &[Metric]) -> Vec<String> {
    counters
        .iter()
        .map(|m| {
            m.0.and_then(|id| names.get(&id).cloned())
                .unwrap_or_default()
        })
        .collect()
}

const WEB: &str = r#"{"version": 4,
    "stickiness": {"sources": [{"cookie": "uid"}], "assign_cookie": {"name": "uid"}},
    "override": {"enabled": true, "keys": ["native-test-key-0123456789"]},
    "services": [{"name": "web", "hosts": ["web.example.com"],
        "variants": [{"name": "v1", "cluster": "web_v1"}, {"name": "v2", "cluster": "web_v2"}],
        "split": {"v1": 5000, "v2": 5000},
        "experiments": [{"id": "checkout", "segment": {"path_prefix": "/shop"}, "arms": [
            {"name": "a", "variant": "v1", "weight": 5000}, {"name": "b", "variant": "v2", "weight": 5000}]}]}]}"#;

fn request<'a>(pairs: &'a [(&'a str, &'a str)]) -> RequestView<'a> {
    RequestView::from_pairs(
        pairs
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect(),
    )
}

#[test]
fn client_sent_owned_headers_are_removed_counted_and_unseen_by_the_engine() {
    let (shared, names) = shared(WEB);
    let headers = [
        (":authority", "web.example.com"),
        (":path", "/"),
        ("cookie", "uid=user-7"),
        ("x-veer-cluster", "web_v2"),
        ("x-veer-variant", "v2"),
        ("x-veer-experiment", "checkout=b"),
    ];
    let plan = plan(&shared, request(&headers), || 0, &mut || 1);
    assert_eq!(
        plan.remove,
        ["x-veer-cluster", "x-veer-variant", "x-veer-experiment"]
    );
    assert!(plan.reroutes());
    let spoofed = counted(&names, &plan.counters)
        .iter()
        .filter(|n| *n == "veer.spoofed_header_removed")
        .count();
    assert_eq!(spoofed, 3);
    // The decision is the engine's for the same request without those headers.
    let clean = request(&headers[..3]);
    let expected = veer_filter::decide(
        &shared.config,
        &clean,
        Inputs {
            now_unix: 0,
            random: &mut || 1,
        },
    )
    .unwrap();
    assert!(plan
        .add
        .contains(&("x-veer-cluster", expected.variant.cluster.as_str().into())));
}

#[test]
fn a_decision_writes_cluster_variant_and_assignment_and_counts_what_decided() {
    let (shared, names) = shared(WEB);
    let headers = [
        (":authority", "web.example.com"),
        (":path", "/shop/cart"),
        ("cookie", "uid=user-42"),
    ];
    let plan = plan(&shared, request(&headers), || 0, &mut || 1);
    assert!(plan.remove.is_empty());
    let written: Vec<&str> = plan.add.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        written,
        ["x-veer-cluster", "x-veer-variant", "x-veer-experiment"]
    );
    let (_, arm) = plan.add[2].1.split_once('=').unwrap();
    let counted = counted(&names, &plan.counters);
    let variant = &plan.add[1].1;
    assert_eq!(
        counted,
        [
            format!("veer.rq.web.{variant}"),
            format!("veer.exp.web.checkout.{arm}")
        ]
    );
    let routed = plan.routed.unwrap();
    assert!(routed.wants_status());

    let response = respond(&shared, routed, Some(b"503"));
    assert_eq!(response.set[0].0, "x-veer-experiment");
    assert!(response.add.is_empty(), "a user with a key gets no cookie");
    assert_eq!(
        super::tests::counted(&names, &response.counters),
        [format!("veer.rs.web.{variant}.5xx")]
    );
    assert!(!response.latency.is_empty());
}

#[test]
fn a_keyless_user_gets_a_minted_id_as_a_cookie() {
    let (shared, names) = shared(WEB);
    let headers = [(":authority", "web.example.com"), (":path", "/")];
    let plan = plan(&shared, request(&headers), || 0, &mut || 0xabc);
    let response = respond(&shared, plan.routed.unwrap(), Some(b"200"));
    assert_eq!(response.add.len(), 1);
    assert!(response.add[0]
        .1
        .starts_with("uid=0000000000000abc0000000000000abc"));
    let counted = counted(&names, &response.counters);
    assert!(counted.contains(&"veer.cookie.assigned".to_owned()));
}

#[test]
fn a_request_for_no_service_passes_and_loses_its_override_credential() {
    let (shared, names) = shared(WEB);
    let headers = [
        (":authority", "elsewhere.test"),
        (":path", "/"),
        ("x-veer-override", "v2.123.abc"),
    ];
    let mut asked = false;
    let plan = plan(
        &shared,
        request(&headers),
        || {
            asked = true;
            0
        },
        &mut || 1,
    );
    assert!(asked, "the clock is read for an override");
    assert_eq!(plan.remove, ["x-veer-override"]);
    assert!(plan.add.is_empty() && plan.routed.is_none());
    assert_eq!(
        counted(&names, &plan.counters),
        ["veer.passthrough", "veer.override.rejected"]
    );
}

#[test]
fn an_unreadable_status_counts_as_5xx() {
    let (shared, names) = shared(WEB);
    let headers = [(":authority", "web.example.com"), ("cookie", "uid=u")];
    for status in [None, Some(&b""[..]), Some(b"x12"), Some(b"\xff")] {
        let plan = plan(&shared, request(&headers), || 0, &mut || 1);
        let variant = plan.add[1].1.to_string();
        let response = respond(&shared, plan.routed.unwrap(), status);
        assert_eq!(
            counted(&names, &response.counters),
            [format!("veer.rs.web.{variant}.5xx")],
            "{status:?}"
        );
    }
}
