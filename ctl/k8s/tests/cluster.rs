//! Opt-in: the blue/green, rollout and mesh flows against a real cluster.
//!
//! `cargo test -p veer-k8s --features cluster-tests --test cluster` (or `make test-cluster`).
//! Each test creates its own namespace `veer-test-<n>` and deletes it at the end. Without
//! KUBECONFIG every test prints why it is skipped and passes. The mesh test also needs Istio's
//! CRDs; it skips without them.

// Tests state their expectations with expect(): a failed one is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service};
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use veer_k8s::bluegreen::{self, DeployRequest, ScaleDownOutcome};
use veer_k8s::istio::WasmPlugin;
use veer_k8s::manifests::demo_mesh;
use veer_k8s::mesh;
use veer_k8s::plugin_config::{update_plugin_config, UpdateOptions};
use veer_k8s::rollout::{self, RolloutRequest, Strategy};
use veer_k8s::{Colour, Reporter, Target, WaitOptions};

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

/// A client and a fresh namespace, or `None` (with the reason printed) without KUBECONFIG.
async fn cluster(test: &str) -> Option<Target> {
    if std::env::var_os("KUBECONFIG").is_none() {
        eprintln!("skipping {test}: KUBECONFIG is not set (point it at a test cluster, e.g. kind, to run this suite)");
        return None;
    }
    let client = Client::try_default()
        .await
        .expect("a client from KUBECONFIG");
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis()
        % 1_000_000_000;
    let ns = format!("veer-test-{n}");
    let namespace: Namespace =
        serde_json::from_value(json!({ "metadata": { "name": ns } })).expect("namespace");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("create namespace");
    Some(Target::new(client, ns))
}

async fn cleanup(t: &Target) {
    let _ = Api::<Namespace>::all(t.client.clone())
        .delete(&t.namespace, &DeleteParams::default())
        .await;
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
    cleanup(&t).await;
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
        strategy: Strategy::rolling_default(),
    };
    rollout::rollout(&t, &req).await.expect("rollout");
    rollout::rollout_status(&t, "web", &wait(), &Stderr)
        .await
        .expect("rolled out");
    let req = RolloutRequest {
        strategy: Strategy::Recreate,
        image: IMAGE.into(),
        ..req
    };
    rollout::rollout(&t, &req).await.expect("recreate");
    rollout::rollout_status(&t, "web", &wait(), &Stderr)
        .await
        .expect("recreated");
    let undo = rollout::undo(&t, "web", None).await.expect("undo");
    assert!(undo.changed, "{}", undo.message);
    rollout::rollout_status(&t, "web", &wait(), &Stderr)
        .await
        .expect("undone");
    cleanup(&t).await;
}

#[tokio::test]
async fn mesh_flow() {
    let Some(t) = cluster("mesh_flow").await else {
        return;
    };
    if t.api::<WasmPlugin>()
        .list(&Default::default())
        .await
        .is_err()
    {
        eprintln!(
            "skipping mesh_flow: Istio's CRDs (WasmPlugin) are not installed in this cluster"
        );
        cleanup(&t).await;
        return;
    }
    let out = mesh::mesh_install(&t, &demo_mesh(), &Stderr)
        .await
        .expect("install");
    assert_eq!(out.applied[0], "WasmPlugin/veer");
    let half = |mut c: veer_filter::config::WireConfig| {
        c.services[0].split = [("v1".to_owned(), 5000), ("v2".to_owned(), 5000)].into();
        Ok(c)
    };
    let update = update_plugin_config(&t, "veer", half, &UpdateOptions::default(), &Stderr)
        .await
        .expect("update");
    assert_eq!(update.version, 2);
    cleanup(&t).await;
}
