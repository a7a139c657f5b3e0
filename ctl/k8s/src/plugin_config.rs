//! Changing the routing config that runs in every proxy: the WasmPlugin's `pluginConfig`.
//!
//! Canary and experiment commands are read-modify-write: read the WasmPlugin, change the config,
//! write it back with the resourceVersion it was read at. If another operator wrote in between,
//! the API server answers 409 Conflict and this module re-reads and re-applies the change on top
//! of theirs, a bounded number of times, so two operators never overwrite each other silently.
//! A config that does not validate is refused before anything is sent. After the write,
//! [`update_plugin_config_waiting`] waits until the sidecars run it ([`crate::plugin_live`]).

use std::time::Duration;

use kube::ResourceExt;
use serde::{Deserialize, Serialize};
use veer_filter::config::WireConfig;
use veer_filter::Config;

use crate::dry_run::{DryRun, PlannedRequest};
use crate::error::{Error, Result};
use crate::istio::WasmPlugin;
use crate::labels::LAST_CHANGE_ANNOTATION;
use crate::plugin_live::{plugin_pods, wait_plugin_live, PluginWait, SidecarReader};
use crate::report::Reporter;
use crate::target::Target;

/// How hard to try when others write at the same time, and what to record with the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateOptions {
    /// Writes tried before giving up with [`Error::Conflict`].
    pub max_attempts: u32,
    /// Pause before re-reading after a conflict (grows linearly with the attempt).
    pub retry_delay: Duration,
    /// What the change is, as data, recorded in the same write as annotation
    /// [`LAST_CHANGE_ANNOTATION`] with the version it writes (see [`LastChange`]); `None` leaves
    /// the annotation as it is.
    pub record: Option<serde_json::Value>,
}

impl Default for UpdateOptions {
    fn default() -> Self {
        UpdateOptions {
            max_attempts: 5,
            retry_delay: Duration::from_millis(200),
            record: None,
        }
    }
}

/// The last change recorded on a WasmPlugin ([`UpdateOptions::record`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastChange {
    /// The config version the change wrote.
    pub version: u64,
    /// The change, as its writer recorded it.
    pub change: serde_json::Value,
}

/// The last change recorded on `plugin`, if any; an annotation that is not one is an error
/// that names it.
pub fn last_change(plugin: &WasmPlugin) -> Result<Option<LastChange>> {
    let Some(text) = plugin.annotations().get(LAST_CHANGE_ANNOTATION) else {
        return Ok(None);
    };
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| Error::Invalid {
            what: format!(
                "annotation {LAST_CHANGE_ANNOTATION} of WasmPlugin {}",
                plugin.name_any()
            ),
            reason: e.to_string(),
        })
}

/// What [`update_plugin_config`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct PluginConfigUpdate {
    /// The WasmPlugin.
    pub name: String,
    /// The config version written (previous + 1); proxies report it as `veer.config.version`.
    pub version: u64,
    /// Writes tried (1 without conflicts).
    pub attempts: u32,
    /// The resourceVersion after the write (`None` in client dry-run).
    pub resource_version: Option<String>,
    /// The config written.
    pub config: WireConfig,
    /// Every write tried, conflicting ones included, in order.
    pub requests: Vec<PlannedRequest>,
    /// Sidecars seen running the version (or a later one); `None` when not waited for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_in: Option<usize>,
    /// The WasmPlugin as written: its selector or targetRefs say which sidecars to wait for.
    #[serde(skip)]
    pub plugin: WasmPlugin,
}

/// Refuses a WasmPlugin whose failure policy would let the filter be skipped.
pub fn check_fail_strategy(plugin: &WasmPlugin) -> Result<()> {
    if plugin.spec.fail_strategy.as_deref() == Some("FAIL_OPEN") {
        return Err(Error::FailOpen {
            name: plugin.name_any(),
        });
    }
    Ok(())
}

/// The routing config in a WasmPlugin (an empty config when it has none).
pub fn read_config(plugin: &WasmPlugin) -> Result<WireConfig> {
    match &plugin.spec.plugin_config {
        None => Ok(WireConfig::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|source| Error::PluginConfig {
            name: plugin.name_any(),
            source,
        }),
    }
}

/// WasmPlugin `name`, or what to do when it is missing.
pub async fn get_plugin(target: &Target, name: &str) -> Result<WasmPlugin> {
    target
        .get(
            "WasmPlugin",
            name,
            "install it first with `veerctl mesh install`",
        )
        .await
}

