//! Rollout semantics a real cluster depends on (issue 16): the strategy left alone by an image
//! change, `--to-revision 0`, the ReplicaSets a Deployment controls, a paused Deployment, set-based
//! selectors, and the events read to explain a stuck rollout.

use std::time::Duration;

use serde_json::{json, Value};
use veer_k8s::rollout::{self, RolloutRequest};
use veer_k8s::{Error, WaitOptions};

use crate::support::*;

const WEB: &str = "/apis/apps/v1/namespaces/demo/deployments/web";
const EVENTS: &str = "/api/v1/namespaces/demo/events";

fn labels() -> Value {
    json!({ "app": "web" })
}

/// A Recreate Deployment (e.g. with a ReadWriteOnce volume) whose image changes without
/// `--strategy`: the patch carries the image and the precondition, and no `spec.strategy`, as
/// `kubectl set image` does.
#[tokio::test]
async fn an_image_change_without_a_strategy_leaves_the_strategy_alone() {
    let mut dep = deployment("web", labels(), "echo:1", 3, 3);
    dep["spec"]["strategy"] = json!({ "type": "Recreate" });
    let (client, server) = scripted(vec![Answer(200, dep.clone()), Answer(200, dep)]);
    let req = RolloutRequest {
        app: "web".into(),
        image: "echo:2".into(),
        container: None,
        strategy: None,
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
        seen[1].body,
        json!({
            "metadata": { "resourceVersion": "1" },
            "spec": { "template": { "spec": { "containers": [
                { "name": "app", "image": "echo:2", "args": ["-text=v1"] } ] } } }
        })
    );
}

fn replica_set(name: &str, revision: &str, image: &str, owner: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": { "name": name, "namespace": "demo",
            "annotations": { "deployment.kubernetes.io/revision": revision },
            "ownerReferences": [ owner ] },
        "spec": { "selector": { "matchLabels": { "app": "web" } },
            "template": { "metadata": { "labels": { "app": "web", "pod-template-hash": revision } },
                          "spec": { "containers": [ { "name": "app", "image": image } ] } } }
    })
}

