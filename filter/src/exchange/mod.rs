//! One request through Veer, whatever the host: which headers to strip and write, what to count,
//! and what the response phase must do. Host-free: an adapter (the proxy-wasm plugin, a native
//! module) reads the request headers, calls [`on_request`] and, when it returned a
//! [`ResponsePlan`], [`on_response`], and turns what they return into its host's calls.
//!
//! The writes are the least that carries the decision: the cluster header always (the route
//! reads it), the variant header only where the config asks for it, the assignment only for
//! requests an experiment enrolled; nothing in the response unless something must be sent or
//! recorded. A request for no service strips what it must and counts, nothing else.

pub mod tally;

use crate::config::{Config, StatusClass};
use crate::decide::{decide, DecidedBy, Decision, Inputs, KeyOrigin};
use crate::request::RequestView;
use tally::{Global, HistogramIndex, Layout, ResponseSlots, Slot};

/// What every request of one config shares: the config and where its counters are.
#[derive(Debug)]
pub struct Generation {
    /// The validated config.
    pub config: Config,
    /// Its counter and histogram slots.
    pub layout: Layout,
}

impl Generation {
    /// The generation of `config`.
    pub fn new(config: Config) -> Generation {
        let layout = Layout::new(&config);
        Generation { config, layout }
    }
}

/// What the host provides to [`on_request`] besides the request.
pub struct Host<'h> {
    /// The current time, unix seconds; asked only for a request that carries an override (its
    /// expiry), so most requests read no clock.
    pub now_unix: &'h mut dyn FnMut() -> u64,
    /// Randomness, asked only for a request without a stickiness key.
    pub random: &'h mut dyn FnMut() -> u64,
    /// Counts one in a counter of the generation's layout.
    pub count: &'h mut dyn FnMut(Slot),
}

/// What the adapter does to the request.
#[derive(Debug, Default)]
pub struct RequestOutcome<'c> {
    /// Headers to remove first: client-sent copies of the headers Veer owns, and the override
    /// (a credential for Veer, never for the app).
    pub strip: Vec<&'c str>,
    /// Headers to add after stripping (absent by then, so adding never duplicates).
    pub add: Writes<'c>,
    /// What the response phase must do; `None`: nothing, skip it.
    pub response: Option<ResponsePlan>,
}

/// The few headers one phase writes, without an allocation per request.
#[derive(Debug, Default)]
pub struct Writes<'c>([Option<(&'c str, HeaderValue<'c>)>; 3]);

impl<'c> Writes<'c> {
    fn push(&mut self, name: &'c str, value: HeaderValue<'c>) {
        if let Some(free) = self.0.iter_mut().find(|w| w.is_none()) {
            *free = Some((name, value));
        }
    }

    /// Each header as (name, value), in the order written.
    pub fn iter(&self) -> impl Iterator<Item = (&'c str, &str)> + '_ {
        self.0.iter().flatten().map(|(n, v)| (*n, v.as_str()))
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

/// A header value Veer writes: a name from the config, or one built for this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue<'c> {
    /// Borrowed from the config.
    Config(&'c str),
    /// Built for this request (an assignment, a cookie).
    Built(String),
}

impl HeaderValue<'_> {
    /// The value.
    pub fn as_str(&self) -> &str {
        match self {
            HeaderValue::Config(s) => s,
            HeaderValue::Built(s) => s,
        }
    }
}

/// What the response phase of a routed request must do: indices into the generation's config,
/// and what was built at request time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponsePlan {
    service: usize,
    variant: usize,
    /// `id=arm`, sent back to the client.
    assignment: Option<String>,
    /// `set-cookie` value for a minted id.
    set_cookie: Option<String>,
    /// Where to record the response, when the filter records it.
    record: Option<ResponseSlots>,
}

impl ResponsePlan {
    /// Whether [`on_response`] needs the response's `:status` and the time since the request's
    /// headers (the adapter reads the clock at the request only then).
    pub fn records(&self) -> bool {
        self.record.is_some()
    }
}

/// What the adapter does to the response.
#[derive(Debug, Default)]
pub struct ResponseOutcome<'c> {
    /// Headers to set (replacing any the upstream sent).
    pub set: Writes<'c>,
    /// Headers to add (`set-cookie`: the upstream's own cookies stay).
    pub add: Writes<'c>,
    /// A latency (µs) to record in this histogram of the layout.
    pub latency: Option<(HistogramIndex, u64)>,
}

