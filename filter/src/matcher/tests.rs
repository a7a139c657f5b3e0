//! Matcher unit tests: each test and combinator by outcome, and the validation of wire
//! matchers. One line per case; the request is given as header pairs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::{Match, Test};
use crate::config::names::HeaderName;
use crate::config::problems::{Collector, Path, Problems};
use crate::config::wire::WireMatch;
use crate::request::RequestView;

/// Validates a wire matcher given as JSON.
fn from_json(json: &str) -> Result<Match, Problems> {
    let wire: WireMatch = serde_json::from_str(json).unwrap();
    let mut out = Collector::default();
    let m = Match::from_wire(&wire, &Path::root().field("match"), &mut out);
    out.finish(m)
}

/// Whether the matcher (JSON) matches a request with these headers.
fn matches(json: &str, headers: &[(&str, &str)]) -> bool {
    let m = from_json(json).unwrap_or_else(|e| panic!("{json}: {e}"));
    m.matches(&RequestView::new(headers))
}

/// The problems a wire matcher (JSON) is refused with, as `path: message` lines.
fn problems(json: &str) -> Vec<String> {
    match from_json(json) {
        Ok(m) => panic!("{json} was accepted as {m}"),
        Err(p) => p.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn value_tests_by_outcome() {
    let cases: &[(Test, Option<&[u8]>, bool)] = &[
        (Test::Equals("de".into()), Some(b"de"), true),
        (Test::Equals("de".into()), Some(b"de-at"), false),
        (Test::Equals("de".into()), None, false),
        (Test::Equals(String::new()), Some(b""), true),
        (Test::Prefix("de".into()), Some(b"de-at"), true),
        (Test::Prefix("de".into()), Some(b"d"), false),
        (Test::Prefix("de".into()), None, false),
        (Test::Present, Some(b""), true),
        (Test::Present, None, false),
        (Test::Absent, None, true),
        (Test::Absent, Some(b""), false),
        (Test::Absent, Some(b"x"), false),
    ];
    for (test, value, want) in cases {
        assert_eq!(test.check(*value), *want, "{test} on {value:?}");
    }
}

#[test]
fn absent_matches_only_requests_without_the_subject() {
    let header = r#"{"header": "x-debug", "absent": true}"#;
    assert!(matches(header, &[]));
    assert!(
        !matches(header, &[("x-debug", "")]),
        "an empty value is present"
    );
    assert!(!matches(header, &[("x-debug", "1")]));
    let cookie = r#"{"cookie": "consent", "absent": true}"#;
    assert!(matches(cookie, &[("cookie", "uid=1")]));
    assert!(!matches(cookie, &[("cookie", "uid=1; consent=no")]));
    let query = r#"{"query": "debug", "absent": true}"#;
    assert!(matches(query, &[(":path", "/?other=1")]));
    assert!(!matches(query, &[(":path", "/?debug")]));
    // `present: false` is the same test; `absent: false` is `present`.
    assert_eq!(
        from_json(r#"{"header": "x-debug", "present": false}"#).unwrap(),
        from_json(header).unwrap()
    );
    assert!(matches(
        r#"{"header": "x-debug", "absent": false}"#,
        &[("x-debug", "1")]
    ));
    assert!(!matches(r#"{"header": "x-debug", "absent": false}"#, &[]));
}

#[test]
fn any_matches_when_at_least_one_matches() {
    let any = r#"{"any": [{"header": "x-country", "equals": "de"},
                          {"cookie": "beta", "present": true},
                          {"path_prefix": "/beta"}]}"#;
    assert!(matches(any, &[("x-country", "de")]));
    assert!(matches(any, &[("cookie", "beta=1")]));
    assert!(matches(any, &[(":path", "/beta/x")]));
    assert!(matches(any, &[("x-country", "de"), ("cookie", "beta=1")]));
    assert!(!matches(any, &[("x-country", "fr"), (":path", "/")]));
    assert!(!matches(any, &[]));
}

#[test]
fn all_not_and_nesting() {
    let all = r#"{"all": [{"header": "x-country", "equals": "de"}, {"cookie": "consent", "absent": true}]}"#;
    assert!(matches(all, &[("x-country", "de")]));
    assert!(!matches(
        all,
        &[("x-country", "de"), ("cookie", "consent=1")]
    ));
    assert!(!matches(all, &[]));
    assert!(
        matches(r#"{"all": []}"#, &[]),
        "an empty all matches everyone"
    );
    let not = r#"{"not": {"any": [{"header": "x-bot", "present": true}, {"query": "bot", "equals": "1"}]}}"#;
    assert!(matches(not, &[]));
    assert!(!matches(not, &[("x-bot", "")]));
    assert!(!matches(not, &[(":path", "/?bot=1")]));
    assert!(
        matches(
            r#"{"header": "X-Country", "prefix": "d"}"#,
            &[("x-country", "dk")]
        ),
        "names are lowercased"
    );
}

#[test]
fn invalid_matchers_are_refused_with_their_path() {
    let cases: &[(&str, &str)] = &[
        (r#"{}"#, "match: a matcher needs exactly one of header, cookie, query, path_prefix, method, all, any, not; found none"),
        (r#"{"header": "a", "cookie": "b", "present": true}"#, "match: a matcher needs exactly one of header, cookie, query, path_prefix, method, all, any, not; found header, cookie"),
        (r#"{"header": "a"}"#, "match: needs exactly one of equals, prefix, present, absent; found 0"),
        (r#"{"header": "a", "equals": "x", "absent": true}"#, "match: needs exactly one of equals, prefix, present, absent; found 2"),
        (r#"{"cookie": "", "present": true}"#, "match.cookie: name is empty"),
        (r#"{"any": []}"#, "match.any: an empty `any` never matches; remove the rule or add matchers"),
        (r#"{"path_prefix": "beta"}"#, "match.path_prefix: \"beta\" must start with '/'"),
        (r#"{"path_prefix": "/b", "equals": "x"}"#, "match.equals: only header, cookie and query matchers take a test"),
        (r#"{"any": [{"header": "a", "present": true}, {"query": "q"}]}"#, "match.any[1]: needs exactly one of equals, prefix, present, absent; found 0"),
    ];
    for (json, want) in cases {
        assert_eq!(problems(json), vec![(*want).to_owned()], "{json}");
    }
    let mut deep = r#"{"header": "a", "present": true}"#.to_owned();
    for _ in 0..=super::MAX_DEPTH {
        deep = format!(r#"{{"not": {deep}}}"#);
    }
    let p = problems(&deep);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].ends_with(&format!(
            "matchers nest deeper than {} levels",
            super::MAX_DEPTH
        )),
        "{p:?}"
    );
}

#[test]
fn display_reads_as_a_condition() {
    let m = Match::All(vec![
        Match::Header(
            HeaderName::parse("x-a", &Path::root(), &mut Collector::default()).unwrap(),
            Test::Absent,
        ),
        Match::Any(vec![
            Match::Cookie("c".into(), Test::Equals("1".into())),
            Match::PathPrefix("/p".into()),
        ]),
        Match::Not(Box::new(Match::Query("q".into(), Test::Prefix("x".into())))),
    ]);
    assert_eq!(
        m.to_string(),
        r#"(header x-a is absent and (cookie c = "1" or path starts with "/p") and not query q starts with "x")"#
    );
    assert_eq!(Match::All(Vec::new()).to_string(), "everyone");
}

/// `covers` is conservative and sound: each case pins the answer, and every `true` is checked
/// against requests (whatever the covered matcher matches, the covering one matches too).
#[test]
fn covers_is_provable_or_false() {
    let cases: &[(&str, &str, bool)] = &[
        (
            r#"{"all": []}"#,
            r#"{"cookie": "team", "equals": "x"}"#,
            true,
        ),
        (
            r#"{"cookie": "team", "present": true}"#,
            r#"{"cookie": "team", "equals": "x"}"#,
            true,
        ),
        (
            r#"{"cookie": "team", "prefix": "in"}"#,
            r#"{"cookie": "team", "equals": "internal"}"#,
            true,
        ),
        (
            r#"{"cookie": "team", "prefix": "in"}"#,
            r#"{"cookie": "team", "prefix": "int"}"#,
            true,
        ),
        (
            r#"{"cookie": "team", "prefix": "int"}"#,
            r#"{"cookie": "team", "prefix": "in"}"#,
            false,
        ),
        (
            r#"{"cookie": "team", "equals": "x"}"#,
            r#"{"cookie": "team", "present": true}"#,
            false,
        ),
        (
            r#"{"cookie": "team", "equals": "x"}"#,
            r#"{"header": "team", "equals": "x"}"#,
            false,
        ),
        (
            r#"{"path_prefix": "/api"}"#,
            r#"{"path_prefix": "/api/v2"}"#,
            true,
        ),
        (
            r#"{"path_prefix": "/api/v2"}"#,
            r#"{"path_prefix": "/api"}"#,
            false,
        ),
        (
            r#"{"header": "x-a", "present": true}"#,
            r#"{"all": [{"header": "x-a", "equals": "1"}, {"cookie": "c", "present": true}]}"#,
            true,
        ),
        (
            r#"{"all": [{"header": "x-a", "present": true}, {"cookie": "c", "present": true}]}"#,
            r#"{"header": "x-a", "equals": "1"}"#,
            false,
        ),
        (
            r#"{"any": [{"header": "x-a", "present": true}, {"cookie": "c", "present": true}]}"#,
            r#"{"cookie": "c", "equals": "1"}"#,
            true,
        ),
        (
            r#"{"header": "x-a", "present": true}"#,
            r#"{"any": [{"header": "x-a", "equals": "1"}, {"header": "x-a", "prefix": "2"}]}"#,
            true,
        ),
        (
            r#"{"header": "x-a", "present": true}"#,
            r#"{"any": [{"header": "x-a", "equals": "1"}, {"cookie": "c", "present": true}]}"#,
            false,
        ),
        (
            r#"{"not": {"header": "x-a", "present": true}}"#,
            r#"{"header": "x-a", "absent": true}"#,
            true,
        ),
        (
            r#"{"not": {"header": "x-a", "equals": "1"}}"#,
            r#"{"not": {"header": "x-a", "present": true}}"#,
            true,
        ),
        (
            r#"{"not": {"header": "x-a", "present": true}}"#,
            r#"{"not": {"header": "x-a", "equals": "1"}}"#,
            false,
        ),
        (r#"{"method": "POST"}"#, r#"{"method": "POST"}"#, true),
        (r#"{"method": "POST"}"#, r#"{"method": "GET"}"#, false),
    ];
    let requests: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("x-a", "1"), ("cookie", "c=1")],
        vec![("x-a", "2")],
        vec![("cookie", "team=internal")],
        vec![("cookie", "team=in")],
        vec![("cookie", "team=x"), (":path", "/api/v2/x")],
        vec![(":path", "/api"), ("team", "x")],
        vec![(":method", "POST"), ("cookie", "c=2")],
    ];
    for (a, b, want) in cases {
        let (ma, mb) = (from_json(a).unwrap(), from_json(b).unwrap());
        assert_eq!(ma.covers(&mb), *want, "{a} covers {b}");
        if *want {
            for r in &requests {
                let view = RequestView::new(r);
                assert!(
                    !mb.matches(&view) || ma.matches(&view),
                    "{a} misses {r:?} that {b} takes"
                );
            }
        }
    }
}
