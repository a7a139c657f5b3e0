//! One request, host-free: which owned headers the client sent (removed before routing), what the
//! engine decided and what to write for it, which counters move, and what the response phase
//! must do. The same steps as the wasm adapter (`filter/src/plugin/http.rs`), as data: the
//! dynamic-module hooks in [`crate::filter`] only read Envoy's headers in and apply these plans.

use std::borrow::Cow;
use std::time::Instant;

use veer_filter::decide::{decide, DecidedBy, Inputs, KeyOrigin};
use veer_filter::goals::count::Pending;
use veer_filter::RequestView;

use crate::metrics::Metric;
use crate::Shared;

/// What the request phase does to Envoy's request.
#[derive(Debug, Default)]
pub struct RequestPlan<'c> {
    /// Request headers to remove: client-sent copies of the headers Veer owns, and the override
    /// credential (never forwarded).
    pub remove: Vec<&'c str>,
    /// Request headers to add (absent: their client-sent copies are in `remove`).
    pub add: Vec<(&'c str, Cow<'c, str>)>,
    /// Counters to add 1 to, once per entry.
    pub counters: Vec<Metric>,
    /// What the response phase needs; `None` when no service matched.
    pub routed: Option<Routed>,
    /// What the request counts for experiments judged on goals (any host, routed or not),
    /// settled in the response phase.
    pub pending: Option<Pending>,
}

impl RequestPlan<'_> {
    /// Whether the headers routing may read change, so Envoy must match the route again: a
    /// client-sent cluster header may have chosen the cached route.
    pub fn reroutes(&self) -> bool {
        !self.remove.is_empty() || !self.add.is_empty()
    }
}

/// What the response phase needs from the request phase: indices into the shared config.
#[derive(Debug)]
pub struct Routed {
    service: usize,
    variant: usize,
    /// When the request's headers were handled, for the latency histogram (when recorded).
    started: Option<Instant>,
    /// `id=arm`, sent back to the client.
    assignment: Option<String>,
    /// `set-cookie` value for a minted id.
    set_cookie: Option<String>,
    /// The experiment (index in the service) and arm that decided, for per-arm responses.
    arm: Option<(usize, usize)>,
}

impl Routed {
    /// Whether the response phase needs the response's `:status` (response metrics are on).
    pub fn wants_status(&self) -> bool {
        self.started.is_some()
    }
}

/// The plan for a request whose headers are `req`. `now_unix` is asked only when an override is
/// present (its expiry); `random` draws for keyless requests.
pub fn plan<'c>(
    shared: &'c Shared,
    mut req: RequestView<'_>,
    now_unix: impl FnOnce() -> u64,
    random: &mut dyn FnMut() -> u64,
) -> RequestPlan<'c> {
    let (config, metrics) = (&shared.config, &shared.metrics);
    let mut plan = RequestPlan::default();
    // A client must never choose its own cluster, variant or assignment: client-sent copies go,
    // from Envoy's request and from what the engine sees.
    for name in config.owned_request_headers() {
        if req.has(name) {
            plan.remove.push(name);
            plan.counters.push(metrics.globals.spoofed);
        }
    }
    if !plan.remove.is_empty() {
        req = req.without(|n| config.owned_request_headers().any(|o| o.as_bytes() == n));
    }
    // The override is a credential for Veer, not for the app: never forwarded, whatever the
    // request's service (the engine still reads it).
    let mut now = 0;
    let override_sent = match &config.override_policy {
        Some(policy) if req.has(policy.header.as_str()) => {
            plan.remove.push(policy.header.as_str());
            now = now_unix();
            true
        }
        _ => false,
    };

    let inputs = Inputs {
        now_unix: now,
        random,
    };
    let decision = decide(config, &req, inputs);
    plan.pending = Pending::on_request(config, decision.as_ref(), &req);
    let Some(d) = decision else {
        plan.counters.push(metrics.globals.passthrough);
        // An override for no service forces nothing: counted with the rejected ones.
        if override_sent {
            plan.counters.push(metrics.globals.override_rejected);
        }
        return plan;
    };

    let headers = &config.headers;
    plan.add
        .push((headers.cluster.as_str(), d.variant.cluster.as_str().into()));
    plan.add
        .push((headers.variant.as_str(), d.variant.name.as_str().into()));
    let assignment = d.assignment().map(|(id, arm)| format!("{id}={arm}"));
    if let Some(a) = &assignment {
        plan.add
            .push((headers.experiment.as_str(), a.clone().into()));
    }

    let variant_metrics = metrics.variant(d.service_index, d.variant_index);
    plan.counters.extend(variant_metrics.map(|v| v.requests));
    match d.by {
        DecidedBy::Rule(i, _) => plan.counters.extend(metrics.rule(d.service_index, i)),
        DecidedBy::Experiment {
            index, arm_index, ..
        } => plan.counters.extend(
            metrics
                .arm(d.service_index, index, arm_index)
                .map(|m| m.requests),
        ),
        DecidedBy::Override { .. } => plan.counters.push(metrics.globals.override_accepted),
        DecidedBy::Split => plan.counters.extend(variant_metrics.map(|v| v.split)),
    }
    if d.override_rejected.is_some() {
        plan.counters.push(metrics.globals.override_rejected);
    }
    let set_cookie = match (&d.key, &d.service.stickiness.assign_cookie) {
        (KeyOrigin::Minted(id), Some(cookie)) => Some(cookie.set_cookie_value(id)),
        _ => None,
    };
    plan.routed = Some(Routed {
        service: d.service_index,
        variant: d.variant_index,
        started: config.response_metrics.then(Instant::now),
        assignment,
        set_cookie,
        arm: match d.by {
            DecidedBy::Experiment {
                index, arm_index, ..
            } => Some((index, arm_index)),
            _ => None,
        },
    });
    plan
}

