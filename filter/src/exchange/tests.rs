use std::cell::{Cell, RefCell};

use super::*;
use crate::metrics::{self, Stat};
use crate::signing;

const KEY: &str = "test-key-0123456789";

fn generation(extra: &str) -> Generation {
    let text = format!(
        r#"{{ {extra} "stickiness": {{"sources": [{{"cookie": "uid"}}]}},
        "override": {{"enabled": true, "keys": ["{KEY}"]}},
        "services": [{{"name": "web", "hosts": ["web.test"],
          "variants": [{{"name": "v1", "cluster": "c1"}}, {{"name": "v2", "cluster": "c2"}}],
          "split": {{"v1": 10000}},
          "experiments": [{{"id": "e", "segment": {{"header": "x-exp", "present": true}},
            "arms": [{{"name": "a", "variant": "v2", "weight": 10000}},
                     {{"name": "b", "variant": "v1", "weight": 0}}]}}]}},
          {{"name": "shop", "hosts": ["shop.test"],
          "stickiness": {{"sources": [{{"cookie": "sid"}}], "assign_cookie": {{"name": "sid"}}}},
          "variants": [{{"name": "s1", "cluster": "sc1"}}], "split": {{"s1": 10000}}}}]}}"#
    );
    Generation::new(Config::from_json(&text).unwrap())
}

/// What a phase counted, by name.
#[derive(Default)]
struct Counted(RefCell<Vec<Slot>>);

impl Counted {
    fn names(&self, g: &Generation) -> Vec<String> {
        let mut names: Vec<String> = self
            .0
            .take()
            .into_iter()
            .map(|s| g.layout.counters[s.0].clone())
            .collect();
        names.sort();
        names
    }
}

/// Runs the request phase; also says whether the clock was read.
fn request<'g>(
    g: &'g Generation,
    pairs: &[(&str, &str)],
    counted: &Counted,
) -> (RequestOutcome<'g>, bool) {
    let headers: Vec<(String, Vec<u8>)> = pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
        .collect();
    let clock = Cell::new(false);
    let mut now = || {
        clock.set(true);
        1_000
    };
    let mut random = || 42;
    let mut count = |s: Slot| counted.0.borrow_mut().push(s);
    let host = Host {
        now_unix: &mut now,
        random: &mut random,
        count: &mut count,
    };
    let out = on_request(g, RequestView::new(&headers), host);
    (out, clock.get())
}

fn respond<'g>(
    g: &'g Generation,
    plan: ResponsePlan,
    status: Option<&[u8]>,
    elapsed: Option<u64>,
    counted: &Counted,
) -> ResponseOutcome<'g> {
    on_response(g, plan, status, elapsed, &mut |s| {
        counted.0.borrow_mut().push(s)
    })
}

