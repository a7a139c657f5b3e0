//! What the filter sees of a request's path and host: the shipped bootstrap normalises paths
//! before the filter and the route read them, and a host matches however it is written (port,
//! trailing dot), so no spelling of a URL reaches a service it does not belong to, or misses one
//! it does.

use serde_json::json;
use veer_e2e::client::raw_reply;

use crate::support::{web_config, Rig};

/// `api` (path `/api`) is served by v2, `web.example.com` by v3, everything else by `web` on v1.
fn config() -> serde_json::Value {
    let mut config = web_config(1, &[("v1", 10000)]);
    let web = config["services"][0].clone();
    let mut api = web.clone();
    api["name"] = json!("api");
    api["path_prefix"] = json!("/api");
    api["split"] = json!({ "v2": 10000 });
    let mut named = web.clone();
    named["name"] = json!("named");
    named["hosts"] = json!(["web.example.com"]);
    named["split"] = json!({ "v3": 10000 });
    config["services"] = json!([named, api, web]);
    config
}

fn get(rig: &Rig, host: &str, path: &str) -> (String, String) {
    let request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n");
    let reply = raw_reply(rig.envoy.port(), request.as_bytes()).unwrap();
    assert_eq!(reply.status, 200, "{host}{path}: {reply:?}");
    (
        reply.served_by().to_owned(),
        reply.header("x-seen-path").unwrap_or("").to_owned(),
    )
}

#[test]
fn paths_are_routed_as_the_upstream_reads_them() {
    let rig = Rig::start(&config());
    for (path, service_upstream, upstream_path) in [
        ("/api/x", "v2", "/api/x"),
        ("/api/../x", "v1", "/x"),
        ("/api%2F..%2Fx", "v1", "/x"),
        ("/api%2f..%2fx", "v1", "/x"),
        ("/api%5C..%5Cx", "v1", "/x"),
        ("/api/%2e%2e/x", "v1", "/x"),
        ("//api", "v2", "/api"),
        ("/x/../api", "v2", "/api"),
        ("/x/./../api/./y", "v2", "/api/y"),
        ("/api/x?next=/../y", "v2", "/api/x?next=/../y"),
    ] {
        assert_eq!(
            get(&rig, "127.0.0.1", path),
            (service_upstream.to_owned(), upstream_path.to_owned()),
            "path {path}"
        );
    }
}

#[test]
fn hosts_match_with_a_port_or_a_trailing_dot_in_any_case() {
    let rig = Rig::start(&config());
    for host in [
        "web.example.com",
        "web.example.com.",
        "WEB.Example.COM.",
        "web.example.com:8080",
        "web.example.com.:8080",
    ] {
        assert_eq!(get(&rig, host, "/").0, "v3", "host {host}");
    }
    for host in ["web.example.com..", "xweb.example.com", "web.example.comx"] {
        assert_eq!(get(&rig, host, "/").0, "v1", "host {host}");
    }
}
