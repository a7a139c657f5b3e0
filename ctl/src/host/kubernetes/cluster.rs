//! How veerctl reaches a cluster: the kubeconfig context and namespace, the dry-run mode and how
//! long a wait may take, resolved once from the global options. Nothing is read until a command
//! needs the cluster; then veer-k8s operations run on a small tokio runtime.

use std::future::Future;
use std::time::Duration;

use veer_k8s::{DryRun, Target, WaitOptions};

use crate::error::{CliError, Result};
use crate::output::progress::StderrReporter;

/// One namespace of one cluster, as the global options name it.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The kubeconfig context (`None`: the current one, or the pod's service account).
    pub context: Option<String>,
    /// The namespace (`None`: the context's).
    pub namespace: Option<String>,
    /// Whether writes are sent, sent with dryRun=All, or only printed.
    pub dry_run: DryRun,
    /// How long a wait (a rollout, a change reaching the sidecars) may take.
    pub timeout: Duration,
    /// `--quiet`: no progress on stderr.
    pub quiet: bool,
}

impl Cluster {
    /// Runs `f` on a current-thread runtime with a target built from the kubeconfig.
    pub fn run<T, F, Fut>(&self, f: F) -> Result<T>
    where
        F: FnOnce(Target) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| CliError::io("start the async runtime", e))?;
        runtime.block_on(async {
            let target = self.target().await?;
            f(target).await
        })
    }

    async fn target(&self) -> Result<Target> {
        // With more than one rustls crypto backend in the build (feature unification across the
        // workspace can bring in aws-lc-rs next to ring), rustls refuses to guess: choose ring,
        // the one kube is built with. An error only means a provider is installed already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let options = kube::config::KubeConfigOptions {
            context: self.context.clone(),
            ..Default::default()
        };
        let config = match self.context {
            // Without --context, a pod's service account is used when there is no kubeconfig:
            // the scale-down CronJob (deploy/k8s/scale-down-cronjob.yaml) runs veerctl in the
            // cluster.
            None => kube::Config::infer()
                .await
                .map_err(|e| CliError::failed(NO_KUBECONFIG).with_source(e)),
            Some(_) => kube::Config::from_kubeconfig(&options)
                .await
                .map_err(|e| CliError::failed(NO_KUBECONFIG).with_source(e)),
        }?;
        let namespace = self
            .namespace
            .clone()
            .unwrap_or_else(|| config.default_namespace.clone());
        let client = kube::Client::try_from(config).map_err(|e| {
            CliError::failed(format!("failed to create a Kubernetes client: {e}")).with_source(e)
        })?;
        Ok(Target::new(client, namespace).with_dry_run(self.dry_run))
    }

    /// How long a Kubernetes wait may take (--timeout), polled at the default interval.
    pub fn wait_options(&self) -> WaitOptions {
        WaitOptions {
            timeout: self.timeout,
            ..WaitOptions::default()
        }
    }

    /// Progress of veer-k8s operations on stderr, honouring `--quiet`.
    pub fn reporter(&self) -> StderrReporter {
        StderrReporter::new(self.quiet)
    }
}

/// What to do when there is no usable kubeconfig (the cause follows as the error's source).
const NO_KUBECONFIG: &str = "failed to load the kubeconfig; set KUBECONFIG or --context for Kubernetes, or pass --envoy DIR for a standalone Envoy";

/// Maps a veer-k8s error to veerctl's exit codes, keeping it as the source.
pub fn err(e: veer_k8s::Error) -> CliError {
    let text = e.to_string();
    let made = if e.is_conflict() || matches!(e, veer_k8s::Error::Conflict { .. }) {
        CliError::conflict(text)
    } else {
        match e {
            veer_k8s::Error::Timeout { .. }
            | veer_k8s::Error::NotAvailable { .. }
            | veer_k8s::Error::PluginNotLive { .. }
            | veer_k8s::Error::NoSidecar { .. }
            | veer_k8s::Error::ConfigNotLive { .. } => CliError::not_verified(text),
            _ => CliError::failed(text),
        }
    };
    made.with_source(e)
}
