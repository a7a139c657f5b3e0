//! A real Envoy on loopback, started from `deploy/envoy/envoy.yaml` with the built filter loaded
//! by ECDS, and stopped by its PID when dropped.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use veer_ctl::host::envoy::ecds;
use veer_ctl::observe::snapshot::PENDING_PATH;
use veer_filter::metrics::{self, Kind, Stat};

use crate::paths;
use crate::upstream::Upstream;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A running Envoy.
pub struct Envoy {
    child: Child,
    dir: tempfile::TempDir,
    admin_port: u16,
    port: u16,
    wasm: PathBuf,
    agent: ureq::Agent,
}

impl Envoy {
    /// Starts Envoy in front of `upstreams` (v1, v2, v3 clusters in that order; missing ones
    /// point at a closed port) with `config_json` as the first routing config, and waits until
    /// that config serves.
    pub fn start(config_json: &str, upstreams: &[&Upstream]) -> Result<Envoy, Error> {
        let envoy = Envoy::start_with_wasm(config_json, upstreams, paths::wasm())?;
        envoy.wait_for_version(config_version(config_json), Duration::from_secs(20))?;
        Ok(envoy)
    }

    /// Like [`Envoy::start`], but loads `wasm` in the ECDS resource veerctl renders (same
    /// failure policy) and waits only until Envoy's ECDS holds that resource: a filter other than
    /// Veer's reports no config version of its own.
    pub fn start_with_wasm(
        config_json: &str,
        upstreams: &[&Upstream],
        wasm: PathBuf,
    ) -> Result<Envoy, Error> {
        let envoy = Envoy::launch(config_json, upstreams, wasm)?;
        envoy.wait_for_ecds_version(config_version(config_json), Duration::from_secs(20))?;
        Ok(envoy)
    }

