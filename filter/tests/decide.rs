//! Routing decisions: which service, which variant, and why, for hand-picked requests.
//!
//! Expected buckets are recomputed from `veer_filter::hash` (whose values `golden.rs` pins), so
//! these tests check the wiring: which salt, which key and which bucket each step uses.

// Tests may panic: the no-panic rule (filter/Cargo.toml) is for the code Envoy runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg(not(target_arch = "wasm32"))]

use veer_filter::config::KeySource;
use veer_filter::decide::{DecidedBy, KeyOrigin};
use veer_filter::hash::{Buckets, Salt};
use veer_filter::signing::{sign, OverrideRejection};
use veer_filter::{decide, Config, Decision, Inputs, RequestView};

/// Extra request headers, as (name, value) pairs.
type Pairs<'a> = &'a [(&'a str, &'a str)];

const NOW: u64 = 1_700_000_000;
const OLD_KEY: &[u8] = b"old-key-0123456789";
const NEW_KEY: &[u8] = b"new-key-0123456789";

/// Four services: exact hosts with a path prefix, wildcard hosts, a host-less path service
/// last, and `web` with rules, experiments and a default split that sends everyone to stable
/// (so any other variant proves that a rule or experiment decided).
const CONFIG: &str = r#"{
  "stickiness": {"sources": [{"cookie": "uid"}, {"header": "x-user-id"}, {"query": "uid"}]},
  "override": {"enabled": true, "keys": ["old-key-0123456789", "new-key-0123456789"]},
  "services": [
    {"name": "api", "hosts": ["api.example.com"], "path_prefix": "/v1",
     "variants": [{"name": "v1", "cluster": "api-v1"}], "split": {"v1": 10000}},
    {"name": "shop", "hosts": ["*.shop.example"],
     "variants": [{"name": "v1", "cluster": "shop-v1"}], "split": {"v1": 10000}},
    {"name": "web", "hosts": ["www.example.com", "Example.com"],
     "variants": [
       {"name": "stable", "cluster": "web-v1"},
       {"name": "canary", "cluster": "web-v2"},
       {"name": "beta", "cluster": "web-v3"}
     ],
     "rules": [
       {"name": "staff", "match": {"header": "x-staff", "equals": "yes"}, "variant": "canary"},
       {"name": "beta-cookie", "match": {"cookie": "beta", "present": true}, "variant": "beta"},
       {"name": "any-staff", "match": {"header": "x-staff", "present": true}, "variant": "beta"},
       {"name": "preview", "match": {"query": "preview", "equals": "1"}, "split": {"canary": 5000, "beta": 5000}}
     ],
     "experiments": [
       {"id": "checkout", "segment": {"path_prefix": "/checkout"},
        "arms": [{"name": "control", "variant": "stable", "weight": 5000}, {"name": "treatment", "variant": "beta", "weight": 5000}]},
       {"id": "search", "segment": {"query": "country", "equals": "nl"}, "allocation": 3000,
        "arms": [{"name": "a", "variant": "canary", "weight": 2000}, {"name": "b", "variant": "beta", "weight": 8000}]},
       {"id": "closed", "allocation": 0,
        "arms": [{"name": "a", "variant": "canary", "weight": 5000}, {"name": "b", "variant": "beta", "weight": 5000}]}
     ],
     "split": {"stable": 10000}},
    {"name": "docs", "path_prefix": "/docs",
     "variants": [{"name": "v1", "cluster": "docs-v1"}], "split": {"v1": 10000}}
  ]
}"#;

fn config(text: &str) -> Config {
    Config::from_json(text).unwrap_or_else(|e| panic!("{e}"))
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect()
}

/// Decides with a fixed clock and a counter as the random source (starting after `seed`).
fn decide_with<'c>(config: &'c Config, pairs: &[(&str, &str)], seed: u64) -> Option<Decision<'c>> {
    let h = headers(pairs);
    let mut n = seed;
    let mut random = move || {
        n += 1;
        n
    };
    decide(
        config,
        &RequestView::new(&h),
        Inputs {
            now_unix: NOW,
            random: &mut random,
        },
    )
}

fn run<'c>(config: &'c Config, pairs: &[(&str, &str)]) -> Option<Decision<'c>> {
    decide_with(config, pairs, 0)
}

