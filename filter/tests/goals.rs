//! Goal attribution: a goal request counts for the arm the same user was given, wherever it
//! arrives, and only for users the experiment enrolled.

// Tests may panic: the no-panic rule (filter/Cargo.toml) is for the code Envoy runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![cfg(not(target_arch = "wasm32"))]

use veer_filter::config::StatusClass;
use veer_filter::decide::DecidedBy;
use veer_filter::goals::count::{Counts, Pending};
use veer_filter::goals::{hits, reaches_any};
use veer_filter::marks::Marks;
use veer_filter::{decide, Config, Inputs, RequestView};

/// `web` runs two experiments judged on goals served by another service (`api`, another host):
/// `checkout` for everyone (40 % enrolled), `banner` only for German users.
const CONFIG: &str = r#"{
  "stickiness": {"sources": [{"cookie": "uid"}, {"header": "x-user-id"}]},
  "goals": [
    {"name": "purchase", "match": {"all": [{"method": "POST"}, {"path_prefix": "/api/buy"}]}, "status": "2xx"},
    {"name": "signup", "match": {"path_prefix": "/signup"}}
  ],
  "services": [
    {"name": "api", "hosts": ["api.example.com"],
     "variants": [{"name": "v1", "cluster": "api-v1"}], "split": {"v1": 10000}},
    {"name": "web", "hosts": ["www.example.com"],
     "variants": [{"name": "stable", "cluster": "web-v1"}, {"name": "new", "cluster": "web-v2"}],
     "experiments": [
       {"id": "banner", "segment": {"header": "x-country", "equals": "de"},
        "arms": [{"name": "off", "variant": "stable", "weight": 5000}, {"name": "on", "variant": "stable", "weight": 5000}],
        "goals": ["signup"]},
       {"id": "checkout", "allocation": 4000,
        "arms": [{"name": "control", "variant": "stable", "weight": 5000}, {"name": "one-click", "variant": "new", "weight": 5000}],
        "goals": ["purchase", "signup"], "primary_goal": "purchase"}
     ],
     "split": {"stable": 10000}}
  ]
}"#;

fn config() -> Config {
    Config::from_json(CONFIG).unwrap_or_else(|e| panic!("{e}"))
}

fn view(pairs: &[(&str, String)]) -> Vec<(String, Vec<u8>)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect()
}

/// The experiment and arm the page request of `uid` is decided into, if any.
fn page_arm(c: &Config, uid: &str, country: &str) -> Option<(String, String)> {
    let h = view(&[
        (":authority", "www.example.com".into()),
        (":path", "/".into()),
        ("cookie", format!("uid={uid}")),
        ("x-country", country.into()),
    ]);
    let mut random = || 0;
    let d = decide(
        c,
        &RequestView::new(&h),
        Inputs {
            now_unix: 0,
            random: &mut random,
        },
    )?;
    match d.by {
        DecidedBy::Experiment {
            experiment, arm, ..
        } => Some((experiment.id.to_string(), arm.name.to_string())),
        _ => None,
    }
}

/// A purchase on the API host by `uid`, carrying `marks`.
fn purchase(uid: &str, marks: &str) -> Vec<(String, Vec<u8>)> {
    view(&[
        (":authority", "api.example.com".into()),
        (":method", "POST".into()),
        (":path", "/api/buy?item=1".into()),
        ("cookie", format!("uid={uid}; veer_marks={marks}")),
    ])
}

fn exposure_marks(c: &Config, experiment: &str) -> String {
    let exp = c.services[1]
        .experiments
        .iter()
        .find(|e| e.id.as_str() == experiment)
        .unwrap();
    exp.exposure.token()
}

