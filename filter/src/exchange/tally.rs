//! Where the exchange counts: every counter of a config has a slot ([`Layout`]), a request names
//! the slots it moves, and an adapter either adds them to its host's counters at once or adds
//! them up in memory ([`Tally`]) and publishes the sums on a timer ("a flush").
//!
//! Exactness for readers of a tally's host: a counting context (in proxy-wasm, a root context,
//! one per VM and plugin config) raises the shared `counts_pending` gauge at its first count
//! after a flush ([`Pending::take_due`]), before the request that counted goes on, and lowers it
//! after the flush has added every sum to the host's counters. So a reader that reads
//! `counts_pending` at 0, and then the counters, finds every count of every request answered
//! before that read: the count was made before the response left, the gauge was up from then
//! until the count was in the counters. See [`crate::metrics::COUNTS_PENDING`].
//!
//! Single-threaded (`Cell`s): a proxy-wasm VM runs on one thread. A native host shares its
//! filter config across threads and would keep one tally per thread, or count directly.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use crate::config::{Arm, Config, Experiment, StatusClass};
use crate::metrics::{self, Family, Stat};

/// How often an adapter that tallies publishes: short, so that a reader waits little for a
/// complete reading (`counts_pending` at 0) and a reading under traffic trails by little; long
/// enough that flushing costs nothing per request (a handful of hostcalls per period, whatever
/// the traffic).
pub const FLUSH_PERIOD: Duration = Duration::from_millis(250);

/// A counter's place in a [`Layout`] (and a [`Tally`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot(pub usize);

/// A histogram's place in [`Layout::histograms`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistogramIndex(pub usize);

/// Counters that exist whatever the config, at the same slot in every [`Layout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Global {
    /// [`metrics::PASSTHROUGH`].
    Passthrough,
    /// [`metrics::SPOOFED_HEADERS`].
    SpoofedHeaders,
    /// [`metrics::OVERRIDE_ACCEPTED`].
    OverrideAccepted,
    /// [`metrics::OVERRIDE_REJECTED`].
    OverrideRejected,
    /// [`metrics::COOKIES_ASSIGNED`].
    CookiesAssigned,
}

impl Global {
    const ALL: [Global; 5] = [
        Global::Passthrough,
        Global::SpoofedHeaders,
        Global::OverrideAccepted,
        Global::OverrideRejected,
        Global::CookiesAssigned,
    ];

    fn family(self) -> &'static Family {
        match self {
            Global::Passthrough => &metrics::PASSTHROUGH,
            Global::SpoofedHeaders => &metrics::SPOOFED_HEADERS,
            Global::OverrideAccepted => &metrics::OVERRIDE_ACCEPTED,
            Global::OverrideRejected => &metrics::OVERRIDE_REJECTED,
            Global::CookiesAssigned => &metrics::COOKIES_ASSIGNED,
        }
    }

    /// Its slot.
    pub fn slot(self) -> Slot {
        Slot(self as usize)
    }
}

/// The counters of one variant.
#[derive(Debug, Clone, Copy)]
pub struct VariantSlots {
    /// [`metrics::REQUESTS`].
    pub requests: Slot,
    /// [`metrics::SPLIT_REQUESTS`].
    pub split: Slot,
    /// What the response phase records; `None` when the config leaves that to Envoy.
    pub responses: Option<ResponseSlots>,
}

/// The counters of one experiment arm.
#[derive(Debug, Clone, Copy)]
pub struct ArmSlots {
    /// [`metrics::EXPERIMENT_REQUESTS`].
    pub requests: Slot,
    /// [`metrics::EXPERIMENT_USERS`]: only for experiments judged on goals.
    pub users: Option<Slot>,
    /// [`metrics::GOAL_REQUESTS`] and [`metrics::GOAL_USERS`] of each of the experiment's goals.
    pub goals: GoalSlots,
    /// [`metrics::ARM_RESPONSES`] and [`metrics::ARM_LATENCY`]: only when arms share a variant
    /// (whose own response metrics cannot tell them apart) and response metrics are on.
    pub responses: Option<ResponseSlots>,
}

/// The goal counters of an arm: for the experiment's n-th goal, its goal requests then its
/// converted users.
#[derive(Debug, Clone, Copy)]
pub struct GoalSlots {
    first: Slot,
    len: usize,
}

impl GoalSlots {
    /// (goal requests, converted users) of the experiment's goal at position `goal`.
    pub fn goal(&self, goal: usize) -> Option<(Slot, Slot)> {
        let first = self.first.0 + 2 * goal;
        (goal < self.len).then_some((Slot(first), Slot(first + 1)))
    }
}

/// Where the response phase records one variant's (or arm's) responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseSlots {
    /// 1xx; the other classes follow.
    first_class: Slot,
    /// The latency histogram.
    pub latency: HistogramIndex,
}

impl ResponseSlots {
    /// The counter of `class`.
    pub fn class(&self, class: StatusClass) -> Slot {
        Slot(self.first_class.0 + class.index())
    }
}

