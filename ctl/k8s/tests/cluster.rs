//! Opt-in: the blue/green, rollout and mesh flows against a real cluster, including issue 16's
//! cases (strategy kept by an image change, --to-revision 0, a paused Deployment, a colourless
//! Service, a Recreate colour over a defaulted rolling one, the failStrategy the cluster's Istio
//! accepts). Not here: the CronJob (it needs a veerctl image) and 500 sidecars (scale.rs).
//!
//! `cargo test -p veer-k8s --features cluster-tests --test cluster` (or `make test-cluster`).
//! Each test creates its own namespace `veer-test-<n>`, deleted when the test ends, also when it
//! fails (a guard's Drop). Without KUBECONFIG every test says on stderr why it is skipped (past
//! the test harness's capture) and passes. The mesh tests also need Istio's CRDs; they skip
//! without them.

// Tests state their expectations with expect(): a failed one is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use veer_k8s::bluegreen::{self, DeployRequest, ScaleDownOutcome};
use veer_k8s::fail_strategy;
use veer_k8s::istio::WasmPlugin;
use veer_k8s::manifests::demo_mesh;
use veer_k8s::mesh;
use veer_k8s::plugin_config::{read_config, update_plugin_config, UpdateOptions};
use veer_k8s::plugin_live::{PluginWait, PortForward};
use veer_k8s::rollout::{self, RolloutRequest, Strategy};
use veer_k8s::{Colour, Error, Reporter, Target, WaitOptions};

const IMAGE: &str = "hashicorp/http-echo:1.0";
/// The keep time switches record; scale-down overrides it.
const KEEP: Duration = Duration::from_secs(600);

struct Stderr;

impl Reporter for Stderr {
    fn progress(&self, message: &str) {
        eprintln!("  {message}");
    }
}

fn wait() -> WaitOptions {
    WaitOptions {
        timeout: Duration::from_secs(240),
        interval: Duration::from_secs(1),
    }
}

/// Says why a test is skipped where it is seen: straight to stderr, which the test harness does
/// not capture (its capture only takes `eprintln!`).
fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// A fresh namespace for one test, deleted when the guard is dropped: at the end of the test or
/// while a failed assertion unwinds. The delete runs on its own thread, runtime and client, since
/// Drop cannot await and the test's runtime may be the one unwinding.
struct TestNamespace {
    target: Target,
}

impl std::ops::Deref for TestNamespace {
    type Target = Target;

    fn deref(&self) -> &Target {
        &self.target
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let ns = self.target.namespace.clone();
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let client = Client::try_default().await.map_err(|e| e.to_string())?;
                Api::<Namespace>::all(client)
                    .delete(&ns, &DeleteParams::default())
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(e)) = deleted {
            let _ = writeln!(
                std::io::stderr(),
                "failed to delete namespace {}: {e}; delete it with `kubectl delete namespace {}`",
                self.target.namespace,
                self.target.namespace
            );
        }
    }
}

/// A client and a fresh namespace, or `None` (with the reason on stderr) without KUBECONFIG.
async fn cluster(test: &str) -> Option<TestNamespace> {
    if std::env::var_os("KUBECONFIG").is_none() {
        skip(
            test,
            "KUBECONFIG is not set (point it at a test cluster, e.g. kind, to run this suite)",
        );
        return None;
    }
    let client = Client::try_default()
        .await
        .expect("a client from KUBECONFIG");
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos()
        % 1_000_000_000_000;
    let ns = format!("veer-test-{n}");
    let namespace: Namespace =
        serde_json::from_value(json!({ "metadata": { "name": ns } })).expect("namespace");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("create namespace");
    Some(TestNamespace {
        target: Target::new(client, ns),
    })
}

