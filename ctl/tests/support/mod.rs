//! What the CLI tests share: a fake Envoy admin API on 127.0.0.1 whose answers are scripted,
//! and a fake Kubernetes API server (`kube`).

#![allow(dead_code)]

pub mod kube;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use veer_filter::metrics::{self, Stat};

/// A fake admin API: its n-th `/stats` request (from 0) is answered with `script(n)`. Returns
/// its URL and the count of `/stats` requests so far.
pub fn fake_admin(script: impl Fn(usize) -> String + Send + 'static) -> (String, Arc<AtomicUsize>) {
    fake_admin_or_hang(move |n| Some(script(n)))
}

/// Like [`fake_admin`], but `None` from the script means: hold the connection open and never
/// answer (from then on, the latency request too), as a hung process would.
pub fn fake_admin_or_hang(
    script: impl Fn(usize) -> Option<String> + Send + 'static,
) -> (String, Arc<AtomicUsize>) {
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
            // The latency histograms (`format=json`) are optional: answer them with nothing.
            let body = if hanging {
                None
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
    let (version, digest) = live_config(dir);
    proxy_stats(version, digest, &version.to_string())
}

/// `/stats` of a proxy running `version` with `digest` on every worker (one ECDS reload per
/// version), by the filter's names; Envoy's ECDS version text `text`.
pub fn proxy_stats(version: u64, digest: u64, text: &str) -> String {
    format!(
        "{}: {version}\n{}\
         extension_config_discovery.http_filter.veer.update_rejected: 0\n\
         extension_config_discovery.http_filter.veer.config_reload: {version}\n\
         extension_config_discovery.http_filter.veer.version_text: \"{text}\"\n",
        Stat::global(&metrics::CONFIG_VERSION).envoy_name(),
        digest_stat(digest)
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
