//! The command line itself, through the binary: completion scripts, what `--version` says the
//! filter must speak (checked against the built filter), and verbs refused at parse time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

use veer_ctl::cli::FILTER_ABI;

fn veerctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .env_remove("VEER_ENVOY_DIR")
        .args(args)
        .output()
        .unwrap()
}

/// Each shell's script is produced, names the program and knows every command group.
#[test]
fn completion_scripts_cover_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let out = veerctl(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {out:?}");
        let script = String::from_utf8(out.stdout).unwrap();
        for word in [
            "veerctl",
            "apply",
            "canary",
            "set-weight",
            "experiment",
            "bluegreen",
            "scale-down",
            "status",
            "envoy",
            "dry-run",
        ] {
            assert!(script.contains(word), "{shell} script lacks {word}");
        }
    }
    let out = veerctl(&["completions", "tcsh"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

/// `--version` names the proxy-wasm ABI and the config format veerctl expects; `-V` the ABI.
#[test]
fn version_names_the_filter_abi_and_the_config_format() {
    let long = String::from_utf8(veerctl(&["--version"]).stdout).unwrap();
    assert!(
        long.starts_with(&format!("veerctl {}\n", env!("CARGO_PKG_VERSION"))),
        "{long}"
    );
    assert!(
        long.contains(&format!("filter ABI: {FILTER_ABI} (proxy-wasm")),
        "{long}"
    );
    assert!(
        long.contains("routing config: the format of veer-filter"),
        "{long}"
    );
    let short = String::from_utf8(veerctl(&["-V"]).stdout).unwrap();
    assert_eq!(
        short,
        format!(
            "veerctl {} (filter ABI {FILTER_ABI})\n",
            env!("CARGO_PKG_VERSION")
        )
    );
}

/// The filter `make wasm` builds exports the ABI function `--version` names: Envoy calls it to
/// pick the ABI, so a filter built for another ABI would not be the one veerctl expects.
#[test]
fn the_built_filter_exports_the_abi_veerctl_names() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/veer.wasm");
    let wasm = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): run `make wasm` (make test does)",
            path.display()
        )
    });
    let mut exports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
        if let wasmparser::Payload::ExportSection(section) = payload.unwrap() {
            for export in section {
                let export = export.unwrap();
                exports.push((export.name.to_owned(), export.kind));
            }
        }
    }
    assert!(
        exports
            .iter()
            .any(|(name, kind)| name == FILTER_ABI && *kind == wasmparser::ExternalKind::Func),
        "{FILTER_ABI} is not among the filter's exports: {exports:?}"
    );
}

/// A blue/green verb that only exists on Kubernetes is a usage error with --envoy, also when
/// it comes from VEER_ENVOY_DIR, and nothing runs.
#[test]
fn a_kubernetes_only_verb_with_envoy_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .env("VEER_ENVOY_DIR", dir.path())
        .args(["bluegreen", "scale-down", "web"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("exists only on Kubernetes"), "{stderr}");
    let help = String::from_utf8(veerctl(&["bluegreen", "--help"]).stdout).unwrap();
    for verb in ["deploy", "status", "scale-down"] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(verb))
            .unwrap();
        assert!(line.contains("Kubernetes only"), "{line}");
    }
}

/// `experiment report --prometheus` reads Kubernetes metrics: with a standalone Envoy it is a
/// usage error, not a flag silently ignored while the report reads the proxies.
#[test]
fn a_report_from_prometheus_with_envoy_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .env("VEER_ENVOY_DIR", dir.path())
        .args(["experiment", "report", "web", "checkout"])
        .args(["--prometheus", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("'--prometheus <URL>' cannot be used with"),
        "{stderr}"
    );
}
