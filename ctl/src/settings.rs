//! The global options resolved once (as uv's `GlobalSettings::resolve`, ripgrep's `HiArgs`): the
//! host veerctl acts on, how it reaches a cluster, how it prints. Commands take these, never the
//! raw flags, so "which host am I on" is decided here and nowhere else.

use crate::cli::{DryRunMode, Global};
use crate::host::envoy::Envoy;
use crate::host::kubernetes::{Cluster, Kubernetes};
use crate::host::Host;
use crate::output::Printer;

/// Everything a command needs from the global options.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where routing commands act: `--envoy DIR`, or Kubernetes without it.
    pub host: Host,
    /// The cluster, for the commands that only exist on Kubernetes (`rollout`, `mesh`,
    /// `bluegreen deploy | status | scale-down`), whatever the host.
    pub cluster: Cluster,
    /// How data is printed.
    pub printer: Printer,
    /// `--dry-run`, and its mode.
    pub dry_run: Option<DryRunMode>,
}

/// The `--admin` URLs (or `VEER_ADMIN`'s), trimmed, without empty ones: `VEER_ADMIN=""` (or a
/// trailing comma) means no proxy, not a proxy at "".
fn admin_urls(given: &[String]) -> Vec<String> {
    given
        .iter()
        .map(|u| u.trim())
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Settings {
    /// Resolves the global options: the one place that looks at `--envoy`.
    pub fn resolve(g: &Global) -> Settings {
        let cluster = Cluster {
            context: g.context.clone(),
            namespace: g.namespace.clone(),
            dry_run: match g.dry_run {
                None => veer_k8s::DryRun::Off,
                Some(DryRunMode::Client) => veer_k8s::DryRun::Client,
                Some(DryRunMode::Server) => veer_k8s::DryRun::Server,
            },
            timeout: g.kube_timeout(),
            quiet: g.quiet,
        };
        let host = match &g.envoy {
            Some(dir) => Host::Envoy(Envoy {
                dir: dir.clone(),
                admins: admin_urls(&g.admins),
                timeout: g.envoy_timeout(),
                dry_run: g.dry_run.is_some(),
                quiet: g.quiet,
            }),
            None => Host::Kubernetes(Kubernetes {
                cluster: cluster.clone(),
                plugin: g.plugin.clone(),
            }),
        };
        Settings {
            host,
            cluster,
            printer: Printer {
                format: g.output,
                colour: crate::output::colour::for_stdout(),
                quiet: g.quiet,
            },
            dry_run: g.dry_run,
        }
    }
}
