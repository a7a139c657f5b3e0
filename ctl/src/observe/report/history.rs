//! The report over time: readings of the counts (recorded by veerctl at each report run on a
//! standalone Envoy, or Prometheus's history), and the primary goal's cumulative lift at each.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::counts::ArmCounts;

/// The most readings a standalone Envoy's run state keeps; beyond it every other old one goes,
/// so the history still spans the whole experiment.
pub const MAX_READINGS: usize = 400;

/// The counts at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// Unix seconds.
    pub at: f64,
    /// Per arm.
    pub arms: Vec<ReadingArm>,
}

/// One arm's counts in a [`Reading`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadingArm {
    /// Arm name.
    pub arm: String,
    /// Users exposed.
    pub exposed: u64,
    /// Converted users per goal.
    pub converted: BTreeMap<String, u64>,
}

impl Reading {
    /// The reading of `arms` at `at`.
    pub fn of(at: f64, arms: &[ArmCounts]) -> Reading {
        Reading {
            at,
            arms: arms
                .iter()
                .map(|a| ReadingArm {
                    arm: a.arm.clone(),
                    exposed: a.exposed_users,
                    converted: a
                        .goals
                        .iter()
                        .map(|g| (g.goal.clone(), g.converted_users))
                        .collect(),
                })
                .collect(),
        }
    }
}

/// Adds `reading` to `readings`, thinning the older half (its first reading kept) when over
/// [`MAX_READINGS`].
pub fn append(readings: &mut Vec<Reading>, reading: Reading) {
    readings.push(reading);
    if readings.len() > MAX_READINGS {
        let half = readings.len() / 2;
        let mut i = 0;
        readings.retain(|_| {
            i += 1;
            i == 1 || i > half || i % 2 == 0
        });
    }
}

/// One arm's cumulative lift on the primary goal at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiftPoint {
    /// Unix seconds.
    pub at: f64,
    /// Arm name.
    pub arm: String,
    /// Relative difference against the control (0.1 = +10 %).
    pub lift: f64,
    /// Its always-valid interval, when computable.
    pub lower: Option<f64>,
    /// Upper bound.
    pub upper: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The history stays bounded and keeps its first and last readings.
    #[test]
    fn readings_are_thinned_not_truncated() {
        let mut r = Vec::new();
        for i in 0..(3 * MAX_READINGS) {
            append(
                &mut r,
                Reading {
                    at: i as f64,
                    arms: Vec::new(),
                },
            );
        }
        assert!(r.len() <= MAX_READINGS);
        assert_eq!(r.last().map(|x| x.at), Some((3 * MAX_READINGS - 1) as f64));
        assert!(r.first().is_some_and(|x| x.at < 10.0), "{:?}", r.first());
        assert!(r.windows(2).all(|w| w[0].at < w[1].at));
    }
}
