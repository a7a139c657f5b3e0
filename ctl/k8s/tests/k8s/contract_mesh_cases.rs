//! `mesh install` as a real cluster behaves (issue 16): the failStrategy this cluster's Istio
//! accepts, gateway mode refused, and a wait that found no sidecar is not a success.

use std::time::Duration;

use serde_json::{json, Value};
use veer_k8s::manifests::demo_mesh;
use veer_k8s::mesh;
use veer_k8s::plugin_live::{PluginWait, SidecarReader};
use veer_k8s::{Error, Target, WaitOptions};

use crate::support::*;

const PLUGIN: &str = "/apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/veer";
const CRD: &str =
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/wasmplugins.extensions.istio.io";
const PODS: &str = "/api/v1/namespaces/demo/pods";
const DR: &str = "/apis/networking.istio.io/v1/namespaces/demo/destinationrules/web";
const VS: &str = "/apis/networking.istio.io/v1/namespaces/demo/virtualservices/web";

/// Istio's WasmPlugin CRD, with the `failStrategy` values its schema allows: FAIL_CLOSE and
/// FAIL_OPEN up to Istio 1.26, FAIL_RELOAD as well from 1.27.
pub fn wasmplugin_crd(fail_strategies: &[&str]) -> Answer {
    Answer(
        200,
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": { "name": "wasmplugins.extensions.istio.io" },
            "spec": {
                "group": "extensions.istio.io", "scope": "Namespaced",
                "names": { "kind": "WasmPlugin", "plural": "wasmplugins", "singular": "wasmplugin",
                           "listKind": "WasmPluginList" },
                "versions": [{
                    "name": "v1alpha1", "served": true, "storage": true,
                    "schema": { "openAPIV3Schema": { "type": "object", "properties": {
                        "spec": { "type": "object", "properties": {
                            "url": { "type": "string" },
                            "failStrategy": { "type": "string", "enum": fail_strategies }
                        } }
                    } } }
                }]
            }
        }),
    )
}

fn absent() -> Answer {
    not_found("wasmplugins.extensions.istio.io", "veer")
}

fn routes() -> Vec<Answer> {
    vec![
        Answer(200, ECHO()),
        Answer(200, ECHO()),
        Answer(200, ECHO()),
    ]
}

async fn install(script: Vec<Answer>, rec: &Recorder) -> (Vec<Seen>, Value) {
    let (client, server) = scripted(script);
    mesh::mesh_install(&target(client, "demo"), &demo_mesh(), rec)
        .await
        .expect("install");
    let seen = server.await.expect("server");
    let plugin = seen[2].body.clone();
    (seen, plugin)
}

/// Istio 1.24 to 1.26: the CRD lists no FAIL_RELOAD, so FAIL_CLOSE is written (a 422 otherwise).
#[tokio::test]
async fn an_istio_without_fail_reload_gets_fail_close() {
    let rec = Recorder::new();
    let mut script = vec![absent(), wasmplugin_crd(&["FAIL_CLOSE", "FAIL_OPEN"])];
    script.extend(routes());
    let (seen, plugin) = install(script, &rec).await;
    assert_eq!(
        seen.iter()
            .map(|s| (s.method.as_str(), s.path.as_str()))
            .collect::<Vec<_>>(),
        [
            ("GET", PLUGIN),
            ("GET", CRD),
            ("PATCH", PLUGIN),
            ("PATCH", DR),
            ("PATCH", VS)
        ]
    );
    assert_eq!(plugin["spec"]["failStrategy"], "FAIL_CLOSE");
    assert!(
        rec.all().iter().any(|m| m.contains(
            "allows no FAIL_RELOAD (Istio before 1.27): writing failStrategy FAIL_CLOSE"
        )),
        "{:?}",
        rec.all()
    );
}

/// Istio 1.27 and later: FAIL_RELOAD.
#[tokio::test]
async fn an_istio_with_fail_reload_gets_fail_reload() {
    let mut script = vec![
        absent(),
        wasmplugin_crd(&["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"]),
    ];
    script.extend(routes());
    let (_, plugin) = install(script, &Recorder::new()).await;
    assert_eq!(plugin["spec"]["failStrategy"], "FAIL_RELOAD");
}

/// Reading CRDs needs a cluster-wide permission many users lack: FAIL_CLOSE (accepted by every
/// Istio) with a warning that says how to ask for FAIL_RELOAD.
#[tokio::test]
async fn an_unreadable_crd_gets_fail_close_with_a_warning() {
    let forbidden = Answer(
        403,
        json!({ "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden",
                "code": 403, "message": "customresourcedefinitions.apiextensions.k8s.io \"wasmplugins.extensions.istio.io\" is forbidden" }),
    );
    let rec = Recorder::new();
    let mut script = vec![absent(), forbidden];
    script.extend(routes());
    let (_, plugin) = install(script, &rec).await;
    assert_eq!(plugin["spec"]["failStrategy"], "FAIL_CLOSE");
    assert!(
        rec.all()
            .iter()
            .any(|m| m.contains("--fail-strategy reload") && m.contains("Istio 1.27")),
        "{:?}",
        rec.all()
    );
}

/// Routes bound to a gateway would not steer traffic with a plugin in the app's namespace (a
/// gateway in istio-system is not reached, routes exported to "." are invisible to it): refused
/// before anything is sent.
#[tokio::test]
async fn gateway_mode_is_refused_before_anything_is_sent() {
    let (client, server) = scripted(vec![]);
    let mut spec = demo_mesh();
    spec.routes[0].gateways = vec!["istio-system/ingress".into()];
    let err = mesh::mesh_install(&target(client, "demo"), &spec, &Recorder::new())
        .await
        .expect_err("refused");
    assert!(server.await.expect("server").is_empty());
    let text = err.to_string();
    assert!(matches!(err, Error::Invalid { .. }), "{text}");
    assert!(
        text.contains("gateway") && text.contains("sidecars of the calling workloads"),
        "{text}"
    );
}

struct NoRead;

impl SidecarReader for NoRead {
    async fn read(&self, _: &Target, pod: &str, _: &str) -> veer_k8s::Result<String> {
        panic!("no sidecar to read, yet {pod} was read")
    }
}

/// The wait found no running pod with a sidecar to read: the install is not reported done, and
/// no route that obeys the header is applied.
#[tokio::test]
async fn a_wait_that_finds_no_sidecar_fails_and_applies_no_route() {
    let (client, server) = scripted(vec![
        absent(),
        wasmplugin_crd(&["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"]),
        Answer(200, ECHO()),
        Answer(
            200,
            json!({ "apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": [] }),
        ),
    ]);
    let wait = PluginWait {
        opts: WaitOptions {
            timeout: Duration::from_secs(5),
            interval: Duration::from_millis(1),
        },
        reader: NoRead,
    };
    let err = mesh::mesh_install_waiting(
        &target(client, "demo"),
        &demo_mesh(),
        &wait,
        &Recorder::new(),
    )
    .await
    .expect_err("nothing verified");
    let seen = server.await.expect("server");
    assert_eq!(
        seen.iter().map(|s| s.path.as_str()).collect::<Vec<_>>(),
        [PLUGIN, CRD, PLUGIN, PODS],
        "no route applied"
    );
    let text = err.to_string();
    assert!(
        text.contains("no running pod with an istio-proxy sidecar")
            && text.contains("namespace demo")
            && text.contains("the routes were not applied")
            && text.contains("--no-wait"),
        "{text}"
    );
}
