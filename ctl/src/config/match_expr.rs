//! Request matchers on the command line: `veerctl cohort add --match EXPR` and
//! `experiment start --segment EXPR`, in a syntax that says everything a config matcher can.
//!
//! ```text
//! header:x-country=de            header equals
//! cookie:team^=int               cookie starts with
//! query:preview                  query parameter present
//! !header:x-debug                header absent
//! path:/checkout                 path starts with
//! method:POST                    method is
//! everyone                       every request
//! cookie:team=internal & !query:classic      all of
//! header:x-a | header:x-b                    any of
//! !(cookie:beta=1 | header:x-beta)           not
//! header:user-agent^="Shop App/"             quoted value (spaces, & | ( ) ! ")
//! ```
//! `and`, `or` and `not` may be written for `&`, `|` and `!`. Precedence: `!` binds tightest,
//! then `&`, then `|`; parentheses group. [`render`] writes a matcher back in this syntax, so
//! `cohort list` and `--dry-run` show rules the way they are typed.

use std::fmt;

use veer_filter::config::wire::WireMatch;

/// A parse error: where in the expression, and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    /// Byte offset in the expression.
    pub at: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.at + 1, self.message)
    }
}

impl std::error::Error for ExprError {}

const ATOMS: &str =
    "header:NAME[=VALUE|^=PREFIX], cookie:..., query:..., path:/PREFIX, method:METHOD or everyone";

/// Parses a match expression into the config's matcher.
pub fn parse(text: &str) -> Result<WireMatch, ExprError> {
    let mut p = Parser { text, at: 0 };
    let m = p.or()?;
    p.skip_space();
    if p.at < text.len() {
        return Err(p.error(format!(
            "unexpected {:?}; join matchers with & or |",
            p.rest().chars().next().unwrap_or(' ')
        )));
    }
    Ok(m)
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        self.text.get(self.at..).unwrap_or("")
    }

    fn error(&self, message: String) -> ExprError {
        ExprError {
            at: self.at,
            message,
        }
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.at = self.text.len() - trimmed.len();
    }

    /// Consumes `symbol`, or `word` followed by a space or `(`.
    fn operator(&mut self, symbol: char, word: &str) -> bool {
        self.skip_space();
        let rest = self.rest();
        if rest.starts_with(symbol) {
            self.at += symbol.len_utf8();
            return true;
        }
        let after = rest.get(word.len()..).and_then(|r| r.chars().next());
        if rest.starts_with(word) && after.is_some_and(|c| c.is_whitespace() || c == '(') {
            self.at += word.len();
            return true;
        }
        false
    }

    fn or(&mut self) -> Result<WireMatch, ExprError> {
        let mut parts = vec![self.and()?];
        while self.operator('|', "or") {
            parts.push(self.and()?);
        }
        Ok(combine(parts, |ms| WireMatch {
            any: Some(ms),
            ..WireMatch::default()
        }))
    }

    fn and(&mut self) -> Result<WireMatch, ExprError> {
        let mut parts = vec![self.unary()?];
        while self.operator('&', "and") {
            parts.push(self.unary()?);
        }
        Ok(combine(parts, |ms| WireMatch {
            all: Some(ms),
            ..WireMatch::default()
        }))
    }

    fn unary(&mut self) -> Result<WireMatch, ExprError> {
        if self.operator('!', "not") {
            self.skip_space();
            let bare = !self.rest().starts_with('(');
            let inner = self.unary()?;
            // `!header:x` is the config's `absent`; `!(header:x)` stays a `not`.
            if bare && inner.present == Some(true) {
                return Ok(WireMatch {
                    present: None,
                    absent: Some(true),
                    ..inner
                });
            }
            return Ok(WireMatch {
                not: Some(Box::new(inner)),
                ..WireMatch::default()
            });
        }
        self.skip_space();
        if self.rest().starts_with('(') {
            self.at += 1;
            let inner = self.or()?;
            self.skip_space();
            if !self.rest().starts_with(')') {
                return Err(self.error("expected ) to close the group".to_owned()));
            }
            self.at += 1;
            return Ok(inner);
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<WireMatch, ExprError> {
        let start = self.at;
        let word_len = self
            .rest()
            .find(|c: char| c.is_whitespace() || "()&|!:=^\"".contains(c))
            .unwrap_or(self.rest().len());
        let word = self.rest().get(..word_len).unwrap_or("").to_owned();
        self.at += word_len;
        if word == "everyone" {
            return Ok(WireMatch {
                all: Some(Vec::new()),
                ..WireMatch::default()
            });
        }
        if !self.rest().starts_with(':') {
            self.at = start;
            return Err(self.error(if word.is_empty() {
                format!("expected a matcher: {ATOMS}")
            } else {
                format!("{word:?} is not a matcher: {ATOMS}")
            }));
        }
        self.at += 1;
        match word.as_str() {
            "header" | "cookie" | "query" => self.subject(&word),
            "path" => {
                let prefix = self.value()?;
                if !prefix.starts_with('/') {
                    return Err(self.error(format!("path prefix {prefix:?} must start with /")));
                }
                Ok(WireMatch {
                    path_prefix: Some(prefix),
                    ..WireMatch::default()
                })
            }
            "method" => Ok(WireMatch {
                method: Some(self.value()?),
                ..WireMatch::default()
            }),
            other => {
                self.at = start;
                Err(self.error(format!("{other:?} is not a matcher: {ATOMS}")))
            }
        }
    }

    /// `NAME`, `NAME=VALUE` or `NAME^=PREFIX` after `header:`, `cookie:` or `query:`.
    fn subject(&mut self, subject: &str) -> Result<WireMatch, ExprError> {
        let name_len = self
            .rest()
            .find(|c: char| c.is_whitespace() || "()&|!=^\"".contains(c))
            .unwrap_or(self.rest().len());
        let name = self.rest().get(..name_len).unwrap_or("").to_owned();
        if name.is_empty() {
            return Err(self.error(format!("expected a {subject} name after {subject}:")));
        }
        self.at += name_len;
        let mut m = WireMatch::default();
        let rest = self.rest();
        if let Some(after) = rest.strip_prefix("^=") {
            self.at = self.text.len() - after.len();
            m.prefix = Some(self.value()?);
        } else if let Some(after) = rest.strip_prefix('=') {
            self.at = self.text.len() - after.len();
            m.equals = Some(self.value()?);
        } else {
            m.present = Some(true);
        }
        match subject {
            "header" => m.header = Some(name),
            "cookie" => m.cookie = Some(name),
            _ => m.query = Some(name),
        }
        Ok(m)
    }

    /// A value: `"quoted"` (with `\"` and `\\`) or a run up to a space, `)`, `&` or `|`.
    fn value(&mut self) -> Result<String, ExprError> {
        let text = self.text;
        let rest = text.get(self.at..).unwrap_or("");
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = quoted.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        self.at += 1 + i + 1;
                        return Ok(out);
                    }
                    '\\' => match chars.next() {
                        Some((_, e @ ('"' | '\\'))) => out.push(e),
                        _ => {
                            self.at += 1 + i;
                            return Err(self.error("only \\\" and \\\\ may be escaped".to_owned()));
                        }
                    },
                    c => out.push(c),
                }
            }
            return Err(self.error("unterminated quoted value".to_owned()));
        }
        let len = rest
            .find(|c: char| c.is_whitespace() || "()&|\"".contains(c))
            .unwrap_or(rest.len());
        let value = rest.get(..len).unwrap_or("").to_owned();
        self.at += len;
        Ok(value)
    }
}

