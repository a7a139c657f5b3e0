//! Following a Deployment until it has rolled out, as `kubectl rollout status` does, and saying
//! why when it does not.
//!
//! The messages are kubectl's, word for word, so users and scripts recognise them. Polling with
//! an injectable interval (no watch) lets tests feed status changes step by step.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::ListParams;
use kube::ResourceExt;
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::target::{Target, WaitOptions};

/// Where a rollout stands, with kubectl's message for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Every desired replica is updated and available, and no old replica is left.
    Done(String),
    /// Still moving.
    Waiting(String),
    /// The Deployment controller gave up (`ProgressDeadlineExceeded`).
    Failed(String),
}

/// The state of a Deployment's rollout, from its spec and status alone.
pub fn evaluate(d: &Deployment) -> Progress {
    let name = d.name_any();
    let generation = d.metadata.generation.unwrap_or(0);
    let status = d.status.clone().unwrap_or_default();
    if generation > status.observed_generation.unwrap_or(0) {
        return Progress::Waiting("Waiting for deployment spec update to be observed...".into());
    }
    let deadline_exceeded = status.conditions.iter().flatten().any(|c| {
        c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    if deadline_exceeded {
        return Progress::Failed(format!(
            "deployment {name:?} exceeded its progress deadline"
        ));
    }
    let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    let replicas = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    // Paused, the controller rolls nothing out: say so rather than wait in silence (someone
    // may resume it within the timeout, so it is still a wait).
    let paused = d.spec.as_ref().and_then(|s| s.paused) == Some(true);
    let waiting = |what: String| {
        Progress::Waiting(if paused {
            format!(
                "deployment {name:?} is paused ({what}): nothing rolls out until \
                 `kubectl rollout resume deployment/{name}`"
            )
        } else {
            format!("Waiting for deployment {name:?} rollout to finish: {what}...")
        })
    };
    if updated < desired {
        waiting(format!(
            "{updated} out of {desired} new replicas have been updated"
        ))
    } else if replicas > updated {
        waiting(format!(
            "{} old replicas are pending termination",
            replicas - updated
        ))
    } else if available < updated {
        waiting(format!(
            "{available} of {updated} updated replicas are available"
        ))
    } else {
        Progress::Done(format!("deployment {name:?} successfully rolled out"))
    }
}

/// Polls Deployment `name` until it has rolled out; reports each new message. Returns the final
/// message. On a deadline (the controller's or `opts.timeout`) the error says what the pods and
/// their events say (an image that cannot be pulled, a pod that cannot be scheduled, ...).
pub async fn wait_rolled_out(
    target: &Target,
    name: &str,
    opts: &WaitOptions,
    reporter: &dyn Reporter,
) -> Result<String> {
    let deadline = Instant::now() + opts.timeout;
    let mut last = String::new();
    loop {
        let d: Deployment = target
            .get(
                "Deployment",
                name,
                "it was deleted while veerctl waited for it",
            )
            .await?;
        match evaluate(&d) {
            Progress::Done(message) => {
                reporter.progress(&message);
                return Ok(message);
            }
            Progress::Failed(message) => {
                let why = diagnose(target, &d).await;
                return Err(Error::RolloutFailed {
                    deployment: name.to_owned(),
                    reason: format!("{message}: {why}"),
                });
            }
            Progress::Waiting(message) => {
                if message != last {
                    reporter.progress(&message);
                    last = message;
                }
            }
        }
        let now = Instant::now();
        if now >= deadline {
            let why = diagnose(target, &d).await;
            return Err(Error::Timeout {
                deployment: name.to_owned(),
                timeout: opts.timeout,
                reason: format!("{last} {why}"),
            });
        }
        // Never sleep past the deadline: a timeout shorter than the interval is honoured.
        tokio::time::sleep(opts.interval.min(deadline - now)).await;
    }
}

/// Why a Deployment's pods are not available: waiting container reasons (ImagePullBackOff,
/// CrashLoopBackOff, ...), pod conditions that are false (Unschedulable), and Warning events of
/// its pods, its ReplicaSets (FailedCreate: a quota or an admission webhook refused the pods, so
/// there is no pod to ask) and itself. Identical reasons are reported once with the objects
/// named. Best effort: a read that fails here never hides the error being explained.
pub async fn diagnose(target: &Target, d: &Deployment) -> String {
    let lp = crate::labels::pods_of(d);
    let pods = match target.api::<Pod>().list(&lp).await {
        Ok(list) => list.items,
        Err(e) => return format!("(could not list its pods: {e})"),
    };
    let replica_sets: Vec<String> = match target.api::<ReplicaSet>().list(&lp).await {
        Ok(list) => list
            .items
            .iter()
            .filter(|rs| crate::labels::controlled_by(rs, d))
            .map(|rs| rs.name_any())
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pod in &pods {
        for reason in pod_reasons(pod) {
            reasons
                .entry(reason)
                .or_default()
                .push(format!("pod {}", pod.name_any()));
        }
    }
    let ours = |kind: &str, name: &str| match kind {
        "Pod" => pods.iter().any(|p| p.name_any() == name),
        "ReplicaSet" => replica_sets.iter().any(|r| r == name),
        "Deployment" => d.name_any() == name,
        _ => false,
    };
    for e in warnings(target, &d.name_any()).await {
        let kind = e.involved_object.kind.clone().unwrap_or_default();
        let about = e.involved_object.name.clone().unwrap_or_default();
        if ours(&kind, &about) {
            let reason = format!(
                "event {}: {}",
                e.reason.unwrap_or_default(),
                e.message.unwrap_or_default().trim()
            );
            let object = format!("{} {about}", kind.to_ascii_lowercase());
            let objects = reasons.entry(reason).or_default();
            if !objects.contains(&object) {
                objects.push(object);
            }
        }
    }
    if reasons.is_empty() {
        return if d.spec.as_ref().and_then(|s| s.paused) == Some(true) {
            "(no new pod is created while it is paused)".into()
        } else if pods.is_empty() {
            "no pod was created and no Warning event says why; check `kubectl describe deployment`"
                .into()
        } else {
            "its pods report no error yet".into()
        };
    }
    reasons
        .into_iter()
        .map(|(reason, objects)| format!("{reason} ({})", objects.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The Warning events about pods, about ReplicaSets, and about Deployment `deployment`, each
/// list filtered by the API server (a field selector per kind: there is no OR of names), so a
/// busy namespace's other events are not all read. The caller keeps those of its own objects.
async fn warnings(target: &Target, deployment: &str) -> Vec<Event> {
    let selectors = [
        "type=Warning,involvedObject.kind=Pod".to_owned(),
        "type=Warning,involvedObject.kind=ReplicaSet".to_owned(),
        format!("type=Warning,involvedObject.kind=Deployment,involvedObject.name={deployment}"),
    ];
    let mut out = Vec::new();
    for fields in selectors {
        let lp = ListParams::default().fields(&fields);
        if let Ok(list) = target.api::<Event>().list(&lp).await {
            out.extend(list.items);
        }
    }
    out
}

/// The reasons one pod gives for not being ready.
fn pod_reasons(pod: &Pod) -> Vec<String> {
    let mut out = Vec::new();
    let Some(status) = &pod.status else {
        return out;
    };
    let containers = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for c in containers {
        let waiting = c.state.as_ref().and_then(|s| s.waiting.as_ref());
        if let Some(w) = waiting {
            if let Some(reason) = w.reason.as_deref().filter(|r| *r != "ContainerCreating") {
                let message = w.message.as_deref().unwrap_or_default();
                out.push(
                    format!("container {}: {reason}: {message}", c.name)
                        .trim_end_matches(": ")
                        .to_owned(),
                );
            }
        }
    }
    for cond in status.conditions.iter().flatten() {
        if cond.status == "False" && cond.type_ == "PodScheduled" {
            out.push(format!(
                "{}: {}",
                cond.reason.as_deref().unwrap_or("Unschedulable"),
                cond.message.as_deref().unwrap_or_default()
            ));
        }
    }
    out
}
