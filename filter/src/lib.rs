//! Veer's routing engine and its proxy-wasm adapter.
//!
//! The engine (`config`, `matcher`, `request`, `hash`, `split`, `signing`, `decide`) is plain
//! Rust with no proxy-wasm dependency: veerctl links it natively, so `veerctl validate` and
//! `veerctl explain` say exactly what the data plane does. `goals` (what a request counts for
//! experiments judged on goals), `marks` (the cookie that counts users once) and `arm_metrics`
//! (the names of what is counted per arm) are host-free too. The `plugin` feature adds the thin
//! adapter that Envoy loads (`wasm32-wasip1`).

pub mod arm_metrics;
pub mod config;
pub mod decide;
pub mod exchange;
pub mod goals;
pub mod hash;
pub mod header_map;
pub mod marks;
pub mod matcher;
pub mod metrics;
pub mod request;
pub mod signing;
pub mod split;

#[cfg(feature = "plugin")]
mod plugin;

pub use config::{Config, Problem, Problems};
pub use decide::{decide, Decision, Inputs};
pub use request::RequestView;
