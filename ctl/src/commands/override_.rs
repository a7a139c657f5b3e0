//! `override sign`: a signed forced-variant value for testers.

use crate::cli::{Global, OverrideCommand};
use crate::error::{CliError, Result};
use crate::host::envoy::store::now;

/// Dispatches `override ...`.
pub fn run(_g: &Global, c: &OverrideCommand) -> Result<()> {
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