fn combine(
    mut parts: Vec<WireMatch>,
    group: impl FnOnce(Vec<WireMatch>) -> WireMatch,
) -> WireMatch {
    if parts.len() == 1 {
        if let Some(only) = parts.pop() {
            return only;
        }
    }
    group(parts)
}

/// Writes a matcher in the expression syntax. [`parse`] reads it back to the same matcher, except
/// that an `all` or `any` of one element comes back as that element (which matches the same
/// requests).
pub fn render(m: &WireMatch) -> String {
    render_at(m, Level::Or)
}

/// How tightly the surrounding expression binds: a looser group inside needs parentheses.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Or,
    And,
    Unary,
}

fn render_at(m: &WireMatch, level: Level) -> String {
    // Members bind tighter than their group, so a nested group of the same kind keeps its
    // parentheses (`a | (b | c)` stays two groups).
    let group = |ms: &[WireMatch], sep: &str, own: Level| {
        let member = if own == Level::Or {
            Level::And
        } else {
            Level::Unary
        };
        let inner: Vec<String> = ms.iter().map(|x| render_at(x, member)).collect();
        let text = inner.join(sep);
        if level > own {
            format!("({text})")
        } else {
            text
        }
    };
    // A group of one is its element (the same requests); it reads back as the element.
    if let Some(ms) = &m.all {
        return match ms.as_slice() {
            [] => "everyone".to_owned(),
            [one] => render_at(one, level),
            _ => group(ms, " & ", Level::And),
        };
    }
    if let Some(ms) = &m.any {
        return match ms.as_slice() {
            [one] => render_at(one, level),
            _ => group(ms, " | ", Level::Or),
        };
    }
    if let Some(inner) = &m.not {
        let text = render_at(inner, Level::Unary);
        // A bare presence test after `!` would read back as `absent`.
        return if ungrouped(inner).present == Some(true) {
            format!("!({text})")
        } else {
            format!("!{text}")
        };
    }
    if let Some(p) = &m.path_prefix {
        return format!("path:{}", quote(p));
    }
    if let Some(method) = &m.method {
        return format!("method:{}", quote(method));
    }
    let (subject, name) = match (&m.header, &m.cookie, &m.query) {
        (Some(n), _, _) => ("header", n),
        (_, Some(n), _) => ("cookie", n),
        (_, _, Some(n)) => ("query", n),
        _ => return "everyone".to_owned(),
    };
    match (&m.equals, &m.prefix, m.absent) {
        (Some(v), _, _) => format!("{subject}:{name}={}", quote(v)),
        (_, Some(v), _) => format!("{subject}:{name}^={}", quote(v)),
        (_, _, Some(true)) => format!("!{subject}:{name}"),
        _ => format!("{subject}:{name}"),
    }
}

/// The matcher a group of one stands for (itself when it is not one).
fn ungrouped(m: &WireMatch) -> &WireMatch {
    match (&m.all, &m.any) {
        (Some(ms), _) | (_, Some(ms)) if ms.len() == 1 => ms.first().map_or(m, ungrouped),
        _ => m,
    }
}

/// A value as typed: bare when it can be, else quoted.
fn quote(v: &str) -> String {
    let bare = !v.is_empty() && !v.contains(|c: char| c.is_whitespace() || "()&|\"\\".contains(c));
    if bare {
        v.to_owned()
    } else {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    }
}
