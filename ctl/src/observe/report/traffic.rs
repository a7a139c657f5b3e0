//! The current traffic: users newly exposed per day, which turns the power section's "users
//! still needed" into days. Measured from what the source has (the start `experiment start`
//! recorded on a standalone Envoy, Prometheus's history), or unknown with why: never guessed.

use std::time::Duration;

use serde::Serialize;

use super::history::Reading;

/// The shortest span a rate is taken over: within the first hour it is too noisy to plan days on.
pub const MIN_SPAN_SECONDS: f64 = 3600.0;

const DAY: f64 = 86_400.0;

/// Users newly exposed per day across all arms, or why that is not known.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "rate")]
pub enum Traffic {
    /// Measured over `from`..`to` (unix seconds).
    Measured {
        /// Users newly exposed per day.
        exposures_per_day: f64,
        /// Start of the span measured.
        from: f64,
        /// End of the span measured.
        to: f64,
        /// How, in words.
        how: String,
    },
    /// Not known.
    Unknown {
        /// Why, and what would tell it.
        why: String,
    },
}

impl Traffic {
    /// The rate, when measured.
    pub fn exposures_per_day(&self) -> Option<f64> {
        match self {
            Traffic::Measured {
                exposures_per_day, ..
            } => Some(*exposures_per_day),
            Traffic::Unknown { .. } => None,
        }
    }

    /// Unknown, because `why`.
    pub fn unknown(why: impl Into<String>) -> Traffic {
        Traffic::Unknown { why: why.into() }
    }
}

/// `exposed` users since the experiment's recorded start `started`, at `now`.
pub fn since_start(exposed: u64, started: f64, now: f64) -> Traffic {
    let span = now - started;
    if span < MIN_SPAN_SECONDS {
        return Traffic::unknown(format!(
            "the experiment started {} ago: a daily rate needs at least an hour of traffic",
            ago(span)
        ));
    }
    Traffic::Measured {
        exposures_per_day: exposed as f64 / span * DAY,
        from: started,
        to: now,
        how: format!(
            "{exposed} users exposed since the experiment started, {} ago",
            ago(span)
        ),
    }
}

/// From Prometheus's history of the counts (oldest first, a reading every `step`) and the
/// counts `now`: the users newly exposed from the first reading after the last one at zero (the
/// experiment, or every proxy, started after that one; from the first reading if none) to now.
/// A fall of the summed counters (a proxy restarted) adds nothing: its users of that step are
/// lost, so the rate is a little low, never high.
pub fn from_history(readings: &[Reading], now: &Reading, step: Duration) -> Traffic {
    let totals: Vec<(f64, u64)> = readings
        .iter()
        .chain([now])
        .map(|r| (r.at, r.arms.iter().map(|a| a.exposed).sum()))
        .collect();
    let start = totals
        .iter()
        .rposition(|(_, n)| *n == 0)
        .map_or(0, |i| i + 1);
    let span = &totals[start..];
    let every = humantime::format_duration(step);
    let (Some(first), Some(last)) = (span.first(), span.last()) else {
        return Traffic::unknown("no users are exposed now: no rate to plan days on");
    };
    if span.len() < 2 {
        return Traffic::unknown(format!(
            "Prometheus's history (a reading every {every}) has no reading of this experiment's \
             exposures before now: a daily rate needs at least an hour of them"
        ));
    }
    let seconds = last.0 - first.0;
    if seconds < MIN_SPAN_SECONDS {
        return Traffic::unknown(format!(
            "Prometheus's history (a reading every {every}) holds {} of this experiment's \
             exposures: a daily rate needs at least an hour",
            ago(seconds)
        ));
    }
    let added: u64 = span.windows(2).map(|w| w[1].1.saturating_sub(w[0].1)).sum();
    Traffic::Measured {
        exposures_per_day: added as f64 / seconds * DAY,
        from: first.0,
        to: last.0,
        how: format!(
            "{added} users newly exposed over the last {} of Prometheus's history (a reading \
             every {every}), summed over its proxies",
            ago(seconds)
        ),
    }
}

/// `seconds` for people, to the minute.
fn ago(seconds: f64) -> String {
    let minutes = (seconds.max(0.0) / 60.0).round() as u64;
    humantime::format_duration(Duration::from_secs(minutes * 60)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::report::history::ReadingArm;

    fn reading(at: f64, exposed: &[u64]) -> Reading {
        Reading {
            at,
            arms: exposed
                .iter()
                .enumerate()
                .map(|(i, n)| ReadingArm {
                    arm: format!("arm{i}"),
                    exposed: *n,
                    converted: Default::default(),
                })
                .collect(),
        }
    }

    const STEP: Duration = Duration::from_secs(1800);

    /// The rate runs from the first reading after the last one at zero (the experiment started
    /// between them) to now, over every arm.
    #[test]
    fn history_starts_where_the_experiment_did() {
        let r = [
            reading(0.0, &[0, 0]),
            reading(1800.0, &[0, 0]),
            reading(3600.0, &[30, 20]),
            reading(5400.0, &[60, 60]),
        ];
        let t = from_history(&r, &reading(10_800.0, &[100, 100]), STEP);
        assert_eq!(t.exposures_per_day(), Some(150.0 / 7200.0 * DAY), "{t:?}");
        assert!(
            matches!(t, Traffic::Measured { from, to, .. } if from == 3600.0 && to == 10_800.0)
        );
    }

    /// A fall of the summed counters (a proxy restarted) adds nothing; the rest still counts.
    #[test]
    fn a_restarted_proxy_lowers_the_rate_never_raises_it() {
        let r = [
            reading(0.0, &[100]),
            reading(3600.0, &[160]),
            reading(7200.0, &[40]),
        ];
        assert_eq!(
            from_history(&r, &reading(10_800.0, &[100]), STEP).exposures_per_day(),
            Some(120.0 / 10_800.0 * DAY)
        );
    }

    /// Less than an hour of history, or none before now, is no rate, with why.
    #[test]
    fn too_little_history_says_why() {
        let short = from_history(
            &[reading(0.0, &[0]), reading(1800.0, &[1])],
            &reading(3000.0, &[9]),
            STEP,
        );
        assert_eq!(
            short,
            Traffic::unknown(
                "Prometheus's history (a reading every 30m) holds 20m of this experiment's \
                 exposures: a daily rate needs at least an hour"
            )
        );
        let none = from_history(&[], &reading(3000.0, &[9]), STEP);
        assert!(
            matches!(&none, Traffic::Unknown { why } if why.contains("no reading of this experiment's exposures before now")),
            "{none:?}"
        );
    }

    #[test]
    fn since_start_needs_an_hour() {
        assert_eq!(
            since_start(500, 1000.0, 1000.0 + 2.0 * DAY).exposures_per_day(),
            Some(250.0)
        );
        assert!(since_start(500, 1000.0, 1000.0 + 600.0)
            .exposures_per_day()
            .is_none());
    }
}
