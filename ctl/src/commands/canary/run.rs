//! `canary run`: the steps, each verified on every proxy and gated, with the webhooks around
//! them, recorded with the config as it goes so that a run started again continues where it
//! was; at the end, the promotion. A failing gate or blocking hook rolls back (all traffic to
//! the stable variant, verified) or halts (weights kept, continued by running again).

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal};

use veer_filter::config::wire::WireService;
use veer_filter::config::WireConfig;

use super::view::View;
use crate::cli::CanaryRunArgs;
use crate::commands::edited;
use crate::config::edit;
use crate::error::{CliError, Result};
use crate::history::Change;
use crate::host::{Edited, Proxies};
use crate::progressive::events::{Event, What};
use crate::progressive::gate_file::{self, GateFile};
use crate::progressive::gates::Limits;
use crate::progressive::hooks::{HookType, StepInfo};
use crate::progressive::state::{self, record_name, Phase, Requested, RunState, Start};
use crate::settings::Settings;

/// Now, as recorded (RFC 3339, UTC, seconds).
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// A run under way.
pub(super) struct Run<'s> {
    pub(super) s: &'s Settings,
    pub(super) a: &'s CanaryRunArgs,
    pub(super) limits: Limits,
    pub(super) file: GateFile,
    pub(super) namespace: Option<String>,
    pub(super) proxies: Proxies<'s>,
    pub(super) state: RunState,
    /// The service's live default split (basis points), as the last change left it.
    pub(super) weights: BTreeMap<String, i64>,
    pub(super) view: View,
}

/// How a step ended.
enum Flow {
    /// On to the next step.
    Next,
    /// The last step, without promotion: nothing to watch.
    Last,
    /// Stopped on the terminal (`--manual`): not an error.
    Declined,
}