/// Decides `req` and says what to strip, write and count.
pub fn on_request<'c>(
    g: &'c Generation,
    req: RequestView<'_>,
    host: Host<'_>,
) -> RequestOutcome<'c> {
    let config = &g.config;
    // A client must never choose its own cluster, variant or assignment: client-sent copies go,
    // from the host's request and from what the engine sees.
    let mut out = RequestOutcome {
        strip: config
            .owned_request_headers()
            .filter(|name| req.has(name))
            .collect(),
        ..RequestOutcome::default()
    };
    for _ in &out.strip {
        (host.count)(Global::SpoofedHeaders.slot());
    }
    let req = if out.strip.is_empty() {
        req
    } else {
        req.without(|n| config.owned_request_headers().any(|o| o.as_bytes() == n))
    };
    // The override is a credential for Veer, not for the app: never forwarded, whatever the
    // request's service (the engine still reads it). Only it needs the clock: its expiry.
    let override_header = config
        .override_policy
        .as_ref()
        .map(|p| p.header.as_str())
        .filter(|h| req.has(h));
    let now_unix = match override_header {
        Some(h) => {
            out.strip.push(h);
            (host.now_unix)()
        }
        None => 0,
    };

    let inputs = Inputs {
        now_unix,
        random: host.random,
    };
    match decide(config, &req, inputs) {
        Some(d) => routed(g, &d, &mut out, host.count),
        None => {
            (host.count)(Global::Passthrough.slot());
            // An override for no service forces nothing: counted with the rejected ones, so
            // every override that did not take effect shows up.
            if override_header.is_some() {
                (host.count)(Global::OverrideRejected.slot());
            }
        }
    }
    out
}

/// Writes and counts for a request `d` decided.
fn routed<'c>(
    g: &'c Generation,
    d: &Decision<'c>,
    out: &mut RequestOutcome<'c>,
    count: &mut dyn FnMut(Slot),
) {
    let (config, layout) = (&g.config, &g.layout);
    let headers = &config.headers;
    // Each write makes Envoy select the route again; the cluster header is the one the route
    // reads.
    out.add.push(
        headers.cluster.as_str(),
        HeaderValue::Config(d.variant.cluster.as_str()),
    );
    if headers.expose_variant_to_upstream {
        out.add.push(
            headers.variant.as_str(),
            HeaderValue::Config(d.variant.name.as_str()),
        );
    }
    let assignment = d.assignment().map(|(id, arm)| format!("{id}={arm}"));
    if let Some(a) = &assignment {
        out.add
            .push(headers.experiment.as_str(), HeaderValue::Built(a.clone()));
    }

    let slots = layout.variant(d.service_index, d.variant_index);
    if let Some(s) = slots {
        count(s.requests);
    }
    let by = match d.by {
        DecidedBy::Rule(i, _) => layout.rule(d.service_index, i),
        DecidedBy::Experiment {
            index, arm_index, ..
        } => layout
            .arm(d.service_index, index, arm_index)
            .map(|a| a.requests),
        DecidedBy::Override { .. } => Some(Global::OverrideAccepted.slot()),
        DecidedBy::Split => slots.map(|s| s.split),
    };
    if let Some(slot) = by {
        count(slot);
    }
    if d.override_rejected.is_some() {
        count(Global::OverrideRejected.slot());
    }

    let set_cookie = match (&d.key, &d.service.stickiness.assign_cookie) {
        (KeyOrigin::Minted(id), Some(cookie)) => Some(cookie.set_cookie_value(id)),
        _ => None,
    };
    let plan = ResponsePlan {
        service: d.service_index,
        variant: d.variant_index,
        assignment,
        set_cookie,
        record: slots.and_then(|s| s.responses),
    };
    let needed = plan.assignment.is_some()
        || plan.set_cookie.is_some()
        || plan.record.is_some()
        || headers.expose_variant_to_client;
    out.response = needed.then_some(plan);
}

/// The response phase of a request [`on_request`] planned. `status` is the response's `:status`
/// and `elapsed_us` the time since the request's headers, both only when the plan
/// [records](ResponsePlan::records) (otherwise `None`).
pub fn on_response<'c>(
    g: &'c Generation,
    plan: ResponsePlan,
    status: Option<&[u8]>,
    elapsed_us: Option<u64>,
    count: &mut dyn FnMut(Slot),
) -> ResponseOutcome<'c> {
    let config = &g.config;
    let headers = &config.headers;
    let mut out = ResponseOutcome::default();
    if let Some(a) = plan.assignment {
        out.set
            .push(headers.experiment.as_str(), HeaderValue::Built(a));
    }
    if headers.expose_variant_to_client {
        let variant = config
            .services
            .get(plan.service)
            .and_then(|s| s.variant(plan.variant));
        if let Some(v) = variant {
            out.set.push(
                headers.variant.as_str(),
                HeaderValue::Config(v.name.as_str()),
            );
        }
    }
    if let Some(c) = plan.set_cookie {
        out.add.push("set-cookie", HeaderValue::Built(c));
        count(Global::CookiesAssigned.slot());
    }
    if let Some(record) = plan.record {
        // No `:status` is a response Envoy could not complete: a server error.
        let class = status.map_or(StatusClass::SERVER_ERROR, StatusClass::of);
        count(record.class(class));
        out.latency = elapsed_us.map(|us| (record.latency, us));
    }
    out
}

#[cfg(test)]
mod tests;
