//! `schema`: the JSON Schema of the routing config, derived from the same wire declarations the
//! filter and veerctl parse with (`veer_filter::config::json_schema`), so it accepts what they
//! accept; `veerctl validate` still has the last word (weights summing to 10000, known variants).

use crate::error::{CliError, Result};

/// Writes the schema as pretty JSON to `out`; a reader that stops early is not an error.
pub fn run(out: &mut dyn std::io::Write) -> Result<()> {
    let schema = veer_filter::config::json_schema();
    match writeln!(out, "{schema:#}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::io("write the schema", e))
        }
        _ => Ok(()),
    }
}
