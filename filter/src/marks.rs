//! What the filter has already counted for a user, kept in a cookie on the user's side.
//!
//! Experiments are judged on users, not requests: a user who loads the checkout page ten times is
//! one exposure, and buying twice is one conversion. The proxy keeps no per-user state, so the
//! user carries it: the marks cookie holds a short token for each thing already counted (exposed
//! to experiment E; reached goal G in experiment E). The filter counts a user only when the token
//! is missing, and adds it in a `set-cookie` on that response.
//!
//! Tokens are 32-bit hashes under the experiment's salt, so a new salt (a restarted experiment)
//! counts everyone afresh. A client can edit its own marks; that changes only whether *it* is
//! counted again (never which arm or variant it gets: those come from the user's key).
//! Value: tokens as 8 hex digits joined by `.`, oldest first, at most [`MAX_MARKS`].

use crate::hash::Salt;

/// The most tokens kept; the oldest go first (about 300 bytes of cookie at most).
pub const MAX_MARKS: usize = 32;

/// Tokens read from a request at most: bounds the work on a hostile cookie.
const MAX_READ: usize = 2 * MAX_MARKS;

/// One thing counted for a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mark(u32);

impl Mark {
    /// "Exposed to the experiment salted with `salt`."
    pub fn exposure(salt: Salt) -> Mark {
        Mark(salt.hash(b"veer:exposed") as u32)
    }

    /// "Reached goal `goal` in the experiment salted with `salt`."
    pub fn conversion(salt: Salt, goal: &str) -> Mark {
        let mut key = b"veer:goal:".to_vec();
        key.extend_from_slice(goal.as_bytes());
        Mark(salt.hash(&key) as u32)
    }

    /// The token as it appears in the cookie.
    pub fn token(self) -> String {
        format!("{:08x}", self.0)
    }
}

/// The marks a request carried, plus any added while handling it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    tokens: Vec<Mark>,
    changed: bool,
}

impl Marks {
    /// Reads a cookie value; pieces that are not 8 hex digits are ignored.
    pub fn parse(value: &[u8]) -> Marks {
        let tokens = value
            .split(|&b| b == b'.')
            .take(MAX_READ)
            .filter_map(parse_token)
            .collect();
        Marks {
            tokens,
            changed: false,
        }
    }

    /// Whether `mark` is already there.
    pub fn has(&self, mark: Mark) -> bool {
        self.tokens.contains(&mark)
    }

    /// Adds `mark` unless present; true when it was missing (the thing is counted now).
    pub fn add(&mut self, mark: Mark) -> bool {
        if self.has(mark) {
            return false;
        }
        self.tokens.push(mark);
        self.changed = true;
        true
    }

    /// Whether anything was added (a `set-cookie` is due).
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// The cookie value: the newest [`MAX_MARKS`] tokens, oldest first.
    pub fn value(&self) -> String {
        let skip = self.tokens.len().saturating_sub(MAX_MARKS);
        let mut out = String::with_capacity(9 * (self.tokens.len() - skip));
        for (i, m) in self.tokens.iter().skip(skip).enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push_str(&m.token());
        }
        out
    }
}

fn parse_token(piece: &[u8]) -> Option<Mark> {
    if piece.len() != 8 {
        return None;
    }
    let text = std::str::from_utf8(piece).ok()?;
    u32::from_str_radix(text, 16).ok().map(Mark)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_round_trip_and_count_each_thing_once() {
        let salt = Salt::new("checkout");
        let (seen, bought) = (Mark::exposure(salt), Mark::conversion(salt, "purchase"));
        assert_ne!(seen, bought);
        assert_ne!(bought, Mark::conversion(salt, "signup"));
        assert_ne!(seen, Mark::exposure(Salt::new("checkout-2")));

        let mut m = Marks::parse(b"");
        assert!(!m.changed());
        assert!(m.add(seen));
        assert!(!m.add(seen));
        assert!(m.changed());
        let again = Marks::parse(m.value().as_bytes());
        assert!(again.has(seen) && !again.has(bought) && !again.changed());
    }

    #[test]
    fn hostile_values_are_ignored_piece_by_piece() {
        let m = Marks::parse(b"zzzzzzzz.0000000a..\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8.123.0000000b0");
        assert_eq!(m.tokens, vec![Mark(10)]);
        let long = "0000000a.".repeat(10_000);
        assert!(Marks::parse(long.as_bytes()).tokens.len() <= MAX_READ);
    }

    #[test]
    fn only_the_newest_tokens_are_kept() {
        let mut m = Marks::default();
        for i in 0..40u32 {
            m.add(Mark(i));
        }
        let kept = Marks::parse(m.value().as_bytes());
        assert_eq!(kept.tokens.len(), MAX_MARKS);
        assert!(kept.has(Mark(39)) && kept.has(Mark(8)) && !kept.has(Mark(7)));
    }
}
