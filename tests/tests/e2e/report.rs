//! `veerctl experiment report` against a real Envoy: simulated users with known conversion
//! probabilities per arm (seeded), whose requests the filter counts; the report's counts equal
//! what the users sent, a real difference is named the winner, an A/A test rarely declares one,
//! users count once however often they buy, goals on another host are attributed to the right
//! arm, and bots on one arm trip the split check, which withholds the verdict.

use std::process::Command;

use serde_json::{json, Value};
use veer_e2e::shoppers::{self, Goal, Plan, Tally};

use crate::support::{web_config, Rig};
use crate::veerctl::veerctl_binary;

/// The goal's host: no service of the config answers it (the filter passes it through).
const API: &str = "api.shop.test";

/// `web` on the client's host (127.0.0.1) with v1/v2, and goal `purchase` (a 2xx POST to
/// /api/buy on any host), with `experiments` as given.
pub(crate) fn config(experiments: Value) -> Value {
    let mut c = web_config(1, &[("v1", 10000)]);
    c["services"][0]["hosts"] = json!(["127.0.0.1"]);
    c["services"][0]["experiments"] = experiments;
    c["goals"] = json!([{
        "name": "purchase",
        "match": {"all": [{"method": "POST"}, {"path_prefix": "/api/buy"}]},
        "status": "2xx"
    }]);
    c
}

/// Experiment `id` for everyone, arms `a` (v1) and `b` (v2) at 50 %, judged on `purchase`.
pub(crate) fn two_arms(id: &str, a: &str, b: &str) -> Value {
    json!([{
        "id": id,
        "arms": [{"name": a, "variant": "v1", "weight": 5000},
                 {"name": b, "variant": "v2", "weight": 5000}],
        "goals": ["purchase"]
    }])
}

pub(crate) fn plan(prefix: &str, users: usize, rates: &[(&str, f64)], seed: u64) -> Plan {
    Plan {
        prefix: prefix.to_owned(),
        users,
        rates: rates.iter().map(|(a, p)| ((*a).to_owned(), *p)).collect(),
        seed,
        pages: 1,
        goal_requests: 1,
        page_headers: Vec::new(),
        goal: Goal {
            host: API.to_owned(),
            method: "POST".to_owned(),
            path: "/api/buy".to_owned(),
        },
        keep_cookies: true,
    }
}

