//! Properties the rollout promises hold for every weight, not just the ones we thought of:
//! splits deliver their weights, raising a weight or an allocation never reshuffles the users
//! already there, and no request, however malformed, makes `decide` panic.
//!
//! Case counts keep the whole file to a few seconds in a debug build.

// Tests may panic: the no-panic rule (filter/Cargo.toml) is for the code Envoy runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg(not(target_arch = "wasm32"))]

use proptest::prelude::*;
use serde_json::{json, Value};
use veer_filter::decide::DecidedBy;
use veer_filter::{decide, Config, Decision, Inputs, RequestView};

/// Any split of 10000 bp over `n` entries, zero weights and 100 % included: `n - 1` cut points
/// anywhere in `0..=10000`, often near either end so that tiny first and last weights (a 0.1 %
/// canary, the buckets at the edges) are common.
fn weights(n: usize) -> impl Strategy<Value = Vec<u16>> {
    let cut = prop_oneof![0u16..=10_000, 0u16..=50, 9_950u16..=10_000];
    prop::collection::vec(cut, n - 1).prop_map(|mut cuts| {
        cuts.sort_unstable();
        let mut prev = 0;
        let mut out: Vec<u16> = cuts
            .iter()
            .map(|&c| {
                let w = c - prev;
                prev = c;
                w
            })
            .collect();
        out.push(10_000 - prev);
        out
    })
}

fn variant_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("v{i}")).collect()
}

/// One service, keyed by `x-user-id`, split over `names` (declared in that order) by `weights`.
fn split_config(names: &[String], weights: &[u16], experiments: Value) -> Config {
    let variants: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "cluster": format!("c-{n}")}))
        .collect();
    let split: serde_json::Map<String, Value> = names
        .iter()
        .zip(weights)
        .map(|(n, w)| (n.clone(), json!(w)))
        .collect();
    let text = json!({
        "stickiness": {"sources": [{"header": "x-user-id"}]},
        "services": [{"name": "web", "variants": variants, "split": split, "experiments": experiments}]
    });
    Config::from_json(&text.to_string()).unwrap_or_else(|e| panic!("{e}"))
}

fn decide_key<'c>(config: &'c Config, key: &str) -> Decision<'c> {
    let h = vec![("x-user-id".to_owned(), key.as_bytes().to_vec())];
    let mut random = || 0;
    decide(
        config,
        &RequestView::new(&h),
        Inputs {
            now_unix: 0,
            random: &mut random,
        },
    )
    .expect("web matches every request")
}

fn variant_of(config: &Config, key: &str) -> usize {
    decide_key(config, key).variant_index
}

/// Keys that look like real user ids, different for every `seed`.
fn keys(seed: u64, n: usize) -> impl Iterator<Item = String> {
    (0..n).map(move |i| format!("{seed:016x}-user-{i}"))
}

