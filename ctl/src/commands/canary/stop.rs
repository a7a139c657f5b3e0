//! How a run stops: a rollback (all traffic to the stable variant, verified on every proxy) or
//! a halt (weights kept), recorded with the config and told to the hooks, ending the command
//! with an error that says what happened and what to do.

use super::run::{now, Run};
use crate::config::edit;
use crate::error::{CliError, Result};
use crate::history::Change;
use crate::progressive::events::What;
use crate::progressive::gates::{Action, Reading};
use crate::progressive::hooks::{HookType, StepInfo};
use crate::progressive::state::Phase;

impl Run<'_> {
    /// Stops the run at its current step: rolls back (all traffic to the stable variant,
    /// verified) or halts (weights kept), records it, tells the hooks, and returns the error the
    /// command ends with (exit code 6 for a split that does not fit, `mismatch`).
    pub(super) fn stop(
        &mut self,
        action: Action,
        reason: String,
        readings: &[Reading],
        mismatch: bool,
    ) -> CliError {
        self.view.watch_end();
        let info = self.state.info(self.state.step);
        let at = edit::bp_to_percent(info.weight_bp);
        let head = format!("{} at {at}: {reason}", self.a.variant);
        let (phase, message) = match action {
            Action::Rollback => match self.rollback() {
                Ok(0) => (
                    Phase::RolledBack { reason: reason.clone() },
                    format!("{head}: aborted, all traffic to the stable variant {} written, not verified: no proxy was there to check (`veerctl status` shows what runs)", self.state.stable),
                ),
                Ok(n) => (
                    Phase::RolledBack { reason: reason.clone() },
                    format!("{head}: aborted, all traffic is back on the stable variant {} (verified on {n} prox{})", self.state.stable, if n == 1 { "y" } else { "ies" }),
                ),
                Err(e) => (
                    Phase::Halted { reason: format!("{reason}; the rollback failed: {e}") },
                    format!("{head}: the rollback failed, the canary still gets traffic: {e}; run `veerctl canary abort {}`", self.a.service),
                ),
            },
            Action::Halt => (
                Phase::Halted { reason: reason.clone() },
                format!(
                    "{head}: the run is halted at {at} (weights kept); `veerctl canary run` with the same arguments continues it, `veerctl canary abort {}` rolls back",
                    self.a.service
                ),
            ),
        };
        let kind = match phase {
            Phase::RolledBack { .. } => HookType::RolledBack,
            _ => HookType::Halted,
        };
        if !readings.is_empty() {
            self.state.read(readings.to_vec(), &now());
        }
        self.state.end(phase, &now());
        let saved = self.save();
        self.emit(What::Stopped {
            step: info,
            action,
            reason: &reason,
        });
        self.notify(kind, info, readings, Some(&reason));
        let message = match saved {
            Ok(()) => message,
            Err(e) => format!("{message}\n(the run's record was not updated: {e})"),
        };
        if mismatch && kind == HookType::Halted {
            CliError::mismatch(message)
        } else {
            CliError::failed(message)
        }
    }

    /// A change of the run that failed (not verified live on every proxy, refused, in conflict):
    /// the run is recorded as halted with the reason, since no veerctl carries it on (a record
    /// left "running" would say otherwise; `canary run` again continues it), the hooks are told,
    /// and the command ends with the change's own error and exit code.
    pub(super) fn halted_by(&mut self, e: CliError, info: StepInfo) -> CliError {
        let reason = e.to_string();
        self.state.end(
            Phase::Halted {
                reason: reason.clone(),
            },
            &now(),
        );
        let saved = self.save();
        self.emit(What::Stopped {
            step: info,
            action: Action::Halt,
            reason: &reason,
        });
        self.notify(HookType::Halted, info, &[], Some(&reason));
        if let Err(not_saved) = saved {
            eprintln!("warning: the run's record was not updated: {not_saved}");
        }
        e
    }

    /// All traffic back to the stable variant, verified on every proxy; how many were verified.
    fn rollback(&mut self) -> Result<usize> {
        let what = Change::CanaryAbort {
            service: self.a.service.clone(),
        };
        let service = &self.a.service;
        let edited = self
            .s
            .host
            .edit(&what, |w| edit::abort(w, service).map(|_| ()))?;
        let info = self.state.info(self.state.step);
        self.made(&edited, &what, info)
    }
}