/// A compact label for what decided: `rule staff`, `experiment checkout/control`, `split`,
/// `override`.
fn by(d: &Decision<'_>) -> String {
    match d.by {
        DecidedBy::Override { .. } => "override".into(),
        DecidedBy::Rule(_, r) => format!("rule {}", r.name),
        DecidedBy::Experiment {
            experiment, arm, ..
        } => format!("experiment {}/{}", experiment.id, arm.name),
        DecidedBy::Split => "split".into(),
    }
}

/// `(variant, by)` of a request to `web`.
fn web(config: &Config, path: &str, extra: &[(&str, &str)]) -> (String, String) {
    let mut pairs = vec![(":authority", "www.example.com"), (":path", path)];
    pairs.extend_from_slice(extra);
    let d = run(config, &pairs).expect("web matches");
    assert_eq!(d.service.name.as_str(), "web");
    (d.variant.name.to_string(), by(&d))
}

/// Cohort rules beat experiments, which beat the default split; among rules, the first match
/// wins.
#[test]
fn rules_beat_experiments_beat_the_split() {
    let c = config(CONFIG);
    let user = ("cookie", "uid=user-1");
    let checkout = Salt::new("checkout").buckets(b"user-1");
    let checkout_arm = if checkout.primary.get() < 5000 {
        ("stable", "control")
    } else {
        ("beta", "treatment")
    };
    let cases: [(&str, &str, Pairs, (&str, String)); 7] = [
        (
            "nothing matches: default split",
            "/",
            &[user],
            ("stable", "split".into()),
        ),
        (
            "segment matches: experiment",
            "/checkout/pay",
            &[user],
            (
                checkout_arm.0,
                format!("experiment checkout/{}", checkout_arm.1),
            ),
        ),
        (
            "rule beats experiment",
            "/checkout/pay",
            &[user, ("x-staff", "yes")],
            ("canary", "rule staff".into()),
        ),
        (
            "first matching rule wins",
            "/",
            &[user, ("x-staff", "yes"), ("cookie", "beta=1")],
            ("canary", "rule staff".into()),
        ),
        (
            "a later rule when earlier ones miss",
            "/",
            &[("x-staff", "no"), ("cookie", "beta=1; uid=user-1")],
            ("beta", "rule beta-cookie".into()),
        ),
        (
            "present, not equal: third rule",
            "/",
            &[user, ("x-staff", "no")],
            ("beta", "rule any-staff".into()),
        ),
        (
            "first enrolling experiment wins",
            "/checkout?country=nl",
            &[user],
            (
                checkout_arm.0,
                format!("experiment checkout/{}", checkout_arm.1),
            ),
        ),
    ];
    for (name, path, extra, (variant, decided)) in cases {
        assert_eq!(
            web(&c, path, extra),
            (variant.to_owned(), decided),
            "case: {name}"
        );
    }
}

/// An experiment only enrolls requests in its segment, and of those only the share whose
/// enrollment (secondary) bucket is below the allocation; the arm comes from the primary bucket.
#[test]
fn experiment_segment_and_allocation_are_respected() {
    let c = config(CONFIG);
    let mut enrolled = 0;
    const USERS: usize = 4000;
    for i in 0..USERS {
        let key = format!("user-{i}");
        let cookie = format!("uid={key}");
        let b = Salt::new("search").buckets(key.as_bytes());

        let outside = web(&c, "/?country=be", &[("cookie", &cookie)]);
        assert_eq!(
            outside,
            ("stable".into(), "split".into()),
            "outside the segment, {key}"
        );

        let inside = web(&c, "/?country=nl", &[("cookie", &cookie)]);
        let want = if b.secondary.get() >= 3000 {
            ("stable", "split")
        } else if b.primary.get() < 2000 {
            ("canary", "experiment search/a")
        } else {
            ("beta", "experiment search/b")
        };
        assert_eq!(
            inside,
            (want.0.to_owned(), want.1.to_owned()),
            "inside the segment, {key}"
        );
        enrolled += usize::from(b.secondary.get() < 3000);
    }
    // 30 % of 4000 is 1200, sigma ~29: this only guards against a broken bucket derivation.
    assert!(
        (1050..=1350).contains(&enrolled),
        "enrolled {enrolled} of {USERS}"
    );
}

