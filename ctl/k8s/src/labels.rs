//! Names, labels and annotations veerctl puts on objects: the contract between veerctl runs.
//!
//! Blue/green state lives in the cluster (labels on Deployments, the Service selector and
//! annotations on the Service), not in veerctl, so any operator's veerctl sees the same state and
//! `rollback` needs nothing but the Service.

use std::fmt;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::{Deserialize, Serialize};

/// The label that names the app (`app=<app>`), on Deployments, pods and in Service selectors.
pub const APP_LABEL: &str = "app";
/// The label that tells the blue and green Deployments of an app apart.
pub const COLOUR_LABEL: &str = "veer.dev/color";
/// Marks objects veerctl created.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Service annotation: the colour the Service pointed at before the last switch.
pub const PREVIOUS_COLOUR_ANNOTATION: &str = "veer.dev/previous-color";
/// Service annotation: when the last switch happened (RFC 3339, UTC).
pub const SWITCHED_AT_ANNOTATION: &str = "veer.dev/switched-at";
/// Service annotation: how long (seconds) the previous colour keeps running after the last
/// switch, so rollback stays instant; `bluegreen scale-down` honours it.
pub const SCALE_DOWN_AFTER_ANNOTATION: &str = "veer.dev/scale-down-after-seconds";
/// Deployment annotation: when a switch or rollback started sending traffic to it (RFC 3339,
/// UTC). Written before the Service changes, so a scale-down knows to leave it alone.
pub const ACTIVATED_AT_ANNOTATION: &str = "veer.dev/activated-at";
/// Deployment annotation: when `bluegreen deploy` last wrote it (RFC 3339, UTC), so a scale-down
/// does not stop a colour that is being deployed to be switched to.
pub const DEPLOYED_AT_ANNOTATION: &str = "veer.dev/deployed-at";
/// Deployment annotation: when `scale_down_idle` scaled it to zero (RFC 3339, UTC).
pub const SCALED_DOWN_AT_ANNOTATION: &str = "veer.dev/scaled-down-at";
/// Deployment annotation: its replicas before `scale_down_idle`, to scale it back up by hand.
pub const REPLICAS_BEFORE_SCALE_DOWN_ANNOTATION: &str = "veer.dev/replicas-before-scale-down";
/// WasmPlugin annotation: the last change veerctl made to the routing config, as data
/// (`{"version": N, "change": ...}`), written in the same write as the config it describes, so
/// that it can be undone exactly (`veerctl cohort undo`).
pub const LAST_CHANGE_ANNOTATION: &str = "veer.dev/last-change";
/// The revision annotation the Deployment controller puts on Deployments and ReplicaSets.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// One of the two Deployments of a blue/green app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    /// `<app>-blue`, the first colour deployed.
    Blue,
    /// `<app>-green`.
    Green,
}

impl Colour {
    /// Both colours, blue first.
    pub const ALL: [Colour; 2] = [Colour::Blue, Colour::Green];

    /// The other colour.
    pub fn other(self) -> Colour {
        match self {
            Colour::Blue => Colour::Green,
            Colour::Green => Colour::Blue,
        }
    }

    /// `blue` or `green`: the label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Blue => "blue",
            Colour::Green => "green",
        }
    }

    /// Parses a label value.
    pub fn parse(s: &str) -> Option<Colour> {
        match s {
            "blue" => Some(Colour::Blue),
            "green" => Some(Colour::Green),
            _ => None,
        }
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The Deployment of `app` in `colour`: `<app>-<colour>`.
pub fn deployment_name(app: &str, colour: Colour) -> String {
    format!("{app}-{colour}")
}

/// List parameters selecting the pods (and ReplicaSets) of Deployment `d`: its whole selector,
/// `matchLabels` and `matchExpressions`.
pub fn pods_of(d: &Deployment) -> kube::api::ListParams {
    let selector = d
        .spec
        .as_ref()
        .map(|s| selector_string(&s.selector))
        .unwrap_or_default();
    kube::api::ListParams::default().labels(&selector)
}

/// A label selector as the API's `labelSelector` parameter takes it: `k=v` for each label, then
/// `k in (a,b)`, `k notin (a,b)`, `k` (Exists) and `!k` (DoesNotExist) for each expression.
pub fn selector_string(selector: &LabelSelector) -> String {
    let labels = selector.match_labels.iter().flatten();
    let mut terms: Vec<String> = labels.map(|(k, v)| format!("{k}={v}")).collect();
    for e in selector.match_expressions.iter().flatten() {
        let values = e.values.as_deref().unwrap_or_default().join(",");
        terms.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "DoesNotExist" => format!("!{}", e.key),
            _ => e.key.clone(),
        });
    }
    terms.join(",")
}

/// Whether ReplicaSet `rs` belongs to Deployment `d`: its controller reference carries `d`'s UID,
/// as the Deployment controller checks. A name alone could be an earlier Deployment's.
pub fn controlled_by(rs: &ReplicaSet, d: &Deployment) -> bool {
    let Some(uid) = d.metadata.uid.as_deref() else {
        return false;
    };
    rs.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.controller == Some(true) && o.uid == uid)
}
