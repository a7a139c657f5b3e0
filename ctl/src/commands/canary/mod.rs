//! `canary set-weight | promote | abort | run | status`. `run` drives a progressive canary
//! (`run`: the steps; `watch`: one step's gates; `stop`: a rollback or a halt; `hooks`: the
//! webhooks around them; `view`: what it shows), `status` shows the run recorded with the config.

mod hooks;
mod run;
mod status;
mod stop;
mod view;
mod watch;

use super::edited;
use crate::cli::CanaryCommand;
use crate::config::edit;
use crate::error::Result;
use crate::history::Change;
use crate::host::Edited;
use crate::progressive::state::{record_name, Phase, RunState};
use crate::settings::Settings;

/// Dispatches `canary ...`: the ECDS file with --envoy, the WasmPlugin on Kubernetes otherwise.
pub fn run(s: &Settings, c: &CanaryCommand) -> Result<()> {
    match c {
        CanaryCommand::SetWeight {
            service,
            variant,
            percent,
            from,
        } => set_weight(
            s,
            service,
            variant,
            edit::percent_to_bp(percent)?,
            from.as_deref(),
        ),
        CanaryCommand::Promote { service, variant } => promote(s, service, variant),
        CanaryCommand::Abort { service } => abort(s, service),
        CanaryCommand::Run(a) => run::run(s, a),
        CanaryCommand::Status { service } => status::run(s, service),
    }
}

/// `variant` at `bp`, the difference taken from `from` (default: the stable variant).
fn set_weight(
    s: &Settings,
    service: &str,
    variant: &str,
    bp: i64,
    from: Option<&str>,
) -> Result<()> {
    let what = Change::CanarySetWeight {
        service: service.to_owned(),
        variant: variant.to_owned(),
        bp,
    };
    super::edit_live(s, service, &what, |w| {
        edit::set_weight(w, service, variant, bp, from)
    })
}

/// All traffic back to the stable variant; a recorded run of the service ends (rolled back).
fn abort(s: &Settings, service: &str) -> Result<()> {
    let what = Change::CanaryAbort {
        service: service.to_owned(),
    };
    let edited = s
        .host
        .edit(&what, |w| edit::abort(w, service).map(|_| ()))?;
    edited::print(s, &edited, Some(service), &what.to_string())?;
    let reason = "`veerctl canary abort` sent all traffic back to the stable variant".to_owned();
    end_recorded_run(s, service, &edited, Phase::RolledBack { reason })
}

/// The variant becomes the stable one; a recorded run of the service ends (promoted).
fn promote(s: &Settings, service: &str, variant: &str) -> Result<()> {
    let what = Change::CanaryPromote {
        service: service.to_owned(),
        variant: variant.to_owned(),
    };
    let edited = s.host.edit(&what, |w| edit::promote(w, service, variant))?;
    edited::print(s, &edited, Some(service), &what.to_string())?;
    end_recorded_run(s, service, &edited, Phase::Promoted)
}

/// After an abort or a promotion by hand, a recorded `canary run` of `service` that has not
/// ended is over: recorded as `phase`, so that a later `canary run` starts afresh rather than
/// undo the change. On Kubernetes the record is read from the WasmPlugin the edit read, so
/// without a recorded run nothing more is sent.
fn end_recorded_run(s: &Settings, service: &str, edited: &Edited, phase: Phase) -> Result<()> {
    if s.dry_run.is_some() {
        return Ok(());
    }
    let name = record_name(service);
    let Some(mut run) = s.host.state_after_edit::<RunState>(edited, &name)? else {
        return Ok(());
    };
    if run.phase.ended() {
        return Ok(());
    }
    run.end(phase, &run::now());
    s.host.save_state(&name, &run)?;
    if !s.printer.quiet {
        eprintln!(
            "the recorded canary run of {service} {} (step {}) is over: {}",
            run.variant,
            run.position(),
            run.phase_text()
        );
    }
    Ok(())
}
