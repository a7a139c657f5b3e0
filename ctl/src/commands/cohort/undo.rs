//! `cohort undo SERVICE`: the inverse of the service's last cohort change not undone yet, found
//! in the changes the host recorded as data, and made like any other change (checked against the
//! live rules, verified on every proxy, recorded, so that an undo of an undo goes further back).

use super::{change, live, Made};
use crate::config::request::Sample;
use crate::error::{CliError, Result};
use crate::history::undo::{self, NothingToUndo};
use crate::settings::Settings;

/// Undoes the last cohort change of `service`.
pub fn run(s: &Settings, service: &str, samples: &[Sample]) -> Result<()> {
    let (recorded, kept) = s.host.recorded()?;
    let found = undo::find(&recorded, service).map_err(|why| match why {
        NothingToUndo::NoneRecorded => CliError::failed(format!(
            "no cohort change of service {service:?} is recorded that is not undone already \
             ({kept})"
        )),
        NothingToUndo::Unknown(r) => CliError::failed(format!(
            "version {} ({}) came after the last cohort change of {service:?} and may have \
             changed its rules in a way veerctl cannot undo exactly; change them with `veerctl \
             cohort add | remove | move | set` instead",
            r.version, r.change
        )),
    })?;
    let made = Made::Undo {
        version: found.version,
        edit: found.edit.clone(),
    };
    change(s, &live(s)?, service, made, samples)
}
