//! A fake Kubernetes API server on 127.0.0.1 for veerctl's tests: the CLI tests (`ctl/tests`)
//! and the end-to-end tests with real Envoys as the sidecars (`tests/tests/e2e`).
//!
//! It stores objects by path, refuses stale writes with 409 as the API server does, records every
//! request, and calls a hook on each write (the end-to-end tests' stand-in for istiod delivers a
//! WasmPlugin's config to the Envoys through it). Pods given to it are listed as running with
//! Istio's `istio-proxy` sidecar, and their port-forwards are served the way the API server
//! serves kube's client: a WebSocket on subprotocol `v4.channel.k8s.io`, relayed to a real
//! address the test chose for the pod's port (an Envoy's admin port on loopback). Beside it, a
//! fake Prometheus ([`prometheus`]) for the tests that read counts or gates from one.

mod api;
mod pods;
mod portforward;
pub mod prometheus;

pub use api::{bump, fake_api, fake_api_with, lines, status, FakeApi, Log, Seen};
pub use pods::{Pod, SIDECAR_ADMIN_PORT};

/// The WasmPlugin `veer` of namespace `demo`, where the tests' kubeconfig points.
pub const PLUGIN: &str = "/apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/veer";
/// The pods of namespace `demo`.
pub const PODS: &str = "/api/v1/namespaces/demo/pods";

/// The namespace's pods: none (nothing to port-forward to).
pub fn no_pods() -> serde_json::Value {
    serde_json::json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": []})
}

/// What veerctl warns when a change has no sidecar to be verified in.
pub const NOT_VERIFIED: &str = "warning: no running pod with a sidecar matches WasmPlugin veer's \
                            selector (namespace demo); no proxy runs it, so nothing was verified live";

/// A kubeconfig in `dir` whose current context is the fake API server on `port`, namespace
/// `demo`.
pub fn kubeconfig(dir: &std::path::Path, port: u16) -> std::io::Result<std::path::PathBuf> {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: fake\nclusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: demo\nusers:\n- name: fake\n  user:\n    token: test\n"
    );
    std::fs::write(&path, text)?;
    Ok(path)
}

/// The requests that were not reads (GET), in order: empty when nothing was written.
pub fn writes(seen: &Log) -> Vec<String> {
    lines(seen)
        .into_iter()
        .filter(|r| !r.starts_with("GET "))
        .collect()
}