/// `n` variants (2..=max) and a weight for each.
fn split_of(max: usize) -> impl Strategy<Value = (usize, Vec<u16>)> {
    (2..=max).prop_flat_map(|n| (Just(n), weights(n)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Each variant's share of many keys is within 5 sigma of its weight (binomial), so a
    /// 1 % canary gets about 1 % of users, whatever the other weights.
    #[test]
    fn observed_split_matches_the_weights((n, w) in split_of(3), seed in any::<u64>()) {
        const KEYS: usize = 20_000;
        let c = split_config(&variant_names(n), &w, json!([]));
        let mut counts = vec![0usize; n];
        for key in keys(seed, KEYS) {
            counts[variant_of(&c, &key)] += 1;
        }
        for (i, (&count, &bp)) in counts.iter().zip(&w).enumerate() {
            let p = f64::from(bp) / 10_000.0;
            let expected = KEYS as f64 * p;
            let sigma = (KEYS as f64 * p * (1.0 - p)).sqrt();
            prop_assert!(
                (count as f64 - expected).abs() <= 5.0 * sigma,
                "variant {i}: {count} of {KEYS} keys for {bp} bp (expected {expected:.0} +- {:.0}); weights {w:?}",
                5.0 * sigma
            );
        }
    }
}

/// Old weights, the index raised, and new weights where that entry rose by exactly what the
/// others (each by any amount, possibly zero) gave up.
fn raise_one() -> impl Strategy<Value = (Vec<u16>, usize, Vec<u16>)> {
    split_of(6)
        .prop_flat_map(|(n, old)| (Just(old), 0..n, prop::collection::vec(0.0f64..=1.0, n)))
        .prop_map(|(old, raised, cuts)| {
            let mut new = old.clone();
            let mut freed = 0u16;
            for (i, cut) in cuts.iter().enumerate() {
                if i != raised {
                    // The cast truncates toward zero, so the drop never exceeds the weight.
                    let drop = (f64::from(old[i]) * cut) as u16;
                    new[i] -= drop;
                    freed += drop;
                }
            }
            new[raised] += freed;
            (old, raised, new)
        })
}

/// An experiment over `variants` with `arm_weights`, allocation `allocation`, for everyone.
fn experiment(arm_weights: &[u16], allocation: u16) -> Value {
    let arms: Vec<Value> = arm_weights
        .iter()
        .enumerate()
        .map(|(i, w)| json!({"name": format!("arm{i}"), "variant": format!("v{i}"), "weight": w}))
        .collect();
    json!([{"id": "exp", "allocation": allocation, "arms": arms}])
}

/// (arm index) when the experiment enrolled the key.
fn arm_of(config: &Config, key: &str) -> Option<usize> {
    match decide_key(config, key).by {
        DecidedBy::Experiment { arm_index, .. } => Some(arm_index),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Raising one variant while the others only fall keeps every user it had.
    #[test]
    fn raising_a_weight_keeps_its_users((old, raised, new) in raise_one(), seed in any::<u64>()) {
        let names = variant_names(old.len());
        let (before, after) = (split_config(&names, &old, json!([])), split_config(&names, &new, json!([])));
        for key in keys(seed, 1_000) {
            if variant_of(&before, &key) == raised {
                prop_assert_eq!(variant_of(&after, &key), raised, "key {} left v{} going {:?} -> {:?}", key, raised, old, new);
            }
        }
    }

    /// Lowering a canary (in either declaration order) only sends canary users to stable; no
    /// stable user is ever moved onto the canary it is being rolled back from.
    #[test]
    fn lowering_a_canary_moves_only_canary_users(
        (old, new) in (0u16..=10_000).prop_flat_map(|old| (Just(old), 0..=old)),
        canary_first in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let names: Vec<String> = if canary_first { vec!["canary".into(), "stable".into()] } else { vec!["stable".into(), "canary".into()] };
        let with_canary_at = |bp: u16| if canary_first { vec![bp, 10_000 - bp] } else { vec![10_000 - bp, bp] };
        let before = split_config(&names, &with_canary_at(old), json!([]));
        let after = split_config(&names, &with_canary_at(new), json!([]));
        let canary = usize::from(!canary_first);
        for key in keys(seed, 1_000) {
            let (b, a) = (variant_of(&before, &key), variant_of(&after, &key));
            prop_assert!(!(b != canary && a == canary), "key {} moved stable -> canary going {} -> {} bp", key, old, new);
        }
    }

    /// Raising an experiment's allocation only adds users: the enrolled stay enrolled, in the
    /// same arm.
    #[test]
    fn raising_allocation_keeps_enrolled_users_in_their_arm(
        (n, arm_weights) in split_of(4),
        (old, new) in (0u16..=10_000).prop_flat_map(|old| (Just(old), old..=10_000)),
        seed in any::<u64>(),
    ) {
        let names = variant_names(n);
        let even = vec![10_000 / n as u16; n];
        let mut split = even;
        split[0] += 10_000 - split.iter().sum::<u16>();
        let before = split_config(&names, &split, experiment(&arm_weights, old));
        let after = split_config(&names, &split, experiment(&arm_weights, new));
        for key in keys(seed, 1_000) {
            if let Some(arm) = arm_of(&before, &key) {
                prop_assert_eq!(arm_of(&after, &key), Some(arm), "key {} going {} -> {} bp", key, old, new);
            }
        }
    }
}

/// Every feature that reads the request: hosts, path prefixes, all matcher kinds, experiments,
/// the override, all key sources and a minted cookie, with a catch-all last.
const RICH: &str = r#"{
  "stickiness": {"sources": [{"cookie": "uid"}, {"header": "x-user-id"}, {"query": "uid"}], "assign_cookie": {"name": "uid"}},
  "override": {"enabled": true, "keys": ["0123456789abcdef0123"]},
  "services": [
    {"name": "api", "hosts": ["api.example.com", "*.api.example.com"], "path_prefix": "/v1",
     "variants": [{"name": "a", "cluster": "a"}, {"name": "b", "cluster": "b"}], "split": {"a": 5000, "b": 5000}},
    {"name": "web",
     "variants": [{"name": "stable", "cluster": "s"}, {"name": "canary", "cluster": "c"}, {"name": "beta", "cluster": "b"}],
     "rules": [
       {"name": "r1", "match": {"all": [{"header": "x-staff", "prefix": "y"}, {"not": {"cookie": "opt-out", "present": true}}]}, "variant": "canary"},
       {"name": "r2", "match": {"any": [{"query": "beta", "equals": "1"}, {"path_prefix": "/beta"}, {"cookie": "beta", "absent": false}]},
        "split": {"canary": 3000, "beta": 7000}}
     ],
     "experiments": [
       {"id": "e1", "segment": {"header": "x-country", "equals": "nl"}, "allocation": 5000,
        "arms": [{"name": "x", "variant": "stable", "weight": 5000}, {"name": "y", "variant": "beta", "weight": 5000}]},
       {"id": "e2", "arms": [{"name": "x", "variant": "canary", "weight": 1}, {"name": "y", "variant": "beta", "weight": 9999}], "allocation": 100}
     ],
     "split": {"stable": 9000, "canary": 1000}}
  ]
}"#;

/// Header names: the ones the config reads, plus anything at all.
fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            ":authority",
            ":path",
            "host",
            "cookie",
            "x-user-id",
            "x-staff",
            "x-country",
            "x-veer-override"
        ])
        .prop_map(str::to_owned),
        "[a-z:-]{0,12}",
        any::<String>(),
    ]
}

