//! Veer's metrics in Envoy's stats: the same names and meaning as the wasm filter's
//! (`filter/src/plugin/metrics.rs`), so that `veerctl status` and the reports read either build.
//!
//! Envoy puts a dynamic module's metrics under its metrics namespace, by default
//! `dynamicmodulescustom.` (`dynamicmodulescustom.veer.rq.web.v1` in `/stats`), where the wasm
//! filter's are under `wasmcustom.`; in `/stats/prometheus` both prefixes are dropped
//! (`veer_rq_web_v1`). One counter is native only: `veer.panic`, requests whose hook panicked
//! (caught at the FFI boundary; the wasm filter's VM would have crashed instead).
//!
//! Metrics are defined when a config is created (Envoy allows it only then) and looked up by
//! index on the request path.

use veer_filter::arm_metrics::{ArmKey, ArmStat, PREFIX};
use veer_filter::config::{Experiment, StatusClass};
use veer_filter::goals::count::{ArmAt, Counts, GoalAt};
use veer_filter::Config;

use crate::abi::MetricKind;

/// A metric id; `None` when Envoy refused to define it (counting is then skipped, routing is not
/// affected).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metric(pub Option<usize>);

/// Defines one metric by kind and full name (`veer.rq.web.v1`).
pub type Define<'a> = &'a mut dyn FnMut(MetricKind, &str) -> Option<usize>;

fn counter(define: Define<'_>, name: &str) -> Metric {
    Metric(define(MetricKind::Counter, name))
}

/// Metrics that exist whatever the config.
#[derive(Debug, Clone, Copy)]
pub struct Globals {
    pub version: Metric,
    /// The digest of the config's text (`veer_filter::config::digest`): with the version, what
    /// veerctl checks to call a change live.
    pub digest: Metric,
    pub accepted: Metric,
    pub rejected: Metric,
    pub passthrough: Metric,
    pub spoofed: Metric,
    pub override_accepted: Metric,
    pub override_rejected: Metric,
    pub cookie_assigned: Metric,
    pub panic: Metric,
}

impl Globals {
    pub fn define(define: Define<'_>) -> Globals {
        Globals {
            version: Metric(define(MetricKind::Gauge, "veer.config.version")),
            digest: Metric(define(MetricKind::Gauge, "veer.config.digest")),
            accepted: counter(define, "veer.config.accepted"),
            rejected: counter(define, "veer.config.rejected"),
            passthrough: counter(define, "veer.passthrough"),
            spoofed: counter(define, "veer.spoofed_header_removed"),
            override_accepted: counter(define, "veer.override.accepted"),
            override_rejected: counter(define, "veer.override.rejected"),
            cookie_assigned: counter(define, "veer.cookie.assigned"),
            panic: counter(define, "veer.panic"),
        }
    }
}

/// Per-variant metrics.
#[derive(Debug, Clone)]
pub struct VariantMetrics {
    pub requests: Metric,
    pub split: Metric,
    /// Absent when the config turns response metrics off (`metrics.responses: false`).
    pub responses: Option<ResponseMetrics>,
}

/// What the response phase records per variant.
#[derive(Debug, Clone)]
pub struct ResponseMetrics {
    /// Indexed by status class 1..=5 at positions 0..=4.
    pub status: [Metric; 5],
    pub latency_us: Metric,
}

/// Every metric of one config, indexed like the config.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub globals: Globals,
    /// `[service][variant]`.
    pub variants: Vec<Vec<VariantMetrics>>,
    /// `[service][rule]`.
    pub rules: Vec<Vec<Metric>>,
    /// `[service][experiment][arm]`.
    pub arms: Vec<Vec<Vec<ArmMetrics>>>,
}

/// Per experiment arm: the wasm filter's (`filter/src/plugin/metrics.rs`), named in
/// [`veer_filter::arm_metrics`].
#[derive(Debug, Clone)]
pub struct ArmMetrics {
    /// Requests assigned to the arm.
    pub requests: Metric,
    /// First exposures (experiments judged on goals; undefined otherwise).
    pub users: Metric,
    /// Per goal of the experiment, in its order: (goal requests, converted users).
    pub goals: Vec<(Metric, Metric)>,
    /// When arms share a variant and response metrics are on.
    pub responses: Option<ResponseMetrics>,
}

impl ArmMetrics {
    fn define(config: &Config, key: ArmKey<'_>, e: &Experiment, define: Define<'_>) -> ArmMetrics {
        let mut metric = |kind, stat| Metric(define(kind, &format!("{PREFIX}{}", key.name(stat))));
        let goal_names: Vec<&str> = e
            .goals
            .iter()
            .filter_map(|&g| config.goals.get(g).map(|g| g.name.as_str()))
            .collect();
        ArmMetrics {
            requests: metric(MetricKind::Counter, ArmStat::Requests),
            users: match e.measured() {
                true => metric(MetricKind::Counter, ArmStat::Users),
                false => Metric::default(),
            },
            goals: goal_names
                .into_iter()
                .map(|g| {
                    (
                        metric(MetricKind::Counter, ArmStat::GoalRequests(g)),
                        metric(MetricKind::Counter, ArmStat::GoalUsers(g)),
                    )
                })
                .collect(),
            responses: (config.response_metrics && e.arms_share_variant()).then(|| {
                ResponseMetrics {
                    status: StatusClass::ALL
                        .map(|c| metric(MetricKind::Counter, ArmStat::Responses(c))),
                    latency_us: metric(MetricKind::Histogram, ArmStat::Latency),
                }
            }),
        }
    }
}

