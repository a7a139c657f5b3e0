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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::snapshot::snapshot_from;
    use crate::observe::window::{Baselines, Counted};
    use veer_filter::metrics::Stat;

    /// Two arms of one variant, judged on `buy`.
    const CONFIG: &str = r#"{"stickiness": {"sources": [{"cookie": "uid"}]},
        "goals": [{"name": "buy", "match": {"path_prefix": "/buy"}}],
        "services": [{"name": "web", "variants": [{"name": "v1", "cluster": "a"}],
          "experiments": [{"id": "flag", "goals": ["buy"],
            "arms": [{"name": "off", "variant": "v1", "weight": 4000},
                     {"name": "on", "variant": "v1", "weight": 6000}]}],
          "split": {"v1": 10000}}]}"#;

    /// A proxy's answers, as a sidecar or `--admin` gives them, become each arm's counts under
    /// the filter's names: users beside requests, the goal, responses and latency per arm
    /// (the arms share a variant), minus a baseline.
    #[test]
    fn an_arms_counts_come_from_the_filters_names() {
        let config = Config::from_json(CONFIG).unwrap();
        let (service, experiment) = (&config.services[0], &config.services[0].experiments[0]);
        let names = Names::new(&config, service, experiment);
        // Each metric by veerctl's key, under the name the filter gives it in `/stats`.
        let envoy = |key: &str| Stat::from_key(key).unwrap().envoy_name();
        let stats: String = [
            ("exp.web.flag.on", 30),
            ("exp_users.web.flag.on", 12),
            ("goal_rq.web.flag.on.buy", 5),
            ("goal_users.web.flag.on.buy", 4),
            ("exp_rs.web.flag.on.2xx", 29),
            ("exp_rs.web.flag.on.5xx", 1),
        ]
        .iter()
        .map(|(key, n)| format!("{}: {n}\n", envoy(key)))
        .collect();
        let latency = format!(
            r#"{{"stats":[{{"histograms":{{"details":[
            {{"name":"{}","totals":[{{"lower_bound":200,"width":10,"count":30}}]}},
            {{"name":"{}","totals":[{{"lower_bound":100,"width":10,"count":9}}]}}]}}}}]}}"#,
            envoy("exp_latency_us.web.flag.on"),
            envoy("latency_us.web.v1")
        );
        let now = snapshot_from("p", &stats, &latency).unwrap();
        let base_stats = format!("{}: 2\n", envoy("exp_users.web.flag.on"));
        let base = snapshot_from("p", &base_stats, "{}").unwrap();
        let counted = Counted {
            readings: vec![("p".into(), Ok(now))],
            baselines: Baselines::from([("p".to_owned(), base)]),
            label: "w".into(),
        };
        let arms = names.arms(&counted, true);
        let on = &arms[1];
        assert_eq!((on.arm.as_str(), on.share_bp), ("on", 6000));
        assert_eq!((on.exposed_users, on.exposure_requests), (10, 30));
        assert_eq!(
            (on.goals[0].goal_requests, on.goals[0].converted_users),
            (5, 4)
        );
        let r = on.responses.as_ref().unwrap();
        assert_eq!(r.by_class, [0, 29, 0, 0, 1]);
        assert_eq!(r.latency.map(|l| l.samples), Some(30));
        assert_eq!(arms[0].exposed_users, 0);
        assert!(names
            .counters()
            .contains(&"goal_users.web.flag.off.buy".to_owned()));
    }
}
