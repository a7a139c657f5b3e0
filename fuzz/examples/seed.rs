//! Writes the seed corpus of each fuzz target into fuzz/corpus/<target>/seed-*, from the
//! project's own fixtures: the README's worked config example, the benchmark configs, the goals
//! test config, the match expressions of veerctl's documentation, and requests that exercise each
//! part of those configs (rules, experiment segments, a valid signed override, goals with marks).
//! `cargo run -p veer-fuzz --example seed` (again after a fixture changes); the fuzzer grows the
//! rest of the corpus (`make fuzz`, `FUZZ_MERGE=1`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

use veer_filter::header_map::serialise;
use veer_filter::signing::sign;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The text between the first `start` after `after` and the next `end`.
fn between<'t>(text: &'t str, after: &str, start: &str, end: &str) -> &'t str {
    let from = text.find(after).unwrap_or_else(|| panic!("no {after:?}"));
    let rest = &text[from..];
    let open = rest.find(start).unwrap() + start.len();
    let close = rest[open..].find(end).unwrap();
    &rest[open..open + close]
}

/// Named configs, as JSON.
fn configs() -> Vec<(String, String)> {
    let readme = read("README.md");
    let yaml = between(
        &readme,
        "<!-- veer-test: worked-example",
        "```yaml\n",
        "```",
    );
    let wire = veer_ctl::config::source::parse(yaml, "README.md")
        .unwrap()
        .wire;
    let mut out = vec![
        (
            "readme".to_owned(),
            serde_json::to_string_pretty(&wire).unwrap(),
        ),
        (
            "readme-compact".to_owned(),
            serde_json::to_string(&wire).unwrap(),
        ),
        (
            "goals".to_owned(),
            between(
                &read("filter/tests/goals.rs"),
                "const CONFIG",
                "r#\"",
                "\"#",
            )
            .to_owned(),
        ),
    ];
    // What the fixtures above never write: `any`, `absent`, `not` of a method, a query prefix,
    // a short override lifetime.
    out.push(("matchers".to_owned(), MATCHERS.to_owned()));
    for name in ["minimal", "passthrough", "realistic"] {
        out.push((
            format!("bench-{name}"),
            read(&format!("bench/configs/{name}.json")),
        ));
    }
    out
}

const MATCHERS: &str = r#"{
  "override": {"enabled": true, "keys": ["a-long-random-secret-of-16+-bytes"], "max_ttl_seconds": 3600},
  "stickiness": {"sources": [{"header": "x-user-id"}, {"query": "uid"}]},
  "services": [{
    "name": "shop", "hosts": ["shop.example.com", "*.shop.example.com"],
    "variants": [{"name": "stable", "cluster": "shop_v1"}, {"name": "canary", "cluster": "shop_v2"}],
    "rules": [
      {"name": "beta", "match": {"any": [{"cookie": "beta", "present": true}, {"header": "x-beta", "equals": "1"}]}, "variant": "canary"},
      {"name": "quiet", "match": {"all": [{"header": "dnt", "absent": true}, {"not": {"method": "POST"}}, {"query": "q", "prefix": "a"}]},
       "split": {"stable": 5000, "canary": 5000}}
    ],
    "split": {"stable": 10000}
  }]
}"#;

/// Requests (as `name: value` lines) that reach the parts of those configs.
fn requests() -> Vec<(&'static str, String)> {
    let key = b"a-long-random-secret-of-16+-bytes";
    let forced = sign(key, "shop", "canary", 1_700_000_000 + 3600);
    let expired = sign(key, "shop", "canary", 1_700_000_000 - 10);
    let too_long = sign(key, "shop", "canary", 1_700_000_000 + 30 * 24 * 3600);
    let ghost = sign(key, "shop", "ghost", 1_700_000_000 + 60);
    let page = |host: &str, extra: &str| {
        format!(":method: GET\n:authority: {host}\n:path: /?uid=q-1\n{extra}")
    };
    vec![
        ("plain", page("shop.example.com", "cookie: uid=u-1")),
        ("employee", page("shop.example.com:8080", "cookie: team=internal; uid=u-2")),
        ("app", page("m.shop.example.com.", "user-agent: ShopApp/2.1\ncookie: uid=u-3")),
        ("segment", page("shop.example.com", "x-country: de\nx-user-id: u-4")),
        ("override", page("shop.example.com", &format!("x-veer-override: {forced}"))),
        ("keyless", page("shop.example.com", "x-veer-cluster: spoofed")),
        ("expired", page("shop.example.com", &format!("x-veer-override: {expired}"))),
        ("too-long", page("shop.example.com", &format!("x-veer-override: {too_long}"))),
        ("ghost", page("shop.example.com", &format!("x-veer-override: {ghost}"))),
        ("beta", page("shop.example.com", "cookie: beta=1\nx-user-id: u-8")),
        ("quiet", ":method: GET\n:authority: shop.example.com\n:path: /?q=abc&uid=u-9".to_owned()),
        ("other-host", page("www.example.com", "cookie: uid=u-5; veer_marks=0000000a")),
        (
            "goal-on-page",
            ":method: POST\n:authority: www.example.com\n:path: /signup\ncookie: uid=u-7\nx-country: de"
                .to_owned(),
        ),
        (
            "goal",
            ":method: POST\n:authority: api.example.com\n:path: /api/buy\ncookie: uid=u-6; veer_marks=00000001.deadbeef"
                .to_owned(),
        ),
    ]
}

/// Match expressions from veerctl's documentation (the module's doc block).
fn expressions() -> Vec<String> {
    let doc = read("ctl/src/match_expr.rs");
    between(&doc, "//! ```text", "\n", "//! ```")
        .lines()
        .filter_map(|l| l.strip_prefix("//! "))
        .map(|l| l.split("  ").next().unwrap_or(l).trim().to_owned())
        .filter(|e| !e.is_empty())
        .collect()
}

fn write(target: &str, name: &str, data: &[u8]) {
    let dir = root().join("fuzz/corpus").join(target);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(format!("seed-{name}")), data).unwrap();
}

fn main() {
    let configs = configs();
    let requests = requests();
    for (name, json) in &configs {
        write("config_decoder", name, json.as_bytes());
        // A broken copy: cut in the middle, for the error paths.
        write(
            "config_decoder",
            &format!("{name}-cut"),
            &json.as_bytes()[..json.len() / 2],
        );
        for (req, lines) in &requests {
            write(
                "decide",
                &format!("{name}-{req}"),
                format!("{json}\0{lines}").as_bytes(),
            );
        }
    }
    for (req, lines) in &requests {
        let headers: Vec<(&str, &str)> = lines
            .lines()
            .filter_map(|l| l[1..].split_once(": ").map(|(n, v)| (&l[..n.len() + 1], v)))
            .collect();
        write("header_map", req, &serialise(&headers));
        write("request", req, lines.as_bytes());
    }
    for (i, expr) in expressions().iter().enumerate() {
        write("match_expr", &format!("doc-{i}"), expr.as_bytes());
    }
}
