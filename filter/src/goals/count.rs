//! What one request counts for the experiments judged on goals, on any host: found in the
//! request phase (a first exposure to an arm, the goals reached and for which arms), settled in
//! the response phase once the status is known (a goal with a status class counts only a fitting
//! response). Host-free: the adapter turns [`Counts`] into metric increments and one
//! `set-cookie`, nothing more.
//!
//! Users are counted once through the marks cookie ([`crate::marks`]): a first exposure is a
//! request the experiment decided whose marks lack the experiment's exposure mark; a conversion
//! is the first goal request of an exposed user (one carrying that mark) with a fitting status.
//! Both marks go back in one `set-cookie`, so the next request of the same user counts for
//! neither. A request that is a first exposure and reaches a goal converts too: the user was
//! shown the arm on that very request.
//!
//! Cost: a request that no measured experiment decides and that reaches no goal pays one test of
//! the goals' matchers ([`reaches_any`]; none at all when the config has no goals) and nothing
//! else: no cookie is parsed and nothing is allocated.

use super::{hits, reaches_any};
use crate::config::{Config, StatusClass};
use crate::decide::{DecidedBy, Decision};
use crate::marks::{Mark, Marks};
use crate::request::RequestView;

/// An experiment arm by position: the service, the experiment in it, the arm in that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArmAt {
    /// Index of the service in the config.
    pub service: usize,
    /// Index of the experiment in the service.
    pub experiment: usize,
    /// Index of the arm in the experiment.
    pub arm: usize,
}

/// One goal of an experiment arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoalAt {
    /// The arm.
    pub arm: ArmAt,
    /// Position of the goal in the experiment's `goals`.
    pub slot: usize,
}

/// A request that counts for something, between its request and its response phase.
#[derive(Debug, Clone)]
pub struct Pending {
    marks: Marks,
    exposure: Option<ArmAt>,
    goals: Vec<PendingGoal>,
}

#[derive(Debug, Clone, Copy)]
struct PendingGoal {
    at: GoalAt,
    status: Option<StatusClass>,
    /// The user's conversion mark, when the user is exposed and has not converted yet.
    conversion: Option<Mark>,
}

/// What a request counted, once its response status is known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// A first exposure to this arm.
    pub exposure: Option<ArmAt>,
    /// Goal requests (response of a fitting class), one per arm they are attributed to.
    pub goal_requests: Vec<GoalAt>,
    /// First conversions of exposed users.
    pub conversions: Vec<GoalAt>,
    /// The marks cookie's `set-cookie` value, when anything was added to it.
    pub set_cookie: Option<String>,
}

impl Pending {
    /// The request phase: what `req`, decided as `decision` (`None`: no service), may count.
    /// `None` when it counts for nothing, the usual case.
    pub fn on_request(
        config: &Config,
        decision: Option<&Decision<'_>>,
        req: &RequestView<'_>,
    ) -> Option<Pending> {
        let exposed = decision.and_then(measured_arm);
        if exposed.is_none() && !reaches_any(config, req) {
            return None;
        }
        let mut marks = Marks::parse(req.cookie(&config.marks.name).unwrap_or_default());
        let exposure = exposed.and_then(|(at, mark)| marks.add(mark).then_some(at));
        let goals: Vec<PendingGoal> = hits(config, req, &marks)
            .iter()
            .map(|h| PendingGoal {
                at: GoalAt {
                    arm: ArmAt {
                        service: h.service_index,
                        experiment: h.experiment_index,
                        arm: h.arm_index,
                    },
                    slot: h.slot,
                },
                status: h.goal.status,
                conversion: (h.exposed && !marks.has(h.conversion)).then_some(h.conversion),
            })
            .collect();
        (exposure.is_some() || !goals.is_empty()).then_some(Pending {
            marks,
            exposure,
            goals,
        })
    }

    /// The response phase, with the response's `:status` value.
    pub fn on_response(mut self, config: &Config, status: &[u8]) -> Counts {
        let class = StatusClass::of(status);
        let mut counts = Counts {
            exposure: self.exposure,
            ..Counts::default()
        };
        for g in self
            .goals
            .iter()
            .filter(|g| g.status.is_none_or(|s| s == class))
        {
            counts.goal_requests.push(g.at);
            if g.conversion.is_some_and(|m| self.marks.add(m)) {
                counts.conversions.push(g.at);
            }
        }
        if self.marks.changed() {
            counts.set_cookie = Some(config.marks.set_cookie_value(&self.marks.value()));
        }
        counts
    }
}

/// The arm a measured experiment decided, and its exposure mark.
fn measured_arm(d: &Decision<'_>) -> Option<(ArmAt, Mark)> {
    match d.by {
        DecidedBy::Experiment {
            index,
            experiment,
            arm_index,
            ..
        } if experiment.measured() => Some((
            ArmAt {
                service: d.service_index,
                experiment: index,
                arm: arm_index,
            },
            experiment.exposure,
        )),
        _ => None,
    }
}
