//! Blue/green on two Deployments (`<app>-blue`, `<app>-green`) behind one Service whose selector
//! picks the live colour.
//!
//! - [`deploy`] writes the idle colour (a copy of the live colour's Deployment with the new image)
//!   and waits until every replica is available.
//! - [`switch`] points the Service at the other colour, only when it is fully available, and
//!   records on the Service the previous colour, the time, and how long the previous colour keeps
//!   running.
//! - [`rollback`] points it back: instant, because the old colour keeps running until
//!   [`scale_down_idle`] scales it to zero once that time has passed. The operator or a CronJob
//!   (deploy/k8s/scale-down-cronjob.yaml) calls it: an explicit call instead of a background
//!   timer keeps veerctl a CLI with no daemon, and the state lives on the objects for any run to
//!   read.
//!
//! Scale-down races with switch, rollback and deploy, which may be about to send traffic to the
//! colour it is stopping. They stamp the Deployment first ([`ACTIVATED_AT_ANNOTATION`],
//! [`DEPLOYED_AT_ANNOTATION`]); the scale-down module explains how it uses the stamps.

mod scale_down;

pub use scale_down::{scale_down_idle, ScaleDownOutcome};

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;
use serde_json::json;

use crate::dry_run::{PlannedRequest, Writer};
use crate::error::{Error, Result};
use crate::labels::{
    deployment_name, Colour, ACTIVATED_AT_ANNOTATION, APP_LABEL, COLOUR_LABEL,
    DEPLOYED_AT_ANNOTATION, MANAGED_BY_LABEL, PREVIOUS_COLOUR_ANNOTATION,
    SCALE_DOWN_AFTER_ANNOTATION, SWITCHED_AT_ANNOTATION,
};
use crate::progress::wait_rolled_out;
use crate::report::Reporter;
use crate::target::{check_name, Target, WaitOptions};

/// What to deploy.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    /// The app: Service `<app>`, Deployments `<app>-blue` and `<app>-green`.
    pub app: String,
    /// The image for the idle colour.
    pub image: String,
    /// The container that gets the image; `None`: the only (or first) container.
    pub container: Option<String>,
    /// Replicas; `None`: as many as the live colour has (1 for a first deploy).
    pub replicas: Option<i32>,
    /// How long to wait for availability.
    pub wait: WaitOptions,
    /// Deploy even when the Service selects no colour (only `app`): the new colour's pods then
    /// serve beside the current ones as soon as they are ready, until the first switch puts the
    /// colour in the selector. Without it such a Service is refused.
    pub adopt_service: bool,
}

/// What [`deploy`] did.
#[derive(Debug, Clone, Serialize)]
pub struct DeployOutcome {
    /// The app.
    pub app: String,
    /// The colour written (the idle one).
    pub colour: Colour,
    /// Its Deployment.
    pub deployment: String,
    /// The final rollout message; `None` in dry-run (nothing to wait for).
    pub rolled_out: Option<String>,
    /// The writes, in order.
    pub requests: Vec<PlannedRequest>,
}

/// What [`switch`] or [`rollback`] did.
#[derive(Debug, Clone, Serialize)]
pub struct SwitchOutcome {
    /// The app.
    pub app: String,
    /// Where the Service pointed before.
    pub from: Option<Colour>,
    /// Where it points now.
    pub to: Colour,
    /// False when it already pointed there (nothing was written).
    pub changed: bool,
    /// The writes, in order.
    pub requests: Vec<PlannedRequest>,
}

/// One colour in [`BlueGreenStatus`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ColourStatus {
    /// The colour.
    pub colour: Colour,
    /// Its Deployment.
    pub deployment: String,
    /// Whether the Deployment exists.
    pub exists: bool,
    /// Images of its containers.
    pub images: Vec<String>,
    /// `spec.replicas`.
    pub desired: i32,
    /// `status.readyReplicas`.
    pub ready: i32,
    /// `status.availableReplicas`.
    pub available: i32,
    /// Whether the Service points at it.
    pub live: bool,
}

