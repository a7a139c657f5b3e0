//! The ECDS resource a standalone Envoy watches: Veer's wasm filter with its routing config.
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

/// Everything the ECDS resource needs.
#[derive(Debug, Clone)]
pub struct Resource<'a> {
    /// Routing config as JSON (the filter's `configuration`).
    pub config_json: &'a str,
    /// The compiled filter on the proxy's disk.
    pub wasm_path: &'a Path,
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
                "typed_config": wasm_filter(self.config_json, self.wasm_path)
            }]
        });
        format!("{doc:#}\n")
    }
}

/// Veer's filter as Envoy's wasm filter config: `wasm_path` run by V8 with the routing config
/// `config_json`. The same for the ECDS file and the bootstrap's fallback config.
pub fn wasm_filter(config_json: &str, wasm_path: &Path) -> serde_json::Value {
    json!({
        "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
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
    /// The wasm file.
    pub wasm_path: PathBuf,
    /// `version_info`.
    pub version: u64,
}

/// Reads back a resource written by [`Resource::render`].
pub fn parse(text: &str) -> Result<Parsed, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not an ECDS resource: {e}"))?;
    let config = &doc["resources"][0]["typed_config"]["config"];
    let config_json = config["configuration"]["value"]
        .as_str()
        .ok_or("no resources[0].typed_config.config.configuration.value")?
        .to_owned();
    let wasm_path = config["vm_config"]["code"]["local"]["filename"]
        .as_str()
        .ok_or("no vm_config.code.local.filename")?
        .into();
    let version = doc["version_info"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Ok(Parsed {
        config_json,
        wasm_path,
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered() -> serde_json::Value {
        let text = Resource {
            config_json: r#"{"services":[]}"#,
            wasm_path: Path::new("/opt/veer.wasm"),
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
        assert_eq!(parsed.wasm_path, Path::new("/opt/veer.wasm"));
        assert_eq!(parsed.config_json, r#"{"services":[]}"#);
    }
}
