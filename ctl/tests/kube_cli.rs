//! veerctl's Kubernetes wiring, end to end through the binary: kubeconfig and context namespace,
//! `--dry-run` planning without writing, and exit codes. The API server is a fake on 127.0.0.1
//! that serves fixed objects and records every request; the operations themselves are tested in
//! veer-k8s (contract tests and flows).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

/// One request the fake API server received: `METHOD path?query` and the JSON body (null when
/// empty).
type Seen = Arc<Mutex<Vec<(String, Value)>>>;

/// A fake API server: `GET path` answers from `objects`; a `PUT` to one of those paths answers
/// with the body it received (a write that succeeds); anything else is recorded and refused.
fn fake_api(objects: Vec<(&'static str, Value)>) -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut length = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let mut parts = line.split_whitespace();
            let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let path = target.split('?').next().unwrap_or("");
            log.lock()
                .unwrap()
                .push((format!("{method} {target}"), body.clone()));
            let known = objects.iter().find(|(p, _)| *p == path);
            let (status, doc) = match (method, known) {
                ("GET", Some((_, obj))) => ("200 OK", obj.clone()),
                ("PUT", Some(_)) => ("200 OK", body),
                _ => (
                    "404 Not Found",
                    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"}),
                ),
            };
            let text = doc.to_string();
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (port, seen)
}

/// The request lines the fake API server received, in order.
fn lines(seen: &Seen) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|(l, _)| l.clone())
        .collect()
}

fn kubeconfig(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: fake\nclusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: demo\nusers:\n- name: fake\n  user:\n    token: test\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn objects() -> Vec<(&'static str, Value)> {
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "shop", "namespace": "demo", "resourceVersion": "7"},
        "spec": {"selector": {"app": "shop", "veer.dev/color": "blue"}, "ports": [{"port": 80}]}
    });
    let green = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "shop-green", "namespace": "demo", "generation": 1, "resourceVersion": "9"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "shop", "veer.dev/color": "green"}},
                 "template": {"metadata": {"labels": {"app": "shop", "veer.dev/color": "green"}},
                              "spec": {"containers": [{"name": "app", "image": "shop:2"}]}}},
        "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}
    });
    vec![
        ("/api/v1/namespaces/demo/services/shop", service),
        (
            "/apis/apps/v1/namespaces/demo/deployments/shop-green",
            green,
        ),
    ]
}

#[test]
fn dry_run_switch_plans_the_selector_patch_in_the_contexts_namespace_and_sends_nothing() {
    let (port, seen) = fake_api(objects());
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .env("KUBECONFIG", kubeconfig(dir.path(), port))
        .env_remove("VEER_ENVOY_DIR")
        .args(["--dry-run", "bluegreen", "switch", "shop"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("PATCH /api/v1/namespaces/demo/services/shop"),
        "{stdout}"
    );
    assert!(stdout.contains("application/merge-patch+json"), "{stdout}");
    assert!(
        stdout.contains("\"veer.dev/color\": \"green\"")
            || stdout.contains("\"veer.dev/color\":\"green\""),
        "{stdout}"
    );
    let requests = lines(&seen);
    assert!(
        requests.iter().all(|r| r.starts_with("GET ")),
        "a dry run wrote: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains("/deployments/shop-green")),
        "availability was checked: {requests:?}"
    );
}

#[test]
fn missing_objects_and_missing_kubeconfig_fail_with_what_to_do() {
    let (port, seen) = fake_api(objects());
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .env("KUBECONFIG", kubeconfig(dir.path(), port))
        .env_remove("VEER_ENVOY_DIR")
        .args(["-n", "other", "bluegreen", "switch", "shop"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("create the Service first"),
        "says what to do: {stderr}"
    );
    let requests = lines(&seen);
    assert_eq!(
        requests,
        ["GET /api/v1/namespaces/other/services/shop"],
        "-n overrides the context's namespace"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .env("KUBECONFIG", dir.path().join("missing"))
        .env_remove("VEER_ENVOY_DIR")
        .args(["canary", "set-weight", "web", "v2", "20"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("set KUBECONFIG or --context") && stderr.contains("--envoy DIR"),
        "{stderr}"
    );
}

const PLUGIN: &str = "/apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/veer";

/// WasmPlugin `veer` at resourceVersion 3, config version 4: service shop on v1, experiment
/// `checkout` running.
fn shop_plugin() -> Value {
    json!({
        "apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
        "metadata": {"name": "veer", "namespace": "demo", "resourceVersion": "3"},
        "spec": {
            "url": "oci://registry.example/veer:1", "failStrategy": "FAIL_CLOSE",
            "pluginConfig": {
                "version": 4,
                "services": [{
                    "name": "shop",
                    "variants": [{"name": "v1", "cluster": "shop_v1"}, {"name": "v2", "cluster": "shop_v2"}],
                    "split": {"v1": 10000},
                    "experiments": [{
                        "id": "checkout", "allocation": 5000,
                        "arms": [{"name": "control", "variant": "v1", "weight": 5000},
                                 {"name": "one-click", "variant": "v2", "weight": 5000}]
                    }]
                }]
            }
        }
    })
}

#[test]
fn experiment_list_reads_the_wasmplugins_config() {
    let (port, seen) = fake_api(vec![(PLUGIN, shop_plugin())]);
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .env("KUBECONFIG", kubeconfig(dir.path(), port))
        .env_remove("VEER_ENVOY_DIR")
        .args(["-o", "json", "experiment", "list"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let arms: Vec<(&str, &str, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["id"], "checkout", "{r}");
            assert_eq!(r["allocation"], "50%", "{r}");
            assert_eq!(r["assigned"], Value::Null, "{r}");
            (
                r["arm"].as_str().unwrap(),
                r["variant"].as_str().unwrap(),
                r["weight"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(arms, [("control", "v1", "50%"), ("one-click", "v2", "50%")]);
    let requests = lines(&seen);
    assert!(
        requests.iter().all(|r| r.starts_with("GET ")),
        "listing wrote: {requests:?}"
    );
}

#[test]
fn experiment_start_writes_the_wasmplugin_with_the_read_resource_version() {
    let (port, seen) = fake_api(vec![(PLUGIN, shop_plugin())]);
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .env("KUBECONFIG", kubeconfig(dir.path(), port))
        .env_remove("VEER_ENVOY_DIR")
        .args([
            "experiment",
            "start",
            "shop",
            "banner",
            "--arm",
            "old=v1:50",
            "--arm",
            "new=v2:50",
            "--allocation",
            "20",
            "--segment",
            "header:x-beta=1",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("experiment start shop banner: WasmPlugin veer now carries version 5"),
        "{stdout}"
    );
    let seen = seen.lock().unwrap().clone();
    let methods: Vec<&str> = seen.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        methods,
        [
            format!("GET {PLUGIN}"),
            format!("PUT {PLUGIN}?&fieldManager=veerctl")
        ]
    );
    let put = &seen[1].1;
    assert_eq!(put["metadata"]["resourceVersion"], "3", "{put}");
    let config = &put["spec"]["pluginConfig"];
    assert_eq!(config["version"], 5, "{config}");
    let experiments = &config["services"][0]["experiments"];
    assert_eq!(experiments[0]["id"], "checkout", "the running one is kept");
    assert_eq!(
        experiments[1],
        json!({
            "id": "banner", "allocation": 2000,
            "segment": {"header": "x-beta", "equals": "1"},
            "arms": [{"name": "old", "variant": "v1", "weight": 5000},
                     {"name": "new", "variant": "v2", "weight": 5000}]
        })
    );
}
