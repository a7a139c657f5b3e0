//! Veer's dynamic module as the tests load it. Its ECDS resource is veerctl's
//! (`veer_ctl::host::envoy::ecds::Filter::Native`), as for the wasm build.

/// The module Envoy loads for Veer (`libveer_native.so`, `make native`).
pub const MODULE: &str = "veer_native";
/// The test module that panics on a request carrying `x-test-crash` (`tests/crash-module`).
pub const CRASH_MODULE: &str = "veer_test_crash_native";
