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
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub headers: Option<WireHeaders>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub stickiness: Option<WireStickiness>,
        #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
        pub override_: Option<WireOverride>,
        #[serde(default)]
        pub services: Vec<WireService>,
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
    /// `x-veer-experiment`.
    pub struct WireHeaders {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub cluster: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub variant: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub experiment: Option<String>,
        /// Also tell the client which variant served it (response header). Off by default: variant
        /// names can reveal a release before it is announced.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub expose_variant_to_client: Option<bool>,
    }
}

wire! {
    /// Where the stickiness key comes from, in order, and whether to mint one for new users.
    pub struct WireStickiness {
        #[serde(default)]
        pub sources: Vec<WireKeySource>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub assign_cookie: Option<WireAssignCookie>,
    }
}

wire! {
    /// One place a stickiness key may be read from: exactly one field set.
    pub struct WireKeySource {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub header: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub cookie: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub query: Option<String>,
    }
}

wire! {
    /// A cookie the filter sets on a response to a request that carried no key.
    pub struct WireAssignCookie {
        pub name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub max_age_seconds: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub path: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub domain: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub secure: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub http_only: Option<bool>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub same_site: Option<String>,
    }
}

wire! {
    /// Forced-variant override for testers: signed values only.
    pub struct WireOverride {
        #[serde(default)]
        pub enabled: bool,
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
        pub name: String,
        /// Hosts (`:authority` without port; `*.example.com` matches subdomains). Empty: any host.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub hosts: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub path_prefix: Option<String>,
        /// Salt for this service's split. Defaults to the service name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub salt: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub stickiness: Option<WireStickiness>,
        #[serde(default)]
        pub variants: Vec<WireVariant>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub rules: Vec<WireRule>,
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
        pub name: String,
        pub cluster: String,
    }
}

wire! {
    /// A cohort rule: requests that match go to one variant or to a split of the rule's own.
    pub struct WireRule {
        pub name: String,
        #[serde(rename = "match")]
        pub match_: WireMatch,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub variant: Option<String>,
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
        pub id: String,
        /// Who may be enrolled. Absent: everyone.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub segment: Option<WireMatch>,
        /// Share of the segment enrolled, in basis points. Default 10000 (all of it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub allocation: Option<i64>,
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
        pub name: String,
        pub variant: String,
        pub weight: i64,
    }
}

wire! {
    /// A request matcher: exactly one subject (`header`, `cookie`, `query`, `path_prefix`, `all`,
    /// `any`, `not`) and, for header/cookie/query, exactly one test (`equals`, `prefix`, `present`,
    /// `absent`).
    pub struct WireMatch {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub header: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub cookie: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub query: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub path_prefix: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub all: Option<Vec<WireMatch>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub any: Option<Vec<WireMatch>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub not: Option<Box<WireMatch>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub equals: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub prefix: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub present: Option<bool>,
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
