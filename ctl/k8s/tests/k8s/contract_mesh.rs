//! Exact requests of mesh install and plugin config updates.

use serde_json::json;
use veer_filter::config::wire::WireVariant;
use veer_k8s::manifests::{demo_config, demo_mesh, DEMO_PLUGIN_URL};
use veer_k8s::mesh::{self, FailStrategy, FailStrategyChoice, Sha256};
use veer_k8s::plugin_config::{update_plugin_config, UpdateOptions};
use veer_k8s::{DryRun, Error, NoReporter};

use crate::support::*;

const PLUGIN: &str = "/apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/veer";
const DR: &str = "/apis/networking.istio.io/v1/namespaces/demo/destinationrules/web";
const VS: &str = "/apis/networking.istio.io/v1/namespaces/demo/virtualservices/web";

#[tokio::test]
async fn mesh_install_applies_the_plugin_first_then_the_routes() {
    let (client, server) = scripted(vec![
        not_found("wasmplugins.extensions.istio.io", "veer"),
        crate::contract_mesh_cases::wasmplugin_crd(&["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"]),
        Answer(200, ECHO()),
        Answer(200, ECHO()),
        Answer(200, ECHO()),
    ]);
    let mut spec = demo_mesh();
    spec.plugin.sha256 = Some(Sha256::of(b"abc"));
    let out = mesh::mesh_install(&target(client, "demo"), &spec, &NoReporter)
        .await
        .expect("install");
    let mut seen = server.await.expect("server");
    // First the WasmPlugin is read (the version it carries now), then Istio's WasmPlugin CRD
    // (which failStrategy values it allows), then the writes.
    let read = seen.remove(0);
    assert_eq!((read.method.as_str(), read.path.as_str()), ("GET", PLUGIN));
    let crd = seen.remove(0);
    assert_eq!(
        (crd.method.as_str(), crd.path.as_str()),
        (
            "GET",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/wasmplugins.extensions.istio.io"
        )
    );
    assert_eq!(
        seen.iter().map(|s| s.path.as_str()).collect::<Vec<_>>(),
        vec![PLUGIN, DR, VS]
    );
    assert_eq!(
        out.applied,
        vec![
            "WasmPlugin/veer",
            "DestinationRule/web",
            "VirtualService/web"
        ]
    );
    for s in &seen {
        assert_eq!(s.method, "PATCH");
        assert_eq!(
            s.content_type.as_deref(),
            Some("application/apply-patch+yaml")
        );
        assert_eq!(
            s.query,
            vec![
                ("force".into(), "true".into()),
                ("fieldManager".into(), "veerctl".into())
            ]
        );
    }
    let plugin = &seen[0].body;
    assert_eq!(plugin["apiVersion"], "extensions.istio.io/v1alpha1");
    assert_eq!(plugin["kind"], "WasmPlugin");
    assert_eq!(plugin["spec"]["failStrategy"], "FAIL_RELOAD");
    assert_eq!(plugin["spec"]["phase"], "UNSPECIFIED_PHASE");
    assert_eq!(plugin["spec"]["match"], json!([{ "mode": "CLIENT" }]));
    assert_eq!(plugin["spec"]["url"], DEMO_PLUGIN_URL);
    assert_eq!(
        plugin["spec"]["sha256"],
        // SHA-256("abc"), FIPS 180-2's test vector.
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        plugin["spec"]["pluginConfig"],
        serde_json::to_value(demo_config()).expect("json")
    );
    assert_eq!(
        seen[1].body["spec"],
        json!({ "host": "web", "exportTo": ["."], "subsets": [
            { "name": "v1", "labels": { "version": "v1" } }, { "name": "v2", "labels": { "version": "v2" } } ] })
    );
    assert_eq!(
        seen[2].body["spec"]["http"],
        json!([
            { "name": "veer-v1", "match": [ { "headers": { "x-veer-cluster": { "exact": "web-v1" } } } ],
              "route": [ { "destination": { "host": "web", "subset": "v1" } } ] },
            { "name": "veer-v2", "match": [ { "headers": { "x-veer-cluster": { "exact": "web-v2" } } } ],
              "route": [ { "destination": { "host": "web", "subset": "v2" } } ] },
            { "name": "default", "route": [ { "destination": { "host": "web", "subset": "v1" } } ] }
        ])
    );
}

#[tokio::test]
async fn header_routes_are_limited_to_the_plugins_workloads() {
    let mut spec = demo_mesh();
    spec.plugin.selector.insert("app".into(), "client".into());
    let objects = mesh::build(&spec).expect("build");
    let vs = serde_json::to_value(&objects.virtual_services[0]).expect("json");
    assert_eq!(
        vs["spec"]["http"][0]["match"][0]["sourceLabels"],
        json!({ "app": "client" })
    );
    let plugin = serde_json::to_value(&objects.plugin).expect("json");
    assert_eq!(
        plugin["spec"]["selector"],
        json!({ "matchLabels": { "app": "client" } })
    );
    assert!(
        vs["spec"]["http"][2].get("match").is_none(),
        "the default route takes everything else"
    );
}

