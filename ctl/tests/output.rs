//! What veerctl prints, as the user sees it: snapshots (insta) of `status`, `diff`, `apply`,
//! `explain`, `experiment list` and the main error messages, through the binary, with and
//! without colour. Proxies are fake admin APIs on 127.0.0.1; addresses and temporary paths are
//! replaced by placeholders so that the snapshots are stable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

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
/// and the experiment's assignments.
fn stats(version: u64, v1: u64, v2: u64, arms: (u64, u64)) -> String {
    format!(
        "wasmcustom.veer.config.version: {version}\n\
         wasmcustom.veer.split.web.v1: {v1}\nwasmcustom.veer.split.web.v2: {v2}\n\
         wasmcustom.veer.rq.web.v1: {v1}\nwasmcustom.veer.rq.web.v2: {v2}\n\
         wasmcustom.veer.rs.web.v2.5xx: 2\n\
         wasmcustom.veer.exp.web.checkout.control: {}\nwasmcustom.veer.exp.web.checkout.treatment: {}\n\
         extension_config_discovery.http_filter.veer.update_rejected: 0\n\
         extension_config_discovery.http_filter.veer.version_text: \"{version}\"\n",
        arms.0, arms.1
    )
}

/// The version in the ECDS file of `dir`, as a proxy that picked it up reports it.
fn live_version(dir: &Path) -> u64 {
    std::fs::read_to_string(dir.join("veer.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .and_then(|v| v["version_info"].as_str()?.parse().ok())
        .unwrap_or(0)
}

/// A proxy that runs whatever the ECDS file of `dir` holds, with a matching split.
fn following_proxy(dir: PathBuf) -> String {
    fake_admin(move |_| stats(live_version(&dir), 800, 200, (100, 100))).0
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
