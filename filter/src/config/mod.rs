//! The routing config: wire types as written, validated types the engine runs on, and the
//! conversion between them that reports every problem with its path.
//!
//! A [`Config`] can only be obtained through validation, so the engine never checks anything at
//! request time: every variant a rule or experiment names exists, every split sums to 10000 bp,
//! every header name is valid.

pub mod digest;
pub mod json;
pub mod names;
pub mod problems;
mod validate;
pub mod wire;

use crate::hash::{Buckets, Salt};
use crate::marks::Mark;
use crate::matcher::Match;
use crate::split::{BasisPoints, Split};
use names::{ClusterName, HeaderName, Name};
pub use problems::{Problem, Problems};
pub use wire::WireConfig;

/// Default name of the request header that carries the chosen cluster to the route.
pub const DEFAULT_CLUSTER_HEADER: &str = "x-veer-cluster";
/// Default name of the header that tells the upstream and the client the variant, where the config
/// asks for it.
pub const DEFAULT_VARIANT_HEADER: &str = "x-veer-variant";
/// Default name of the header that carries experiment assignments (`id=arm`).
pub const DEFAULT_EXPERIMENT_HEADER: &str = "x-veer-experiment";
/// Default name of the signed forced-variant header.
pub const DEFAULT_OVERRIDE_HEADER: &str = "x-veer-override";
/// Default `override.max_ttl_seconds`: a week, long enough for a test cycle, short enough that a
/// leaked value stops working soon.
pub const DEFAULT_OVERRIDE_MAX_TTL_SECONDS: u64 = 7 * 24 * 3600;
/// The largest `override.max_ttl_seconds` accepted: a year.
pub const MAX_OVERRIDE_MAX_TTL_SECONDS: u64 = 365 * 24 * 3600;

/// A validated routing config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The version veerctl stamped on it (0 when absent).
    pub version: u64,
    /// The headers Veer writes.
    pub headers: HeaderNames,
    /// The forced-variant override, when enabled.
    pub override_policy: Option<OverridePolicy>,
    /// Services, matched in order; the first that matches a request decides it.
    pub services: Vec<Service>,
    /// Count responses by status class and record latency per variant (`metrics.responses`).
    pub response_metrics: bool,
    /// Goals experiments are judged on, in config order.
    pub goals: Vec<Goal>,
    /// The cookie that carries what was already counted for a user ([`crate::marks`]).
    pub marks: AssignCookie,
}

impl Config {
    /// Parses and validates a JSON config.
    pub fn from_json(text: &str) -> Result<Config, Problems> {
        let wire = wire_from_json(text)?;
        Config::from_wire(&wire)
    }

    /// Validates a parsed config.
    pub fn from_wire(wire: &WireConfig) -> Result<Config, Problems> {
        validate::config(wire)
    }

    /// Every header name Veer owns on requests: a client-sent copy of any of them is removed
    /// before deciding, so that no client can choose its cluster, variant or assignment.
    pub fn owned_request_headers(&self) -> impl Iterator<Item = &str> {
        [
            &self.headers.cluster,
            &self.headers.variant,
            &self.headers.experiment,
        ]
        .into_iter()
        .map(HeaderName::as_str)
    }

    /// The service named `name`.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name.as_str() == name)
    }
}

/// The JSON Schema (draft 2020-12) of the routing config, derived from the wire declarations:
/// what editors use to complete and check a config as it is written (`veerctl schema`).
#[cfg(feature = "schema")]
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(WireConfig);
    schema.insert(
        "title".to_owned(),
        serde_json::Value::String("Veer routing config".to_owned()),
    );
    schema.to_value()
}

/// Parses JSON into the wire model; syntax and type errors name the field and the line. With
/// the `field-paths` feature (veerctl) through serde, without it (the .wasm) through
/// [`json::decode`], which accepts the same documents and reports the same way.
pub fn wire_from_json(text: &str) -> Result<WireConfig, Problems> {
    // serde would also read a struct from an array (`[5]` as version 5); a config is an object.
    if !text.trim_start().starts_with('{') {
        return Err(json::not_an_object());
    }
    parse_json(text)
}

#[cfg(feature = "field-paths")]
fn parse_json(text: &str) -> Result<WireConfig, Problems> {
    let problem = |path: String, message: String| Problems(vec![Problem { path, message }]);
    let mut de = serde_json::Deserializer::from_str(text);
    let wire: WireConfig = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        // The document itself is `.` to serde_path_to_error (as is a top-level key `.`).
        let path = match e.path().iter().next() {
            None => "$".to_owned(),
            Some(_) => e.path().to_string(),
        };
        problem(path, e.inner().to_string())
    })?;
    // serde_path_to_error stops after the value; anything but whitespace after it is an error
    // (as serde_json::from_str and the filter's decoder say).
    de.end()
        .map_err(|e| problem("$".to_owned(), e.to_string()))?;
    Ok(wire)
}

