//! From counts to [`veer_stats`]'s input: the analysis of the proxies' goals and the events'
//! metrics, the likely causes of a broken split, and the lift at each earlier reading.

use std::collections::BTreeMap;

use veer_stats::{Analysis, Estimate, GoalData, Mode, Settings, ValueData};

use super::counts::ArmCounts;
use super::events::Joined;
use super::history::{LiftPoint, Reading};
use super::Options;
use crate::error::{CliError, Result};

/// What every analysis of one report shares.
pub(super) struct Stats<'a> {
    pub control: &'a str,
    pub primary_goal: Option<&'a str>,
    pub options: &'a Options,
    pub exposures_per_day: Option<f64>,
}

/// One metric's data per arm, in the arms' order.
struct Metric {
    name: String,
    data: Vec<GoalData>,
    /// Users with data per arm (converted users, users with a value).
    users: Vec<u64>,
}

impl Stats<'_> {
    /// The analysis of the proxies' goals and the events' metrics; metrics that cannot be
    /// analysed (more users with data than exposed users in an arm) are left out, with why.
    pub fn analyze(
        &self,
        arms: &[ArmCounts],
        events: Option<&Joined>,
    ) -> Result<(Analysis, Vec<String>)> {
        let mut metrics: Vec<Metric> = goal_metrics(arms);
        if let Some(j) = events {
            metrics.extend(event_metrics(j, arms.len(), &metrics));
        }
        let mut left_out = Vec::new();
        metrics.retain(|m| {
            let over: Vec<String> = arms
                .iter()
                .zip(&m.users)
                .filter(|(a, n)| **n > a.exposed_users)
                .map(|(a, n)| format!("{} has {n} against {} exposed", a.arm, a.exposed_users))
                .collect();
            if !over.is_empty() {
                left_out.push(format!(
                    "{}: more users reached it than were counted as exposed ({}); the counts do \
                     not cover the same users (a window that starts after the experiment did, \
                     or events of users the proxies never exposed)",
                    m.name,
                    over.join(", ")
                ));
            }
            over.is_empty()
        });
        Ok((self.run(arms, &metrics)?, left_out))
    }

    fn run(&self, arms: &[ArmCounts], metrics: &[Metric]) -> Result<Analysis> {
        let input = veer_stats::Experiment {
            control: self.control.to_owned(),
            arms: arms
                .iter()
                .enumerate()
                .map(|(i, a)| veer_stats::Arm {
                    name: a.arm.clone(),
                    share: f64::from(a.share_bp),
                    exposed: a.exposed_users,
                    goals: metrics
                        .iter()
                        .filter_map(|m| Some((m.name.clone(), m.data.get(i)?.clone())))
                        .collect(),
                })
                .collect(),
            goals: metrics
                .iter()
                .map(|m| veer_stats::Goal {
                    name: m.name.clone(),
                    primary: Some(m.name.as_str()) == self.primary_goal,
                    direction: veer_stats::Direction::HigherIsBetter,
                    minimum_effect: self
                        .options
                        .min_lift
                        .map(veer_stats::power::MinimumEffect::Relative),
                })
                .collect(),
            settings: Settings {
                mode: match self.options.fixed_horizon {
                    true => Mode::FixedHorizon,
                    false => Mode::AlwaysValid,
                },
                exposures_per_day: self.exposures_per_day,
                ..Settings::default()
            },
        };
        veer_stats::analyze(&input).map_err(|e| {
            CliError::failed(format!(
                "the statistics refused the counts: {e} (this is a bug in veerctl; please report it)"
            ))
        })
    }

    /// The primary goal's lift of each arm at each reading (readings without users, or without
    /// a primary goal, give none).
    pub fn lift_over_time(&self, readings: &[Reading]) -> Vec<LiftPoint> {
        let Some(goal) = self.primary_goal else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for r in readings {
            let arms: Vec<ArmCounts> = r
                .arms
                .iter()
                .map(|a| ArmCounts {
                    arm: a.arm.clone(),
                    variant: String::new(),
                    share_bp: 1,
                    exposed_users: a.exposed,
                    exposure_requests: 0,
                    goals: Vec::new(),
                    responses: None,
                })
                .collect();
            let metric = Metric {
                name: goal.to_owned(),
                data: r
                    .arms
                    .iter()
                    .map(|a| GoalData::Converted(a.converted.get(goal).copied().unwrap_or(0)))
                    .collect(),
                users: Vec::new(),
            };
            let Ok(analysis) = self.run(&arms, &[metric]) else {
                continue;
            };
            for c in &analysis.comparisons {
                let Estimate::Measured(e) = &c.effect else {
                    continue;
                };
                let Some(lift) = e.relative.measured() else {
                    continue;
                };
                let inference = match self.options.fixed_horizon {
                    true => &e.fixed_horizon,
                    false => &e.always_valid,
                };
                let interval = inference.relative_interval.measured();
                out.push(LiftPoint {
                    at: r.at,
                    arm: c.arm.clone(),
                    lift: *lift,
                    lower: interval.map(|i| i.lower),
                    upper: interval.map(|i| i.upper),
                });
            }
        }
        out
    }
}

