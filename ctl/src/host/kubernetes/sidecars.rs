//! The sidecars' own counters, read through port-forwards to their admin port with the same
//! paths `--admin` reads, so both hosts turn them into the same snapshots (named by pod). The
//! pods are listed at every reading: one that came up is read from then on, one that went away
//! is no longer read.

use std::time::Duration;

use veer_k8s::plugin_live::{running_sidecars, PortForward, SidecarReader};
use veer_k8s::{Reporter, Target};

use super::{err, Kubernetes};
use crate::error::{CliError, Result};
use crate::observe::snapshot::{self, Snapshot};
#[cfg(test)]
use crate::observe::status::{self, Baselines};
#[cfg(test)]
use crate::observe::window::over_window;
use crate::observe::window::Readings;

impl Kubernetes {
    /// Every running sidecar of `selectors`, listed now, read once.
    pub fn read_sidecars(&self, selectors: &[String]) -> Result<Readings> {
        let reporter = self.cluster.reporter();
        let reporter = &reporter;
        self.cluster.run(|t| async move {
            let pods = sidecars(&t, selectors).await?;
            Ok(read_all(&t, &PortForward, &pods, reporter).await)
        })
    }
}

/// How the output names the window.
pub fn window_label(window: Duration) -> String {
    if window.is_zero() {
        "since each sidecar started".to_owned()
    } else {
        format!("over the last {}", humantime::format_duration(window))
    }
}

/// The running pods with a sidecar matching any of `selectors` (each pod once), or what to do
/// when there is none.
async fn sidecars(t: &Target, selectors: &[String]) -> Result<Vec<String>> {
    let mut pods: Vec<String> = Vec::new();
    for selector in selectors {
        let what = format!("pods {selector:?} in namespace {}", t.namespace);
        for pod in running_sidecars(t, selector, &what).await.map_err(err)? {
            if !pods.contains(&pod) {
                pods.push(pod);
            }
        }
    }
    if pods.is_empty() {
        return Err(CliError::failed(format!(
            "failed to find a running pod with an istio-proxy sidecar matching {} in namespace {}: \
             give --selector with the labels of the workloads that run the Veer plugin \
             (`kubectl get pods --show-labels`)",
            if selectors.is_empty() {
                "the WasmPlugin's targets".to_owned()
            } else {
                selectors
                    .iter()
                    .map(|s| if s.is_empty() { "any labels" } else { s })
                    .collect::<Vec<_>>()
                    .join(" or ")
            },
            t.namespace
        )));
    }
    Ok(pods)
}

/// One sidecar's snapshot, named by its pod: what `--admin` reads ([`snapshot::STATS_PATH`] and
/// [`snapshot::LATENCY_PATH`]), read through `reader`.
async fn snapshot<R: SidecarReader>(
    t: &Target,
    reader: &R,
    pod: &str,
) -> std::result::Result<Snapshot, String> {
    let stats = reader
        .read(t, pod, snapshot::STATS_PATH)
        .await
        .map_err(|e| e.to_string())?;
    let latency = reader
        .read(t, pod, snapshot::LATENCY_PATH)
        .await
        .map_err(|e| e.to_string())?;
    snapshot::snapshot_from(pod, &stats, &latency)
        .map_err(|e| format!("pod {pod}'s sidecar does not answer like an Envoy admin API ({e})"))
}

/// Every pod's snapshot, one after the other.
async fn read_all<R: SidecarReader>(
    t: &Target,
    reader: &R,
    pods: &[String],
    reporter: &dyn Reporter,
) -> Readings {
    let mut out = Vec::new();
    for pod in pods {
        reporter.progress(&format!("Reading Envoy stats of pod {pod}"));
        out.push((pod.clone(), snapshot(t, reader, pod).await));
    }
    out
}

#[cfg(test)]
mod tests;
