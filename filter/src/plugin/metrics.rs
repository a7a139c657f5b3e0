//! Veer's counters in Envoy's stats.
//!
//! Names (Envoy prefixes `wasmcustom.`; `/stats/prometheus` turns dots into underscores):
//! - `veer.rq.<service>.<variant>`: requests routed to a variant;
//! - `veer.split.<service>.<variant>`: of those, decided by the default split (what veerctl
//!   compares with the configured weights: cohorts and experiments are not weights);
//! - `veer.rs.<service>.<variant>.<1xx..5xx>`: responses by status class;
//! - `veer.latency_us.<service>.<variant>`: histogram, request headers to response headers;
//!   these two are not defined when the config sets `metrics.responses: false`;
//! - `veer.rule.<service>.<rule>`: what decided;
//! - per experiment arm, named in [`crate::arm_metrics`]: assignments (`veer.exp.`...), and for
//!   experiments judged on goals, exposed users, goal requests and converted users; responses
//!   and latency when arms share a variant;
//! - `veer.config.version` and `veer.config.digest` (gauges: which config runs, see
//!   [`crate::config::digest`]), `veer.config.accepted`, `veer.config.rejected`;
//! - `veer.passthrough`, `veer.spoofed_header_removed`, `veer.override.accepted`,
//!   `veer.override.rejected` (invalid, or sent on a request for no service),
//!   `veer.cookie.assigned`.
//!
//! Ids are defined once per config update and looked up by index on the request path.

use proxy_wasm::hostcalls::{define_metric, increment_metric, record_metric};
use proxy_wasm::types::MetricType;

use crate::arm_metrics::{ArmKey, ArmStat, PREFIX};
use crate::config::{Config, Experiment, StatusClass};
use crate::goals::count::{ArmAt, Counts, GoalAt};

/// A metric id; `None` when the host refused to define it (counting is then skipped, routing is
/// not affected).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Metric(Option<u32>);

impl Metric {
    fn new(kind: MetricType, name: &str) -> Metric {
        match define_metric(kind, name) {
            Ok(id) => Metric(Some(id)),
            Err(e) => {
                log::warn!("veer: cannot define metric {name}: {e:?}");
                Metric(None)
            }
        }
    }

    fn counter(name: &str) -> Metric {
        Metric::new(MetricType::Counter, name)
    }

    pub(super) fn inc(self) {
        if let Some(id) = self.0 {
            let _ = increment_metric(id, 1);
        }
    }

    pub(super) fn record(self, value: u64) {
        if let Some(id) = self.0 {
            let _ = record_metric(id, value);
        }
    }
}

/// Counters that exist whatever the config.
#[derive(Debug, Clone, Copy)]
pub(super) struct Globals {
    pub version: Metric,
    pub digest: Metric,
    pub accepted: Metric,
    pub rejected: Metric,
    pub passthrough: Metric,
    pub spoofed: Metric,
    pub override_accepted: Metric,
    pub override_rejected: Metric,
    pub cookie_assigned: Metric,
}

impl Globals {
    pub(super) fn define() -> Globals {
        Globals {
            version: Metric::new(MetricType::Gauge, "veer.config.version"),
            digest: Metric::new(MetricType::Gauge, "veer.config.digest"),
            accepted: Metric::counter("veer.config.accepted"),
            rejected: Metric::counter("veer.config.rejected"),
            passthrough: Metric::counter("veer.passthrough"),
            spoofed: Metric::counter("veer.spoofed_header_removed"),
            override_accepted: Metric::counter("veer.override.accepted"),
            override_rejected: Metric::counter("veer.override.rejected"),
            cookie_assigned: Metric::counter("veer.cookie.assigned"),
        }
    }

    pub(super) fn rejected(&self) {
        self.rejected.inc();
    }
}

/// Per-variant metrics.
#[derive(Debug, Clone)]
pub(super) struct VariantMetrics {
    pub requests: Metric,
    pub split: Metric,
    /// Absent when the config turns response metrics off (`metrics.responses: false`).
    pub responses: Option<ResponseMetrics>,
}

/// What the response phase records per variant.
#[derive(Debug, Clone)]
pub(super) struct ResponseMetrics {
    /// Indexed by status class 1..=5 at positions 0..=4.
    pub status: [Metric; 5],
    pub latency_us: Metric,
}

/// Every metric of one config generation, indexed like the config.
#[derive(Debug, Clone)]
pub(super) struct Metrics {
    pub globals: Globals,
    /// `[service][variant]`.
    pub variants: Vec<Vec<VariantMetrics>>,
    /// `[service][rule]`.
    pub rules: Vec<Vec<Metric>>,
    /// `[service][experiment][arm]`.
    pub arms: Vec<Vec<Vec<ArmMetrics>>>,
}

