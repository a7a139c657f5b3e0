//! One request: the engine's [`exchange`](crate::exchange) turned into hostcalls, nothing else.
//! A request for no service costs one hostcall (the header map); a routed one adds one per
//! header the exchange writes, and a response phase only when it planned one.

use std::rc::Rc;
use std::time::SystemTime;

use proxy_wasm::hostcalls::get_current_time;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

use super::{host, Shared};
use crate::exchange::{on_request, on_response, Host, ResponsePlan};
use crate::header_map;
use crate::request::RequestView;

pub(super) struct Request {
    shared: Option<Rc<Shared>>,
    rng: fastrand::Rng,
    /// The response phase's plan, and the host clock at the request when it records latency.
    response: Option<(ResponsePlan, Option<SystemTime>)>,
}

impl Request {
    pub(super) fn new(shared: Option<Rc<Shared>>, context_id: u32) -> Request {
        let seed = shared.as_ref().map_or(0, |s| s.seed) ^ u64::from(context_id).rotate_left(32);
        Request {
            shared,
            rng: fastrand::Rng::with_seed(seed),
            response: None,
        }
    }
}

fn unix_seconds() -> u64 {
    get_current_time()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

impl Context for Request {}

impl HttpContext for Request {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(shared) = self.shared.clone() else {
            return Action::Continue;
        };
        let raw = host::request_header_map();
        let req = RequestView::from_pairs(header_map::parse(&raw));
        let rng = &mut self.rng;
        let tally = &shared.tally;
        let host = Host {
            now_unix: &mut unix_seconds,
            random: &mut || rng.u64(..),
            count: &mut |slot| tally.count(slot),
        };
        let out = on_request(&shared.generation, req, host);
        shared.raise_if_due();
        for name in &out.strip {
            self.set_http_request_header(name, None);
        }
        // Stripped first, so these are absent: `add` spares Envoy the replace's lookup. Envoy
        // selects the route again after each write, which is how the route's `cluster_header`
        // sees the decision.
        for (name, value) in out.add.iter() {
            self.add_http_request_header(name, value);
        }
        self.response = out.response.map(|plan| {
            let started = plan.records().then(get_current_time).and_then(Result::ok);
            (plan, started)
        });
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let (Some(shared), Some((plan, started))) = (self.shared.clone(), self.response.take())
        else {
            return Action::Continue;
        };
        // Bytes: the SDK's string getter panics on a value that is not UTF-8.
        let status = plan
            .wants_status()
            .then(|| self.get_http_response_header_bytes(":status"))
            .flatten();
        let elapsed_us = started.map(|t| {
            let elapsed = get_current_time()
                .ok()
                .and_then(|now| now.duration_since(t).ok())
                .unwrap_or_default();
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX)
        });
        let tally = &shared.tally;
        let out = on_response(
            &shared.generation,
            plan,
            status.as_deref(),
            elapsed_us,
            &mut |slot| tally.count(slot),
        );
        shared.raise_if_due();
        for (name, value) in out.set.iter() {
            self.set_http_response_header(name, Some(value));
        }
        for (name, value) in out.add.iter() {
            self.add_http_response_header(name, value);
        }
        if let Some(latency) = out.latency {
            for histogram in latency.histograms() {
                shared.ids.record_latency(histogram, latency.us);
            }
        }
        Action::Continue
    }
}
