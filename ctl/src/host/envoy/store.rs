//! The live config of a standalone Envoy: the ECDS file it watches, plus veerctl's own state
//! (a lock, the history of changes, counter baselines) in a `.veer/` subdirectory.
//!
//! Envoy reloads when a file is renamed into the watched directory; state lives one level down
//! so that veerctl's bookkeeping never triggers a reload. Every change is a read-modify-write
//! under an exclusive lock on `.veer/lock`, so two veerctl processes changing the same config
//! never lose either change.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use veer_filter::config::WireConfig;

use crate::error::{CliError, Result};
use crate::history::{self, Change, Entry};
use crate::host::envoy::ecds::{self, Filter};
use crate::host::envoy::verify::Target;
use crate::host::envoy::wasm;
use crate::output::progress::Progress;

/// The ECDS directory of one Envoy (or of several that share it).
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// What is live now, read from the ECDS file.
#[derive(Debug, Clone)]
pub struct Current {
    /// The routing config.
    pub wire: WireConfig,
    /// Its version.
    pub version: u64,
    /// The filter Envoy loads.
    pub filter: Filter,
    /// The digest of its routing config's text, as the filter reports it.
    pub digest: u64,
}

impl Current {
    /// The config as a proxy that runs it reports it.
    pub fn target(&self) -> Target {
        Target {
            version: self.version,
            digest: self.digest,
        }
    }
}

/// `wire` as JSON, as the filter will read it: veerctl validated `wire` through serde, the filter
/// reads the text with its own decoder, and both must see the same config or nothing is written.
fn encode_checked(wire: &WireConfig) -> Result<String> {
    let config_json = serde_json::to_string(wire)
        .map_err(|e| CliError::failed(format!("failed to encode config: {e}")))?;
    match veer_filter::config::json::decode(&config_json) {
        Ok(read) if read == *wire => Ok(config_json),
        Ok(_) => Err(CliError::failed(
            "internal error: the filter would read this config differently from veerctl; nothing was written (please report it)",
        )),
        Err(problems) => Err(CliError::failed(format!(
            "internal error: the filter would refuse this config ({problems}); nothing was written (please report it)"
        ))),
    }
}

