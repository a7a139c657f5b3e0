//! Golden vectors: bucketing must never change, on any platform.
//!
//! A user's variant is a function of `(salt, key)` alone, computed by the filter (wasm32) and by
//! veerctl (native). If a dependency bump, a refactor or a target difference changed a single
//! hash, users would silently switch variants mid-experiment. These values were computed once
//! and cross-checked against the reference XXH3 implementation (python `xxhash`:
//! `xxh3_64_intdigest(key, seed=xxh3_64_intdigest(salt))`); the decisions were cross-checked
//! against an independent re-implementation of the bucket layout. Never "fix" a value here to
//! make a test pass: a mismatch means assignments moved.
//!
//! Runs natively and on `wasm32-unknown-unknown` (wasm-bindgen-test under Node), so the data
//! plane's arithmetic is checked on the target it ships for.

// Tests may panic: the no-panic rule (filter/Cargo.toml) is for the code Envoy runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use veer_filter::decide::DecidedBy;
use veer_filter::hash::{bucket, Salt};
use veer_filter::{decide, Config, Inputs, RequestView};

/// Bytes of a salt or key.
enum Input {
    /// Exactly these bytes.
    Lit(&'static [u8]),
    /// `n` bytes of `abc...xyz0123456789` repeated (ASCII, so also a valid salt).
    Text(usize),
    /// `n` bytes `i % 251`: every byte value, no UTF-8 structure.
    Binary(usize),
}

impl Input {
    fn bytes(&self) -> Vec<u8> {
        match *self {
            Input::Lit(b) => b.to_vec(),
            Input::Text(n) => b"abcdefghijklmnopqrstuvwxyz0123456789"
                .iter()
                .cycle()
                .take(n)
                .copied()
                .collect(),
            Input::Binary(n) => (0..n).map(|i| (i % 251) as u8).collect(),
        }
    }
}

use Input::{Binary, Lit, Text};

/// (salt, key, bucket = hash mod 10000, full hash). Key lengths cover every XXH3 code path:
/// 0, 1-3, 4-8, 9-16, 17-128, 129-240 and longer.
#[rustfmt::skip]
const VECTORS: [(Input, Input, u16, u64); 26] = [
    (Lit(b""), Lit(b""), 3, 4696993233866070003),
    (Lit(b"web"), Lit(b""), 5510, 15320804987034235510),
    (Lit(b""), Lit(b"user-1"), 8139, 105419248887698139),
    (Lit(b"web"), Lit(b"a"), 7150, 8160938126530507150),
    (Lit(b"web"), Lit(b"abc"), 2083, 2655623306590492083),
    (Lit(b"web"), Lit(b"user-123"), 6523, 16208070378396516523),
    (Lit(b"web"), Lit(b"0123456789abcdef"), 2741, 10967774982773232741),
    (Lit(b"checkout"), Lit(b"user-42"), 5137, 14390961469250425137),
    // A rule split's salt: `<service salt>/<rule name>`.
    (Lit(b"web/preview"), Lit(b"user-42"), 577, 11256809593612080577),
    (Lit(b"web"), Lit("Jürgen-Ω-用户-🚀".as_bytes()), 366, 4546035704638000366),
    (Lit("sälz-🧂".as_bytes()), Lit(b"user-42"), 673, 7311796379980660673),
    (Lit(b"web"), Lit(b"3f2504e0-4f89-11d3-9a0c-0305e82c3301"), 6311, 13811083429283026311),
    // A minted id, as the filter formats it.
    (Lit(b"web"), Lit(b"000000000000002a000000000000002b"), 7733, 12716096847815017733),
    (Lit(b"web"), Text(100), 3453, 10709792420341633453),
    (Lit(b"web"), Text(200), 3624, 7236708628398013624),
    (Lit(b"web"), Text(241), 4994, 12906289970722974994),
    (Lit(b"web"), Text(1000), 494, 4743659193465160494),
    (Lit(b"web"), Text(5000), 9053, 18371488222726739053),
    (Lit(b"web"), Lit(&[0x00, 0xff, 0xfe, 0x80]), 2898, 13961376567059972898),
    (Lit(b"web"), Lit(&[0x00]), 3608, 1786685144503343608),
    (Lit(b"web"), Binary(256), 8332, 5069644335544558332),
    (Lit(b"web"), Binary(4096), 2119, 2203475551455612119),
    (Text(300), Lit(b"user-42"), 6715, 12131031490897696715),
    // A random draw's key: 42u64 little-endian.
    (Lit(b"web"), Lit(&[42, 0, 0, 0, 0, 0, 0, 0]), 9690, 11707887961656479690),
    // The first and last bucket: the modulo must use all 10000.
    (Lit(b"web"), Lit(b"user-10270"), 0, 9068838778484090000),
    (Lit(b"web"), Lit(b"user-22407"), 9999, 12618090982055179999),
];

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn hashes_and_buckets_match_the_golden_vectors() {
    for (i, (salt, key, want_bucket, want_hash)) in VECTORS.iter().enumerate() {
        let salt_bytes = salt.bytes();
        let salt = std::str::from_utf8(&salt_bytes).expect("salts are text");
        let key = key.bytes();
        let s = Salt::new(salt);
        assert_eq!(s.hash(&key), *want_hash, "vector {i}: hash");
        assert_eq!(bucket(salt, &key).get(), *want_bucket, "vector {i}: bucket");
        let b = s.buckets(&key);
        assert_eq!(b.primary.get(), *want_bucket, "vector {i}: primary bucket");
        assert_eq!(
            u64::from(b.secondary.get()),
            want_hash / 10_000 % 10_000,
            "vector {i}: secondary bucket"
        );
    }
}

/// Three variants at 70/20/10, a fixed rule, a rule split and a half-allocated experiment.
const CONFIG: &str = r#"{
  "stickiness": {"sources": [{"cookie": "uid"}, {"header": "x-user-id"}]},
  "services": [{
    "name": "web",
    "variants": [
      {"name": "stable", "cluster": "web-v1"},
      {"name": "canary", "cluster": "web-v2"},
      {"name": "beta", "cluster": "web-v3"}
    ],
    "rules": [
      {"name": "staff", "match": {"header": "x-staff", "equals": "yes"}, "variant": "canary"},
      {"name": "preview", "match": {"query": "preview", "present": true}, "split": {"canary": 5000, "beta": 5000}}
    ],
    "experiments": [
      {"id": "checkout", "segment": {"path_prefix": "/checkout"}, "allocation": 5000,
       "arms": [{"name": "control", "variant": "stable", "weight": 5000}, {"name": "one-page", "variant": "beta", "weight": 5000}]}
    ],
    "split": {"stable": 7000, "canary": 2000, "beta": 1000}
  }]
}"#;

