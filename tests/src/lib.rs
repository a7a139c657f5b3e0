//! Test kit for running Veer in a real Envoy on loopback: upstream apps that answer with their
//! version, Envoy processes started from `deploy/envoy/envoy.yaml` with the built filter, a
//! small HTTP client, and a webhook receiver. The end-to-end tests and `make demo` share it.
//!
//! Every process is started by this kit and stopped by its own PID when its handle drops; all
//! traffic goes to 127.0.0.1.

pub mod client;
pub mod envoy;
pub mod native;
pub mod paths;
pub mod receiver;
pub mod shoppers;
pub mod upstream;

pub use client::{Client, Reply};
pub use envoy::{Build, Envoy, Filter, Stats};
pub use receiver::{Call, Receiver};
pub use upstream::Upstream;
