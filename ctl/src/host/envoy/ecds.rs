//! The ECDS resource a standalone Envoy watches: Veer's filter (the proxy-wasm build or the
//! dynamic module) with its routing config.
//!
//! Envoy reloads the filter when a new file is renamed over the watched one, so writing is
//! always temp file + fsync + rename in the same directory: Envoy never sees a half-written file.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

/// Name of the filter in the bootstrap (`http_filters[].name`) and of the resource.
pub const FILTER_NAME: &str = "veer";
/// File Envoy watches inside the ECDS directory.
pub const FILE_NAME: &str = "veer.json";

/// The build of Veer's filter a resource loads: the proxy knows it from the resource's type, so
/// veerctl reads it back from the live file and keeps it for every later edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// The proxy-wasm filter: its .wasm on the proxy's disk (`--wasm`).
    Wasm(PathBuf),
    /// The dynamic module by name (`--module`): Envoy loads `lib<name>.so` from its
    /// `ENVOY_DYNAMIC_MODULES_SEARCH_PATH`.
    Native(String),
}

/// Type URL of the dynamic-module HTTP filter's config.
pub const NATIVE_TYPE: &str =
    "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter";
/// Type URL of the wasm HTTP filter's config.
pub const WASM_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";

/// Everything the ECDS resource needs.
#[derive(Debug, Clone)]
pub struct Resource<'a> {
    /// Routing config as JSON (the filter's `configuration`).
    pub config_json: &'a str,
    /// The filter that runs it.
    pub filter: &'a Filter,
    /// Version text Envoy reports for this resource.
    pub version: u64,
}

impl Resource<'_> {
    /// The discovery response Envoy reads from the watched file.
    pub fn render(&self) -> String {
        let doc = json!({
            "version_info": self.version.to_string(),
            "resources": [{
                "@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
                "name": FILTER_NAME,
                "typed_config": filter_config(self.config_json, self.filter)
            }]
        });
        format!("{doc:#}\n")
    }
}

/// Veer's filter config for `filter` with routing config `config_json`: the same for the ECDS
/// file and the bootstrap's fallback config.
pub fn filter_config(config_json: &str, filter: &Filter) -> serde_json::Value {
    match filter {
        Filter::Wasm(path) => wasm_filter(config_json, path),
        Filter::Native(name) => native_filter(config_json, name),
    }
}

/// Veer's dynamic module `name` with the routing config `config_json`. It has no failure policy:
/// it cannot be skipped, and a panic is caught inside the module (README "Veer native").
pub fn native_filter(config_json: &str, name: &str) -> serde_json::Value {
    json!({
        "@type": NATIVE_TYPE,
        // do_not_close: the module stays loaded across config updates (no dlclose while a
        // worker may still run its code).
        "dynamic_module_config": { "name": name, "do_not_close": true },
        "filter_name": FILTER_NAME,
        "filter_config": {
            "@type": "type.googleapis.com/google.protobuf.StringValue",
            "value": config_json
        }
    })
}

/// Veer's filter as Envoy's wasm filter config: `wasm_path` run by V8 with the routing config
/// `config_json`. The same for the ECDS file and the bootstrap's fallback config.
pub fn wasm_filter(config_json: &str, wasm_path: &Path) -> serde_json::Value {
    json!({
        "@type": WASM_TYPE,
        "config": {
            "name": FILTER_NAME,
            "root_id": FILTER_NAME,
            "vm_config": {
                "vm_id": FILTER_NAME,
                "runtime": "envoy.wasm.runtime.v8",
                "code": { "local": { "filename": wasm_path.to_string_lossy() } }
            },
            "configuration": {
                "@type": "type.googleapis.com/google.protobuf.StringValue",
                "value": config_json
            },
            // A crashed VM is restarted; the filter is never skipped (FAIL_OPEN would let a
            // client-sent cluster header choose the route).
            "failure_policy": "FAIL_RELOAD",
            // Not before this long after the VM was created: Envoy's default (1 s) fails every
            // request of a worker whose VM crashes right after an update for up to a second.
            "reload_config": { "backoff": { "base_interval": "0.050s" } }
        }
    })
}