/// Per experiment arm.
#[derive(Debug, Clone)]
pub(super) struct ArmMetrics {
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
    fn define(config: &Config, key: ArmKey<'_>, e: &Experiment) -> ArmMetrics {
        let metric = |kind, stat| Metric::new(kind, &format!("{PREFIX}{}", key.name(stat)));
        let counter = |stat| metric(MetricType::Counter, stat);
        let goal_names = e
            .goals
            .iter()
            .filter_map(|&g| config.goals.get(g).map(|g| g.name.as_str()));
        ArmMetrics {
            requests: counter(ArmStat::Requests),
            users: match e.measured() {
                true => counter(ArmStat::Users),
                false => Metric::default(),
            },
            goals: goal_names
                .map(|g| {
                    (
                        counter(ArmStat::GoalRequests(g)),
                        counter(ArmStat::GoalUsers(g)),
                    )
                })
                .collect(),
            responses: (config.response_metrics && e.arms_share_variant()).then(|| {
                ResponseMetrics {
                    status: StatusClass::ALL.map(|c| counter(ArmStat::Responses(c))),
                    latency_us: metric(MetricType::Histogram, ArmStat::Latency),
                }
            }),
        }
    }
}

impl Metrics {
    pub(super) fn define(config: &Config, globals: Globals) -> Metrics {
        let mut m = Metrics {
            globals,
            variants: Vec::new(),
            rules: Vec::new(),
            arms: Vec::new(),
        };
        for s in &config.services {
            let svc = s.name.as_str();
            m.variants.push(
                s.variants
                    .iter()
                    .map(|v| {
                        let v = v.name.as_str();
                        VariantMetrics {
                            requests: Metric::counter(&format!("veer.rq.{svc}.{v}")),
                            split: Metric::counter(&format!("veer.split.{svc}.{v}")),
                            responses: config.response_metrics.then(|| ResponseMetrics {
                                status: [1, 2, 3, 4, 5]
                                    .map(|c| Metric::counter(&format!("veer.rs.{svc}.{v}.{c}xx"))),
                                latency_us: Metric::new(
                                    MetricType::Histogram,
                                    &format!("veer.latency_us.{svc}.{v}"),
                                ),
                            }),
                        }
                    })
                    .collect(),
            );
            m.rules.push(
                s.rules
                    .iter()
                    .map(|r| Metric::counter(&format!("veer.rule.{svc}.{}", r.name)))
                    .collect(),
            );
            m.arms.push(
                s.experiments
                    .iter()
                    .map(|e| {
                        e.arms
                            .iter()
                            .map(|a| {
                                let key = ArmKey {
                                    service: svc,
                                    experiment: e.id.as_str(),
                                    arm: a.name.as_str(),
                                };
                                ArmMetrics::define(config, key, e)
                            })
                            .collect()
                    })
                    .collect(),
            );
        }
        m
    }

    /// Records that `config`, whose text has `digest`, is now live. The digest is set before
    /// the version: whoever reads the new version reads its digest too.
    pub(super) fn configured(&self, config: &Config, digest: u64) {
        self.globals.accepted.inc();
        // proxy-wasm has no "set gauge": record_metric on a gauge sets it. Envoy gauges are i64.
        self.globals.digest.record(digest);
        self.globals
            .version
            .record(config.version.min(i64::MAX as u64));
    }

    pub(super) fn variant(&self, service: usize, variant: usize) -> Option<&VariantMetrics> {
        self.variants.get(service)?.get(variant)
    }

    pub(super) fn rule(&self, service: usize, rule: usize) -> Option<Metric> {
        self.rules.get(service)?.get(rule).copied()
    }

    pub(super) fn arm(&self, service: usize, experiment: usize, arm: usize) -> Option<&ArmMetrics> {
        self.arms.get(service)?.get(experiment)?.get(arm)
    }

    /// What a request counted for experiments judged on goals.
    pub(super) fn count(&self, counts: &Counts) {
        let arm = |at: ArmAt| self.arm(at.service, at.experiment, at.arm);
        if let Some(m) = counts.exposure.and_then(arm) {
            m.users.inc();
        }
        let goal = |g: &GoalAt| arm(g.arm).and_then(|m| m.goals.get(g.slot));
        for (requests, _) in counts.goal_requests.iter().filter_map(goal) {
            requests.inc();
        }
        for (_, users) in counts.conversions.iter().filter_map(goal) {
            users.inc();
        }
    }
}