/// Ranges are laid out in declaration order and are half-open: a weight of N bp owns exactly N
/// buckets, and a zero weight owns none (even between two others).
#[test]
fn split_boundaries_are_exact() {
    let c = config(
        r#"{"stickiness": {"sources": [{"header": "x-user-id"}]},
            "services": [{"name": "web",
              "variants": [{"name": "stable", "cluster": "a"}, {"name": "canary", "cluster": "b"},
                           {"name": "off", "cluster": "c"}, {"name": "beta", "cluster": "d"}],
              "split": {"beta": 1000, "off": 0, "canary": 2000, "stable": 7000}}]}"#,
    );
    let edges = [
        (0, "stable"),
        (6999, "stable"),
        (7000, "canary"),
        (8999, "canary"),
        (9000, "beta"),
        (9999, "beta"),
    ];
    let salt = Salt::new("web");
    let mut found = 0;
    for i in 0..1_000_000 {
        let key = format!("k{i}");
        let bucket = salt.buckets(key.as_bytes()).primary.get();
        let Some((_, want)) = edges.iter().find(|(b, _)| *b == bucket) else {
            continue;
        };
        let d = run(&c, &[("x-user-id", &key)]).expect("web");
        assert_eq!(d.variant.name.as_str(), *want, "bucket {bucket}");
        found += 1;
        if found == 50 {
            break;
        }
    }
    assert_eq!(found, 50, "keys found on the edges");
}

/// A rule's own split hashes under `<service salt>/<rule name>`, not the service's salt, so it
/// is independent of the default split.
#[test]
fn rule_split_uses_its_own_salt() {
    let c = config(CONFIG);
    let mut seen = [0usize; 2];
    for i in 0..200 {
        let key = format!("user-{i}");
        let b = Salt::new("web/preview").buckets(key.as_bytes());
        let want = if b.primary.get() < 5000 {
            "canary"
        } else {
            "beta"
        };
        let d = run(
            &c,
            &[
                (":authority", "example.com"),
                (":path", "/?preview=1"),
                ("x-user-id", &key),
            ],
        )
        .expect("web");
        assert_eq!(
            (d.variant.name.as_str(), by(&d)),
            (want, "rule preview".to_owned()),
            "{key}"
        );
        assert_eq!(d.buckets, Some(b));
        seen[usize::from(want == "beta")] += 1;
    }
    assert!(
        seen.iter().all(|&n| n > 50),
        "both halves of the rule's split are used: {seen:?}"
    );
}

/// The first service whose hosts and path prefix both match takes the request; hosts compare
/// without port and case, `*.` matches subdomains only, and no match means no decision.
#[test]
fn services_are_found_by_host_and_path() {
    let c = config(CONFIG);
    #[rustfmt::skip]
    let cases: [(Pairs, Option<&str>); 20] = [
        (&[(":authority", "api.example.com"), (":path", "/v1/users")], Some("api")),
        (&[(":authority", "API.Example.COM:8443"), (":path", "/v1")], Some("api")),
        (&[("host", "api.example.com"), (":path", "/v1/x")], Some("api")),
        (&[(":authority", "api.example.com"), (":path", "/v2/users")], None),
        (&[(":authority", "api.example.com"), (":path", "/V1")], None),
        (&[(":authority", "v2.api.example.com"), (":path", "/v1")], None),
        (&[(":authority", "eu.shop.example"), (":path", "/")], Some("shop")),
        (&[(":authority", "a.b.SHOP.example:80"), (":path", "/cart")], Some("shop")),
        (&[(":authority", "shop.example"), (":path", "/")], None),
        (&[(":authority", "xshop.example"), (":path", "/")], None),
        (&[(":authority", "www.example.com"), (":path", "/docs/intro")], Some("web")),
        (&[(":authority", "EXAMPLE.com"), (":path", "/")], Some("web")),
        (&[(":authority", "example.com:443"), (":path", "/")], Some("web")),
        (&[(":authority", "sub.example.com"), (":path", "/")], None),
        (&[(":authority", "other.example.org"), (":path", "/docs/intro")], Some("docs")),
        (&[(":authority", "other.example.org"), (":path", "/docs?page=2")], Some("docs")),
        (&[(":authority", "other.example.org"), (":path", "/doc")], None),
        (&[(":authority", "other.example.org"), (":path", "/?next=/docs")], None),
        (&[(":path", "/docs")], Some("docs")),
        (&[], None),
    ];
    for (pairs, want) in cases {
        let got = run(&c, pairs).map(|d| d.service.name.to_string());
        assert_eq!(got.as_deref(), want, "request {pairs:?}");
    }
}

