//! Request matchers for cohort rules and experiment segments.
//!
//! A [`Match`] is the validated form of [`WireMatch`]: header names are lowercase, each matcher
//! has exactly one subject and one test, and evaluation is a plain walk with no allocation
//! (except for percent-decoding a query value).

use std::fmt;

use crate::config::names::HeaderName;
use crate::config::problems::{Collector, Path};
use crate::config::wire::WireMatch;
use crate::request::RequestView;

mod covers;
#[cfg(test)]
mod tests;

/// Nesting deeper than this is refused: it is never needed and bounds evaluation.
const MAX_DEPTH: usize = 8;

/// A validated request matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// A request header.
    Header(HeaderName, Test),
    /// A cookie.
    Cookie(String, Test),
    /// A query parameter (percent-decoded).
    Query(String, Test),
    /// The path (without query) starts with this.
    PathPrefix(String),
    /// The method is exactly this (methods are case-sensitive).
    Method(String),
    /// Every matcher matches (an empty list matches everything).
    All(Vec<Match>),
    /// At least one matcher matches.
    Any(Vec<Match>),
    /// The matcher does not match.
    Not(Box<Match>),
}

/// What a header, cookie or query value must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Test {
    /// Exactly this value.
    Equals(String),
    /// Starts with this value.
    Prefix(String),
    /// Present, with any value.
    Present,
    /// Not present.
    Absent,
}

impl Test {
    fn check(&self, value: Option<&[u8]>) -> bool {
        match (self, value) {
            (Test::Equals(want), Some(v)) => v == want.as_bytes(),
            (Test::Prefix(want), Some(v)) => v.starts_with(want.as_bytes()),
            (Test::Present, v) => v.is_some(),
            (Test::Absent, v) => v.is_none(),
            (Test::Equals(_) | Test::Prefix(_), None) => false,
        }
    }
}

impl Match {
    /// Whether `req` matches.
    pub fn matches(&self, req: &RequestView<'_>) -> bool {
        match self {
            Match::Header(name, test) => test.check(req.header(name.as_str())),
            Match::Cookie(name, test) => test.check(req.cookie(name)),
            Match::Query(name, test) => test.check(req.query(name).map(|v| v.as_bytes())),
            Match::PathPrefix(prefix) => req.path().starts_with(prefix.as_bytes()),
            Match::Method(method) => req.method() == method.as_bytes(),
            Match::All(ms) => ms.iter().all(|m| m.matches(req)),
            Match::Any(ms) => ms.iter().any(|m| m.matches(req)),
            Match::Not(m) => !m.matches(req),
        }
    }

    /// Validates a wire matcher, reporting every problem under `path`.
    pub(crate) fn from_wire(w: &WireMatch, path: &Path, out: &mut Collector) -> Option<Match> {
        Self::from_wire_at(w, path, out, 0)
    }

