//! veerctl's Kubernetes path against real Envoys as Istio's sidecars: the WasmPlugin on a fake
//! API server, each sidecar's admin port read through the fake's port-forwards, and a stand-in
//! for istiod that delivers each new `pluginConfig` to the Envoys by ECDS (`istio/mesh.rs`).
//! Istio loads the wasm build, so this runs against it only.

mod mesh;

use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use veer_e2e::shoppers::{self, Tally};
use veer_e2e::Receiver;

use crate::live_config::Load;
use crate::report::{assert_counts, config as experiment_config, plan, two_arms};
use crate::status::{serve, Watching};
use crate::support::web_config;
use mesh::{Mesh, Sidecar, PODS};

/// `canary run web v2 --steps 20,50 --promote --interval INTERVAL`.
fn canary_run(interval: &str) -> Vec<&str> {
    let mut args: Vec<&str> = "canary run web v2 --steps 20,50 --promote --interval"
        .split(' ')
        .collect();
    args.push(interval);
    args
}

/// The JSON events a `canary run -o json` printed.
fn events(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The events of kind `kind`.
fn of_kind<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == kind).collect()
}

/// The default split each WasmPlugin write carried, in order.
fn written_splits(mesh: &Mesh) -> Vec<Value> {
    mesh.plugin_writes()
        .iter()
        .map(|w| w["spec"]["pluginConfig"]["services"][0]["split"].clone())
        .collect()
}

/// Asserts that after every WasmPlugin write veerctl read both sidecars (a port-forward to
/// each) before it wrote again: each step was verified on every sidecar, not assumed.
fn assert_each_write_read_on_every_sidecar(mesh: &Mesh) {
    let requests = mesh.requests();
    let writes: Vec<usize> = requests
        .iter()
        .enumerate()
        .filter(|(_, r)| r.starts_with("PUT "))
        .map(|(i, _)| i)
        .collect();
    assert!(!writes.is_empty(), "{requests:#?}");
    for (n, start) in writes.iter().enumerate() {
        let end = writes.get(n + 1).copied().unwrap_or(requests.len());
        for pod in PODS {
            let forward =
                format!("GET /api/v1/namespaces/demo/pods/{pod}/portforward?&ports=15000");
            assert!(
                requests[*start..end].contains(&forward),
                "write {n} was not read on {pod}: {:#?}",
                &requests[*start..end]
            );
        }
    }
}

/// Asserts every sidecar's filter runs config `version`.
fn assert_every_sidecar_runs(mesh: &Mesh, version: u64) {
    for s in &mesh.sidecars {
        let stats = s.envoy.stats_now().unwrap();
        assert_eq!(stats.veer("config.version"), version, "{}", s.pod);
    }
}

/// Load on every sidecar, each request from a new user: the split gate counts requests, which
/// are independent draws only when no user comes back (a few hundred sticky users sending
/// thousands of requests would make a fair split look mismatched).
fn load_everywhere(mesh: &Mesh) -> Vec<Load> {
    mesh.sidecars
        .iter()
        .map(|s| {
            let pod = s.pod;
            Load::start_as(
                &s.client,
                1,
                Arc::new(move |_, i| format!("{pod}-user-{i}")),
            )
        })
        .collect()
}

