//! Everything veerctl shows: data on stdout in the chosen format (`Printer`), status tables
//! (`status`), cohort rules (`cohort`) and the canary run's panel and record (`canary`) in one
//! colour policy (`colour`), config differences (`diff`), Kubernetes writes planned or made
//! (`planned`), experiment reports as tables and HTML (`report`), and progress on stderr
//! (`progress`). Commands compute first and print last, through here.

pub mod canary;
pub mod cohort;
pub mod colour;
pub mod diff;
pub mod planned;
pub mod progress;
pub mod report;
pub mod status;
pub mod yaml;

use crate::cli::Output;
use crate::error::{CliError, Result};

/// How data is printed, resolved once from the global options: the format, whether to colour,
/// and whether progress is shown.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// Table (people) or JSON (scripts).
    pub format: Output,
    /// Colour stdout: a terminal, and `NO_COLOR` not set.
    pub colour: bool,
    /// `--quiet`: no progress on stderr.
    pub quiet: bool,
}

impl Printer {
    /// JSON for scripts, or the table `table` writes.
    pub fn print<T: serde::Serialize>(&self, value: &T, table: impl FnOnce()) -> Result<()> {
        match self.format {
            Output::Json => print_json(value),
            Output::Table => {
                table();
                Ok(())
            }
        }
    }
}

/// Serialises data as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::failed(format!("failed to encode output: {e}")))?;
    println!("{text}");
    Ok(())
}
