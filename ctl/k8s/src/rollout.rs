//! Rolling and recreate rollouts of one Deployment, their status as `kubectl rollout status`
//! shows it, and `undo` to a previous revision as `kubectl rollout undo` does it.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStrategy, ReplicaSet};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use serde::Serialize;
use serde_json::{json, Value};

use crate::bluegreen::set_image;
use crate::dry_run::PlannedRequest;
use crate::error::{Error, Result};
use crate::labels::REVISION_ANNOTATION;
use crate::progress::wait_rolled_out;
use crate::report::Reporter;
use crate::target::{Target, WaitOptions};

/// How the Deployment replaces its pods, as a change to its `spec.strategy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Replace pods a few at a time; the app stays up (both versions serve for a while). A
    /// value left `None` keeps the Deployment's own (25 % when it has none).
    Rolling {
        /// Extra pods above the desired count during the rollout (`25%`, `1`).
        max_surge: Option<IntOrString>,
        /// Pods that may be unavailable during the rollout.
        max_unavailable: Option<IntOrString>,
    },
    /// Stop every old pod, then start the new ones: downtime, but never two versions at once
    /// (schema migrations, singletons, a ReadWriteOnce volume).
    Recreate,
}

impl Strategy {
    /// Kubernetes' defaults: 25 % surge, 25 % unavailable.
    pub fn rolling_default() -> Strategy {
        Strategy::Rolling {
            max_surge: Some(IntOrString::String("25%".into())),
            max_unavailable: Some(IntOrString::String("25%".into())),
        }
    }

    /// `spec.strategy` as a merge patch over `current` (the Deployment's). Recreate clears
    /// `rollingUpdate`, which the API server refuses alongside `type: Recreate`; a rolling value
    /// not given is left out, so the Deployment keeps its own.
    fn patch(&self, current: Option<&DeploymentStrategy>) -> Result<Value> {
        match self {
            Strategy::Recreate => Ok(json!({ "type": "Recreate", "rollingUpdate": null })),
            Strategy::Rolling {
                max_surge,
                max_unavailable,
            } => {
                let was_rolling = current
                    .and_then(|c| c.type_.as_deref())
                    .is_none_or(|t| t == "RollingUpdate");
                let live = current
                    .and_then(|c| c.rolling_update.as_ref())
                    .filter(|_| was_rolling);
                let default = IntOrString::String("25%".into());
                let surge = max_surge
                    .clone()
                    .or_else(|| live.and_then(|l| l.max_surge.clone()));
                let unavailable = max_unavailable
                    .clone()
                    .or_else(|| live.and_then(|l| l.max_unavailable.clone()));
                if is_zero(surge.as_ref().unwrap_or(&default))
                    && is_zero(unavailable.as_ref().unwrap_or(&default))
                {
                    return Err(Error::Invalid {
                        what: "max surge 0 with max unavailable 0".into(),
                        reason: "no pod could ever be replaced; allow at least one of them".into(),
                    });
                }
                let mut rolling = serde_json::Map::new();
                if let Some(v) = max_surge {
                    rolling.insert("maxSurge".into(), json!(v));
                }
                if let Some(v) = max_unavailable {
                    rolling.insert("maxUnavailable".into(), json!(v));
                }
                Ok(json!({ "type": "RollingUpdate", "rollingUpdate": rolling }))
            }
        }
    }
}

fn is_zero(v: &IntOrString) -> bool {
    match v {
        IntOrString::Int(i) => *i == 0,
        IntOrString::String(s) => s.trim_end_matches('%') == "0",
    }
}

/// What to roll out.
#[derive(Debug, Clone)]
pub struct RolloutRequest {
    /// The Deployment.
    pub app: String,
    /// The new image.
    pub image: String,
    /// The container that gets the image; `None`: the only (or first) container.
    pub container: Option<String>,
    /// A change of strategy; `None` leaves `spec.strategy` as it is, as `kubectl set image`
    /// does (a Recreate Deployment stays Recreate, `maxUnavailable: 0` stays 0).
    pub strategy: Option<Strategy>,
}

/// What [`rollout`] or [`undo`] did.
#[derive(Debug, Clone, Serialize)]
pub struct RolloutOutcome {
    /// The Deployment.
    pub deployment: String,
    /// False when nothing had to change (undo to the current template).
    pub changed: bool,
    /// A line for the user, kubectl style.
    pub message: String,
    /// The writes.
    pub requests: Vec<PlannedRequest>,
}

/// Sets the image of Deployment `app`, and its strategy when one is given, in one merge patch.
/// The patch carries the whole containers list (a merge patch replaces lists) and the
/// resourceVersion it was read at, so a concurrent edit is refused (409) rather than overwritten.
pub async fn rollout(target: &Target, req: &RolloutRequest) -> Result<RolloutOutcome> {
    let hint = "create it first, e.g. `kubectl apply -f deploy/k8s/canary.yaml`";
    let dep: Deployment = target.get("Deployment", &req.app, hint).await?;
    let mut template = dep.spec.clone().unwrap_or_default().template;
    set_image(
        &mut template,
        req.container.as_deref(),
        &req.image,
        &req.app,
    )?;
    let containers = template.spec.map(|s| s.containers).unwrap_or_default();
    let mut spec = json!({ "template": { "spec": { "containers": containers } } });
    if let Some(strategy) = &req.strategy {
        let current = dep.spec.as_ref().and_then(|s| s.strategy.as_ref());
        spec["strategy"] = strategy.patch(current)?;
    }
    let patch = json!({
        "metadata": { "resourceVersion": dep.resource_version() },
        "spec": spec,
    });
    let mut writer = target.writer();
    writer
        .merge_patch(&target.api::<Deployment>(), &req.app, &patch)
        .await?;
    Ok(RolloutOutcome {
        deployment: req.app.clone(),
        changed: true,
        message: format!("deployment.apps/{} image updated", req.app),
        requests: writer.into_requests(),
    })
}

