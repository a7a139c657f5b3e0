//! The one path every config change takes: lock, read, edit, validate, write, verify (restoring
//! the last accepted config when a proxy rejects the change), record a baseline for `status`.
//! Commands only supply the edit.

use std::path::PathBuf;

use serde::Serialize;
use veer_filter::config::WireConfig;

use super::{Envoy, BASELINES, FIRST_APPLY};
use crate::config::diff::{self, Difference};
use crate::config::owned_headers;
use crate::error::{CliError, Result};
use crate::history::Change;
use crate::host::envoy::admin::Admin;
use crate::host::envoy::ecds::Filter;
use crate::host::envoy::store::{Current, Store};
use crate::host::envoy::verify::{self, Before, NotLive, Target};
use crate::host::envoy::{native, wasm};
use crate::observe::snapshot::Snapshot;
use crate::observe::status::Baselines;
use crate::output::progress::Progress;

/// How long to wait for another veerctl's change to finish before giving up.
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

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
    /// What the change did, as the history and the output name it.
    pub what: String,
    /// `--dry-run`: what the change would do to the live config; nothing was written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<Vec<Difference>>,
}

/// What a change starts from.
pub enum Base {
    /// Edit the live config (it must exist).
    Live,
    /// Replace it with a file's config (the first apply may create it).
    Replace {
        /// New config.
        wire: Box<WireConfig>,
        /// Filter to load, if given (`--wasm` or `--module`).
        filter: Option<GivenFilter>,
        /// Refuse unless the live version is this.
        expect_version: Option<u64>,
        /// Allow renaming a header the filter owns (see [`owned_headers`]).
        allow_header_rename: bool,
    },
}

/// The filter a command line names, checked only when a change uses it.
#[derive(Debug, Clone)]
pub enum GivenFilter {
    /// `--wasm PATH`: the proxy-wasm build.
    Wasm(PathBuf),
    /// `--module NAME_OR_DIR`: the dynamic module (Veer native).
    Module(PathBuf),
}

impl GivenFilter {
    /// The filter as the ECDS resource names it, once checked.
    pub fn resolve(self) -> Result<Filter> {
        match self {
            GivenFilter::Wasm(path) => Ok(Filter::Wasm(wasm::resolve(&path)?)),
            GivenFilter::Module(given) => Ok(Filter::Native(native::resolve(&given)?)),
        }
    }
}

/// Runs one change: `edit` gets the config to modify.
pub fn change(
    envoy: &Envoy,
    what: &Change,
    base: Base,
    wait: bool,
    edit: impl FnOnce(&mut WireConfig) -> Result<()>,
) -> Result<Applied> {
    change_reading_history(envoy, base, wait, |w, _| {
        edit(w)?;
        Ok(what.clone())
    })
}

/// Runs one change whose edit also reads the store (its history of changes), under the same
/// lock as the write, so that it sees every change made before its own; the edit returns what
/// it did, for the history.
pub fn change_reading_history(
    envoy: &Envoy,
    base: Base,
    wait: bool,
    edit: impl FnOnce(&mut WireConfig, &Store) -> Result<Change>,
) -> Result<Applied> {
    let store = envoy.store()?;
    let admin = Admin::default();
    // A dry run writes nothing, so there is nothing to verify.
    let wait = wait && !envoy.dry_run;
    if wait && envoy.admins.is_empty() {
        return Err(CliError::failed(
            "no --admin URL to verify the change with; pass each proxy's admin URL (or --no-wait with apply)",
        ));
    }
    // Each proxy's state first: its rejection counter tells a rejection from slowness, and its
    // version is one the change must be numbered above.
    let before = read_proxies(&store, envoy, &admin, wait)?;
    // With the proxies, not under the lock: a proxy that stops answering meanwhile must not
    // keep a written change from being verified (and reported).
    if loads_native(&store, &base)? {
        check_releases(&admin, &before)?;
    }

    let allow_header_rename = base.allows_header_rename();
    let lock = store.lock(LOCK_WAIT, envoy.quiet)?;
    let current = store.current()?;
    let previous = current.as_ref();
    let (mut wire, filter) = starting_point(&store, base, previous)?;
    let what = edit(&mut wire, &store)?;
    let version = next_version(previous, store.highest_recorded()?, &before)?;
    wire.version = Some(version);
    let config = veer_filter::Config::from_wire(&wire).map_err(CliError::invalid_edit)?;
    if let Some(live) = previous.and_then(|p| veer_filter::Config::from_wire(&p.wire).ok()) {
        owned_headers::check(&live, &config, allow_header_rename)?;
    }
    if envoy.dry_run {
        let live = previous.map(|p| p.wire.clone()).unwrap_or_default();
        return Ok(Applied {
            version,
            verified: Vec::new(),
            dry_run: Some(diff::compare(&live, &wire)),
            wire,
            what: what.to_string(),
        });
    }
    let target = store.write(&lock, &wire, &filter, previous, &what)?;
    drop(lock);

    let verified = if wait {
        verify_or_restore(&store, envoy, &admin, &before, target, previous)?
    } else {
        Vec::new()
    };
    Ok(Applied {
        version,
        verified,
        wire,
        what: what.to_string(),
        dry_run: None,
    })
}

