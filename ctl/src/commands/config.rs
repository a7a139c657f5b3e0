//! `validate`, `apply`, `get`, `diff`: the whole config. `apply`, `get` and `diff` act on a
//! standalone Envoy's ECDS file (on Kubernetes the config is installed with `mesh install`).

use std::path::Path;

use super::edited;
use crate::cli::ApplyArgs;
use crate::config::source;
use crate::error::Result;
use crate::history::Change;
use crate::host::envoy::change::{self, Base};
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
        wasm: a.wasm.clone(),
        expect_version: a.expect_version,
        allow_header_rename: a.allow_header_rename,
    };
    let what = Change::Apply {
        file: a.file.display().to_string(),
    };
    let applied = change::change(envoy, &what, base, !a.no_wait, |_| Ok(()))?;
    edited::applied_on_envoy(s, &applied, None, &applied.what)
}

/// `get`.
pub fn get(s: &Settings) -> Result<()> {
    print_json(&s.host.envoy()?.current_or_error()?.wire)
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
