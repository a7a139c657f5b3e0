//! Progress on stderr (a spinner on a terminal, nothing otherwise) and whether to use colour.

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

/// Colour only on a terminal, and never with `NO_COLOR` set.
pub fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
