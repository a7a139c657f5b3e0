//! Exact requests of rollout, rollout status and undo.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::json;
use veer_k8s::rollout::{self, RolloutRequest, Strategy};
use veer_k8s::Error;

use crate::support::*;

const WEB: &str = "/apis/apps/v1/namespaces/demo/deployments/web";

fn labels() -> serde_json::Value {
    json!({ "app": "web" })
}

#[tokio::test]
async fn rolling_rollout_is_one_merge_patch_with_strategy_image_and_resource_version() {
    let (client, server) = scripted(vec![
        Answer(200, deployment("web", labels(), "echo:1", 3, 3)),
        Answer(200, deployment("web", labels(), "echo:2", 3, 3)),
    ]);
    let req = RolloutRequest {
        app: "web".into(),
        image: "echo:2".into(),
        container: Some("app".into()),
        strategy: Some(Strategy::Rolling {
            max_surge: Some(IntOrString::Int(1)),
            max_unavailable: Some(IntOrString::String("0%".into())),
        }),
    };
    rollout::rollout(&target(client, "demo"), &req)
        .await
        .expect("rollout");
    let seen = server.await.expect("server");
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path.as_str()),
        ("PATCH", WEB)
    );
    assert_eq!(
        seen[1].content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(seen[1].q("fieldManager"), Some("veerctl"));
    assert_eq!(
        seen[1].body,
        json!({
            "metadata": { "resourceVersion": "1" },
            "spec": {
                "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxSurge": 1, "maxUnavailable": "0%" } },
                "template": { "spec": { "containers": [ { "name": "app", "image": "echo:2", "args": ["-text=v1"] } ] } }
            }
        })
    );
}

#[tokio::test]
async fn recreate_clears_rolling_update() {
    let (client, server) = scripted(vec![
        Answer(200, deployment("web", labels(), "echo:1", 3, 3)),
        Answer(200, deployment("web", labels(), "echo:2", 3, 3)),
    ]);
    let req = RolloutRequest {
        app: "web".into(),
        image: "echo:2".into(),
        container: None,
        strategy: Some(Strategy::Recreate),
    };
    rollout::rollout(&target(client, "demo"), &req)
        .await
        .expect("rollout");
    let seen = server.await.expect("server");
    assert_eq!(
        seen.iter()
            .map(|s| (s.method.as_str(), s.path.as_str()))
            .collect::<Vec<_>>(),
        vec![("GET", WEB), ("PATCH", WEB)]
    );
    assert_eq!(
        seen[1].content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(
        seen[1].query,
        vec![("fieldManager".into(), "veerctl".into())]
    );
    assert_eq!(
        seen[1].body,
        json!({
            "metadata": { "resourceVersion": "1" },
            "spec": {
                "strategy": { "type": "Recreate", "rollingUpdate": null },
                "template": { "spec": { "containers": [ { "name": "app", "image": "echo:2", "args": ["-text=v1"] } ] } }
            }
        }),
        "the whole body: strategy, image, precondition; nothing else"
    );
}

#[tokio::test]
async fn zero_surge_and_zero_unavailable_is_refused_before_sending() {
    let (client, server) = scripted(vec![Answer(
        200,
        deployment("web", labels(), "echo:1", 3, 3),
    )]);
    let req = RolloutRequest {
        app: "web".into(),
        image: "echo:2".into(),
        container: None,
        strategy: Some(Strategy::Rolling {
            max_surge: Some(IntOrString::Int(0)),
            max_unavailable: Some(IntOrString::String("0%".into())),
        }),
    };
    let err = rollout::rollout(&target(client, "demo"), &req)
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    assert_eq!(server.await.expect("server").len(), 1);
}

#[tokio::test]
async fn rollout_status_reports_kubectl_messages_until_done() {
    let d = |gen: i64, observed: i64, replicas: i32, updated: i32, available: i32| {
        let mut v = deployment("web", labels(), "echo:2", 3, 0);
        v["metadata"]["generation"] = json!(gen);
        v["status"] = json!({ "observedGeneration": observed, "replicas": replicas,
                              "updatedReplicas": updated, "availableReplicas": available });
        Answer(200, v)
    };
    let (client, server) = scripted(vec![
        d(2, 1, 3, 0, 3),
        d(2, 2, 4, 2, 3),
        d(2, 2, 4, 3, 3),
        d(2, 2, 3, 3, 2),
        d(2, 2, 3, 3, 3),
    ]);
    let rec = Recorder::new();
    let done = rollout::rollout_status(&target(client, "demo"), "web", &fast_wait(), &rec)
        .await
        .expect("done");
    let seen = server.await.expect("server");
    assert!(seen.iter().all(|s| s.method == "GET" && s.path == WEB));
    assert_eq!(
        rec.all(),
        vec![
            "Waiting for deployment spec update to be observed...",
            "Waiting for deployment \"web\" rollout to finish: 2 out of 3 new replicas have been updated...",
            "Waiting for deployment \"web\" rollout to finish: 1 old replicas are pending termination...",
            "Waiting for deployment \"web\" rollout to finish: 2 of 3 updated replicas are available...",
            "deployment \"web\" successfully rolled out",
        ]
    );
    assert_eq!(done, "deployment \"web\" successfully rolled out");
}

fn replica_set(name: &str, revision: &str, image: &str) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": { "name": name, "namespace": "demo",
            "annotations": { "deployment.kubernetes.io/revision": revision, "note": format!("rs {revision}") },
            "ownerReferences": [ { "apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "uid-web", "controller": true } ] },
        "spec": { "selector": { "matchLabels": { "app": "web" } },
            "template": { "metadata": { "labels": { "app": "web", "pod-template-hash": "abc" } },
                          "spec": { "containers": [ { "name": "app", "image": image } ] } } }
    })
}