/// A valid signed override wins over everything; any flaw makes the filter ignore it, route as
/// if it were absent, and say why.
#[test]
fn signed_override_wins_only_when_valid() {
    let c = config(CONFIG);
    let base: &[(&str, &str)] = &[
        (":authority", "www.example.com"),
        (":path", "/checkout"),
        ("cookie", "uid=u-9"),
        ("x-staff", "yes"),
    ];
    let without = web(&c, "/checkout", &base[2..]);
    assert_eq!(without, ("canary".to_owned(), "rule staff".to_owned()));

    let valid = sign(NEW_KEY, "web", "beta", NOW + 60);
    let cases: [(&str, String, Result<&str, OverrideRejection>); 13] = [
        ("valid", valid.clone(), Ok("beta")),
        (
            "valid, rotated-out key still listed",
            sign(OLD_KEY, "web", "stable", NOW + 1),
            Ok("stable"),
        ),
        (
            "unsigned",
            format!("v1.web.beta.{}", NOW + 60),
            Err(OverrideRejection::Malformed),
        ),
        (
            "empty signature",
            format!("v1.web.beta.{}.", NOW + 60),
            Err(OverrideRejection::BadSignature),
        ),
        (
            "wrong key",
            sign(b"some-other-key-0123", "web", "beta", NOW + 60),
            Err(OverrideRejection::BadSignature),
        ),
        (
            "tampered variant",
            valid.replace(".beta.", ".canary."),
            Err(OverrideRejection::BadSignature),
        ),
        (
            "expired now",
            sign(NEW_KEY, "web", "beta", NOW),
            Err(OverrideRejection::Expired),
        ),
        (
            "expired long ago",
            sign(NEW_KEY, "web", "beta", 1),
            Err(OverrideRejection::Expired),
        ),
        (
            "other service",
            sign(NEW_KEY, "api", "v1", NOW + 60),
            Err(OverrideRejection::WrongService),
        ),
        (
            "unknown variant",
            sign(NEW_KEY, "web", "gamma", NOW + 60),
            Err(OverrideRejection::UnknownVariant),
        ),
        (
            "valid for exactly the default max TTL (a week)",
            sign(NEW_KEY, "web", "beta", NOW + 7 * 24 * 3600),
            Ok("beta"),
        ),
        (
            "valid for longer than the default max TTL",
            sign(NEW_KEY, "web", "beta", NOW + 7 * 24 * 3600 + 1),
            Err(OverrideRejection::TooLong),
        ),
        (
            "expiring in the year 2300 (veerctl sign --ttl 100000d)",
            sign(NEW_KEY, "web", "beta", 10_413_792_000),
            Err(OverrideRejection::TooLong),
        ),
    ];
    for (name, value, want) in cases {
        let mut pairs = base.to_vec();
        pairs.push(("x-veer-override", &value));
        let d = run(&c, &pairs).expect("web");
        match want {
            Ok(variant) => {
                assert_eq!(
                    (d.variant.name.as_str(), by(&d)),
                    (variant, "override".to_owned()),
                    "case: {name}"
                );
                assert_eq!(d.override_rejected, None, "case: {name}");
                assert_eq!(d.buckets, None, "case: {name}");
                assert!(
                    d.to_string()
                        .starts_with(&format!("signed override forces variant {variant}")),
                    "case: {name}: {d}"
                );
            }
            Err(reason) => {
                assert_eq!(
                    (d.variant.name.to_string(), by(&d)),
                    without,
                    "case: {name}"
                );
                assert_eq!(d.override_rejected, Some(reason), "case: {name}");
                assert!(
                    d.to_string()
                        .ends_with(&format!("; override header ignored: {reason}")),
                    "case: {name}: {d}"
                );
            }
        }
    }
}

