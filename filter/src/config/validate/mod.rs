//! Wire config -> validated [`Config`], collecting every problem with its path.

mod cookies;
mod goals;

use std::collections::{BTreeMap, BTreeSet};

use super::names::{ClusterName, HeaderName, Name};
use super::problems::{Collector, Path};
use super::wire::{
    WireConfig, WireExperiment, WireGoal, WireHeaders, WireOverride, WireRule, WireService,
};
use super::*;
use crate::hash::Salt;
use crate::split::{BasisPoints, Split};
use cookies::stickiness;

/// Shortest accepted override key: shorter HMAC keys are guessable.
const MIN_OVERRIDE_KEY_BYTES: usize = 16;

pub(super) fn config(w: &WireConfig) -> Result<Config, Problems> {
    let mut out = Collector::default();
    let root = Path::root();
    let headers = headers(w.headers.as_ref(), &root.field("headers"), &mut out);
    let override_policy = override_policy(w.override_.as_ref(), &root.field("override"), &mut out);
    if let (Some(h), Some(o)) = (&headers, &override_policy) {
        if [&h.cluster, &h.variant, &h.experiment].contains(&&o.header) {
            out.report(
                &root.field("override").field("header"),
                "must differ from the headers Veer writes",
            );
        }
    }
    let default_stickiness = stickiness(w.stickiness.as_ref(), &root.field("stickiness"), &mut out);

    let services_path = root.field("services");
    if w.services.is_empty() {
        out.report(
            &services_path,
            "no services: add at least one, or every request passes through unrouted",
        );
    }
    let mut names = BTreeSet::new();
    let mut services = Vec::with_capacity(w.services.len());
    for (i, ws) in w.services.iter().enumerate() {
        let path = services_path.index(i);
        if !names.insert(ws.name.as_str()) {
            out.report(
                &path.field("name"),
                format!("duplicate service name {:?}", ws.name),
            );
        }
        let catch_all = ws.hosts.is_empty() && ws.path_prefix.as_deref().is_none_or(|p| p == "/");
        if catch_all && i + 1 < w.services.len() {
            out.report(
                &path,
                format!(
                    "service {:?} matches every request, so the {} service(s) after it can never match; move it last or give it hosts/path_prefix",
                    ws.name,
                    w.services.len() - i - 1
                ),
            );
        }
        if let Some(s) = service(ws, default_stickiness.as_ref(), &w.goals, &path, &mut out) {
            services.push(s);
        }
    }
    let mut goals = goals::goals(&w.goals, &root.field("goals"), &mut out);
    if let Some(goals) = goals.as_mut() {
        goals::link(goals, &services, &services_path, &mut out);
    }
    let key_sources: Vec<&KeySource> = default_stickiness
        .iter()
        .chain(services.iter().map(|s| &s.stickiness))
        .flat_map(|s| &s.sources)
        .collect();
    let marks = goals::marks(
        w.marks.as_ref(),
        &key_sources,
        &root.field("marks"),
        &mut out,
    );
    let config = match (headers, default_stickiness, goals, marks) {
        (Some(headers), Some(_), Some(goals), Some(marks)) => Some(Config {
            version: w.version.unwrap_or(0),
            headers,
            override_policy,
            services,
            response_metrics: w.metrics.as_ref().and_then(|m| m.responses).unwrap_or(true),
            goals,
            marks,
        }),
        _ => None,
    };
    out.finish(config)
}

fn headers(w: Option<&WireHeaders>, path: &Path, out: &mut Collector) -> Option<HeaderNames> {
    let w = w.cloned().unwrap_or_default();
    let pick = |value: &Option<String>, field: &str, default: &'static str, out: &mut Collector| {
        match value {
            Some(v) => HeaderName::parse(v, &path.field(field), out),
            None => Some(HeaderName::known(default)),
        }
    };
    let cluster = pick(&w.cluster, "cluster", DEFAULT_CLUSTER_HEADER, out);
    let variant = pick(&w.variant, "variant", DEFAULT_VARIANT_HEADER, out);
    let experiment = pick(&w.experiment, "experiment", DEFAULT_EXPERIMENT_HEADER, out);
    let (cluster, variant, experiment) = (cluster?, variant?, experiment?);
    if cluster == variant || cluster == experiment || variant == experiment {
        out.report(
            path,
            "cluster, variant and experiment headers must be three different headers",
        );
        return None;
    }
    Some(HeaderNames {
        cluster,
        variant,
        experiment,
        expose_variant_to_client: w.expose_variant_to_client.unwrap_or(false),
        expose_variant_to_upstream: w.expose_variant_to_upstream.unwrap_or(false),
    })
}

