//! Config validation messages, exactly as `veerctl validate` and the filter's log show them.
//!
//! Operators fix configs from these lines alone, so each case pins the full `path: message`
//! list: the path must point at the field to edit and no problem may be hidden behind another.

// Tests may panic: the no-panic rule (filter/Cargo.toml) is for the code Envoy runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg(not(target_arch = "wasm32"))]

use serde_json::{json, Value};
use veer_filter::config::{AssignCookie, HostPattern, KeySource, RuleTarget};
use veer_filter::matcher::{Match, Test};
use veer_filter::Config;

/// A minimal valid config; each case breaks one thing in it.
fn base() -> Value {
    json!({
        "services": [{
            "name": "web",
            "variants": [
                {"name": "stable", "cluster": "web-v1"},
                {"name": "canary", "cluster": "web-v2"}
            ],
            "split": {"stable": 9000, "canary": 1000}
        }]
    })
}

/// The problems `text` produces, one `path: message` line each (empty when it is valid).
fn problems(text: &str) -> Vec<String> {
    match Config::from_json(text) {
        Ok(_) => Vec::new(),
        Err(e) => {
            assert!(!e.is_empty(), "an error must carry at least one problem");
            e.iter().map(ToString::to_string).collect()
        }
    }
}

/// Applies `edit` to [`base`] and validates the result.
fn problems_after(edit: fn(&mut Value)) -> Vec<String> {
    let mut v = base();
    edit(&mut v);
    problems(&v.to_string())
}

fn rule(matcher: Value) -> Value {
    json!([{"name": "r", "match": matcher, "variant": "canary"}])
}

fn arms(a: &str, b: &str) -> Value {
    json!([
        {"name": "control", "variant": a, "weight": 5000},
        {"name": "treatment", "variant": b, "weight": 5000}
    ])
}

