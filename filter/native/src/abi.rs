//! Envoy's dynamic-module ABI as the Envoy 1.40 binary implements it (ABI version `v0.2.0`,
//! `source/extensions/dynamic_modules/abi/abi.h`): the callbacks Veer calls, the hooks Envoy
//! calls, and safe handles around both. Every `unsafe` of the crate is in this file.
//!
//! Two rules are kept here, so that the rest of the crate cannot break them:
//! - No panic crosses into Envoy (unwinding into C++ is undefined behaviour). Every hook runs its
//!   body under `catch_unwind`; a panic in the request hook is counted and the request falls back
//!   to the stable route with every Veer header removed ([`crate::filter::after_panic`]).
//! - Header bytes Envoy lends are valid until the hook returns or a setter is called. Reading
//!   borrows the handle (`&self`), writing needs `&mut self`, so the borrow checker rejects a
//!   write while borrowed bytes are alive.

#![allow(
    unsafe_code,
    reason = "the FFI boundary with Envoy; each unsafe block states why it is sound"
)]

use std::ffi::{c_char, c_void, CStr};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use smallvec::SmallVec;

use crate::filter::{self, Stream};
use crate::Shared;

/// Request headers read without an allocation (a browser's request has 10 to 20).
const INLINE_HEADERS: usize = 32;

/// The ABI version this module is built against: what the Envoy 1.40 binary reports as its own
/// (Envoy logs "Dynamic module ABI version v0.2.0 matched." on load).
pub const ABI_VERSION: &CStr = c"v0.2.0";

/// `envoy_dynamic_module_type_envoy_buffer` / `..._module_buffer`: bytes and a length (public
/// only because the exported hooks name it).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Buffer {
    ptr: *const c_char,
    length: usize,
}

impl Buffer {
    fn of(bytes: &[u8]) -> Buffer {
        Buffer {
            ptr: bytes.as_ptr().cast(),
            length: bytes.len(),
        }
    }

    const NULL: Buffer = Buffer {
        ptr: std::ptr::null(),
        length: 0,
    };

    /// The bytes, borrowed for `'a`.
    ///
    /// # Safety
    /// `ptr` must be null or point to `length` readable bytes that stay valid and unchanged for
    /// `'a`.
    unsafe fn bytes<'a>(self) -> &'a [u8] {
        if self.ptr.is_null() || self.length == 0 {
            return &[];
        }
        // SAFETY: non-null, and the caller guarantees `length` bytes valid for 'a.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.length) }
    }
}

/// `envoy_dynamic_module_type_envoy_http_header`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawHeader {
    key: Buffer,
    value: Buffer,
}

/// `envoy_dynamic_module_type_http_header_type`.
#[repr(u32)]
#[derive(Clone, Copy)]
enum HeaderMap {
    Request = 0,
    Response = 2,
}

/// `envoy_dynamic_module_type_log_level`.
#[repr(u32)]
#[derive(Clone, Copy)]
pub enum LogLevel {
    Info = 2,
    Error = 4,
}

/// `..._on_http_filter_*_status_Continue`: the first value of every status enum.
const CONTINUE: u32 = 0;
/// `envoy_dynamic_module_type_metrics_result_Success`.
const METRICS_SUCCESS: u32 = 0;

type EnvoyPtr = *mut c_void;
type ModulePtr = *const c_void;

