//! A filter VM crash in the middle of the soak. Veer's filter does not panic on request data, so
//! the stand-in that crashes on purpose (`tests/crash-filter`) is loaded through ECDS with
//! `veerctl apply --wasm`, sent a request that crashes its VM, watched until Envoy has restarted
//! the VM (the `FAIL_RELOAD` policy veerctl writes), and replaced by Veer again with
//! `veerctl apply --wasm`, verified live.

use std::path::Path;
use std::time::{Duration, Instant};

use veer_e2e::client::raw_reply;
use veer_e2e::Envoy;

use crate::changes::{file_version, live_version, valid, Veerctl};

/// How long after the stand-in loaded the crash comes. Envoy re-creates a crashed VM at once
/// unless it was loaded less than the reload backoff ago (50–75 ms with the `base_interval` of
/// 50 ms veerctl writes; `PluginConfig::maybeReloadHandleIfNeeded`); a crash inside that window
/// fails the worker's requests until it ends, which `failure_policy` (e2e) measures apart. The
/// soak crashes the VM the way a bad request would, at a time unrelated to the last load.
const AFTER_LOAD: Duration = Duration::from_secs(1);

/// How the crash went.
#[derive(Debug, Clone, Default)]
pub struct Crash {
    /// Seconds since the start when the stand-in was loaded.
    pub at: f64,
    /// Status of the crashing request (0: the connection closed without a reply).
    pub status: u16,
    /// Envoy's log shows the VM's panic.
    pub crashed: bool,
    /// From the crash until a round of new connections is served by the restarted VM.
    pub recovered_in: Option<Duration>,
    /// Veer was loaded again and verified live.
    pub restored: bool,
    /// What went wrong, if anything.
    pub detail: String,
}

/// One request on a new connection (so that requests reach every worker); its status and
/// whether the stand-in handled it.
fn probe(envoy: &Envoy, crash: bool) -> (u16, bool) {
    let marker = if crash { "x-test-crash: 1\r\n" } else { "" };
    let request = format!("GET / HTTP/1.1\r\nhost: soak\r\n{marker}connection: close\r\n\r\n");
    match raw_reply(envoy.port(), request.as_bytes()) {
        Ok(r) => (r.status, r.header("x-crash-filter") == Some("ran")),
        Err(_) => (0, false),
    }
}

/// Loads the stand-in, crashes it, waits for its VM to come back, restores Veer.
pub fn crash(envoy: &Envoy, veerctl: &Veerctl, stand_in: &Path, veer: &Path, at: f64) -> Crash {
    let mut out = Crash {
        at,
        ..Crash::default()
    };
    if let Err(e) = crash_stand_in(envoy, veerctl, stand_in, &mut out) {
        out.detail = e;
    }
    match restore(envoy, veerctl, veer) {
        Ok(()) => out.restored = true,
        Err(e) => out.detail = format!("{} {e}", out.detail).trim().to_owned(),
    }
    out
}

fn crash_stand_in(
    envoy: &Envoy,
    veerctl: &Veerctl,
    stand_in: &Path,
    out: &mut Crash,
) -> Result<(), String> {
    // The stand-in reports no config version: veerctl cannot verify it, so it does not wait.
    apply_with(envoy, veerctl, stand_in, &["--no-wait"])
        .map_err(|e| format!("loading the stand-in: {e}"))?;
    let version = file_version(envoy)?;
    envoy
        .wait_for_ecds_version(version, Duration::from_secs(20))
        .map_err(|e| format!("the stand-in did not load: {e}"))?;
    std::thread::sleep(AFTER_LOAD);
    let crashed_at = Instant::now();
    out.status = probe(envoy, true).0;
    out.crashed = envoy.log().contains("crashing on purpose");
    // Served by the stand-in again on a whole round of new connections: the VM was restarted.
    let deadline = crashed_at + Duration::from_secs(60);
    while Instant::now() < deadline {
        if (0..20).all(|_| probe(envoy, false) == (200, true)) {
            out.recovered_in = Some(crashed_at.elapsed());
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("the crashed VM was not restarted within 60 s".to_owned())
}

fn restore(envoy: &Envoy, veerctl: &Veerctl, veer: &Path) -> Result<(), String> {
    apply_with(envoy, veerctl, veer, &[]).map_err(|e| format!("restoring Veer: {e}"))?;
    let (written, running) = (file_version(envoy)?, live_version(envoy)?);
    if written != running {
        return Err(format!(
            "Veer restored as version {written}, the proxy runs {running}"
        ));
    }
    Ok(())
}

/// `veerctl apply` of the plain config with the filter at `wasm`, and `extra` arguments.
fn apply_with(envoy: &Envoy, veerctl: &Veerctl, wasm: &Path, extra: &[&str]) -> Result<(), String> {
    let file = veerctl
        .file("with-wasm.json", &valid(0))
        .map_err(|e| e.to_string())?;
    let (file, wasm) = (file.to_string_lossy(), wasm.to_string_lossy());
    let mut args = vec!["apply", "-f", &file, "--wasm", &wasm];
    args.extend_from_slice(extra);
    let ran = veerctl.run(envoy, &args);
    if ran.code != 0 {
        return Err(format!("exit {}: {}", ran.code, ran.output.trim()));
    }
    Ok(())
}
