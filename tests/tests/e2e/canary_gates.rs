//! `veerctl canary run`'s gates, hooks and recorded state against a real Envoy under load, with
//! an upstream made slow or failing: a latency regression rolled back (after which the canary
//! serves nothing), a healthy canary promoted with every hook's body as documented, a failing
//! blocking hook halting the run, a run continued after a kill at the step it was at, and a gate
//! file's Prometheus query (a loopback fake Prometheus) rolling back a real canary.
//!
//! Every wait is on an event (a hook call, the process's end); the intervals are the run's own.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use veer_e2e::{Envoy, Receiver};
use veer_fake_kube::prometheus;

use crate::canary_run::{args_for, history, live_web};
use crate::live_config::Load;
use crate::status::veerctl_on_terminal;
use crate::support::{web_config, Rig};
use crate::veerctl::veerctl_binary;

/// How long a test waits for a hook call it expects before failing.
const HOOK_WAIT: Duration = Duration::from_secs(120);

/// `veerctl --envoy DIR --admin URL` for `envoy`, then `args`, without a terminal.
fn veerctl(envoy: &Envoy, args: &[&str]) -> Output {
    let dir = envoy.ecds_dir();
    let admin = envoy.admin_url();
    Command::new(veerctl_binary())
        .args(args_for(dir.to_str().unwrap(), &admin, args))
        .env_remove("VEER_ADMIN")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `line` split into arguments (none of them has a space).
fn words(line: &str) -> Vec<&str> {
    line.split(' ').collect()
}

/// `line`'s arguments, then `--gate-file FILE`.
fn with_gates<'a>(line: &'a str, file: &'a Path) -> Vec<&'a str> {
    [words(line), vec!["--gate-file", file.to_str().unwrap()]].concat()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes `yaml` as a gate file in a temporary directory.
fn gate_file(dir: &Path, yaml: &str) -> PathBuf {
    let path = dir.join("gates.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// The run recorded for `web`.
fn recorded(envoy: &Envoy) -> Value {
    let path = envoy.ecds_dir().join(".veer/run-canary-web.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The canary v2 made 150 ms slower than the stable v1: `--max-p99 50ms` rolls it back (after
/// waiting for Envoy to publish enough latency samples), every proxy is back on v1 and v2 then
/// serves no request; `--max-p99-increase` against the stable variant catches it the same way.
#[test]
fn a_latency_regression_is_rolled_back_and_the_canary_serves_nothing_after() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    rig.upstreams[1].set_delay(Duration::from_millis(150));
    let load = Load::start(&rig.client, 4);
    let out = veerctl(
        &rig.envoy,
        &words("canary run web v2 --steps 50,100 --interval 1s --max-p99 50ms --min-requests 20 --promote"),
    );
    load.finish();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for expected in [
        "v2 at 50%: p99 ",
        " responses), above --max-p99 50 ms: aborted, all traffic is back on the stable variant v1 (verified on 1 proxy)",
    ] {
        assert!(stderr.contains(expected), "{expected:?} in:\n{stderr}");
    }
    assert_eq!(
        history(&rig.envoy),
        ["canary set-weight web v2 50%", "canary abort web"]
    );
    assert_eq!(live_web(&rig.envoy)["split"]["v2"], 0);
    assert_eq!(recorded(&rig.envoy)["phase"]["state"], "rolled-back");

    // Nothing reaches the canary any more.
    let before = rig.upstreams[1].served();
    let served = rig.serve_users("after", 300);
    assert!(served.iter().all(|(_, by)| by == "v1"), "{served:?}");
    assert_eq!(rig.upstreams[1].served(), before, "v2 served a request");

    // The same regression against the stable variant's latency, over the same window.
    let load = Load::start(&rig.client, 4);
    let out = veerctl(
        &rig.envoy,
        &words("canary run web v2 --steps 50,100 --interval 1s --max-p99-increase 50% --min-requests 20 --promote"),
    );
    load.finish();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("v2 at 50%: p99-increase +")
            && stderr.contains("), above --max-p99-increase 50%: aborted"),
        "{stderr}"
    );
    assert!(stderr.contains("against the stable variant's"), "{stderr}");
    assert_eq!(live_web(&rig.envoy)["split"]["v2"], 0);
}

/// A healthy canary goes through its steps and is promoted; each hook gets the documented body
/// at its point of the run, in order, with the weights live at that point and the step's gates.
#[test]
fn a_healthy_canary_is_promoted_and_each_hook_gets_the_documented_body() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    let receiver = Receiver::start(|_| 200).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let file = gate_file(
        scratch.path(),
        &format!(
            "hooks:\n\
             - {{name: load-test, type: before-step, url: '{}', metadata: {{cmd: 'hey -z 1m'}}}}\n\
             - {{name: smoke, type: after-step, url: '{}'}}\n\
             - {{name: approve, type: confirm-promotion, url: '{}'}}\n\
             - {{name: last-look, type: before-promotion, url: '{}'}}\n\
             - {{name: notify, type: promoted, url: '{}'}}\n",
            receiver.url("/load"),
            receiver.url("/smoke"),
            receiver.url("/approve"),
            receiver.url("/last-look"),
            receiver.url("/notify")
        ),
    );
    let load = Load::start(&rig.client, 2);
    let out = veerctl(
        &rig.envoy,
        &with_gates("canary run web v2 --steps 20,50 --interval 1s --max-p99 2s --min-requests 20 --promote", &file),
    );
    load.finish_without_failures();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        history(&rig.envoy),
        [
            "canary set-weight web v2 20%",
            "canary set-weight web v2 50%",
            "canary promote web v2"
        ]
    );

    let calls = receiver.calls();
    let seen: Vec<(&str, &str, u64)> = calls
        .iter()
        .map(|c| {
            (
                c.path.as_str(),
                c.body["type"].as_str().unwrap(),
                c.body["step"]["number"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("/load", "before-step", 1),
            ("/smoke", "after-step", 1),
            ("/load", "before-step", 2),
            ("/smoke", "after-step", 2),
            ("/approve", "confirm-promotion", 2),
            ("/last-look", "before-promotion", 2),
            ("/notify", "promoted", 2),
        ]
    );
    // Every field of the documented body, on the first call.
    let first = &calls[0].body;
    let started = first["run_started_at"].as_str().unwrap();
    assert!(started.len() == 20 && started.ends_with('Z'), "{first}");
    assert_eq!(
        *first,
        json!({
            "schema": "veer.dev/canary-hook/v1",
            "type": "before-step",
            "hook": "load-test",
            "service": "web",
            "variant": "v2",
            "stable": "v1",
            "namespace": null,
            "run_started_at": started,
            "step": {"number": 1, "of": 2, "weight_bp": 2000},
            "weights": {"v1": 10000, "v2": 0, "v3": 0},
            "gates": [],
            "reason": null,
            "metadata": {"cmd": "hey -z 1m"}
        })
    );
    // After a step: the weights it set, and the figures it passed with.
    let after = &calls[1].body;
    assert_eq!(after["weights"], json!({"v1": 8000, "v2": 2000, "v3": 0}));
    let gates: Vec<(&str, &str)> = after["gates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["gate"].as_str().unwrap(), g["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        gates[..3],
        [
            ("requests", "pass"),
            ("error-rate", "pass"),
            ("p99", "pass")
        ],
        "{after}"
    );
    assert_eq!(gates[3].0, "split", "{after}");
    assert!(
        after["gates"][0]["value"].as_f64().unwrap() >= 20.0,
        "{after}"
    );
    assert_eq!(after["gates"][2]["condition"], "<= 2000", "{after}");
    assert_eq!(after["gates"][2]["unit"], "ms", "{after}");
    let promoted = &calls[6].body;
    assert_eq!(promoted["weights"], json!({"v1": 0, "v2": 10000, "v3": 0}));
    assert!(calls.iter().all(|c| c.body["run_started_at"] == started));

    let status = veerctl(&rig.envoy, &["-o", "json", "canary", "status", "web"]);
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["phase"]["state"], "promoted", "{status}");
    assert_eq!(status["passed"].as_array().unwrap().len(), 2, "{status}");
    assert_eq!(status["started_at"], started);
}

/// A blocking hook that answers 503 halts the run where it is (weights kept, recorded, the
/// halted hook told why). Run again, it continues at that step; the canary now answers 500, so
/// the 5xx gate rolls it back and the rolled-back hook gets the reason and the figures.
#[test]
fn a_failing_blocking_hook_halts_and_a_failing_canary_is_rolled_back() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    let receiver = Receiver::start(|c| if c.path == "/smoke" { 503 } else { 200 }).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let file = gate_file(
        scratch.path(),
        &format!(
            "hooks:\n\
             - {{name: smoke, type: after-step, url: '{}'}}\n\
             - {{name: pager, type: halted, url: '{}'}}\n\
             - {{name: chat, type: rolled-back, url: '{}'}}\n",
            receiver.url("/smoke"),
            receiver.url("/halted"),
            receiver.url("/rolled-back")
        ),
    );
    let args = with_gates(
        "canary run web v2 --steps 20,50 --interval 1s --promote",
        &file,
    );
    let load = Load::start(&rig.client, 2);
    let out = veerctl(&rig.envoy, &args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("v2 at 20%: the after-step hook smoke answered 503: the run is halted at 20% (weights kept)"),
        "{stderr}"
    );
    assert_eq!(live_web(&rig.envoy)["split"]["v2"], 2000, "weights kept");
    assert_eq!(recorded(&rig.envoy)["phase"]["state"], "halted");
    let halted = receiver
        .wait_for(HOOK_WAIT, |c| c.path == "/halted")
        .expect("the halted hook was called");
    assert_eq!(halted.body["type"], "halted");
    assert_eq!(
        halted.body["reason"],
        "the after-step hook smoke answered 503"
    );
    assert_eq!(halted.body["step"]["number"], 1);
    let status = text(&veerctl(&rig.envoy, &["canary", "status", "web"]).stdout);
    assert!(
        status.contains("state    halted: the after-step hook smoke answered 503"),
        "{status}"
    );
    assert!(
        status.contains("continue with `veerctl canary run web v2 --steps 20,50 --promote`"),
        "{status}"
    );

    // Continued: the same step again, now with a canary that fails.
    rig.upstreams[1].set_status(500);
    receiver.set_policy(|_| 200);
    let out = veerctl(&rig.envoy, &args);
    load.finish();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("continuing the run of web v2 started "),
        "{stderr}"
    );
    assert!(stderr.contains("v2 at 20%: error-rate "), "{stderr}");
    assert!(
        stderr.contains(
            "above --max-error-rate 1%: aborted, all traffic is back on the stable variant v1"
        ),
        "{stderr}"
    );
    assert_eq!(
        history(&rig.envoy),
        [
            "canary set-weight web v2 20%",
            "canary set-weight web v2 20%",
            "canary abort web"
        ]
    );
    let told = receiver
        .wait_for(HOOK_WAIT, |c| c.path == "/rolled-back")
        .expect("the rolled-back hook was called");
    let reason = told.body["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("error-rate ") && reason.ends_with("above --max-error-rate 1%"),
        "{}",
        told.body
    );
    assert_eq!(told.body["weights"]["v2"], 0, "{}", told.body);
    assert_eq!(told.body["gates"][1]["verdict"], "fail", "{}", told.body);
    assert_eq!(live_web(&rig.envoy)["split"]["v2"], 0);
}

/// A run killed (by its PID) while it waits for the approval of step 2 is continued by the next
/// `canary run` at step 2, not from the start: the first step's weight is set once.
#[test]
fn a_killed_run_continues_at_the_step_it_was_at() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    let receiver = Receiver::start(|c| {
        if c.body["step"]["number"] == 2 {
            403
        } else {
            200
        }
    })
    .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let file = gate_file(
        scratch.path(),
        &format!(
            "hooks:\n- {{name: approve, type: confirm-step, url: '{}', retry: 200ms}}\n",
            receiver.url("/approve")
        ),
    );
    let (dir, admin) = (rig.envoy.ecds_dir(), rig.envoy.admin_url());
    let args = with_gates(
        "-o json canary run web v2 --steps 10,30,60 --interval 1s",
        &file,
    );
    let load = Load::start(&rig.client, 2);
    let mut child = Command::new(veerctl_binary())
        .args(args_for(dir.to_str().unwrap(), &admin, &args))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    receiver
        .wait_for(HOOK_WAIT, |c| c.body["step"]["number"] == 2)
        .expect("the run asked for the approval of step 2");
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = recorded(&rig.envoy);
    assert_eq!(killed["step"], 1, "{killed}");
    assert_eq!(killed["phase"]["state"], "running", "{killed}");
    assert_eq!(history(&rig.envoy), ["canary set-weight web v2 10%"]);

    receiver.set_policy(|_| 200);
    let out = veerctl(&rig.envoy, &args);
    load.finish_without_failures();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let events: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "resumed", "{events:?}");
    assert_eq!(
        events[0]["step"],
        json!({"number": 2, "of": 3, "weight_bp": 3000})
    );
    assert_eq!(events[0]["started_at"], killed["started_at"]);
    assert_eq!(events.last().unwrap()["event"], "completed", "{events:?}");
    assert_eq!(
        history(&rig.envoy),
        [
            "canary set-weight web v2 10%",
            "canary set-weight web v2 30%",
            "canary set-weight web v2 60%"
        ]
    );
    let done = recorded(&rig.envoy);
    assert_eq!(done["phase"]["state"], "completed");
    assert_eq!(done["started_at"], killed["started_at"]);
    assert_eq!(
        done["passed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["number"].clone())
            .collect::<Vec<_>>(),
        [json!(1), json!(2)]
    );
}