/// (path, extra header, expected variant, what decided).
#[rustfmt::skip]
const DECISIONS: [(&str, (&str, &str), &str, &str); 14] = [
    ("/", ("cookie", "uid=user-1"), "beta", "split"),
    ("/", ("cookie", "uid=user-2"), "stable", "split"),
    ("/", ("cookie", "uid=user-7"), "canary", "split"),
    ("/", ("cookie", "uid=user-12"), "canary", "split"),
    ("/", ("x-user-id", "user-12"), "canary", "split"),
    ("/", ("cookie", "uid=user-10270"), "stable", "split"),
    ("/", ("cookie", "uid=user-22407"), "beta", "split"),
    ("/?preview=1", ("cookie", "uid=user-1"), "canary", "rule preview"),
    ("/?preview=1", ("cookie", "uid=user-3"), "beta", "rule preview"),
    ("/checkout", ("cookie", "uid=user-1"), "beta", "experiment checkout/one-page"),
    ("/checkout", ("cookie", "uid=user-3"), "stable", "experiment checkout/control"),
    ("/checkout", ("cookie", "uid=user-7"), "canary", "split"),
    ("/checkout", ("cookie", "uid=user-10"), "beta", "split"),
    ("/checkout?preview=1", ("x-staff", "yes"), "canary", "rule staff"),
];

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn decisions_match_the_golden_table() {
    let config = Config::from_json(CONFIG).unwrap_or_else(|e| panic!("{e}"));
    for (path, (name, value), want_variant, want_by) in DECISIONS {
        let headers = vec![
            (":authority".to_owned(), b"www.example.com".to_vec()),
            (":path".to_owned(), path.as_bytes().to_vec()),
            (name.to_owned(), value.as_bytes().to_vec()),
        ];
        let mut random = || 0;
        let d = decide(
            &config,
            &RequestView::new(&headers),
            Inputs {
                now_unix: 0,
                random: &mut random,
            },
        )
        .expect("the only service takes every request");
        let by = match d.by {
            DecidedBy::Rule(_, rule) => format!("rule {}", rule.name),
            DecidedBy::Experiment {
                experiment, arm, ..
            } => format!("experiment {}/{}", experiment.id, arm.name),
            DecidedBy::Split => "split".to_owned(),
            DecidedBy::Override { .. } => "override".to_owned(),
        };
        assert_eq!(
            (d.variant.name.as_str(), by.as_str()),
            (want_variant, want_by),
            "{path} {name}: {value}"
        );
    }
}
