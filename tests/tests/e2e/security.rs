//! No client can pick its own cluster, variant or experiment arm by sending headers; a forced
//! variant needs a valid signature.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use veer_filter::signing;

use crate::support::{web_config, Rig};

const KEY: &str = "e2e-override-key-0123456789";

#[test]
fn spoofed_routing_and_assignment_headers_change_nothing() {
    let mut config = web_config(1, &[("v1", 10000)]);
    // The client's default Host is 127.0.0.1:<port>; other hosts belong to no service.
    config["services"][0]["hosts"] = json!(["127.0.0.1"]);
    config["services"][0]["experiments"] = json!([{
        "id": "checkout", "segment": { "header": "x-country", "equals": "de" },
        "arms": [ { "name": "a", "variant": "v1", "weight": 5000 }, { "name": "b", "variant": "v1", "weight": 5000 } ]
    }]);
    let rig = Rig::start(&config);
    let spoofs: [(&str, &[u8]); 3] = [
        ("x-veer-cluster", b"web_v3"),
        ("x-veer-variant", b"v3"),
        ("x-veer-experiment", b"checkout=b"),
    ];
    for i in 0..50 {
        let cookie = format!("uid=spoof-{i}");
        let mut headers: Vec<(&str, &[u8])> = spoofs.to_vec();
        headers.push(("cookie", cookie.as_bytes()));
        let reply = rig.client.get("/", &headers).unwrap();
        assert_eq!(
            reply.served_by(),
            "v1",
            "the spoofed cluster header chose the upstream"
        );
        assert_eq!(reply.seen("x-veer-cluster"), Some("web_v1"));
        assert_eq!(reply.seen("x-veer-variant"), Some("v1"));
        assert_eq!(
            reply.seen("x-veer-experiment"),
            None,
            "a spoofed assignment reached the app"
        );
    }
    // Also for a request that belongs to no service.
    let other = rig
        .client
        .get(
            "/",
            &[("host", b"elsewhere.test"), ("x-veer-cluster", b"web_v3")],
        )
        .unwrap();
    assert_eq!(other.served_by(), "v1");
    assert_eq!(other.seen("x-veer-cluster"), None);
    assert_eq!(
        rig.envoy.stats().unwrap().veer("spoofed_header_removed"),
        50 * 3 + 1
    );
}

#[test]
fn a_forced_variant_needs_a_valid_signature() {
    let mut config = web_config(1, &[("v1", 10000)]);
    config["override"] = json!({ "enabled": true, "keys": [KEY] });
    config["services"][0]["hosts"] = json!(["127.0.0.1"]);
    let rig = Rig::start(&config);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let valid = signing::sign(KEY.as_bytes(), "web", "v3", now + 600);
    let cases: [(&str, String, &str); 5] = [
        ("valid", valid.clone(), "v3"),
        ("unsigned", "v3".to_owned(), "v1"),
        (
            "wrong key",
            signing::sign(b"not-the-key-0123456789", "web", "v3", now + 600),
            "v1",
        ),
        (
            "expired",
            signing::sign(KEY.as_bytes(), "web", "v3", now - 1),
            "v1",
        ),
        ("tampered", valid.replace(".v3.", ".v2."), "v1"),
    ];
    for (label, value, want) in &cases {
        let reply = rig
            .client
            .get("/", &[("x-veer-override", value.as_bytes())])
            .unwrap();
        assert_eq!(reply.served_by(), *want, "{label}");
        assert_eq!(
            reply.seen("x-veer-override"),
            None,
            "{label}: the override credential reached the app"
        );
    }
    // A request for no service does not leak the credential to the app either, and the
    // override, which forces nothing there, is counted as rejected.
    let other = rig
        .client
        .get(
            "/",
            &[
                ("host", b"elsewhere.test"),
                ("x-veer-override", valid.as_bytes()),
            ],
        )
        .unwrap();
    assert_eq!(other.seen("x-veer-override"), None);
    let stats = rig.envoy.stats().unwrap();
    assert_eq!(stats.veer("override.accepted"), 1);
    assert_eq!(stats.veer("override.rejected"), 5);
    assert_eq!(stats.veer("passthrough"), 1);
}

/// By default the upstream is not told its variant (each variant is usually its own
/// deployment, and each header write costs Envoy a route selection): only the cluster header is
/// written. A client-sent variant header is removed all the same: Veer owns it either way.
#[test]
fn the_variant_header_is_written_only_when_asked_for_and_never_passes_from_a_client() {
    let mut config = web_config(1, &[("v2", 10000)]);
    config["headers"] = json!({});
    let rig = Rig::start(&config);
    for i in 0..10 {
        let cookie = format!("uid=default-{i}");
        let reply = rig
            .client
            .get(
                "/",
                &[("cookie", cookie.as_bytes()), ("x-veer-variant", b"v3")],
            )
            .unwrap();
        assert_eq!(reply.served_by(), "v2");
        assert_eq!(reply.seen("x-veer-cluster"), Some("web_v2"));
        assert_eq!(
            reply.seen("x-veer-variant"),
            None,
            "a variant header reached the app"
        );
    }
    assert_eq!(
        rig.envoy.stats().unwrap().veer("spoofed_header_removed"),
        10
    );
}