extern "C" {
    fn envoy_dynamic_module_callback_http_get_headers_size(filter: EnvoyPtr, map: u32) -> usize;
    fn envoy_dynamic_module_callback_http_get_headers(
        filter: EnvoyPtr,
        map: u32,
        result: *mut RawHeader,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_get_header(
        filter: EnvoyPtr,
        map: u32,
        key: Buffer,
        result: *mut Buffer,
        index: usize,
        optional_size: *mut usize,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_set_header(
        filter: EnvoyPtr,
        map: u32,
        key: Buffer,
        value: Buffer,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_add_header(
        filter: EnvoyPtr,
        map: u32,
        key: Buffer,
        value: Buffer,
    ) -> bool;
    fn envoy_dynamic_module_callback_http_clear_route_cache(filter: EnvoyPtr);
    fn envoy_dynamic_module_callback_http_filter_config_define_counter(
        config: EnvoyPtr,
        name: Buffer,
        label_names: *const Buffer,
        label_names_length: usize,
        id: *mut usize,
    ) -> u32;
    fn envoy_dynamic_module_callback_http_filter_config_define_gauge(
        config: EnvoyPtr,
        name: Buffer,
        label_names: *const Buffer,
        label_names_length: usize,
        id: *mut usize,
    ) -> u32;
    fn envoy_dynamic_module_callback_http_filter_config_define_histogram(
        config: EnvoyPtr,
        name: Buffer,
        label_names: *const Buffer,
        label_names_length: usize,
        id: *mut usize,
    ) -> u32;
    fn envoy_dynamic_module_callback_http_filter_config_increment_counter(
        config: EnvoyPtr,
        id: usize,
        label_values: *const Buffer,
        label_values_length: usize,
        value: u64,
    ) -> u32;
    fn envoy_dynamic_module_callback_http_filter_config_set_gauge(
        config: EnvoyPtr,
        id: usize,
        label_values: *const Buffer,
        label_values_length: usize,
        value: u64,
    ) -> u32;
    fn envoy_dynamic_module_callback_http_filter_increment_counter(
        filter: EnvoyPtr,
        id: usize,
        label_values: *const Buffer,
        label_values_length: usize,
        value: u64,
    ) -> u32;
    fn envoy_dynamic_module_callback_http_filter_record_histogram_value(
        filter: EnvoyPtr,
        id: usize,
        label_values: *const Buffer,
        label_values_length: usize,
        value: u64,
    ) -> u32;
    fn envoy_dynamic_module_callback_log(level: u32, message: Buffer);
}

/// Writes `message` to Envoy's log (component `dynamic_modules`).
pub fn log(level: LogLevel, message: &str) {
    // SAFETY: the buffer points into `message`, alive for the call; Envoy copies it.
    unsafe { envoy_dynamic_module_callback_log(level as u32, Buffer::of(message.as_bytes())) }
}

/// What kind of metric to define.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

/// Envoy's filter config while `envoy_dynamic_module_on_http_filter_config_new` runs: the only
/// time metrics can be defined (Envoy freezes stat creation when the hook returns).
pub struct ConfigHandle<'h> {
    ptr: EnvoyPtr,
    _hook: PhantomData<&'h mut ()>,
}

impl ConfigHandle<'_> {
    /// Defines a metric without labels; `None` if Envoy refuses (then it is not counted).
    pub fn define(&self, kind: MetricKind, name: &str) -> Option<usize> {
        let define = match kind {
            MetricKind::Counter => envoy_dynamic_module_callback_http_filter_config_define_counter,
            MetricKind::Gauge => envoy_dynamic_module_callback_http_filter_config_define_gauge,
            MetricKind::Histogram => {
                envoy_dynamic_module_callback_http_filter_config_define_histogram
            }
        };
        let mut id = 0usize;
        // SAFETY: `ptr` is the config Envoy passed to the running config_new hook; the name
        // buffer and `id` are alive for the call; no labels (null, 0).
        let result = unsafe {
            define(
                self.ptr,
                Buffer::of(name.as_bytes()),
                std::ptr::null(),
                0,
                &mut id,
            )
        };
        (result == METRICS_SUCCESS).then_some(id)
    }

    /// Adds 1 to counter `id`.
    pub fn increment(&self, id: Option<usize>) {
        // SAFETY: `ptr` is the config of the running config_new hook, and `id` was defined on it.
        unsafe {
            update_metric(
                envoy_dynamic_module_callback_http_filter_config_increment_counter,
                self.ptr,
                id,
                1,
            )
        }
    }

    /// Sets gauge `id`.
    pub fn set_gauge(&self, id: Option<usize>, value: u64) {
        // SAFETY: as in `increment`.
        unsafe {
            update_metric(
                envoy_dynamic_module_callback_http_filter_config_set_gauge,
                self.ptr,
                id,
                value,
            )
        }
    }
}

/// One request's filter in Envoy, for the duration of one hook call.
pub struct FilterHandle<'h> {
    ptr: EnvoyPtr,
    _hook: PhantomData<&'h mut ()>,
}

