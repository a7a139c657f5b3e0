//! Veer as an Envoy dynamic module: the same engine as the proxy-wasm filter
//! (`veer_filter::decide`), loaded by Envoy with `dlopen` as native code.
//!
//! - [`abi`]: the FFI boundary (Envoy 1.40's dynamic-module ABI): the only `unsafe` code, and
//!   where panics are caught.
//! - [`filter`]: the adapter: Envoy's headers in, the engine's plans applied.
//! - [`request`]: what a request and its response must do ([`veer_filter::exchange`], as the
//!   wasm filter does), as plans with this module's metric ids; host-free and unit-tested.
//! - [`metrics`]: the metric names of [`veer_filter::metrics`], under Envoy's namespace for
//!   module metrics.
//!
//! Envoy loads `libveer_native.so` by name (`dynamic_module_config.name: veer_native`) from
//! `ENVOY_DYNAMIC_MODULES_SEARCH_PATH`; the routing config arrives as the filter's
//! `filter_config` (a `google.protobuf.StringValue` holding Veer's JSON), by ECDS like the
//! wasm filter's.

pub mod abi;
pub mod filter;
pub mod metrics;
pub mod request;

use veer_filter::exchange::Generation;

/// What every request of one config shares: the config with its metric layout, and Envoy's ids
/// for those metrics.
#[derive(Debug)]
pub struct Shared {
    pub generation: Generation,
    pub metrics: metrics::Metrics,
}