/// With the override disabled (or absent) the header means nothing, not even a rejection.
#[test]
fn override_header_is_ignored_when_disabled() {
    let disabled = CONFIG.replace(
        r#""override": {"enabled": true,"#,
        r#""override": {"enabled": false,"#,
    );
    assert_ne!(disabled, CONFIG);
    let absent = CONFIG.replace(
        r#""override": {"enabled": true, "keys": ["old-key-0123456789", "new-key-0123456789"]},"#,
        "",
    );
    assert_ne!(absent, CONFIG);
    let valid = sign(NEW_KEY, "web", "beta", NOW + 60);
    for text in [disabled, absent] {
        let c = config(&text);
        assert!(c.override_policy.is_none());
        for value in [valid.as_str(), "garbage"] {
            let d = run(
                &c,
                &[
                    (":authority", "www.example.com"),
                    (":path", "/"),
                    ("x-veer-override", value),
                ],
            )
            .expect("web");
            assert_eq!(
                (d.variant.name.as_str(), by(&d)),
                ("stable", "split".to_owned())
            );
            assert_eq!(d.override_rejected, None);
        }
    }
}

/// Key sources are tried in configured order (cookie, header, query here) and empty values are
/// skipped; the key that wins is the one hashed.
#[test]
fn key_sources_are_tried_in_order_and_empty_ones_skipped() {
    let c = config(CONFIG);
    let web_salt = Salt::new("web");
    #[rustfmt::skip]
    let cases: [(&str, Pairs, Option<Winner>); 8] = [
        ("all three: cookie first", &[("cookie", "uid=c1"), ("x-user-id", "h1"), (":path", "/?uid=q1")], Some(("cookie:uid", "c1"))),
        ("header before query", &[("x-user-id", "h1"), (":path", "/?uid=q1")], Some(("header:x-user-id", "h1"))),
        ("query is percent-decoded", &[(":path", "/?uid=a%20b")], Some(("query:uid", "a b"))),
        ("empty cookie skipped", &[("cookie", "uid=; other=x"), ("x-user-id", "h1")], Some(("header:x-user-id", "h1"))),
        ("quoted empty cookie skipped", &[("cookie", "uid=\"\""), ("x-user-id", "h1")], Some(("header:x-user-id", "h1"))),
        ("empty header skipped", &[("x-user-id", ""), (":path", "/?uid=q1")], Some(("query:uid", "q1"))),
        ("cookie in a second cookie header", &[("cookie", "a=1"), ("cookie", "uid=c2"), ("x-user-id", "h1")], Some(("cookie:uid", "c2"))),
        ("all empty: random", &[("cookie", "uid="), ("x-user-id", ""), (":path", "/?uid=")], None),
    ];
    for (name, extra, want) in cases {
        let mut pairs = vec![(":authority", "www.example.com")];
        pairs.extend_from_slice(extra);
        if !pairs.iter().any(|(n, _)| *n == ":path") {
            pairs.push((":path", "/"));
        }
        let d = run(&c, &pairs).expect("web");
        assert_eq!(by(&d), "split", "case: {name}");
        match want {
            Some((source, key)) => {
                assert_eq!(origin(&d.key), source, "case: {name}");
                assert_eq!(
                    d.buckets,
                    Some(web_salt.buckets(key.as_bytes())),
                    "case: {name}"
                );
            }
            None => {
                assert_eq!(d.key, KeyOrigin::Random, "case: {name}");
                // The counter's first draw is 1.
                assert_eq!(
                    d.buckets,
                    Some(web_salt.buckets(&1u64.to_le_bytes())),
                    "case: {name}"
                );
            }
        }
    }
}

/// (source label, key value) expected to win; `None` when no source has a key.
type Winner = (&'static str, &'static str);

fn origin(k: &KeyOrigin<'_>) -> String {
    match k {
        KeyOrigin::Source(KeySource::Header(h)) => format!("header:{}", h.as_str()),
        KeyOrigin::Source(KeySource::Cookie(c)) => format!("cookie:{c}"),
        KeyOrigin::Source(KeySource::Query(q)) => format!("query:{q}"),
        KeyOrigin::Minted(id) => format!("minted:{id}"),
        KeyOrigin::Random => "random".into(),
    }
}

