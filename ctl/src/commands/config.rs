//! `validate`, `apply`, `get`, `diff`.

use std::collections::BTreeMap;

use serde::Serialize;
use veer_filter::config::WireConfig;
use veer_filter::hash::{Bucket, BUCKETS};

use super::{print_applied, print_json};
use crate::change::{self, Base};
use crate::cli::{ApplyArgs, Global, Output};
use crate::error::{CliError, Result};
use crate::source;

/// `validate FILE`.
pub fn validate(g: &Global, file: &std::path::Path) -> Result<()> {
    let loaded = source::load_file(file)?;
    let config = loaded.validate(&file.display().to_string())?;
    match g.output {
        Output::Json => {
            print_json(&serde_json::json!({ "valid": true, "services": config.services.len() }))
        }
        Output::Table => {
            println!(
                "{}: valid ({} service(s))",
                file.display(),
                config.services.len()
            );
            Ok(())
        }
    }
}

/// `apply -f FILE`.
pub fn apply(g: &Global, a: &ApplyArgs) -> Result<()> {
    let loaded = source::load_file(&a.file)?;
    loaded.validate(&a.file.display().to_string())?;
    let base = Base::Replace {
        wire: Box::new(loaded.wire),
        wasm: a.wasm.clone(),
        expect_version: a.expect_version,
    };
    let what = format!("apply -f {}", a.file.display());
    let applied = change::change(g, &what, base, !a.no_wait, |_| Ok(()))?;
    print_applied(g, &applied, None, &what)
}

/// `get`.
pub fn get(g: &Global) -> Result<()> {
    let store = change::store(g)?;
    let current = store.current()?.ok_or_else(|| {
        CliError::failed(format!("{} has no live config yet", store.dir().display()))
    })?;
    print_json(&current.wire)
}

/// One line of a diff.
#[derive(Debug, Serialize)]
struct Line {
    service: String,
    change: String,
}

/// `diff -f FILE`.
pub fn diff(g: &Global, file: &std::path::Path) -> Result<()> {
    let loaded = source::load_file(file)?;
    loaded.validate(&file.display().to_string())?;
    let store = change::store(g)?;
    let live = store.current()?.map(|c| c.wire).unwrap_or_default();
    let lines = compare(&live, &loaded.wire)?;
    match g.output {
        Output::Json => print_json(&lines),
        Output::Table => {
            if lines.is_empty() {
                println!("no changes");
            }
            for l in lines {
                println!("{}: {}", l.service, l.change);
            }
            Ok(())
        }
    }
}

fn compare(old: &WireConfig, new: &WireConfig) -> Result<Vec<Line>> {
    let mut lines = Vec::new();
    let names = |w: &WireConfig| {
        w.services
            .iter()
            .map(|s| s.name.clone())
            .collect::<Vec<_>>()
    };
    for name in names(old) {
        if !new.services.iter().any(|s| s.name == name) {
            lines.push(Line {
                service: name,
                change: "removed".into(),
            });
        }
    }
    for s in &new.services {
        let Some(o) = old.services.iter().find(|o| o.name == s.name) else {
            lines.push(Line {
                service: s.name.clone(),
                change: "added".into(),
            });
            continue;
        };
        if o.split != s.split {
            let moved = moved_share(old, new, &s.name);
            lines.push(Line {
                service: s.name.clone(),
                change: format!(
                    "split {} -> {} (moves {:.2}% of users)",
                    fmt_split(&o.split),
                    fmt_split(&s.split),
                    moved.unwrap_or(0.0) * 100.0
                ),
            });
        }
        let (ov, nv) = (
            serde_json::to_value(&o.variants).ok(),
            serde_json::to_value(&s.variants).ok(),
        );
        if ov != nv {
            lines.push(Line {
                service: s.name.clone(),
                change: "variants changed".into(),
            });
        }
        for (kind, a, b) in [
            (
                "rules",
                serde_json::to_value(&o.rules).ok(),
                serde_json::to_value(&s.rules).ok(),
            ),
            (
                "experiments",
                serde_json::to_value(&o.experiments).ok(),
                serde_json::to_value(&s.experiments).ok(),
            ),
        ] {
            if a != b {
                lines.push(Line {
                    service: s.name.clone(),
                    change: format!("{kind} changed"),
                });
            }
        }
    }
    Ok(lines)
}

fn fmt_split(s: &BTreeMap<String, i64>) -> String {
    s.iter()
        .map(|(k, v)| format!("{k} {}", crate::edit::bp_to_percent(*v)))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Share of buckets whose default-split variant changes between two configs, computed with the
/// engine's own layout: exactly the share of sticky users who would move.
fn moved_share(old: &WireConfig, new: &WireConfig, service: &str) -> Option<f64> {
    let (o, n) = (
        veer_filter::Config::from_wire(old).ok()?,
        veer_filter::Config::from_wire(new).ok()?,
    );
    let (os, ns) = (o.service(service)?, n.service(service)?);
    let moved = (0..BUCKETS)
        .filter(|b| {
            let bucket = Bucket::from_u64(u64::from(*b));
            let ov = os.variant(os.split.pick(bucket)).map(|v| v.name.as_str());
            let nv = ns.variant(ns.split.pick(bucket)).map(|v| v.name.as_str());
            ov != nv
        })
        .count();
    Some(moved as f64 / f64::from(BUCKETS))
}
