//! End-to-end tests: Veer's filter in a real Envoy 1.40 on loopback, in front of real upstreams.
//!
//! One test binary (faster to link); each test starts its own Envoy and upstreams and stops them
//! by PID when it ends. Requires `make wasm envoy` (the Makefile's `test` target does it).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]

mod canary_gates;
mod canary_run;
mod cohorts;
mod experiments;
mod failure_policy;
mod hostile;
mod live_config;
mod metrics;
mod paths;
mod security;
mod split;
mod status;
mod support;
mod veerctl;
