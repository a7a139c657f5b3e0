//! A fake Kubernetes API server on 127.0.0.1 for the CLI's Kubernetes tests: it stores objects,
//! refuses stale writes with 409 and records every request; and veerctl run against it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

/// One request the fake API server received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `METHOD path?query`.
    pub line: String,
    /// Its content type.
    pub content_type: Option<String>,
    /// The JSON body; null when empty.
    pub body: Value,
}

pub type Log = Arc<Mutex<Vec<Seen>>>;

/// A fake API server holding `objects` by path. `GET` answers the stored object; `PUT` replaces
/// it when the body carries the stored resourceVersion (which then goes up by one) and answers
/// 409 Conflict otherwise, as the API server does; `PATCH` merges a JSON merge patch into it.
/// Before each of the first `concurrent` PUTs,
/// another writer replaces the object first (label `other-writer`, resourceVersion up by one).
/// Anything else is recorded and answered 404.
pub fn fake_api_with(objects: Vec<(&'static str, Value)>, concurrent: usize) -> (u16, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Log = Arc::default();
    let log = seen.clone();
    let mut objects = objects;
    let mut concurrent = concurrent;
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let (mut length, mut content_type) = (0usize, None);
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
                let lower = h.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if let Some(v) = lower.strip_prefix("content-type:") {
                    content_type = Some(v.trim().to_owned());
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let mut parts = line.split_whitespace();
            let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let path = target.split('?').next().unwrap_or("");
            log.lock().unwrap().push(Seen {
                line: format!("{method} {target}"),
                content_type,
                body: body.clone(),
            });
            let stored = objects.iter_mut().find(|(p, _)| *p == path).map(|(_, o)| o);
            let (status, doc) = match (method, stored) {
                ("GET", Some(obj)) => ("200 OK", obj.clone()),
                ("PUT", Some(obj)) => {
                    if concurrent > 0 {
                        concurrent -= 1;
                        obj["metadata"]["labels"]["other-writer"] = json!("yes");
                        bump(obj);
                    }
                    if body["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"] {
                        *obj = body;
                        bump(obj);
                        ("200 OK", obj.clone())
                    } else {
                        (
                            "409 Conflict",
                            status(409, "Conflict", "the object has been modified"),
                        )
                    }
                }
                ("PATCH", Some(obj)) => {
                    merge_patch(obj, &body);
                    bump(obj);
                    ("200 OK", obj.clone())
                }
                _ => ("404 Not Found", status(404, "NotFound", "not found")),
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

/// Applies a JSON merge patch (RFC 7386): maps merge, `null` removes, anything else replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    for (key, value) in fields {
        if value.is_null() {
            target.as_object_mut().unwrap().remove(key);
        } else {
            merge_patch(&mut target[key], value);
        }
    }
}

/// A fake API server with no concurrent writer.
pub fn fake_api(objects: Vec<(&'static str, Value)>) -> (u16, Log) {
    fake_api_with(objects, 0)
}

pub fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code, "message": message})
}

/// Raises an object's resourceVersion by one, as every write on the API server does.
pub fn bump(obj: &mut Value) {
    let rv: u64 = obj["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    obj["metadata"]["resourceVersion"] = json!((rv + 1).to_string());
}

/// The request lines the fake API server received, in order.
pub fn lines(seen: &Log) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .map(|s| s.line.clone())
        .collect()
}

pub fn kubeconfig(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: fake\nclusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: demo\nusers:\n- name: fake\n  user:\n    token: test\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

pub const PLUGIN: &str = "/apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/veer";
pub const PODS: &str = "/api/v1/namespaces/demo/pods";

/// The namespace's pods: none (the fake cannot port-forward to a sidecar).
pub fn no_pods() -> Value {
    json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": []})
}

/// What veerctl warns when a change has no sidecar to be verified in.
pub const NOT_VERIFIED: &str = "warning: no running pod with a sidecar matches WasmPlugin veer's \
                            selector (namespace demo); no proxy runs it, so nothing was verified live";

/// Asserts that veerctl exited with `code` and returns what it said on stderr.
pub fn exits(out: &std::process::Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    stderr
}

/// Runs the built veerctl against the fake API server on `port` (context namespace `demo`).
pub fn veerctl(port: u16, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .env("KUBECONFIG", kubeconfig(dir.path(), port))
        .env_remove("VEER_ENVOY_DIR")
        .args(args)
        .output()
        .unwrap()
}

/// Asserts that the fake API server was only read, never written.
pub fn assert_only_read(seen: &Log) {
    let requests = lines(seen);
    assert!(
        requests.iter().all(|r| r.starts_with("GET ")),
        "wrote: {requests:?}"
    );
}
