//! `veerctl bootstrap` (issue 11.6): for the demo's clusters it renders the shipped template
//! (`deploy/envoy/envoy.yaml`, or `envoy-native.yaml` with `--module`) filled in, value for
//! value, so the safety properties that file documents hold for every bootstrap veerctl renders.
//! (`tests/tests/e2e/bootstrap.rs` starts a real Envoy on it, for each build.) And the first
//! apply against an Envoy not yet up says how to start one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use veer_ctl::config::source::yaml_value;

mod support;

/// The embedded filter configs (JSON text in a string) parsed, so that formatting differences
/// inside them do not count.
fn normalised(mut v: Value) -> Value {
    match &mut v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                let text = child.as_str().map(str::to_owned);
                match text {
                    Some(t) if k == "value" => *child = serde_json::from_str(&t).unwrap(),
                    _ => *child = normalised(child.take()),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                *item = normalised(item.take());
            }
        }
        _ => {}
    }
    v
}

/// `deploy/envoy/<file>` filled in with the demo's ports, `ecds` and `wasm` (the native template
/// has no `{{WASM}}`).
fn template(file: &str, ecds: &Path, wasm: &Path) -> Value {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../deploy/envoy")
            .join(file),
    )
    .unwrap()
    .replace("{{ADMIN_PORT}}", "9901")
    .replace("{{LISTEN_PORT}}", "8080")
    .replace("{{ECDS_DIR}}", ecds.to_str().unwrap())
    .replace("{{WASM}}", wasm.to_str().unwrap())
    .replace("{{V1_PORT}}", "8081")
    .replace("{{V2_PORT}}", "8082")
    .replace("{{V3_PORT}}", "8083");
    normalised(yaml_value(&text).unwrap())
}

#[test]
fn the_demo_clusters_render_the_shipped_template() {
    let dir = tempfile::tempdir().unwrap();
    let ecds = dir.path().join("ecds");
    std::fs::create_dir(&ecds).unwrap();
    let wasm = support::wasm_module(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .args(["--envoy", ecds.to_str().unwrap(), "bootstrap"])
        .args(["--cluster", "web_v1=127.0.0.1:8081"])
        .args(["--cluster", "web_v2=127.0.0.1:8082"])
        .args(["--cluster", "web_v3=127.0.0.1:8083"])
        .arg("--wasm")
        .arg(&wasm)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("# Envoy bootstrap for Veer"), "{text}");
    let rendered = normalised(yaml_value(&text).unwrap());
    assert_eq!(rendered, template("envoy.yaml", &ecds, &wasm), "{text}");
    // No config yet: it says Envoy will not start before the first one, and how to write it.
    assert!(
        stderr.contains("Envoy does not start before") && stderr.contains("--no-wait"),
        "{stderr}"
    );
}

/// veerctl bootstrap for the demo's clusters, with the module's file, and its arguments.
fn bootstrap_native(ecds: &Path, module: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .args(["--envoy", ecds.to_str().unwrap(), "bootstrap"])
        .args(["--cluster", "web_v1=127.0.0.1:8081"])
        .args(["--cluster", "web_v2=127.0.0.1:8082"])
        .args(["--cluster", "web_v3=127.0.0.1:8083"])
        .arg("--module")
        .arg(module)
        .output()
        .unwrap()
}

/// `--module`: the native build's template (deploy/envoy/envoy-native.yaml) filled in, value for
/// value: the dynamic module in the fallback config, the same stats_tags, the runtime flag for
/// Prometheus names, the same routes and header stripping. On stderr: the search path Envoy needs
/// and the first apply that writes the same build.
#[test]
fn the_demo_clusters_render_the_shipped_native_template() {
    let dir = tempfile::tempdir().unwrap();
    let ecds = dir.path().join("ecds");
    std::fs::create_dir(&ecds).unwrap();
    let native = dir.path().join("native");
    std::fs::create_dir(&native).unwrap();
    std::fs::write(native.join("libveer_native.so"), b"\x7fELF\x02\x01\x01\x00").unwrap();
    let out = bootstrap_native(&ecds, &native);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("# Envoy bootstrap for Veer native (the dynamic module)"),
        "{text}"
    );
    let rendered = normalised(yaml_value(&text).unwrap());
    let unused = Path::new("/unused.wasm");
    assert_eq!(
        rendered,
        template("envoy-native.yaml", &ecds, unused),
        "{text}"
    );
    let stderr = stderr.replace(dir.path().to_str().unwrap(), "[DIR]");
    insta::assert_snapshot!("bootstrap-native-notes", stderr);
}

