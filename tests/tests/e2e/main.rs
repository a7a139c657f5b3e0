//! End-to-end tests: Veer's filter in a real Envoy 1.40 on loopback, in front of real upstreams.
//!
//! One test binary (faster to link); each test starts its own Envoy and upstreams and stops them
//! by PID when it ends. Requires `make wasm envoy` (the Makefile's `test` target does it).
//!
//! The same tests run against the dynamic module with `VEER_BUILD=native` (after `make native`).
//! A few are one build's only: the wasm VM's failure policy, and everything driven by veerctl,
//! which writes only the wasm filter's ECDS resource so far; the native build has its own panic
//! and ABI tests (`native`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]

#[cfg(not(veer_native))]
mod bootstrap;
#[cfg(not(veer_native))]
mod canary_gates;
#[cfg(not(veer_native))]
mod canary_run;
#[cfg(not(veer_native))]
mod cohort_cli;
mod cohorts;
mod experiments;
#[cfg(not(veer_native))]
mod failure_policy;
#[cfg(not(veer_native))]
mod faults;
mod goals;
mod hostile;
mod live_config;
mod metrics;
#[cfg(veer_native)]
mod native;
mod paths;
#[cfg(not(veer_native))]
mod report;
#[cfg(not(veer_native))]
mod report_html;
mod security;
mod split;
#[cfg(not(veer_native))]
mod status;
mod support;
#[cfg(not(veer_native))]
mod veerctl;
#[cfg(not(veer_native))]
mod versions;
