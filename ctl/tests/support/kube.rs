//! The fake Kubernetes API server (crate `veer-fake-kube`, shared with the end-to-end tests) and
//! the built veerctl run against it.

use std::process::Command;

// Each test binary uses its own part of it.
#[allow(unused_imports)]
pub use veer_fake_kube::{
    fake_api, fake_api_with, lines, no_pods, FakeApi, Log, Pod, Seen, NOT_VERIFIED, PLUGIN, PODS,
};

/// A kubeconfig in `dir` for the fake API server on `port` (context namespace `demo`).
pub fn kubeconfig(dir: &std::path::Path, port: u16) -> std::path::PathBuf {
    veer_fake_kube::kubeconfig(dir, port).unwrap()
}

/// Asserts that veerctl exited with `code` and returns what it said on stderr.
pub fn exits(out: &std::process::Output, code: i32) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    stderr
}

/// Runs the built veerctl against the fake API server on `port` (context namespace `demo`).
pub fn veerctl(port: u16, args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .env("KUBECONFIG", kubeconfig(dir.path(), port))
        .env_remove("VEER_ENVOY_DIR")
        .args(args)
        .output()
        .unwrap()
}

/// Asserts that the fake API server was only read, never written.
pub fn assert_only_read(seen: &Log) {
    let wrote = veer_fake_kube::writes(seen);
    assert!(wrote.is_empty(), "wrote: {wrote:?}");
}
