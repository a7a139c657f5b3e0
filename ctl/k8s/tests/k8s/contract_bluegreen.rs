//! Exact requests of the blue/green operations.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use serde_json::json;
use veer_k8s::bluegreen::{self, DeployRequest, ScaleDownOutcome};
use veer_k8s::{Colour, DryRun, Error, NoReporter};

use crate::support::*;

const SVC: &str = "/api/v1/namespaces/demo/services/shop";
const BLUE: &str = "/apis/apps/v1/namespaces/demo/deployments/shop-blue";
const GREEN: &str = "/apis/apps/v1/namespaces/demo/deployments/shop-green";

fn blue_labels() -> serde_json::Value {
    json!({ "app": "shop", "veer.dev/color": "blue" })
}

fn green_labels() -> serde_json::Value {
    json!({ "app": "shop", "veer.dev/color": "green" })
}

pub fn request(image: &str) -> DeployRequest {
    DeployRequest {
        app: "shop".into(),
        image: image.into(),
        container: None,
        replicas: None,
        wait: fast_wait(),
        adopt_service: false,
    }
}

/// The Deployment a first deploy applies: one container named after the app, both labels on the
/// Deployment, its selector and its pods.
fn first_deploy_body() -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "shop-blue", "labels": {
            "app": "shop", "veer.dev/color": "blue", "app.kubernetes.io/managed-by": "veerctl" } },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app": "shop", "veer.dev/color": "blue" } },
            "template": {
                "metadata": { "labels": { "app": "shop", "veer.dev/color": "blue" } },
                "spec": { "containers": [ { "name": "shop", "image": "hashicorp/http-echo:1.0" } ] }
            }
        }
    })
}

/// The body of a deploy's apply without its `veer.dev/deployed-at` annotation, which must be
/// there and be an RFC 3339 time (it tells a scale-down that this colour is being deployed).
fn without_deployed_at(body: &serde_json::Value) -> serde_json::Value {
    let mut body = body.clone();
    let annotations = body["metadata"]
        .as_object_mut()
        .and_then(|m| m.remove("annotations"))
        .expect("annotations");
    assert_eq!(
        annotations.as_object().map(|a| a.len()),
        Some(1),
        "{annotations}"
    );
    let at = annotations["veer.dev/deployed-at"]
        .as_str()
        .expect("deployed-at");
    assert!(at.parse::<Timestamp>().is_ok(), "{at}");
    body
}

#[tokio::test]
async fn first_deploy_reads_then_applies_blue_then_waits() {
    let (client, server) = scripted(vec![
        not_found("services", "shop"),
        not_found("deployments", "shop-blue"),
        Answer(200, ECHO()),
        Answer(
            200,
            deployment("shop-blue", blue_labels(), "hashicorp/http-echo:1.0", 1, 1),
        ),
    ]);
    let out = bluegreen::deploy(
        &target(client, "demo"),
        &request("hashicorp/http-echo:1.0"),
        &NoReporter,
    )
    .await
    .expect("deploy");
    let seen = server.await.expect("server");
    assert_eq!(out.colour, Colour::Blue);
    assert_eq!(
        seen.iter()
            .map(|s| (s.method.as_str(), s.path.as_str()))
            .collect::<Vec<_>>(),
        vec![("GET", SVC), ("GET", BLUE), ("PATCH", BLUE), ("GET", BLUE)],
        "reads, one apply, then polls until available"
    );
    let apply = &seen[2];
    assert_eq!(
        apply.content_type.as_deref(),
        Some("application/apply-patch+yaml")
    );
    assert_eq!(
        apply.query,
        vec![
            ("force".into(), "true".into()),
            ("fieldManager".into(), "veerctl".into())
        ]
    );
    assert_eq!(without_deployed_at(&apply.body), first_deploy_body());
    assert_eq!(out.requests.len(), 1);
    assert_eq!(out.requests[0].body, apply.body);
    assert_eq!(
        out.rolled_out.as_deref(),
        Some("deployment \"shop-blue\" successfully rolled out")
    );
}

