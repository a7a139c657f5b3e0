//! `bootstrap`: an Envoy bootstrap that runs Veer in front of the given clusters, for starting a
//! standalone Envoy by hand (README "Starting Envoy by hand"), for either build.

use std::path::Path;

use crate::cli::{BootstrapArgs, Output};
use crate::error::{CliError, Result};
use crate::host::envoy::bootstrap::{absolute, Bootstrap, Cluster, Headers};
use crate::host::envoy::change::GivenFilter;
use crate::host::envoy::ecds::{self, Filter};
use crate::host::envoy::native;
use crate::output::{print_json, yaml};
use crate::settings::Settings;

/// The comment above the YAML of the proxy-wasm build.
const HEADER_WASM: &str =
    "Envoy bootstrap for Veer, written by `veerctl bootstrap`. What each part is for, and the
safety properties it keeps: deploy/envoy/envoy.yaml, the same bootstrap for the demo.
Admin API on 127.0.0.1 only: it can change and stop the proxy.";

/// The comment above the YAML of the native build.
const HEADER_NATIVE: &str =
    "Envoy bootstrap for Veer native (the dynamic module), written by `veerctl bootstrap --module`.
What each part is for, and the safety properties it keeps: deploy/envoy/envoy-native.yaml, the
same bootstrap for the demo. Envoy loads lib<name>.so from the directory in its environment
variable ENVOY_DYNAMIC_MODULES_SEARCH_PATH: set it when starting Envoy.
Admin API on 127.0.0.1 only: it can change and stop the proxy.";

/// `bootstrap`: YAML (or JSON with `-o json`) on stdout; on stderr, what is still missing
/// before Envoy can start on it.
pub fn run(s: &Settings, a: &BootstrapArgs) -> Result<()> {
    let envoy = s.host.envoy()?;
    let live = envoy.current()?;
    let bootstrap = Bootstrap {
        clusters: a
            .clusters
            .iter()
            .map(|c| Cluster::parse(c))
            .collect::<Result<_>>()?,
        listen: (a.listen_address.clone(), a.listen_port),
        admin_port: a.admin_port,
        ecds_dir: absolute(&envoy.dir, "--envoy")?,
        filter: given(a)?.resolve()?,
        headers: Headers::of(live.as_ref().map(|c| &c.wire)),
    };
    let value = bootstrap.render()?;
    match s.printer.format {
        Output::Json => print_json(&value)?,
        Output::Table => {
            let header = match bootstrap.filter {
                Filter::Wasm(_) => HEADER_WASM,
                Filter::Native(_) => HEADER_NATIVE,
            };
            print!("{}", yaml::to_yaml(&value, header)?)
        }
    }
    if s.printer.quiet {
        return Ok(());
    }
    let dir = bootstrap.ecds_dir.display();
    if let Filter::Native(name) = &bootstrap.filter {
        let search = a.module.as_deref().and_then(native::search_dir);
        eprintln!(
            "note: start Envoy with ENVOY_DYNAMIC_MODULES_SEARCH_PATH={}: Envoy loads lib{name}.so from there, and refuses to start without it",
            search.map_or_else(
                || format!("<the directory holding lib{name}.so>"),
                |d| d.display().to_string()
            )
        );
    }
    match live {
        None => eprintln!(
            "note: Envoy does not start before {dir}/{} exists: write the first config with `veerctl --envoy {dir} apply -f FILE {} --no-wait`, then start Envoy on this bootstrap",
            ecds::FILE_NAME,
            filter_flag(&bootstrap.filter, a.module.as_deref()),
        ),
        Some(c) => {
            if build(&c.filter) != build(&bootstrap.filter) {
                eprintln!(
                    "warning: the live config loads the {} build, and this bootstrap accepts only the {}: Envoy would refuse that file and start on the fallback config (every request to the stable cluster); write it again for this build with `veerctl --envoy {dir} apply -f FILE {}`",
                    build(&c.filter),
                    build(&bootstrap.filter),
                    filter_flag(&bootstrap.filter, a.module.as_deref()),
                );
            }
            let missing = bootstrap.missing_clusters(&c.wire);
            if !missing.is_empty() {
                eprintln!(
                    "warning: the live config routes to clusters this bootstrap does not define ({}): their requests would get 503; add them with --cluster NAME=HOST:PORT",
                    missing.join(", ")
                );
            }
        }
    }
    Ok(())
}

/// `--wasm` or `--module` (clap requires exactly one).
fn given(a: &BootstrapArgs) -> Result<GivenFilter> {
    match (&a.wasm, &a.module) {
        (Some(wasm), _) => Ok(GivenFilter::Wasm(wasm.clone())),
        (None, Some(module)) => Ok(GivenFilter::Module(module.clone())),
        (None, None) => Err(CliError::failed(
            "no filter: pass --wasm PATH (the proxy-wasm build) or --module NAME_OR_DIR (Veer native)",
        )),
    }
}

/// The build's name, as the README says it.
fn build(filter: &Filter) -> &'static str {
    match filter {
        Filter::Wasm(_) => "proxy-wasm",
        Filter::Native(_) => "native (dynamic module)",
    }
}

/// The flag that makes the first `apply` write the same build as this bootstrap.
fn filter_flag(filter: &Filter, module: Option<&Path>) -> String {
    match (filter, module) {
        (Filter::Wasm(path), _) => format!("--wasm {}", path.display()),
        (Filter::Native(_), Some(given)) => format!("--module {}", given.display()),
        (Filter::Native(name), None) => format!("--module {name}"),
    }
}