/// Where the watched file lives in `dir`.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Writes `contents` to `dir/veer.json` atomically (temp file in `dir`, fsync, rename).
pub fn write_atomically(dir: &Path, contents: &str) -> std::io::Result<()> {
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(contents.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path_in(dir)).map_err(|e| e.error)?;
    Ok(())
}

/// What veerctl needs back from a watched file.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The routing config JSON.
    pub config_json: String,
    /// The filter that runs it.
    pub filter: Filter,
    /// `version_info`.
    pub version: u64,
}

/// Reads back a resource written by [`Resource::render`].
pub fn parse(text: &str) -> Result<Parsed, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not an ECDS resource: {e}"))?;
    let typed = &doc["resources"][0]["typed_config"];
    let (config_json, filter) = match typed["@type"].as_str() {
        Some(NATIVE_TYPE) => parse_native(typed)?,
        _ => parse_wasm(&typed["config"])?,
    };
    let version = doc["version_info"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(Parsed {
        config_json,
        filter,
        version,
    })
}

fn parse_wasm(config: &serde_json::Value) -> Result<(String, Filter), String> {
    let config_json = config["configuration"]["value"]
        .as_str()
        .ok_or("no resources[0].typed_config.config.configuration.value")?;
    let path = config["vm_config"]["code"]["local"]["filename"]
        .as_str()
        .ok_or("no vm_config.code.local.filename")?;
    Ok((config_json.to_owned(), Filter::Wasm(path.into())))
}

fn parse_native(typed: &serde_json::Value) -> Result<(String, Filter), String> {
    let config_json = typed["filter_config"]["value"]
        .as_str()
        .ok_or("no resources[0].typed_config.filter_config.value")?;
    let name = typed["dynamic_module_config"]["name"]
        .as_str()
        .ok_or("no resources[0].typed_config.dynamic_module_config.name")?;
    Ok((config_json.to_owned(), Filter::Native(name.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered() -> serde_json::Value {
        let text = Resource {
            config_json: r#"{"services":[]}"#,
            filter: &Filter::Wasm("/opt/veer.wasm".into()),
            version: 7,
        }
        .render();
        serde_json::from_str(&text).unwrap()
    }

    /// Envoy reads the failure policy from the ECDS resource, not from the bootstrap: without
    /// FAIL_RELOAD here a crashed VM means FAIL_CLOSED (every request 503), and FAIL_OPEN would
    /// skip the filter and let a client-sent cluster header choose the route.
    #[test]
    fn the_resource_pins_the_fail_reload_policy() {
        let doc = rendered();
        let config = &doc["resources"][0]["typed_config"]["config"];
        assert_eq!(config["failure_policy"], "FAIL_RELOAD", "{doc:#}");
    }

    #[test]
    fn a_rendered_resource_parses_back() {
        let text = rendered().to_string();
        let parsed = parse(&text).unwrap();
        assert_eq!(parsed.version, 7);
        assert_eq!(parsed.filter, Filter::Wasm("/opt/veer.wasm".into()));
        assert_eq!(parsed.config_json, r#"{"services":[]}"#);
    }

    /// The native resource is what deploy/envoy/envoy-native.yaml's fallback config declares
    /// (the bootstrap's `type_urls` accept only that type), and reads back as the native build.
    #[test]
    fn a_native_resource_is_the_dynamic_module_and_parses_back() {
        let filter = Filter::Native("veer_native".into());
        let text = Resource {
            config_json: r#"{"services":[]}"#,
            filter: &filter,
            version: 9,
        }
        .render();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let typed = &doc["resources"][0]["typed_config"];
        assert_eq!(typed["@type"], NATIVE_TYPE);
        assert_eq!(typed["filter_name"], FILTER_NAME);
        assert_eq!(typed["dynamic_module_config"]["name"], "veer_native");
        assert_eq!(typed["dynamic_module_config"]["do_not_close"], true);
        let parsed = parse(&text).unwrap();
        assert_eq!((parsed.version, parsed.filter), (9, filter));
        assert_eq!(parsed.config_json, r#"{"services":[]}"#);
    }
}
