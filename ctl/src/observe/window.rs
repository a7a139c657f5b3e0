//! Counting over a window: what every proxy counted between two readings, or since a recorded
//! baseline. Pure: the host takes the readings (admin URLs or sidecars), this counts them, so
//! `status`, `canary run` and any command that reads counters by name or prefix share one rule
//! for restarts, proxies that came or went, and proxies that could not be read.

use std::collections::BTreeMap;

use crate::error::{CliError, Result};
use crate::observe::latency::Histogram;
use crate::observe::snapshot::{is_gauge, Snapshot};

/// Each proxy (admin URL or pod name) with its snapshot, or why it could not be read.
pub type Readings = Vec<(String, std::result::Result<Snapshot, String>)>;

/// Counter snapshots that a window counts from, per proxy (an absent proxy: since it started).
pub type Baselines = BTreeMap<String, Snapshot>;

/// What the proxies counted over a window: the latest reading of each, what it counts from, and
/// how the output names the window ("since the last verified change", "over the last 10s").
#[derive(Debug, Clone)]
pub struct Counted {
    /// The latest reading of each proxy.
    pub readings: Readings,
    /// What each proxy's figures are counted from.
    pub baselines: Baselines,
    /// The window, as the output says it.
    pub label: String,
}

impl Counted {
    /// A counter's increase over the window, summed over the proxies that answered (`rq.web.v2`).
    pub fn sum(&self, counter: &str) -> u64 {
        self.readable()
            .map(|s| {
                let base = self.baselines.get(&s.url).map_or(0, |b| b.get(counter));
                s.get(counter).saturating_sub(base)
            })
            .sum()
    }

    /// Every counter whose name starts with `prefix` (`rule.web.`, `exp.web.checkout.`), with
    /// its increase over the window summed over the proxies, by the rest of its name.
    pub fn by_prefix(&self, prefix: &str) -> BTreeMap<String, u64> {
        let mut names: Vec<&str> = self
            .readable()
            .flat_map(|s| s.veer.keys())
            .filter_map(|k| k.strip_prefix(prefix))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
            .into_iter()
            .map(|rest| (rest.to_owned(), self.sum(&format!("{prefix}{rest}"))))
            .collect()
    }

    /// A latency histogram's values recorded over the window (`exp_latency_us.web.e.a`, or a
    /// variant's `<service>.<variant>`), merged over the proxies that answered.
    pub fn histogram(&self, key: &str) -> Histogram {
        histogram_since(self.readable(), &self.baselines, key)
    }

    /// Whether any proxy could be read.
    pub fn any_readable(&self) -> bool {
        self.readable().next().is_some()
    }

    pub fn readable(&self) -> impl Iterator<Item = &Snapshot> {
        self.readings.iter().filter_map(|(_, s)| s.as_ref().ok())
    }
}

/// Histogram `key`'s values recorded by `live` proxies since their `baselines` (a proxy without
/// one: since it started), merged.
pub fn histogram_since<'a>(
    live: impl Iterator<Item = &'a Snapshot>,
    baselines: &Baselines,
    key: &str,
) -> Histogram {
    let empty = Histogram::default();
    let mut window = Histogram::default();
    for s in live {
        let now = s.latency.get(key).unwrap_or(&empty);
        let base = baselines
            .get(&s.url)
            .and_then(|b| b.latency.get(key))
            .unwrap_or(&empty);
        window.merge(&now.since(base));
    }
    window
}

/// Why no proxy could be read, one line each, when none could: a table of zeros would read as
/// "no traffic".
pub fn all_unreadable(
    readings: &[(String, std::result::Result<Snapshot, String>)],
) -> Option<String> {
    let errors: Vec<&str> = readings
        .iter()
        .map(|(_, s)| s.as_ref().err().map(String::as_str))
        .collect::<Option<_>>()?;
    Some(errors.join("\n"))
}

/// A window that is open: the first reading of each proxy, taken when it opened.
#[derive(Debug, Clone)]
pub struct Window {
    first: Readings,
}

