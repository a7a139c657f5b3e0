//! Weighted splits: observed traffic matches the configured weights, users stick, and raising
//! the canary moves no canary user back.

use std::collections::BTreeSet;

use crate::support::{assert_within_tolerance, tally, web_config, Rig};

/// Users per measured step: enough that 1 % is ~40 users, cheap enough for loopback.
const USERS: usize = 4000;

#[test]
fn observed_split_matches_configured_weights_at_1_20_50_99_percent_and_three_variants() {
    let steps: [&[(&str, u64)]; 5] = [
        &[("v1", 9900), ("v2", 100)],
        &[("v1", 8000), ("v2", 2000)],
        &[("v1", 5000), ("v2", 5000)],
        &[("v1", 100), ("v2", 9900)],
        &[("v1", 5000), ("v2", 3000), ("v3", 2000)],
    ];
    let rig = Rig::start(&web_config(1, steps[0]));
    for (i, split) in steps.iter().enumerate() {
        let version = i as u64 + 1;
        if i > 0 {
            rig.apply(&web_config(version, split));
        }
        let before = rig.envoy.stats().unwrap();
        let served = rig.serve_users(&format!("split{i}"), USERS);
        let counts = tally(served.iter().map(|(_, s)| s.as_str()));
        let after = rig.envoy.stats().unwrap();
        for (variant, bp) in split.iter() {
            let observed = counts.get(*variant).copied().unwrap_or(0);
            assert_within_tolerance(
                &format!("step {version} {variant}"),
                observed,
                USERS as u64,
                *bp,
                4.5,
            );
            // The proxy's own counters agree with what the clients saw.
            let counted = after.veer(&format!("rq.web.{variant}"))
                - before.veer(&format!("rq.web.{variant}"));
            assert_eq!(
                counted, observed,
                "step {version}: veer.rq.web.{variant} vs responses"
            );
        }
        let total: u64 = counts.values().sum();
        assert_eq!(
            total, USERS as u64,
            "every response came from a configured variant: {counts:?}"
        );
    }
    // Every request reached an upstream exactly once (no retries hiding failures).
    let served: u64 = rig.upstreams.iter().map(|u| u.served()).sum();
    assert_eq!(served, 5 * USERS as u64);
}

#[test]
fn a_user_always_lands_on_the_same_variant() {
    let rig = Rig::start(&web_config(1, &[("v1", 5000), ("v2", 3000), ("v3", 2000)]));
    for user in 0..100 {
        let uid = format!("sticky-{user}");
        let first = rig.client.get_as(&uid).unwrap().served_by().to_owned();
        for _ in 0..10 {
            assert_eq!(
                rig.client.get_as(&uid).unwrap().served_by(),
                first,
                "user {uid} moved"
            );
        }
        // The header source gives the same key, so the same answer.
        let by_header = rig
            .client
            .get("/", &[("x-user-id", uid.as_bytes())])
            .unwrap();
        assert_eq!(by_header.served_by(), first, "user {uid} via x-user-id");
    }
}

#[test]
fn raising_the_canary_from_20_to_50_percent_moves_no_canary_user_back() {
    let rig = Rig::start(&web_config(1, &[("v1", 8000), ("v2", 2000)]));
    let at_20: BTreeSet<String> = rig
        .serve_users("raise", USERS)
        .into_iter()
        .filter(|(_, s)| s == "v2")
        .map(|(u, _)| u)
        .collect();
    assert_within_tolerance(
        "canary at 20 %",
        at_20.len() as u64,
        USERS as u64,
        2000,
        4.5,
    );

    rig.apply(&web_config(2, &[("v1", 5000), ("v2", 5000)]));
    let at_50 = rig.serve_users("raise", USERS);
    let moved_back: Vec<&String> = at_50
        .iter()
        .filter(|(u, s)| at_20.contains(u) && s != "v2")
        .map(|(u, _)| u)
        .collect();
    assert!(
        moved_back.is_empty(),
        "{} canary users went back to stable: {:?}",
        moved_back.len(),
        &moved_back[..moved_back.len().min(5)]
    );
    let canary_now = at_50.iter().filter(|(_, s)| s == "v2").count() as u64;
    assert_within_tolerance("canary at 50 %", canary_now, USERS as u64, 5000, 4.5);
}
