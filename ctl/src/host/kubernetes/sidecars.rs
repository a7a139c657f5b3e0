//! The sidecars' own counters, read through port-forwards to their admin port with the same
//! paths `--admin` reads, so both hosts turn them into the same snapshots (named by pod). The
//! pods are listed at every reading: one that came up is read from then on, one that went away
//! is no longer read.

use std::time::Duration;

use veer_k8s::plugin_live::{running_sidecars, PortForward, SidecarReader, READS_AT_ONCE};
use veer_k8s::{Reporter, Target};

use super::{err, Kubernetes};
use crate::error::{CliError, Result};
use crate::observe::snapshot;
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

/// Every pod's snapshot (what `--admin` reads: [`snapshot::STATS_PATH`] and
/// [`snapshot::LATENCY_PATH`]), read through `reader`, [`READS_AT_ONCE`] pods at a time, each
/// given up after the read timeout.
async fn read_all<R: SidecarReader>(
    t: &Target,
    reader: &R,
    pods: &[String],
    reporter: &dyn Reporter,
) -> Readings {
    reporter.progress(&format!(
        "Reading Envoy stats of {} pod(s), {READS_AT_ONCE} at a time",
        pods.len()
    ));
    let paths = [
        snapshot::STATS_PATH.as_str(),
        snapshot::LATENCY_PATH.as_str(),
    ];
    veer_k8s::plugin_live::read_sidecars(t, reader, pods, &paths, None)
        .await
        .into_iter()
        .map(|(pod, texts)| {
            let snapshot = texts.map_err(|e| e.chain()).and_then(|texts| {
                let [stats, latency] = texts.as_slice() else {
                    return Err(format!("pod {pod}: {} answers for 2 reads", texts.len()));
                };
                snapshot::snapshot_from(&pod, stats, latency).map_err(|e| {
                    format!("pod {pod}'s sidecar does not answer like an Envoy admin API ({e})")
                })
            });
            (pod, snapshot)
        })
        .collect()
}

#[cfg(test)]
mod tests;
