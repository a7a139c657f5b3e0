//! `bluegreen switch | rollback` at the proxy: one atomic, verified config change each.

use super::print_applied;
use crate::cli::{BluegreenCommand, Global};
use crate::config::edit;
use crate::error::{CliError, Result};
use crate::host::envoy::change::{self, Base};

/// Dispatches `bluegreen ...`: the proxy's routing with --envoy, Kubernetes otherwise.
pub fn run(g: &Global, c: &BluegreenCommand) -> Result<()> {
    if g.envoy.is_none() {
        return super::kubernetes::bluegreen(g, c);
    }
    match c {
        BluegreenCommand::Switch {
            name: service, to, ..
        } => {
            let variant = to
                .as_deref()
                .ok_or_else(|| CliError::failed("with --envoy, switch takes SERVICE VARIANT"))?;
            let what = format!("bluegreen switch {service} {variant}");
            let applied = change::change(g, &what, Base::Live, true, |w| {
                edit::route_all_to(w, service, variant)
            })?;
            print_applied(g, &applied, Some(service), &what)
        }
        BluegreenCommand::Deploy { .. }
        | BluegreenCommand::Status { .. }
        | BluegreenCommand::ScaleDown { .. } => Err(CliError::failed(
            "this is a Kubernetes command (Deployments and a Service); run it without --envoy",
        )),
        BluegreenCommand::Rollback { name: service, .. } => {
            // The switch to undo is looked up under the lock: a switch made meanwhile by another
            // veerctl is the one rolled back, not an older one.
            let applied = change::change_reading_history(g, Base::Live, true, |w, store| {
                let prefix = format!("bluegreen switch {service} ");
                let switch = store
                    .history()?
                    .into_iter()
                    .rev()
                    .find(|c| c.what.starts_with(&prefix) && !c.rejected)
                    .ok_or_else(|| {
                        CliError::failed(format!(
                            "no `bluegreen switch {service}` in the history to roll back"
                        ))
                    })?;
                let before = switch.before.ok_or_else(|| {
                    CliError::failed(
                        "the switch was the first config; there is nothing to roll back to",
                    )
                })?;
                edit::restore_split(w, service, &before)?;
                Ok(format!(
                    "bluegreen rollback {service} (to before version {})",
                    switch.version
                ))
            })?;
            print_applied(g, &applied, Some(service), &applied.what)
        }
    }
}
