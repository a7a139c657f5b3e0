//! A real Envoy on loopback, started from `deploy/envoy/envoy.yaml` (the wasm build) or
//! `deploy/envoy/envoy-native.yaml` (the dynamic module) with the built filter loaded by ECDS, and
//! stopped by its PID when dropped. `$VEER_BUILD` selects the build ([`Build::selected`]), so the
//! same end-to-end tests run against either.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use veer_ctl::host::envoy::ecds;
use veer_ctl::observe::snapshot::PENDING_PATH;
use veer_filter::metrics::{self, Kind, Stat};

use crate::native;
use crate::paths;
use crate::upstream::Upstream;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// A running Envoy.
pub struct Envoy {
    child: Child,
    /// The process a hot restart replaced, until it has exited.
    parent: Option<Child>,
    /// Hot restarts so far (Envoy's `--restart-epoch` of the running process).
    epoch: u32,
    dir: tempfile::TempDir,
    admin_port: u16,
    port: u16,
    /// Ports asked for (0: Envoy chooses, and a hot restart is not possible).
    fixed: Ports,
    filter: Filter,
    agent: ureq::Agent,
}

/// The admin and listener ports an Envoy is started on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ports {
    /// Admin port on 127.0.0.1 (0: Envoy chooses).
    pub admin: u16,
    /// Listener port on 127.0.0.1 (0: Envoy chooses).
    pub listener: u16,
}

impl Ports {
    /// Two ports free on 127.0.0.1 now, for an Envoy that keeps its addresses across a hot
    /// restart.
    pub fn free() -> std::io::Result<Ports> {
        let a = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        let b = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        Ok(Ports {
            admin: a.local_addr()?.port(),
            listener: b.local_addr()?.port(),
        })
    }
}

/// Which build of Veer the tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// The proxy-wasm filter (`make wasm`), the default.
    Wasm,
    /// The Envoy dynamic module (`make native`).
    Native,
}

impl Build {
    /// `$VEER_BUILD`: `wasm` (also when unset) or `native`; anything else stops the test.
    pub fn selected() -> Build {
        match std::env::var("VEER_BUILD").as_deref() {
            Err(_) | Ok("") | Ok("wasm") => Build::Wasm,
            Ok("native") => Build::Native,
            Ok(other) => panic!("VEER_BUILD={other:?}: use wasm or native"),
        }
    }

    /// Where Envoy puts this build's own metrics in `/stats` (the wasm filter's under
    /// `wasmcustom.`, a dynamic module's under its metrics namespace, `dynamicmodulescustom.` by
    /// default).
    pub fn stat_prefix(self) -> &'static str {
        match self {
            Build::Wasm => "wasmcustom.",
            Build::Native => "dynamicmodulescustom.",
        }
    }

    /// The bootstrap template for this build.
    fn bootstrap_template(self) -> PathBuf {
        match self {
            Build::Wasm => paths::bootstrap_template(),
            Build::Native => paths::native_bootstrap_template(),
        }
    }
}

/// The filter an Envoy loads through ECDS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// A proxy-wasm filter file.
    Wasm(PathBuf),
    /// A dynamic module `lib<name>.so` in `dir`.
    Native {
        /// The directory Envoy searches (`ENVOY_DYNAMIC_MODULES_SEARCH_PATH`).
        dir: PathBuf,
        /// The module's name.
        name: String,
    },
}

impl Filter {
    /// Veer's filter of the selected build.
    pub fn veer() -> Filter {
        match Build::selected() {
            Build::Wasm => Filter::Wasm(paths::wasm()),
            Build::Native => Filter::native(native::MODULE),
        }
    }

    /// The stand-in of the selected build that crashes on a request carrying `x-test-crash`.
    pub fn crashing() -> Filter {
        match Build::selected() {
            Build::Wasm => Filter::Wasm(paths::crash_wasm()),
            Build::Native => Filter::native(native::CRASH_MODULE),
        }
    }

    fn native(name: &str) -> Filter {
        Filter::Native {
            dir: paths::native_module(name)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            name: name.to_owned(),
        }
    }

