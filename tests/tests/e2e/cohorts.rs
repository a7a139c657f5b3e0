//! Cohort rules route by header and by cookie ahead of the default split; requests for no known
//! service pass through untouched.

use serde_json::json;

use crate::support::{web_config, Rig};

fn cohort_config() -> serde_json::Value {
    let mut config = web_config(1, &[("v1", 10000)]);
    config["services"][0]["rules"] = json!([
        { "name": "beta-header", "match": { "header": "x-beta", "equals": "1" }, "variant": "v2" },
        { "name": "internal-cookie", "match": { "cookie": "team", "equals": "internal" }, "variant": "v3" },
        { "name": "mobile-app", "match": { "all": [
            { "header": "user-agent", "prefix": "VeerMobile/" },
            { "not": { "query": "classic", "present": true } }
        ] }, "variant": "v2" }
    ]);
    config["services"][0]["hosts"] = json!(["web.test", "*.web.test"]);
    config
}

#[test]
fn header_and_cookie_cohorts_beat_the_default_split() {
    let rig = Rig::start(&cohort_config());
    let get = |path: &str, headers: &[(&str, &[u8])]| {
        let mut all: Vec<(&str, &[u8])> = vec![("host", b"web.test")];
        all.extend_from_slice(headers);
        rig.client.get(path, &all).unwrap()
    };
    let cases: [(&str, &str, &[(&str, &[u8])], &str); 8] = [
        ("no cohort", "/", &[], "v1"),
        ("beta header", "/", &[("x-beta", b"1")], "v2"),
        ("beta header, other value", "/", &[("x-beta", b"yes")], "v1"),
        (
            "internal cookie",
            "/",
            &[("cookie", b"a=b; team=internal")],
            "v3",
        ),
        (
            "both: first rule wins",
            "/",
            &[("x-beta", b"1"), ("cookie", b"team=internal")],
            "v2",
        ),
        (
            "mobile app",
            "/",
            &[("user-agent", b"VeerMobile/2.1")],
            "v2",
        ),
        (
            "mobile app asking for classic",
            "/?classic=1",
            &[("user-agent", b"VeerMobile/2.1")],
            "v1",
        ),
        (
            "other cookie value",
            "/",
            &[("cookie", b"team=external")],
            "v1",
        ),
    ];
    for (label, path, headers, want) in cases {
        let reply = get(path, headers);
        assert_eq!(reply.status, 200, "{label}");
        assert_eq!(reply.served_by(), want, "{label}");
        assert_eq!(
            reply.seen("x-veer-variant"),
            Some(want),
            "{label}: variant header the app saw"
        );
    }
    let stats = rig.envoy.stats().unwrap();
    assert_eq!(stats.veer("rule.web.beta-header"), 2);
    assert_eq!(stats.veer("rule.web.internal-cookie"), 1);
    assert_eq!(stats.veer("rule.web.mobile-app"), 1);

    // A subdomain matches the wildcard host, with the port stripped.
    let sub = rig
        .client
        .get("/", &[("host", b"eu.web.test:8080"), ("x-beta", b"1")])
        .unwrap();
    assert_eq!(sub.served_by(), "v2");
}

#[test]
fn a_request_for_no_known_service_passes_through_untouched() {
    let rig = Rig::start(&cohort_config());
    let reply = rig
        .client
        .get("/", &[("host", b"elsewhere.test"), ("x-beta", b"1")])
        .unwrap();
    assert_eq!(reply.status, 200);
    // The bootstrap's fallback route (stable) served it, and Veer wrote nothing.
    assert_eq!(reply.served_by(), "v1");
    assert_eq!(reply.seen("x-veer-variant"), None);
    assert_eq!(reply.seen("x-veer-cluster"), None);
    assert_eq!(rig.envoy.stats().unwrap().veer("passthrough"), 1);
}
