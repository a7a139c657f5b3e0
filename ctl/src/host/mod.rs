//! Where veerctl acts, chosen once from the global options: a standalone Envoy (`envoy`: the
//! ECDS file it watches and its admin APIs) or Kubernetes (`kubernetes`: Veer's WasmPlugin and
//! the sidecars it runs in). [`Host`] offers what commands need on either: the live config, an
//! edit verified on every proxy, the proxies' counters over a window, and what each proxy runs.
//! Commands call these and print; where a product differs per host (blue/green), they match on
//! the [`Host`] they were given.

pub mod envoy;
pub mod kubernetes;

use serde::{de::DeserializeOwned, Serialize};
use veer_filter::config::WireConfig;
use veer_k8s::plugin_config::PluginConfigUpdate;

use crate::error::{CliError, Result};
use crate::history::undo::Recorded;
use crate::history::{Change, Entry, MAX_ENTRIES};
use crate::observe::window::{Counted, Readings, Window};
use envoy::change::Applied;
use envoy::Envoy;
use kubernetes::Kubernetes;

/// The host veerctl drives.
#[derive(Debug, Clone)]
pub enum Host {
    /// A standalone Envoy (`--envoy DIR`, `--admin URL`).
    Envoy(Envoy),
    /// Kubernetes with Istio (no `--envoy`).
    Kubernetes(Kubernetes),
}

/// The live routing config and the version its proxies should run.
#[derive(Debug, Clone)]
pub struct Live {
    /// The config.
    pub wire: WireConfig,
    /// Its version: the ECDS file's on Envoy, the config's own on Kubernetes.
    pub version: u64,
    /// The digest of its text as the filter reports it (on Envoy; `None` on Kubernetes, where
    /// Istio re-encodes the config before the filter sees it).
    pub digest: Option<u64>,
}

/// What an edit did, as each host reports it.
#[derive(Debug, Clone)]
pub enum Edited {
    /// The ECDS file was written (or, in a dry run, would be) and verified on every proxy.
    Envoy(Box<Applied>),
    /// The WasmPlugin was written (or planned) and verified on its sidecars.
    Kubernetes(Box<PluginConfigUpdate>),
}

/// The proxies an observation reads.
#[derive(Debug, Clone)]
pub enum Proxies<'h> {
    /// Each `--admin` proxy of a standalone Envoy.
    Admins(&'h Envoy),
    /// The running sidecars of these label selectors.
    Sidecars {
        /// The cluster they run in.
        host: &'h Kubernetes,
        /// Their label selectors (any of them).
        selectors: Vec<String>,
    },
}

/// Where a watch counts from: see [`Proxies::start_watch`].
#[derive(Debug)]
pub enum Watch {
    /// From the baselines recorded when the last change was verified (Envoy).
    SinceLastChange,
    /// From a reading taken when the watch started (Kubernetes).
    Window(Window),
}

impl Host {
    /// The standalone Envoy, for the commands that only exist there (`apply`, `get`, `diff`,
    /// `explain` of the live config); on Kubernetes, an error that says what to pass.
    pub fn envoy(&self) -> Result<&Envoy> {
        match self {
            Host::Envoy(e) => Ok(e),
            Host::Kubernetes(_) => Err(CliError::failed(
                "no --envoy DIR (or VEER_ENVOY_DIR): which Envoy's ECDS directory should veerctl use?",
            )),
        }
    }

    /// The live config; `None` before the first apply (Envoy).
    pub fn live(&self) -> Result<Option<Live>> {
        Ok(match self {
            Host::Envoy(e) => e.current()?.map(|c| Live {
                wire: c.wire,
                version: c.version,
                digest: Some(c.digest),
            }),
            Host::Kubernetes(k) => Some(Live::of(k.config()?)),
        })
    }

    /// Applies `edit` to the live config, then verifies every proxy runs it (exit code 4
    /// otherwise); with --dry-run, shows what it would change and writes nothing. `what` is the
    /// change as the history and the output name it. `edit` may run more than once: a Kubernetes
    /// conflict re-applies it on a fresh read.
    pub fn edit(
        &self,
        what: &Change,
        edit: impl Fn(&mut WireConfig) -> Result<()>,
    ) -> Result<Edited> {
        match self {
            Host::Envoy(e) => e.edit(what, edit).map(|a| Edited::Envoy(Box::new(a))),
            Host::Kubernetes(k) => k.edit(what, edit).map(|u| Edited::Kubernetes(Box::new(u))),
        }
    }

    /// The live config and the proxies to observe: each `--admin` proxy, or the sidecars of
    /// `selector` (default: the pods the WasmPlugin runs in). `None` before the first apply
    /// (Envoy).
    pub fn observe(&self, selector: Option<&str>) -> Result<(Option<Live>, Proxies<'_>)> {
        match self {
            Host::Envoy(e) => Ok((self.live()?, Proxies::Admins(e))),
            Host::Kubernetes(k) => {
                let (wire, selectors) = k.config_and_selectors(selector)?;
                Ok((
                    Some(Live::of(wire)),
                    Proxies::Sidecars { host: k, selectors },
                ))
            }
        }
    }

