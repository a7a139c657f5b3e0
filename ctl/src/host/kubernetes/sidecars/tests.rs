//! The sidecar path of `status` on Kubernetes, from scripted admin answers (no port-forward):
//! snapshots as `--admin` builds them, a stale sidecar, and the window between two readings.

use std::sync::Mutex;

use veer_filter::config::{StatusClass, WireConfig};
use veer_filter::metrics::{self, Stat};
use veer_k8s::plugin_live::SidecarReader;
use veer_k8s::Target;

use super::*;
// The admin paths `--admin` reads, which the sidecars are read with too.
use crate::observe::snapshot as admin;
use crate::observe::status::{compute, Inputs, Status};

/// Answers each (pod, path) from a script, and records what was asked.
struct Sidecars {
    answers: Vec<(&'static str, &'static str, String)>,
    asked: Mutex<Vec<(String, String)>>,
}

impl Sidecars {
    /// Each pod answers its stats `text` and a latency JSON with one 100 us response of web.v1.
    fn new(texts: &[(&'static str, String)]) -> Sidecars {
        let latency = format!(
            r#"{{"stats":[{{"histograms":{{"details":[{{"name":"{}","totals":[{{"lower_bound":100,"width":1,"count":1}}]}}]}}}}]}}"#,
            Stat::latency("web", "v1").envoy_name()
        );
        let mut answers = Vec::new();
        for (pod, text) in texts {
            answers.push((*pod, admin::STATS_PATH.as_str(), text.clone()));
            answers.push((*pod, admin::LATENCY_PATH.as_str(), latency.to_owned()));
        }
        Sidecars {
            answers,
            asked: Mutex::default(),
        }
    }
}

impl SidecarReader for Sidecars {
    async fn read(&self, _: &Target, pod: &str, path: &str) -> veer_k8s::Result<String> {
        self.asked
            .lock()
            .unwrap()
            .push((pod.to_owned(), path.to_owned()));
        self.answers
            .iter()
            .find(|(p, q, _)| *p == pod && *q == path)
            .map(|(_, _, text)| text.clone())
            .ok_or_else(|| veer_k8s::Error::Stats {
                source_name: format!("pod {pod}"),
                reason: "the port-forward closed".into(),
            })
    }
}

/// Reads `pods` through `reader`, with a client that is never called (the reader is scripted).
fn read(reader: &Sidecars, pods: &[&str]) -> Readings {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let pods: Vec<String> = pods.iter().map(|p| (*p).to_owned()).collect();
    runtime.block_on(async {
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let target = Target::new(kube::Client::try_from(config).unwrap(), "demo");
        read_all(&target, reader, &pods, &veer_k8s::NoReporter).await
    })
}

/// Stats text of a sidecar running config `version` whose default split sent `v1` and `v2`
/// requests, 5xx answers from v2 and experiment `checkout` assignments `a`/`b` (names from the
/// filter's names module).
fn stats(version: u64, v1: u64, v2: u64) -> String {
    let lines = [
        (Stat::global(&metrics::CONFIG_VERSION), version),
        (Stat::split_requests("web", "v1"), v1),
        (Stat::split_requests("web", "v2"), v2),
        (Stat::requests("web", "v1"), v1 + 300),
        (Stat::requests("web", "v2"), v2),
        (Stat::responses("web", "v2", StatusClass::SERVER_ERROR), 3),
        (Stat::experiment_requests("web", "checkout", "a"), v1),
        (Stat::experiment_requests("web", "checkout", "b"), v2),
    ];
    let mut text: String = lines
        .iter()
        .map(|(stat, n)| format!("{}: {n}\n", stat.envoy_name()))
        .collect();
    text.push_str("extension_config_discovery.http_filter.veer.update_rejected: 0\n");
    text
}

/// Service `web` (v1 80 %, v2 20 %) at version 5, with experiment `checkout` (a/b 80/20).
fn config() -> WireConfig {
    serde_json::from_value(serde_json::json!({
        "version": 5,
        "services": [{
            "name": "web",
            "variants": [{"name": "v1", "cluster": "web_v1"}, {"name": "v2", "cluster": "web_v2"}],
            "split": {"v1": 8000, "v2": 2000},
            "experiments": [{"id": "checkout", "arms": [
                {"name": "a", "variant": "v1", "weight": 8000},
                {"name": "b", "variant": "v2", "weight": 2000}]}]
        }]
    }))
    .unwrap()
}

fn status(snapshots: &Readings, baselines: &Baselines, window: Duration) -> Status {
    compute(&Inputs {
        config: &config(),
        version: 5,
        digest: None,
        snapshots,
        baselines,
        window: &window_label(window),
        history: &[],
    })
}

/// A sidecar's answers to the two admin paths `--admin` reads become the same snapshot, named by
/// its pod: counters, version, ECDS counters and latency.
#[test]
fn a_sidecars_answers_become_a_snapshot_named_by_its_pod() {
    let reader = Sidecars::new(&[("web-1", stats(5, 800, 200))]);
    let readings = read(&reader, &["web-1"]);
    let (pod, snap) = &readings[0];
    let snap = snap.as_ref().unwrap();
    assert_eq!((pod.as_str(), snap.url.as_str()), ("web-1", "web-1"));
    assert_eq!(snap.version(), 5);
    assert_eq!(
        (snap.get("split.web.v1"), snap.get("rq.web.v1")),
        (800, 1100)
    );
    assert_eq!(snap.ecds.get("update_rejected"), Some(&0));
    assert_eq!(snap.latency["web.v1"].count(), 1);
    let asked = reader.asked.lock().unwrap().clone();
    assert_eq!(
        asked,
        [
            ("web-1".to_owned(), admin::STATS_PATH.to_string()),
            ("web-1".to_owned(), admin::LATENCY_PATH.to_string())
        ]
    );
}

/// The split check counts only the default split (rq.* also holds cohorts and experiments:
/// here 300 more v1 requests per sidecar, which would tip an rq-based check), and the shared
/// status shows 5xx, latency and the experiment's arms.
#[test]
fn the_shared_status_checks_the_default_split_and_shows_errors_latency_and_arms() {
    let reader = Sidecars::new(&[("web-1", stats(5, 800, 200)), ("web-2", stats(5, 80, 20))]);
    let s = status(
        &read(&reader, &["web-1", "web-2"]),
        &Baselines::new(),
        Duration::ZERO,
    );
    let web = &s.services[0];
    assert_eq!(web.split_requests, 1100);
    assert!(web.srm.as_ref().is_some_and(|v| !v.mismatch), "{web:?}");
    assert_eq!(web.variants[1].errors, Some(6));
    assert_eq!(web.variants[0].latency.map(|l| l.samples), Some(2));
    assert_eq!(web.experiments[0].assigned, 1100);
    let out = crate::output::status::status(&s, false);
    assert!(
        out.contains("default-split requests since each sidecar started: 1100"),
        "{out}"
    );
}

/// A sidecar that runs an older config version than the WasmPlugin's is flagged STALE, and a
/// sidecar that cannot be read is shown as such, not left out.
#[test]
fn a_sidecar_on_an_older_version_is_flagged_stale() {
    let reader = Sidecars::new(&[("web-1", stats(5, 800, 200)), ("web-2", stats(4, 500, 500))]);
    let readings = read(&reader, &["web-1", "web-2", "web-3"]);
    assert!(status::all_unreadable(&readings).is_none());
    let s = status(&readings, &Baselines::new(), Duration::ZERO);
    let versions: Vec<Option<u64>> = s.proxies.iter().map(|p| p.version).collect();
    assert_eq!(versions, [Some(5), Some(4), None]);
    let out = crate::output::status::status(&s, false);
    assert!(
        out.contains("proxy web-2  runs version 4  << STALE: configured 5"),
        "{out}"
    );
    assert!(
        out.contains("proxy web-3  UNREACHABLE: failed to read Envoy stats from pod web-3"),
        "{out}"
    );
    assert!(
        s.services[0]
            .cause
            .as_deref()
            .is_some_and(|c| c.contains("web-2 runs version 4 (configured 5)")),
        "{:?}",
        s.services[0].cause
    );
}

/// Over a window, each sidecar counts from its first reading: only the requests in between.
/// A sidecar whose first reading failed has no baseline and is shown unreadable, not counted
/// since it started.
#[test]
fn a_window_counts_only_what_came_between_the_two_readings() {
    let first = read(
        &Sidecars::new(&[("web-1", stats(5, 5000, 5000))]),
        &["web-1", "web-2"],
    );
    let second = read(
        &Sidecars::new(&[
            ("web-1", stats(5, 5800, 5200)),
            ("web-2", stats(5, 9000, 9000)),
        ]),
        &["web-1", "web-2"],
    );
    let (snapshots, baselines) = over_window(first, second);
    let s = status(&snapshots, &baselines, Duration::from_secs(10));
    let web = &s.services[0];
    let split: Vec<u64> = web.variants.iter().map(|v| v.split_requests).collect();
    assert_eq!(split, [800, 200]);
    assert!(web.srm.as_ref().is_some_and(|v| !v.mismatch), "{web:?}");
    assert_eq!(web.variants[0].latency, None, "no response in between");
    assert!(
        s.proxies[1]
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("its first reading failed, so nothing is counted")),
        "{:?}",
        s.proxies[1]
    );
    assert_eq!(s.window, "over the last 10s");
}

/// A sidecar that restarted between the readings (its counters went down) is counted since its
/// restart, all of which lies in the window, not as zero.
#[test]
fn a_sidecar_restarted_in_the_window_counts_since_its_restart() {
    let first = read(
        &Sidecars::new(&[("web-1", stats(5, 5000, 5000))]),
        &["web-1"],
    );
    let second = read(&Sidecars::new(&[("web-1", stats(5, 80, 20))]), &["web-1"]);
    let (snapshots, baselines) = over_window(first, second);
    assert!(baselines.is_empty());
    let s = status(&snapshots, &baselines, Duration::from_secs(10));
    assert_eq!(s.services[0].split_requests, 100);
}

/// A pod that came up between the readings (re-listed for the second) is left out of this
/// window, whose counts it would inflate with what it served before; it counts from the next.
#[test]
fn a_pod_new_since_the_first_reading_is_left_out_of_the_window() {
    let first = read(
        &Sidecars::new(&[("web-1", stats(5, 5000, 5000))]),
        &["web-1"],
    );
    let second = read(
        &Sidecars::new(&[
            ("web-1", stats(5, 5800, 5200)),
            ("web-3", stats(5, 9000, 9000)),
        ]),
        &["web-1", "web-3"],
    );
    let (snapshots, baselines) = over_window(first, second);
    let pods: Vec<&str> = snapshots.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(pods, ["web-1"]);
    let s = status(&snapshots, &baselines, Duration::from_secs(10));
    assert_eq!(s.services[0].split_requests, 1000);
}

/// No sidecar answered: an error with each one's reason instead of a table of zeros.
#[test]
fn no_sidecar_read_is_an_error_naming_each() {
    let readings = read(&Sidecars::new(&[]), &["web-1", "web-2"]);
    let errors = status::all_unreadable(&readings).unwrap();
    assert_eq!(errors.lines().count(), 2, "{errors}");
    assert!(errors.contains("pod web-2"), "{errors}");
}
