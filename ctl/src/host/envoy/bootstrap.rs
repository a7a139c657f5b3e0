//! An Envoy bootstrap that runs Veer: what `deploy/envoy/envoy.yaml` (the proxy-wasm build) and
//! `deploy/envoy/envoy-native.yaml` (the dynamic module) are for the demo, for any clusters,
//! ports, ECDS directory and filter (`veerctl bootstrap`). The same structure and the same safety
//! properties (see those files' headers), so a test renders the demo's clusters and compares the
//! result with each template filled in.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use veer_filter::config::{
    WireConfig, DEFAULT_CLUSTER_HEADER, DEFAULT_EXPERIMENT_HEADER, DEFAULT_VARIANT_HEADER,
};

use crate::error::{CliError, Result};
use crate::host::envoy::ecds::{self, Filter, FILE_NAME, FILTER_NAME};
use veer_filter::metrics::tags;

/// An upstream cluster: `NAME=HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Its name, as the routing config's variants name it.
    pub name: String,
    /// An IP address, or a DNS name (resolved by Envoy).
    pub host: String,
    /// Its port.
    pub port: u16,
}

impl Cluster {
    /// Parses `NAME=HOST:PORT` (`[IPV6]:PORT` too).
    pub fn parse(text: &str) -> Result<Cluster> {
        let bad = |why: &str| {
            CliError::failed(format!(
                "--cluster {text:?}: {why}; write NAME=HOST:PORT, e.g. web_v1=127.0.0.1:8081"
            ))
        };
        let (name, address) = text.split_once('=').ok_or_else(|| bad("no '='"))?;
        let valid_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
        if !valid_name {
            return Err(bad("the name must be letters, digits, '_', '-' or '.'"));
        }
        let (host, port) = address.rsplit_once(':').ok_or_else(|| bad("no port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = port
            .parse()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad("the port must be 1-65535"))?;
        Ok(Cluster {
            name: name.to_owned(),
            host: host.to_owned(),
            port,
        })
    }

    fn render(&self) -> Value {
        let mut cluster = json!({
            "name": self.name,
            "connect_timeout": "1s",
            "load_assignment": {
                "cluster_name": self.name,
                "endpoints": [{ "lb_endpoints": [{ "endpoint": {
                    "address": socket(&self.host, self.port)
                } }] }]
            }
        });
        // A STATIC cluster (Envoy's default) takes IP addresses only.
        if self.host.parse::<IpAddr>().is_err() {
            cluster["type"] = json!("STRICT_DNS");
        }
        cluster
    }
}

/// What a bootstrap is made of.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// The upstream clusters; the first is the stable one every request falls back to.
    pub clusters: Vec<Cluster>,
    /// The listener's address and port.
    pub listen: (String, u16),
    /// The admin API's port, on 127.0.0.1 only (it can change the proxy: never expose it).
    pub admin_port: u16,
    /// The directory Envoy watches (veerctl's `--envoy`).
    pub ecds_dir: PathBuf,
    /// The filter's build (its .wasm, or the dynamic module's name): what the ECDS resource must
    /// be (the bootstrap accepts only its type) and what the fallback config loads.
    pub filter: Filter,
    /// The header names the routing config uses (its `headers`), so that the route reads the
    /// cluster header the filter writes and the fallback removes the same client-sent headers.
    pub headers: Headers,
}

/// The request headers the filter owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headers {
    /// `headers.cluster`.
    pub cluster: String,
    /// `headers.variant`.
    pub variant: String,
    /// `headers.experiment`.
    pub experiment: String,
}

impl Headers {
    /// The names `config` uses (defaults where it sets none; defaults without a config).
    pub fn of(config: Option<&WireConfig>) -> Headers {
        let h = config.and_then(|c| c.headers.as_ref());
        let pick = |set: Option<&Option<String>>, default: &str| {
            set.and_then(Option::as_deref).unwrap_or(default).to_owned()
        };
        Headers {
            cluster: pick(h.map(|h| &h.cluster), DEFAULT_CLUSTER_HEADER),
            variant: pick(h.map(|h| &h.variant), DEFAULT_VARIANT_HEADER),
            experiment: pick(h.map(|h| &h.experiment), DEFAULT_EXPERIMENT_HEADER),
        }
    }

    fn are_default(&self) -> bool {
        *self == Headers::of(None)
    }
}

