//! A blocking HTTP/1.1 client for loopback tests, with keep-alive.

use std::collections::BTreeMap;
use std::time::Duration;

/// A reply, with header names lowercased.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers; repeated headers joined with `, ` (except `set-cookie`, kept separately).
    pub headers: BTreeMap<String, String>,
    /// All `set-cookie` values.
    pub set_cookies: Vec<String>,
    /// Body as text.
    pub body: String,
}

impl Reply {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// Which upstream served this (`x-served-by`), or `""` for a proxy-generated reply.
    pub fn served_by(&self) -> &str {
        self.header("x-served-by").unwrap_or("")
    }

    /// What the upstream received as Veer header `name` (echoed as `x-seen-<name>`).
    pub fn seen(&self, name: &str) -> Option<&str> {
        self.header(&format!("x-seen-{name}"))
    }
}

/// A client bound to one proxy address.
#[derive(Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client for `http://127.0.0.1:port`.
    pub fn new(port: u16) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .max_idle_connections_per_host(8)
            .build();
        Client {
            base: format!("http://127.0.0.1:{port}"),
            agent: ureq::Agent::new_with_config(config),
        }
    }

    /// GET `path` with extra headers (values as bytes, so tests can send non-UTF-8).
    pub fn get(&self, path: &str, headers: &[(&str, &[u8])]) -> Result<Reply, ureq::Error> {
        self.send("GET", path, headers)
    }

    /// `method` `path` with extra headers (a `host` header replaces the proxy's address as the
    /// request's host) and no body.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &[u8])],
    ) -> Result<Reply, ureq::Error> {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (name, value) in headers {
            let value = ureq::http::HeaderValue::from_bytes(value)
                .map_err(|e| ureq::Error::BadUri(e.to_string()))?;
            req = req.header(*name, value);
        }
        let req = req
            .body(())
            .map_err(|e| ureq::Error::BadUri(e.to_string()))?;
        let mut resp = self.agent.run(req)?;
        let mut headers = BTreeMap::new();
        let mut set_cookies = Vec::new();
        for (name, value) in resp.headers() {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            if name.as_str() == "set-cookie" {
                set_cookies.push(value);
            } else {
                headers
                    .entry(name.as_str().to_owned())
                    .and_modify(|v: &mut String| {
                        v.push_str(", ");
                        v.push_str(&value);
                    })
                    .or_insert(value);
            }
        }
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        Ok(Reply {
            status,
            headers,
            set_cookies,
            body,
        })
    }

    /// GET `/` as user `uid` (cookie `uid=<uid>`), the common case in tests.
    pub fn get_as(&self, uid: &str) -> Result<Reply, ureq::Error> {
        self.get("/", &[("cookie", format!("uid={uid}").as_bytes())])
    }
}

/// Sends raw bytes as one HTTP/1.1 request on a new connection and returns the status code
/// (0 when the proxy closed the connection without answering). For inputs no well-behaved client
/// library will send: non-UTF-8 paths, malformed headers.
pub fn raw_request(port: u16, request: &[u8]) -> std::io::Result<u16> {
    raw_reply(port, request).map(|r| r.status)
}

/// Like [`raw_request`], with the reply's headers (the body is not read). For paths a client
/// library would normalise before sending (`/api/../x`).
pub fn raw_reply(port: u16, request: &[u8]) -> std::io::Result<Reply> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request)?;
    let mut buf = [0u8; 1024];
    let mut got = Vec::new();
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    let head = String::from_utf8_lossy(&got);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.get(9..12))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Reply {
        status,
        headers,
        set_cookies: Vec::new(),
        body: String::new(),
    })
}