/// Every counter and histogram of one config, by slot: the names an adapter defines on its host
/// (in slot order) and where the request path counts.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Counter names (as the filter defines them), by slot.
    pub counters: Vec<String>,
    /// Histogram names, by [`HistogramIndex`].
    pub histograms: Vec<String>,
    variants: Vec<Vec<VariantSlots>>,
    rules: Vec<Vec<Slot>>,
    arms: Vec<Vec<Vec<ArmSlots>>>,
}

impl Layout {
    /// The layout of `config`'s metrics.
    pub fn new(config: &Config) -> Layout {
        let mut l = Layout {
            counters: Global::ALL
                .map(|g| Stat::global(g.family()).name())
                .to_vec(),
            histograms: Vec::new(),
            variants: Vec::new(),
            rules: Vec::new(),
            arms: Vec::new(),
        };
        for s in &config.services {
            let service = s.name.as_str();
            let variants = s.variants.iter().map(|v| {
                let variant = v.name.as_str();
                VariantSlots {
                    requests: l.push(Stat::requests(service, variant)),
                    split: l.push(Stat::split_requests(service, variant)),
                    responses: config
                        .response_metrics
                        .then(|| l.push_responses(service, variant)),
                }
            });
            let variants = variants.collect();
            l.variants.push(variants);
            let rules = s
                .rules
                .iter()
                .map(|r| l.push(Stat::rule_requests(service, r.name.as_str())));
            let rules = rules.collect();
            l.rules.push(rules);
            let mut arms = Vec::with_capacity(s.experiments.len());
            for e in &s.experiments {
                let slots = e.arms.iter().map(|a| l.push_arm(config, service, e, a));
                arms.push(slots.collect());
            }
            l.arms.push(arms);
        }
        l
    }

    fn push(&mut self, stat: Stat<'_>) -> Slot {
        self.counters.push(stat.name());
        Slot(self.counters.len() - 1)
    }

    fn push_responses(&mut self, service: &str, variant: &str) -> ResponseSlots {
        self.push_classes(
            |class| Stat::responses(service, variant, class),
            Stat::latency(service, variant),
        )
    }

    /// Five counters, one per status class in order, and a latency histogram.
    fn push_classes<'n>(
        &mut self,
        class: impl Fn(StatusClass) -> Stat<'n>,
        latency: Stat<'_>,
    ) -> ResponseSlots {
        let first_class = Slot(self.counters.len());
        for c in StatusClass::ALL {
            self.push(class(c));
        }
        self.histograms.push(latency.name());
        ResponseSlots {
            first_class,
            latency: HistogramIndex(self.histograms.len() - 1),
        }
    }

    fn push_arm(&mut self, config: &Config, service: &str, e: &Experiment, a: &Arm) -> ArmSlots {
        let (experiment, arm) = (e.id.as_str(), a.name.as_str());
        let requests = self.push(Stat::experiment_requests(service, experiment, arm));
        let users = e
            .measured()
            .then(|| self.push(Stat::experiment_users(service, experiment, arm)));
        let first = Slot(self.counters.len());
        let goals = e
            .goals
            .iter()
            .filter_map(|&g| config.goals.get(g).map(|g| g.name.as_str()));
        let mut len = 0;
        for goal in goals {
            self.push(Stat::goal_requests(service, experiment, arm, goal));
            self.push(Stat::goal_users(service, experiment, arm, goal));
            len += 1;
        }
        let responses = (config.response_metrics && e.arms_share_variant()).then(|| {
            self.push_classes(
                |class| Stat::arm_responses(service, experiment, arm, class),
                Stat::arm_latency(service, experiment, arm),
            )
        });
        ArmSlots {
            requests,
            users,
            goals: GoalSlots { first, len },
            responses,
        }
    }

    /// The counters of a variant.
    pub fn variant(&self, service: usize, variant: usize) -> Option<&VariantSlots> {
        self.variants.get(service)?.get(variant)
    }

    /// The counter of a rule.
    pub fn rule(&self, service: usize, rule: usize) -> Option<Slot> {
        self.rules.get(service)?.get(rule).copied()
    }

    /// The counters of an experiment arm.
    pub fn arm(&self, service: usize, experiment: usize, arm: usize) -> Option<&ArmSlots> {
        self.arms.get(service)?.get(experiment)?.get(arm)
    }
}

/// Whether a counting context holds counts it has not published, shared by each of its tallies
/// (after a config update, requests still in flight count into the old one).
#[derive(Debug, Default)]
pub struct Pending(Cell<PendingState>);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum PendingState {
    /// Every count is published.
    #[default]
    Clean,
    /// A count is held and the host's gauge is not raised yet.
    Due,
    /// A count is held and the host's gauge is raised.
    Raised,
}

impl Pending {
    fn hold(&self) {
        if self.0.get() == PendingState::Clean {
            self.0.set(PendingState::Due);
        }
    }

