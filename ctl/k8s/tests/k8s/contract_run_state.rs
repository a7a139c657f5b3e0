//! Exact requests of the run state kept as a WasmPlugin annotation: the write is a merge patch
//! of that one annotation (never the spec), the read is a GET of the plugin; a bad name is
//! refused before anything is sent.

use serde_json::{json, Value};
use veer_k8s::run_state::{annotation, load_state, read_state, save_state};
use veer_k8s::{DryRun, Error};

use crate::support::*;

const PLUGIN: &str = "/apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/veer";
const STATE: &str = r#"{"service":"web","step":1}"#;

/// A WasmPlugin as the API server returns it, with `annotations`.
fn plugin(annotations: Value) -> Value {
    json!({
        "apiVersion": "extensions.istio.io/v1alpha1",
        "kind": "WasmPlugin",
        "metadata": { "name": "veer", "namespace": "demo", "resourceVersion": "7",
                      "annotations": annotations },
        "spec": { "url": "oci://veer:1", "pluginConfig": { "version": 4, "services": [] } }
    })
}

#[tokio::test]
async fn saving_is_a_merge_patch_of_the_one_annotation() {
    let (client, server) = scripted(vec![Answer(200, plugin(json!({})))]);
    let sent = save_state(&target(client, "demo"), "veer", "canary-web", STATE)
        .await
        .expect("saved");
    let seen = server.await.expect("server");
    assert_eq!(seen.len(), 1, "{seen:#?}");
    assert_eq!(seen[0].method, "PATCH");
    assert_eq!(seen[0].path, PLUGIN);
    assert_eq!(seen[0].q("fieldManager"), Some("veerctl"));
    assert_eq!(
        seen[0].content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(
        seen[0].body,
        json!({ "metadata": { "annotations": { "veer.dev/run-canary-web": STATE } } })
    );
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].body, seen[0].body);
}

#[tokio::test]
async fn loading_reads_the_plugin_and_returns_the_annotation_or_none() {
    let annotated = plugin(json!({ "veer.dev/run-canary-web": STATE, "other": "x" }));
    let (client, server) = scripted(vec![Answer(200, annotated), Answer(200, plugin(json!({})))]);
    let t = target(client, "demo");
    assert_eq!(
        load_state(&t, "veer", "canary-web").await.expect("read"),
        Some(STATE.to_owned())
    );
    assert_eq!(
        load_state(&t, "veer", "canary-web").await.expect("read"),
        None
    );
    let seen = server.await.expect("server");
    for s in &seen {
        assert_eq!((s.method.as_str(), s.path.as_str()), ("GET", PLUGIN));
    }
    assert_eq!(seen.len(), 2);
}

/// A plugin someone already read (an edit's answer) gives the state without a request.
#[test]
fn reading_from_a_plugin_already_read_sends_nothing() {
    let p: veer_k8s::istio::WasmPlugin =
        serde_json::from_value(plugin(json!({ "veer.dev/run-canary-web": STATE }))).unwrap();
    assert_eq!(
        read_state(&p, "canary-web").unwrap(),
        Some(STATE.to_owned())
    );
    assert_eq!(read_state(&p, "canary-shop").unwrap(), None);
}

/// A missing WasmPlugin says what to do, for the read and the write.
#[tokio::test]
async fn a_missing_plugin_says_to_install_it() {
    let (client, server) = scripted(vec![
        not_found("wasmplugins.extensions.istio.io", "veer"),
        not_found("wasmplugins.extensions.istio.io", "veer"),
    ]);
    let t = target(client, "demo");
    let read = load_state(&t, "veer", "canary-web").await.unwrap_err();
    let write = save_state(&t, "veer", "canary-web", STATE)
        .await
        .unwrap_err();
    server.await.expect("server");
    for err in [read, write] {
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("veerctl mesh install"), "{err}");
        assert!(err.to_string().contains("WasmPlugin demo/veer"), "{err}");
    }
}

/// A name that makes no valid annotation is refused before any request: the scripted server
/// expects none.
#[tokio::test]
async fn a_bad_name_sends_nothing() {
    let (client, server) = scripted(vec![]);
    let t = target(client, "demo");
    assert!(save_state(&t, "veer", "canary web", STATE).await.is_err());
    assert!(load_state(&t, "veer", "canary/web").await.is_err());
    assert!(server.await.expect("server").is_empty());
    assert!(annotation("canary-web").is_ok());
}

/// In client dry-run the patch is planned, not sent.
#[tokio::test]
async fn client_dry_run_plans_the_patch() {
    let (client, server) = scripted(vec![]);
    let t = target(client, "demo").with_dry_run(DryRun::Client);
    let planned = save_state(&t, "veer", "canary-web", STATE).await.unwrap();
    assert!(server.await.expect("server").is_empty());
    assert_eq!(planned.len(), 1);
    assert_eq!(planned[0].method, "PATCH");
    assert_eq!(
        planned[0].body["metadata"]["annotations"]["veer.dev/run-canary-web"],
        STATE
    );
}