/// Header values: raw bytes, huge runs, cookie lists with hundreds of entries, near-valid
/// overrides, paths with odd queries.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        (any::<u8>(), 0usize..200_000).prop_map(|(b, n)| vec![b; n]),
        prop::collection::vec(
            ("[a-z=;\" ]{0,6}", prop::collection::vec(any::<u8>(), 0..8)),
            0..400
        )
        .prop_map(|pairs| {
            let mut v = Vec::new();
            for (name, value) in pairs {
                v.extend_from_slice(name.as_bytes());
                v.push(b'=');
                v.extend_from_slice(&value);
                v.extend_from_slice(b"; ");
            }
            v
        }),
        ("[a-z]{0,6}", "[a-z]{0,6}", any::<u64>(), "[0-9a-f]{0,70}")
            .prop_map(|(s, v, e, sig)| format!("v1.{s}.{v}.{e}.{sig}").into_bytes()),
        "(/[a-z%?&=.:]{0,10}){0,5}".prop_map(String::into_bytes),
        "[a-z.:\\[\\]0-9]{0,30}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Hostile requests never panic, and always get a decision from a real variant (the
    /// catch-all takes whatever `api` does not), never a forged override.
    #[test]
    fn decide_never_panics(
        pairs in prop::collection::vec((header_name(), header_value()), 0..24),
        now in any::<u64>(),
        draws in any::<(u64, u64)>(),
    ) {
        let c = Config::from_json(RICH).unwrap_or_else(|e| panic!("{e}"));
        let mut queue = [draws.0, draws.1].into_iter().cycle();
        let mut random = || queue.next().unwrap_or(0);
        let d = decide(&c, &RequestView::new(&pairs), Inputs { now_unix: now, random: &mut random });
        let d = d.expect("the catch-all service matches every request");
        prop_assert_eq!(d.service.variant(d.variant_index), Some(d.variant));
        prop_assert!(!matches!(d.by, DecidedBy::Override { .. }), "an unsigned value forced a variant: {}", d);
        prop_assert!(!d.to_string().is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever bytes the host hands over as a header map, parsing never panics; a map the host
    /// serialised comes back pair for pair, raw bytes included.
    #[test]
    fn header_maps_parse_without_panic_and_round_trip(
        junk in prop::collection::vec(any::<u8>(), 0..256),
        pairs in prop::collection::vec((header_name(), header_value()), 0..24),
    ) {
        let _ = veer_filter::header_map::parse(&junk);
        let buf = veer_filter::header_map::serialise(&pairs);
        let parsed = veer_filter::header_map::parse(&buf);
        let expected: Vec<(&[u8], &[u8])> =
            pairs.iter().map(|(n, v)| (n.as_bytes(), v.as_slice())).collect();
        prop_assert_eq!(parsed, expected);
    }
}

/// A small matcher language over one header, one cookie and the path, so that generated pairs
/// often relate (same subject, prefixes of each other) and `covers` has something to prove.
fn small_matcher() -> impl Strategy<Value = Value> {
    let value = prop::sample::select(vec!["", "a", "ab", "abc", "b"]);
    let leaf = prop_oneof![
        (
            prop::sample::select(vec!["header", "cookie"]),
            prop::sample::select(vec!["equals", "prefix", "present", "absent"]),
            value.clone()
        )
            .prop_map(|(subject, test, v)| {
                let name = if subject == "header" { "x-t" } else { "t" };
                match test {
                    "present" | "absent" => json!({ subject: name, test: true }),
                    _ => json!({ subject: name, test: v }),
                }
            }),
        value.prop_map(|v| json!({ "path_prefix": format!("/{v}") })),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| json!({ "all": v })),
            prop::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({ "any": v })),
            inner.prop_map(|m| json!({ "not": m })),
        ]
    })
}

