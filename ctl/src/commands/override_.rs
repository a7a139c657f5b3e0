//! `override sign`: a signed forced-variant value for testers, checked against the live config
//! (issue 11.3) so that a tester never holds a value the filter ignores or one that outlives the
//! config's `override.max_ttl_seconds`.

use std::time::Duration;

use veer_filter::config::MAX_OVERRIDE_MAX_TTL_SECONDS;

use crate::cli::OverrideCommand;
use crate::config::edit;
use crate::error::{CliError, Result};
use crate::history::now;
use crate::host::Live;
use crate::settings::Settings;

/// Dispatches `override ...`.
pub fn run(s: &Settings, c: &OverrideCommand) -> Result<()> {
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
    if key.is_empty() {
        return Err(CliError::failed(format!(
            "${key_env} is empty: set it to one of the config's override keys"
        )));
    }
    let request = Request {
        service,
        variant,
        key: key.as_bytes(),
        key_env,
        ttl: *ttl,
    };
    match s.host.live() {
        Ok(Some(live)) => request.check(live)?,
        Ok(None) => request.unchecked("there is none yet", s.printer.quiet)?,
        Err(e) => request.unchecked(&e.to_string(), s.printer.quiet)?,
    }
    println!(
        "{}",
        veer_filter::signing::sign(key.as_bytes(), service, variant, now() + ttl.as_secs())
    );
    Ok(())
}

/// What is to be signed.
struct Request<'a> {
    service: &'a str,
    variant: &'a str,
    key: &'a [u8],
    key_env: &'a str,
    ttl: Duration,
}

impl Request<'_> {
    /// Refuses what the filter running `live` would refuse: an unknown service or variant,
    /// overrides turned off, a key it does not hold, an expiry beyond its maximum.
    fn check(&self, live: Live) -> Result<()> {
        let mut wire = live.wire;
        let svc = edit::service_mut(&mut wire, self.service)?;
        edit::check_variant(svc, self.variant)?;
        let config = veer_filter::Config::from_wire(&wire).map_err(CliError::invalid_edit)?;
        let Some(policy) = config.override_policy else {
            return Err(CliError::failed(
                "overrides are not enabled in the live config (override.enabled): the filter would ignore this value; enable them first",
            ));
        };
        if !policy.keys.iter().any(|k| k == self.key) {
            return Err(CliError::failed(format!(
                "the key in ${} is not one of the live config's override.keys: the filter would refuse the value",
                self.key_env
            )));
        }
        if self.ttl.as_secs() > policy.max_ttl_seconds {
            return Err(CliError::failed(format!(
                "--ttl {} s is longer than the live config allows (override.max_ttl_seconds: {}, {}): the filter would refuse the value; pass a shorter --ttl, or raise override.max_ttl_seconds",
                self.ttl.as_secs(),
                policy.max_ttl_seconds,
                humantime::format_duration(Duration::from_secs(policy.max_ttl_seconds))
            )));
        }
        Ok(())
    }

    /// Without a live config (`why`): refuses what no config accepts, and warns of the rest.
    fn unchecked(&self, why: &str, quiet: bool) -> Result<()> {
        if self.ttl.as_secs() > MAX_OVERRIDE_MAX_TTL_SECONDS {
            return Err(CliError::failed(format!(
                "--ttl {} s is longer than any config allows (a year, the largest override.max_ttl_seconds)",
                self.ttl.as_secs()
            )));
        }
        if !quiet {
            eprintln!(
                "warning: not checked against the live config ({why}): that service {:?} has a variant {:?}, that overrides are enabled, that the key is one of override.keys, and that --ttl is within override.max_ttl_seconds (default 7 days)",
                self.service, self.variant
            );
        }
        Ok(())
    }
}