/// The filter's decoder (no serde: the .wasm is about 75 KB smaller without it).
#[cfg(not(feature = "field-paths"))]
fn parse_json(text: &str) -> Result<WireConfig, Problems> {
    json::decode(text)
}

/// Names of the headers Veer writes.
#[derive(Debug, Clone)]
pub struct HeaderNames {
    /// Carries the chosen cluster to the route (`cluster_header`).
    pub cluster: HeaderName,
    /// Tells the upstream (and the client) which variant serves it, where asked for.
    pub variant: HeaderName,
    /// Tells the upstream and the client the experiment assignment.
    pub experiment: HeaderName,
    /// Send the variant header to the client.
    pub expose_variant_to_client: bool,
    /// Send the variant header to the upstream.
    pub expose_variant_to_upstream: bool,
}

/// Where stickiness keys come from.
#[derive(Debug, Clone, Default)]
pub struct Stickiness {
    /// Tried in order; the first non-empty value is the key.
    pub sources: Vec<KeySource>,
    /// Mint an id for keyless requests and set it as this cookie.
    pub assign_cookie: Option<AssignCookie>,
}

/// One place a stickiness key is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A request header.
    Header(HeaderName),
    /// A cookie.
    Cookie(String),
    /// A query parameter.
    Query(String),
}

/// The cookie set for users who arrive without a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignCookie {
    /// Cookie name; also one of the key sources, so the next request is sticky.
    pub name: String,
    /// `; Max-Age=...; Path=/...` as it follows `name=value` in `set-cookie`.
    pub attributes: String,
}

impl AssignCookie {
    /// The `set-cookie` value for a minted id.
    pub fn set_cookie_value(&self, id: &str) -> String {
        format!("{}={id}{}", self.name, self.attributes)
    }
}

/// The forced-variant override for testers.
#[derive(Debug, Clone)]
pub struct OverridePolicy {
    /// The header that carries a signed override.
    pub header: HeaderName,
    /// HMAC keys; a value signed with any of them is accepted.
    pub keys: Vec<Vec<u8>>,
    /// The longest an override may still be valid for when it is used (seconds).
    pub max_ttl_seconds: u64,
}

/// A service: where its requests come from and how they are split over its variants.
#[derive(Debug, Clone)]
pub struct Service {
    /// Unique name (metrics, headers, veerctl).
    pub name: Name,
    /// Hosts it serves; empty means any host.
    pub hosts: Vec<HostPattern>,
    /// Path prefix it serves.
    pub path_prefix: Option<String>,
    /// Salt of the default split.
    pub salt: Salt,
    /// Where stickiness keys come from for this service.
    pub stickiness: Stickiness,
    /// Its versions.
    pub variants: Vec<Variant>,
    /// Cohort rules, in order.
    pub rules: Vec<Rule>,
    /// Experiments, in order.
    pub experiments: Vec<Experiment>,
    /// The default split over variant indices.
    pub split: Split,
}

impl Service {
    /// The variant at `index`.
    pub fn variant(&self, index: usize) -> Option<&Variant> {
        self.variants.get(index)
    }

    /// The index of the variant named `name`.
    pub fn variant_index(&self, name: &str) -> Option<usize> {
        self.variants.iter().position(|v| v.name.as_str() == name)
    }
}

/// A host a service answers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Exactly this host (lowercase).
    Exact(String),
    /// Any subdomain: `*.example.com` is stored as `.example.com`.
    Suffix(String),
}

impl HostPattern {
    /// Whether `host` (any case, without port) matches.
    pub fn matches(&self, host: &[u8]) -> bool {
        match self {
            HostPattern::Exact(h) => host.eq_ignore_ascii_case(h.as_bytes()),
            HostPattern::Suffix(s) => {
                host.len() > s.len()
                    && host
                        .get(host.len() - s.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(s.as_bytes()))
            }
        }
    }
}

/// A version of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// Its name.
    pub name: Name,
    /// The upstream cluster that serves it.
    pub cluster: ClusterName,
}

/// A cohort rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its name (reasons, metrics).
    pub name: Name,
    /// Which requests it takes.
    pub matcher: Match,
    /// Where they go.
    pub target: RuleTarget,
}

