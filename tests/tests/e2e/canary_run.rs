//! `veerctl canary run` against a real Envoy: every step applied and verified under load, the
//! promotion at the end, the manual gate, and what the pause between steps shows.

use std::process::{Command, Stdio};

use veer_e2e::Envoy;

use crate::live_config::Load;
use crate::status::veerctl_on_terminal;
use crate::support::{assert_within_tolerance, tally, web_config, Rig};
use crate::veerctl::veerctl_binary;

/// What veerctl recorded, oldest first (`canary set-weight web v2 20%`, ...).
pub(crate) fn history(envoy: &Envoy) -> Vec<String> {
    let text = std::fs::read_to_string(envoy.ecds_dir().join(".veer/history.json")).unwrap();
    serde_json::from_str::<Vec<serde_json::Value>>(&text)
        .unwrap()
        .iter()
        .map(|c| c["what"].as_str().unwrap().to_owned())
        .collect()
}

/// The live routing config's `web` service.
pub(crate) fn live_web(envoy: &Envoy) -> serde_json::Value {
    let resource =
        std::fs::read_to_string(veer_ctl::host::envoy::ecds::path_in(&envoy.ecds_dir())).unwrap();
    let config: serde_json::Value = serde_json::from_str(
        &veer_ctl::host::envoy::ecds::parse(&resource)
            .unwrap()
            .config_json,
    )
    .unwrap();
    config["services"][0].clone()
}

/// `--envoy DIR --admin URL` for `envoy`, then `args`.
pub(crate) fn args_for<'a>(dir: &'a str, admin: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["--envoy", dir, "--admin", admin];
    all.extend_from_slice(args);
    all
}

/// The success path twice on one proxy: on a terminal with `--promote` (a countdown between
/// steps, then v2 becomes the stable variant), then piped (plain progress lines) for v3.
#[test]
fn a_progressive_canary_steps_through_every_weight_and_is_promoted() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    let load = Load::start(&rig.client, 2);
    let (dir, admin) = (rig.envoy.ecds_dir(), rig.envoy.admin_url());
    let dir = dir.to_str().unwrap();

    let run = args_for(
        dir,
        &admin,
        &[
            "canary",
            "run",
            "web",
            "v2",
            "--steps",
            "20,50",
            "--interval",
            "2s",
            "--promote",
        ],
    );
    let (status, shown) = veerctl_on_terminal(&run, &[], "");
    assert!(status.success(), "{shown}");
    for expected in [
        "v2 at 20%; 50% next [", // the countdown bar
        "s left",
        "v2 at 50%; promotion next [",
        "v2 at 50%: 0.00% 5xx", // the gate's reading
    ] {
        assert!(shown.contains(expected), "{expected:?} in:\n{shown}");
    }
    assert_eq!(
        history(&rig.envoy),
        [
            "canary set-weight web v2 20%",
            "canary set-weight web v2 50%",
            "canary promote web v2"
        ]
    );
    let web = live_web(&rig.envoy);
    assert_eq!(
        web["variants"][0]["name"], "v2",
        "v2 is the stable variant: {web}"
    );
    assert_eq!(web["split"]["v2"], 10000, "{web}");

    // Piped: one plain line per pause and per gate, no redraws, no escape codes.
    let out = Command::new(veerctl_binary())
        .args(args_for(
            dir,
            &admin,
            &[
                "canary",
                "run",
                "web",
                "v3",
                "--steps",
                "30,60",
                "--interval",
                "500ms",
            ],
        ))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains('\x1b'), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert_eq!(lines[0], "v3 at 30%; 60% next (waiting 500ms)");
    assert!(
        lines[1].starts_with("v3 at 30%: ") && lines[1].contains("within --max-error-rate 1%"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("canary set-weight web v3 60%: version 6 live on 1 proxy"),
        "{stdout}"
    );

    load.finish_without_failures();
    let served = rig.serve_users("after", 2000);
    let counts = tally(served.iter().map(|(_, s)| s.as_str()));
    assert_eq!(
        counts.get("v1"),
        None,
        "v1 is gone after the promotion: {counts:?}"
    );
    assert_within_tolerance("v3", counts["v3"], 2000, 6000, 4.5);
}

/// `--manual` asks on the terminal before each step: `y` goes on, anything else stops there and
/// changes nothing more. Without a terminal it refuses before changing anything.
#[test]
fn the_manual_gate_goes_on_only_when_told() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    let (dir, admin) = (rig.envoy.ecds_dir(), rig.envoy.admin_url());
    let run = args_for(
        dir.to_str().unwrap(),
        &admin,
        &[
            "canary", "run", "web", "v2", "--steps", "10,30,60", "--manual",
        ],
    );

    let out = Command::new(veerctl_binary())
        .args(&run)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--manual asks before each step and needs a terminal"),
        "{stderr}"
    );
    assert!(
        !dir.join(".veer/history.json").exists(),
        "nothing was changed"
    );

    let (status, shown) = veerctl_on_terminal(&run, &[], "y\nn\n");
    assert!(status.success(), "{shown}");
    for expected in [
        "v2 at 10%. Continue to 30%? [y/N]",
        "v2 at 30%. Continue to 60%? [y/N]",
        "stopped at 30%; nothing else changed",
    ] {
        assert!(shown.contains(expected), "{expected:?} in:\n{shown}");
    }
    assert_eq!(
        history(&rig.envoy),
        [
            "canary set-weight web v2 10%",
            "canary set-weight web v2 30%"
        ]
    );
    assert_eq!(live_web(&rig.envoy)["split"]["v2"], 3000);
}
