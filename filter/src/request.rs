//! What the engine reads from a request: headers (HTTP/2-style pseudo-headers included),
//! cookies and query parameters, all as bytes.
//!
//! Request data is hostile: values may be huge, empty or not UTF-8, and cookies may number in the
//! hundreds. Cookies and the query string are parsed at most once per request, on first use, so
//! ten matchers on cookies cost one scan of the `cookie` header, not ten. Nothing here can panic.

use std::borrow::Cow;
use std::cell::OnceCell;

/// One header: lowercase name, raw value.
pub type Header<'a> = (&'a [u8], &'a [u8]);

/// A request's headers as the proxy hands them over: lowercase names, raw values, in order.
/// Pseudo-headers `:authority` and `:path` carry host and path.
///
/// The view borrows: in Envoy the pairs point into the one buffer the host serialised the
/// header map into ([`crate::header_map`]), so no header is copied.
#[derive(Debug, Clone)]
pub struct RequestView<'a> {
    headers: Vec<Header<'a>>,
    /// Every cookie of every `cookie` header, in order.
    cookies: OnceCell<Vec<(&'a [u8], &'a [u8])>>,
    /// Every query parameter, percent-decoded, in order.
    query: OnceCell<Vec<(Cow<'a, str>, Cow<'a, str>)>>,
}

impl<'a> RequestView<'a> {
    /// Wraps header pairs borrowed from anything that holds names and values as bytes
    /// (`(String, Vec<u8>)`, `(&str, &[u8])`, ...). Names must already be lowercase (Envoy's are).
    pub fn new<N, V>(headers: impl IntoIterator<Item = &'a (N, V)>) -> Self
    where
        N: AsRef<[u8]> + 'a,
        V: AsRef<[u8]> + 'a,
    {
        Self::from_pairs(
            headers
                .into_iter()
                .map(|(n, v)| (n.as_ref(), v.as_ref()))
                .collect(),
        )
    }

    /// Wraps pairs already borrowed as bytes.
    pub fn from_pairs(headers: Vec<Header<'a>>) -> Self {
        RequestView {
            headers,
            cookies: OnceCell::new(),
            query: OnceCell::new(),
        }
    }

    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name.as_bytes())
            .map(|(_, v)| *v)
    }

    /// Whether header `name` (lowercase) is present.
    pub fn has(&self, name: &str) -> bool {
        self.header(name).is_some()
    }

    /// Drops every header `drop` names, so the engine never sees them.
    pub fn without(mut self, drop: impl Fn(&[u8]) -> bool) -> Self {
        self.headers.retain(|(n, _)| !drop(n));
        self.cookies = OnceCell::new();
        self.query = OnceCell::new();
        self
    }

    /// The host without port and without the trailing dot of a fully qualified name
    /// (`web.example.com.:8080` is `web.example.com`), from `:authority` (or `host` for HTTP/1
    /// hosts that lack it): the same host, however the client wrote it.
    pub fn host(&self) -> &'a [u8] {
        let authority = self
            .header(":authority")
            .or_else(|| self.header("host"))
            .unwrap_or(b"");
        let host = strip_port(authority);
        host.strip_suffix(b".").unwrap_or(host)
    }

    /// The method (`:method`).
    pub fn method(&self) -> &'a [u8] {
        self.header(":method").unwrap_or(b"")
    }

    /// The path without the query string.
    pub fn path(&self) -> &'a [u8] {
        let full = self.header(":path").unwrap_or(b"/");
        match full.iter().position(|&b| b == b'?') {
            Some(q) => full.get(..q).unwrap_or(full),
            None => full,
        }
    }

    /// The value of cookie `name`, from any `cookie` header (HTTP/2 may send several).
    pub fn cookie(&self, name: &str) -> Option<&'a [u8]> {
        let cookies = self.cookies.get_or_init(|| {
            self.headers
                .iter()
                .filter(|(n, _)| *n == b"cookie")
                .flat_map(|(_, v)| v.split(|&b| b == b';').filter_map(cookie_pair))
                .collect()
        });
        cookies
            .iter()
            .find(|(k, _)| *k == name.as_bytes())
            .map(|(_, v)| *v)
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query(&self, name: &str) -> Option<&Cow<'a, str>> {
        let params = self.query.get_or_init(|| {
            let full = self.header(":path").unwrap_or(b"");
            let query = full
                .iter()
                .position(|&b| b == b'?')
                .and_then(|q| full.get(q + 1..))
                .unwrap_or(b"");
            form_urlencoded::parse(query).collect()
        });
        params.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }
}

