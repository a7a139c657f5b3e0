//! A/B experiments per segment: assignment is sticky, allocation is respected, and the
//! assignment is exposed to the app (request header) and to the client (response header).

use serde_json::json;

use crate::support::{assert_within_tolerance, web_config, Rig};

#[test]
fn experiment_assignment_and_exposure_headers() {
    let mut config = web_config(1, &[("v1", 10000)]);
    config["services"][0]["experiments"] = json!([{
        "id": "checkout",
        "segment": { "header": "x-country", "equals": "de" },
        "allocation": 5000,
        "arms": [
            { "name": "control", "variant": "v1", "weight": 5000 },
            { "name": "one-click", "variant": "v2", "weight": 5000 }
        ]
    }]);
    let rig = Rig::start(&config);

    let users = 2000;
    let (mut enrolled, mut treatment) = (0u64, 0u64);
    for i in 0..users {
        let uid = format!("exp-{i}");
        let cookie = format!("uid={uid}");
        let headers: [(&str, &[u8]); 2] = [("cookie", cookie.as_bytes()), ("x-country", b"de")];
        let reply = rig.client.get("/", &headers).unwrap();
        assert_eq!(reply.status, 200);
        match reply.header("x-veer-experiment") {
            Some(assignment) => {
                enrolled += 1;
                // The app was told the same thing the client was.
                assert_eq!(
                    reply.seen("x-veer-experiment"),
                    Some(assignment),
                    "user {uid}"
                );
                let want = match assignment {
                    "checkout=control" => "v1",
                    "checkout=one-click" => {
                        treatment += 1;
                        "v2"
                    }
                    other => panic!("unexpected assignment {other}"),
                };
                assert_eq!(reply.served_by(), want, "user {uid} in {assignment}");
                // Sticky: the same user gets the same assignment again.
                let again = rig.client.get("/", &headers).unwrap();
                assert_eq!(again.header("x-veer-experiment"), Some(assignment));
            }
            None => {
                assert_eq!(reply.served_by(), "v1", "not enrolled: default split");
                assert_eq!(reply.seen("x-veer-experiment"), None);
            }
        }
    }
    assert_within_tolerance("enrolled", enrolled, users, 5000, 4.5);
    assert_within_tolerance("one-click among enrolled", treatment, enrolled, 5000, 4.5);

    // Outside the segment nobody is enrolled.
    for i in 0..200 {
        let reply = rig.client.get_as(&format!("exp-{i}")).unwrap();
        assert_eq!(reply.header("x-veer-experiment"), None);
        assert_eq!(reply.served_by(), "v1");
    }
    let stats = rig.envoy.stats().unwrap();
    assert_eq!(stats.veer("exp.web.checkout.one-click"), 2 * treatment);
}

#[test]
fn a_new_user_gets_an_id_cookie_and_is_sticky_from_then_on() {
    let mut config = web_config(1, &[("v1", 5000), ("v2", 5000)]);
    config["stickiness"]["assign_cookie"] = json!({ "name": "uid", "max_age_seconds": 3600 });
    let rig = Rig::start(&config);
    for _ in 0..30 {
        let first = rig.client.get("/", &[]).unwrap();
        assert_eq!(first.set_cookies.len(), 1, "{first:?}");
        let cookie = first.set_cookies[0].split(';').next().unwrap().to_owned();
        assert!(
            cookie.starts_with("uid=") && cookie.len() == 4 + 32,
            "{cookie}"
        );
        assert!(first.set_cookies[0].contains("Max-Age=3600"));
        // The minted id decided the first request too: the next ones agree with it.
        for _ in 0..5 {
            let next = rig
                .client
                .get("/", &[("cookie", cookie.as_bytes())])
                .unwrap();
            assert_eq!(next.served_by(), first.served_by(), "{cookie}");
            assert!(
                next.set_cookies.is_empty(),
                "no new cookie once the user has one"
            );
        }
    }
    assert_eq!(rig.envoy.stats().unwrap().veer("cookie.assigned"), 30);
}
