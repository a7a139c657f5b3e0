//! Ten veerctl processes changing one config at once (issue 11.5): every change is kept, versions
//! never repeat, and only a veerctl that finds another one's change in progress says it waits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

use serde_json::json;

mod support;
use support::fake_admin;

#[test]
fn ten_parallel_changes_are_all_kept_and_only_those_that_wait_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let ecds = dir.path().join("ecds");
    std::fs::create_dir(&ecds).unwrap();
    let file = dir.path().join("web.json");
    let variants: Vec<_> = (0..=10)
        .map(|i| json!({ "name": format!("v{i}"), "cluster": format!("web_v{i}") }))
        .collect();
    let config =
        json!({ "services": [{ "name": "web", "variants": variants, "split": { "v0": 10000 } }] });
    std::fs::write(&file, config.to_string()).unwrap();
    let veerctl = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_veerctl"));
        cmd.env_remove("VEER_ADMIN")
            .env("NO_COLOR", "1")
            .args(["--envoy", ecds.to_str().unwrap()])
            .args(args);
        cmd
    };
    support::apply_first(&ecds, &file);

    // A proxy that runs whatever the file holds.
    let following = ecds.clone();
    let (admin, _) = fake_admin(move |_| support::following_stats(&following));
    let children: Vec<_> = (1..=10)
        .map(|i| {
            let variant = format!("v{i}");
            veerctl(&[
                "--admin",
                &admin,
                "canary",
                "set-weight",
                "web",
                &variant,
                "5",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut runs: Vec<(u64, String)> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            let stdout = String::from_utf8(out.stdout).unwrap();
            let stderr = String::from_utf8(out.stderr).unwrap();
            assert!(out.status.success(), "{stdout}{stderr}");
            // "canary set-weight web vN 5%: version V live on 1 proxy"
            let version = stdout
                .split(": version ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no version in {stdout}"));
            (version, stderr)
        })
        .collect();
    runs.sort_by_key(|(v, _)| *v);
    let versions: Vec<u64> = runs.iter().map(|(v, _)| *v).collect();
    assert_eq!(versions, (2..=11).collect::<Vec<_>>(), "a version repeated");

    // Every change kept: each variant got its 5 %.
    let live = veerctl(&["get"]).output().unwrap();
    let live: serde_json::Value = serde_json::from_slice(&live.stdout).unwrap();
    let split = &live["services"][0]["split"];
    for i in 1..=10 {
        assert_eq!(
            split[format!("v{i}")],
            500,
            "v{i}'s change was lost: {split}"
        );
    }
    // The first to take the lock waited for nobody, and says nothing about waiting.
    let waited = "waiting for another veerctl";
    assert!(!runs[0].1.contains(waited), "the first one: {}", runs[0].1);
}
