//! `canary run` through the binary against fake proxies and a fake Prometheus on 127.0.0.1: a
//! gate file's query filled in, sent and judged (pass, fail, no data); the split as a gate (a
//! split that does not fit its weights halts, exit code 6); too little traffic waiting, then
//! halting or rolling back; `-o json` events; a bad gate file refused before anything changes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use veer_filter::config::StatusClass;
use veer_filter::metrics::Stat;

use serde_json::{json, Value};

mod support;
use support::{fake_admin, following_stats, Colour, Rig};
use veer_fake_kube::prometheus::{fake_prometheus, sample};

/// Service `web` with v1 (stable) and v2 at 0 %.
fn web() -> Value {
    json!({
        "services": [{
            "name": "web",
            "variants": [{ "name": "v1", "cluster": "web_v1" }, { "name": "v2", "cluster": "web_v2" }],
            "split": { "v1": 10000, "v2": 0 }
        }]
    })
}

/// How a fake proxy's traffic follows the live split.
#[derive(Clone, Copy)]
enum Traffic {
    /// Exactly as configured.
    Fits,
    /// Half and half, whatever the weights: a weight that did not take effect.
    Even,
    /// None at all.
    Nothing,
}

/// The live version and the split of `web` in the ECDS file of `dir`.
fn live(dir: &Path) -> (u64, BTreeMap<String, u64>) {
    let text = std::fs::read_to_string(veer_ctl::host::envoy::ecds::path_in(dir)).unwrap();
    let parsed = veer_ctl::host::envoy::ecds::parse(&text).unwrap();
    let config: Value = serde_json::from_str(&parsed.config_json).unwrap();
    let split = config["services"][0]["split"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(v, w)| (v.clone(), w.as_u64().unwrap()))
        .collect();
    (parsed.version, split)
}

/// A fake proxy that runs whatever the rig's ECDS file holds and, at each read of its
/// counters, has counted 100 more requests of `web`, spread as `traffic` says.
fn proxy(rig: &Rig, traffic: Traffic) -> String {
    let dir = rig.ecds();
    let counts: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    fake_admin(move |_| {
        let split = live(&dir).1;
        let mut counts = counts.lock().unwrap();
        let n = split.len() as u64;
        for (variant, bp) in &split {
            let more = match traffic {
                Traffic::Fits => bp / 100,
                Traffic::Even => 100 / n,
                Traffic::Nothing => 0,
            };
            *counts.entry(variant.clone()).or_default() += more;
        }
        let mut text = following_stats(&dir);
        for (variant, n) in counts.iter() {
            for (stat, n) in [
                (Stat::split_requests("web", variant), *n),
                (Stat::requests("web", variant), *n),
                (
                    Stat::responses("web", variant, StatusClass::SERVER_ERROR),
                    0,
                ),
            ] {
                text.push_str(&format!("{}: {n}\n", stat.envoy_name()));
            }
        }
        text
    })
    .0
}

/// A rig on `web()` with one proxy whose traffic is `traffic`.
fn rig(traffic: Traffic) -> Rig {
    let mut rig = Rig::new(&web());
    let admin = proxy(&rig, traffic);
    rig.admins.push(admin);
    rig
}

/// `line` split into arguments (none of them has a space).
fn words(line: &str) -> Vec<&str> {
    line.split(' ').collect()
}

/// The canary's weight in the live config.
fn canary_weight(rig: &Rig) -> u64 {
    live(&rig.ecds()).1.get("v2").copied().unwrap_or(0)
}