/// `canary run`.
pub fn run(s: &Settings, a: &CanaryRunArgs) -> Result<()> {
    let steps: Vec<i64> = a
        .steps
        .iter()
        .map(|s| edit::percent_to_bp(s))
        .collect::<Result<_>>()?;
    if a.manual && !std::io::stdin().is_terminal() {
        return Err(CliError::failed(
            "--manual asks before each step and needs a terminal to ask on; without one, pause with --interval, or approve through a confirm-step hook (--gate-file)",
        ));
    }
    let file = match &a.gate_file {
        Some(path) => gate_file::load(path)?,
        None => GateFile::default(),
    };
    // A dry run changes nothing, so there is nothing to wait for, watch or record: it shows
    // each step's request.
    if s.dry_run.is_some() {
        return plan_only(s, a, &steps);
    }
    let (live, proxies) = proxies_for_run(s, a)?;
    // The error-rate gate needs the filter's response metrics.
    if live.metrics.as_ref().and_then(|m| m.responses) == Some(false) {
        return Err(CliError::failed(
            "the live config turns response metrics off (metrics.responses: false), so `canary run` cannot watch the canary's error rate; turn them on, or step with `canary set-weight`",
        ));
    }
    let service = live
        .services
        .iter()
        .find(|x| x.name == a.service)
        .ok_or_else(|| CliError::failed(format!("the live config has no service {}", a.service)))?;
    if !service.variants.iter().any(|v| v.name == a.variant) {
        return Err(CliError::failed(format!(
            "service {} has no variant {} (it has {})",
            a.service,
            a.variant,
            service
                .variants
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let stable = edit::stable(service)?;
    let namespace = s
        .host
        .namespace()?
        .or_else(|| file.namespace.clone())
        .or_else(|| s.cluster.namespace.clone());
    if file.uses_namespace() && namespace.is_none() {
        return Err(CliError::failed(
            "a gate's query uses {{ namespace }}, but a standalone Envoy has none: give it as `namespace:` in the gate file (or --namespace)",
        ));
    }
    let name = record_name(&a.service);
    let _lock = s.host.run_lock(&name)?;
    let start = state::start(
        s.host.load_state(&name)?,
        Requested {
            variant: &a.variant,
            steps: &steps,
            promote: a.promote,
            restart: a.restart,
            live_bp: service.split.get(&a.variant).copied().unwrap_or(0),
        },
    )
    .map_err(CliError::failed)?;
    let mut run = Run {
        s,
        a,
        limits: Limits {
            max_error_rate: a.max_error_rate,
            max_p99: a.max_p99,
            max_p99_increase: a.max_p99_increase,
            min_requests: a.min_requests.unwrap_or(u64::from(!a.manual)),
        },
        file,
        namespace,
        proxies,
        state: RunState::new(&a.service, &a.variant, &stable, &steps, a.promote, &now()),
        weights: weights(service),
        view: View::new(&s.printer),
    };
    run.go(start)
}

/// Where `canary run` reads its gates, checked before the first step: on Kubernetes the
/// WasmPlugin's sidecars (or --selector's) must be readable, since each step is watched there.
fn proxies_for_run<'h>(s: &'h Settings, a: &CanaryRunArgs) -> Result<(WireConfig, Proxies<'h>)> {
    let (live, proxies) = s.host.observe(a.selector.as_deref())?;
    let live = live.ok_or_else(|| {
        CliError::failed(
            "there is no live config yet: apply one first with `veerctl apply -f FILE`",
        )
    })?;
    if matches!(proxies, Proxies::Sidecars { .. }) {
        proxies.open_window()?;
    }
    Ok((live.wire, proxies))
}

/// `--dry-run`: each step's change, and the promotion, as it would be made.
fn plan_only(s: &Settings, a: &CanaryRunArgs, steps: &[i64]) -> Result<()> {
    for bp in steps {
        super::set_weight(s, &a.service, &a.variant, *bp, None)?;
    }
    if a.promote {
        super::promote(s, &a.service, &a.variant)?;
    }
    Ok(())
}

impl Run<'_> {
    /// Runs from `start` to the end.
    fn go(&mut self, start: Start) -> Result<()> {
        let first = match start {
            Start::Fresh => {
                let steps = self.state.steps.clone();
                self.emit(What::Started {
                    stable: &self.state.stable.clone(),
                    steps: &steps,
                    promote: self.state.promote,
                });
                0
            }
            Start::Resume(recorded) => {
                self.state = *recorded;
                let (step, started_at) = (
                    self.state.info(self.state.step),
                    self.state.started_at.clone(),
                );
                self.emit(What::Resumed {
                    step,
                    started_at: &started_at,
                });
                self.state.step
            }
        };
        for i in first..self.state.steps.len() {
            match self.step(i)? {
                Flow::Next => {}
                Flow::Last => break,
                Flow::Declined => return Ok(()),
            }
        }
        if self.state.promote {
            self.promote()
        } else {
            let last = self.state.steps.len().saturating_sub(1);
            self.state.begin(last, &now());
            self.state.end(Phase::Completed, &now());
            self.save()?;
            self.emit(What::Completed {
                step: self.state.info(last),
            });
            Ok(())
        }
    }

    /// Step `i`: its hooks, its weight (verified), then its watch.
    fn step(&mut self, i: usize) -> Result<Flow> {
        let info = self.state.info(i);
        self.state.begin(i, &now());
        self.save()?;
        self.emit(What::Step { step: info });
        self.blocking_hooks(HookType::BeforeStep, info, &[])?;
        self.approvals(HookType::ConfirmStep, info)?;
        let bp = info.weight_bp;
        let what = Change::CanarySetWeight {
            service: self.a.service.clone(),
            variant: self.a.variant.clone(),
            bp,
        };
        let (service, variant) = (&self.a.service, &self.a.variant);
        let edited = self
            .s
            .host
            .edit(&what, |w| edit::set_weight(w, service, variant, bp, None))
            .map_err(|e| self.halted_by(e, info))?;
        self.made(&edited, &what, info)?;
        let at = edit::bp_to_percent(bp);
        let next = match self.state.steps.get(i + 1) {
            Some(next) => edit::bp_to_percent(*next),
            None if self.state.promote => "promotion".to_owned(),
            None => return Ok(Flow::Last),
        };
        let Some(readings) = self.watch(info, &at, &next)? else {
            eprintln!("stopped at {at}; nothing else changed");
            let reason = format!("stopped on the terminal at {at}");
            self.state.end(
                Phase::Halted {
                    reason: reason.clone(),
                },
                &now(),
            );
            self.save()?;
            self.notify(HookType::Halted, info, &[], Some(&reason));
            return Ok(Flow::Declined);
        };
        self.state.pass(i, readings.clone(), &now());
        self.save()?;
        self.emit(What::Passed {
            step: info,
            readings: &readings,
        });
        self.blocking_hooks(HookType::AfterStep, info, &readings)?;
        Ok(Flow::Next)
    }

    /// The promotion, after its approvals and hooks.
    fn promote(&mut self) -> Result<()> {
        let n = self.state.steps.len();
        let info = self.state.info(n);
        let readings = self
            .state
            .passed
            .last()
            .map(|p| p.gates.clone())
            .unwrap_or_default();
        self.state.begin(n, &now());
        self.save()?;
        self.approvals(HookType::ConfirmPromotion, info)?;
        self.blocking_hooks(HookType::BeforePromotion, info, &readings)?;
        let what = Change::CanaryPromote {
            service: self.a.service.clone(),
            variant: self.a.variant.clone(),
        };
        let (service, variant) = (&self.a.service, &self.a.variant);
        let edited = self
            .s
            .host
            .edit(&what, |w| edit::promote(w, service, variant))
            .map_err(|e| self.halted_by(e, info))?;
        self.made(&edited, &what, info)?;
        self.state.end(Phase::Promoted, &now());
        self.save()?;
        self.emit(What::Promoted {
            version: version_of(&edited),
        });
        self.notify(HookType::Promoted, info, &readings, None);
        Ok(())
    }

    /// After a change: the new weights, and what the change did (its own output, or an event).
    /// Returns how many proxies (or sidecars) were verified to run it: 0 is not verified.
    pub(super) fn made(&mut self, edited: &Edited, what: &Change, info: StepInfo) -> Result<usize> {
        let config = match edited {
            Edited::Envoy(a) => &a.wire,
            Edited::Kubernetes(u) => &u.config,
        };
        if let Some(svc) = config.services.iter().find(|x| x.name == self.a.service) {
            self.weights = weights(svc);
        }
        let proxies = match edited {
            Edited::Envoy(a) => a.verified.len(),
            Edited::Kubernetes(u) => u.live_in.unwrap_or(0),
        };
        if !self.view.json() {
            edited::print(self.s, edited, Some(&self.a.service), &what.to_string())?;
            return Ok(proxies);
        }
        let weights = self.weights.clone();
        let version = version_of(edited);
        self.emit(match proxies {
            0 => What::Written {
                step: info,
                version,
                weights: &weights,
            },
            _ => What::Live {
                step: info,
                version,
                proxies,
                weights: &weights,
            },
        });
        Ok(proxies)
    }

    /// Records the run with the config.
    pub(super) fn save(&self) -> Result<()> {
        self.s
            .host
            .save_state(&record_name(&self.a.service), &self.state)
    }

    /// Reports `what`.
    pub(super) fn emit(&mut self, what: What<'_>) {
        let e = Event {
            at: now(),
            service: &self.a.service,
            variant: &self.a.variant,
            what,
        };
        self.view.event(&e);
    }
}

/// Every variant of `service` with its weight in the default split (basis points; absent: 0).
fn weights(service: &WireService) -> BTreeMap<String, i64> {
    service
        .variants
        .iter()
        .map(|v| {
            (
                v.name.clone(),
                service.split.get(&v.name).copied().unwrap_or(0),
            )
        })
        .collect()
}

/// The config version a change wrote.
fn version_of(edited: &Edited) -> u64 {
    match edited {
        Edited::Envoy(a) => a.version,
        Edited::Kubernetes(u) => u.version,
    }
}

/// Asks on the terminal; only `y` goes on.
pub(super) fn confirm(question: &str) -> Result<bool> {
    eprint!("{question}");
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::io("read the answer", e))?;
    Ok(answer.trim().eq_ignore_ascii_case("y"))
}
