//! A mesh on loopback for veerctl's Kubernetes path: real Envoys as the istio-proxy sidecars of
//! pods `web-a` and `web-b` (their admin ports reached through the fake API server's
//! port-forwards), in front of the same upstreams, Veer's WasmPlugin `veer` on the fake API
//! server, and a stand-in for istiod that delivers each new `pluginConfig` written to the
//! WasmPlugin to every sidecar, as Istio does: through ECDS, here the file each Envoy watches.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use veer_ctl::host::envoy::ecds;
use veer_e2e::{Client, Envoy, Filter, Upstream};
use veer_fake_kube::{FakeApi, Log, Pod, PLUGIN};

use crate::veerctl::veerctl_binary;

/// The pods whose sidecars the Envoys are.
pub const PODS: [&str; 2] = ["web-a", "web-b"];

/// The mesh: sidecars, upstreams v1..v3, the fake API server and its kubeconfig.
pub struct Mesh {
    /// The sidecars, in the order of [`PODS`].
    pub sidecars: Vec<Sidecar>,
    /// Upstreams v1, v2, v3.
    pub upstreams: Vec<Upstream>,
    /// The fake API server's port.
    pub api: u16,
    /// What the fake API server was asked, in order.
    pub seen: Log,
    kubeconfig: (tempfile::TempDir, PathBuf),
}

/// One pod's sidecar: its Envoy, a client of its listener, and whether istiod delivers to it.
pub struct Sidecar {
    /// The pod's name.
    pub pod: &'static str,
    /// The Envoy.
    pub envoy: Envoy,
    /// A client of the Envoy's listener.
    pub client: Client,
    /// Whether the stand-in istiod delivers new configs to it (false: it never gets them).
    pub delivered: Arc<AtomicBool>,
}

/// WasmPlugin `veer` carrying `config`: no selector, so every pod of namespace `demo`.
fn wasm_plugin(config: &Value) -> Value {
    json!({
        "apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
        "metadata": {"name": "veer", "namespace": "demo", "resourceVersion": "1"},
        "spec": {"url": "oci://registry.example/veer:1", "failStrategy": "FAIL_CLOSE",
                 "pluginConfig": config}
    })
}

/// How long the stand-in istiod takes to reach each sidecar (the second lags, so veerctl must
/// wait for it).
const PUSH_LAG: [Duration; 2] = [Duration::ZERO, Duration::from_millis(400)];

impl Mesh {
    /// Starts the upstreams, an Envoy per pod running `config`, and the fake API server with
    /// the WasmPlugin carrying it.
    pub fn start(config: &Value) -> Mesh {
        let upstreams = crate::support::upstreams();
        let refs: Vec<&Upstream> = upstreams.iter().collect();
        let sidecars: Vec<Sidecar> = PODS
            .iter()
            .map(|pod| {
                let envoy = Envoy::start(&config.to_string(), &refs).expect("envoy starts");
                let client = Client::new(envoy.port());
                Sidecar {
                    pod,
                    envoy,
                    client,
                    delivered: Arc::new(AtomicBool::new(true)),
                }
            })
            .collect();
        let mut api = FakeApi::new(vec![(PLUGIN, wasm_plugin(config))]);
        for s in &sidecars {
            let admin = ([127, 0, 0, 1], s.envoy.admin_port()).into();
            api = api.pod(
                Pod::sidecar(s.pod, admin)
                    .label("app", "web")
                    .label("pod", s.pod),
            );
        }
        let istiod = Istiod::start(&sidecars);
        let (port, seen) = api
            .on_write(move |path, stored| {
                if path == PLUGIN {
                    istiod.push(&stored["spec"]["pluginConfig"]);
                }
            })
            .start()
            .expect("the fake API server starts");
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = veer_fake_kube::kubeconfig(dir.path(), port).unwrap();
        Mesh {
            sidecars,
            upstreams,
            api: port,
            seen,
            kubeconfig: (dir, kubeconfig),
        }
    }

    /// The veerctl binary aimed at the fake API server (namespace demo), quiet colours.
    pub fn veerctl(&self) -> Command {
        let mut cmd = Command::new(veerctl_binary());
        cmd.env("KUBECONFIG", &self.kubeconfig.1)
            .env_remove("VEER_ENVOY_DIR")
            .env("NO_COLOR", "1")
            .args(["--timeout", "20s"]);
        cmd
    }

    /// Runs veerctl with `args` to the end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.veerctl().args(args).output().unwrap()
    }

    /// The WasmPlugin as the fake API server holds it now.
    pub fn plugin(&self) -> Value {
        let url = format!("http://127.0.0.1:{}{PLUGIN}", self.api);
        let mut resp = ureq::get(&url).call().unwrap();
        serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap()
    }

    /// The canary run of `service` recorded on the WasmPlugin, if any.
    pub fn recorded_run(&self, service: &str) -> Option<Value> {
        let plugin = self.plugin();
        let text = plugin["metadata"]["annotations"][format!("veer.dev/run-canary-{service}")]
            .as_str()?
            .to_owned();
        Some(serde_json::from_str(&text).unwrap())
    }

    /// The body of each PUT of the WasmPlugin so far, in order.
    pub fn plugin_writes(&self) -> Vec<Value> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.line.starts_with(&format!("PUT {PLUGIN}")))
            .map(|s| s.body.clone())
            .collect()
    }

    /// The requests to the fake API server so far.
    pub fn requests(&self) -> Vec<String> {
        veer_fake_kube::lines(&self.seen)
    }
}

/// The stand-in for istiod: one thread per sidecar that writes each config it is given into
/// that Envoy's watched ECDS file after the sidecar's lag, in order, skipping a config it
/// delivered last (Istio pushes a WasmPlugin's config, not its annotations).
struct Istiod {
    queues: Vec<mpsc::Sender<Value>>,
}

impl Istiod {
    fn start(sidecars: &[Sidecar]) -> Istiod {
        let queues = sidecars
            .iter()
            .zip(PUSH_LAG)
            .map(|(s, lag)| {
                let (tx, rx) = mpsc::channel::<Value>();
                let (dir, filter, on) = (
                    s.envoy.ecds_dir(),
                    s.envoy.filter().clone(),
                    s.delivered.clone(),
                );
                std::thread::spawn(move || deliver(rx, &dir, &filter, &on, lag));
                tx
            })
            .collect();
        Istiod { queues }
    }

    fn push(&self, config: &Value) {
        for q in &self.queues {
            let _ = q.send(config.clone());
        }
    }
}

fn deliver(
    configs: mpsc::Receiver<Value>,
    dir: &std::path::Path,
    filter: &Filter,
    on: &AtomicBool,
    lag: Duration,
) {
    let mut last = Value::Null;
    for config in configs {
        if config == last || !on.load(Ordering::SeqCst) {
            continue;
        }
        std::thread::sleep(lag);
        let version = config["version"].as_u64().unwrap_or(0);
        // After the test, the Envoy and its directory are gone: nothing left to deliver to.
        let _ = ecds::write_atomically(dir, &filter.resource(&config.to_string(), version));
        last = config;
    }
}