/// Both colours and where the Service points.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BlueGreenStatus {
    /// The app.
    pub app: String,
    /// Whether Service `<app>` exists.
    pub service_exists: bool,
    /// The colour in the Service selector.
    pub live: Option<Colour>,
    /// The colour before the last switch (rollback target).
    pub previous: Option<Colour>,
    /// When the last switch happened.
    pub switched_at: Option<String>,
    /// Blue, then green.
    pub colours: Vec<ColourStatus>,
}

const SERVICE_HINT: &str = "create the Service first, with selector `app: <app>` and \
    `veer.dev/color: blue` (see deploy/k8s/bluegreen.yaml)";

/// The colour a Service's selector points at.
pub fn live_colour(svc: &Service) -> Option<Colour> {
    svc.spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .and_then(|s| s.get(COLOUR_LABEL))
        .and_then(|c| Colour::parse(c))
}

fn annotation<'a>(svc: &'a Service, key: &str) -> Option<&'a str> {
    svc.annotations().get(key).map(String::as_str)
}

/// Writes the idle colour's Deployment (server-side apply) and waits until all its replicas are
/// available. The idle colour is the one the Service does not point at (blue when there is no
/// Service or it points nowhere yet).
pub async fn deploy(
    target: &Target,
    req: &DeployRequest,
    reporter: &dyn Reporter,
) -> Result<DeployOutcome> {
    check_name("app", &req.app, 57)?;
    let svc: Option<Service> = target.get_opt("Service", &req.app).await?;
    if let Some(svc) = &svc {
        check_selects_colour(svc, &req.app, req.adopt_service, reporter)?;
    }
    let live = svc.as_ref().and_then(live_colour);
    let colour = live.map(Colour::other).unwrap_or(Colour::Blue);
    let name = deployment_name(&req.app, colour);
    let live_dep: Option<Deployment> = match live {
        Some(c) => {
            target
                .get_opt("Deployment", &deployment_name(&req.app, c))
                .await?
        }
        None => None,
    };
    let idle_dep: Option<Deployment> = target.get_opt("Deployment", &name).await?;
    let base = live_dep.as_ref().or(idle_dep.as_ref());
    let replicas = req
        .replicas
        .or_else(|| base.and_then(|d| d.spec.as_ref()?.replicas))
        .unwrap_or(1);
    let mut dep = build_deployment(
        &req.app,
        colour,
        &req.image,
        req.container.as_deref(),
        replicas,
        base,
    )?;
    dep.metadata.annotations = Some(BTreeMap::from([(
        DEPLOYED_AT_ANNOTATION.to_owned(),
        Timestamp::now().to_string(),
    )]));
    reporter.progress(&format!(
        "Writing deployment {name:?} (idle colour {colour}) with image {}",
        req.image
    ));
    let mut writer = target.writer();
    writer
        .apply(&target.api::<Deployment>(), &name, &apply_body(&dep)?)
        .await?;
    let rolled_out = if writer.persists() {
        Some(wait_rolled_out(target, &name, &req.wait, reporter).await?)
    } else {
        None
    };
    Ok(DeployOutcome {
        app: req.app.clone(),
        colour,
        deployment: name,
        rolled_out,
        requests: writer.into_requests(),
    })
}

/// Refuses a Service whose selector has no colour: the new colour's pods carry its `app` label,
/// so it would serve them as soon as they are ready, before any switch. `adopt` deploys anyway,
/// saying what happens.
fn check_selects_colour(
    svc: &Service,
    app: &str,
    adopt: bool,
    reporter: &dyn Reporter,
) -> Result<()> {
    let selector = svc
        .spec
        .as_ref()
        .and_then(|s| s.selector.clone())
        .unwrap_or_default();
    if selector.contains_key(COLOUR_LABEL) {
        return Ok(());
    }
    let shown: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let shown = if shown.is_empty() {
        "nothing".to_owned()
    } else {
        shown.join(",")
    };
    if adopt {
        reporter.warning(&format!(
            "Service {app} selects {shown} without {COLOUR_LABEL}: the new colour's pods serve \
             beside the current ones as soon as they are ready, until `veerctl bluegreen switch \
             {app}` puts the colour in its selector"
        ));
        return Ok(());
    }
    Err(Error::Invalid {
        what: format!("Service {app}"),
        reason: format!(
            "it selects {shown} without {COLOUR_LABEL}, so the new colour's pods would get \
             traffic as soon as they are ready, before any switch; add `{COLOUR_LABEL}: <colour>` \
             to its selector and to the pods it serves now (see deploy/k8s/bluegreen.yaml), or \
             pass --adopt-service to deploy anyway and let the first switch put the colour in \
             the selector"
        ),
    })
}