/// Runs the veerctl binary against `rig`; returns (exit code, stdout, stderr).
pub(crate) fn veerctl(rig: &Rig, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(veerctl_binary())
        .args(["--envoy", rig.envoy.ecds_dir().to_str().unwrap()])
        .args(["--admin", &rig.envoy.admin_url(), "--timeout", "20s", "-q"])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `experiment start web ID --arm A --arm B --goal GOAL`, which must succeed (it records the
/// start the report counts from).
pub(crate) fn start(rig: &Rig, id: &str, arms: [&str; 2], goal: &str) {
    let [a, b] = arms;
    let args = [
        "experiment",
        "start",
        "web",
        id,
        "--arm",
        a,
        "--arm",
        b,
        "--goal",
        goal,
    ];
    let (code, _, err) = veerctl(rig, &args);
    assert_eq!(code, 0, "{err}");
}

/// `experiment report ... -o json`, which must succeed.
pub(crate) fn report(rig: &Rig, experiment: &str, extra: &[&str]) -> Value {
    let mut args = vec!["-o", "json", "experiment", "report", "web", experiment];
    args.extend_from_slice(extra);
    let (code, out, err) = veerctl(rig, &args);
    assert_eq!(code, 0, "{err}\n{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Asserts the report's per-arm counts equal what the users sent.
pub(crate) fn assert_counts(r: &Value, tally: &Tally) {
    // The traffic has stopped: every count must be published, or the report says it was not.
    assert!(
        r["source"].get("counts_trailing").is_none(),
        "the report read counts the filter had not published: {}",
        r["source"]
    );
    for (arm, t) in &tally.arms {
        let a = r["arms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["arm"] == arm.as_str())
            .unwrap_or_else(|| panic!("no arm {arm} in {r}"));
        assert_eq!(a["exposed_users"], t.users, "{arm}: {a}");
        assert_eq!(a["exposure_requests"], t.page_requests, "{arm}: {a}");
        assert_eq!(a["goals"][0]["converted_users"], t.converted, "{arm}: {a}");
        assert_eq!(
            a["goals"][0]["goal_requests"], t.goal_requests,
            "{arm}: {a}"
        );
    }
}

fn headline_verdict(r: &Value, arm: &str) -> String {
    r["headline"]["arms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["arm"] == arm)
        .map(|a| a["verdict"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// A real difference (10 % against 30 %) is named the winner; each user's exposure counts
/// once over two page views, and their purchases (two each, on another host) once as a
/// conversion and twice as goal requests; a failed purchase counts for nothing.
#[test]
fn the_report_counts_what_users_sent_and_names_the_winner() {
    let rig = Rig::start(&config(json!([])));
    start(
        &rig,
        "checkout",
        ["control=v1:50", "one-click=v2:50"],
        "purchase",
    );
    let (code, _, err) = veerctl(&rig, &["experiment", "report", "web", "checkout"]);
    assert_eq!(code, 1, "no exposure yet is an error: {err}");
    assert!(err.contains("no exposed users counted"), "{err}");

    let mut p = plan("buyer", 600, &[("control", 0.10), ("one-click", 0.30)], 7);
    p.pages = 2;
    p.goal_requests = 2;
    let tally = shoppers::run(&rig.client, &p).unwrap();
    // A purchase that fails is no purchase: nothing changes.
    let (uid, _, _) = tally.users.iter().find(|u| u.2).unwrap();
    let failed = rig.client.send(
        "POST",
        "/api/buy",
        &[
            ("host", API.as_bytes()),
            ("cookie", format!("uid={uid}").as_bytes()),
            ("x-test-status", b"503"),
        ],
    );
    assert_eq!(failed.unwrap().status, 503);

    let r = report(&rig, "checkout", &[]);
    assert_counts(&r, &tally);
    for t in tally.arms.values() {
        assert_eq!(t.page_requests, 2 * t.users);
        assert_eq!(t.goal_requests, 2 * t.converted);
    }
    assert!(
        r["analysis"]["decision"]["judged"]["srm"]["passed"]["p_value"].is_number(),
        "{r}"
    );
    assert_eq!(
        headline_verdict(&r, "one-click"),
        "winner",
        "{}",
        r["headline"]
    );
    assert!(r["headline"]["text"]
        .as_str()
        .unwrap()
        .starts_with("WINNER: one-click"));
    assert!(
        r["source"]["window"]
            .as_str()
            .unwrap()
            .starts_with("since the experiment started"),
        "{}",
        r["source"]
    );
}

/// Many small A/A experiments in one Envoy (distinct ids, so distinct salts), each on one
/// segment: with no real difference, few are called a winner or loser, and the fixed-horizon
/// p-values spread as they should. Both arms share a variant, so each arm's responses are
/// counted on their own.
#[test]
fn aa_tests_rarely_declare_a_winner() {
    const N: usize = 40;
    let experiments: Vec<Value> = (0..N)
        .map(|i| {
            json!({
                "id": format!("aa{i}"),
                "segment": {"header": "x-aa", "equals": i.to_string()},
                "arms": [{"name": "a", "variant": "v1", "weight": 5000},
                         {"name": "b", "variant": "v1", "weight": 5000}],
                "goals": ["purchase"]
            })
        })
        .collect();
    let rig = Rig::start(&config(Value::Array(experiments)));
    let (mut decided, mut significant, mut p_sum) = (0, 0, 0.0);
    for i in 0..N {
        let mut p = plan(
            &format!("aa{i}"),
            120,
            &[("a", 0.2), ("b", 0.2)],
            1000 + i as u64,
        );
        p.page_headers = vec![("x-aa".to_owned(), i.to_string())];
        let tally = shoppers::run(&rig.client, &p).unwrap();
        let r = report(&rig, &format!("aa{i}"), &[]);
        assert_counts(&r, &tally);
        for a in r["arms"].as_array().unwrap() {
            let responses: u64 = a["responses"]["by_class"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_u64().unwrap())
                .sum();
            assert_eq!(responses, a["exposure_requests"], "{a}");
        }
        let verdict = headline_verdict(&r, "b");
        decided += usize::from(verdict == "winner" || verdict == "loser");
        let c = &r["analysis"]["comparisons"][0]["effect"]["measured"]["fixed_horizon"];
        let p_value = c["p_value"].as_f64().unwrap_or_else(|| panic!("{r}"));
        significant += usize::from(p_value < 0.05);
        p_sum += p_value;
    }
    let mean = p_sum / N as f64;
    eprintln!(
        "A/A: {decided} of {N} with a verdict, {significant} with fixed-horizon p < 0.05, mean p {mean:.3}"
    );
    // Nominal 5 %: 2 of 40 expected; 6 or more would happen by chance about 5 % of the time
    // for fixed-horizon p-values, far less for the always-valid verdicts.
    assert!(
        decided <= 4,
        "{decided} of {N} A/A experiments got a verdict"
    );
    assert!(
        significant <= 6,
        "{significant} of {N} fixed-horizon p < 0.05"
    );
    let mean = p_sum / N as f64;
    assert!(
        (0.3..=0.7).contains(&mean),
        "mean p-value {mean}: not uniform"
    );
}

/// A bot on one arm that keeps no cookie is counted as a new user on every request: the split
/// check fails, the verdict is withheld, and the likely causes name clients without cookies.
#[test]
fn bots_on_one_arm_trip_the_split_check() {
    let rig = Rig::start(&config(two_arms("banner", "off", "on")));
    // People browse a few pages each, sending back their marks.
    let mut humans = plan("human", 300, &[("off", 0.1), ("on", 0.5)], 3);
    humans.pages = 3;
    let tally = shoppers::run(&rig.client, &humans).unwrap();
    let mut bot = plan("bot", 1, &[], 4);
    bot.keep_cookies = false;
    bot.pages = 200;
    let (bot_uid, bot_arm) = (0..)
        .map(|n| format!("crawler-{n}"))
        .find_map(|prefix| {
            bot.prefix = prefix.clone();
            let t = shoppers::run(&rig.client, &bot).unwrap();
            t.users.first().map(|(u, a, _)| (u.clone(), a.clone()))
        })
        .unwrap();
    let r = report(&rig, "banner", &[]);
    let withheld = &r["analysis"]["decision"]["withheld"];
    assert!(withheld.is_object(), "{}", r["analysis"]["decision"]);
    let causes = withheld["likely_causes"].to_string();
    assert!(
        causes.contains(&format!("arm {bot_arm}")) && causes.contains("do not keep cookies"),
        "{bot_uid}: {causes}"
    );
    assert!(r["headline"]["text"]
        .as_str()
        .unwrap()
        .starts_with("NO VERDICT"));
    let counted = r["arms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["arm"] == bot_arm.as_str());
    assert_eq!(
        counted.unwrap()["exposed_users"],
        tally.arms[&bot_arm].users + 200,
        "every request of the bot counts as a user"
    );
}

/// An app's events: each user's arm is recomputed from the id, users whose recorded arm
/// disagrees are reported, unreadable lines are reported by number and the rest is used, and
/// revenue becomes a value metric (Welch).
#[test]
fn events_are_joined_by_user_id_and_bad_lines_are_reported() {
    let rig = Rig::start(&config(two_arms("price", "low", "high")));
    let tally = shoppers::run(
        &rig.client,
        &plan("payer", 300, &[("low", 0.4), ("high", 0.4)], 9),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let mut lines = Vec::new();
    let mut wrong = 0;
    for (n, (uid, arm, converted)) in tally.users.iter().enumerate() {
        if !converted {
            continue;
        }
        // Five users' apps record the other arm: a broken integration.
        let recorded = match (wrong < 5, arm.as_str()) {
            (true, "low") => "high",
            (true, _) => "low",
            (false, a) => a,
        };
        wrong += usize::from(recorded != arm);
        let value = if arm == "high" { 30.0 } else { 20.0 } + (n % 7) as f64;
        lines.push(json!({"user": uid, "event": "revenue", "timestamp": 1.9e9, "value": value, "arm": recorded}).to_string());
    }
    lines.insert(2, "{not json".to_owned());
    lines.insert(5, json!({"user": "x", "event": "revenue"}).to_string());
    std::fs::write(&path, lines.join("\n")).unwrap();
    let r = report(&rig, "price", &["--events", path.to_str().unwrap()]);
    let e = &r["events"];
    assert_eq!(e["arm_mismatches"], 5, "{e}");
    let bad: Vec<u64> = e["malformed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["line"].as_u64().unwrap())
        .collect();
    assert_eq!(bad, [3, 6], "{e}");
    assert_eq!(e["used"].as_u64().unwrap() as usize, lines.len() - 2);
    let revenue = r["analysis"]["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["goal"] == "revenue")
        .unwrap_or_else(|| panic!("{}", r["analysis"]["comparisons"]));
    assert!(
        revenue["effect"]["measured"]["test"]["welch"].is_object(),
        "{revenue}"
    );
}
