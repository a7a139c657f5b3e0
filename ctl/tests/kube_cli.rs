//! veerctl's Kubernetes wiring, end to end through the binary: kubeconfig and context namespace,
//! `--dry-run` planning without writing, the exact WasmPlugin writes of the canary and experiment
//! commands (their edits live in veerctl), conflicts, and exit codes. The API server is a fake on
//! 127.0.0.1 that stores objects, refuses stale writes with 409 and records every request; the
//! other operations are tested in veer-k8s (contract tests and flows).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use veer_filter::metrics::Stat;

mod support;
use support::kube::*;
use veer_fake_kube::prometheus;

fn objects() -> Vec<(&'static str, Value)> {
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "shop", "namespace": "demo", "resourceVersion": "7"},
        "spec": {"selector": {"app": "shop", "veer.dev/color": "blue"}, "ports": [{"port": 80}]}
    });
    let green = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "shop-green", "namespace": "demo", "generation": 1, "resourceVersion": "9"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "shop", "veer.dev/color": "green"}},
                 "template": {"metadata": {"labels": {"app": "shop", "veer.dev/color": "green"}},
                              "spec": {"containers": [{"name": "app", "image": "shop:2"}]}}},
        "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2}
    });
    vec![
        ("/api/v1/namespaces/demo/services/shop", service),
        (
            "/apis/apps/v1/namespaces/demo/deployments/shop-green",
            green,
        ),
    ]
}

