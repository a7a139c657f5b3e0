//! `veerctl mesh install`: the WasmPlugin that runs Veer in the proxies, and the routing objects
//! that send each cluster-header value to its version.
//!
//! Veer's filter decides a request's version and writes it in `x-veer-cluster`; Envoy's router
//! then needs a route per value. On Istio that is a DestinationRule naming each version (subset,
//! by pod labels) and a VirtualService with one exact header match per cluster value, then a
//! default route to the stable version, so a missing or unknown header never means a 503.
//!
//! Order matters: routes that obey the header, written before the plugin is live, would obey a
//! header a client sent itself (and public reports show 500/503s in that window). So the plugin is
//! applied first, the routes after (by default once the sidecars run it, [`crate::plugin_live`]),
//! and the outcome records the order. The header routes are also
//! limited to the workloads the plugin runs in (`sourceLabels`) and to the namespace
//! (`exportTo: ["."]`), so proxies without Veer never obey a client's header.

use std::collections::BTreeMap;

use kube::api::ObjectMeta;
use kube::ResourceExt;
use serde::Serialize;
use veer_filter::config::{WireConfig, DEFAULT_CLUSTER_HEADER};
use veer_filter::Config;

use crate::dry_run::PlannedRequest;
use crate::error::{Error, Result};
pub use crate::fail_strategy::{FailStrategy, FailStrategyChoice};
use crate::istio::{
    Destination, DestinationRule, DestinationRuleSpec, HttpMatchRequest, HttpRoute,
    HttpRouteDestination, StringMatch, Subset, TrafficSelector, VirtualService, VirtualServiceSpec,
    WasmPlugin, WasmPluginSpec, WorkloadSelector,
};
use crate::labels::MANAGED_BY_LABEL;
use crate::plugin_live::{wait_sidecars, PluginWait, PortForward, SidecarReader};
use crate::report::Reporter;
use crate::target::{check_name, Target};

/// Where in the proxy's filter chain the plugin runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum Phase {
    /// After Istio's authn/authz and stats filters, just before the router: authorization sees
    /// the request as the client sent it, and the route is chosen after Veer set the header.
    #[default]
    Unspecified,
    /// Before Istio's authentication.
    Authn,
    /// Before Istio's authorization.
    Authz,
    /// Before Istio's stats.
    Stats,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Unspecified => "UNSPECIFIED_PHASE",
            Phase::Authn => "AUTHN",
            Phase::Authz => "AUTHZ",
            Phase::Stats => "STATS",
        }
    }
}

/// Which traffic of the selected workloads the plugin sees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum MatchMode {
    /// Outbound requests of sidecars: where the route to a version is chosen.
    #[default]
    Client,
    /// Outbound and inbound.
    ClientAndServer,
}

impl MatchMode {
    fn as_str(self) -> &'static str {
        match self {
            MatchMode::Client => "CLIENT",
            MatchMode::ClientAndServer => "CLIENT_AND_SERVER",
        }
    }
}

/// The WasmPlugin's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSettings {
    /// The WasmPlugin's name (`veer`).
    pub name: String,
    /// Where Istio fetches the module, e.g. `oci://registry/veer-filter:0.1.0`.
    pub url: String,
    /// SHA-256 Istio checks the module against: of the module for http(s)/file, the image
    /// digest for oci. `None` writes none, and Istio then loads whatever the URL serves.
    pub sha256: Option<Sha256>,
    /// Where in the chain.
    pub phase: Phase,
    /// What happens when it fails: by default what the cluster's Istio allows (FAIL_RELOAD from
    /// Istio 1.27, FAIL_CLOSE before), never FAIL_OPEN.
    pub fail_strategy: FailStrategyChoice,
    /// Pod labels of the workloads it runs in; empty: every workload of the namespace. Only pods
    /// of the plugin's own namespace: a gateway in `istio-system` is not reached from here.
    pub selector: BTreeMap<String, String>,
    /// Which traffic; `None` writes no `match` (gateways).
    pub mode: Option<MatchMode>,
    /// `IfNotPresent` or `Always`; `None`: Istio's default.
    pub image_pull_policy: Option<String>,
}

impl PluginSettings {
    /// Settings named `veer` with the safe defaults: just before the router, the failStrategy
    /// the cluster's Istio allows, outbound traffic of every workload of the namespace.
    pub fn new(url: impl Into<String>, sha256: Option<Sha256>) -> Self {
        PluginSettings {
            name: "veer".into(),
            url: url.into(),
            sha256,
            phase: Phase::default(),
            fail_strategy: FailStrategyChoice::default(),
            selector: BTreeMap::new(),
            mode: Some(MatchMode::Client),
            image_pull_policy: None,
        }
    }
}

