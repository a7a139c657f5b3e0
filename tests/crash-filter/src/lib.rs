//! A proxy-wasm filter that crashes its VM on purpose: a request carrying `x-test-crash` makes
//! it panic (a trap in the release build, which aborts on panic). Every request it handles gets
//! the response header `x-crash-filter: ran`, so a test can tell a request the filter handled
//! from one that skipped it (what `FAIL_OPEN` would do).
//!
//! Veer's own filter never panics on request data; this stand-in exists only to test the failure
//! policy that veerctl writes into the ECDS resource and the bootstrap around it.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

proxy_wasm::main! {{
    veer_stateless_root::register::<Crash>();
}}

#[derive(Default)]
struct Crash;

impl Context for Crash {}

impl HttpContext for Crash {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        if self.get_http_request_header("x-test-crash").is_some() {
            panic!("crashing on purpose: the request carries x-test-crash");
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.set_http_response_header("x-crash-filter", Some("ran"));
        Action::Continue
    }
}
