//! The one error type veerctl reports, and the exit code each kind maps to.
//!
//! Exit codes (also in `veerctl --help` and the README):
//! 0 success; 1 failure (I/O, unreachable proxy, unknown service or rule, a refused header
//! rename, an experiment report that cannot be made, ...); 2 usage error; 3 the config is invalid
//! (or a cohort rule could never match) and was not written; 4 the change was written but not
//! verified live (a proxy rejected it, and the last accepted config was restored; a proxy runs
//! another config; or a proxy did not pick it up in time); 5 a concurrent change got in the way;
//! 6 `status --check` found the observed split does not match the configured one (or `canary
//! run` saw it during a step), or a proxy on the fallback or on another config.

use std::error::Error;
use std::fmt;

use veer_filter::config::Problems;

/// The error a failure was caused by, kept for its chain.
pub type Source = Box<dyn Error + Send + Sync + 'static>;

/// Everything that can go wrong, with what to do about it. The message says what failed and
/// what to do; the source, when there is one, is the error it came from, printed as `caused by:`
/// lines by [`CliError::report`].
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
    /// A file veerctl reads besides configs (a gate file) has problems; nothing was changed.
    #[error("{source_name}: the {kind} is invalid, nothing was changed\n{problems}")]
    InvalidFile {
        /// File name.
        source_name: String,
        /// What the file is (`gate file`).
        kind: &'static str,
        /// Problems, each `line N: path: message` where the line is known.
        problems: LinedProblems,
    },
    /// Written but not live everywhere.
    #[error("{message}")]
    NotVerified {
        /// What happened and what to do.
        message: String,
        /// What it came from.
        #[source]
        cause: Option<Source>,
    },
    /// Another change got in the way.
    #[error("{message}")]
    Conflict {
        /// What happened and what to do.
        message: String,
        /// What it came from.
        #[source]
        cause: Option<Source>,
    },
    /// Observed split does not match the configured one (status --check).
    #[error("{message}")]
    Mismatch {
        /// What mismatched.
        message: String,
    },
    /// Anything else, with context.
    #[error("{message}")]
    Failed {
        /// What failed and what to do.
        message: String,
        /// What it came from.
        #[source]
        cause: Option<Source>,
    },
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Failed { .. } => 1,
            CliError::Invalid { .. } | CliError::InvalidFile { .. } => 3,
            CliError::NotVerified { .. } => 4,
            CliError::Conflict { .. } => 5,
            CliError::Mismatch { .. } => 6,
        }
    }

    /// A general failure with a message that says what to do.
    pub fn failed(msg: impl Into<String>) -> CliError {
        CliError::Failed {
            message: msg.into(),
            cause: None,
        }
    }

    /// A change that was written but is not verified live (exit code 4).
    pub fn not_verified(msg: impl Into<String>) -> CliError {
        CliError::NotVerified {
            message: msg.into(),
            cause: None,
        }
    }

    /// A concurrent change got in the way (exit code 5).
    pub fn conflict(msg: impl Into<String>) -> CliError {
        CliError::Conflict {
            message: msg.into(),
            cause: None,
        }
    }

    /// `status --check` found a mismatch (exit code 6).
    pub fn mismatch(msg: impl Into<String>) -> CliError {
        CliError::Mismatch {
            message: msg.into(),
        }
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(doing: impl fmt::Display, e: std::io::Error) -> CliError {
        CliError::failed(format!("failed to {doing}: {e}")).with_source(e)
    }

    /// The same error, caused by `source` (kept for its chain; the kind is unchanged).
    pub fn with_source(mut self, source: impl Into<Source>) -> CliError {
        match &mut self {
            CliError::NotVerified { cause, .. }
            | CliError::Conflict { cause, .. }
            | CliError::Failed { cause, .. } => *cause = Some(source.into()),
            CliError::Invalid { .. } | CliError::InvalidFile { .. } | CliError::Mismatch { .. } => {
            }
        }
        self
    }

    /// Engine problems for a config that did not come from a file (edits).
    pub fn invalid_edit(problems: Problems) -> CliError {
        CliError::Invalid {
            source_name: "the edited config".into(),
            problems: LinedProblems::without_lines(problems),
        }
    }

    /// What the user reads: `error: ...`, then one `caused by: ...` line for each error in the
    /// source chain that adds something. A cause whose text is already printed is left out:
    /// messages (veerctl's own, veer-k8s's) often quote their immediate cause, and each fact is
    /// said once.
    pub fn report(&self) -> String {
        let mut out = format!("error: {self}");
        let mut next = self.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            if !text.is_empty() && !out.contains(&text) {
                out.push_str("\ncaused by: ");
                out.push_str(&text);
            }
            next = cause.source();
        }
        out
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An error made of two others: `outer` caused by `inner`.
    #[derive(Debug, thiserror::Error)]
    #[error("{outer}")]
    struct Chained {
        outer: String,
        #[source]
        inner: std::io::Error,
    }

    /// Each cause is printed once, under the message, and one the message already quotes is
    /// not printed again; the exit code is the error's own.
    #[test]
    fn the_report_prints_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = CliError::io("read web.json", io);
        assert_eq!(e.report(), "error: failed to read web.json: no such file");

        let chained = Chained {
            outer: "client error (Connect)".into(),
            inner: std::io::Error::other("connection refused"),
        };
        let e =
            CliError::not_verified("failed to read WasmPlugin demo/veer: client error (Connect)")
                .with_source(chained);
        assert_eq!(
            e.report(),
            "error: failed to read WasmPlugin demo/veer: client error (Connect)\n\
             caused by: connection refused"
        );
        assert_eq!(e.exit_code(), 4);
        assert_eq!(
            CliError::conflict("x")
                .with_source(std::io::Error::other("y"))
                .exit_code(),
            5
        );
    }
}
