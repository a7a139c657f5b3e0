//! What the proxies counted for one experiment, per arm: exposed users beside exposure requests,
//! and per goal the goal requests and converted users; responses and latency per arm where arms
//! share a variant. Every name comes from [`veer_filter::arm_metrics`], the one place the filter
//! defines them.

use serde::Serialize;
use veer_filter::arm_metrics::{ArmKey, ArmStat};
use veer_filter::config::{Config, Experiment, Service, StatusClass};

use crate::observe::status::Latency;
use crate::observe::window::Counted;

/// One arm's counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmCounts {
    /// Arm name.
    pub arm: String,
    /// The variant that serves it.
    pub variant: String,
    /// Configured share of the enrolled users (bp).
    pub share_bp: u16,
    /// Users exposed (counted once per user through the marks cookie).
    pub exposed_users: u64,
    /// Requests the experiment assigned to the arm: beside `exposed_users`, how many requests
    /// each exposed user made. About one per exposed user means clients that drop cookies.
    pub exposure_requests: u64,
    /// Per goal of the experiment, in its order.
    pub goals: Vec<GoalCounts>,
    /// Responses and latency of the arm, when arms share a variant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responses: Option<ArmResponses>,
}

/// One goal's counts for one arm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalCounts {
    /// Goal name.
    pub goal: String,
    /// Goal requests attributed to the arm (of the goal's status class).
    pub goal_requests: u64,
    /// Exposed users who reached the goal (each once).
    pub converted_users: u64,
}

/// An arm's responses, when arms share a variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmResponses {
    /// Responses by status class, 1xx..5xx.
    pub by_class: [u64; 5],
    /// Latency percentiles (none recorded yet: `None`).
    pub latency: Option<Latency>,
}

/// The experiment's names as its metrics use them.
pub struct Names<'c> {
    service: &'c Service,
    experiment: &'c Experiment,
    goals: Vec<&'c str>,
}

impl<'c> Names<'c> {
    /// The names of experiment `experiment` of `service` in `config`.
    pub fn new(config: &'c Config, service: &'c Service, experiment: &'c Experiment) -> Names<'c> {
        let goals = experiment
            .goals
            .iter()
            .filter_map(|&g| config.goals.get(g).map(|g| g.name.as_str()))
            .collect();
        Names {
            service,
            experiment,
            goals,
        }
    }

    /// The goals' names, in the experiment's order.
    pub fn goals(&self) -> &[&'c str] {
        &self.goals
    }

    fn key(&self, arm: &'c str) -> ArmKey<'c> {
        ArmKey {
            service: self.service.name.as_str(),
            experiment: self.experiment.id.as_str(),
            arm,
        }
    }

    /// Every counter the report reads (what it asks Prometheus for).
    pub fn counters(&self) -> Vec<String> {
        let mut out = Vec::new();
        for a in &self.experiment.arms {
            let key = self.key(a.name.as_str());
            out.push(key.name(ArmStat::Requests));
            out.push(key.name(ArmStat::Users));
            for g in &self.goals {
                out.push(key.name(ArmStat::GoalRequests(g)));
                out.push(key.name(ArmStat::GoalUsers(g)));
            }
            if self.experiment.arms_share_variant() {
                out.extend(
                    StatusClass::ALL
                        .iter()
                        .map(|c| key.name(ArmStat::Responses(*c))),
                );
            }
        }
        out
    }

    /// Each arm's counts over `counted`'s window; `responses`: the config records response
    /// metrics.
    pub fn arms(&self, counted: &Counted, responses: bool) -> Vec<ArmCounts> {
        self.arms_from(
            |name| counted.sum(name),
            |key| Latency::of(&counted.histogram(key)),
            responses,
        )
    }

    /// Each arm's counts from counter values by name (Prometheus, a recorded reading), without
    /// latency.
    pub fn arms_from(
        &self,
        count: impl Fn(&str) -> u64,
        latency: impl Fn(&str) -> Option<Latency>,
        responses: bool,
    ) -> Vec<ArmCounts> {
        self.experiment
            .arms
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let key = self.key(a.name.as_str());
                let n = |stat| count(&key.name(stat));
                ArmCounts {
                    arm: a.name.to_string(),
                    variant: self
                        .service
                        .variant(a.variant)
                        .map_or_else(String::new, |v| v.name.to_string()),
                    share_bp: self.experiment.split.weight_of(i).get(),
                    exposed_users: n(ArmStat::Users),
                    exposure_requests: n(ArmStat::Requests),
                    goals: self
                        .goals
                        .iter()
                        .map(|g| GoalCounts {
                            goal: (*g).to_owned(),
                            goal_requests: n(ArmStat::GoalRequests(g)),
                            converted_users: n(ArmStat::GoalUsers(g)),
                        })
                        .collect(),
                    responses: (responses && self.experiment.arms_share_variant()).then(|| {
                        ArmResponses {
                            by_class: StatusClass::ALL.map(|c| n(ArmStat::Responses(c))),
                            latency: latency(&key.name(ArmStat::Latency)),
                        }
                    }),
                }
            })
            .collect()
    }
}
