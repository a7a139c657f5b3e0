//! `canary set-weight | promote | abort | run`.

use std::io::{BufRead, IsTerminal};
use std::time::Instant;

use super::print_applied;
use crate::change::{self, Base};
use crate::cli::{CanaryCommand, CanaryRunArgs, Global};
use crate::edit;
use crate::error::{CliError, Result};

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
    for (i, bp) in steps.iter().enumerate() {
        set_weight(g, &a.service, &a.variant, &edit::bp_to_percent(*bp), None)?;
        let last = i + 1 == steps.len();
        if a.manual && !last {
            if !std::io::stdin().is_terminal() {
                return Err(CliError::failed("--manual needs a terminal to ask on"));
            }
            eprint!(
                "{} at {}. Continue to {}? [y/N] ",
                a.variant,
                edit::bp_to_percent(*bp),
                edit::bp_to_percent(steps[i + 1])
            );
            let mut answer = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut answer)
                .map_err(|e| CliError::io("read the answer", e))?;
            if !answer.trim().eq_ignore_ascii_case("y") {
                eprintln!(
                    "stopped at {}; nothing else changed",
                    edit::bp_to_percent(*bp)
                );
                return Ok(());
            }
        } else if !last {
            let until = Instant::now() + a.interval;
            while Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
        let s = super::status::collect(g)?;
        if let Some(v) = s
            .services
            .iter()
            .find(|x| x.name == a.service)
            .and_then(|x| x.variants.iter().find(|v| v.name == a.variant))
        {
            let rate = v.error_rate().unwrap_or(0.0) * 100.0;
            if v.requests > 0 && rate > a.max_error_rate {
                abort(g, &a.service)?;
                return Err(CliError::failed(format!(
                    "{} had {:.2}% 5xx ({} of {}) at {}, above --max-error-rate {}%: aborted, all traffic is back on the stable variant",
                    a.variant,
                    rate,
                    v.errors.unwrap_or(0),
                    v.requests,
                    edit::bp_to_percent(*bp),
                    a.max_error_rate
                )));
            }
        }
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
