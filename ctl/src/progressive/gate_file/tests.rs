//! Gate files: a good one read into its parts, and every kind of mistake reported with its line
//! and field, all at once.

use super::*;

const GOOD: &str = r#"
prometheus: http://127.0.0.1:9090
namespace: shop
gates:
  - name: error-ratio
    query: |
      sum(rate(errors{app="{{ service }}",version="{{ variant }}"}[{{ window }}]))
    condition: "< 0.01"
  - name: throughput
    query: sum(rate(requests{app="{{ service }}"}[{{ window }}]))
    condition: between 10 1000
    on_failure: halt
hooks:
  - name: load-test
    type: before-step
    url: http://127.0.0.1:8080/load
    timeout: 30s
    metadata:
      cmd: hey -z 1m http://web/
  - name: approve
    type: confirm-promotion
    url: https://approvals.example/web
    retry: 2s
  - name: notify
    type: rolled-back
    url: http://127.0.0.1:8080/notify
"#;

#[test]
fn a_good_file_is_read_into_gates_and_hooks() {
    let f = parse(GOOD, "gates.yaml").unwrap();
    assert_eq!(f.prometheus.as_deref(), Some("http://127.0.0.1:9090"));
    assert_eq!(f.namespace.as_deref(), Some("shop"));
    assert_eq!(f.gates.len(), 2);
    assert_eq!(f.gates[0].condition, Condition::Below(0.01));
    assert_eq!(f.gates[0].on_failure, Action::Rollback);
    assert_eq!(f.gates[1].condition, Condition::Between(10.0, 1000.0));
    assert_eq!(f.gates[1].on_failure, Action::Halt);
    assert!(!f.uses_namespace());
    let load = &f.hooks[0];
    assert_eq!(
        (load.kind, load.blocking, load.on_failure, load.timeout),
        (
            HookType::BeforeStep,
            true,
            Action::Halt,
            Duration::from_secs(30)
        )
    );
    assert_eq!(load.metadata["cmd"], "hey -z 1m http://web/");
    assert_eq!(f.hooks[1].retry, Duration::from_secs(2));
    assert_eq!(f.hooks[1].timeout, HOOK_TIMEOUT);
    assert!(!f.hooks[1].blocking && !f.hooks[2].blocking);
    assert_eq!(f.hooks(HookType::RolledBack).count(), 1);
}

/// Every problem of a file, each with its line and field, in line order.
#[test]
fn every_mistake_is_reported_with_its_line_and_field() {
    let bad = r#"
prometheus: prometheus:9090
gates:
  - name: error-ratio
    query: sum(rate(errors{app="{{ target }}"}[5m]))
    condition: "< 1%"
  - name: error-ratio
    query: up
    condition: between 2 1
  - name: p99
    query: up
    condition: "> 1"
hooks:
  - name: notify
    type: promoted
    url: http://127.0.0.1:1/
    blocking: true
  - name: smoke
    type: after-step
    url: http://127.0.0.1:1/
    timeout: soon
    retry: 1s
  - name: page
    type: after-step
    url: http://127.0.0.1:1/
    on_failure: abort
"#;
    let err = parse(bad, "gates.yaml").unwrap_err();
    assert_eq!(err.exit_code(), 3);
    let text = err.to_string();
    let expected = [
        "gates.yaml: the gate file is invalid, nothing was changed",
        "  line 2: prometheus: `prometheus:9090` is not an http:// or https:// URL",
        "  line 5: gates[0].query: unknown placeholder `{{ target }}`; there are {{ service }}",
        "  line 6: gates[0].condition: `1%` is not a number",
        "  line 7: gates[1].name: `error-ratio` is used twice; names must be unique",
        "  line 9: gates[1].condition: between 2 1: the lower bound comes first",
        "  line 10: gates[2].name: `p99` is a built-in gate's name; choose another",
        "  line 17: hooks[0].blocking: a promoted hook cannot block: it is called after the fact",
        "  line 21: hooks[1].timeout: not a duration",
        "  line 22: hooks[1].retry: only approvals (confirm-step, confirm-promotion) are asked again",
        "  line 26: hooks[2].on_failure: `abort` is not an action: `rollback` or `halt`",
    ];
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{text}");
    for (line, want) in lines.iter().zip(expected) {
        assert!(
            line.starts_with(want),
            "{line}\n  does not start with\n{want}"
        );
    }
}

/// Mistakes serde finds (unknown fields, wrong types, missing fields) come with their line and
/// field too, and so does an unknown hook type.
#[test]
fn decode_problems_name_line_and_field() {
    let bad = "gates:\n  - name: x\n    query: up\n    conditon: '< 1'\nhooks:\n  - name: h\n    type: before\n    url: http://a/\n  - name: i\n    url: http://b/\n    timeout: 5\n";
    let text = parse(bad, "g.yaml").unwrap_err().to_string();
    for want in [
        "line 2: gates[0]: missing field `condition`",
        "line 4: gates[0].conditon: unknown field `conditon`",
        "line 9: hooks[1]: missing field `type`",
        "line 11: hooks[1].timeout: invalid type: integer `5`, expected a string",
    ] {
        assert!(text.contains(want), "{want:?} in:\n{text}");
    }
    let text = parse(
        "hooks:\n  - name: h\n    type: before\n    url: http://a/\n",
        "g.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        text.contains("line 3: hooks[0].type: `before` is not a hook type: before-step, confirm-step, after-step"),
        "{text}"
    );
    let text = parse("gates: [\n", "g.yaml").unwrap_err().to_string();
    assert!(text.contains("line 2: $: not valid JSON or YAML"), "{text}");
    let text = parse("- a\n", "g.yaml").unwrap_err().to_string();
    assert!(text.contains("line 1: $: a gate file is a map"), "{text}");
}

#[test]
fn gates_need_a_prometheus_address() {
    let text = parse(
        "gates:\n  - {name: x, query: up, condition: '< 1'}\n",
        "g.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        text.contains("line 1: gates: the gates query Prometheus: give its address as `prometheus: http://HOST:9090`"),
        "{text}"
    );
    // Hooks alone need none.
    let f = parse(
        "hooks:\n  - {name: h, type: after-step, url: 'http://a/'}\n",
        "g.yaml",
    )
    .unwrap();
    assert!(f.gates.is_empty() && f.prometheus.is_none());
}
