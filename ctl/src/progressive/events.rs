//! What a run reports as it goes: one event per fact, printed as one JSON object per line with
//! `-o json` (for pipelines), and drawn as the live view or plain lines otherwise.

use std::collections::BTreeMap;

use serde::Serialize;

use super::gates::{Action, Reading};
use super::hooks::{HookType, Outcome, StepInfo};

/// One event of a run of `variant` of `service`.
#[derive(Debug, Clone, Serialize)]
pub struct Event<'a> {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The service.
    pub service: &'a str,
    /// The canary variant.
    pub variant: &'a str,
    /// What happened.
    #[serde(flatten)]
    pub what: What<'a>,
}

/// What happened, as `"event": "..."` and its fields.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum What<'a> {
    /// A new run starts.
    Started {
        /// The stable variant.
        stable: &'a str,
        /// The steps (basis points).
        steps: &'a [i64],
        /// Whether it promotes at the end.
        promote: bool,
    },
    /// A recorded run continues.
    Resumed {
        /// The step it continues at.
        step: StepInfo,
        /// When the run started.
        started_at: &'a str,
    },
    /// A step starts (its hooks, then its weight).
    Step {
        /// The step.
        step: StepInfo,
    },
    /// A hook was called.
    Hook {
        /// Its name.
        hook: &'a str,
        /// Its type.
        #[serde(rename = "type")]
        kind: HookType,
        /// How it answered.
        #[serde(flatten)]
        outcome: &'a Outcome,
    },
    /// A step's weight is live on every proxy.
    Live {
        /// The step.
        step: StepInfo,
        /// The config version.
        version: u64,
        /// How many proxies (or sidecars) were verified to run it.
        proxies: usize,
        /// The service's default split (basis points).
        weights: &'a BTreeMap<String, i64>,
    },
    /// A step's weight was written, but no proxy (or sidecar) was there to check: not verified.
    Written {
        /// The step.
        step: StepInfo,
        /// The config version.
        version: u64,
        /// The service's default split (basis points).
        weights: &'a BTreeMap<String, i64>,
    },
    /// The gates were read during a step.
    Gates {
        /// The step.
        step: StepInfo,
        /// Seconds since the step went live.
        elapsed_s: u64,
        /// The readings.
        readings: &'a [Reading],
    },
    /// The step waits: for data past its interval, or for an approval.
    Waiting {
        /// The step.
        step: StepInfo,
        /// For what.
        reason: &'a str,
    },
    /// A step passed its gates.
    Passed {
        /// The step.
        step: StepInfo,
        /// The readings it passed with.
        readings: &'a [Reading],
    },
    /// The run stopped: rolled back, or halted.
    Stopped {
        /// The step it stopped at.
        step: StepInfo,
        /// Rolled back or halted.
        action: Action,
        /// Why.
        reason: &'a str,
    },
    /// The canary was promoted.
    Promoted {
        /// The config version that promoted it.
        version: u64,
    },
    /// The run ended at its last step, without promotion.
    Completed {
        /// The last step.
        step: StepInfo,
    },
}
