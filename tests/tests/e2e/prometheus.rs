//! Veer's metrics the way Prometheus sees them: every one a family with its labels (the
//! bootstrap's `stats_tags`), the same values as `/stats`, and a Grafana dashboard that asks
//! only for what a live Envoy exports.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use serde::Deserialize;
use serde_json::{json, Value};
use veer_filter::metrics::{self, Kind, Stat};

use crate::support::{web_config, Rig};

/// One sample of `/stats/prometheus`: family (without `_bucket`...), labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the exposition text: samples and the `# TYPE` of each family.
fn exposition(text: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    let mut samples = Vec::new();
    let mut types = BTreeMap::new();
    for line in text.lines() {
        if let Some(t) = line.strip_prefix("# TYPE ") {
            let (name, kind) = t.split_once(' ').unwrap();
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (name, labels) = series.split_once('{').unwrap();
        let labels = labels.strip_suffix('}').unwrap();
        let labels = labels
            .split("\",")
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once("=\"").unwrap();
                (k.to_owned(), v.trim_end_matches('"').to_owned())
            })
            .collect();
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value: value.parse().unwrap(),
        });
    }
    (samples, types)
}

/// Two services, cohort rules, two experiments, overrides on: a series of every family.
fn config() -> Value {
    let mut config = web_config(1, &[("v1", 5000), ("v2", 5000)]);
    config["override"] = json!({ "enabled": true, "keys": ["prometheus-test-key-0123456789"] });
    let web = &mut config["services"][0];
    web["hosts"] = json!(["web.test"]);
    web["rules"] = json!([
        { "name": "beta-header", "match": { "header": "x-beta", "present": true }, "variant": "v3" }
    ]);
    web["experiments"] = json!([
        { "id": "checkout", "segment": { "header": "x-country", "equals": "de" },
          "arms": [ { "name": "classic", "variant": "v1", "weight": 5000 },
                    { "name": "one-click", "variant": "v2", "weight": 5000 } ] }
    ]);
    let mut shop = config["services"][0].clone();
    shop["name"] = json!("shop-app");
    shop["hosts"] = json!(["shop.test"]);
    shop["experiments"] = json!([]);
    config["services"].as_array_mut().unwrap().push(shop);
    config
}

/// Sends a request of every kind the config counts, then returns `/stats` (settled) and
/// `/stats/prometheus`.
fn traffic_and_exports(rig: &Rig) -> (veer_e2e::envoy::Stats, String) {
    let kinds: [&[(&str, &[u8])]; 5] = [
        &[("host", b"web.test")],
        &[("host", b"web.test"), ("x-beta", b"1")],
        &[("host", b"web.test"), ("x-country", b"de")],
        &[("host", b"shop.test"), ("x-veer-cluster", b"web_v3")],
        &[("host", b"elsewhere.test")],
    ];
    for i in 0..30 {
        let cookie = format!("uid=prom-{i}");
        let mut headers = kinds[i % kinds.len()].to_vec();
        headers.push(("cookie", cookie.as_bytes()));
        assert_eq!(rig.client.get("/", &headers).unwrap().status, 200);
    }
    let stats = rig.envoy.stats().unwrap();
    // Histograms reach the admin output on Envoy's stats flush (every 5 s).
    std::thread::sleep(std::time::Duration::from_millis(5500));
    (stats, rig.envoy.admin_get("/stats/prometheus").unwrap())
}