/// A healthy canary on two sidecars: each step written to the WasmPlugin, verified live on both
/// (read through their port-forwards), gated on what both counted, then promoted; the
/// WasmPlugin ends with v2 as the stable variant at 100 %, the run recorded on it as promoted,
/// and both Envoys serve v2 only.
#[test]
fn a_healthy_canary_is_promoted_with_every_step_live_on_both_sidecars() {
    let mesh = Mesh::start(&web_config(1, &[("v1", 10000)]));
    let load = load_everywhere(&mesh);
    let out = mesh.run(&[&["-o", "json"][..], &canary_run("2s")].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let events = events(&out);
    let live: Vec<(u64, u64)> = of_kind(&events, "live")
        .iter()
        .map(|e| {
            (
                e["weights"]["v2"].as_u64().unwrap(),
                e["proxies"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        live,
        [(2000, 2), (5000, 2), (10000, 2)],
        "{:#?}",
        of_kind(&events, "live")
    );
    let passed = of_kind(&events, "passed");
    assert_eq!(passed.len(), 2, "{events:#?}");
    for p in passed {
        let gate = p["readings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["gate"] == "error-rate");
        assert!(gate.is_some_and(|g| g["verdict"] == "pass"), "{p}");
    }
    assert_eq!(of_kind(&events, "promoted").len(), 1, "{events:#?}");

    assert_eq!(
        written_splits(&mesh),
        [
            json!({"v1": 8000, "v2": 2000}),
            json!({"v1": 5000, "v2": 5000}),
            json!({"v1": 0, "v2": 10000, "v3": 0})
        ]
    );
    assert_each_write_read_on_every_sidecar(&mesh);
    let plugin = mesh.plugin();
    let web = &plugin["spec"]["pluginConfig"]["services"][0];
    assert_eq!(web["variants"][0]["name"], "v2", "{web}");
    assert_eq!(
        web["split"],
        json!({"v1": 0, "v2": 10000, "v3": 0}),
        "{web}"
    );
    let run = mesh
        .recorded_run("web")
        .expect("the run is recorded on the WasmPlugin");
    assert_eq!(run["phase"]["state"], "promoted", "{run}");
    assert_eq!(run["passed"].as_array().unwrap().len(), 2, "{run}");
    assert_every_sidecar_runs(
        &mesh,
        plugin["spec"]["pluginConfig"]["version"].as_u64().unwrap(),
    );

    for l in load {
        l.finish_without_failures();
    }
    for s in &mesh.sidecars {
        for i in 0..50 {
            let reply = s.client.get_as(&format!("after-{i}")).unwrap();
            assert_eq!(reply.served_by(), "v2", "{}: {reply:?}", s.pod);
        }
    }
}

/// A failing canary (its upstream answers 500) is rolled back by the error-rate gate read from
/// both sidecars: the WasmPlugin holds all traffic on v1, verified on both, the run is recorded
/// as rolled back, and no request reaches v2 any more.
#[test]
fn a_failing_canary_is_rolled_back_by_its_gate_on_both_sidecars() {
    let mesh = Mesh::start(&web_config(1, &[("v1", 10000)]));
    mesh.upstreams[1].set_status(500);
    let load = load_everywhere(&mesh);
    let out = mesh.run(&canary_run("2s"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("v2 at 20%: ")
            && stderr.contains(
                "aborted, all traffic is back on the stable variant v1 (verified on 2 proxies)"
            ),
        "{stderr}"
    );
    for l in load {
        l.finish();
    }
    assert_eq!(
        written_splits(&mesh),
        [
            json!({"v1": 8000, "v2": 2000}),
            json!({"v1": 10000, "v2": 0, "v3": 0})
        ]
    );
    assert_each_write_read_on_every_sidecar(&mesh);
    let run = mesh.recorded_run("web").unwrap();
    assert_eq!(run["phase"]["state"], "rolled-back", "{run}");
    assert!(
        run["phase"]["reason"].as_str().unwrap().contains("5xx"),
        "{run}"
    );
    let version = mesh.plugin()["spec"]["pluginConfig"]["version"]
        .as_u64()
        .unwrap();
    assert_every_sidecar_runs(&mesh, version);

    let before = mesh.upstreams[1].served();
    for s in &mesh.sidecars {
        for i in 0..100 {
            assert_eq!(
                s.client.get_as(&format!("after-{i}")).unwrap().served_by(),
                "v1"
            );
        }
    }
    assert_eq!(
        mesh.upstreams[1].served(),
        before,
        "a request reached v2 after the rollback"
    );
}

/// A latency regression on Kubernetes: the canary made 150 ms slower, `--max-p99 50ms` (read
/// from both sidecars' histograms) rolls it back, the WasmPlugin holds the rollback, and the
/// rolled-back webhook gets the reason and the gate figures.
#[test]
fn a_slow_canary_is_rolled_back_by_its_latency_gate_and_the_hook_is_told() {
    let mesh = Mesh::start(&web_config(1, &[("v1", 10000)]));
    mesh.upstreams[1].set_delay(Duration::from_millis(150));
    let receiver = Receiver::start(|_| 200).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let gates = scratch.path().join("gates.yaml");
    std::fs::write(
        &gates,
        format!(
            "hooks:\n- {{name: page, type: rolled-back, url: '{}'}}\n",
            receiver.url("/rolled-back")
        ),
    )
    .unwrap();
    let load = load_everywhere(&mesh);
    let args = "canary run web v2 --steps 50,100 --interval 1s --max-p99 50ms --min-requests 20 --promote --gate-file";
    let mut args: Vec<&str> = args.split(' ').collect();
    args.push(gates.to_str().unwrap());
    let out = mesh.run(&args);
    for l in load {
        l.finish();
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("v2 at 50%: p99 ")
            && stderr.contains(
                "above --max-p99 50 ms: aborted, all traffic is back on the stable variant v1 (verified on 2 proxies)"
            ),
        "{stderr}"
    );
    assert_eq!(
        written_splits(&mesh).last(),
        Some(&json!({"v1": 10000, "v2": 0, "v3": 0}))
    );
    let run = mesh.recorded_run("web").unwrap();
    assert_eq!(run["phase"]["state"], "rolled-back", "{run}");
    let told = receiver
        .wait_for(Duration::from_secs(10), |c| c.path == "/rolled-back")
        .expect("the rolled-back hook was called");
    let reason = told.body["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("p99 ") && reason.ends_with("above --max-p99 50 ms"),
        "{}",
        told.body
    );
    assert_eq!(told.body["weights"]["v2"], 0, "{}", told.body);
}

/// Waits until `ready` holds for the run recorded on the WasmPlugin.
fn wait_for_run(mesh: &Mesh, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(run) = mesh.recorded_run("web").filter(|r| ready(r)) {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {:?}",
            mesh.recorded_run("web")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A run killed during its second step (SIGKILL, by PID) is recorded on the WasmPlugin at that
/// step; started again with the same arguments it continues there (20 % is not written again)
/// and ends promoted.
#[test]
fn a_killed_run_resumes_at_its_recorded_step() {
    let mesh = Mesh::start(&web_config(1, &[("v1", 10000)]));
    let load = load_everywhere(&mesh);
    let run = canary_run("4s");
    let mut child = mesh.veerctl().args(&run).spawn().unwrap();
    let recorded = wait_for_run(&mesh, "the second step begins", |r| {
        r["step"] == 1 && r["passed"].as_array().is_some_and(|p| p.len() == 1)
    });
    assert_eq!(recorded["phase"]["state"], "running", "{recorded}");
    child.kill().unwrap();
    child.wait().unwrap();
    let writes_before = written_splits(&mesh).len();

    let out = mesh.run(&run);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("continuing the run of web v2 started ")
            && stderr.contains(": at step 2 of 2 (50%)"),
        "{stderr}"
    );
    for l in load {
        l.finish_without_failures();
    }
    let splits = written_splits(&mesh);
    assert_eq!(
        splits[writes_before..],
        [
            json!({"v1": 5000, "v2": 5000}),
            json!({"v1": 0, "v2": 10000, "v3": 0})
        ],
        "{splits:?}"
    );
    let run = mesh.recorded_run("web").unwrap();
    assert_eq!(run["phase"]["state"], "promoted", "{run}");
    assert_eq!(run["started_at"], recorded["started_at"], "the same run");
    assert_eq!(run["passed"].as_array().unwrap().len(), 2, "{run}");
}

/// A sidecar that never receives the change (istiod does not reach it): the step's wait gives
/// up after --timeout with exit code 4, naming that pod and the version it still runs; nothing
/// claims the step is live, and the run is recorded as halted with that reason (not left
/// "running" with no veerctl carrying it on).
#[test]
fn a_sidecar_that_never_gets_the_change_fails_the_step_naming_its_pod() {
    let mesh = Mesh::start(&web_config(1, &[("v1", 10000)]));
    mesh.sidecars[1]
        .delivered
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let out = mesh.run(&[&["--timeout", "3s"][..], &canary_run("1s")].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    // The error names the pod still behind, and only it (web-a may show in the progress
    // lines before it took the change).
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default();
    assert!(
        error.contains("within 3s: web-b (config version 1)") && !error.contains("web-a"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the change is written but not verified live")
            && !stdout.contains("verified live in")
            && !stderr.contains("(or later) in 2 sidecar(s)"),
        "{stdout}\n{stderr}"
    );
    assert_eq!(written_splits(&mesh), [json!({"v1": 8000, "v2": 2000})]);
    let run = mesh.recorded_run("web").unwrap();
    assert_eq!(run["phase"]["state"], "halted", "{run}");
    assert!(
        run["phase"]["reason"]
            .as_str()
            .unwrap()
            .contains("web-b (config version 1)"),
        "{run}"
    );
}

/// `users` simulated shoppers through sidecar `s` (two pages each), their counts published
/// before veerctl reads them.
fn shop_through(s: &Sidecar, prefix: &str, users: usize) -> Tally {
    let mut p = plan(prefix, users, &[("control", 0.2), ("one-click", 0.4)], 11);
    p.pages = 2;
    let tally = shoppers::run(&s.client, &p).unwrap();
    s.envoy.stats().unwrap();
    tally
}

/// `veerctl -o json ARGS` against the mesh, which must succeed.
fn json_of(mesh: &Mesh, args: &[&str]) -> Value {
    let out = mesh.run(&[&["-o", "json"][..], args].concat());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The pods a `status` document read, sorted.
fn proxy_urls(status: &Value) -> Vec<&str> {
    let mut urls: Vec<&str> = status["proxies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["url"].as_str().unwrap_or_default())
        .collect();
    urls.sort_unstable();
    urls
}

/// `experiment report` and `status` from the sidecars: what both counted, summed, equals what
/// the simulated users sent through each.
#[test]
fn report_and_status_sum_what_both_sidecars_counted() {
    let mesh = Mesh::start(&experiment_config(two_arms(
        "checkout",
        "control",
        "one-click",
    )));
    let mut sent = Tally::default();
    for (s, prefix) in mesh.sidecars.iter().zip(["a", "b"]) {
        for (arm, t) in shop_through(s, prefix, 150).arms {
            let sum = sent.arms.entry(arm).or_default();
            sum.users += t.users;
            sum.page_requests += t.page_requests;
            sum.converted += t.converted;
            sum.goal_requests += t.goal_requests;
        }
    }

    let report = json_of(&mesh, &["experiment", "report", "web", "checkout"]);
    assert_eq!(report["source"]["kind"], "sidecars", "{}", report["source"]);
    assert_counts(&report, &sent);

    let status = json_of(&mesh, &["status", "--window", "0s"]);
    for p in status["proxies"].as_array().unwrap() {
        assert_eq!(p["runs"], "configured", "{p}");
    }
    assert_eq!(proxy_urls(&status), PODS, "{status}");
    let web = &status["services"][0];
    let requests = |variant: &str| {
        web["variants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == variant)
            .map(|v| v["requests"].as_u64().unwrap())
    };
    assert_eq!(
        requests("v1"),
        Some(sent.arms["control"].page_requests),
        "{web}"
    );
    assert_eq!(
        requests("v2"),
        Some(sent.arms["one-click"].page_requests),
        "{web}"
    );
    assert_eq!(
        web["experiments"][0]["assigned"],
        sent.arms.values().map(|t| t.page_requests).sum::<u64>(),
        "{web}"
    );
}

/// `--selector` reads only the sidecars of the pods it matches: `experiment report` and
/// `status` count what went through those, not what went through the others.
#[test]
fn a_selector_reads_only_the_sidecars_of_its_pods() {
    let mesh = Mesh::start(&experiment_config(two_arms(
        "checkout",
        "control",
        "one-click",
    )));
    let _ = shop_through(&mesh.sidecars[0], "a", 60);
    let (pod, sent) = (PODS[1], shop_through(&mesh.sidecars[1], "b", 150));
    let selector = format!("pod={pod}");

    let report = json_of(
        &mesh,
        &[
            "experiment",
            "report",
            "web",
            "checkout",
            "--selector",
            &selector,
        ],
    );
    assert_counts(&report, &sent);

    let status = json_of(
        &mesh,
        &["status", "--window", "0s", "--selector", &selector],
    );
    assert_eq!(proxy_urls(&status), [pod], "{status}");
    let web = &status["services"][0];
    assert_eq!(
        web["experiments"][0]["assigned"],
        sent.arms.values().map(|t| t.page_requests).sum::<u64>(),
        "{web}"
    );
}

/// `status --watch` on Kubernetes reads every sidecar through new port-forwards at each frame,
/// and each frame after the first counts what arrived since the frame before: the frames add up
/// to what was sent through both sidecars, no request counted twice or lost.
#[test]
fn watch_reads_every_sidecar_at_each_frame_and_counts_each_request_once() {
    let mesh = Mesh::start(&web_config(1, &[("v1", 8000), ("v2", 2000)]));
    let mut cmd = mesh.veerctl();
    cmd.args([
        "-o",
        "json",
        "status",
        "--watch",
        "--interval",
        "300ms",
        "--window",
        "0s",
    ]);
    let mut watch = Watching::spawn(cmd);
    let frame = |watch: &mut Watching| -> Value {
        let frame: Value = serde_json::from_str(&watch.next_line()).unwrap();
        assert_eq!(
            proxy_urls(&frame),
            PODS,
            "every frame reads both sidecars: {frame}"
        );
        frame
    };
    let split = |frame: &Value| frame["services"][0]["split_requests"].as_u64().unwrap();
    let before = split(&frame(&mut watch));

    serve(&mesh.sidecars[0].client, "watched-a", 100);
    serve(&mesh.sidecars[1].client, "watched-b", 60);
    let mut counted = 0;
    for _ in 0..100 {
        let f = frame(&mut watch);
        counted += split(&f);
        assert!(
            counted <= 160,
            "more than the 160 requests sent: {counted}, at {f}"
        );
        if counted == 160 {
            break;
        }
    }
    assert_eq!(counted, 160, "before the traffic: {before}");
}
