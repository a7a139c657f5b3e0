//! `status` on Kubernetes. From the sidecars, it is the Envoy path's status (configured beside
//! observed, stale sidecars, 5xx, latency, experiment arms, `--check`): each sidecar's Envoy
//! stats are read through a port-forward with the same admin paths as `--admin` and turned into
//! the same snapshots, named by pod. A window comes from two readings of every sidecar,
//! `--window` apart: Kubernetes has no store of baselines taken at the last change. From
//! Prometheus, the same report is computed from Veer's counters summed over the proxies it
//! scrapes (its own window: the increase over --window), without latency.

use std::collections::BTreeMap;
use std::time::Duration;

use veer_filter::config::WireConfig;
use veer_k8s::observe;
use veer_k8s::plugin_live::{
    label_selector, plugin_pods, running_sidecars, PortForward, SidecarReader,
};
use veer_k8s::{Reporter, Target};

use crate::cli::{Global, StatusArgs};
use crate::error::{CliError, Result};
use crate::host::envoy::admin::{self, Snapshot};
use crate::host::kubernetes::{err, run, StderrReporter};
use crate::observe::status::{self, Baselines};

/// The window when --window is not given: long enough for a few requests, short for a shell.
const DEFAULT_WINDOW: Duration = Duration::from_secs(10);

/// Each sidecar (pod name) with its snapshot or why it could not be read.
type Readings = Vec<(String, std::result::Result<Snapshot, String>)>;

/// `status` on Kubernetes.
pub fn status(g: &Global, a: &StatusArgs) -> Result<()> {
    let reporter = &StderrReporter::new(g);
    let (wire, selectors) = plugin_and_selectors(g, a.selector.as_deref(), reporter)?;
    if let Some(url) = &a.prometheus {
        if a.watch {
            return Err(CliError::failed(
                "--watch reads the sidecars; with --prometheus, run `veerctl status` again (or graph the counters in Prometheus)",
            ));
        }
        return prometheus(g, a, url, a.window, &wire);
    }
    let window = a.window.unwrap_or(DEFAULT_WINDOW);
    if a.watch {
        return watch(g, a, &selectors, window, reporter);
    }
    let (snapshots, baselines) = read_window(g, &selectors, window, reporter)?;
    let s = status::compute(&status::Inputs {
        config: &wire,
        version: wire.version.unwrap_or(0),
        snapshots: &snapshots,
        baselines: &baselines,
        window: &window_label(window),
        history: &[],
    });
    crate::commands::status::print_and_check(g, a, &s)
}

/// The WasmPlugin's config and the label selectors of the sidecars to read: `selector` if
/// given, else the pods the plugin runs in (with a warning for targets veerctl cannot map to
/// pods).
pub(crate) fn plugin_and_selectors(
    g: &Global,
    selector: Option<&str>,
    reporter: &StderrReporter,
) -> Result<(WireConfig, Vec<String>)> {
    let plugin = run(g, |t| async move {
        veer_k8s::plugin_config::get_plugin(&t, &g.plugin)
            .await
            .map_err(err)
    })?;
    let wire = veer_k8s::plugin_config::read_config(&plugin).map_err(err)?;
    let selectors = match selector {
        Some(s) => vec![s.to_owned()],
        None => {
            let (selectors, unknown) = plugin_pods(&plugin);
            if !unknown.is_empty() {
                reporter.warning(&format!(
                    "WasmPlugin {} targets {}: give --selector with the labels of their pods to read them too",
                    g.plugin,
                    unknown.join(", ")
                ));
            }
            selectors.iter().map(label_selector).collect()
        }
    };
    Ok((wire, selectors))
}

/// `status --watch` on Kubernetes: the first frame counts over `window`, each later one what
/// came since the frame before (every `--interval`). The WasmPlugin is read for every frame, so
/// a change made meanwhile shows with its configured split and version.
fn watch(
    g: &Global,
    a: &StatusArgs,
    selectors: &[String],
    window: Duration,
    reporter: &StderrReporter,
) -> Result<()> {
    let mut open: Option<SidecarWindow> = None;
    crate::commands::status::show(g, a, || {
        let (current, label) = match open.take() {
            Some(w) => (w, window_label(a.interval)),
            None => {
                let w = SidecarWindow::open(g, selectors, reporter)?;
                std::thread::sleep(window);
                (w, window_label(window))
            }
        };
        let wire = plugin_config(g)?;
        let (s, next) = current.advance(g, &wire, &label, reporter)?;
        open = Some(next);
        Ok(s)
    })
}

