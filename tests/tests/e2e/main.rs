//! End-to-end tests: Veer's filter in a real Envoy 1.40 on loopback, in front of real upstreams.
//!
//! One test binary (faster to link); each test starts its own Envoy and upstreams and stops them
//! by PID when it ends. Requires `make wasm envoy` (the Makefile's `test` target does it).
//!
//! The same tests run against the dynamic module with `VEER_BUILD=native` (after `make native`),
//! veerctl's included (it writes either build's ECDS resource and bootstrap). A few are one
//! build's only: the wasm VM's failure policy; the native build has its own panic and ABI tests
//! (`native`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]

mod arm_responses;
mod bootstrap;
mod canary_gates;
mod canary_run;
mod cohort_cli;
mod cohorts;
#[cfg(not(veer_native))]
mod counts;
mod experiments;
// The wasm VM's failure policy (FAIL_RELOAD); a dynamic module has none (`native` shows a panic
// is caught instead).
#[cfg(not(veer_native))]
mod failure_policy;
mod faults;
mod goals;
mod hostile;
// veerctl on Kubernetes with real Envoys as the sidecars: Istio loads the wasm build.
#[cfg(not(veer_native))]
mod istio;
mod live_config;
mod metrics;
#[cfg(veer_native)]
mod native;
mod paths;
mod prometheus;
mod report;
// The HTML page is the same whichever build counted: one browser run is enough.
#[cfg(not(veer_native))]
mod report_html;
mod security;
mod split;
mod status;
mod support;
mod veerctl;
mod versions;