impl Bootstrap {
    /// The bootstrap, as a value (YAML or JSON to Envoy).
    pub fn render(&self) -> Result<Value> {
        let stable = self.clusters.first().ok_or_else(|| {
            CliError::failed(
                "no --cluster: pass at least the stable one, e.g. --cluster web_v1=127.0.0.1:8081",
            )
        })?;
        let dir = self.ecds_dir.to_string_lossy();
        let mut bootstrap = json!({
            "node": { "id": "veer-local", "cluster": "veer" },
            "stats_config": stats_config(),
            "admin": { "address": socket("127.0.0.1", self.admin_port) },
            "static_resources": {
                "listeners": [{
                    "name": "ingress",
                    "address": socket(&self.listen.0, self.listen.1),
                    "filter_chains": [{ "filters": [{
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": self.connection_manager(&stable.name, &dir),
                    }] }]
                }],
                "clusters": self.clusters.iter().map(Cluster::render).collect::<Vec<_>>()
            }
        });
        if let Filter::Native(_) = self.filter {
            bootstrap["layered_runtime"] = native_runtime();
        }
        Ok(bootstrap)
    }

    /// The HTTP connection manager: normalised paths, the route that obeys the cluster header
    /// only when it is present (else the stable cluster), and the filter from the ECDS file with
    /// its fallback config.
    fn connection_manager(&self, stable: &str, dir: &str) -> Value {
        json!({
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": "ingress",
            "normalize_path": true,
            "merge_slashes": true,
            "path_with_escaped_slashes_action": "UNESCAPE_AND_FORWARD",
            "route_config": {
                "name": "local",
                "virtual_hosts": [{
                    "name": "all",
                    "domains": ["*"],
                    "routes": [
                        {
                            "match": { "prefix": "/", "headers": [{ "name": self.headers.cluster, "present_match": true }] },
                            "route": { "cluster_header": self.headers.cluster }
                        },
                        { "match": { "prefix": "/" }, "route": { "cluster": stable } }
                    ]
                }]
            },
            "http_filters": [
                {
                    "name": FILTER_NAME,
                    "config_discovery": {
                        "config_source": { "path_config_source": {
                            "path": format!("{dir}/{FILE_NAME}"),
                            "watched_directory": { "path": dir }
                        } },
                        "default_config": self.fallback(stable),
                        "type_urls": [type_url(&self.filter)]
                    }
                },
                {
                    "name": "envoy.filters.http.router",
                    "typed_config": { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" }
                }
            ]
        })
    }

    /// The filter's config when Envoy starts on a file it refuses: version 0, no service routed
    /// (its one service matches a host RFC 2606 reserves), the same headers removed.
    fn fallback(&self, stable: &str) -> Value {
        let mut config = json!({
            "version": 0,
            // It routes nothing: no response metrics to define for it.
            "metrics": { "responses": false },
            "services": [{
                "name": "veer-fallback",
                "hosts": ["veer-fallback.invalid"],
                "variants": [{ "name": "stable", "cluster": stable }],
                "split": { "stable": 10000 }
            }]
        });
        if !self.headers.are_default() {
            config["headers"] = json!({
                "cluster": self.headers.cluster,
                "variant": self.headers.variant,
                "experiment": self.headers.experiment,
            });
        }
        ecds::filter_config(&config.to_string(), &self.filter)
    }

    /// The clusters `config` routes to that this bootstrap does not define: requests sent there
    /// would get 503.
    pub fn missing_clusters(&self, config: &WireConfig) -> Vec<String> {
        let mut missing: Vec<String> = config
            .services
            .iter()
            .flat_map(|s| s.variants.iter().map(|v| v.cluster.clone()))
            .filter(|c| !self.clusters.iter().any(|k| &k.name == c))
            .collect();
        missing.sort();
        missing.dedup();
        missing
    }
}

/// The one type of filter config the bootstrap accepts from the watched file: a file that loads
/// the other build is rejected, and the running config keeps serving.
fn type_url(filter: &Filter) -> &'static str {
    match filter {
        Filter::Wasm(_) => ecds::WASM_TYPE,
        Filter::Native(_) => ecds::NATIVE_TYPE,
    }
}

/// The native build's runtime flag: `/stats/prometheus` drops the dynamic modules' metric
/// namespace (`dynamicmodulescustom.`) as it drops `wasmcustom.`, so Prometheus sees the same
/// families and labels from either build.
fn native_runtime() -> Value {
    json!({ "layers": [{
        "name": "static",
        "static_layer": { "envoy.reloadable_features.dynamic_modules_strip_custom_stat_prefix": true }
    }] })
}