/// The WasmPlugin's config.
pub(crate) fn plugin_config(g: &Global) -> Result<WireConfig> {
    let plugin = run(g, |t| async move {
        veer_k8s::plugin_config::get_plugin(&t, &g.plugin)
            .await
            .map_err(err)
    })?;
    veer_k8s::plugin_config::read_config(&plugin).map_err(err)
}

/// A window over the sidecars that is open: the first reading of each, taken when it opened.
/// [`SidecarWindow::close`] takes the second and counts what came in between, which is how
/// `canary run` watches a step on Kubernetes (no baselines are stored there).
pub(crate) struct SidecarWindow {
    selectors: Vec<String>,
    first: Readings,
}

impl SidecarWindow {
    /// Reads every running sidecar of `selectors` once; none, or none readable, is an error
    /// that says what to do.
    pub(crate) fn open(
        g: &Global,
        selectors: &[String],
        reporter: &StderrReporter,
    ) -> Result<SidecarWindow> {
        let first = read_sidecars(g, selectors, reporter)?;
        if let Some(errors) = status::all_unreadable(&first) {
            return Err(CliError::failed(errors));
        }
        Ok(SidecarWindow {
            selectors: selectors.to_vec(),
            first,
        })
    }

    /// Reads the same sidecars again: the snapshots and baselines of [`status::compute`].
    fn readings(self, g: &Global, reporter: &StderrReporter) -> Result<(Readings, Baselines)> {
        self.read_again(g, reporter).map(|(counted, _)| counted)
    }

    /// [`SidecarWindow::readings`], and the window that starts where this one ends. The pods
    /// are listed again: one that came up in between starts counting in the next window, one
    /// that went away is no longer read.
    fn read_again(
        self,
        g: &Global,
        reporter: &StderrReporter,
    ) -> Result<((Readings, Baselines), SidecarWindow)> {
        let second = read_sidecars(g, &self.selectors, reporter)?;
        let next = SidecarWindow {
            selectors: self.selectors,
            first: second.clone(),
        };
        let (snapshots, baselines) = over_window(self.first, second);
        if let Some(errors) = status::all_unreadable(&snapshots) {
            return Err(CliError::failed(errors));
        }
        Ok(((snapshots, baselines), next))
    }

    /// The status of `wire` over this window, and the window that starts where it ends.
    fn advance(
        self,
        g: &Global,
        wire: &WireConfig,
        label: &str,
        reporter: &StderrReporter,
    ) -> Result<(status::Status, SidecarWindow)> {
        let ((snapshots, baselines), next) = self.read_again(g, reporter)?;
        let s = status::compute(&status::Inputs {
            config: wire,
            version: wire.version.unwrap_or(0),
            snapshots: &snapshots,
            baselines: &baselines,
            window: label,
            history: &[],
        });
        Ok((s, next))
    }

    /// The status of `wire` over the window, labelled `label`.
    pub(crate) fn close(
        self,
        g: &Global,
        wire: &WireConfig,
        label: &str,
        reporter: &StderrReporter,
    ) -> Result<status::Status> {
        self.advance(g, wire, label, reporter).map(|(s, _)| s)
    }
}

/// Every sidecar of `selectors` read once (`window` zero: counts since each one started) or twice,
/// `window` apart: the snapshots and baselines of [`status::compute`]. No sidecar readable: an
/// error with each one's reason, before waiting and instead of a table of zeros.
fn read_window(
    g: &Global,
    selectors: &[String],
    window: Duration,
    reporter: &StderrReporter,
) -> Result<(Readings, Baselines)> {
    let open = SidecarWindow::open(g, selectors, reporter)?;
    if window.is_zero() {
        return Ok((open.first, Baselines::new()));
    }
    reporter.progress(&format!(
        "Counting for {} before the second reading",
        humantime::format_duration(window)
    ));
    std::thread::sleep(window);
    open.readings(g, reporter)
}

/// How the output names the window.
fn window_label(window: Duration) -> String {
    if window.is_zero() {
        "since each sidecar started".to_owned()
    } else {
        format!("over the last {}", humantime::format_duration(window))
    }
}

