//! The webhooks around a run's steps, called through the gate file's hooks: blocking ones that
//! stop the run, approvals that it waits for, and notifications after the fact. Each call is
//! reported as an event.

use super::run::Run;
use crate::error::Result;
use crate::progressive::events::What;
use crate::progressive::gates::Reading;
use crate::progressive::hooks::{self, Body, Hook, HookType, Outcome, StepInfo};

impl Run<'_> {
    /// Calls `hook` for step `info` (with `gates`, and `reason` for a stop), and reports how it
    /// answered.
    fn call(
        &mut self,
        hook: &Hook,
        info: StepInfo,
        gates: &[Reading],
        reason: Option<&str>,
    ) -> Outcome {
        let body = Body {
            schema: hooks::SCHEMA,
            kind: hook.kind,
            hook: &hook.name,
            service: &self.a.service,
            variant: &self.a.variant,
            stable: &self.state.stable,
            namespace: self.namespace.as_deref(),
            run_started_at: &self.state.started_at,
            step: info,
            weights: &self.weights,
            gates,
            reason,
            metadata: &hook.metadata,
        };
        let outcome = hooks::call(hook, &body);
        self.emit(What::Hook {
            hook: &hook.name,
            kind: hook.kind,
            outcome: &outcome,
        });
        outcome
    }

    /// The hooks of `kind` that can stop the run: a blocking one that does not answer 2xx stops
    /// it as configured; a non-blocking one is only reported.
    pub(super) fn blocking_hooks(
        &mut self,
        kind: HookType,
        info: StepInfo,
        gates: &[Reading],
    ) -> Result<()> {
        for hook in self.hooks_of(kind) {
            let outcome = self.call(&hook, info, gates, None);
            if !outcome.ok() && hook.blocking {
                let reason = format!("the {} hook {} {outcome}", kind.name(), hook.name);
                return Err(self.stop(hook.on_failure, reason, gates, false));
            }
        }
        Ok(())
    }

    /// The approvals of `kind`: each is asked until it answers 2xx (the run waits, saying so).
    pub(super) fn approvals(&mut self, kind: HookType, info: StepInfo) -> Result<()> {
        for hook in self.hooks_of(kind) {
            let mut said = false;
            while !self.call(&hook, info, &[], None).ok() {
                if !said {
                    let reason = format!(
                        "waits for the approval of the {} hook {} (asked again every {})",
                        kind.name(),
                        hook.name,
                        humantime::format_duration(hook.retry)
                    );
                    self.emit(What::Waiting {
                        step: info,
                        reason: &reason,
                    });
                    said = true;
                }
                std::thread::sleep(hook.retry);
            }
        }
        Ok(())
    }

    /// The hooks told after the fact; a failure is only reported.
    pub(super) fn notify(
        &mut self,
        kind: HookType,
        info: StepInfo,
        gates: &[Reading],
        reason: Option<&str>,
    ) {
        for hook in self.hooks_of(kind) {
            self.call(&hook, info, gates, reason);
        }
    }

    fn hooks_of(&self, kind: HookType) -> Vec<Hook> {
        self.file.hooks(kind).cloned().collect()
    }
}
