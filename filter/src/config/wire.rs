//! The config as written (JSON in the filter; JSON or YAML in veerctl), before validation.
//!
//! These types accept anything shaped roughly right so that validation, not the parser, reports
//! what is wrong, with the field's path. Unknown fields are refused so that a typo
//! (`varaints`) is an error, not a silently ignored setting.
//!
//! Each struct is declared once, through [`wire!`]: the declaration gives serde's derives (what
//! veerctl and the native tests read with) and the field table of the .wasm's own decoder
//! ([`super::json`]), so the two cannot drift apart.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::json::{Decode, Decoder, Shape, R};

/// Declares a wire struct: the struct with serde's derives (unknown fields refused), and its
/// [`Decode`] impl for the .wasm's decoder. A field's JSON key is its `rename`, or its name; it is
/// required unless its serde attribute starts with `default`. Field attributes: doc comments
/// first, then at most one `#[serde(...)]`.
macro_rules! wire {
    (
        $(#[doc = $doc:literal])*
        pub struct $name:ident {
            $(
                $(#[doc = $fdoc:literal])*
                $(#[serde($($attr:tt)*)])?
                pub $field:ident: $ty:ty,
            )*
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $(
                $(#[doc = $fdoc])*
                $(#[serde($($attr)*)])?
                pub $field: $ty,
            )*
        }

        impl Decode for $name {
            fn decode(d: &mut Decoder<'_>) -> R<Self> {
                const SHAPE: Shape = Shape {
                    expecting: concat!("struct ", stringify!($name)),
                    fields: &[$(wire!(@key $field; $($($attr)*)?)),*],
                    required: &[$(!wire!(@has_default $($($attr)*)?)),*],
                };
                /// Reads field number `k` into `w`.
                #[allow(unused_assignments)]
                fn field(w: &mut $name, d: &mut Decoder<'_>, k: usize) -> R<()> {
                    let mut i = 0usize;
                    $(
                        if k == i {
                            w.$field = wire!(@decoder $ty; $($($attr)*)?)(d)?;
                            return Ok(());
                        }
                        i += 1;
                    )*
                    Ok(())
                }
                let mut w = Self::default();
                d.object(&SHAPE, &mut |d, k| field(&mut w, d, k))?;
                Ok(w)
            }
        }
    };
    // The JSON key: `rename = "..."` if given, else the field's name.
    (@key $field:ident;) => { stringify!($field) };
    (@key $field:ident; rename = $key:literal $($rest:tt)*) => { $key };
    (@key $field:ident; $skip:tt $($rest:tt)*) => { wire!(@key $field; $($rest)*) };
    (@has_default) => { false };
    (@has_default default $($rest:tt)*) => { true };
    (@has_default $skip:tt $($rest:tt)*) => { wire!(@has_default $($rest)*) };
    // How the decoder reads the field: as its type, except a rule's split (never `null`).
    (@decoder $ty:ty;) => { <$ty as Decode>::decode };
    (@decoder $ty:ty; deserialize_with = "unique_keys::option" $($rest:tt)*) => {
        super::json::some_split
    };
    (@decoder $ty:ty; $skip:tt $($rest:tt)*) => { wire!(@decoder $ty; $($rest)*) };
}

wire! {
    /// The whole routing config.
    pub struct WireConfig {
        /// Set by veerctl on every change; the filter publishes it as a gauge so that veerctl can
        /// see which config each proxy runs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub version: Option<u64>,
        /// Names of the headers Veer writes (defaults: `x-veer-cluster`, `x-veer-variant`, `x-veer-experiment`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub headers: Option<WireHeaders>,
        /// Where a user's key comes from, for every service that does not set its own.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub stickiness: Option<WireStickiness>,
        /// Signed forced-variant overrides for testers (off unless enabled).
        #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
        pub override_: Option<WireOverride>,
        /// The services, tried in order: the first whose hosts and path prefix match a request owns it.
        #[serde(default)]
        pub services: Vec<WireService>,
        /// What the filter counts beyond the requests each variant gets.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metrics: Option<WireMetrics>,
        /// What experiments are judged on: requests that count as reaching a goal (a purchase,
        /// a sign-up), wherever they arrive, attributed to the arm of the user who sends them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub goals: Vec<WireGoal>,
        /// The cookie in which the filter marks what it has counted for a user (exposed to an
        /// experiment, reached a goal), so each user counts once. Default: `veer_marks`, path
        /// `/`, 90 days.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub marks: Option<WireAssignCookie>,
    }
}

wire! {
    /// A goal: the requests that count as reaching it.
    pub struct WireGoal {
        /// Letters, digits, '_' and '-' (metrics and reports name it).
        pub name: String,
        /// Which requests reach the goal (e.g. `{method: POST}` and `{path_prefix: /api/buy}`).
        #[serde(rename = "match")]
        pub match_: WireMatch,
        /// Only responses of this status class count (`2xx`); absent: any response.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub status: Option<String>,
    }
}

wire! {
    /// What the filter counts beyond the requests each variant gets.
    pub struct WireMetrics {
        /// Count each variant's responses by status class and record their latency (default on).
        /// Off leaves that to Envoy's per-cluster stats and saves the response phase's hostcalls.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub responses: Option<bool>,
    }
}

wire! {
    /// Names of the headers Veer writes. Defaults: `x-veer-cluster`, `x-veer-variant`,
    /// `x-veer-experiment`. The variant header is written only where asked for
    /// (`expose_variant_to_upstream`, `expose_variant_to_client`); client-sent copies of all three
    /// are always removed.
    pub struct WireHeaders {
        /// Carries the chosen cluster to the route (`cluster_header`); default `x-veer-cluster`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub cluster: Option<String>,
        /// Tells the app (and, if asked, the client) which variant serves the request; default
        /// `x-veer-variant`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub variant: Option<String>,
        /// Carries experiment assignments (`id=arm`) to the app and the client; default `x-veer-experiment`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub experiment: Option<String>,
        /// Also tell the client which variant served it (response header). Off by default: variant
        /// names can reveal a release before it is announced.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub expose_variant_to_client: Option<bool>,
        /// Tell the app which variant serves the request (request header). Off by default: each
        /// variant is usually its own deployment, and every request header the filter writes makes
        /// Envoy select the route again; turn it on when variants share a cluster and the app must
        /// tell them apart.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub expose_variant_to_upstream: Option<bool>,
    }
}

wire! {
    /// Where the stickiness key comes from, in order, and whether to mint one for new users.
    pub struct WireStickiness {
        /// Tried in order; the first non-empty one is the user's key.
        #[serde(default)]
        pub sources: Vec<WireKeySource>,
        /// Mint an id for a request without a key and set it in this cookie (it must be one of the sources).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub assign_cookie: Option<WireAssignCookie>,
    }
}

wire! {
    /// One place a stickiness key may be read from: exactly one field set.
    pub struct WireKeySource {
        /// A request header.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub header: Option<String>,
        /// A cookie.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub cookie: Option<String>,
        /// A query parameter.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub query: Option<String>,
    }
}

wire! {
    /// A cookie the filter sets on a response to a request that carried no key.
    pub struct WireAssignCookie {
        /// The cookie's name.
        pub name: String,
        /// `Max-Age` (default: a year for the minted id, 90 days for the marks).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_age_seconds: Option<u64>,
        /// `Path` (default `/`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub path: Option<String>,
        /// `Domain` (default: none, the request's host only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub domain: Option<String>,
        /// `Secure` (default off).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub secure: Option<bool>,
        /// `HttpOnly` (default on).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub http_only: Option<bool>,
        /// `SameSite`: `Strict`, `Lax` (default) or `None` (which needs `secure: true`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub same_site: Option<String>,
    }
}

wire! {
    /// Forced-variant override for testers: signed values only.
    pub struct WireOverride {
        /// Honour signed overrides (default off).
        #[serde(default)]
        pub enabled: bool,
        /// The header that carries a signed override; default `x-veer-override`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub header: Option<String>,
        /// HMAC-SHA256 keys; any of them verifies, so keys can be rotated without downtime.
        #[serde(default)]
        pub keys: Vec<String>,
        /// The longest an override may still be valid for when it is used, in seconds (default
        /// 604800, a week; at most a year). A value signed to expire later is refused.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_ttl_seconds: Option<u64>,
    }
}

wire! {
    /// One service: how requests are recognised and how they are split.
    pub struct WireService {
        /// Letters, digits, '_' and '-' (metrics, headers and veerctl name it).
        pub name: String,
        /// Hosts (`:authority` without port; `*.example.com` matches subdomains). Empty: any host.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub hosts: Vec<String>,
        /// Only requests whose path starts with this (a byte prefix, like Envoy's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub path_prefix: Option<String>,
        /// Salt for this service's split. Defaults to the service name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub salt: Option<String>,
        /// This service's own key sources (default: the top-level `stickiness`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub stickiness: Option<WireStickiness>,
        /// Its versions; the first is the stable one.
        #[serde(default)]
        pub variants: Vec<WireVariant>,
        /// Cohort rules, in order; the first that matches decides.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub rules: Vec<WireRule>,
        /// A/B/n experiments, in order; the first that enrolls the user decides.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub experiments: Vec<WireExperiment>,
        /// Variant name -> weight in basis points (10000 = 100 %).
        #[serde(default, deserialize_with = "unique_keys::map")]
        pub split: BTreeMap<String, i64>,
    }
}

wire! {
    /// A version of the service and the upstream cluster that serves it.
    pub struct WireVariant {
        /// Letters, digits, '_' and '-'.
        pub name: String,
        /// The Envoy cluster that serves this version.
        pub cluster: String,
    }
}

wire! {
    /// A cohort rule: requests that match go to one variant or to a split of the rule's own.
    pub struct WireRule {
        /// Letters, digits, '_' and '-' (metrics and reasons name it).
        pub name: String,
        /// Which requests the rule takes.
        #[serde(rename = "match")]
        pub match_: WireMatch,
        /// Send them to this variant (or give `split`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub variant: Option<String>,
        /// Split them over variants with the rule's own salt: variant -> basis points, summing to 10000.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "unique_keys::option"
        )]
        pub split: Option<BTreeMap<String, i64>>,
    }
}

wire! {
    /// An A/B/n experiment.
    pub struct WireExperiment {
        /// Letters, digits, '_' and '-'; sent to the app and the client in the assignment.
        pub id: String,
        /// Who may be enrolled. Absent: everyone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub segment: Option<WireMatch>,
        /// Share of the segment enrolled, in basis points. Default 10000 (all of it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub allocation: Option<i64>,
        /// At least two arms; their weights sum to 10000.
        #[serde(default)]
        pub arms: Vec<WireArm>,
        /// Defaults to the experiment id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub salt: Option<String>,
        /// The goals (names from the config's `goals`) the experiment is judged on.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub goals: Vec<String>,
        /// The goal that decides the verdict; one of `goals` (default: the first).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub primary_goal: Option<String>,
    }
}

wire! {
    /// One arm of an experiment: a label the app sees, the variant that serves it, and its weight.
    pub struct WireArm {
        /// The label the app and the client see.
        pub name: String,
        /// The variant that serves this arm.
        pub variant: String,
        /// Share of the enrolled users, in basis points.
        pub weight: i64,
    }
}

wire! {
    /// A request matcher: exactly one subject (`header`, `cookie`, `query`, `path_prefix`, `all`,
    /// `any`, `not`) and, for header/cookie/query, exactly one test (`equals`, `prefix`, `present`,
    /// `absent`).
    pub struct WireMatch {
        /// Subject: a request header (name, any case).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub header: Option<String>,
        /// Subject: a cookie.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub cookie: Option<String>,
        /// Subject: a query parameter (percent-decoded).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub query: Option<String>,
        /// Subject: the path (without query) starts with this.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub path_prefix: Option<String>,
        /// Every matcher matches (an empty list matches everything).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub all: Option<Vec<WireMatch>>,
        /// At least one matcher matches.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub any: Option<Vec<WireMatch>>,
        /// The matcher does not match.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub not: Option<Box<WireMatch>>,
        /// Test: the value is exactly this.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub equals: Option<String>,
        /// Test: the value starts with this.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub prefix: Option<String>,
        /// Test: present (with any value).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub present: Option<bool>,
        /// Test: not present.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub absent: Option<bool>,
        /// The request method is exactly this (`POST`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub method: Option<String>,
    }
}

/// Split maps refuse duplicate keys: `{"v2": 5000, "v2": 2000}` is a mistake to report, not a
/// choice to make silently (serde's map would keep the last).
mod unique_keys {
    use std::collections::BTreeMap;
    use std::fmt;

    use serde::de::{Deserializer, Error, MapAccess, Visitor};

    struct Unique;

    impl<'de> Visitor<'de> for Unique {
        type Value = BTreeMap<String, i64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of variant name to weight in basis points")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            let mut map = BTreeMap::new();
            while let Some((k, v)) = access.next_entry::<String, i64>()? {
                if map.contains_key(&k) {
                    return Err(A::Error::custom(format!("variant {k:?} appears twice")));
                }
                map.insert(k, v);
            }
            Ok(map)
        }
    }

    pub(super) fn map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, i64>, D::Error> {
        d.deserialize_map(Unique)
    }

    pub(super) fn option<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<BTreeMap<String, i64>>, D::Error> {
        map(d).map(Some)
    }
}