/// The namespace with the demo mesh installed, or `None` (with the reason) without Istio.
async fn mesh_cluster(test: &str) -> Option<TestNamespace> {
    let t = cluster(test).await?;
    if t.api::<WasmPlugin>()
        .list(&Default::default())
        .await
        .is_err()
    {
        skip(
            test,
            "Istio's CRDs (WasmPlugin) are not installed in this cluster",
        );
        return None;
    }
    let out = mesh::mesh_install(&t, &demo_mesh(), &Stderr)
        .await
        .expect("install");
    assert_eq!(out.applied[0], "WasmPlugin/veer");
    // The failStrategy is one this cluster's Istio accepts: FAIL_RELOAD only where its CRD lists it.
    let crd = Api::<CustomResourceDefinition>::all(t.client.clone())
        .get(fail_strategy::WASMPLUGIN_CRD)
        .await
        .expect("WasmPlugin CRD");
    let allowed = fail_strategy::allowed(&crd).unwrap_or_default();
    let written = t.api::<WasmPlugin>().get("veer").await.expect("plugin");
    let expected = if allowed.iter().any(|v| v == "FAIL_RELOAD") {
        "FAIL_RELOAD"
    } else {
        "FAIL_CLOSE"
    };
    assert_eq!(written.spec.fail_strategy.as_deref(), Some(expected));
    Some(t)
}

#[tokio::test]
async fn bluegreen_flow() {
    let Some(t) = cluster("bluegreen_flow").await else {
        return;
    };
    let svc: Service = serde_json::from_value(json!({
        "metadata": { "name": "shop" },
        "spec": { "selector": { "app": "shop", "veer.dev/color": "blue" }, "ports": [ { "port": 80, "targetPort": 5678 } ] }
    }))
    .expect("service");
    t.api::<Service>()
        .create(&PostParams::default(), &svc)
        .await
        .expect("service");
    let req = |image: &str| DeployRequest {
        app: "shop".into(),
        image: image.into(),
        container: None,
        replicas: Some(1),
        wait: wait(),
        adopt_service: false,
    };
    // The Service points at blue, so the first deploy writes green; deploy blue by switching there first.
    let green = bluegreen::deploy(&t, &req(IMAGE), &Stderr)
        .await
        .expect("deploy green");
    assert_eq!(green.colour, Colour::Green);
    bluegreen::switch(&t, "shop", None, KEEP)
        .await
        .expect("switch to green");
    let blue = bluegreen::deploy(&t, &req("hashicorp/http-echo:1.0.0"), &Stderr)
        .await
        .expect("deploy blue");
    assert_eq!(blue.colour, Colour::Blue);
    bluegreen::switch(&t, "shop", None, KEEP)
        .await
        .expect("switch to blue");
    bluegreen::rollback(&t, "shop", KEEP)
        .await
        .expect("rollback to green");
    let st = bluegreen::status(&t, "shop").await.expect("status");
    assert_eq!(st.live, Some(Colour::Green));
    let out = bluegreen::scale_down_idle(&t, "shop", Some(Duration::ZERO))
        .await
        .expect("scale down");
    assert!(
        matches!(
            out,
            ScaleDownOutcome::ScaledDown {
                colour: Colour::Blue,
                ..
            }
        ),
        "{out:?}"
    );
}

#[tokio::test]
async fn rollout_flow() {
    let Some(t) = cluster("rollout_flow").await else {
        return;
    };
    let dep =
        bluegreen::build_deployment("web", Colour::Blue, IMAGE, None, 2, None).expect("build");
    let mut dep: Deployment =
        serde_json::from_value(serde_json::to_value(dep).expect("json")).expect("deployment");
    dep.metadata.name = Some("web".into());
    t.api::<Deployment>()
        .create(&PostParams::default(), &dep)
        .await
        .expect("create web");
    rollout::rollout_status(&t, "web", &wait(), &Stderr)
        .await
        .expect("first rollout");
    let req = RolloutRequest {
        app: "web".into(),
        image: "hashicorp/http-echo:1.0.0".into(),
        container: None,
        strategy: Some(Strategy::rolling_default()),
    };
    rollout::rollout(&t, &req).await.expect("rollout");
    rollout::rollout_status(&t, "web", &wait(), &Stderr)
        .await
        .expect("rolled out");
    let req = RolloutRequest {
        strategy: Some(Strategy::Recreate),
        image: IMAGE.into(),
        ..req
    };
    rollout::rollout(&t, &req).await.expect("recreate");
    rollout::rollout_status(&t, "web", &wait(), &Stderr)
        .await
        .expect("recreated");
    // An image change without a strategy keeps Recreate (and clears nothing).
    let req = RolloutRequest {
        strategy: None,
        image: "hashicorp/http-echo:1.0.0".into(),
        ..req
    };
    rollout::rollout(&t, &req).await.expect("image only");
    let dep = t.api::<Deployment>().get("web").await.expect("web");
    let strategy = dep.spec.expect("spec").strategy.expect("strategy");
    assert_eq!(strategy.type_.as_deref(), Some("Recreate"));
    assert!(strategy.rolling_update.is_none());
    rollout::rollout_status(&t, "web", &wait(), &Stderr)
        .await
        .expect("image rolled out");
    // --to-revision 0: the previous revision.
    let undo = rollout::undo(&t, "web", Some(0)).await.expect("undo");
    assert!(undo.changed, "{}", undo.message);
    rollout::rollout_status(&t, "web", &wait(), &Stderr)
        .await
        .expect("undone");
}

