//! Requests described on the command line, decided by the engine as the filter decides them:
//! `explain` (host, path, `-H`, `--cookie`) and the samples of `cohort` commands (`--sample
//! 'cookie:team=internal & path:/cart'`), which are decided on the live config and on the changed
//! one to show what a change does to them.

use serde::Serialize;
use veer_filter::config::wire::{WireMatch, WireService};
use veer_filter::decide::{decide, DecidedBy, Inputs};
use veer_filter::{Config, RequestView};

use super::match_expr;
use crate::history::now;

/// A request's headers as the engine reads them: lowercase names, pseudo-headers for host,
/// path and method.
pub type Headers = Vec<(String, Vec<u8>)>;

/// The headers of a request to `host` and `path` with `headers` (`NAME: VALUE`) and `cookies`
/// (`NAME=VALUE`); an error names the header that does not look like `NAME: VALUE`.
pub fn described(
    host: &str,
    path: &str,
    headers: &[String],
    cookies: &[String],
) -> Result<Headers, String> {
    let mut out: Headers = vec![
        (":authority".into(), host.as_bytes().to_vec()),
        (":path".into(), path.as_bytes().to_vec()),
    ];
    for h in headers {
        let (name, value) = h.split_once(':').ok_or_else(|| h.clone())?;
        out.push((
            name.trim().to_ascii_lowercase(),
            value.trim().as_bytes().to_vec(),
        ));
    }
    if !cookies.is_empty() {
        out.push(("cookie".into(), cookies.join("; ").into_bytes()));
    }
    Ok(out)
}

/// What the engine decided for a request, as veerctl shows it (fields in the order `explain -o
/// json` has always printed them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decided {
    /// The variant's cluster.
    pub cluster: String,
    /// What decided: `override`, `rule NAME`, `experiment ID=ARM`, `default split`.
    pub decided_by: String,
    /// The experiment assignment, `id=arm`.
    pub experiment: Option<String>,
    /// The engine's reason, in full.
    pub reason: String,
    /// The service.
    pub service: String,
    /// The variant.
    pub variant: String,
}

/// Decides `headers` on `config` as the filter does (client-sent copies of Veer's own headers
/// removed first); `random` stands in for the filter's randomness. `None`: no service matches.
pub fn decide_described(
    config: &Config,
    headers: &Headers,
    random: &mut dyn FnMut() -> u64,
) -> Option<Decided> {
    let owned: Vec<&str> = config.owned_request_headers().collect();
    let req = RequestView::new(headers.iter().filter(|(n, _)| !owned.contains(&n.as_str())));
    let d = decide(
        config,
        &req,
        Inputs {
            now_unix: now(),
            random,
        },
    )?;
    let decided_by = match d.by {
        DecidedBy::Override { .. } => "override".to_owned(),
        DecidedBy::Rule(_, r) => format!("rule {}", r.name),
        DecidedBy::Experiment {
            experiment, arm, ..
        } => format!("experiment {}={}", experiment.id, arm.name),
        DecidedBy::Split => "default split".to_owned(),
    };
    Some(Decided {
        service: d.service.name.as_str().to_owned(),
        variant: d.variant.name.as_str().to_owned(),
        cluster: d.variant.cluster.as_str().to_owned(),
        decided_by,
        experiment: d.assignment().map(|(id, arm)| format!("{id}={arm}")),
        reason: d.to_string(),
    })
}

/// A sample request: the values it carries, as `--sample` names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// As typed.
    pub text: String,
    /// Header `NAME: VALUE` lines (`header:host=...` sets the host).
    headers: Vec<(String, String)>,
    /// Cookies, `NAME=VALUE`.
    cookies: Vec<String>,
    /// Query parameters, `NAME=VALUE`.
    query: Vec<String>,
    /// The path, when given.
    path: Option<String>,
    /// The method, when given.
    method: Option<String>,
}

/// What `--sample` accepts, said when it gets something else.
const SAMPLE_HELP: &str = "a sample names the values one request carries, joined with &: \
     header:NAME=VALUE, cookie:NAME=VALUE, query:NAME=VALUE, path:/PATH, method:METHOD \
     (e.g. 'cookie:team=internal & cookie:uid=ada')";

impl Sample {
    /// Parses `--sample`: a match expression that is only equalities joined with `&`.
    pub fn parse(text: &str) -> Result<Sample, String> {
        let m = match_expr::parse(text).map_err(|e| format!("{e}\n{SAMPLE_HELP}"))?;
        let mut sample = Sample {
            text: text.to_owned(),
            headers: Vec::new(),
            cookies: Vec::new(),
            query: Vec::new(),
            path: None,
            method: None,
        };
        let parts = match m.all {
            Some(parts) if !parts.is_empty() => parts,
            Some(_) => return Err(SAMPLE_HELP.to_owned()),
            None => vec![m],
        };
        for p in parts {
            sample.add(p)?;
        }
        Ok(sample)
    }