/// `stats_config.stats_tags` of a bootstrap (YAML, or the JSON inside it) as (name, regex).
fn tags_of(bootstrap: &serde_yaml_ng::Value) -> Vec<(String, String)> {
    bootstrap["stats_config"]["stats_tags"]
        .as_sequence()
        .expect("stats_config.stats_tags")
        .iter()
        .map(|t| {
            (
                t["tag_name"].as_str().unwrap().to_owned(),
                t["regex"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `stats_config.histogram_bucket_settings` of a bootstrap as (match regex, buckets).
fn buckets_of(bootstrap: &serde_yaml_ng::Value) -> Vec<(String, Vec<u64>)> {
    bootstrap["stats_config"]["histogram_bucket_settings"]
        .as_sequence()
        .expect("stats_config.histogram_bucket_settings")
        .iter()
        .map(|b| {
            let regex = b["match"]["safe_regex"]["regex"]
                .as_str()
                .unwrap()
                .to_owned();
            let buckets = b["buckets"].as_sequence().unwrap();
            (regex, buckets.iter().map(|v| v.as_u64().unwrap()).collect())
        })
        .collect()
}

#[test]
fn the_bootstraps_tags_are_the_filters() {
    let buckets = vec![(
        metrics::tags::histogram_match_regex(),
        metrics::tags::LATENCY_BUCKETS_US.to_vec(),
    )];
    let want: Vec<(String, String)> = metrics::tags::stats_tags()
        .into_iter()
        .map(|t| (t.tag_name.to_owned(), t.regex))
        .collect();
    // Both builds' bootstraps (the wasm filter's and the dynamic module's).
    for name in ["envoy.yaml", "envoy-native.yaml"] {
        let path = veer_e2e::paths::workspace().join("deploy/envoy").join(name);
        let text = fs::read_to_string(path).unwrap();
        // Placeholders are not YAML: fill them in as the tests and the demo do.
        let text = text.replace("{{", "").replace("}}", "");
        let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(tags_of(&doc), want, "deploy/envoy/{name}");
        assert_eq!(buckets_of(&doc), buckets, "deploy/envoy/{name}");
    }

    // Envoy Gateway: the bootstrap the EnvoyProxy merges into the Gateway's default one.
    let path = veer_e2e::paths::workspace().join("deploy/envoy-gateway/gateway.yaml");
    let text = fs::read_to_string(path).unwrap();
    let proxy = serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde_yaml_ng::Value::deserialize(d).unwrap())
        .find(|d| d["kind"] == "EnvoyProxy")
        .expect("an EnvoyProxy in deploy/envoy-gateway/gateway.yaml");
    assert_eq!(proxy["spec"]["bootstrap"]["type"], "Merge");
    let merged = proxy["spec"]["bootstrap"]["value"].as_str().unwrap();
    let merged: serde_yaml_ng::Value = serde_yaml_ng::from_str(merged).unwrap();
    assert_eq!(tags_of(&merged), want, "deploy/envoy-gateway/gateway.yaml");
    assert_eq!(
        buckets_of(&merged),
        buckets,
        "deploy/envoy-gateway/gateway.yaml"
    );

    // Istio: the custom bootstrap a sidecar is given by its bootstrapOverride annotation.
    let path = veer_e2e::paths::workspace().join("deploy/k8s/veer-stats-tags.yaml");
    let map: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let json = map["data"]["custom_bootstrap.json"].as_str().unwrap();
    let custom: serde_yaml_ng::Value = serde_yaml_ng::from_str(json).unwrap();
    assert_eq!(tags_of(&custom), want, "deploy/k8s/veer-stats-tags.yaml");
    assert_eq!(
        buckets_of(&custom),
        buckets,
        "deploy/k8s/veer-stats-tags.yaml"
    );
    let client =
        fs::read_to_string(veer_e2e::paths::workspace().join("deploy/k8s/client.yaml")).unwrap();
    assert!(client.contains("sidecar.istio.io/bootstrapOverride: veer-stats-tags"));
}

#[test]
fn every_metric_is_a_prometheus_family_with_its_labels_and_the_same_value() {
    let rig = Rig::start(&config());
    let (stats, text) = traffic_and_exports(&rig);
    let (samples, types) = exposition(&text);
    let veer: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name.starts_with("veer_"))
        .collect();

    // Every Veer metric of /stats, counter or gauge, is one Prometheus sample of its family,
    // labelled with its parts, with the same value.
    let mut expected = BTreeSet::new();
    let names = rig.envoy.admin_get("/stats").unwrap();
    for name in names
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(n, _)| n)
    {
        let Some(stat) = Stat::parse(name) else {
            assert!(
                !name.starts_with("wasmcustom.veer."),
                "{name} is not a Veer metric name"
            );
            continue;
        };
        let family = stat.family();
        let prom = family.prometheus_name();
        let labels: BTreeMap<String, String> = family
            .labels
            .iter()
            .map(|l| l.name().to_owned())
            .zip(stat.values().iter().map(ToString::to_string))
            .collect();
        let kind = family.kind.prometheus_type();
        assert_eq!(
            types.get(&prom).map(String::as_str),
            Some(kind),
            "# TYPE of {prom}"
        );
        let series = if family.kind == Kind::Histogram {
            format!("{prom}_count")
        } else {
            prom.clone()
        };
        let found: Vec<&&Sample> = veer
            .iter()
            .filter(|s| s.name == series && s.labels == labels)
            .collect();
        assert_eq!(found.len(), 1, "{name} as {series}{labels:?}: {found:?}");
        if family.kind != Kind::Histogram {
            assert_eq!(found[0].value, stats.get(name) as f64, "{name}");
        }
        expected.insert((series, labels));
    }
    // And nothing else: no Veer sample escaped the tags with its parts in its name.
    for s in &veer {
        let family = s
            .name
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count");
        let mut labels = s.labels.clone();
        labels.remove("le");
        let series = if types.get(family).map(String::as_str) == Some("histogram") {
            format!("{family}_count")
        } else {
            s.name.clone()
        };
        assert!(
            expected.contains(&(series, labels)),
            "unexpected sample {s:?}"
        );
    }
    // The traffic shows in the labelled families (spot checks of what the table in the README
    // promises).
    let value = |name: &str, labels: &[(&str, &str)]| {
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        veer.iter()
            .find(|s| s.name == name && s.labels == labels)
            .map(|s| s.value)
    };
    assert_eq!(
        value(
            "veer_rule_requests_total",
            &[("service", "web"), ("rule", "beta-header")]
        ),
        Some(6.0)
    );
    let arms: f64 = ["classic", "one-click"]
        .iter()
        .filter_map(|arm| {
            value(
                "veer_experiment_requests_total",
                &[("service", "web"), ("experiment", "checkout"), ("arm", arm)],
            )
        })
        .sum();
    assert_eq!(arms, 6.0);
    assert_eq!(value("veer_passthrough_requests_total", &[]), Some(6.0));
    assert_eq!(value("veer_spoofed_headers_removed_total", &[]), Some(6.0));
    let shop: f64 = ["v1", "v2", "v3"]
        .iter()
        .filter_map(|v| {
            value(
                "veer_requests_total",
                &[("service", "shop-app"), ("variant", v)],
            )
        })
        .sum();
    assert_eq!(shop, 6.0);
    assert_eq!(
        value(
            "veer_response_latency_microseconds_bucket",
            &[("service", "web"), ("variant", "v3"), ("le", "+Inf")]
        ),
        Some(6.0),
        "the beta-header rule's responses (v3), in the latency histogram"
    );
    // In microsecond buckets (the bootstrap's histogram_bucket_settings), not Envoy's default
    // millisecond ones.
    let bounds: Vec<f64> = veer
        .iter()
        .filter(|s| {
            s.name == "veer_response_latency_microseconds_bucket"
                && s.labels.get("variant").map(String::as_str) == Some("v3")
                && s.labels.get("service").map(String::as_str) == Some("web")
        })
        .filter_map(|s| s.labels.get("le")?.parse().ok())
        .filter(|b: &f64| b.is_finite())
        .collect();
    let want: Vec<f64> = metrics::tags::LATENCY_BUCKETS_US
        .iter()
        .map(|b| *b as f64)
        .collect();
    assert_eq!(bounds, want);
}

/// Metric names (`veer_...`) and label names an expression uses.
fn used_in(expr: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let words = |s: &str| -> Vec<String> {
        s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let metrics = words(expr)
        .into_iter()
        .filter(|w| w.starts_with("veer_"))
        .collect();
    let mut labels = BTreeSet::new();
    // Grouping clauses: `by (a, b)`, `ignoring(a)`, `group_left(a)`...
    for keyword in [
        "by",
        "without",
        "ignoring",
        "on",
        "group_left",
        "group_right",
    ] {
        for part in expr.split(keyword).skip(1) {
            let part = part.trim_start();
            if let Some(inner) = part.strip_prefix('(') {
                labels.extend(words(inner.split(')').next().unwrap_or("")));
            }
        }
    }
    // Matchers: `{a=~"...", b="..."}`; `label_values(metric, label)`.
    for part in expr.split('{').skip(1) {
        let inner = part.split('}').next().unwrap_or("");
        for m in inner.split(',') {
            if let Some(name) = m.split(['=', '!']).next() {
                labels.extend(words(name));
            }
        }
    }
    if let Some(args) = expr.strip_prefix("label_values(") {
        labels.extend(words(args.split(',').nth(1).unwrap_or("")));
    }
    (metrics, labels)
}

/// Every PromQL expression of a dashboard (panel targets and template queries).
fn expressions(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr" | "definition", Value::String(s)) => out.push(s.clone()),
                    _ => expressions(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| expressions(i, out)),
        _ => {}
    }
}

#[test]
fn the_grafana_dashboard_asks_only_for_metrics_and_labels_a_live_envoy_exports() {
    let path = veer_e2e::paths::workspace().join("deploy/grafana/veer.json");
    let dashboard: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    expressions(&dashboard, &mut exprs);
    assert!(exprs.len() >= 10, "{exprs:?}");

    let rig = Rig::start(&config());
    let (_, text) = traffic_and_exports(&rig);
    let (samples, _) = exposition(&text);
    let mut exported: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for s in &samples {
        exported
            .entry(s.name.as_str())
            .or_default()
            .extend(s.labels.keys().map(String::as_str));
    }
    let mut families = BTreeSet::new();
    for expr in &exprs {
        let (metrics, labels) = used_in(expr);
        assert!(!metrics.is_empty(), "no Veer metric in {expr}");
        let mut available = BTreeSet::new();
        for m in &metrics {
            let labels = exported
                .get(m.as_str())
                .unwrap_or_else(|| panic!("{m} (in {expr}) is not exported by Envoy"));
            available.extend(labels.iter().copied());
            families.insert(m.clone());
        }
        for l in &labels {
            assert!(
                available.contains(l.as_str()),
                "label {l} (in {expr}) is on none of {metrics:?}"
            );
        }
    }
    // The split, errors, latency and experiments are all on it.
    for family in [
        "veer_split_requests_total",
        "veer_responses_total",
        "veer_response_latency_microseconds_bucket",
        "veer_experiment_requests_total",
    ] {
        assert!(
            families.contains(family),
            "the dashboard does not show {family}"
        );
    }
}
