//! The recorded state of a progressive run: which step it is at and since when, what each
//! passed step's gates read, and how it ended. Recorded with the config (the Envoy store, an
//! annotation of the WasmPlugin on Kubernetes) at each step and at the end, so that `canary run`
//! started again after a kill continues from the recorded step, and `canary status` shows where
//! a run is. Pure: the command reads and writes it through the host.

use serde::{Deserialize, Serialize};

use super::gates::Reading;
use super::hooks::StepInfo;
use crate::config::edit::bp_to_percent;

/// The name a service's run is recorded under (`canary-web`).
pub fn record_name(service: &str) -> String {
    format!("canary-{service}")
}

/// A run, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// The service.
    pub service: String,
    /// The canary variant.
    pub variant: String,
    /// The stable variant when the run started.
    pub stable: String,
    /// The canary's weight at each step (basis points).
    pub steps: Vec<i64>,
    /// Whether the run promotes the canary after the last step.
    pub promote: bool,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// The current step (0-based); `steps.len()` once the promotion is under way.
    pub step: usize,
    /// When the current step started (RFC 3339, UTC).
    pub step_started_at: String,
    /// Running, or how it ended.
    pub phase: Phase,
    /// Each step that passed its gates, in order.
    pub passed: Vec<PassedStep>,
    /// The current step's gates as last recorded (absent from records of earlier veerctl
    /// releases, and before the step's first reading).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Readings>,
    /// When this record was written (RFC 3339, UTC).
    pub updated_at: String,
}

/// Where a run is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum Phase {
    /// Going through its steps (or was, when its process ended without a word: a kill, a lost
    /// terminal; `canary run` again continues it).
    Running,
    /// Stopped where it was, weights kept; `canary run` again continues it.
    Halted {
        /// Why.
        reason: String,
    },
    /// Ended: all traffic went back to the stable variant.
    RolledBack {
        /// Why.
        reason: String,
    },
    /// Ended: the canary was promoted.
    Promoted,
    /// Ended at the last step, without promotion.
    Completed,
}

impl Phase {
    /// Whether the run is over (a new `canary run` starts afresh).
    pub fn ended(&self) -> bool {
        matches!(
            self,
            Phase::RolledBack { .. } | Phase::Promoted | Phase::Completed
        )
    }
}

/// A step that passed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassedStep {
    /// 1-based.
    pub number: usize,
    /// The canary's weight (basis points).
    pub weight_bp: i64,
    /// When it passed (RFC 3339, UTC).
    pub passed_at: String,
    /// Its gates' readings when it passed.
    pub gates: Vec<Reading>,
}

/// The current step's gates at one reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Readings {
    /// When they were read (RFC 3339, UTC).
    pub read_at: String,
    /// The readings.
    pub gates: Vec<Reading>,
}

/// What `canary run` was asked for.
#[derive(Debug, Clone, Copy)]
pub struct Requested<'a> {
    /// The canary variant.
    pub variant: &'a str,
    /// The steps (basis points).
    pub steps: &'a [i64],
    /// `--promote`.
    pub promote: bool,
    /// `--restart`: start afresh even if a run is recorded.
    pub restart: bool,
    /// The canary's weight in the live config now.
    pub live_bp: i64,
}

/// How a run starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// From the first step.
    Fresh,
    /// From the recorded step of this run.
    Resume(Box<RunState>),
}

