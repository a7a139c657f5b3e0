//! The proxy-wasm adapter: translates between Envoy and the engine, nothing more.
//!
//! The root context parses and validates the config once per update and shares it, with the
//! metric ids and the tally, with every request through an `Rc` (no per-request copy). Hooks
//! read what the engine needs in one hostcall, call [`crate::exchange`], and turn its answer into
//! hostcalls.
//!
//! Counts stay in the VM and reach Envoy's counters on a timer ([`FLUSH_PERIOD`]), and whenever
//! a root context of the VM is configured or done. Envoy keeps one VM per thread and, on a config
//! update, adds a root context for the new config to the same VM: publishing everything the VM
//! holds before the new config reports its version means that what the old config counted is in
//! Envoy's counters by the time this thread runs the new one. [`crate::exchange::tally`] says how
//! readers know that a reading is complete.

mod host;
mod http;
mod metrics;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, LogLevel};

use crate::config::Config;
use crate::exchange::tally::{Pending, Tally};
use crate::exchange::Generation;
use metrics::{Globals, Ids};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| Box::new(Root::new()));
}}

/// How often counts reach Envoy's counters.
const FLUSH_PERIOD: Duration = crate::exchange::tally::FLUSH_PERIOD;

/// What every request of one config generation shares.
struct Shared {
    generation: Generation,
    ids: Ids,
    tally: Tally,
    globals: Globals,
    /// Seeds each request's generator (mixed with its context id).
    seed: u64,
}

impl Shared {
    /// Raises the pending gauge if the phase that just ran made the VM's first count since a
    /// flush.
    fn raise_if_due(&self) {
        if VM.with(|vm| vm.pending.take_due()) {
            self.globals.raise_pending();
        }
    }
}

/// What the VM holds for all its root contexts: every generation requests may still count
/// into, and whether any holds unpublished counts.
struct Vm {
    pending: Rc<Pending>,
    generations: RefCell<Vec<Rc<Shared>>>,
}

thread_local! {
    static VM: Vm = Vm {
        pending: Rc::new(Pending::default()),
        generations: RefCell::new(Vec::new()),
    };
}

/// Publishes every generation's counts, then lowers the pending gauge if it was raised: in that
/// order, so that a reader who sees the gauge at 0 finds every count in the counters. A
/// generation no root and no request holds any more is let go once published.
fn flush(globals: &Globals) {
    VM.with(|vm| {
        let mut generations = vm.generations.borrow_mut();
        metrics::flush(
            globals,
            &vm.pending,
            generations.iter().map(|s| (&s.ids, &s.tally)),
        );
        generations.retain(|s| Rc::strong_count(s) > 1);
    });
}

struct Root {
    globals: Globals,
    current: Option<Rc<Shared>>,
}

impl Root {
    fn new() -> Root {
        Root {
            globals: Globals::define(),
            current: None,
        }
    }
}

impl Context for Root {
    /// The plugin is going away (a config update replaced it, or Envoy is stopping): what is
    /// left is published.
    fn on_done(&mut self) -> bool {
        self.current = None;
        flush(&self.globals);
        true
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        let parsed = std::str::from_utf8(&bytes)
            .map_err(|e| format!("$: configuration is not UTF-8: {e}"))
            .and_then(|text| Config::from_json(text).map_err(|p| p.to_string()));
        match parsed {
            Ok(config) => {
                log::info!(
                    "veer: config version {} accepted ({} service(s))",
                    config.version,
                    config.services.len()
                );
                let version = config.version;
                let generation = Generation::new(config);
                let pending = VM.with(|vm| vm.pending.clone());
                let shared = Rc::new(Shared {
                    ids: Ids::define(&generation.layout),
                    tally: Tally::new(&generation.layout, pending),
                    generation,
                    globals: self.globals,
                    seed: seed(),
                });
                // What earlier configs counted in this VM is published before this one
                // reports its version.
                flush(&self.globals);
                VM.with(|vm| vm.generations.borrow_mut().push(shared.clone()));
                self.current = Some(shared);
                self.globals
                    .configured(version, crate::config::digest::of(&bytes));
                if let Err(e) = proxy_wasm::hostcalls::set_tick_period(FLUSH_PERIOD) {
                    // Counts then reach Envoy when this plugin is done; routing is unaffected.
                    log::error!(
                        "veer: no flush timer ({e:?}): counts are published at shutdown only"
                    );
                }
                true
            }
            Err(problems) => {
                self.globals.rejected();
                for line in problems.lines() {
                    log::error!("veer: config rejected: {}", line.trim());
                }
                false
            }
        }
    }

    fn on_tick(&mut self) {
        flush(&self.globals);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(http::Request::new(
            self.current.clone(),
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
