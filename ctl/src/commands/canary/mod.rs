//! `canary set-weight | promote | abort | run`.

use std::io::{BufRead, IsTerminal};

use super::edit_live;
use crate::cli::{CanaryCommand, CanaryRunArgs};
use crate::config::edit;
use crate::error::{CliError, Result};
use crate::history::Change;
use crate::host::{Host, Proxies, Watch};
use crate::observe::status::Status;
use crate::output::progress;
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
        CanaryCommand::Run(a) => progressive(s, a),
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
    edit_live(s, service, &what, |w| {
        edit::set_weight(w, service, variant, bp, from)
    })
}

fn abort(s: &Settings, service: &str) -> Result<()> {
    let what = Change::CanaryAbort {
        service: service.to_owned(),
    };
    edit_live(s, service, &what, |w| edit::abort(w, service).map(|_| ()))
}

fn promote(s: &Settings, service: &str, variant: &str) -> Result<()> {
    let what = Change::CanaryPromote {
        service: service.to_owned(),
        variant: variant.to_owned(),
    };
    edit_live(s, service, &what, |w| edit::promote(w, service, variant))
}

/// Where `canary run` reads its gate, checked before the first step: on Kubernetes the
/// WasmPlugin's sidecars (or --selector's) must be readable, since each step is watched there.
fn proxies_for_run<'h>(
    s: &'h Settings,
    a: &CanaryRunArgs,
) -> Result<(veer_filter::config::WireConfig, Proxies<'h>)> {
    let (live, proxies) = s.host.observe(a.selector.as_deref())?;
    let live = live.ok_or_else(|| {
        CliError::failed(
            "there is no live config yet: apply one first with `veerctl apply -f FILE`",
        )
    })?;
    if matches!(proxies, Proxies::Sidecars { .. }) && s.dry_run.is_none() {
        proxies.open_window()?;
    }
    Ok((live.wire, proxies))
}

/// What the proxies saw since `watch` started, against the live config (read again: the step
/// changed it).
fn step_status(host: &Host, proxies: &Proxies<'_>, watch: Watch) -> Result<Status> {
    let live = host
        .live()?
        .ok_or_else(|| CliError::failed("the live config went away during the run"))?;
    let counted = proxies.watched(watch, "since the step went live")?;
    super::status::of_counted(host, &live, &counted)
}

/// Steps through the weights; between steps waits (or asks), then checks the canary's error
/// rate from the proxies' counters and aborts if it is too high.
fn progressive(s: &Settings, a: &CanaryRunArgs) -> Result<()> {
    let steps: Vec<i64> = a
        .steps
        .iter()
        .map(|s| edit::percent_to_bp(s))
        .collect::<Result<_>>()?;
    if a.manual && !std::io::stdin().is_terminal() {
        return Err(CliError::failed(
            "--manual asks before each step and needs a terminal to ask on; without one, pause with --interval",
        ));
    }
    let (live, proxies) = proxies_for_run(s, a)?;
    // The error-rate gate needs the filter's response metrics.
    if live.metrics.as_ref().and_then(|m| m.responses) == Some(false) {
        return Err(CliError::failed(
            "the live config turns response metrics off (metrics.responses: false), so `canary run` cannot watch the canary's error rate; turn them on, or step with `canary set-weight`",
        ));
    }
    for (i, bp) in steps.iter().enumerate() {
        let at = edit::bp_to_percent(*bp);
        set_weight(s, &a.service, &a.variant, *bp, None)?;
        // What comes after this step, if anything: the gate only matters before something.
        let next = match steps.get(i + 1) {
            Some(next) => edit::bp_to_percent(*next),
            None if a.promote => "promotion".to_owned(),
            None => break,
        };
        // A dry run changes nothing, so there is nothing to wait for or to watch: it shows each
        // step's request.
        if s.dry_run.is_some() {
            continue;
        }
        let watch = proxies.start_watch()?;
        if a.manual {
            if !confirm(&format!(
                "{} at {at}. Continue to {next}? [y/N] ",
                a.variant
            ))? {
                eprintln!("stopped at {at}; nothing else changed");
                return Ok(());
            }
        } else {
            progress::pause(
                &format!("{} at {at}; {next} next", a.variant),
                a.interval,
                s.printer.quiet,
            );
        }
        gate(s, a, &at, &step_status(&s.host, &proxies, watch)?)?;
    }
    if a.promote {
        promote(s, &a.service, &a.variant)?;
    }
    Ok(())
}

/// Asks on the terminal; only `y` goes on.
fn confirm(question: &str) -> Result<bool> {
    eprint!("{question}");
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::io("read the answer", e))?;
    Ok(answer.trim().eq_ignore_ascii_case("y"))
}

/// The error-rate gate after a step at `at`, from `s` (what the proxies saw during the step):
/// aborts the canary when its 5xx rate is above `--max-error-rate`, and says what it saw either
/// way.
fn gate(s: &Settings, a: &CanaryRunArgs, at: &str, st: &Status) -> Result<()> {
    let Some(v) = st
        .services
        .iter()
        .find(|x| x.name == a.service)
        .and_then(|x| x.variants.iter().find(|v| v.name == a.variant))
    else {
        return Ok(());
    };
    let rate = v.error_rate().unwrap_or(0.0) * 100.0;
    if v.requests > 0 && rate > a.max_error_rate {
        abort(s, &a.service)?;
        return Err(CliError::failed(format!(
            "{} had {rate:.2}% 5xx ({} of {}) at {at}, above --max-error-rate {}%: aborted, all traffic is back on the stable variant",
            a.variant,
            v.errors.unwrap_or(0),
            v.requests,
            a.max_error_rate
        )));
    }
    if !s.printer.quiet {
        let seen = if v.requests == 0 {
            "no requests reached it, so the error gate saw nothing".to_owned()
        } else {
            format!(
                "{rate:.2}% 5xx ({} of {} requests), within --max-error-rate {}%",
                v.errors.unwrap_or(0),
                v.requests,
                a.max_error_rate
            )
        };
        eprintln!("{} at {at}: {seen}", a.variant);
    }
    Ok(())
}
