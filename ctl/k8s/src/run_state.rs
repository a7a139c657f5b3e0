//! Small state of a long-running veerctl operation (how far a progressive canary got), kept as an
//! annotation on Veer's WasmPlugin: next to the config it concerns, readable by any operator's
//! veerctl, and gone with the plugin.
//!
//! The state is the caller's JSON text; this module only names, reads and writes it. The write
//! is a JSON merge patch of that one annotation, so it never touches the spec (the routing
//! config keeps its own optimistic-concurrency path) nor the other annotations.

use kube::ResourceExt;
use serde_json::json;

use crate::dry_run::PlannedRequest;
use crate::error::{Error, Result};
use crate::istio::WasmPlugin;
use crate::plugin_config::get_plugin;
use crate::target::Target;

/// Prefix of the annotation that holds run `name`: `veer.dev/run-<name>`.
pub const RUN_STATE_PREFIX: &str = "veer.dev/run-";

/// The annotation key of run `name` (e.g. `veer.dev/run-canary-web`). The part after the `/` is
/// a Kubernetes name (at most 63 characters, alphanumerics with `-`, `_`, `.` inside), so `name`
/// must make one; anything else is refused before a request is sent.
pub fn annotation(name: &str) -> Result<String> {
    let key = format!("{RUN_STATE_PREFIX}{name}");
    let (_, local) = key.split_once('/').unwrap_or(("", &key));
    let inner_ok = local
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let ends_ok = local.starts_with(|c: char| c.is_ascii_alphanumeric())
        && local.ends_with(|c: char| c.is_ascii_alphanumeric());
    if name.is_empty() || local.len() > 63 || !inner_ok || !ends_ok {
        return Err(Error::Invalid {
            what: format!("run state name {name:?}"),
            reason: format!(
                "the annotation {key:?} is not a valid Kubernetes annotation name (at most 63 \
                 characters after the `/`: letters, digits, `-`, `_`, `.`, starting and ending \
                 with a letter or digit)"
            ),
        });
    }
    Ok(key)
}

/// The state of run `name` recorded on `plugin` (already read), if any.
pub fn read_state(plugin: &WasmPlugin, name: &str) -> Result<Option<String>> {
    let key = annotation(name)?;
    Ok(plugin.annotations().get(&key).cloned())
}

/// Reads WasmPlugin `plugin` and returns the state of run `name` recorded on it, if any.
pub async fn load_state(target: &Target, plugin: &str, name: &str) -> Result<Option<String>> {
    let key = annotation(name)?;
    let read = get_plugin(target, plugin).await?;
    Ok(read.annotations().get(&key).cloned())
}

/// Records `state` as run `name`'s on WasmPlugin `plugin` (a merge patch of that annotation
/// alone; last writer wins, as one run per name is expected). Returns the request sent (or, in
/// dry-run, the one that would be).
pub async fn save_state(
    target: &Target,
    plugin: &str,
    name: &str,
    state: &str,
) -> Result<Vec<PlannedRequest>> {
    let key = annotation(name)?;
    let patch = json!({ "metadata": { "annotations": { key: state } } });
    let mut writer = target.writer();
    writer
        .merge_patch(&target.api::<WasmPlugin>(), plugin, &patch)
        .await
        .map_err(|e| match e {
            Error::Write { source, .. } if is_not_found(&source) => Error::NotFound {
                what: target.what("WasmPlugin", plugin),
                hint: "install it first with `veerctl mesh install`".into(),
            },
            e => e,
        })?;
    Ok(writer.into_requests())
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.code == 404)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_names_follow_kubernetes_rules() {
        assert_eq!(annotation("canary-web").unwrap(), "veer.dev/run-canary-web");
        assert_eq!(
            annotation("canary-web.v2_x").unwrap(),
            "veer.dev/run-canary-web.v2_x"
        );
        for bad in ["", "canary web", "canary-", "canary/web", &"x".repeat(60)] {
            let err = annotation(bad).unwrap_err().to_string();
            assert!(err.contains("annotation"), "{bad:?}: {err}");
        }
    }
}