/// The body of a deploy's server-side apply: `dep`, with `rollingUpdate: null` beside
/// `type: Recreate`. The idle Deployment may carry the `rollingUpdate` the API server defaulted
/// when it was created rolling; an apply that only leaves it out does not remove a field veerctl
/// does not own, and the API server refuses the pair (the rollout patch clears it the same way).
fn apply_body(dep: &Deployment) -> Result<serde_json::Value> {
    let mut body = serde_json::to_value(dep).map_err(|e| Error::Serialize {
        what: format!("deployment {}", dep.name_any()),
        reason: e.to_string(),
    })?;
    if let Some(strategy) = body.pointer_mut("/spec/strategy") {
        if strategy["type"] == "Recreate" {
            strategy["rollingUpdate"] = serde_json::Value::Null;
        }
    }
    Ok(body)
}

/// The Deployment of `app` in `colour` with `image`: a copy of `base` (the live colour, so ports,
/// env and probes carry over) or, with no base, one container named after the app. Labels
/// `app=<app>` and `veer.dev/color=<colour>` go on the Deployment, its selector and its pods.
pub fn build_deployment(
    app: &str,
    colour: Colour,
    image: &str,
    container: Option<&str>,
    replicas: i32,
    base: Option<&Deployment>,
) -> Result<Deployment> {
    let labels = BTreeMap::from([
        (APP_LABEL.to_owned(), app.to_owned()),
        (COLOUR_LABEL.to_owned(), colour.to_string()),
    ]);
    let base_spec = base.and_then(|d| d.spec.clone());
    let mut template = base_spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_else(|| PodTemplateSpec {
            metadata: None,
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: app.to_owned(),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
        });
    let mut pod_meta = template.metadata.take().unwrap_or_default();
    let mut pod_labels = pod_meta.labels.take().unwrap_or_default();
    pod_labels.remove("pod-template-hash");
    pod_labels.extend(labels.clone());
    template.metadata = Some(ObjectMeta {
        labels: Some(pod_labels),
        annotations: pod_meta.annotations.take(),
        ..ObjectMeta::default()
    });
    set_image(&mut template, container, image, app)?;
    let mut meta_labels = labels.clone();
    meta_labels.insert(MANAGED_BY_LABEL.to_owned(), "veerctl".to_owned());
    Ok(Deployment {
        metadata: ObjectMeta {
            name: Some(deployment_name(app, colour)),
            labels: Some(meta_labels),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels),
                match_expressions: None,
            },
            template,
            min_ready_seconds: base_spec.as_ref().and_then(|s| s.min_ready_seconds),
            progress_deadline_seconds: base_spec.as_ref().and_then(|s| s.progress_deadline_seconds),
            revision_history_limit: base_spec.as_ref().and_then(|s| s.revision_history_limit),
            strategy: base_spec.as_ref().and_then(|s| s.strategy.clone()),
            paused: None,
        }),
        status: None,
    })
}

