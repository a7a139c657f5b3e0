//! Validated names. Each type can only hold a value that is safe where Veer puts it: metric
//! names, header names, header values.

use std::fmt;

use crate::config::problems::{Collector, Path};

/// A service, variant, rule, experiment or arm name: 1-64 of `A-Z a-z 0-9 _ -`, starting with a
/// letter or digit. These become parts of metric names and header values, so no dots or spaces.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(String);

impl Name {
    /// Validates `raw`, reporting under `path`.
    pub(crate) fn parse(raw: &str, path: &Path, out: &mut Collector) -> Option<Name> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        let problem = if raw.is_empty() {
            Some("name is empty".to_owned())
        } else if raw.len() > 64 {
            Some(format!("name {raw:?} is longer than 64 characters"))
        } else if !raw.starts_with(|c: char| c.is_ascii_alphanumeric()) || !raw.chars().all(ok_char)
        {
            Some(format!(
                "name {raw:?} may only use letters, digits, '_' and '-', starting with a letter or digit"
            ))
        } else {
            None
        };
        match problem {
            Some(p) => {
                out.report(path, p);
                None
            }
            None => Some(Name(raw.to_owned())),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An HTTP header name: an RFC 9110 token, stored lowercase (as Envoy hands names to filters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HeaderName(String);

impl HeaderName {
    /// Validates `raw`, reporting under `path`. Pseudo-headers (`:path`) are refused: Veer's
    /// matchers have dedicated fields for path and host.
    pub(crate) fn parse(raw: &str, path: &Path, out: &mut Collector) -> Option<HeaderName> {
        let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if raw.is_empty() {
            out.report(path, "header name is empty");
            None
        } else if !raw.chars().all(is_tchar) {
            out.report(
                path,
                format!(
                    "{raw:?} is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"
                ),
            );
            None
        } else {
            Some(HeaderName(raw.to_ascii_lowercase()))
        }
    }

    /// A name known to be valid (the built-in defaults).
    pub(crate) fn known(name: &'static str) -> HeaderName {
        HeaderName(name.to_owned())
    }

    /// The lowercase name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An upstream cluster name: non-empty, printable ASCII without spaces, because it is written
/// into a request header that the route reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClusterName(String);

impl ClusterName {
    /// Validates `raw`, reporting under `path`.
    pub(crate) fn parse(raw: &str, path: &Path, out: &mut Collector) -> Option<ClusterName> {
        if raw.is_empty() {
            out.report(path, "cluster name is empty");
            None
        } else if !raw.chars().all(|c| c.is_ascii_graphic()) {
            out.report(
                path,
                format!("cluster name {raw:?} must be printable ASCII without spaces"),
            );
            None
        } else {
            Some(ClusterName(raw.to_owned()))
        }
    }

    /// The cluster name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClusterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