const STICKY: &str = r#"{
  "stickiness": {"sources": [{"header": "x-user-id"}, {"cookie": "veer_id"}], "assign_cookie": {"name": "veer_id"}},
  "services": [{"name": "web",
    "variants": [{"name": "stable", "cluster": "v1"}, {"name": "canary", "cluster": "v2"}],
    "split": {"stable": 5000, "canary": 5000}}]
}"#;

/// A keyless request gets a minted id, decided by that id, so the cookie carrying it on the
/// next request lands the user on the same variant.
#[test]
fn minted_id_is_the_key_and_makes_the_next_request_sticky() {
    let c = config(STICKY);
    let mut variants = std::collections::BTreeSet::new();
    for seed in 0..40u64 {
        let first = decide_with(&c, &[(":path", "/")], seed * 1000).expect("web");
        let id = format!("{:016x}{:016x}", seed * 1000 + 1, seed * 1000 + 2);
        assert_eq!(first.key, KeyOrigin::Minted(id.clone()));
        assert_eq!(first.buckets, Some(Salt::new("web").buckets(id.as_bytes())));
        assert!(
            first.to_string().ends_with(&format!(
                "; no key in the request, minted id {id} (set as a cookie)"
            )),
            "{first}"
        );

        // Another random draw must not matter once the cookie is back.
        let cookie = format!("veer_id={id}");
        let next = decide_with(&c, &[(":path", "/"), ("cookie", &cookie)], 77).expect("web");
        assert_eq!(origin(&next.key), "cookie:veer_id");
        assert_eq!(next.variant, first.variant, "seed {seed}");
        assert_eq!(next.buckets, first.buckets, "seed {seed}");
        variants.insert(first.variant.name.to_string());
    }
    assert_eq!(variants.len(), 2, "minted ids spread over both variants");
}

