//! Blue/green end to end on an in-memory API: deploy green -> switch -> rollback -> switch ->
//! scale down the idle colour; and a deploy that fails with the pods' reason.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Patch, PatchParams};
use kube::Api;
use serde_json::json;
use veer_k8s::bluegreen::{self, DeployRequest, ScaleDownOutcome};
use veer_k8s::{Colour, Error, NoReporter, WaitOptions};

use crate::support::*;

/// The keep time switches record in these flows: long, so only an override scales down.
const KEEP: Duration = Duration::from_secs(3600);

fn selector(colour: &str) -> serde_json::Value {
    json!({ "app": "shop", "veer.dev/color": colour })
}

/// Plays the Deployment controller: once the waiter has reported that it waits, marks every
/// replica of `name` updated and available.
async fn make_available(
    api: Api<Deployment>,
    name: &str,
    mut seen: tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    while let Some(m) = seen.recv().await {
        if m.starts_with("Waiting") {
            break;
        }
    }
    let d = api.get(name).await.expect("deployment");
    let generation = d.metadata.generation.unwrap_or(1);
    let replicas = d.spec.and_then(|s| s.replicas).unwrap_or(1);
    let status = json!({ "status": { "observedGeneration": generation, "replicas": replicas,
        "updatedReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas } });
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("status");
}

#[tokio::test]
async fn deploy_switch_rollback_scale_down() {
    let client = fake(vec![
        service("shop", selector("blue"), json!({})),
        deployment("shop-blue", selector("blue"), "echo:1", 2, 2),
    ])
    .await;
    let t = target(client.clone(), "demo");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "demo");
    let services: Api<Service> = Api::namespaced(client, "demo");

    // deploy green, fed by a "controller" while the deploy waits
    let (rec, seen) = Recorder::with_channel();
    let feeder = tokio::spawn(make_available(deployments.clone(), "shop-green", seen));
    let req = DeployRequest {
        app: "shop".into(),
        image: "echo:2".into(),
        container: None,
        replicas: None,
        wait: fast_wait(),
        adopt_service: false,
    };
    let out = bluegreen::deploy(&t, &req, &rec)
        .await
        .expect("deploy green");
    feeder.await.expect("feeder");
    assert_eq!(out.colour, Colour::Green);
    let green = deployments.get("shop-green").await.expect("green exists");
    let spec = green.spec.expect("spec");
    assert_eq!(spec.replicas, Some(2));
    assert_eq!(
        spec.template.spec.expect("pod").containers[0]
            .image
            .as_deref(),
        Some("echo:2")
    );
    assert!(rec
        .all()
        .last()
        .expect("messages")
        .ends_with("successfully rolled out"));

    // switch to green
    let out = bluegreen::switch(&t, "shop", None, KEEP)
        .await
        .expect("switch");
    assert_eq!((out.from, out.to), (Some(Colour::Blue), Colour::Green));
    let svc = services.get("shop").await.expect("svc");
    assert_eq!(
        svc.spec.expect("spec").selector.expect("selector"),
        [
            ("app".to_owned(), "shop".to_owned()),
            ("veer.dev/color".to_owned(), "green".to_owned())
        ]
        .into()
    );
    assert_eq!(
        svc.metadata.annotations.expect("ann")["veer.dev/previous-color"],
        "blue"
    );

    // rollback is instant: blue still runs
    let out = bluegreen::rollback(&t, "shop", KEEP)
        .await
        .expect("rollback");
    assert_eq!(out.to, Colour::Blue);
    let st = bluegreen::status(&t, "shop").await.expect("status");
    assert_eq!(
        (st.live, st.previous),
        (Some(Colour::Blue), Some(Colour::Green))
    );

    // switch again; too early to scale blue down (the switch recorded KEEP), then with the keep
    // time overridden
    bluegreen::switch(&t, "shop", Some(Colour::Green), KEEP)
        .await
        .expect("switch again");
    let early = bluegreen::scale_down_idle(&t, "shop", None)
        .await
        .expect("early");
    assert!(
        matches!(
            early,
            ScaleDownOutcome::NotYet {
                colour: Colour::Blue,
                ..
            }
        ),
        "{early:?}"
    );
    assert_eq!(
        deployments
            .get("shop-blue")
            .await
            .expect("blue")
            .spec
            .expect("spec")
            .replicas,
        Some(2)
    );
    let done = bluegreen::scale_down_idle(&t, "shop", Some(Duration::ZERO))
        .await
        .expect("scale down");
    assert!(
        matches!(
            done,
            ScaleDownOutcome::ScaledDown {
                colour: Colour::Blue,
                replicas_before: 2,
                ..
            }
        ),
        "{done:?}"
    );
    assert_eq!(
        deployments
            .get("shop-blue")
            .await
            .expect("blue")
            .spec
            .expect("spec")
            .replicas,
        Some(0)
    );
    let again = bluegreen::scale_down_idle(&t, "shop", Some(Duration::ZERO))
        .await
        .expect("idempotent");
    assert!(matches!(again, ScaleDownOutcome::Nothing { .. }));

    // once scaled down, rollback says what to do instead of sending traffic to nothing
    let err = bluegreen::rollback(&t, "shop", KEEP)
        .await
        .expect_err("blue is at zero");
    assert!(
        err.to_string().contains("scaled down to 0 replicas"),
        "{err}"
    );
}

#[tokio::test]
async fn a_deploy_that_cannot_pull_its_image_fails_with_the_reason() {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": "shop-green-abc", "namespace": "demo", "labels": selector("green") },
        "spec": { "containers": [ { "name": "shop", "image": "echo:nope" } ] },
        "status": { "phase": "Pending", "containerStatuses": [ { "name": "shop", "ready": false, "restartCount": 0,
            "image": "echo:nope", "imageID": "",
            "state": { "waiting": { "reason": "ImagePullBackOff", "message": "Back-off pulling image \"echo:nope\"" } } } ] }
    });
    let event = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": { "name": "shop-green-abc.1", "namespace": "demo" },
        "involvedObject": { "kind": "Pod", "name": "shop-green-abc", "namespace": "demo" },
        "type": "Warning", "reason": "Failed", "message": "Failed to pull image \"echo:nope\": not found"
    });
    let client = fake(vec![
        service("shop", selector("blue"), json!({})),
        pod,
        event,
    ])
    .await;
    let t = target(client, "demo");
    let req = DeployRequest {
        app: "shop".into(),
        image: "echo:nope".into(),
        container: None,
        replicas: Some(1),
        wait: WaitOptions {
            timeout: Duration::from_millis(30),
            interval: Duration::from_millis(5),
        },
        adopt_service: false,
    };
    let err = bluegreen::deploy(&t, &req, &NoReporter)
        .await
        .expect_err("times out");
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("container shop: ImagePullBackOff: Back-off pulling image \"echo:nope\" (pod shop-green-abc)"), "{text}");
    assert!(
        text.contains("event Failed: Failed to pull image \"echo:nope\": not found"),
        "{text}"
    );
}