/// How one Veer service maps onto a Kubernetes Service and its pods.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceRoutes {
    /// The service's name in the routing config.
    pub service: String,
    /// The Kubernetes Service host (`web`, or `web.demo.svc.cluster.local`).
    pub host: String,
    /// The variant unmatched requests go to; `None`: the first variant.
    pub stable: Option<String>,
    /// Pod labels of each variant; a variant not listed is selected by `version: <variant>`.
    pub variant_labels: BTreeMap<String, BTreeMap<String, String>>,
    /// Gateways the VirtualService would bind to. Not supported: [`build`] refuses any (see
    /// [`refuse_gateways`]); empty, the routes apply in the mesh's sidecars.
    pub gateways: Vec<String>,
}

/// Everything `mesh install` writes.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshSpec {
    /// The plugin.
    pub plugin: PluginSettings,
    /// The routing config, written as the plugin's `pluginConfig`.
    pub config: WireConfig,
    /// Routes per service; empty: one per config service, host = service name.
    pub routes: Vec<ServiceRoutes>,
}

/// The objects of a mesh install, in the order they are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct MeshObjects {
    /// First.
    pub plugin: WasmPlugin,
    /// Then these.
    pub destination_rules: Vec<DestinationRule>,
    /// Last.
    pub virtual_services: Vec<VirtualService>,
}

/// What [`mesh_install`] did.
#[derive(Debug, Clone, Serialize)]
pub struct MeshInstallOutcome {
    /// `Kind/name` in the order applied (the plugin first).
    pub applied: Vec<String>,
    /// The writes, in order.
    pub requests: Vec<PlannedRequest>,
}

fn metadata(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        labels: Some(BTreeMap::from([(
            MANAGED_BY_LABEL.to_owned(),
            "veerctl".to_owned(),
        )])),
        ..ObjectMeta::default()
    }
}

/// A subset name from a variant name: DNS-1123 (`_` is allowed in variant names, not here).
pub fn subset_name(variant: &str) -> String {
    variant.to_ascii_lowercase().replace('_', "-")
}

/// The WasmPlugin carrying `config`, after checking that the config is valid and the settings
/// are usable.
pub fn build_plugin(settings: &PluginSettings, config: &WireConfig) -> Result<WasmPlugin> {
    check_name("WasmPlugin name", &settings.name, 63)?;
    Config::from_wire(config).map_err(Error::InvalidConfig)?;
    let scheme_ok = ["oci://", "http://", "https://", "file://"]
        .iter()
        .any(|s| settings.url.starts_with(s));
    if !scheme_ok {
        return Err(Error::Invalid {
            what: format!("plugin url {:?}", settings.url),
            reason: "use oci://, https://, http:// or file://".into(),
        });
    }
    let plugin_config = serde_json::to_value(config).map_err(|e| Error::Serialize {
        what: "the routing config".into(),
        reason: e.to_string(),
    })?;
    let spec = WasmPluginSpec {
        url: settings.url.clone(),
        sha256: settings.sha256.as_ref().map(ToString::to_string),
        image_pull_policy: settings.image_pull_policy.clone(),
        phase: Some(settings.phase.as_str().into()),
        fail_strategy: Some(settings.fail_strategy.offline().as_str().into()),
        selector: (!settings.selector.is_empty()).then(|| WorkloadSelector {
            match_labels: settings.selector.clone(),
        }),
        match_: settings.mode.map(|m| {
            vec![TrafficSelector {
                mode: Some(m.as_str().into()),
                ..TrafficSelector::default()
            }]
        }),
        plugin_config: Some(plugin_config),
        ..WasmPluginSpec::default()
    };
    let mut plugin = WasmPlugin::new(&settings.name, spec);
    plugin.metadata = metadata(&settings.name);
    Ok(plugin)
}

/// A SHA-256 digest that Istio can check a module against: 64 lowercase hex digits (Istio's
/// pattern `^[a-f0-9]{64}$`), and not all zeros, which is a placeholder no module hashes to: a
/// proxy would refuse every module and Veer would never run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sha256(String);

