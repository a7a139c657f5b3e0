//! veerctl on Kubernetes and Istio: blue/green on Deployments, rolling and recreate rollouts,
//! and canary/A-B routing through an Istio WasmPlugin that runs Veer's filter.
//!
//! This crate is a library with no CLI parsing: veerctl's clap layer builds a [`Target`] (client,
//! namespace, dry-run mode) and calls one function per command. Every function computes data
//! (serde `Serialize` structs) and leaves rendering to the CLI; progress goes through a
//! [`Reporter`] that the CLI implements.
//!
//! Every mutating operation records the exact requests it sends (or, in dry-run, would send) in
//! its outcome, through one writer ([`dry_run`]), so `--dry-run` prints the same bytes a real run
//! sends and the contract tests can assert them.

pub mod bluegreen;
pub mod dry_run;
pub mod error;
pub mod fail_strategy;
pub mod istio;
pub mod labels;
pub mod manifests;
pub mod mesh;
pub mod observe;
pub mod plugin_config;
pub mod plugin_live;
pub mod port_forward;
pub mod progress;
pub mod report;
pub mod rollout;
pub mod run_state;
pub mod target;

pub use dry_run::{DryRun, PlannedRequest};
pub use error::{Error, Result};
pub use labels::Colour;
pub use report::{NoReporter, Reporter};
pub use target::{Target, WaitOptions, FIELD_MANAGER};
