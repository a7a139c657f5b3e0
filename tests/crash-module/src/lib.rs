//! `libveer_test_crash_native.so`: Veer's dynamic module, built with its `crash-test` feature, so
//! that a request carrying `x-test-crash` panics inside the request hook. Envoy loads it like the
//! real module; the hooks are `veer_native`'s own, exported from this library.

pub use veer_native::abi::ABI_VERSION;
