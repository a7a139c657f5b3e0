//! The command line's match expressions: every matcher the config can hold is reachable, reads
//! back the same after rendering, and mistakes get a position and what was expected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::{json, Value};
use veer_ctl::config::match_expr::{parse, render};
use veer_filter::config::wire::WireMatch;

fn wire(v: Value) -> WireMatch {
    serde_json::from_value(v).unwrap()
}

#[test]
fn each_form_parses_to_the_config_matcher() {
    let cases: Vec<(&str, Value)> = vec![
        (
            "header:x-country=de",
            json!({"header": "x-country", "equals": "de"}),
        ),
        (
            "cookie:team^=int",
            json!({"cookie": "team", "prefix": "int"}),
        ),
        (
            "query:preview",
            json!({"query": "preview", "present": true}),
        ),
        (
            "!header:x-debug",
            json!({"header": "x-debug", "absent": true}),
        ),
        ("path:/checkout", json!({"path_prefix": "/checkout"})),
        ("method:POST", json!({"method": "POST"})),
        ("everyone", json!({"all": []})),
        ("header:x=", json!({"header": "x", "equals": ""})),
        (
            r#"header:user-agent^="Shop App/""#,
            json!({"header": "user-agent", "prefix": "Shop App/"}),
        ),
        (
            r#"cookie:c="a \"q\" \\ b""#,
            json!({"cookie": "c", "equals": "a \"q\" \\ b"}),
        ),
        ("header:x=a!b", json!({"header": "x", "equals": "a!b"})),
        (
            "cookie:team=internal & !query:classic",
            json!({"all": [{"cookie": "team", "equals": "internal"}, {"query": "classic", "absent": true}]}),
        ),
        (
            "header:a | header:b & cookie:c",
            json!({"any": [{"header": "a", "present": true},
                           {"all": [{"header": "b", "present": true}, {"cookie": "c", "present": true}]}]}),
        ),
        (
            "(header:a or header:b) and not cookie:c",
            json!({"all": [{"any": [{"header": "a", "present": true}, {"header": "b", "present": true}]},
                           {"cookie": "c", "absent": true}]}),
        ),
        (
            "!(cookie:beta=1 | header:x-beta)",
            json!({"not": {"any": [{"cookie": "beta", "equals": "1"}, {"header": "x-beta", "present": true}]}}),
        ),
        (
            "!(header:x)",
            json!({"not": {"header": "x", "present": true}}),
        ),
        (
            "!!header:x",
            json!({"not": {"header": "x", "absent": true}}),
        ),
    ];
    for (text, want) in cases {
        assert_eq!(parse(text), Ok(wire(want.clone())), "{text}");
        // And back: rendering reads back to the same matcher.
        let m = wire(want);
        assert_eq!(
            parse(&render(&m)),
            Ok(m.clone()),
            "{text} rendered as {}",
            render(&m)
        );
    }
}

#[test]
fn mistakes_say_where_and_what_was_expected() {
    for (text, want) in [
        ("", "at character 1: expected a matcher: header:NAME[=VALUE|^=PREFIX], cookie:..., query:..., path:/PREFIX, method:METHOD or everyone"),
        ("heder:x=1", "at character 1: \"heder\" is not a matcher: header:NAME[=VALUE|^=PREFIX], cookie:..., query:..., path:/PREFIX, method:METHOD or everyone"),
        ("header:=1", "at character 8: expected a header name after header:"),
        ("header:a &", "at character 11: expected a matcher: header:NAME[=VALUE|^=PREFIX], cookie:..., query:..., path:/PREFIX, method:METHOD or everyone"),
        ("(header:a", "at character 10: expected ) to close the group"),
        ("header:a header:b", "at character 10: unexpected 'h'; join matchers with & or |"),
        ("path:checkout", "at character 14: path prefix \"checkout\" must start with /"),
        ("cookie:c=\"open", "at character 10: unterminated quoted value"),
        ("cookie:c=\"a\\nb\"", "at character 12: only \\\" and \\\\ may be escaped"),
    ] {
        assert_eq!(parse(text).map_err(|e| e.to_string()), Err(want.to_owned()), "{text}");
    }
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z0-9/-]{1,6}",
        "[ -~]{0,6}",
        Just("a b".to_owned()),
        Just("&|()!\"\\".to_owned()),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    let name = "[a-z][a-z0-9-]{0,5}";
    prop_oneof![
        (
            prop::sample::select(vec!["header", "cookie", "query"]),
            name,
            0..4u8,
            value()
        )
            .prop_map(|(subject, name, test, v)| match test {
                0 => json!({ subject: name, "equals": v }),
                1 => json!({ subject: name, "prefix": v }),
                2 => json!({ subject: name, "present": true }),
                _ => json!({ subject: name, "absent": true }),
            }),
        value().prop_map(|v| json!({ "path_prefix": format!("/{v}") })),
        "[A-Z]{1,6}".prop_map(|m| json!({ "method": m })),
    ]
}

fn matcher() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| json!({ "all": v })),
            prop::collection::vec(inner.clone(), 1..4).prop_map(|v| json!({ "any": v })),
            inner.prop_map(|m| json!({ "not": m })),
        ]
    })
}

/// The matcher with every `all`/`any` of one element replaced by that element.
fn without_groups_of_one(m: WireMatch) -> WireMatch {
    let each = |ms: Vec<WireMatch>| {
        ms.into_iter()
            .map(without_groups_of_one)
            .collect::<Vec<_>>()
    };
    match m {
        WireMatch { all: Some(ms), .. } | WireMatch { any: Some(ms), .. } if ms.len() == 1 => {
            without_groups_of_one(ms.into_iter().next().unwrap())
        }
        WireMatch { all: Some(ms), .. } => WireMatch {
            all: Some(each(ms)),
            ..WireMatch::default()
        },
        WireMatch { any: Some(ms), .. } => WireMatch {
            any: Some(each(ms)),
            ..WireMatch::default()
        },
        WireMatch {
            not: Some(inner), ..
        } => WireMatch {
            not: Some(Box::new(without_groups_of_one(*inner))),
            ..WireMatch::default()
        },
        leaf => leaf,
    }
}

proptest! {
    /// Whatever the config can say, the command line can say, and reads back unchanged (a
    /// group of one as its element).
    #[test]
    fn render_then_parse_is_the_identity(m in matcher()) {
        let m = wire(m);
        let text = render(&m);
        prop_assert_eq!(parse(&text), Ok(without_groups_of_one(m)), "{}", text);
    }
}

/// `experiment start --segment` took `header:NAME=VALUE`, `cookie:NAME[=VALUE]`,
/// `query:NAME[=VALUE]` and `path:/PREFIX` before it took expressions: each still gives the
/// matcher it gave then (a name alone meant present).
#[test]
fn the_old_segment_forms_give_the_matchers_they_gave() {
    let cases: Vec<(&str, Value)> = vec![
        (
            "header:x-beta=1",
            json!({"header": "x-beta", "equals": "1"}),
        ),
        (
            "header:x-beta",
            json!({"header": "x-beta", "present": true}),
        ),
        (
            "cookie:team=internal",
            json!({"cookie": "team", "equals": "internal"}),
        ),
        ("cookie:team", json!({"cookie": "team", "present": true})),
        (
            "query:preview=on",
            json!({"query": "preview", "equals": "on"}),
        ),
        (
            "query:preview",
            json!({"query": "preview", "present": true}),
        ),
        ("path:/checkout/v2", json!({"path_prefix": "/checkout/v2"})),
    ];
    for (text, want) in cases {
        assert_eq!(parse(text).unwrap(), wire(want), "{text}");
    }
}
