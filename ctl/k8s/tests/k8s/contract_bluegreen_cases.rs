//! Blue/green as a real cluster behaves (issue 16): a Service that selects no colour, a Recreate
//! colour copied over a defaulted rolling one, and a scale-down whose sidecar is not ready yet.

use serde_json::json;
use veer_k8s::bluegreen::{self, DeployRequest, ScaleDownOutcome};
use veer_k8s::{Error, NoReporter};

use crate::contract_bluegreen::request;
use crate::support::*;

const SVC: &str = "/api/v1/namespaces/demo/services/shop";
const GREEN: &str = "/apis/apps/v1/namespaces/demo/deployments/shop-green";

/// A Service selecting only `app: shop` would send traffic to the new colour's pods as soon as
/// they are ready, before any switch: deploy refuses, and says how to fix the selector or adopt
/// the Service on purpose. Nothing but the Service is read.
#[tokio::test]
async fn deploy_refuses_a_service_that_selects_no_colour() {
    let (client, server) = scripted(vec![Answer(
        200,
        service("shop", json!({ "app": "shop" }), json!({})),
    )]);
    let err = bluegreen::deploy(&target(client, "demo"), &request("echo:2"), &NoReporter)
        .await
        .expect_err("refused");
    let seen = server.await.expect("server");
    assert_eq!(
        seen.iter()
            .map(|s| (s.method.as_str(), s.path.as_str()))
            .collect::<Vec<_>>(),
        [("GET", SVC)]
    );
    let text = err.to_string();
    assert!(matches!(err, Error::Invalid { .. }), "{text}");
    assert!(
        text.contains("Service shop: it selects app=shop without veer.dev/color")
            && text.contains("before any switch")
            && text.contains("--adopt-service"),
        "{text}"
    );
}

/// With `adopt_service` the same Service is taken as it is: the deploy goes ahead (blue, since no
/// colour is live), with a warning that says what happens until the first switch.
#[tokio::test]
async fn deploy_adopts_a_colourless_service_when_asked() {
    let (client, server) = scripted(vec![
        Answer(200, service("shop", json!({ "app": "shop" }), json!({}))),
        not_found("deployments", "shop-blue"),
        Answer(200, ECHO()),
        Answer(
            200,
            deployment(
                "shop-blue",
                json!({ "app": "shop", "veer.dev/color": "blue" }),
                "echo:2",
                1,
                1,
            ),
        ),
    ]);
    let rec = Recorder::new();
    let req = DeployRequest {
        adopt_service: true,
        ..request("echo:2")
    };
    let out = bluegreen::deploy(&target(client, "demo"), &req, &rec)
        .await
        .expect("deployed");
    assert_eq!(server.await.expect("server").len(), 4);
    assert_eq!(out.deployment, "shop-blue");
    assert!(
        rec.all()
            .iter()
            .any(|m| m.contains("serve beside the current ones")
                && m.contains("bluegreen switch shop")),
        "{:?}",
        rec.all()
    );
}

/// The live colour is Recreate and the idle Deployment still carries the `rollingUpdate` the API
/// server defaulted (owned by nobody veerctl knows): the apply clears it with
/// `rollingUpdate: null`, as the rollout patch does, or the API server refuses the pair.
#[tokio::test]
async fn a_recreate_colour_is_copied_with_rolling_update_cleared() {
    let blue_labels = json!({ "app": "shop", "veer.dev/color": "blue" });
    let green_labels = json!({ "app": "shop", "veer.dev/color": "green" });
    let mut blue = deployment("shop-blue", blue_labels.clone(), "echo:1", 2, 2);
    blue["spec"]["strategy"] = json!({ "type": "Recreate" });
    let mut green = deployment("shop-green", green_labels.clone(), "echo:0", 2, 2);
    green["spec"]["strategy"] = json!({ "type": "RollingUpdate",
        "rollingUpdate": { "maxSurge": "25%", "maxUnavailable": "25%" } });
    let (client, server) = scripted(vec![
        Answer(200, service("shop", blue_labels, json!({}))),
        Answer(200, blue),
        Answer(200, green.clone()),
        Answer(200, ECHO()),
        Answer(200, deployment("shop-green", green_labels, "echo:2", 2, 2)),
    ]);
    bluegreen::deploy(&target(client, "demo"), &request("echo:2"), &NoReporter)
        .await
        .expect("deploy");
    let seen = server.await.expect("server");
    assert_eq!(
        (seen[3].method.as_str(), seen[3].path.as_str()),
        ("PATCH", GREEN)
    );
    assert_eq!(
        seen[3].content_type.as_deref(),
        Some("application/apply-patch+yaml")
    );
    assert_eq!(
        seen[3].body["spec"]["strategy"],
        json!({ "type": "Recreate", "rollingUpdate": null })
    );
}

/// In a pod whose Istio sidecar is not ready yet, the first connections are refused: the
/// scale-down (what the CronJob runs) tries again for a while instead of failing the Job.
#[tokio::test(start_paused = true)]
async fn scale_down_waits_for_a_sidecar_that_is_not_ready_yet() {
    let (client, server) = scripted(vec![
        refused(),
        refused(),
        Answer(
            200,
            service(
                "shop",
                json!({ "app": "shop", "veer.dev/color": "blue" }),
                json!({}),
            ),
        ),
        not_found("deployments", "shop-green"),
    ]);
    let out = bluegreen::scale_down_idle(&target(client, "demo"), "shop", None)
        .await
        .expect("reached the API server");
    let seen = server.await.expect("server");
    assert!(matches!(out, ScaleDownOutcome::Nothing { .. }), "{out:?}");
    assert_eq!(
        seen.iter().map(|s| s.path.as_str()).collect::<Vec<_>>(),
        [SVC, SVC, SVC, GREEN]
    );
}
