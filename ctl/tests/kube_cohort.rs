//! `veerctl cohort` on Kubernetes, through the binary against a fake API server: the exact
//! requests of each command (the WasmPlugin read, replaced with the edited rules and the change
//! recorded in its `veer.dev/last-change` annotation, then the sidecars listed to verify), dry
//! runs that send nothing, undo from the recorded change, and refusals that write nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};

mod support;
use support::kube::*;

const ANNOTATION: &str = "veer.dev/last-change";

/// Rule `beta` of service shop: header x-beta=1 to v2.
fn beta() -> Value {
    json!({"name": "beta", "match": {"header": "x-beta", "equals": "1"}, "variant": "v2"})
}

/// Rule `employees`: cookie team=internal to v2.
fn employees() -> Value {
    json!({"name": "employees", "match": {"cookie": "team", "equals": "internal"}, "variant": "v2"})
}

/// WasmPlugin `veer` at resourceVersion 3, config version 4: service shop (v1 80 %, v2 20 %)
/// with `rules` and experiment `checkout` (everyone, half enrolled); `annotations` on it.
fn plugin(rules: Value, annotations: Value) -> Value {
    json!({
        "apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
        "metadata": {"name": "veer", "namespace": "demo", "resourceVersion": "3", "annotations": annotations},
        "spec": {
            "url": "oci://registry.example/veer:1", "failStrategy": "FAIL_CLOSE",
            "pluginConfig": {
                "version": 4,
                "services": [{
                    "name": "shop",
                    "variants": [{"name": "v1", "cluster": "shop_v1"}, {"name": "v2", "cluster": "shop_v2"}],
                    "rules": rules,
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

/// The requests of a change to the rules that may take from the experiment and the canary: the
/// live read, the sidecars listed for the estimate (none: it says so), the read and write of the
/// edit, the sidecars listed to verify it.
fn estimated_change() -> Vec<String> {
    vec![
        format!("GET {PLUGIN}"),
        format!("GET {PLUGIN}"),
        format!("GET {PODS}?&labelSelector="),
        format!("GET {PLUGIN}"),
        format!("PUT {PLUGIN}?&fieldManager=veerctl"),
        format!("GET {PODS}?&labelSelector="),
    ]
}

/// The requests of a change that takes nothing new: the live read, the edit's read and write,
/// the sidecars listed to verify it.
fn plain_change() -> Vec<String> {
    vec![
        format!("GET {PLUGIN}"),
        format!("GET {PLUGIN}"),
        format!("PUT {PLUGIN}?&fieldManager=veerctl"),
        format!("GET {PODS}?&labelSelector="),
    ]
}

/// The one write of `seen`: the WasmPlugin as replaced.
fn put(seen: &Log) -> Value {
    let seen = seen.lock().unwrap();
    let puts: Vec<&Seen> = seen.iter().filter(|s| s.line.starts_with("PUT ")).collect();
    assert_eq!(puts.len(), 1, "one write");
    assert_eq!(puts[0].content_type.as_deref(), Some("application/json"));
    puts[0].body.clone()
}

/// The change recorded in a written WasmPlugin's annotation.
fn recorded(body: &Value) -> Value {
    serde_json::from_str(
        body["metadata"]["annotations"][ANNOTATION]
            .as_str()
            .unwrap(),
    )
    .unwrap()
}

/// A command line, the rules before it, after it, the edit it records, its requests.
type Case = (&'static [&'static str], Value, Value, Value, Vec<String>);

/// Each command replaces the WasmPlugin read at resourceVersion 3 with exactly the edited rules
/// (config version 5, the rest of the spec unchanged) and records the change as data, with what
/// undoing it needs (the rule and its position), in the same write.
#[test]
fn each_cohort_command_writes_the_edited_rules_and_records_the_change() {
    let two = json!([beta(), employees()]);
    let cases: Vec<Case> = vec![
        (
            &[
                "cohort",
                "add",
                "shop",
                "employees",
                "--match",
                "cookie:team=internal",
                "--variant",
                "v2",
                "--first",
            ],
            json!([beta()]),
            json!([employees(), beta()]),
            json!({"op": "add", "rule": employees(), "at": 0}),
            estimated_change(),
        ),
        (
            &["cohort", "remove", "shop", "beta"],
            two.clone(),
            json!([employees()]),
            json!({"op": "remove", "rule": beta(), "at": 0}),
            plain_change(),
        ),
        (
            &["cohort", "move", "shop", "employees", "--before", "beta"],
            two.clone(),
            json!([employees(), beta()]),
            json!({"op": "move", "rule": "employees", "from": 1, "to": 0}),
            plain_change(),
        ),
        (
            &[
                "cohort",
                "set",
                "shop",
                "employees",
                "--split",
                "v1=50,v2=50",
            ],
            two.clone(),
            json!([beta(), {"name": "employees", "match": {"cookie": "team", "equals": "internal"}, "split": {"v1": 5000, "v2": 5000}}]),
            json!({"op": "set", "at": 1, "before": employees(),
                   "after": {"name": "employees", "match": {"cookie": "team", "equals": "internal"}, "split": {"v1": 5000, "v2": 5000}}}),
            plain_change(),
        ),
    ];
    for (args, rules, after, edit, requests) in cases {
        let (port, seen) = fake_api(vec![(PLUGIN, plugin(rules, json!({}))), (PODS, no_pods())]);
        let out = veerctl(port, args);
        let stderr = exits(&out, 0);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("WasmPlugin veer now carries version 5 (1 attempt)"),
            "{args:?}: {stdout}"
        );
        assert!(stdout.contains("rules of shop now:"), "{args:?}: {stdout}");
        assert!(stderr.contains(NOT_VERIFIED), "{args:?}: {stderr}");
        assert_eq!(lines(&seen), requests, "{args:?}");
        let body = put(&seen);
        assert_eq!(body["metadata"]["resourceVersion"], "3", "{args:?}");
        let mut expected = plugin(json!([]), json!({}))["spec"].clone();
        expected["pluginConfig"]["services"][0]["rules"] = after;
        expected["pluginConfig"]["version"] = json!(5);
        assert_eq!(body["spec"], expected, "{args:?}");
        assert_eq!(
            recorded(&body),
            json!({"version": 5, "change": {"kind": "cohort", "service": "shop", "edit": edit}}),
            "{args:?}"
        );
    }
}

/// A rule that may take from the experiment and the canary says so before the write; without a
/// sidecar to count from, it says why the count is unknown.
#[test]
fn adding_a_rule_warns_what_it_takes_and_why_it_cannot_count_it() {
    let (port, _) = fake_api(vec![
        (PLUGIN, plugin(json!([]), json!({}))),
        (PODS, no_pods()),
    ]);
    let out = veerctl(
        port,
        &[
            "cohort",
            "add",
            "shop",
            "employees",
            "--match",
            "cookie:team=internal",
            "--variant",
            "v2",
        ],
    );
    let stderr = exits(&out, 0);
    for taken in [
        "from experiment checkout (segment everyone)",
        "from the canary split of shop (v1 80% | v2 20%)",
    ] {
        assert!(
            stderr.contains(&format!(
                "warning: rule employees may take requests {taken}"
            )),
            "{stderr}"
        );
    }
    assert!(
        stderr.contains(
            "how many is unknown (failed to find a running pod with an istio-proxy sidecar"
        ),
        "{stderr}"
    );
}

/// `cohort undo` reads the change recorded on the WasmPlugin and writes its exact inverse,
/// recorded as an undo: the removed rule goes back where it was.
#[test]
fn undo_writes_the_inverse_of_the_recorded_change() {
    let removal = json!({"version": 4, "change": {"kind": "cohort", "service": "shop",
        "edit": {"op": "remove", "rule": beta(), "at": 0}}});
    let annotations = json!({ ANNOTATION: removal.to_string() });
    let (port, seen) = fake_api(vec![
        (PLUGIN, plugin(json!([employees()]), annotations)),
        (PODS, no_pods()),
    ]);
    let out = veerctl(port, &["cohort", "undo", "shop"]);
    exits(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("cohort undo shop (version 4: cohort remove shop beta)"),
        "{stdout}"
    );
    let mut requests = vec![format!("GET {PLUGIN}")];
    requests.extend(estimated_change());
    assert_eq!(lines(&seen), requests);
    let body = put(&seen);
    assert_eq!(
        body["spec"]["pluginConfig"]["services"][0]["rules"],
        json!([beta(), employees()])
    );
    assert_eq!(
        recorded(&body),
        json!({"version": 5, "change": {"kind": "cohort-undo", "service": "shop", "undone": 4,
               "edit": {"op": "remove", "rule": beta(), "at": 0}}})
    );
}

/// Nothing is written when the recorded change cannot be undone exactly: it is not a cohort
/// change of the service, or the config was written since by something that recorded nothing.
#[test]
fn undo_refuses_what_it_cannot_undo_exactly() {
    let canary = json!({"version": 4, "change": {"kind": "canary-abort", "service": "shop"}});
    let stale = json!({"version": 3, "change": {"kind": "cohort", "service": "shop",
        "edit": {"op": "add", "rule": employees(), "at": 0}}});
    let cases = [
        (
            json!({}),
            "no cohort change of service \"shop\" is recorded",
        ),
        (
            json!({ ANNOTATION: canary.to_string() }),
            "on Kubernetes only the last change is recorded",
        ),
        (
            json!({ ANNOTATION: stale.to_string() }),
            "version 4 (a change that recorded nothing",
        ),
    ];
    for (annotations, says) in cases {
        let (port, seen) = fake_api(vec![
            (PLUGIN, plugin(json!([employees()]), annotations)),
            (PODS, no_pods()),
        ]);
        let stderr = exits(&veerctl(port, &["cohort", "undo", "shop"]), 1);
        assert!(stderr.contains(says), "{stderr}");
        assert_eq!(lines(&seen), [format!("GET {PLUGIN}")]);
    }
}

/// A dry run reads and sends nothing: it prints the rules before and after and the write it
/// would send.
#[test]
fn a_dry_run_sends_nothing_and_shows_the_rules_before_and_after() {
    let (port, seen) = fake_api(vec![
        (PLUGIN, plugin(json!([beta(), employees()]), json!({}))),
        (PODS, no_pods()),
    ]);
    let out = veerctl(
        port,
        &[
            "--dry-run",
            "cohort",
            "move",
            "shop",
            "employees",
            "--first",
        ],
    );
    exits(&out, 0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for part in [
        "dry run (nothing sent)",
        "PUT /apis/extensions.istio.io",
        "rules of shop before:",
        "rules of shop after:",
        "<- moved from 2",
    ] {
        assert!(stdout.contains(part), "{part}: {stdout}");
    }
    assert_only_read(&seen);
}

/// Refusals write nothing: a bad expression is a usage error before anything is read (exit 2),
/// an unknown rule is a failure (exit 1), a rule that can never match an invalid config (exit 3).
#[test]
fn refusals_write_nothing() {
    let cases: [(&[&str], i32, &str); 3] = [
        (
            &[
                "cohort",
                "add",
                "shop",
                "x",
                "--match",
                "cookie:(",
                "--variant",
                "v2",
            ],
            2,
            "invalid value 'cookie:('",
        ),
        (
            &["cohort", "move", "shop", "gamma", "--first"],
            1,
            "no cohort rule \"gamma\" (rules: beta)",
        ),
        (
            &[
                "cohort",
                "add",
                "shop",
                "x",
                "--match",
                "header:x-beta=1 & cookie:a",
                "--variant",
                "v1",
            ],
            3,
            "can never match: rule \"beta\" (position 1)",
        ),
    ];
    for (args, code, says) in cases {
        let (port, seen) = fake_api(vec![
            (PLUGIN, plugin(json!([beta()]), json!({}))),
            (PODS, no_pods()),
        ]);
        let stderr = exits(&veerctl(port, args), code);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert_only_read(&seen);
    }
}

/// `cohort list` on Kubernetes reads the WasmPlugin's rules in order; it has no baseline of the
/// last change to count from, so each rule's count is null, not zero.
#[test]
fn list_reads_the_rules_of_the_wasmplugin() {
    let (port, seen) = fake_api(vec![(
        PLUGIN,
        plugin(json!([beta(), employees()]), json!({})),
    )]);
    let out = veerctl(port, &["-o", "json", "cohort", "list"]);
    exits(&out, 0);
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows: Vec<(&str, u64, &str, &str, &Value)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap(),
                r["position"].as_u64().unwrap(),
                r["match"].as_str().unwrap(),
                r["target"].as_str().unwrap(),
                &r["decided"],
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("beta", 1, "header:x-beta=1", "v2", &Value::Null),
            ("employees", 2, "cookie:team=internal", "v2", &Value::Null)
        ]
    );
    assert_eq!(lines(&seen), [format!("GET {PLUGIN}")]);
}
