//! The root context of a filter with no config and no state between streams: the boilerplate
//! the proxy-wasm SDK wants before any HTTP callback runs. The reference filters of the
//! benchmarks (`bench/noop-filter`, `bench/minimal-filter`) and the crashing stand-in of the
//! tests (`tests/crash-filter`) share it, so each of them is only its HTTP callbacks.

use std::marker::PhantomData;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};

/// Registers a root context that gives every HTTP stream a fresh `F::default()`. Call it from
/// `proxy_wasm::main!`.
pub fn register<F: HttpContext + Default + 'static>() {
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| Box::new(Root::<F>(PhantomData)));
}

/// Creates an `F` per stream; `fn() -> F` keeps the root free of `F`'s auto traits.
struct Root<F>(PhantomData<fn() -> F>);

impl<F> Context for Root<F> {}

impl<F: HttpContext + Default + 'static> RootContext for Root<F> {
    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(F::default()))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
