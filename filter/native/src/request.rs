//! One request, host-free: the engine's [`exchange`](veer_filter::exchange) (the same steps as
//! the wasm adapter, `filter/src/plugin/http.rs`) turned into plans of Envoy calls, with the
//! module's metric ids. The dynamic-module hooks in [`crate::filter`] only read Envoy's headers
//! in and apply these plans.

use std::time::Instant;

use smallvec::SmallVec;
use veer_filter::exchange::{
    on_request, on_response, Host, Latency, ResponsePlan as Exchange, Writes,
};
use veer_filter::RequestView;

use crate::metrics::Metric;
use crate::Shared;

/// The counters one phase adds 1 to, once per entry: inline up to 8 (a request of the realistic
/// config counts 2 to 5), so counting allocates nothing.
pub type Counts = SmallVec<[Metric; 8]>;

/// What the request phase does to Envoy's request.
#[derive(Debug, Default)]
pub struct RequestPlan<'c> {
    /// Request headers to remove: client-sent copies of the headers Veer owns, and the override
    /// credential (never forwarded).
    pub remove: Vec<&'c str>,
    /// Request headers to add (absent: their client-sent copies are in `remove`).
    pub add: Writes<'c>,
    /// Counters to add 1 to, once per entry.
    pub counters: Counts,
    /// What the response phase needs; `None` when there is nothing to do there.
    pub routed: Option<Routed>,
}

impl RequestPlan<'_> {
    /// Whether the headers routing may read change, so Envoy must match the route again: a
    /// client-sent cluster header may have chosen the cached route.
    pub fn reroutes(&self) -> bool {
        !self.remove.is_empty() || !self.add.is_empty()
    }
}

/// What the response phase needs from the request phase.
#[derive(Debug)]
pub struct Routed {
    plan: Exchange,
    /// When the request's headers were handled, for the latency histogram (when recorded).
    started: Option<Instant>,
}

impl Routed {
    /// Whether the response phase needs the response's `:status` (response metrics are on, or
    /// the request counts for an experiment judged on goals).
    pub fn wants_status(&self) -> bool {
        self.plan.wants_status()
    }
}

/// The plan for a request whose headers are `req`. `now_unix` is asked only when an override is
/// present (its expiry); `random` draws for keyless requests.
pub fn plan<'c>(
    shared: &'c Shared,
    req: RequestView<'_>,
    mut now_unix: impl FnMut() -> u64,
    random: &mut dyn FnMut() -> u64,
) -> RequestPlan<'c> {
    let mut counters = Counts::new();
    let out = on_request(
        &shared.generation,
        req,
        Host {
            now_unix: &mut now_unix,
            random,
            count: &mut |s| counters.push(shared.metrics.counter(s)),
        },
    );
    RequestPlan {
        remove: out.strip,
        add: out.add,
        counters,
        routed: out.response.map(|plan| Routed {
            started: plan.records().then(Instant::now),
            plan,
        }),
    }
}

/// What the response phase does to Envoy's response.
#[derive(Debug, Default)]
pub struct ResponsePlan<'c> {
    /// Response headers to set (replacing any the upstream sent).
    pub set: Writes<'c>,
    /// Response headers to append.
    pub add: Writes<'c>,
    /// Counters to add 1 to.
    pub counters: Counts,
    /// A latency to record, in the histograms of [`crate::metrics::Metrics::histogram`].
    pub latency: Option<Latency>,
}

/// The plan for the response to a routed request; `status` is the response's `:status` when
/// [`Routed::wants_status`].
pub fn respond<'c>(shared: &'c Shared, routed: Routed, status: Option<&[u8]>) -> ResponsePlan<'c> {
    let elapsed_us = routed
        .started
        .map(|t| u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX));
    let mut counters = Counts::new();
    let out = on_response(
        &shared.generation,
        routed.plan,
        status,
        elapsed_us,
        &mut |s| counters.push(shared.metrics.counter(s)),
    );
    ResponsePlan {
        set: out.set,
        add: out.add,
        counters,
        latency: out.latency,
    }
}

#[cfg(test)]
mod tests;