/// Without any key and no cookie to assign, each request is a fresh random draw.
#[test]
fn no_key_and_no_assign_cookie_is_a_random_draw() {
    let text = STICKY.replace(r#", "assign_cookie": {"name": "veer_id"}"#, "");
    let c = config(&text);
    let mut variants = std::collections::BTreeSet::new();
    for seed in 0..40u64 {
        let d = decide_with(&c, &[(":path", "/")], seed).expect("web");
        assert_eq!(d.key, KeyOrigin::Random);
        assert_eq!(
            d.buckets,
            Some(Salt::new("web").buckets(&(seed + 1).to_le_bytes()))
        );
        assert!(
            d.to_string()
                .ends_with("; no key in the request, random draw (not sticky)"),
            "{d}"
        );
        variants.insert(d.variant.name.to_string());
    }
    assert_eq!(variants.len(), 2, "random draws spread over both variants");
}

/// The reason veerctl prints names what decided, with the buckets and layout behind it.
#[test]
fn reasons_name_the_rule_experiment_or_split() {
    let c = config(CONFIG);
    let d = |pairs: &[(&str, &str)]| run(&c, pairs).expect("web").to_string();
    let host = (":authority", "www.example.com");

    assert_eq!(
        d(&[
            host,
            (":path", "/"),
            ("x-staff", "yes"),
            ("x-user-id", "u1")
        ]),
        r#"cohort rule "staff" matched (header x-staff = "yes") -> variant canary; key from header x-user-id"#
    );

    let b: Buckets = Salt::new("web/preview").buckets(b"u1");
    let variant = if b.primary.get() < 5000 {
        "canary"
    } else {
        "beta"
    };
    assert_eq!(
        d(&[host, (":path", "/?preview=1&uid=u1")]),
        format!(
            r#"cohort rule "preview" matched (query preview = "1") -> variant {variant} by the rule's split: bucket {} of canary 0-4999, beta 5000-9999; key from query parameter uid"#,
            b.primary.get()
        )
    );

    let b = Salt::new("checkout").buckets(b"u1");
    let (arm, variant) = if b.primary.get() < 5000 {
        ("control", "stable")
    } else {
        ("treatment", "beta")
    };
    assert_eq!(
        d(&[host, (":path", "/checkout"), ("cookie", "uid=u1")]),
        format!(
            r#"experiment "checkout" enrolled the user (enrollment bucket {} < allocation 10000) in arm "{arm}" (bucket {}) -> variant {variant}; key from cookie uid"#,
            b.secondary.get(),
            b.primary.get()
        )
    );

    let b = Salt::new("web").buckets(b"u1");
    assert_eq!(
        d(&[host, (":path", "/"), ("cookie", "uid=u1")]),
        format!(
            "default split: bucket {} of stable 0-9999 -> variant stable; key from cookie uid",
            b.primary.get()
        )
    );
}

/// Only experiment decisions carry an assignment for the experiment header.
#[test]
fn assignment_is_set_only_by_experiments() {
    let c = config(CONFIG);
    let host = (":authority", "www.example.com");
    let exp = run(&c, &[host, (":path", "/checkout"), ("cookie", "uid=u1")]).expect("web");
    let arm = if Salt::new("checkout").buckets(b"u1").primary.get() < 5000 {
        "control"
    } else {
        "treatment"
    };
    assert_eq!(exp.assignment(), Some(("checkout", arm)));
    for pairs in [
        &[host, (":path", "/")][..],
        &[host, (":path", "/"), ("x-staff", "yes")],
    ] {
        assert_eq!(run(&c, pairs).expect("web").assignment(), None);
    }
}

/// `absent` and `any` decide by outcome: a rule for users without a consent cookie, a rule for
/// either of two countries (or a beta path), and an experiment whose segment is an `any` that
/// includes an `absent`. The split sends everyone else to stable.
#[test]
fn absent_and_any_rules_route_by_outcome() {
    let c = config(
        r#"{
      "stickiness": {"sources": [{"cookie": "uid"}]},
      "services": [{"name": "web",
        "variants": [{"name": "stable", "cluster": "v1"}, {"name": "canary", "cluster": "v2"},
                     {"name": "beta", "cluster": "v3"}],
        "rules": [
          {"name": "no-consent", "match": {"cookie": "consent", "absent": true}, "variant": "canary"},
          {"name": "dach", "match": {"any": [{"header": "x-country", "equals": "de"},
                                             {"header": "x-country", "equals": "at"},
                                             {"path_prefix": "/beta"}]}, "variant": "beta"}
        ],
        "experiments": [{"id": "anon", "segment": {"any": [{"header": "x-user-id", "absent": true},
                                                          {"query": "anon", "equals": "1"}]},
          "arms": [{"name": "a", "variant": "beta", "weight": 10000},
                   {"name": "b", "variant": "canary", "weight": 0}]}],
        "split": {"stable": 10000}}]
    }"#,
    );
    let route = |path: &str, extra: &[(&str, &str)]| {
        let mut pairs = vec![(":authority", "any.host"), (":path", path)];
        pairs.extend_from_slice(extra);
        let d = run(&c, &pairs).expect("web matches every host");
        (d.variant.name.to_string(), by(&d))
    };
    let consent = ("cookie", "uid=u1; consent=yes");
    let known = ("x-user-id", "u1");
    let cases: &[(&str, Pairs, (&str, &str))] = &[
        ("/", &[("cookie", "uid=u1")], ("canary", "rule no-consent")),
        ("/", &[], ("canary", "rule no-consent")),
        (
            "/",
            &[("cookie", "uid=u1; consent="), known],
            ("stable", "split"),
        ),
        ("/", &[consent, known], ("stable", "split")),
        (
            "/",
            &[consent, known, ("x-country", "de")],
            ("beta", "rule dach"),
        ),
        (
            "/",
            &[consent, known, ("x-country", "at")],
            ("beta", "rule dach"),
        ),
        (
            "/",
            &[consent, known, ("x-country", "ch")],
            ("stable", "split"),
        ),
        ("/beta/page", &[consent, known], ("beta", "rule dach")),
        ("/", &[consent], ("beta", "experiment anon/a")),
        ("/?anon=1", &[consent, known], ("beta", "experiment anon/a")),
        ("/?anon=0", &[consent, known], ("stable", "split")),
    ];
    for (path, extra, (variant, decided)) in cases {
        assert_eq!(
            route(path, extra),
            ((*variant).to_owned(), (*decided).to_owned()),
            "{path} {extra:?}"
        );
    }
}
