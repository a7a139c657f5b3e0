//! What is counted per experiment arm, as veerctl names it: the arm's metrics of
//! [`crate::metrics`] (their names, Prometheus families and labels are defined there, once), by
//! veerctl's short keys (`exp_users.web.checkout.control`, [`crate::metrics::Stat::key`]), which
//! the report and its tests read.
//!
//! Per arm of an experiment `<e>` of service `<s>`:
//! - `exp.<s>.<e>.<arm>`: requests the experiment assigned to the arm (exposure requests);
//! - `exp_users.<s>.<e>.<arm>`: users exposed for the first time (their marks cookie lacked the
//!   experiment's exposure mark); only for experiments judged on goals;
//! - `goal_rq.<s>.<e>.<arm>.<goal>`: goal requests attributed to the arm whose response fits the
//!   goal's status class;
//! - `goal_users.<s>.<e>.<arm>.<goal>`: exposed users who reached the goal for the first time;
//! - `exp_rs.<s>.<e>.<arm>.<1xx..5xx>` and `exp_latency_us.<s>.<e>.<arm>` (histogram): responses
//!   and latency per arm, only when two arms share a variant (the variant's own response metrics
//!   cannot tell them apart) and response metrics are on.

use crate::config::StatusClass;
use crate::metrics::Stat;

/// One thing counted per experiment arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArmStat<'a> {
    /// Requests the experiment assigned to the arm.
    Requests,
    /// Users exposed for the first time.
    Users,
    /// Goal requests attributed to the arm (status class fitting the goal's).
    GoalRequests(&'a str),
    /// Exposed users who reached the goal for the first time.
    GoalUsers(&'a str),
    /// Responses of one status class.
    Responses(StatusClass),
    /// Latency histogram, request headers to response headers, in microseconds.
    Latency,
}

/// An experiment arm, as its metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArmKey<'a> {
    /// Service name.
    pub service: &'a str,
    /// Experiment id.
    pub experiment: &'a str,
    /// Arm name.
    pub arm: &'a str,
}

impl<'a> ArmKey<'a> {
    /// The metric of `stat` for this arm.
    pub fn stat(&self, stat: ArmStat<'a>) -> Stat<'a> {
        let (s, e, a) = (self.service, self.experiment, self.arm);
        match stat {
            ArmStat::Requests => Stat::experiment_requests(s, e, a),
            ArmStat::Users => Stat::experiment_users(s, e, a),
            ArmStat::GoalRequests(g) => Stat::goal_requests(s, e, a, g),
            ArmStat::GoalUsers(g) => Stat::goal_users(s, e, a, g),
            ArmStat::Responses(c) => Stat::arm_responses(s, e, a, c),
            ArmStat::Latency => Stat::arm_latency(s, e, a),
        }
    }

    /// veerctl's key of `stat` for this arm (`exp_users.web.checkout.control`).
    pub fn name(&self, stat: ArmStat<'a>) -> String {
        self.stat(stat).key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names veerctl, Prometheus queries and the README use.
    #[test]
    fn names() {
        let k = ArmKey {
            service: "web",
            experiment: "checkout",
            arm: "one-click",
        };
        let two = StatusClass::of(b"204");
        let got: Vec<String> = [
            ArmStat::Requests,
            ArmStat::Users,
            ArmStat::GoalRequests("purchase"),
            ArmStat::GoalUsers("purchase"),
            ArmStat::Responses(two),
            ArmStat::Latency,
        ]
        .into_iter()
        .map(|s| k.name(s))
        .collect();
        assert_eq!(
            got,
            [
                "exp.web.checkout.one-click",
                "exp_users.web.checkout.one-click",
                "goal_rq.web.checkout.one-click.purchase",
                "goal_users.web.checkout.one-click.purchase",
                "exp_rs.web.checkout.one-click.2xx",
                "exp_latency_us.web.checkout.one-click",
            ]
        );
    }
}
