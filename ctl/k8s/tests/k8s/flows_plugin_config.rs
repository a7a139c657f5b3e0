//! Concurrent WasmPlugin updates on an in-memory API: another operator writes between our read
//! and our write; the conflict is detected, retried on top of their change, or reported.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kube::api::PostParams;
use kube::Api;
use kube_fake_client::interceptor::Funcs;
use veer_k8s::istio::{DestinationRule, VirtualService, WasmPlugin};
use veer_k8s::manifests::demo_mesh;
use veer_k8s::mesh;
use veer_k8s::plugin_config::{read_config, update_plugin_config, UpdateOptions};
use veer_k8s::{Error, NoReporter};

use crate::support::*;

/// A fake cluster where, for the next `writes` replaces of the WasmPlugin, another operator
/// stamps its own change first (a label, and config version + 10).
async fn contested(writes: u32) -> kube::Client {
    let remaining = Arc::new(AtomicU32::new(writes));
    let mut plugin = mesh::build(&demo_mesh()).expect("build").plugin;
    plugin.metadata.namespace = Some("demo".into());
    let funcs = Funcs::new().replace(move |ctx| {
        if remaining.load(Ordering::SeqCst) > 0 {
            remaining.fetch_sub(1, Ordering::SeqCst);
            let mut theirs: WasmPlugin = ctx.client.get(ctx.namespace, ctx.name)?;
            let n = theirs.metadata.labels.as_ref().map_or(0, |l| l.len());
            theirs
                .metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert(format!("other-{n}"), "yes".into());
            let mut config = read_config(&theirs).expect("config");
            config.version = Some(config.version.unwrap_or(0) + 10);
            theirs.spec.plugin_config = Some(serde_json::to_value(config).expect("json"));
            ctx.client
                .update(ctx.namespace, &theirs, &PostParams::default())?;
        }
        Ok(None)
    });
    kube_fake_client::ClientBuilder::new()
        .with_resource::<WasmPlugin>()
        .with_resource::<DestinationRule>()
        .with_resource::<VirtualService>()
        .with_object(plugin)
        .with_interceptor_funcs(funcs)
        .build()
        .await
        .expect("fake")
}

fn half(
    mut c: veer_filter::config::WireConfig,
) -> veer_k8s::Result<veer_filter::config::WireConfig> {
    c.services[0].split = [("v1".to_owned(), 5000), ("v2".to_owned(), 5000)].into();
    Ok(c)
}

fn opts() -> UpdateOptions {
    UpdateOptions {
        max_attempts: 3,
        retry_delay: Duration::from_millis(1),
        ..UpdateOptions::default()
    }
}

#[tokio::test]
async fn a_concurrent_write_is_detected_and_ours_is_applied_on_top_of_theirs() {
    let client = contested(1).await;
    let t = target(client.clone(), "demo");
    let out = update_plugin_config(&t, "veer", half, &opts(), &NoReporter)
        .await
        .expect("update");
    assert_eq!(out.attempts, 2, "the first write conflicted");
    let live = Api::<WasmPlugin>::namespaced(client, "demo")
        .get("veer")
        .await
        .expect("plugin");
    let config = read_config(&live).expect("config");
    assert_eq!(config.version, Some(12), "their version 11, then ours");
    assert_eq!(config.services[0].split["v2"], 5000, "our change");
    assert!(
        live.metadata
            .labels
            .expect("labels")
            .contains_key("other-1"),
        "their change kept"
    );
}

#[tokio::test]
async fn a_write_that_keeps_conflicting_is_reported_and_changes_nothing_of_ours() {
    let client = contested(10).await;
    let t = target(client.clone(), "demo");
    let err = update_plugin_config(&t, "veer", half, &opts(), &NoReporter)
        .await
        .expect_err("conflict");
    assert!(matches!(err, Error::Conflict { attempts: 3, .. }), "{err}");
    let live = Api::<WasmPlugin>::namespaced(client, "demo")
        .get("veer")
        .await
        .expect("plugin");
    assert_eq!(
        read_config(&live).expect("config").services[0].split["v2"],
        1000
    );
}

#[tokio::test]
async fn mesh_install_then_update_on_the_fake_cluster() {
    let client = contested(0).await;
    let t = target(client.clone(), "demo");
    mesh::mesh_install(&t, &demo_mesh(), &NoReporter)
        .await
        .expect("install");
    assert!(Api::<VirtualService>::namespaced(client.clone(), "demo")
        .get("web")
        .await
        .is_ok());
    assert!(Api::<DestinationRule>::namespaced(client, "demo")
        .get("web")
        .await
        .is_ok());
    // The cluster already carried WasmPlugin veer at config version 1, so the install's config
    // (also version 1) went in as version 2, and the update on top of it is version 3.
    let out = update_plugin_config(&t, "veer", half, &opts(), &NoReporter)
        .await
        .expect("update");
    assert_eq!((out.version, out.attempts), (3, 1));
}