fn controlled_by_web() -> Value {
    json!({ "apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "uid-web", "controller": true })
}

fn replica_sets(items: Vec<Value>) -> Answer {
    Answer(
        200,
        json!({ "apiVersion": "apps/v1", "kind": "ReplicaSetList", "metadata": {}, "items": items }),
    )
}

fn web_at_revision(revision: &str, image: &str) -> Value {
    let mut dep = deployment("web", labels(), image, 3, 3);
    dep["metadata"]["annotations"] = json!({ "deployment.kubernetes.io/revision": revision });
    dep
}

/// `--to-revision 0` means the previous revision, as in kubectl.
#[tokio::test]
async fn to_revision_zero_is_the_previous_revision() {
    let dep = web_at_revision("3", "echo:3");
    let (client, server) = scripted(vec![
        Answer(200, dep.clone()),
        replica_sets(vec![
            replica_set("web-1", "1", "echo:1", controlled_by_web()),
            replica_set("web-2", "2", "echo:2", controlled_by_web()),
            replica_set("web-3", "3", "echo:3", controlled_by_web()),
        ]),
        Answer(200, dep),
    ]);
    let out = rollout::undo(&target(client, "demo"), "web", Some(0))
        .await
        .expect("undo");
    let seen = server.await.expect("server");
    assert_eq!(out.message, "deployment.apps/web rolled back to revision 2");
    assert_eq!(
        seen[2].body[0]["value"]["spec"]["containers"][0]["image"],
        "echo:2"
    );
}

/// Only ReplicaSets whose controller reference carries this Deployment's UID are its history: not
/// one left by an earlier Deployment of the same name, nor one it merely references.
#[tokio::test]
async fn history_is_the_replicasets_this_deployment_controls() {
    let earlier_web = json!({ "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                              "uid": "uid-of-a-deleted-web", "controller": true });
    let not_controller = json!({ "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                 "uid": "uid-web" });
    let (client, server) = scripted(vec![
        Answer(200, web_at_revision("3", "echo:3")),
        replica_sets(vec![
            replica_set("web-1", "1", "echo:1", controlled_by_web()),
            replica_set("old-web-2", "2", "echo:2", earlier_web),
            replica_set("ref-web-2", "2", "echo:2", not_controller),
            replica_set("web-3", "3", "echo:3", controlled_by_web()),
        ]),
        Answer(200, web_at_revision("3", "echo:3")),
    ]);
    let out = rollout::undo(&target(client, "demo"), "web", None)
        .await
        .expect("undo");
    server.await.expect("server");
    assert_eq!(out.message, "deployment.apps/web rolled back to revision 1");
}

/// A Deployment selecting with `matchExpressions` as well: the list of its ReplicaSets (and pods)
/// carries the whole selector, not only `matchLabels`.
#[tokio::test]
async fn a_set_based_selector_is_sent_whole() {
    let mut dep = web_at_revision("2", "echo:2");
    dep["spec"]["selector"]["matchExpressions"] = json!([
        { "key": "track", "operator": "In", "values": ["stable", "canary"] },
        { "key": "tier", "operator": "NotIn", "values": ["batch"] },
        { "key": "web.example/owner", "operator": "Exists" },
        { "key": "legacy", "operator": "DoesNotExist" }
    ]);
    let (client, server) = scripted(vec![Answer(200, dep), replica_sets(vec![])]);
    let err = rollout::undo(&target(client, "demo"), "web", None)
        .await
        .expect_err("no history");
    let seen = server.await.expect("server");
    assert!(matches!(err, Error::Undo { .. }), "{err}");
    assert_eq!(
        seen[1].q("labelSelector"),
        Some("app=web,track in (stable,canary),tier notin (batch),web.example/owner,!legacy")
    );
}

fn list(kind: &str, items: Vec<Value>) -> Answer {
    Answer(
        200,
        json!({ "apiVersion": "v1", "kind": kind, "metadata": {}, "items": items }),
    )
}

/// A paused Deployment does not roll out until resumed: the wait says so (not "no error yet"),
/// and the events it reads to explain are the Warnings of its own kinds and name, filtered by the
/// API server rather than every event of the namespace.
#[tokio::test]
async fn a_paused_deployment_is_reported_as_paused() {
    let mut dep = deployment("web", labels(), "echo:2", 3, 3);
    dep["spec"]["paused"] = json!(true);
    dep["metadata"]["generation"] = json!(2);
    dep["status"] = json!({ "observedGeneration": 2, "replicas": 3, "updatedReplicas": 0,
                            "availableReplicas": 3 });
    let (client, server) = scripted(vec![
        Answer(200, dep),
        list("PodList", vec![]),
        replica_sets(vec![]),
        list("EventList", vec![]),
        list("EventList", vec![]),
        list("EventList", vec![]),
    ]);
    let rec = Recorder::new();
    let wait = WaitOptions {
        timeout: Duration::ZERO,
        interval: Duration::from_millis(1),
    };
    let err = rollout::rollout_status(&target(client, "demo"), "web", &wait, &rec)
        .await
        .expect_err("paused");
    let seen = server.await.expect("server");
    let text = err.to_string();
    assert!(matches!(err, Error::Timeout { .. }), "{text}");
    assert!(
        text.contains("deployment \"web\" is paused")
            && text.contains("kubectl rollout resume deployment/web")
            && !text.contains("no error yet"),
        "{text}"
    );
    assert!(
        rec.all().iter().any(|m| m.contains("is paused")),
        "{:?}",
        rec.all()
    );
    let events: Vec<Option<&str>> = seen
        .iter()
        .filter(|s| s.path == EVENTS)
        .map(|s| s.q("fieldSelector"))
        .collect();
    assert_eq!(
        events,
        [
            Some("type=Warning,involvedObject.kind=Pod"),
            Some("type=Warning,involvedObject.kind=ReplicaSet"),
            Some("type=Warning,involvedObject.kind=Deployment,involvedObject.name=web"),
        ]
    );
}
