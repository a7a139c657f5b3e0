//! The Istio kinds veerctl writes: WasmPlugin, DestinationRule and VirtualService.
//!
//! Why typed `kube::CustomResource` structs rather than `DynamicObject`s: the fields veerctl sets
//! (url, sha256, failStrategy, pluginConfig, subsets, header matches) are checked by the compiler
//! and read as fields, not as JSON paths; tests compare values, not strings. Only the fields Veer
//! uses are modelled, and each spec keeps every other field in `other` (`#[serde(flatten)]`), so
//! a read-modify-replace of an object someone else extended (e.g. `vmConfig`, `targetRefs`
//! added by hand, or fields of a newer Istio) sends them back unchanged. For the same reason
//! Istio's enums (`phase`, `failStrategy`, ...) are strings on the wire: reading a value this
//! crate does not know must not fail; veerctl's own settings use the typed enums in
//! [`crate::mesh`]. No schema is generated (`schema = "disabled"`): Istio installs its CRDs.

use std::collections::BTreeMap;

use kube::CustomResource;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `extensions.istio.io/v1alpha1` WasmPlugin: which Wasm module Istio loads into which proxies,
/// and its config.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "extensions.istio.io",
    version = "v1alpha1",
    kind = "WasmPlugin",
    namespaced,
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct WasmPluginSpec {
    /// `oci://`, `file://` or `http(s)://` URL of the module.
    pub url: String,
    /// Hex SHA-256 of the module (or image digest for oci://): Istio refuses a different one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// `IfNotPresent`, `Always`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    /// `UNSPECIFIED_PHASE`, `AUTHN`, `AUTHZ`, `STATS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Order among plugins of the same phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    /// `FAIL_CLOSE`, `FAIL_OPEN`, `FAIL_RELOAD`. veerctl never writes FAIL_OPEN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_strategy: Option<String>,
    /// Workloads the plugin runs in; absent: every workload of the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<WorkloadSelector>,
    /// Traffic the plugin sees (mode CLIENT / SERVER / CLIENT_AND_SERVER, ports).
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_: Option<Vec<TrafficSelector>>,
    /// The plugin's configuration: for Veer, the routing config (`WireConfig`) as a struct.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin_config: Option<Value>,
    /// Every other field, kept as read.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `selector` of a WasmPlugin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSelector {
    /// Pod labels.
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
}

/// One entry of a WasmPlugin's `match`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrafficSelector {
    /// `CLIENT` (outbound), `SERVER` (inbound), `CLIENT_AND_SERVER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Every other field (`ports`), kept as read.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `networking.istio.io/v1` DestinationRule: names the versions (subsets) of a host by pod labels.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "networking.istio.io",
    version = "v1",
    kind = "DestinationRule",
    namespaced,
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct DestinationRuleSpec {
    /// The Service host.
    pub host: String,
    /// Its versions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsets: Vec<Subset>,
    /// Namespaces that see it (`.`: only its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_to: Option<Vec<String>>,
    /// Every other field, kept as read.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One version of a host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subset {
    /// Its name, used by VirtualService destinations.
    pub name: String,
    /// The pod labels that select it.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// `networking.istio.io/v1` VirtualService: the routes of a host.
#[derive(CustomResource, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "networking.istio.io",
    version = "v1",
    kind = "VirtualService",
    namespaced,
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualServiceSpec {
    /// Hosts it routes.
    pub hosts: Vec<String>,
    /// Gateways it applies to (absent: the mesh's sidecars).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateways: Option<Vec<String>>,
    /// Namespaces that see it (`.`: only its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_to: Option<Vec<String>>,
    /// HTTP routes, first match wins.
    #[serde(default)]
    pub http: Vec<HttpRoute>,
    /// Every other field, kept as read.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One HTTP route.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpRoute {
    /// Its name (shows in Envoy's route table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Conditions, any of which selects the route; absent: every request.
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_: Option<Vec<HttpMatchRequest>>,
    /// Where matching requests go.
    pub route: Vec<HttpRouteDestination>,
    /// Every other field, kept as read.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// One match condition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpMatchRequest {
    /// Header name -> match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, StringMatch>>,
    /// Only requests from workloads with these labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_labels: Option<BTreeMap<String, String>>,
    /// Every other field, kept as read.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A string match; Veer uses exact matches only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StringMatch {
    /// The exact value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    /// Every other form (`prefix`, `regex`), kept as read.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A destination with an optional weight.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpRouteDestination {
    /// Where.
    pub destination: Destination,
    /// Share, when several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

/// A host and optional subset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    /// The Service host.
    pub host: String,
    /// The version (DestinationRule subset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<String>,
    /// Every other field (`port`), kept as read.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}