impl FilterHandle<'_> {
    /// Every request header as (lowercase name, raw value), borrowing Envoy's header map: the
    /// borrow of `self` ends before any write can happen.
    pub fn request_headers(&self) -> Vec<(&[u8], &[u8])> {
        let map = HeaderMap::Request as u32;
        // SAFETY: `ptr` is the filter Envoy passed to the running hook.
        let count = unsafe { envoy_dynamic_module_callback_http_get_headers_size(self.ptr, map) };
        // On the stack for the usual request (no allocation): Envoy fills it, the pairs below
        // borrow what it points to, not the array.
        let mut raw: SmallVec<[RawHeader; INLINE_HEADERS]> = SmallVec::from_elem(
            RawHeader {
                key: Buffer::NULL,
                value: Buffer::NULL,
            },
            count,
        );
        // SAFETY: `raw` has room for the `count` headers Envoy just reported, and nothing runs
        // on this worker between the two calls, so the map still has `count` entries.
        let ok = unsafe {
            envoy_dynamic_module_callback_http_get_headers(self.ptr, map, raw.as_mut_ptr())
        };
        if !ok {
            return Vec::new();
        }
        raw.into_iter()
            // SAFETY: Envoy filled each entry with pointers into its header map, valid until
            // the hook returns or a header is set; the result borrows `self`, and every setter
            // takes `&mut self`, so no setter can run while these slices are alive.
            .map(|h| unsafe { (h.key.bytes(), h.value.bytes()) })
            .collect()
    }

    /// The first value of response header `name`, borrowing Envoy's header map (as for
    /// [`FilterHandle::request_headers`], no setter can run while it is alive).
    pub fn response_header(&self, name: &str) -> Option<&[u8]> {
        let mut value = Buffer::NULL;
        // SAFETY: `ptr` is the running hook's filter; key and result are alive for the call.
        let found = unsafe {
            envoy_dynamic_module_callback_http_get_header(
                self.ptr,
                HeaderMap::Response as u32,
                Buffer::of(name.as_bytes()),
                &mut value,
                0,
                std::ptr::null_mut(),
            )
        };
        // SAFETY: on success the buffer points into the header map, valid until the hook returns
        // or a header is set; the result borrows `self`, and every setter takes `&mut self`.
        found.then(|| unsafe { value.bytes() })
    }

    /// Replaces request header `name` with `value`, or removes it (`None`).
    pub fn set_request_header(&mut self, name: &str, value: Option<&str>) {
        self.set(HeaderMap::Request, name, value);
    }

    /// Appends a request header.
    pub fn add_request_header(&mut self, name: &str, value: &str) {
        self.add(HeaderMap::Request, name, value);
    }

    /// Replaces response header `name`.
    pub fn set_response_header(&mut self, name: &str, value: &str) {
        self.set(HeaderMap::Response, name, Some(value));
    }

    /// Appends a response header.
    pub fn add_response_header(&mut self, name: &str, value: &str) {
        self.add(HeaderMap::Response, name, value);
    }

    fn set(&mut self, map: HeaderMap, name: &str, value: Option<&str>) {
        let value = value.map_or(Buffer::NULL, |v| Buffer::of(v.as_bytes()));
        // SAFETY: `ptr` is the running hook's filter; Envoy copies key and value (a null value
        // removes the header).
        unsafe {
            envoy_dynamic_module_callback_http_set_header(
                self.ptr,
                map as u32,
                Buffer::of(name.as_bytes()),
                value,
            );
        }
    }

    fn add(&mut self, map: HeaderMap, name: &str, value: &str) {
        // SAFETY: as in `set`.
        unsafe {
            envoy_dynamic_module_callback_http_add_header(
                self.ptr,
                map as u32,
                Buffer::of(name.as_bytes()),
                Buffer::of(value.as_bytes()),
            );
        }
    }

    /// Makes Envoy match the route again with the headers as they are now. Dynamic modules do
    /// not get the automatic clear that proxy-wasm header writes get.
    pub fn clear_route_cache(&mut self) {
        // SAFETY: `ptr` is the running hook's filter.
        unsafe { envoy_dynamic_module_callback_http_clear_route_cache(self.ptr) }
    }

    /// Adds 1 to counter `id` (defined on this filter's config).
    pub fn increment(&self, id: Option<usize>) {
        // SAFETY: `ptr` is the running hook's filter; `id` was defined on its config.
        unsafe {
            update_metric(
                envoy_dynamic_module_callback_http_filter_increment_counter,
                self.ptr,
                id,
                1,
            )
        }
    }

    /// Records `value` in histogram `id`.
    pub fn record(&self, id: Option<usize>, value: u64) {
        // SAFETY: as in `increment`.
        unsafe {
            update_metric(
                envoy_dynamic_module_callback_http_filter_record_histogram_value,
                self.ptr,
                id,
                value,
            )
        }
    }
}

