//! The reference point issue 5 names: a filter that reads one header, hashes it and writes the
//! cluster header the route uses (80/20), with nothing else: no config, no metrics, no response
//! phase. `make bench` measures it as setup (f), so Veer's cost above it is Veer's own.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| Box::new(Root));
}}

struct Root;

impl Context for Root {}

impl RootContext for Root {
    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Minimal))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Minimal;

impl Context for Minimal {}

impl HttpContext for Minimal {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let key = self
            .get_http_request_header_bytes("cookie")
            .unwrap_or_default();
        let bucket = xxhash_rust::xxh3::xxh3_64(&key) % 10_000;
        let cluster = if bucket < 8_000 { "web_v1" } else { "web_v2" };
        self.add_http_request_header("x-veer-cluster", cluster);
        Action::Continue
    }
}
