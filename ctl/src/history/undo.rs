//! Which cohort change `cohort undo SERVICE` undoes, read from the recorded changes as data: the
//! latest cohort change of the service that is not undone yet, provided that every change after
//! it is known to leave the service's rules alone. Then the rules are exactly as that change left
//! them, and its inverse takes them back exactly to where it found them.

use super::Change;
use crate::config::cohort::CohortEdit;

/// One recorded change: the version it wrote and what it was (rejected changes left out: their
/// config never served, and the restore after them put the one before back).
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// The version it wrote.
    pub version: u64,
    /// What it was.
    pub change: Change,
}

/// The change to undo: the version it wrote and its edit.
#[derive(Debug, Clone, PartialEq)]
pub struct ToUndo<'h> {
    /// The version the change wrote.
    pub version: u64,
    /// Its edit; the undo applies the inverse.
    pub edit: &'h CohortEdit,
}

/// Why there is nothing to undo.
#[derive(Debug, Clone, PartialEq)]
pub enum NothingToUndo<'h> {
    /// No cohort change of the service that is not undone already is recorded.
    NoneRecorded,
    /// A later change may have changed the rules in a way veerctl cannot know (a whole config
    /// applied, a change it cannot name, a restore of an older config).
    Unknown(&'h Recorded),
}

/// Finds the cohort change of `service` to undo in `recorded` (oldest first).
pub fn find<'h>(recorded: &'h [Recorded], service: &str) -> Result<ToUndo<'h>, NothingToUndo<'h>> {
    let mut undone = Vec::new();
    for r in recorded.iter().rev() {
        match &r.change {
            Change::CohortUndo {
                service: s,
                undone: v,
                ..
            } if s == service => undone.push(*v),
            Change::Cohort { service: s, edit } if s == service => {
                if !undone.contains(&r.version) {
                    return Ok(ToUndo {
                        version: r.version,
                        edit,
                    });
                }
            }
            // A restore of the config just before a rejected change: as if neither happened.
            Change::Restore { version, rejected } if version + 1 == *rejected => {}
            Change::Apply { .. } | Change::Restore { .. } | Change::Other { .. } => {
                return Err(NothingToUndo::Unknown(r))
            }
            // Splits, experiments, other services' rules: this service's rules are untouched.
            Change::CanarySetWeight { .. }
            | Change::CanaryPromote { .. }
            | Change::CanaryAbort { .. }
            | Change::ExperimentStart { .. }
            | Change::ExperimentStop { .. }
            | Change::BluegreenSwitch { .. }
            | Change::BluegreenRollback { .. }
            | Change::Cohort { .. }
            | Change::CohortUndo { .. } => {}
        }
    }
    Err(NothingToUndo::NoneRecorded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::cohort::{new_rule, Target};
    use crate::config::match_expr::parse;

    fn add(service: &str, rule: &str) -> Change {
        Change::Cohort {
            service: service.into(),
            edit: CohortEdit::Add {
                rule: new_rule(
                    rule,
                    parse("everyone").unwrap(),
                    &Target::Variant("v2".into()),
                ),
                at: 0,
            },
        }
    }

    fn recorded(changes: Vec<Change>) -> Vec<Recorded> {
        changes
            .into_iter()
            .enumerate()
            .map(|(i, change)| Recorded {
                version: i as u64 + 1,
                change,
            })
            .collect()
    }

    fn undo_of(version: u64, change: &Change) -> Change {
        let Change::Cohort { service, edit } = change else {
            panic!("not a cohort change")
        };
        Change::CohortUndo {
            service: service.clone(),
            undone: version,
            edit: edit.clone(),
        }
    }

    /// The latest cohort change of the service is undone first; an undo is itself recorded, so
    /// the next undo goes one further back; changes to splits, experiments and other services'
    /// rules are stepped over.
    #[test]
    fn undo_goes_back_one_cohort_change_at_a_time() {
        let (a, b) = (add("web", "a"), add("web", "b"));
        let mut changes = vec![
            a.clone(),
            Change::CanarySetWeight {
                service: "web".into(),
                variant: "v2".into(),
                bp: 2000,
            },
            b.clone(),
            add("shop", "c"),
        ];
        // The version to undo, or whether nothing is recorded.
        let version = |changes: &[Change]| {
            find(&recorded(changes.to_vec()), "web")
                .map(|f| f.version)
                .map_err(|e| e == NothingToUndo::NoneRecorded)
        };
        assert_eq!(version(&changes), Ok(3));
        changes.push(undo_of(3, &b));
        assert_eq!(version(&changes), Ok(1));
        changes.push(undo_of(1, &a));
        assert_eq!(version(&changes), Err(true));
    }

    /// A whole config applied (or a change veerctl cannot name) after the cohort change may
    /// have changed the rules: no undo. A restore of the config before a rejected change is as
    /// if neither happened; a restore of an older one is not.
    #[test]
    fn an_unknown_change_since_blocks_the_undo_and_a_plain_restore_does_not() {
        let a = add("web", "a");
        let apply = Change::Apply {
            file: "web.yaml".into(),
        };
        let all = recorded(vec![a.clone(), apply.clone()]);
        assert!(matches!(find(&all, "web"), Err(NothingToUndo::Unknown(r)) if r.version == 2));
        let restored = recorded(vec![
            a.clone(),
            Change::Restore {
                version: 1,
                rejected: 2,
            },
        ]);
        assert_eq!(find(&restored, "web").unwrap().version, 1);
        let older = recorded(vec![
            a,
            Change::Restore {
                version: 1,
                rejected: 3,
            },
        ]);
        assert!(matches!(
            find(&older, "web"),
            Err(NothingToUndo::Unknown(_))
        ));
        assert_eq!(find(&[], "web"), Err(NothingToUndo::NoneRecorded));
    }
}
