//! The dynamic module only (`VEER_BUILD=native`): Envoy accepts its ABI version, and a panic in
//! the module is caught at the FFI boundary: Envoy keeps running and serving, the request that
//! panicked is served on the stable route with no client-sent Veer header, and the next requests
//! are routed by Veer again. The module that panics on purpose is Veer's own, built with its
//! `crash-test` feature (`tests/crash-module`).

use std::time::Duration;

use veer_e2e::{Client, Envoy, Filter, Upstream};

use crate::support::{web_config, Rig};

#[test]
fn envoy_loads_the_module_as_built_for_its_abi() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    let log = rig.envoy.log();
    assert!(
        log.contains("Dynamic module ABI version v0.2.0 matched."),
        "Envoy did not report a matching ABI version:\n{log}"
    );
    assert!(!log.contains("is deprecated"), "{log}");
    // The module `make native` builds has no crash injection (the crash-test feature stayed in
    // the test module's own build).
    let reply = rig.client.get("/", &[("x-test-crash", b"1")]).unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(rig.envoy.stats().unwrap().veer("panic"), 0);
}

/// Everyone on v2 (stable, the fallback route, is v1): who served a request shows whether Veer
/// decided it.
fn all_on_v2(client: &Client, label: &str) {
    for i in 0..20 {
        let reply = client.get_as(&format!("{label}-{i}")).unwrap();
        assert_eq!(reply.status, 200, "{label}: {reply:?}");
        assert_eq!(reply.served_by(), "v2", "{label}: Veer did not route");
        assert_eq!(reply.seen("x-veer-variant"), Some("v2"), "{label}");
    }
}

#[test]
fn a_panic_in_the_module_is_caught_and_envoy_keeps_serving() {
    let upstreams: Vec<Upstream> = ["v1", "v2", "v3"]
        .iter()
        .map(|n| Upstream::start(n, 0).unwrap())
        .collect();
    let refs: Vec<&Upstream> = upstreams.iter().collect();
    let config = web_config(1, &[("v2", 10000)]);
    let envoy = Envoy::start_with(&config.to_string(), &refs, Filter::crashing()).unwrap();
    envoy
        .wait_for_version(1, Duration::from_secs(20))
        .expect("the crash-test module runs Veer's config");
    let client = Client::new(envoy.port());
    all_on_v2(&client, "before");

    const CRASHES: u64 = 30;
    for i in 0..CRASHES {
        let cookie = format!("uid=crash-{i}");
        let reply = client
            .get(
                "/",
                &[
                    ("x-test-crash", b"1"),
                    ("cookie", cookie.as_bytes()),
                    ("x-veer-cluster", b"web_v3"),
                    ("x-veer-variant", b"v3"),
                    ("x-veer-experiment", b"checkout=b"),
                ],
            )
            .unwrap();
        assert_eq!(reply.status, 200, "crash {i}: {reply:?}");
        assert_eq!(
            reply.served_by(),
            "v1",
            "crash {i}: not the stable route (a client-sent cluster header may have chosen)"
        );
        for h in ["x-veer-cluster", "x-veer-variant", "x-veer-experiment"] {
            assert_eq!(reply.seen(h), None, "crash {i}: {h} reached the app");
        }
    }
    let log = envoy.log();
    assert!(log.contains("crashing on purpose"), "{log}");
    assert!(log.contains("veer: request hook panicked"), "{log}");
    assert_eq!(envoy.stats().unwrap().veer("panic"), CRASHES);

    // The same Envoy process, still routing with Veer.
    all_on_v2(&client, "after");
    assert_eq!(envoy.stats().unwrap().veer("panic"), CRASHES);
}
