//! Hostile input never panics the filter and never turns into a 5xx.

use serde_json::json;
use veer_e2e::client::raw_request;

use crate::support::{web_config, Rig};

fn hostile_config() -> serde_json::Value {
    let mut config = web_config(1, &[("v1", 5000), ("v2", 5000)]);
    config["stickiness"]["sources"] =
        json!([{ "cookie": "uid" }, { "query": "uid" }, { "header": "x-user-id" }]);
    config["services"][0]["rules"] = json!([
        { "name": "beta", "match": { "any": [
            { "cookie": "beta", "equals": "1" }, { "query": "beta", "present": true }, { "header": "x-beta", "prefix": "y" }
        ] }, "variant": "v3" }
    ]);
    config["services"][0]["experiments"] = json!([{
        "id": "exp", "segment": { "path_prefix": "/shop" },
        "arms": [ { "name": "a", "variant": "v1", "weight": 5000 }, { "name": "b", "variant": "v2", "weight": 5000 } ]
    }]);
    config["override"] = json!({ "enabled": true, "keys": ["hostile-test-key-0123456789"] });
    config
}

#[test]
fn hostile_headers_cookies_and_keys_give_no_panic_and_no_5xx() {
    let rig = Rig::start(&hostile_config());
    let huge = vec![b'a'; 40 * 1024];
    let many_cookies: String =
        (0..400).map(|i| format!("c{i}=v{i}; ")).collect::<String>() + "uid=last";
    let binary: Vec<u8> = (0x80u8..=0xff).collect();
    let cases: Vec<(&str, Vec<(&str, Vec<u8>)>)> = vec![
        ("huge header", vec![("x-user-id", huge.clone())]),
        (
            "huge cookie",
            vec![("cookie", [b"uid=".as_slice(), &huge].concat())],
        ),
        (
            "hundreds of cookies",
            vec![("cookie", many_cookies.into_bytes())],
        ),
        (
            "non-UTF-8 cookie",
            vec![(
                "cookie",
                [b"uid=".as_slice(), &binary, b"; beta=\xff"].concat(),
            )],
        ),
        (
            "non-UTF-8 header",
            vec![("x-user-id", binary.clone()), ("x-beta", b"y\xfe".to_vec())],
        ),
        (
            "non-UTF-8 override",
            vec![("x-veer-override", binary.clone())],
        ),
        (
            "garbage override",
            vec![("x-veer-override", b"v1.....".to_vec())],
        ),
        (
            "empty keys",
            vec![("cookie", b"uid=".to_vec()), ("x-user-id", Vec::new())],
        ),
        (
            "cookie without value",
            vec![("cookie", b"uid; ;=;==;uid==".to_vec())],
        ),
        (
            "spoofed cluster naming nothing",
            vec![("x-veer-cluster", b"no-such-cluster".to_vec())],
        ),
    ];
    for (label, headers) in &cases {
        let refs: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        for path in ["/", "/shop?uid=&beta", "/shop?uid=%ff%fe&x=%"] {
            let reply = rig
                .client
                .get(path, &refs)
                .unwrap_or_else(|e| panic!("{label} {path}: {e}"));
            assert!(
                reply.status < 500,
                "{label} {path}: status {} {:?}\n{}",
                reply.status,
                reply.body,
                wasm_log(&rig)
            );
        }
    }
    let raw_cases: [(&str, &[u8]); 4] = [
        (
            "non-UTF-8 path",
            b"GET /\xff\xfe?uid=\xff HTTP/1.1\r\nhost: x\r\n\r\n",
        ),
        (
            "non-UTF-8 host",
            b"GET / HTTP/1.1\r\nhost: \xff\xfe:99999\r\ncookie: uid=\xff\r\n\r\n",
        ),
        ("no host", b"GET /shop HTTP/1.0\r\n\r\n"),
        (
            "empty cookie header",
            b"GET / HTTP/1.1\r\nhost: a\r\ncookie:\r\n\r\n",
        ),
    ];
    for (label, request) in raw_cases {
        let status = raw_request(rig.envoy.port(), request).unwrap();
        assert!(status < 500, "{label}: status {status}\n{}", wasm_log(&rig));
    }
    // The filter is still alive and routing after all of it.
    for i in 0..20 {
        let reply = rig.client.get_as(&format!("after-{i}")).unwrap();
        assert_eq!(reply.status, 200);
        assert!(
            reply.seen("x-veer-variant").is_some(),
            "the filter no longer decides"
        );
    }
    let log = rig.envoy.log();
    assert!(!log.contains("panicked"), "the filter panicked:\n{log}");
}

/// The filter's lines of Envoy's log, to explain a failure.
fn wasm_log(rig: &Rig) -> String {
    rig.envoy
        .log()
        .lines()
        .filter(|l| l.contains("wasm") || l.contains("panic"))
        .collect::<Vec<_>>()
        .join("\n")
}