    /// `true` once after the first count since a flush: the adapter raises the host's
    /// `counts_pending` gauge now, before the request that counted goes on.
    pub fn take_due(&self) -> bool {
        let due = self.0.get() == PendingState::Due;
        if due {
            self.0.set(PendingState::Raised);
        }
        due
    }

    /// After a flush published every tally: `true` when the gauge had been raised (the adapter
    /// lowers it now, after the counters).
    pub fn lower(&self) -> bool {
        self.0.replace(PendingState::Clean) == PendingState::Raised
    }
}

/// Counts since the last flush, by slot.
#[derive(Debug)]
pub struct Tally {
    counts: Box<[Cell<u64>]>,
    pending: Rc<Pending>,
}

impl Tally {
    /// A tally for `layout`, reporting to its counting context's `pending`.
    pub fn new(layout: &Layout, pending: Rc<Pending>) -> Tally {
        Tally {
            counts: layout.counters.iter().map(|_| Cell::new(0)).collect(),
            pending,
        }
    }

    /// Counts one in `slot` (a slot from another layout is ignored).
    pub fn count(&self, slot: Slot) {
        if let Some(c) = self.counts.get(slot.0) {
            c.set(c.get().saturating_add(1));
            self.pending.hold();
        }
    }

    /// What accumulated since the last take, as (slot, count), zeroing it. The adapter adds each
    /// to its host's counter, then lowers the pending gauge ([`Pending::lower`]).
    pub fn take(&self) -> impl Iterator<Item = (Slot, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((Slot(i), c.take())).filter(|(_, n)| *n > 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_json(
            r#"{"services": [{"name": "web", "variants": [{"name": "v1", "cluster": "c1"},
                {"name": "v2", "cluster": "c2"}], "split": {"v1": 5000, "v2": 5000},
                "rules": [{"name": "beta", "match": {"header": "x-beta", "present": true}, "variant": "v2"}],
                "experiments": [{"id": "e", "arms": [{"name": "a", "variant": "v1", "weight": 5000},
                {"name": "b", "variant": "v2", "weight": 5000}]}]}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn the_layout_names_every_counter_once_in_slot_order() {
        let l = Layout::new(&config());
        let mut sorted = l.counters.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), l.counters.len());
        let v2 = l.variant(0, 1).unwrap();
        let name = |s: Slot| l.counters[s.0].as_str();
        assert_eq!(name(v2.requests), Stat::requests("web", "v2").name());
        assert_eq!(name(v2.split), Stat::split_requests("web", "v2").name());
        let r = v2.responses.unwrap();
        let class = StatusClass::SERVER_ERROR;
        assert_eq!(
            name(r.class(class)),
            Stat::responses("web", "v2", class).name()
        );
        assert_eq!(l.histograms[r.latency.0], Stat::latency("web", "v2").name());
        assert_eq!(
            name(l.rule(0, 0).unwrap()),
            Stat::rule_requests("web", "beta").name()
        );
        assert_eq!(
            name(l.arm(0, 0, 1).unwrap().requests),
            Stat::experiment_requests("web", "e", "b").name()
        );
        assert_eq!(
            name(Global::CookiesAssigned.slot()),
            Stat::global(&metrics::COOKIES_ASSIGNED).name()
        );
        assert!(l.variant(1, 0).is_none() && l.arm(0, 1, 0).is_none());
    }

    #[test]
    fn without_response_metrics_there_are_no_response_counters() {
        let mut c = config();
        c.response_metrics = false;
        let l = Layout::new(&c);
        assert!(l.variant(0, 0).unwrap().responses.is_none());
        assert!(l.histograms.is_empty());
        let responses = Stat::responses("web", "v1", StatusClass::SERVER_ERROR).name();
        assert!(!l.counters.contains(&responses));
    }

    #[test]
    fn a_take_returns_and_clears_the_counts_and_pending_is_due_once_per_flush() {
        let l = Layout::new(&config());
        let pending = Rc::new(Pending::default());
        let t = Tally::new(&l, pending.clone());
        assert!(!pending.take_due(), "nothing counted");
        let v1 = l.variant(0, 0).unwrap().requests;
        t.count(v1);
        t.count(v1);
        assert!(pending.take_due(), "the first count makes the raise due");
        assert!(!pending.take_due(), "once");
        // A second tally of the same context (a config update) shares the state.
        let t2 = Tally::new(&l, pending.clone());
        t2.count(Global::Passthrough.slot());
        assert!(!pending.take_due());
        t.count(Slot(10_000));
        assert_eq!(
            t.take().collect::<Vec<_>>(),
            [(v1, 2)],
            "a foreign slot is ignored"
        );
        assert_eq!(t.take().count(), 0);
        assert_eq!(t2.take().collect::<Vec<_>>(), [(Slot(0), 1)]);
        assert!(pending.lower(), "raised: the adapter lowers the gauge");
        assert!(!pending.lower());
        t.count(v1);
        assert!(
            pending.take_due(),
            "after a flush the next count is due again"
        );
    }
}
