//! One request through Veer, whatever the host: which headers to strip and write, what to count,
//! and what the response phase must do. Host-free: an adapter (the proxy-wasm plugin, a native
//! module) reads the request headers, calls [`on_request`] and, when it returned a
//! [`ResponsePlan`], [`on_response`], and turns what they return into its host's calls.
//!
//! The writes are the least that carries the decision: the cluster header always (the route
//! reads it), the variant header only where the config asks for it, the assignment only for
//! requests an experiment enrolled; nothing in the response unless something must be sent or
//! recorded. A request for no service strips what it must and counts, nothing else, unless it
//! reaches a goal of an experiment ([`crate::goals::count`]): then its response phase counts the
//! goal once its status is known.

pub mod tally;

use crate::config::{Config, StatusClass};
use crate::decide::{decide, DecidedBy, Decision, Inputs, KeyOrigin};
use crate::goals::count::{ArmAt, Counts, GoalAt, Pending as Goals};
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

/// What the response phase must do: for a routed request, indices into the generation's config
/// and what was built at request time; for a request that counts for an experiment judged on
/// goals (routed or not), what it may count once the status is known.
#[derive(Debug, Clone)]
pub struct ResponsePlan {
    routed: Option<Routed>,
    goals: Option<Goals>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Routed {
    service: usize,
    variant: usize,
    /// `id=arm`, sent back to the client.
    assignment: Option<String>,
    /// `set-cookie` value for a minted id.
    set_cookie: Option<String>,
    /// Where to record the response, when the filter records it.
    record: Option<ResponseSlots>,
    /// Where else, when the arm that decided shares its variant with another arm.
    record_arm: Option<ResponseSlots>,
}

impl ResponsePlan {
    /// Whether [`on_response`] needs the time since the request's headers (the adapter reads the
    /// clock at the request only then).
    pub fn records(&self) -> bool {
        self.routed.as_ref().is_some_and(|r| r.record.is_some())
    }

    /// Whether [`on_response`] needs the response's `:status`.
    pub fn wants_status(&self) -> bool {
        self.records() || self.goals.is_some()
    }
}

/// What the adapter does to the response.
#[derive(Debug, Default)]
pub struct ResponseOutcome<'c> {
    /// Headers to set (replacing any the upstream sent).
    pub set: Writes<'c>,
    /// Headers to add (`set-cookie`: the upstream's own cookies stay).
    pub add: Writes<'c>,
    /// A latency to record.
    pub latency: Option<Latency>,
}

/// A response's latency and the histograms of the layout it goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    /// Microseconds, request headers to response headers.
    pub us: u64,
    /// The variant's histogram.
    pub variant: HistogramIndex,
    /// The arm's, when arms share the variant.
    pub arm: Option<HistogramIndex>,
}

impl Latency {
    /// Each histogram to record [`Latency::us`] in.
    pub fn histograms(&self) -> impl Iterator<Item = HistogramIndex> {
        std::iter::once(self.variant).chain(self.arm)
    }
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
    let decision = decide(config, &req, inputs);
    let goals = Goals::on_request(config, decision.as_ref(), &req);
    let routed = match decision {
        Some(d) => Some(routed(g, &d, &mut out, host.count)),
        None => {
            (host.count)(Global::Passthrough.slot());
            // An override for no service forces nothing: counted with the rejected ones, so
            // every override that did not take effect shows up.
            if override_header.is_some() {
                (host.count)(Global::OverrideRejected.slot());
            }
            None
        }
    };
    let needed = goals.is_some() || routed.as_ref().is_some_and(|r| r.needs_response(config));
    out.response = needed.then_some(ResponsePlan { routed, goals });
    out
}

impl Routed {
    /// Whether its response phase has anything to send or record.
    fn needs_response(&self, config: &Config) -> bool {
        self.assignment.is_some()
            || self.set_cookie.is_some()
            || self.record.is_some()
            || config.headers.expose_variant_to_client
    }
}

