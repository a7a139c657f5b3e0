//! What the CLI tests share: a fake Envoy admin API and a fake Prometheus on 127.0.0.1 whose
//! answers are scripted, an ECDS directory with a live config to run veerctl on (`Rig`), and a
//! fake Kubernetes API server (`kube`).

#![allow(dead_code)]

pub mod kube;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use veer_filter::metrics::{self, Stat};

/// A fake admin API: its n-th `/stats` request (from 0) is answered with `script(n)`. Returns
/// its URL and the count of `/stats` requests so far.
pub fn fake_admin(script: impl Fn(usize) -> String + Send + 'static) -> (String, Arc<AtomicUsize>) {
    fake_admin_or_hang(move |n| Some(script(n)))
}

/// `/server_info` of an Envoy 1.40.0, the release `make envoy` installs (its real `version`).
pub const ENVOY_1_40: &str =
    "9e5580933739775e8bce696a57a2e1bc99368f23/1.40.0/Clean/RELEASE/BoringSSL";

/// Like [`fake_admin`], but `None` from the script means: hold the connection open and never
/// answer (from then on, the latency request too), as a hung process would.
pub fn fake_admin_or_hang(
    script: impl Fn(usize) -> Option<String> + Send + 'static,
) -> (String, Arc<AtomicUsize>) {
    fake_envoy(ENVOY_1_40, script)
}

/// Like [`fake_admin_or_hang`], for an Envoy whose `/server_info` reports `version`.
pub fn fake_envoy(
    version: &str,
    script: impl Fn(usize) -> Option<String> + Send + 'static,
) -> (String, Arc<AtomicUsize>) {
    let server_info = json!({ "version": version, "state": "LIVE" }).to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        let mut hung = Vec::new();
        let mut hanging = false;
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            // The latency histograms (`format=json`) and `/server_info` (a hot restart) are
            // optional: answer them with nothing.
            let body = if hanging {
                None
            } else if request.contains("/server_info") {
                Some(server_info.clone())
            } else if request.contains("format=json") {
                Some("{}".to_owned())
            } else {
                script(seen.fetch_add(1, Ordering::SeqCst))
            };
            let Some(body) = body else {
                hanging = true;
                hung.push(stream);
                continue;
            };
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, count)
}

/// `/stats` of a proxy that runs whatever the ECDS file of `dir` holds.
pub fn following_stats(dir: &Path) -> String {
    following_stats_of("wasmcustom.", dir)
}

/// [`following_stats`] of a build whose metrics Envoy names `<prefix>veer.*` (`wasmcustom.`,
/// or `dynamicmodulescustom.` for the dynamic module).
pub fn following_stats_of(prefix: &str, dir: &Path) -> String {
    let (version, digest) = live_config(dir);
    proxy_stats_of(prefix, version, digest, &version.to_string())
}

/// `/stats` of a proxy running `version` with `digest` on every worker (one ECDS reload per
/// version), by the filter's names; Envoy's ECDS version text `text`.
pub fn proxy_stats(version: u64, digest: u64, text: &str) -> String {
    proxy_stats_of("wasmcustom.", version, digest, text)
}

/// [`proxy_stats`] of a build whose metrics Envoy names `<prefix>veer.*`.
pub fn proxy_stats_of(prefix: &str, version: u64, digest: u64, text: &str) -> String {
    format!(
        "{prefix}{}: {version}\n{prefix}{}: {digest}\n\
         extension_config_discovery.http_filter.veer.update_rejected: 0\n\
         extension_config_discovery.http_filter.veer.config_reload: {version}\n\
         extension_config_discovery.http_filter.veer.version_text: \"{text}\"\n",
        Stat::global(&metrics::CONFIG_VERSION).name(),
        Stat::global(&metrics::CONFIG_DIGEST).name(),
    )
}

/// The filter's digest gauge at `digest`, as a `/stats` line.
pub fn digest_stat(digest: u64) -> String {
    format!(
        "{}: {digest}\n",
        Stat::global(&metrics::CONFIG_DIGEST).envoy_name()
    )
}

/// The smallest WebAssembly module (its header: `\0asm`, version 1) as `dir/veer.wasm`: what
/// veerctl checks before it writes a config that loads it. No proxy loads it in these tests.
pub fn wasm_module(dir: &Path) -> PathBuf {
    let path = dir.join("veer.wasm");
    std::fs::write(&path, b"\0asm\x01\x00\x00\x00").unwrap();
    path
}