/// The routing config WasmPlugin `name` carries now.
pub async fn live_config(target: &Target, name: &str) -> Result<WireConfig> {
    read_config(&get_plugin(target, name).await?)
}

/// Reads WasmPlugin `name`, applies `f` to its routing config, stamps the next version, validates
/// the result (an invalid config is refused, nothing sent) and replaces the WasmPlugin with the
/// resourceVersion it was read at. On 409 Conflict it re-reads and applies `f` again, up to
/// `opts.max_attempts` writes, then returns [`Error::Conflict`].
pub async fn update_plugin_config(
    target: &Target,
    name: &str,
    f: impl Fn(WireConfig) -> Result<WireConfig>,
    opts: &UpdateOptions,
    reporter: &dyn Reporter,
) -> Result<PluginConfigUpdate> {
    let api = target.api::<WasmPlugin>();
    let mut writer = target.writer();
    let attempts = opts.max_attempts.max(1);
    for attempt in 1..=attempts {
        let plugin = get_plugin(target, name).await?;
        check_fail_strategy(&plugin)?;
        let current = read_config(&plugin)?;
        let mut next = f(current.clone())?;
        next.version = Some(current.version.unwrap_or(0) + 1);
        Config::from_wire(&next).map_err(Error::InvalidConfig)?;
        let mut updated = plugin.clone();
        updated.metadata.managed_fields = None;
        if let Some(change) = &opts.record {
            let last = LastChange {
                version: next.version.unwrap_or(0),
                change: change.clone(),
            };
            let text = serde_json::to_string(&last).map_err(|e| Error::Serialize {
                what: "the change's record".into(),
                reason: e.to_string(),
            })?;
            updated
                .annotations_mut()
                .insert(LAST_CHANGE_ANNOTATION.to_owned(), text);
        }
        updated.spec.plugin_config =
            Some(serde_json::to_value(&next).map_err(|e| Error::Serialize {
                what: "the routing config".into(),
                reason: e.to_string(),
            })?);
        match writer.replace(&api, name, &updated).await {
            Ok(written) => {
                return Ok(PluginConfigUpdate {
                    name: name.to_owned(),
                    version: next.version.unwrap_or(0),
                    attempts: attempt,
                    resource_version: written.and_then(|w| w.resource_version()),
                    config: next,
                    requests: writer.into_requests(),
                    live_in: None,
                    plugin: updated,
                })
            }
            Err(e) if e.is_conflict() && attempt < attempts => {
                reporter.warning(&format!(
                    "WasmPlugin {name} was changed by someone else; re-reading and applying again \
                     ({attempt}/{attempts})"
                ));
                tokio::time::sleep(opts.retry_delay * attempt).await;
            }
            Err(e) if e.is_conflict() => break,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict {
        what: format!("WasmPlugin {name}"),
        attempts,
    })
}

/// [`update_plugin_config`], then waits until every sidecar the WasmPlugin runs in (its selector,
/// or the gateways of its targetRefs) runs the version written or a later one, so an edit is
/// verified in the data plane as on the Envoy path. Not in dry-run, where nothing changes. Gives
/// up after `wait.opts.timeout` with [`Error::ConfigNotLive`], the write staying in place.
pub async fn update_plugin_config_waiting<R: SidecarReader>(
    target: &Target,
    name: &str,
    f: impl Fn(WireConfig) -> Result<WireConfig>,
    opts: &UpdateOptions,
    wait: &PluginWait<R>,
    reporter: &dyn Reporter,
) -> Result<PluginConfigUpdate> {
    let mut update = update_plugin_config(target, name, f, opts, reporter).await?;
    if target.dry_run != DryRun::Off {
        return Ok(update);
    }
    let (selectors, unknown) = plugin_pods(&update.plugin);
    if !unknown.is_empty() {
        reporter.warning(&format!(
            "WasmPlugin {name} targets {}: veerctl cannot tell which pods run it, so those are not \
             verified; check them with `veerctl status --selector LABELS`",
            unknown.join(", ")
        ));
    }
    let mut live_in = 0;
    for selector in &selectors {
        live_in += wait_plugin_live(target, name, selector, update.version, wait, reporter)
            .await
            .map_err(|e| match e {
                Error::PluginNotLive {
                    plugin,
                    timeout,
                    behind,
                } => Error::ConfigNotLive {
                    plugin,
                    version: update.version,
                    timeout,
                    behind,
                },
                e => e,
            })?;
    }
    update.live_in = Some(live_in);
    Ok(update)
}
