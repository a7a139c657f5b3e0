//! Reading every history file veerctl wrote: entries written before changes were recorded as
//! data have only `what`, the command line as text. Their change is read from that text here,
//! once, when the file is loaded; nothing else reads `what`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use veer_filter::config::WireConfig;

use super::{Change, Entry, Split};
use crate::config::edit::percent_to_bp;

/// An entry as stored, in any format veerctl wrote.
#[derive(Deserialize)]
pub(super) struct Stored {
    version: u64,
    what: String,
    #[serde(default)]
    change: Option<Change>,
    at: u64,
    #[serde(default)]
    splits_before: Option<BTreeMap<String, Split>>,
    #[serde(default)]
    before: Option<WireConfig>,
    #[serde(default)]
    before_wasm: Option<PathBuf>,
    #[serde(default)]
    rejected: bool,
}

impl From<Stored> for Entry {
    fn from(s: Stored) -> Entry {
        Entry {
            change: s.change.unwrap_or_else(|| from_text(&s.what)),
            version: s.version,
            what: s.what,
            at: s.at,
            splits_before: s.splits_before,
            before: s.before,
            before_wasm: s.before_wasm,
            before_module: None,
            rejected: s.rejected,
        }
    }
}

/// The change an old entry's `what` names, in the forms veerctl wrote; anything else is
/// [`Change::Other`].
fn from_text(what: &str) -> Change {
    let words: Vec<&str> = what.split(' ').collect();
    let owned = |i: usize| words.get(i).map(|w| (*w).to_owned());
    let parsed = match words.as_slice() {
        ["apply", "-f", ..] => what
            .strip_prefix("apply -f ")
            .map(|f| Change::Apply { file: f.to_owned() }),
        ["canary", "set-weight", _, _, percent] => percent_to_bp(percent).ok().and_then(|bp| {
            Some(Change::CanarySetWeight {
                service: owned(2)?,
                variant: owned(3)?,
                bp,
            })
        }),
        ["canary", "promote", service, variant] => Some(Change::CanaryPromote {
            service: (*service).to_owned(),
            variant: (*variant).to_owned(),
        }),
        ["canary", "abort", service] => Some(Change::CanaryAbort {
            service: (*service).to_owned(),
        }),
        ["experiment", "start", service, id] => Some(Change::ExperimentStart {
            service: (*service).to_owned(),
            id: (*id).to_owned(),
        }),
        ["experiment", "stop", service, id] => Some(Change::ExperimentStop {
            service: (*service).to_owned(),
            id: (*id).to_owned(),
        }),
        ["bluegreen", "switch", service, variant] => Some(Change::BluegreenSwitch {
            service: (*service).to_owned(),
            variant: (*variant).to_owned(),
        }),
        ["bluegreen", "rollback", service, "(to", "before", "version", v] => v
            .strip_suffix(')')
            .and_then(|v| v.parse().ok())
            .map(|switch_version| Change::BluegreenRollback {
                service: (*service).to_owned(),
                switch_version,
            }),
        ["restore", "version", version, "(version", rejected, "was", "rejected)"] => {
            match (version.parse(), rejected.parse()) {
                (Ok(version), Ok(rejected)) => Some(Change::Restore { version, rejected }),
                _ => None,
            }
        }
        _ => None,
    };
    // Only a text that reads back the same is taken as that change.
    parsed
        .filter(|c| c.to_string() == what)
        .unwrap_or_else(|| Change::Other {
            what: what.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every form veerctl wrote reads back as its change, and its `Display` is the same text.
    #[test]
    fn every_form_veerctl_wrote_reads_back_as_its_change() {
        for what in [
            "apply -f /tmp/web config.json",
            "canary set-weight web v2 12.5%",
            "canary promote web v2",
            "canary abort web",
            "experiment start web checkout",
            "experiment stop web checkout",
            "bluegreen switch web v3",
            "bluegreen rollback web (to before version 3)",
            "restore version 4 (version 5 was rejected)",
        ] {
            let change = from_text(what);
            assert!(
                !matches!(change, Change::Other { .. }),
                "{what}: {change:?}"
            );
            assert_eq!(change.to_string(), what);
        }
        assert_eq!(
            from_text("bluegreen switch web v3 now"),
            Change::Other {
                what: "bluegreen switch web v3 now".into()
            }
        );
    }
}
