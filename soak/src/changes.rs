//! The config changes of the soak, one a second, valid and invalid in turn, each through the
//! veerctl binary (or, for a file the proxy must reject, written the way another tool would).
//!
//! The cycle: a file the filter refuses, written straight into the watched directory (Envoy
//! must keep the last good config); a valid `apply -f` (a whole config: rules or an experiment
//! in turn); an invalid `apply -f` (veerctl must refuse it, exit 3, and write nothing); a
//! `canary set-weight`. A change veerctl reports live (exit 0) counts as **verified** only when
//! the proxy's own gauge then shows the version in the file veerctl wrote.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use veer_e2e::Envoy;

/// The kinds of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `veerctl canary set-weight web v2 <percent>`.
    SetWeight(u32),
    /// `veerctl apply -f` of a valid config (shape `n`).
    Apply(u32),
    /// `veerctl apply -f` of a config it must refuse.
    Refused,
    /// A config the filter refuses, renamed over the watched file by the soak itself.
    Rejected,
}

/// One change and how it went.
#[derive(Debug, Clone)]
pub struct Change {
    /// Seconds since the start of the soak.
    pub at: f64,
    /// What was changed.
    pub kind: Kind,
    /// Whether it ended as it must (see [`Kind`]).
    pub ok: bool,
    /// The version a veerctl change made live, checked on the proxy (`None`: not verified,
    /// or not a change that goes live).
    pub verified: Option<u64>,
    /// What happened, when it is not `ok`.
    pub detail: String,
    /// How long the change took (veerctl's whole run, or until Envoy rejected the file).
    pub took: Duration,
}

/// veerctl aimed at one Envoy.
pub struct Veerctl {
    bin: PathBuf,
    files: tempfile::TempDir,
}

/// What a veerctl run ended with.
pub struct Ran {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Its stderr and stdout.
    pub output: String,
}

impl Veerctl {
    /// veerctl at `bin`.
    pub fn new(bin: &Path) -> std::io::Result<Veerctl> {
        Ok(Veerctl {
            bin: bin.to_owned(),
            files: tempfile::Builder::new().prefix("veer-soak-").tempdir()?,
        })
    }

    /// Runs veerctl with `args` against `envoy`'s ECDS directory and admin URL.
    pub fn run(&self, envoy: &Envoy, args: &[&str]) -> Ran {
        let out = Command::new(&self.bin)
            .arg("--envoy")
            .arg(envoy.ecds_dir())
            .args(["--admin", &envoy.admin_url(), "--timeout", "20s", "-q"])
            .args(args)
            .output();
        match out {
            Ok(o) => Ran {
                code: o.status.code().unwrap_or(-1),
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stderr),
                    String::from_utf8_lossy(&o.stdout)
                ),
            },
            Err(e) => Ran {
                code: -1,
                output: format!("could not run {}: {e}", self.bin.display()),
            },
        }
    }

    /// `config` in a file veerctl can read.
    pub fn file(&self, name: &str, config: &Value) -> std::io::Result<PathBuf> {
        let path = self.files.path().join(name);
        std::fs::write(
            &path,
            serde_json::to_string_pretty(config).unwrap_or_default(),
        )?;
        Ok(path)
    }

    /// Makes change number `n` of the cycle.
    pub fn change(&self, envoy: &Envoy, n: u64, at: f64) -> Change {
        let kind = match n % 4 {
            0 => Kind::Rejected,
            1 => Kind::Apply(u32::try_from(n / 4 % 3).unwrap_or(0)),
            2 => Kind::Refused,
            _ => Kind::SetWeight(u32::try_from((n / 4 * 35) % 101).unwrap_or(0)),
        };
        let started = Instant::now();
        let (ok, verified, detail) = match self.attempt(envoy, kind) {
            Ok(verified) => (true, verified, String::new()),
            Err(detail) => (false, None, detail),
        };
        Change {
            at,
            kind,
            ok,
            verified,
            detail,
            took: started.elapsed(),
        }
    }

    /// Ok(the version it made live, if it is a change that goes live) when the change ended as
    /// it must.
    fn attempt(&self, envoy: &Envoy, kind: Kind) -> Result<Option<u64>, String> {
        let before = live_version(envoy)?;
        match kind {
            Kind::SetWeight(percent) => {
                let p = percent.to_string();
                let ran = self.run(envoy, &["canary", "set-weight", "web", "v2", &p]);
                self.live(envoy, &ran, before)
            }
            Kind::Apply(shape) => {
                let file = self
                    .file("valid.json", &valid(shape))
                    .map_err(|e| e.to_string())?;
                let ran = self.run(envoy, &["apply", "-f", &file.to_string_lossy()]);
                self.live(envoy, &ran, before)
            }
            Kind::Refused => {
                let file = self
                    .file("invalid.json", &invalid(None))
                    .map_err(|e| e.to_string())?;
                let on_disk =
                    std::fs::read(veer_ctl::host::envoy::ecds::path_in(&envoy.ecds_dir()));
                let ran = self.run(envoy, &["apply", "-f", &file.to_string_lossy()]);
                let after = std::fs::read(veer_ctl::host::envoy::ecds::path_in(&envoy.ecds_dir()));
                match (ran.code, on_disk.ok() == after.ok()) {
                    (3, true) => Ok(None),
                    (3, false) => Err("refused (exit 3) but the watched file changed".to_owned()),
                    (code, _) => Err(format!("exit {code}, want 3: {}", ran.output)),
                }
            }
            Kind::Rejected => rejected(envoy, before).map(|()| None),
        }
    }

    /// A veerctl change must exit 0, and the proxy must then run the version in the file.
    fn live(&self, envoy: &Envoy, ran: &Ran, before: u64) -> Result<Option<u64>, String> {
        if ran.code != 0 {
            return Err(format!("exit {}: {}", ran.code, ran.output.trim()));
        }
        let written = file_version(envoy)?;
        let running = live_version(envoy)?;
        if written <= before || running != written {
            return Err(format!(
                "veerctl said live; the file holds version {written} (was {before}), the proxy runs {running}"
            ));
        }
        Ok(Some(written))
    }
}