fn override_policy(
    w: Option<&WireOverride>,
    path: &Path,
    out: &mut Collector,
) -> Option<OverridePolicy> {
    let w = w.filter(|w| w.enabled)?;
    let header = match &w.header {
        Some(h) => HeaderName::parse(h, &path.field("header"), out),
        None => Some(HeaderName::known(DEFAULT_OVERRIDE_HEADER)),
    };
    if w.keys.is_empty() {
        out.report(
            &path.field("keys"),
            "the override is enabled but has no keys; add a key of at least 16 bytes or disable it",
        );
    }
    for (i, k) in w.keys.iter().enumerate() {
        if k.len() < MIN_OVERRIDE_KEY_BYTES {
            out.report(
                &path.field("keys").index(i),
                format!(
                    "key is {} bytes, must be at least {MIN_OVERRIDE_KEY_BYTES}",
                    k.len()
                ),
            );
        }
    }
    let max_ttl_seconds = w
        .max_ttl_seconds
        .unwrap_or(DEFAULT_OVERRIDE_MAX_TTL_SECONDS);
    if !(1..=MAX_OVERRIDE_MAX_TTL_SECONDS).contains(&max_ttl_seconds) {
        out.report(
            &path.field("max_ttl_seconds"),
            format!("{max_ttl_seconds} s is outside 1..={MAX_OVERRIDE_MAX_TTL_SECONDS} (a year)"),
        );
    }
    Some(OverridePolicy {
        header: header?,
        keys: w.keys.iter().map(|k| k.as_bytes().to_vec()).collect(),
        max_ttl_seconds,
    })
}

fn service(
    w: &WireService,
    default_stickiness: Option<&Stickiness>,
    goals: &[WireGoal],
    path: &Path,
    out: &mut Collector,
) -> Option<Service> {
    let name = Name::parse(&w.name, &path.field("name"), out);
    let hosts: Vec<Option<HostPattern>> = w
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| host(h, &path.field("hosts").index(i), out))
        .collect();
    if let Some(p) = &w.path_prefix {
        if !p.starts_with('/') {
            out.report(
                &path.field("path_prefix"),
                format!("{p:?} must start with '/'"),
            );
        }
    }
    let stickiness = match &w.stickiness {
        Some(s) => stickiness(Some(s), &path.field("stickiness"), out),
        None => default_stickiness.cloned(),
    };

    let variants_path = path.field("variants");
    if w.variants.is_empty() {
        out.report(&variants_path, "no variants: a service needs at least one");
    }
    let mut seen = BTreeSet::new();
    let variants: Vec<Option<Variant>> = w
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let p = variants_path.index(i);
            if !seen.insert(v.name.as_str()) {
                out.report(
                    &p.field("name"),
                    format!("duplicate variant name {:?}", v.name),
                );
            }
            let name = Name::parse(&v.name, &p.field("name"), out);
            let cluster = ClusterName::parse(&v.cluster, &p.field("cluster"), out);
            Some(Variant {
                name: name?,
                cluster: cluster?,
            })
        })
        .collect();
    let index_of = |n: &str| w.variants.iter().position(|v| v.name == n);

    let split = split(&w.split, &index_of, &path.field("split"), out);
    let salt_text = w.salt.clone().unwrap_or_else(|| w.name.clone());
    let mut rule_names = BTreeSet::new();
    let rules: Vec<Option<Rule>> = w
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let p = path.field("rules").index(i);
            if !rule_names.insert(r.name.as_str()) {
                out.report(
                    &p.field("name"),
                    format!("duplicate rule name {:?}", r.name),
                );
            }
            rule(r, &salt_text, &index_of, &p, out)
        })
        .collect();
    let mut ids = BTreeSet::new();
    let experiments: Vec<Option<Experiment>> = w
        .experiments
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let p = path.field("experiments").index(i);
            if !ids.insert(e.id.as_str()) {
                out.report(
                    &p.field("id"),
                    format!("duplicate experiment id {:?}", e.id),
                );
            }
            experiment(e, &index_of, goals, &p, out)
        })
        .collect();

    Some(Service {
        name: name?,
        hosts: hosts.into_iter().collect::<Option<_>>()?,
        path_prefix: w.path_prefix.clone(),
        salt: Salt::new(&salt_text),
        stickiness: stickiness?,
        variants: variants.into_iter().collect::<Option<_>>()?,
        rules: rules.into_iter().collect::<Option<_>>()?,
        experiments: experiments.into_iter().collect::<Option<_>>()?,
        split: split?,
    })
}

fn host(raw: &str, path: &Path, out: &mut Collector) -> Option<HostPattern> {
    let (wild, name) = match raw.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let label_ok =
        |l: &str| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if name.is_empty() || !name.split('.').all(label_ok) {
        out.report(path, format!("{raw:?} is not a host name (use e.g. \"shop.example.com\" or \"*.example.com\"; no port)"));
        return None;
    }
    let name = name.to_ascii_lowercase();
    Some(if wild {
        HostPattern::Suffix(format!(".{name}"))
    } else {
        HostPattern::Exact(name)
    })
}