/// Held while a change is in progress; releases the lock when dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Store {
    /// The store for ECDS directory `dir`.
    pub fn new(dir: &Path) -> Result<Store> {
        if !dir.is_dir() {
            return Err(CliError::failed(format!(
                "{} is not a directory: pass the directory Envoy watches (path_config_source.watched_directory)",
                dir.display()
            )));
        }
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    /// The ECDS directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn state_dir(&self) -> Result<PathBuf> {
        let d = self.dir.join(".veer");
        fs::create_dir_all(&d).map_err(|e| CliError::io(format!("create {}", d.display()), e))?;
        Ok(d)
    }

    /// Takes the exclusive change lock, waiting up to `timeout` for another veerctl to finish
    /// (and saying so on stderr unless `quiet`: a wait with no output looks like a hang). Only a
    /// veerctl that finds the lock held says it waits.
    pub fn lock(&self, timeout: Duration, quiet: bool) -> Result<Lock> {
        self.wait_lock("lock", timeout, |path| {
            Progress::waiting(
                &format!(
                    "waiting for another veerctl to finish its change (it holds {})",
                    path.display()
                ),
                quiet,
            )
        })
    }

    /// Takes the lock of the counter baselines (`status`'s "since the last change"), which a
    /// verified change holds for one small read and write: a wait for it is silent, it is no
    /// other change.
    pub fn lock_baselines(&self, timeout: Duration) -> Result<Lock> {
        self.wait_lock("baseline.lock", timeout, |_| Progress::hidden())
    }

    /// Takes the exclusive lock on `.veer/<name>`, waiting up to `timeout`; `waiting` makes what
    /// shows while it waits, once, only if it has to.
    fn wait_lock(
        &self,
        name: &str,
        timeout: Duration,
        waiting: impl FnOnce(&Path) -> Progress,
    ) -> Result<Lock> {
        let (file, path) = self.lock_file(name)?;
        let deadline = Instant::now() + timeout;
        let mut waiting = Some(waiting);
        let mut _progress = None;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Lock { _file: file }),
                Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    if let Some(show) = waiting.take() {
                        _progress = Some(show(&path));
                    }
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(CliError::conflict(format!(
                        "another veerctl has held {} for over {timeout:?}; retry when it finishes",
                        path.display()
                    )))
                }
                Err(fs::TryLockError::Error(e)) => {
                    return Err(CliError::io(format!("lock {}", path.display()), e))
                }
            }
        }
    }

    /// Takes, without waiting, the lock a long-running run `name` (`canary-web`) holds while it
    /// runs: if another process holds it, that run is still going. The OS releases it when the
    /// process ends, however it ends, so a killed run leaves no stale lock behind.
    pub fn run_lock(&self, name: &str) -> Result<Lock> {
        let (file, path) = self.lock_file(&format!("run-{name}.lock"))?;
        match file.try_lock() {
            Ok(()) => Ok(Lock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(CliError::conflict(format!(
                "another veerctl is running this {name} (it holds {}); let it finish, or stop it first",
                path.display()
            ))),
            Err(fs::TryLockError::Error(e)) => {
                Err(CliError::io(format!("lock {}", path.display()), e))
            }
        }
    }

    /// The lock file `name` in the state directory (created if missing), and its path.
    fn lock_file(&self, name: &str) -> Result<(File, PathBuf)> {
        let path = self.state_dir()?.join(name);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| CliError::io(format!("open {}", path.display()), e))?;
        Ok((file, path))
    }

    /// The live config, or `None` before the first apply.
    pub fn current(&self) -> Result<Option<Current>> {
        let path = ecds::path_in(&self.dir);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CliError::io(format!("read {}", path.display()), e)),
        };
        let parsed =
            ecds::parse(&text).map_err(|e| CliError::failed(format!("{}: {e}", path.display())))?;
        let wire = veer_filter::config::wire_from_json(&parsed.config_json).map_err(|p| {
            CliError::failed(format!(
                "{}: the live config does not parse: {p}",
                path.display()
            ))
        })?;
        Ok(Some(Current {
            wire,
            version: parsed.version,
            filter: parsed.filter,
            digest: veer_filter::config::digest::of(parsed.config_json.as_bytes()),
        }))
    }

    /// Writes `wire` as the new live config (atomic rename), recording the change in the
    /// (bounded) history first. Call with the lock held. Nothing is written unless the filter
    /// `wasm` is a WebAssembly module and the filter reads the config as veerctl does; when the
    /// config cannot be written (a full disk, a read-only directory) the history is put back, so
    /// an error leaves the store as it was. Returns the config as the proxies will report it.
    pub fn write(
        &self,
        _lock: &Lock,
        wire: &WireConfig,
        filter: &Filter,
        before: Option<&Current>,
        change: &Change,
    ) -> Result<Target> {
        if let Filter::Wasm(path) = filter {
            wasm::check(path)?;
        }
        let version = wire.version.unwrap_or(0);
        let config_json = encode_checked(wire)?;
        let resource = ecds::Resource {
            config_json: &config_json,
            filter,
            version,
        }
        .render();
        let history = self.history()?;
        let mut entries = history.clone();
        history::push(
            &mut entries,
            Entry::new(version, change, before.map(|c| (&c.wire, &c.filter)), wire),
        );
        self.write_history(&entries).map_err(|e| {
            CliError::failed(format!(
                "{e}; nothing was written, the live config is unchanged (version {})",
                before.map_or(0, |c| c.version)
            ))
        })?;
        if let Err(e) = ecds::write_atomically(&self.dir, &resource) {
            let path = ecds::path_in(&self.dir);
            let undone = match self.write_history(&history) {
                Ok(()) => String::new(),
                Err(undo) => format!(
                    " (and the history still lists version {version}, which was not written: {undo})"
                ),
            };
            return Err(CliError::failed(format!(
                "failed to write {}: {e}; nothing was written, the live config is unchanged{undone}",
                path.display()
            ))
            .with_source(e));
        }
        Ok(Target {
            version,
            digest: veer_filter::config::digest::of(config_json.as_bytes()),
        })
    }

    /// A later config written on top of version `version`, if the live file is one: every
    /// change the history lists after `version`, up to the live one, edited the config before
    /// it (none replaced it with a file's, restored an older one or was rejected), so the live
    /// config still contains that version's change.
    pub fn successor_of(&self, version: u64) -> Result<Option<Target>> {
        let Some(live) = self.current()?.filter(|c| c.version > version) else {
            return Ok(None);
        };
        let history = self.history()?;
        let Some(start) = history.iter().rposition(|e| e.version == version) else {
            return Ok(None);
        };
        let after = &history[start + 1..];
        let Some(end) = after.iter().position(|e| e.version == live.version) else {
            return Ok(None);
        };
        let built_on = after[..=end]
            .iter()
            .all(|e| !e.rejected && e.change.edits_live_config());
        Ok(built_on.then(|| live.target()))
    }

    /// The config that was live at `version` (with its filter), from the history: what the
    /// change that wrote the next version started from.
    pub fn config_at(&self, version: u64) -> Result<Option<Current>> {
        let Some((wire, filter)) = self.history()?.into_iter().rev().find_map(|c| {
            let filter = c.before_filter()?;
            let wire = c.before.filter(|_| c.version > version)?;
            (wire.version == Some(version)).then_some((wire, filter))
        }) else {
            return Ok(None);
        };
        let digest = veer_filter::config::digest::of(encode_checked(&wire)?.as_bytes());
        Ok(Some(Current {
            wire,
            version,
            filter,
            digest,
        }))
    }

    /// Marks the change that wrote `version` as rejected by a proxy. Call with the lock held.
    pub fn mark_rejected(&self, _lock: &Lock, version: u64) -> Result<()> {
        let mut history = self.history()?;
        for c in history.iter_mut().filter(|c| c.version == version) {
            c.rejected = true;
        }
        self.write_history(&history)
    }

    /// The highest version the history records: versions veerctl writes never repeat, even when
    /// the live file was replaced by one with a lower version.
    pub fn highest_recorded(&self) -> Result<u64> {
        Ok(self.history()?.iter().map(|e| e.version).max().unwrap_or(0))
    }

    /// Past changes, oldest first.
    pub fn history(&self) -> Result<Vec<Entry>> {
        self.read_state("history.json")
            .map(Option::unwrap_or_default)
    }

    /// Reads a JSON state file.
    pub fn read_state<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Result<Option<T>> {
        let path = self.state_dir()?.join(name);
        match fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).map(Some).map_err(|e| {
                CliError::failed(format!(
                    "{} is corrupt ({e}); delete it to start afresh",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CliError::io(format!("read {}", path.display()), e)),
        }
    }

    /// Writes a JSON state file atomically.
    pub fn write_state<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| CliError::failed(format!("failed to encode state: {e}")))?;
        self.write_text(name, &text)
    }

    /// Writes the history, compact: it holds whole configs, which indentation would double.
    fn write_history(&self, entries: &[Entry]) -> Result<()> {
        let text = serde_json::to_string(entries)
            .map_err(|e| CliError::failed(format!("failed to encode the history: {e}")))?;
        self.write_text("history.json", &text)
    }

    /// Writes a state file atomically (temp file, rename).
    fn write_text(&self, name: &str, text: &str) -> Result<()> {
        let dir = self.state_dir()?;
        let path = dir.join(name);
        let failed = |e| CliError::io(format!("write {}", path.display()), e);
        // A temp file that fails is removed when dropped: nothing is left half-written.
        let mut tmp = tempfile::NamedTempFile::new_in(&dir).map_err(failed)?;
        std::io::Write::write_all(&mut tmp, text.as_bytes()).map_err(failed)?;
        tmp.persist(&path).map_err(|e| failed(e.error))?;
        Ok(())
    }
}
