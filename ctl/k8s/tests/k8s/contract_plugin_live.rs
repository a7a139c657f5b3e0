//! `mesh install` waits, after the WasmPlugin and before the routes, until every sidecar the
//! plugin selects runs the config just written.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};
use veer_k8s::manifests::demo_mesh;
use veer_k8s::mesh;
use veer_k8s::plugin_live::{reported_version, PluginWait, SidecarReader};
use veer_k8s::port_forward::VERSION_PATH;
use veer_k8s::{Error, NoReporter, Target, WaitOptions};

use crate::support::*;

const PLUGIN: &str = "/apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/veer";
const PODS: &str = "/api/v1/namespaces/demo/pods";
const DR: &str = "/apis/networking.istio.io/v1/namespaces/demo/destinationrules/web";
const VS: &str = "/apis/networking.istio.io/v1/namespaces/demo/virtualservices/web";

/// Answers each read with the next stats text, and records (pod, path).
struct Sidecars {
    answers: Mutex<VecDeque<&'static str>>,
    asked: Mutex<Vec<(String, String)>>,
}

impl Sidecars {
    fn new(answers: &[&'static str]) -> Self {
        Sidecars {
            answers: Mutex::new(answers.iter().copied().collect()),
            asked: Mutex::default(),
        }
    }
}

impl SidecarReader for Sidecars {
    async fn read(&self, _: &Target, pod: &str, path: &str) -> veer_k8s::Result<String> {
        self.asked
            .lock()
            .expect("lock")
            .push((pod.to_owned(), path.to_owned()));
        let next = self.answers.lock().expect("lock").pop_front();
        Ok(next.expect("a read more than scripted").to_owned())
    }
}

fn pod(name: &str, phase: &str, sidecar: bool) -> Value {
    let mut containers = vec![json!({ "name": "app", "image": "client:1" })];
    if sidecar {
        containers.push(json!({ "name": "istio-proxy", "image": "proxyv2:1.29" }));
    }
    json!({ "metadata": { "name": name, "namespace": "demo", "labels": { "app": "client" } },
            "spec": { "containers": containers }, "status": { "phase": phase } })
}

fn pods() -> Answer {
    Answer(
        200,
        json!({ "apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [
            pod("client-a", "Running", true), pod("client-b", "Pending", true),
            pod("client-c", "Running", false), pod("client-d", "Running", true) ] }),
    )
}

fn wait(reader: Sidecars) -> PluginWait<Sidecars> {
    PluginWait {
        opts: WaitOptions {
            timeout: Duration::from_secs(5),
            interval: Duration::from_millis(1),
        },
        reader,
    }
}

fn spec() -> mesh::MeshSpec {
    let mut spec = demo_mesh();
    spec.plugin.selector.insert("app".into(), "client".into());
    spec
}

#[test]
fn the_reported_version_is_read_from_the_gauge_line() {
    assert_eq!(
        reported_version("wasmcustom.veer.rq.web.v1: 3\nwasmcustom.veer.config.version: 12\n"),
        Some(12)
    );
    assert_eq!(reported_version("wasmcustom.veer.rq.web.v1: 3\n"), None);
}

/// Plugin, then the pods it selects (by its labels), their sidecars read until each runs config
/// version 1, then the routes. Pods not running, or without a sidecar, are not waited for.
#[tokio::test]
async fn routes_are_applied_once_every_selected_sidecar_runs_the_new_config() {
    let (client, server) = scripted(vec![
        Answer(200, ECHO()),
        pods(),
        pods(),
        Answer(200, ECHO()),
        Answer(200, ECHO()),
    ]);
    let sidecars = Sidecars::new(&[
        "wasmcustom.veer.config.version: 1\n",
        "",
        "wasmcustom.veer.config.version: 1\n",
        "wasmcustom.veer.config.version: 1\n",
    ]);
    let wait = wait(sidecars);
    let rec = Recorder::new();
    let out = mesh::mesh_install_waiting(&target(client, "demo"), &spec(), &wait, &rec)
        .await
        .expect("install");
    let seen = server.await.expect("server");
    assert_eq!(
        seen.iter()
            .map(|s| (s.method.as_str(), s.path.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("PATCH", PLUGIN),
            ("GET", PODS),
            ("GET", PODS),
            ("PATCH", DR),
            ("PATCH", VS)
        ]
    );
    assert_eq!(seen[1].q("labelSelector"), Some("app=client"));
    let asked = wait.reader.asked.lock().expect("lock").clone();
    let pods: Vec<&str> = asked.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(pods, ["client-a", "client-d", "client-a", "client-d"]);
    assert!(asked.iter().all(|(_, path)| path == VERSION_PATH));
    assert!(
        rec.all().contains(
            &"Waiting for WasmPlugin veer in 1 of 2 sidecar(s): client-d (no Veer filter yet)"
                .to_owned()
        ),
        "{:?}",
        rec.all()
    );
    assert_eq!(out.applied.len(), 3);
}

/// A sidecar that never runs the new config: no route is applied, and the error says which
/// sidecar reported what and what to do.
#[tokio::test]
async fn no_route_is_applied_when_a_sidecar_never_runs_the_new_config() {
    let (client, server) = scripted(vec![Answer(200, ECHO()), pods()]);
    let mut wait = wait(Sidecars::new(&[
        "wasmcustom.veer.config.version: 1\n",
        "wasmcustom.veer.config.version: 0\n",
    ]));
    // A zero timeout: one look at the sidecars, then the verdict.
    wait.opts.timeout = Duration::ZERO;
    let err = mesh::mesh_install_waiting(&target(client, "demo"), &spec(), &wait, &NoReporter)
        .await
        .expect_err("not live");
    assert!(matches!(err, Error::PluginNotLive { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("client-d (config version 0)")
            && text.contains("the routes were not applied")
            && text.contains("--no-wait"),
        "{text}"
    );
    let seen = server.await.expect("server");
    assert_eq!(
        seen.iter().map(|s| s.path.as_str()).collect::<Vec<_>>(),
        [PLUGIN, PODS],
        "no route"
    );
}