/// Validates a variant-name -> bp map; layout order is the variants' declaration order.
fn split(
    w: &BTreeMap<String, i64>,
    index_of: &dyn Fn(&str) -> Option<usize>,
    path: &Path,
    out: &mut Collector,
) -> Option<Split> {
    if w.is_empty() {
        out.report(
            path,
            "split is empty: give each variant a weight in basis points, summing to 10000",
        );
        return None;
    }
    let mut ok = true;
    let mut weights = Vec::with_capacity(w.len());
    for (name, &bp) in w {
        let index = index_of(name);
        if index.is_none() {
            out.report(&path.key(name), format!("unknown variant {name:?}"));
            ok = false;
        }
        let weight = BasisPoints::new(bp);
        if weight.is_none() {
            out.report(
                &path.key(name),
                format!("weight {bp} bp is outside 0..=10000"),
            );
            ok = false;
        }
        if let (Some(i), Some(w)) = (index, weight) {
            weights.push((i, w));
        }
    }
    weighted(weights, path, out, ok)
}

fn weighted(
    mut weights: Vec<(usize, BasisPoints)>,
    path: &Path,
    out: &mut Collector,
    ok: bool,
) -> Option<Split> {
    let sum: u32 = weights.iter().map(|(_, w)| u32::from(w.get())).sum();
    if ok && sum != 10_000 {
        out.report(path, format!("weights sum to {sum} bp, must be 10000"));
        return None;
    }
    weights.sort_unstable_by_key(|(i, _)| *i);
    ok.then(|| Split::new(weights))
}

fn rule(
    w: &WireRule,
    service_salt: &str,
    index_of: &dyn Fn(&str) -> Option<usize>,
    path: &Path,
    out: &mut Collector,
) -> Option<Rule> {
    let name = Name::parse(&w.name, &path.field("name"), out);
    let matcher = Match::from_wire(&w.match_, &path.field("match"), out);
    let target = match (&w.variant, &w.split) {
        (Some(v), None) => match index_of(v) {
            Some(i) => Some(RuleTarget::Variant(i)),
            None => {
                out.report(&path.field("variant"), format!("unknown variant {v:?}"));
                None
            }
        },
        (None, Some(s)) => {
            split(s, index_of, &path.field("split"), out).map(|split| RuleTarget::Split {
                split,
                salt: Salt::new(&format!("{service_salt}/{}", w.name)),
            })
        }
        _ => {
            out.report(path, "a rule needs exactly one of variant, split");
            None
        }
    };
    Some(Rule {
        name: name?,
        matcher: matcher?,
        target: target?,
    })
}

fn experiment(
    w: &WireExperiment,
    index_of: &dyn Fn(&str) -> Option<usize>,
    goals: &[WireGoal],
    path: &Path,
    out: &mut Collector,
) -> Option<Experiment> {
    let id = Name::parse(&w.id, &path.field("id"), out);
    // Outer None: the segment is invalid; inner None: no segment (everyone).
    let segment: Option<Option<Match>> = match &w.segment {
        Some(m) => Match::from_wire(m, &path.field("segment"), out).map(Some),
        None => Some(None),
    };
    let allocation = match w.allocation {
        None => Some(BasisPoints::ALL),
        Some(bp) => {
            let a = BasisPoints::new(bp);
            if a.is_none() {
                out.report(
                    &path.field("allocation"),
                    format!("{bp} bp is outside 0..=10000"),
                );
            }
            a
        }
    };
    let arms_path = path.field("arms");
    if w.arms.len() < 2 {
        out.report(
            &arms_path,
            format!(
                "an experiment needs at least two arms, found {}",
                w.arms.len()
            ),
        );
    }
    let mut ok = w.arms.len() >= 2;
    let mut seen = BTreeSet::new();
    let mut arms = Vec::with_capacity(w.arms.len());
    let mut weights = Vec::with_capacity(w.arms.len());
    for (i, a) in w.arms.iter().enumerate() {
        let p = arms_path.index(i);
        if !seen.insert(a.name.as_str()) {
            out.report(&p.field("name"), format!("duplicate arm name {:?}", a.name));
            ok = false;
        }
        let name = Name::parse(&a.name, &p.field("name"), out);
        let variant = index_of(&a.variant);
        if variant.is_none() {
            out.report(
                &p.field("variant"),
                format!("unknown variant {:?}", a.variant),
            );
        }
        let weight = BasisPoints::new(a.weight);
        if weight.is_none() {
            out.report(
                &p.field("weight"),
                format!("weight {} bp is outside 0..=10000", a.weight),
            );
        }
        match (name, variant, weight) {
            (Some(name), Some(variant), Some(weight)) => {
                weights.push((arms.len(), weight));
                arms.push(Arm { name, variant });
            }
            _ => ok = false,
        }
    }
    let split = weighted(weights, &arms_path, out, ok);
    let salt = Salt::new(w.salt.as_deref().unwrap_or(&w.id));
    let (goals, primary_goal) = goals::experiment_goals(w, goals, path, out)?;
    Some(Experiment {
        id: id?,
        segment: segment?,
        allocation: allocation?,
        arms,
        split: split?,
        salt,
        goals,
        primary_goal,
        exposure: crate::marks::Mark::exposure(salt),
    })
}
