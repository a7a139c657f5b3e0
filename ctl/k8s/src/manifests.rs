//! Every manifest veer-k8s generates, for the demo, for `--dry-run -o yaml` and for schema
//! validation (`deploy/validate-manifests` runs `examples/write-manifests.rs`, which writes these).
//!
//! The demo: namespace `veer-demo`; app `web` with versions v1 (stable) and v2 (canary) routed
//! by Veer through Istio; app `shop` in blue/green. deploy/istio holds the output of
//! [`demo_mesh`] (a test keeps them equal).

use std::collections::BTreeMap;

use serde::Serialize;
use veer_filter::config::wire::{WireService, WireVariant};
use veer_filter::config::WireConfig;

use crate::bluegreen::build_deployment;
use crate::error::{Error, Result};
use crate::labels::Colour;
use crate::mesh::{
    build, FailStrategy, FailStrategyChoice, MeshObjects, MeshSpec, PluginSettings, ServiceRoutes,
    Sha256,
};

/// The demo's namespace.
pub const DEMO_NAMESPACE: &str = "veer-demo";
/// The demo's plugin URL: an OCI image in kind's local registry (see the README).
pub const DEMO_PLUGIN_URL: &str = "oci://kind-registry:5000/veer-filter:0.1.0";

/// One manifest file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// File name, e.g. `wasmplugin-veer.yaml`.
    pub file: String,
    /// Its YAML.
    pub yaml: String,
}

/// An object as YAML.
pub fn to_yaml<T: Serialize>(obj: &T) -> Result<String> {
    serde_yaml_ng::to_string(obj).map_err(|e| Error::Serialize {
        what: "a manifest as YAML".into(),
        reason: e.to_string(),
    })
}

/// The demo's routing config: service `web`, 90 % v1, 10 % v2 (the canary).
pub fn demo_config() -> WireConfig {
    let hosts = [
        "web",
        "web.veer-demo",
        "web.veer-demo.svc",
        "web.veer-demo.svc.cluster.local",
    ];
    WireConfig {
        version: Some(1),
        services: vec![WireService {
            name: "web".into(),
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            variants: vec![
                WireVariant {
                    name: "v1".into(),
                    cluster: "web-v1".into(),
                },
                WireVariant {
                    name: "v2".into(),
                    cluster: "web-v2".into(),
                },
            ],
            split: BTreeMap::from([("v1".into(), 9000), ("v2".into(), 1000)]),
            ..WireService::default()
        }],
        ..WireConfig::default()
    }
}

/// The demo's mesh: the plugin in every workload of the namespace, routes for `web`.
pub fn demo_mesh() -> MeshSpec {
    MeshSpec {
        // No digest: the demo's image is built by whoever runs it; `veerctl mesh install
        // --sha256` writes theirs.
        plugin: PluginSettings::new(DEMO_PLUGIN_URL, None),
        config: demo_config(),
        routes: vec![ServiceRoutes {
            service: "web".into(),
            host: "web".into(),
            stable: Some("v1".into()),
            ..ServiceRoutes::default()
        }],
    }
}

/// The demo's mesh objects, in the namespace `veer-demo`.
pub fn demo_mesh_objects() -> Result<MeshObjects> {
    let mut objects = build(&demo_mesh())?;
    in_namespace(&mut objects, DEMO_NAMESPACE);
    Ok(objects)
}

fn in_namespace(objects: &mut MeshObjects, namespace: &str) {
    let ns = Some(namespace.to_owned());
    objects.plugin.metadata.namespace = ns.clone();
    for dr in &mut objects.destination_rules {
        dr.metadata.namespace = ns.clone();
    }
    for vs in &mut objects.virtual_services {
        vs.metadata.namespace = ns.clone();
    }
}

