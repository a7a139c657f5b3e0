//! Live config changes under load: an invalid config is refused by the filter while the previous
//! one keeps serving, with zero failed requests.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use veer_e2e::{Client, Envoy, Upstream};

use crate::support::{assert_within_tolerance, web_config, Rig};

/// Users sampled before and after a rejected update.
const USERS: usize = 400;

/// Proves the routing that served `before` is still the filter's: every user reaches the same
/// upstream and that upstream was told its variant by the filter (a skipped filter would send
/// everyone to the fallback route, v1, without the header), and v2's share matches `v2_bp`.
fn assert_still_routed_as(rig: &Rig, before: &[(String, String)], v2_bp: u64) {
    let mut on_v2 = 0;
    for (uid, served) in before {
        let reply = rig.client.get_as(uid).unwrap();
        assert_eq!(reply.status, 200, "user {uid}: {reply:?}");
        assert_eq!(
            reply.served_by(),
            served,
            "user {uid} moved after the rejection"
        );
        assert_eq!(
            reply.seen("x-veer-variant"),
            Some(served.as_str()),
            "user {uid}: the upstream was not told its variant"
        );
        on_v2 += u64::from(served == "v2");
    }
    assert_within_tolerance(
        "v2 after the rejection",
        on_v2,
        before.len() as u64,
        v2_bp,
        4.0,
    );
}

/// Continuous load from `threads` clients until stopped; counts responses by outcome.
pub struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    handles: Vec<thread::JoinHandle<Vec<String>>>,
}

/// Who sends a load's `i`-th request of thread `t`.
type User = Arc<dyn Fn(usize, u64) -> String + Send + Sync>;

impl Load {
    /// Load from `threads` clients, each cycling through 500 users of its own.
    pub fn start(client: &Client, threads: usize) -> Load {
        Load::start_as(
            client,
            threads,
            Arc::new(|t, i| format!("load-{t}-{}", i % 500)),
        )
    }

    /// Load from `threads` clients; request `i` of thread `t` is user `user(t, i)`.
    pub fn start_as(client: &Client, threads: usize, user: User) -> Load {
        let (stop, ok, failed) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
        );
        let handles = (0..threads)
            .map(|t| {
                let (client, stop, ok, failed, user) = (
                    client.clone(),
                    stop.clone(),
                    ok.clone(),
                    failed.clone(),
                    user.clone(),
                );
                thread::spawn(move || {
                    let mut failures = Vec::new();
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        match client.get_as(&user(t, i)) {
                            Ok(r) if (200..300).contains(&r.status) => {
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            other => {
                                failed.fetch_add(1, Ordering::Relaxed);
                                if failures.len() < 5 {
                                    failures.push(format!("{other:?}"));
                                }
                            }
                        }
                    }
                    failures
                })
            })
            .collect();
        Load {
            stop,
            ok,
            failed,
            handles,
        }
    }

    /// Stops the load and asserts that it ran (over 100 responses) and that not one request
    /// failed; returns how many succeeded.
    pub fn finish_without_failures(self) -> u64 {
        let (ok, failed, failures) = self.finish();
        assert_eq!(
            failed,
            0,
            "{failed} of {} requests failed under load: {failures:?}",
            ok + failed
        );
        assert!(ok > 100, "the load ran ({ok} requests)");
        ok
    }

    pub fn finish(self) -> (u64, u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let failures = self
            .handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect();
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            failures,
        )
    }
}

