//! Issue 11.1: "live" means the proxy runs a config that contains the change. Two Envoys, the
//! second watching another copy of the directory at a higher version: veerctl must neither
//! number its change below a version a proxy already runs nor count that proxy as live.

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use veer_ctl::host::envoy::{admin::Admin, verify};
use veer_e2e::envoy::Ports;
use veer_e2e::{Envoy, Upstream};

use crate::support::{web_config, Rig};
use crate::veerctl::{live_file, veerctl_binary, veerctl_with};

#[test]
fn a_proxy_at_a_higher_version_without_the_change_is_not_counted_live() {
    let old = web_config(1, &[("v1", 8000), ("v2", 2000)]);
    let rig = Rig::start(&old);
    let refs: Vec<&Upstream> = rig.upstreams.iter().collect();
    // Another copy of the directory, at version 10 with the old split.
    let mut copy = old.clone();
    copy["version"] = json!(10);
    let other = Envoy::start(&copy.to_string(), &refs).unwrap();
    let admins = format!("{},{}", rig.envoy.admin_url(), other.admin_url());
    let dir = rig.envoy.ecds_dir();

    let err = veerctl_with(
        &dir,
        &admins,
        &["--timeout", "3s", "canary", "set-weight", "web", "v2", "35"],
    )
    .unwrap_err();
    assert_eq!(err.exit_code(), 4, "{err}");
    let text = err.to_string();
    // Numbered above every version a proxy reported, so never below what runs anywhere.
    assert_eq!(live_file(&rig.envoy).version, 11, "{text}");
    assert_eq!(rig.envoy.stats().unwrap().veer("config.version"), 11);
    assert!(
        text.contains(&format!(
            "{} runs version 10: has not picked up version 11",
            other.admin_url()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} runs version 11: live", rig.envoy.admin_url())),
        "{text}"
    );
    let config: serde_json::Value =
        serde_json::from_str(&live_file(&rig.envoy).config_json).unwrap();
    assert_eq!(
        config["services"][0]["split"],
        json!({ "v1": 6500, "v2": 3500 })
    );

    // The other copy now holds version 11 too, with the old split: the same number, another
    // config. The filter's digest tells them apart: not live there, and status says so.
    copy["version"] = json!(11);
    other.push(&copy.to_string()).unwrap();
    other.wait_for_version(11, Duration::from_secs(20)).unwrap();
    let store = veer_ctl::host::envoy::store::Store::new(&dir).unwrap();
    let written = store.current().unwrap().unwrap().target();
    let admin = Admin::default();
    let urls = [rig.envoy.admin_url(), other.admin_url()];
    let before = verify::before(&admin, &urls).unwrap();
    let quiet = veer_ctl::output::progress::Progress::hidden();
    let failed = verify::wait_live(
        &admin,
        &before,
        written,
        &|| None,
        Duration::from_millis(500),
        &quiet,
    )
    .unwrap_err();
    let text = failed.to_string();
    assert!(
        text.contains(&format!(
            "{} runs another config under version 11",
            other.admin_url()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} runs version 11: live", rig.envoy.admin_url())),
        "{text}"
    );
    let out = Command::new(veerctl_binary())
        .args(["--envoy", dir.to_str().unwrap(), "--admin", &admins])
        .args(["status", "--check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(6), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "proxy {}  runs version 11  << OTHER CONFIG",
            other.admin_url()
        )),
        "{stdout}"
    );
}

/// Issue 11.2: a proxy restarted on a file its filter refuses runs the fallback; `status` says
/// so loudly (and `--check` fails), `get` says the proxies do not run what it prints, and a
/// valid `apply` brings the proxy back, verified.
#[test]
fn status_and_get_name_a_proxy_on_the_fallback_and_apply_recovers_it() {
    let upstreams = v1_and_v2();
    let refs: Vec<&Upstream> = upstreams.iter().collect();
    // Split sums to 9000 bp: the filter refuses it.
    let bad = web_config(7, &[("v1", 5000), ("v2", 4000)]);
    let envoy = Envoy::start_with_rejected(&bad.to_string(), &refs).unwrap();
    let veerctl = |args: &[&str]| veerctl_on(&envoy, args);
    let out = veerctl(&["status", "--check"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "proxy {}  runs the FALLBACK config (version 0)  << configured 7: every request goes to the stable route; its Envoy refused 1 update(s)",
            envoy.admin_url()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("FALLBACK: a proxy started with a veer.json its filter refuses"),
        "{stdout}"
    );
    assert!(stderr.contains("runs the fallback config"), "{stderr}");

    let out = veerctl(&["get"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("but not what every proxy runs")
            && stderr.contains("runs the fallback config"),
        "{stderr}"
    );

    let good = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        good.path(),
        web_config(0, &[("v1", 5000), ("v2", 5000)]).to_string(),
    )
    .unwrap();
    let out = veerctl(&["apply", "-f", good.path().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{out:?}");
    assert!(stdout.contains("version 8 live on 1 proxy"), "{stdout}");
    let out = veerctl(&["status"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("runs version 8\n") && !stdout.contains("FALLBACK"),
        "{stdout}"
    );
}

/// Soak finding 2: during an Envoy hot restart, until the old process exits, the new process's
/// `/stats` adds in the old one's gauges, so the filter's version there is not what the new
/// process runs. `status` must not report it as running any version: it says the proxy is in a
/// hot restart (and `--check` fails), then what it really runs once the old process is gone.
#[test]
fn during_a_hot_restart_status_does_not_say_what_runs() {
    let upstreams = v1_and_v2();
    let refs: Vec<&Upstream> = upstreams.iter().collect();
    let good = web_config(5, &[("v1", 8000), ("v2", 2000)]);
    let mut envoy = Envoy::start_on(Ports::free().unwrap(), &good.to_string(), &refs).unwrap();
    // A file the filter refuses: the running process keeps version 5; a new one starts on the
    // bootstrap's fallback.
    envoy
        .push(&web_config(6, &[("v1", 5000), ("v2", 4000)]).to_string())
        .unwrap();
    let rejected = "extension_config_discovery.http_filter.veer.update_rejected";
    while envoy.stats().unwrap().get(rejected) == 0 {
        std::thread::sleep(Duration::from_millis(20));
    }
    envoy.hot_restart().unwrap();
    let status = |envoy: &Envoy| {
        let out = veerctl_on(envoy, &["-o", "json", "status", "--check"]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), json["proxies"][0]["runs"].clone())
    };
    let (code, runs) = status(&envoy);
    assert_eq!(runs, "hot-restart", "stats: {:?}", envoy.stats().unwrap());
    assert_eq!(code, Some(6));

    envoy.wait_for_parent_exit(Duration::from_secs(20)).unwrap();
    let (_, runs) = status(&envoy);
    assert_eq!(runs, "fallback");
}

/// Upstreams v1 and v2, answering at once.
fn v1_and_v2() -> Vec<Upstream> {
    ["v1", "v2"]
        .iter()
        .map(|n| Upstream::start(n, 0).unwrap())
        .collect()
}

/// The veerctl binary on `envoy`'s ECDS directory and admin API, without colour.
fn veerctl_on(envoy: &Envoy, args: &[&str]) -> std::process::Output {
    Command::new(veerctl_binary())
        .env("NO_COLOR", "1")
        .args(["--envoy", envoy.ecds_dir().to_str().unwrap()])
        .args(["--admin", &envoy.admin_url()])
        .args(args)
        .output()
        .unwrap()
}