#[tokio::test]
async fn undo_copies_the_previous_revisions_template_with_a_json_patch() {
    let mut dep = deployment("web", labels(), "echo:3", 3, 3);
    dep["metadata"]["annotations"] =
        json!({ "deployment.kubernetes.io/revision": "3", "team": "a" });
    let (client, server) = scripted(vec![
        Answer(200, dep.clone()),
        Answer(
            200,
            json!({ "apiVersion": "apps/v1", "kind": "ReplicaSetList", "metadata": {}, "items": [
            replica_set("web-1", "1", "echo:1"), replica_set("web-2", "2", "echo:2"), replica_set("web-3", "3", "echo:3") ] }),
        ),
        Answer(200, dep),
    ]);
    let out = rollout::undo(&target(client, "demo"), "web", None)
        .await
        .expect("undo");
    let seen = server.await.expect("server");
    assert_eq!(seen[1].path, "/apis/apps/v1/namespaces/demo/replicasets");
    assert_eq!(seen[1].q("labelSelector"), Some("app=web"));
    assert_eq!(
        (seen[2].method.as_str(), seen[2].path.as_str()),
        ("PATCH", WEB)
    );
    assert_eq!(
        seen[2].content_type.as_deref(),
        Some("application/json-patch+json")
    );
    assert_eq!(
        seen[2].query,
        vec![("fieldManager".into(), "veerctl".into())]
    );
    assert_eq!(
        seen[2].body,
        json!([
            { "op": "replace", "path": "/spec/template", "value": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [ { "name": "app", "image": "echo:2" } ] } } },
            { "op": "replace", "path": "/metadata/annotations", "value": {
                "deployment.kubernetes.io/revision": "3", "note": "rs 2" } }
        ])
    );
    assert_eq!(out.message, "deployment.apps/web rolled back to revision 2");
}

#[tokio::test]
async fn undo_without_history_says_so() {
    let mut dep = deployment("web", labels(), "echo:1", 3, 3);
    dep["metadata"]["annotations"] = json!({ "deployment.kubernetes.io/revision": "1" });
    let (client, server) = scripted(vec![
        Answer(200, dep),
        Answer(
            200,
            json!({ "apiVersion": "apps/v1", "kind": "ReplicaSetList", "metadata": {}, "items": [ replica_set("web-1", "1", "echo:1") ] }),
        ),
    ]);
    let err = rollout::undo(&target(client, "demo"), "web", None)
        .await
        .expect_err("nothing to undo");
    server.await.expect("server");
    assert_eq!(
        err.to_string(),
        "failed to undo deployment web: no previous revision found in its ReplicaSets"
    );
}