#[test]
fn a_goal_on_another_host_counts_for_the_arm_the_user_got() {
    let c = config();
    let marked = exposure_marks(&c, "checkout");
    let (mut enrolled, mut arms) = (0, std::collections::BTreeSet::new());
    for n in 0..2000 {
        let uid = format!("user-{n}");
        let page = page_arm(&c, &uid, "fr");
        let h = purchase(&uid, &marked);
        let req = RequestView::new(&h);
        assert!(reaches_any(&c, &req));
        let got: Vec<(String, String, String, bool)> =
            hits(&c, &req, &Marks::parse(marked.as_bytes()))
                .iter()
                .map(|h| {
                    (
                        h.goal.name.to_string(),
                        h.experiment.id.to_string(),
                        h.arm.name.to_string(),
                        h.exposed,
                    )
                })
                .collect();
        // A marked user is attributed whatever the allocation: the page decided, the mark says so.
        let Some((exp, arm)) = page else {
            assert_eq!(got.len(), 1, "{uid}: {got:?}");
            continue;
        };
        enrolled += 1;
        arms.insert(arm.clone());
        assert_eq!(
            got,
            vec![("purchase".to_owned(), exp, arm, true)],
            "{uid} got its page decided into one arm and its purchase attributed to another"
        );
    }
    // 40 % allocation: about 800 of 2000, both arms present.
    assert!((700..=900).contains(&enrolled), "{enrolled}");
    assert_eq!(arms.len(), 2);
}

#[test]
fn without_the_exposure_mark_only_the_allocation_of_a_segment_free_experiment_attributes() {
    let c = config();
    let mut attributed = 0;
    for n in 0..2000 {
        let uid = format!("user-{n}");
        let h = purchase(&uid, "");
        let found = hits(&c, &RequestView::new(&h), &Marks::default());
        // Not marked: never a converted user; attributed exactly when the key is enrolled.
        assert!(found.iter().all(|h| !h.exposed));
        let page = page_arm(&c, &uid, "fr");
        assert_eq!(
            found
                .first()
                .map(|h| (h.experiment.id.to_string(), h.arm.name.to_string())),
            page,
            "{uid}"
        );
        attributed += found.len();
    }
    assert!((700..=900).contains(&attributed), "{attributed}");

    // `banner` has a segment: a signup by an unmarked user is not attributed to it, however
    // the user's key falls; with the mark it is.
    let signup = |marks: &str| {
        view(&[
            (":authority", "www.example.com".into()),
            (":path", "/signup".into()),
            ("x-user-id", "user-7".into()),
            ("cookie", format!("veer_marks={marks}")),
        ])
    };
    let experiments = |h: &Vec<(String, Vec<u8>)>, marks: &str| -> Vec<String> {
        hits(&c, &RequestView::new(h), &Marks::parse(marks.as_bytes()))
            .iter()
            .filter(|h| h.goal.name.as_str() == "signup")
            .map(|h| h.experiment.id.to_string())
            .collect()
    };
    let banner = exposure_marks(&c, "banner");
    assert!(!experiments(&signup(""), "").contains(&"banner".to_owned()));
    assert!(experiments(&signup(&banner), &banner).contains(&"banner".to_owned()));
}

#[test]
fn requests_that_reach_no_goal_or_carry_no_key_count_for_nothing() {
    let c = config();
    let marked = exposure_marks(&c, "checkout");
    for pairs in [
        // GET is not a purchase.
        vec![
            (":authority", "api.example.com".to_owned()),
            (":method", "GET".into()),
            (":path", "/api/buy".into()),
            ("cookie", format!("uid=u1; veer_marks={marked}")),
        ],
        // No key: nobody to attribute it to.
        vec![
            (":authority", "api.example.com".into()),
            (":method", "POST".into()),
            (":path", "/api/buy".into()),
            ("cookie", format!("veer_marks={marked}")),
        ],
    ] {
        let h = view(&pairs);
        assert!(hits(&c, &RequestView::new(&h), &Marks::parse(marked.as_bytes())).is_empty());
    }
}

