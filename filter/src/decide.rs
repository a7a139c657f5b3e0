//! The decision: which service a request belongs to, which variant serves it, and why.
//!
//! Order per service: a valid signed override, then cohort rules in order, then experiments in
//! order (the first that enrolls the user decides), then the default split. The function is pure:
//! the host supplies the current time and a source of randomness, so veerctl can replay exactly
//! what the filter does.

use std::borrow::Cow;
use std::fmt;

use crate::config::{
    Arm, Config, Experiment, KeySource, Rule, RuleTarget, Service, Stickiness, Variant,
};
use crate::hash::{Buckets, Salt};
use crate::request::RequestView;
use crate::signing::{self, OverrideRejection};
use crate::split::Split;

/// What the host provides besides the request.
pub struct Inputs<'r> {
    /// Current time, unix seconds (override expiry).
    pub now_unix: u64,
    /// Randomness for requests without a stickiness key.
    pub random: &'r mut dyn FnMut() -> u64,
}

/// Which part of the config decided.
#[derive(Debug, Clone, Copy)]
pub enum DecidedBy<'c> {
    /// A verified signed override.
    Override {
        /// When the override expires (unix seconds).
        expires: u64,
    },
    /// A cohort rule, with its index in the service.
    Rule(usize, &'c Rule),
    /// An experiment (index in the service) enrolled the user in an arm (index in the experiment).
    Experiment {
        /// Index of the experiment in the service.
        index: usize,
        /// The experiment.
        experiment: &'c Experiment,
        /// Index of the arm in the experiment.
        arm_index: usize,
        /// The arm.
        arm: &'c Arm,
    },
    /// The default split.
    Split,
}

/// Where the stickiness key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin<'c> {
    /// A configured source.
    Source(&'c KeySource),
    /// None was present; this id was minted and is set as the assign cookie on the response.
    Minted(String),
    /// None was present and none is minted: a random draw, not sticky.
    Random,
}

/// The engine's answer for a request that belongs to a service.
#[derive(Debug, Clone)]
pub struct Decision<'c> {
    /// Index of the service in the config.
    pub service_index: usize,
    /// The service.
    pub service: &'c Service,
    /// Index of the chosen variant in the service.
    pub variant_index: usize,
    /// The chosen variant.
    pub variant: &'c Variant,
    /// What decided.
    pub by: DecidedBy<'c>,
    /// Where the key came from.
    pub key: KeyOrigin<'c>,
    /// The buckets of the deciding step (`None` for rules to a fixed variant and overrides).
    pub buckets: Option<Buckets>,
    /// An override header was present but ignored, and why.
    pub override_rejected: Option<OverrideRejection>,
}

impl<'c> Decision<'c> {
    /// The experiment assignment to expose, as (experiment id, arm name).
    pub fn assignment(&self) -> Option<(&'c str, &'c str)> {
        match self.by {
            DecidedBy::Experiment {
                experiment, arm, ..
            } => Some((experiment.id.as_str(), arm.name.as_str())),
            _ => None,
        }
    }
}

/// Finds the first service whose hosts and path prefix match.
pub fn find_service<'c>(config: &'c Config, req: &RequestView<'_>) -> Option<(usize, &'c Service)> {
    let host = req.host();
    let path = req.path();
    config.services.iter().enumerate().find(|(_, s)| {
        (s.hosts.is_empty() || s.hosts.iter().any(|h| h.matches(host)))
            && s.path_prefix
                .as_deref()
                .is_none_or(|p| path.starts_with(p.as_bytes()))
    })
}

/// Decides `req`; `None` when no service matches (the request passes through).
pub fn decide<'c>(
    config: &'c Config,
    req: &RequestView<'_>,
    inputs: Inputs<'_>,
) -> Option<Decision<'c>> {
    let (service_index, service) = find_service(config, req)?;
    let (key, origin) = resolve_key(&service.stickiness, req, inputs.random);
    let mut decision = |variant_index: usize, by, buckets| {
        service.variant(variant_index).map(|variant| Decision {
            service_index,
            service,
            variant_index,
            variant,
            by,
            key: origin.clone(),
            buckets,
            override_rejected: None,
        })
    };

    let mut rejected = None;
    if let Some(policy) = &config.override_policy {
        if let Some(value) = req.header(policy.header.as_str()) {
            let (name, now) = (service.name.as_str(), inputs.now_unix);
            match signing::verify(value, name, now, policy.max_ttl_seconds, &policy.keys) {
                Ok(v) => match service.variant_index(v.variant) {
                    Some(i) => {
                        return decision(i, DecidedBy::Override { expires: v.expires }, None)
                    }
                    None => rejected = Some(OverrideRejection::UnknownVariant),
                },
                Err(e) => rejected = Some(e),
            }
        }
    }

    let mut routed = route(service, req, &key, &mut decision);
    if let Some(d) = routed.as_mut() {
        d.override_rejected = rejected;
    }
    routed
}

