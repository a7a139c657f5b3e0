//! A rollout waiting on status the test feeds, and an undo, on an in-memory API.

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use kube::Api;
use serde_json::json;
use veer_k8s::rollout::{self, RolloutRequest, Strategy};

use crate::support::*;

#[tokio::test]
async fn rollout_status_follows_the_status_the_test_feeds() {
    let client = fake(vec![deployment(
        "web",
        json!({ "app": "web" }),
        "echo:1",
        3,
        3,
    )])
    .await;
    let t = target(client.clone(), "demo");
    let api: Api<Deployment> = Api::namespaced(client, "demo");
    let req = RolloutRequest {
        app: "web".into(),
        image: "echo:2".into(),
        container: None,
        strategy: Some(Strategy::rolling_default()),
    };
    rollout::rollout(&t, &req).await.expect("rollout");
    let generation = api
        .get("web")
        .await
        .expect("web")
        .metadata
        .generation
        .expect("generation");
    assert!(generation >= 2, "the spec change bumped the generation");

    let (rec, mut seen) = Recorder::with_channel();
    let feeder = tokio::spawn(async move {
        let steps = [
            (
                "spec update to be observed",
                json!({ "observedGeneration": generation, "replicas": 4, "updatedReplicas": 1, "availableReplicas": 3 }),
            ),
            (
                "1 out of 3 new replicas",
                json!({ "observedGeneration": generation, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3 }),
            ),
            (
                "1 old replicas are pending",
                json!({ "observedGeneration": generation, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3 }),
            ),
        ];
        for (wait_for, status) in steps {
            while let Some(m) = seen.recv().await {
                if m.contains(wait_for) {
                    break;
                }
            }
            let patch = json!({ "status": status });
            api.patch_status("web", &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .expect("status");
        }
    });
    rollout::rollout_status(&t, "web", &fast_wait(), &rec)
        .await
        .expect("rolled out");
    feeder.await.expect("feeder");
    assert_eq!(
        rec.all(),
        vec![
            "Waiting for deployment spec update to be observed...",
            "Waiting for deployment \"web\" rollout to finish: 1 out of 3 new replicas have been updated...",
            "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination...",
            "deployment \"web\" successfully rolled out",
        ]
    );
}

#[tokio::test]
async fn undo_restores_the_previous_image() {
    let rs = |rev: &str, image: &str| {
        json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": { "name": format!("web-{rev}"), "namespace": "demo", "labels": { "app": "web" },
                "annotations": { "deployment.kubernetes.io/revision": rev },
                "ownerReferences": [ { "apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "uid-web", "controller": true } ] },
            "spec": { "selector": { "matchLabels": { "app": "web" } },
                "template": { "metadata": { "labels": { "app": "web", "pod-template-hash": rev } },
                    "spec": { "containers": [ { "name": "app", "image": image, "args": ["-text=v1"] } ] } } }
        })
    };
    let mut web = deployment("web", json!({ "app": "web" }), "echo:2", 3, 3);
    web["metadata"]["annotations"] = json!({ "deployment.kubernetes.io/revision": "2" });
    let client = fake(vec![web, rs("1", "echo:1"), rs("2", "echo:2")]).await;
    let t = target(client.clone(), "demo");
    let out = rollout::undo(&t, "web", None).await.expect("undo");
    assert_eq!(out.message, "deployment.apps/web rolled back to revision 1");
    let api: Api<Deployment> = Api::namespaced(client, "demo");
    let web = api.get("web").await.expect("web");
    let template = web.spec.expect("spec").template;
    assert_eq!(
        template.spec.expect("pod").containers[0].image.as_deref(),
        Some("echo:1")
    );
    assert!(!template
        .metadata
        .expect("meta")
        .labels
        .expect("labels")
        .contains_key("pod-template-hash"));
    let again = rollout::undo(&t, "web", Some(1)).await.expect("no-op");
    assert!(!again.changed, "{}", again.message);
}