/// Sets the image of container `container` (or of the first one) in a pod template.
pub(crate) fn set_image(
    template: &mut PodTemplateSpec,
    container: Option<&str>,
    image: &str,
    deployment: &str,
) -> Result<()> {
    let containers = template
        .spec
        .get_or_insert_with(PodSpec::default)
        .containers
        .iter_mut();
    let mut containers = containers.peekable();
    let names: Vec<String>;
    let found = match container {
        Some(name) => {
            let all: Vec<&mut Container> = containers.collect();
            names = all.iter().map(|c| c.name.clone()).collect();
            all.into_iter().find(|c| c.name == name)
        }
        None => {
            names = Vec::new();
            containers.next()
        }
    };
    match found {
        Some(c) => {
            c.image = Some(image.to_owned());
            Ok(())
        }
        None => Err(Error::Invalid {
            what: format!("container {:?} of {deployment}", container.unwrap_or("")),
            reason: if names.is_empty() {
                "the pod template has no container".into()
            } else {
                format!("it has containers {}; pick one of them", names.join(", "))
            },
        }),
    }
}

/// How long the previous colour keeps running after a switch when nobody said: long enough to
/// see that the new colour works and roll back instantly if not.
pub const DEFAULT_SCALE_DOWN_AFTER: Duration = Duration::from_secs(600);

/// Reads and writes tried when another writer changes the same object meanwhile.
const ATTEMPTS: u32 = 3;

/// Points Service `<app>` at `to` (default: the colour it does not point at), only when that
/// colour's Deployment is fully available. Records on the Service the previous colour, the time,
/// and `scale_down_after` (how long the previous colour keeps running, for [`scale_down_idle`]);
/// carries the Service's resourceVersion so two concurrent switches cannot both win.
pub async fn switch(
    target: &Target,
    app: &str,
    to: Option<Colour>,
    scale_down_after: Duration,
) -> Result<SwitchOutcome> {
    let svc: Service = target.get("Service", app, SERVICE_HINT).await?;
    let from = live_colour(&svc);
    let to = to.or(from.map(Colour::other)).unwrap_or(Colour::Blue);
    switch_service(target, app, &svc, from, to, scale_down_after).await
}

/// Points Service `<app>` back at the colour it pointed at before the last switch. Instant: the
/// previous colour is still running unless [`scale_down_idle`] ran since, and then it is refused
/// with what to do.
pub async fn rollback(
    target: &Target,
    app: &str,
    scale_down_after: Duration,
) -> Result<SwitchOutcome> {
    let svc: Service = target.get("Service", app, SERVICE_HINT).await?;
    let previous = annotation(&svc, PREVIOUS_COLOUR_ANNOTATION).and_then(Colour::parse);
    let Some(previous) = previous else {
        return Err(Error::NotFound {
            what: format!("a colour to roll {app} back to"),
            hint: format!(
                "Service {app} has no {PREVIOUS_COLOUR_ANNOTATION} annotation: it was never switched by veerctl"
            ),
        });
    };
    switch_service(
        target,
        app,
        &svc,
        live_colour(&svc),
        previous,
        scale_down_after,
    )
    .await
}

async fn switch_service(
    target: &Target,
    app: &str,
    svc: &Service,
    from: Option<Colour>,
    to: Colour,
    scale_down_after: Duration,
) -> Result<SwitchOutcome> {
    if from == Some(to) {
        return Ok(SwitchOutcome {
            app: app.to_owned(),
            from,
            to,
            changed: false,
            requests: Vec::new(),
        });
    }
    let mut writer = target.writer();
    activate(target, &mut writer, app, to).await?;
    let patch = json!({
        "metadata": {
            "resourceVersion": svc.resource_version(),
            "annotations": {
                PREVIOUS_COLOUR_ANNOTATION: from.map(|c| c.to_string()),
                SWITCHED_AT_ANNOTATION: Timestamp::now().to_string(),
                SCALE_DOWN_AFTER_ANNOTATION: scale_down_after.as_secs().to_string(),
            },
        },
        "spec": { "selector": { COLOUR_LABEL: to.to_string() } },
    });
    writer
        .merge_patch(&target.api::<Service>(), app, &patch)
        .await?;
    Ok(SwitchOutcome {
        app: app.to_owned(),
        from,
        to,
        changed: true,
        requests: writer.into_requests(),
    })
}

