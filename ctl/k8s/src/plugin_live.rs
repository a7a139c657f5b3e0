//! Waiting until the WasmPlugin runs in the sidecars: before `mesh install` applies the routes,
//! and after every edit of its config (`canary ...`, `experiment start|stop`).
//!
//! Routes that obey the cluster header, live before the plugin, would obey a header a client
//! sent (and public reports show 500/503s in that window). Applying the plugin first is not
//! enough: istiod pushes it and each proxy fetches the module on its own time. So veerctl reads,
//! from each sidecar the plugin selects, the config version the filter reports
//! (`veer.config.version`), until every one runs the version just written or a later one
//! (another operator may have written on top: the Envoy path counts it live too).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use futures_util::stream::{self, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::ResourceExt;
use serde_json::Value;
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::istio::WasmPlugin;
use crate::port_forward::{admin_get, ENVOY_ADMIN_PORT, READ_TIMEOUT, VERSION_PATH};
use crate::report::Reporter;
use crate::target::{Target, WaitOptions};
use veer_filter::metrics::{self, Stat};

/// The container Istio injects into every pod of the mesh.
const SIDECAR: &str = "istio-proxy";

/// Reads `path` from the Envoy admin endpoint of a pod's sidecar.
pub trait SidecarReader {
    /// The body of `GET path`, or why it could not be read.
    fn read(&self, target: &Target, pod: &str, path: &str) -> impl Future<Output = Result<String>>;
}

/// Reads through a port-forward to the sidecar's admin port: what veerctl uses.
pub struct PortForward;

impl SidecarReader for PortForward {
    async fn read(&self, target: &Target, pod: &str, path: &str) -> Result<String> {
        admin_get(target, pod, ENVOY_ADMIN_PORT, path).await
    }
}

/// How to wait for the plugin: how long, how often, and how to read a sidecar.
pub struct PluginWait<R> {
    /// Timeout and poll interval.
    pub opts: WaitOptions,
    /// The sidecar reader.
    pub reader: R,
}

/// The config version a filter reports in a stats text, `None` when it reports none (the module
/// is not loaded yet).
pub fn reported_version(stats: &str) -> Option<u64> {
    stats.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (Stat::parse(name.trim()) == Some(Stat::global(&metrics::CONFIG_VERSION)))
            .then(|| value.trim().parse().ok())
            .flatten()
    })
}

/// `KEY=VALUE,...`: a label selector as the API takes it (empty: every pod).
pub fn label_selector(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(",")
}

/// The names of the running pods with Istio's sidecar that match label `selector` (every pod of
/// the namespace when empty): the proxies that can run the plugin now. `what` names them in
/// errors.
pub async fn running_sidecars(target: &Target, selector: &str, what: &str) -> Result<Vec<String>> {
    let pods = target
        .api::<Pod>()
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|source| Error::Read {
            source: Box::new(source),
            what: what.to_owned(),
        })?;
    Ok(pods
        .items
        .iter()
        .filter(|p| injected_and_running(p))
        .map(|p| p.name_any())
        .collect())
}

/// Waits until every running, injected pod that matches `selector` (every one of the namespace
/// when empty) reports config `version` or a later one, and returns how many there are. No such
/// pod: returns 0 at once with a warning, since no proxy can obey a header then. Gives up after
/// `wait.opts.timeout` with [`Error::PluginNotLive`].
pub async fn wait_plugin_live<R: SidecarReader>(
    target: &Target,
    plugin: &str,
    selector: &BTreeMap<String, String>,
    version: u64,
    wait: &PluginWait<R>,
    reporter: &dyn Reporter,
) -> Result<usize> {
    let seen = wait_sidecars(target, plugin, selector, version, wait, reporter).await?;
    if seen.is_none() {
        reporter.warning(&format!(
            "no running pod with a sidecar matches WasmPlugin {plugin}'s selector ({}); \
             no proxy runs it, so nothing was verified live",
            scope(target, selector)
        ));
    }
    Ok(seen.unwrap_or(0))
}

/// Where a selector looks, for messages: its labels, or the whole namespace.
pub fn scope(target: &Target, selector: &BTreeMap<String, String>) -> String {
    if selector.is_empty() {
        format!("namespace {}", target.namespace)
    } else {
        label_selector(selector)
    }
}

