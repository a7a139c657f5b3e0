//! Webhooks of a progressive canary, named after Flagger's: an HTTP POST with a JSON body
//! ([`Body`], documented in the README) at each point of the run. A blocking hook that does not
//! answer 2xx stops the run (halt or rollback, as configured); a confirm hook is an approval
//! gate, asked again until it answers 2xx; the hooks after the fact (promoted, rolled back,
//! halted) are notifications, whose failure is only reported.
//!
//! Delivery is at least once: a run continued after a kill calls the hooks of the step it
//! continues at again.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::gates::{Action, Reading};

/// When a hook is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookType {
    /// Before each step's weight is set (Flagger: pre-rollout, confirm-traffic-increase).
    BeforeStep,
    /// After a step's gates passed, with their figures (Flagger: rollout).
    AfterStep,
    /// Before each step's weight is set, asked until it answers 2xx: an approval.
    ConfirmStep,
    /// Before the promotion.
    BeforePromotion,
    /// Before the promotion, asked until it answers 2xx: an approval (Flagger's own name).
    ConfirmPromotion,
    /// After the promotion is live on every proxy (Flagger: post-rollout).
    Promoted,
    /// After a rollback is live on every proxy (Flagger: rollback, as a notification).
    RolledBack,
    /// After the run halted (a failed hook, too little traffic, a split mismatch).
    Halted,
}

impl HookType {
    /// Whether a non-2xx answer can stop the run (the others are told after the fact, or are
    /// approvals that are asked again).
    pub fn can_block(self) -> bool {
        matches!(
            self,
            HookType::BeforeStep | HookType::AfterStep | HookType::BeforePromotion
        )
    }

    /// Whether the hook is an approval, asked until it answers 2xx.
    pub fn is_approval(self) -> bool {
        matches!(self, HookType::ConfirmStep | HookType::ConfirmPromotion)
    }

    /// Every type, in the order of a run.
    pub const ALL: [HookType; 8] = [
        HookType::BeforeStep,
        HookType::ConfirmStep,
        HookType::AfterStep,
        HookType::ConfirmPromotion,
        HookType::BeforePromotion,
        HookType::Promoted,
        HookType::RolledBack,
        HookType::Halted,
    ];

    /// The type named `name` in a gate file.
    pub fn parse(name: &str) -> Option<HookType> {
        HookType::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The name in gate files and bodies (`before-step`).
    pub fn name(self) -> &'static str {
        match self {
            HookType::BeforeStep => "before-step",
            HookType::AfterStep => "after-step",
            HookType::ConfirmStep => "confirm-step",
            HookType::BeforePromotion => "before-promotion",
            HookType::ConfirmPromotion => "confirm-promotion",
            HookType::Promoted => "promoted",
            HookType::RolledBack => "rolled-back",
            HookType::Halted => "halted",
        }
    }
}

/// A webhook, as the gate file configures it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    /// Its name (in the body, the events and messages).
    pub name: String,
    /// When it is called.
    pub kind: HookType,
    /// Where it is POSTed.
    pub url: String,
    /// How long one call may take.
    pub timeout: Duration,
    /// Approvals: how long to wait before asking again.
    pub retry: Duration,
    /// Whether a non-2xx answer stops the run (only for the types that [`HookType::can_block`]).
    pub blocking: bool,
    /// What a blocking hook's failure does.
    pub on_failure: Action,
    /// Passed through in the body, as Flagger's `metadata`.
    pub metadata: Map<String, Value>,
}

/// The `step` of a [`Body`] or an event: which step, of how many, at what weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepInfo {
    /// 1-based.
    pub number: usize,
    /// Steps in the run.
    pub of: usize,
    /// The canary's weight at this step, in basis points (10000 = 100%).
    pub weight_bp: i64,
}

/// Schema name and version of [`Body`].
pub const SCHEMA: &str = "veer.dev/canary-hook/v1";

/// The JSON body of every hook call (documented in the README; a test checks each field).
#[derive(Debug, Clone, Serialize)]
pub struct Body<'a> {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// When it is called.
    #[serde(rename = "type")]
    pub kind: HookType,
    /// The hook's name.
    pub hook: &'a str,
    /// The service.
    pub service: &'a str,
    /// The canary variant.
    pub variant: &'a str,
    /// The stable variant.
    pub stable: &'a str,
    /// The Kubernetes namespace (`null` on a standalone Envoy without one in the gate file).
    pub namespace: Option<&'a str>,
    /// When the run started (RFC 3339, UTC): with the service, it names the run.
    pub run_started_at: &'a str,
    /// The step (for promotion hooks, the last step).
    pub step: StepInfo,
    /// The live default split of the service, variant -> basis points.
    pub weights: &'a BTreeMap<String, i64>,
    /// The gate readings of the step (empty before a step has been watched).
    pub gates: &'a [Reading],
    /// Why the run rolled back or halted (`rolled-back`, `halted`).
    pub reason: Option<&'a str>,
    /// The hook's `metadata` from the gate file.
    pub metadata: &'a Map<String, Value>,
}

/// How a call went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum Outcome {
    /// A 2xx answer.
    Ok {
        /// Its status.
        status: u16,
    },
    /// Any other answer.
    Refused {
        /// Its status.
        status: u16,
        /// The start of its body, which often says why.
        body: String,
    },
    /// No answer.
    Unreachable {
        /// Why.
        error: String,
    },
}

impl Outcome {
    /// Whether the hook answered 2xx.
    pub fn ok(&self) -> bool {
        matches!(self, Outcome::Ok { .. })
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Ok { status } => write!(f, "answered {status}"),
            Outcome::Refused { status, body } if body.is_empty() => write!(f, "answered {status}"),
            Outcome::Refused { status, body } => write!(f, "answered {status}: {body}"),
            Outcome::Unreachable { error } => write!(f, "could not be reached: {error}"),
        }
    }
}

/// How much of a refusal's body is kept.
const BODY_KEPT: usize = 200;

/// POSTs `body` to `hook` (JSON, `hook.timeout`).
pub fn call(hook: &Hook, body: &Body<'_>) -> Outcome {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(hook.timeout))
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let json = match serde_json::to_vec(body) {
        Ok(json) => json,
        Err(e) => {
            return Outcome::Unreachable {
                error: format!("the body could not be encoded: {e}"),
            }
        }
    };
    let sent = agent
        .post(&hook.url)
        .header("content-type", "application/json")
        .send(&json[..]);
    match sent {
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            if resp.status().is_success() {
                return Outcome::Ok { status };
            }
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            let mut kept: String = text.trim().chars().take(BODY_KEPT).collect();
            if text.trim().chars().count() > BODY_KEPT {
                kept.push('…');
            }
            Outcome::Refused { status, body: kept }
        }
        Err(e) => Outcome::Unreachable {
            error: e.to_string(),
        },
    }
}