/// What the response phase does to Envoy's response.
#[derive(Debug, Default)]
pub struct ResponsePlan<'c> {
    /// Response headers to set (replacing any the upstream sent).
    pub set: Vec<(&'c str, Cow<'c, str>)>,
    /// Response headers to append.
    pub add: Vec<(&'static str, String)>,
    /// Counters to add 1 to.
    pub counters: Vec<Metric>,
    /// Latencies to record (histogram, microseconds): the variant's, and the arm's where arms
    /// share a variant.
    pub latency: Vec<(Metric, u64)>,
}

/// The plan for the response to a routed request; `status` is the response's `:status` when
/// [`Routed::wants_status`].
pub fn respond<'c>(shared: &'c Shared, routed: Routed, status: Option<&[u8]>) -> ResponsePlan<'c> {
    let (config, metrics) = (&shared.config, &shared.metrics);
    let headers = &config.headers;
    let mut plan = ResponsePlan::default();
    if let Some(a) = routed.assignment {
        plan.set.push((headers.experiment.as_str(), a.into()));
    }
    if headers.expose_variant_to_client {
        let variant = config
            .services
            .get(routed.service)
            .and_then(|s| s.variant(routed.variant));
        if let Some(v) = variant {
            plan.set
                .push((headers.variant.as_str(), v.name.as_str().into()));
        }
    }
    if let Some(c) = routed.set_cookie {
        plan.add.push(("set-cookie", c));
        plan.counters.push(metrics.globals.cookie_assigned);
    }
    let responses = metrics
        .variant(routed.service, routed.variant)
        .and_then(|m| m.responses.as_ref());
    if let (Some(m), Some(started)) = (responses, routed.started) {
        // The class is the first digit; anything unreadable counts as a failure (5xx).
        let class = status
            .and_then(|s| s.first().copied())
            .filter(u8::is_ascii_digit)
            .map_or(5, |d| usize::from(d - b'0').clamp(1, 5));
        let elapsed = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        // Arms that share this variant are told apart by metrics of their own.
        let arm = routed.arm.and_then(|(e, a)| {
            let m = metrics.arm(routed.service, e, a)?;
            m.responses.as_ref()
        });
        for m in std::iter::once(m).chain(arm) {
            plan.counters.extend(m.status.get(class - 1).copied());
            plan.latency.push((m.latency_us, elapsed));
        }
    }
    plan
}

/// What a request counted for experiments judged on goals, settled on its response's
/// `:status`: the counters to move and the marks cookie to set.
pub fn settle(shared: &Shared, pending: Pending, status: &[u8]) -> (Vec<Metric>, Option<String>) {
    let counts = pending.on_response(&shared.config, status);
    (shared.metrics.count(&counts), counts.set_cookie)
}

#[cfg(test)]
mod tests;