/// A paused Deployment: the wait says it is paused and how to resume it.
#[tokio::test]
async fn paused_rollout_flow() {
    let Some(t) = cluster("paused_rollout_flow").await else {
        return;
    };
    let dep =
        bluegreen::build_deployment("web", Colour::Blue, IMAGE, None, 1, None).expect("build");
    let mut dep: Deployment =
        serde_json::from_value(serde_json::to_value(dep).expect("json")).expect("deployment");
    dep.metadata.name = Some("web".into());
    dep.spec.as_mut().expect("spec").paused = Some(true);
    t.api::<Deployment>()
        .create(&PostParams::default(), &dep)
        .await
        .expect("create web");
    let short = WaitOptions {
        timeout: Duration::from_secs(10),
        interval: Duration::from_secs(1),
    };
    let err = rollout::rollout_status(&t, "web", &short, &Stderr)
        .await
        .expect_err("paused");
    let text = err.to_string();
    assert!(
        text.contains("is paused") && text.contains("kubectl rollout resume deployment/web"),
        "{text}"
    );
}

/// A Service selecting only `app` is refused by deploy; a Recreate colour is copied over an idle
/// Deployment that the API server defaulted to rolling (its `rollingUpdate` is cleared).
#[tokio::test]
async fn bluegreen_service_and_strategy_flow() {
    let Some(t) = cluster("bluegreen_service_and_strategy_flow").await else {
        return;
    };
    let svc: Service = serde_json::from_value(json!({
        "metadata": { "name": "shop" },
        "spec": { "selector": { "app": "shop" }, "ports": [ { "port": 80, "targetPort": 5678 } ] }
    }))
    .expect("service");
    t.api::<Service>()
        .create(&PostParams::default(), &svc)
        .await
        .expect("service");
    let req = DeployRequest {
        app: "shop".into(),
        image: IMAGE.into(),
        container: None,
        replicas: Some(1),
        wait: wait(),
        adopt_service: false,
    };
    let err = bluegreen::deploy(&t, &req, &Stderr)
        .await
        .expect_err("colourless Service");
    assert!(err.to_string().contains("--adopt-service"), "{err}");
    // Select blue; blue is Recreate; green exists, created rolling (defaulted rollingUpdate).
    let patch = json!({ "spec": { "selector": { "app": "shop", "veer.dev/color": "blue" } } });
    t.api::<Service>()
        .patch(
            "shop",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .expect("select blue");
    for colour in [Colour::Blue, Colour::Green] {
        let mut dep =
            bluegreen::build_deployment("shop", colour, IMAGE, None, 1, None).expect("build");
        if colour == Colour::Blue {
            dep.spec.as_mut().expect("spec").strategy =
                Some(serde_json::from_value(json!({ "type": "Recreate" })).expect("strategy"));
        }
        t.api::<Deployment>()
            .create(&PostParams::default(), &dep)
            .await
            .expect("create colour");
    }
    let green = bluegreen::deploy(&t, &req, &Stderr)
        .await
        .expect("deploy green as Recreate");
    assert_eq!(green.colour, Colour::Green);
    let dep = t
        .api::<Deployment>()
        .get("shop-green")
        .await
        .expect("green");
    let strategy = dep.spec.expect("spec").strategy.expect("strategy");
    assert_eq!(strategy.type_.as_deref(), Some("Recreate"));
    assert!(strategy.rolling_update.is_none());
}

#[tokio::test]
async fn mesh_flow() {
    let Some(t) = mesh_cluster("mesh_flow").await else {
        return;
    };
    let half = |mut c: veer_filter::config::WireConfig| {
        c.services[0].split = [("v1".to_owned(), 5000), ("v2".to_owned(), 5000)].into();
        Ok(c)
    };
    let update = update_plugin_config(&t, "veer", half, &UpdateOptions::default(), &Stderr)
        .await
        .expect("update");
    assert_eq!(update.version, 2);
    // The test namespace runs no pod: an install that waits finds no sidecar, fails, and applies
    // no route.
    let wait = PluginWait {
        opts: wait(),
        reader: PortForward,
    };
    let err = mesh::mesh_install_waiting(&t, &demo_mesh(), &wait, &Stderr)
        .await
        .expect_err("no sidecar to verify");
    assert!(matches!(err, Error::NoSidecar { .. }), "{err}");
}

/// Both callers have read the WasmPlugin before either writes (waits at most 30 s for the other).
fn rendezvous(met: &(Mutex<u32>, Condvar)) {
    let (count, cv) = met;
    let mut n = count.lock().expect("lock");
    *n += 1;
    cv.notify_all();
    let _ = cv
        .wait_timeout_while(n, Duration::from_secs(30), |n| *n < 2)
        .expect("lock");
}

/// Two operators update the WasmPlugin at once: both read before either writes, so the API
/// server refuses one write (409); that one reads again and applies its change on top of the
/// other's. Both changes are live, the version counts both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_flow() {
    let Some(t) = mesh_cluster("concurrent_updates_flow").await else {
        return;
    };
    let met = Arc::new((Mutex::new(0u32), Condvar::new()));
    let updater = |edit: fn(&mut veer_filter::config::WireConfig)| {
        let (t, met) = (t.target.clone(), met.clone());
        let first = Arc::new(AtomicBool::new(true));
        tokio::spawn(async move {
            let f = move |mut c: veer_filter::config::WireConfig| {
                if first.swap(false, Ordering::SeqCst) {
                    rendezvous(&met);
                }
                edit(&mut c);
                Ok(c)
            };
            update_plugin_config(&t, "veer", f, &UpdateOptions::default(), &Stderr).await
        })
    };
    let a = updater(|c| {
        c.services[0].split = [("v1".to_owned(), 5000), ("v2".to_owned(), 5000)].into();
    });
    let b = updater(|c| c.services[0].hosts.push("web.example".into()));
    let (a, b) = (
        a.await.expect("task").expect("a"),
        b.await.expect("task").expect("b"),
    );
    assert_eq!(a.attempts + b.attempts, 3, "exactly one write conflicted");
    let live =
        read_config(&t.api::<WasmPlugin>().get("veer").await.expect("plugin")).expect("config");
    assert_eq!(live.version, Some(3));
    assert_eq!(live.services[0].split["v2"], 5000);
    assert!(live.services[0].hosts.contains(&"web.example".to_owned()));
}

/// A deploy whose image cannot be pulled fails with the reason the kubelet gives.
#[tokio::test]
async fn failure_reason_flow() {
    let Some(t) = cluster("failure_reason_flow").await else {
        return;
    };
    let req = DeployRequest {
        app: "broken".into(),
        image: "registry.invalid/veer/nope:0".into(),
        container: None,
        replicas: Some(1),
        wait: WaitOptions {
            timeout: Duration::from_secs(90),
            interval: Duration::from_secs(2),
        },
        adopt_service: false,
    };
    let err = bluegreen::deploy(&t, &req, &Stderr)
        .await
        .expect_err("cannot pull");
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    let text = err.to_string();
    assert!(
        ["ErrImagePull", "ImagePullBackOff"]
            .iter()
            .any(|r| text.contains(r)),
        "{text}"
    );
    assert!(text.contains("(pod broken-blue-"), "{text}");
}
