//! The ECDS resource for Veer's dynamic module: the same routing config as the wasm filter's
//! resource (`veer_ctl::ecds`), in Envoy's `DynamicModuleFilter`. veerctl renders only the wasm
//! resource so far; this is the shape it should write for a native proxy.

use serde_json::json;

/// The module Envoy loads for Veer (`libveer_native.so`, `make native`).
pub const MODULE: &str = "veer_native";
/// The test module that panics on a request carrying `x-test-crash` (`tests/crash-module`).
pub const CRASH_MODULE: &str = "veer_test_crash_native";

/// The discovery response Envoy reads from the watched file: filter `veer` is the dynamic module
/// `module` (found in `ENVOY_DYNAMIC_MODULES_SEARCH_PATH`) with `config_json` as its config.
pub fn resource(config_json: &str, module: &str, version: u64) -> String {
    let doc = json!({
        "version_info": version.to_string(),
        "resources": [{
            "@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
            "name": "veer",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter",
                // do_not_close: the module stays loaded across config updates.
                "dynamic_module_config": { "name": module, "do_not_close": true },
                "filter_name": "veer",
                "filter_config": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": config_json
                }
            }
        }]
    });
    format!("{doc:#}\n")
}