    /// The build this filter belongs to.
    pub fn build(&self) -> Build {
        match self {
            Filter::Wasm(_) => Build::Wasm,
            Filter::Native { .. } => Build::Native,
        }
    }

    /// The filter as veerctl names it in the ECDS resource.
    pub fn ecds(&self) -> ecds::Filter {
        match self {
            Filter::Wasm(wasm) => ecds::Filter::Wasm(wasm.clone()),
            Filter::Native { name, .. } => ecds::Filter::Native(name.clone()),
        }
    }

    /// The environment Envoy needs to load this filter: for a module, its directory as
    /// `ENVOY_DYNAMIC_MODULES_SEARCH_PATH`.
    pub fn envoy_env(&self) -> Option<(&'static str, &Path)> {
        match self {
            Filter::Wasm(_) => None,
            Filter::Native { dir, .. } => Some(("ENVOY_DYNAMIC_MODULES_SEARCH_PATH", dir)),
        }
    }

    /// The arguments that make `veerctl apply` load this filter: `--wasm PATH`, or `--module`
    /// with the module's file (veerctl checks it and writes its name).
    pub fn veerctl_args(&self) -> [String; 2] {
        match self {
            Filter::Wasm(wasm) => ["--wasm".into(), wasm.display().to_string()],
            Filter::Native { dir, name } => [
                "--module".into(),
                dir.join(format!("lib{name}.so")).display().to_string(),
            ],
        }
    }

    /// The ECDS resource holding this filter with `config_json` as its routing config: what
    /// veerctl writes.
    pub fn resource(&self, config_json: &str, version: u64) -> String {
        ecds::Resource {
            config_json,
            filter: &self.ecds(),
            version,
        }
        .render()
    }
}

impl Envoy {
    /// Starts Envoy in front of `upstreams` (v1, v2, v3 clusters in that order; missing ones
    /// point at a closed port) with `config_json` as the first routing config, and waits until
    /// that config serves.
    pub fn start(config_json: &str, upstreams: &[&Upstream]) -> Result<Envoy, Error> {
        Envoy::start_on(Ports::default(), config_json, upstreams)
    }

    /// Like [`Envoy::start`], on fixed `ports` (so that [`Envoy::hot_restart`] keeps them).
    pub fn start_on(
        ports: Ports,
        config_json: &str,
        upstreams: &[&Upstream],
    ) -> Result<Envoy, Error> {
        let envoy = Envoy::launch(ports, config_json, upstreams, Filter::veer())?;
        envoy.wait_for_ecds_version(config_version(config_json), Duration::from_secs(20))?;
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
        Envoy::start_with(config_json, upstreams, Filter::Wasm(wasm))
    }

    /// Like [`Envoy::start`], with `filter` in the ECDS resource (its build's bootstrap), waiting
    /// only until Envoy's ECDS holds that resource.
    pub fn start_with(
        config_json: &str,
        upstreams: &[&Upstream],
        filter: Filter,
    ) -> Result<Envoy, Error> {
        let envoy = Envoy::launch(Ports::default(), config_json, upstreams, filter)?;
        envoy.wait_for_ecds_version(config_version(config_json), Duration::from_secs(20))?;
        Ok(envoy)
    }