#[tokio::test]
async fn deploy_writes_the_idle_colour_copied_from_the_live_one() {
    let (client, server) = scripted(vec![
        Answer(200, service("shop", blue_labels(), json!({}))),
        Answer(200, deployment("shop-blue", blue_labels(), "echo:1", 3, 3)),
        not_found("deployments", "shop-green"),
        Answer(200, ECHO()),
        Answer(
            200,
            deployment("shop-green", green_labels(), "echo:2", 3, 3),
        ),
    ]);
    let out = bluegreen::deploy(&target(client, "demo"), &request("echo:2"), &NoReporter)
        .await
        .expect("deploy");
    let seen = server.await.expect("server");
    assert_eq!(out.colour, Colour::Green);
    assert_eq!(
        seen.iter()
            .map(|s| (s.method.as_str(), s.path.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("GET", SVC),
            ("GET", BLUE),
            ("GET", GREEN),
            ("PATCH", GREEN),
            ("GET", GREEN)
        ]
    );
    let body = &seen[3].body;
    assert_eq!(
        body["spec"]["replicas"], 3,
        "replicas follow the live colour"
    );
    assert_eq!(body["spec"]["selector"]["matchLabels"], green_labels());
    assert_eq!(
        body["spec"]["template"]["metadata"]["labels"],
        green_labels()
    );
    assert_eq!(
        body["spec"]["template"]["spec"]["containers"],
        json!([{ "name": "app", "image": "echo:2", "args": ["-text=v1"] }]),
        "the live colour's container is copied, only the image changes"
    );
}

#[tokio::test]
async fn client_dry_run_reads_but_sends_no_write_and_does_not_wait() {
    let (client, server) = scripted(vec![
        not_found("services", "shop"),
        not_found("deployments", "shop-blue"),
    ]);
    let t = target(client, "demo").with_dry_run(DryRun::Client);
    let out = bluegreen::deploy(&t, &request("hashicorp/http-echo:1.0"), &NoReporter)
        .await
        .expect("deploy");
    let seen = server.await.expect("server");
    assert!(seen.iter().all(|s| s.method == "GET"));
    assert_eq!(out.rolled_out, None);
    assert_eq!(out.requests.len(), 1);
    let r = &out.requests[0];
    assert_eq!((r.method.as_str(), r.path.as_str()), ("PATCH", BLUE));
    assert_eq!(r.content_type, "application/apply-patch+yaml");
    assert_eq!(without_deployed_at(&r.body), first_deploy_body());
    assert!(r
        .to_string()
        .starts_with(&format!("PATCH {BLUE}?force=true&fieldManager=veerctl\n")));
}

#[tokio::test]
async fn server_dry_run_sends_dry_run_all_and_does_not_wait() {
    let (client, server) = scripted(vec![
        not_found("services", "shop"),
        not_found("deployments", "shop-blue"),
        Answer(200, deployment("shop-blue", blue_labels(), "x", 1, 0)),
    ]);
    let t = target(client, "demo").with_dry_run(DryRun::Server);
    let out = bluegreen::deploy(&t, &request("x"), &NoReporter)
        .await
        .expect("deploy");
    let seen = server.await.expect("server");
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].q("dryRun"), Some("All"));
    assert_eq!(seen[2].q("fieldManager"), Some("veerctl"));
    assert_eq!(out.rolled_out, None);
}

const KEEP: Duration = Duration::from_secs(900);