/// (case name, edit of the base config, expected problem lines).
type Case = (&'static str, fn(&mut Value), Vec<String>);

const HEADER_CHARS: &str = "(letters, digits and !#$%&'*+-.^_`|~ only)";

#[test]
fn base_config_is_valid() {
    assert_eq!(problems(&base().to_string()), Vec::<String>::new());
}

/// Semantic problems: one edit of the base config each, with every line it must produce.
#[test]
fn each_semantic_problem_has_its_path_and_message() {
    let header_problem = |path: &str, name: &str| {
        format!("{path}: {name:?} is not a valid header name {HEADER_CHARS}")
    };
    let cases: Vec<Case> = vec![
        (
            "weights do not sum",
            |c| c["services"][0]["split"] = json!({"stable": 9000, "canary": 990}),
            vec!["services[0].split: weights sum to 9990 bp, must be 10000".into()],
        ),
        (
            "weights over 10000",
            |c| c["services"][0]["split"] = json!({"stable": 9000, "canary": 1001}),
            vec!["services[0].split: weights sum to 10001 bp, must be 10000".into()],
        ),
        (
            "empty split",
            |c| c["services"][0]["split"] = json!({}),
            vec!["services[0].split: split is empty: give each variant a weight in basis points, summing to 10000".into()],
        ),
        (
            "unknown variant in split",
            |c| c["services"][0]["split"] = json!({"stable": 9000, "canray": 1000}),
            vec![r#"services[0].split.canray: unknown variant "canray""#.into()],
        ),
        (
            "weight out of range, both ways",
            |c| c["services"][0]["split"] = json!({"canary": -1, "stable": 10001}),
            vec![
                "services[0].split.canary: weight -1 bp is outside 0..=10000".into(),
                "services[0].split.stable: weight 10001 bp is outside 0..=10000".into(),
            ],
        ),
        (
            "unknown variant in rule",
            |c| c["services"][0]["rules"] = json!([{"name": "staff", "match": {"header": "x-staff", "present": true}, "variant": "beta"}]),
            vec![r#"services[0].rules[0].variant: unknown variant "beta""#.into()],
        ),
        (
            "unknown variant in rule split",
            |c| c["services"][0]["rules"] = json!([{"name": "staff", "match": {"header": "x-staff", "present": true}, "split": {"beta": 10000}}]),
            vec![r#"services[0].rules[0].split.beta: unknown variant "beta""#.into()],
        ),
        (
            "rule with both variant and split",
            |c| c["services"][0]["rules"] = json!([{"name": "staff", "match": {"header": "x-staff", "present": true}, "variant": "canary", "split": {"canary": 10000}}]),
            vec!["services[0].rules[0]: a rule needs exactly one of variant, split".into()],
        ),
        (
            "rule with neither variant nor split",
            |c| c["services"][0]["rules"] = json!([{"name": "staff", "match": {"header": "x-staff", "present": true}}]),
            vec!["services[0].rules[0]: a rule needs exactly one of variant, split".into()],
        ),
        (
            "unknown variant in experiment arm",
            |c| c["services"][0]["experiments"] = json!([{"id": "checkout", "arms": arms("stable", "beta")}]),
            vec![r#"services[0].experiments[0].arms[1].variant: unknown variant "beta""#.into()],
        ),
        (
            "duplicate service name",
            |c| {
                c["services"][0]["hosts"] = json!(["a.example.com"]);
                let twin = c["services"][0].clone();
                c["services"].as_array_mut().expect("array").push(twin);
            },
            vec![r#"services[1].name: duplicate service name "web""#.into()],
        ),
        (
            "duplicate variant name",
            |c| {
                c["services"][0]["variants"][1]["name"] = json!("stable");
                c["services"][0]["split"] = json!({"stable": 10000});
            },
            vec![r#"services[0].variants[1].name: duplicate variant name "stable""#.into()],
        ),
        (
            "duplicate rule name",
            |c| {
                let r = json!({"name": "staff", "match": {"header": "x-staff", "present": true}, "variant": "canary"});
                c["services"][0]["rules"] = json!([r.clone(), r]);
            },
            vec![r#"services[0].rules[1].name: duplicate rule name "staff""#.into()],
        ),
        (
            "duplicate experiment id",
            |c| {
                let e = json!({"id": "checkout", "arms": arms("stable", "canary")});
                c["services"][0]["experiments"] = json!([e.clone(), e]);
            },
            vec![r#"services[0].experiments[1].id: duplicate experiment id "checkout""#.into()],
        ),
        (
            "duplicate arm name",
            |c| {
                c["services"][0]["experiments"] = json!([{"id": "checkout", "arms": arms("stable", "canary")}]);
                c["services"][0]["experiments"][0]["arms"][1]["name"] = json!("control");
            },
            vec![r#"services[0].experiments[0].arms[1].name: duplicate arm name "control""#.into()],
        ),
        (
            "empty cluster name",
            |c| c["services"][0]["variants"][0]["cluster"] = json!(""),
            vec!["services[0].variants[0].cluster: cluster name is empty".into()],
        ),
        (
            "cluster name with a space",
            |c| c["services"][0]["variants"][1]["cluster"] = json!("web v2"),
            vec![r#"services[0].variants[1].cluster: cluster name "web v2" must be printable ASCII without spaces"#.into()],
        ),
        (
            "names with dots, empty, too long",
            |c| {
                c["services"][0]["name"] = json!("web.shop");
                c["services"][0]["variants"][0]["name"] = json!("");
                c["services"][0]["variants"][1]["name"] = json!("c".repeat(65));
                c["services"][0]["split"] = json!({"": 9000, "stable": 1000});
            },
            vec![
                r#"services[0].name: name "web.shop" may only use letters, digits, '_' and '-', starting with a letter or digit"#.into(),
                "services[0].variants[0].name: name is empty".into(),
                format!("services[0].variants[1].name: name {:?} is longer than 64 characters", "c".repeat(65)),
                r#"services[0].split.stable: unknown variant "stable""#.into(),
            ],
        ),
        (
            "invalid header name in a matcher",
            |c| c["services"][0]["rules"] = rule(json!({"header": "x staff", "present": true})),
            vec![header_problem("services[0].rules[0].match.header", "x staff")],
        ),
        (
            "invalid header name in a nested segment",
            |c| c["services"][0]["experiments"] = json!([{
                "id": "checkout",
                "segment": {"all": [{"path_prefix": "/cart"}, {"not": {"header": "x:y", "equals": "1"}}]},
                "arms": arms("stable", "canary")
            }]),
            vec![header_problem("services[0].experiments[0].segment.all[1].not.header", "x:y")],
        ),
        (
            "invalid header name in stickiness sources, global and per service",
            |c| {
                c["stickiness"] = json!({"sources": [{"cookie": "uid"}, {"header": "user id"}]});
                c["services"][0]["stickiness"] = json!({"sources": [{"header": "é"}]});
            },
            vec![
                header_problem("stickiness.sources[1].header", "user id"),
                header_problem("services[0].stickiness.sources[0].header", "é"),
            ],
        ),
        (
            "invalid header names in headers and override",
            |c| {
                c["headers"] = json!({"cluster": "x cluster", "variant": ""});
                c["override"] = json!({"enabled": true, "header": "x/override", "keys": ["0123456789abcdef"]});
            },
            vec![
                header_problem("headers.cluster", "x cluster"),
                "headers.variant: header name is empty".into(),
                header_problem("override.header", "x/override"),
            ],
        ),
        (
            "headers that collide",
            |c| {
                c["headers"] = json!({"cluster": "X-Route", "variant": "x-route"});
                c["override"] = json!({"enabled": true, "header": "X-Veer-Experiment", "keys": ["0123456789abcdef"]});
            },
            vec!["headers: cluster, variant and experiment headers must be three different headers".into()],
        ),
        (
            "override header equal to a written header",
            |c| c["override"] = json!({"enabled": true, "header": "X-Veer-Variant", "keys": ["0123456789abcdef"]}),
            vec!["override.header: must differ from the headers Veer writes".into()],
        ),
        (
            "matcher with no subject",
            |c| c["services"][0]["rules"] = rule(json!({"equals": "1"})),
            vec!["services[0].rules[0].match: a matcher needs exactly one of header, cookie, query, path_prefix, method, all, any, not; found none".into()],
        ),
        (
            "matcher with two subjects",
            |c| c["services"][0]["rules"] = rule(json!({"header": "x-a", "cookie": "b", "present": true})),
            vec!["services[0].rules[0].match: a matcher needs exactly one of header, cookie, query, path_prefix, method, all, any, not; found header, cookie".into()],
        ),
        (
            "matcher with no test",
            |c| c["services"][0]["rules"] = rule(json!({"cookie": "beta"})),
            vec!["services[0].rules[0].match: needs exactly one of equals, prefix, present, absent; found 0".into()],
        ),
        (
            "matcher with two tests",
            |c| c["services"][0]["rules"] = rule(json!({"query": "q", "equals": "1", "prefix": "1"})),
            vec!["services[0].rules[0].match: needs exactly one of equals, prefix, present, absent; found 2".into()],
        ),
        (
            "present and absent together",
            |c| c["services"][0]["rules"] = rule(json!({"header": "x-a", "present": true, "absent": true})),
            vec!["services[0].rules[0].match: needs exactly one of equals, prefix, present, absent; found 2".into()],
        ),
        (
            "test on a matcher that takes none",
            |c| c["services"][0]["rules"] = rule(json!({"path_prefix": "/a", "equals": "x"})),
            vec!["services[0].rules[0].match.equals: only header, cookie and query matchers take a test".into()],
        ),
        (
            "empty any, empty cookie name, path prefix without slash",
            |c| c["services"][0]["rules"] = rule(json!({"all": [{"any": []}, {"cookie": "", "present": true}, {"path_prefix": "a"}]})),
            vec![
                "services[0].rules[0].match.all[0].any: an empty `any` never matches; remove the rule or add matchers".into(),
                "services[0].rules[0].match.all[1].cookie: name is empty".into(),
                r#"services[0].rules[0].match.all[2].path_prefix: "a" must start with '/'"#.into(),
            ],
        ),
        (
            "matchers nested too deep",
            |c| {
                let mut m = json!({"path_prefix": "/"});
                for _ in 0..9 {
                    m = json!({"not": m});
                }
                c["services"][0]["rules"] = rule(m);
            },
            vec![format!("services[0].rules[0].match{}: matchers nest deeper than 8 levels", ".not".repeat(9))],
        ),
        (
            "arm weight out of range",
            |c| {
                c["services"][0]["experiments"] = json!([{"id": "checkout", "arms": arms("stable", "canary")}]);
                c["services"][0]["experiments"][0]["arms"][0]["weight"] = json!(20000);
            },
            vec!["services[0].experiments[0].arms[0].weight: weight 20000 bp is outside 0..=10000".into()],
        ),
        (
            "arm weights do not sum",
            |c| {
                c["services"][0]["experiments"] = json!([{"id": "checkout", "arms": arms("stable", "canary")}]);
                c["services"][0]["experiments"][0]["arms"][0]["weight"] = json!(4000);
            },
            vec!["services[0].experiments[0].arms: weights sum to 9000 bp, must be 10000".into()],
        ),
        (
            "allocation out of range",
            |c| c["services"][0]["experiments"] = json!([
                {"id": "high", "allocation": 10001, "arms": arms("stable", "canary")},
                {"id": "low", "allocation": -5, "arms": arms("stable", "canary")}
            ]),
            vec![
                "services[0].experiments[0].allocation: 10001 bp is outside 0..=10000".into(),
                "services[0].experiments[1].allocation: -5 bp is outside 0..=10000".into(),
            ],
        ),
        (
            "experiment with fewer than two arms",
            |c| c["services"][0]["experiments"] = json!([
                {"id": "one", "arms": [{"name": "only", "variant": "stable", "weight": 10000}]},
                {"id": "none"}
            ]),
            vec![
                "services[0].experiments[0].arms: an experiment needs at least two arms, found 1".into(),
                "services[0].experiments[1].arms: an experiment needs at least two arms, found 0".into(),
            ],
        ),
        (
            "assign_cookie not among the sources",
            |c| c["stickiness"] = json!({"sources": [{"header": "x-user-id"}, {"cookie": "uid"}], "assign_cookie": {"name": "veer_id"}}),
            vec![r#"stickiness.assign_cookie.name: cookie "veer_id" is not among the sources, so the id it carries would never be read back; add {"cookie": "veer_id"} to sources"#.into()],
        ),
        (
            "assign_cookie attributes",
            |c| c["services"][0]["stickiness"] = json!({
                "sources": [{"cookie": "veer_id"}],
                "assign_cookie": {"name": "veer_id", "path": "app", "domain": "a;b", "same_site": "None"}
            }),
            vec![
                r#"services[0].stickiness.assign_cookie.path: "app" must start with '/' and contain no spaces, ';' or ','"#.into(),
                r#"services[0].stickiness.assign_cookie.domain: "a;b" is not a valid cookie domain"#.into(),
                "services[0].stickiness.assign_cookie.same_site: SameSite=None requires secure: true (browsers drop it otherwise)".into(),
            ],
        ),
        (
            "key sources with zero or two places, empty query, bad cookie name",
            |c| c["stickiness"] = json!({"sources": [{}, {"header": "x-a", "cookie": "a"}, {"query": ""}, {"cookie": "a b"}]}),
            vec![
                "stickiness.sources[0]: a key source needs exactly one of header, cookie, query".into(),
                "stickiness.sources[1]: a key source needs exactly one of header, cookie, query".into(),
                "stickiness.sources[2].query: query parameter name is empty".into(),
                r#"stickiness.sources[3].cookie: "a b" is not a valid cookie name"#.into(),
            ],
        ),
        (
            "override enabled without keys",
            |c| c["override"] = json!({"enabled": true}),
            vec!["override.keys: the override is enabled but has no keys; add a key of at least 16 bytes or disable it".into()],
        ),
        (
            "override max TTL of zero",
            |c| c["override"] = json!({"enabled": true, "keys": ["0123456789abcdef"], "max_ttl_seconds": 0}),
            vec!["override.max_ttl_seconds: 0 s is outside 1..=31536000 (a year)".into()],
        ),
        (
            "override max TTL over a year",
            |c| c["override"] = json!({"enabled": true, "keys": ["0123456789abcdef"], "max_ttl_seconds": 31536001}),
            vec!["override.max_ttl_seconds: 31536001 s is outside 1..=31536000 (a year)".into()],
        ),
        (
            "override key too short",
            |c| c["override"] = json!({"enabled": true, "keys": ["0123456789abcdef", "short", "0123456789abcde"]}),
            vec![
                "override.keys[1]: key is 5 bytes, must be at least 16".into(),
                "override.keys[2]: key is 15 bytes, must be at least 16".into(),
            ],
        ),
        (
            "goals: bad name, bad matcher, bad status, a duplicate",
            |c| {
                c["goals"] = json!([
                    {"name": "buy now", "match": {"method": "PO ST"}},
                    {"name": "signup", "match": {"path_prefix": "/signup"}, "status": "200"},
                    {"name": "signup", "match": {"method": "POST"}, "status": "2XX"},
                ]);
            },
            vec![
                r#"goals[0].name: name "buy now" may only use letters, digits, '_' and '-', starting with a letter or digit"#.into(),
                r#"goals[0].match.method: "PO ST" is not an HTTP method (e.g. "POST")"#.into(),
                r#"goals[1].status: "200" is not a status class (1xx, 2xx, 3xx, 4xx or 5xx)"#.into(),
                r#"goals[2].name: duplicate goal name "signup""#.into(),
            ],
        ),
        (
            "experiment goals: unknown, listed twice, primary not among them",
            |c| {
                c["goals"] = json!([{"name": "buy", "match": {"method": "POST"}}]);
                c["stickiness"] = json!({"sources": [{"cookie": "uid"}]});
                c["services"][0]["experiments"] = json!([{
                    "id": "e", "arms": arms("stable", "canary"),
                    "goals": ["buy", "buy", "sell"], "primary_goal": "signup"
                }]);
            },
            vec![
                r#"services[0].experiments[0].goals[1]: goal "buy" is listed twice"#.into(),
                r#"services[0].experiments[0].goals[2]: unknown goal "sell": declare it under goals"#.into(),
                r#"services[0].experiments[0].primary_goal: "signup" is not one of the experiment's goals"#.into(),
            ],
        ),
        (
            "goals without a user key",
            |c| {
                c["goals"] = json!([{"name": "buy", "match": {"method": "POST"}}]);
                c["services"][0]["experiments"] = json!([{
                    "id": "e", "arms": arms("stable", "canary"), "goals": ["buy"]
                }]);
            },
            vec!["services[0].experiments[0].goals: goals are counted per user, and this service has no stickiness sources: add a cookie, header or query source (stickiness.sources)".into()],
        ),
        (
            "marks cookie is a stickiness source",
            |c| {
                c["stickiness"] = json!({"sources": [{"cookie": "uid"}]});
                c["marks"] = json!({"name": "uid"});
            },
            vec![r#"marks.name: cookie "uid" is a stickiness source; the marks need a cookie of their own"#.into()],
        ),
        (
            "catch-all service not last",
            |c| {
                let mut api = c["services"][0].clone();
                api["name"] = json!("api");
                api["hosts"] = json!(["api.example.com"]);
                c["services"].as_array_mut().expect("array").push(api);
            },
            vec![r#"services[0]: service "web" matches every request, so the 1 service(s) after it can never match; move it last or give it hosts/path_prefix"#.into()],
        ),
        (
            "path_prefix \"/\" is a catch-all too",
            |c| {
                c["services"][0]["path_prefix"] = json!("/");
                let mut api = c["services"][0].clone();
                api["name"] = json!("api");
                api["path_prefix"] = json!("/api");
                let other = api.clone();
                let list = c["services"].as_array_mut().expect("array");
                list.push(api);
                list.push(other);
            },
            vec![
                r#"services[0]: service "web" matches every request, so the 2 service(s) after it can never match; move it last or give it hosts/path_prefix"#.into(),
                r#"services[2].name: duplicate service name "api""#.into(),
            ],
        ),
        (
            "bad hosts and path prefix",
            |c| {
                c["services"][0]["hosts"] = json!(["shop.example.com:8080", "*.", "ok.example.com", "a..b"]);
                c["services"][0]["path_prefix"] = json!("shop");
            },
            vec![
                r#"services[0].hosts[0]: "shop.example.com:8080" is not a host name (use e.g. "shop.example.com" or "*.example.com"; no port)"#.into(),
                r#"services[0].hosts[1]: "*." is not a host name (use e.g. "shop.example.com" or "*.example.com"; no port)"#.into(),
                r#"services[0].hosts[3]: "a..b" is not a host name (use e.g. "shop.example.com" or "*.example.com"; no port)"#.into(),
                r#"services[0].path_prefix: "shop" must start with '/'"#.into(),
            ],
        ),
        (
            "service without variants",
            |c| {
                c["services"][0]["variants"] = json!([]);
                c["services"][0]["split"] = json!({});
            },
            vec![
                "services[0].variants: no variants: a service needs at least one".into(),
                "services[0].split: split is empty: give each variant a weight in basis points, summing to 10000".into(),
            ],
        ),
        (
            "empty services",
            |c| c["services"] = json!([]),
            vec!["services: no services: add at least one, or every request passes through unrouted".into()],
        ),
        (
            "no services field at all",
            |c| *c = json!({}),
            vec!["services: no services: add at least one, or every request passes through unrouted".into()],
        ),
    ];
    for (name, edit, want) in cases {
        assert_eq!(problems_after(edit), want, "case: {name}");
    }
}

/// Parse errors (unknown fields, wrong types, bad syntax) come from serde with the path of the
/// offending field and its line and column, and stop at the first one.
#[test]
fn parse_errors_name_the_field() {
    let cases: [(&str, &str, &str); 10] = [
        (
            "typo in a service field",
            "{\"services\": [{\"name\": \"web\",\n  \"varaints\": []}]}",
            "services[0].varaints: unknown field `varaints`, expected one of `name`, `hosts`, `path_prefix`, `salt`, `stickiness`, `variants`, `rules`, `experiments`, `split` at line 2 column 12",
        ),
        (
            "typo at the top level",
            r#"{"servics": []}"#,
            "servics: unknown field `servics`, expected one of `version`, `headers`, `stickiness`, `override`, `services`, `metrics`, `goals`, `marks` at line 1 column 10",
        ),
        (
            "weight as a string",
            "{\"services\": [{\"name\": \"web\",\n \"split\": {\"v1\": 5000, \"v2\": \"5000\"}}]}",
            r#"services[0].split.v2: invalid type: string "5000", expected i64 at line 2 column 35"#,
        ),
        (
            "weight as a float",
            r#"{"services": [{"name": "web", "split": {"v1": 50.5}}]}"#,
            "services[0].split.v1: invalid type: floating point `50.5`, expected i64 at line 1 column 50",
        ),
        (
            "present as a string",
            r#"{"services": [{"name": "web", "rules": [{"name": "r", "match": {"header": "x", "present": "yes"}}]}]}"#,
            r#"services[0].rules[0].match.present: invalid type: string "yes", expected a boolean at line 1 column 95"#,
        ),
        (
            "missing required field",
            r#"{"services": [{"name": "web", "variants": [{"name": "v1"}]}]}"#,
            "services[0].variants[0]: missing field `cluster` at line 1 column 57",
        ),
        ("truncated document", r#"{"services": [{"name": "web"#, "services[0].name: EOF while parsing a string at line 1 column 27"),
        ("empty document", "", "$: the config must be a JSON object ({\"services\": [...]})"),
        ("an array is not a config", "[5]", "$: the config must be a JSON object ({\"services\": [...]})"),
        (
            "a variant twice in one split",
            r#"{"services": [{"name": "web", "split": {"v1": 5000, "v1": 5000}}]}"#,
            r#"services[0].split: variant "v1" appears twice at line 1 column 63"#,
        ),
    ];
    for (name, text, want) in cases {
        assert_eq!(problems(text), vec![want.to_owned()], "case: {name}");
    }
}

/// Every problem is reported at once, in document order: a config with ten mistakes needs one
/// round trip to fix, not ten.
#[test]
fn all_problems_are_reported_in_document_order() {
    let text = r#"{
      "headers": {"cluster": "bad header"},
      "override": {"enabled": true, "keys": ["short"]},
      "stickiness": {"sources": [{"query": ""}]},
      "services": [
        {
          "name": "web",
          "variants": [{"name": "stable", "cluster": ""}, {"name": "stable", "cluster": "v2"}],
          "split": {"stable": 5000},
          "rules": [{"name": "r", "match": {"header": "x"}, "variant": "nope"}],
          "experiments": [{"id": "e", "allocation": 20000, "arms": [{"name": "a", "variant": "stable", "weight": 10000}]}]
        },
        {"name": "web", "hosts": ["x.example.com"], "variants": [{"name": "v", "cluster": "c"}], "split": {"v": 10000}}
      ]
    }"#;
    let want = [
        format!("headers.cluster: \"bad header\" is not a valid header name {HEADER_CHARS}"),
        "override.keys[0]: key is 5 bytes, must be at least 16".into(),
        "stickiness.sources[0].query: query parameter name is empty".into(),
        r#"services[0]: service "web" matches every request, so the 1 service(s) after it can never match; move it last or give it hosts/path_prefix"#.into(),
        "services[0].variants[0].cluster: cluster name is empty".into(),
        r#"services[0].variants[1].name: duplicate variant name "stable""#.into(),
        "services[0].split: weights sum to 5000 bp, must be 10000".into(),
        "services[0].rules[0].match: needs exactly one of equals, prefix, present, absent; found 0".into(),
        r#"services[0].rules[0].variant: unknown variant "nope""#.into(),
        "services[0].experiments[0].allocation: 20000 bp is outside 0..=10000".into(),
        "services[0].experiments[0].arms: an experiment needs at least two arms, found 1".into(),
        r#"services[1].name: duplicate service name "web""#.into(),
    ];
    assert_eq!(problems(text), want);

    let err = Config::from_json(text).expect_err("invalid");
    let shown = err.to_string();
    assert!(
        shown.starts_with("config has 12 problems:\n  headers.cluster: "),
        "{shown}"
    );
    assert_eq!(shown.lines().count(), 13, "{shown}");
}

/// A config using every feature parses, and the validated form keeps what was written.
#[test]
fn a_full_config_parses() {
    let text = r#"{
      "version": 42,
      "headers": {"cluster": "X-Route-Cluster", "variant": "x-variant", "experiment": "x-exp", "expose_variant_to_client": true},
      "stickiness": {
        "sources": [{"cookie": "veer_id"}, {"header": "X-User-Id"}, {"query": "uid"}],
        "assign_cookie": {"name": "veer_id", "max_age_seconds": 86400, "path": "/", "domain": "example.com",
                          "secure": true, "http_only": true, "same_site": "None"}
      },
      "override": {"enabled": true, "header": "X-Force", "keys": ["0123456789abcdef", "fedcba9876543210-next"]},
      "services": [
        {
          "name": "api",
          "hosts": ["API.example.com", "*.api.example.com"],
          "path_prefix": "/v2",
          "salt": "api-2024",
          "stickiness": {"sources": [{"header": "authorization"}]},
          "variants": [{"name": "stable", "cluster": "api-v1"}, {"name": "canary", "cluster": "api-v2"}],
          "split": {"stable": 9500, "canary": 500}
        },
        {
          "name": "web",
          "variants": [
            {"name": "stable", "cluster": "web-v1"},
            {"name": "canary", "cluster": "web-v2"},
            {"name": "beta", "cluster": "web-v3"}
          ],
          "rules": [
            {"name": "staff", "match": {"header": "X-Staff", "equals": "yes"}, "variant": "canary"},
            {"name": "beta-cookie", "match": {"cookie": "beta", "present": true}, "variant": "beta"},
            {"name": "preview", "match": {"query": "preview", "prefix": "on"}, "split": {"canary": 5000, "beta": 5000}},
            {"name": "mobile", "match": {"all": [
              {"path_prefix": "/m/"},
              {"any": [{"header": "user-agent", "prefix": "iOS"}, {"header": "user-agent", "prefix": "Android"}]},
              {"not": {"cookie": "legacy", "absent": false}}
            ]}, "variant": "stable"}
          ],
          "experiments": [
            {"id": "checkout", "segment": {"header": "x-country", "equals": "NL"}, "allocation": 2500, "salt": "checkout-1",
             "arms": [{"name": "control", "variant": "stable", "weight": 5000}, {"name": "one-page", "variant": "beta", "weight": 5000}]},
            {"id": "search", "arms": [{"name": "a", "variant": "stable", "weight": 3334}, {"name": "b", "variant": "canary", "weight": 3333},
                                      {"name": "c", "variant": "beta", "weight": 3333}]}
          ],
          "split": {"beta": 0, "canary": 1000, "stable": 9000}
        }
      ]
    }"#;
    let config = Config::from_json(text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.version, 42);
    assert_eq!(
        config.owned_request_headers().collect::<Vec<_>>(),
        ["x-route-cluster", "x-variant", "x-exp"]
    );
    assert!(config.headers.expose_variant_to_client);
    let policy = config.override_policy.as_ref().expect("override enabled");
    assert_eq!(policy.header.as_str(), "x-force");
    assert_eq!(
        policy.keys,
        [
            b"0123456789abcdef".to_vec(),
            b"fedcba9876543210-next".to_vec()
        ]
    );

    let api = config.service("api").expect("api");
    assert_eq!(
        api.hosts,
        [
            HostPattern::Exact("api.example.com".into()),
            HostPattern::Suffix(".api.example.com".into())
        ]
    );
    assert_eq!(api.path_prefix.as_deref(), Some("/v2"));
    assert_eq!(api.salt, veer_filter::hash::Salt::new("api-2024"));
    let api_sources: Vec<_> = api.stickiness.sources.iter().map(source_text).collect();
    assert_eq!(
        api_sources,
        ["header:authorization"],
        "a service's stickiness replaces the default"
    );
    assert_eq!(api.stickiness.assign_cookie, None);

    let web = config.service("web").expect("web");
    assert_eq!(
        web.salt,
        veer_filter::hash::Salt::new("web"),
        "salt defaults to the service name"
    );
    let web_sources: Vec<_> = web.stickiness.sources.iter().map(source_text).collect();
    assert_eq!(
        web_sources,
        ["cookie:veer_id", "header:x-user-id", "query:uid"]
    );
    let cookie: &AssignCookie = web
        .stickiness
        .assign_cookie
        .as_ref()
        .expect("assign cookie");
    assert_eq!(
        cookie.set_cookie_value("abc"),
        "veer_id=abc; Max-Age=86400; Path=/; Domain=example.com; Secure; HttpOnly; SameSite=None"
    );
    let weights: Vec<(usize, u16)> = web
        .split
        .weights()
        .iter()
        .map(|(i, w)| (*i, w.get()))
        .collect();
    assert_eq!(
        weights,
        [(0, 9000), (1, 1000), (2, 0)],
        "layout follows variant declaration order"
    );

    let rule_names: Vec<_> = web.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(rule_names, ["staff", "beta-cookie", "preview", "mobile"]);
    assert_eq!(
        web.rules[0].matcher,
        Match::Header(header("x-staff"), Test::Equals("yes".into()))
    );
    assert!(matches!(web.rules[0].target, RuleTarget::Variant(1)));
    assert!(matches!(web.rules[2].target, RuleTarget::Split { .. }));
    assert_eq!(
        web.rules[3].matcher.to_string(),
        r#"(path starts with "/m/" and (header user-agent starts with "iOS" or header user-agent starts with "Android") and not cookie legacy is present)"#
    );

    let checkout = &web.experiments[0];
    assert_eq!(checkout.allocation.get(), 2500);
    assert_eq!(
        checkout
            .segment
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some(r#"header x-country = "NL""#)
    );
    assert_eq!(checkout.salt, veer_filter::hash::Salt::new("checkout-1"));
    assert_eq!(
        checkout
            .arms
            .iter()
            .map(|a| (a.name.as_str(), a.variant))
            .collect::<Vec<_>>(),
        [("control", 0), ("one-page", 2)]
    );
    let search = &web.experiments[1];
    assert_eq!(
        search.allocation.get(),
        10_000,
        "allocation defaults to everyone"
    );
    assert!(search.segment.is_none());
    assert_eq!(
        search.salt,
        veer_filter::hash::Salt::new("search"),
        "salt defaults to the experiment id"
    );
}

fn source_text(s: &KeySource) -> String {
    match s {
        KeySource::Header(h) => format!("header:{}", h.as_str()),
        KeySource::Cookie(c) => format!("cookie:{c}"),
        KeySource::Query(q) => format!("query:{q}"),
    }
}

/// A header name as the validator stores it (lowercase), built through a config because
/// `HeaderName` can only come from validation.
fn header(name: &str) -> veer_filter::config::names::HeaderName {
    let text = json!({
        "headers": {"cluster": name},
        "services": [{"name": "s", "variants": [{"name": "v", "cluster": "c"}], "split": {"v": 10000}}]
    });
    Config::from_json(&text.to_string())
        .expect("valid")
        .headers
        .cluster
}
