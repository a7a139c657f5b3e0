//! The filter's own JSON decoder (`config::json`, used by the .wasm instead of serde_json) against
//! serde: the same documents accepted, the same values, the same error position and field path.
//!
//! With the default features the reference is `wire_from_json` (serde_json and
//! serde_path_to_error, which gives paths); without them it is serde_json alone (positions only).
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
use serde_json::{json, Map, Value};
use veer_filter::config::json::decode;
use veer_filter::config::wire::{WireConfig, WireMatch, WireVariant};
use veer_filter::config::Problems;

/// An error as (path, message); the path is `None` when the reference cannot tell it.
type Failure = (Option<String>, String);

#[cfg(feature = "field-paths")]
fn reference(text: &str) -> Result<WireConfig, Failure> {
    veer_filter::config::wire_from_json(text)
        .map_err(|p| one(&p))
        .map_err(|(p, m)| (Some(p), m))
}

#[cfg(not(feature = "field-paths"))]
fn reference(text: &str) -> Result<WireConfig, Failure> {
    if !text.trim_start().starts_with('{') {
        return Err((
            Some("$".to_owned()),
            "the config must be a JSON object ({\"services\": [...]})".to_owned(),
        ));
    }
    serde_json::from_str(text).map_err(|e| (None, e.to_string()))
}

fn one(p: &Problems) -> (String, String) {
    assert_eq!(p.len(), 1, "{p}");
    let first = p.iter().next().expect("one problem");
    (first.path.clone(), first.message.clone())
}

fn ours(text: &str) -> Result<WireConfig, (String, String)> {
    decode(text).map_err(|p| one(&p))
}

/// `... at line L column C` of a message.
fn position(message: &str) -> Option<&str> {
    message.rfind(" at line ").map(|i| &message[i..])
}

/// Where the decoders may word a message differently: serde_json prints floats through f64
/// (`5000.0` for `5e3`) and calls an infinite one `number out of range`; the decoder quotes the
/// number as written and calls it a float.
fn same_message(serde: &str, ours: &str) -> bool {
    serde == ours || serde.contains("floating point `") || serde.starts_with("number out of range")
}

/// Both decoders agree on `text`: both accept it with equal values, or both refuse it at the
/// same position (and path, when the reference has one).
fn agree(text: &str) -> Result<(), TestCaseError> {
    match (reference(text), ours(text)) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "values differ for {:?}", text),
        (Err((path, serde)), Err((our_path, our))) => {
            if let Some(path) = path {
                prop_assert_eq!(path, our_path, "path for {:?}: {} / {}", text, serde, our);
            }
            prop_assert_eq!(position(&serde), position(&our), "position for {:?}", text);
            prop_assert!(
                same_message(&serde, &our),
                "{:?}: serde {:?}, ours {:?}",
                text,
                serde,
                our
            );
        }
        (Ok(_), Err(e)) => prop_assert!(false, "only serde accepts {:?}: {:?}", text, e),
        (Err(e), Ok(_)) => prop_assert!(false, "only ours accepts {:?}: {:?}", text, e),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Valid configs.

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z][a-z0-9-]{0,8}",
        1 => "[ -~]{0,6}",
        1 => any::<String>().prop_map(|s| s.chars().take(6).collect()),
        1 => Just("é\u{1F600}\"\\/\n\t\u{1}\u{7f}".to_owned()),
    ]
}

fn maybe<T: std::fmt::Debug + Clone>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop::option::weighted(0.4, s)
}

fn matcher() -> impl Strategy<Value = Value> {
    let leaf = (
        prop::sample::select(vec!["header", "cookie", "query", "path_prefix", "method"]),
        text(),
        prop::sample::select(vec!["equals", "prefix", "present", "absent", ""]),
        text(),
        any::<bool>(),
    )
        .prop_map(|(subject, name, test, value, flag)| {
            let mut m = Map::new();
            m.insert(subject.to_owned(), json!(name));
            match test {
                "equals" | "prefix" => {
                    m.insert(test.to_owned(), json!(value));
                }
                "present" | "absent" => {
                    m.insert(test.to_owned(), json!(flag));
                }
                _ => {}
            }
            Value::Object(m)
        });
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| json!({"all": v})),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| json!({"any": v})),
            inner.prop_map(|m| json!({"not": m})),
        ]
    })
}

