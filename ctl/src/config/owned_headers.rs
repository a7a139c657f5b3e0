//! Renaming a header the filter owns is unsafe until the proxy's routes and the apps follow.
//!
//! The filter removes client-sent copies of the headers it writes, under their configured
//! names. Envoy's route reads the cluster header under a fixed name (`cluster_header` in the
//! bootstrap), and apps read the variant and experiment headers under theirs. After a rename the
//! filter writes and strips the new name only, so a client-sent copy of the old name reaches
//! whatever still reads it: with the cluster header, a client picks its own cluster.

use veer_filter::Config;

use crate::error::{CliError, Result};

/// One owned header whose name differs between two configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rename {
    /// The config field (`headers.cluster`).
    pub field: &'static str,
    /// Name in the live config.
    pub from: String,
    /// Name in the new config.
    pub to: String,
}

/// The headers the filter owns on requests, by config field (the override header only when
/// overrides are on: only then does the filter remove it).
fn owned(c: &Config) -> Vec<(&'static str, &str)> {
    let mut names = vec![
        ("headers.cluster", c.headers.cluster.as_str()),
        ("headers.variant", c.headers.variant.as_str()),
        ("headers.experiment", c.headers.experiment.as_str()),
    ];
    if let Some(o) = &c.override_policy {
        names.push(("override.header", o.header.as_str()));
    }
    names
}

/// Owned headers that `new` names differently from `live`.
pub fn renames(live: &Config, new: &Config) -> Vec<Rename> {
    let after = owned(new);
    owned(live)
        .into_iter()
        .filter_map(|(field, from)| {
            let (_, to) = after.iter().find(|(f, _)| *f == field)?;
            (from != *to).then(|| Rename {
                field,
                from: from.to_owned(),
                to: (*to).to_owned(),
            })
        })
        .collect()
}

/// What still reads the old name, and so what must change before the rename.
fn reader(field: &str) -> &'static str {
    match field {
        "headers.cluster" => "Envoy's route reads the cluster from `cluster_header` (and matches on the header's presence) under its old name, see deploy/envoy/envoy.yaml: the route would stop seeing Veer's decision and a client-sent copy would choose the cluster. Change the route's cluster_header to the new name first",
        "override.header" => "the filter would stop removing the old header, so signed overrides sent under it would reach the apps. Make sure no client sends it any more first",
        _ => "apps read it under its old name, and the filter would stop removing client-sent copies of it. Move the apps to the new name (and strip the old one at the edge) first",
    }
}

/// Refuses renames of owned headers unless `allowed`.
pub fn check(live: &Config, new: &Config, allowed: bool) -> Result<()> {
    let found = renames(live, new);
    if allowed || found.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = found
        .iter()
        .map(|r| {
            format!(
                "  {} renames {:?} to {:?}: {}",
                r.field,
                r.from,
                r.to,
                reader(r.field)
            )
        })
        .collect();
    Err(CliError::failed(format!(
        "refused: the change renames a header the filter owns, nothing was written\n{}\nthen re-run with --allow-header-rename",
        lines.join("\n")
    )))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(headers: serde_json::Value, override_header: Option<&str>) -> Config {
        let mut v = json!({
            "headers": headers,
            "services": [{ "name": "web", "variants": [{ "name": "v1", "cluster": "c" }], "split": { "v1": 10000 } }]
        });
        if let Some(h) = override_header {
            v["override"] =
                json!({ "enabled": true, "header": h, "keys": ["0123456789abcdef0123"] });
        }
        Config::from_wire(&serde_json::from_value(v).unwrap()).unwrap()
    }

    #[test]
    fn a_renamed_cluster_header_is_refused_with_the_route_to_change() {
        let live = config(json!({}), None);
        let new = config(json!({ "cluster": "x-route-to" }), None);
        assert_eq!(
            renames(&live, &new),
            [Rename {
                field: "headers.cluster",
                from: "x-veer-cluster".into(),
                to: "x-route-to".into()
            }]
        );
        let err = check(&live, &new, false).unwrap_err();
        assert_eq!(err.exit_code(), 1);
        let text = err.to_string();
        assert!(
            text.contains("headers.cluster renames \"x-veer-cluster\" to \"x-route-to\""),
            "{text}"
        );
        assert!(text.contains("cluster_header"), "{text}");
        assert!(text.contains("--allow-header-rename"), "{text}");
        check(&live, &new, true).unwrap();
    }

    #[test]
    fn every_owned_header_counts_and_unchanged_names_pass() {
        let live = config(json!({}), Some("x-o"));
        let new = config(
            json!({ "variant": "x-v", "experiment": "x-e", "expose_variant_to_client": true }),
            Some("x-o2"),
        );
        let fields: Vec<&str> = renames(&live, &new).iter().map(|r| r.field).collect();
        assert_eq!(
            fields,
            ["headers.variant", "headers.experiment", "override.header"]
        );
        // Spelling a default out, or changing what is not a name, renames nothing.
        let same = config(
            json!({ "cluster": "x-veer-cluster", "expose_variant_to_client": true }),
            Some("x-o"),
        );
        check(&live, &same, false).unwrap();
    }
}
