//! A proxy-wasm HTTP filter that returns Continue and makes no hostcalls: the cost floor of
//! loading any wasm filter, against which `make bench` measures Veer's own cost.

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

proxy_wasm::main! {{
    veer_stateless_root::register::<Noop>();
}}

#[derive(Default)]
struct Noop;

impl Context for Noop {}

impl HttpContext for Noop {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        Action::Continue
    }
}
