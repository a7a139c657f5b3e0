use serde_json::json;

use super::*;

fn config(v: Value) -> WireConfig {
    serde_json::from_value(v).unwrap()
}

fn base() -> Value {
    json!({
        "version": 4,
        "headers": { "cluster": "x-veer-cluster" },
        "stickiness": { "sources": [{ "cookie": "uid" }] },
        "override": { "enabled": true, "keys": ["secret-one-0123456789"] },
        "metrics": { "responses": true },
        "services": [
            {
                "name": "web",
                "hosts": ["a.example"],
                "variants": [{ "name": "v1", "cluster": "web_v1" }, { "name": "v2", "cluster": "web_v2" }],
                "rules": [{ "name": "beta", "match": { "header": "x-beta", "present": true }, "variant": "v2" }],
                "experiments": [{ "id": "checkout", "arms": [
                    { "name": "a", "variant": "v1", "weight": 5000 },
                    { "name": "b", "variant": "v2", "weight": 5000 }
                ] }],
                "split": { "v1": 5000, "v2": 5000 }
            },
            { "name": "api", "variants": [{ "name": "v1", "cluster": "api_v1" }], "split": { "v1": 10000 } }
        ]
    })
}

/// `compare(base, base edited by `edit`)`, as `path: change` lines.
fn diff_after(edit: impl FnOnce(&mut Value)) -> Vec<Difference> {
    let mut new = base();
    edit(&mut new);
    compare(&config(base()), &config(new))
}

fn lines(d: &[Difference]) -> Vec<String> {
    d.iter()
        .map(|d| format!("{}: {}", d.path, d.change))
        .collect()
}

fn assert_warns(d: &Difference, text: &str) {
    let warning = d.warning.as_deref().unwrap_or_default();
    assert!(warning.contains(text), "{d:?}");
}

#[test]
fn the_same_config_at_another_version_has_no_differences() {
    veer_filter::Config::from_wire(&config(base())).expect("the base config is valid");
    assert_eq!(diff_after(|c| c["version"] = json!(9)), []);
}

/// A label, an edit of the base config, and the one line the diff must print.
type Case = (&'static str, fn(&mut Value), &'static str);

/// Each of these used to print "no changes".
#[test]
fn every_field_outside_the_split_is_compared() {
    let cases: [Case; 9] = [
        (
            "header",
            |c| c["headers"]["cluster"] = json!("x-c"),
            r#"headers.cluster: "x-veer-cluster" -> "x-c""#,
        ),
        (
            "metrics",
            |c| c["metrics"]["responses"] = json!(false),
            "metrics.responses: true -> false",
        ),
        (
            "override",
            |c| c["override"]["enabled"] = json!(false),
            "override.enabled: true -> false",
        ),
        (
            "hosts",
            |c| c["services"][0]["hosts"] = json!(["b.example"]),
            r#"services[web].hosts: ["a.example"] -> ["b.example"]"#,
        ),
        (
            "path",
            |c| c["services"][0]["path_prefix"] = json!("/shop"),
            r#"services[web].path_prefix: added: "/shop""#,
        ),
        (
            "cluster",
            |c| c["services"][0]["variants"][1]["cluster"] = json!("web_v2b"),
            r#"services[web].variants[v2].cluster: "web_v2" -> "web_v2b""#,
        ),
        (
            "rule",
            |c| c["services"][0]["rules"][0]["variant"] = json!("v1"),
            r#"services[web].rules[beta].variant: "v2" -> "v1""#,
        ),
        (
            "arm",
            |c| c["services"][0]["experiments"][0]["arms"][1]["weight"] = json!(4000),
            "services[web].experiments[checkout].arms[b].weight: 5000 -> 4000",
        ),
        (
            "assign cookie",
            |c| c["stickiness"]["assign_cookie"] = json!({ "name": "uid" }),
            r#"stickiness.assign_cookie: added: {"name":"uid"}"#,
        ),
    ];
    for (what, edit, expected) in cases {
        assert_eq!(lines(&diff_after(edit)), [expected], "{what}");
    }
}