/// Reads every `--admin` proxy before a change. When the change is to be verified each must
/// answer; the first config for a directory gets a hint, since its Envoy may not be up yet. An
/// unverified change (`--no-wait`) reads those that answer, so that its version is still
/// numbered above theirs, and says which did not.
fn read_proxies(store: &Store, envoy: &Envoy, admin: &Admin, wait: bool) -> Result<Before> {
    if wait {
        return verify::before(admin, &envoy.admins).map_err(|e| match store.current() {
            Ok(None) => CliError::failed(format!(
                "{e}
Is this Envoy started yet? It cannot run Veer before its first config: write it without waiting, `veerctl apply -f FILE --wasm PATH --no-wait`, start Envoy, then check with `veerctl status` (README: \"Starting Envoy by hand\")"
            )),
            _ => e,
        });
    }
    let (before, unreachable) = verify::before_reachable(admin, &envoy.admins);
    for (url, e) in unreachable {
        if !envoy.quiet {
            eprintln!("warning: {url} did not answer, so its version was not taken into account when numbering this change: {e}");
        }
    }
    Ok(before)
}

/// Whether the change will load the dynamic module: `--module`, or no filter flag on a live
/// native config.
fn loads_native(store: &Store, base: &Base) -> Result<bool> {
    Ok(match base {
        Base::Replace {
            filter: Some(given),
            ..
        } => matches!(given, GivenFilter::Module(_)),
        _ => store
            .current()?
            .is_some_and(|c| matches!(c.filter, Filter::Native(_))),
    })
}

/// Refuses a change that loads the dynamic module unless every proxy read before it runs an
/// Envoy release the module's ABI loads in (`/server_info`).
fn check_releases(admin: &Admin, before: &Before) -> Result<()> {
    for url in before.urls() {
        native::check_release(url, admin.release(url)?)?;
    }
    Ok(())
}

/// The version of the next change: above the live file's, above every version veerctl wrote
/// before (the file may have been replaced by one with a lower version), and above every version
/// a proxy reported (one may watch another copy of the directory). So a version never repeats
/// and never goes backwards, and a proxy that runs some other config under a version as high
/// cannot be mistaken for one that runs this change.
fn next_version(previous: Option<&Current>, recorded: u64, before: &Before) -> Result<u64> {
    let highest = previous
        .map_or(0, |c| c.version)
        .max(recorded)
        .max(before.highest_version());
    // The filter reports its version in an Envoy gauge, an i64.
    highest
        .checked_add(1)
        .filter(|v| i64::try_from(*v).is_ok())
        .ok_or_else(|| {
            CliError::failed(format!(
                "version {highest} (the highest the live file, the history or a proxy reports) leaves no version to number this change with; replace the config that carries it"
            ))
        })
}

impl Base {
    fn allows_header_rename(&self) -> bool {
        matches!(
            self,
            Base::Replace {
                allow_header_rename: true,
                ..
            }
        )
    }
}

/// The config a change starts from, and the filter it loads: the live one, or a file's.
fn starting_point(
    store: &Store,
    base: Base,
    live: Option<&Current>,
) -> Result<(WireConfig, Filter)> {
    match (base, live) {
        (Base::Live, Some(c)) => Ok((c.wire.clone(), c.filter.clone())),
        (Base::Live, None) => Err(CliError::failed(format!(
            "{} has no live config yet; start with {FIRST_APPLY}",
            store.dir().display()
        ))),
        (
            Base::Replace {
                wire,
                filter,
                expect_version,
                ..
            },
            c,
        ) => {
            if let Some(expected) = expect_version {
                let live = c.map_or(0, |c| c.version);
                if live != expected {
                    return Err(CliError::conflict(format!(
                        "the live version is {live}, not {expected}: someone changed it meanwhile; run `veerctl diff` and retry"
                    )));
                }
            }
            let filter = match filter {
                Some(given) => given.resolve()?,
                None => c.map(|c| c.filter.clone()).ok_or_else(|| {
                    CliError::failed("this is the first config for this Envoy: pass --wasm PATH (the filter's .wasm on the proxy host) or, for Veer native, --module NAME (the dynamic module Envoy loads)")
                })?,
            };
            Ok((*wire, filter))
        }
    }
}

/// Waits until every proxy runs the config of `target` (or a later one written on top of it);
/// returns their admin URLs. When a proxy rejected it, the last accepted config is restored
/// first and the error says so.
fn verify_or_restore(
    store: &Store,
    envoy: &Envoy,
    admin: &Admin,
    before: &Before,
    target: Target,
    previous: Option<&Current>,
) -> Result<Vec<String>> {
    let version = target.version;
    let progress = Progress::start(
        &format!(
            "waiting for version {version} on {} proxies",
            envoy.admins.len()
        ),
        envoy.quiet,
    );
    let later = || store.successor_of(version).ok().flatten();
    let outcome = verify::wait_live(admin, before, target, &later, envoy.timeout, &progress);
    drop(progress);
    match outcome {
        Ok(snaps) => {
            let verified = snaps.iter().map(|s| s.url.clone()).collect();
            record_baselines(store, snaps)?;
            Ok(verified)
        }
        Err(not_live) if not_live.rejected() => {
            let restored = restore(store, envoy, admin, &not_live, previous).unwrap_or_else(|e| {
                format!("the rejected config is still the live file: restoring the last accepted one failed: {e}")
            });
            Err(CliError::not_verified(format!("{not_live}\n{restored}")))
        }
        Err(not_live) => Err(not_live.into()),
    }
}

/// Counters from here on are what `status` calls "since the last change". Under the baselines'
/// own lock (held for one small read and write, so waiting for it is not waiting for another
/// change), never replacing a baseline taken at a later version by a concurrent change.
fn record_baselines(store: &Store, snaps: Vec<Snapshot>) -> Result<()> {
    let lock = store.lock_baselines(LOCK_WAIT)?;
    let mut baselines: Baselines = store.read_state(BASELINES)?.unwrap_or_default();
    for s in snaps {
        if baselines
            .get(&s.url)
            .is_none_or(|old| old.version() <= s.version())
        {
            baselines.insert(s.url.clone(), s);
        }
    }
    store.write_state(BASELINES, &baselines)?;
    drop(lock);
    Ok(())
}

/// After a proxy rejected a change: makes the last config the proxies accepted the live file
/// again, as a new version, so that later edits do not build on the rejected config and a
/// restarting Envoy does not load it. Returns what happened, for the error report.
fn restore(
    store: &Store,
    envoy: &Envoy,
    admin: &Admin,
    failed: &NotLive,
    previous: Option<&Current>,
) -> Result<String> {
    let Some(running) = failed.still_running() else {
        return Ok("not restored: the rejecting proxies run different versions; apply a config they accept with `veerctl apply -f FILE`".into());
    };
    let before = verify::before(admin, &envoy.admins)?;
    let lock = store.lock(LOCK_WAIT, envoy.quiet)?;
    let live = store.current()?;
    let Some(live) = live.filter(|l| l.version == failed.version) else {
        return Ok(format!("not restored: another change was written on top of version {} meanwhile; check what runs with `veerctl status`", failed.version));
    };
    let accepted = match previous.filter(|p| p.version == running) {
        Some(p) => Some(p.clone()),
        None => store.config_at(running)?,
    };
    let Some(mut accepted) = accepted else {
        return Ok(format!("not restored: veerctl has no record of version {running}'s config; apply a config the proxies accept with `veerctl apply -f FILE`"));
    };
    let version = next_version(Some(&live), store.highest_recorded()?, &before)?;
    accepted.wire.version = Some(version);
    store.mark_rejected(&lock, live.version)?;
    let what = Change::Restore {
        version: running,
        rejected: live.version,
    };
    let target = store.write(&lock, &accepted.wire, &accepted.filter, Some(&live), &what)?;
    drop(lock);

    let progress = Progress::start(
        &format!("restoring version {running} as version {version}"),
        envoy.quiet,
    );
    let later = || store.successor_of(version).ok().flatten();
    let outcome = verify::wait_live(admin, &before, target, &later, envoy.timeout, &progress);
    drop(progress);
    Ok(match outcome {
        Ok(snaps) => {
            let restored = format!("restored the last accepted config (version {running}, with its filter) as version {version}, live on every proxy; fix the change and apply it again");
            match record_baselines(store, snaps) {
                Ok(()) => restored,
                Err(e) => format!("{restored} (its counters' baseline was not recorded: {e}; `status` counts since an earlier change)"),
            }
        }
        Err(e) => format!(
            "restored the last accepted config (version {running}) as version {version}, but that is not verified either: {e}"
        ),
    })
}
