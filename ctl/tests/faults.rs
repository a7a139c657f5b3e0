//! Faults (issue 11, hardening): an admin API that hangs or answers garbage, an ECDS directory
//! that is full or read-only. For each, veerctl says what happened with the right exit code,
//! loses no change (what it reports written is the live file; what it reports not written left
//! the file and the history as they were), and the next command works.
//!
//! The full and read-only directories are small tmpfs mounts (this needs root, as `make test`
//! runs here; without the right to mount, those two tests say so and do nothing).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;

mod support;
use support::{fake_admin, fake_admin_or_hang, following_stats};

/// An ECDS directory under `root` with a live config (version 1, service `web` with v1..v3 and
/// `extra` more services), written without a proxy.
fn live(root: &Path, extra: usize) -> PathBuf {
    let ecds = root.join("ecds");
    std::fs::create_dir_all(&ecds).unwrap();
    let file = root.join("web.json");
    std::fs::write(&file, config(extra).to_string()).unwrap();
    support::apply_first(&ecds, &file);
    ecds
}

/// `extra` services (to make the config large), then service `web` (v1, v2, v3), which takes
/// every request the others do not.
fn config(extra: usize) -> serde_json::Value {
    let mut services: Vec<serde_json::Value> = (0..extra)
        .map(|i| {
            json!({
                "name": format!("padding-{i}"),
                "hosts": [format!("padding-{i}.example.com")],
                "variants": [{ "name": "v1", "cluster": "padding_v1" }],
                "split": { "v1": 10000 }
            })
        })
        .collect();
    services.push(json!({
        "name": "web",
        "variants": [
            { "name": "v1", "cluster": "web_v1" },
            { "name": "v2", "cluster": "web_v2" },
            { "name": "v3", "cluster": "web_v3" }
        ],
        "split": { "v1": 10000 }
    }));
    json!({ "services": services })
}

fn veerctl(ecds: &Path, admin: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_veerctl"));
    cmd.env_remove("VEER_ADMIN")
        .env("NO_COLOR", "1")
        .args(["--envoy", ecds.to_str().unwrap()]);
    if let Some(a) = admin {
        cmd.args(["--admin", a, "--timeout", "2s"]);
    }
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The live file's version and the history's versions: what a failed command must not change.
fn state(ecds: &Path) -> (u64, Vec<u64>) {
    let (version, _) = support::live_config(ecds);
    let history: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(ecds.join(".veer/history.json")).unwrap())
            .unwrap();
    (
        version,
        history
            .iter()
            .map(|e| e["version"].as_u64().unwrap())
            .collect(),
    )
}

/// Files in `dir` and `dir/.veer` other than veerctl's own: temp files left behind.
fn leftovers(ecds: &Path) -> Vec<String> {
    let known = [
        "veer.json",
        ".veer",
        "lock",
        "baseline.lock",
        "history.json",
        "baseline.json",
    ];
    [ecds.to_path_buf(), ecds.join(".veer")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !known.contains(&n.as_str()))
        .collect()
}

/// A change through `admin` (each proxy verified): `canary set-weight web v2 PERCENT`.
fn set_weight(ecds: &Path, admin: &str, percent: &str) -> Output {
    veerctl(ecds, Some(admin))
        .args(["canary", "set-weight", "web", "v2", percent])
        .output()
        .unwrap()
}

#[test]
fn an_admin_api_that_hangs_before_the_change_fails_it_with_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let ecds = live(dir.path(), 0);
    let before = state(&ecds);
    let (hung, _) = fake_admin_or_hang(|_| None);
    let out = set_weight(&ecds, &hung, "20");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("cannot reach Envoy admin at {hung}: ")),
        "{}",
        text(&out)
    );
    assert_eq!(state(&ecds), before, "something was written");

    let following = ecds.clone();
    let (good, _) = fake_admin(move |_| following_stats(&following));
    let out = set_weight(&ecds, &good, "20");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(state(&ecds).0, 2);
}

#[test]
fn an_admin_api_that_hangs_while_veerctl_waits_is_reported_and_the_change_stays() {
    let dir = tempfile::tempdir().unwrap();
    let ecds = live(dir.path(), 0);
    // Answers the reading before the change, then hangs.
    let (hangs, _) =
        fake_admin_or_hang(|n| (n == 0).then(|| following_stats(Path::new("/nonexistent"))));
    let out = set_weight(&ecds, &hangs, "20");
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("version 2 was written but is not live everywhere"),
        "{said}"
    );
    assert!(
        said.contains(&format!("{hangs} unreachable: cannot reach Envoy admin")),
        "{said}"
    );
    // Written, recorded, and the next command builds on it.
    assert_eq!(state(&ecds), (2, vec![1, 2]));
    let following = ecds.clone();
    let (good, _) = fake_admin(move |_| following_stats(&following));
    let out = set_weight(&ecds, &good, "30");
    assert!(out.status.success(), "{}", text(&out));
    let live = veerctl(&ecds, None).arg("get").output().unwrap();
    let live: serde_json::Value = serde_json::from_slice(&live.stdout).unwrap();
    assert_eq!(
        live["services"][0]["split"],
        json!({ "v1": 7000, "v2": 3000 })
    );
    assert_eq!(live["version"], 3);
}

