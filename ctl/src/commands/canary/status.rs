//! `canary status SERVICE`: the run recorded with the config (the Envoy store, the WasmPlugin's
//! annotation on Kubernetes), as recorded. Whether a running one's process still runs is not
//! recorded, and is said to be unknown.

use crate::error::{CliError, Result};
use crate::output::canary::run_status;
use crate::progressive::state::{record_name, RunState};
use crate::settings::Settings;

/// `canary status`.
pub fn run(s: &Settings, service: &str) -> Result<()> {
    let run: RunState = s.host.load_state(&record_name(service))?.ok_or_else(|| {
        CliError::failed(format!(
            "no `canary run` of {service} is recorded here; start one with `veerctl canary run {service} VARIANT`"
        ))
    })?;
    s.printer
        .print(&run, || print!("{}", run_status(&run, s.printer.colour)))
}
