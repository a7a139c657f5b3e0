//! The one hostcall the SDK wraps too expensively for the request path.

use std::ptr::null_mut;

use proxy_wasm::types::{MapType, Status};

#[allow(unsafe_code, reason = "declares the proxy-wasm ABI import")]
#[link(wasm_import_module = "env")]
extern "C" {
    fn proxy_get_header_map_pairs(
        map_type: MapType,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> Status;
}

/// The request's headers as the host serialised them ([`crate::header_map`] reads them in
/// place). The SDK's `get_http_request_headers` would copy every name and value into its own
/// `String`/`Vec` and panic on a name that is not UTF-8; this takes the host's buffer as is.
#[allow(
    unsafe_code,
    reason = "taking ownership of the buffer the host allocated for us"
)]
pub(super) fn request_header_map() -> Vec<u8> {
    let mut data: *mut u8 = null_mut();
    let mut size: usize = 0;
    // SAFETY: on `Ok` the host has stored in `data` a buffer of `size` bytes that it obtained
    // from this module's `proxy_on_memory_allocate` (the SDK's allocator: a boxed slice of
    // exactly `size` bytes), so this module owns it and may free it as a `Vec` of that length
    // and capacity.
    unsafe {
        match proxy_get_header_map_pairs(MapType::HttpRequestHeaders, &mut data, &mut size) {
            Status::Ok if !data.is_null() => Vec::from_raw_parts(data, size, size),
            _ => Vec::new(),
        }
    }
}