#[tokio::test]
async fn mesh_install_dry_run_writes_nothing_and_returns_the_ordered_requests() {
    let (client, server) = scripted(vec![not_found("wasmplugins.extensions.istio.io", "veer")]);
    let t = target(client, "demo").with_dry_run(DryRun::Client);
    // A failStrategy given: no CRD to read (the read of the CRD is in contract_mesh_cases).
    let mut spec = demo_mesh();
    spec.plugin.fail_strategy = FailStrategyChoice::Use(FailStrategy::FailReload);
    let out = mesh::mesh_install(&t, &spec, &NoReporter)
        .await
        .expect("dry run");
    let seen = server.await.expect("server");
    assert_eq!(
        seen.iter()
            .map(|s| (s.method.as_str(), s.path.as_str()))
            .collect::<Vec<_>>(),
        [("GET", PLUGIN)],
        "only the read"
    );
    assert_eq!(
        out.requests
            .iter()
            .map(|r| r.path.as_str())
            .collect::<Vec<_>>(),
        vec![PLUGIN, DR, VS]
    );
}

#[tokio::test]
async fn an_invalid_config_is_refused_before_anything_is_sent() {
    let (client, server) = scripted(vec![]);
    let t = target(client, "demo");
    let mut spec = demo_mesh();
    spec.config.services[0].split.insert("v2".into(), 5000);
    let err = mesh::mesh_install(&t, &spec, &NoReporter)
        .await
        .expect_err("invalid split");
    assert!(matches!(err, Error::InvalidConfig(_)), "{err}");
    assert!(err
        .to_string()
        .starts_with("failed to validate the routing config, nothing was sent"));
    assert!(server.await.expect("server").is_empty());
}

#[test]
fn a_malformed_or_placeholder_digest_is_refused_and_none_writes_no_sha256() {
    for (hex, why) in [
        ("abc", "64 lowercase hex digits"),
        (&"A".repeat(64), "64 lowercase hex digits"),
        (&"0".repeat(64), "all zeros is a placeholder"),
    ] {
        let err = Sha256::parse(hex).expect_err(hex);
        assert!(err.to_string().contains(why), "{hex}: {err}");
        assert!(err.to_string().contains("--wasm FILE"), "{err}");
    }
    let hex = format!("{}1", "0".repeat(63));
    assert_eq!(Sha256::parse(&hex).expect("valid").to_string(), hex);
    let plugin =
        serde_json::to_value(mesh::build(&demo_mesh()).expect("build").plugin).expect("json");
    assert!(plugin["spec"].get("sha256").is_none(), "{plugin}");
}

fn plugin(resource_version: &str, fail_strategy: &str) -> serde_json::Value {
    let mut p =
        serde_json::to_value(mesh::build(&demo_mesh()).expect("build").plugin).expect("json");
    p["metadata"]["namespace"] = json!("demo");
    p["metadata"]["resourceVersion"] = json!(resource_version);
    p["spec"]["failStrategy"] = json!(fail_strategy);
    p["spec"]["vmConfig"] = json!({ "env": [ { "name": "A", "value": "b" } ] });
    p
}

fn to_v2(
    mut c: veer_filter::config::WireConfig,
) -> veer_k8s::Result<veer_filter::config::WireConfig> {
    c.services[0].split = [("v1".to_owned(), 5000), ("v2".to_owned(), 5000)].into();
    Ok(c)
}

fn fast() -> UpdateOptions {
    UpdateOptions {
        max_attempts: 3,
        retry_delay: std::time::Duration::ZERO,
        ..UpdateOptions::default()
    }
}

#[tokio::test]
async fn update_plugin_config_replaces_with_the_read_resource_version() {
    let (client, server) = scripted(vec![
        Answer(200, plugin("41", "FAIL_CLOSE")),
        Answer(200, plugin("42", "FAIL_CLOSE")),
    ]);
    let out = update_plugin_config(&target(client, "demo"), "veer", to_v2, &fast(), &NoReporter)
        .await
        .expect("update");
    let seen = server.await.expect("server");
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("GET", PLUGIN)
    );
    let put = &seen[1];
    assert_eq!((put.method.as_str(), put.path.as_str()), ("PUT", PLUGIN));
    assert_eq!(put.content_type.as_deref(), Some("application/json"));
    assert_eq!(put.q("fieldManager"), Some("veerctl"));
    assert_eq!(put.body["metadata"]["resourceVersion"], "41");
    assert_eq!(
        put.body["spec"]["pluginConfig"]["version"], 2,
        "the version is bumped"
    );
    assert_eq!(
        put.body["spec"]["pluginConfig"]["services"][0]["split"],
        json!({ "v1": 5000, "v2": 5000 })
    );
    assert_eq!(
        put.body["spec"]["vmConfig"],
        json!({ "env": [ { "name": "A", "value": "b" } ] }),
        "unknown fields kept"
    );
    assert_eq!((out.version, out.attempts), (2, 1));
    assert_eq!(out.resource_version.as_deref(), Some("42"));
}