fn recorded(rig: &Rig) -> Value {
    let text = std::fs::read_to_string(rig.ecds().join(".veer/run-canary-web.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A gate from a file: its query filled in with the service, the canary, the stable variant,
/// the namespace and the window, sent to Prometheus, and its answer judged. No answer is no
/// data (the step waits, then halts), a value over the condition rolls back, one within it
/// passes; `-o json` tells each event on its own line.
#[test]
fn a_prometheus_gate_is_filled_in_sent_and_judged() {
    let rig = rig(Traffic::Fits);
    let ratio: Arc<Mutex<Option<&'static str>>> = Arc::default();
    let answer = ratio.clone();
    let (prometheus, queries) = fake_prometheus(move |_| {
        answer
            .lock()
            .unwrap()
            .map(|v| vec![sample(json!({}), v)])
            .unwrap_or_default()
    });
    let gates = rig.file(
        "gates.json",
        &json!({
            "prometheus": prometheus,
            "namespace": "shop",
            "gates": [{
                "name": "error-ratio",
                "query": "sum(rate(errors{app=\"{{ service }}\",version=\"{{ variant }}\",ns=\"{{ namespace }}\"}[{{ window }}])) / sum(rate(requests{version=\"{{ stable }}\"}[{{ window }}]))",
                "condition": "< 0.01"
            }]
        }),
    );
    let run = |extra: &[&str]| {
        let args = [
            &words("canary run web v2 --steps 50,100 --interval 300ms")[..],
            &["--gate-file", &gates, "--max-wait", "1s"],
            extra,
        ]
        .concat();
        rig.run(&args, Colour::Off)
    };

    // No data: the step waits past its interval, then halts (the default).
    let (code, _, stderr) = run(&[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("error-ratio: the query returned no data"),
        "{stderr}"
    );
    assert!(
        stderr.contains("too little data 1s past --interval"),
        "{stderr}"
    );
    assert_eq!(canary_weight(&rig), 5000, "halted: weights kept");
    let query = queries.lock().unwrap().last().cloned().unwrap();
    let (before, window) = query.split_once("}[").unwrap();
    assert_eq!(
        before,
        "sum(rate(errors{app=\"web\",version=\"v2\",ns=\"shop\""
    );
    let seconds = window.split_once("s]").unwrap().0;
    assert!(seconds.parse::<u64>().unwrap() >= 1, "{query}");
    assert!(query.contains("requests{version=\"v1\"}"), "{query}");

    // Over the condition: rolled back, from the recorded step.
    *ratio.lock().unwrap() = Some("0.05");
    let (code, _, stderr) = run(&[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("v2 at 50%: error-ratio 0.05 breaks its limit < 0.01: aborted, all traffic is back on the stable variant v1 (verified on 1 proxy)"),
        "{stderr}"
    );
    assert_eq!(canary_weight(&rig), 0);

    // Within it: a new run passes the step and completes, telling each event as a JSON line.
    *ratio.lock().unwrap() = Some("0.002");
    let (code, stdout, stderr) = run(&["-o", "json"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stderr, "", "JSON events only");
    let events: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[..3], ["started", "step", "live"], "{kinds:?}");
    assert_eq!(
        kinds[kinds.len() - 4..],
        ["passed", "step", "live", "completed"],
        "{kinds:?}"
    );
    assert!(
        kinds[3..kinds.len() - 4].iter().all(|k| *k == "gates"),
        "{kinds:?}"
    );
    for e in &events {
        assert_eq!(
            (e["service"].as_str(), e["variant"].as_str()),
            (Some("web"), Some("v2"))
        );
        assert!(e["at"].as_str().unwrap().ends_with('Z'), "{e}");
    }
    let live = &events[2];
    assert_eq!(
        live["step"],
        json!({"number": 1, "of": 2, "weight_bp": 5000})
    );
    assert_eq!(live["weights"], json!({"v1": 5000, "v2": 5000}));
    assert_eq!(live["proxies"], 1);
    let passed = &events[kinds.len() - 4];
    let gate = passed["readings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["gate"] == "error-ratio")
        .unwrap();
    assert_eq!(gate["value"], 0.002);
    assert_eq!(gate["condition"], "< 0.01");
    assert_eq!(gate["verdict"], "pass");
    assert_eq!(canary_weight(&rig), 10000);
    assert_eq!(recorded(&rig)["phase"]["state"], "completed");
}

/// The split itself is a gate: the canary set to 20 % but seen at 50 % means the weight did not
/// take effect; the run halts there with exit code 6 (as `status --check`), weights kept.
#[test]
fn a_split_that_does_not_fit_its_weights_halts_with_exit_code_6() {
    let rig = rig(Traffic::Even);
    let (code, _, stderr) = rig.run(
        &words("canary run web v2 --steps 20,50 --interval 300ms"),
        Colour::Off,
    );
    assert_eq!(code, 6, "{stderr}");
    assert!(
        stderr.contains("v2 at 20%: split 50.00% breaks its limit between 15% 25% (of "),
        "{stderr}"
    );
    assert!(
        stderr.contains("the observed split does not match the configured one"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the run is halted at 20% (weights kept)"),
        "{stderr}"
    );
    assert_eq!(canary_weight(&rig), 2000);
    assert_eq!(recorded(&rig)["phase"]["state"], "halted");
}

/// A step with too little traffic never passes: it waits past its interval, says so once, then
/// halts (the default); run again with `--on-no-data rollback`, it continues at that step and
/// rolls back.
#[test]
fn too_little_traffic_waits_then_halts_or_rolls_back() {
    let rig = rig(Traffic::Nothing);
    let args =
        words("canary run web v2 --steps 20,50 --interval 200ms --min-requests 10 --max-wait 1s");
    let (code, stdout, stderr) = rig.run(&args, Colour::Off);
    assert_eq!(code, 1, "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines[0], "v2 at 20%; 50% next (waiting 200ms)", "{stderr}");
    assert_eq!(
        lines[1],
        "v2 at 20%: waiting up to 1s (--max-wait) for enough data: requests: 0 of the 10 requests --min-requests asks for; error-rate: no requests reached it, so the error gate saw nothing",
        "{stderr}"
    );
    assert!(
        lines[2].starts_with(
            "error: v2 at 20%: too little data 1s past --interval (requests: 0 of the 10"
        ),
        "{stderr}"
    );
    assert!(lines[2].ends_with("the run is halted at 20% (weights kept); `veerctl canary run` with the same arguments continues it, `veerctl canary abort web` rolls back"), "{stderr}");
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(stdout.contains("canary set-weight web v2 20%"), "{stdout}");
    assert_eq!(canary_weight(&rig), 2000);
    // The step's last readings are recorded with the run, and `canary status` shows them.
    let current = &recorded(&rig)["current"];
    let requests = current["gates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["gate"] == "requests")
        .unwrap_or_else(|| panic!("{current}"));
    assert_eq!(requests["verdict"], "no-data", "{current}");
    let (code, status, _) = rig.run(&words("canary status web"), Colour::Off);
    assert_eq!(code, 0, "{status}");
    let read = status
        .lines()
        .find(|l| l.starts_with("  read     step 1 at "))
        .unwrap_or_else(|| panic!("{status}"));
    assert!(read.contains("requests 0 >= 10 (no-data)"), "{read}");

    let rollback = [&args[..], &["--on-no-data", "rollback"]].concat();
    let (code, _, stderr) = rig.run(&rollback, Colour::Off);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.starts_with("continuing the run of web v2 started "),
        "{stderr}"
    );
    assert!(
        stderr.contains("aborted, all traffic is back on the stable variant v1"),
        "{stderr}"
    );
    assert_eq!(canary_weight(&rig), 0);
    assert_eq!(recorded(&rig)["phase"]["state"], "rolled-back");
}

/// A bad gate file is refused with every problem's line and field, exit code 3, before the run
/// changes anything.
#[test]
fn a_bad_gate_file_is_refused_before_anything_changes() {
    let rig = rig(Traffic::Fits);
    let path = rig.dir.path().join("gates.yaml");
    std::fs::write(
        &path,
        "prometheus: http://127.0.0.1:9\ngates:\n  - name: error-ratio\n    query: x{app=\"{{ app }}\"}\n    condition: below 0.01\nhooks:\n  - name: notify\n    type: promoted\n    url: http://127.0.0.1:9/\n    on_failure: rollback\n",
    )
    .unwrap();
    let path = path.to_str().unwrap();
    let (code, _, stderr) = rig.run(
        &["canary", "run", "web", "v2", "--gate-file", path],
        Colour::Off,
    );
    insta::assert_snapshot!(
        "canary-bad-gate-file",
        format!("exit code {code}\n{stderr}")
    );
    assert_eq!(canary_weight(&rig), 0);
    assert!(!rig.ecds().join(".veer/run-canary-web.json").exists());
}
