//! A gate's condition on one number: a comparison (`< 0.01`, `>= 99`) or an inclusive range
//! (`between 0.9 1.1`), the two forms Flagger's `thresholdRange` and Argo Rollouts'
//! `successCondition` are mostly used for. Written and read as text, in gate files and in the
//! recorded run state.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a gate's value must satisfy to pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Condition {
    /// `< N`.
    Below(f64),
    /// `<= N`.
    AtMost(f64),
    /// `> N`.
    Above(f64),
    /// `>= N`.
    AtLeast(f64),
    /// `between A B`: A <= value <= B.
    Between(f64, f64),
}

impl Condition {
    /// Whether `value` satisfies the condition (a NaN never does).
    pub fn holds(&self, value: f64) -> bool {
        match *self {
            Condition::Below(n) => value < n,
            Condition::AtMost(n) => value <= n,
            Condition::Above(n) => value > n,
            Condition::AtLeast(n) => value >= n,
            Condition::Between(a, b) => (a..=b).contains(&value),
        }
    }

    /// The condition with its numbers shown by `number` (e.g. with a unit): `<= 500 ms`.
    pub fn show(&self, number: impl Fn(f64) -> String) -> String {
        match *self {
            Condition::Below(n) => format!("< {}", number(n)),
            Condition::AtMost(n) => format!("<= {}", number(n)),
            Condition::Above(n) => format!("> {}", number(n)),
            Condition::AtLeast(n) => format!(">= {}", number(n)),
            Condition::Between(a, b) => format!("between {} {}", number(a), number(b)),
        }
    }
}

/// Why a condition's text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadCondition(String);

const FORMS: &str = "expected `< N`, `<= N`, `> N`, `>= N` or `between A B`";

impl FromStr for Condition {
    type Err = BadCondition;

    fn from_str(text: &str) -> Result<Condition, BadCondition> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let number = |w: &str| -> Result<f64, BadCondition> {
            w.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| BadCondition(format!("`{w}` is not a number; {FORMS}")))
        };
        // `<0.01` as well as `< 0.01`.
        let split_op = |w: &str| -> Option<(String, String)> {
            let op_len = w
                .chars()
                .take_while(|c| matches!(c, '<' | '>' | '='))
                .count();
            (op_len > 0 && op_len < w.len())
                .then(|| (w[..op_len].to_owned(), w[op_len..].to_owned()))
        };
        let (op, operands): (String, Vec<String>) = match words.as_slice() {
            [first, rest @ ..] if first.eq_ignore_ascii_case("between") => (
                "between".into(),
                rest.iter()
                    .filter(|w| !w.eq_ignore_ascii_case("and"))
                    .map(|w| (*w).to_owned())
                    .collect(),
            ),
            [one] => match split_op(one) {
                Some((op, n)) => (op, vec![n]),
                None => return Err(BadCondition(format!("{FORMS}, got `{text}`"))),
            },
            [op, rest @ ..] => (
                (*op).to_owned(),
                rest.iter().map(|w| (*w).to_owned()).collect(),
            ),
            [] => return Err(BadCondition(format!("the condition is empty; {FORMS}"))),
        };
        match (op.as_str(), operands.as_slice()) {
            ("<", [n]) => Ok(Condition::Below(number(n)?)),
            ("<=", [n]) => Ok(Condition::AtMost(number(n)?)),
            (">", [n]) => Ok(Condition::Above(number(n)?)),
            (">=", [n]) => Ok(Condition::AtLeast(number(n)?)),
            ("between", [a, b]) => {
                let (a, b) = (number(a)?, number(b)?);
                if a > b {
                    return Err(BadCondition(format!(
                        "between {a} {b}: the lower bound comes first"
                    )));
                }
                Ok(Condition::Between(a, b))
            }
            _ => Err(BadCondition(format!("{FORMS}, got `{text}`"))),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.show(|n| n.to_string()))
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Condition, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A condition's text, what it parses to, and values with whether they satisfy it.
    type Case = (&'static str, Condition, &'static [(f64, bool)]);

    #[test]
    fn comparisons_and_ranges_parse_and_hold_as_written() {
        let cases: [Case; 6] = [
            (
                "< 0.01",
                Condition::Below(0.01),
                &[(0.0, true), (0.01, false)],
            ),
            (
                "<=0.01",
                Condition::AtMost(0.01),
                &[(0.01, true), (0.02, false)],
            ),
            ("> 5", Condition::Above(5.0), &[(5.0, false), (6.0, true)]),
            (
                ">= 99",
                Condition::AtLeast(99.0),
                &[(99.0, true), (98.9, false)],
            ),
            (
                "between 0.9 1.1",
                Condition::Between(0.9, 1.1),
                &[(0.9, true), (1.1, true), (1.2, false), (0.5, false)],
            ),
            (
                "Between 1 and 2",
                Condition::Between(1.0, 2.0),
                &[(1.5, true)],
            ),
        ];
        for (text, expected, values) in cases {
            let c: Condition = text.parse().unwrap();
            assert_eq!(c, expected, "{text}");
            for (v, holds) in values {
                assert_eq!(c.holds(*v), *holds, "{text} on {v}");
            }
            // What is written reads back the same.
            assert_eq!(c.to_string().parse::<Condition>().unwrap(), c);
        }
        assert!(!Condition::AtMost(1.0).holds(f64::NAN));
    }

    #[test]
    fn bad_conditions_say_what_is_expected() {
        for (text, says) in [
            ("", "empty"),
            ("0.01", "expected `< N`"),
            ("< lots", "`lots` is not a number"),
            ("== 1", "expected `< N`"),
            ("< 1 2", "expected `< N`"),
            ("between 2 1", "the lower bound comes first"),
            ("between 1", "expected `< N`"),
            ("< inf", "is not a number"),
        ] {
            let err = text.parse::<Condition>().unwrap_err().to_string();
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }

    #[test]
    fn conditions_show_their_numbers_with_a_unit() {
        assert_eq!(
            Condition::AtMost(500.0).show(|n| format!("{n} ms")),
            "<= 500 ms"
        );
        assert_eq!(Condition::Between(0.9, 1.1).to_string(), "between 0.9 1.1");
    }
}
