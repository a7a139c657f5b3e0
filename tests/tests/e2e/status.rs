//! `veerctl status` against real Envoys: the observed split and latency cover every proxy and
//! only the time since the last verified change.

use std::path::Path;
use std::time::{Duration, Instant};

use clap::Parser;
use veer_ctl::cli::Cli;
use veer_ctl::status::{Status, VariantStatus};
use veer_e2e::{Client, Envoy};

use crate::support::{web_config, Rig};
use crate::veerctl::veerctl_with;

/// How long the slow variant's upstream waits before answering.
const SLOW: Duration = Duration::from_millis(40);

/// Sends one request per user `<prefix>-<i>` through `client`.
fn serve(client: &Client, prefix: &str, n: usize) {
    for i in 0..n {
        let reply = client.get_as(&format!("{prefix}-{i}")).expect("request");
        assert_eq!(reply.status, 200, "{reply:?}");
    }
}

/// `status` as veerctl computes it, for the ECDS directory `dir` and comma-separated `admins`.
fn status(dir: &Path, admins: &str) -> Status {
    let cli = Cli::try_parse_from([
        "veerctl",
        "--envoy",
        dir.to_str().unwrap(),
        "--admin",
        admins,
        "status",
    ])
    .unwrap();
    veer_ctl::commands::status::collect(&cli.global).unwrap()
}

/// Polls `status` until every variant's latency covers each of its requests: Envoy publishes
/// histogram bins only at its stats flush (every 5 s), while counters are live.
fn status_with_latency_caught_up(dir: &Path, admins: &str) -> Status {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = status(dir, admins);
        let caught_up = s.services[0]
            .variants
            .iter()
            .all(|v| v.latency.map_or(0, |l| l.samples) == v.requests);
        if caught_up {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "latency samples never matched the request counts: {s:#?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn variant<'a>(s: &'a Status, name: &str) -> &'a VariantStatus {
    s.services[0]
        .variants
        .iter()
        .find(|v| v.name == name)
        .unwrap()
}

fn p50_ms(v: &VariantStatus) -> f64 {
    v.latency.expect("latency recorded").p50_us / 1000.0
}

#[test]
fn latency_is_merged_over_all_proxies_and_shows_the_slow_variant() {
    let config = web_config(1, &[("v1", 5000), ("v2", 5000)]);
    let rig = Rig::start(&config);
    rig.upstreams[1].set_delay(SLOW);
    let refs: Vec<_> = rig.upstreams.iter().collect();
    let second = Envoy::start(&config.to_string(), &refs).unwrap();
    // Unequal traffic through the two proxies: no single proxy's histogram has every request.
    serve(&rig.client, "first", 120);
    serve(&Client::new(second.port()), "second", 60);

    let admins = format!("{},{}", rig.envoy.admin_url(), second.admin_url());
    let s = status_with_latency_caught_up(&rig.envoy.ecds_dir(), &admins);
    let (v1, v2) = (variant(&s, "v1"), variant(&s, "v2"));
    assert_eq!(v1.requests + v2.requests, 180, "{s:#?}");
    assert!(v1.requests > 0 && v2.requests > 0, "{s:#?}");
    let slow_ms = SLOW.as_secs_f64() * 1000.0;
    assert!(p50_ms(v2) >= slow_ms, "v2 is slow: {v2:?}");
    assert!(p50_ms(v1) < slow_ms, "v1 is fast: {v1:?}");
    assert_eq!(variant(&s, "v3").latency, None, "v3 got no traffic");
}

/// The counts, the split check and the latency restart at each verified change: traffic from
/// before it (here: a slow v2 at 50 %) does not blur what the new split does.
#[test]
fn counts_and_latency_restart_at_a_verified_change() {
    let rig = Rig::start(&web_config(1, &[("v1", 5000), ("v2", 5000)]));
    let (dir, admin) = (rig.envoy.ecds_dir(), rig.envoy.admin_url());
    rig.upstreams[1].set_delay(SLOW);
    serve(&rig.client, "before", 100);
    // Wait for the slow samples to reach the admin API, so the baseline holds them.
    let before = status_with_latency_caught_up(&dir, &admin);
    assert_eq!(before.services[0].split_requests, 100);
    assert!(p50_ms(variant(&before, "v2")) >= SLOW.as_secs_f64() * 1000.0);

    veerctl_with(&dir, &admin, &["canary", "set-weight", "web", "v2", "20"]).unwrap();
    rig.upstreams[1].set_delay(Duration::ZERO);
    serve(&rig.client, "after", 1000);

    let after = status_with_latency_caught_up(&dir, &admin);
    let web = &after.services[0];
    assert_eq!(
        web.split_requests, 1000,
        "only requests since the change: {after:#?}"
    );
    let verdict = web.srm.as_ref().expect("a verdict over 1000 requests");
    assert!(
        !verdict.mismatch,
        "80/20 observed as configured: {after:#?}"
    );
    let v2 = variant(&after, "v2");
    assert_eq!(v2.configured_bp, 2000);
    let p99 = v2.latency.expect("v2 served since the change").p99_us;
    assert!(
        p99 < SLOW.as_secs_f64() * 1e6,
        "v2's slow responses from before the change are not in the window: {v2:?}"
    );
}
