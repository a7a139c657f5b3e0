//! The history of changes veerctl made to a standalone Envoy's config, kept in
//! `.veer/history.json` beside the ECDS file: what each change was, and the config before it.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use veer_filter::config::WireConfig;

/// One past change, for `rollback` and auditing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Change {
    /// Version written by this change.
    pub version: u64,
    /// What did it (`canary set-weight web v2 20`).
    pub what: String,
    /// When (unix seconds).
    pub at: u64,
    /// The config before the change (absent for the first one).
    pub before: Option<WireConfig>,
    /// The filter the config before the change loaded, so that it can be restored whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_wasm: Option<PathBuf>,
    /// A proxy rejected this change and veerctl restored the config before it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rejected: bool,
}

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
