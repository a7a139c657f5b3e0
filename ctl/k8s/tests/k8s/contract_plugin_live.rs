//! `mesh install` waits, after the WasmPlugin and before the routes, until every sidecar the
//! plugin selects runs the config just written; config edits wait the same way after the write.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};
use veer_k8s::manifests::demo_mesh;
use veer_k8s::mesh::{self, FailStrategy, FailStrategyChoice};
use veer_k8s::plugin_config::{update_plugin_config_waiting, UpdateOptions};
use veer_k8s::plugin_live::{reported_version, PluginWait, SidecarReader};
use veer_k8s::port_forward::VERSION_PATH;
use veer_k8s::{Error, NoReporter, Target, WaitOptions};

use crate::support::*;

const PLUGIN: &str = "/apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/veer";
const PODS: &str = "/api/v1/namespaces/demo/pods";
const DR: &str = "/apis/networking.istio.io/v1/namespaces/demo/destinationrules/web";
const VS: &str = "/apis/networking.istio.io/v1/namespaces/demo/virtualservices/web";

/// Answers each read with the next sidecar's stats, and records (pod, path).
struct Sidecars {
    answers: Mutex<VecDeque<String>>,
    asked: Mutex<Vec<(String, String)>>,
}

impl Sidecars {
    /// One answer per read, in order: the config version the filter reports, or `None` when the
    /// sidecar has no Veer filter yet (its stats hold no version gauge).
    fn new(versions: &[Option<u64>]) -> Self {
        let stats = |v: &Option<u64>| {
            v.map_or_else(String::new, |v| {
                format!("wasmcustom.veer.config_version: {v}\n")
            })
        };
        Sidecars {
            answers: Mutex::new(versions.iter().map(stats).collect()),
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
        Ok(next.expect("a read more than scripted"))
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

/// The demo mesh for the pods labelled `app: client`, with FAIL_RELOAD given (so the install
/// reads no CRD: choosing the failStrategy is tested in contract_mesh_cases).
fn spec() -> mesh::MeshSpec {
    let mut spec = demo_mesh();
    spec.plugin.selector.insert("app".into(), "client".into());
    spec.plugin.fail_strategy = FailStrategyChoice::Use(FailStrategy::FailReload);
    spec
}

#[test]
fn the_reported_version_is_read_from_the_gauge_line() {
    assert_eq!(
        reported_version(
            "wasmcustom.veer.requests_total.web.v1: 3\nwasmcustom.veer.config_version: 12\n"
        ),
        Some(12)
    );
    assert_eq!(
        reported_version("wasmcustom.veer.requests_total.web.v1: 3\n"),
        None
    );
}

/// Plugin, then the pods it selects (by its labels), their sidecars read until each runs config
/// version 1, then the routes. Pods not running, or without a sidecar, are not waited for.
#[tokio::test]
async fn routes_are_applied_once_every_selected_sidecar_runs_the_new_config() {
    let (client, server) = scripted(vec![
        absent(),
        Answer(200, ECHO()),
        pods(),
        pods(),
        Answer(200, ECHO()),
        Answer(200, ECHO()),
    ]);
    let sidecars = Sidecars::new(&[Some(1), None, Some(1)]);
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
            ("GET", PLUGIN),
            ("PATCH", PLUGIN),
            ("GET", PODS),
            ("GET", PODS),
            ("PATCH", DR),
            ("PATCH", VS)
        ]
    );
    assert_eq!(seen[2].q("labelSelector"), Some("app=client"));
    let asked = wait.reader.asked.lock().expect("lock").clone();
    let pods: Vec<&str> = asked.iter().map(|(p, _)| p.as_str()).collect();
    // client-a runs version 1 at the first read: it is not read again.
    assert_eq!(pods, ["client-a", "client-d", "client-d"]);
    assert!(asked.iter().all(|(_, path)| **path == *VERSION_PATH));
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
    let (client, server) = scripted(vec![absent(), Answer(200, ECHO()), pods()]);
    let mut wait = wait(Sidecars::new(&[Some(1), Some(0)]));
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
        [PLUGIN, PLUGIN, PODS],
        "no route"
    );
}