/// Every running sidecar of `selectors`, listed now, read once.
fn read_sidecars(g: &Global, selectors: &[String], reporter: &StderrReporter) -> Result<Readings> {
    run(g, |t| async move {
        let pods = sidecars(&t, selectors).await?;
        Ok(read_all(&t, &PortForward, &pods, reporter).await)
    })
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

/// One sidecar's snapshot, named by its pod: what `--admin` reads ([`admin::STATS_PATH`] and
/// [`admin::LATENCY_PATH`]), read through `reader`.
async fn snapshot<R: SidecarReader>(
    t: &Target,
    reader: &R,
    pod: &str,
) -> std::result::Result<Snapshot, String> {
    let stats = reader
        .read(t, pod, admin::STATS_PATH)
        .await
        .map_err(|e| e.to_string())?;
    let latency = reader
        .read(t, pod, admin::LATENCY_PATH)
        .await
        .map_err(|e| e.to_string())?;
    admin::snapshot_from(pod, &stats, &latency)
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

/// The second reading of each sidecar counted from its first: the snapshots and baselines of
/// [`status::compute`]. A sidecar whose first reading failed has no baseline, so it is shown as
/// unreadable rather than counted since it started. One whose counters went down restarted in
/// between: it is counted since then, all of which lies in the window. One that was not there at
/// the first reading (a pod that came up since) is left out: most of what it counted may lie
/// before the window.
fn over_window(first: Readings, second: Readings) -> (Readings, Baselines) {
    let second: Readings = second
        .into_iter()
        .filter(|(pod, _)| first.iter().any(|(p, _)| p == pod))
        .collect();
    let mut baselines = Baselines::new();
    let mut failed = BTreeMap::new();
    for (pod, reading) in first {
        match reading {
            Ok(s) => {
                baselines.insert(pod, s);
            }
            Err(e) => {
                failed.insert(pod, e);
            }
        }
    }
    for (pod, reading) in &second {
        if let Ok(now) = reading {
            let restarted = baselines.get(pod).is_some_and(|b| {
                b.veer
                    .iter()
                    .any(|(k, v)| k != "config.version" && now.get(k) < *v)
            });
            if restarted {
                baselines.remove(pod);
            }
        }
    }
    let snapshots = second
        .into_iter()
        .map(|(pod, reading)| match failed.remove(&pod) {
            Some(e) => (
                pod,
                Err(format!(
                    "its first reading failed, so nothing is counted: {e}"
                )),
            ),
            None => (pod, reading),
        })
        .collect();
    (snapshots, baselines)
}

/// `status --prometheus`: the shared status from Veer's counters as Prometheus has them, summed
/// over the proxies it scrapes (the increase over `window`, or totals since the proxies
/// started), with the lowest config version any of them reports. Latency is not read: Envoy
/// exports only coarse fixed buckets there.
fn prometheus(
    g: &Global,
    a: &StatusArgs,
    url: &str,
    window: Option<Duration>,
    wire: &WireConfig,
) -> Result<()> {
    let veer = observe::from_prometheus(url, wire, window).map_err(err)?;
    if !veer.contains_key(observe::VERSION_STAT) {
        return Err(CliError::failed(format!(
            "Prometheus at {url} has no {}: it scrapes no proxy that runs Veer's filter; check \
             that it scrapes the sidecars' /stats/prometheus (Istio's merged metrics do) and \
             that the WasmPlugin runs, or read the sidecars directly without --prometheus",
            observe::prometheus_name(observe::VERSION_STAT)
        )));
    }
    let snapshot = Snapshot {
        url: format!("Prometheus {url} (the oldest config version of its proxies)"),
        veer,
        ..Snapshot::default()
    };
    let label = window.map_or_else(
        || "since each proxy started (Prometheus totals)".to_owned(),
        |w| {
            format!(
                "over the last {} (Prometheus increase())",
                humantime::format_duration(w)
            )
        },
    );
    let s = status::compute(&status::Inputs {
        config: wire,
        version: wire.version.unwrap_or(0),
        snapshots: &[(snapshot.url.clone(), Ok(snapshot))],
        baselines: &Baselines::new(),
        window: &label,
        history: &[],
    });
    crate::commands::status::print_and_check(g, a, &s)
}

#[cfg(test)]
mod tests;