/// Writes and counts for a request `d` decided; what its response phase needs.
fn routed<'c>(
    g: &'c Generation,
    d: &Decision<'c>,
    out: &mut RequestOutcome<'c>,
    count: &mut dyn FnMut(Slot),
) -> Routed {
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
    let arm = match d.by {
        DecidedBy::Experiment {
            index, arm_index, ..
        } => layout.arm(d.service_index, index, arm_index),
        _ => None,
    };
    let by = match d.by {
        DecidedBy::Rule(i, _) => layout.rule(d.service_index, i),
        DecidedBy::Experiment { .. } => arm.map(|a| a.requests),
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
    let record = slots.and_then(|s| s.responses);
    Routed {
        service: d.service_index,
        variant: d.variant_index,
        assignment,
        set_cookie,
        record,
        record_arm: record.and(arm.and_then(|a| a.responses)),
    }
}

/// The response phase of a request [`on_request`] planned. `status` is the response's `:status`
/// when the plan [wants it](ResponsePlan::wants_status), and `elapsed_us` the time since the
/// request's headers when it [records](ResponsePlan::records) (otherwise `None`).
pub fn on_response<'c>(
    g: &'c Generation,
    plan: ResponsePlan,
    status: Option<&[u8]>,
    elapsed_us: Option<u64>,
    count: &mut dyn FnMut(Slot),
) -> ResponseOutcome<'c> {
    let mut out = ResponseOutcome::default();
    if let Some(routed) = plan.routed {
        respond_routed(g, routed, status, elapsed_us, &mut out, count);
    }
    if let Some(goals) = plan.goals {
        let counts = goals.on_response(&g.config, status.unwrap_or_default());
        count_goals(&g.layout, &counts, count);
        if let Some(c) = counts.set_cookie {
            out.add.push("set-cookie", HeaderValue::Built(c));
        }
    }
    out
}

fn respond_routed<'c>(
    g: &'c Generation,
    routed: Routed,
    status: Option<&[u8]>,
    elapsed_us: Option<u64>,
    out: &mut ResponseOutcome<'c>,
    count: &mut dyn FnMut(Slot),
) {
    let config = &g.config;
    let headers = &config.headers;
    if let Some(a) = routed.assignment {
        out.set
            .push(headers.experiment.as_str(), HeaderValue::Built(a));
    }
    if headers.expose_variant_to_client {
        let variant = config
            .services
            .get(routed.service)
            .and_then(|s| s.variant(routed.variant));
        if let Some(v) = variant {
            out.set.push(
                headers.variant.as_str(),
                HeaderValue::Config(v.name.as_str()),
            );
        }
    }
    if let Some(c) = routed.set_cookie {
        out.add.push("set-cookie", HeaderValue::Built(c));
        count(Global::CookiesAssigned.slot());
    }
    if let Some(record) = routed.record {
        // No `:status` is a response Envoy could not complete: a server error.
        let class = status.map_or(StatusClass::SERVER_ERROR, StatusClass::of);
        count(record.class(class));
        if let Some(arm) = routed.record_arm {
            count(arm.class(class));
        }
        out.latency = elapsed_us.map(|us| Latency {
            us,
            variant: record.latency,
            arm: routed.record_arm.map(|a| a.latency),
        });
    }
}

/// What a request counted for experiments judged on goals.
fn count_goals(layout: &Layout, counts: &Counts, count: &mut dyn FnMut(Slot)) {
    let arm = |at: ArmAt| layout.arm(at.service, at.experiment, at.arm);
    if let Some(users) = counts.exposure.and_then(arm).and_then(|a| a.users) {
        count(users);
    }
    let goal = |g: &GoalAt| arm(g.arm).and_then(|a| a.goals.goal(g.slot));
    for (requests, _) in counts.goal_requests.iter().filter_map(goal) {
        count(requests);
    }
    for (_, users) in counts.conversions.iter().filter_map(goal) {
        count(users);
    }
}

#[cfg(test)]
mod tests;