/// On a terminal each step is a panel redrawn in place above its countdown: the steps done and
/// to come, the live weights, each gate's value against its limit. (Piped, the same run prints
/// plain lines: `canary_run`'s tests.)
#[test]
fn on_a_terminal_a_panel_shows_the_steps_the_weights_and_the_gates() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    let (dir, admin) = (rig.envoy.ecds_dir(), rig.envoy.admin_url());
    let load = Load::start(&rig.client, 2);
    let args = args_for(
        dir.to_str().unwrap(),
        &admin,
        &words("canary run web v2 --steps 20,50 --interval 2s --max-p99 2s"),
    );
    let (status, shown) = veerctl_on_terminal(&args, &[], "");
    load.finish_without_failures();
    assert!(status.success(), "{shown}");
    for expected in [
        "web: canary v2, stable v1 · step 1 of 2 (20%) · watching",
        "steps    ▶ 20%  ○ 50%",
        "weights  v1 80%  v2 20%  v3 0%",
        "gates    requests",
        "<= 2000 ms",
        "✔ pass",
        "v2 at 20%; 50% next [",
    ] {
        assert!(shown.contains(expected), "{expected:?} in:\n{shown}");
    }
}

/// A Prometheus on loopback that answers every instant query with one sample of `value`, and
/// keeps each query it got (URL-decoded).
fn fake_prometheus(value: &'static str) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    prometheus::fake_prometheus(move |_| vec![prometheus::sample(json!({}), value)])
}

