//! The proxy-wasm adapter: translates between Envoy and the engine, nothing more.
//!
//! The root context parses and validates the config once per update and shares it, with the
//! metric ids, with every request through an `Rc` (no per-request copy). Hooks read what the
//! engine needs in one hostcall, call [`crate::decide`], and write the result back.

mod host;
mod http;
mod metrics;

use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};

use crate::config::Config;
use metrics::Metrics;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(Root::default()));
}}

/// What every request of one config generation shares.
struct Shared {
    config: Config,
    metrics: Metrics,
    /// Seeds each request's generator (mixed with its context id).
    seed: u64,
}

#[derive(Default)]
struct Root {
    shared: Option<Rc<Shared>>,
}

impl Context for Root {}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let globals = metrics::Globals::define();
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        let parsed = std::str::from_utf8(&bytes)
            .map_err(|e| format!("$: configuration is not UTF-8: {e}"))
            .and_then(|text| Config::from_json(text).map_err(|p| p.to_string()));
        match parsed {
            Ok(config) => {
                let metrics = Metrics::define(&config, globals);
                metrics.configured(&config, crate::config::digest::of(&bytes));
                log::info!(
                    "veer: config version {} accepted ({} service(s))",
                    config.version,
                    config.services.len()
                );
                self.shared = Some(Rc::new(Shared {
                    config,
                    metrics,
                    seed: seed(),
                }));
                true
            }
            Err(problems) => {
                globals.rejected();
                for line in problems.lines() {
                    log::error!("veer: config rejected: {}", line.trim());
                }
                false
            }
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(http::Request::new(
            self.shared.clone(),
            context_id,
        )))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// A random seed from WASI, falling back to the clock if the host refuses.
fn seed() -> u64 {
    let mut buf = [0u8; 8];
    match getrandom::getrandom(&mut buf) {
        Ok(()) => u64::from_le_bytes(buf),
        Err(_) => proxy_wasm::hostcalls::get_current_time()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0x5eed, |d| d.as_nanos() as u64),
    }
}
