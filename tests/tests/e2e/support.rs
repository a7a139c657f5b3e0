//! Fixtures shared by the end-to-end tests.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use veer_e2e::{Client, Envoy, Upstream};

/// Three upstreams (v1, v2, v3) and an Envoy in front of them.
pub struct Rig {
    pub envoy: Envoy,
    pub client: Client,
    pub upstreams: Vec<Upstream>,
}

impl Rig {
    /// Starts the rig with `config` as the first routing config.
    pub fn start(config: &Value) -> Rig {
        let upstreams = upstreams();
        let refs: Vec<&Upstream> = upstreams.iter().collect();
        let envoy = Envoy::start(&config.to_string(), &refs).expect("envoy starts");
        let client = Client::new(envoy.port());
        Rig {
            envoy,
            client,
            upstreams,
        }
    }

    /// Pushes `config` live and waits until it serves.
    pub fn apply(&self, config: &Value) {
        self.envoy.push(&config.to_string()).expect("push");
        let version = config["version"].as_u64().expect("config has a version");
        self.envoy
            .wait_for_version(version, std::time::Duration::from_secs(20))
            .expect("config goes live");
    }

    /// Sends one request per user `uid-<prefix>-<i>` and returns which upstream served each.
    pub fn serve_users(&self, prefix: &str, n: usize) -> Vec<(String, String)> {
        (0..n)
            .map(|i| {
                let uid = format!("{prefix}-{i}");
                let reply = self.client.get_as(&uid).expect("request");
                assert_eq!(reply.status, 200, "user {uid}: {reply:?}");
                (uid, reply.served_by().to_owned())
            })
            .collect()
    }
}

/// Upstreams v1, v2 and v3 on ephemeral ports.
pub fn upstreams() -> Vec<Upstream> {
    ["v1", "v2", "v3"]
        .iter()
        .map(|n| Upstream::start(n, 0).expect("upstream starts"))
        .collect()
}

/// Counts per upstream name.
pub fn tally<'a>(served: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for s in served {
        *counts.entry(s.to_owned()).or_insert(0) += 1;
    }
    counts
}

/// A one-service config over clusters web_v1..web_v3 with a default split given as
/// (variant, bp); stickiness from cookie `uid` then header `x-user-id`. The upstream is told
/// its variant (`headers.expose_variant_to_upstream`), so tests see what the filter decided for
/// each request it served.
pub fn web_config(version: u64, split: &[(&str, u64)]) -> Value {
    let variants: Vec<Value> = ["v1", "v2", "v3"]
        .iter()
        .map(|v| json!({ "name": v, "cluster": format!("web_{v}") }))
        .collect();
    let split: serde_json::Map<String, Value> = split
        .iter()
        .map(|(v, w)| ((*v).to_owned(), json!(w)))
        .collect();
    json!({
        "version": version,
        "headers": { "expose_variant_to_upstream": true },
        "stickiness": { "sources": [{ "cookie": "uid" }, { "header": "x-user-id" }] },
        "services": [{ "name": "web", "variants": variants, "split": split }]
    })
}

/// Asserts `observed` of `n` is within `sigmas` binomial standard deviations of weight `bp`.
pub fn assert_within_tolerance(label: &str, observed: u64, n: u64, bp: u64, sigmas: f64) {
    let p = bp as f64 / 10_000.0;
    let expected = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt().max(1.0);
    let diff = (observed as f64 - expected).abs();
    assert!(
        diff <= sigmas * sd,
        "{label}: observed {observed}/{n} ({:.2} %), configured {:.2} %: off by {:.1} sd (limit {sigmas})",
        100.0 * observed as f64 / n as f64,
        100.0 * p,
        diff / sd
    );
}
