//! Whether one matcher catches every request another would: what `veerctl cohort add` uses to
//! refuse a rule that can never match, because an earlier rule takes all of its requests.
//!
//! The answer is conservative: `true` only when it is provable from the matchers' structure
//! (request-independent reasoning over prefixes, equalities and combinators), so a rule is never
//! refused by mistake; `false` means "not provably", and such a rule may still be dead.

use super::{Match, Test};

impl Match {
    /// Whether every request `other` matches is also matched by `self`.
    pub fn covers(&self, other: &Match) -> bool {
        if self == other {
            return true;
        }
        // Structure of `other` first: a union is covered when each part is; an intersection
        // when any one of its parts is (the intersection lies within it).
        match other {
            Match::Any(bs) => return bs.iter().all(|b| self.covers(b)),
            Match::All(bs) if bs.iter().any(|b| self.covers(b)) => return true,
            _ => {}
        }
        match self {
            Match::All(as_) => as_.iter().all(|a| a.covers(other)),
            Match::Any(as_) => as_.iter().any(|a| a.covers(other)),
            Match::Not(a) => match other {
                // not A covers not B when B covers A.
                Match::Not(b) => b.covers(a),
                _ => negation(a).is_some_and(|n| n.covers(other)),
            },
            Match::Header(n, t) => match other {
                Match::Header(m, u) => n == m && t.covers(u),
                _ => false,
            },
            Match::Cookie(n, t) => match other {
                Match::Cookie(m, u) => n == m && t.covers(u),
                _ => false,
            },
            Match::Query(n, t) => match other {
                Match::Query(m, u) => n == m && t.covers(u),
                _ => false,
            },
            Match::PathPrefix(p) => match other {
                Match::PathPrefix(q) => q.starts_with(p.as_str()),
                _ => false,
            },
            Match::Method(_) => false,
        }
    }
}

/// `not m` as a plain matcher, where one exists (`not present` is `absent`).
fn negation(m: &Match) -> Option<Match> {
    let flip = |t: &Test| match t {
        Test::Present => Some(Test::Absent),
        Test::Absent => Some(Test::Present),
        Test::Equals(_) | Test::Prefix(_) => None,
    };
    match m {
        Match::Header(n, t) => flip(t).map(|t| Match::Header(n.clone(), t)),
        Match::Cookie(n, t) => flip(t).map(|t| Match::Cookie(n.clone(), t)),
        Match::Query(n, t) => flip(t).map(|t| Match::Query(n.clone(), t)),
        _ => None,
    }
}

impl Test {
    /// Whether every value `other` accepts is accepted by `self` (same subject).
    fn covers(&self, other: &Test) -> bool {
        match (self, other) {
            (Test::Present, Test::Equals(_) | Test::Prefix(_) | Test::Present) => true,
            (Test::Absent, Test::Absent) => true,
            (Test::Prefix(p), Test::Prefix(q) | Test::Equals(q)) => q.starts_with(p.as_str()),
            (Test::Equals(v), Test::Equals(w)) => v == w,
            _ => false,
        }
    }
}