    /// What every proxy counted since the last verified change; `None` on Kubernetes, which
    /// records no baselines (its counters are read over a window: [`Proxies::open_window`]).
    pub fn since_last_change(&self) -> Result<Option<Counted>> {
        match self {
            Host::Envoy(e) => e.since_last_change().map(Some),
            Host::Kubernetes(_) => Ok(None),
        }
    }

    /// The changes veerctl recorded, oldest first (Kubernetes keeps none).
    pub fn history(&self) -> Result<Vec<Entry>> {
        match self {
            Host::Envoy(e) => e.history(),
            Host::Kubernetes(_) => Ok(Vec::new()),
        }
    }

    /// The changes recorded as data, oldest first, for an undo, and how far back they go (for
    /// the message when none is left to undo). A standalone Envoy's history keeps the last
    /// [`MAX_ENTRIES`] (rejected ones left out); on Kubernetes the WasmPlugin records only its
    /// last change, followed by an unknown one when the config was written since without a record.
    pub fn recorded(&self) -> Result<(Vec<Recorded>, String)> {
        match self {
            Host::Envoy(e) => {
                let recorded = e
                    .history()?
                    .into_iter()
                    .filter(|h| !h.rejected)
                    .map(|h| Recorded {
                        version: h.version,
                        change: h.change,
                    })
                    .collect();
                Ok((
                    recorded,
                    format!("the history keeps the last {MAX_ENTRIES} changes"),
                ))
            }
            Host::Kubernetes(k) => {
                let (last, version) = k.last_change()?;
                let mut recorded: Vec<Recorded> = last.into_iter().collect();
                if recorded.last().is_some_and(|r| r.version != version) {
                    recorded.push(Recorded {
                        version,
                        change: Change::Other {
                            what: "a change that recorded nothing (mesh install, kubectl, ...)"
                                .into(),
                        },
                    });
                }
                Ok((
                    recorded,
                    format!("on Kubernetes only the last change is recorded (WasmPlugin {}'s annotation veer.dev/last-change)", k.plugin),
                ))
            }
        }
    }

    /// Records a small piece of state with the config under `name` (e.g. how far a progressive
    /// rollout got), for a later command to read with [`Host::load_state`]: a file in the
    /// Envoy store, an annotation of the WasmPlugin on Kubernetes.
    pub fn save_state<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        match self {
            Host::Envoy(e) => {
                let store = e.store()?;
                let _lock = store.lock(envoy::change::LOCK_WAIT, e.quiet)?;
                store.write_state(&state_file(name), value)
            }
            Host::Kubernetes(k) => {
                let json = serde_json::to_string(value)
                    .map_err(|e| CliError::failed(format!("failed to encode state: {e}")))?;
                k.save_state(name, &json)
            }
        }
    }

    /// The state recorded under `name` by [`Host::save_state`], if any.
    pub fn load_state<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        match self {
            Host::Envoy(e) => e.store()?.read_state(&state_file(name)),
            Host::Kubernetes(k) => k
                .load_state(name)?
                .map(|json| annotated_state(k, name, &json))
                .transpose(),
        }
    }

    /// The state recorded under `name`, as it was when `edited` was made: on Kubernetes from
    /// the WasmPlugin that edit read (no request), on Envoy from the store.
    pub fn state_after_edit<T: DeserializeOwned>(
        &self,
        edited: &Edited,
        name: &str,
    ) -> Result<Option<T>> {
        match (self, edited) {
            (Host::Kubernetes(k), Edited::Kubernetes(update)) => {
                veer_k8s::run_state::read_state(&update.plugin, name)
                    .map_err(kubernetes::err)?
                    .map(|json| annotated_state(k, name, &json))
                    .transpose()
            }
            _ => self.load_state(name),
        }
    }

    /// Held while a long-running run `name` goes on, so that a second one is refused: on Envoy
    /// a lock file the OS releases when the process ends, however it ends. Kubernetes has no
    /// such lock (`None`): two runs of one service from two machines are not told apart.
    pub fn run_lock(&self, name: &str) -> Result<Option<envoy::store::Lock>> {
        match self {
            Host::Envoy(e) if !e.dry_run => e.store()?.run_lock(name).map(Some),
            _ => Ok(None),
        }
    }

    /// The Kubernetes namespace veerctl acts in; `None` on a standalone Envoy.
    pub fn namespace(&self) -> Result<Option<String>> {
        match self {
            Host::Envoy(_) => Ok(None),
            Host::Kubernetes(k) => k.namespace().map(Some),
        }
    }
}