/// Whether `canary run` continues `recorded` or starts afresh. A recorded run that has not ended
/// is continued only when asked for the same run and the live weight is one it left (the weight
/// of its current step, or of the step before when it was stopped before setting it): otherwise
/// someone changed things since, and continuing would undo that.
pub fn start(recorded: Option<RunState>, req: Requested<'_>) -> Result<Start, String> {
    let Some(run) = recorded.filter(|r| !r.phase.ended()) else {
        return Ok(Start::Fresh);
    };
    if req.restart {
        return Ok(Start::Fresh);
    }
    let what = format!(
        "a run of {} {} is recorded at step {} ({}), started {}",
        run.service,
        run.variant,
        run.position(),
        run.phase_text(),
        run.started_at
    );
    if run.variant != req.variant || run.steps != req.steps || run.promote != req.promote {
        let steps: Vec<String> = run
            .steps
            .iter()
            .map(|bp| bp_to_percent(*bp).trim_end_matches('%').to_owned())
            .collect();
        return Err(format!(
            "{what}, with another variant or other steps: continue it with `veerctl canary run {} {} --steps {}{}`, or pass --restart to start over from the first step",
            run.service,
            run.variant,
            steps.join(","),
            if run.promote { " --promote" } else { "" }
        ));
    }
    let before = run.step.checked_sub(1).map_or(0, |i| run.steps[i]);
    let here = run.steps.get(run.step).copied().unwrap_or(10_000);
    if req.live_bp != before && req.live_bp != here {
        return Err(format!(
            "{what}, but the live split gives {} {} where the run left it at {}: someone changed it since (`veerctl status` shows it); pass --restart to start over from the first step, or end the run with `veerctl canary abort {}`",
            run.variant,
            bp_to_percent(req.live_bp),
            bp_to_percent(here),
            run.service
        ));
    }
    Ok(Start::Resume(Box::new(run)))
}

impl RunState {
    /// A run of `variant` of `service` starting now (`now`: RFC 3339).
    pub fn new(
        service: &str,
        variant: &str,
        stable: &str,
        steps: &[i64],
        promote: bool,
        now: &str,
    ) -> RunState {
        RunState {
            service: service.to_owned(),
            variant: variant.to_owned(),
            stable: stable.to_owned(),
            steps: steps.to_vec(),
            promote,
            started_at: now.to_owned(),
            step: 0,
            step_started_at: now.to_owned(),
            phase: Phase::Running,
            passed: Vec::new(),
            current: None,
            updated_at: now.to_owned(),
        }
    }

    /// Step `index` (0-based; `steps.len()`: the promotion) starts now.
    pub fn begin(&mut self, index: usize, now: &str) {
        self.step = index;
        self.step_started_at = now.to_owned();
        self.current = None;
        self.phase = Phase::Running;
        self.updated_at = now.to_owned();
    }

    /// Step `index` passed with `gates`.
    pub fn pass(&mut self, index: usize, gates: Vec<Reading>, now: &str) {
        self.passed.retain(|p| p.number != index + 1);
        self.passed.push(PassedStep {
            number: index + 1,
            weight_bp: self.info(index).weight_bp,
            passed_at: now.to_owned(),
            gates,
        });
        self.current = None;
        self.updated_at = now.to_owned();
    }

    /// The current step's gates read `gates` at `now`.
    pub fn read(&mut self, gates: Vec<Reading>, now: &str) {
        self.current = Some(Readings {
            read_at: now.to_owned(),
            gates,
        });
        self.updated_at = now.to_owned();
    }

    /// The run is now `phase`.
    pub fn end(&mut self, phase: Phase, now: &str) {
        self.phase = phase;
        self.updated_at = now.to_owned();
    }

    /// Step `index` as hooks and events name it (past the last step: the last step).
    pub fn info(&self, index: usize) -> StepInfo {
        StepInfo {
            number: (index + 1).min(self.steps.len()),
            of: self.steps.len(),
            weight_bp: self
                .steps
                .get(index)
                .or(self.steps.last())
                .copied()
                .unwrap_or(10_000),
        }
    }

    /// `2 of 3 (30%)`, or `promotion`.
    pub fn position(&self) -> String {
        match self.steps.get(self.step) {
            Some(bp) => format!(
                "{} of {} ({})",
                self.step + 1,
                self.steps.len(),
                bp_to_percent(*bp)
            ),
            None => "promotion".to_owned(),
        }
    }

    /// `running, or stopped without a word`, `halted: why`, ...
    pub fn phase_text(&self) -> String {
        match &self.phase {
            Phase::Running => "running, or stopped without a word".to_owned(),
            Phase::Halted { reason } => format!("halted: {reason}"),
            Phase::RolledBack { reason } => format!("rolled back: {reason}"),
            Phase::Promoted => "promoted".to_owned(),
            Phase::Completed => "completed".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests;