/// The shape of every metric update callback: owner (a config or a filter), metric id, label
/// values and their count, value.
type MetricUpdate = unsafe extern "C" fn(EnvoyPtr, usize, *const Buffer, usize, u64) -> u32;

/// Applies `update` with `value` to metric `id` of `owner`, without labels; nothing for a metric
/// Envoy refused to define.
///
/// # Safety
/// `owner` must be what `update` expects (the config for config callbacks, the filter for filter
/// callbacks), valid for the running hook, and `id` must have been defined on that config.
unsafe fn update_metric(update: MetricUpdate, owner: EnvoyPtr, id: Option<usize>, value: u64) {
    if let Some(id) = id {
        // SAFETY: per the contract above; no labels (null, 0). A refused update (unknown id)
        // only goes uncounted.
        unsafe {
            update(owner, id, std::ptr::null(), 0, value);
        }
    }
}

/// Runs `body`; a panic is caught (never unwinds into Envoy) and handed to `recover`, whose own
/// panic is caught too.
fn guarded<T>(body: impl FnOnce() -> T, recover: impl FnOnce(String) -> T, fallback: T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            catch_unwind(AssertUnwindSafe(|| recover(message))).unwrap_or(fallback)
        }
    }
}

/// The filter state behind a module pointer.
///
/// # Safety
/// `ptr` must be null or a pointer returned by [`envoy_dynamic_module_on_http_filter_new`] and not
/// yet destroyed; Envoy calls one stream's hooks one at a time, on that stream's worker.
unsafe fn stream<'a>(ptr: ModulePtr) -> Option<&'a mut Stream> {
    // SAFETY: per the contract above, a non-null `ptr` is a live, unaliased `Box<Stream>`.
    unsafe { ptr.cast_mut().cast::<Stream>().as_mut() }
}

fn filter_handle<'h>(ptr: EnvoyPtr) -> FilterHandle<'h> {
    FilterHandle {
        ptr,
        _hook: PhantomData,
    }
}

/// Called once when Envoy loads the module: the ABI version it was built against.
#[no_mangle]
pub extern "C" fn envoy_dynamic_module_on_program_init() -> *const c_char {
    ABI_VERSION.as_ptr()
}

/// A new filter config (bootstrap or ECDS update): parse and validate Veer's routing config and
/// define its metrics. Null refuses the config, and Envoy keeps the one it has.
///
/// # Safety
/// Called by Envoy with its config pointer and two buffers valid for the call.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_new(
    config_envoy: EnvoyPtr,
    _name: Buffer,
    config: Buffer,
) -> ModulePtr {
    let host = ConfigHandle {
        ptr: config_envoy,
        _hook: PhantomData,
    };
    // SAFETY: Envoy's config bytes are valid for this call, and are copied before it returns.
    let bytes = unsafe { config.bytes() };
    let shared = guarded(
        || filter::config_new(&host, bytes),
        |message| {
            log(
                LogLevel::Error,
                &format!("veer: config rejected: panicked: {message}"),
            );
            None
        },
        None,
    );
    match shared {
        Some(shared) => Box::into_raw(Box::new(shared)).cast_const().cast(),
        None => std::ptr::null(),
    }
}

/// # Safety
/// `config` is a pointer returned by `config_new`; Envoy destroys it once, after its last filter.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_config_destroy(config: ModulePtr) {
    if !config.is_null() {
        // SAFETY: `config` came from `Box::into_raw(Box<Arc<Shared>>)` in config_new and is
        // destroyed exactly once.
        drop(unsafe { Box::from_raw(config.cast_mut().cast::<Arc<Shared>>()) });
    }
}

/// # Safety
/// `config` is a live pointer returned by `config_new`.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_new(
    config: ModulePtr,
    _filter_envoy: EnvoyPtr,
) -> ModulePtr {
    // SAFETY: Envoy keeps the config alive while it creates filters from it.
    let Some(shared) = (unsafe { config.cast::<Arc<Shared>>().as_ref() }) else {
        return std::ptr::null();
    };
    let stream = Box::new(Stream::new(Arc::clone(shared)));
    Box::into_raw(stream).cast_const().cast()
}

