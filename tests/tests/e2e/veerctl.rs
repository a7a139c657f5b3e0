//! veerctl against real Envoys: every change verified live, zero failed requests while it
//! happens, the observed split right after each change, rejections reported, concurrent changes
//! both kept, and a stale proxy caught by the split check.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;

use clap::Parser;
use serde_json::json;
use veer_ctl::cli::Cli;
use veer_ctl::error::CliError;
use veer_e2e::{Build, Client, Envoy, Upstream};
use veer_filter::metrics;

use crate::live_config::Load;
use crate::support::{assert_within_tolerance, tally, web_config, Rig};

const USERS: usize = 2000;

/// Runs veerctl in-process against `envoy`.
fn veerctl(envoy: &Envoy, args: &[&str]) -> Result<(), CliError> {
    veerctl_with(&envoy.ecds_dir(), &envoy.admin_url(), args)
}

/// Runs veerctl in-process with an ECDS directory and admin URLs (comma-separated).
pub(crate) fn veerctl_with(
    dir: &std::path::Path,
    admins: &str,
    args: &[&str],
) -> Result<(), CliError> {
    let mut argv = vec![
        "veerctl",
        "-q",
        "--envoy",
        dir.to_str().unwrap(),
        "--admin",
        admins,
        "--timeout",
        "20s",
    ];
    argv.extend_from_slice(args);
    veer_ctl::run(&Cli::try_parse_from(argv).expect("valid command line"))
}