/// Envoy's tags that make Prometheus labels of the parts of Veer's metric names, and microsecond
/// buckets for its latency histograms ([`veer_filter::metrics::tags`]), as deploy/envoy/envoy.yaml
/// has them.
fn stats_config() -> Value {
    let tags: Vec<Value> = tags::stats_tags()
        .into_iter()
        .map(|t| json!({ "tag_name": t.tag_name, "regex": t.regex }))
        .collect();
    json!({
        "stats_tags": tags,
        "histogram_bucket_settings": [{
            "match": { "safe_regex": { "regex": tags::histogram_match_regex() } },
            "buckets": tags::LATENCY_BUCKETS_US,
        }]
    })
}

fn socket(address: &str, port: u16) -> Value {
    json!({ "socket_address": { "address": address, "port_value": port } })
}

/// `path` made absolute: Envoy reads the bootstrap's paths from its own working directory.
pub fn absolute(path: &Path, what: &str) -> Result<PathBuf> {
    std::path::absolute(path)
        .map_err(|e| CliError::io(format!("resolve {what} {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_are_parsed_with_their_mistakes_named() {
        assert_eq!(
            Cluster::parse("web_v1=127.0.0.1:8081").unwrap(),
            Cluster {
                name: "web_v1".into(),
                host: "127.0.0.1".into(),
                port: 8081
            }
        );
        assert_eq!(Cluster::parse("v6=[::1]:80").unwrap().host, "::1");
        for (text, why) in [
            ("web_v1", "no '='"),
            ("web v1=127.0.0.1:1", "the name must be"),
            ("web=127.0.0.1", "no port"),
            ("web=127.0.0.1:0", "1-65535"),
            ("web=:80", "no host"),
        ] {
            let err = Cluster::parse(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn a_dns_name_gets_a_dns_cluster_and_renamed_headers_reach_route_and_fallback() {
        let b = Bootstrap {
            clusters: vec![Cluster::parse("web=web.internal:80").unwrap()],
            listen: ("0.0.0.0".into(), 80),
            admin_port: 9901,
            ecds_dir: "/etc/veer".into(),
            filter: Filter::Wasm("/opt/veer.wasm".into()),
            headers: Headers {
                cluster: "x-pick".into(),
                ..Headers::of(None)
            },
        };
        let v = b.render().unwrap();
        assert_eq!(v["static_resources"]["clusters"][0]["type"], "STRICT_DNS");
        let hcm = &v["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
            ["typed_config"];
        let routes = &hcm["route_config"]["virtual_hosts"][0]["routes"];
        assert_eq!(routes[0]["route"]["cluster_header"], "x-pick");
        assert_eq!(routes[1]["route"]["cluster"], "web");
        let fallback = hcm["http_filters"][0]["config_discovery"]["default_config"]["config"]
            ["configuration"]["value"]
            .as_str()
            .unwrap();
        let fallback = veer_filter::Config::from_json(fallback).unwrap();
        assert_eq!(fallback.version, 0);
        assert!(fallback.owned_request_headers().any(|h| h == "x-pick"));
        assert_eq!(
            v["admin"]["address"]["socket_address"]["address"],
            "127.0.0.1"
        );
    }

    /// The native build: the dynamic module by name in the fallback, the only type the watched
    /// file may hold, and the runtime flag that gives Prometheus the wasm build's metric names.
    /// The wasm build has none of these.
    #[test]
    fn the_native_build_loads_the_module_and_strips_its_metric_namespace() {
        let bootstrap = |filter| Bootstrap {
            clusters: vec![Cluster::parse("web_v1=127.0.0.1:8081").unwrap()],
            listen: ("127.0.0.1".into(), 8080),
            admin_port: 9901,
            ecds_dir: "/etc/veer".into(),
            filter,
            headers: Headers::of(None),
        };
        let v = bootstrap(Filter::Native("veer_native".into()))
            .render()
            .unwrap();
        let discovery = &v["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
            ["typed_config"]["http_filters"][0]["config_discovery"];
        assert_eq!(discovery["type_urls"], json!([ecds::NATIVE_TYPE]));
        let fallback = &discovery["default_config"];
        assert_eq!(fallback["@type"], ecds::NATIVE_TYPE);
        assert_eq!(fallback["dynamic_module_config"]["name"], "veer_native");
        let config = fallback["filter_config"]["value"].as_str().unwrap();
        let config = veer_filter::Config::from_json(config).unwrap();
        assert_eq!(config.version, 0);
        assert_eq!(
            v["layered_runtime"]["layers"][0]["static_layer"]
                ["envoy.reloadable_features.dynamic_modules_strip_custom_stat_prefix"],
            true
        );
        let wasm = bootstrap(Filter::Wasm("/opt/veer.wasm".into()))
            .render()
            .unwrap();
        assert!(wasm.get("layered_runtime").is_none(), "{wasm:#}");
    }
}
