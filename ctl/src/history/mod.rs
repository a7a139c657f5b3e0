//! The history of changes veerctl made to a standalone Envoy's config, kept in
//! `.veer/history.json` beside the ECDS file: what each change was, as data ([`Change`]), and
//! what the config was before it.
//!
//! Bounded: at most [`MAX_ENTRIES`] entries, and the whole config before a change only for the
//! last [`FULL_CONFIGS`] of them (what restoring the last accepted config after a rejection
//! reads when the proxies were already behind; the usual case restores the config it just
//! replaced, from memory). Every entry keeps the splits the change altered, as they were before
//! it ([`Entry::splits_before`]): what `bluegreen rollback` and the likely cause of `status` read.
//! So the file holds at most `FULL_CONFIGS` configs plus `MAX_ENTRIES` small records, however
//! large the config; it used to hold a whole config per change (7.4 MB after 20 changes in
//! issue 11).
//!
//! Files written before changes were recorded as data (entries with `what` only) still load: each
//! such entry's change is read once from its text by [`legacy`], which knows the forms veerctl
//! wrote; anything else becomes [`Change::Other`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use veer_filter::config::WireConfig;

use crate::config::cohort::CohortEdit;
use crate::config::edit::bp_to_percent;
use crate::host::envoy::ecds::Filter;

mod legacy;
pub mod undo;

/// How many changes the history keeps.
pub const MAX_ENTRIES: usize = 50;
/// How many of the latest entries keep the whole config before them.
pub const FULL_CONFIGS: usize = 2;

/// What a change was, with its parameters. Its `Display` is the command line that made it, as
/// the output and the history's `what` say it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Change {
    /// `apply -f FILE`.
    Apply {
        /// The file, as given.
        file: String,
    },
    /// `canary set-weight SERVICE VARIANT PERCENT`.
    CanarySetWeight {
        /// Service.
        service: String,
        /// Variant.
        variant: String,
        /// Its new share (bp).
        bp: i64,
    },
    /// `canary promote SERVICE VARIANT`.
    CanaryPromote {
        /// Service.
        service: String,
        /// Variant.
        variant: String,
    },
    /// `canary abort SERVICE`.
    CanaryAbort {
        /// Service.
        service: String,
    },
    /// `experiment start SERVICE ID`.
    ExperimentStart {
        /// Service.
        service: String,
        /// Experiment id.
        id: String,
    },
    /// `experiment stop SERVICE ID`.
    ExperimentStop {
        /// Service.
        service: String,
        /// Experiment id.
        id: String,
    },
    /// `bluegreen switch SERVICE VARIANT` on a standalone Envoy.
    BluegreenSwitch {
        /// Service.
        service: String,
        /// The variant that got all traffic.
        variant: String,
    },
    /// `bluegreen rollback SERVICE`: the split before the switch that wrote `switch_version`.
    BluegreenRollback {
        /// Service.
        service: String,
        /// The version the undone switch wrote.
        switch_version: u64,
    },
    /// `cohort add | remove | move | set SERVICE RULE`: the edit, with what undoing it needs
    /// (the rule as it was, where it was).
    Cohort {
        /// Service.
        service: String,
        /// What changed in its rules.
        edit: CohortEdit,
    },
    /// `cohort undo SERVICE`: the inverse of `edit`, the cohort change that wrote `undone`.
    CohortUndo {
        /// Service.
        service: String,
        /// The version the undone change wrote.
        undone: u64,
        /// The undone change's edit (what was applied is its inverse).
        edit: CohortEdit,
    },
    /// The last accepted config written again after a proxy rejected a change.
    Restore {
        /// The version restored.
        version: u64,
        /// The version that was rejected.
        rejected: u64,
    },
    /// A change veerctl cannot name (written by hand or by another tool): its text only.
    Other {
        /// The text.
        what: String,
    },
}

impl Change {
    /// The service the change names, if it names one.
    pub fn service(&self) -> Option<&str> {
        match self {
            Change::CanarySetWeight { service, .. }
            | Change::CanaryPromote { service, .. }
            | Change::CanaryAbort { service }
            | Change::ExperimentStart { service, .. }
            | Change::ExperimentStop { service, .. }
            | Change::BluegreenSwitch { service, .. }
            | Change::BluegreenRollback { service, .. }
            | Change::Cohort { service, .. }
            | Change::CohortUndo { service, .. } => Some(service),
            Change::Apply { .. } | Change::Restore { .. } | Change::Other { .. } => None,
        }
    }

    /// Whether this change edited the live config (so the config it wrote still contains every
    /// earlier change), rather than replacing it with a file's, restoring an older one, or being
    /// something veerctl cannot name.
    pub fn edits_live_config(&self) -> bool {
        !matches!(
            self,
            Change::Apply { .. } | Change::Restore { .. } | Change::Other { .. }
        )
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Apply { file } => write!(f, "apply -f {file}"),
            Change::CanarySetWeight {
                service,
                variant,
                bp,
            } => write!(
                f,
                "canary set-weight {service} {variant} {}",
                bp_to_percent(*bp)
            ),
            Change::CanaryPromote { service, variant } => {
                write!(f, "canary promote {service} {variant}")
            }
            Change::CanaryAbort { service } => write!(f, "canary abort {service}"),
            Change::ExperimentStart { service, id } => write!(f, "experiment start {service} {id}"),
            Change::ExperimentStop { service, id } => write!(f, "experiment stop {service} {id}"),
            Change::BluegreenSwitch { service, variant } => {
                write!(f, "bluegreen switch {service} {variant}")
            }
            Change::BluegreenRollback {
                service,
                switch_version,
            } => write!(
                f,
                "bluegreen rollback {service} (to before version {switch_version})"
            ),
            Change::Cohort { service, edit } => f.write_str(&edit.command(service)),
            Change::CohortUndo {
                service,
                undone,
                edit,
            } => write!(
                f,
                "cohort undo {service} (version {undone}: {})",
                edit.command(service)
            ),
            Change::Restore { version, rejected } => write!(
                f,
                "restore version {version} (version {rejected} was rejected)"
            ),
            Change::Other { what } => f.write_str(what),
        }
    }
}

