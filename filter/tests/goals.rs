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
