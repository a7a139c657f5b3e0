use super::tags::stats_tags;
use super::*;

fn every_kind_of_stat() -> Vec<Stat<'static>> {
    let class = StatusClass::SERVER_ERROR;
    vec![
        Stat::requests("web", "v2"),
        Stat::split_requests("web-app", "v_1"),
        Stat::responses("web", "v2", class),
        Stat::latency("web", "v1"),
        Stat::rule_requests("web", "beta"),
        Stat::experiment_requests("web", "checkout", "one-click"),
        Stat::experiment_users("web", "checkout", "a"),
        Stat::goal_requests("web", "checkout", "a", "purchase"),
        Stat::goal_users("web", "checkout", "b", "purchase"),
        Stat::arm_responses("web", "checkout", "a", class),
        Stat::arm_latency("web", "checkout", "a"),
        Stat::global(&COUNTS_PENDING),
    ]
}

#[test]
fn names_and_keys_round_trip() {
    for s in every_kind_of_stat() {
        assert_eq!(Stat::parse(&s.name()), Some(s), "{}", s.name());
        assert_eq!(Stat::parse(&s.envoy_name()), Some(s));
        let native = format!("dynamicmodulescustom.{}", s.name());
        assert_eq!(Stat::parse(&native), Some(s), "{native}");
        assert_eq!(Stat::from_key(&s.key()), Some(s), "{}", s.key());
    }
    for f in FAMILIES.iter().filter(|f| f.labels.is_empty()) {
        let g = Stat::global(f);
        assert_eq!(Stat::from_key(&g.key()), Some(g));
        assert_eq!(Stat::parse(&g.envoy_name()), Some(g));
    }
}

/// veerctl keys its snapshots and recorded baselines by the names the filter had before.
#[test]
fn the_short_keys_are_the_old_names() {
    for (key, name) in [
        ("rq.web.v1", "veer.requests_total.web.v1"),
        ("split.web.v1", "veer.split_requests_total.web.v1"),
        ("rs.web.v1.5xx", "veer.responses_total.web.v1.5xx"),
        (
            "latency_us.web.v1",
            "veer.response_latency_microseconds.web.v1",
        ),
        ("rule.web.beta", "veer.rule_requests_total.web.beta"),
        ("exp.web.e.a", "veer.experiment_requests_total.web.e.a"),
        ("config.version", "veer.config_version"),
        ("config.accepted", "veer.config_accepted_total"),
        ("config.rejected", "veer.config_rejected_total"),
        ("passthrough", "veer.passthrough_requests_total"),
        (
            "spoofed_header_removed",
            "veer.spoofed_headers_removed_total",
        ),
        ("override.accepted", "veer.override_accepted_total"),
        ("override.rejected", "veer.override_rejected_total"),
        ("cookie.assigned", "veer.cookies_assigned_total"),
    ] {
        assert_eq!(Stat::from_key(key).map(|s| s.name()).as_deref(), Some(name));
    }
    assert_eq!(Stat::from_key("rq.web"), None);
    assert_eq!(Stat::from_key("nope.web.v1"), None);
    assert_eq!(Stat::from_key("rs.web.v1.6xx"), None);
}

#[test]
fn prometheus_selectors_carry_the_labels_in_order() {
    assert_eq!(
        Stat::experiment_requests("web", "checkout", "a").prometheus_selector(),
        r#"veer_experiment_requests_total{service="web",experiment="checkout",arm="a"}"#
    );
    assert_eq!(
        Stat::responses("web", "v2", StatusClass::of(b"503")).envoy_name(),
        "wasmcustom.veer.responses_total.web.v2.5xx"
    );
    assert_eq!(
        Stat::global(&CONFIG_VERSION).prometheus_selector(),
        "veer_config_version"
    );
    let s = Stat::goal_users("web", "checkout", "b", "buy");
    assert_eq!(s.value(Label::Goal), Some("buy"));
    assert_eq!(s.value(Label::Variant), None);
}