/// The version and digest of the config in the ECDS file of `dir`, as a proxy that picked it
/// up reports them ((0, 0) when there is none).
pub fn live_config(dir: &Path) -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string(dir.join("veer.json")) else {
        return (0, 0);
    };
    let parsed = veer_ctl::host::envoy::ecds::parse(&text).unwrap();
    (
        parsed.version,
        veer_filter::config::digest::of(parsed.config_json.as_bytes()),
    )
}

/// `apply -f FILE --no-wait` of `file` with a filter (a WebAssembly module beside it): the first
/// config of `ecds`, written without a proxy. It must succeed.
pub fn apply_first(ecds: &Path, file: &Path) {
    let wasm = wasm_module(file.parent().unwrap());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .env_remove("VEER_ADMIN")
        .args([
            "--envoy",
            ecds.to_str().unwrap(),
            "apply",
            "--no-wait",
            "-f",
        ])
        .arg(file)
        .arg("--wasm")
        .arg(wasm)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Colour or not: forced on (as a terminal would get it), or off (a pipe).
#[derive(Clone, Copy)]
pub enum Colour {
    On,
    Off,
}

/// An ECDS directory with a live config (written without proxies), and the config file.
pub struct Rig {
    pub dir: tempfile::TempDir,
    pub admins: Vec<String>,
}

impl Rig {
    /// A rig whose proxies run the wasm filter.
    pub fn new(config: &Value) -> Rig {
        Rig::with_filter(config, |dir| {
            ["--wasm".into(), wasm_module(dir).display().to_string()]
        })
    }

    /// A rig whose proxies run Veer native (the dynamic module `veer_native`).
    pub fn native(config: &Value) -> Rig {
        Rig::with_filter(config, |_| ["--module".into(), "veer_native".into()])
    }

    /// A rig whose first config loads the filter `filter(rig's directory)` names.
    fn with_filter(config: &Value, filter: impl FnOnce(&Path) -> [String; 2]) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("ecds")).unwrap();
        let rig = Rig {
            dir,
            admins: Vec::new(),
        };
        let file = rig.file("web.json", config);
        let [flag, value] = filter(rig.dir.path());
        let out = rig.run(
            &["apply", "-f", &file, &flag, &value, "--no-wait"],
            Colour::Off,
        );
        assert_eq!(out.0, 0, "{}", out.2);
        rig
    }

    pub fn ecds(&self) -> PathBuf {
        self.dir.path().join("ecds")
    }

    /// Writes `config` to a file in the rig's directory; returns its path.
    pub fn file(&self, name: &str, config: &Value) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, config.to_string()).unwrap();
        path.to_str().unwrap().to_owned()
    }

    /// Runs veerctl on the rig: exit code, stdout, stderr, with the rig's paths and every
    /// loopback address replaced by placeholders.
    pub fn run(&self, args: &[&str], colour: Colour) -> (i32, String, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_veerctl"));
        for var in [
            "VEER_ADMIN",
            "NO_COLOR",
            "CLICOLOR",
            "CLICOLOR_FORCE",
            "KUBECONFIG",
        ] {
            cmd.env_remove(var);
        }
        match colour {
            Colour::On => cmd.env("CLICOLOR_FORCE", "1"),
            Colour::Off => cmd.env("NO_COLOR", "1"),
        };
        cmd.env("VEER_ENVOY_DIR", self.ecds())
            .env("COLUMNS", "100")
            .env("KUBECONFIG", self.dir.path().join("no-kubeconfig"));
        if !self.admins.is_empty() {
            cmd.env("VEER_ADMIN", self.admins.join(","));
        }
        let out = cmd.args(args).output().unwrap();
        let clean = |b: &[u8]| self.placeholders(&String::from_utf8_lossy(b));
        (
            out.status.code().unwrap_or(-1),
            clean(&out.stdout),
            clean(&out.stderr),
        )
    }

    pub fn placeholders(&self, text: &str) -> String {
        let mut text = text.replace(self.dir.path().to_str().unwrap(), "[DIR]");
        for (i, url) in self.admins.iter().enumerate() {
            text = text.replace(url.as_str(), &format!("[PROXY{}]", i + 1));
        }
        text
    }
}
