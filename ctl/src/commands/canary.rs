//! `canary set-weight | promote | abort | run`.

use std::io::{BufRead, IsTerminal};

use super::print_applied;
use crate::change::{self, Base};
use crate::cli::{CanaryCommand, CanaryRunArgs, Global};
use crate::edit;
use crate::error::{CliError, Result};
use crate::report;

/// Dispatches `canary ...`: the ECDS file with --envoy, the WasmPlugin on Kubernetes otherwise.
pub fn run(g: &Global, c: &CanaryCommand) -> Result<()> {
    if g.envoy.is_none() {
        return on_kubernetes(g, c);
    }
    match c {
        CanaryCommand::SetWeight {
            service,
            variant,
            percent,
            from,
        } => set_weight(g, service, variant, percent, from.as_deref()).map(|_| ()),
        CanaryCommand::Promote { service, variant } => {
            let what = format!("canary promote {service} {variant}");
            let applied = change::change(g, &what, Base::Live, true, |w| {
                edit::promote(w, service, variant)
            })?;
            print_applied(g, &applied, Some(service), &what)
        }
        CanaryCommand::Abort { service } => abort(g, service),
        CanaryCommand::Run(a) => progressive(g, a),
    }
}

fn set_weight(
    g: &Global,
    service: &str,
    variant: &str,
    percent: &str,
    from: Option<&str>,
) -> Result<()> {
    let bp = edit::percent_to_bp(percent)?;
    let what = format!(
        "canary set-weight {service} {variant} {}",
        edit::bp_to_percent(bp)
    );
    let applied = change::change(g, &what, Base::Live, true, |w| {
        edit::set_weight(w, service, variant, bp, from)
    })?;
    print_applied(g, &applied, Some(service), &what)
}

fn abort(g: &Global, service: &str) -> Result<()> {
    let what = format!("canary abort {service}");
    let applied = change::change(g, &what, Base::Live, true, |w| {
        edit::abort(w, service).map(|_| ())
    })?;
    print_applied(g, &applied, Some(service), &what)
}

/// Steps through the weights; between steps waits (or asks), then checks the canary's error
/// rate from the proxies' counters and aborts if it is too high.
fn progressive(g: &Global, a: &CanaryRunArgs) -> Result<()> {
    // The error-rate gate needs the filter's response metrics.
    let live = change::store(g)?.current()?;
    if live.is_some_and(|c| c.wire.metrics.as_ref().and_then(|m| m.responses) == Some(false)) {
        return Err(CliError::failed(
            "the live config turns response metrics off (metrics.responses: false), so `canary run` cannot watch the canary's error rate; turn them on, or step with `canary set-weight`",
        ));
    }
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
    for (i, bp) in steps.iter().enumerate() {
        let at = edit::bp_to_percent(*bp);
        set_weight(g, &a.service, &a.variant, &at, None)?;
        // What comes after this step, if anything: the gate only matters before something.
        let next = match steps.get(i + 1) {
            Some(next) => edit::bp_to_percent(*next),
            None if a.promote => "promotion".to_owned(),
            None => break,
        };
        if a.manual {
            if !confirm(&format!(
                "{} at {at}. Continue to {next}? [y/N] ",
                a.variant
            ))? {
                eprintln!("stopped at {at}; nothing else changed");
                return Ok(());
            }
        } else {
            report::pause(
                &format!("{} at {at}; {next} next", a.variant),
                a.interval,
                g.quiet,
            );
        }
        gate(g, a, &at)?;
    }
    if a.promote {
        let what = format!("canary promote {} {}", a.service, a.variant);
        let applied = change::change(g, &what, Base::Live, true, |w| {
            edit::promote(w, &a.service, &a.variant)
        })?;
        print_applied(g, &applied, Some(&a.service), &what)?;
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

/// The error-rate gate after a step at `at`: aborts the canary when its 5xx rate since the step
/// is above `--max-error-rate`, and says what it saw either way.
fn gate(g: &Global, a: &CanaryRunArgs, at: &str) -> Result<()> {
    let s = super::status::collect(g)?;
    let Some(v) = s
        .services
        .iter()
        .find(|x| x.name == a.service)
        .and_then(|x| x.variants.iter().find(|v| v.name == a.variant))
    else {
        return Ok(());
    };
    let rate = v.error_rate().unwrap_or(0.0) * 100.0;
    if v.requests > 0 && rate > a.max_error_rate {
        abort(g, &a.service)?;
        return Err(CliError::failed(format!(
            "{} had {rate:.2}% 5xx ({} of {}) at {at}, above --max-error-rate {}%: aborted, all traffic is back on the stable variant",
            a.variant,
            v.errors.unwrap_or(0),
            v.requests,
            a.max_error_rate
        )));
    }
    if !g.quiet {
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

fn on_kubernetes(g: &Global, c: &CanaryCommand) -> Result<()> {
    match c {
        CanaryCommand::SetWeight { service, variant, percent, from } => {
            let bp = edit::percent_to_bp(percent)?;
            let what = format!("canary set-weight {service} {variant} {}", edit::bp_to_percent(bp));
            crate::kube::change(g, &what, |w| edit::set_weight(w, service, variant, bp, from.as_deref()))
        }
        CanaryCommand::Promote { service, variant } => {
            crate::kube::change(g, &format!("canary promote {service} {variant}"), |w| edit::promote(w, service, variant))
        }
        CanaryCommand::Abort { service } => {
            crate::kube::change(g, &format!("canary abort {service}"), |w| edit::abort(w, service).map(|_| ()))
        }
        CanaryCommand::Run(_) => Err(CliError::failed(
            "canary run verifies each step from the proxies' counters and needs --envoy; on Kubernetes, step with `canary set-weight` and check `status --selector`",
        )),
    }
}