/// Asserts a merge patch as field manager veerctl, with `resource_version` as precondition.
fn assert_merge_patch(seen: &Seen, path: &str, resource_version: &str) {
    assert_eq!((seen.method.as_str(), seen.path.as_str()), ("PATCH", path));
    assert_eq!(
        seen.content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(seen.query, vec![("fieldManager".into(), "veerctl".into())]);
    assert_eq!(
        seen.body["metadata"]["resourceVersion"], resource_version,
        "{path}"
    );
}

/// An RFC 3339 timestamp at `key` of a patch's annotations.
fn stamped(seen: &Seen, key: &str) -> Timestamp {
    let at = seen.body["metadata"]["annotations"][key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} in {}", seen.body));
    at.parse().expect("RFC 3339")
}

/// A switch reads the Service and the new colour, stamps the colour (with its resourceVersion),
/// then patches the Service's selector and annotations (with its resourceVersion).
#[tokio::test]
async fn switch_stamps_the_colour_then_patches_the_service_with_resource_versions() {
    let (client, server) = scripted(vec![
        Answer(200, service("shop", blue_labels(), json!({}))),
        Answer(
            200,
            deployment("shop-green", green_labels(), "echo:2", 2, 2),
        ),
        Answer(200, ECHO()),
        Answer(200, service("shop", green_labels(), json!({}))),
    ]);
    let out = bluegreen::switch(&target(client, "demo"), "shop", None, KEEP)
        .await
        .expect("switch");
    let seen = server.await.expect("server");
    assert_eq!(
        (out.from, out.to, out.changed),
        (Some(Colour::Blue), Colour::Green, true)
    );
    assert_eq!(
        seen.iter()
            .map(|s| (s.method.as_str(), s.path.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("GET", SVC),
            ("GET", GREEN),
            ("PATCH", GREEN),
            ("PATCH", SVC)
        ]
    );
    assert_merge_patch(&seen[2], GREEN, "1");
    let activated = stamped(&seen[2], "veer.dev/activated-at");
    assert_eq!(
        seen[2].body["metadata"]["annotations"]
            .as_object()
            .map(|a| a.len()),
        Some(1),
        "the stamp changes nothing else: {}",
        seen[2].body
    );
    assert!(seen[2].body.get("spec").is_none());
    assert_merge_patch(&seen[3], SVC, "7");
    assert_eq!(
        seen[3].body["spec"],
        json!({ "selector": { "veer.dev/color": "green" } })
    );
    let annotations = &seen[3].body["metadata"]["annotations"];
    assert_eq!(annotations["veer.dev/previous-color"], "blue");
    assert_eq!(annotations["veer.dev/scale-down-after-seconds"], "900");
    assert!(
        stamped(&seen[3], "veer.dev/switched-at") > activated,
        "the colour is stamped before the Service switches"
    );
    assert_eq!(out.requests.len(), 2);
}

#[tokio::test]
async fn switch_is_refused_while_the_new_colour_is_not_fully_available() {
    let (client, server) = scripted(vec![
        Answer(200, service("shop", blue_labels(), json!({}))),
        Answer(
            200,
            deployment("shop-green", green_labels(), "echo:2", 3, 1),
        ),
    ]);
    let err = bluegreen::switch(&target(client, "demo"), "shop", None, KEEP)
        .await
        .expect_err("refused");
    assert_eq!(
        server.await.expect("server").len(),
        2,
        "no write, not even the stamp"
    );
    assert!(
        matches!(
            err,
            Error::NotAvailable {
                available: 1,
                desired: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err
        .to_string()
        .starts_with("failed to switch shop to green: only 1 of 3 replicas"));
}

/// Rollback is a switch to the previous colour: the same requests, in the same order.
#[tokio::test]
async fn rollback_stamps_the_previous_colour_then_points_the_service_back() {
    let (client, server) = scripted(vec![
        Answer(
            200,
            service(
                "shop",
                green_labels(),
                json!({ "veer.dev/previous-color": "blue" }),
            ),
        ),
        Answer(200, deployment("shop-blue", blue_labels(), "echo:1", 2, 2)),
        Answer(200, ECHO()),
        Answer(200, service("shop", blue_labels(), json!({}))),
    ]);
    let out = bluegreen::rollback(&target(client, "demo"), "shop", KEEP)
        .await
        .expect("rollback");
    let seen = server.await.expect("server");
    assert_eq!((out.from, out.to), (Some(Colour::Green), Colour::Blue));
    assert_eq!(
        seen.iter()
            .map(|s| (s.method.as_str(), s.path.as_str()))
            .collect::<Vec<_>>(),
        vec![("GET", SVC), ("GET", BLUE), ("PATCH", BLUE), ("PATCH", SVC)]
    );
    assert_merge_patch(&seen[2], BLUE, "1");
    stamped(&seen[2], "veer.dev/activated-at");
    assert_merge_patch(&seen[3], SVC, "7");
    assert_eq!(
        seen[3].body["spec"],
        json!({ "selector": { "veer.dev/color": "blue" } })
    );
    let annotations = &seen[3].body["metadata"]["annotations"];
    assert_eq!(annotations["veer.dev/previous-color"], "green");
    assert_eq!(annotations["veer.dev/scale-down-after-seconds"], "900");
    stamped(&seen[3], "veer.dev/switched-at");
}

/// The keep time recorded at the switch (600 s, long passed) applies when no override is given;
/// the patch carries the read resourceVersion as precondition.
#[tokio::test]
async fn scale_down_idle_patches_replicas_to_zero_once_the_recorded_keep_time_passed() {
    let annotations = json!({ "veer.dev/switched-at": "2020-01-01T00:00:00Z",
        "veer.dev/previous-color": "blue", "veer.dev/scale-down-after-seconds": "600" });
    let (client, server) = scripted(vec![
        Answer(200, service("shop", green_labels(), annotations)),
        Answer(200, deployment("shop-blue", blue_labels(), "echo:1", 2, 2)),
        Answer(200, deployment("shop-blue", blue_labels(), "echo:1", 0, 0)),
    ]);
    let out = bluegreen::scale_down_idle(&target(client, "demo"), "shop", None)
        .await
        .expect("scale down");
    let seen = server.await.expect("server");
    assert!(matches!(
        out,
        ScaleDownOutcome::ScaledDown {
            colour: Colour::Blue,
            replicas_before: 2,
            ..
        }
    ));
    assert_eq!(
        seen.iter()
            .map(|s| (s.method.as_str(), s.path.as_str()))
            .collect::<Vec<_>>(),
        vec![("GET", SVC), ("GET", BLUE), ("PATCH", BLUE)]
    );
    assert_merge_patch(&seen[2], BLUE, "1");
    assert_eq!(seen[2].body["spec"], json!({ "replicas": 0 }));
    assert_eq!(
        seen[2].body["metadata"]["annotations"]["veer.dev/replicas-before-scale-down"],
        "2"
    );
    stamped(&seen[2], "veer.dev/scaled-down-at");
}

/// A keep time recorded at the switch that has not passed keeps the idle colour; an override
/// replaces it.
#[tokio::test]
async fn scale_down_idle_honours_the_recorded_keep_time_unless_overridden() {
    let switched = Timestamp::now().to_string();
    let annotations = json!({ "veer.dev/switched-at": switched,
        "veer.dev/previous-color": "blue", "veer.dev/scale-down-after-seconds": "86400" });
    let (client, server) = scripted(vec![
        Answer(200, service("shop", green_labels(), annotations.clone())),
        Answer(200, deployment("shop-blue", blue_labels(), "echo:1", 2, 2)),
        Answer(200, service("shop", green_labels(), annotations)),
        Answer(200, deployment("shop-blue", blue_labels(), "echo:1", 2, 2)),
        Answer(200, deployment("shop-blue", blue_labels(), "echo:1", 0, 0)),
    ]);
    let t = target(client, "demo");
    let out = bluegreen::scale_down_idle(&t, "shop", None)
        .await
        .expect("not yet");
    assert!(
        matches!(out, ScaleDownOutcome::NotYet { colour: Colour::Blue, remaining_seconds }
            if remaining_seconds > 86_000 && remaining_seconds <= 86_400),
        "{out:?}"
    );
    let out = bluegreen::scale_down_idle(&t, "shop", Some(Duration::ZERO))
        .await
        .expect("override");
    assert!(
        matches!(out, ScaleDownOutcome::ScaledDown { .. }),
        "{out:?}"
    );
    let seen = server.await.expect("server");
    assert_eq!(seen.iter().filter(|s| s.method == "PATCH").count(), 1);
}

/// A 409 on the scale-down patch (someone wrote the Deployment since it was read) makes it read
/// both objects again and decide anew.
#[tokio::test]
async fn a_conflicting_scale_down_reads_again_and_decides_anew() {
    let annotations = json!({ "veer.dev/switched-at": "2020-01-01T00:00:00Z",
        "veer.dev/previous-color": "blue" });
    let mut stamped_blue = deployment("shop-blue", blue_labels(), "echo:1", 2, 2);
    stamped_blue["metadata"]["resourceVersion"] = json!("2");
    stamped_blue["metadata"]["annotations"] =
        json!({ "veer.dev/activated-at": Timestamp::now().to_string() });
    let (client, server) = scripted(vec![
        Answer(200, service("shop", green_labels(), annotations.clone())),
        Answer(200, deployment("shop-blue", blue_labels(), "echo:1", 2, 2)),
        conflict("shop-blue"),
        Answer(200, service("shop", green_labels(), annotations)),
        Answer(200, stamped_blue),
    ]);
    let out = bluegreen::scale_down_idle(&target(client, "demo"), "shop", None)
        .await
        .expect("decided");
    assert!(
        matches!(
            out,
            ScaleDownOutcome::InUse {
                colour: Colour::Blue,
                ..
            }
        ),
        "{out:?}"
    );
    let seen = server.await.expect("server");
    assert_eq!(
        seen.iter().map(|s| s.method.as_str()).collect::<Vec<_>>(),
        vec!["GET", "GET", "PATCH", "GET", "GET"]
    );
}

#[tokio::test]
async fn status_reads_the_service_and_both_colours() {
    let (client, server) = scripted(vec![
        Answer(200, service("shop", blue_labels(), json!({}))),
        Answer(200, deployment("shop-blue", blue_labels(), "echo:1", 2, 1)),
        not_found("deployments", "shop-green"),
    ]);
    let st = bluegreen::status(&target(client, "demo"), "shop")
        .await
        .expect("status");
    let seen = server.await.expect("server");
    assert_eq!(
        seen.iter().map(|s| s.path.as_str()).collect::<Vec<_>>(),
        vec![SVC, BLUE, GREEN]
    );
    assert_eq!(st.live, Some(Colour::Blue));
    assert_eq!(
        (
            st.colours[0].desired,
            st.colours[0].available,
            st.colours[0].live
        ),
        (2, 1, true)
    );
    assert_eq!(st.colours[0].images, vec!["echo:1".to_owned()]);
    assert!(!st.colours[1].exists);
    let json = serde_json::to_value(&st).expect("serializes");
    assert_eq!(json["colours"][1]["colour"], "green");
}