/// No WasmPlugin yet: `mesh install` reads it first and finds none.
fn absent() -> Answer {
    not_found("wasmplugins.extensions.istio.io", "veer")
}

/// Installing over a WasmPlugin that carries config version 1, from a file that also says 1:
/// the config goes in as version 2, and a sidecar still on version 1 (the config being
/// replaced) is not taken for live.
#[tokio::test]
async fn an_install_over_a_live_plugin_waits_for_a_newer_version() {
    let (client, server) = scripted(vec![
        Answer(200, stored_plugin(|_| {})),
        Answer(200, ECHO()),
        pods(),
        pods(),
        Answer(200, ECHO()),
        Answer(200, ECHO()),
    ]);
    let wait = wait(Sidecars::new(&[Some(1), Some(2), Some(2), Some(2)]));
    let rec = Recorder::new();
    assert_eq!(spec().config.version, Some(1));
    let out = mesh::mesh_install_waiting(&target(client, "demo"), &spec(), &wait, &rec)
        .await
        .expect("install");
    let seen = server.await.expect("server");
    assert_eq!(seen[1].body["spec"]["pluginConfig"]["version"], 2);
    assert_eq!(seen.len(), 6, "read, plugin, pods twice, routes");
    assert_eq!(out.applied.len(), 3);
    assert!(
        rec.all()
            .iter()
            .any(|l| l.contains("carries config version 1: installing this config as version 2")),
        "{:?}",
        rec.all()
    );
}

/// WasmPlugin `veer` as `mesh install` wrote it (selector `app=client`, config version 1), as
/// the API server holds it, with `edit` applied to its spec.
fn stored_plugin(edit: impl FnOnce(&mut Value)) -> Value {
    let built = mesh::build(&spec()).expect("build").plugin;
    let mut p = serde_json::to_value(built).expect("json");
    p["metadata"]["namespace"] = json!("demo");
    p["metadata"]["resourceVersion"] = json!("41");
    edit(&mut p["spec"]);
    p
}

fn to_half(
    mut c: veer_filter::config::WireConfig,
) -> veer_k8s::Result<veer_filter::config::WireConfig> {
    c.services[0].split = [("v1".to_owned(), 5000), ("v2".to_owned(), 5000)].into();
    Ok(c)
}

/// A canary or experiment edit is verified like an install: after the write, the pods of the
/// plugin's selector are read until each runs the version written (2) or a later one (3: another
/// operator wrote on top, and that one carries this edit too).
#[tokio::test]
async fn a_config_edit_is_verified_in_every_selected_sidecar() {
    let (client, server) = scripted(vec![
        Answer(200, stored_plugin(|_| ())),
        Answer(200, ECHO()),
        pods(),
        pods(),
    ]);
    let wait = wait(Sidecars::new(&[Some(2), Some(1), Some(2), Some(3)]));
    let rec = Recorder::new();
    let t = target(client, "demo");
    let out = update_plugin_config_waiting(&t, "veer", to_half, &updates(), &wait, &rec)
        .await
        .expect("verified");
    let seen = server.await.expect("server");
    assert_eq!(
        seen.iter()
            .map(|s| (s.method.as_str(), s.path.as_str()))
            .collect::<Vec<_>>(),
        [
            ("GET", PLUGIN),
            ("PUT", PLUGIN),
            ("GET", PODS),
            ("GET", PODS)
        ]
    );
    assert_eq!(seen[2].q("labelSelector"), Some("app=client"));
    assert_eq!((out.version, out.live_in), (2, Some(2)));
    let progress = rec.all();
    assert!(
        progress.contains(
            &"Waiting for WasmPlugin veer in 1 of 2 sidecar(s): client-d (config version 1)"
                .to_owned()
        ),
        "{progress:?}"
    );
    assert!(
        progress.contains(
            &"WasmPlugin veer runs config version 2 (or later) in 2 sidecar(s)".to_owned()
        ),
        "{progress:?}"
    );
}