/// The built veerctl binary (`make test` builds it before the end-to-end tests).
pub(crate) fn veerctl_binary() -> PathBuf {
    let path = std::env::var_os("VEER_CTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| veer_e2e::paths::workspace().join("target/debug/veerctl"));
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p veer-ctl` (make test does)",
        path.display()
    );
    path
}

/// The veerctl binary aimed at `envoy`'s ECDS directory and admin URL.
fn veerctl_process(envoy: &Envoy) -> Command {
    let mut cmd = Command::new(veerctl_binary());
    cmd.args(["--envoy", envoy.ecds_dir().to_str().unwrap()])
        .args(["--admin", &envoy.admin_url(), "--timeout", "20s"]);
    cmd
}

/// Starts the veerctl binary with `args` and returns once it says it waits for the store's lock
/// (which the caller holds), with a thread collecting the rest of its stderr.
pub(crate) fn start_waiting_for_lock(
    envoy: &Envoy,
    args: &[&str],
) -> (Child, thread::JoinHandle<String>) {
    let mut child = veerctl_process(envoy)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (waiting_tx, waiting_rx) = std::sync::mpsc::channel();
    let reader = thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            // It may wait again later (to record its baselines); only the first wait is awaited.
            if line.contains("waiting for another veerctl to finish its change") {
                let _ = waiting_tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    waiting_rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("veerctl {args:?} never waited for the lock"));
    (child, reader)
}

/// Waits for a veerctl started by [`start_waiting_for_lock`]; it must succeed.
fn finish_successfully((child, reader): (Child, thread::JoinHandle<String>)) {
    let out = child.wait_with_output().unwrap();
    let stderr = reader.join().unwrap();
    assert!(out.status.success(), "{stderr}");
}

/// `config` in a file of a new temporary directory (kept while the returned guard lives).
fn config_file(config: &serde_json::Value) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("web.json");
    std::fs::write(&file, config.to_string()).unwrap();
    (dir, file)
}

/// The ECDS file `envoy` watches, as veerctl wrote it.
pub(crate) fn live_file(envoy: &Envoy) -> veer_ctl::host::envoy::ecds::Parsed {
    let text =
        std::fs::read_to_string(veer_ctl::host::envoy::ecds::path_in(&envoy.ecds_dir())).unwrap();
    veer_ctl::host::envoy::ecds::parse(&text).unwrap()
}

/// veerctl's history of changes for `envoy`, oldest first.
fn history(envoy: &Envoy) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(envoy.ecds_dir().join(".veer/history.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Sends one request per user and checks the split against `expected` (variant, bp). A variant
/// at 100 % or 0 % is exact (every request, or none, after a verified change); others are
/// within a binomial tolerance.
fn assert_split(rig: &Rig, label: &str, expected: &[(&str, u64)]) {
    let served = rig.serve_users(label, USERS);
    let counts = tally(served.iter().map(|(_, s)| s.as_str()));
    for (variant, bp) in expected {
        let observed = counts.get(*variant).copied().unwrap_or(0);
        let what = format!("{label} {variant}");
        match bp {
            10_000 => assert_eq!(
                observed, USERS as u64,
                "{what}: not every request: {counts:?}"
            ),
            0 => assert_eq!(observed, 0, "{what}: requests on a 0 % variant: {counts:?}"),
            _ => assert_within_tolerance(&what, observed, USERS as u64, *bp, 4.5),
        }
    }
}

#[test]
fn every_change_is_verified_live_with_zero_failed_requests_under_load() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    let load = Load::start(&rig.client, 2);
    let e = &rig.envoy;

    veerctl(e, &["canary", "set-weight", "web", "v2", "20"]).unwrap();
    assert_split(&rig, "at-20", &[("v1", 8000), ("v2", 2000)]);
    veerctl(e, &["canary", "set-weight", "web", "v2", "50"]).unwrap();
    assert_split(&rig, "at-50", &[("v1", 5000), ("v2", 5000)]);
    veerctl(e, &["canary", "abort", "web"]).unwrap();
    assert_split(&rig, "aborted", &[("v1", 10000)]);
    veerctl(e, &["canary", "set-weight", "web", "v2", "50"]).unwrap();
    veerctl(e, &["canary", "promote", "web", "v2"]).unwrap();
    assert_split(&rig, "promoted", &[("v2", 10000)]);
    veerctl(e, &["bluegreen", "switch", "web", "v3"]).unwrap();
    assert_split(&rig, "switched", &[("v3", 10000)]);
    veerctl(e, &["bluegreen", "rollback", "web"]).unwrap();
    assert_split(&rig, "rolled-back", &[("v2", 10000)]);

    load.finish_without_failures();
    // Eight changes on top of version 1, each verified from the proxy's own gauge.
    assert_eq!(rig.envoy.stats().unwrap().veer("config.version"), 8);
}

/// `apply -f` without `--no-wait`: the binary writes the file, waits until the proxy reports
/// the new version, and says so; the load sees no failure and the new split serves at once.
#[test]
fn apply_is_verified_live_with_zero_failed_requests_under_load() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    let (_dir, file) = config_file(&web_config(0, &[("v1", 5000), ("v2", 5000)]));
    let load = Load::start(&rig.client, 2);
    let out = veerctl_process(&rig.envoy)
        .args(["apply", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("version 2 live on 1 proxy"), "{stdout}");
    assert_split(&rig, "applied", &[("v1", 5000), ("v2", 5000)]);
    load.finish_without_failures();
    let stats = rig.envoy.stats().unwrap();
    assert_eq!(stats.veer("config.version"), 2);
    assert_eq!(
        stats.text("extension_config_discovery.http_filter.veer.version_text"),
        "\"2\""
    );
}

#[test]
fn apply_reports_a_config_the_proxy_rejects_and_the_old_one_keeps_serving() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    let (dir, file) = config_file(&web_config(0, &[("v1", 5000), ("v2", 5000)]));
    let (missing, unloadable) = unloadable_filters(dir.path());
    let apply = |filter: &[String; 2]| {
        veerctl(
            &rig.envoy,
            &[
                "apply",
                "-f",
                file.to_str().unwrap(),
                &filter[0],
                &filter[1],
            ],
        )
    };
    // A filter file that does not exist is refused before anything is written (issue 11.2).
    let err = apply(&missing).unwrap_err();
    assert_eq!(err.exit_code(), 1, "{err}");
    assert!(err.to_string().contains("nothing was written"), "{err}");
    assert_eq!(live_file(&rig.envoy).version, 1);
    // The engine accepts the routing config, and veerctl accepts the filter, but Envoy cannot
    // load it: the proxy refuses the update, and apply must say so instead of claiming success.
    let err = apply(&unloadable).unwrap_err();
    assert_eq!(err.exit_code(), 4, "{err}");
    assert!(
        err.to_string()
            .contains("rejected version 2 and still runs version 1"),
        "{err}"
    );
    for i in 0..50 {
        assert_eq!(
            rig.client.get_as(&format!("u{i}")).unwrap().served_by(),
            "v1"
        );
    }
    // The last accepted config (version 1, with its filter) is the live file again, as version
    // 3, verified live: an Envoy restart would load it, and later edits build on it.
    assert!(
        err.to_string().contains(
            "restored the last accepted config (version 1, with its filter) as version 3, live on every proxy"
        ),
        "{err}"
    );
    let live = live_file(&rig.envoy);
    assert_eq!(live.version, 3);
    assert_eq!(live.filter, rig.envoy.filter().ecds());
    let config: serde_json::Value = serde_json::from_str(&live.config_json).unwrap();
    assert_eq!(config["services"][0]["split"], json!({ "v1": 10000 }));
    assert_eq!(rig.envoy.stats().unwrap().veer("config.version"), 3);
    let history = history(&rig.envoy);
    assert_eq!(history[0]["version"], 2);
    assert_eq!(history[0]["rejected"], true);
    assert_eq!(
        history[1]["what"],
        "restore version 1 (version 2 was rejected)"
    );

    // The next change builds on the restored config and goes live.
    veerctl(&rig.envoy, &["canary", "set-weight", "web", "v2", "50"]).unwrap();
    assert_eq!(live_file(&rig.envoy).filter, rig.envoy.filter().ecds());
    assert_split(&rig, "after-restore", &[("v1", 5000), ("v2", 5000)]);

    // An invalid config is refused before anything is written (exit 3), with line and path.
    std::fs::write(&file, "{\n  \"services\": [{\"name\": \"web\",\n    \"variants\": [{\"name\": \"v1\", \"cluster\": \"web_v1\"}],\n    \"split\": {\"v1\": 9990}}]\n}\n").unwrap();
    let out = veerctl_process(&rig.envoy)
        .args(["apply", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("line 4: services[0].split: weights sum to 9990 bp, must be 10000"),
        "{stderr}"
    );
}

/// In the build under test: a filter veerctl refuses before it writes anything (its file does not
/// exist), and one it writes but Envoy cannot load (a WebAssembly module without the proxy-wasm
/// ABI; a dynamic module Envoy does not find).
fn unloadable_filters(dir: &std::path::Path) -> ([String; 2], [String; 2]) {
    let pair = |flag: &str, value: &str| [flag.to_owned(), value.to_owned()];
    match Build::selected() {
        Build::Wasm => {
            let empty_module = dir.join("empty.wasm");
            std::fs::write(&empty_module, b"\0asm\x01\x00\x00\x00").unwrap();
            (
                pair("--wasm", "/nonexistent/veer.wasm"),
                pair("--wasm", empty_module.to_str().unwrap()),
            )
        }
        Build::Native => (
            pair("--module", "/nonexistent/libveer_native.so"),
            pair("--module", "veer_not_installed"),
        ),
    }
}

/// Two veerctl processes change the same config at the same time. The test holds the store's
/// lock while both start, so both are certainly waiting on it (each says so on stderr) before
/// either may go on: neither change may be lost.
#[test]
fn two_concurrent_set_weight_processes_are_both_applied() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    let e = &rig.envoy;
    let state = e.ecds_dir().join(".veer");
    std::fs::create_dir_all(&state).unwrap();
    let lock = std::fs::File::create(state.join("lock")).unwrap();
    lock.lock().unwrap();

    let runs = [["v2", "20"], ["v3", "10"]].map(|[variant, percent]| {
        start_waiting_for_lock(e, &["canary", "set-weight", "web", variant, percent])
    });
    lock.unlock().unwrap();
    for run in runs {
        finish_successfully(run);
    }

    let live: serde_json::Value = serde_json::from_str(&live_file(e).config_json).unwrap();
    assert_eq!(
        live["services"][0]["split"],
        json!({ "v1": 7000, "v2": 2000, "v3": 1000 }),
        "a change was lost"
    );
    assert_eq!(live["version"], 3);
    assert_split(&rig, "both", &[("v1", 7000), ("v2", 2000), ("v3", 1000)]);

    // `apply --expect-version` refuses (exit 5) when the live version moved on, writing nothing.
    let (_dir, file) = config_file(&web_config(0, &[("v1", 10000)]));
    let apply = |expected: &str| {
        veerctl_process(e)
            .args([
                "apply",
                "-f",
                file.to_str().unwrap(),
                "--expect-version",
                expected,
            ])
            .output()
            .unwrap()
    };
    let stale = apply("1");
    let stderr = String::from_utf8_lossy(&stale.stderr);
    assert_eq!(stale.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("the live version is 3, not 1: someone changed it meanwhile"),
        "{stderr}"
    );
    assert_eq!(live_file(e).version, 3, "a refused apply wrote");
    let current = apply("3");
    assert!(
        current.status.success(),
        "{}",
        String::from_utf8_lossy(&current.stderr)
    );
    assert_eq!(live_file(e).version, 4);
    assert_split(&rig, "expected-version", &[("v1", 10000)]);
}

/// `bluegreen rollback` reads the history under the store's lock: a switch another veerctl
/// makes while the rollback waits for the lock is the one rolled back.
#[test]
fn bluegreen_rollback_undoes_the_switch_made_while_it_waited_for_the_lock() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    let e = &rig.envoy;
    veerctl(e, &["bluegreen", "switch", "web", "v2"]).unwrap();

    // This test is the other veerctl: it holds the lock while the rollback starts, switches to
    // v3 meanwhile, then lets the rollback go on.
    let store = veer_ctl::host::envoy::store::Store::new(&e.ecds_dir()).unwrap();
    let lock = store.lock(std::time::Duration::from_secs(5), true).unwrap();
    let rollback = start_waiting_for_lock(e, &["bluegreen", "rollback", "web"]);
    let live = store.current().unwrap().unwrap();
    let mut wire = live.wire.clone();
    veer_ctl::config::edit::route_all_to(&mut wire, "web", "v3").unwrap();
    wire.version = Some(3);
    store
        .write(
            &lock,
            &wire,
            &live.filter,
            Some(&live),
            &veer_ctl::history::Change::BluegreenSwitch {
                service: "web".into(),
                variant: "v3".into(),
            },
        )
        .unwrap();
    drop(lock);
    finish_successfully(rollback);

    // Back to before the v3 switch (v2), not to before the v2 switch (v1).
    assert_split(&rig, "rolled-back", &[("v2", 10000)]);
    let last = history(e).pop().unwrap();
    assert_eq!(last["what"], "bluegreen rollback web (to before version 3)");
    assert_eq!(e.stats().unwrap().veer("config.version"), 4);
}

/// `metrics.responses: false` drops the response phase's metrics (and their hostcalls): routing
/// and request counts are unchanged, status says the error rate is not recorded instead of
/// showing zero, and `canary run`, which gates on that rate, refuses to start.
#[test]
fn response_metrics_can_be_turned_off() {
    let mut config = web_config(1, &[("v1", 8000), ("v2", 2000)]);
    config["metrics"] = json!({ "responses": false });
    let rig = Rig::start(&config);
    let e = &rig.envoy;
    assert_split(&rig, "no-response-metrics", &[("v1", 8000), ("v2", 2000)]);
    let stats = e.stats().unwrap();
    assert_eq!(
        stats.veer("rq.web.v1") + stats.veer("rq.web.v2"),
        USERS as u64
    );
    // The build's own prefix (`wasmcustom.` or `dynamicmodulescustom.`) and the family's name.
    let prefix_of = |family: &metrics::Family| {
        format!(
            "{}{}.{}.",
            Build::selected().stat_prefix(),
            metrics::NAMESPACE,
            family.name
        )
    };
    assert!(stats.has_prefix(&prefix_of(&metrics::REQUESTS)));
    for prefix in [&metrics::RESPONSES, &metrics::LATENCY].map(prefix_of) {
        assert!(!stats.has_prefix(&prefix), "{prefix}* defined");
    }

    let out = Command::new(veerctl_binary())
        .args(["--envoy", e.ecds_dir().to_str().unwrap()])
        .args(["--admin", &e.admin_url(), "-o", "json", "status"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let v2 = &status["services"][0]["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "v2")
        .cloned()
        .unwrap();
    assert!(v2["requests"].as_u64().unwrap() > 0, "{v2}");
    assert_eq!(v2["errors"], serde_json::Value::Null, "{v2}");

    let err = veerctl(e, &["canary", "run", "web", "v2", "--steps", "50"]).unwrap_err();
    assert!(
        err.to_string().contains("metrics.responses: false"),
        "{err}"
    );
    assert_eq!(
        e.stats().unwrap().veer("config.version"),
        1,
        "canary run changed the config"
    );
}

/// Envoy may skip a version when two writes land within one file-watch event; the change that
/// wrote the skipped version is live all the same when the later one was built on it. The
/// filter's digest of the config it runs is the one veerctl computes from the text it wrote.
#[test]
fn verification_counts_a_later_version_as_live_and_reports_a_missing_one() {
    use std::time::Duration;
    use veer_ctl::host::envoy::{admin::Admin, verify};
    use veer_ctl::output::progress::Progress;

    let config = web_config(5, &[("v1", 10000)]);
    let rig = Rig::start(&config);
    let admins = [rig.envoy.admin_url()];
    let admin = Admin::default();
    let before = verify::before(&admin, &admins).unwrap();
    let quiet = Progress::start("", true);
    let running = verify::Target {
        version: 5,
        digest: veer_filter::config::digest::of(config.to_string().as_bytes()),
    };
    // Version 4 (whatever it held), with version 5 written on top of it.
    let skipped = verify::Target {
        version: 4,
        digest: 4,
    };
    let snaps = verify::wait_live(
        &admin,
        &before,
        skipped,
        &|| Some(running),
        Duration::from_secs(5),
        &quiet,
    )
    .unwrap();
    assert_eq!(snaps.len(), 1);
    assert_eq!(snaps[0].version(), 5);
    let missing = verify::Target {
        version: 6,
        digest: 6,
    };
    let err = CliError::from(
        verify::wait_live(
            &admin,
            &before,
            missing,
            &|| None,
            Duration::from_millis(300),
            &quiet,
        )
        .unwrap_err(),
    );
    assert_eq!(err.exit_code(), 4);
    assert!(err.to_string().contains("runs version 5"), "{err}");
}

#[test]
fn status_flags_a_proxy_still_running_an_old_config() {
    let rig = Rig::start(&web_config(1, &[("v1", 8000), ("v2", 2000)]));
    let refs: Vec<&Upstream> = rig.upstreams.iter().collect();
    // A second proxy with its own ECDS directory that veerctl will not update: stale.
    let stale = Envoy::start(
        &web_config(1, &[("v1", 8000), ("v2", 2000)]).to_string(),
        &refs,
    )
    .unwrap();
    let admins = format!("{},{}", rig.envoy.admin_url(), stale.admin_url());
    let dir = rig.envoy.ecds_dir();
    let run = |args: &[&str]| veerctl_with(&dir, &admins, args);
    // Only the first proxy picks up 50/50; apply fails loudly and names the stale proxy.
    let err = run(&["--timeout", "2s", "canary", "set-weight", "web", "v2", "50"]).unwrap_err();
    assert_eq!(err.exit_code(), 4);
    assert!(
        err.to_string().contains(&format!(
            "{} runs version 1: has not picked up version 2",
            stale.admin_url()
        )),
        "{err}"
    );
    // The proxy that did pick it up is listed too: the report says what every proxy runs.
    assert!(
        err.to_string()
            .contains(&format!("{} runs version 2: live", rig.envoy.admin_url())),
        "{err}"
    );

    // Users spread over both proxies, as behind a load balancer.
    let (fresh, old) = (Client::new(rig.envoy.port()), Client::new(stale.port()));
    for i in 0..3000 {
        let client = if i % 2 == 0 { &fresh } else { &old };
        assert_eq!(client.get_as(&format!("lb-{i}")).unwrap().status, 200);
    }
    let g = Cli::try_parse_from([
        "veerctl",
        "--envoy",
        dir.to_str().unwrap(),
        "--admin",
        &admins,
        "status",
    ])
    .unwrap()
    .global;
    let status =
        veer_ctl::commands::status::collect(&veer_ctl::settings::Settings::resolve(&g).host)
            .unwrap();
    let web = &status.services[0];
    let verdict = web.srm.as_ref().expect("enough traffic for a verdict");
    assert!(
        verdict.mismatch,
        "a 65/35 split configured as 50/50 must be flagged: {status:?}"
    );
    let cause = web.cause.as_deref().unwrap_or_default();
    assert!(
        cause.contains(&format!(
            "{} runs version 1 (configured 2)",
            stale.admin_url()
        )),
        "{cause}"
    );
    assert_eq!(status.proxies[1].version, Some(1));

    // The binary says the same and `--check` turns it into exit code 6.
    let out = Command::new(veerctl_binary())
        .args([
            "--envoy",
            dir.to_str().unwrap(),
            "--admin",
            &admins,
            "status",
            "--check",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(6), "{stdout}");
    assert!(
        stdout.contains("MISMATCH") && stdout.contains("STALE"),
        "{stdout}"
    );
}

#[test]
fn explain_says_what_the_data_plane_does() {
    let mut config = web_config(1, &[("v1", 5000), ("v2", 5000)]);
    config["services"][0]["rules"] = json!([{ "name": "beta", "match": { "header": "x-beta", "equals": "1" }, "variant": "v3" }]);
    let rig = Rig::start(&config);
    let dir = rig.envoy.ecds_dir();
    for i in 0..40 {
        let uid = format!("explain-{i}");
        let cookie = format!("uid={uid}");
        let mut cmd = Command::new(veerctl_binary());
        cmd.args([
            "--envoy",
            dir.to_str().unwrap(),
            "-o",
            "json",
            "explain",
            "--cookie",
            &cookie,
        ]);
        if i % 4 == 0 {
            cmd.args(["-H", "x-beta: 1"]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let explained: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut headers: Vec<(&str, &[u8])> = vec![("cookie", cookie.as_bytes())];
        if i % 4 == 0 {
            headers.push(("x-beta", b"1"));
        }
        let reply = rig.client.get("/", &headers).unwrap();
        assert_eq!(
            explained["variant"],
            reply.served_by(),
            "user {uid}: {explained}"
        );
        assert_eq!(explained["cluster"], reply.seen("x-veer-cluster").unwrap());
        assert!(explained["reason"]
            .as_str()
            .unwrap()
            .contains(if i % 4 == 0 {
                "cohort rule \"beta\""
            } else {
                "default split"
            }));
    }
}

#[test]
fn a_progressive_canary_with_a_failing_variant_is_aborted_by_its_error_rate() {
    let mut config = web_config(1, &[("v1", 10000)]);
    // A release whose cluster does not exist: every request it gets is a 503 from Envoy.
    config["services"][0]["variants"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "name": "broken", "cluster": "no_such_cluster" }));
    config["services"][0]["split"]["broken"] = json!(0);
    let rig = Rig::start(&config);
    let load = Load::start(&rig.client, 2);
    let err = veerctl(
        &rig.envoy,
        &[
            "canary",
            "run",
            "web",
            "broken",
            "--steps",
            "10,50",
            "--interval",
            "2s",
            "--max-error-rate",
            "1",
        ],
    )
    .unwrap_err();
    let (_, failed, _) = load.finish();
    assert!(
        err.to_string()
            .contains("above --max-error-rate 1%: aborted"),
        "{err}"
    );
    assert!(
        failed > 0,
        "the broken canary did get traffic before the abort"
    );
    // Aborted at the first step: all traffic back on the stable variant, 50 % never applied.
    assert_split(&rig, "after-abort", &[("v1", 10000)]);
    let history: Vec<String> = history(&rig.envoy)
        .iter()
        .map(|c| c["what"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        history,
        ["canary set-weight web broken 10%", "canary abort web"]
    );
}

#[test]
fn experiments_started_and_stopped_by_veerctl_take_effect() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    veerctl(
        &rig.envoy,
        &[
            "experiment",
            "start",
            "web",
            "checkout",
            "--segment",
            "header:x-country=de",
            "--arm",
            "a=v1:50",
            "--arm",
            "b=v2:50",
        ],
    )
    .unwrap();
    let (mut a, mut b) = (0u64, 0u64);
    for i in 0..1000 {
        let cookie = format!("uid=x-{i}");
        let reply = rig
            .client
            .get("/", &[("cookie", cookie.as_bytes()), ("x-country", b"de")])
            .unwrap();
        match (reply.header("x-veer-experiment"), reply.served_by()) {
            (Some("checkout=a"), "v1") => a += 1,
            (Some("checkout=b"), "v2") => b += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_within_tolerance("arm b", b, a + b, 5000, 4.5);
    // status shows the arms beside their configured shares, counted as the clients saw them,
    // and `--check` passes on them.
    let out = Command::new(veerctl_binary())
        .args(["--envoy", rig.envoy.ecds_dir().to_str().unwrap()])
        .args([
            "--admin",
            &rig.envoy.admin_url(),
            "-o",
            "json",
            "status",
            "--check",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = &status["services"][0]["experiments"][0];
    assert_eq!(e["id"], "checkout", "{status}");
    let arms: Vec<(String, i64, u64)> = e["arms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_owned(),
                a["configured_bp"].as_i64().unwrap(),
                a["assigned"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(arms, [("a".into(), 5000, a), ("b".into(), 5000, b)]);
    assert_eq!(e["srm"]["mismatch"], false, "{e}");
    assert_eq!(
        rig.client
            .get_as("outside")
            .unwrap()
            .header("x-veer-experiment"),
        None
    );
    veerctl(&rig.envoy, &["experiment", "stop", "web", "checkout"]).unwrap();
    let after = rig
        .client
        .get("/", &[("cookie", b"uid=x-1"), ("x-country", b"de")])
        .unwrap();
    assert_eq!(after.header("x-veer-experiment"), None);
    assert_eq!(after.served_by(), "v1");
}