impl Window {
    /// Opens a window on `first`; no proxy readable is an error that names each one's reason.
    pub fn open(first: Readings) -> Result<Window> {
        if let Some(errors) = all_unreadable(&first) {
            return Err(CliError::failed(errors));
        }
        Ok(Window { first })
    }

    /// The first readings alone, counted since each proxy started (a window of zero).
    pub fn since_start(self, label: &str) -> Counted {
        Counted {
            readings: self.first,
            baselines: Baselines::new(),
            label: label.to_owned(),
        }
    }

    /// What came between the first readings and `second`, and the window that starts where this
    /// one ends.
    pub fn advance(self, second: Readings, label: &str) -> Result<(Counted, Window)> {
        let next = Window {
            first: second.clone(),
        };
        let (readings, baselines) = over_window(self.first, second);
        if let Some(errors) = all_unreadable(&readings) {
            return Err(CliError::failed(errors));
        }
        let counted = Counted {
            readings,
            baselines,
            label: label.to_owned(),
        };
        Ok((counted, next))
    }
}

/// The second reading of each proxy counted from its first: the readings and baselines of a
/// [`Counted`]. A proxy whose first reading failed has no baseline, so it is shown as unreadable
/// rather than counted since it started. One whose counters went down restarted in between: it is
/// counted since then, all of which lies in the window. One that was not there at the first
/// reading (a pod that came up since) is left out: most of what it counted may lie before the
/// window.
pub fn over_window(first: Readings, second: Readings) -> (Readings, Baselines) {
    let second: Readings = second
        .into_iter()
        .filter(|(pod, _)| first.iter().any(|(p, _)| p == pod))
        .collect();
    let mut baselines = Baselines::new();
    let mut failed = BTreeMap::new();
    for (pod, reading) in first {
        match reading {
            Ok(s) => {
                baselines.insert(pod, s);
            }
            Err(e) => {
                failed.insert(pod, e);
            }
        }
    }
    for (pod, reading) in &second {
        if let Ok(now) = reading {
            let restarted = baselines
                .get(pod)
                .is_some_and(|b| b.veer.iter().any(|(k, v)| !is_gauge(k) && now.get(k) < *v));
            if restarted {
                baselines.remove(pod);
            }
        }
    }
    let snapshots = second
        .into_iter()
        .map(|(pod, reading)| match failed.remove(&pod) {
            Some(e) => (
                pod,
                Err(format!(
                    "its first reading failed, so nothing is counted: {e}"
                )),
            ),
            None => (pod, reading),
        })
        .collect();
    (snapshots, baselines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(
        url: &str,
        counters: &[(&str, u64)],
    ) -> (String, std::result::Result<Snapshot, String>) {
        let mut s = Snapshot {
            url: url.to_owned(),
            ..Snapshot::default()
        };
        for (k, v) in counters {
            s.veer.insert((*k).to_owned(), *v);
        }
        (url.to_owned(), Ok(s))
    }

    /// A prefix read sums each counter's increase over the proxies, by the rest of its name, and
    /// a proxy that could not be read adds nothing.
    #[test]
    fn counters_by_prefix_are_summed_over_the_window_and_the_proxies() {
        let first = vec![
            reading("a", &[("rule.web.beta", 10), ("rule.web.de", 1)]),
            reading("b", &[("rule.web.beta", 5)]),
        ];
        let second = vec![
            reading(
                "a",
                &[("rule.web.beta", 30), ("rule.web.de", 4), ("rq.web.v1", 9)],
            ),
            reading("b", &[("rule.web.beta", 6), ("rule.web.new", 2)]),
            ("c".to_owned(), Err("unreachable".to_owned())),
        ];
        let (counted, _) = Window::open(first).unwrap().advance(second, "w").unwrap();
        let by_rule: Vec<(String, u64)> = counted.by_prefix("rule.web.").into_iter().collect();
        assert_eq!(
            by_rule,
            [("beta".into(), 21), ("de".into(), 3), ("new".into(), 2)]
        );
        assert_eq!(counted.sum("rq.web.v1"), 9);
        assert!(counted.any_readable());
    }
}