/// The version the filter reports (gauge `veer_config_version`, key `config.version`).
pub fn live_version(envoy: &Envoy) -> Result<u64, String> {
    let stats = envoy.stats().map_err(|e| format!("admin: {e}"))?;
    Ok(stats.veer("config.version"))
}

/// The version in the watched file.
pub fn file_version(envoy: &Envoy) -> Result<u64, String> {
    let path = veer_ctl::host::envoy::ecds::path_in(&envoy.ecds_dir());
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let parsed = veer_ctl::host::envoy::ecds::parse(&text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(parsed.version)
}

/// Writes a config the filter refuses over the watched file (a newer version, as another tool
/// would) and waits until Envoy has rejected it; the filter must keep running `before`.
fn rejected(envoy: &Envoy, before: u64) -> Result<(), String> {
    let counter = "extension_config_discovery.http_filter.veer.update_rejected";
    let stats = envoy.stats().map_err(|e| format!("admin: {e}"))?;
    let rejections = stats.get(counter);
    let version = file_version(envoy)?.max(before) + 1;
    envoy
        .push(&invalid(Some(version)).to_string())
        .map_err(|e| format!("writing the watched file: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = envoy.stats().map_err(|e| format!("admin: {e}"))?;
        if stats.get(counter) > rejections {
            let running = stats.veer("config.version");
            return if running == before {
                Ok(())
            } else {
                Err(format!(
                    "rejected, but the filter runs version {running}, not {before}"
                ))
            };
        }
        if Instant::now() > deadline {
            return Err("Envoy did not reject the file within 10 s".to_owned());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The service every config routes: three versions, sticky on the `uid` cookie.
fn service(split: Value) -> Value {
    json!({
        "name": "web",
        "variants": [
            {"name": "v1", "cluster": "web_v1"},
            {"name": "v2", "cluster": "web_v2"},
            {"name": "v3", "cluster": "web_v3"}
        ],
        "split": split
    })
}

/// A valid config of shape `shape` (0: a plain split; 1: a cohort rule to v3; 2: an
/// experiment over v2 and v3 for 30 % of users).
pub fn valid(shape: u32) -> Value {
    let mut web = service(json!({"v1": 5000, "v2": 5000}));
    match shape {
        1 => {
            web["rules"] = json!([{"name": "staff", "match": {"cookie": "team", "equals": "staff"}, "variant": "v3"}]);
        }
        2 => {
            web["experiments"] = json!([{"id": "soak", "allocation": 3000, "arms": [
                {"name": "a", "variant": "v2", "weight": 5000},
                {"name": "b", "variant": "v3", "weight": 5000}
            ]}]);
        }
        _ => {}
    }
    // The upstream echoes the variant it was sent: how the load tells Veer's decision (the
    // header to the upstream is opt-in).
    json!({
        "stickiness": {"sources": [{"cookie": "uid"}]},
        "headers": {"expose_variant_to_upstream": true},
        "services": [web]
    })
}

/// A config both veerctl and the filter refuse: the split sums to 9990 bp.
fn invalid(version: Option<u64>) -> Value {
    let mut config = json!({"services": [service(json!({"v1": 4990, "v2": 5000}))]});
    if let Some(v) = version {
        config["version"] = json!(v);
    }
    config
}
