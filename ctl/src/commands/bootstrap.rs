//! `bootstrap`: an Envoy bootstrap that runs Veer in front of the given clusters, for starting a
//! standalone Envoy by hand (README "Starting Envoy by hand").

use crate::cli::{BootstrapArgs, Output};
use crate::error::Result;
use crate::host::envoy::bootstrap::{absolute, Bootstrap, Cluster, Headers};
use crate::host::envoy::{ecds, wasm};
use crate::output::{print_json, yaml};
use crate::settings::Settings;

/// The comment above the YAML.
const HEADER: &str =
    "Envoy bootstrap for Veer, written by `veerctl bootstrap`. What each part is for, and the
safety properties it keeps: deploy/envoy/envoy.yaml, the same bootstrap for the demo.
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
        wasm: wasm::resolve(&a.wasm)?,
        headers: Headers::of(live.as_ref().map(|c| &c.wire)),
    };
    let value = bootstrap.render()?;
    match s.printer.format {
        Output::Json => print_json(&value)?,
        Output::Table => print!("{}", yaml::to_yaml(&value, HEADER)?),
    }
    if s.printer.quiet {
        return Ok(());
    }
    let dir = bootstrap.ecds_dir.display();
    match live {
        None => eprintln!(
            "note: Envoy does not start before {dir}/{} exists: write the first config with `veerctl --envoy {dir} apply -f FILE --wasm {} --no-wait`, then start Envoy on this bootstrap",
            ecds::FILE_NAME,
            bootstrap.wasm.display()
        ),
        Some(c) => {
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
