//! The WasmPlugin's `failStrategy`: what a proxy does when Veer's filter fails, chosen for the
//! Istio the cluster runs.
//!
//! `FAIL_OPEN` is never written: it skips the filter, and then a client-sent `x-veer-cluster`
//! would reach the router and pick the route. `FAIL_RELOAD` restarts a crashed plugin VM and
//! fails requests meanwhile, but it exists only from Istio 1.27 (the WasmPlugin CRD of 1.24 to
//! 1.26 allows FAIL_CLOSE and FAIL_OPEN, and the API server refuses anything else with a 422).
//! And it covers runtime errors only: a module that cannot be fetched, or whose digest differs,
//! still fails closed whatever the policy. So by default veerctl reads the installed CRD's enum
//! and writes FAIL_RELOAD where it is listed, FAIL_CLOSE (accepted by every Istio) otherwise.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps,
};
use kube::Api;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::report::Reporter;
use crate::target::Target;

/// The name of Istio's WasmPlugin CustomResourceDefinition.
pub const WASMPLUGIN_CRD: &str = "wasmplugins.extensions.istio.io";

/// What the proxy does when the plugin fails. There is no `FailOpen`: see the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FailStrategy {
    /// Restart the plugin VM after a runtime error, failing requests meanwhile (Istio 1.27 and
    /// later). A module that cannot be fetched or verified still fails closed.
    FailReload,
    /// Fail requests while the plugin is broken (Istio's default; every Istio version).
    FailClose,
}

impl FailStrategy {
    /// The value in the WasmPlugin.
    pub fn as_str(self) -> &'static str {
        match self {
            FailStrategy::FailReload => "FAIL_RELOAD",
            FailStrategy::FailClose => "FAIL_CLOSE",
        }
    }
}

/// Which failStrategy `mesh install` writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum FailStrategyChoice {
    /// FAIL_RELOAD if the cluster's WasmPlugin CRD lists it (Istio 1.27+), else FAIL_CLOSE; the
    /// CRD is read at install. Offline (manifests), FAIL_CLOSE.
    #[default]
    Detect,
    /// This one, as given: the API server refuses FAIL_RELOAD before Istio 1.27.
    Use(FailStrategy),
}

impl FailStrategyChoice {
    /// The strategy without asking the cluster: the one given, or FAIL_CLOSE, which every
    /// supported Istio accepts.
    pub fn offline(self) -> FailStrategy {
        match self {
            FailStrategyChoice::Use(s) => s,
            FailStrategyChoice::Detect => FailStrategy::FailClose,
        }
    }
}

/// The failStrategy values the WasmPlugin CRD's served `v1alpha1` schema allows, `None` when it
/// lists none (no such version, or no enum).
pub fn allowed(crd: &CustomResourceDefinition) -> Option<Vec<String>> {
    let version = crd
        .spec
        .versions
        .iter()
        .find(|v| v.name == "v1alpha1" && v.served)?;
    let schema = version.schema.as_ref()?.open_api_v3_schema.as_ref()?;
    let spec = property(schema, "spec")?;
    let values = property(spec, "failStrategy")?.enum_.as_ref()?;
    Some(
        values
            .iter()
            .filter_map(|v| v.0.as_str().map(str::to_owned))
            .collect(),
    )
}

fn property<'a>(schema: &'a JSONSchemaProps, name: &str) -> Option<&'a JSONSchemaProps> {
    schema.properties.as_ref()?.get(name)
}

/// The strategy to write: the one given, or for [`FailStrategyChoice::Detect`] what the
/// cluster's WasmPlugin CRD allows (one GET of the CRD, cluster-scoped). If the CRD cannot be
/// read or says nothing, FAIL_CLOSE, with a warning that says how to ask for FAIL_RELOAD.
pub async fn resolve(
    target: &Target,
    choice: FailStrategyChoice,
    reporter: &dyn Reporter,
) -> Result<FailStrategy> {
    if let FailStrategyChoice::Use(s) = choice {
        return Ok(s);
    }
    let api: Api<CustomResourceDefinition> = Api::all(target.client.clone());
    let unknown = |why: String| {
        reporter.warning(&format!(
            "{why}: writing failStrategy FAIL_CLOSE, which every Istio accepts; on Istio 1.27 or \
             later, --fail-strategy reload restarts a crashed plugin instead"
        ));
        Ok(FailStrategy::FailClose)
    };
    let crd = match api.get_opt(WASMPLUGIN_CRD).await {
        Ok(Some(crd)) => crd,
        Ok(None) => {
            return unknown(format!(
                "no CustomResourceDefinition {WASMPLUGIN_CRD}: is Istio installed?"
            ))
        }
        Err(e) => {
            let e = Error::Read {
                what: format!("CustomResourceDefinition {WASMPLUGIN_CRD}"),
                source: Box::new(e),
            };
            return unknown(format!("cannot tell which Istio runs ({})", e.chain()));
        }
    };
    match allowed(&crd) {
        Some(values) if values.iter().any(|v| v == "FAIL_RELOAD") => Ok(FailStrategy::FailReload),
        Some(values) => {
            reporter.progress(&format!(
                "Istio's WasmPlugin CRD allows no FAIL_RELOAD (Istio before 1.27): writing \
                 failStrategy FAIL_CLOSE (allowed: {})",
                values.join(", ")
            ));
            Ok(FailStrategy::FailClose)
        }
        None => unknown(format!(
            "CustomResourceDefinition {WASMPLUGIN_CRD} lists no failStrategy values"
        )),
    }
}
