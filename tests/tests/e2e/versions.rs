//! Issue 11.1: "live" means the proxy runs a config that contains the change. Two Envoys, the
//! second watching another copy of the directory at a higher version: veerctl must neither
//! number its change below a version a proxy already runs nor count that proxy as live.

use serde_json::json;
use veer_e2e::{Envoy, Upstream};

use crate::support::{web_config, Rig};
use crate::veerctl::{live_file, veerctl_with};

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
}
