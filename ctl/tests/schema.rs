//! `veerctl schema`: the JSON Schema editors use. Every config veerctl accepts is valid under it,
//! and the mistakes a schema can see (a misspelt field, a wrong type) are caught by it too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The schema as `veerctl schema` prints it.
fn schema() -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_veerctl"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn every_config_veerctl_accepts_is_valid_under_the_schema() {
    let schema = schema();
    assert_eq!(schema, veer_filter::config::json_schema());
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace().join("bench/configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.push(workspace().join("deploy/demo/web.yaml"));
    assert!(files.len() > 3);
    for file in files {
        let loaded = veer_ctl::config::source::load_file(&file).unwrap();
        loaded.validate(&file.display().to_string()).unwrap();
        let doc = serde_json::to_value(&loaded.wire).unwrap();
        assert_eq!(
            errors(&validator, &doc),
            Vec::<String>::new(),
            "{}",
            file.display()
        );
    }
}

#[test]
fn misspelt_fields_and_wrong_types_are_caught_with_their_place() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let base = || {
        json!({"services": [{"name": "web",
            "variants": [{"name": "v1", "cluster": "web_v1"}], "split": {"v1": 10000}}]})
    };
    let mut typo = base();
    typo["services"][0]["varaints"] = json!([]);
    let mut wrong_type = base();
    wrong_type["services"][0]["split"]["v1"] = json!("all");
    let mut bad_matcher = base();
    bad_matcher["services"][0]["rules"] =
        json!([{"name": "r", "match": {"heder": "x"}, "variant": "v1"}]);
    let mut missing = base();
    missing["services"][0]["variants"][0] = json!({"name": "v1"});
    for (doc, place) in [
        (typo, "/services/0"),
        (wrong_type, "/services/0/split/v1"),
        (bad_matcher, "/services/0/rules/0/match"),
        (missing, "/services/0/variants/0"),
    ] {
        let found = errors(&validator, &doc);
        assert!(
            found.iter().any(|e| e.starts_with(&format!("{place}: "))),
            "{doc}: {found:?}"
        );
    }
}
