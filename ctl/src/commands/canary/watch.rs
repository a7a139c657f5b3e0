//! One step's watch: the gates read from what every proxy counted since the step went live (and
//! from the gate file's queries) every tick, until the step passes, fails or has waited too
//! long for data. A failing gate acts at once; passing waits for `--interval` (or, with
//! `--manual`, for the answer on the terminal).

use std::time::{Duration, Instant};

use super::run::{confirm, Run};
use crate::error::{CliError, Result};
use crate::history::Entry;
use crate::host::{Proxies, Watch};
use crate::observe::status;
use crate::observe::window::all_unreadable;
use crate::output::canary::Panel;
use crate::progressive::decision::{decide, Decision};
use crate::progressive::events::What;
use crate::progressive::gates::{self, Action, Reading, Subject, Verdict};
use crate::progressive::hooks::StepInfo;
use crate::progressive::prometheus;
use crate::progressive::template::Values;

/// How often the gates are read on a standalone Envoy (its admin API answers at once).
const TICK_ENVOY: Duration = Duration::from_secs(1);
/// How often on Kubernetes, where each reading opens a port-forward to every sidecar.
const TICK_KUBERNETES: Duration = Duration::from_secs(10);
/// How often the countdown is redrawn.
const REDRAW: Duration = Duration::from_millis(200);
/// How often the current step's readings are recorded with the run (on Kubernetes each record is
/// a write to the WasmPlugin): often enough for `canary status` to show recent figures.
const RECORD_EVERY: Duration = Duration::from_secs(10);

impl Run<'_> {
    /// Watches step `info` (at `at`, `next` after it). The readings it passed with, or `None`
    /// when the person at the terminal said no (`--manual`).
    pub(super) fn watch(
        &mut self,
        info: StepInfo,
        at: &str,
        next: &str,
    ) -> Result<Option<Vec<Reading>>> {
        let watch = self.proxies.start_watch()?;
        let live_at = Instant::now();
        let label = format!("{} at {at}; {next} next", self.a.variant);
        let readings = if self.a.manual {
            let question = format!("{} at {at}. Continue to {next}? [y/N] ", self.a.variant);
            if !confirm(&question)? {
                return Ok(None);
            }
            self.judge(info, &watch, live_at, Instant::now(), &label)?
        } else {
            self.view.watch_start(&label, self.a.interval);
            self.judge(info, &watch, live_at, live_at + self.a.interval, &label)?
        };
        self.view.watch_end();
        Ok(Some(readings))
    }

    /// Reads the gates until they decide: a failure stops the run at once; a pass counts from
    /// `due`; data still lacking `--max-wait` after `due` stops it as `--on-no-data` says.
    fn judge(
        &mut self,
        info: StepInfo,
        watch: &Watch,
        live_at: Instant,
        due: Instant,
        label: &str,
    ) -> Result<Vec<Reading>> {
        let tick = match self.proxies {
            Proxies::Admins(_) => TICK_ENVOY,
            Proxies::Sidecars { .. } => TICK_KUBERNETES,
        };
        let history = self.s.host.history()?;
        let mut next_read = live_at + tick;
        let mut read_when_due = false;
        let mut waiting_since: Option<Instant> = None;
        let mut readings: Vec<Reading> = Vec::new();
        let mut recorded_at: Option<Instant> = None;
        let mut activity = "watching".to_owned();
        loop {
            let now = Instant::now();
            let is_due = now >= due;
            if now >= next_read || (is_due && !read_when_due) {
                readings = match self.read(watch, live_at.elapsed(), &history) {
                    Ok(r) => r,
                    Err(e) => {
                        let reason = format!("the proxies could not be read: {e}");
                        return Err(self.stop(Action::Halt, reason, &readings, false));
                    }
                };
                next_read = now + tick;
                read_when_due |= is_due;
                if recorded_at.is_none_or(|at| now >= at + RECORD_EVERY) {
                    self.state.read(readings.clone(), &super::run::now());
                    // Not fatal: the run goes on, and the next record may succeed.
                    if self.save().is_ok() {
                        recorded_at = Some(now);
                    }
                }
                self.emit(What::Gates {
                    step: info,
                    elapsed_s: live_at.elapsed().as_secs(),
                    readings: &readings.clone(),
                });
                match decide(&readings) {
                    Decision::Fail(action, reason) => {
                        let mismatch = readings
                            .iter()
                            .any(|r| r.gate == "split" && r.verdict == Verdict::Fail);
                        return Err(self.stop(action, reason, &readings, mismatch));
                    }
                    Decision::Pass if is_due => return Ok(readings),
                    Decision::Wait(why) if is_due => {
                        let since = match waiting_since {
                            Some(since) => since,
                            None => {
                                activity = "waiting for data".to_owned();
                                let reason = format!(
                                    "at {}: waiting up to {} (--max-wait) for enough data: {}",
                                    crate::config::edit::bp_to_percent(info.weight_bp),
                                    humantime::format_duration(self.a.max_wait),
                                    why.join("; ")
                                );
                                self.emit(What::Waiting {
                                    step: info,
                                    reason: &reason,
                                });
                                *waiting_since.insert(now)
                            }
                        };
                        if now >= since + self.a.max_wait {
                            let reason = format!(
                                "too little data {} past --interval ({})",
                                humantime::format_duration(self.a.max_wait),
                                why.join("; ")
                            );
                            return Err(self.stop(self.a.on_no_data, reason, &readings, false));
                        }
                    }
                    _ => {}
                }
            }
            let (done, total) = match waiting_since {
                Some(since) => (now - since, self.a.max_wait),
                None => (
                    now.saturating_duration_since(live_at),
                    due.saturating_duration_since(live_at),
                ),
            };
            let panel = Panel {
                run: &self.state,
                activity: &activity,
                weights: &self.weights,
                readings: &readings,
            };
            self.view.watch_tick(&panel, label, done, total);
            let mut wake = next_read.min(Instant::now() + REDRAW);
            if !read_when_due {
                wake = wake.min(due);
            }
            std::thread::sleep(
                wake.saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(10)),
            );
        }
    }

    /// The gates over what the proxies counted since the step went live `elapsed` ago.
    /// `history` names the config a mismatched split fits, if any: read once per step (it is
    /// the whole recorded history, too big to read every second).
    fn read(&self, watch: &Watch, elapsed: Duration, history: &[Entry]) -> Result<Vec<Reading>> {
        let live = self
            .s
            .host
            .live()?
            .ok_or_else(|| CliError::failed("the live config went away during the run"))?;
        let counted = self.proxies.watched(watch, "since the step went live")?;
        if let Some(errors) = all_unreadable(&counted.readings) {
            return Err(CliError::failed(errors));
        }
        let status = status::of_counted(&live.wire, live.version, &counted, history);
        let who = Subject {
            service: &self.a.service,
            variant: &self.a.variant,
            stable: &self.state.stable,
        };
        let mut readings = gates::builtin(&self.limits, who, &status);
        if let Some(url) = &self.file.prometheus {
            let values = Values {
                service: &self.a.service,
                variant: &self.a.variant,
                stable: &self.state.stable,
                namespace: self.namespace.as_deref(),
                window: elapsed,
            };
            readings.extend(
                self.file
                    .gates
                    .iter()
                    .map(|g| prometheus::read_gate(url, g, &values)),
            );
        }
        Ok(readings)
    }
}
