//! Veer's metrics in Envoy's stats: the names of [`veer_filter::metrics`], as the wasm filter
//! defines them, so that `veerctl status`, the reports and Prometheus read either build.
//!
//! Envoy puts a dynamic module's metrics under its metrics namespace, by default
//! `dynamicmodulescustom.` (`dynamicmodulescustom.veer.requests_total.web.v1` in `/stats`),
//! where the wasm filter's are under `wasmcustom.`; the bootstrap's `stats_tags` take either
//! prefix. One counter is native only: `veer.panics_total`, requests whose hook panicked (caught
//! at the FFI boundary; the wasm filter's VM would have crashed instead).
//!
//! Metrics are defined when a config is created (Envoy allows it only then), in the engine's
//! [`Layout`] order, and looked up by slot on the request path. A dynamic module's counters are
//! per-thread in Envoy already, so the module adds to them directly: no tally, and its
//! `counts_pending` gauge is defined (readers and dashboards find it in either build) and stays
//! at 0, which is the truth: nothing is ever held back.

use veer_filter::exchange::tally::{HistogramIndex, Layout, Slot};
use veer_filter::metrics::{self, Family, Kind, Stat};

use crate::abi::MetricKind;

/// A metric id; `None` when Envoy refused to define it (counting is then skipped, routing is not
/// affected).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metric(pub Option<usize>);

/// Defines one metric by kind and full name (`veer.requests_total.web.v1`).
pub type Define<'a> = &'a mut dyn FnMut(MetricKind, &str) -> Option<usize>;

fn define_as(define: Define<'_>, kind: Kind, name: &str) -> Metric {
    let kind = match kind {
        Kind::Counter => MetricKind::Counter,
        Kind::Gauge => MetricKind::Gauge,
        Kind::Histogram => MetricKind::Histogram,
    };
    Metric(define(kind, name))
}

fn global(define: Define<'_>, family: &'static Family) -> Metric {
    define_as(define, family.kind, &Stat::global(family).name())
}

/// Metrics the config hook writes, whatever the config, and the panic counter.
#[derive(Debug, Clone, Copy)]
pub struct Globals {
    pub version: Metric,
    pub digest: Metric,
    pub accepted: Metric,
    pub rejected: Metric,
    pub panic: Metric,
    /// Always 0 (see the module's doc).
    pub pending: Metric,
}

impl Globals {
    pub fn define(define: Define<'_>) -> Globals {
        Globals {
            version: global(define, &metrics::CONFIG_VERSION),
            digest: global(define, &metrics::CONFIG_DIGEST),
            accepted: global(define, &metrics::CONFIG_ACCEPTED),
            rejected: global(define, &metrics::CONFIG_REJECTED),
            panic: global(define, &metrics::PANICS),
            pending: global(define, &metrics::COUNTS_PENDING),
        }
    }
}

/// Every metric of one config: the globals, and Envoy's ids for the [`Layout`]'s slots.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub globals: Globals,
    counters: Vec<Metric>,
    histograms: Vec<Metric>,
}

impl Metrics {
    pub fn define(layout: &Layout, globals: Globals, define: Define<'_>) -> Metrics {
        let mut all = |kind, names: &[String]| -> Vec<Metric> {
            names.iter().map(|n| define_as(define, kind, n)).collect()
        };
        Metrics {
            globals,
            counters: all(Kind::Counter, &layout.counters),
            histograms: all(Kind::Histogram, &layout.histograms),
        }
    }

    /// The counter at `slot` (none: not defined).
    pub fn counter(&self, slot: Slot) -> Metric {
        self.counters.get(slot.0).copied().unwrap_or_default()
    }

    /// The histogram at `index`.
    pub fn histogram(&self, index: HistogramIndex) -> Metric {
        self.histograms.get(index.0).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use veer_filter::exchange::Generation;
    use veer_filter::Config;

    use super::*;

    /// The names the wasm filter defines for this config (`veer_filter::metrics`), which
    /// `veerctl status` and the reports read.
    #[test]
    fn names_are_the_wasm_filters() {
        let config = Config::from_json(
            r#"{"version": 3, "services": [{"name": "web",
                "variants": [{"name": "v1", "cluster": "c1"}, {"name": "v2", "cluster": "c2"}],
                "split": {"v1": 5000, "v2": 5000},
                "rules": [{"name": "beta", "match": {"header": "x-beta", "present": true}, "variant": "v2"}],
                "experiments": [{"id": "checkout", "arms": [
                    {"name": "a", "variant": "v1", "weight": 5000},
                    {"name": "b", "variant": "v2", "weight": 5000}]}]}]}"#,
        )
        .unwrap();
        let generation = Generation::new(config);
        let mut names = Vec::new();
        let mut define = |kind: MetricKind, name: &str| {
            names.push((kind, name.to_owned()));
            Some(names.len())
        };
        let globals = Globals::define(&mut define);
        let m = Metrics::define(&generation.layout, globals, &mut define);
        let has = |kind, name: &str| names.contains(&(kind, name.to_owned()));
        for (kind, name) in [
            (MetricKind::Gauge, "veer.config_version"),
            (MetricKind::Counter, "veer.config_accepted_total"),
            (MetricKind::Counter, "veer.panics_total"),
            (MetricKind::Counter, "veer.spoofed_headers_removed_total"),
            (MetricKind::Counter, "veer.requests_total.web.v2"),
            (MetricKind::Counter, "veer.split_requests_total.web.v1"),
            (MetricKind::Counter, "veer.responses_total.web.v2.5xx"),
            (
                MetricKind::Histogram,
                "veer.response_latency_microseconds.web.v1",
            ),
            (MetricKind::Counter, "veer.rule_requests_total.web.beta"),
            (
                MetricKind::Counter,
                "veer.experiment_requests_total.web.checkout.b",
            ),
        ] {
            assert!(has(kind, name), "{name} ({kind:?}) not defined: {names:?}");
        }
        let last = generation.layout.counters.len() - 1;
        assert_eq!(
            generation.layout.counters[last],
            "veer.experiment_requests_total.web.checkout.b"
        );
        // Ids: the 6 globals, then the counters in slot order, then the 2 histograms.
        assert_eq!(m.counter(Slot(last)), Metric(Some(6 + last + 1)));
        assert_eq!(names.len(), 6 + last + 1 + 2);
        assert_eq!(m.counter(Slot(last + 1)), Metric(None));
    }
}
