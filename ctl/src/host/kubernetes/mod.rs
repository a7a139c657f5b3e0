//! Kubernetes with Istio: the routing config is the `pluginConfig` of Veer's WasmPlugin, its
//! proxies are the istio-proxy sidecars the plugin runs in. `cluster` reaches the cluster,
//! `sidecars` reads the sidecars' counters, `prometheus` reads the same counters from Prometheus.
//! The operations themselves are veer-k8s's.

pub mod cluster;
pub mod prometheus;
pub mod sidecars;

use veer_filter::config::WireConfig;
use veer_k8s::istio::WasmPlugin;
use veer_k8s::plugin_config::{PluginConfigUpdate, UpdateOptions};
use veer_k8s::plugin_live::{label_selector, plugin_pods, PluginWait, PortForward};
use veer_k8s::Reporter;

use crate::error::Result;
use crate::history::undo::Recorded;
use crate::history::Change;
pub use cluster::{err, Cluster};

/// The routing host on Kubernetes: a cluster and the WasmPlugin that carries the config.
#[derive(Debug, Clone)]
pub struct Kubernetes {
    /// The cluster and namespace.
    pub cluster: Cluster,
    /// The WasmPlugin's name (`--plugin`).
    pub plugin: String,
}

impl Kubernetes {
    /// The WasmPlugin's routing config.
    pub fn config(&self) -> Result<WireConfig> {
        let plugin = &self.plugin;
        self.cluster.run(|t| async move {
            veer_k8s::plugin_config::live_config(&t, plugin)
                .await
                .map_err(err)
        })
    }

    /// The WasmPlugin.
    fn plugin(&self) -> Result<WasmPlugin> {
        let name = &self.plugin;
        self.cluster.run(|t| async move {
            veer_k8s::plugin_config::get_plugin(&t, name)
                .await
                .map_err(err)
        })
    }

    /// The WasmPlugin's config and the label selectors of the sidecars to read: `selector` if
    /// given, else the pods the plugin runs in (with a warning for targets veerctl cannot map to
    /// pods).
    pub fn config_and_selectors(
        &self,
        selector: Option<&str>,
    ) -> Result<(WireConfig, Vec<String>)> {
        let plugin = self.plugin()?;
        let wire = veer_k8s::plugin_config::read_config(&plugin).map_err(err)?;
        let selectors = match selector {
            Some(s) => vec![s.to_owned()],
            None => {
                let (selectors, unknown) = plugin_pods(&plugin);
                if !unknown.is_empty() {
                    self.cluster.reporter().warning(&format!(
                        "WasmPlugin {} targets {}: give --selector with the labels of their pods to read them too",
                        self.plugin,
                        unknown.join(", ")
                    ));
                }
                selectors.iter().map(label_selector).collect()
            }
        };
        Ok((wire, selectors))
    }

    /// The namespace veerctl acts in (`--namespace`, or the context's).
    pub fn namespace(&self) -> Result<String> {
        self.cluster.run(|t| async move { Ok(t.namespace.clone()) })
    }

    /// The JSON text of run state `name`, from its annotation on the WasmPlugin.
    pub fn load_state(&self, name: &str) -> Result<Option<String>> {
        veer_k8s::run_state::annotation(name).map_err(err)?;
        let plugin = &self.plugin;
        self.cluster.run(|t| async move {
            veer_k8s::run_state::load_state(&t, plugin, name)
                .await
                .map_err(err)
        })
    }

    /// Records `json` as run state `name` in its annotation on the WasmPlugin.
    pub fn save_state(&self, name: &str, json: &str) -> Result<()> {
        veer_k8s::run_state::annotation(name).map_err(err)?;
        let plugin = &self.plugin;
        self.cluster.run(|t| async move {
            veer_k8s::run_state::save_state(&t, plugin, name, json)
                .await
                .map(|_| ())
                .map_err(err)
        })
    }

    /// Applies a config edit to the WasmPlugin's pluginConfig with optimistic concurrency (a
    /// concurrent writer makes it re-read and re-apply the edit, never overwrite), then waits up
    /// to --timeout until every sidecar the plugin runs in runs it (exit code 4 otherwise), as
    /// the Envoy path verifies every change. `edit` may run more than once.
    /// The change is recorded as data with the config it writes (the WasmPlugin's
    /// `veer.dev/last-change` annotation), for `cohort undo`.
    pub fn edit(
        &self,
        what: &Change,
        edit: impl Fn(&mut WireConfig) -> Result<()>,
    ) -> Result<PluginConfigUpdate> {
        let reporter = self.cluster.reporter();
        let wait = PluginWait {
            opts: self.cluster.wait_options(),
            reader: PortForward,
        };
        let plugin = &self.plugin;
        let options = UpdateOptions {
            record: serde_json::to_value(what).ok(),
            ..UpdateOptions::default()
        };
        let what = what.to_string();
        self.cluster.run(|target| async move {
            let f = |mut wire: WireConfig| -> veer_k8s::Result<WireConfig> {
                edit(&mut wire).map_err(|e| veer_k8s::Error::Invalid {
                    what: what.clone(),
                    reason: e.to_string(),
                })?;
                Ok(wire)
            };
            veer_k8s::plugin_config::update_plugin_config_waiting(
                &target, plugin, f, &options, &wait, &reporter,
            )
            .await
            .map_err(err)
        })
    }

    /// The change recorded with the WasmPlugin's config (the last one veerctl made), and the
    /// version of the config it carries now: a later version was written by something that
    /// recorded nothing (`mesh install`, kubectl).
    pub fn last_change(&self) -> Result<(Option<Recorded>, u64)> {
        let plugin = self.plugin()?;
        let version = veer_k8s::plugin_config::read_config(&plugin)
            .map_err(err)?
            .version
            .unwrap_or(0);
        let last = veer_k8s::plugin_config::last_change(&plugin).map_err(err)?;
        Ok((
            last.map(|l| Recorded {
                version: l.version,
                change: serde_json::from_value(l.change.clone()).unwrap_or(Change::Other {
                    what: l.change.to_string(),
                }),
            }),
            version,
        ))
    }
}
