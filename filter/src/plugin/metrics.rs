//! Veer's metrics on the host: defined once per config update from the engine's
//! [`Layout`] (names in [`crate::metrics`]), added to in bulk on each flush, never per request.

use proxy_wasm::hostcalls::{define_metric, increment_metric, record_metric};
use proxy_wasm::types::MetricType;

use crate::exchange::tally::{HistogramIndex, Layout, Pending, Tally};
use crate::metrics::{self, Family, Kind, Stat};

/// A metric id; `None` when the host refused to define it (counting is then skipped, routing is
/// not affected).
#[derive(Debug, Clone, Copy, Default)]
struct Metric(Option<u32>);

impl Metric {
    fn define(kind: Kind, name: &str) -> Metric {
        let kind = match kind {
            Kind::Counter => MetricType::Counter,
            Kind::Gauge => MetricType::Gauge,
            Kind::Histogram => MetricType::Histogram,
        };
        match define_metric(kind, name) {
            Ok(id) => Metric(Some(id)),
            Err(e) => {
                log::warn!("veer: cannot define metric {name}: {e:?}");
                Metric(None)
            }
        }
    }

    fn global(family: &'static Family) -> Metric {
        Metric::define(family.kind, &Stat::global(family).name())
    }

    fn add(self, n: i64) {
        if let Some(id) = self.0 {
            let _ = increment_metric(id, n);
        }
    }

    /// Sets a gauge, or records a histogram value.
    fn record(self, value: u64) {
        if let Some(id) = self.0 {
            let _ = record_metric(id, value);
        }
    }
}

/// Metrics the root context writes directly, whatever the config.
#[derive(Debug, Clone, Copy)]
pub(super) struct Globals {
    version: Metric,
    digest: Metric,
    accepted: Metric,
    rejected: Metric,
    pending: Metric,
}

impl Globals {
    pub(super) fn define() -> Globals {
        Globals {
            version: Metric::global(&metrics::CONFIG_VERSION),
            digest: Metric::global(&metrics::CONFIG_DIGEST),
            accepted: Metric::global(&metrics::CONFIG_ACCEPTED),
            rejected: Metric::global(&metrics::CONFIG_REJECTED),
            pending: Metric::global(&metrics::COUNTS_PENDING),
        }
    }

    /// Records that the config of `version`, whose text has `digest`
    /// ([`crate::config::digest`]), is now live. The digest is set before the version: whoever
    /// reads the new version reads its digest too. Version 0 is the bootstrap's fallback
    /// (`default_config` in deploy/envoy/envoy.yaml), not a config anyone delivered: it is not
    /// counted as accepted, so that the counter moves by the same amount at every update.
    pub(super) fn configured(&self, version: u64, digest: u64) {
        if version > 0 {
            self.accepted.add(1);
        }
        // proxy-wasm has no "set gauge": record_metric on a gauge sets it. Envoy gauges are i64.
        self.digest.record(digest);
        self.version.record(version.min(i64::MAX as u64));
    }

    pub(super) fn rejected(&self) {
        self.rejected.add(1);
    }

    /// This root context holds counts not yet published (the gauge sums over all of them).
    pub(super) fn raise_pending(&self) {
        self.pending.add(1);
    }

    fn lower_pending(&self) {
        self.pending.add(-1);
    }
}

/// The host's ids for one [`Layout`], in its slot order.
#[derive(Debug)]
pub(super) struct Ids {
    counters: Vec<Metric>,
    histograms: Vec<Metric>,
}

impl Ids {
    pub(super) fn define(layout: &Layout) -> Ids {
        let define =
            |kind, names: &[String]| names.iter().map(|n| Metric::define(kind, n)).collect();
        Ids {
            counters: define(Kind::Counter, &layout.counters),
            histograms: define(Kind::Histogram, &layout.histograms),
        }
    }

    /// Adds what `tally` counted since the last flush to the host's counters.
    fn publish(&self, tally: &Tally) {
        for (slot, n) in tally.take() {
            if let Some(m) = self.counters.get(slot.0) {
                m.add(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
    }

    pub(super) fn record_latency(&self, histogram: HistogramIndex, us: u64) {
        if let Some(m) = self.histograms.get(histogram.0) {
            m.record(us);
        }
    }
}

/// Publishes every tally, then lowers the pending gauge if it had raised it.
pub(super) fn flush<'a>(
    globals: &Globals,
    pending: &Pending,
    tallies: impl Iterator<Item = (&'a Ids, &'a Tally)>,
) {
    for (ids, tally) in tallies {
        ids.publish(tally);
    }
    if pending.lower() {
        globals.lower_pending();
    }
}
