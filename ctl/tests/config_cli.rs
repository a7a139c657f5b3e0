//! `get` and `diff` through the binary, on an ECDS directory and no proxy (`apply --no-wait`
//! writes the live file): what they print for people and for scripts, and their exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

mod support;

fn veerctl(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .args(["--envoy", dir.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A temporary directory (dropped last), a config file path in it, and an empty ECDS directory.
fn scratch() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let ecds = dir.path().join("ecds");
    std::fs::create_dir(&ecds).unwrap();
    let file = dir.path().join("web.json");
    (dir, file, ecds)
}

fn web(split: Value) -> Value {
    json!({
        "stickiness": { "sources": [{ "cookie": "uid" }] },
        "services": [{
            "name": "web",
            "variants": [{ "name": "v1", "cluster": "web_v1" }, { "name": "v2", "cluster": "web_v2" }],
            "split": split
        }]
    })
}

#[test]
fn get_prints_the_live_config_and_diff_every_change_with_warnings() {
    let (_dir, file, ecds) = scratch();

    let out = veerctl(&ecds, &["get"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no live config yet"));

    let config = web(json!({ "v1": 8000, "v2": 2000 }));
    std::fs::write(&file, config.to_string()).unwrap();
    let f = file.to_str().unwrap();
    support::apply_first(&ecds, &file);

    let mut expected = config.clone();
    expected["version"] = json!(1);
    let live: Value = serde_json::from_str(&stdout(&veerctl(&ecds, &["get"]))).unwrap();
    assert_eq!(live, expected);

    assert_eq!(stdout(&veerctl(&ecds, &["diff", "-f", f])), "no changes\n");

    // A user stays on a variant only where independent hashes agree: 0.8 * 0.9 + 0.2 * 0.1 = 74 %.
    let mut edited = web(json!({ "v1": 9000, "v2": 1000 }));
    edited["services"][0]["salt"] = json!("web-2");
    edited["headers"] = json!({ "expose_variant_to_client": true });
    std::fs::write(&file, edited.to_string()).unwrap();
    let text = stdout(&veerctl(&ecds, &["diff", "-f", f]));
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            r#"headers: added: {"expose_variant_to_client":true}"#,
            r#"services[web].salt: added: "web-2""#,
            r#"  WARNING: the salt of web changes ("web" -> "web-2"): EVERY user of web is hashed into a new bucket, so sticky assignments are reshuffled at random: about 26.0% of users change variant"#,
            "services[web].split: v1 80% | v2 20% -> v1 90% | v2 10% (users re-bucketed by the salt change)",
        ],
        "{text}"
    );
    let json: Value =
        serde_json::from_str(&stdout(&veerctl(&ecds, &["-o", "json", "diff", "-f", f]))).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 3, "{json}");
    assert_eq!(json[1]["path"], "services[web].salt");
    assert!(json[1]["warning"].as_str().unwrap().contains("EVERY user"));
    assert!(json[0].get("warning").is_none(), "{json}");

    // diff wrote nothing.
    let live: Value = serde_json::from_str(&stdout(&veerctl(&ecds, &["get"]))).unwrap();
    assert_eq!(live, expected);
}

#[test]
fn apply_refuses_to_rename_an_owned_header_without_the_flag() {
    let (_dir, file, ecds) = scratch();
    let f = file.to_str().unwrap();
    let mut config = web(json!({ "v1": 10000 }));
    std::fs::write(&file, config.to_string()).unwrap();
    support::apply_first(&ecds, &file);

    config["headers"] = json!({ "cluster": "x-pick" });
    std::fs::write(&file, config.to_string()).unwrap();
    let out = veerctl(&ecds, &["apply", "-f", f, "--no-wait"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("headers.cluster renames \"x-veer-cluster\" to \"x-pick\""),
        "{stderr}"
    );
    assert!(stderr.contains("cluster_header"), "{stderr}");
    let live: Value = serde_json::from_str(&stdout(&veerctl(&ecds, &["get"]))).unwrap();
    assert_eq!(live["version"], 1, "a refused rename was written");

    let allowed = ["apply", "-f", f, "--no-wait", "--allow-header-rename"];
    stdout(&veerctl(&ecds, &allowed));
    let live: Value = serde_json::from_str(&stdout(&veerctl(&ecds, &["get"]))).unwrap();
    assert_eq!(live["headers"]["cluster"], "x-pick");
}

#[test]
fn validate_reports_every_problem_of_a_file_and_exits_3() {
    let (_dir, file, ecds) = scratch();
    let yaml = "services:\n  - name: web\n    varaints: []\n    variants:\n      - name: v1\n    split: {v1: lots}\n";
    std::fs::write(&file, yaml).unwrap();
    let out = veerctl(&ecds, &["validate", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    for problem in [
        "line 3: services[0].varaints: unknown field `varaints`",
        "line 5: services[0].variants[0]: missing field `cluster`",
        "line 6: services[0].split.v1: invalid type: string \"lots\"",
    ] {
        assert!(
            stderr.contains(problem),
            "{problem} missing from:\n{stderr}"
        );
    }
}

/// `--dry-run` with --envoy shows what a change would do and writes nothing, for single changes
/// and for a whole `canary run` (no proxy is needed: nothing is verified).
#[test]
fn dry_run_on_envoy_shows_the_change_and_writes_nothing() {
    let (_dir, file, ecds) = scratch();
    std::fs::write(&file, web(json!({ "v1": 10000, "v2": 0 })).to_string()).unwrap();
    support::apply_first(&ecds, &file);
    let live_before = stdout(&veerctl(&ecds, &["get"]));

    let text = stdout(&veerctl(
        &ecds,
        &["--dry-run", "canary", "set-weight", "web", "v2", "20"],
    ));
    assert!(
        text.starts_with(
            "canary set-weight web v2 20%: dry run, nothing written (it would be version 2):"
        ),
        "{text}"
    );
    assert!(
        text.contains("services[web].split: v1 100% | v2 0% -> v1 80% | v2 20%"),
        "{text}"
    );
    let json: Value = serde_json::from_str(&stdout(&veerctl(
        &ecds,
        &["-o", "json", "--dry-run=server", "canary", "abort", "web"],
    )))
    .unwrap();
    assert_eq!(json["dry_run"], true, "{json}");
    assert_eq!(json["differences"], json!([]), "{json}");

    let text = stdout(&veerctl(
        &ecds,
        &[
            "--dry-run",
            "canary",
            "run",
            "web",
            "v2",
            "--steps",
            "10,50",
            "--interval",
            "1h",
            "--promote",
        ],
    ));
    for step in [
        "canary set-weight web v2 10%",
        "canary set-weight web v2 50%",
        "canary promote web v2",
    ] {
        assert!(
            text.contains(&format!("{step}: dry run, nothing written")),
            "{step}: {text}"
        );
    }
    assert_eq!(
        stdout(&veerctl(&ecds, &["get"])),
        live_before,
        "a dry run wrote"
    );
}

/// Issue 11.2: `get` prints the live file's config and says, on stderr, whether the proxies run
/// it: each `--admin` proxy read and checked by version and digest, or not checked at all.
#[test]
fn get_says_whether_the_proxies_run_what_it_prints() {
    let (_dir, file, ecds) = scratch();
    std::fs::write(&file, web(json!({ "v1": 10000 })).to_string()).unwrap();
    support::apply_first(&ecds, &file);
    let stderr = |out: &Output| String::from_utf8_lossy(&out.stderr).into_owned();

    let out = veerctl(&ecds, &["get"]);
    assert!(
        stderr(&out).contains("whether the proxies run it was not checked (pass --admin"),
        "{}",
        stderr(&out)
    );

    let following = ecds.clone();
    let (running, _) = support::fake_admin(move |_| {
        let (version, digest) = support::live_config(&following);
        proxy_stats(version, digest, &version.to_string())
    });
    let (other, _) = support::fake_admin(|_| proxy_stats(1, 12345, "1"));
    let (fallback, _) = support::fake_admin(|_| proxy_stats(0, 99, ""));
    let out = veerctl(&ecds, &["--admin", &running, "get"]);
    assert_eq!(
        stderr(&out),
        "version 1: every proxy runs this config (1 checked, by version and digest)\n"
    );
    let admins = format!("{running},{other},{fallback}");
    let out = veerctl(&ecds, &["--admin", &admins, "get"]);
    let text = stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.starts_with(
            "warning: this is the live file (version 1), but not what every proxy runs:"
        ),
        "{text}"
    );
    assert!(!text.contains(&format!("{running} ")), "{text}");
    assert!(
        text.contains(&format!("{other} runs another config under version 1")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{fallback} runs the fallback config")),
        "{text}"
    );
    // The config itself is on stdout, unchanged, whatever the proxies run.
    let live: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(live["version"], 1);
}

use support::proxy_stats;

/// Issue 11.2: veerctl writes no config whose filter Envoy could not load, `--no-wait` too: a
/// missing file, or one that is not a WebAssembly module, is refused with nothing written (a
/// restarting Envoy would otherwise start on it). A relative path is written as an absolute one.
#[test]
fn apply_refuses_a_filter_that_is_not_a_wasm_module_even_without_waiting() {
    let (_dir, file, ecds) = scratch();
    let f = file.to_str().unwrap();
    std::fs::write(&file, web(json!({ "v1": 10000 })).to_string()).unwrap();
    let not_wasm = file.with_extension("txt");
    std::fs::write(&not_wasm, "not a module").unwrap();
    for (wasm, why) in [
        ("/does-not-exist.wasm", "cannot read it"),
        (not_wasm.to_str().unwrap(), "not a WebAssembly module"),
    ] {
        let out = veerctl(&ecds, &["apply", "-f", f, "--no-wait", "--wasm", wasm]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
        assert!(stderr.contains("nothing was written"), "{stderr}");
        assert!(!ecds.join("veer.json").exists(), "{wasm} was written");
    }
    support::wasm_module(file.parent().unwrap());
    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .current_dir(file.parent().unwrap())
        .args(["--envoy", ecds.to_str().unwrap()])
        .args(["apply", "-f", f, "--no-wait", "--wasm", "veer.wasm"])
        .output()
        .unwrap();
    stdout(&out);
    let text = std::fs::read_to_string(ecds.join("veer.json")).unwrap();
    let parsed = veer_ctl::host::envoy::ecds::parse(&text).unwrap();
    assert_eq!(
        parsed.filter,
        veer_ctl::host::envoy::ecds::Filter::Wasm(file.parent().unwrap().join("veer.wasm"))
    );
}

/// Issue 11.5: a config file that is not UTF-8 is an invalid config (exit 3, nothing written);
/// `VEER_ADMIN=""` means no proxy; an admin address without a scheme is named with the fix.
#[test]
fn small_input_mistakes_get_the_right_exit_code_and_message() {
    let (_dir, file, ecds) = scratch();
    let f = file.to_str().unwrap();
    std::fs::write(&file, b"services: []\nversion: \xff\n").unwrap();
    let wasm = support::wasm_module(file.parent().unwrap());
    for args in [
        &["validate", f][..],
        &[
            "apply",
            "-f",
            f,
            "--no-wait",
            "--wasm",
            wasm.to_str().unwrap(),
        ],
    ] {
        let out = veerctl(&ecds, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(
            stderr.contains("line 2: $: the file is not UTF-8 text (byte 0xff at column 10)"),
            "{stderr}"
        );
    }
    assert!(!ecds.join("veer.json").exists());

    std::fs::write(&file, web(json!({ "v1": 10000 })).to_string()).unwrap();
    support::apply_first(&ecds, &file);
    let status = |admin: &str| {
        Command::new(env!("CARGO_BIN_EXE_veerctl"))
            .env("VEER_ADMIN", admin)
            .args(["--envoy", ecds.to_str().unwrap(), "status"])
            .output()
            .unwrap()
    };
    let out = status("");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: no --admin URL: status reads the observed split"),
        "{stderr}"
    );
    let out = status("127.0.0.1:9901");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--admin \"127.0.0.1:9901\" is not a URL: write it as http://HOST:PORT"),
        "{stderr}"
    );
}