#[test]
fn an_invalid_config_pushed_live_is_rejected_and_the_old_one_keeps_serving_under_load() {
    let rig = Rig::start(&web_config(1, &[("v1", 8000), ("v2", 2000)]));
    let before = rig.serve_users("sticky", USERS);
    let load = Load::start(&rig.client, 3);
    thread::sleep(Duration::from_millis(300));

    let rejected_before = rig
        .envoy
        .stats_now()
        .unwrap()
        .get("extension_config_discovery.http_filter.veer.update_rejected");
    // Weights that do not sum: the filter's on_configure refuses it.
    rig.envoy
        .push(&web_config(2, &[("v1", 8000), ("v2", 1990)]).to_string())
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stats = rig.envoy.stats_now().unwrap();
        if stats.get("extension_config_discovery.http_filter.veer.update_rejected")
            > rejected_before
        {
            assert_eq!(
                stats.veer("config.version"),
                1,
                "the old config keeps serving"
            );
            assert!(stats.veer("config.rejected") > 0);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the invalid config was not rejected:\n{}",
            rig.envoy.log()
        );
        thread::sleep(Duration::from_millis(20));
    }
    assert!(
        rig.envoy
            .log()
            .contains("services[0].split: weights sum to 9990 bp, must be 10000"),
        "the filter logs the problem with its path"
    );
    assert_still_routed_as(&rig, &before, 2000);

    // A valid change afterwards goes live.
    rig.apply(&web_config(3, &[("v1", 0), ("v2", 10000)]));
    thread::sleep(Duration::from_millis(300));
    load.finish_without_failures();
    for i in 0..20 {
        assert_eq!(
            rig.client
                .get_as(&format!("after-{i}"))
                .unwrap()
                .served_by(),
            "v2"
        );
    }
}

#[test]
fn a_malformed_file_is_rejected_too() {
    // Half on v2: a split the fallback route (everyone on v1) cannot imitate.
    let rig = Rig::start(&web_config(1, &[("v1", 5000), ("v2", 5000)]));
    let before = rig.serve_users("sticky", USERS);
    rig.envoy.push("{ this is not json").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rig.envoy.stats().unwrap().veer("config.rejected") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "not rejected:\n{}",
            rig.envoy.log()
        );
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(rig.envoy.stats().unwrap().veer("config.version"), 1);
    assert_still_routed_as(&rig, &before, 5000);
}

/// Envoy restarted with a file on disk that the filter refuses (left by hand, by a tool, or by
/// `apply --no-wait`): the fallback filter config serves every request on the stable cluster
/// and still removes client-sent Veer headers, until a valid file arrives.
#[test]
fn a_restart_with_a_rejected_file_serves_everyone_on_stable_and_still_strips_headers() {
    let upstreams: Vec<Upstream> = ["v1", "v2", "v3"]
        .iter()
        .map(|n| Upstream::start(n, 0).unwrap())
        .collect();
    let refs: Vec<&Upstream> = upstreams.iter().collect();
    let bad = web_config(7, &[("v1", 5000), ("v2", 4000)]);
    let envoy = Envoy::start_with_rejected(&bad.to_string(), &refs).unwrap();
    let client = Client::new(envoy.port());

    for i in 0..200 {
        let reply = client
            .get(
                "/",
                &[
                    ("cookie", format!("uid=restart-{i}").as_bytes()),
                    ("x-veer-cluster", b"web_v2"),
                    ("x-veer-variant", b"v2"),
                    ("x-veer-experiment", b"checkout=b"),
                ],
            )
            .unwrap();
        assert_eq!(reply.status, 200, "request {i}: {reply:?}");
        assert_eq!(
            reply.served_by(),
            "v1",
            "a client-sent cluster header chose the route"
        );
        for h in ["x-veer-cluster", "x-veer-variant", "x-veer-experiment"] {
            assert_eq!(reply.seen(h), None, "{h} reached the app");
        }
    }
    let stats = envoy.stats().unwrap();
    assert_eq!(stats.veer("config.version"), 0, "the fallback config runs");
    assert_eq!(stats.veer("spoofed_header_removed"), 600);
    assert_eq!(
        stats.text("extension_config_discovery.http_filter.veer.version_text"),
        "\"\"",
        "no file was accepted"
    );

    // The next valid file replaces the fallback.
    envoy
        .push(&web_config(8, &[("v1", 0), ("v2", 10000)]).to_string())
        .unwrap();
    envoy.wait_for_version(8, Duration::from_secs(20)).unwrap();
    assert_eq!(client.get_as("after").unwrap().served_by(), "v2");
}
