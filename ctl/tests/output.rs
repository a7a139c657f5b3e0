//! What veerctl prints, as the user sees it: snapshots (insta) of `status`, `diff`, `apply`,
//! `explain`, `experiment list` and the main error messages, through the binary, with and
//! without colour. Proxies are fake admin APIs on 127.0.0.1; addresses and temporary paths are
//! replaced by placeholders so that the snapshots are stable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use veer_filter::config::StatusClass;
use veer_filter::metrics::{self, Stat};

use serde_json::{json, Value};

mod support;
use support::{fake_admin, Colour, Rig};

/// Service `web` (v1 80 %, v2 20 %) with experiment `checkout` (control/treatment 50/50).
fn web() -> Value {
    json!({
        "stickiness": { "sources": [{ "cookie": "uid" }] },
        "services": [{
            "name": "web",
            "hosts": ["web.example.com"],
            "variants": [{ "name": "v1", "cluster": "web_v1" }, { "name": "v2", "cluster": "web_v2" }],
            "split": { "v1": 8000, "v2": 2000 },
            "experiments": [{
                "id": "checkout",
                "allocation": 5000,
                "arms": [
                    { "name": "control", "variant": "v1", "weight": 5000 },
                    { "name": "treatment", "variant": "v2", "weight": 5000 }
                ]
            }]
        }]
    })
}

/// A proxy's `/stats` running config `version`: the default split sent `v1`/`v2`, 5xx from v2,
/// and the experiment's assignments (names from the filter's names module); Envoy's ECDS counters
/// (one reload per version applied on every worker).
fn stats(version: u64, v1: u64, v2: u64, arms: (u64, u64)) -> String {
    let lines = [
        (Stat::global(&metrics::CONFIG_VERSION), version),
        (Stat::split_requests("web", "v1"), v1),
        (Stat::split_requests("web", "v2"), v2),
        (Stat::requests("web", "v1"), v1),
        (Stat::requests("web", "v2"), v2),
        (Stat::responses("web", "v2", StatusClass::SERVER_ERROR), 2),
        (
            Stat::experiment_requests("web", "checkout", "control"),
            arms.0,
        ),
        (
            Stat::experiment_requests("web", "checkout", "treatment"),
            arms.1,
        ),
    ];
    let mut text: String = lines
        .iter()
        .map(|(stat, n)| format!("{}: {n}\n", stat.envoy_name()))
        .collect();
    text.push_str(&format!(
        "extension_config_discovery.http_filter.veer.update_rejected: 0\n\
         extension_config_discovery.http_filter.veer.config_reload: {version}\n\
         extension_config_discovery.http_filter.veer.version_text: \"{version}\"\n"
    ));
    text
}

/// A proxy that runs whatever the ECDS file of `dir` holds, with a matching split.
fn following_proxy(dir: PathBuf) -> String {
    fake_admin(move |_| {
        let (version, digest) = support::live_config(&dir);
        format!(
            "{}{}",
            stats(version, 800, 200, (100, 100)),
            support::digest_stat(digest)
        )
    })
    .0
}

fn both(name: &str, rig: &Rig, args: &[&str]) {
    for (colour, suffix) in [(Colour::Off, "plain"), (Colour::On, "colour")] {
        let (code, stdout, stderr) = rig.run(args, colour);
        assert_eq!(code, 0, "{stderr}");
        insta::assert_snapshot!(format!("{name}-{suffix}"), stdout);
    }
}

#[test]
fn status_when_the_split_fits() {
    let mut rig = Rig::new(&web());
    rig.admins
        .push(fake_admin(|_| stats(1, 803, 197, (240, 260))).0);
    both("status-fits", &rig, &["status"]);
}