fn written(w: &Writes<'_>) -> Vec<(String, String)> {
    w.iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

fn pair(n: &str, v: &str) -> (String, String) {
    (n.to_owned(), v.to_owned())
}

fn global(f: &'static metrics::Family) -> String {
    Stat::global(f).name()
}

#[test]
fn a_routed_request_writes_only_the_cluster_header_and_reads_no_clock() {
    let g = generation(r#""metrics": {"responses": false},"#);
    let counted = Counted::default();
    let (out, clock) = request(
        &g,
        &[(":authority", "web.test"), ("cookie", "uid=u1")],
        &counted,
    );
    assert_eq!(written(&out.add), [pair("x-veer-cluster", "c1")]);
    assert!(out.strip.is_empty());
    assert!(out.response.is_none(), "nothing to send or record");
    assert!(!clock);
    assert_eq!(
        counted.names(&g),
        [
            Stat::requests("web", "v1").name(),
            Stat::split_requests("web", "v1").name()
        ]
    );
}

#[test]
fn the_variant_header_goes_upstream_only_when_the_config_asks() {
    let g = generation(r#""headers": {"expose_variant_to_upstream": true},"#);
    let (out, _) = request(
        &g,
        &[(":authority", "web.test"), ("cookie", "uid=u1")],
        &Counted::default(),
    );
    assert_eq!(
        written(&out.add),
        [pair("x-veer-cluster", "c1"), pair("x-veer-variant", "v1")]
    );
}

#[test]
fn spoofed_owned_headers_are_stripped_counted_and_unseen_by_the_engine() {
    let g = generation(r#""metrics": {"responses": false},"#);
    let counted = Counted::default();
    let (out, _) = request(
        &g,
        &[
            (":authority", "web.test"),
            ("cookie", "uid=u1"),
            ("x-veer-cluster", "c2"),
            ("x-veer-variant", "v2"),
            ("x-veer-experiment", "e=a"),
        ],
        &counted,
    );
    assert_eq!(
        out.strip,
        ["x-veer-cluster", "x-veer-variant", "x-veer-experiment"]
    );
    assert_eq!(written(&out.add), [pair("x-veer-cluster", "c1")]);
    let spoofed = global(&metrics::SPOOFED_HEADERS);
    let names = counted.names(&g);
    assert_eq!(
        names.iter().filter(|n| **n == spoofed).count(),
        3,
        "{names:?}"
    );
}

#[test]
fn an_override_is_stripped_and_only_it_reads_the_clock() {
    let g = generation(r#""metrics": {"responses": false},"#);
    let token = signing::sign(KEY.as_bytes(), "web", "v2", 5_000);
    let counted = Counted::default();
    let (out, clock) = request(
        &g,
        &[
            (":authority", "web.test"),
            ("cookie", "uid=u1"),
            ("x-veer-override", token.as_str()),
        ],
        &counted,
    );
    assert!(clock);
    assert_eq!(out.strip, ["x-veer-override"]);
    assert_eq!(written(&out.add), [pair("x-veer-cluster", "c2")]);
    assert!(counted
        .names(&g)
        .contains(&global(&metrics::OVERRIDE_ACCEPTED)));
}

#[test]
fn a_request_for_no_service_writes_nothing_and_counts_a_passthrough() {
    let g = generation("");
    let counted = Counted::default();
    let (out, clock) = request(
        &g,
        &[(":authority", "other.test"), ("x-veer-override", "x")],
        &counted,
    );
    assert!(out.add.is_empty() && out.response.is_none());
    assert_eq!(
        out.strip,
        ["x-veer-override"],
        "the override never reaches an app"
    );
    assert!(clock);
    assert_eq!(
        counted.names(&g),
        [
            global(&metrics::OVERRIDE_REJECTED),
            global(&metrics::PASSTHROUGH)
        ]
    );
}

#[test]
fn an_enrolled_request_carries_its_assignment_both_ways() {
    let g = generation(r#""metrics": {"responses": false},"#);
    let counted = Counted::default();
    let (out, _) = request(
        &g,
        &[
            (":authority", "web.test"),
            ("cookie", "uid=u1"),
            ("x-exp", "1"),
        ],
        &counted,
    );
    assert_eq!(
        written(&out.add),
        [
            pair("x-veer-cluster", "c2"),
            pair("x-veer-experiment", "e=a")
        ]
    );
    let plan = out.response.expect("the assignment goes back");
    assert!(!plan.records());
    let rsp = respond(&g, plan, None, None, &counted);
    assert_eq!(written(&rsp.set), [pair("x-veer-experiment", "e=a")]);
    assert!(rsp.add.is_empty() && rsp.latency.is_none());
    assert!(counted
        .names(&g)
        .contains(&Stat::experiment_requests("web", "e", "a").name()));
}

#[test]
fn a_minted_id_is_set_as_a_cookie_and_counted_in_the_response_phase() {
    let g = generation(r#""metrics": {"responses": false},"#);
    let counted = Counted::default();
    let (out, _) = request(&g, &[(":authority", "shop.test")], &counted);
    counted.0.take();
    let rsp = respond(
        &g,
        out.response.expect("a cookie to set"),
        None,
        None,
        &counted,
    );
    let added = written(&rsp.add);
    assert_eq!(added.len(), 1);
    assert_eq!(added[0].0, "set-cookie");
    assert!(added[0].1.starts_with("sid="), "{added:?}");
    assert_eq!(counted.names(&g), [global(&metrics::COOKIES_ASSIGNED)]);
}

#[test]
fn recorded_responses_are_counted_by_class_with_their_latency() {
    let g = generation(r#""headers": {"expose_variant_to_client": true},"#);
    let counted = Counted::default();
    for status in [Some(&b"200"[..]), Some(b"503"), None] {
        let (out, _) = request(
            &g,
            &[(":authority", "web.test"), ("cookie", "uid=u1")],
            &counted,
        );
        let plan = out.response.expect("responses are recorded");
        assert!(plan.records());
        let rsp = respond(&g, plan, status, Some(250), &counted);
        assert_eq!(written(&rsp.set), [pair("x-veer-variant", "v1")]);
        let latency = rsp.latency.unwrap();
        assert_eq!(latency.arm, None, "one arm per variant");
        assert_eq!(
            (g.layout.histograms[latency.variant.0].clone(), latency.us),
            (Stat::latency("web", "v1").name(), 250)
        );
    }
    let names = counted.names(&g);
    let class = |status: &[u8]| Stat::responses("web", "v1", StatusClass::of(status)).name();
    assert_eq!(names.iter().filter(|n| **n == class(b"200")).count(), 1);
    assert_eq!(names.iter().filter(|n| **n == class(b"503")).count(), 2);
}

/// `banner`'s arms share a variant and are judged on a goal served by another service (`api`).
const GOALS: &str = r#"{
  "stickiness": {"sources": [{"cookie": "uid"}]},
  "goals": [{"name": "signup", "match": {"path_prefix": "/signup"}, "status": "2xx"}],
  "services": [
    {"name": "api", "hosts": ["api.test"],
     "variants": [{"name": "v1", "cluster": "api-v1"}], "split": {"v1": 10000}},
    {"name": "web", "hosts": ["web.test"],
     "variants": [{"name": "stable", "cluster": "web-v1"}],
     "experiments": [{"id": "banner",
        "arms": [{"name": "off", "variant": "stable", "weight": 0}, {"name": "on", "variant": "stable", "weight": 10000}],
        "goals": ["signup"]}],
     "split": {"stable": 10000}}
  ]
}"#;

#[test]
fn arms_that_share_a_variant_record_their_responses_beside_the_variants() {
    let g = Generation::new(Config::from_json(GOALS).unwrap());
    let counted = Counted::default();
    let (out, _) = request(
        &g,
        &[(":authority", "web.test"), ("cookie", "uid=u1")],
        &counted,
    );
    let plan = out.response.expect("responses are recorded");
    assert!(plan.records() && plan.wants_status());
    counted.0.take();
    let rsp = respond(&g, plan, Some(b"503"), Some(40), &counted);
    let latency = rsp.latency.unwrap();
    let histograms: Vec<&str> = latency
        .histograms()
        .map(|h| g.layout.histograms[h.0].as_str())
        .collect();
    assert_eq!(
        histograms,
        [
            Stat::latency("web", "stable").name(),
            Stat::arm_latency("web", "banner", "on").name()
        ]
    );
    let class = StatusClass::SERVER_ERROR;
    let names = counted.names(&g);
    for want in [
        Stat::responses("web", "stable", class).name(),
        Stat::arm_responses("web", "banner", "on", class).name(),
        Stat::experiment_users("web", "banner", "on").name(),
    ] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    let cookies = written(&rsp.add);
    assert!(
        cookies.iter().any(|(n, _)| n == "set-cookie"),
        "the marks cookie records the exposure: {cookies:?}"
    );
}

#[test]
fn a_goal_request_on_another_service_counts_for_the_users_arm_once_its_status_fits() {
    let g = Generation::new(Config::from_json(GOALS).unwrap());
    let counted = Counted::default();
    // The page: the user is exposed to `on`; the marks cookie comes back.
    let (out, _) = request(
        &g,
        &[(":authority", "web.test"), ("cookie", "uid=u1")],
        &counted,
    );
    let rsp = respond(&g, out.response.unwrap(), Some(b"200"), Some(1), &counted);
    let marks = written(&rsp.add)
        .into_iter()
        .find(|(n, _)| n == "set-cookie")
        .map(|(_, v)| v.split(';').next().unwrap_or_default().to_owned())
        .expect("a marks cookie");
    counted.0.take();
    let cookie = format!("uid=u1; {marks}");
    let goal = [
        (":authority", "api.test"),
        (":path", "/signup"),
        ("cookie", cookie.as_str()),
    ];
    // A failed goal request counts for nothing.
    let (out, _) = request(&g, &goal, &counted);
    let plan = out.response.expect("a goal request waits for its status");
    assert!(plan.wants_status());
    counted.0.take();
    respond(&g, plan, Some(b"500"), None, &counted);
    let api_5xx = Stat::responses("api", "v1", StatusClass::SERVER_ERROR).name();
    assert_eq!(counted.names(&g), [api_5xx], "api's own response, no goal");
    // A fitting one counts a goal request and converts the exposed user.
    let (out, _) = request(&g, &goal, &counted);
    counted.0.take();
    let rsp = respond(&g, out.response.unwrap(), Some(b"201"), None, &counted);
    let api_2xx = Stat::responses("api", "v1", StatusClass::of(b"201")).name();
    let mut want = vec![
        api_2xx,
        Stat::goal_requests("web", "banner", "on", "signup").name(),
        Stat::goal_users("web", "banner", "on", "signup").name(),
    ];
    want.sort();
    assert_eq!(counted.names(&g), want);
    assert_eq!(written(&rsp.add).len(), 1, "the conversion mark goes back");
}
