//! Every metric Veer has, named once: its name in Envoy's stats, its Prometheus family and
//! labels, veerctl's short key for it, and the `stats_tags` that turn the parts of a name into
//! those labels ([`tags`]).
//!
//! Host-free: the proxy-wasm adapter (and any other adapter) defines metrics by these names,
//! veerctl reads them back from `/stats` and asks Prometheus for them, the tests and the Grafana
//! dashboard check against them. A rename is one edit here.
//!
//! A name is `veer.<family>[.<label value>...]` (`veer.requests_total.web.v2`). Envoy shows it in
//! `/stats` under its host's prefix (`wasmcustom.veer.requests_total.web.v2` for a wasm filter);
//! with the bootstrap's tags, `/stats/prometheus` shows the family with labels
//! (`veer_requests_total{service="web",variant="v2"}`). Label values are config names, which
//! cannot hold a dot ([`crate::config::names::Name`]), so each part of a name is one label.

mod family;
pub mod tags;

pub use family::*;

use std::fmt;

/// The filter's names start with this.
pub const NAMESPACE: &str = "veer";

/// The prefixes Envoy puts before the names of custom metrics, by host: `wasmcustom` for a
/// proxy-wasm filter, `dynamicmodulescustom` for a dynamic module (Envoy's default namespace).
/// Both are dropped in `/stats/prometheus`.
pub const HOST_PREFIXES: [&str; 2] = ["wasmcustom", "dynamicmodulescustom"];

/// The wasm filter's prefix in `/stats`.
pub const WASM_PREFIX: &str = "wasmcustom";

pub use crate::config::StatusClass;

/// A regex (RE2 and ECMAScript alike) that matches the start of Veer's names in `/stats`, under
/// any of [`HOST_PREFIXES`]: of every family, or of `family` (its name without a trailing dot).
pub fn name_pattern(family: Option<&Family>) -> String {
    let mut p = format!(r"(?:{})\.{NAMESPACE}\.", HOST_PREFIXES.join("|"));
    if let Some(f) = family {
        p.push_str(f.name);
    }
    p
}

/// The admin API's `/stats` query for the stats whose names match `regex`
/// (`/stats?filter=%5Ewasmcustom...`), percent-encoded.
pub fn admin_stats_filter(regex: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(regex.as_bytes()).collect();
    format!("/stats?filter={encoded}")
}

/// The most labels a family has.
pub const MAX_LABELS: usize = 4;

/// One metric: a family and its label values, in the family's label order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stat<'a> {
    family: &'static Family,
    values: [&'a str; MAX_LABELS],
}

impl<'a> Stat<'a> {
    /// A stat of `family` with `values` (one per label, in order); `None` when the count is
    /// wrong, a value is empty or holds a dot, or a status class is not one.
    pub fn new(family: &'static Family, values: &[&'a str]) -> Option<Stat<'a>> {
        if values.len() != family.labels.len() {
            return None;
        }
        let mut stat = Stat {
            family,
            values: [""; MAX_LABELS],
        };
        for ((slot, value), label) in stat.values.iter_mut().zip(values).zip(family.labels) {
            let valid = match label {
                Label::StatusClass => StatusClass::ALL.iter().any(|c| c.as_str() == *value),
                _ => !value.is_empty() && !value.contains('.'),
            };
            if !valid {
                return None;
            }
            *slot = value;
        }
        Some(stat)
    }

    /// A stat from its parts, unchecked (see `family::labelled`).
    const fn from_parts(family: &'static Family, values: [&'a str; MAX_LABELS]) -> Stat<'a> {
        Stat { family, values }
    }

    /// A metric without labels.
    pub const fn global(family: &'static Family) -> Stat<'static> {
        Stat {
            family,
            values: [""; MAX_LABELS],
        }
    }

    /// Its family.
    pub fn family(&self) -> &'static Family {
        self.family
    }

    /// Label values, in the family's label order.
    pub fn values(&self) -> &[&'a str] {
        self.values.get(..self.family.labels.len()).unwrap_or(&[])
    }

    /// The value of `label`, when the family has it.
    pub fn value(&self, label: Label) -> Option<&'a str> {
        let i = self.family.labels.iter().position(|l| *l == label)?;
        self.values.get(i).copied()
    }

    /// The name the filter defines (`veer.requests_total.web.v2`).
    pub fn name(&self) -> String {
        let mut name = format!("{NAMESPACE}.{}", self.family.name);
        for v in self.values() {
            name.push('.');
            name.push_str(v);
        }
        name
    }

    /// The name in a wasm filter's `/stats` (`wasmcustom.veer.requests_total.web.v2`).
    pub fn envoy_name(&self) -> String {
        format!("{WASM_PREFIX}.{}", self.name())
    }

    /// The Prometheus series with the bootstrap's tags
    /// (`veer_requests_total{service="web",variant="v2"}`; `veer_config_version` for a metric
    /// without labels). A histogram's series add `_bucket`, `_sum` and `_count` to the name.
    pub fn prometheus_selector(&self) -> String {
        let labels: Vec<String> = self
            .family
            .labels
            .iter()
            .zip(self.values())
            .map(|(l, v)| format!("{}=\"{v}\"", l.name()))
            .collect();
        let name = self.family.prometheus_name();
        if labels.is_empty() {
            name
        } else {
            format!("{name}{{{}}}", labels.join(","))
        }
    }

    /// veerctl's short key (`rq.web.v2`, `rs.web.v2.5xx`, `config.version`): the names the
    /// filter had before they were Prometheus-shaped, kept so that baselines veerctl recorded
    /// then still compare.
    pub fn key(&self) -> String {
        let mut key = self.family.key.to_owned();
        for v in self.values() {
            key.push('.');
            key.push_str(v);
        }
        key
    }

    /// Reads a short key ([`Stat::key`]).
    pub fn from_key(key: &'a str) -> Option<Stat<'a>> {
        if let Some(f) = FAMILIES
            .iter()
            .find(|f| f.labels.is_empty() && f.key == key)
        {
            return Some(Stat::global(f));
        }
        let (short, values) = key.split_once('.')?;
        let family = FAMILIES
            .iter()
            .find(|f| !f.labels.is_empty() && f.key == short)?;
        Stat::split(family, values)
    }

    /// Reads a name as Envoy's `/stats` shows it (under any of [`HOST_PREFIXES`]) or as the
    /// filter defines it (`veer....`); `None` for anything else.
    pub fn parse(name: &'a str) -> Option<Stat<'a>> {
        let name = HOST_PREFIXES
            .iter()
            .find_map(|p| name.strip_prefix(p)?.strip_prefix('.'))
            .unwrap_or(name);
        let rest = name.strip_prefix(NAMESPACE)?.strip_prefix('.')?;
        let (family, values) = match rest.split_once('.') {
            Some((family, values)) => (family, Some(values)),
            None => (rest, None),
        };
        let family = FAMILIES.iter().find(|f| f.name == family)?;
        match values {
            Some(values) => Stat::split(family, values),
            None => family.labels.is_empty().then(|| Stat::global(family)),
        }
    }

    /// A labelled family's stat from its dot-separated label values.
    fn split(family: &'static Family, values: &'a str) -> Option<Stat<'a>> {
        let parts: Vec<&'a str> = values.split('.').collect();
        if family.labels.is_empty() {
            return None;
        }
        Stat::new(family, &parts)
    }
}

impl fmt::Display for Stat<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests;