/// Run state `name` from its annotation's JSON text.
fn annotated_state<T: DeserializeOwned>(k: &Kubernetes, name: &str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| {
        let key = format!("{}{name}", veer_k8s::run_state::RUN_STATE_PREFIX);
        CliError::failed(format!(
            "the annotation {key} of WasmPlugin {} is not state veerctl can read ({e}); remove it with `kubectl annotate wasmplugin {} {key}-` to start afresh",
            k.plugin, k.plugin
        ))
    })
}

/// Run state lives in `.veer/run-NAME.json`, apart from veerctl's own files.
fn state_file(name: &str) -> String {
    format!("run-{name}.json")
}

impl Live {
    fn of(wire: WireConfig) -> Live {
        let version = wire.version.unwrap_or(0);
        Live {
            wire,
            version,
            digest: None,
        }
    }
}

impl Proxies<'_> {
    /// Each proxy read once: its snapshot (which config version it runs, its counters) or why
    /// it could not be read.
    pub fn read(&self) -> Result<Readings> {
        match self {
            Proxies::Admins(e) => Ok(e.read_proxies()),
            Proxies::Sidecars { host, selectors } => host.read_sidecars(selectors),
        }
    }

    /// Opens a window: the first reading of every proxy (none readable is an error).
    pub fn open_window(&self) -> Result<Window> {
        Window::open(self.read()?)
    }

    /// What every proxy counted since `window` opened (labelled `label`), and the window that
    /// starts now.
    pub fn count(&self, window: Window, label: &str) -> Result<(Counted, Window)> {
        window.advance(self.read()?, label)
    }

    /// Starts watching right after a verified change: on Envoy that change recorded the
    /// baselines; on Kubernetes a window opens now.
    pub fn start_watch(&self) -> Result<Watch> {
        Ok(match self {
            Proxies::Admins(_) => Watch::SinceLastChange,
            Proxies::Sidecars { .. } => Watch::Window(self.open_window()?),
        })
    }

    /// What every proxy counted since `watch` started, labelled `label` where the host has no
    /// label of its own. The watch goes on: it can be read again.
    pub fn watched(&self, watch: &Watch, label: &str) -> Result<Counted> {
        match (watch, self) {
            (Watch::Window(w), _) => self.count(w.clone(), label).map(|(c, _)| c),
            (Watch::SinceLastChange, Proxies::Admins(e)) => e.since_last_change(),
            (Watch::SinceLastChange, Proxies::Sidecars { .. }) => Err(CliError::failed(
                "internal error: Kubernetes keeps no baselines of the last change (please report it)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A standalone Envoy host on ECDS directory `dir`, without proxies.
    fn envoy_in(dir: &std::path::Path) -> Host {
        Host::Envoy(Envoy {
            dir: dir.to_owned(),
            admins: Vec::new(),
            timeout: std::time::Duration::from_secs(1),
            dry_run: false,
            quiet: true,
        })
    }

    /// Run state recorded on a standalone Envoy is read back by a later command; before any is
    /// recorded there is none.
    #[test]
    fn run_state_is_recorded_with_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let host = envoy_in(dir.path());
        assert_eq!(host.load_state::<Vec<u32>>("canary-web").unwrap(), None);
        host.save_state("canary-web", &vec![5, 25]).unwrap();
        assert_eq!(
            host.load_state::<Vec<u32>>("canary-web").unwrap(),
            Some(vec![5, 25])
        );
        assert!(dir.path().join(".veer/run-canary-web.json").is_file());

        // On Kubernetes the state is a WasmPlugin annotation (veer-k8s's contract tests): a name
        // that makes no valid annotation is refused before the cluster is contacted.
        let kubernetes = Host::Kubernetes(Kubernetes {
            cluster: kubernetes::Cluster {
                context: None,
                namespace: None,
                dry_run: veer_k8s::DryRun::Off,
                timeout: std::time::Duration::from_secs(1),
                quiet: true,
            },
            plugin: "veer".into(),
        });
        let err = kubernetes.save_state("canary web", &1).unwrap_err();
        assert!(err.to_string().contains("annotation"), "{err}");
        let err = kubernetes.load_state::<u32>("canary/web").unwrap_err();
        assert!(err.to_string().contains("annotation"), "{err}");
    }

    /// A second run of the same name is refused while the first holds its lock, and allowed
    /// once it is released.
    #[test]
    fn a_run_lock_is_held_by_one_run_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let host = envoy_in(dir.path());
        let held = host.run_lock("canary-web").unwrap();
        let err = host.run_lock("canary-web").unwrap_err();
        assert_eq!(err.exit_code(), 5);
        assert!(
            err.to_string()
                .contains("another veerctl is running this canary-web"),
            "{err}"
        );
        assert!(host.run_lock("canary-shop").unwrap().is_some());
        drop(held);
        assert!(host.run_lock("canary-web").unwrap().is_some());
    }
}