/// Follows the rollout of Deployment `app` until it finishes, reporting kubectl's messages
/// ("Waiting for deployment "web" rollout to finish: 2 out of 3 new replicas have been
/// updated..."). Returns the final message.
pub async fn rollout_status(
    target: &Target,
    app: &str,
    opts: &WaitOptions,
    reporter: &dyn Reporter,
) -> Result<String> {
    wait_rolled_out(target, app, opts, reporter).await
}

/// Annotations `kubectl rollout undo` keeps from the Deployment rather than copying from the
/// ReplicaSet.
const ANNOTATIONS_TO_SKIP: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION_ANNOTATION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// Returns Deployment `app` to `to_revision` (`None` or 0: the revision before the current one) by
/// copying that revision's ReplicaSet pod template back, as `kubectl rollout undo` does (JSON
/// patch replacing `/spec/template` and `/metadata/annotations`).
pub async fn undo(target: &Target, app: &str, to_revision: Option<i64>) -> Result<RolloutOutcome> {
    let fail = |reason: String| Error::Undo {
        deployment: app.to_owned(),
        reason,
    };
    let dep: Deployment = target
        .get("Deployment", app, "nothing to undo: it does not exist")
        .await?;
    let spec = dep.spec.clone().unwrap_or_default();
    if spec.paused == Some(true) {
        return Err(fail(
            "it is paused; resume it first (`kubectl rollout resume`)".into(),
        ));
    }
    let history = history(target, &dep).await?;
    let current = revision_of(dep.annotations())
        .or_else(|| history.keys().next_back().copied())
        .unwrap_or(0);
    // Revision 0 means the previous one, as in `kubectl rollout undo --to-revision 0`.
    let wanted = match to_revision.filter(|r| *r != 0) {
        Some(r) => r,
        None => history
            .keys()
            .rev()
            .find(|r| **r < current)
            .copied()
            .ok_or_else(|| fail("no previous revision found in its ReplicaSets".into()))?,
    };
    let rs = history
        .get(&wanted)
        .ok_or_else(|| fail(format!("unable to find revision {wanted}; `kubectl rollout history deployment/{app}` lists them")))?;
    let mut template = rs
        .spec
        .clone()
        .unwrap_or_default()
        .template
        .unwrap_or_default();
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove("pod-template-hash");
    }
    if serde_json::to_value(&template).ok() == serde_json::to_value(&spec.template).ok() {
        return Ok(RolloutOutcome {
            deployment: app.to_owned(),
            changed: false,
            message: format!(
                "deployment.apps/{app} skipped rollback (current template already matches revision {wanted})"
            ),
            requests: Vec::new(),
        });
    }
    let mut annotations: BTreeMap<String, String> = BTreeMap::new();
    for key in ANNOTATIONS_TO_SKIP {
        if let Some(v) = dep.annotations().get(key) {
            annotations.insert(key.to_owned(), v.clone());
        }
    }
    for (k, v) in rs.annotations() {
        if !ANNOTATIONS_TO_SKIP.contains(&k.as_str()) {
            annotations.insert(k.clone(), v.clone());
        }
    }
    let ops = json!([
        { "op": "replace", "path": "/spec/template", "value": template },
        { "op": "replace", "path": "/metadata/annotations", "value": annotations },
    ]);
    let mut writer = target.writer();
    writer
        .json_patch(&target.api::<Deployment>(), app, &ops)
        .await?;
    Ok(RolloutOutcome {
        deployment: app.to_owned(),
        changed: true,
        message: format!("deployment.apps/{app} rolled back to revision {wanted}"),
        requests: writer.into_requests(),
    })
}

fn revision_of(annotations: &BTreeMap<String, String>) -> Option<i64> {
    annotations.get(REVISION_ANNOTATION)?.parse().ok()
}

/// The Deployment's ReplicaSets by revision: those its selector matches and it controls.
async fn history(target: &Target, dep: &Deployment) -> Result<BTreeMap<i64, ReplicaSet>> {
    let lp = crate::labels::pods_of(dep);
    let list = target
        .api::<ReplicaSet>()
        .list(&lp)
        .await
        .map_err(|source| Error::Read {
            source: Box::new(source),
            what: format!(
                "ReplicaSets of {}",
                target.what("Deployment", &dep.name_any())
            ),
        })?;
    let mut out = BTreeMap::new();
    for rs in list.items {
        let owned = crate::labels::controlled_by(&rs, dep);
        if let (true, Some(rev)) = (owned, revision_of(rs.annotations())) {
            out.insert(rev, rs);
        }
    }
    Ok(out)
}
