//! The observed split from Prometheus, and the admin HTTP exchange.

use std::io::{Read, Write};
use std::net::TcpListener;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use veer_k8s::manifests::demo_config;
use veer_k8s::observe::{
    from_prometheus, from_prometheus_response, prometheus_name, prometheus_query,
};
use veer_k8s::port_forward::{http_get, VERSION_PATH};

#[test]
fn prometheus_names_and_query_label_each_pair() {
    assert_eq!(prometheus_name("web-app", "v1"), "veer_rq_web_app_v1");
    let q = prometheus_query(&demo_config(), None);
    assert_eq!(
        q,
        "label_replace(sum(veer_rq_web_v1), \"veer_pair\", \"web/v1\", \"\", \"\") or \
         label_replace(sum(veer_rq_web_v2), \"veer_pair\", \"web/v2\", \"\", \"\")"
    );
    let q = prometheus_query(&demo_config(), Some(std::time::Duration::from_secs(300)));
    assert!(
        q.starts_with("label_replace(sum(increase(veer_rq_web_v1[300s])),"),
        "{q}"
    );
}

fn answer() -> String {
    json!({ "status": "success", "data": { "resultType": "vector", "result": [
        { "metric": { "veer_pair": "web/v1" }, "value": [1.0, "750"] },
        { "metric": { "veer_pair": "web/v2" }, "value": [1.0, "250"] } ] } })
    .to_string()
}

#[test]
fn a_prometheus_answer_becomes_a_split() {
    let split = from_prometheus_response("http://p", &answer(), &demo_config()).expect("parse");
    assert_eq!(split.services[0].variants[1].share_bp, 2500);
    let err = from_prometheus_response(
        "http://p",
        r#"{"status":"error","error":"bad query"}"#,
        &demo_config(),
    )
    .expect_err("error");
    assert!(err.to_string().contains("bad query"), "{err}");
}

#[test]
fn from_prometheus_queries_the_http_api() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut buf = [0u8; 8192];
        let n = conn.read(&mut buf).expect("read");
        let request = String::from_utf8_lossy(&buf[..n]).into_owned();
        let body = answer();
        let response = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        conn.write_all(response.as_bytes()).expect("write");
        request
    });
    let split = from_prometheus(&url, &demo_config(), None).expect("query");
    let request = server.join().expect("server");
    assert!(
        request.starts_with("GET /api/v1/query?query=label_replace"),
        "{request}"
    );
    assert_eq!(split.services[0].total, 1000);
}

#[tokio::test]
async fn the_admin_stats_request_over_a_stream() {
    let (ours, mut envoy) = tokio::io::duplex(4096);
    let admin = tokio::spawn(async move {
        let mut buf = vec![0u8; 1024];
        let n = envoy.read(&mut buf).await.expect("read");
        let request = String::from_utf8_lossy(&buf[..n]).into_owned();
        let body = "wasmcustom.veer.rq.web.v1: 3\n";
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
    let text = http_get(ours, VERSION_PATH).await.expect("stats");
    let request = admin.await.expect("admin");
    assert!(
        request.starts_with(&format!("GET {VERSION_PATH} HTTP/1.1\r\n")),
        "{request}"
    );
    assert_eq!(text, "wasmcustom.veer.rq.web.v1: 3\n");
}
