//! What `make soak` can be told, from the environment, resolved once.

use std::path::PathBuf;
use std::time::Duration;

use veer_e2e::paths;

/// The soak's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long the load runs (`SOAK_SECONDS`, default 600).
    pub duration: Duration,
    /// Requests per second, over all load threads (`SOAK_RATE`, default 200).
    pub rate: u32,
    /// Where RESULTS.md and the samples go (`SOAK_OUT`, default `soak/`).
    pub out: PathBuf,
    /// The veerctl binary (`VEER_CTL`, default `target/debug/veerctl`).
    pub veerctl: PathBuf,
    /// The filter that crashes on purpose (`VEER_CRASH_WASM`).
    pub crash_wasm: PathBuf,
    /// Veer's filter (`VEER_WASM`).
    pub wasm: PathBuf,
}

impl Settings {
    /// From the environment; a malformed number is an error naming the variable.
    pub fn from_env() -> Result<Settings, String> {
        let number = |name: &str, default: u64| -> Result<u64, String> {
            match std::env::var(name) {
                Ok(v) if !v.trim().is_empty() => v
                    .trim()
                    .parse()
                    .map_err(|_| format!("{name}={v:?} is not a whole number")),
                _ => Ok(default),
            }
        };
        let seconds = number("SOAK_SECONDS", 600)?;
        if seconds < 30 {
            return Err(format!(
                "SOAK_SECONDS={seconds}: at least 30, to fit a crash and a restart"
            ));
        }
        let rate = u32::try_from(number("SOAK_RATE", 200)?.clamp(1, 5000)).unwrap_or(200);
        let veerctl = std::env::var_os("VEER_CTL")
            .map(PathBuf::from)
            .unwrap_or_else(|| paths::workspace().join("target/debug/veerctl"));
        if !veerctl.exists() {
            return Err(format!(
                "{} is missing: `cargo build -p veer-ctl` (make soak does), or set VEER_CTL",
                veerctl.display()
            ));
        }
        let out = std::env::var_os("SOAK_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|| paths::workspace().join("soak"));
        Ok(Settings {
            duration: Duration::from_secs(seconds),
            rate,
            out,
            veerctl,
            crash_wasm: paths::crash_wasm(),
            wasm: paths::wasm(),
        })
    }
}
