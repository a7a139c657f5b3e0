//! veerctl driving Veer native (the dynamic module) on a standalone Envoy, against fake admin
//! APIs: `apply --module` writes the dynamic-module filter's ECDS resource and every edit keeps
//! it; each proxy's Envoy release (`/server_info`) must load the module's ABI, or nothing is
//! written and the error says why and what to do.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use veer_ctl::host::envoy::ecds::{self, Filter};

mod support;
use support::{fake_envoy, following_stats_of, Colour, Rig, ENVOY_1_40};

const NATIVE: &str = "dynamicmodulescustom.";

fn web() -> Value {
    json!({
        "services": [{
            "name": "web",
            "hosts": ["web.example.com"],
            "variants": [{ "name": "v1", "cluster": "web_v1" }, { "name": "v2", "cluster": "web_v2" }],
            "split": { "v1": 10000 }
        }]
    })
}

/// A rig with no live config yet (its ECDS directory empty) and one proxy running the dynamic
/// module on Envoy `version`, which picks up whatever veerctl writes.
fn rig_on(version: &str) -> Rig {
    let rig = Rig {
        dir: tempfile::tempdir().unwrap(),
        admins: Vec::new(),
    };
    std::fs::create_dir(rig.ecds()).unwrap();
    let ecds = rig.ecds();
    let proxy = fake_envoy(version, move |_| Some(following_stats_of(NATIVE, &ecds))).0;
    Rig {
        admins: vec![proxy],
        ..rig
    }
}

/// The ECDS resource veerctl wrote, as JSON and as veerctl reads it back.
fn live(ecds: &Path) -> (Value, ecds::Parsed) {
    let text = std::fs::read_to_string(ecds::path_in(ecds)).unwrap();
    (
        serde_json::from_str(&text).unwrap(),
        ecds::parse(&text).unwrap(),
    )
}

#[test]
fn apply_with_a_module_writes_the_dynamic_module_and_every_edit_keeps_it() {
    let rig = rig_on(ENVOY_1_40);
    let file = rig.file("web.json", &web());
    let (code, stdout, stderr) = rig.run(
        &["apply", "-f", &file, "--module", "veer_native"],
        Colour::Off,
    );
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("native-apply", stdout);
    let (doc, parsed) = live(&rig.ecds());
    let typed = &doc["resources"][0]["typed_config"];
    assert_eq!(typed["@type"], ecds::NATIVE_TYPE, "{doc:#}");
    assert_eq!(parsed.filter, Filter::Native("veer_native".into()));

    let (code, _, stderr) = rig.run(&["canary", "set-weight", "web", "v2", "20"], Colour::Off);
    assert_eq!(code, 0, "{stderr}");
    let (_, parsed) = live(&rig.ecds());
    assert_eq!(parsed.version, 2);
    assert_eq!(parsed.filter, Filter::Native("veer_native".into()));
    let config: Value = serde_json::from_str(&parsed.config_json).unwrap();
    assert_eq!(
        config["services"][0]["split"],
        json!({ "v1": 8000, "v2": 2000 })
    );

    // `apply` without --wasm or --module keeps the build the proxy runs.
    let (code, _, stderr) = rig.run(&["apply", "-f", &file], Colour::Off);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        live(&rig.ecds()).1.filter,
        Filter::Native("veer_native".into())
    );
}

/// A module built for Envoy 1.40 loads in 1.40 and 1.41 only: a proxy on another release is
/// refused before anything is written (exit 1, the proxy and its release named), on the first
/// apply and on an edit of a live native config.
#[test]
fn a_proxy_whose_envoy_cannot_load_the_module_is_refused_with_nothing_written() {
    for release in ["1.39.2", "1.42.0"] {
        let rig = rig_on(&format!("0123abcd/{release}/Clean/RELEASE/BoringSSL"));
        let file = rig.file("web.json", &web());
        let (code, _, stderr) = rig.run(
            &["apply", "-f", &file, "--module", "veer_native"],
            Colour::Off,
        );
        assert_eq!(code, 1, "{stderr}");
        let minor = &release[..4];
        insta::assert_snapshot!(format!("native-abi-mismatch-{minor}"), stderr);
        assert!(!ecds::path_in(&rig.ecds()).exists(), "{release}: written");
    }
    let rig = rig_on("0123abcd/1.41.0-dev/Modified/DEBUG/BoringSSL");
    let file = rig.file("web.json", &web());
    let (code, _, stderr) = rig.run(
        &["apply", "-f", &file, "--module", "veer_native"],
        Colour::Off,
    );
    assert_eq!(code, 0, "1.41 loads a 1.40 module: {stderr}");

    // An edit of a live native config checks too.
    let old = rig_on("0123abcd/1.39.0/Clean/RELEASE/BoringSSL");
    let mut native = Rig::native(&web());
    native.admins = old.admins.clone();
    let before = std::fs::read_to_string(ecds::path_in(&native.ecds())).unwrap();
    let (code, _, stderr) = native.run(&["canary", "set-weight", "web", "v2", "20"], Colour::Off);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "runs Envoy 1.39, but Veer's dynamic module is built for the ABI of Envoy 1.40"
        ),
        "{stderr}"
    );
    let after = std::fs::read_to_string(ecds::path_in(&native.ecds())).unwrap();
    assert_eq!(before, after);
}

/// `--module` as the directory `make native` fills, or as the library file: checked on this host
/// (a shared library), written as the module's name; a wrong file is refused, and the two builds'
/// flags exclude each other (a usage error).
#[test]
fn a_module_is_given_by_name_directory_or_file_and_checked() {
    let rig = Rig {
        dir: tempfile::tempdir().unwrap(),
        admins: Vec::new(),
    };
    std::fs::create_dir(rig.ecds()).unwrap();
    let file = rig.file("web.json", &web());
    let native_dir: PathBuf = rig.dir.path().join("native");
    std::fs::create_dir(&native_dir).unwrap();
    let dir = native_dir.to_str().unwrap();
    let (code, _, stderr) = rig.run(
        &["apply", "-f", &file, "--no-wait", "--module", dir],
        Colour::Off,
    );
    assert_eq!(code, 1);
    insta::assert_snapshot!("native-module-missing", stderr);
    assert!(!ecds::path_in(&rig.ecds()).exists());

    std::fs::write(
        native_dir.join("libveer_native.so"),
        b"\x7fELF\x02\x01\x01\x00",
    )
    .unwrap();
    let (code, _, stderr) = rig.run(
        &["apply", "-f", &file, "--no-wait", "--module", dir],
        Colour::Off,
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        live(&rig.ecds()).1.filter,
        Filter::Native("veer_native".into())
    );

    let (code, _, stderr) = rig.run(
        &[
            "apply",
            "-f",
            &file,
            "--no-wait",
            "--module",
            "veer_native",
            "--wasm",
            "/x.wasm",
        ],
        Colour::Off,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}