/// A live file of the other build would be refused by the bootstrap's filter type (Envoy would
/// start on the fallback): `bootstrap` says so, and how to write it for this build.
#[test]
fn a_live_file_of_the_other_build_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let ecds = dir.path().join("ecds");
    std::fs::create_dir(&ecds).unwrap();
    let wasm = support::wasm_module(dir.path());
    let file = dir.path().join("web.json");
    std::fs::write(
        &file,
        r#"{"services":[{"name":"web","variants":[{"name":"v1","cluster":"web_v1"}],"split":{"v1":10000}}]}"#,
    )
    .unwrap();
    let applied = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .args(["--envoy", ecds.to_str().unwrap(), "apply", "-f"])
        .arg(&file)
        .arg("--wasm")
        .arg(&wasm)
        .arg("--no-wait")
        .output()
        .unwrap();
    assert!(applied.status.success(), "{applied:?}");
    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .args(["--envoy", ecds.to_str().unwrap(), "bootstrap"])
        .args(["--cluster", "web_v1=127.0.0.1:8081"])
        .args(["--module", "veer_native"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "warning: the live config loads the proxy-wasm build, and this bootstrap accepts only \
             the native (dynamic module)"
        ) && stderr.contains("apply -f FILE --module veer_native`"),
        "{stderr}"
    );
    // The same build: no warning.
    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .args(["--envoy", ecds.to_str().unwrap(), "bootstrap"])
        .args(["--cluster", "web_v1=127.0.0.1:8081", "--wasm"])
        .arg(&wasm)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("warning"),
        "{stderr}"
    );
}

/// A `--module` that is not a shared library, or missing, is refused with what to pass, and
/// nothing is printed on stdout; `--module` and `--wasm` exclude each other, and one is needed.
#[test]
fn a_module_that_is_missing_or_not_a_library_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ecds = dir.path().join("ecds");
    std::fs::create_dir(&ecds).unwrap();
    let redact = |out: &std::process::Output| {
        String::from_utf8_lossy(&out.stderr).replace(dir.path().to_str().unwrap(), "[DIR]")
    };
    let missing = dir.path().join("native");
    std::fs::create_dir(&missing).unwrap();
    let out = bootstrap_native(&ecds, &missing);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    insta::assert_snapshot!("bootstrap-native-module-missing", redact(&out));

    let text = missing.join("libveer_native.so");
    std::fs::write(&text, "#!/bin/sh\n").unwrap();
    let out = bootstrap_native(&ecds, &text);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    insta::assert_snapshot!("bootstrap-native-not-a-library", redact(&out));

    let both = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .args(["--envoy", ecds.to_str().unwrap(), "bootstrap"])
        .args(["--cluster", "web_v1=127.0.0.1:8081"])
        .args(["--module", "veer_native", "--wasm", "/x.wasm"])
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2), "{both:?}");
    assert!(
        String::from_utf8_lossy(&both.stderr).contains("cannot be used with"),
        "{both:?}"
    );
    let neither = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .args(["--envoy", ecds.to_str().unwrap(), "bootstrap"])
        .args(["--cluster", "web_v1=127.0.0.1:8081"])
        .output()
        .unwrap();
    assert_eq!(neither.status.code(), Some(2), "{neither:?}");
    assert!(
        String::from_utf8_lossy(&neither.stderr).contains("--wasm <WASM>"),
        "{neither:?}"
    );
}

/// The first `apply` with an admin URL of an Envoy that is not up yet says how to start one
/// (`--no-wait` first), and writes nothing.
#[test]
fn the_first_apply_against_an_envoy_not_up_suggests_no_wait() {
    let dir = tempfile::tempdir().unwrap();
    let ecds = dir.path().join("ecds");
    std::fs::create_dir(&ecds).unwrap();
    let wasm = support::wasm_module(dir.path());
    let file = dir.path().join("web.json");
    std::fs::write(
        &file,
        r#"{"services":[{"name":"web","variants":[{"name":"v1","cluster":"web_v1"}],"split":{"v1":10000}}]}"#,
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .args(["--envoy", ecds.to_str().unwrap()])
        .args(["--admin", &format!("http://127.0.0.1:{port}")])
        .args(["apply", "-f", file.to_str().unwrap(), "--wasm"])
        .arg(&wasm)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "write it without waiting, `veerctl apply -f FILE --wasm PATH --no-wait`, start Envoy"
        ),
        "{stderr}"
    );
    assert!(!ecds.join("veer.json").exists());
}