impl Metrics {
    pub fn define(config: &Config, globals: Globals, define: Define<'_>) -> Metrics {
        let mut m = Metrics {
            globals,
            variants: Vec::new(),
            rules: Vec::new(),
            arms: Vec::new(),
        };
        for s in &config.services {
            let svc = s.name.as_str();
            let variants = s.variants.iter().map(|v| v.name.as_str());
            m.variants.push(
                variants
                    .map(|v| VariantMetrics {
                        requests: counter(define, &format!("veer.rq.{svc}.{v}")),
                        split: counter(define, &format!("veer.split.{svc}.{v}")),
                        responses: config.response_metrics.then(|| ResponseMetrics {
                            status: [1, 2, 3, 4, 5]
                                .map(|c| counter(define, &format!("veer.rs.{svc}.{v}.{c}xx"))),
                            latency_us: Metric(define(
                                MetricKind::Histogram,
                                &format!("veer.latency_us.{svc}.{v}"),
                            )),
                        }),
                    })
                    .collect(),
            );
            m.rules.push(
                s.rules
                    .iter()
                    .map(|r| counter(define, &format!("veer.rule.{svc}.{}", r.name)))
                    .collect(),
            );
            let mut arms = Vec::new();
            for e in &s.experiments {
                let mut of_experiment = Vec::new();
                for a in &e.arms {
                    let key = ArmKey {
                        service: svc,
                        experiment: e.id.as_str(),
                        arm: a.name.as_str(),
                    };
                    of_experiment.push(ArmMetrics::define(config, key, e, define));
                }
                arms.push(of_experiment);
            }
            m.arms.push(arms);
        }
        m
    }

    pub fn variant(&self, service: usize, variant: usize) -> Option<&VariantMetrics> {
        self.variants.get(service)?.get(variant)
    }

    pub fn rule(&self, service: usize, rule: usize) -> Option<Metric> {
        self.rules.get(service)?.get(rule).copied()
    }

    pub fn arm(&self, service: usize, experiment: usize, arm: usize) -> Option<&ArmMetrics> {
        self.arms.get(service)?.get(experiment)?.get(arm)
    }

    /// The counters what a request counted for experiments judged on goals moves.
    pub fn count(&self, counts: &Counts) -> Vec<Metric> {
        let arm = |at: ArmAt| self.arm(at.service, at.experiment, at.arm);
        let goal = |g: &GoalAt| arm(g.arm).and_then(|m| m.goals.get(g.slot)).copied();
        let users = counts.exposure.and_then(arm).map(|m| m.users);
        let requests = counts.goal_requests.iter().filter_map(goal).map(|g| g.0);
        let converted = counts.conversions.iter().filter_map(goal).map(|g| g.1);
        users.into_iter().chain(requests).chain(converted).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names the wasm filter defines for this config (filter/src/plugin/metrics.rs), which
    /// `veerctl status` and the reports read.
    #[test]
    fn names_are_the_wasm_filters() {
        let config = Config::from_json(
            r#"{"version": 3, "services": [{"name": "web",
                "variants": [{"name": "v1", "cluster": "c1"}, {"name": "v2", "cluster": "c2"}],
                "split": {"v1": 5000, "v2": 5000},
                "rules": [{"name": "beta", "match": {"header": "x-beta", "present": true}, "variant": "v2"}],
                "experiments": [{"id": "checkout", "arms": [
                    {"name": "a", "variant": "v1", "weight": 5000},
                    {"name": "b", "variant": "v2", "weight": 5000}]}]}]}"#,
        )
        .unwrap();
        let mut names = Vec::new();
        let mut define = |kind: MetricKind, name: &str| {
            names.push((kind, name.to_owned()));
            Some(names.len())
        };
        let globals = Globals::define(&mut define);
        let m = Metrics::define(&config, globals, &mut define);
        let has = |kind, name: &str| names.contains(&(kind, name.to_owned()));
        for (kind, name) in [
            (MetricKind::Gauge, "veer.config.version"),
            (MetricKind::Gauge, "veer.config.digest"),
            (MetricKind::Counter, "veer.config.accepted"),
            (MetricKind::Counter, "veer.spoofed_header_removed"),
            (MetricKind::Counter, "veer.rq.web.v2"),
            (MetricKind::Counter, "veer.split.web.v1"),
            (MetricKind::Counter, "veer.rs.web.v2.5xx"),
            (MetricKind::Histogram, "veer.latency_us.web.v1"),
            (MetricKind::Counter, "veer.rule.web.beta"),
            (MetricKind::Counter, "veer.exp.web.checkout.b"),
        ] {
            assert!(has(kind, name), "{name} ({kind:?}) not defined: {names:?}");
        }
        assert_eq!(
            m.arm(0, 0, 1).map(|a| a.requests),
            Some(Metric(Some(names.len())))
        );
        assert_eq!(m.rule(0, 1), None);
    }
}