/// Every kind of object veer-k8s writes whole, built from the demo inputs: the blue/green
/// Deployments `deploy` applies (first deploy, and the next colour copied from the live one) and
/// the mesh objects `mesh install` applies (the demo's and [`mesh_variants`]).
pub fn generated() -> Result<Vec<Manifest>> {
    let mut out = Vec::new();
    let mut blue = build_deployment(
        "shop",
        Colour::Blue,
        "hashicorp/http-echo:1.0",
        None,
        2,
        None,
    )?;
    blue.metadata.namespace = Some(DEMO_NAMESPACE.into());
    let mut green = build_deployment(
        "shop",
        Colour::Green,
        "hashicorp/http-echo:1.0.0",
        Some("shop"),
        2,
        Some(&blue),
    )?;
    green.metadata.namespace = Some(DEMO_NAMESPACE.into());
    out.push(Manifest {
        file: "deployment-shop-blue.yaml".into(),
        yaml: to_yaml(&blue)?,
    });
    out.push(Manifest {
        file: "deployment-shop-green.yaml".into(),
        yaml: to_yaml(&green)?,
    });
    out.extend(mesh_manifests(&demo_mesh_objects()?)?);
    for (prefix, spec) in mesh_variants() {
        let mut objects = build(&spec)?;
        in_namespace(&mut objects, DEMO_NAMESPACE);
        for mut m in mesh_manifests(&objects)? {
            m.file = format!("{prefix}-{}", m.file);
            out.push(m);
        }
    }
    Ok(out)
}

/// Mesh installs whose objects differ in shape from the demo's, so schema validation sees every
/// field veer-k8s can write: a plugin limited to some workloads (routes then carry
/// `sourceLabels`) with a digest, so its format is checked too; and one with FAIL_RELOAD, which
/// only Istio 1.27 and later accept (its files go under [`ISTIO_1_27`]), with no `match`, an
/// image pull policy, a fully qualified host and own pod labels for a version.
fn mesh_variants() -> Vec<(&'static str, MeshSpec)> {
    let mut selected = demo_mesh();
    selected.plugin.selector = BTreeMap::from([("app".into(), "client".into())]);
    selected.plugin.mode = Some(crate::mesh::MatchMode::ClientAndServer);
    selected.plugin.sha256 = Some(Sha256::of(b"an example module"));
    let mut reload = demo_mesh();
    reload.plugin.name = "veer-reload".into();
    reload.plugin.fail_strategy = FailStrategyChoice::Use(FailStrategy::FailReload);
    reload.plugin.mode = None;
    reload.plugin.image_pull_policy = Some("IfNotPresent".into());
    reload.routes = vec![ServiceRoutes {
        service: "web".into(),
        host: "web.veer-demo.svc.cluster.local".into(),
        stable: Some("v1".into()),
        variant_labels: BTreeMap::from([(
            "v2".into(),
            BTreeMap::from([
                ("app".into(), "web".into()),
                ("track".into(), "canary".into()),
            ]),
        )]),
        gateways: Vec::new(),
    }];
    vec![("selected", selected), ("istio-1.27/fail-reload", reload)]
}

/// The folder, among the generated manifests, of those only Istio 1.27 and later accept
/// (`failStrategy: FAIL_RELOAD`): `deploy/validate-manifests` checks them against the newest
/// supported Istio's schemas only, everything else against the oldest's as well.
pub const ISTIO_1_27: &str = "istio-1.27";

/// One file per mesh object: `wasmplugin-<name>.yaml`, `destinationrule-<name>.yaml`,
/// `virtualservice-<name>.yaml`.
pub fn mesh_manifests(objects: &MeshObjects) -> Result<Vec<Manifest>> {
    let name = |m: &kube::api::ObjectMeta| m.name.clone().unwrap_or_default();
    let mut out = vec![Manifest {
        file: format!("wasmplugin-{}.yaml", name(&objects.plugin.metadata)),
        yaml: to_yaml(&objects.plugin)?,
    }];
    for dr in &objects.destination_rules {
        out.push(Manifest {
            file: format!("destinationrule-{}.yaml", name(&dr.metadata)),
            yaml: to_yaml(dr)?,
        });
    }
    for vs in &objects.virtual_services {
        out.push(Manifest {
            file: format!("virtualservice-{}.yaml", name(&vs.metadata)),
            yaml: to_yaml(vs)?,
        });
    }
    Ok(out)
}
