//! Progress reporting: the logic says what happens, the CLI decides how to show it.
//!
//! Waiting operations call the reporter only when the message changes, so a spinner or a log
//! line per message both read well.

/// Receives progress from long operations. veerctl implements it (indicatif, quiet mode, JSON);
/// tests record the messages.
pub trait Reporter: Send + Sync {
    /// A step or a status change, e.g. `Waiting for deployment "web-green" rollout to finish: 1
    /// of 3 updated replicas are available...`.
    fn progress(&self, message: &str);

    /// Something the user should know that does not stop the operation.
    fn warning(&self, message: &str) {
        self.progress(message);
    }
}

/// A reporter that shows nothing (quiet mode, scripts).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoReporter;

impl Reporter for NoReporter {
    fn progress(&self, _message: &str) {}
}