    /// Starts Envoy with a watched file whose config the filter refuses, and waits until Envoy
    /// has tried it and rejected it: what a restart finds after a bad file was left on disk.
    pub fn start_with_rejected(config_json: &str, upstreams: &[&Upstream]) -> Result<Envoy, Error> {
        let envoy = Envoy::launch(config_json, upstreams, paths::wasm())?;
        let deadline = Instant::now() + Duration::from_secs(20);
        let rejected = "extension_config_discovery.http_filter.veer.update_rejected";
        while envoy.stats()?.get(rejected) == 0 {
            if Instant::now() > deadline {
                return Err(format!("the file was not rejected in 20 s:\n{}", envoy.log()).into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(envoy)
    }

    /// Starts Envoy with `config_json` in the watched file; returns once it listens.
    fn launch(config_json: &str, upstreams: &[&Upstream], wasm: PathBuf) -> Result<Envoy, Error> {
        let dir = tempfile::Builder::new().prefix("veer-envoy-").tempdir()?;
        let ecds_dir = dir.path().join("ecds");
        fs::create_dir(&ecds_dir)?;
        let port_of = |i: usize| upstreams.get(i).map_or(1, |u| u.port()).to_string();
        let bootstrap = fs::read_to_string(paths::bootstrap_template())?
            .replace("{{ADMIN_PORT}}", "0")
            .replace("{{LISTEN_PORT}}", "0")
            .replace("{{ECDS_DIR}}", &ecds_dir.to_string_lossy())
            .replace("{{WASM}}", &paths::wasm().to_string_lossy())
            .replace("{{V1_PORT}}", &port_of(0))
            .replace("{{V2_PORT}}", &port_of(1))
            .replace("{{V3_PORT}}", &port_of(2));
        let bootstrap_path = dir.path().join("envoy.yaml");
        fs::write(&bootstrap_path, bootstrap)?;
        let version = config_version(config_json);
        ecds::write_atomically(&ecds_dir, &resource(config_json, &wasm, version))?;

        let admin_file = dir.path().join("admin-address");
        let log = fs::File::create(dir.path().join("envoy.log"))?;
        let child = Command::new(paths::envoy())
            .arg("-c")
            .arg(&bootstrap_path)
            .args([
                "--use-dynamic-base-id",
                "--concurrency",
                "2",
                "--log-level",
                "info",
            ])
            .arg("--admin-address-path")
            .arg(&admin_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            // Its own process group: a Ctrl-C aimed at the test runner is handled by our Drop.
            .process_group(0)
            .spawn()?;
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(5)))
                .build(),
        );
        let mut envoy = Envoy {
            child,
            dir,
            admin_port: 0,
            port: 0,
            wasm,
            agent,
        };
        envoy.admin_port = envoy.wait_for_admin(&admin_file)?;
        envoy.port = envoy.wait_for_listener()?;
        Ok(envoy)
    }

    /// The listener port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin port on 127.0.0.1.
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// The admin URL.
    pub fn admin_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.admin_port)
    }

    /// Envoy's PID (the tests stop it by this PID and nothing else).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The directory Envoy watches for the ECDS file.
    pub fn ecds_dir(&self) -> PathBuf {
        self.dir.path().join("ecds")
    }

    /// The filter Envoy loads.
    pub fn wasm(&self) -> &Path {
        &self.wasm
    }

    /// Writes a new routing config live (atomic rename); returns at once.
    pub fn push(&self, config_json: &str) -> Result<(), Error> {
        let resource = resource(config_json, &self.wasm, config_version(config_json));
        ecds::write_atomically(&self.ecds_dir(), &resource)?;
        Ok(())
    }

    /// Envoy's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("envoy.log")).unwrap_or_default()
    }

    /// A snapshot of `/stats` that holds every count made before it was taken, when it can: the
    /// filter publishes its counts on a timer, so this first waits (up to [`COUNTS_SETTLE`]) for
    /// `counts_pending` to read 0, and only then reads the counters. Under continuous traffic it
    /// may not get there: the snapshot is then marked incomplete, and reading one of the
    /// filter's flushed counters from it fails the test ([`Stats::veer`]).
    pub fn stats(&self) -> Result<Stats, Error> {
        let deadline = Instant::now() + COUNTS_SETTLE;
        let complete = loop {
            let text = self.admin_get(&PENDING_PATH)?;
            let pending = Stat::global(&metrics::COUNTS_PENDING).envoy_name();
            if Stats::parse(&text).get(&pending) == 0 {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut stats = self.stats_now()?;
        stats.complete = complete;
        Ok(stats)
    }

    /// `/stats` as it is now, without waiting for the filter's counts: for gauges and Envoy's own
    /// stats (its flushed counters may lag by one flush period).
    pub fn stats_now(&self) -> Result<Stats, Error> {
        let text = self.admin_get("/stats")?;
        Ok(Stats::parse(&text))
    }

    /// GET an admin path.
    pub fn admin_get(&self, path: &str) -> Result<String, Error> {
        let mut resp = self
            .agent
            .get(format!("{}{path}", self.admin_url()))
            .call()?;
        Ok(resp.body_mut().read_to_string()?)
    }

    /// Waits until the filter reports config `version` (gauge `veer.config.version`) and Envoy's
    /// ECDS reports it as its version text.
    pub fn wait_for_version(&self, version: u64, timeout: Duration) -> Result<(), Error> {
        self.wait_for_stats(version, timeout, |stats| {
            stats.veer("config.version") == version
        })
    }

    /// Waits until Envoy's ECDS reports `version` as its version text.
    fn wait_for_ecds_version(&self, version: u64, timeout: Duration) -> Result<(), Error> {
        self.wait_for_stats(version, timeout, |_| true)
    }

    /// Waits until the ECDS version text is `version` and `also` holds for the stats.
    fn wait_for_stats(
        &self,
        version: u64,
        timeout: Duration,
        also: impl Fn(&Stats) -> bool,
    ) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(stats) = self.stats_now() {
                let text = stats.text("extension_config_discovery.http_filter.veer.version_text");
                if text.trim_matches('"') == version.to_string() && also(&stats) {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "config version {version} not live after {timeout:?}; envoy log:\n{}",
                    self.log()
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_for_admin(&mut self, admin_file: &Path) -> Result<u16, Error> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(
                    format!("envoy exited ({status}) during start:\n{}", self.log()).into(),
                );
            }
            if let Ok(addr) = fs::read_to_string(admin_file) {
                if let Some(port) = addr.trim().rsplit(':').next().and_then(|p| p.parse().ok()) {
                    return Ok(port);
                }
            }
            if Instant::now() > deadline {
                return Err(format!("envoy admin not up after 20 s:\n{}", self.log()).into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn wait_for_listener(&self) -> Result<u16, Error> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(text) = self.admin_get("/listeners?format=json") {
                let v: serde_json::Value = serde_json::from_str(&text)?;
                let port = v["listener_statuses"][0]["local_address"]["socket_address"]
                    ["port_value"]
                    .as_u64();
                if let Some(port) = port.filter(|p| *p > 0) {
                    return Ok(u16::try_from(port)?);
                }
            }
            if Instant::now() > deadline {
                return Err(format!("envoy listener not up after 20 s:\n{}", self.log()).into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How long [`Envoy::stats`] waits for the filter to publish its counts: several flush periods.
pub const COUNTS_SETTLE: Duration = Duration::from_secs(3);

/// The `"version"` field of a routing config (0 when absent or unparsable).
pub fn config_version(config_json: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(config_json)
        .ok()
        .and_then(|v| v["version"].as_u64())
        .unwrap_or(0)
}

fn resource(config_json: &str, wasm: &Path, version: u64) -> String {
    ecds::Resource {
        config_json,
        wasm_path: wasm,
        version,
    }
    .render()
}

/// A parsed `/stats` snapshot.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    stats: BTreeMap<String, String>,
    /// Whether the filter had published every count when it was taken ([`Envoy::stats`]).
    complete: bool,
}

impl Stats {
    /// Parses Envoy's `name: value` lines (not known to be complete).
    pub fn parse(text: &str) -> Stats {
        Stats {
            stats: text
                .lines()
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            complete: false,
        }
    }

    /// A counter or gauge (0 when absent).
    pub fn get(&self, name: &str) -> u64 {
        self.stats
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// A stat's raw text.
    pub fn text(&self, name: &str) -> &str {
        self.stats.get(name).map_or("", String::as_str)
    }

    /// Whether any stat's name starts with `prefix`.
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.stats.keys().any(|k| k.starts_with(prefix))
    }

    /// One of Veer's own metrics by veerctl's short key: `veer("rq.web.v1")` is
    /// `wasmcustom.veer.requests_total.web.v1` (veer_filter::metrics names them all). Panics on a
    /// key that names no metric, and on a flushed counter read from a snapshot taken while the
    /// filter still held counts: such a reading is not exact.
    pub fn veer(&self, key: &str) -> u64 {
        let stat = Stat::from_key(key).unwrap_or_else(|| panic!("{key:?} names no Veer metric"));
        assert!(
            self.complete || !published_on_flush(&stat),
            "{key}: read from a snapshot taken while the filter still held unpublished counts \
             (counts_pending > 0 for {COUNTS_SETTLE:?}: traffic was still flowing)"
        );
        self.get(&stat.envoy_name())
    }
}

/// Whether the filter adds `stat` up in its VM and publishes it on a flush: every counter but
/// the config ones, which the root context adds to directly.
fn published_on_flush(stat: &Stat<'_>) -> bool {
    let family = stat.family();
    family.kind == Kind::Counter
        && family != &metrics::CONFIG_ACCEPTED
        && family != &metrics::CONFIG_REJECTED
}