/// A change with a record writes it, with the version it writes, in the WasmPlugin's
/// `veer.dev/last-change` annotation in the same PUT as the config; `last_change` reads it back,
/// and refuses an annotation that is not one.
#[tokio::test]
async fn a_recorded_change_is_written_with_its_version_in_the_same_put() {
    let (client, server) = scripted(vec![
        Answer(200, plugin("41", "FAIL_CLOSE")),
        Answer(200, plugin("42", "FAIL_CLOSE")),
    ]);
    let opts = UpdateOptions {
        record: Some(json!({ "kind": "canary-abort", "service": "web" })),
        ..fast()
    };
    update_plugin_config(&target(client, "demo"), "veer", to_v2, &opts, &NoReporter)
        .await
        .expect("update");
    let seen = server.await.expect("server");
    let put = &seen[1];
    assert_eq!((put.method.as_str(), put.path.as_str()), ("PUT", PLUGIN));
    let text = put.body["metadata"]["annotations"]["veer.dev/last-change"]
        .as_str()
        .expect("annotation");
    let written: serde_json::Value = serde_json::from_str(text).expect("JSON");
    assert_eq!(
        written,
        json!({ "version": 2, "change": { "kind": "canary-abort", "service": "web" } })
    );
    let plugin: veer_k8s::istio::WasmPlugin =
        serde_json::from_value(put.body.clone()).expect("a WasmPlugin");
    let last = veer_k8s::plugin_config::last_change(&plugin)
        .expect("readable")
        .expect("recorded");
    assert_eq!(
        (last.version, last.change),
        (2, json!({ "kind": "canary-abort", "service": "web" }))
    );
    let mut bad = put.body.clone();
    bad["metadata"]["annotations"]["veer.dev/last-change"] = json!("not json");
    let bad: veer_k8s::istio::WasmPlugin = serde_json::from_value(bad).expect("a WasmPlugin");
    let err = veer_k8s::plugin_config::last_change(&bad).expect_err("not a record");
    assert!(
        err.to_string()
            .contains("annotation veer.dev/last-change of WasmPlugin"),
        "{err}"
    );
}

#[tokio::test]
async fn a_conflict_is_retried_on_a_fresh_read() {
    let (client, server) = scripted(vec![
        Answer(200, plugin("41", "FAIL_CLOSE")),
        conflict("veer"),
        Answer(200, plugin("43", "FAIL_CLOSE")),
        Answer(200, plugin("44", "FAIL_CLOSE")),
    ]);
    let rec = Recorder::new();
    let out = update_plugin_config(&target(client, "demo"), "veer", to_v2, &fast(), &rec)
        .await
        .expect("update");
    let seen = server.await.expect("server");
    assert_eq!(
        seen.iter().map(|s| s.method.as_str()).collect::<Vec<_>>(),
        vec!["GET", "PUT", "GET", "PUT"]
    );
    assert_eq!(seen[1].body["metadata"]["resourceVersion"], "41");
    assert_eq!(seen[3].body["metadata"]["resourceVersion"], "43");
    assert_eq!(out.attempts, 2);
    assert_eq!(out.requests.len(), 2);
    assert_eq!(rec.all().len(), 1);
}

#[tokio::test]
async fn conflicts_past_the_limit_are_reported() {
    let (client, server) = scripted(vec![
        Answer(200, plugin("41", "FAIL_CLOSE")),
        conflict("veer"),
        Answer(200, plugin("42", "FAIL_CLOSE")),
        conflict("veer"),
        Answer(200, plugin("43", "FAIL_CLOSE")),
        conflict("veer"),
    ]);
    let err = update_plugin_config(&target(client, "demo"), "veer", to_v2, &fast(), &NoReporter)
        .await
        .expect_err("conflict");
    assert_eq!(server.await.expect("server").len(), 6);
    assert!(matches!(err, Error::Conflict { attempts: 3, .. }), "{err}");
    assert!(err.to_string().contains("run the command again"));
}

#[tokio::test]
async fn an_invalid_result_or_a_fail_open_plugin_is_refused_without_writing() {
    let (client, server) = scripted(vec![
        Answer(200, plugin("41", "FAIL_CLOSE")),
        Answer(200, plugin("41", "FAIL_OPEN")),
    ]);
    let t = target(client, "demo");
    let unknown_variant = |mut c: veer_filter::config::WireConfig| {
        c.services[0].variants.push(WireVariant {
            name: "v3".into(),
            cluster: "web-v3".into(),
        });
        c.services[0].split.insert("v4".into(), 0);
        Ok(c)
    };
    let err = update_plugin_config(&t, "veer", unknown_variant, &fast(), &NoReporter)
        .await
        .expect_err("invalid");
    assert!(matches!(err, Error::InvalidConfig(_)), "{err}");
    let err = update_plugin_config(&t, "veer", to_v2, &fast(), &NoReporter)
        .await
        .expect_err("fail open");
    assert!(matches!(err, Error::FailOpen { .. }), "{err}");
    let seen = server.await.expect("server");
    assert!(seen.iter().all(|s| s.method == "GET"));
}
