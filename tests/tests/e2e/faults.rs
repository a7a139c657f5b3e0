//! Faults with a real Envoy (issue 11, hardening): Envoy killed while veerctl waits for it to
//! pick up a change. veerctl reports it (exit 4, the proxy named), the change stays the live
//! file, and after a restart Envoy runs it and the next commands work.
//! (Hanging and garbage admin APIs, a full or read-only ECDS directory: ctl/tests/faults.rs.)

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use veer_e2e::Client;

use crate::support::{web_config, Rig};
use crate::veerctl::{live_file, start_waiting_for_lock, veerctl_binary};

/// Sends `signal` to the process `pid` (one this test started).
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn envoy_killed_while_veerctl_waits_is_reported_and_the_change_is_kept() {
    let mut rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    let dir = rig.envoy.ecds_dir();
    // Holding the store's lock, so veerctl has read the proxy and waits to write when Envoy is
    // frozen: it can then neither pick the change up nor answer, until it is killed.
    let store = veer_ctl::host::envoy::store::Store::new(&dir).unwrap();
    let lock = store.lock(Duration::from_secs(5), true).unwrap();
    let run = start_waiting_for_lock(
        &rig.envoy,
        &["--timeout", "5s", "canary", "set-weight", "web", "v2", "50"],
    );
    signal(rig.envoy.pid(), "-STOP");
    drop(lock);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while live_file(&rig.envoy).version != 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "version 2 never written"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let admin = rig.envoy.admin_url();
    rig.envoy.kill();

    let (child, reader) = run;
    let out = child.wait_with_output().unwrap();
    let stderr = reader.join().unwrap();
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(
        stderr.contains("version 2 was written but is not live everywhere"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{admin} unreachable: cannot reach Envoy admin")),
        "{stderr}"
    );
    // The change is the live file, and Envoy runs it once restarted.
    let live: serde_json::Value = serde_json::from_str(&live_file(&rig.envoy).config_json).unwrap();
    assert_eq!(
        live["services"][0]["split"],
        json!({ "v1": 5000, "v2": 5000 })
    );
    rig.envoy.restart().unwrap();
    rig.envoy
        .wait_for_version(2, Duration::from_secs(20))
        .unwrap();

    // The next commands work, against the restarted proxy.
    let veerctl = |args: &[&str]| {
        Command::new(veerctl_binary())
            .args(["--envoy", dir.to_str().unwrap()])
            .args(["--admin", &rig.envoy.admin_url()])
            .args(args)
            .output()
            .unwrap()
    };
    let out = veerctl(&["status"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{out:?}");
    assert!(stdout.contains("runs version 2\n"), "{stdout}");
    let out = veerctl(&["canary", "set-weight", "web", "v2", "100"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{out:?}");
    assert!(stdout.contains("version 3 live on 1 proxy"), "{stdout}");
    let client = Client::new(rig.envoy.port());
    for i in 0..20 {
        assert_eq!(
            client.get_as(&format!("after-{i}")).unwrap().served_by(),
            "v2"
        );
    }
}