fn weights() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(text(), -20_000i64..20_000, 0..4)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k, json!(v))).collect()))
}

fn stickiness() -> impl Strategy<Value = Value> {
    let source = (
        prop::sample::select(vec!["header", "cookie", "query"]),
        text(),
    )
        .prop_map(|(k, v)| json!({ k: v }));
    (prop::collection::vec(source, 0..3), maybe(cookie()))
        .prop_map(|(sources, cookie)| json!({"sources": sources, "assign_cookie": cookie}))
}

fn cookie() -> impl Strategy<Value = Value> {
    (
        text(),
        maybe(any::<u64>()),
        maybe(text()),
        maybe(text()),
        maybe(any::<bool>()),
        maybe(any::<bool>()),
        maybe(text()),
    )
        .prop_map(|(name, age, path, domain, secure, http_only, same_site)| {
            json!({"name": name, "max_age_seconds": age, "path": path, "domain": domain,
                   "secure": secure, "http_only": http_only, "same_site": same_site})
        })
}

fn goal() -> impl Strategy<Value = Value> {
    (text(), matcher(), maybe(text()))
        .prop_map(|(name, m, status)| json!({"name": name, "match": m, "status": status}))
}

fn service() -> impl Strategy<Value = Value> {
    let variant = (text(), text()).prop_map(|(n, c)| json!({"name": n, "cluster": c}));
    let rule = (text(), matcher(), maybe(text()), maybe(weights())).prop_map(|(n, m, v, s)| {
        let mut r = json!({"name": n, "match": m, "variant": v});
        if let Some(s) = s {
            r["split"] = s;
        }
        r
    });
    let arm = (text(), text(), any::<i64>())
        .prop_map(|(n, v, w)| json!({"name": n, "variant": v, "weight": w}));
    let experiment = (
        text(),
        maybe(matcher()),
        maybe(any::<i64>()),
        prop::collection::vec(arm, 0..3),
        maybe(text()),
        prop::collection::vec(text(), 0..3),
        maybe(text()),
    )
        .prop_map(|(id, segment, allocation, arms, salt, goals, primary)| {
            json!({"id": id, "segment": segment, "allocation": allocation, "arms": arms, "salt": salt,
                   "goals": goals, "primary_goal": primary})
        });
    (
        text(),
        prop::collection::vec(text(), 0..3),
        maybe(text()),
        maybe(text()),
        maybe(stickiness()),
        prop::collection::vec(variant, 0..3),
        prop::collection::vec(rule, 0..3),
        prop::collection::vec(experiment, 0..2),
        weights(),
    )
        .prop_map(
            |(name, hosts, path_prefix, salt, stickiness, variants, rules, experiments, split)| {
                json!({"name": name, "hosts": hosts, "path_prefix": path_prefix, "salt": salt,
                       "stickiness": stickiness, "variants": variants, "rules": rules,
                       "experiments": experiments, "split": split})
            },
        )
}

/// A config with every kind of field; optional fields absent, `null` or set.
fn config() -> impl Strategy<Value = Value> {
    let headers = (maybe(text()), maybe(text()), maybe(text()), maybe(any::<bool>())).prop_map(
        |(c, v, e, x)| json!({"cluster": c, "variant": v, "experiment": e, "expose_variant_to_client": x}),
    );
    let over = (
        any::<bool>(),
        maybe(text()),
        prop::collection::vec(text(), 0..3),
        maybe(any::<u64>()),
    )
        .prop_map(
            |(e, h, k, t)| json!({"enabled": e, "header": h, "keys": k, "max_ttl_seconds": t}),
        );
    let metrics = maybe(any::<bool>()).prop_map(|r| json!({ "responses": r }));
    (
        maybe(any::<u64>()),
        maybe(headers),
        maybe(stickiness()),
        maybe(over),
        prop::collection::vec(service(), 0..3),
        maybe(metrics),
        prop::collection::vec(goal(), 0..3),
        maybe(cookie()),
        any::<u64>(),
    )
        .prop_map(
            |(version, headers, stickiness, over, services, metrics, goals, marks, drop)| {
                let mut c = json!({"version": version, "headers": headers, "stickiness": stickiness,
                               "override": over, "services": services, "metrics": metrics,
                               "goals": goals, "marks": marks});
                drop_some(&mut c, drop);
                c
            },
        )
}