/// A sidecar that stays on the old version: the edit stays written, and the error (exit code 4
/// in veerctl) names the sidecar, what it runs, and where to look.
#[tokio::test]
async fn a_sidecar_stuck_on_the_old_version_fails_the_edit_as_not_live() {
    let (client, server) = scripted(vec![
        Answer(200, stored_plugin(|_| ())),
        Answer(200, ECHO()),
        pods(),
    ]);
    let mut wait = wait(Sidecars::new(&[Some(2), Some(1)]));
    wait.opts.timeout = Duration::ZERO;
    let t = target(client, "demo");
    let err = update_plugin_config_waiting(&t, "veer", to_half, &updates(), &wait, &NoReporter)
        .await
        .expect_err("not live");
    assert!(
        matches!(err, Error::ConfigNotLive { version: 2, .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("config version 2 of WasmPlugin veer")
            && text.contains(": client-d (config version 1);")
            && !text.contains("client-a")
            && text.contains("written but not verified live")
            && text.contains("kubectl logs POD -c istio-proxy"),
        "{text}"
    );
    assert_eq!(server.await.expect("server").len(), 3);
}

/// A plugin bound to a Gateway through targetRefs runs in that gateway's pods: those are the ones
/// read. A target whose pods veerctl cannot derive is named in a warning, not guessed.
#[tokio::test]
async fn a_gateway_plugin_is_verified_in_the_gateways_pods() {
    let plugin = stored_plugin(|spec| {
        spec.as_object_mut().expect("spec").remove("selector");
        spec["targetRefs"] = json!([
            { "group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "edge" },
            { "group": "", "kind": "Service", "name": "waypoint" }
        ]);
    });
    let (client, server) = scripted(vec![Answer(200, plugin), Answer(200, ECHO()), pods()]);
    let wait = wait(Sidecars::new(&[Some(2), Some(2)]));
    let rec = Recorder::new();
    let t = target(client, "demo");
    let out = update_plugin_config_waiting(&t, "veer", to_half, &updates(), &wait, &rec)
        .await
        .expect("verified");
    let seen = server.await.expect("server");
    assert_eq!(
        seen[2].q("labelSelector"),
        Some("gateway.networking.k8s.io/gateway-name=edge")
    );
    assert_eq!(out.live_in, Some(2));
    assert!(
        rec.all()
            .iter()
            .any(|m| m.contains("targets Service waypoint: veerctl cannot tell which pods")),
        "{:?}",
        rec.all()
    );
}

/// In dry-run nothing changes, so no sidecar is read.
#[tokio::test]
async fn a_dry_run_edit_reads_no_sidecar() {
    let (client, server) = scripted(vec![Answer(200, stored_plugin(|_| ()))]);
    let wait = wait(Sidecars::new(&[]));
    let t = target(client, "demo").with_dry_run(veer_k8s::DryRun::Client);
    let out = update_plugin_config_waiting(&t, "veer", to_half, &updates(), &wait, &NoReporter)
        .await
        .expect("planned");
    assert_eq!(server.await.expect("server").len(), 1, "only the read");
    assert_eq!((out.live_in, out.requests.len()), (None, 1));
    assert!(wait.reader.asked.lock().expect("lock").is_empty());
}

/// `mesh install` also counts a later version live: someone edited the config on top already.
#[tokio::test]
async fn a_later_version_counts_as_live_for_an_install() {
    let (client, server) = scripted(vec![
        absent(),
        Answer(200, ECHO()),
        pods(),
        Answer(200, ECHO()),
        Answer(200, ECHO()),
    ]);
    let mut wait = wait(Sidecars::new(&[Some(2), Some(1)]));
    wait.opts.timeout = Duration::ZERO;
    let out = mesh::mesh_install_waiting(&target(client, "demo"), &spec(), &wait, &NoReporter)
        .await
        .expect("live");
    assert_eq!(out.applied.len(), 3);
    assert_eq!(server.await.expect("server").len(), 5);
}

fn updates() -> UpdateOptions {
    UpdateOptions {
        max_attempts: 1,
        retry_delay: Duration::ZERO,
        ..UpdateOptions::default()
    }
}