/// A service's default split: variant -> bp.
pub type Split = BTreeMap<String, i64>;

/// One past change, for rollback, restore and auditing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "legacy::Stored")]
pub struct Entry {
    /// Version written by this change.
    pub version: u64,
    /// What it was, for people reading the file (the change's `Display`).
    pub what: String,
    /// What it was, as data: what rollback reads.
    pub change: Change,
    /// When (unix seconds).
    pub at: u64,
    /// The default split before the change of each service whose split it altered, and of the
    /// service it names (absent for the first change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub splits_before: Option<BTreeMap<String, Split>>,
    /// The whole config before the change: kept for the last [`FULL_CONFIGS`] entries only.
    pub before: Option<WireConfig>,
    /// The filter the config before the change loaded, so that it can be restored whole: its
    /// .wasm (the proxy-wasm build) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_wasm: Option<PathBuf>,
    /// ... or its dynamic module's name (the native build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_module: Option<String>,
    /// A proxy rejected this change and veerctl restored the config before it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rejected: bool,
}

impl Entry {
    /// The entry of `change` writing `version` (config `after`) on top of `before` (with its
    /// filter).
    pub fn new(
        version: u64,
        change: &Change,
        before: Option<(&WireConfig, &Filter)>,
        after: &WireConfig,
    ) -> Entry {
        Entry {
            version,
            what: change.to_string(),
            change: change.clone(),
            at: now(),
            splits_before: before.map(|(w, _)| altered_splits(w, after, change.service())),
            before: before.map(|(w, _)| w.clone()),
            before_wasm: before.and_then(|(_, f)| match f {
                Filter::Wasm(p) => Some(p.clone()),
                Filter::Native(_) => None,
            }),
            before_module: before.and_then(|(_, f)| match f {
                Filter::Native(name) => Some(name.clone()),
                Filter::Wasm(_) => None,
            }),
            rejected: false,
        }
    }

    /// The filter the config before this change loaded, when it was recorded.
    pub fn before_filter(&self) -> Option<Filter> {
        match (&self.before_wasm, &self.before_module) {
            (Some(path), _) => Some(Filter::Wasm(path.clone())),
            (None, Some(name)) => Some(Filter::Native(name.clone())),
            (None, None) => None,
        }
    }

    /// `service`'s default split before this change: from the splits recorded with it (`None`:
    /// the change did not alter it), or (an entry written before they were) from the whole
    /// config.
    pub fn split_before(&self, service: &str) -> Option<&Split> {
        match &self.splits_before {
            Some(s) => s.get(service),
            None => self
                .before
                .as_ref()?
                .services
                .iter()
                .find(|s| s.name == service)
                .map(|s| &s.split),
        }
    }

    /// Whether there was a config before this change at all.
    pub fn had_config_before(&self) -> bool {
        self.splits_before.is_some() || self.before.is_some()
    }
}

/// Each service's default split in `wire`.
fn splits(wire: &WireConfig) -> BTreeMap<String, Split> {
    wire.services
        .iter()
        .map(|s| (s.name.clone(), s.split.clone()))
        .collect()
}

/// The splits in `before` that `after` changes, and the split of `named` (the service the change
/// names, whose split a rollback restores even when the change left it as it was).
fn altered_splits(
    before: &WireConfig,
    after: &WireConfig,
    named: Option<&str>,
) -> BTreeMap<String, Split> {
    let split_after = |name: &str| {
        after
            .services
            .iter()
            .find(|s| s.name == name)
            .map(|s| &s.split)
    };
    before
        .services
        .iter()
        .filter(|s| named == Some(s.name.as_str()) || split_after(&s.name) != Some(&s.split))
        .map(|s| (s.name.clone(), s.split.clone()))
        .collect()
}

/// Adds `entry` to `history` and bounds it: at most [`MAX_ENTRIES`] entries, whole configs only
/// in the last [`FULL_CONFIGS`] (older ones keep their splits).
pub fn push(history: &mut Vec<Entry>, entry: Entry) {
    history.push(entry);
    let excess = history.len().saturating_sub(MAX_ENTRIES);
    history.drain(..excess);
    let keep_from = history.len().saturating_sub(FULL_CONFIGS);
    for e in &mut history[..keep_from] {
        if let Some(before) = e.before.take() {
            e.splits_before.get_or_insert_with(|| splits(&before));
        }
    }
}

/// The last `bluegreen switch` of `service` that was not rejected.
pub fn last_switch<'h>(history: &'h [Entry], service: &str) -> Option<&'h Entry> {
    history.iter().rev().find(|e| {
        !e.rejected
            && matches!(&e.change, Change::BluegreenSwitch { service: s, .. } if s == service)
    })
}

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