#[test]
fn an_admin_api_that_answers_garbage_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let ecds = live(dir.path(), 0);
    let before = state(&ecds);
    let (garbage, _) = fake_admin(|_| "<html>It works!</html>".to_owned());
    let out = set_weight(&ecds, &garbage, "20");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "{garbage} answers, but not like an Envoy running Veer's filter"
        )),
        "{}",
        text(&out)
    );
    assert_eq!(state(&ecds), before);
    let out = veerctl(&ecds, Some(&garbage))
        .arg("status")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("not like an Envoy running Veer's filter"),
        "{}",
        text(&out)
    );
}

/// A tmpfs of `kib` KiB at `dir` (created), unmounted when dropped; `None` (said on stderr)
/// without the right to mount.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, kib: u32) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={kib}k,mode=755"),
                "veer-faults",
            ])
            .arg(dir)
            .output()
            .unwrap();
        if !out.status.success() {
            eprintln!(
                "SKIPPED: cannot mount a tmpfs here ({}); this test needs root",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return None;
        }
        Some(Tmpfs(dir.to_path_buf()))
    }

    fn remount(&self, option: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,{option}")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }

    /// Fills the filesystem with one-page files until it is full; returns them, so that
    /// removing some frees that many pages.
    fn fill(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for i in 0.. {
            let path = self.0.join(format!("filler-{i}"));
            if std::fs::write(&path, [0u8; 4096]).is_err() {
                let _ = std::fs::remove_file(&path);
                return files;
            }
            files.push(path);
        }
        files
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A live config on a tmpfs of 512 KiB, and a proxy that runs whatever its file holds; `None`
/// without the right to mount. Fields drop in order: the tmpfs is unmounted before its
/// directory is removed.
struct Mounted {
    fs: Tmpfs,
    ecds: PathBuf,
    proxy: String,
    _dir: tempfile::TempDir,
}

impl Mounted {
    fn new() -> Option<Mounted> {
        let dir = tempfile::tempdir().unwrap();
        let fs = Tmpfs::mount(&dir.path().join("mnt"), 512)?;
        let ecds = live(&fs.0, 0);
        let following = ecds.clone();
        let (proxy, _) = fake_admin(move |_| following_stats(&following));
        Some(Mounted {
            fs,
            ecds,
            proxy,
            _dir: dir,
        })
    }
}

#[test]
fn a_full_ecds_directory_fails_the_change_with_nothing_written_then_works_again() {
    let Some(m) = Mounted::new() else {
        return;
    };
    let (fs, ecds, proxy) = (&m.fs, &m.ecds, &m.proxy);
    let before = state(ecds);
    let fillers = fs.fill();

    let out = set_weight(ecds, proxy, "20");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("No space left on device"), "{said}");
    assert!(
        said.contains("nothing was written, the live config is unchanged (version 1)"),
        "{said}"
    );
    assert_eq!(state(ecds), before);
    assert_eq!(leftovers(ecds), Vec::<String>::new());

    for f in fillers {
        std::fs::remove_file(f).unwrap();
    }
    let out = set_weight(ecds, proxy, "20");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(state(ecds), (2, vec![1, 2]));
}

/// The history fits but the ECDS file does not (a large new config over a small one): the
/// history is put back, so the store is exactly as before.
#[test]
fn a_config_that_does_not_fit_leaves_the_history_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&dir.path().join("mnt"), 1024) else {
        return;
    };
    let ecds = live(&fs.0, 0);
    let before = state(&ecds);
    let history_before = std::fs::read(ecds.join(".veer/history.json")).unwrap();
    // About 150 KB of ECDS file; its history entry keeps only the small config before it.
    let big = dir.path().join("big.json");
    std::fs::write(&big, config(600).to_string()).unwrap();
    let mut fillers = fs.fill();
    for f in fillers.drain(..4) {
        std::fs::remove_file(f).unwrap();
    }

    let out = veerctl(&ecds, None)
        .args(["apply", "--no-wait", "-f"])
        .arg(&big)
        .output()
        .unwrap();
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("veer.json: No space left on device"),
        "{said}"
    );
    assert!(
        said.contains("nothing was written, the live config is unchanged"),
        "{said}"
    );
    assert!(
        !said.contains("still lists"),
        "the history was not put back: {said}"
    );
    assert_eq!(state(&ecds), before);
    assert_eq!(
        std::fs::read(ecds.join(".veer/history.json")).unwrap(),
        history_before
    );
    assert_eq!(leftovers(&ecds), Vec::<String>::new());

    for f in fillers {
        std::fs::remove_file(f).unwrap();
    }
    let out = veerctl(&ecds, None)
        .args(["apply", "--no-wait", "-f"])
        .arg(&big)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(state(&ecds).0, 2);
}

#[test]
fn a_read_only_ecds_directory_fails_the_change_with_nothing_written_then_works_again() {
    let Some(m) = Mounted::new() else {
        return;
    };
    let (fs, ecds, proxy) = (&m.fs, &m.ecds, &m.proxy);
    let before = state(ecds);
    fs.remount("ro");

    let out = set_weight(ecds, proxy, "20");
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("Read-only file system"), "{said}");
    assert_eq!(state(ecds), before);
    // Reading still works.
    let out = veerctl(ecds, Some(proxy)).arg("status").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));

    fs.remount("rw");
    let out = set_weight(ecds, proxy, "20");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(state(ecds), (2, vec![1, 2]));
}
