//! Each fact of an error once: veer-k8s's message says what failed and what to do, the cause
//! stays in `source()`, so a CLI that prints the chain (`caused by: ...`) repeats nothing.

use std::error::Error as _;

use kube::core::Status;
use veer_k8s::Error;

fn api_error() -> Box<kube::Error> {
    Box::new(kube::Error::Api(Box::new(
        Status::failure(
            "deployments.apps \"web\" is forbidden: user cannot get",
            "Forbidden",
        )
        .with_code(403),
    )))
}

#[test]
fn the_cause_is_in_the_source_and_not_repeated_in_the_message() {
    let json_error = serde_json::from_str::<u32>("\"x\"").expect_err("not a number");
    let json_text = json_error.to_string();
    let errors = [
        Error::Read {
            what: "Deployment demo/web".into(),
            source: api_error(),
        },
        Error::Write {
            what: "apply Deployment demo/web".into(),
            source: api_error(),
        },
        Error::PortForward {
            pod: "web-1".into(),
            port: 15000,
            source: api_error(),
        },
        Error::PluginConfig {
            name: "veer".into(),
            source: json_error,
        },
    ];
    for e in &errors {
        let message = e.to_string();
        let cause = e.source().expect("a source").to_string();
        assert!(
            !message.contains("is forbidden") && !message.contains(&json_text),
            "the cause is repeated in the message: {message}"
        );
        assert!(
            cause.contains("is forbidden") || cause == json_text,
            "{cause}"
        );
    }
    assert_eq!(errors[0].to_string(), "failed to read Deployment demo/web");
    assert!(
        errors[3].to_string().ends_with(
            "fix it with `kubectl edit wasmplugin veer` or reinstall with `veerctl mesh install`"
        ),
        "{}",
        errors[3]
    );
}

#[test]
fn an_invalid_config_names_its_problems_in_the_source_only() {
    let mut config = veer_k8s::manifests::demo_config();
    config.services[0].split.insert("v2".into(), 5000);
    let problems = veer_filter::Config::from_wire(&config).expect_err("invalid split");
    let e = Error::InvalidConfig(problems);
    assert_eq!(
        e.to_string(),
        "failed to validate the routing config, nothing was sent"
    );
    assert!(e.source().expect("problems").to_string().contains("split"));
}

/// The chain as one text: each cause once, also kube's, whose message repeats its own source.
#[test]
fn the_chain_says_each_cause_once() {
    let e = Error::Read {
        what: "Deployment demo/web".into(),
        source: api_error(),
    };
    let text = e.chain_with("\ncaused by: ");
    assert!(
        text.starts_with("failed to read Deployment demo/web\ncaused by: ApiError: "),
        "{text}"
    );
    assert_eq!(text.matches("caused by: ").count(), 1, "{text}");
}
