//! The one path every config change takes: lock, read, edit, validate, write, verify, record a
//! baseline for `status`. Commands only supply the edit.

use std::path::PathBuf;

use serde::Serialize;
use veer_filter::config::WireConfig;

use crate::admin::Admin;
use crate::cli::Global;
use crate::error::{CliError, Result};
use crate::report::Progress;
use crate::status::Baselines;
use crate::store::{Current, Store};
use crate::verify;

/// How long to wait for another veerctl's change to finish before giving up.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The outcome of a change.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// Version written.
    pub version: u64,
    /// Proxies verified to run it.
    pub verified: Vec<String>,
    /// The new config.
    #[serde(skip)]
    pub wire: WireConfig,
}

/// Opens the store named by `--envoy`.
pub fn store(g: &Global) -> Result<Store> {
    let dir = g.envoy.as_ref().ok_or_else(|| {
        CliError::failed(
            "no --envoy DIR (or VEER_ENVOY_DIR): which Envoy's ECDS directory should veerctl use?",
        )
    })?;
    Store::new(dir)
}

/// What a change starts from.
pub enum Base {
    /// Edit the live config (it must exist).
    Live,
    /// Replace it with a file's config (the first apply may create it).
    Replace {
        /// New config.
        wire: Box<WireConfig>,
        /// Filter to load, if given.
        wasm: Option<PathBuf>,
        /// Refuse unless the live version is this.
        expect_version: Option<u64>,
    },
}

/// Runs one change: `edit` gets the config to modify.
pub fn change(
    g: &Global,
    what: &str,
    base: Base,
    wait: bool,
    edit: impl FnOnce(&mut WireConfig) -> Result<()>,
) -> Result<Applied> {
    let store = store(g)?;
    let admin = Admin::default();
    if wait && g.admins.is_empty() {
        return Err(CliError::failed(
            "no --admin URL to verify the change with; pass each proxy's admin URL (or --no-wait with apply)",
        ));
    }
    // Read each proxy's rejection counter first, so a rejection is told apart from slowness.
    let before = if wait {
        Some(verify::before(&admin, &g.admins)?)
    } else {
        None
    };

    let lock = store.lock(LOCK_WAIT)?;
    let current = store.current()?;
    let (mut wire, wasm, previous) = match (base, &current) {
        (Base::Live, Some(c)) => (c.wire.clone(), c.wasm.clone(), Some(c)),
        (Base::Live, None) => {
            return Err(CliError::failed(format!(
                "{} has no live config yet; start with `veerctl apply -f FILE --wasm PATH`",
                store.dir().display()
            )))
        }
        (
            Base::Replace {
                wire,
                wasm,
                expect_version,
            },
            c,
        ) => {
            if let Some(expected) = expect_version {
                let live = c.as_ref().map_or(0, |c| c.version);
                if live != expected {
                    return Err(CliError::Conflict(format!(
                        "the live version is {live}, not {expected}: someone changed it meanwhile; run `veerctl diff` and retry"
                    )));
                }
            }
            let wasm = wasm.or_else(|| c.as_ref().map(|c| c.wasm.clone())).ok_or_else(|| {
                CliError::failed("this is the first config for this Envoy: pass --wasm PATH (the filter's .wasm on the proxy host)")
            })?;
            (*wire, wasm, c.as_ref())
        }
    };
    edit(&mut wire)?;
    let version = previous.map_or(0, |c: &Current| c.version) + 1;
    wire.version = Some(version);
    veer_filter::Config::from_wire(&wire).map_err(CliError::invalid_edit)?;
    store.write(&lock, &wire, &wasm, previous.map(|c| c.wire.clone()), what)?;
    drop(lock);

    let Some(before) = before else {
        return Ok(Applied {
            version,
            verified: Vec::new(),
            wire,
        });
    };
    let progress = Progress::start(
        &format!(
            "waiting for version {version} on {} proxies",
            g.admins.len()
        ),
        g.quiet,
    );
    let snaps = verify::wait_live(&admin, &before, version, g.envoy_timeout(), &progress)?;
    drop(progress);
    // Counters from here on are what `status` calls "since the last change". Under the lock, and
    // never replacing a baseline taken at a later version by a concurrent change.
    let verified = snaps.iter().map(|s| s.url.clone()).collect();
    let lock = store.lock(LOCK_WAIT)?;
    let mut baselines: Baselines = store.read_state("baseline.json")?.unwrap_or_default();
    for s in snaps {
        if baselines
            .get(&s.url)
            .is_none_or(|old| old.version() <= s.version())
        {
            baselines.insert(s.url.clone(), s);
        }
    }
    store.write_state("baseline.json", &baselines)?;
    drop(lock);
    Ok(Applied {
        version,
        verified,
        wire,
    })
}
