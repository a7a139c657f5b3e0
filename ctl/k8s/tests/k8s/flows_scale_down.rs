//! Scale-down against switch, rollback and deploy on an in-memory API, in each order they can
//! interleave: the colour that is about to take traffic is never scaled down, and a colour that
//! was scaled down is never switched to.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use kube_fake_client::interceptor::PatchContext;
use serde_json::{json, Value};
use veer_k8s::bluegreen::{self, ScaleDownOutcome};
use veer_k8s::{Colour, Target};

use crate::support::*;

const KEEP: Duration = Duration::from_secs(600);

fn selector(colour: &str) -> Value {
    json!({ "app": "shop", "veer.dev/color": colour })
}

/// Green is live since 2020 (keep time 600 s, long passed), blue is the idle colour, running.
fn switched_long_ago() -> Vec<Value> {
    vec![
        service(
            "shop",
            selector("green"),
            json!({ "veer.dev/previous-color": "blue", "veer.dev/switched-at": "2020-01-01T00:00:00Z",
                    "veer.dev/scale-down-after-seconds": "600" }),
        ),
        deployment("shop-blue", selector("blue"), "echo:1", 2, 2),
        deployment("shop-green", selector("green"), "echo:2", 2, 2),
    ]
}

fn stamp(ctx: &PatchContext, key: &str) -> kube_fake_client::Result<()> {
    let patch = json!({ "metadata": { "annotations": { key: Timestamp::now().to_string() } } });
    patch_metadata(ctx, &patch).map(|_| ())
}

async fn scale_down(t: &Target) -> ScaleDownOutcome {
    bluegreen::scale_down_idle(t, "shop", None)
        .await
        .expect("scale down")
}

async fn replicas(client: &Client, name: &str) -> Option<i32> {
    let d = Api::<Deployment>::namespaced(client.clone(), "demo")
        .get(name)
        .await
        .expect("deployment");
    d.spec.and_then(|s| s.replicas)
}

async fn live(client: &Client) -> Option<String> {
    let svc = Api::<Service>::namespaced(client.clone(), "demo")
        .get("shop")
        .await
        .expect("service");
    svc.spec?.selector?.get("veer.dev/color").cloned()
}

/// Scale-down read blue as idle; a rollback stamps blue before the scale-down writes: its write
/// fails its precondition, it looks again, sees the stamp and leaves blue running; the rollback
/// then goes through.
#[tokio::test]
async fn a_rollback_stamp_after_the_scale_downs_read_makes_it_look_again_and_leave_blue() {
    static ONCE: AtomicBool = AtomicBool::new(false);
    let client = fake_with(switched_long_ago(), |ctx| {
        let scales_blue_down = ctx.name == "shop-blue" && ctx.patch["spec"]["replicas"] == 0;
        if scales_blue_down && !ONCE.swap(true, Ordering::SeqCst) {
            stamp(ctx, "veer.dev/activated-at")?;
        }
        Ok(())
    })
    .await;
    let t = target(client.clone(), "demo");
    let out = scale_down(&t).await;
    assert!(
        matches!(&out, ScaleDownOutcome::InUse { colour: Colour::Blue, reason } if reason.contains("was switched to at")),
        "{out:?}"
    );
    assert_eq!(replicas(&client, "shop-blue").await, Some(2));
    bluegreen::rollback(&t, "shop", KEEP)
        .await
        .expect("rollback");
    assert_eq!(live(&client).await.as_deref(), Some("blue"));
}

/// A scale-down lands between a rollback's read of blue and its stamp: the stamp fails its
/// precondition, the rollback reads blue again and refuses a colour at 0 replicas; the Service
/// stays on green.
#[tokio::test]
async fn a_scale_down_after_the_rollbacks_read_makes_the_rollback_refuse() {
    static ONCE: AtomicBool = AtomicBool::new(false);
    let client = fake_with(switched_long_ago(), |ctx| {
        let stamps = ctx.patch["metadata"]["annotations"]["veer.dev/activated-at"].is_string();
        if ctx.name == "shop-blue" && stamps && !ONCE.swap(true, Ordering::SeqCst) {
            let patch = json!({ "spec": { "replicas": 0 } });
            ctx.client.patch::<Deployment>(
                ctx.namespace,
                ctx.name,
                &patch,
                &PatchParams::default(),
            )?;
        }
        Ok(())
    })
    .await;
    let t = target(client.clone(), "demo");
    let err = bluegreen::rollback(&t, "shop", KEEP)
        .await
        .expect_err("blue is at zero");
    assert!(
        err.to_string().contains("was scaled down to 0 replicas"),
        "{err}"
    );
    assert_eq!(live(&client).await.as_deref(), Some("green"));
}

/// A rollback that stamped blue but has not patched the Service yet: a scale-down now leaves
/// blue alone; once the rollback finished, green is the idle colour and waits its keep time.
#[tokio::test]
async fn a_rollback_in_flight_keeps_its_colour_and_then_the_other_waits_its_keep_time() {
    let client = fake(switched_long_ago()).await;
    let t = target(client.clone(), "demo");
    let stamp = json!({ "metadata": { "annotations": {
        "veer.dev/activated-at": Timestamp::now().to_string() } } });
    Api::<Deployment>::namespaced(client.clone(), "demo")
        .patch("shop-blue", &PatchParams::default(), &Patch::Merge(&stamp))
        .await
        .expect("stamp");
    let out = scale_down(&t).await;
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
    bluegreen::rollback(&t, "shop", KEEP)
        .await
        .expect("rollback");
    let out = scale_down(&t).await;
    assert!(
        matches!(out, ScaleDownOutcome::NotYet { colour: Colour::Green, remaining_seconds } if remaining_seconds > 500),
        "the rollback recorded its keep time: {out:?}"
    );
    assert_eq!(replicas(&client, "shop-green").await, Some(2));
}

/// A scale-down that finished first: the rollback refuses, saying what to do.
#[tokio::test]
async fn a_finished_scale_down_makes_the_rollback_refuse() {
    let client = fake(switched_long_ago()).await;
    let t = target(client.clone(), "demo");
    let out = scale_down(&t).await;
    assert!(
        matches!(
            out,
            ScaleDownOutcome::ScaledDown {
                colour: Colour::Blue,
                replicas_before: 2,
                ..
            }
        ),
        "{out:?}"
    );
    let err = bluegreen::rollback(&t, "shop", KEEP)
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("shop-blue was scaled down to 0 replicas")
            && text.contains("kubectl scale deployment/shop-blue"),
        "{text}"
    );
    assert_eq!(live(&client).await.as_deref(), Some("green"));
}

/// A colour deployed after the last switch waits to be switched to: scale-down leaves it.
#[tokio::test]
async fn a_colour_deployed_after_the_last_switch_is_not_scaled_down() {
    let mut objects = switched_long_ago();
    objects[1]["metadata"]["annotations"] =
        json!({ "veer.dev/deployed-at": Timestamp::now().to_string() });
    let client = fake(objects).await;
    let out = scale_down(&target(client.clone(), "demo")).await;
    assert!(
        matches!(&out, ScaleDownOutcome::InUse { colour: Colour::Blue, reason } if reason.contains("was deployed at")),
        "{out:?}"
    );
    assert_eq!(replicas(&client, "shop-blue").await, Some(2));
}
