//! Reading hundreds of sidecars (issue 16, Scale): concurrently with a bound, the ones already at
//! the target version not read again, and the deadline honoured during a pass, not after it.
//! Latencies are scripted on tokio's paused clock, so the bounds below are exact virtual times,
//! not measurements of this machine.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use veer_filter::metrics::{self, Stat};

use serde_json::{json, Value};
use tokio::time::Instant;
use veer_k8s::plugin_live::{wait_plugin_live, PluginWait, SidecarReader, READS_AT_ONCE};
use veer_k8s::port_forward::READ_TIMEOUT;
use veer_k8s::{Error, NoReporter, Target, WaitOptions};

use crate::support::*;

/// How long a responsive sidecar takes to answer.
const LATENCY: Duration = Duration::from_millis(50);

/// Sidecars that answer after [`LATENCY`] with config version 2 (the `behind` ones with 1),
/// except the `stuck` ones, which never answer their first `stuck_reads` reads. Counts reads per
/// pod and reads in flight.
struct Sidecars {
    stuck: BTreeSet<String>,
    stuck_reads: u32,
    behind: BTreeSet<String>,
    reads: Mutex<BTreeMap<String, u32>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl Sidecars {
    fn new(stuck: &[String], stuck_reads: u32) -> Self {
        Sidecars {
            stuck: stuck.iter().cloned().collect(),
            stuck_reads,
            behind: BTreeSet::new(),
            reads: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
        }
    }

    fn reads_of(&self, pod: &str) -> u32 {
        self.reads
            .lock()
            .expect("lock")
            .get(pod)
            .copied()
            .unwrap_or(0)
    }
}

/// Decrements the in-flight count when a read ends, also when it is cancelled by a timeout.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl SidecarReader for Sidecars {
    async fn read(&self, _: &Target, pod: &str, _: &str) -> veer_k8s::Result<String> {
        let n = {
            let mut reads = self.reads.lock().expect("lock");
            let n = reads.entry(pod.to_owned()).or_default();
            *n += 1;
            *n
        };
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let _guard = InFlight(&self.in_flight);
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        if self.stuck.contains(pod) && n <= self.stuck_reads {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(LATENCY).await;
        Ok(format!(
            "{}: {}\n",
            Stat::global(&metrics::CONFIG_VERSION).envoy_name(),
            if self.behind.contains(pod) { 1 } else { 2 }
        ))
    }
}

fn pod(i: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": format!("client-{i:03}"), "namespace": "demo",
                      "labels": { "app": "client" } },
        "spec": { "containers": [ { "name": "app", "image": "client:1" },
                                  { "name": "istio-proxy", "image": "proxyv2:1.29" } ] },
        "status": { "phase": "Running" }
    })
}

async fn five_hundred_pods() -> Target {
    target(fake((0..500).map(pod).collect()).await, "demo")
}

fn stuck() -> Vec<String> {
    [7, 99, 250, 251, 499]
        .iter()
        .map(|i| format!("client-{i:03}"))
        .collect()
}

fn selector() -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_owned(), "client".to_owned())])
}

/// 500 sidecars, 5 of them unresponsive on their first read: every one is verified within
/// READ_TIMEOUT (10 s, the 5 stuck reads, run beside the others) + the poll interval (1 s) + one
/// second pass over the 5 (50 ms) + the first pass's other reads ([`READS_AT_ONCE`] at a time,
/// 50 ms each: under 1 s): 12 s. One after the other, the first pass alone took 5 x 10 s +
/// 495 x 50 ms = 74.75 s. The 495 that answered at once are not read again.
#[tokio::test(start_paused = true)]
async fn five_hundred_sidecars_with_five_unresponsive_are_read_within_the_bound() {
    let t = five_hundred_pods().await;
    let wait = PluginWait {
        opts: WaitOptions {
            timeout: Duration::from_secs(60),
            interval: Duration::from_secs(1),
        },
        reader: Sidecars::new(&stuck(), 1),
    };
    let start = Instant::now();
    let live = tokio::time::timeout(
        Duration::from_secs(120),
        wait_plugin_live(&t, "veer", &selector(), 2, &wait, &NoReporter),
    )
    .await
    .expect("the wait ends")
    .expect("live");
    let elapsed = start.elapsed();
    assert_eq!(live, 500);
    assert!(elapsed <= Duration::from_secs(12), "{elapsed:?}");
    assert!(
        elapsed >= READ_TIMEOUT,
        "the stuck reads were waited for: {elapsed:?}"
    );
    let sidecars = &wait.reader;
    for i in 0..500 {
        let name = format!("client-{i:03}");
        let expected = if stuck().contains(&name) { 2 } else { 1 };
        assert_eq!(sidecars.reads_of(&name), expected, "{name}");
    }
    let most = sidecars.most_in_flight.load(Ordering::SeqCst);
    assert!(most <= READS_AT_ONCE && most > 1, "{most} reads at once");
}

/// Sidecars that never answer cannot hold a wait past its deadline: a read is given up when the
/// time runs out, even within a pass, and the error names them.
#[tokio::test(start_paused = true)]
async fn the_deadline_is_honoured_within_a_pass() {
    let t = five_hundred_pods().await;
    let timeout = Duration::from_secs(4);
    let wait = PluginWait {
        opts: WaitOptions {
            timeout,
            interval: Duration::from_secs(1),
        },
        reader: Sidecars::new(&stuck(), u32::MAX),
    };
    let start = Instant::now();
    let err = tokio::time::timeout(
        Duration::from_secs(120),
        wait_plugin_live(&t, "veer", &selector(), 2, &wait, &NoReporter),
    )
    .await
    .expect("the wait ends")
    .expect_err("never live");
    let elapsed = start.elapsed();
    assert!(elapsed <= timeout + LATENCY, "{elapsed:?}");
    let text = err.to_string();
    assert!(matches!(err, Error::PluginNotLive { .. }), "{text}");
    for pod in stuck() {
        assert!(
            text.contains(&format!(
                "{pod} (failed to read Envoy stats from pod {pod}: no answer within"
            )),
            "{pod}: {text}"
        );
    }
    assert!(!text.contains("client-000"), "{text}");
}

/// A sidecar that keeps answering with the old version: when the deadline cuts the last pass's
/// read short, the error still says what it runs (its last answer), not "no answer within 0ns"
/// (reads at 0, 1.05, 2.1 and 3.15 s answer version 1; the pass at 4 s has no time left).
#[tokio::test(start_paused = true)]
async fn a_sidecar_behind_is_named_with_its_version_when_the_deadline_cuts_the_last_read() {
    let t = five_hundred_pods().await;
    let mut reader = Sidecars::new(&[], 0);
    reader.behind = BTreeSet::from(["client-042".to_owned()]);
    let wait = PluginWait {
        opts: WaitOptions {
            timeout: Duration::from_secs(4),
            interval: Duration::from_secs(1),
        },
        reader,
    };
    let err = wait_plugin_live(&t, "veer", &selector(), 2, &wait, &NoReporter)
        .await
        .expect_err("never live");
    let text = err.to_string();
    assert!(
        text.contains("within 4s: client-042 (config version 1)"),
        "{text}"
    );
    assert!(wait.reader.reads_of("client-042") >= 4, "{text}");
}