/// Stamps `colour`'s Deployment with [`ACTIVATED_AT_ANNOTATION`] once it is fully available,
/// before the Service is pointed at it. The stamp carries the resourceVersion it was read at, so
/// it only lands on the Deployment that was checked (a scale-down in between makes it re-read
/// and refuse); and it changes that resourceVersion, so a scale-down that read the Deployment
/// before fails its own precondition and looks again, then sees the stamp.
async fn activate(target: &Target, writer: &mut Writer, app: &str, colour: Colour) -> Result<()> {
    let name = deployment_name(app, colour);
    let hint = format!("deploy it first with `veerctl bluegreen deploy {app} --image ...`");
    for _ in 0..ATTEMPTS {
        let dep: Deployment = target.get("Deployment", &name, &hint).await?;
        check_available(app, colour, &dep)?;
        let stamp = json!({ "metadata": {
            "resourceVersion": dep.resource_version(),
            "annotations": { ACTIVATED_AT_ANNOTATION: Timestamp::now().to_string() },
        }});
        match writer
            .merge_patch(&target.api::<Deployment>(), &name, &stamp)
            .await
        {
            Ok(_) => return Ok(()),
            Err(e) if e.is_conflict() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict {
        what: target.what("Deployment", &name),
        attempts: ATTEMPTS,
    })
}

/// Refuses to send traffic to a colour that is scaled down or not fully available.
fn check_available(app: &str, colour: Colour, dep: &Deployment) -> Result<()> {
    let name = dep.name_any();
    let desired = dep.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    if desired == 0 {
        return Err(Error::Invalid {
            what: format!("{colour} of {app}"),
            reason: format!(
                "deployment {name} was scaled down to 0 replicas, so switching to it is not instant; \
                 scale it up (`kubectl scale deployment/{name} --replicas=N`) and wait, or deploy again"
            ),
        });
    }
    let available = match crate::progress::evaluate(dep) {
        crate::progress::Progress::Done(_) => desired,
        _ => dep
            .status
            .as_ref()
            .and_then(|s| s.available_replicas)
            .unwrap_or(0)
            .min(desired - 1),
    };
    if available < desired {
        return Err(Error::NotAvailable {
            app: app.to_owned(),
            colour: colour.to_string(),
            available,
            desired,
        });
    }
    Ok(())
}

/// Both colours (images, ready/desired replicas) and where the Service points.
pub async fn status(target: &Target, app: &str) -> Result<BlueGreenStatus> {
    let svc: Option<Service> = target.get_opt("Service", app).await?;
    let live = svc.as_ref().and_then(live_colour);
    let mut colours = Vec::new();
    for colour in Colour::ALL {
        let name = deployment_name(app, colour);
        let dep: Option<Deployment> = target.get_opt("Deployment", &name).await?;
        let spec = dep.as_ref().and_then(|d| d.spec.as_ref());
        let st = dep.as_ref().and_then(|d| d.status.as_ref());
        colours.push(ColourStatus {
            colour,
            deployment: name,
            exists: dep.is_some(),
            images: spec
                .and_then(|s| s.template.spec.as_ref())
                .map(|p| {
                    p.containers
                        .iter()
                        .filter_map(|c| c.image.clone())
                        .collect()
                })
                .unwrap_or_default(),
            desired: spec.and_then(|s| s.replicas).unwrap_or(0),
            ready: st.and_then(|s| s.ready_replicas).unwrap_or(0),
            available: st.and_then(|s| s.available_replicas).unwrap_or(0),
            live: live == Some(colour),
        });
    }
    Ok(BlueGreenStatus {
        app: app.to_owned(),
        service_exists: svc.is_some(),
        live,
        previous: svc
            .as_ref()
            .and_then(|s| annotation(s, PREVIOUS_COLOUR_ANNOTATION))
            .and_then(Colour::parse),
        switched_at: svc
            .as_ref()
            .and_then(|s| annotation(s, SWITCHED_AT_ANNOTATION))
            .map(str::to_owned),
        colours,
    })
}
