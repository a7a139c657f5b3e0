//! `veerctl bootstrap` (issue 11.6): for the demo's clusters it renders the shipped template
//! (`deploy/envoy/envoy.yaml`) filled in, value for value, so the safety properties that file
//! documents hold for every bootstrap veerctl renders. (`tests/tests/e2e/bootstrap.rs` starts a
//! real Envoy on it.) And the first apply against an Envoy not yet up says how to start one.

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

fn template(ecds: &Path, wasm: &Path) -> Value {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/envoy/envoy.yaml"),
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
    assert_eq!(rendered, template(&ecds, &wasm), "{text}");
    // No config yet: it says Envoy will not start before the first one, and how to write it.
    assert!(
        stderr.contains("Envoy does not start before") && stderr.contains("--no-wait"),
        "{stderr}"
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
