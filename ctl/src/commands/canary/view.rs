//! What `canary run` shows while it runs, decided once from the output options: with `-o json`
//! every event as one JSON line on stdout; on a terminal a live panel (steps, weights, gates
//! against their limits) above a countdown, redrawn in place; elsewhere (logs, CI) one plain
//! line per fact, never a redraw; with `--quiet`, nothing but the changes themselves.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::Output;
use crate::output::canary::{panel, summary, Panel};
use crate::output::Printer;
use crate::progressive::events::{Event, What};

/// How the run is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Json,
    Terminal,
    Plain,
    Quiet,
}

/// The run's output.
pub struct View {
    mode: Mode,
    colour: bool,
    bar: Option<ProgressBar>,
}

impl View {
    /// The view `printer` asks for.
    pub fn new(printer: &Printer) -> View {
        let mode = if printer.format == Output::Json {
            Mode::Json
        } else if printer.quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Terminal
        } else {
            Mode::Plain
        };
        View {
            mode,
            colour: mode == Mode::Terminal
                && anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never,
            bar: None,
        }
    }

    /// Whether events are printed as JSON (the changes' own output is then left out).
    pub fn json(&self) -> bool {
        self.mode == Mode::Json
    }

    /// Reports `e`: as JSON, or as a line where one says something the rest of the output does
    /// not (the changes print themselves; a stop is the command's error).
    pub fn event(&mut self, e: &Event<'_>) {
        match self.mode {
            Mode::Json => {
                if let Ok(line) = serde_json::to_string(e) {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{line}");
                    let _ = out.flush();
                }
            }
            Mode::Quiet => {}
            Mode::Terminal | Mode::Plain => {
                if let Some(line) = line(e) {
                    self.say(&line);
                }
            }
        }
    }

    /// A line on stderr, above the panel if one is drawn (not with JSON or --quiet).
    pub fn say(&self, line: &str) {
        match (&self.bar, self.mode) {
            (_, Mode::Json | Mode::Quiet) => {}
            (Some(bar), _) => bar.suspend(|| eprintln!("{line}")),
            (None, _) => eprintln!("{line}"),
        }
    }

    /// A step's watch starts: `label` (`v2 at 20%; 50% next`) for `interval`. A countdown under
    /// the panel on a terminal, one line elsewhere.
    pub fn watch_start(&mut self, label: &str, interval: Duration) {
        match self.mode {
            Mode::Terminal => {
                let bar = ProgressBar::new(millis(interval));
                if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {prefix}") {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar.set_message(label.to_owned());
                bar.set_prefix(left(interval));
                self.bar = Some(bar);
            }
            Mode::Plain => eprintln!("{label} (waiting {})", humantime::format_duration(interval)),
            Mode::Json | Mode::Quiet => {}
        }
    }

    /// Redraws the panel and the countdown (`done` of `total`, the label under the panel).
    pub fn watch_tick(&self, p: &Panel<'_>, label: &str, done: Duration, total: Duration) {
        if let Some(bar) = &self.bar {
            bar.set_length(millis(total));
            bar.set_position(millis(done.min(total)));
            bar.set_prefix(left(total.saturating_sub(done)));
            bar.set_message(format!("{}{label}", panel(p, self.colour)));
        }
    }

    /// The watch is over: the panel goes.
    pub fn watch_end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for View {
    fn drop(&mut self) {
        self.watch_end();
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `3s left`: whole seconds, rounded up ("0s left" only at the end).
fn left(d: Duration) -> String {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    format!(
        "{} left",
        humantime::format_duration(Duration::from_secs(secs))
    )
}

/// The plain line of an event, if it gets one.
fn line(e: &Event<'_>) -> Option<String> {
    match &e.what {
        What::Resumed { step, started_at } => Some(format!(
            "continuing the run of {} {} started {started_at}: at step {} of {} ({})",
            e.service,
            e.variant,
            step.number,
            step.of,
            crate::config::edit::bp_to_percent(step.weight_bp)
        )),
        What::Hook {
            hook,
            kind,
            outcome,
        } => Some(format!("{} hook {hook} {outcome}", kind.name())),
        What::Waiting { reason, .. } => Some(format!("{} {reason}", e.variant)),
        What::Passed { step, readings } => Some(summary(
            e.variant,
            &crate::config::edit::bp_to_percent(step.weight_bp),
            readings,
        )),
        What::Started { .. }
        | What::Step { .. }
        | What::Live { .. }
        | What::Written { .. }
        | What::Gates { .. }
        | What::Stopped { .. }
        | What::Promoted { .. }
        | What::Completed { .. } => None,
    }
}
