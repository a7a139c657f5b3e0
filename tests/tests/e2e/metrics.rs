//! Veer's metrics as a live Envoy exports them, in `/stats` and `/stats/prometheus`, counted
//! exactly against the responses the test received.

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{tally, web_config, Rig};

/// Requests sent; each user once.
const N: usize = 40;

/// `/stats/prometheus` as name (with labels) -> value.
fn prometheus(rig: &Rig) -> BTreeMap<String, f64> {
    rig.envoy
        .admin_get("/stats/prometheus")
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(name, v)| Some((name.to_owned(), v.parse().ok()?)))
        .collect()
}

/// Envoy merges histograms into its admin output on its stats flush (every 5 s by default);
/// waits for the one that holds all `n` latencies.
fn prometheus_with_latencies(rig: &Rig, n: f64) -> BTreeMap<String, f64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let p = prometheus(rig);
        let count: f64 = ["v1", "v2", "v3"]
            .iter()
            .map(|v| {
                p.get(&format!("veer_latency_us_web_{v}_count{{}}"))
                    .copied()
                    .unwrap_or(0.0)
            })
            .sum();
        if count >= n || Instant::now() > deadline {
            return p;
        }
        thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn request_response_and_latency_metrics_count_every_request_exactly() {
    let rig = Rig::start(&web_config(1, &[("v1", 5000), ("v2", 5000)]));
    let served = rig.serve_users("metrics", N);
    let counts = tally(served.iter().map(|(_, s)| s.as_str()));
    let on = |v: &str| counts.get(v).copied().unwrap_or(0);
    assert!(
        on("v1") > 0 && on("v2") > 0,
        "both variants served: {counts:?}"
    );

    let stats = rig.envoy.stats().unwrap();
    for v in ["v1", "v2", "v3"] {
        assert_eq!(stats.veer(&format!("rq.web.{v}")), on(v), "rq.web.{v}");
        assert_eq!(
            stats.veer(&format!("split.web.{v}")),
            on(v),
            "split.web.{v}"
        );
        assert_eq!(
            stats.veer(&format!("rs.web.{v}.2xx")),
            on(v),
            "rs.web.{v}.2xx"
        );
        for class in ["1xx", "3xx", "4xx", "5xx"] {
            assert_eq!(
                stats.veer(&format!("rs.web.{v}.{class}")),
                0,
                "rs.web.{v}.{class}"
            );
        }
    }
    assert_eq!(stats.veer("config.version"), 1);

    // Prometheus: no `wasmcustom.` prefix, dots as underscores, the same exact counts, and the
    // latency histogram with one observation per response.
    let p = prometheus_with_latencies(&rig, N as f64);
    let prom = |name: &str| p.get(&format!("{name}{{}}")).copied();
    for v in ["v1", "v2", "v3"] {
        let n = on(v) as f64;
        assert_eq!(
            prom(&format!("veer_rq_web_{v}")),
            Some(n),
            "veer_rq_web_{v}"
        );
        assert_eq!(
            prom(&format!("veer_rs_web_{v}_2xx")),
            Some(n),
            "veer_rs_web_{v}_2xx"
        );
        assert_eq!(prom(&format!("veer_rs_web_{v}_5xx")), Some(0.0));
        let latency = format!("veer_latency_us_web_{v}");
        assert_eq!(
            prom(&format!("{latency}_count")),
            Some(n),
            "{latency}_count"
        );
        assert_eq!(
            p.get(&format!("{latency}_bucket{{le=\"+Inf\"}}")).copied(),
            Some(n),
            "{latency} +Inf bucket"
        );
        let sum = prom(&format!("{latency}_sum")).unwrap();
        assert_eq!(sum > 0.0, n > 0.0, "{latency}_sum = {sum}");
    }
    assert_eq!(prom("veer_config_version"), Some(1.0));
    // `veerctl status --prometheus` asks Prometheus for these names: each is one Envoy exports.
    let wire = serde_json::from_value(web_config(1, &[("v1", 5000), ("v2", 5000)])).unwrap();
    for stat in veer_k8s::observe::status_counters(&wire)
        .iter()
        .map(String::as_str)
        .chain([veer_k8s::observe::VERSION_STAT])
    {
        let name = veer_k8s::observe::prometheus_name(stat);
        assert!(prom(&name).is_some(), "{stat} is not exported as {name}");
    }
    assert!(
        !p.keys()
            .any(|k| k.starts_with("wasmcustom") || k.starts_with("envoy_veer")),
        "Veer's metrics are exported without a prefix"
    );
    // /stats shows the histogram's percentiles once it has values.
    let text = rig.envoy.stats().unwrap();
    assert!(text
        .text("wasmcustom.veer.latency_us.web.v1")
        .starts_with("P0("));
    assert_eq!(
        text.text("wasmcustom.veer.latency_us.web.v3"),
        "No recorded values"
    );
}

#[test]
fn config_counters_count_each_accepted_and_rejected_update() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    // Every wasm VM (main thread and each worker) runs on_configure: one count per VM. At start
    // the bootstrap's fallback config (default_config) is configured too, so one update's count
    // is what the next update adds.
    let at_start = rig.envoy.stats().unwrap().veer("config.accepted");
    assert!(at_start > 0);
    assert_eq!(
        prometheus(&rig).get("veer_config_accepted{}").copied(),
        Some(at_start as f64)
    );

    rig.apply(&web_config(2, &[("v1", 5000), ("v2", 5000)]));
    let stats = rig.envoy.stats().unwrap();
    let per_update = stats.veer("config.accepted") - at_start;
    assert!(per_update > 0);
    assert_eq!(stats.veer("config.rejected"), 0);

    let rejected = "extension_config_discovery.http_filter.veer.update_rejected";
    rig.envoy
        .push(&web_config(3, &[("v1", 5000), ("v2", 4000)]).to_string())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while rig.envoy.stats().unwrap().get(rejected) == 0 {
        assert!(
            Instant::now() < deadline,
            "not rejected:\n{}",
            rig.envoy.log()
        );
        thread::sleep(Duration::from_millis(20));
    }
    // Envoy stops at the first VM that refuses the update: one rejection, nothing accepted.
    let stats = rig.envoy.stats().unwrap();
    assert_eq!(stats.veer("config.rejected"), 1);
    assert_eq!(stats.veer("config.accepted"), at_start + per_update);
    assert_eq!(stats.veer("config.version"), 2);
    let p = prometheus(&rig);
    assert_eq!(p.get("veer_config_rejected{}").copied(), Some(1.0));
    assert_eq!(p.get("veer_config_version{}").copied(), Some(2.0));
}
