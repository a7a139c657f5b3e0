//! Goals counted in the data plane, by either build (the wasm filter and the dynamic module):
//! simulated users (seeded) view pages of an experiment judged on a goal and buy on another
//! host; the filter's per-arm counters equal what they did: exposed users once however many
//! pages they view, goal requests, converted users once however often they buy, and arms that
//! share a variant get their own response counts. What `veerctl experiment report` reads.

use serde_json::json;
use veer_e2e::shoppers::{self, Goal, Plan};

use crate::support::{web_config, Rig};

#[test]
fn per_arm_counters_equal_what_users_did() {
    let mut config = web_config(1, &[("v1", 10000)]);
    config["services"][0]["hosts"] = json!(["127.0.0.1"]);
    // Both arms on v1: their responses can only be told apart by per-arm counters.
    config["services"][0]["experiments"] = json!([{
        "id": "checkout",
        "arms": [{"name": "control", "variant": "v1", "weight": 5000},
                 {"name": "one-click", "variant": "v1", "weight": 5000}],
        "goals": ["purchase"]
    }]);
    config["goals"] = json!([{
        "name": "purchase",
        "match": {"all": [{"method": "POST"}, {"path_prefix": "/api/buy"}]},
        "status": "2xx"
    }]);
    let rig = Rig::start(&config);
    let plan = Plan {
        prefix: "buyer".to_owned(),
        users: 200,
        rates: [("control".to_owned(), 0.2), ("one-click".to_owned(), 0.4)].into(),
        seed: 11,
        pages: 2,
        goal_requests: 2,
        page_headers: Vec::new(),
        goal: Goal {
            host: "api.shop.test".to_owned(),
            method: "POST".to_owned(),
            path: "/api/buy".to_owned(),
        },
        keep_cookies: true,
    };
    let tally = shoppers::run(&rig.client, &plan).unwrap();
    let stats = rig.envoy.stats().unwrap();
    for (arm, t) in &tally.arms {
        assert!(t.users > 0 && t.converted > 0, "{arm}: {t:?}");
        let got = |stat: &str| stats.veer(&format!("{stat}.web.checkout.{arm}"));
        assert_eq!(got("exp"), t.page_requests, "{arm}: assignments");
        assert_eq!(got("exp_users"), t.users, "{arm}: exposed users");
        let goal = |stat: &str| stats.veer(&format!("{stat}.web.checkout.{arm}.purchase"));
        assert_eq!(goal("goal_rq"), t.goal_requests, "{arm}: goal requests");
        assert_eq!(goal("goal_users"), t.converted, "{arm}: converted users");
        let ok = stats.veer(&format!("exp_rs.web.checkout.{arm}.2xx"));
        assert_eq!(ok, t.page_requests, "{arm}: its own responses");
    }
}