/// [`wait_plugin_live`], `None` when no running pod with a sidecar matches (nothing to verify).
///
/// Built for hundreds of sidecars: each poll reads only the ones not yet seen at `version`,
/// [`READS_AT_ONCE`] at a time, and no read outlasts the deadline, so one unresponsive sidecar
/// costs at most [`READ_TIMEOUT`] beside the others, and a pass never runs past `--timeout`.
pub(crate) async fn wait_sidecars<R: SidecarReader>(
    target: &Target,
    plugin: &str,
    selector: &BTreeMap<String, String>,
    version: u64,
    wait: &PluginWait<R>,
    reporter: &dyn Reporter,
) -> Result<Option<usize>> {
    let labels = label_selector(selector);
    let deadline = Instant::now() + wait.opts.timeout;
    let mut live: BTreeSet<String> = BTreeSet::new();
    // What each sidecar not yet live answered last: a read cut short by the deadline tells
    // nothing new, and "no answer within 0ns" would hide what it runs.
    let mut answered: BTreeMap<String, String> = BTreeMap::new();
    let mut last = String::new();
    loop {
        let what = format!("the pods of WasmPlugin {plugin}");
        let sidecars = running_sidecars(target, &labels, &what).await?;
        if sidecars.is_empty() {
            return Ok(None);
        }
        // A pod seen live stays live; one that went away is forgotten.
        live.retain(|p| sidecars.contains(p));
        let unseen: Vec<String> = sidecars
            .iter()
            .filter(|p| !live.contains(*p))
            .cloned()
            .collect();
        let readings = read_sidecars(
            target,
            &wait.reader,
            &unseen,
            &[VERSION_PATH.as_str()],
            Some(deadline),
        )
        .await;
        let mut behind = Vec::new();
        for (pod, reading) in readings {
            let seen = match reading.map(|texts| texts.concat()) {
                Ok(text) => {
                    let seen = match reported_version(&text) {
                        Some(v) if v >= version => {
                            live.insert(pod);
                            continue;
                        }
                        Some(v) => format!("config version {v}"),
                        None => "no Veer filter yet".to_owned(),
                    };
                    answered.insert(pod.clone(), seen.clone());
                    seen
                }
                Err(e) => match answered.get(&pod) {
                    Some(before) if Instant::now() >= deadline => before.clone(),
                    _ => e.chain(),
                },
            };
            behind.push(format!("{pod} ({seen})"));
        }
        if behind.is_empty() {
            reporter.progress(&format!(
                "WasmPlugin {plugin} runs config version {version} (or later) in {} sidecar(s)",
                sidecars.len()
            ));
            return Ok(Some(sidecars.len()));
        }
        let message = format!(
            "Waiting for WasmPlugin {plugin} in {} of {} sidecar(s): {}",
            behind.len(),
            sidecars.len(),
            behind.join(", ")
        );
        if message != last {
            reporter.progress(&message);
            last = message;
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::PluginNotLive {
                plugin: plugin.to_owned(),
                timeout: wait.opts.timeout,
                behind: behind.join(", "),
            });
        }
        tokio::time::sleep(wait.opts.interval.min(deadline - now)).await;
    }
}

/// How many sidecars are read at the same time: enough that 500 pods take a few seconds, few
/// enough not to flood the API server with port-forwards.
pub const READS_AT_ONCE: usize = 32;

/// Reads `paths` (in order) from the sidecar of each of `pods`, [`READS_AT_ONCE`] pods at a time
/// (`status` reads stats and latency of hundreds of pods this way, a wait the config version).
/// A pod's reads are given up after [`READ_TIMEOUT`] or at `deadline` if one is given, whichever
/// comes first, so an unresponsive sidecar delays only its own slot. Results come in the order of
/// `pods`.
pub async fn read_sidecars<R: SidecarReader>(
    target: &Target,
    reader: &R,
    pods: &[String],
    paths: &[&str],
    deadline: Option<Instant>,
) -> Vec<(String, Result<Vec<String>>)> {
    let reads = pods.iter().enumerate().map(|(i, pod)| async move {
        let left = deadline.map_or(READ_TIMEOUT, |d| {
            d.saturating_duration_since(Instant::now())
        });
        let limit = READ_TIMEOUT.min(left);
        let all = async {
            let mut texts = Vec::with_capacity(paths.len());
            for path in paths {
                texts.push(reader.read(target, pod, path).await?);
            }
            Ok(texts)
        };
        let result = tokio::time::timeout(limit, all).await.unwrap_or_else(|_| {
            Err(Error::Stats {
                source_name: format!("pod {pod}"),
                reason: format!("no answer within {:?}", limit),
            })
        });
        (i, pod.clone(), result)
    });
    let mut done: Vec<_> = stream::iter(reads)
        .buffer_unordered(READS_AT_ONCE)
        .collect()
        .await;
    done.sort_by_key(|(i, _, _)| *i);
    done.into_iter().map(|(_, pod, r)| (pod, r)).collect()
}

/// A pod that runs now and has Istio's sidecar (a container, or a native-sidecar init container).
fn injected_and_running(pod: &Pod) -> bool {
    let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    let spec = pod.spec.as_ref();
    let sidecar = spec.is_some_and(|s| {
        s.containers
            .iter()
            .chain(s.init_containers.iter().flatten())
            .any(|c| c.name == SIDECAR)
    });
    running && sidecar
}

/// Istio's label on the pods of a gateway it deploys for a Gateway API `Gateway`.
const GATEWAY_NAME_LABEL: &str = "gateway.networking.k8s.io/gateway-name";

/// The pods a WasmPlugin runs in, as label selectors: its `selector.matchLabels` (every pod of
/// its namespace when absent), or for `targetRefs` to Gateways, each gateway's pods (Istio labels
/// them with the Gateway's name). A targetRef of another kind (a Service of a waypoint, a
/// GatewayClass) has no pod label veerctl can derive: it is returned in the second list, to be
/// named in a warning rather than guessed.
pub fn plugin_pods(plugin: &WasmPlugin) -> (Vec<BTreeMap<String, String>>, Vec<String>) {
    let refs: Vec<&Value> = match (
        plugin.spec.other.get("targetRefs"),
        plugin.spec.other.get("targetRef"),
    ) {
        (Some(Value::Array(refs)), _) => refs.iter().collect(),
        (None, Some(one)) => vec![one],
        _ => {
            let labels = plugin
                .spec
                .selector
                .as_ref()
                .map(|s| s.match_labels.clone())
                .unwrap_or_default();
            return (vec![labels], Vec::new());
        }
    };
    let mut selectors = Vec::new();
    let mut unknown = Vec::new();
    for r in refs {
        let field = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("");
        match (field("kind"), field("name")) {
            ("Gateway", name) if !name.is_empty() => selectors.push(BTreeMap::from([(
                GATEWAY_NAME_LABEL.to_owned(),
                name.to_owned(),
            )])),
            (kind, name) => unknown.push(format!("{kind} {name}")),
        }
    }
    (selectors, unknown)
}