/// The proxies' goals: converted users per arm.
fn goal_metrics(arms: &[ArmCounts]) -> Vec<Metric> {
    let names: Vec<String> = arms
        .first()
        .map(|a| a.goals.iter().map(|g| g.goal.clone()).collect())
        .unwrap_or_default();
    names
        .into_iter()
        .enumerate()
        .map(|(slot, name)| {
            let users: Vec<u64> = arms
                .iter()
                .map(|a| a.goals.get(slot).map_or(0, |g| g.converted_users))
                .collect();
            Metric {
                name,
                data: users.iter().map(|n| GoalData::Converted(*n)).collect(),
                users,
            }
        })
        .collect()
}

/// The events' metrics: a value per user (revenue) where any event carried a value, else the
/// users who sent the event. Named after the event (`NAME (events)` beside a goal of that name).
fn event_metrics(j: &Joined, arms: usize, goals: &[Metric]) -> Vec<Metric> {
    j.metrics
        .iter()
        .map(|(event, m)| {
            let empty = BTreeMap::new();
            let per_arm: Vec<&BTreeMap<String, f64>> = (0..arms)
                .map(|i| m.per_arm.get(&i).unwrap_or(&empty))
                .collect();
            let users: Vec<u64> = per_arm.iter().map(|u| u.len() as u64).collect();
            let data = per_arm
                .iter()
                .map(|u| match m.valued {
                    true => GoalData::Values(ValueData::PerUser(u.values().copied().collect())),
                    false => GoalData::Converted(u.len() as u64),
                })
                .collect();
            let name = match goals.iter().any(|g| g.name == *event) {
                true => format!("{event} (events)"),
                false => event.clone(),
            };
            Metric { name, data, users }
        })
        .collect()
}

/// Why the split may be off, from what the proxies counted: an arm with more users than its
/// share predicts, whose extra users made about one request each while the other arms' users
/// made several, is likely full of clients that drop cookies (each request a "new" user).
pub(super) fn likely_causes(arms: &[ArmCounts]) -> Vec<String> {
    let mut out = Vec::new();
    for a in arms.iter().filter(|a| a.exposed_users > 0) {
        let others = arms.iter().filter(|b| b.arm != a.arm);
        let (users, requests, shares) = others.fold((0u64, 0u64, 0f64), |(u, r, s), b| {
            (
                u + b.exposed_users,
                r + b.exposure_requests,
                s + f64::from(b.share_bp),
            )
        });
        if users == 0 || shares == 0.0 {
            continue;
        }
        let per_user = requests as f64 / users as f64;
        let expected = users as f64 * f64::from(a.share_bp) / shares;
        let extra_users = a.exposed_users as f64 - expected;
        let extra_requests = a.exposure_requests as f64 - expected * per_user;
        if extra_users > 5.0_f64.max(3.0 * expected.sqrt())
            && extra_requests / extra_users < 0.6 * per_user
        {
            out.push(format!(
                "arm {}: about {:.0} more exposed users than its share predicts, who made about \
                 {:.1} requests each against {per_user:.1} per user in the other arms: clients \
                 that do not keep cookies (bots, crawlers, privacy tools) are counted again on \
                 every request; look for them in the access log",
                a.arm,
                extra_users,
                (extra_requests / extra_users).max(0.0)
            ));
        }
    }
    out.extend([
        "something before the proxy (a CDN cache, a redirect) serves or drops one arm's pages"
            .to_owned(),
        "one arm's responses fail before reaching the client, so its users get no marks cookie \
         and are counted again"
            .to_owned(),
        "the arms or their weights changed while counting: restart the experiment with a new \
         salt to count afresh"
            .to_owned(),
    ]);
    out
}
