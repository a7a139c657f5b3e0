//! Why a rollout failed, from what the cluster says: a pod that cannot be scheduled, and a
//! Deployment past its progress deadline whose ReplicaSet could not create pods (a quota).

use std::time::Duration;

use serde_json::{json, Value};
use veer_k8s::rollout;
use veer_k8s::{Error, NoReporter, WaitOptions};

use crate::support::*;

fn labels() -> Value {
    json!({ "app": "web" })
}

fn short_wait() -> WaitOptions {
    WaitOptions {
        timeout: Duration::from_millis(30),
        interval: Duration::from_millis(5),
    }
}

fn warning(name: &str, kind: &str, about: &str, reason: &str, message: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": { "name": name, "namespace": "demo" },
        "involvedObject": { "kind": kind, "name": about, "namespace": "demo" },
        "type": "Warning", "reason": reason, "message": message
    })
}

/// A pod the scheduler cannot place: the timeout names the PodScheduled=False reason and the
/// scheduler's message, with the pod.
#[tokio::test]
async fn an_unschedulable_pod_is_named_with_the_schedulers_message() {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "web-abc-1", "namespace": "demo", "labels": labels() },
        "spec": { "containers": [ { "name": "app", "image": "echo:2" } ] },
        "status": { "phase": "Pending", "conditions": [ { "type": "PodScheduled", "status": "False",
            "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient cpu." } ] }
    });
    let other = warning("x.1", "Pod", "someone-else", "Failed", "not ours");
    let client = fake(vec![
        deployment("web", labels(), "echo:2", 2, 0),
        pod,
        other,
    ])
    .await;
    let err = rollout::rollout_status(&target(client, "demo"), "web", &short_wait(), &NoReporter)
        .await
        .expect_err("times out");
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(
            "Unschedulable: 0/3 nodes are available: 3 Insufficient cpu. (pod web-abc-1)"
        ),
        "{text}"
    );
    assert!(
        !text.contains("not ours"),
        "events of other objects are left out: {text}"
    );
}

/// The controller gave up (ProgressDeadlineExceeded) and no pod exists: the reason is the
/// ReplicaSet's FailedCreate event, reported at once without waiting for the timeout.
#[tokio::test]
async fn a_progress_deadline_with_a_quota_refusal_names_the_replicasets_event() {
    let mut dep = deployment("web", labels(), "echo:2", 2, 0);
    dep["status"]["conditions"] = json!([{ "type": "Progressing", "status": "False",
        "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web-abc\" has timed out progressing." }]);
    let rs = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": { "name": "web-abc", "namespace": "demo", "labels": labels(),
            "ownerReferences": [ { "apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                   "uid": "uid-web", "controller": true } ] },
        "spec": { "selector": { "matchLabels": labels() },
                  "template": { "metadata": { "labels": labels() },
                                "spec": { "containers": [ { "name": "app", "image": "echo:2" } ] } } }
    });
    let quota = "Error creating: pods \"web-abc-x\" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=4, limited: cpu=4";
    let client = fake(vec![
        dep,
        rs,
        warning("web-abc.1", "ReplicaSet", "web-abc", "FailedCreate", quota),
    ])
    .await;
    let wait = WaitOptions {
        timeout: Duration::from_secs(3600),
        ..short_wait()
    };
    let err = rollout::rollout_status(&target(client, "demo"), "web", &wait, &NoReporter)
        .await
        .expect_err("failed");
    assert!(matches!(err, Error::RolloutFailed { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("failed to roll out deployment web: deployment \"web\" exceeded its progress deadline: "),
        "{text}"
    );
    assert!(
        text.contains(&format!("event FailedCreate: {quota} (replicaset web-abc)")),
        "{text}"
    );
}
