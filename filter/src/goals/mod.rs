//! Goal requests: which experiment arms a request that reaches a goal counts for.
//!
//! A goal request (a purchase on the checkout API) may arrive at another host or service than the
//! experiment's pages. It is attributed to the arm the same user is in, recomputed from the
//! user's key with the experiment's own salt, exactly as the decision computed it: no per-user
//! state in the proxy. Which users were enrolled is what the marks cookie ([`crate::marks`])
//! remembers: a user marked as exposed is attributed whatever the request looks like; a user
//! without the mark is attributed only when the experiment has no segment (everyone may be
//! enrolled, so the allocation bucket of the key decides), and never counts as a converted user.

pub mod count;

use crate::config::{Arm, Config, Experiment, Goal, Judged};
use crate::decide::user_key;
use crate::marks::{Mark, Marks};
use crate::request::RequestView;

/// One goal reached, counted for one experiment arm.
#[derive(Debug, Clone, Copy)]
pub struct GoalHit<'c> {
    /// Index of the goal in the config.
    pub goal_index: usize,
    /// The goal.
    pub goal: &'c Goal,
    /// Index of the experiment's service.
    pub service_index: usize,
    /// Index of the experiment in its service.
    pub experiment_index: usize,
    /// The experiment.
    pub experiment: &'c Experiment,
    /// Index of the user's arm in the experiment.
    pub arm_index: usize,
    /// The user's arm.
    pub arm: &'c Arm,
    /// Position of the goal in the experiment's `goals` (its metrics are indexed so).
    pub slot: usize,
    /// The user carries the experiment's exposure mark: a first conversion counts a user.
    pub exposed: bool,
    /// The mark of this user's conversion on this goal in this experiment.
    pub conversion: Mark,
}

/// Whether `req` reaches any goal: the cheap test every request pays when goals exist.
pub fn reaches_any(config: &Config, req: &RequestView<'_>) -> bool {
    config.goals.iter().any(|g| g.matcher.matches(req))
}

/// Every arm `req` counts for, for every goal it reaches.
pub fn hits<'c>(config: &'c Config, req: &RequestView<'_>, marks: &Marks) -> Vec<GoalHit<'c>> {
    let mut out = Vec::new();
    for (goal_index, goal) in config.goals.iter().enumerate() {
        if !goal.matcher.matches(req) {
            continue;
        }
        for judged in &goal.judged_by {
            if let Some(hit) = attribute(config, goal_index, goal, judged, req, marks) {
                out.push(hit);
            }
        }
    }
    out
}

fn attribute<'c>(
    config: &'c Config,
    goal_index: usize,
    goal: &'c Goal,
    judged: &Judged,
    req: &RequestView<'_>,
    marks: &Marks,
) -> Option<GoalHit<'c>> {
    let service = config.services.get(judged.service)?;
    let experiment = service.experiments.get(judged.experiment)?;
    let exposed = marks.has(experiment.exposure);
    // Without the mark only a segment-free experiment may attribute: skip the hash otherwise.
    if !exposed && experiment.segment.is_some() {
        return None;
    }
    let (key, _) = user_key(&service.stickiness, req)?;
    let placed = experiment.place(&key);
    if !(exposed || placed.enrolled) {
        return None;
    }
    Some(GoalHit {
        goal_index,
        goal,
        service_index: judged.service,
        experiment_index: judged.experiment,
        experiment,
        arm_index: placed.arm,
        arm: experiment.arms.get(placed.arm)?,
        slot: experiment.goals.iter().position(|&g| g == goal_index)?,
        exposed,
        conversion: judged.conversion,
    })
}
