//! `override sign`: a signed forced-variant value for testers.

use crate::cli::OverrideCommand;
use crate::error::{CliError, Result};
use crate::history::now;
use crate::settings::Settings;

/// Dispatches `override ...`.
pub fn run(_s: &Settings, c: &OverrideCommand) -> Result<()> {
    let OverrideCommand::Sign {
        service,
        variant,
        key_env,
        ttl,
    } = c;
    let key = std::env::var(key_env).map_err(|_| {
        CliError::failed(format!(
            "set ${key_env} to one of the config's override keys"
        ))
    })?;
    let expires = now() + ttl.as_secs();
    println!(
        "{}",
        veer_filter::signing::sign(key.as_bytes(), service, variant, expires)
    );
    Ok(())
}
