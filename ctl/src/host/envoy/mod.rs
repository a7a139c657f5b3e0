//! A standalone Envoy: the ECDS file it watches (`ecds`) with veerctl's state beside it
//! (`store`), its admin API (`admin`), proof that a change is live (`verify`) and the one path
//! every change takes (`change`).

pub mod admin;
pub mod bootstrap;
pub mod change;
pub mod ecds;
pub mod native;
pub mod server_info;
pub mod store;
pub mod verify;
pub mod wasm;

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{CliError, Result};
use crate::history::{Change, Entry};
use crate::observe::status::SINCE_LAST_CHANGE;
use crate::observe::window::{Baselines, Counted, Readings};
use admin::Admin;
use store::{Current, Store};

/// How to write a first config, for either build: hints name both, since the proxy's build is not
/// known before it runs a config.
pub const FIRST_APPLY: &str = "`veerctl apply -f FILE --wasm PATH` (Veer native: `--module NAME`)";

/// The state file of the counter baselines taken when a change was verified.
pub const BASELINES: &str = "baseline.json";

/// One standalone Envoy (or several that watch the same directory), as the global options name
/// it: where its ECDS file is, which admin APIs verify and observe it, how long a change may take
/// to go live, and whether to write at all.
#[derive(Debug, Clone)]
pub struct Envoy {
    /// The directory Envoy watches (`--envoy`).
    pub dir: PathBuf,
    /// Each proxy's admin URL (`--admin`).
    pub admins: Vec<String>,
    /// How long a change may take to go live on every proxy.
    pub timeout: Duration,
    /// `--dry-run`: show what a change would do, write nothing.
    pub dry_run: bool,
    /// `--quiet`: no progress on stderr.
    pub quiet: bool,
}

impl Envoy {
    /// The ECDS directory and veerctl's state in it.
    pub fn store(&self) -> Result<Store> {
        Store::new(&self.dir)
    }

    /// The live config, or `None` before the first apply.
    pub fn current(&self) -> Result<Option<Current>> {
        self.store()?.current()
    }

    /// The live config; none yet is an error naming the directory.
    pub fn current_or_error(&self) -> Result<Current> {
        let store = self.store()?;
        store.current()?.ok_or_else(|| {
            CliError::failed(format!("{} has no live config yet", store.dir().display()))
        })
    }

    /// Applies `edit` to the live config, writes it and verifies every `--admin` proxy runs it
    /// (with --dry-run: what it would change, nothing written).
    pub fn edit(
        &self,
        what: &Change,
        edit: impl FnOnce(&mut veer_filter::config::WireConfig) -> Result<()>,
    ) -> Result<change::Applied> {
        change::change(self, what, change::Base::Live, true, edit)
    }

    /// Past changes, oldest first.
    pub fn history(&self) -> Result<Vec<Entry>> {
        self.store()?.history()
    }

    /// Each `--admin` proxy read once: its snapshot, or why it could not be read.
    pub fn read_proxies(&self) -> Readings {
        let admin = Admin::default();
        self.admins
            .iter()
            .map(|url| (url.clone(), admin.snapshot(url).map_err(|e| e.to_string())))
            .collect()
    }

    /// Each `--admin` proxy read once its filter has published what it counted, waiting up to
    /// `within` for it ([`Admin::settled_snapshot`]).
    pub fn read_proxies_settled(&self, within: Duration) -> Readings {
        let admin = Admin::default();
        self.admins
            .iter()
            .map(|url| {
                let snapshot = admin
                    .settled_snapshot(url, within)
                    .map_err(|e| e.to_string());
                (url.clone(), snapshot)
            })
            .collect()
    }

    /// What every proxy counted since the last verified change: a reading now, once the filters
    /// have published their counts (waiting up to [`admin::SETTLE`]), counted from the baselines
    /// recorded when that change was verified.
    pub fn since_last_change(&self) -> Result<Counted> {
        self.since_last_change_within(admin::SETTLE)
    }

    /// [`Envoy::since_last_change`], waiting up to `within` for the filters' counts.
    pub fn since_last_change_within(&self, within: Duration) -> Result<Counted> {
        let baselines: Baselines = self.store()?.read_state(BASELINES)?.unwrap_or_default();
        Ok(Counted {
            readings: self.read_proxies_settled(within),
            baselines,
            label: SINCE_LAST_CHANGE.to_owned(),
        })
    }
}