fn route<'c>(
    service: &'c Service,
    req: &RequestView<'_>,
    key: &[u8],
    decision: &mut dyn FnMut(usize, DecidedBy<'c>, Option<Buckets>) -> Option<Decision<'c>>,
) -> Option<Decision<'c>> {
    for (index, rule) in service.rules.iter().enumerate() {
        if rule.matcher.matches(req) {
            return match &rule.target {
                RuleTarget::Variant(i) => decision(*i, DecidedBy::Rule(index, rule), None),
                RuleTarget::Split { split, salt } => {
                    let (i, b) = pick(split, *salt, key);
                    decision(i, DecidedBy::Rule(index, rule), Some(b))
                }
            };
        }
    }
    for (index, exp) in service.experiments.iter().enumerate() {
        if exp.segment.as_ref().is_some_and(|m| !m.matches(req)) {
            continue;
        }
        let b = exp.salt.buckets(key);
        let placed = exp.placement(b);
        if !placed.enrolled {
            continue;
        }
        let arm_index = placed.arm;
        if let Some(arm) = exp.arms.get(arm_index) {
            let by = DecidedBy::Experiment {
                index,
                experiment: exp,
                arm_index,
                arm,
            };
            return decision(arm.variant, by, Some(b));
        }
    }
    let (i, b) = pick(&service.split, service.salt, key);
    decision(i, DecidedBy::Split, Some(b))
}

fn pick(split: &Split, salt: Salt, key: &[u8]) -> (usize, Buckets) {
    let b = salt.buckets(key);
    (split.pick(b.primary), b)
}

/// The user's key from the first non-empty configured source, if any.
pub fn user_key<'c, 'r>(
    stickiness: &'c Stickiness,
    req: &RequestView<'r>,
) -> Option<(Cow<'r, [u8]>, &'c KeySource)> {
    stickiness.sources.iter().find_map(|source| {
        let value: Option<Cow<'r, [u8]>> = match source {
            KeySource::Header(h) => req.header(h.as_str()).map(Cow::Borrowed),
            KeySource::Cookie(c) => req.cookie(c).map(Cow::Borrowed),
            KeySource::Query(q) => req.query(q).map(|v| match v {
                Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
                Cow::Owned(s) => Cow::Owned(s.clone().into_bytes()),
            }),
        };
        value.filter(|v| !v.is_empty()).map(|v| (v, source))
    })
}

/// The stickiness key: the first non-empty configured source, else a minted id (when an assign
/// cookie is configured), else random bytes.
fn resolve_key<'c, 'r>(
    stickiness: &'c Stickiness,
    req: &RequestView<'r>,
    random: &mut dyn FnMut() -> u64,
) -> (Cow<'r, [u8]>, KeyOrigin<'c>) {
    if let Some((key, source)) = user_key(stickiness, req) {
        return (key, KeyOrigin::Source(source));
    }
    if stickiness.assign_cookie.is_some() {
        let id = format!("{:016x}{:016x}", random(), random());
        return (Cow::Owned(id.clone().into_bytes()), KeyOrigin::Minted(id));
    }
    (
        Cow::Owned(random().to_le_bytes().to_vec()),
        KeyOrigin::Random,
    )
}

impl fmt::Display for Decision<'_> {
    /// The human-readable reason veerctl prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let variant = &self.variant.name;
        match self.by {
            DecidedBy::Override { expires } => write!(
                f,
                "signed override forces variant {variant} (valid until unix time {expires})"
            )?,
            DecidedBy::Rule(_, rule) => {
                write!(
                    f,
                    "cohort rule {:?} matched ({}) -> variant {variant}",
                    rule.name.as_str(),
                    rule.matcher
                )?;
                if let (RuleTarget::Split { split, .. }, Some(b)) = (&rule.target, self.buckets) {
                    write!(
                        f,
                        " by the rule's split: bucket {} of {}",
                        b.primary.get(),
                        Layout(self.service, split)
                    )?;
                }
            }
            DecidedBy::Experiment {
                experiment: exp,
                arm,
                ..
            } => {
                let b = self
                    .buckets
                    .map(|b| (b.secondary.get(), b.primary.get()))
                    .unwrap_or_default();
                write!(
                    f,
                    "experiment {:?} enrolled the user (enrollment bucket {} < allocation {}) in arm {:?} (bucket {}) -> variant {variant}",
                    exp.id.as_str(),
                    b.0,
                    exp.allocation.get(),
                    arm.name.as_str(),
                    b.1
                )?;
            }
            DecidedBy::Split => {
                let b = self.buckets.map(|b| b.primary.get()).unwrap_or_default();
                write!(
                    f,
                    "default split: bucket {b} of {} -> variant {variant}",
                    Layout(self.service, &self.service.split)
                )?;
            }
        }
        match &self.key {
            KeyOrigin::Source(KeySource::Header(h)) => {
                write!(f, "; key from header {}", h.as_str())
            }
            KeyOrigin::Source(KeySource::Cookie(c)) => write!(f, "; key from cookie {c}"),
            KeyOrigin::Source(KeySource::Query(q)) => write!(f, "; key from query parameter {q}"),
            KeyOrigin::Minted(id) => write!(
                f,
                "; no key in the request, minted id {id} (set as a cookie)"
            ),
            KeyOrigin::Random => f.write_str("; no key in the request, random draw (not sticky)"),
        }?;
        if let Some(r) = self.override_rejected {
            write!(f, "; override header ignored: {r}")?;
        }
        Ok(())
    }
}

/// Renders a split's bucket ranges: `stable 0-7999, canary 8000-9999`.
struct Layout<'a>(&'a Service, &'a Split);

impl fmt::Display for Layout<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut start = 0u32;
        let mut first = true;
        for (i, w) in self.1.weights() {
            if w.get() == 0 {
                continue;
            }
            let name = self.0.variant(*i).map_or("?", |v| v.name.as_str());
            let end = start + u32::from(w.get());
            write!(
                f,
                "{}{name} {start}-{}",
                if first { "" } else { ", " },
                end - 1
            )?;
            start = end;
            first = false;
        }
        Ok(())
    }
}
