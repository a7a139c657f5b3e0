//! `validate`, `apply`, `get`, `diff`.

use super::{print_applied, print_json};
use crate::cli::{ApplyArgs, Global, Output};
use crate::config::source;
use crate::error::{CliError, Result};
use crate::host::envoy::change::{self, Base};

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
        allow_header_rename: a.allow_header_rename,
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

/// `diff -f FILE`: every field that would change, warnings first-class.
pub fn diff(g: &Global, file: &std::path::Path) -> Result<()> {
    let loaded = source::load_file(file)?;
    loaded.validate(&file.display().to_string())?;
    let store = change::store(g)?;
    let live = store.current()?.map(|c| c.wire).unwrap_or_default();
    let differences = crate::config::diff::compare(&live, &loaded.wire);
    match g.output {
        Output::Json => print_json(&differences),
        Output::Table => {
            super::print_differences(&differences);
            Ok(())
        }
    }
}