    fn from_wire_at(
        w: &WireMatch,
        path: &Path,
        out: &mut Collector,
        depth: usize,
    ) -> Option<Match> {
        if depth > MAX_DEPTH {
            out.report(
                path,
                format!("matchers nest deeper than {MAX_DEPTH} levels"),
            );
            return None;
        }
        let subjects: Vec<&str> = [
            ("header", w.header.is_some()),
            ("cookie", w.cookie.is_some()),
            ("query", w.query.is_some()),
            ("path_prefix", w.path_prefix.is_some()),
            ("method", w.method.is_some()),
            ("all", w.all.is_some()),
            ("any", w.any.is_some()),
            ("not", w.not.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
        if subjects.len() != 1 {
            out.report(
                path,
                format!(
                    "a matcher needs exactly one of header, cookie, query, path_prefix, method, all, any, not; found {}",
                    if subjects.is_empty() { "none".to_owned() } else { subjects.join(", ") }
                ),
            );
            return None;
        }
        let list = |ms: &[WireMatch], field: &str, out: &mut Collector| -> Option<Vec<Match>> {
            let p = path.field(field);
            let converted: Vec<Option<Match>> = ms
                .iter()
                .enumerate()
                .map(|(i, m)| Self::from_wire_at(m, &p.index(i), out, depth + 1))
                .collect();
            converted.into_iter().collect()
        };
        if let Some(name) = &w.header {
            let name = HeaderName::parse(name, &path.field("header"), out);
            let test = Self::test(w, path, out);
            return Some(Match::Header(name?, test?));
        }
        if let Some(name) = &w.cookie {
            let name = Self::param_name(name, &path.field("cookie"), out);
            let test = Self::test(w, path, out);
            return Some(Match::Cookie(name?, test?));
        }
        if let Some(name) = &w.query {
            let name = Self::param_name(name, &path.field("query"), out);
            let test = Self::test(w, path, out);
            return Some(Match::Query(name?, test?));
        }
        Self::no_test(w, path, out);
        if let Some(prefix) = &w.path_prefix {
            if !prefix.starts_with('/') {
                out.report(
                    &path.field("path_prefix"),
                    format!("{prefix:?} must start with '/'"),
                );
                return None;
            }
            return Some(Match::PathPrefix(prefix.clone()));
        }
        if let Some(method) = &w.method {
            let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if method.is_empty() || !method.chars().all(is_tchar) {
                out.report(
                    &path.field("method"),
                    format!("{method:?} is not an HTTP method (e.g. \"POST\")"),
                );
                return None;
            }
            return Some(Match::Method(method.clone()));
        }
        if let Some(ms) = &w.all {
            return list(ms, "all", out).map(Match::All);
        }
        if let Some(ms) = &w.any {
            if ms.is_empty() {
                out.report(
                    &path.field("any"),
                    "an empty `any` never matches; remove the rule or add matchers",
                );
                return None;
            }
            return list(ms, "any", out).map(Match::Any);
        }
        let inner = w.not.as_deref()?;
        Self::from_wire_at(inner, &path.field("not"), out, depth + 1)
            .map(|m| Match::Not(Box::new(m)))
    }

    fn param_name(name: &str, path: &Path, out: &mut Collector) -> Option<String> {
        if name.is_empty() {
            out.report(path, "name is empty");
            return None;
        }
        Some(name.to_owned())
    }

    fn test(w: &WireMatch, path: &Path, out: &mut Collector) -> Option<Test> {
        let mut tests = Vec::new();
        if let Some(v) = &w.equals {
            tests.push(Test::Equals(v.clone()));
        }
        if let Some(v) = &w.prefix {
            tests.push(Test::Prefix(v.clone()));
        }
        match w.present {
            Some(true) => tests.push(Test::Present),
            Some(false) => tests.push(Test::Absent),
            None => {}
        }
        match w.absent {
            Some(true) => tests.push(Test::Absent),
            Some(false) => tests.push(Test::Present),
            None => {}
        }
        if tests.len() == 1 {
            return tests.pop();
        }
        out.report(
            path,
            format!(
                "needs exactly one of equals, prefix, present, absent; found {}",
                tests.len()
            ),
        );
        None
    }

    fn no_test(w: &WireMatch, path: &Path, out: &mut Collector) {
        let stray = [
            ("equals", w.equals.is_some()),
            ("prefix", w.prefix.is_some()),
            ("present", w.present.is_some()),
            ("absent", w.absent.is_some()),
        ];
        for (name, _) in stray.iter().filter(|(_, set)| *set) {
            out.report(
                &path.field(name),
                "only header, cookie and query matchers take a test",
            );
        }
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Test::Equals(v) => write!(f, "= {v:?}"),
            Test::Prefix(v) => write!(f, "starts with {v:?}"),
            Test::Present => f.write_str("is present"),
            Test::Absent => f.write_str("is absent"),
        }
    }
}

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, ms: &[Match], sep: &str| -> fmt::Result {
            f.write_str("(")?;
            for (i, m) in ms.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                write!(f, "{m}")?;
            }
            f.write_str(")")
        };
        match self {
            Match::Header(n, t) => write!(f, "header {} {t}", n.as_str()),
            Match::Cookie(n, t) => write!(f, "cookie {n} {t}"),
            Match::Query(n, t) => write!(f, "query {n} {t}"),
            Match::PathPrefix(p) => write!(f, "path starts with {p:?}"),
            Match::Method(m) => write!(f, "method {m}"),
            Match::All(ms) if ms.is_empty() => f.write_str("everyone"),
            Match::All(ms) => join(f, ms, " and "),
            Match::Any(ms) => join(f, ms, " or "),
            Match::Not(m) => write!(f, "not {m}"),
        }
    }
}