/// # Safety
/// `filter` is a pointer returned by `filter_new`, destroyed once.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_destroy(filter: ModulePtr) {
    if !filter.is_null() {
        // SAFETY: `filter` came from `Box::into_raw(Box<Stream>)` in filter_new.
        drop(unsafe { Box::from_raw(filter.cast_mut().cast::<Stream>()) });
    }
}

/// The request's headers: strip, decide, write, count.
///
/// # Safety
/// Envoy's filter pointer and this module's stream pointer, for the running hook.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_request_headers(
    filter_envoy: EnvoyPtr,
    filter_module: ModulePtr,
    _end_of_stream: bool,
) -> u32 {
    // SAFETY: see `stream`.
    if let Some(stream) = unsafe { stream(filter_module) } {
        let (shared, routed) = (&*stream.shared, &mut stream.routed);
        guarded(
            || filter::request_headers(shared, routed, &mut filter_handle(filter_envoy)),
            |message| filter::after_panic(shared, &mut filter_handle(filter_envoy), &message),
            (),
        );
    }
    CONTINUE
}

/// The response's headers: what the client is told, and the response metrics.
///
/// # Safety
/// As for the request hook.
#[no_mangle]
pub unsafe extern "C" fn envoy_dynamic_module_on_http_filter_response_headers(
    filter_envoy: EnvoyPtr,
    filter_module: ModulePtr,
    _end_of_stream: bool,
) -> u32 {
    // SAFETY: see `stream`.
    if let Some(stream) = unsafe { stream(filter_module) } {
        guarded(
            || filter::response_headers(stream, &mut filter_handle(filter_envoy)),
            |message| {
                log(
                    LogLevel::Error,
                    &format!("veer: response hook panicked: {message}"),
                )
            },
            (),
        );
    }
    CONTINUE
}

/// The hooks Envoy 1.40 requires of every HTTP filter module, which Veer does not use (it never
/// reads bodies or trailers, starts callouts or streams, or schedules events): they continue.
macro_rules! continue_hooks {
    ($($name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty = $value:expr)?;)*) => {$(
        #[no_mangle]
        pub extern "C" fn $name($(_: $ty),*) $(-> $ret)? {
            $($value)?
        }
    )*};
}

continue_hooks! {
    envoy_dynamic_module_on_http_filter_request_body(f: EnvoyPtr, m: ModulePtr, e: bool) -> u32 = CONTINUE;
    envoy_dynamic_module_on_http_filter_request_trailers(f: EnvoyPtr, m: ModulePtr) -> u32 = CONTINUE;
    envoy_dynamic_module_on_http_filter_response_body(f: EnvoyPtr, m: ModulePtr, e: bool) -> u32 = CONTINUE;
    envoy_dynamic_module_on_http_filter_response_trailers(f: EnvoyPtr, m: ModulePtr) -> u32 = CONTINUE;
    envoy_dynamic_module_on_http_filter_stream_complete(f: EnvoyPtr, m: ModulePtr);
    envoy_dynamic_module_on_http_filter_scheduled(f: EnvoyPtr, m: ModulePtr, id: u64);
    envoy_dynamic_module_on_http_filter_http_callout_done(
        f: EnvoyPtr, m: ModulePtr, id: u64, result: u32, headers: *const RawHeader,
        headers_size: usize, chunks: *const Buffer, chunks_size: usize
    );
    envoy_dynamic_module_on_http_filter_http_stream_headers(
        f: EnvoyPtr, m: ModulePtr, id: u64, headers: *const RawHeader, size: usize, end: bool
    );
    envoy_dynamic_module_on_http_filter_http_stream_data(
        f: EnvoyPtr, m: ModulePtr, id: u64, chunks: *const Buffer, size: usize, end: bool
    );
    envoy_dynamic_module_on_http_filter_http_stream_trailers(
        f: EnvoyPtr, m: ModulePtr, id: u64, trailers: *const RawHeader, size: usize
    );
    envoy_dynamic_module_on_http_filter_http_stream_complete(f: EnvoyPtr, m: ModulePtr, id: u64);
    envoy_dynamic_module_on_http_filter_http_stream_reset(f: EnvoyPtr, m: ModulePtr, id: u64, reason: u32);
    envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark(f: EnvoyPtr, m: ModulePtr);
    envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark(f: EnvoyPtr, m: ModulePtr);
}