    /// Starts Envoy with a watched file whose config the filter refuses, and waits until Envoy
    /// has tried it and rejected it: what a restart finds after a bad file was left on disk.
    pub fn start_with_rejected(config_json: &str, upstreams: &[&Upstream]) -> Result<Envoy, Error> {
        let envoy = Envoy::launch(Ports::default(), config_json, upstreams, Filter::veer())?;
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
    fn launch(
        ports: Ports,
        config_json: &str,
        upstreams: &[&Upstream],
        filter: Filter,
    ) -> Result<Envoy, Error> {
        let dir = tempfile::Builder::new().prefix("veer-envoy-").tempdir()?;
        let ecds_dir = dir.path().join("ecds");
        fs::create_dir(&ecds_dir)?;
        let port_of = |i: usize| upstreams.get(i).map_or(1, |u| u.port()).to_string();
        let mut bootstrap = fs::read_to_string(filter.build().bootstrap_template())?
            .replace("{{ADMIN_PORT}}", &ports.admin.to_string())
            .replace("{{LISTEN_PORT}}", &ports.listener.to_string())
            .replace("{{ECDS_DIR}}", &ecds_dir.to_string_lossy());
        if filter.build() == Build::Wasm {
            bootstrap = bootstrap.replace("{{WASM}}", &paths::wasm().to_string_lossy());
        }
        let bootstrap = bootstrap
            .replace("{{V1_PORT}}", &port_of(0))
            .replace("{{V2_PORT}}", &port_of(1))
            .replace("{{V3_PORT}}", &port_of(2));
        fs::write(dir.path().join("envoy.yaml"), bootstrap)?;
        let version = config_version(config_json);
        ecds::write_atomically(&ecds_dir, &filter.resource(config_json, version))?;
        Envoy::spawn_new(dir, ports, filter)
    }

    /// Starts Envoy on a bootstrap someone else wrote: `dir/envoy.yaml`, watching `dir/ecds`
    /// (which must hold its first file), its admin on port 0 or a free one, loading `filter`
    /// (for a module: with its directory as Envoy's search path); returns once it listens. What
    /// the README's first-start sequence does by hand.
    pub fn start_on_bootstrap(dir: tempfile::TempDir, filter: Filter) -> Result<Envoy, Error> {
        Envoy::spawn_new(dir, Ports::default(), filter)
    }

    /// Runs Envoy on `dir/envoy.yaml`, its log in `dir/envoy.log`; returns once it listens.
    fn spawn_new(dir: tempfile::TempDir, ports: Ports, filter: Filter) -> Result<Envoy, Error> {
        let child = spawn(dir.path(), &filter, &["--use-dynamic-base-id"])?;
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(5)))
                .build(),
        );
        let mut envoy = Envoy {
            child,
            parent: None,
            epoch: 0,
            dir,
            admin_port: 0,
            port: 0,
            fixed: ports,
            filter,
            agent,
        };
        envoy.admin_port = envoy.wait_for_admin()?;
        envoy.port = envoy.wait_for_listener()?;
        Ok(envoy)
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
        let _ = fs::remove_file(self.dir.path().join("admin-address"));
        self.child = spawn(self.dir.path(), &self.filter, &["--use-dynamic-base-id"])?;
        self.admin_port = self.wait_for_admin()?;
        self.port = self.wait_for_listener()?;
        Ok(())
    }

    /// Envoy's hot restart: a new process (the next `--restart-epoch`) takes over the listener
    /// from the running one, which drains and exits by itself; no connection is refused. It
    /// reads its config anew, the watched file included. Returns once the new process listens
    /// on the same ports; needs fixed ports ([`Envoy::start_on`]).
    pub fn hot_restart(&mut self) -> Result<(), Error> {
        if self.fixed.admin == 0 || self.fixed.listener == 0 {
            return Err("a hot restart needs fixed ports (Envoy::start_on)".into());
        }
        if let Some(mut old) = self.parent.take() {
            old.wait()?;
        }
        let base_id = fs::read_to_string(self.dir.path().join("base-id"))?;
        self.epoch += 1;
        let (base_id, epoch) = (base_id.trim().to_owned(), self.epoch.to_string());
        let _ = fs::remove_file(self.dir.path().join("admin-address"));
        let child = spawn(
            self.dir.path(),
            &self.filter,
            &["--base-id", &base_id, "--restart-epoch", &epoch],
        )?;
        self.parent = Some(std::mem::replace(&mut self.child, child));
        self.admin_port = self.wait_for_admin()?;
        self.port = self.wait_for_listener()?;
        Ok(())
    }

    /// Waits until the process a hot restart replaced has exited (it drains for 2 s and is gone
    /// after 5 s). Until then, `/stats` mixes in what the old process reported: the filter's
    /// version gauge and ECDS version text there are the old process's.
    pub fn wait_for_parent_exit(&mut self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        while let Some(parent) = self.parent.as_mut() {
            if parent.try_wait()?.is_some() {
                self.parent = None;
            } else if Instant::now() > deadline {
                return Err(format!("the old Envoy was still running after {timeout:?}").into());
            } else {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
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

    /// The wasm filter Envoy loads (the module's directory for the native build).
    pub fn wasm(&self) -> &Path {
        match &self.filter {
            Filter::Wasm(wasm) => wasm,
            Filter::Native { dir, .. } => dir,
        }
    }

    /// The filter Envoy loads.
    pub fn filter(&self) -> &Filter {
        &self.filter
    }

    /// Writes a new routing config live (atomic rename); returns at once.
    pub fn push(&self, config_json: &str) -> Result<(), Error> {
        let resource = self
            .filter
            .resource(config_json, config_version(config_json));
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
    pub fn wait_for_ecds_version(&self, version: u64, timeout: Duration) -> Result<(), Error> {
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

    fn wait_for_admin(&mut self) -> Result<u16, Error> {
        let admin_file = self.dir.path().join("admin-address");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(
                    format!("envoy exited ({status}) during start:\n{}", self.log()).into(),
                );
            }
            if let Ok(addr) = fs::read_to_string(&admin_file) {
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
        for child in std::iter::once(&mut self.child).chain(self.parent.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How long [`Envoy::stats`] waits for the filter to publish its counts: several flush periods.
pub const COUNTS_SETTLE: Duration = Duration::from_secs(3);

/// Starts Envoy on the bootstrap in `dir` with `extra` arguments. Its own process group: a
/// Ctrl-C aimed at the test runner is handled by our Drop. A hot restart's parent drains for
/// 2 s and is gone after 5 s.
fn spawn(dir: &Path, filter: &Filter, extra: &[&str]) -> Result<Child, Error> {
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("envoy.log"))?;
    let mut command = Command::new(paths::envoy());
    if let Some((name, value)) = filter.envoy_env() {
        command.env(name, value);
    }
    let child = command
        .arg("-c")
        .arg(dir.join("envoy.yaml"))
        .args(extra)
        .args(["--concurrency", "2", "--log-level", "info"])
        .args(["--drain-time-s", "2", "--parent-shutdown-time-s", "5"])
        .arg("--base-id-path")
        .arg(dir.join("base-id"))
        .arg("--admin-address-path")
        .arg(dir.join("admin-address"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()?;
    Ok(child)
}

/// The `"version"` field of a routing config (0 when absent or unparsable).
pub fn config_version(config_json: &str) -> u64 {
    serde_json::from_str::<serde_json::Value>(config_json)
        .ok()
        .and_then(|v| v["version"].as_u64())
        .unwrap_or(0)
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
    /// `wasmcustom.veer.requests_total.web.v1` (wasm build) or
    /// `dynamicmodulescustom.veer.requests_total.web.v1` (native build); veer_filter::metrics
    /// names them all. Panics on a key that names no metric, and on a flushed counter read from
    /// a snapshot taken while the filter still held counts: such a reading is not exact.
    pub fn veer(&self, key: &str) -> u64 {
        let stat = Stat::from_key(key).unwrap_or_else(|| panic!("{key:?} names no Veer metric"));
        assert!(
            self.complete || !published_on_flush(&stat),
            "{key}: read from a snapshot taken while the filter still held unpublished counts \
             (counts_pending > 0 for {COUNTS_SETTLE:?}: traffic was still flowing)"
        );
        self.get(&veer_stat(key))
    }

    /// One of Veer's own metrics as text (histograms), by key.
    pub fn veer_text(&self, key: &str) -> &str {
        self.text(&veer_stat(key))
    }
}

/// Whether the filter adds `stat` up and publishes it on a flush: in the wasm build, every
/// counter but the config ones, which the root context adds to directly. The native build adds
/// to Envoy's counters directly.
fn published_on_flush(stat: &Stat<'_>) -> bool {
    let family = stat.family();
    Build::selected() == Build::Wasm
        && family.kind == Kind::Counter
        && family != &metrics::CONFIG_ACCEPTED
        && family != &metrics::CONFIG_REJECTED
}

/// The full `/stats` name of Veer's metric of key `key` in the selected build.
pub fn veer_stat(key: &str) -> String {
    let stat = Stat::from_key(key).unwrap_or_else(|| panic!("{key:?} names no Veer metric"));
    format!("{}{}", Build::selected().stat_prefix(), stat.name())
}