fn small_request() -> impl Strategy<Value = Vec<(String, String)>> {
    let value = || prop::option::of(prop::sample::select(vec!["", "a", "ab", "abc", "b", "ba"]));
    (value(), value(), value()).prop_map(|(h, c, p)| {
        let mut r = vec![(":path".to_owned(), format!("/{}", p.unwrap_or("")))];
        if let Some(h) = h {
            r.push(("x-t".to_owned(), h.to_owned()));
        }
        if let Some(c) = c {
            r.push(("cookie".to_owned(), format!("t={c}")));
        }
        r
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    /// Soundness of `covers`: when it says A covers B, no request matches B and misses A.
    #[test]
    fn covers_is_sound(
        a in small_matcher(),
        b in small_matcher(),
        requests in prop::collection::vec(small_request(), 40),
    ) {
        let parse = |v: &Value| {
            let rule = json!([{ "name": "r", "match": v, "variant": "v0" }]);
            let mut c = json!({ "services": [{ "name": "s",
                "variants": [{ "name": "v0", "cluster": "c0" }], "split": { "v0": 10000 } }] });
            c["services"][0]["rules"] = rule;
            Config::from_json(&c.to_string()).ok().map(|c| c.services[0].rules[0].matcher.clone())
        };
        let (Some(ma), Some(mb)) = (parse(&a), parse(&b)) else { return Ok(()) };
        if ma.covers(&mb) {
            for r in &requests {
                let view = RequestView::new(r);
                prop_assert!(!mb.matches(&view) || ma.matches(&view), "{a} covers {b} but misses {r:?}");
            }
        }
    }
}
