//! `mesh install`: Veer's WasmPlugin first, then the DestinationRules and VirtualServices that
//! obey its cluster header. Kubernetes with Istio only.

use std::collections::BTreeMap;
use std::path::Path;

use veer_k8s::mesh::{
    self, FailStrategy, FailStrategyChoice, MeshSpec, PluginSettings, ServiceRoutes, Sha256,
};
use veer_k8s::plugin_live::{PluginWait, PortForward};

use super::print_outcome;
use crate::cli::{FailStrategyArg, MeshCommand};
use crate::config::source;
use crate::error::{CliError, Result};
use crate::host::kubernetes::err;
use crate::settings::Settings;

/// `mesh install`.
pub fn run(s: &Settings, c: &MeshCommand) -> Result<()> {
    let MeshCommand::Install {
        file,
        plugin_url,
        sha256,
        wasm,
        selectors,
        routes,
        gateways,
        no_wait,
        fail_strategy,
    } = c;
    let loaded = source::load_file(file)?;
    loaded.validate(&file.display().to_string())?;
    let digest = plugin_digest(plugin_url, sha256.as_deref(), wasm.as_deref())?;
    let mut plugin = PluginSettings::new(plugin_url, Some(digest));
    plugin.selector = pairs(selectors, "--selector")?;
    plugin.fail_strategy = match fail_strategy {
        FailStrategyArg::Auto => FailStrategyChoice::Detect,
        FailStrategyArg::Reload => FailStrategyChoice::Use(FailStrategy::FailReload),
        FailStrategyArg::Close => FailStrategyChoice::Use(FailStrategy::FailClose),
    };
    let hosts = pairs(routes, "--route")?;
    let routes = loaded
        .wire
        .services
        .iter()
        .map(|s| ServiceRoutes {
            service: s.name.clone(),
            host: hosts
                .get(&s.name)
                .cloned()
                .unwrap_or_else(|| s.name.clone()),
            gateways: gateways.clone(),
            ..ServiceRoutes::default()
        })
        .collect();
    let spec = MeshSpec {
        plugin,
        config: loaded.wire,
        routes,
    };
    let reporter = s.cluster.reporter();
    let wait = PluginWait {
        opts: s.cluster.wait_options(),
        reader: PortForward,
    };
    let out = s.cluster.run(|t| async move {
        if *no_wait {
            mesh::mesh_install(&t, &spec, &reporter).await
        } else {
            mesh::mesh_install_waiting(&t, &spec, &wait, &reporter).await
        }
        .map_err(err)
    })?;
    let summary = format!("installed, in this order: {}", out.applied.join(", "));
    print_outcome(s, &out, &summary, &out.requests)
}

/// The digest the WasmPlugin carries: --sha256 as given, or the SHA-256 of --wasm FILE.
fn plugin_digest(url: &str, hex: Option<&str>, wasm: Option<&Path>) -> Result<Sha256> {
    match (hex, wasm) {
        (Some(hex), _) => Sha256::parse(hex).map_err(err),
        (None, Some(_)) if url.starts_with("oci://") => Err(CliError::failed(
            "--wasm gives the module's SHA-256, but for an oci:// URL Istio checks the image's \
             digest: give --sha256 with the digest your registry printed on push (without `sha256:`)",
        )),
        (None, Some(path)) => std::fs::read(path)
            .map(|bytes| Sha256::of(&bytes))
            .map_err(|e| CliError::io(format!("read --wasm {}", path.display()), e)),
        (None, None) => Err(CliError::failed(
            "mesh install needs the module's digest: --sha256 HEX or --wasm FILE",
        )),
    }
}

fn pairs(items: &[String], flag: &str) -> Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|i| {
            i.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| CliError::failed(format!("{flag} {i:?} must look like KEY=VALUE")))
        })
        .collect()
}
