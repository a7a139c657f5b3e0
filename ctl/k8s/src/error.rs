//! The one error type of veer-k8s.
//!
//! Messages are lowercase, start with what failed, and end with what the user can do, because the
//! CLI prints them as they are (`error: failed to ...`), followed by the `source` chain. Each fact
//! appears once: a variant with a `#[source]` does not repeat the source's text in its message,
//! so a CLI printing `caused by: ...` lines shows it only there ([`Error::chain`] joins both).

use std::time::Duration;

use veer_filter::Problems;

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in a Kubernetes or Istio operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading an object from the API server failed (network, permissions, ...).
    #[error("failed to read {what}")]
    Read {
        /// What was read, e.g. `Deployment demo/web-green`.
        what: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },
    /// The API server refused or failed a write.
    #[error("failed to write {what}")]
    Write {
        /// What was written and how, e.g. `apply Deployment demo/web-green`.
        what: String,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },
    /// An object the operation needs does not exist.
    #[error("failed to find {what}: {hint}")]
    NotFound {
        /// What was looked for.
        what: String,
        /// What to do about it.
        hint: String,
    },
    /// A blue/green switch or rollback target is not fully available.
    #[error(
        "failed to switch {app} to {colour}: only {available} of {desired} replicas are available; \
         run `veerctl bluegreen deploy` and let it finish, or check `veerctl bluegreen status`"
    )]
    NotAvailable {
        /// The app.
        app: String,
        /// The colour that is not ready.
        colour: String,
        /// Available replicas.
        available: i32,
        /// Desired replicas.
        desired: i32,
    },
    /// A rollout failed for a reason found in the Deployment, its pods or their events.
    #[error("failed to roll out deployment {deployment}: {reason}")]
    RolloutFailed {
        /// The Deployment.
        deployment: String,
        /// Why, e.g. `pod web-green-x: container web: ImagePullBackOff: ...`.
        reason: String,
    },
    /// A rollout did not finish in time.
    #[error(
        "failed to roll out deployment {deployment} within {timeout:?}: {reason}; \
         fix the cause and run the command again, or raise the timeout"
    )]
    Timeout {
        /// The Deployment.
        deployment: String,
        /// The timeout that ran out.
        timeout: Duration,
        /// The last progress message and what pods and events say.
        reason: String,
    },
    /// `rollout undo` found no revision to return to.
    #[error("failed to undo deployment {deployment}: {reason}")]
    Undo {
        /// The Deployment.
        deployment: String,
        /// Why.
        reason: String,
    },
    /// A routing config was refused before anything was sent.
    #[error("failed to validate the routing config, nothing was sent")]
    InvalidConfig(#[source] Problems),
    /// The WasmPlugin's `pluginConfig` is not a Veer routing config.
    #[error("failed to read the routing config of WasmPlugin {name}; fix it with `kubectl edit wasmplugin {name}` or reinstall with `veerctl mesh install`")]
    PluginConfig {
        /// The WasmPlugin.
        name: String,
        /// Why it could not be parsed.
        #[source]
        source: serde_json::Error,
    },
    /// An object kept changing under us: someone else is writing it.
    #[error(
        "failed to update {what}: it was changed by someone else {attempts} times in a row \
         while veerctl was writing; nothing of yours was written, run the command again to apply it on \
         top of their change"
    )]
    Conflict {
        /// The object, e.g. `WasmPlugin veer`.
        what: String,
        /// How many writes were refused with 409 Conflict.
        attempts: u32,
    },
    /// The plugin did not run in every sidecar in time, so the routes were not applied.
    #[error(
        "failed to see WasmPlugin {plugin} live in every sidecar within {timeout:?}: {behind}; the routes \
         were not applied (they would obey a client-sent header); check the pods' istio-proxy logs for \
         the Wasm fetch and run `veerctl mesh install` again, or add --no-wait to apply them anyway"
    )]
    PluginNotLive {
        /// The WasmPlugin.
        plugin: String,
        /// The timeout that ran out.
        timeout: Duration,
        /// The sidecars not running the new config, each with what it reported.
        behind: String,
    },
    /// `mesh install` found no sidecar to verify the plugin in, so it applied no route.
    #[error(
        "failed to verify WasmPlugin {plugin} live: no running pod with an istio-proxy sidecar \
         matches its selector ({scope}), so the routes were not applied (they would obey a \
         client-sent header in any proxy without Veer); check --selector, that the namespace has \
         sidecar injection and its pods run (a WasmPlugin reaches only pods of its own \
         namespace), or pass --no-wait to apply the routes unverified"
    )]
    NoSidecar {
        /// The WasmPlugin.
        plugin: String,
        /// Where it looked: the label selector, or the namespace.
        scope: String,
    },
    /// An edit of the routing config was written, but not every sidecar ran it in time.
    #[error(
        "failed to see config version {version} of WasmPlugin {plugin} live in every sidecar within \
         {timeout:?}: {behind}; the change is written but not verified live: check those pods' \
         istio-proxy logs (`kubectl logs POD -c istio-proxy`) for a rejected config or a failed Wasm \
         fetch, then `veerctl status --selector LABELS` to see what each sidecar runs"
    )]
    ConfigNotLive {
        /// The WasmPlugin.
        plugin: String,
        /// The config version written.
        version: u64,
        /// The timeout that ran out.
        timeout: Duration,
        /// The sidecars not running the new config, each with what it reported.
        behind: String,
    },
    /// A WasmPlugin would let traffic bypass the filter when it fails.
    #[error(
        "failed to accept WasmPlugin {name}: failStrategy FAIL_OPEN skips Veer when the plugin fails, so a \
         client-sent x-veer-cluster header would choose the route; use FAIL_CLOSE (or FAIL_RELOAD \
         on Istio 1.27 and later)"
    )]
    FailOpen {
        /// The WasmPlugin.
        name: String,
    },
    /// Input that the operation cannot use (names, mesh settings, ...).
    #[error("failed to use {what}: {reason}")]
    Invalid {
        /// What was given.
        what: String,
        /// Why it cannot be used and what to give instead.
        reason: String,
    },
    /// Envoy stats could not be read from a sidecar.
    #[error("failed to read Envoy stats from {source_name}: {reason}")]
    Stats {
        /// Where from (pod or text index).
        source_name: String,
        /// Why.
        reason: String,
    },
    /// Prometheus could not be queried or answered something unexpected.
    #[error("failed to query Prometheus at {url}: {reason}; check the URL (e.g. after `kubectl port-forward svc/prometheus 9090`)")]
    Prometheus {
        /// The base URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A port-forward to a pod failed.
    #[error("failed to port-forward to pod {pod} port {port}; check that the pod runs an Istio sidecar and that you may create pods/portforward")]
    PortForward {
        /// The pod.
        pod: String,
        /// The port.
        port: u16,
        /// The client's error.
        #[source]
        source: Box<kube::Error>,
    },
    /// A value could not be turned into JSON or YAML.
    #[error("failed to serialize {what}: {reason}")]
    Serialize {
        /// What.
        what: String,
        /// Why.
        reason: String,
    },
    /// A request could not be built (invalid name or parameters).
    #[error("failed to build the request for {what}")]
    BuildRequest {
        /// What.
        what: String,
        /// kube's request builder error.
        #[source]
        source: kube::core::request::Error,
    },
}

impl Error {
    /// The message followed by each cause not already said, on one line (`: ` between them):
    /// for places that keep an error as text, such as the list of sidecars a wait is behind on.
    pub fn chain(&self) -> String {
        self.chain_with(": ")
    }

    /// The message followed by each cause not already said, `separator` before each (a CLI
    /// gives `"\ncaused by: "`). kube's own errors repeat their source in their message; a cause
    /// whose text is already there is skipped, so each fact appears once.
    pub fn chain_with(&self, separator: &str) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            let said = c.to_string();
            if !text.contains(&said) {
                text.push_str(separator);
                text.push_str(&said);
            }
            cause = c.source();
        }
        text
    }

    /// True for an API answer of 409 Conflict (a stale resourceVersion).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Write { source, .. } if matches!(&**source, kube::Error::Api(s) if s.code == 409))
    }
}
