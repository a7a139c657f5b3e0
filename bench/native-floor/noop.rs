//! An Envoy 1.40 HTTP-filter dynamic module that does nothing (every hook continues at once, no
//! callback into Envoy): the floor any dynamic-module filter costs, for bench/native-instructions.
//! Built with plain rustc (no dependencies) by that script, named libveer_native.so so that the
//! native bootstrap loads it in Veer's place.

#![allow(clippy::missing_safety_doc)]

use std::ffi::{c_char, c_void};

type Ptr = *mut c_void;

/// Envoy 1.40's dynamic-module ABI version (filter/native/src/abi.rs).
static ABI: &[u8] = b"v0.2.0\0";
/// `envoy_dynamic_module_type_envoy_buffer`, passed by value to the config hook.
#[repr(C)]
pub struct Buffer {
    ptr: *const c_char,
    length: usize,
}

/// What the config and filter pointers point to: Envoy only needs them non-null.
static STATE: u8 = 0;

fn state() -> *const c_void {
    (&raw const STATE).cast()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const c_char {
    ABI.as_ptr().cast()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    _: Ptr,
    _: Buffer,
    _: Buffer,
) -> *const c_void {
    state()
}

#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_http_filter_new(_: Ptr, _: Ptr) -> *const c_void {
    state()
}

/// Hooks that continue (status 0) or return nothing.
macro_rules! hooks {
    ($($name:ident($($ty:ty),*) $(-> $ret:ty = $value:expr)?;)*) => {$(
        #[no_mangle]
        pub extern "C" fn $name($(_: $ty),*) $(-> $ret)? {
            $($value)?
        }
    )*};
}

hooks! {
    envoy_dynamic_module_on_http_filter_config_destroy(Ptr);
    envoy_dynamic_module_on_http_filter_destroy(Ptr);
    envoy_dynamic_module_on_http_filter_request_headers(Ptr, Ptr, bool) -> u32 = 0;
    envoy_dynamic_module_on_http_filter_response_headers(Ptr, Ptr, bool) -> u32 = 0;
    envoy_dynamic_module_on_http_filter_request_body(Ptr, Ptr, bool) -> u32 = 0;
    envoy_dynamic_module_on_http_filter_request_trailers(Ptr, Ptr) -> u32 = 0;
    envoy_dynamic_module_on_http_filter_response_body(Ptr, Ptr, bool) -> u32 = 0;
    envoy_dynamic_module_on_http_filter_response_trailers(Ptr, Ptr) -> u32 = 0;
    envoy_dynamic_module_on_http_filter_stream_complete(Ptr, Ptr);
    envoy_dynamic_module_on_http_filter_scheduled(Ptr, Ptr, u64);
    envoy_dynamic_module_on_http_filter_http_callout_done(Ptr, Ptr, u64, u32, Ptr, usize, Ptr, usize);
    envoy_dynamic_module_on_http_filter_http_stream_headers(Ptr, Ptr, u64, Ptr, usize, bool);
    envoy_dynamic_module_on_http_filter_http_stream_data(Ptr, Ptr, u64, Ptr, usize, bool);
    envoy_dynamic_module_on_http_filter_http_stream_trailers(Ptr, Ptr, u64, Ptr, usize);
    envoy_dynamic_module_on_http_filter_http_stream_complete(Ptr, Ptr, u64);
    envoy_dynamic_module_on_http_filter_http_stream_reset(Ptr, Ptr, u64, u32);
    envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(Ptr, Ptr);
    envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(Ptr, Ptr);
}