#[test]
fn service_order_and_added_or_removed_services_are_reported() {
    let d = diff_after(|c| {
        let services = c["services"].as_array_mut().unwrap();
        services.reverse();
        services.push(json!({ "name": "new", "variants": [{ "name": "v1", "cluster": "n" }], "split": { "v1": 10000 } }));
    });
    assert_eq!(
        lines(&d)[0],
        "services order: web, api -> api, web (the first that matches wins)"
    );
    assert!(lines(&d)[1].starts_with("services[new]: added: "), "{d:?}");
    let d = diff_after(|c| {
        c["services"].as_array_mut().unwrap().pop();
    });
    assert!(
        lines(&d)[0].starts_with("services[api]: removed (was "),
        "{d:?}"
    );
}

#[test]
fn a_split_change_says_exactly_how_many_users_move() {
    let d = diff_after(|c| c["services"][0]["split"] = json!({ "v1": 8000, "v2": 2000 }));
    assert_eq!(
        lines(&d),
        ["services[web].split: v1 50% | v2 50% -> v1 80% | v2 20% (moves 30.00% of users)"]
    );
    assert_eq!(d[0].warning, None);
}

#[test]
fn a_salt_change_is_a_loud_warning_with_the_share_of_users_who_move() {
    let d = diff_after(|c| c["services"][0]["salt"] = json!("web-2024"));
    assert_eq!(lines(&d), [r#"services[web].salt: added: "web-2024""#]);
    let w = d[0].warning.as_deref().unwrap();
    assert!(w.contains(r#"("web" -> "web-2024")"#), "{w}");
    assert!(w.contains("EVERY user of web"), "{w}");
    // 50/50 hashed afresh: a user stays with probability 0.5 * 0.5 + 0.5 * 0.5.
    assert!(w.contains("about 50.0% of users change variant"), "{w}");

    let d = diff_after(|c| {
        c["services"][0]["salt"] = json!("web-2024");
        c["services"][0]["split"] = json!({ "v1": 10000, "v2": 0 });
    });
    let split = d.iter().find(|d| d.path == "services[web].split").unwrap();
    assert!(
        split
            .change
            .ends_with("(users re-bucketed by the salt change)"),
        "{split:?}"
    );
    let salt = d.iter().find(|d| d.path == "services[web].salt").unwrap();
    assert!(
        salt.warning.as_deref().unwrap().contains("about 50.0%"),
        "{salt:?}"
    );
}

#[test]
fn stickiness_and_experiment_salt_changes_warn() {
    let d = diff_after(|c| c["stickiness"]["sources"] = json!([{ "header": "x-user" }]));
    assert_warns(&d[0], "stickiness key");
    let d = diff_after(|c| c["services"][0]["experiments"][0]["salt"] = json!("again"));
    assert_eq!(d[0].path, "services[web].experiments[checkout].salt");
    assert_warns(&d[0], "assigned an arm afresh");
}

#[test]
fn override_keys_are_never_printed() {
    let d = diff_after(|c| {
        c["override"]["keys"] = json!(["secret-two-0123456789", "secret-three-0123456789"])
    });
    assert_eq!(
        lines(&d),
        [r#"override.keys: "1 key(s), values hidden" -> "2 key(s), values hidden""#]
    );
    let mut without = base();
    without.as_object_mut().unwrap().remove("override");
    let d = compare(&config(without), &config(base()));
    assert!(!format!("{d:?}").contains("secret"), "{d:?}");
}

#[test]
fn renaming_an_owned_header_warns_even_when_the_section_is_new() {
    let d = diff_after(|c| c["headers"]["cluster"] = json!("x-c"));
    let w = d[0].warning.as_deref().unwrap();
    assert!(
        w.contains(r#"headers.cluster from "x-veer-cluster" to "x-c""#),
        "{w}"
    );
    let mut without = base();
    without.as_object_mut().unwrap().remove("headers");
    let mut with = base();
    with["headers"] = json!({ "variant": "x-v" });
    let d = compare(&config(without), &config(with));
    assert_eq!(d[0].path, "headers");
    assert_warns(&d[0], "--allow-header-rename");
}
