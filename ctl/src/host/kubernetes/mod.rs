//! veerctl on Kubernetes: builds the target from the kubeconfig and the global options, runs
//! veer-k8s operations on a small tokio runtime, and prints their outcomes. Commands act on
//! Kubernetes whenever --envoy is not given.

use std::collections::BTreeMap;
use std::future::Future;

use serde::Serialize;
use veer_filter::config::WireConfig;
use veer_k8s::plugin_config::UpdateOptions;
use veer_k8s::plugin_live::{PluginWait, PortForward};
use veer_k8s::{DryRun, PlannedRequest, Reporter, Target, WaitOptions};

pub mod sidecars;

use crate::cli::{DryRunMode, Global, Output};
use crate::commands::print_json;
use crate::error::{CliError, Result};

/// Runs `f` on a current-thread runtime with a target built from the kubeconfig.
pub fn run<T, F, Fut>(g: &Global, f: F) -> Result<T>
where
    F: FnOnce(Target) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::io("start the async runtime", e))?;
    runtime.block_on(async {
        let target = target(g).await?;
        f(target).await
    })
}

async fn target(g: &Global) -> Result<Target> {
    // With more than one rustls crypto backend in the build (feature unification across the
    // workspace can bring in aws-lc-rs next to ring), rustls refuses to guess: choose ring, the
    // one kube is built with. An error only means a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let options = kube::config::KubeConfigOptions {
        context: g.context.clone(),
        ..Default::default()
    };
    let config = match g.context {
        // Without --context, a pod's service account is used when there is no kubeconfig: the
        // scale-down CronJob (deploy/k8s/scale-down-cronjob.yaml) runs veerctl in the cluster.
        None => kube::Config::infer().await.map_err(|e| e.to_string()),
        Some(_) => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| e.to_string()),
    }
    .map_err(|e| {
        CliError::failed(format!(
            "failed to load the kubeconfig ({e}); set KUBECONFIG or --context for Kubernetes, or pass --envoy DIR for a standalone Envoy"
        ))
    })?;
    let namespace = g
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = kube::Client::try_from(config)
        .map_err(|e| CliError::failed(format!("failed to create a Kubernetes client: {e}")))?;
    let dry_run = match g.dry_run {
        None => DryRun::Off,
        Some(DryRunMode::Client) => DryRun::Client,
        Some(DryRunMode::Server) => DryRun::Server,
    };
    Ok(Target::new(client, namespace).with_dry_run(dry_run))
}

/// How long a Kubernetes wait may take (--timeout), polled at the default interval.
pub fn wait_options(g: &Global) -> WaitOptions {
    WaitOptions {
        timeout: g.kube_timeout(),
        ..WaitOptions::default()
    }
}

/// Maps a veer-k8s error to veerctl's exit codes.
pub fn err(e: veer_k8s::Error) -> CliError {
    let text = e.to_string();
    if e.is_conflict() || matches!(e, veer_k8s::Error::Conflict { .. }) {
        CliError::Conflict(text)
    } else {
        match e {
            veer_k8s::Error::InvalidConfig(_) => CliError::failed(text),
            veer_k8s::Error::Timeout { .. }
            | veer_k8s::Error::NotAvailable { .. }
            | veer_k8s::Error::PluginNotLive { .. }
            | veer_k8s::Error::ConfigNotLive { .. } => CliError::NotVerified(text),
            _ => CliError::failed(text),
        }
    }
}

/// Progress lines on stderr, kubectl style (one line per new message).
pub struct StderrReporter {
    quiet: bool,
}

impl StderrReporter {
    /// A reporter honouring `--quiet`.
    pub fn new(g: &Global) -> StderrReporter {
        StderrReporter { quiet: g.quiet }
    }
}

impl Reporter for StderrReporter {
    fn progress(&self, message: &str) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }

    fn warning(&self, message: &str) {
        eprintln!("warning: {message}");
    }
}

/// Prints an outcome: JSON with -o json; otherwise `summary`, then (in dry-run) the requests.
pub fn print<T: Serialize>(
    g: &Global,
    outcome: &T,
    summary: &str,
    requests: &[PlannedRequest],
) -> Result<()> {
    match g.output {
        Output::Json => print_json(outcome),
        Output::Table => {
            if g.dry_run.is_some() {
                println!(
                    "dry run ({}): {summary}",
                    if g.dry_run == Some(DryRunMode::Server) {
                        "server"
                    } else {
                        "nothing sent"
                    }
                );
                for r in requests {
                    println!("\n{r}");
                }
            } else {
                println!("{summary}");
            }
            Ok(())
        }
    }
}

/// Applies a config edit to the WasmPlugin's pluginConfig with optimistic concurrency (a
/// concurrent writer makes it re-read and re-apply the edit, never overwrite), then waits up to
/// --timeout until every sidecar the plugin runs in runs it (exit code 4 otherwise), as the
/// Envoy path verifies every change.
pub fn change(g: &Global, what: &str, edit: impl Fn(&mut WireConfig) -> Result<()>) -> Result<()> {
    let reporter = StderrReporter::new(g);
    let wait = PluginWait {
        opts: wait_options(g),
        reader: PortForward,
    };
    let update = run(g, |target| async move {
        let f = |mut wire: WireConfig| -> veer_k8s::Result<WireConfig> {
            edit(&mut wire).map_err(|e| veer_k8s::Error::Invalid {
                what: what.to_owned(),
                reason: e.to_string(),
            })?;
            Ok(wire)
        };
        veer_k8s::plugin_config::update_plugin_config_waiting(
            &target,
            &g.plugin,
            f,
            &UpdateOptions::default(),
            &wait,
            &reporter,
        )
        .await
        .map_err(err)
    })?;
    let splits: BTreeMap<&str, String> = update
        .config
        .services
        .iter()
        .map(|s| (s.name.as_str(), crate::config::edit::split_summary(s)))
        .collect();
    let mut summary = format!(
        "{what}: WasmPlugin {} now carries version {} ({} attempt{})",
        update.name,
        update.version,
        update.attempts,
        if update.attempts == 1 { "" } else { "s" }
    );
    for (s, p) in splits {
        summary.push_str(&format!("\n  {s}: {p}"));
    }
    match update.live_in {
        Some(0) => summary.push_str("\n  not verified: no sidecar runs the plugin"),
        Some(n) => summary.push_str(&format!("\n  verified live in {n} sidecar(s)")),
        None => {}
    }
    summary.push_str(
        "\n  observed split: `veerctl status` (the plugin's sidecars, or --selector LABELS)",
    );
    print(g, &update, &summary, &update.requests)
}
