//! `canary set-weight | promote | abort | run`.

use std::io::{BufRead, IsTerminal};

use veer_filter::config::WireConfig;

use super::edit_live;
use crate::cli::{CanaryCommand, CanaryRunArgs, Global};
use crate::config::edit;
use crate::error::{CliError, Result};
use crate::host::envoy::change;
use crate::host::kubernetes::sidecars::{self as k8s_status, SidecarWindow};
use crate::host::kubernetes::StderrReporter;
use crate::observe::status::Status;
use crate::output::progress;

/// Dispatches `canary ...`: the ECDS file with --envoy, the WasmPlugin on Kubernetes otherwise.
pub fn run(g: &Global, c: &CanaryCommand) -> Result<()> {
    match c {
        CanaryCommand::SetWeight {
            service,
            variant,
            percent,
            from,
        } => set_weight(
            g,
            service,
            variant,
            edit::percent_to_bp(percent)?,
            from.as_deref(),
        ),
        CanaryCommand::Promote { service, variant } => promote(g, service, variant),
        CanaryCommand::Abort { service } => abort(g, service),
        CanaryCommand::Run(a) => progressive(g, a),
    }
}

/// `variant` at `bp`, the difference taken from `from` (default: the stable variant).
fn set_weight(g: &Global, service: &str, variant: &str, bp: i64, from: Option<&str>) -> Result<()> {
    let what = format!(
        "canary set-weight {service} {variant} {}",
        edit::bp_to_percent(bp)
    );
    edit_live(g, service, &what, |w| {
        edit::set_weight(w, service, variant, bp, from)
    })
}

fn abort(g: &Global, service: &str) -> Result<()> {
    edit_live(g, service, &format!("canary abort {service}"), |w| {
        edit::abort(w, service).map(|_| ())
    })
}

fn promote(g: &Global, service: &str, variant: &str) -> Result<()> {
    let what = format!("canary promote {service} {variant}");
    edit_live(g, service, &what, |w| edit::promote(w, service, variant))
}

/// Where `canary run` changes the split and reads its gate: the ECDS file and the proxies' admin
/// APIs (`--envoy`), or the WasmPlugin and the sidecars it runs in (Kubernetes).
enum Host {
    Envoy,
    Kubernetes {
        selectors: Vec<String>,
        reporter: StderrReporter,
    },
}

/// What the gate after a step reads: on Envoy the counters since the step (the verified change
/// records their baseline); on Kubernetes a window over the sidecars opened once the step was
/// live everywhere, closed when the pause ends.
enum Watch {
    SinceChange,
    Sidecars(SidecarWindow),
}

impl Host {
    /// The host for `g`, with the live config; on Kubernetes, also checks that there are
    /// sidecars to read before anything changes.
    fn for_run(g: &Global, a: &CanaryRunArgs) -> Result<(Host, WireConfig)> {
        if g.envoy.is_some() {
            let live = change::store(g)?.current()?.ok_or_else(|| {
                CliError::failed(
                    "there is no live config yet: apply one first with `veerctl apply -f FILE`",
                )
            })?;
            return Ok((Host::Envoy, live.wire));
        }
        let reporter = StderrReporter::new(g);
        let (wire, selectors) =
            k8s_status::plugin_and_selectors(g, a.selector.as_deref(), &reporter)?;
        if g.dry_run.is_none() {
            SidecarWindow::open(g, &selectors, &reporter)?;
        }
        Ok((
            Host::Kubernetes {
                selectors,
                reporter,
            },
            wire,
        ))
    }

    /// Starts watching a step that is live.
    fn watch(&self, g: &Global) -> Result<Watch> {
        Ok(match self {
            Host::Envoy => Watch::SinceChange,
            Host::Kubernetes {
                selectors,
                reporter,
            } => Watch::Sidecars(SidecarWindow::open(g, selectors, reporter)?),
        })
    }

    /// What the proxies saw since `watch` started.
    fn status(&self, g: &Global, watch: Watch) -> Result<Status> {
        match (self, watch) {
            (Host::Kubernetes { reporter, .. }, Watch::Sidecars(window)) => window.close(
                g,
                &k8s_status::plugin_config(g)?,
                "since the step went live",
                reporter,
            ),
            _ => super::status::collect(g),
        }
    }
}

/// Steps through the weights; between steps waits (or asks), then checks the canary's error
/// rate from the proxies' counters and aborts if it is too high.
fn progressive(g: &Global, a: &CanaryRunArgs) -> Result<()> {
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
    let (host, live) = Host::for_run(g, a)?;
    // The error-rate gate needs the filter's response metrics.
    if live.metrics.as_ref().and_then(|m| m.responses) == Some(false) {
        return Err(CliError::failed(
            "the live config turns response metrics off (metrics.responses: false), so `canary run` cannot watch the canary's error rate; turn them on, or step with `canary set-weight`",
        ));
    }
    for (i, bp) in steps.iter().enumerate() {
        let at = edit::bp_to_percent(*bp);
        set_weight(g, &a.service, &a.variant, *bp, None)?;
        // What comes after this step, if anything: the gate only matters before something.
        let next = match steps.get(i + 1) {
            Some(next) => edit::bp_to_percent(*next),
            None if a.promote => "promotion".to_owned(),
            None => break,
        };
        // A dry run changes nothing, so there is nothing to wait for or to watch: it shows each
        // step's request.
        if g.dry_run.is_some() {
            continue;
        }
        let watch = host.watch(g)?;
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
                g.quiet,
            );
        }
        gate(g, a, &at, &host.status(g, watch)?)?;
    }
    if a.promote {
        promote(g, &a.service, &a.variant)?;
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
fn gate(g: &Global, a: &CanaryRunArgs, at: &str, s: &Status) -> Result<()> {
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
