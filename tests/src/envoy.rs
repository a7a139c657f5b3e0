//! A real Envoy on loopback, started from `deploy/envoy/envoy.yaml` with the built filter loaded
//! by ECDS, and stopped by its PID when dropped.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use veer_ctl::host::envoy::ecds;

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
        fs::write(dir.path().join("envoy.yaml"), bootstrap)?;
        let version = config_version(config_json);
        ecds::write_atomically(&ecds_dir, &resource(config_json, &wasm, version))?;
        Envoy::spawn(dir, wasm)
    }

    /// Starts Envoy on a bootstrap someone else wrote: `dir/envoy.yaml`, watching `dir/ecds`
    /// (which must hold its first file), its admin on port 0 or a free one, loading `wasm`;
    /// returns once it listens. What the README's first-start sequence does by hand.
    pub fn start_on_bootstrap(dir: tempfile::TempDir, wasm: PathBuf) -> Result<Envoy, Error> {
        Envoy::spawn(dir, wasm)
    }

    /// Runs Envoy on `dir/envoy.yaml`, its log in `dir/envoy.log`; returns once it listens.
    fn spawn(dir: tempfile::TempDir, wasm: PathBuf) -> Result<Envoy, Error> {
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(5)))
                .build(),
        );
        let mut envoy = Envoy {
            child: Envoy::run(dir.path())?,
            dir,
            admin_port: 0,
            port: 0,
            wasm,
            agent,
        };
        envoy.wait_until_up()?;
        Ok(envoy)
    }

    /// Starts the Envoy process of `dir` (its own process group).
    fn run(dir: &Path) -> Result<Child, Error> {
        let admin_file = dir.join("admin-address");
        let _ = fs::remove_file(&admin_file);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("envoy.log"))?;
        Ok(Command::new(paths::envoy())
            .arg("-c")
            .arg(dir.join("envoy.yaml"))
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
            .spawn()?)
    }

    fn wait_until_up(&mut self) -> Result<(), Error> {
        self.admin_port = self.wait_for_admin(&self.dir.path().join("admin-address"))?;
        self.port = self.wait_for_listener()?;
        Ok(())
    }

    /// Kills this Envoy (SIGKILL, by its PID) and waits for it to exit: a crash, as far as
    /// anything talking to it can tell.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts this Envoy again on the same bootstrap and ECDS directory (after [`Envoy::kill`]);
    /// its ports may change (a bootstrap with port 0 gets new ones). Returns once it listens.
    pub fn restart(&mut self) -> Result<(), Error> {
        self.kill();
        self.child = Envoy::run(self.dir.path())?;
        self.wait_until_up()
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

    /// A snapshot of `/stats`.
    pub fn stats(&self) -> Result<Stats, Error> {
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
            if let Ok(stats) = self.stats() {
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
pub struct Stats(BTreeMap<String, String>);

impl Stats {
    /// Parses Envoy's `name: value` lines.
    pub fn parse(text: &str) -> Stats {
        Stats(
            text.lines()
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    /// A counter or gauge (0 when absent).
    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// A stat's raw text.
    pub fn text(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }

    /// Whether any stat's name starts with `prefix`.
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.0.keys().any(|k| k.starts_with(prefix))
    }

    /// One of Veer's own metrics: `veer("rq.web.v1")` is `wasmcustom.veer.rq.web.v1`.
    pub fn veer(&self, name: &str) -> u64 {
        self.get(&format!("wasmcustom.veer.{name}"))
    }
}