/// A stale proxy skews the split: MISMATCH with the proxy named, STALE marked; an unreachable
/// proxy is listed and the others still count.
#[test]
fn status_when_a_stale_proxy_skews_the_split() {
    let mut rig = Rig::new(&web());
    rig.admins
        .push(fake_admin(|_| stats(1, 400, 100, (50, 50))).0);
    rig.admins
        .push(fake_admin(|_| stats(0, 500, 500, (300, 30))).0);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    rig.admins.push(format!("http://127.0.0.1:{port}"));
    let (code, _, stderr) = rig.run(&["status", "--check"], Colour::Off);
    insta::assert_snapshot!("status-stale-check", format!("exit code {code}\n{stderr}"));
    for (colour, suffix) in [(Colour::Off, "plain"), (Colour::On, "colour")] {
        let (_, stdout, _) = rig.run(&["status"], colour);
        // The unreachable proxy's error names the OS's reason: keep the first words.
        let stdout: String = stdout
            .lines()
            .map(|l| match l.find("cannot reach Envoy admin at [PROXY3]:") {
                Some(i) => format!("{}cannot reach Envoy admin at [PROXY3]: ...", &l[..i]),
                None => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        insta::assert_snapshot!(format!("status-stale-{suffix}"), stdout);
    }
}

/// Issue 11.2: a proxy that started on a file its filter refuses runs the fallback config, and
/// one that loads another file runs another config under the live version: both are named,
/// loudly, with how to recover from the fallback, and `--check` fails on them.
#[test]
fn status_names_a_proxy_on_the_fallback_and_one_running_another_config() {
    let mut rig = Rig::new(&web());
    rig.admins.push(
        fake_admin(|_| {
            stats(0, 0, 0, (0, 0))
                .replace("version_text: \"0\"", "version_text: \"\"")
                .replace("update_rejected: 0", "update_rejected: 1")
        })
        .0,
    );
    rig.admins.push(
        fake_admin(|_| {
            format!(
                "{}{}",
                stats(1, 800, 200, (100, 100)),
                support::digest_stat(123)
            )
        })
        .0,
    );
    both("status-fallback", &rig, &["status"]);
    let (code, stdout, stderr) = rig.run(&["status", "--check"], Colour::Off);
    assert_eq!(code, 6, "{stdout}{stderr}");
    insta::assert_snapshot!("status-fallback-check", stderr);
}

#[test]
fn diff_apply_and_dry_run() {
    let mut rig = Rig::new(&web());
    rig.admins.push(following_proxy(rig.ecds()));
    let mut edited = web();
    edited["services"][0]["split"] = json!({ "v1": 5000, "v2": 5000 });
    edited["services"][0]["salt"] = json!("web-2");
    edited["headers"] = json!({ "expose_variant_to_client": true });
    let file = rig.file("edited.json", &edited);
    both("diff", &rig, &["diff", "-f", &file]);
    both("apply", &rig, &["apply", "-f", &file]);
    both(
        "canary-dry-run",
        &rig,
        &["--dry-run", "canary", "set-weight", "web", "v2", "70"],
    );
}

#[test]
fn explain_and_experiment_list() {
    let mut rig = Rig::new(&web());
    rig.admins
        .push(fake_admin(|_| stats(1, 803, 197, (240, 260))).0);
    let request = [
        "--host",
        "web.example.com",
        "--path",
        "/cart",
        "--cookie",
        "uid=ada",
    ];
    both("explain", &rig, &[&["explain"][..], &request].concat());
    both(
        "explain-json",
        &rig,
        &[&["-o", "json", "explain"][..], &request].concat(),
    );
    both(
        "explain-no-service",
        &rig,
        &["explain", "--host", "api.example.com"],
    );
    both("experiment-list", &rig, &["experiment", "list"]);
}

/// The dynamic module's metrics (`dynamicmodulescustom.veer.*`) in place of the wasm filter's.
fn native(stats: String) -> String {
    stats.replace("wasmcustom.", "dynamicmodulescustom.")
}

/// Veer native: `status`, `experiment list` and `cohort list` read the dynamic module's metrics
/// and print exactly what they print for the wasm filter (the same snapshots).
#[test]
fn the_native_builds_metrics_read_as_the_wasm_filters() {
    let mut rig = Rig::native(&web());
    rig.admins
        .push(fake_admin(|_| native(stats(1, 803, 197, (240, 260)))).0);
    both("status-fits", &rig, &["status"]);
    both("experiment-list", &rig, &["experiment", "list"]);
    let mut rig = Rig::native(&web_with_rules());
    rig.admins
        .push(fake_admin(|_| native(stats_with_rules(42, 7))).0);
    both("cohort-list", &rig, &["cohort", "list"]);
}

/// The main errors: exit code and stderr, with their cause where there is one.
#[test]
fn main_error_messages() {
    let rig = Rig::new(&web());
    let invalid = rig.file(
        "invalid.yaml",
        &json!({"services": [{"name": "web", "varaints": [], "split": {"v1": "lots"}}]}),
    );
    let empty = tempfile::tempdir().unwrap();
    let empty = empty.path().to_str().unwrap().to_owned();
    let cases: [(&str, &[&str]); 6] = [
        ("error-invalid-config", &["validate", &invalid]),
        (
            "error-unknown-service",
            &["canary", "set-weight", "shop", "v2", "20"],
        ),
        (
            "error-unknown-variant",
            &["canary", "set-weight", "web", "v9", "20"],
        ),
        ("error-no-live-config", &["--envoy", &empty, "get"]),
        ("error-no-admin", &["status"]),
        (
            "error-kubernetes-only",
            &["bluegreen", "deploy", "web", "--image", "web:2"],
        ),
    ];
    for (name, args) in cases {
        let (code, _, stderr) = rig.run(args, Colour::Off);
        let stderr = stderr.replace(&empty, "[EMPTY]");
        insta::assert_snapshot!(name, format!("exit code {code}\n{stderr}"));
    }
    // Kubernetes (no --envoy) with a kubeconfig that does not exist.
    insta::assert_snapshot!(
        "error-no-kubeconfig",
        kube_run(&rig, &["experiment", "list"])
    );
    // An API server that does not answer: the error's causes, each once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: demo\nusers:\n- name: u\n  user:\n    token: t\n"
    );
    std::fs::write(rig.dir.path().join("no-kubeconfig"), kubeconfig).unwrap();
    let out = kube_run(&rig, &["canary", "abort", "web"]).replace(&port.to_string(), "[PORT]");
    insta::assert_snapshot!("error-cluster-unreachable", out);
}

/// veerctl on Kubernetes with a kubeconfig that does not exist.
fn kube_run(rig: &Rig, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .env_remove("VEER_ENVOY_DIR")
        .env("NO_COLOR", "1")
        .env("KUBECONFIG", rig.dir.path().join("no-kubeconfig"))
        .args(args)
        .output()
        .unwrap();
    format!(
        "exit code {}\n{}",
        out.status.code().unwrap_or(-1),
        rig.placeholders(&String::from_utf8_lossy(&out.stderr))
    )
}

/// `web()` with two cohort rules: `beta` (a header, to v2) and `mobile` (an app's user agent
/// unless it asks for the classic page, split 50/50).
fn web_with_rules() -> Value {
    let mut config = web();
    config["services"][0]["rules"] = json!([
        { "name": "beta", "match": { "header": "x-beta", "equals": "1" }, "variant": "v2" },
        { "name": "mobile", "match": { "all": [
            { "header": "user-agent", "prefix": "Shop App/" },
            { "query": "classic", "absent": true }
        ] }, "split": { "v1": 5000, "v2": 5000 } }
    ]);
    config
}

/// `stats` plus the requests each rule decided.
fn stats_with_rules(beta: u64, mobile: u64) -> String {
    format!(
        "{}{}: {beta}\n{}: {mobile}\n",
        stats(1, 803, 197, (240, 260)),
        Stat::rule_requests("web", "beta").envoy_name(),
        Stat::rule_requests("web", "mobile").envoy_name()
    )
}

/// `cohort list` (table and JSON) and a `cohort add` dry run: the rules before and after, the
/// samples decided both ways, and on stderr what the rule takes from the experiment and the
/// canary, counted from the proxy.
#[test]
fn cohort_list_and_add_dry_run() {
    let mut rig = Rig::new(&web_with_rules());
    rig.admins.push(fake_admin(|_| stats_with_rules(42, 7)).0);
    both("cohort-list", &rig, &["cohort", "list"]);
    both(
        "cohort-list-json",
        &rig,
        &["-o", "json", "cohort", "list", "web"],
    );
    let add = [
        "--dry-run",
        "cohort",
        "add",
        "web",
        "employees",
        "--match",
        "cookie:team=internal",
        "--variant",
        "v2",
        "--after",
        "beta",
        "--sample",
        "cookie:team=internal & cookie:uid=ada",
        "--sample",
        "cookie:uid=ada",
    ];
    both("cohort-add-dry-run", &rig, &add);
    let (_, _, stderr) = rig.run(&add, Colour::Off);
    insta::assert_snapshot!("cohort-add-warnings", stderr);
}

/// Cohort mistakes: exit code and stderr.
#[test]
fn cohort_error_messages() {
    let rig = Rig::new(&web_with_rules());
    let cases: [(&str, &[&str]); 5] = [
        (
            "error-cohort-unreachable",
            &[
                "cohort",
                "add",
                "web",
                "beta-ios",
                "--match",
                "header:x-beta=1 & header:user-agent^=iOS",
                "--variant",
                "v1",
            ],
        ),
        (
            "error-cohort-empties-a-later-rule",
            &[
                "cohort",
                "add",
                "web",
                "testers",
                "--match",
                "header:x-beta",
                "--variant",
                "v2",
                "--first",
            ],
        ),
        (
            "error-cohort-bad-match",
            &[
                "cohort",
                "add",
                "web",
                "x",
                "--match",
                "cookie:team=internal &",
                "--variant",
                "v2",
            ],
        ),
        (
            "error-cohort-unknown-rule",
            &["cohort", "remove", "web", "gamma"],
        ),
        (
            "error-cohort-bad-split",
            &["cohort", "set", "web", "mobile", "--split", "v1=60,v2=30"],
        ),
    ];
    for (name, args) in cases {
        let (code, _, stderr) = rig.run(args, Colour::Off);
        insta::assert_snapshot!(name, format!("exit code {code}\n{stderr}"));
    }
}

/// `web` with goal `purchase` and experiment `checkout` judged on it, both arms on v1.
fn web_with_goal() -> Value {
    let mut c = web();
    c["goals"] =
        json!([{ "name": "purchase", "match": { "path_prefix": "/buy" }, "status": "2xx" }]);
    let e = &mut c["services"][0]["experiments"][0];
    e["goals"] = json!(["purchase"]);
    e["arms"][1]["variant"] = json!("v1");
    c
}

/// A proxy's `/stats` for `web_with_goal`: users, purchases and responses per arm.
fn goal_stats(users: (u64, u64), bought: (u64, u64)) -> String {
    let mut s = stats(1, 800, 200, (3 * users.0, 3 * users.1));
    for (arm, u, b) in [
        ("control", users.0, bought.0),
        ("treatment", users.1, bought.1),
    ] {
        let (ok, failed) = (StatusClass::of(b"200"), StatusClass::SERVER_ERROR);
        for (stat, n) in [
            (Stat::experiment_users("web", "checkout", arm), u),
            (
                Stat::goal_requests("web", "checkout", arm, "purchase"),
                b + 5,
            ),
            (Stat::goal_users("web", "checkout", arm, "purchase"), b),
            (Stat::arm_responses("web", "checkout", arm, ok), 3 * u - 1),
            (Stat::arm_responses("web", "checkout", arm, failed), 1),
        ] {
            s.push_str(&format!("{}: {n}\n", stat.envoy_name()));
        }
    }
    s
}

/// The experiment report as people read it: the headline verdict, the split check, the arms
/// (exposed users beside requests, responses per arm since both arms share v1), the goal with
/// intervals, p-value, chance to beat and verdict, and what is approximate.
#[test]
fn experiment_report_names_the_winner() {
    let mut rig = Rig::new(&web_with_goal());
    rig.admins
        .push(fake_admin(|_| goal_stats((1000, 1010), (100, 200))).0);
    both(
        "experiment-report-winner",
        &rig,
        &["experiment", "report", "web", "checkout"],
    );
}

/// A broken split: the verdict is withheld and the likely causes come first.
#[test]
fn experiment_report_withholds_the_verdict_on_a_broken_split() {
    let mut rig = Rig::new(&web_with_goal());
    rig.admins
        .push(fake_admin(|_| goal_stats((1000, 1400), (100, 200))).0);
    let (code, stdout, stderr) = rig.run(
        &[
            "experiment",
            "report",
            "web",
            "checkout",
            "--min-lift",
            "10",
        ],
        Colour::Off,
    );
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("experiment-report-srm", stdout);
}

/// Bad input: an experiment judged on a goal the config does not declare, or a primary goal
/// that is not one of its goals, is refused with the field and what to do, and nothing is
/// written.
#[test]
fn experiment_start_refuses_an_undeclared_goal() {
    let mut rig = Rig::new(&web_with_goal());
    rig.admins
        .push(fake_admin(|_| goal_stats((10, 10), (1, 1))).0);
    let before = std::fs::read_to_string(rig.ecds().join("veer.json")).unwrap();
    let start = ["experiment", "start", "web", "new", "--arm", "a=v1:50"];
    let cases: [(&str, &[&str]); 2] = [
        (
            "error-experiment-unknown-goal",
            &["--arm", "b=v2:50", "--goal", "nope"],
        ),
        (
            "error-experiment-unknown-primary-goal",
            &[
                "--arm",
                "b=v2:50",
                "--goal",
                "purchase",
                "--primary-goal",
                "sale",
            ],
        ),
    ];
    for (name, extra) in cases {
        let args: Vec<&str> = start.iter().chain(extra).copied().collect();
        let (code, _, stderr) = rig.run(&args, Colour::Off);
        insta::assert_snapshot!(name, format!("exit code {code}\n{stderr}"));
    }
    let after = std::fs::read_to_string(rig.ecds().join("veer.json")).unwrap();
    assert_eq!(before, after, "nothing written");
}

/// A proxy whose filter still holds unpublished counts after veerctl waited (traffic did not
/// pause): the report names it and says its figures trail, in the text and in `-o json`.
#[test]
fn a_report_read_while_counts_were_pending_says_they_trail() {
    let mut rig = Rig::new(&web_with_goal());
    let pending = Stat::global(&metrics::COUNTS_PENDING).envoy_name();
    let (url, _) =
        fake_admin(move |_| goal_stats((1000, 1010), (100, 200)) + &format!("{pending}: 1\n"));
    rig.admins.push(url);
    let (code, stdout, stderr) = rig.run(
        &["-o", "json", "experiment", "report", "web", "checkout"],
        Colour::Off,
    );
    assert_eq!(code, 0, "{stderr}");
    let r: Value = serde_json::from_str(&stdout).unwrap();
    // The rig's output names the proxy by its placeholder.
    assert_eq!(
        r["source"]["counts_trailing"],
        json!(["[PROXY1]"]),
        "{stdout}"
    );
    let (code, stdout, stderr) = rig.run(&["experiment", "report", "web", "checkout"], Colour::Off);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("still held counts not yet published when read"),
        "{stdout}"
    );
    // A proxy that published everything is not named.
    let mut rig = Rig::new(&web_with_goal());
    rig.admins
        .push(fake_admin(|_| goal_stats((1000, 1010), (100, 200))).0);
    let (_, stdout, _) = rig.run(
        &["-o", "json", "experiment", "report", "web", "checkout"],
        Colour::Off,
    );
    let r: Value = serde_json::from_str(&stdout).unwrap();
    assert!(r["source"].get("counts_trailing").is_none(), "{stdout}");
}
