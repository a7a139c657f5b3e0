//! One request: strip spoofed headers, decide, write the decision, count the outcome.

use std::rc::Rc;
use std::time::SystemTime;

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

use super::{host, Shared};
use crate::decide::{decide, DecidedBy, Inputs, KeyOrigin};
use crate::goals::count::Pending;
use crate::header_map;
use crate::request::RequestView;

/// What the response phase needs from the request phase: indices into the shared config,
/// nothing copied.
struct Routed {
    service: usize,
    variant: usize,
    /// Host clock at the request's headers, for the latency histogram (when recorded).
    started: Option<SystemTime>,
    /// `id=arm`, sent back to the client.
    assignment: Option<String>,
    /// `set-cookie` value for a minted id.
    set_cookie: Option<String>,
    /// The experiment (index in the service) and arm that decided, for per-arm responses.
    arm: Option<(usize, usize)>,
}

pub(super) struct Request {
    shared: Option<Rc<Shared>>,
    rng: fastrand::Rng,
    routed: Option<Routed>,
    /// What the request counts for experiments judged on goals (any host, routed or not).
    pending: Option<Pending>,
}

impl Request {
    pub(super) fn new(shared: Option<Rc<Shared>>, context_id: u32) -> Request {
        let seed = shared.as_ref().map_or(0, |s| s.seed) ^ u64::from(context_id).rotate_left(32);
        Request {
            shared,
            rng: fastrand::Rng::with_seed(seed),
            routed: None,
            pending: None,
        }
    }
}

impl Context for Request {}

impl HttpContext for Request {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(shared) = self.shared.clone() else {
            return Action::Continue;
        };
        let (config, metrics) = (&shared.config, &shared.metrics);
        let raw = host::request_header_map();
        let mut req = RequestView::from_pairs(header_map::parse(&raw));

        // A client must never choose its own cluster, variant or assignment: client-sent copies
        // go, from Envoy's request and from what the engine sees.
        let mut spoofed = false;
        for name in config.owned_request_headers() {
            if req.has(name) {
                self.set_http_request_header(name, None);
                metrics.globals.spoofed.inc();
                spoofed = true;
            }
        }
        if spoofed {
            req = req.without(|n| config.owned_request_headers().any(|o| o.as_bytes() == n));
        }
        // The override is a credential for Veer, not for the app: never forwarded, whatever the
        // request's service (the engine still reads it). Only it needs the clock: its expiry.
        let mut now_unix = 0;
        let mut override_sent = false;
        if let Some(policy) = &config.override_policy {
            if req.has(policy.header.as_str()) {
                override_sent = true;
                self.set_http_request_header(policy.header.as_str(), None);
                now_unix = self
                    .get_current_time()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
            }
        }

        let rng = &mut self.rng;
        let mut random = || rng.u64(..);
        let decision = decide(
            config,
            &req,
            Inputs {
                now_unix,
                random: &mut random,
            },
        );
        self.pending = Pending::on_request(config, decision.as_ref(), &req);
        let Some(d) = decision else {
            metrics.globals.passthrough.inc();
            // An override for no service forces nothing: counted with the rejected ones, so
            // every override that did not take effect shows up.
            if override_sent {
                metrics.globals.override_rejected.inc();
            }
            return Action::Continue;
        };

        // Spoofed copies were removed above, so these headers are absent: `add` spares Envoy
        // the replace's lookup in its header map. Envoy selects the route again after these
        // writes, which is how the route's `cluster_header` sees the decision.
        self.add_http_request_header(config.headers.cluster.as_str(), d.variant.cluster.as_str());
        self.add_http_request_header(config.headers.variant.as_str(), d.variant.name.as_str());
        let assignment = d.assignment().map(|(id, arm)| format!("{id}={arm}"));
        if let Some(a) = &assignment {
            self.add_http_request_header(config.headers.experiment.as_str(), a);
        }

        let variant_metrics = metrics.variant(d.service_index, d.variant_index);
        if let Some(v) = variant_metrics {
            v.requests.inc();
        }
        match d.by {
            DecidedBy::Rule(i, _) => metrics
                .rule(d.service_index, i)
                .into_iter()
                .for_each(|m| m.inc()),
            DecidedBy::Experiment {
                index, arm_index, ..
            } => metrics
                .arm(d.service_index, index, arm_index)
                .into_iter()
                .for_each(|m| m.requests.inc()),
            DecidedBy::Override { .. } => metrics.globals.override_accepted.inc(),
            DecidedBy::Split => variant_metrics.into_iter().for_each(|v| v.split.inc()),
        }
        if d.override_rejected.is_some() {
            metrics.globals.override_rejected.inc();
        }
        let set_cookie = match (&d.key, &d.service.stickiness.assign_cookie) {
            (KeyOrigin::Minted(id), Some(cookie)) => Some(cookie.set_cookie_value(id)),
            _ => None,
        };
        self.routed = Some(Routed {
            service: d.service_index,
            variant: d.variant_index,
            started: config.response_metrics.then(|| self.get_current_time()),
            assignment,
            set_cookie,
            arm: match d.by {
                DecidedBy::Experiment {
                    index, arm_index, ..
                } => Some((index, arm_index)),
                _ => None,
            },
        });
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(shared) = self.shared.clone() else {
            return Action::Continue;
        };
        if let Some(routed) = self.routed.take() {
            self.respond(&shared, routed);
        }
        if let Some(pending) = self.pending.take() {
            // Bytes: the SDK's string getter panics on a value that is not UTF-8.
            let status = self.get_http_response_header_bytes(":status");
            let counts = pending.on_response(&shared.config, status.as_deref().unwrap_or_default());
            shared.metrics.count(&counts);
            if let Some(c) = &counts.set_cookie {
                self.add_http_response_header("set-cookie", c);
            }
        }
        Action::Continue
    }
}

impl Request {
    /// The response phase of a routed request: headers for the client, response metrics.
    fn respond(&self, shared: &Shared, routed: Routed) {
        let headers = &shared.config.headers;
        if let Some(a) = &routed.assignment {
            self.set_http_response_header(headers.experiment.as_str(), Some(a));
        }
        if headers.expose_variant_to_client {
            if let Some(v) = shared
                .config
                .services
                .get(routed.service)
                .and_then(|s| s.variant(routed.variant))
            {
                self.set_http_response_header(headers.variant.as_str(), Some(v.name.as_str()));
            }
        }
        if let Some(c) = &routed.set_cookie {
            self.add_http_response_header("set-cookie", c);
            shared.metrics.globals.cookie_assigned.inc();
        }
        let responses = shared
            .metrics
            .variant(routed.service, routed.variant)
            .and_then(|m| m.responses.as_ref());
        if let (Some(m), Some(started)) = (responses, routed.started) {
            // The class is the first digit; bytes, because the SDK's string getter panics on a
            // value that is not UTF-8.
            let class = self
                .get_http_response_header_bytes(":status")
                .and_then(|s| s.first().copied())
                .filter(u8::is_ascii_digit)
                .map_or(5, |d| usize::from(d - b'0').clamp(1, 5));
            let elapsed = self
                .get_current_time()
                .duration_since(started)
                .unwrap_or_default();
            let elapsed = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
            // Arms that share this variant are told apart by metrics of their own.
            let arm = routed.arm.and_then(|(e, a)| {
                let m = shared.metrics.arm(routed.service, e, a)?;
                m.responses.as_ref()
            });
            for m in std::iter::once(m).chain(arm) {
                if let Some(counter) = m.status.get(class - 1) {
                    counter.inc();
                }
                m.latency_us.record(elapsed);
            }
        }
    }
}