/// Removes some `null` and empty members (all of them optional) so that absent, `null` and
/// set all occur; `bits` chooses which.
fn drop_some(v: &mut Value, mut bits: u64) {
    fn walk(v: &mut Value, bits: &mut u64) {
        match v {
            Value::Object(m) => {
                let keys: Vec<String> = m.keys().cloned().collect();
                for k in keys {
                    let empty = match &m[&k] {
                        Value::Null => true,
                        Value::Array(a) => a.is_empty(),
                        _ => false,
                    };
                    *bits = bits.rotate_left(1);
                    if empty && *bits & 1 == 1 {
                        m.remove(&k);
                    } else if let Some(child) = m.get_mut(&k) {
                        walk(child, bits);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|c| walk(c, bits)),
            _ => {}
        }
    }
    walk(v, &mut bits);
}

fn render(v: &Value, pretty: bool) -> String {
    if pretty {
        serde_json::to_string_pretty(v).expect("serialises")
    } else {
        serde_json::to_string(v).expect("serialises")
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations.

/// Raw JSON put where a value was: wrong types, numbers at and past the edges of i64 and u64,
/// floats, malformed literals and numbers.
const RAW: &[&str] = &[
    "null",
    "true",
    "false",
    "0",
    "-0",
    "1",
    "-1",
    "70000",
    "50.5",
    "5e3",
    "5E+3",
    "1e-2",
    "0.0",
    "-0.0",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "18446744073709551615",
    "18446744073709551616",
    "1e400",
    "-1e400",
    "1e99999999999",
    "0e99999999999",
    "1e-99999999999",
    "00",
    "01",
    "-",
    "1.",
    "1.e5",
    ".5",
    "+1",
    "1e",
    "1e+",
    "--1",
    "nul",
    "tru",
    "fals",
    "nulll",
    "\"\"",
    "\"x\"",
    "\"5000\"",
    "\"\\u0041\"",
    "\"\\ud83d\\ude00\"",
    "\"\\ud83d\"",
    "\"\\ude00\"",
    "\"\\ud83dx\"",
    "\"\\ud83d\\u0041\"",
    "\"\\x\"",
    "\"\\u12\"",
    "\"\\u12g4\"",
    "\"a\tb\"",
    "[]",
    "[1]",
    "[\"a\",\"b\"]",
    "[\"a\",\"b\",]",
    "[\"a\" \"b\"]",
    "{}",
    "{\"x\":1}",
    "{\"name\":\"a\",\"cluster\":\"b\"}",
    "[\"v\",\"c\"]",
    "[\"v\",\"c\",\"x\"]",
    "[\"v\"]",
    "[[]]",
    "{,}",
    "{\"a\"}",
    "{\"a\" 1}",
    "{\"a\":1,}",
    "[,]",
    "x",
    "",
];

/// Inserted anywhere in the text.
const BITS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "\\",
    " ",
    "\n",
    "\t",
    "\r",
    "\u{a0}",
    "0",
    "-",
    "e",
    ".",
    "n",
    "\u{1}",
    "é",
    "null",
    ",\"x\":1",
    ",\"name\":\"n\"",
    "}}",
    "]]",
    "\\u",
    "/",
];

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the `n`-th value (any depth) with raw text.
    Raw(usize, &'static str),
    /// Rename the `n`-th key.
    Rename(usize, &'static str),
    /// Repeat the `n`-th member of an object.
    Duplicate(usize),
    /// Write the `n`-th object as an array of its values (serde's other form of a struct).
    AsArray(usize),
    /// Wrap the `n`-th value in `depth` arrays, or `depth` `{"not": ...}` objects.
    Nest(usize, usize, bool),
    /// Delete `len` bytes at `at` (a fraction of the text), kept to char boundaries.
    Delete(f64, usize),
    /// Insert text at `at`.
    Insert(f64, &'static str),
    /// Cut the text short.
    Truncate(f64),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let n = 0usize..200;
    let at = 0.0f64..1.0;
    prop_oneof![
        4 => (n.clone(), prop::sample::select(RAW)).prop_map(|(n, r)| Mutation::Raw(n, r)),
        2 => (n.clone(), prop::sample::select(vec!["nme", "override_", "Name", "", "match_", "x"]))
            .prop_map(|(n, k)| Mutation::Rename(n, k)),
        2 => n.clone().prop_map(Mutation::Duplicate),
        2 => n.clone().prop_map(Mutation::AsArray),
        1 => (n.clone(), prop_oneof![1usize..8, 60usize..70, 120usize..130], any::<bool>())
            .prop_map(|(n, d, not)| Mutation::Nest(n, d, not)),
        2 => (at.clone(), 1usize..4).prop_map(|(a, l)| Mutation::Delete(a, l)),
        2 => (at.clone(), prop::sample::select(BITS)).prop_map(|(a, b)| Mutation::Insert(a, b)),
        1 => at.prop_map(Mutation::Truncate),
    ]
}

/// Writes `v` as JSON, applying a structural mutation to the `target`-th value, key or object
/// (counted in document order).
struct Writer<'m> {
    out: String,
    count: usize,
    target: usize,
    m: &'m Mutation,
    pretty: bool,
}

impl Writer<'_> {
    fn hit(&mut self) -> bool {
        self.count += 1;
        self.count - 1 == self.target
    }

    fn nl(&mut self, depth: usize) {
        if self.pretty {
            self.out.push('\n');
            self.out.push_str(&"  ".repeat(depth));
        }
    }

    fn value(&mut self, v: &Value, depth: usize) {
        if self.hit() {
            match *self.m {
                Mutation::Raw(_, raw) => return self.out.push_str(raw),
                Mutation::Nest(_, d, not) => {
                    for _ in 0..d {
                        self.out.push_str(if not { "{\"not\":" } else { "[" });
                    }
                    self.plain(v, depth);
                    for _ in 0..d {
                        self.out.push(if not { '}' } else { ']' });
                    }
                    return;
                }
                _ => {}
            }
        }
        self.plain(v, depth);
    }

    fn plain(&mut self, v: &Value, depth: usize) {
        match v {
            Value::Object(m) => {
                let as_array = matches!(self.m, Mutation::AsArray(_)) && self.hit();
                let dup = matches!(self.m, Mutation::Duplicate(_));
                self.out.push(if as_array { '[' } else { '{' });
                let mut first = true;
                for (k, child) in m {
                    let times = if dup && self.hit() { 2 } else { 1 };
                    for _ in 0..times {
                        if !first {
                            self.out.push(',');
                        }
                        first = false;
                        self.nl(depth + 1);
                        if !as_array {
                            let key = match *self.m {
                                Mutation::Rename(_, new) => {
                                    if self.hit() {
                                        new
                                    } else {
                                        k.as_str()
                                    }
                                }
                                _ => k.as_str(),
                            };
                            self.out
                                .push_str(&serde_json::to_string(key).expect("a string"));
                            self.out.push_str(if self.pretty { ": " } else { ":" });
                        }
                        self.value(child, depth + 1);
                    }
                }
                if !m.is_empty() {
                    self.nl(depth);
                }
                self.out.push(if as_array { ']' } else { '}' });
            }
            Value::Array(a) => {
                self.out.push('[');
                for (i, child) in a.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.nl(depth + 1);
                    self.value(child, depth + 1);
                }
                if !a.is_empty() {
                    self.nl(depth);
                }
                self.out.push(']');
            }
            other => self.out.push_str(&other.to_string()),
        }
    }
}

fn boundary(s: &str, at: f64) -> usize {
    let mut i = ((s.len() as f64) * at) as usize;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn mutate(v: &Value, m: &Mutation, pretty: bool) -> String {
    let target = match *m {
        Mutation::Raw(n, _)
        | Mutation::Rename(n, _)
        | Mutation::Duplicate(n)
        | Mutation::AsArray(n)
        | Mutation::Nest(n, _, _) => n,
        _ => usize::MAX,
    };
    let mut w = Writer {
        out: String::new(),
        count: 0,
        target,
        m,
        pretty,
    };
    w.value(v, 0);
    apply_text(&w.out, m)
}

// ---------------------------------------------------------------------------------------------
// Properties.

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn valid_configs_decode_to_the_same_value(c in config(), pretty in any::<bool>()) {
        let text = render(&c, pretty);
        let ours = ours(&text);
        prop_assert!(ours.is_ok(), "{:?}: {:?}", text, ours);
        agree(&text)?;
    }

    #[test]
    fn mutated_configs_are_judged_alike(
        c in config(),
        m in prop::collection::vec(mutation(), 1..3),
        pretty in any::<bool>(),
    ) {
        // The first mutation works on the value; any further one on the text it gave.
        let mut text = mutate(&c, &m[0], pretty);
        for extra in &m[1..] {
            text = apply_text(&text, extra);
        }
        agree(&text)?;
    }

    #[test]
    fn never_panics_on_any_string(s in any::<String>()) {
        let _ = decode(&s);
    }

    #[test]
    fn never_panics_on_json_like_text(s in "[ \\n{}\\[\\]:,\"\\\\a-z0-9.eE+-]{0,80}") {
        agree(&format!("{{{s}"))?;
        let _ = decode(&s);
    }

    #[test]
    fn never_panics_on_bytes(b in prop::collection::vec(any::<u8>(), 0..64)) {
        let s = String::from_utf8_lossy(&b);
        let _ = decode(&s);
        agree(&format!("{{\"services\":[{s}"))?;
    }
}

fn apply_text(base: &str, m: &Mutation) -> String {
    let mut s = base.to_owned();
    match *m {
        Mutation::Delete(at, len) => {
            let from = boundary(&s, at);
            let mut to = (from + len).min(s.len());
            while !s.is_char_boundary(to) {
                to += 1;
            }
            s.replace_range(from..to, "");
        }
        Mutation::Insert(at, bit) => {
            let i = boundary(&s, at);
            s.insert_str(i, bit);
        }
        Mutation::Truncate(at) => {
            let i = boundary(&s, at);
            s.truncate(i);
        }
        _ => {}
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Specific cases.

const SERVICE: &str = r#"{"services": [{"name": "web", "variants": [{"name": "v1", "cluster": "a"}], "split": {"v1": 10000}}]}"#;

/// Documents the decoder must refuse, with the path and the position of the error (and a part
/// of the message).
const ERRORS: &[(&str, &str, &str, &str)] = &[
    (
        r#"{"servces": []}"#,
        "servces",
        "unknown field `servces`, expected one of `version`",
        "line 1 column 10",
    ),
    (
        r#"{"services": [{"variants": []}]}"#,
        "services[0]",
        "missing field `name`",
        "line 1 column 30",
    ),
    (
        r#"{"services": [{"name": "w", "variants": [{"name": "v1"}]}]}"#,
        "services[0].variants[0]",
        "missing field `cluster`",
        "line 1 column 55",
    ),
    (
        r#"{"services": [{"name": "w", "split": {"v2": "5000"}}]}"#,
        "services[0].split.v2",
        "invalid type: string \"5000\", expected i64",
        "line 1 column 50",
    ),
    (
        r#"{"services": [{"name": "w", "split": {"v2": 50.5}}]}"#,
        "services[0].split.v2",
        "invalid type: floating point `50.5`, expected i64",
        "line 1 column 48",
    ),
    (
        r#"{"services": [{"name": "w", "split": {"v2": 5e3}}]}"#,
        "services[0].split.v2",
        "expected i64",
        "line 1 column 47",
    ),
    (
        r#"{"services": [{"name": "w", "split": {"v1": 5000, "v1": 5000}}]}"#,
        "services[0].split",
        "variant \"v1\" appears twice",
        "line 1 column 61",
    ),
    (
        r#"{"services": [{"name": "w", "name": "x"}]}"#,
        "services[0]",
        "duplicate field `name`",
        "line 1 column 34",
    ),
    (
        r#"{"version": -1}"#,
        "version",
        "invalid value: integer `-1`, expected u64",
        "line 1 column 14",
    ),
    (
        r#"{"version": 18446744073709551616}"#,
        "version",
        "expected u64",
        "line 1 column 32",
    ),
    (
        r#"{"version": null, "headers": {"cluster": 5}}"#,
        "headers.cluster",
        "invalid type: integer `5`, expected a string",
        "line 1 column 42",
    ),
    (
        r#"{"override": {"enabled": null}}"#,
        "override.enabled",
        "invalid type: null, expected a boolean",
        "line 1 column 29",
    ),
    (
        r#"{"metrics": {"response": false}}"#,
        "metrics.response",
        "unknown field `response`, expected `responses`",
        "line 1 column 23",
    ),
    (
        r#"{"services": null}"#,
        "services",
        "invalid type: null, expected a sequence",
        "line 1 column 17",
    ),
    (
        r#"{"services": [{"name": "w", "rules": [{"name": "r", "match": {}, "split": null}]}]}"#,
        "services[0].rules[0].split",
        "expected a map of variant name",
        "line 1 column 78",
    ),
    (
        "{\"services\": [{\"name\": \"w\"",
        "services[0].?",
        "EOF while parsing an object",
        "line 1 column 26",
    ),
    (
        "{\"services\": [{\"name\": \"w",
        "services[0].name",
        "EOF while parsing a string",
        "line 1 column 25",
    ),
    (
        "{\"services\": []} x",
        "$",
        "trailing characters",
        "line 1 column 18",
    ),
    (
        "{\"services\": []}\n\n  }",
        "$",
        "trailing characters",
        "line 3 column 3",
    ),
    (
        "{\"services\": [\n  {\"name\": \"w\",\n   \"hosts\": [\"a\" \"b\"]}]}",
        "services[0].hosts",
        "expected `,` or `]`",
        "line 3 column 18",
    ),
    (
        "{\"services\": [{\"name\": \"a\u{1}\"}]}",
        "services[0].name",
        "control character",
        "line 1 column 26",
    ),
    (
        r#"{"services": [{"name": "\ud800"}]}"#,
        "services[0].name",
        "unexpected end of hex escape",
        "line 1 column 31",
    ),
    (
        r#"{"services": [{"name": "\udc00"}]}"#,
        "services[0].name",
        "lone leading surrogate in hex escape",
        "line 1 column 30",
    ),
    (
        r#"{"services": [{"name": "\q"}]}"#,
        "services[0].name",
        "invalid escape",
        "line 1 column 26",
    ),
    (
        r#"{"services": [["w", [], null, null, null, [["v1"]]]]}"#,
        "services[0][5][0]",
        "invalid length 1, expected struct WireVariant with 2 elements",
        "line 1 column 49",
    ),
    (
        r#"{"services": [["w", [], null, null, null, [], [], [], {}, 5]]}"#,
        "services[0]",
        "trailing characters",
        "line 1 column 59",
    ),
    (
        r#"{"services": [], }"#,
        "?",
        "trailing comma",
        "line 1 column 18",
    ),
    (
        r#"{"version": 01}"#,
        "version",
        "invalid number",
        "line 1 column 14",
    ),
    (
        r#"{"version": -0}"#,
        "version",
        "invalid type: floating point `-0`, expected u64",
        "line 1 column 14",
    ),
    ("[]", "$", "must be a JSON object", ""),
    ("", "$", "must be a JSON object", ""),
];

#[test]
fn errors_name_the_field_and_position() {
    for &(text, path, message, at) in ERRORS {
        let (our_path, our) = ours(text).expect_err(text);
        assert_eq!(our_path, path, "{text}: {our}");
        assert!(our.contains(message), "{text}: {our}");
        assert!(our.ends_with(at), "{text}: {our}");
        // serde says the same, at the same place.
        agree(text)
            .map_err(|e| format!("{e}"))
            .expect("serde agrees");
    }
}

#[test]
fn accepts_what_serde_accepts() {
    let cases = [
        SERVICE.to_owned(),
        // A struct written as the array of its fields (serde's other form).
        r#"{"services": [["w", ["h"], "/p", "s", null, [["v1", "a"]], [], [], {"v1": 10000}]]}"#
            .to_owned(),
        r#"{"stickiness": [[{"header": "x"}], ["uid"]]}"#.to_owned(),
        // Escapes, including a surrogate pair, and every JSON whitespace.
        "{\"services\":\r\n\t[{\"name\": \"\\u0077\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\"}] }"
            .to_owned(),
        // Integers at the edges of their types.
        r#"{"version": 18446744073709551615, "services": [{"name": "w", "split": {"a": -9223372036854775808, "b": 9223372036854775807}}]}"#.to_owned(),
        // `null` for every optional field.
        r#"{"version": null, "headers": null, "stickiness": null, "override": null}"#.to_owned(),
        // The deepest matcher serde accepts: 127 containers.
        format!(
            r#"{{"services": [{{"name": "w", "rules": [{{"name": "r", "match": {}{{}}{}}}]}}]}}"#,
            "{\"not\": ".repeat(121),
            "}".repeat(121)
        ),
    ];
    for text in &cases {
        assert!(ours(text).is_ok(), "{text}: {:?}", ours(text));
        agree(text)
            .map_err(|e| format!("{e}"))
            .expect("serde agrees");
    }
}

#[test]
fn nesting_past_serde_limit_is_refused_not_overflowed() {
    for depth in [122, 1000, 100_000] {
        let text = format!(
            r#"{{"services": [{{"name": "w", "rules": [{{"name": "r", "match": {}{{}}{}}}]}}]}}"#,
            "{\"not\": ".repeat(depth),
            "}".repeat(depth)
        );
        let (_, message) = ours(&text).expect_err("too deep");
        assert!(message.starts_with("recursion limit exceeded"), "{message}");
        agree(&text)
            .map_err(|e| format!("{e}"))
            .expect("serde agrees");
    }
}

#[test]
fn decodes_the_documented_example() {
    let text = r#"{
        "version": 7,
        "headers": {"cluster": "x-c", "expose_variant_to_client": true},
        "stickiness": {"sources": [{"header": "x-user-id"}, {"cookie": "uid"}],
                       "assign_cookie": {"name": "uid", "max_age_seconds": 86400, "secure": true}},
        "override": {"enabled": true, "keys": ["k1"]},
        "services": [{
            "name": "web", "hosts": ["*.example.com"],
            "variants": [{"name": "v1", "cluster": "web-v1"}, {"name": "v2", "cluster": "web-v2"}],
            "rules": [{"name": "beta", "match": {"any": [{"header": "x-beta", "present": true},
                                                         {"not": {"cookie": "c", "equals": "1"}}]},
                       "variant": "v2"}],
            "experiments": [{"id": "e", "allocation": 5000,
                             "arms": [{"name": "a", "variant": "v1", "weight": 10000}]}],
            "split": {"v1": 9000, "v2": 1000}
        }]
    }"#;
    let w = ours(text).expect("valid");
    assert_eq!(w.version, Some(7));
    let s = &w.services[0];
    assert_eq!(
        s.variants[1],
        WireVariant {
            name: "v2".into(),
            cluster: "web-v2".into()
        }
    );
    assert_eq!(s.split.get("v2"), Some(&1000));
    let any = s.rules[0].match_.any.as_ref().expect("any");
    assert_eq!(
        any[1].not.as_deref(),
        Some(&WireMatch {
            cookie: Some("c".into()),
            equals: Some("1".into()),
            ..WireMatch::default()
        })
    );
    agree(text)
        .map_err(|e| format!("{e}"))
        .expect("serde agrees");
}