    fn add(&mut self, m: WireMatch) -> Result<(), String> {
        let single = WireMatch {
            header: None,
            cookie: None,
            query: None,
            equals: None,
            ..m.clone()
        } == WireMatch::default();
        match (m.header, m.cookie, m.query, m.equals) {
            (Some(h), None, None, Some(v)) if single => self.headers.push((h, v)),
            (None, Some(c), None, Some(v)) if single => self.cookies.push(format!("{c}={v}")),
            (None, None, Some(q), Some(v)) if single => self.query.push(format!("{q}={v}")),
            (None, None, None, None) => match (m.path_prefix, m.method) {
                (Some(p), None) if self.path.is_none() => self.path = Some(p),
                (None, Some(x)) if self.method.is_none() => self.method = Some(x),
                _ => return Err(SAMPLE_HELP.to_owned()),
            },
            _ => return Err(SAMPLE_HELP.to_owned()),
        }
        Ok(())
    }

    /// The sample's headers, sent to `service` (its first host unless the sample names one, its
    /// path prefix or `/` unless the sample names a path).
    pub fn headers(&self, service: &WireService) -> Headers {
        let host = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.clone())
            .or_else(|| {
                service.hosts.first().map(|h| {
                    h.strip_prefix("*.")
                        .map_or(h.clone(), |d| format!("sample.{d}"))
                })
            })
            .unwrap_or_else(|| "localhost".to_owned());
        let mut path = self
            .path
            .clone()
            .or_else(|| service.path_prefix.clone())
            .unwrap_or_else(|| "/".to_owned());
        if !self.query.is_empty() {
            path = format!("{path}?{}", self.query.join("&"));
        }
        let lines: Vec<String> = self
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("host"))
            .map(|(n, v)| format!("{n}: {v}"))
            .collect();
        let mut out = described(&host, &path, &lines, &self.cookies).unwrap_or_default();
        if let Some(m) = &self.method {
            out.push((":method".into(), m.clone().into_bytes()));
        }
        out
    }
}

/// A sample decided on the live config and on the changed one.
#[derive(Debug, Clone, Serialize)]
pub struct Compared {
    /// The sample as typed.
    pub sample: String,
    /// The decision on the live config (`None`: no service takes it).
    pub before: Option<Decided>,
    /// The decision on the changed config.
    pub after: Option<Decided>,
}

impl Compared {
    /// Whether the change sends the sample to another variant, or decides it another way.
    pub fn changes(&self) -> bool {
        let key = |d: &Option<Decided>| {
            d.as_ref()
                .map(|d| (d.variant.clone(), d.decided_by.clone()))
        };
        key(&self.before) != key(&self.after)
    }
}

/// Decides each sample on `before` and on `after`. A sample without a stickiness key gets the
/// same random draw on both, so only the change can make them differ.
pub fn compare(
    before: &Config,
    after: &Config,
    service: &WireService,
    samples: &[Sample],
) -> Vec<Compared> {
    samples
        .iter()
        .map(|s| {
            let headers = s.headers(service);
            let draw = fastrand::u64(..);
            let mut random = || draw;
            Compared {
                sample: s.text.clone(),
                before: decide_described(before, &headers, &mut random),
                after: decide_described(after, &headers, &mut random),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> WireService {
        serde_json::from_value(serde_json::json!({
            "name": "web", "hosts": ["*.web.test"], "path_prefix": "/shop",
            "variants": [{"name": "v1", "cluster": "a"}], "split": {"v1": 10000}
        }))
        .unwrap()
    }

    fn header<'h>(h: &'h Headers, name: &str) -> Option<&'h str> {
        h.iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// A sample's values become the request's headers, cookies, query, path and method; the
    /// host and path default to the service's.
    #[test]
    fn a_sample_is_the_request_it_names() {
        let s = Sample::parse(
            "cookie:team=internal & cookie:uid=ada & header:X-Country=de & query:q=1 & method:POST",
        )
        .unwrap();
        let h = s.headers(&service());
        assert_eq!(header(&h, ":authority"), Some("sample.web.test"));
        assert_eq!(header(&h, ":path"), Some("/shop?q=1"));
        assert_eq!(header(&h, ":method"), Some("POST"));
        assert_eq!(header(&h, "cookie"), Some("team=internal; uid=ada"));
        assert_eq!(header(&h, "x-country"), Some("de"));
        let s = Sample::parse("header:host=a.test & path:/cart").unwrap();
        let h = s.headers(&service());
        assert_eq!(header(&h, ":authority"), Some("a.test"));
        assert_eq!(header(&h, ":path"), Some("/cart"));
    }

    /// Only values a request can carry make a sample: not a prefix, a presence test, a
    /// negation or an alternative.
    #[test]
    fn a_sample_names_values_only() {
        for bad in [
            "cookie:team^=int",
            "cookie:team",
            "!cookie:team=a",
            "cookie:a=1 | cookie:b=2",
            "everyone",
            "path:/a & path:/b",
            "cookie:team=(",
        ] {
            let err = Sample::parse(bad).unwrap_err();
            assert!(err.contains("a sample names the values"), "{bad}: {err}");
        }
    }
}