#[test]
fn goals_know_their_experiments_and_status_classes() {
    let c = config();
    let purchase = &c.goals[0];
    assert_eq!(purchase.status, StatusClass::parse("2xx"));
    assert_eq!(purchase.judged_by.len(), 1);
    assert_eq!(c.goals[1].judged_by.len(), 2);
    let checkout = &c.services[1].experiments[1];
    assert_eq!(checkout.goals, vec![0, 1]);
    assert_eq!(checkout.primary_goal, Some(0));
    assert_eq!(c.services[1].experiments[0].primary_goal, Some(1));
    let two = StatusClass::parse("2XX").unwrap();
    assert_eq!(StatusClass::of(b"204"), two);
    assert_eq!(StatusClass::of(b"503").digit(), 5);
    assert_eq!(StatusClass::of(b"").digit(), 5);
    assert_eq!(StatusClass::of(b"\xff").digit(), 5);
    for bad in ["200", "2x", "6xx", "", "xx2"] {
        assert_eq!(StatusClass::parse(bad), None, "{bad}");
    }
    assert!(c
        .marks
        .set_cookie_value("x")
        .starts_with("veer_marks=x; Max-Age=7776000; Path=/"));
}

/// What `req` counts, start to finish, with a response of `status`.
fn count(c: &Config, pairs: &[(&str, String)], status: &[u8]) -> Counts {
    let h = view(pairs);
    let req = RequestView::new(&h);
    let mut random = || 7;
    let d = decide(
        c,
        &req,
        Inputs {
            now_unix: 0,
            random: &mut random,
        },
    );
    Pending::on_request(c, d.as_ref(), &req)
        .map(|p| p.on_response(c, status))
        .unwrap_or_default()
}

/// The marks a `set-cookie` value carries (what the client sends back next).
fn marks_of(counts: &Counts) -> String {
    let set = counts.set_cookie.as_deref().expect("a set-cookie");
    let value = set.strip_prefix("veer_marks=").expect("the marks cookie");
    value.split(';').next().unwrap().to_owned()
}

fn page(uid: &str, marks: &str) -> Vec<(&'static str, String)> {
    vec![
        (":authority", "www.example.com".into()),
        (":path", "/".into()),
        ("cookie", format!("uid={uid}; veer_marks={marks}")),
    ]
}

fn buy(uid: &str, marks: &str) -> Vec<(&'static str, String)> {
    vec![
        (":authority", "api.example.com".into()),
        (":method", "POST".into()),
        (":path", "/api/buy".into()),
        ("cookie", format!("uid={uid}; veer_marks={marks}")),
    ]
}

/// A user enrolled in `checkout` (the first such of user-0, user-1, ...).
fn enrolled_user(c: &Config) -> String {
    (0..)
        .map(|n| format!("user-{n}"))
        .find(|u| page_arm(c, u, "fr").is_some())
        .unwrap()
}

/// A user is exposed once and converts once, however often they load pages and buy, as long as
/// they send back the marks they were given; every fitting goal request still counts as one.
#[test]
fn a_user_who_keeps_the_marks_is_exposed_once_and_converts_once() {
    let c = config();
    let uid = enrolled_user(&c);
    let first = count(&c, &page(&uid, ""), b"200");
    let arm = first.exposure.expect("a first exposure");
    assert_eq!((arm.service, arm.experiment), (1, 1));
    let marks = marks_of(&first);
    assert_eq!(
        marks,
        c.services[1].experiments[1].exposure.token(),
        "only the exposure mark"
    );

    let again = count(&c, &page(&uid, &marks), b"200");
    assert_eq!(
        again,
        Counts::default(),
        "a marked user is not exposed again"
    );

    let bought = count(&c, &buy(&uid, &marks), b"201");
    assert_eq!(bought.exposure, None);
    assert_eq!(bought.goal_requests.len(), 1);
    assert_eq!(bought.conversions, bought.goal_requests);
    let purchase = bought.conversions[0];
    assert_eq!((purchase.arm, purchase.slot), (arm, 0));
    let marks = marks_of(&bought);
    assert!(
        marks.starts_with(&format!("{}.", first_token(&c))),
        "{marks}"
    );

    let twice = count(&c, &buy(&uid, &marks), b"200");
    assert_eq!(
        twice.goal_requests,
        vec![purchase],
        "each goal request counts"
    );
    assert!(twice.conversions.is_empty(), "the user converted already");
    assert_eq!(twice.set_cookie, None, "nothing new to remember");
}