/// `example.com:8080` -> `example.com`; `[::1]:80` -> `[::1]`.
fn strip_port(authority: &[u8]) -> &[u8] {
    if authority.first() == Some(&b'[') {
        return match authority.iter().position(|&b| b == b']') {
            Some(end) => authority.get(..=end).unwrap_or(authority),
            None => authority,
        };
    }
    match authority.iter().rposition(|&b| b == b':') {
        Some(colon) => authority.get(..colon).unwrap_or(authority),
        None => authority,
    }
}

/// One `name=value` pair of a `cookie` header, trimmed and unquoted; `None` without `=`.
fn cookie_pair(pair: &[u8]) -> Option<(&[u8], &[u8])> {
    let pair = trim(pair);
    let eq = pair.iter().position(|&b| b == b'=')?;
    Some((trim(pair.get(..eq)?), unquote(trim(pair.get(eq + 1..)?))))
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or(b"")
}

fn unquote(v: &[u8]) -> &[u8] {
    match v {
        [b'"', inner @ .., b'"'] => inner,
        _ => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(pairs: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_vec()))
            .collect()
    }

    #[test]
    fn host_drops_port_and_keeps_ipv6_brackets() {
        for (authority, host) in [
            (&b"web.example.com:8080"[..], &b"web.example.com"[..]),
            (b"web.example.com.", b"web.example.com"),
            (b"web.example.com.:8080", b"web.example.com"),
            (b"web", b"web"),
            (b".", b""),
            (b"[::1]:10000", b"[::1]"),
            (b"[::1", b"[::1"),
            (b"", b""),
        ] {
            let h = req(&[(":authority", authority)]);
            assert_eq!(RequestView::new(&h).host(), host);
        }
    }

    #[test]
    fn cookies_are_found_across_headers_trimmed_and_unquoted() {
        let h = req(&[
            ("cookie", b"a=1; b = 2 "),
            ("cookie", b"uid=\"u-7\";junk;=x"),
        ]);
        let r = RequestView::new(&h);
        assert_eq!(r.cookie("a"), Some(&b"1"[..]));
        assert_eq!(r.cookie("b"), Some(&b"2"[..]));
        assert_eq!(r.cookie("uid"), Some(&b"u-7"[..]));
        assert_eq!(r.cookie("junk"), None);
        assert_eq!(r.cookie("missing"), None);
    }

    #[test]
    fn path_and_query_are_split_and_decoded() {
        let h = req(&[(":path", b"/shop/cart?uid=a%20b&x=1&uid=second")]);
        let r = RequestView::new(&h);
        assert_eq!(r.path(), b"/shop/cart");
        assert_eq!(r.query("uid").map(|v| v.as_ref()), Some("a b"));
        assert_eq!(r.query("x").map(|v| v.as_ref()), Some("1"));
        assert_eq!(r.query("nope"), None);
    }

    #[test]
    fn non_utf8_and_empty_values_do_not_panic() {
        let h = req(&[
            (":path", b"/\xff?\xfe=\xff"),
            ("cookie", b"\xff=\xfe;;;="),
            (":authority", b":"),
        ]);
        let r = RequestView::new(&h);
        assert_eq!(r.path(), b"/\xff");
        assert_eq!(r.cookie("x"), None);
        assert_eq!(r.host(), b"");
        assert!(r.query("\u{fffd}").is_some());
    }
}