/// A gate file's Prometheus query, filled in with the run's names and window, against a
/// loopback Prometheus, in a run on a real Envoy under load: a value over its condition rolls
/// the canary back, after which every proxy is on the stable variant and the canary serves
/// nothing.
#[test]
fn a_prometheus_template_gate_rolls_back_a_real_canary() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    let (prometheus, queries) = fake_prometheus("0.07");
    let dir = tempfile::tempdir().unwrap();
    let file = gate_file(
        dir.path(),
        &format!(
            "prometheus: {prometheus}\nnamespace: shop\ngates:\n  - name: error-ratio\n    query: \
             'sum(rate(errors{{app=\"{{{{ service }}}}\",version=\"{{{{ variant }}}}\",ns=\"{{{{ namespace }}}}\"}}[{{{{ window }}}}]))'\n    \
             condition: \"< 0.01\"\n"
        ),
    );
    let load = Load::start(&rig.client, 4);
    let out = veerctl(
        &rig.envoy,
        &with_gates("canary run web v2 --steps 50,100 --interval 2s", &file),
    );
    load.finish();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("v2 at 50%: error-ratio 0.07 breaks its limit < 0.01: aborted, all traffic is back on the stable variant v1 (verified on 1 proxy)"),
        "{stderr}"
    );
    let query = queries.lock().unwrap().first().cloned().unwrap();
    assert!(
        query.starts_with("sum(rate(errors{app=\"web\",version=\"v2\",ns=\"shop\"}["),
        "{query}"
    );
    assert_eq!(live_web(&rig.envoy)["split"]["v2"], 0);
    assert_eq!(recorded(&rig.envoy)["phase"]["state"], "rolled-back");
    let before = rig.upstreams[1].served();
    let served = rig.serve_users("after", 200);
    assert!(served.iter().all(|(_, by)| by == "v1"), "{served:?}");
    assert_eq!(rig.upstreams[1].served(), before, "v2 served a request");
}
