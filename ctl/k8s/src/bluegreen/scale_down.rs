//! Scaling the idle colour to zero once the time recorded at the last switch has passed.
//!
//! It races with switch, rollback and deploy, which may be about to send traffic to that very
//! colour. Each of them stamps the Deployment before the Service changes (activated-at,
//! deployed-at), and the scale-down
//! 1. reads the Service, then the idle Deployment;
//! 2. leaves the Deployment alone if a stamp on it is newer than the Service's switched-at: a
//!    switch, rollback or deploy to it is under way;
//! 3. patches replicas to 0 with the resourceVersion it read as precondition, so a stamp that
//!    landed after step 1 makes the API server answer 409, and it starts over at step 1.
//!
//! The stamps and switched-at come from the clocks of the machines running veerctl. A stamp is
//! only compared once the keep time (minutes) has passed since the switch, so clocks would have
//! to disagree by more than that for a stamp to look older than the switch.

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde::Serialize;
use serde_json::json;

use super::{annotation, live_colour, ATTEMPTS, DEFAULT_SCALE_DOWN_AFTER, SERVICE_HINT};
use crate::dry_run::PlannedRequest;
use crate::error::{Error, Result};
use crate::labels::{
    deployment_name, Colour, ACTIVATED_AT_ANNOTATION, DEPLOYED_AT_ANNOTATION,
    REPLICAS_BEFORE_SCALE_DOWN_ANNOTATION, SCALED_DOWN_AT_ANNOTATION, SCALE_DOWN_AFTER_ANNOTATION,
    SWITCHED_AT_ANNOTATION,
};
use crate::target::Target;

/// What [`scale_down_idle`] did.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ScaleDownOutcome {
    /// The idle colour was scaled to zero.
    ScaledDown {
        /// The idle colour.
        colour: Colour,
        /// Its Deployment.
        deployment: String,
        /// Its replicas before.
        replicas_before: i32,
        /// The writes (conflicting ones included).
        requests: Vec<PlannedRequest>,
    },
    /// The keep time since the last switch has not passed: rollback is still instant.
    NotYet {
        /// The idle colour.
        colour: Colour,
        /// Seconds until it may be scaled down.
        remaining_seconds: u64,
    },
    /// A switch, rollback or deploy to the idle colour is under way: it is left running.
    InUse {
        /// The idle colour.
        colour: Colour,
        /// Which stamp, and when, against the last switch.
        reason: String,
    },
    /// Nothing to scale down.
    Nothing {
        /// Why (never switched, already at zero, no idle Deployment).
        reason: String,
    },
}

/// What one read of the Service and the idle Deployment decided.
enum Decision {
    Done(ScaleDownOutcome),
    ScaleDown {
        colour: Colour,
        name: String,
        replicas: i32,
        resource_version: Option<String>,
    },
}

/// Scales the idle colour of `app` to zero once the keep time of the last switch has passed:
/// `after` when given, else what the switch recorded on the Service, else
/// [`DEFAULT_SCALE_DOWN_AFTER`]. Safe against a concurrent switch, rollback or deploy (module
/// doc). Call it from a later veerctl run or a CronJob: the state is on the objects.
pub async fn scale_down_idle(
    target: &Target,
    app: &str,
    after: Option<Duration>,
) -> Result<ScaleDownOutcome> {
    let mut writer = target.writer();
    let mut last = String::new();
    for _ in 0..ATTEMPTS {
        // The first read of a run: in the CronJob's pod, a sidecar may not be ready yet.
        let svc: Service = target
            .get_when_reachable("Service", app, SERVICE_HINT)
            .await?;
        let idle = live_colour(&svc).map(Colour::other);
        let dep: Option<Deployment> = match idle {
            Some(c) => {
                target
                    .get_opt("Deployment", &deployment_name(app, c))
                    .await?
            }
            None => None,
        };
        let (colour, name, replicas, resource_version) =
            match decide(app, &svc, dep.as_ref(), after, Timestamp::now()) {
                Decision::Done(outcome) => return Ok(outcome),
                Decision::ScaleDown {
                    colour,
                    name,
                    replicas,
                    resource_version,
                } => (colour, name, replicas, resource_version),
            };
        let patch = json!({
            "metadata": {
                "resourceVersion": resource_version,
                "annotations": {
                    SCALED_DOWN_AT_ANNOTATION: Timestamp::now().to_string(),
                    REPLICAS_BEFORE_SCALE_DOWN_ANNOTATION: replicas.to_string(),
                },
            },
            "spec": { "replicas": 0 },
        });
        match writer
            .merge_patch(&target.api::<Deployment>(), &name, &patch)
            .await
        {
            Ok(_) => {
                return Ok(ScaleDownOutcome::ScaledDown {
                    colour,
                    deployment: name,
                    replicas_before: replicas,
                    requests: writer.into_requests(),
                })
            }
            Err(e) if e.is_conflict() => last = name,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict {
        what: target.what("Deployment", &last),
        attempts: ATTEMPTS,
    })
}

/// The decision for one read: `idle` is the Deployment of the colour the Service does not select.
fn decide(
    app: &str,
    svc: &Service,
    idle: Option<&Deployment>,
    after: Option<Duration>,
    now: Timestamp,
) -> Decision {
    let nothing = |reason: String| Decision::Done(ScaleDownOutcome::Nothing { reason });
    let Some(colour) = live_colour(svc).map(Colour::other) else {
        return nothing(format!("Service {app} selects no colour"));
    };
    let Some(switched_at) = timestamp(annotation(svc, SWITCHED_AT_ANNOTATION)) else {
        return nothing(format!("Service {app} was never switched by veerctl"));
    };
    let keep = after
        .or_else(|| {
            annotation(svc, SCALE_DOWN_AFTER_ANNOTATION)
                .and_then(|s| s.parse().ok())
                .map(Duration::from_secs)
        })
        .unwrap_or(DEFAULT_SCALE_DOWN_AFTER);
    let elapsed = Duration::try_from(now.duration_since(switched_at)).unwrap_or(Duration::ZERO);
    if elapsed < keep {
        return Decision::Done(ScaleDownOutcome::NotYet {
            colour,
            remaining_seconds: (keep - elapsed).as_secs().max(1),
        });
    }
    let name = deployment_name(app, colour);
    let replicas = idle.and_then(|d| d.spec.as_ref()?.replicas).unwrap_or(0);
    let Some(dep) = idle.filter(|_| replicas > 0) else {
        return nothing(format!(
            "deployment {name} is already scaled down or absent"
        ));
    };
    for (key, what) in [
        (ACTIVATED_AT_ANNOTATION, "switched to"),
        (DEPLOYED_AT_ANNOTATION, "deployed"),
    ] {
        let stamp = timestamp(dep.annotations().get(key).map(String::as_str));
        if let Some(at) = stamp.filter(|at| *at > switched_at) {
            return Decision::Done(ScaleDownOutcome::InUse {
                colour,
                reason: format!(
                    "deployment {name} was {what} at {at}, after the last switch at {switched_at}; \
                     it is left running for that"
                ),
            });
        }
    }
    Decision::ScaleDown {
        colour,
        name,
        replicas,
        resource_version: dep.resource_version(),
    }
}

fn timestamp(value: Option<&str>) -> Option<Timestamp> {
    value.and_then(|t| t.parse().ok())
}