fn first_token(c: &Config) -> String {
    c.services[1].experiments[1].exposure.token()
}

/// A goal with a status class counts only fitting responses, and a user whose purchase failed
/// can still convert later; a client that drops its cookies is counted again each time.
#[test]
fn only_fitting_responses_count_and_cookieless_clients_count_per_request() {
    let c = config();
    let uid = enrolled_user(&c);
    let marks = first_token(&c);
    let failed = count(&c, &buy(&uid, &marks), b"503");
    assert_eq!(failed, Counts::default(), "a 5xx purchase is no purchase");
    let ok = count(&c, &buy(&uid, &marks), b"200");
    assert_eq!(ok.conversions.len(), 1);

    for _ in 0..3 {
        let cookieless = count(&c, &page(&uid, ""), b"200");
        assert!(cookieless.exposure.is_some(), "no marks: exposed again");
    }
}

/// An unmarked user enrolled by the allocation of a segment-free experiment adds a goal
/// request, never a converted user; a request that is a first exposure and a goal converts.
#[test]
fn unmarked_goal_requests_count_only_as_requests_and_a_first_exposure_can_convert() {
    let c = config();
    let uid = enrolled_user(&c);
    let unmarked = count(&c, &buy(&uid, ""), b"200");
    assert_eq!(unmarked.goal_requests.len(), 1);
    assert!(unmarked.conversions.is_empty());
    assert_eq!(unmarked.set_cookie, None);

    // `signup` is a goal on the experiment's own pages: the first page view that is a signup
    // exposes the user and converts them at once.
    let signup = vec![
        (":authority", "www.example.com".to_owned()),
        (":path", "/signup".into()),
        ("cookie", format!("uid={uid}")),
    ];
    let both = count(&c, &signup, b"200");
    assert!(both.exposure.is_some());
    assert_eq!(both.conversions.len(), 1);
    assert_eq!(
        both.conversions[0].slot, 1,
        "signup is checkout's second goal"
    );
    assert_eq!(marks_of(&both).split('.').count(), 2);
}

/// A request no measured experiment decides and that reaches no goal counts for nothing, and a
/// config without goals never counts anything.
#[test]
fn other_requests_count_for_nothing() {
    let c = config();
    let outsider = (0..)
        .map(|n| format!("user-{n}"))
        .find(|u| page_arm(&c, u, "fr").is_none())
        .unwrap();
    assert_eq!(count(&c, &page(&outsider, ""), b"200"), Counts::default());
    let plain = Config::from_json(
        r#"{"stickiness": {"sources": [{"cookie": "uid"}]}, "services": [{"name": "web",
            "variants": [{"name": "a", "cluster": "a"}, {"name": "b", "cluster": "b"}],
            "experiments": [{"id": "e", "arms": [{"name": "x", "variant": "a", "weight": 5000},
                                                 {"name": "y", "variant": "b", "weight": 5000}]}],
            "split": {"a": 10000}}]}"#,
    )
    .unwrap();
    assert!(!plain.services[0].experiments[0].measured());
    assert_eq!(count(&plain, &page("u", ""), b"200"), Counts::default());
}

/// Arms served by one variant get response metrics of their own; arms on distinct variants
/// are told apart by the variants' metrics.
#[test]
fn arms_sharing_a_variant_are_recognised() {
    let c = config();
    let web = &c.services[1];
    assert!(
        web.experiments[0].arms_share_variant(),
        "banner: both on stable"
    );
    assert!(
        !web.experiments[1].arms_share_variant(),
        "checkout: stable and new"
    );
}