#[test]
fn foreign_and_malformed_names_do_not_parse() {
    for name in [
        "cluster.web_v1.upstream_rq_5xx",
        "wasmcustom.other.requests_total.a.b",
        "veer.requests_total.web",
        "veer.requests_total.web.v1.extra",
        "veer.responses_total.web.v1.6xx",
        "veer.responses_total.web.v1.2XX",
        "veer.requests_total..v1",
        "veer.unknown_total",
        "veer.config_version.x",
        "veer.requests_total",
        "veer.rq.web.v1",
        "veer",
    ] {
        assert_eq!(Stat::parse(name), None, "{name}");
    }
}

#[test]
fn status_classes_come_from_the_first_digit_and_nonsense_is_a_server_error() {
    for (status, class) in [
        (&b"200"[..], "2xx"),
        (b"101", "1xx"),
        (b"302", "3xx"),
        (b"404", "4xx"),
        (b"503", "5xx"),
        (b"999", "5xx"),
        (b"", "5xx"),
        (b"0", "5xx"),
        (b"\xff\xff\xff", "5xx"),
    ] {
        assert_eq!(StatusClass::of(status).as_str(), class, "{status:?}");
    }
    assert_eq!(StatusClass::of(b"404").index(), 3);
}

#[test]
fn family_names_and_keys_are_unique_and_prometheus_shaped() {
    let mut names: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), FAMILIES.len(), "family names are unique");
    let mut keys: Vec<&str> = FAMILIES.iter().map(|f| f.key).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), FAMILIES.len(), "keys are unique");
    for f in FAMILIES {
        let ok = f.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        assert!(ok, "{}", f.name);
        assert_eq!(
            f.kind == Kind::Counter,
            f.name.ends_with("_total"),
            "counters, and only they, end in _total: {}",
            f.name
        );
    }
}

#[test]
fn one_tag_per_label_each_position_an_alternative() {
    let tags = stats_tags();
    let names: Vec<&str> = tags.iter().map(|t| t.tag_name).collect();
    assert_eq!(
        names,
        [
            "service",
            "variant",
            "status_class",
            "rule",
            "experiment",
            "arm",
            "goal"
        ]
    );
    let prefix = r"^(?:wasmcustom|dynamicmodulescustom)\.veer\.";
    assert_eq!(
        tags[1].regex,
        format!(
            r"{prefix}(?:(?:requests_total|split_requests_total|responses_total|response_latency_microseconds)\.[^.]+)(\.([^.]+))"
        )
    );
    assert_eq!(
        tags[2].regex,
        format!(
            r"{prefix}(?:(?:responses_total)\.[^.]+\.[^.]+|(?:arm_responses_total)\.[^.]+\.[^.]+\.[^.]+)(\.([^.]+))"
        )
    );
}

/// The README's table of metrics, one row per family, as [`FAMILIES`] defines them.
fn readme_table() -> String {
    let mut rows = vec![
        "| Prometheus (with the tags) | type | `/stats` name (after `wasmcustom.`) | meaning |"
            .to_owned(),
        "| --- | --- | --- | --- |".to_owned(),
    ];
    for f in FAMILIES {
        let labels: Vec<&str> = f.labels.iter().map(|l| l.name()).collect();
        let prometheus = if labels.is_empty() {
            f.prometheus_name()
        } else {
            format!("{}{{{}}}", f.prometheus_name(), labels.join(","))
        };
        let parts: String = labels.iter().map(|l| format!(".<{l}>")).collect();
        rows.push(format!(
            "| `{prometheus}` | {} | `{NAMESPACE}.{}{parts}` | {} |",
            f.kind.prometheus_type(),
            f.name,
            f.help
        ));
    }
    rows.join("\n")
}

/// The README documents every metric, by the names and meaning defined here, so that a rename
/// or a new family cannot leave it behind.
#[test]
fn the_readme_lists_every_family_as_defined() {
    let readme = include_str!("../../../README.md");
    let table = readme_table();
    assert!(
        readme.contains(&table),
        "README.md's metrics table should read:\n{table}"
    );
}
