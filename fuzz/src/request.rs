//! What the engine reads from a request (`veer_filter::RequestView`) and the marks cookie
//! (`veer_filter::marks::Marks`), on hostile headers and on requests built from known parts.
//!
//! Hostile headers: nothing panics, `host()` is a prefix of the authority, `path()` is the
//! `:path` up to its first `?`, `method()` is `:method`, a cookie's value comes from a `cookie`
//! header and holds no `;`. Built requests: cookies spread over several `cookie` headers, padded
//! with whitespace and sometimes quoted, are read back as written (the first of a name wins);
//! query parameters written by `form_urlencoded` are read back decoded; a host with a port and a
//! trailing dot is the bare host. Marks: a parsed cookie writes back a value that reads the same,
//! and a mark added is still there after the round trip.

use arbitrary::{Arbitrary, Unstructured};
use veer_filter::hash::Salt;
use veer_filter::marks::{Mark, Marks, MAX_MARKS};
use veer_filter::RequestView;

use crate::input::OwnedHeader;

/// Names the hostile headers are drawn from (besides arbitrary ones).
const NAMES: &[&[u8]] = &[b":authority", b"host", b":path", b":method", b"cookie"];

/// Checks the hostile reading, then the built one, then the marks cookie.
pub fn check(data: &[u8]) {
    let mut u = Unstructured::new(data);
    if let Ok(headers) = hostile(&mut u) {
        hostile_reads(&headers);
    }
    if let Ok(built) = Built::arbitrary(&mut u) {
        built.check();
    }
    marks(data);
}

fn hostile(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<OwnedHeader>> {
    let n = u.int_in_range(0..=8)?;
    (0..n)
        .map(|_| {
            let name = match u.choose_index(NAMES.len() + 1)? {
                i if i < NAMES.len() => NAMES.get(i).copied().unwrap_or_default().to_vec(),
                _ => Vec::<u8>::arbitrary(u)?.to_ascii_lowercase(),
            };
            Ok((name, Vec::<u8>::arbitrary(u)?))
        })
        .collect()
}

fn first<'h>(headers: &'h [OwnedHeader], name: &[u8]) -> Option<&'h [u8]> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_slice())
}

fn hostile_reads(headers: &[OwnedHeader]) {
    let req = RequestView::new(headers);
    let authority = first(headers, b":authority")
        .or_else(|| first(headers, b"host"))
        .unwrap_or_default();
    assert!(
        authority.starts_with(req.host()),
        "host not from the authority"
    );
    let full = first(headers, b":path").unwrap_or(b"/");
    let path = req.path();
    assert!(
        full.starts_with(path) && !path.contains(&b'?'),
        "path {path:?}"
    );
    assert!(
        full.get(path.len()).is_none_or(|&b| b == b'?'),
        "path cut before the ?"
    );
    assert_eq!(req.method(), first(headers, b":method").unwrap_or_default());
    let cookies: Vec<&[u8]> = headers
        .iter()
        .filter(|(n, _)| n == b"cookie")
        .map(|(_, v)| v.as_slice())
        .collect();
    for (name, value) in headers {
        let name = String::from_utf8_lossy(name);
        if let Some(v) = req.cookie(&name) {
            assert!(!v.contains(&b';'), "cookie value with a ;");
            assert!(
                v.is_empty() || cookies.iter().any(|c| c.windows(v.len()).any(|w| w == v)),
                "cookie value not from a cookie header"
            );
        }
        let _ = req.query(&name);
        let _ = req.cookie(&String::from_utf8_lossy(value));
    }
    let without = req.without(|n| n == b"cookie");
    for (name, _) in headers {
        assert_eq!(without.cookie(&String::from_utf8_lossy(name)), None);
    }
}

/// A request built from known parts.
#[derive(Debug, Arbitrary)]
struct Built {
    cookies: Vec<Cookie>,
    /// Cookies per `cookie` header (at least one).
    per_header: u8,
    path: String,
    query: Vec<(String, String)>,
    host: String,
    port: Option<u16>,
    trailing_dot: bool,
}

#[derive(Debug, Arbitrary)]
struct Cookie {
    name: String,
    value: String,
    quoted: bool,
    /// Whitespace around the name, the `=` and the value.
    pad: u8,
}

impl Cookie {
    /// Names and values a cookie can carry: no `;`, no edge whitespace, a name without `=`, and
    /// a value that is not itself wrapped in quotes.
    fn usable(&self) -> bool {
        let bare =
            |s: &str| !s.contains(';') && s.trim_matches(|c: char| c.is_ascii_whitespace()) == s;
        bare(&self.name)
            && !self.name.is_empty()
            && !self.name.contains('=')
            && bare(&self.value)
            && !self.value.starts_with('"')
    }

    fn written(&self) -> String {
        let pad = " \t ".get(..usize::from(self.pad % 3)).unwrap_or_default();
        let value = if self.quoted {
            format!("\"{}\"", self.value)
        } else {
            self.value.clone()
        };
        format!("{pad}{}{pad}={pad}{value}{pad}", self.name)
    }
}

impl Built {
    fn check(&self) {
        let cookies: Vec<&Cookie> = self.cookies.iter().filter(|c| c.usable()).collect();
        let per = usize::from(self.per_header.max(1));
        let mut headers: Vec<OwnedHeader> = cookies
            .chunks(per)
            .map(|chunk| {
                let line: Vec<String> = chunk.iter().map(|c| c.written()).collect();
                (b"cookie".to_vec(), line.join(";").into_bytes())
            })
            .collect();
        let path = format!("/{}", self.path.replace('?', ""));
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&self.query)
            .finish();
        headers.push((b":path".to_vec(), format!("{path}?{query}").into_bytes()));
        let host: String = self
            .host
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
            .collect();
        let host = host.trim_end_matches('.');
        let mut authority = host.to_owned();
        if self.trailing_dot {
            authority.push('.');
        }
        if let Some(port) = self.port {
            authority.push_str(&format!(":{port}"));
        }
        headers.push((b":authority".to_vec(), authority.clone().into_bytes()));

        let req = RequestView::new(&headers);
        let shown: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into(),
                    String::from_utf8_lossy(v).into(),
                )
            })
            .collect();
        for c in &cookies {
            let want = cookies
                .iter()
                .find(|o| o.name == c.name)
                .map(|o| o.value.as_bytes());
            assert_eq!(
                req.cookie(&c.name),
                want,
                "cookie {:?} in {shown:?}",
                c.name
            );
        }
        for (name, _) in &self.query {
            let want = self
                .query
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str());
            assert_eq!(
                req.query(name).map(|v| v.as_ref()),
                want,
                "query {name:?} in {query:?}"
            );
        }
        assert_eq!(req.path(), path.as_bytes());
        assert_eq!(req.host(), host.as_bytes(), "host of {authority:?}");
    }
}

fn marks(data: &[u8]) {
    let parsed = Marks::parse(data);
    let value = parsed.value();
    assert!(
        value.len() < MAX_MARKS * 9,
        "{} bytes of marks",
        value.len()
    );
    let again = Marks::parse(value.as_bytes());
    assert_eq!(again.value(), value, "marks read back differently");
    assert!(!again.changed());
    let salt = Salt::new(&String::from_utf8_lossy(data));
    for mark in [Mark::exposure(salt), Mark::conversion(salt, "goal")] {
        let mut m = again.clone();
        assert_eq!(m.add(mark), !again.has(mark));
        assert!(
            Marks::parse(m.value().as_bytes()).has(mark),
            "a mark added was lost"
        );
    }
}
