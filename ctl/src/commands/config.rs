//! `validate`, `apply`, `get`, `diff`: the whole config. `apply`, `get` and `diff` act on a
//! standalone Envoy's ECDS file (on Kubernetes the config is installed with `mesh install`).

use std::path::Path;

use super::edited;
use crate::cli::ApplyArgs;
use crate::config::source;
use crate::error::Result;
use crate::history::Change;
use crate::host::envoy::change::{self, Base, GivenFilter};
use crate::host::envoy::store::Current;
use crate::host::envoy::Envoy;
use crate::observe::status::{Proxy, Runs};
use crate::output::{self, print_json};
use crate::settings::Settings;

/// `validate FILE`.
pub fn validate(s: &Settings, file: &Path) -> Result<()> {
    let loaded = source::load_file(file)?;
    let config = loaded.validate(&file.display().to_string())?;
    let doc = serde_json::json!({ "valid": true, "services": config.services.len() });
    s.printer.print(&doc, || {
        println!(
            "{}: valid ({} service(s))",
            file.display(),
            config.services.len()
        );
    })
}

/// `apply -f FILE`.
pub fn apply(s: &Settings, a: &ApplyArgs) -> Result<()> {
    let loaded = source::load_file(&a.file)?;
    loaded.validate(&a.file.display().to_string())?;
    let envoy = s.host.envoy()?;
    let base = Base::Replace {
        wire: Box::new(loaded.wire),
        filter: match (&a.wasm, &a.module) {
            (Some(path), _) => Some(GivenFilter::Wasm(path.clone())),
            (None, Some(module)) => Some(GivenFilter::Module(module.clone())),
            (None, None) => None,
        },
        expect_version: a.expect_version,
        allow_header_rename: a.allow_header_rename,
    };
    let what = Change::Apply {
        file: a.file.display().to_string(),
    };
    let applied = change::change(envoy, &what, base, !a.no_wait, |_| Ok(()))?;
    edited::applied_on_envoy(s, &applied, None, &applied.what)
}

/// `get`: the live file's config on stdout; on stderr, whether the proxies run it (each
/// `--admin` proxy read, by version and digest), or that it was not checked.
pub fn get(s: &Settings) -> Result<()> {
    let envoy = s.host.envoy()?;
    let current = envoy.current_or_error()?;
    print_json(&current.wire)?;
    if !s.printer.quiet {
        eprintln!("{}", running(envoy, &current));
    }
    Ok(())
}

/// Whether every `--admin` proxy runs `current`, said for `get`.
fn running(envoy: &Envoy, current: &Current) -> String {
    let v = current.version;
    if envoy.admins.is_empty() {
        return format!(
            "note: version {v} is the live file's; whether the proxies run it was not checked (pass --admin, or VEER_ADMIN, to check)"
        );
    }
    let proxies: Vec<Proxy> = envoy
        .read_proxies()
        .iter()
        .map(|(url, reading)| Proxy::of(url, reading, v, Some(current.digest)))
        .collect();
    let off: Vec<String> = proxies
        .iter()
        .filter_map(|p| match p.runs {
            Runs::Configured => None,
            Runs::Unreachable => Some(format!(
                "{}: cannot tell, {}",
                p.url,
                p.error.as_deref().unwrap_or("no answer")
            )),
            _ => p.off(v),
        })
        .collect();
    if off.is_empty() {
        format!(
            "version {v}: every proxy runs this config ({} checked, by version and digest)",
            proxies.len()
        )
    } else {
        format!(
            "warning: this is the live file (version {v}), but not what every proxy runs:\n  {}",
            off.join("\n  ")
        )
    }
}

/// `diff -f FILE`: every field that would change, warnings first-class.
pub fn diff(s: &Settings, file: &Path) -> Result<()> {
    let loaded = source::load_file(file)?;
    loaded.validate(&file.display().to_string())?;
    let live = s
        .host
        .envoy()?
        .current()?
        .map(|c| c.wire)
        .unwrap_or_default();
    let differences = crate::config::diff::compare(&live, &loaded.wire);
    s.printer
        .print(&differences, || output::diff::print(&differences))
}
