//! `override sign` (issue 11.3): what it signs is checked against the live config, so a tester
//! never gets a value the filter would ignore (an unknown service or variant, a key the config
//! does not hold) or one that outlives the config's `override.max_ttl_seconds`; without a live
//! config it says what it could not check.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;

mod support;

const KEY: &str = "a-tester-key-of-32-bytes-or-more";

fn sign(ecds: Option<&Path>, key: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_veerctl"));
    cmd.env_remove("VEER_ENVOY_DIR")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("VEER_OVERRIDE_KEY", key);
    if let Some(dir) = ecds {
        cmd.args(["--envoy", dir.to_str().unwrap()]);
    }
    cmd.args(["override", "sign"]).args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// An ECDS directory whose live config has service `web` (v1, v2) with overrides enabled.
fn live(dir: &Path, max_ttl: Option<u64>) -> std::path::PathBuf {
    let ecds = dir.join("ecds");
    std::fs::create_dir(&ecds).unwrap();
    let mut over = json!({ "enabled": true, "keys": [KEY] });
    if let Some(s) = max_ttl {
        over["max_ttl_seconds"] = json!(s);
    }
    let config = json!({
        "override": over,
        "services": [{
            "name": "web",
            "variants": [{ "name": "v1", "cluster": "web_v1" }, { "name": "v2", "cluster": "web_v2" }],
            "split": { "v1": 10000 }
        }]
    });
    let file = dir.join("web.json");
    std::fs::write(&file, config.to_string()).unwrap();
    support::apply_first(&ecds, &file);
    ecds
}

#[test]
fn what_the_filter_would_refuse_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let ecds = live(dir.path(), None);
    let e = Some(ecds.as_path());
    let cases: [(&str, &[&str], &str); 5] = [
        (KEY, &["shop", "v2"], "no service \"shop\" in the live config (services: web)"),
        (KEY, &["web", "v9"], "service \"web\" has no variant \"v9\" (variants: v1, v2)"),
        ("", &["web", "v2"], "$VEER_OVERRIDE_KEY is empty"),
        (
            "not-one-of-the-config-keys-at-all",
            &["web", "v2"],
            "is not one of the live config's override.keys",
        ),
        (
            KEY,
            &["web", "v2", "--ttl", "100000d"],
            "--ttl 8640000000 s is longer than the live config allows (override.max_ttl_seconds: 604800, 7days)",
        ),
    ];
    for (key, args, why) in cases {
        let out = sign(e, key, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{args:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "{args:?} signed something");
    }
    let out = sign(e, KEY, &["web", "v2", "--ttl", "0s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("must be longer than 0s"),
        "{}",
        stderr(&out)
    );

    // Within the limits: a value the filter accepts (checked with the filter's own verifier).
    let out = sign(e, KEY, &["web", "v2", "--ttl", "7d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let value = String::from_utf8(out.stdout).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let verified = veer_filter::signing::verify(
        value.trim().as_bytes(),
        "web",
        now,
        7 * 24 * 3600,
        &[KEY.as_bytes().to_vec()],
    )
    .unwrap();
    assert_eq!(verified.variant, "v2");
}

/// The config's own maximum is used, and overrides turned off are refused.
#[test]
fn the_configs_maximum_applies_and_disabled_overrides_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ecds = live(dir.path(), Some(3600));
    let out = sign(Some(&ecds), KEY, &["web", "v2", "--ttl", "2h"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("override.max_ttl_seconds: 3600, 1h"),
        "{}",
        stderr(&out)
    );
    assert!(sign(Some(&ecds), KEY, &["web", "v2", "--ttl", "1h"])
        .status
        .success());

    let text = std::fs::read_to_string(ecds.join("veer.json")).unwrap();
    std::fs::write(
        ecds.join("veer.json"),
        text.replace("\\\"enabled\\\":true", "\\\"enabled\\\":false"),
    )
    .unwrap();
    let out = sign(Some(&ecds), KEY, &["web", "v2"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("overrides are not enabled in the live config"),
        "{}",
        stderr(&out)
    );
}

/// No live config to check against (here: Kubernetes without a cluster): the value is signed,
/// with a warning naming what was not checked; what no config can accept is still refused.
#[test]
fn without_a_live_config_it_signs_and_says_what_was_not_checked() {
    let out = sign(None, KEY, &["web", "v2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.starts_with("warning: not checked against the live config ("),
        "{text}"
    );
    assert!(
        text.contains("that service \"web\" has a variant \"v2\", that overrides are enabled, that the key is one of override.keys, and that --ttl is within override.max_ttl_seconds"),
        "{text}"
    );
    let out = sign(None, KEY, &["web", "v2", "--ttl", "400d"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("longer than any config allows (a year,"),
        "{}",
        stderr(&out)
    );
}
