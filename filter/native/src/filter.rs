//! The dynamic-module adapter: reads what the engine needs from Envoy, runs the host-free plans
//! of [`crate::request`], and applies them. Nothing here decides anything.

use std::sync::Arc;
use std::time::SystemTime;

use veer_filter::exchange::Generation;
use veer_filter::{Config, RequestView};

use crate::abi::{log, ConfigHandle, FilterHandle, LogLevel};
use crate::metrics::{Globals, Metrics};
use crate::request::{self, Routed};
use crate::Shared;

/// One request's state, from `filter_new` to `destroy`.
pub struct Stream {
    pub shared: Arc<Shared>,
    pub routed: Option<Routed>,
}

impl Stream {
    pub fn new(shared: Arc<Shared>) -> Stream {
        Stream {
            shared,
            routed: None,
        }
    }
}

/// A config from Envoy (bootstrap, ECDS update): accepted with its metrics, or refused with every
/// problem logged with its path (Envoy then keeps the config it has).
pub fn config_new(host: &ConfigHandle<'_>, bytes: &[u8]) -> Option<Arc<Shared>> {
    let mut define = |kind, name: &str| host.define(kind, name);
    let globals = Globals::define(&mut define);
    let parsed = std::str::from_utf8(bytes)
        .map_err(|e| format!("$: configuration is not UTF-8: {e}"))
        .and_then(|text| Config::from_json(text).map_err(|p| p.to_string()));
    match parsed {
        Ok(config) => {
            let generation = Generation::new(config);
            let metrics = Metrics::define(&generation.layout, globals, &mut define);
            let config = &generation.config;
            // Version 0 is the bootstrap's fallback, not a config anyone delivered (as in the
            // wasm filter): not counted as accepted.
            if config.version > 0 {
                host.increment(globals.accepted.0);
            }
            // Envoy gauges are signed 64-bit. The digest first: whoever reads the new version
            // reads its digest too.
            host.set_gauge(globals.digest.0, veer_filter::config::digest::of(bytes));
            host.set_gauge(globals.version.0, config.version.min(i64::MAX as u64));
            log(
                LogLevel::Info,
                &format!(
                    "veer: config version {} accepted ({} service(s))",
                    config.version,
                    config.services.len()
                ),
            );
            Some(Arc::new(Shared {
                generation,
                metrics,
            }))
        }
        Err(problems) => {
            host.increment(globals.rejected.0);
            for line in problems.lines() {
                log(
                    LogLevel::Error,
                    &format!("veer: config rejected: {}", line.trim()),
                );
            }
            None
        }
    }
}

/// The request's headers: plan with Envoy's header bytes borrowed, then write.
pub fn request_headers(shared: &Shared, routed: &mut Option<Routed>, filter: &mut FilterHandle) {
    let plan = {
        let headers = filter.request_headers();
        #[cfg(feature = "crash-test")]
        crash_if_asked(&headers);
        let now_unix = || {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        };
        request::plan(
            shared,
            RequestView::from_pairs(headers),
            now_unix,
            &mut || fastrand::u64(..),
        )
    };
    for name in &plan.remove {
        filter.set_request_header(name, None);
    }
    for (name, value) in plan.add.iter() {
        filter.add_request_header(name, value);
    }
    if plan.reroutes() {
        filter.clear_route_cache();
    }
    for m in &plan.counters {
        filter.increment(m.0);
    }
    *routed = plan.routed;
}

/// After a panic in the request hook: the request goes on without Veer's decision, to the route
/// that needs no Veer header (stable), and no client-sent Veer header survives. Counted.
pub fn after_panic(shared: &Shared, filter: &mut FilterHandle, message: &str) {
    let config = &shared.generation.config;
    for name in config.owned_request_headers() {
        filter.set_request_header(name, None);
    }
    if let Some(policy) = &config.override_policy {
        filter.set_request_header(policy.header.as_str(), None);
    }
    filter.clear_route_cache();
    filter.increment(shared.metrics.globals.panic.0);
    log(
        LogLevel::Error,
        &format!("veer: request hook panicked ({message}): served without a Veer decision"),
    );
}

/// The response's headers, for a request that was routed.
pub fn response_headers(stream: &mut Stream, filter: &mut FilterHandle) {
    let Some(routed) = stream.routed.take() else {
        return;
    };
    // Planned with the status borrowed from Envoy's header map, then written.
    let plan = {
        let status = routed
            .wants_status()
            .then(|| filter.response_header(":status"))
            .flatten();
        request::respond(&stream.shared, routed, status)
    };
    for (name, value) in plan.set.iter() {
        filter.set_response_header(name, value);
    }
    for (name, value) in plan.add.iter() {
        filter.add_response_header(name, value);
    }
    for m in &plan.counters {
        filter.increment(m.0);
    }
    if let Some(latency) = plan.latency {
        for h in latency.histograms() {
            filter.record(stream.shared.metrics.histogram(h).0, latency.us);
        }
    }
}

/// Test builds only (`--features crash-test`): a request marked `x-test-crash` panics here,
/// inside the hook, as a bug would.
#[cfg(feature = "crash-test")]
#[allow(clippy::panic, reason = "the crash-test build panics on purpose")]
fn crash_if_asked(headers: &[(&[u8], &[u8])]) {
    if headers.iter().any(|(n, _)| *n == b"x-test-crash") {
        panic!("crashing on purpose: the request carries x-test-crash");
    }
}