/// Where a cohort rule sends its requests.
#[derive(Debug, Clone)]
pub enum RuleTarget {
    /// One variant (index).
    Variant(usize),
    /// A split of its own, with its own salt (`<service salt>/<rule name>`).
    Split {
        /// The split over variant indices.
        split: Split,
        /// Its salt.
        salt: Salt,
    },
}

/// A goal: requests that count as reaching it, and the experiments judged on it.
#[derive(Debug, Clone)]
pub struct Goal {
    /// Its name (metrics, reports).
    pub name: Name,
    /// Which requests reach it.
    pub matcher: Match,
    /// Only responses of this class count; `None`: any response.
    pub status: Option<StatusClass>,
    /// Every experiment that lists it.
    pub judged_by: Vec<Judged>,
}

/// An experiment that lists a goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judged {
    /// Index of the experiment's service.
    pub service: usize,
    /// Index of the experiment in its service.
    pub experiment: usize,
    /// Marks a user's first conversion on this goal in this experiment.
    pub conversion: Mark,
}

/// A response status class, `1xx` to `5xx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatusClass(u8);

impl StatusClass {
    /// Every class, `1xx` to `5xx`.
    pub const ALL: [StatusClass; 5] = [
        StatusClass(1),
        StatusClass(2),
        StatusClass(3),
        StatusClass(4),
        StatusClass(5),
    ];

    /// `"2xx"` (any case of `x`) -> class 2.
    pub fn parse(text: &str) -> Option<StatusClass> {
        match text.as_bytes() {
            [d @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => Some(StatusClass(d - b'0')),
            _ => None,
        }
    }

    /// The class of a `:status` value (`503` -> 5); anything unreadable is 5, as a failure.
    pub fn of(status: &[u8]) -> StatusClass {
        match status.first() {
            Some(d @ b'1'..=b'5') => StatusClass(d - b'0'),
            _ => StatusClass(5),
        }
    }

    /// 1 to 5.
    pub fn digit(self) -> u8 {
        self.0
    }

    /// 5xx: also what a response Envoy could not complete counts as.
    pub const SERVER_ERROR: StatusClass = StatusClass(5);

    /// 0 for 1xx .. 4 for 5xx.
    pub fn index(self) -> usize {
        usize::from(self.0.saturating_sub(1))
    }

    /// `"1xx"` .. `"5xx"`, as metric names and labels write it.
    pub fn as_str(self) -> &'static str {
        match self.0 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        }
    }
}

/// An A/B/n experiment.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// Its id, sent to the app and the client.
    pub id: Name,
    /// Who may be enrolled; `None` is everyone.
    pub segment: Option<Match>,
    /// Share of the segment enrolled.
    pub allocation: BasisPoints,
    /// Its arms.
    pub arms: Vec<Arm>,
    /// Split over arm indices.
    pub split: Split,
    /// Its salt.
    pub salt: Salt,
    /// The goals it is judged on (indices into [`Config::goals`]).
    pub goals: Vec<usize>,
    /// The goal that decides the verdict (an index into [`Config::goals`]).
    pub primary_goal: Option<usize>,
    /// Marks a user's first exposure.
    pub exposure: Mark,
}

impl Experiment {
    /// Where the user with `key` falls: the arm the split gives, and whether the allocation
    /// enrolls them (the segment, a property of the request, is not looked at). The decision
    /// and goal attribution both place users this way, and `veerctl experiment report` places
    /// the users of an app's events with it.
    pub fn place(&self, key: &[u8]) -> Placement {
        self.placement(self.salt.buckets(key))
    }

    /// Where the key whose buckets (under this experiment's salt) are `b` falls.
    pub fn placement(&self, b: Buckets) -> Placement {
        Placement {
            enrolled: self.allocation.covers(b.secondary),
            arm: self.split.pick(b.primary),
        }
    }

    /// Judged on goals: its exposures and conversions are counted per user (marks cookie).
    pub fn measured(&self) -> bool {
        !self.goals.is_empty()
    }

    /// Two arms are served by one variant (a UI flag in one deployment): the variant's response
    /// metrics cannot tell them apart, so the arms get response metrics of their own.
    pub fn arms_share_variant(&self) -> bool {
        self.arms
            .iter()
            .enumerate()
            .any(|(i, a)| self.arms.iter().skip(i + 1).any(|b| b.variant == a.variant))
    }
}

/// Where a user key falls in an experiment ([`Experiment::place`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The allocation enrolls the key.
    pub enrolled: bool,
    /// The arm (index) the split gives the key.
    pub arm: usize,
}

/// One arm of an experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arm {
    /// The label the app and client see.
    pub name: Name,
    /// The variant (index) that serves it.
    pub variant: usize,
}
