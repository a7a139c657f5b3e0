//! The observed split from Prometheus, and the admin HTTP exchange.

use std::io::{Read, Write};
use std::net::TcpListener;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use veer_k8s::manifests::demo_config;
use veer_k8s::observe::{
    from_prometheus, from_prometheus_response, prometheus_name, prometheus_query, status_counters,
};
use veer_k8s::port_forward::{bounded, http_get, VERSION_PATH};

/// The demo config with an experiment, so every kind of counter is asked for.
fn config() -> veer_filter::config::WireConfig {
    let mut c = demo_config();
    c.services[0].experiments = vec![serde_json::from_value(json!({
        "id": "checkout",
        "arms": [
            { "name": "a", "variant": "v1", "weight": 5000 },
            { "name": "b", "variant": "v2", "weight": 5000 }
        ]
    }))
    .expect("experiment")];
    c
}

#[test]
fn prometheus_names_and_query_label_each_stat() {
    assert_eq!(
        prometheus_name("split.web-app.v1").unwrap(),
        r#"veer_split_requests_total{service="web-app",variant="v1"}"#
    );
    assert_eq!(
        prometheus_name("rs.web.v1.5xx").unwrap(),
        r#"veer_responses_total{service="web",variant="v1",status_class="5xx"}"#
    );
    assert_eq!(prometheus_name("nonsense"), None);
    assert_eq!(
        status_counters(&config()),
        [
            "rq.web.v1",
            "split.web.v1",
            "rs.web.v1.5xx",
            "rq.web.v2",
            "split.web.v2",
            "rs.web.v2.5xx",
            "exp.web.checkout.a",
            "exp.web.checkout.b"
        ]
    );
    let q = prometheus_query(&config(), None);
    assert!(
        q.starts_with(
            "label_replace(sum(veer_requests_total{service=\"web\",variant=\"v1\"}), \"veer_stat\", \"rq.web.v1\", \"\", \"\") or \
             label_replace(sum(veer_split_requests_total{service=\"web\",variant=\"v1\"}), \"veer_stat\", \"split.web.v1\", \"\", \"\") or "
        ),
        "{q}"
    );
    assert!(
        q.ends_with(
            " or label_replace(min(veer_config_version), \"veer_stat\", \"config.version\", \"\", \"\")"
        ),
        "{q}"
    );
    assert_eq!(q.matches(" or ").count(), 8, "{q}");
    let q = prometheus_query(&config(), Some(std::time::Duration::from_secs(300)));
    assert!(
        q.starts_with(
            "label_replace(sum(increase(veer_requests_total{service=\"web\",variant=\"v1\"}[300s])),"
        ),
        "{q}"
    );
    // The version is a gauge: never an increase.
    assert!(q.contains("min(veer_config_version)"), "{q}");
}

fn answer() -> String {
    json!({ "status": "success", "data": { "resultType": "vector", "result": [
        { "metric": { "veer_stat": "split.web.v1" }, "value": [1.0, "749.6"] },
        { "metric": { "veer_stat": "split.web.v2" }, "value": [1.0, "250"] },
        { "metric": { "veer_stat": "config.version" }, "value": [1.0, "7"] },
        { "metric": { "other": "x" }, "value": [1.0, "9"] } ] } })
    .to_string()
}

#[test]
fn a_prometheus_answer_becomes_counters_by_stat_name() {
    let values = from_prometheus_response("http://p", &answer()).expect("parse");
    let expected: Vec<(&str, u64)> = vec![
        ("config.version", 7),
        ("split.web.v1", 750),
        ("split.web.v2", 250),
    ];
    assert_eq!(
        values
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect::<Vec<_>>(),
        expected
    );
    let err = from_prometheus_response("http://p", r#"{"status":"error","error":"bad query"}"#)
        .expect_err("error");
    assert!(err.to_string().contains("bad query"), "{err}");
    let bad = json!({ "status": "success", "data": { "result": [
        { "metric": { "veer_stat": "rq.web.v1" }, "value": [1.0, "many"] } ] } });
    let err = from_prometheus_response("http://p", &bad.to_string()).expect_err("not a number");
    assert!(err.to_string().contains("\"many\" of rq.web.v1"), "{err}");
}

#[test]
fn from_prometheus_queries_the_http_api() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut buf = [0u8; 16384];
        let n = conn.read(&mut buf).expect("read");
        let request = String::from_utf8_lossy(&buf[..n]).into_owned();
        let body = answer();
        let response = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        conn.write_all(response.as_bytes()).expect("write");
        request
    });
    let values = from_prometheus(&url, &config(), None).expect("query");
    let request = server.join().expect("server");
    assert!(
        request.starts_with("GET /api/v1/query?query=label_replace"),
        "{request}"
    );
    assert_eq!(values["split.web.v1"] + values["split.web.v2"], 1000);
}

#[tokio::test]
async fn the_admin_stats_request_over_a_stream() {
    let (ours, mut envoy) = tokio::io::duplex(4096);
    let admin = tokio::spawn(async move {
        let mut buf = vec![0u8; 1024];
        let n = envoy.read(&mut buf).await.expect("read");
        let request = String::from_utf8_lossy(&buf[..n]).into_owned();
        let body = "wasmcustom.veer.requests_total.web.v1: 3\n";
        let chunked = format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
        envoy
            .write_all(
                format!("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{chunked}")
                    .as_bytes(),
            )
            .await
            .expect("write");
        request
    });
    let text = http_get(ours, &VERSION_PATH).await.expect("stats");
    let request = admin.await.expect("admin");
    assert!(
        request.starts_with(&format!("GET {} HTTP/1.1\r\n", *VERSION_PATH)),
        "{request}"
    );
    assert_eq!(text, "wasmcustom.veer.requests_total.web.v1: 3\n");
}

/// A sidecar that accepts and never answers does not hang a read: it ends with an error that
/// names the pod (time is paused, so the test does not wait the 10 s).
#[tokio::test(start_paused = true)]
async fn a_read_that_never_answers_is_given_up() {
    let (ours, _envoy) = tokio::io::duplex(64);
    let err = bounded("client-a", 15000, async move {
        http_get(ours, &VERSION_PATH)
            .await
            .map_err(|reason| veer_k8s::Error::Stats {
                source_name: "pod client-a".into(),
                reason,
            })
    })
    .await
    .expect_err("given up");
    assert!(
        err.to_string().contains("pod client-a port 15000")
            && err.to_string().contains("no answer within 10s"),
        "{err}"
    );
}