#[test]
fn dry_run_switch_plans_the_selector_patch_in_the_contexts_namespace_and_sends_nothing() {
    let (port, seen) = fake_api(objects());
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .env("KUBECONFIG", kubeconfig(dir.path(), port))
        .env_remove("VEER_ENVOY_DIR")
        .args([
            "--dry-run",
            "bluegreen",
            "switch",
            "shop",
            "--scale-down-after",
            "5m",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stamp = stdout
        .find("PATCH /apis/apps/v1/namespaces/demo/deployments/shop-green?fieldManager=veerctl")
        .expect("the colour is stamped");
    let switch = stdout
        .find("PATCH /api/v1/namespaces/demo/services/shop?fieldManager=veerctl")
        .expect("the Service is patched");
    assert!(stamp < switch, "stamp first: {stdout}");
    assert!(
        stdout.contains("\"veer.dev/scale-down-after-seconds\": \"300\""),
        "{stdout}"
    );
    assert!(stdout.contains("blue keeps running for 5m"), "{stdout}");
    assert!(stdout.contains("application/merge-patch+json"), "{stdout}");
    assert!(
        stdout.contains("\"veer.dev/color\": \"green\"")
            || stdout.contains("\"veer.dev/color\":\"green\""),
        "{stdout}"
    );
    let requests = lines(&seen);
    assert!(
        requests.iter().all(|r| r.starts_with("GET ")),
        "a dry run wrote: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains("/deployments/shop-green")),
        "availability was checked: {requests:?}"
    );
}

#[test]
fn missing_objects_and_missing_kubeconfig_fail_with_what_to_do() {
    let (port, seen) = fake_api(objects());
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .env("KUBECONFIG", kubeconfig(dir.path(), port))
        .env_remove("VEER_ENVOY_DIR")
        .args(["-n", "other", "bluegreen", "switch", "shop"])
        .output()
        .unwrap();
    let stderr = exits(&out, 1);
    assert!(
        stderr.contains("create the Service first"),
        "says what to do: {stderr}"
    );
    let requests = lines(&seen);
    assert_eq!(
        requests,
        ["GET /api/v1/namespaces/other/services/shop"],
        "-n overrides the context's namespace"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .env("KUBECONFIG", dir.path().join("missing"))
        .env_remove("VEER_ENVOY_DIR")
        .args(["canary", "set-weight", "web", "v2", "20"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("set KUBECONFIG or --context") && stderr.contains("--envoy DIR"),
        "{stderr}"
    );
}

/// WasmPlugin `veer` at resourceVersion 3, config version 4: service shop, v2 a canary at 20%,
/// experiment `checkout` running.
fn shop_plugin() -> Value {
    json!({
        "apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
        "metadata": {"name": "veer", "namespace": "demo", "resourceVersion": "3"},
        "spec": {
            "url": "oci://registry.example/veer:1", "failStrategy": "FAIL_CLOSE",
            "pluginConfig": {
                "version": 4,
                "services": [{
                    "name": "shop",
                    "variants": [{"name": "v1", "cluster": "shop_v1"}, {"name": "v2", "cluster": "shop_v2"}],
                    "split": {"v1": 8000, "v2": 2000},
                    "experiments": [{
                        "id": "checkout", "allocation": 5000,
                        "arms": [{"name": "control", "variant": "v1", "weight": 5000},
                                 {"name": "one-click", "variant": "v2", "weight": 5000}]
                    }]
                }]
            }
        }
    })
}

#[test]
fn experiment_list_reads_the_wasmplugins_config() {
    let (port, seen) = fake_api(vec![(PLUGIN, shop_plugin())]);
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .env("KUBECONFIG", kubeconfig(dir.path(), port))
        .env_remove("VEER_ENVOY_DIR")
        .args(["-o", "json", "experiment", "list"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let arms: Vec<(&str, &str, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["id"], "checkout", "{r}");
            assert_eq!(r["allocation"], "50%", "{r}");
            assert_eq!(r["assigned"], Value::Null, "{r}");
            (
                r["arm"].as_str().unwrap(),
                r["variant"].as_str().unwrap(),
                r["weight"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(arms, [("control", "v1", "50%"), ("one-click", "v2", "50%")]);
    let requests = lines(&seen);
    assert!(
        requests.iter().all(|r| r.starts_with("GET ")),
        "listing wrote: {requests:?}"
    );
}

/// An edit of the expected pluginConfig.
type Edit = fn(&mut Value);

/// Each canary and experiment command on Kubernetes reads the WasmPlugin once and replaces it
/// (PUT, JSON, field manager veerctl) with the resourceVersion it read, the rest of the spec
/// unchanged and exactly the edited pluginConfig, its version one up; then it lists the pods the
/// plugin runs in (all of the namespace: it has no selector) to verify the change, and warns
/// that none runs a sidecar.
#[test]
fn canary_and_experiment_commands_replace_the_wasmplugin_with_the_edited_config() {
    let cases: [(&[&str], Edit); 5] = [
        (&["canary", "set-weight", "shop", "v2", "50"], |c| {
            c["services"][0]["split"] = json!({"v1": 5000, "v2": 5000});
        }),
        (&["canary", "promote", "shop", "v2"], |c| {
            c["services"][0]["split"] = json!({"v1": 0, "v2": 10000});
            c["services"][0]["variants"] =
                json!([{"name": "v2", "cluster": "shop_v2"}, {"name": "v1", "cluster": "shop_v1"}]);
        }),
        (&["canary", "abort", "shop"], |c| {
            c["services"][0]["split"] = json!({"v1": 10000, "v2": 0});
        }),
        (&["experiment", "stop", "shop", "checkout"], |c| {
            c["services"][0]
                .as_object_mut()
                .unwrap()
                .remove("experiments");
        }),
        (
            &[
                "experiment",
                "start",
                "shop",
                "banner",
                "--arm",
                "old=v1:50",
                "--arm",
                "new=v2:50",
                "--allocation",
                "20",
                "--segment",
                "header:x-beta=1",
            ],
            |c| {
                c["services"][0]["experiments"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({
                        "id": "banner", "allocation": 2000,
                        "segment": {"header": "x-beta", "equals": "1"},
                        "arms": [{"name": "old", "variant": "v1", "weight": 5000},
                                 {"name": "new", "variant": "v2", "weight": 5000}]
                    }));
            },
        ),
    ];
    for (args, edit) in cases {
        let (port, seen) = fake_api(vec![(PLUGIN, shop_plugin()), (PODS, no_pods())]);
        let out = veerctl(port, args);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{args:?}: {stdout}\n{stderr}");
        assert!(
            stdout.contains("WasmPlugin veer now carries version 5 (1 attempt)")
                && stdout.contains("not verified: no sidecar runs the plugin"),
            "{args:?}: {stdout}"
        );
        assert!(stderr.contains(NOT_VERIFIED), "{args:?}: {stderr}");
        assert_eq!(
            lines(&seen),
            [
                format!("GET {PLUGIN}"),
                format!("PUT {PLUGIN}?&fieldManager=veerctl"),
                format!("GET {PODS}?&labelSelector=")
            ],
            "{args:?}"
        );
        let put = seen.lock().unwrap()[1].clone();
        assert_eq!(put.content_type.as_deref(), Some("application/json"));
        assert_eq!(put.body["metadata"]["resourceVersion"], "3", "{args:?}");
        let mut expected = shop_plugin()["spec"].clone();
        edit(&mut expected["pluginConfig"]);
        expected["pluginConfig"]["version"] = json!(5);
        assert_eq!(put.body["spec"], expected, "{args:?}");
    }
}

/// Another operator writes the WasmPlugin between veerctl's read and its write: the API server
/// refuses the stale write (409), veerctl reads again and writes its edit on top of their change.
#[test]
fn a_conflicting_write_is_retried_on_a_fresh_read() {
    let (port, seen) = fake_api_with(vec![(PLUGIN, shop_plugin()), (PODS, no_pods())], 1);
    let out = veerctl(port, &["canary", "set-weight", "shop", "v2", "50"]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("(2 attempts)"), "{stdout}");
    assert!(
        stderr.contains("WasmPlugin veer was changed by someone else; re-reading"),
        "{stderr}"
    );
    let seen = seen.lock().unwrap().clone();
    let methods: Vec<&str> = seen.iter().map(|s| &s.line[..4]).collect();
    assert_eq!(methods, ["GET ", "PUT ", "GET ", "PUT ", "GET "]);
    assert!(stderr.contains(NOT_VERIFIED), "{stderr}");
    assert_eq!(seen[1].body["metadata"]["resourceVersion"], "3");
    assert_eq!(
        seen[3].body["metadata"]["resourceVersion"], "4",
        "the fresh read's"
    );
    assert_eq!(
        seen[3].body["metadata"]["labels"]["other-writer"], "yes",
        "their change is kept"
    );
    assert_eq!(
        seen[3].body["spec"]["pluginConfig"]["services"][0]["split"],
        json!({"v1": 5000, "v2": 5000})
    );
}

/// When every write meets a newer version, veerctl gives up after its attempts with exit code 5
/// and says that nothing of the user's was written.
#[test]
fn a_conflict_that_persists_is_reported_and_nothing_is_overwritten() {
    let (port, seen) = fake_api_with(vec![(PLUGIN, shop_plugin())], usize::MAX);
    let out = veerctl(port, &["canary", "set-weight", "shop", "v2", "50"]);
    let stderr = exits(&out, 5);
    assert!(
        stderr.contains("changed by someone else 5 times in a row")
            && stderr.contains("nothing of yours was written, run the command again"),
        "{stderr}"
    );
    let puts: Vec<Value> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.line.starts_with("PUT "))
        .map(|s| s.body["metadata"]["resourceVersion"].clone())
        .collect();
    assert_eq!(puts, ["3", "4", "5", "6", "7"], "each attempt re-read");
}

/// `status` on Kubernetes reads the WasmPlugin, then the sidecars of its pods (without
/// --selector: the plugin's selector, here none, so every pod of the namespace) or of
/// --selector's; with no running sidecar it says so and what to give, instead of zeros.
#[test]
fn status_reads_the_sidecars_of_the_plugins_pods_or_of_the_selector() {
    for (args, selector, scope) in [
        (&["status"][..], "", "any labels"),
        (
            &["status", "--selector", "app=shop"][..],
            "app%3Dshop",
            "app=shop",
        ),
    ] {
        let (port, seen) = fake_api(vec![(PLUGIN, shop_plugin()), (PODS, no_pods())]);
        let out = veerctl(port, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "failed to find a running pod with an istio-proxy sidecar matching {scope} in \
                 namespace demo: give --selector with the labels"
            )),
            "{args:?}: {stderr}"
        );
        assert_eq!(
            lines(&seen),
            [
                format!("GET {PLUGIN}"),
                format!("GET {PODS}?&labelSelector={selector}")
            ],
            "{args:?}"
        );
    }
}

/// A dry-run edit changes nothing, so no sidecar is waited for: only the WasmPlugin is read.
#[test]
fn a_dry_run_edit_waits_for_no_sidecar() {
    let (port, seen) = fake_api(vec![(PLUGIN, shop_plugin()), (PODS, no_pods())]);
    let out = veerctl(
        port,
        &["--dry-run", "canary", "set-weight", "shop", "v2", "50"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(lines(&seen), [format!("GET {PLUGIN}")]);
    assert!(!stderr.contains("warning"), "{stderr}");
}

/// `status --watch` on Kubernetes redraws from the sidecars: a first frame that cannot be read
/// (no sidecar) ends it with what to do. With --prometheus it is refused with what to do instead.
#[test]
fn status_watch_on_kubernetes_reads_the_sidecars_and_not_prometheus() {
    let (port, seen) = fake_api(vec![(PLUGIN, shop_plugin()), (PODS, no_pods())]);
    let out = veerctl(port, &["status", "--watch", "--interval", "1s"]);
    let stderr = exits(&out, 1);
    assert!(
        stderr.contains("failed to find a running pod with an istio-proxy sidecar"),
        "{stderr}"
    );
    assert_eq!(
        lines(&seen),
        [
            format!("GET {PLUGIN}"),
            format!("GET {PODS}?&labelSelector=")
        ]
    );

    let (port, _) = fake_api(vec![(PLUGIN, shop_plugin())]);
    let out = veerctl(
        port,
        &["status", "--watch", "--prometheus", "http://127.0.0.1:9"],
    );
    let stderr = exits(&out, 1);
    assert!(stderr.contains("--watch reads the sidecars"), "{stderr}");
}

/// `mesh install --wasm FILE` writes the file's SHA-256 into the WasmPlugin; a placeholder
/// digest, and --wasm with an oci:// URL (whose digest is the image's), are refused before
/// anything is sent.
#[test]
fn mesh_install_writes_the_digest_of_wasm_and_refuses_placeholders() {
    let (port, seen) = fake_api(vec![]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("web.yaml");
    std::fs::write(
        &config,
        "services:\n- name: web\n  variants:\n  - {name: v1, cluster: web_v1}\n  - {name: v2, cluster: web_v2}\n  split: {v1: 10000, v2: 0}\n",
    )
    .unwrap();
    let wasm = dir.path().join("veer.wasm");
    std::fs::write(&wasm, b"abc").unwrap();
    let (config, wasm) = (config.to_str().unwrap(), wasm.to_str().unwrap());
    // A failStrategy given: nothing to detect, so only the WasmPlugin is read (the CRD read of
    // `--fail-strategy auto` is tested in veer-k8s, contract_mesh_cases).
    let install = [
        "mesh",
        "install",
        "--fail-strategy",
        "reload",
        "-f",
        config,
        "--plugin-url",
    ];

    let url = "https://files.example/veer.wasm";
    let out = veerctl(
        port,
        &[
            &["-o", "json", "--dry-run"],
            &install[..],
            &[url, "--wasm", wasm],
        ]
        .concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let outcome: Value = serde_json::from_slice(&out.stdout).unwrap();
    let plugin = &outcome["requests"][0]["body"]["spec"];
    assert_eq!(plugin["url"], url);
    assert_eq!(
        plugin["sha256"],
        // SHA-256("abc"), FIPS 180-2's test vector.
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );

    let zeros = "0".repeat(64);
    let oci = "oci://registry.example/veer:1";
    for (args, says) in [
        (
            [&install[..], &[oci, "--sha256", &zeros]].concat(),
            "all zeros is a placeholder",
        ),
        (
            [&install[..], &[oci, "--wasm", wasm]].concat(),
            "for an oci:// URL Istio checks the image's digest",
        ),
    ] {
        let out = veerctl(port, &args);
        let stderr = exits(&out, 1);
        assert!(stderr.contains(says), "{stderr}");
    }
    // The dry run read the WasmPlugin (the version it carries); nothing was written.
    assert_eq!(
        lines(&seen),
        ["GET /apis/extensions.istio.io/v1alpha1/namespaces/demo/wasmplugins/veer"],
        "nothing written"
    );
}

/// A --timeout shorter than the rollout default is honoured: the wait gives up after it, says
/// which timeout ran out and where the rollout stood, and exits 4 (not verified).
#[test]
fn a_short_timeout_ends_a_rollout_wait() {
    let mut objects = objects();
    objects[1].1["status"]["availableReplicas"] = json!(1);
    let (port, _) = fake_api(objects);
    let out = veerctl(
        port,
        &["--timeout", "1s", "rollout", "status", "shop-green"],
    );
    let stderr = exits(&out, 4);
    assert!(
        stderr.contains("failed to roll out deployment shop-green within 1s")
            && stderr.contains("1 of 2 updated replicas are available"),
        "{stderr}"
    );
}

/// `--context` picks the cluster of that context, not the current one: with two contexts each on
/// its own fake API server, only the selected one is asked.
#[test]
fn context_selects_the_server_of_that_context() {
    let (current, seen_current) = fake_api(objects());
    let (chosen, seen_chosen) = fake_api(objects());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    let cluster = |name: &str, port: u16| {
        format!("- name: {name}\n  cluster:\n    server: http://127.0.0.1:{port}\n")
    };
    let context = |name: &str| {
        format!("- name: {name}\n  context:\n    cluster: {name}\n    user: fake\n    namespace: demo\n")
    };
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: current\nclusters:\n{}{}contexts:\n{}{}users:\n- name: fake\n  user:\n    token: test\n",
        cluster("current", current),
        cluster("chosen", chosen),
        context("current"),
        context("chosen"),
    );
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .env("KUBECONFIG", &path)
        .env_remove("VEER_ENVOY_DIR")
        .args([
            "--context",
            "chosen",
            "-o",
            "json",
            "bluegreen",
            "status",
            "shop",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["live"], "blue", "{status}");
    assert!(
        lines(&seen_current).is_empty(),
        "{:?}",
        lines(&seen_current)
    );
    assert_eq!(
        lines(&seen_chosen).first().map(String::as_str),
        Some("GET /api/v1/namespaces/demo/services/shop")
    );
}

/// A fake Prometheus that answers each query with `values` (Veer stat name -> value) for the
/// stats the query asks about, labelled as veerctl's status query labels them; returns its URL
/// and the queries seen, decoded.
fn fake_prometheus(
    values: &'static [(&'static str, &'static str)],
) -> (String, Arc<Mutex<Vec<String>>>) {
    prometheus::fake_prometheus(move |query| {
        values
            .iter()
            .filter(|(stat, _)| query.contains(&format!("\"{stat}\"")))
            .map(|(stat, v)| prometheus::sample(json!({"veer_stat": stat}), v))
            .collect()
    })
}

/// `status --prometheus` is the shared status: the default split's counters (not all requests,
/// which include cohorts and experiments) against the weights, experiment arms, 5xx, `--check`.
#[test]
fn status_from_prometheus_checks_the_default_split_and_the_arms() {
    // 80/20 split counters; all requests lean to v2 because of the experiment, which is fine.
    static FITS: &[(&str, &str)] = &[
        ("config.version", "4"),
        ("split.shop.v1", "800"),
        ("split.shop.v2", "200"),
        ("rq.shop.v1", "1000"),
        ("rq.shop.v2", "700"),
        ("rs.shop.v2.5xx", "7"),
        ("exp.shop.checkout.control", "200"),
        ("exp.shop.checkout.one-click", "500"),
    ];
    let (prom, queries) = fake_prometheus(FITS);
    let (port, seen) = fake_api(vec![(PLUGIN, shop_plugin())]);
    let out = veerctl(
        port,
        &[
            "-o",
            "json",
            "status",
            "--prometheus",
            &prom,
            "--window",
            "5m",
            "--check",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The split fits; the arms (200 vs 500 at 50/50) do not: exit 6 names the experiment.
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.contains("shop (experiment checkout)"), "{stderr}");
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    let svc = &s["services"][0];
    assert_eq!(svc["split_requests"], 1000, "{s}");
    assert_eq!(svc["srm"]["mismatch"], false, "{s}");
    assert_eq!(svc["variants"][1]["requests"], 700, "{s}");
    assert_eq!(svc["variants"][1]["errors"], 7, "{s}");
    assert_eq!(svc["experiments"][0]["assigned"], 700, "{s}");
    assert_eq!(svc["experiments"][0]["srm"]["mismatch"], true, "{s}");
    assert_eq!(s["proxies"][0]["version"], 4, "{s}");
    let queries = queries.lock().unwrap().clone();
    assert_eq!(queries.len(), 1, "{queries:?}");
    // The labelled series of the names module.
    let split = Stat::split_requests("shop", "v1").prometheus_selector();
    assert!(
        queries[0].contains(&format!("increase({split}[300s])")),
        "{queries:?}"
    );
    assert_eq!(lines(&seen), [format!("GET {PLUGIN}")]);

    // A Prometheus that scrapes no Veer proxy is an error that says what to check.
    let (empty, _) = fake_prometheus(&[]);
    let (port, _) = fake_api(vec![(PLUGIN, shop_plugin())]);
    let out = veerctl(port, &["status", "--prometheus", &empty]);
    let stderr = exits(&out, 1);
    assert!(
        stderr.contains("has no veer_config_version: it scrapes no proxy that runs Veer's filter"),
        "{stderr}"
    );
}

/// A Prometheus whose proxies export Veer's counters without the bootstrap's stats_tags has the
/// version but none of the labelled counters: an error that names the missing tags, not a status
/// of zeros.
#[test]
fn status_from_prometheus_without_the_stats_tags_says_so() {
    static UNLABELLED: &[(&str, &str)] = &[("config.version", "4")];
    let (prom, _) = fake_prometheus(UNLABELLED);
    let (port, _) = fake_api(vec![(PLUGIN, shop_plugin())]);
    let out = veerctl(port, &["status", "--prometheus", &prom]);
    let stderr = exits(&out, 1);
    assert!(
        stderr.contains("the sidecars lack Veer's stats_tags"),
        "{stderr}"
    );
    let requests = Stat::requests("shop", "v1").prometheus_selector();
    assert!(stderr.contains(&requests), "{stderr}");
}

/// `canary run` on Kubernetes watches each step on the WasmPlugin's sidecars, so with none
/// running it refuses before the first step: the WasmPlugin is read, never written.
#[test]
fn canary_run_on_kubernetes_needs_sidecars_to_watch_and_changes_nothing_without_them() {
    let (port, seen) = fake_api(vec![(PLUGIN, shop_plugin()), (PODS, no_pods())]);
    let out = veerctl(
        port,
        &[
            "canary",
            "run",
            "shop",
            "v2",
            "--steps",
            "50,100",
            "--interval",
            "1s",
        ],
    );
    let stderr = exits(&out, 1);
    assert!(
        stderr.contains("failed to find a running pod with an istio-proxy sidecar"),
        "{stderr}"
    );
    assert!(
        lines(&seen).iter().all(|r| r.starts_with("GET ")),
        "wrote: {:?}",
        lines(&seen)
    );
}

/// `canary run --dry-run` on Kubernetes shows each step's write and reads no sidecar.
#[test]
fn canary_run_dry_run_plans_every_step_and_waits_for_nothing() {
    let (port, seen) = fake_api(vec![(PLUGIN, shop_plugin()), (PODS, no_pods())]);
    let out = veerctl(
        port,
        &[
            "--dry-run",
            "canary",
            "run",
            "shop",
            "v2",
            "--steps",
            "50,100",
            "--interval",
            "1h",
            "--promote",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    for what in [
        "canary set-weight shop v2 50%",
        "canary set-weight shop v2 100%",
        "canary promote shop v2",
    ] {
        assert!(
            stdout.contains(what) || stderr.contains(what),
            "{what}: {stdout}{stderr}"
        );
    }
    assert!(
        lines(&seen).iter().all(|r| r == &format!("GET {PLUGIN}")),
        "{:?}",
        lines(&seen)
    );
}

/// `shop_plugin` with goal `purchase` and experiment `checkout` judged on it.
fn shop_plugin_with_goal() -> Value {
    let mut p = shop_plugin();
    let config = &mut p["spec"]["pluginConfig"];
    config["stickiness"] = json!({"sources": [{"cookie": "uid"}]});
    config["goals"] = json!([{"name": "purchase", "match": {"path_prefix": "/buy"}}]);
    config["services"][0]["experiments"][0]["goals"] = json!(["purchase"]);
    p
}

/// A fake Prometheus for `experiment report`: each instant query (`/api/v1/query`) gets `values`
/// for the stats it names; each range query (`/api/v1/query_range`) gets two points of them
/// (half, then all). Returns its URL and the APIs asked, in order, each with its query
/// (`query_range: sum(...)`).
fn fake_prometheus_with_history(
    values: &'static [(&'static str, u64)],
) -> (String, Arc<Mutex<Vec<String>>>) {
    let asked_apis = Arc::new(Mutex::new(Vec::new()));
    let log = asked_apis.clone();
    let (url, _) = prometheus::fake_prometheus_api(move |asked| {
        let query = asked.param("query");
        log.lock().unwrap().push(format!("{}: {query}", asked.api));
        let named = values
            .iter()
            .filter(|(stat, _)| query.contains(&format!("\"{stat}\"")));
        if asked.api == "query_range" {
            let result: Vec<Value> = named
                .map(|(stat, v)| {
                    json!({"metric": {"veer_stat": stat},
                           "values": [[1000.0, (v / 2).to_string()], [4600.0, v.to_string()]]})
                })
                .collect();
            json!({"resultType": "matrix", "result": result})
        } else {
            let result: Vec<Value> = named
                .map(|(stat, v)| prometheus::sample(json!({"veer_stat": stat}), &v.to_string()))
                .collect();
            json!({"resultType": "vector", "result": result})
        }
    });
    (url, asked_apis)
}

/// `experiment report --prometheus` on Kubernetes: the WasmPlugin is read (never written), the
/// report's counters come from one instant query and their history from one range query, all
/// under the names the filter defines; the counts, the verdict and the lift over time follow.
#[test]
fn experiment_report_reads_prometheus_and_its_history() {
    static COUNTS: &[(&str, u64)] = &[
        ("config.version", 4),
        ("exp.shop.checkout.control", 2400),
        ("exp.shop.checkout.one-click", 2500),
        ("exp_users.shop.checkout.control", 1000),
        ("exp_users.shop.checkout.one-click", 1010),
        ("goal_rq.shop.checkout.control.purchase", 130),
        ("goal_rq.shop.checkout.one-click.purchase", 260),
        ("goal_users.shop.checkout.control.purchase", 100),
        ("goal_users.shop.checkout.one-click.purchase", 200),
    ];
    let (prom, queries) = fake_prometheus_with_history(COUNTS);
    let (port, seen) = fake_api(vec![(PLUGIN, shop_plugin_with_goal())]);
    let out = veerctl(
        port,
        &[
            "-o",
            "json",
            "experiment",
            "report",
            "shop",
            "checkout",
            "--prometheus",
            &prom,
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["source"]["kind"], "prometheus", "{r}");
    let arm = &r["arms"][1];
    assert_eq!(
        (
            arm["exposed_users"].as_u64(),
            arm["exposure_requests"].as_u64()
        ),
        (Some(1010), Some(2500)),
        "{arm}"
    );
    assert_eq!(arm["goals"][0]["converted_users"], 200, "{arm}");
    assert_eq!(arm["goals"][0]["goal_requests"], 260, "{arm}");
    assert_eq!(
        r["headline"]["arms"][0]["verdict"], "winner",
        "{}",
        r["headline"]
    );
    assert_eq!(
        r["history"].as_array().unwrap().len(),
        2,
        "{}",
        r["history"]
    );
    let queries = queries.lock().unwrap().clone();
    assert_eq!(queries.len(), 2, "{queries:?}");
    assert!(queries[0].starts_with("query: "), "{queries:?}");
    assert!(queries[1].starts_with("query_range: "), "{queries:?}");
    // The labelled family (the bootstrap's stats_tags).
    assert!(
        queries[0].contains(
            "sum(veer_goal_users_total{service=\"shop\",experiment=\"checkout\",arm=\"one-click\",goal=\"purchase\"})"
        ),
        "{queries:?}"
    );
    assert_eq!(lines(&seen), [format!("GET {PLUGIN}")]);
}

/// Bad input on Kubernetes: an unknown experiment, an experiment judged on no goal, and a report
/// from sidecars when none runs: each a clear error (exit 1) before any count is read.
#[test]
fn experiment_report_refuses_what_it_cannot_report() {
    let cases: [(Value, &[&str], &str); 3] = [
        (
            shop_plugin_with_goal(),
            &["experiment", "report", "shop", "nope"],
            "service \"shop\" has no experiment \"nope\"; it runs checkout",
        ),
        (
            shop_plugin(),
            &["experiment", "report", "shop", "checkout"],
            "experiment shop/checkout is judged on no goal",
        ),
        (
            shop_plugin_with_goal(),
            &["experiment", "report", "shop", "checkout"],
            "failed to find a running pod with an istio-proxy sidecar",
        ),
    ];
    for (plugin, args, says) in cases {
        let (port, _) = fake_api(vec![(PLUGIN, plugin), (PODS, no_pods())]);
        let out = veerctl(port, args);
        let stderr = exits(&out, 1);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

/// A `canary run` of shop v2 recorded on the WasmPlugin, still running at step 2 of 3.
fn recorded_run() -> Value {
    json!({
        "service": "shop", "variant": "v2", "stable": "v1", "steps": [1000, 2000, 5000],
        "promote": true, "started_at": "2026-12-01T10:00:00Z", "step": 1,
        "step_started_at": "2026-12-01T10:05:00Z", "phase": {"state": "running"},
        "passed": [{"number": 1, "weight_bp": 1000, "passed_at": "2026-12-01T10:05:00Z", "gates": []}],
        "updated_at": "2026-12-01T10:05:00Z"
    })
}

/// On Kubernetes the run is recorded in an annotation of the WasmPlugin: `canary status` reads
/// it (one GET); `canary abort` ends it with a merge patch of that annotation alone, after its
/// edit (which read the annotation with the plugin: no further GET), and status then says so.
#[test]
fn the_run_recorded_on_the_wasmplugin_is_shown_and_ended_by_an_abort() {
    let mut plugin = shop_plugin();
    plugin["metadata"]["annotations"] =
        json!({ "veer.dev/run-canary-shop": recorded_run().to_string() });
    let (port, seen) = fake_api(vec![(PLUGIN, plugin), (PODS, no_pods())]);
    let out = veerctl(port, &["canary", "status", "shop"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "shop: canary v2, stable v1 at the start, started 2026-12-01T10:00:00Z",
        "  step     2 of 3 (20%), since 2026-12-01T10:05:00Z",
        "  continue with `veerctl canary run shop v2 --steps 10,20,50 --promote`",
    ] {
        assert!(stdout.contains(line), "{line:?} in:\n{stdout}");
    }
    assert_eq!(lines(&seen), [format!("GET {PLUGIN}")]);

    let out = veerctl(port, &["canary", "abort", "shop"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the recorded canary run of shop v2 (step 2 of 3 (20%)) is over: rolled back: `veerctl canary abort` sent all traffic back to the stable variant"),
        "{stderr}"
    );
    let requests = lines(&seen);
    assert_eq!(
        requests[1..],
        [
            format!("GET {PLUGIN}"),
            format!("PUT {PLUGIN}?&fieldManager=veerctl"),
            format!("GET {PODS}?&labelSelector="),
            format!("PATCH {PLUGIN}?&fieldManager=veerctl"),
        ]
    );
    let patch = seen.lock().unwrap()[4].clone();
    assert_eq!(
        patch.content_type.as_deref(),
        Some("application/merge-patch+json")
    );
    let annotations = patch.body["metadata"]["annotations"].as_object().unwrap();
    assert_eq!(annotations.len(), 1, "{}", patch.body);
    assert!(patch.body.get("spec").is_none(), "{}", patch.body);
    let run: Value =
        serde_json::from_str(annotations["veer.dev/run-canary-shop"].as_str().unwrap()).unwrap();
    assert_eq!(run["phase"]["state"], "rolled-back", "{run}");
    assert_eq!(run["started_at"], "2026-12-01T10:00:00Z");

    let out = veerctl(port, &["-o", "json", "canary", "status", "shop"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["phase"]["state"], "rolled-back", "{status}");
    assert_eq!(status["passed"][0]["number"], 1);
}

/// `/stats` of a sidecar running config version 4 that counted `v1` and `v2` requests of shop.
fn sidecar_stats(v1: u64, v2: u64) -> impl Fn(usize) -> String + Send + 'static {
    move |_| {
        format!(
            "{}{}: {v1}\n{}: {v2}\n",
            support::proxy_stats(4, 0, "4"),
            Stat::requests("shop", "v1").envoy_name(),
            Stat::requests("shop", "v2").envoy_name()
        )
    }
}

/// `status` on Kubernetes reads every running sidecar of the WasmPlugin through a port-forward
/// to its admin port 15000 (served as the API server serves kube's client: a WebSocket on
/// `v4.channel.k8s.io`, relayed here to a scripted admin API): both pods are shown by name and
/// their counters summed. A pod whose admin port does not listen is named with the reason the
/// port-forward gave, and the others are still read.
#[test]
fn status_reads_each_sidecar_through_its_port_forward() {
    let (a, _) = support::fake_admin(sidecar_stats(30, 10));
    let (b, _) = support::fake_admin(sidecar_stats(50, 20));
    let address = |url: &str| url.trim_start_matches("http://").parse().unwrap();
    // Nothing listens on port 1 of the loopback.
    let (port, seen) = FakeApi::new(vec![(PLUGIN, shop_plugin())])
        .pod(Pod::sidecar("shop-a", address(&a)))
        .pod(Pod::sidecar("shop-b", address(&b)))
        .pod(Pod::sidecar("shop-c", "127.0.0.1:1".parse().unwrap()))
        .start()
        .unwrap();
    let out = veerctl(port, &["-o", "json", "status", "--window", "0s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let s: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let proxies: Vec<(&str, &Value, &Value)> = s["proxies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["url"].as_str().unwrap(), &p["runs"], &p["error"]))
        .collect();
    assert_eq!(
        proxies[..2],
        [
            ("shop-a", &json!("configured"), &Value::Null),
            ("shop-b", &json!("configured"), &Value::Null)
        ],
        "{s}"
    );
    let (pod, runs, error) = proxies[2];
    assert_eq!((pod, runs), ("shop-c", &json!("unreachable")), "{s}");
    assert!(
        error
            .as_str()
            .unwrap()
            .contains("error forwarding port 15000 to pod shop-c"),
        "{error}"
    );
    let variants = &s["services"][0]["variants"];
    assert_eq!(variants[0]["requests"], 80, "{s}");
    assert_eq!(variants[1]["requests"], 30, "{s}");
    // Stats and latency of each pod that answered; the unreachable one once.
    for (pod, reads) in [("shop-a", 2), ("shop-b", 2), ("shop-c", 1)] {
        let forward = format!("GET {PODS}/{pod}/portforward?&ports=15000");
        let count = lines(&seen).iter().filter(|l| **l == forward).count();
        assert_eq!(count, reads, "{pod}: {:?}", lines(&seen));
    }
}
