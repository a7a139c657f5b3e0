//! Progress on stderr: a spinner or countdown on a terminal, nothing or a plain line otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A spinner with a message; silent when stderr is not a terminal or `--quiet` is given.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// Starts a spinner.
    pub fn start(message: &str, quiet: bool) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(100));
        bar.set_message(message.to_owned());
        Progress { bar: Some(bar) }
    }

    /// A spinner on a terminal; elsewhere (logs, CI, scripts) the message once as a line, so a
    /// wait that may be long is never silent.
    pub fn waiting(message: &str, quiet: bool) -> Progress {
        let progress = Progress::start(message, quiet);
        if progress.bar.is_none() && !quiet {
            eprintln!("{message}");
        }
        progress
    }

    /// A progress that shows nothing.
    pub fn hidden() -> Progress {
        Progress { bar: None }
    }

    /// Updates the message.
    pub fn set(&self, message: &str) {
        if let Some(b) = &self.bar {
            b.set_message(message.to_owned());
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Progress lines on stderr, kubectl style (one line per new message), for the Kubernetes
/// operations of veer-k8s.
pub struct StderrReporter {
    quiet: bool,
}

impl StderrReporter {
    /// A reporter honouring `--quiet` (warnings are shown all the same).
    pub fn new(quiet: bool) -> StderrReporter {
        StderrReporter { quiet }
    }
}

impl veer_k8s::Reporter for StderrReporter {
    fn progress(&self, message: &str) {
        if !self.quiet {
            eprintln!("{message}");
        }
    }

    fn warning(&self, message: &str) {
        eprintln!("warning: {message}");
    }
}