impl Sha256 {
    /// The digest of `bytes` (a .wasm module, for http(s):// and file:// URLs).
    pub fn of(bytes: &[u8]) -> Sha256 {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(bytes);
        Sha256(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// A digest given as hex, e.g. an OCI image digest without its `sha256:` prefix.
    pub fn parse(hex: &str) -> Result<Sha256> {
        let invalid = |reason: &str| Error::Invalid {
            what: format!("sha256 {hex:?}"),
            reason: reason.to_owned(),
        };
        let hex_ok = hex.len() == 64
            && hex
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        if !hex_ok {
            return Err(invalid(
                "give the 64 lowercase hex digits of the OCI image digest (without `sha256:`), \
                 or let veerctl compute the module's with --wasm FILE for http(s):// and file:// URLs",
            ));
        }
        if hex.bytes().all(|b| b == b'0') {
            return Err(invalid(
                "all zeros is a placeholder, not a digest: Istio would refuse the module; \
                 give the real digest with --sha256 or --wasm FILE",
            ));
        }
        Ok(Sha256(hex.to_owned()))
    }
}

impl std::fmt::Display for Sha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Refuses routes bound to a gateway. Gateway mode would need the plugin in the gateway's
/// namespace (or the root namespace, with targetRefs), routes exported to that namespace, the
/// external hosts in the routes and in the config, and the wait reading the gateway's pods; a
/// plugin and `exportTo: ["."]` routes in the app's namespace reach none of a standard install's
/// gateways (in `istio-system` or `istio-ingress`), so traffic through it would not be steered.
pub fn refuse_gateways(routes: &[ServiceRoutes]) -> Result<()> {
    match routes.iter().find(|r| !r.gateways.is_empty()) {
        None => Ok(()),
        Some(r) => Err(Error::Invalid {
            what: format!(
                "gateway {} for service {:?}",
                r.gateways.join(", "),
                r.service
            ),
            reason: "gateway mode is not supported: veerctl installs Veer in the sidecars of the \
                     calling workloads of this namespace, and a WasmPlugin here with routes \
                     exported only here reaches no gateway in another namespace; drop --gateway \
                     and route from the sidecars, e.g. of the workloads behind the gateway"
                .into(),
        }),
    }
}

/// Every object of a mesh install: the WasmPlugin, then a DestinationRule and a VirtualService
/// per service. Pure: nothing is read or sent; the failStrategy is
/// [`FailStrategyChoice::offline`]'s unless one was given.
pub fn build(spec: &MeshSpec) -> Result<MeshObjects> {
    refuse_gateways(&spec.routes)?;
    let plugin = build_plugin(&spec.plugin, &spec.config)?;
    let header = spec
        .config
        .headers
        .as_ref()
        .and_then(|h| h.cluster.clone())
        .unwrap_or_else(|| DEFAULT_CLUSTER_HEADER.to_owned());
    let routes: Vec<ServiceRoutes> = if spec.routes.is_empty() {
        spec.config
            .services
            .iter()
            .map(|s| ServiceRoutes {
                service: s.name.clone(),
                host: s.name.clone(),
                ..ServiceRoutes::default()
            })
            .collect()
    } else {
        spec.routes.clone()
    };
    let mut destination_rules = Vec::new();
    let mut virtual_services = Vec::new();
    for r in &routes {
        let (dr, vs) = build_routes(spec, r, &header)?;
        destination_rules.push(dr);
        virtual_services.push(vs);
    }
    Ok(MeshObjects {
        plugin,
        destination_rules,
        virtual_services,
    })
}

fn build_routes(
    spec: &MeshSpec,
    r: &ServiceRoutes,
    header: &str,
) -> Result<(DestinationRule, VirtualService)> {
    let invalid = |reason: String| Error::Invalid {
        what: format!("routes for service {:?}", r.service),
        reason,
    };
    let service = spec
        .config
        .services
        .iter()
        .find(|s| s.name == r.service)
        .ok_or_else(|| invalid("the routing config has no service of that name".into()))?;
    let object_name = r.host.split('.').next().unwrap_or_default().to_owned();
    check_name("host", &object_name, 63)?;
    let stable = match &r.stable {
        Some(s) => service
            .variants
            .iter()
            .find(|v| &v.name == s)
            .ok_or_else(|| invalid(format!("it has no variant {s:?} to use as stable")))?,
        None => service
            .variants
            .first()
            .ok_or_else(|| invalid("it has no variants".into()))?,
    };
    let subsets: Vec<Subset> = service
        .variants
        .iter()
        .map(|v| Subset {
            name: subset_name(&v.name),
            labels: r
                .variant_labels
                .get(&v.name)
                .cloned()
                .unwrap_or_else(|| BTreeMap::from([("version".to_owned(), v.name.clone())])),
        })
        .collect();
    let destination = |subset: String| HttpRouteDestination {
        destination: Destination {
            host: r.host.clone(),
            subset: Some(subset),
            ..Destination::default()
        },
        weight: None,
    };
    let source_labels = (!spec.plugin.selector.is_empty()).then(|| spec.plugin.selector.clone());
    let mut http = Vec::new();
    let mut seen = Vec::new();
    for v in &service.variants {
        if seen.contains(&&v.cluster) {
            continue;
        }
        seen.push(&v.cluster);
        http.push(HttpRoute {
            name: Some(format!("veer-{}", subset_name(&v.name))),
            match_: Some(vec![HttpMatchRequest {
                headers: Some(BTreeMap::from([(
                    header.to_owned(),
                    StringMatch {
                        exact: Some(v.cluster.clone()),
                        ..StringMatch::default()
                    },
                )])),
                source_labels: source_labels.clone(),
                ..HttpMatchRequest::default()
            }]),
            route: vec![destination(subset_name(&v.name))],
            ..HttpRoute::default()
        });
    }
    http.push(HttpRoute {
        name: Some("default".into()),
        match_: None,
        route: vec![destination(subset_name(&stable.name))],
        ..HttpRoute::default()
    });
    let mut dr = DestinationRule::new(
        &object_name,
        DestinationRuleSpec {
            host: r.host.clone(),
            subsets,
            export_to: Some(vec![".".into()]),
            ..DestinationRuleSpec::default()
        },
    );
    dr.metadata = metadata(&object_name);
    let mut vs = VirtualService::new(
        &object_name,
        VirtualServiceSpec {
            hosts: vec![r.host.clone()],
            gateways: (!r.gateways.is_empty()).then(|| r.gateways.clone()),
            export_to: Some(vec![".".into()]),
            http,
            ..VirtualServiceSpec::default()
        },
    );
    vs.metadata = metadata(&object_name);
    Ok((dr, vs))
}

/// Applies (server-side apply, field manager `veerctl`, forced) the WasmPlugin first, then the
/// DestinationRules, then the VirtualServices, without waiting in between (see
/// [`mesh_install_waiting`]). Nothing is sent if the config or settings are invalid.
pub async fn mesh_install(
    target: &Target,
    spec: &MeshSpec,
    reporter: &dyn Reporter,
) -> Result<MeshInstallOutcome> {
    install(target, spec, None::<&PluginWait<PortForward>>, reporter).await
}

/// [`mesh_install`], waiting after the WasmPlugin until every sidecar it selects runs the config
/// just written ([`wait_plugin_live`]), so no route obeys the header before the filter sets it.
/// Not in dry-run, where nothing changes.
pub async fn mesh_install_waiting<R: SidecarReader>(
    target: &Target,
    spec: &MeshSpec,
    wait: &PluginWait<R>,
    reporter: &dyn Reporter,
) -> Result<MeshInstallOutcome> {
    install(target, spec, Some(wait), reporter).await
}

async fn install<R: SidecarReader>(
    target: &Target,
    spec: &MeshSpec,
    wait: Option<&PluginWait<R>>,
    reporter: &dyn Reporter,
) -> Result<MeshInstallOutcome> {
    // Validates before anything is sent.
    build(spec)?;
    let plugin_name = spec.plugin.name.clone();
    let mut spec = spec.clone();
    // The sidecars must report a version newer than the WasmPlugin's current one, or the wait
    // below could be met by the config (or module) this install replaces.
    let live = target
        .get_opt::<WasmPlugin>("WasmPlugin", &plugin_name)
        .await?
        .and_then(|p| crate::plugin_config::read_config(&p).ok())
        .and_then(|c| c.version);
    let version = match live {
        Some(live) if spec.config.version.unwrap_or(0) <= live => {
            reporter.progress(&format!(
                "WasmPlugin {plugin_name} carries config version {live}: installing this config as version {}",
                live + 1
            ));
            spec.config.version = Some(live + 1);
            live + 1
        }
        _ => spec.config.version.unwrap_or(0),
    };
    let strategy =
        crate::fail_strategy::resolve(target, spec.plugin.fail_strategy, reporter).await?;
    spec.plugin.fail_strategy = FailStrategyChoice::Use(strategy);
    let objects = build(&spec)?;
    let mut writer = target.writer();
    let mut applied = Vec::new();
    reporter.progress(&format!("Applying WasmPlugin {plugin_name}"));
    writer
        .apply(&target.api::<WasmPlugin>(), &plugin_name, &objects.plugin)
        .await?;
    applied.push(format!("WasmPlugin/{plugin_name}"));
    if let Some(wait) = wait.filter(|_| writer.persists()) {
        let selector = &spec.plugin.selector;
        let seen = wait_sidecars(target, &plugin_name, selector, version, wait, reporter).await?;
        if seen.is_none() {
            return Err(Error::NoSidecar {
                plugin: plugin_name,
                scope: crate::plugin_live::scope(target, selector),
            });
        }
    }
    for dr in &objects.destination_rules {
        let name = dr.name_any();
        reporter.progress(&format!("Applying DestinationRule {name}"));
        writer
            .apply(&target.api::<DestinationRule>(), &name, dr)
            .await?;
        applied.push(format!("DestinationRule/{name}"));
    }
    for vs in &objects.virtual_services {
        let name = vs.name_any();
        reporter.progress(&format!("Applying VirtualService {name}"));
        writer
            .apply(&target.api::<VirtualService>(), &name, vs)
            .await?;
        applied.push(format!("VirtualService/{name}"));
    }
    Ok(MeshInstallOutcome {
        applied,
        requests: writer.into_requests(),
    })
}
