//! The reference point issue 5 names: a filter that reads one header, hashes it and writes the
//! cluster header the route uses (80/20), with nothing else: no config, no metrics, no response
//! phase. `make bench` measures it as setup (f), so Veer's cost above it is Veer's own.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

proxy_wasm::main! {{
    veer_stateless_root::register::<Minimal>();
}}

#[derive(Default)]
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
