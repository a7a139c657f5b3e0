//! The one error type veerctl reports, and the exit code each kind maps to.
//!
//! Exit codes (also in `veerctl --help` and the README):
//! 0 success; 1 failure (I/O, unreachable proxy, unknown service, a refused header rename, ...);
//! 2 usage error; 3 the config is invalid and was not written; 4 the change was written but not
//! verified live (a proxy rejected it, and the last accepted config was restored; or a proxy did
//! not pick it up in time); 5 a concurrent change got in the way; 6 `status --check` found the
//! observed split does not match the configured one.

use std::fmt;

use veer_filter::config::Problems;

/// Everything that can go wrong, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The config has problems; nothing was written.
    #[error("{source_name}: the config is invalid, nothing was written\n{problems}")]
    Invalid {
        /// File name or "the edited config".
        source_name: String,
        /// Problems, each `line N: path: message` where the line is known.
        problems: LinedProblems,
    },
    /// Written but not live everywhere.
    #[error("{0}")]
    NotVerified(String),
    /// Another change got in the way.
    #[error("{0}")]
    Conflict(String),
    /// Observed split does not match the configured one (status --check).
    #[error("{0}")]
    Mismatch(String),
    /// Anything else, with context.
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Failed(_) => 1,
            CliError::Invalid { .. } => 3,
            CliError::NotVerified(_) => 4,
            CliError::Conflict(_) => 5,
            CliError::Mismatch(_) => 6,
        }
    }

    /// A general failure with a message that says what to do.
    pub fn failed(msg: impl Into<String>) -> CliError {
        CliError::Failed(msg.into())
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(doing: impl fmt::Display, e: std::io::Error) -> CliError {
        CliError::Failed(format!("failed to {doing}: {e}"))
    }

    /// Engine problems for a config that did not come from a file (edits).
    pub fn invalid_edit(problems: Problems) -> CliError {
        CliError::Invalid {
            source_name: "the edited config".into(),
            problems: LinedProblems::without_lines(problems),
        }
    }
}

/// Problems with the source line of each, where known.
#[derive(Debug, Clone)]
pub struct LinedProblems(pub Vec<(Option<usize>, veer_filter::Problem)>);

impl LinedProblems {
    /// Problems without line numbers.
    pub fn without_lines(p: Problems) -> LinedProblems {
        LinedProblems(p.0.into_iter().map(|p| (None, p)).collect())
    }
}

impl fmt::Display for LinedProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (line, p)) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match line {
                Some(l) => write!(f, "  line {l}: {p}")?,
                None => write!(f, "  {p}")?,
            }
        }
        Ok(())
    }
}

/// Result alias for the CLI.
pub type Result<T, E = CliError> = std::result::Result<T, E>;
