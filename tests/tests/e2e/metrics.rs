//! Veer's metrics as a live Envoy exports them, in `/stats` and `/stats/prometheus`, counted
//! exactly against the responses the test received. The filter publishes its counts on a
//! timer: `Envoy::stats` waits until none is pending, so every reading here is complete.

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant};

use veer_e2e::Build;

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
                p.get(&format!(
                    r#"veer_response_latency_microseconds_count{{service="web",variant="{v}"}}"#
                ))
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

    // Prometheus: no `wasmcustom.` (or `dynamicmodulescustom.`) prefix, one family per metric
    // with the service, variant and status class as labels (the bootstrap's stats_tags), the same
    // exact counts, and the latency histogram with one observation per response.
    let p = prometheus_with_latencies(&rig, N as f64);
    let prom = |series: &str| p.get(series).copied();
    for v in ["v1", "v2", "v3"] {
        let n = on(v) as f64;
        let labels = format!(r#"service="web",variant="{v}""#);
        let requests = format!("veer_requests_total{{{labels}}}");
        assert_eq!(prom(&requests), Some(n), "{requests}");
        let ok = format!(r#"veer_responses_total{{{labels},status_class="2xx"}}"#);
        assert_eq!(prom(&ok), Some(n), "{ok}");
        let errors = format!(r#"veer_responses_total{{{labels},status_class="5xx"}}"#);
        assert_eq!(prom(&errors), Some(0.0), "{errors}");
        let latency = "veer_response_latency_microseconds";
        assert_eq!(
            prom(&format!("{latency}_count{{{labels}}}")),
            Some(n),
            "{latency}_count{{{labels}}}"
        );
        assert_eq!(
            prom(&format!(r#"{latency}_bucket{{{labels},le="+Inf"}}"#)),
            Some(n),
            "{latency} +Inf bucket of {v}"
        );
        let sum = prom(&format!("{latency}_sum{{{labels}}}")).unwrap();
        assert_eq!(sum > 0.0, n > 0.0, "{latency}_sum of {v} = {sum}");
    }
    assert_eq!(prom("veer_config_version{}"), Some(1.0));
    // `veerctl status --prometheus` asks Prometheus for these series: each is one Envoy exports.
    let wire = serde_json::from_value(web_config(1, &[("v1", 5000), ("v2", 5000)])).unwrap();
    for stat in veer_k8s::observe::status_counters(&wire)
        .iter()
        .map(String::as_str)
        .chain([veer_k8s::observe::VERSION_STAT.as_str()])
    {
        let name = veer_k8s::observe::prometheus_name(stat).unwrap();
        let series = if name.ends_with('}') {
            name.clone()
        } else {
            format!("{name}{{}}")
        };
        assert!(prom(&series).is_some(), "{stat} is not exported as {name}");
    }
    let namespace = Build::selected().stat_prefix().trim_end_matches('.');
    assert!(
        !p.keys().any(|k| k.starts_with(namespace)
            || k.starts_with(&format!("envoy_{namespace}"))
            || k.starts_with("envoy_veer")),
        "Veer's metrics are exported without a prefix"
    );
    // /stats shows the histogram's percentiles once it has values.
    let text = rig.envoy.stats().unwrap();
    assert!(text.veer_text("latency_us.web.v1").starts_with("P0("));
    assert_eq!(text.veer_text("latency_us.web.v3"), "No recorded values");
}

/// `config.accepted` once every VM has configured: the version gauge goes live with the first VM,
/// the other workers' VMs count a moment later, so read until three readings 50 ms apart agree.
fn accepted_when_settled(rig: &Rig) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last = (rig.envoy.stats().unwrap().veer("config.accepted"), 0);
    while last.1 < 3 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
        let now = rig.envoy.stats().unwrap().veer("config.accepted");
        last = if now == last.0 {
            (now, last.1 + 1)
        } else {
            (now, 0)
        };
    }
    last.0
}

#[test]
fn config_counters_count_each_accepted_and_rejected_update() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    // At start: the bootstrap's fallback config, then the file's (each VM configured by both).
    let at_start = accepted_when_settled(&rig);
    assert!(at_start > 0);
    assert_eq!(
        prometheus(&rig)
            .get("veer_config_accepted_total{}")
            .copied(),
        Some(at_start as f64)
    );

    // Every wasm VM (main thread and each worker) runs on_configure: one count per VM.
    rig.apply(&web_config(2, &[("v1", 5000), ("v2", 5000)]));
    let per_update = accepted_when_settled(&rig) - at_start;
    assert!(per_update > 0);
    rig.apply(&web_config(3, &[("v1", 2000), ("v2", 8000)]));
    assert_eq!(accepted_when_settled(&rig), at_start + 2 * per_update);
    let stats = rig.envoy.stats().unwrap();
    assert_eq!(stats.veer("config.rejected"), 0);

    let rejected = "extension_config_discovery.http_filter.veer.update_rejected";
    rig.envoy
        .push(&web_config(4, &[("v1", 5000), ("v2", 4000)]).to_string())
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
    assert_eq!(stats.veer("config.accepted"), at_start + 2 * per_update);
    assert_eq!(stats.veer("config.version"), 3);
    let p = prometheus(&rig);
    assert_eq!(p.get("veer_config_rejected_total{}").copied(), Some(1.0));
    assert_eq!(p.get("veer_config_version{}").copied(), Some(3.0));
}
