//! `veerctl cohort` (the binary) against a real Envoy: rules added by a cookie, a header and a
//! combined expression under load with zero failed requests; after each change every user of a
//! population is served by exactly the variant the rules in their order say (the first matching
//! rule's, else the one the split gave them before any rule), and each rule's counter, as `cohort
//! list` reads it, equals the users it took. A move changes who decides; a removal returns its
//! users to their own split variant; an undo puts the rule back where it was. Mistakes are refused
//! with their exit code and nothing written.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use serde_json::Value;

use crate::live_config::Load;
use crate::support::{web_config, Rig};
use crate::veerctl::veerctl_binary;

/// Users sent after each change.
const USERS: usize = 240;

/// A user: a stickiness key and what else their requests carry.
struct User {
    uid: String,
    /// Cookie `team=internal`.
    team: bool,
    /// Header `x-beta: 1`.
    beta: bool,
    /// Header `x-country: de`.
    de: bool,
}

fn users() -> Vec<User> {
    (0..USERS)
        .map(|i| User {
            uid: format!("u-{i}"),
            team: i % 3 == 0,
            beta: i % 4 == 0,
            de: i % 5 == 0,
        })
        .collect()
}

/// A rule as the test models it: its name, which users it takes, where it sends them.
type Rule = (&'static str, fn(&User) -> bool, &'static str);

const EMPLOYEES: Rule = ("employees", |u| u.team, "v3");
const BETA: Rule = ("beta", |u| u.beta, "v1");
const DE_OUTSIDE: Rule = ("de-outside", |u| u.de && !u.team, "v2");

/// The variant that served each user (one request each), checking the app was told it.
fn serve(rig: &Rig, users: &[User]) -> Vec<String> {
    users
        .iter()
        .map(|u| {
            let mut cookie = format!("uid={}", u.uid);
            if u.team {
                cookie.push_str("; team=internal");
            }
            let mut headers: Vec<(&str, &[u8])> = vec![("cookie", cookie.as_bytes())];
            if u.beta {
                headers.push(("x-beta", b"1"));
            }
            if u.de {
                headers.push(("x-country", b"de"));
            }
            let reply = rig.client.get("/", &headers).unwrap();
            assert_eq!(reply.status, 200, "user {}: {reply:?}", u.uid);
            assert_eq!(reply.seen("x-veer-variant"), Some(reply.served_by()));
            reply.served_by().to_owned()
        })
        .collect()
}

/// The binary on `rig`'s Envoy: its ECDS directory and admin API.
fn veerctl(rig: &Rig, args: &[&str]) -> Output {
    Command::new(veerctl_binary())
        .args(["--envoy", rig.envoy.ecds_dir().to_str().unwrap()])
        .args(["--admin", &rig.envoy.admin_url(), "--timeout", "20s"])
        .args(args)
        .output()
        .unwrap()
}

/// Runs a change that must succeed; returns its stdout and stderr.
fn change(rig: &Rig, args: &[&str]) -> (String, String) {
    let out = veerctl(rig, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {stdout}{stderr}");
    assert!(stdout.contains("live on 1 proxy"), "{args:?}: {stdout}");
    (stdout, stderr)
}

/// Serves every user once and checks each got what `rules` (in order) give them, else their
/// variant in `baseline`; then that each rule's counter since the change (`cohort list -o json`)
/// is the number of users it took. Returns the variants served.
fn assert_routed(rig: &Rig, users: &[User], baseline: &[String], rules: &[Rule]) -> Vec<String> {
    let served = serve(rig, users);
    let mut taken: BTreeMap<&str, u64> = rules.iter().map(|r| (r.0, 0)).collect();
    for ((u, before), got) in users.iter().zip(baseline).zip(&served) {
        let by = rules.iter().find(|r| r.1(u));
        let want = by.map_or(before.as_str(), |r| r.2);
        assert_eq!(got, want, "user {} (rules {:?})", u.uid, names(rules));
        if let Some(r) = by {
            *taken.entry(r.0).or_default() += 1;
        }
    }
    let out = veerctl(rig, &["-o", "json", "cohort", "list", "web"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed: Vec<(String, u64)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["rule"].as_str().unwrap().to_owned(),
                r["decided"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, u64)> = rules.iter().map(|r| (r.0.to_owned(), taken[r.0])).collect();
    assert_eq!(
        listed, want,
        "rules in order, with the requests each decided"
    );
    served
}

fn names(rules: &[Rule]) -> Vec<&str> {
    rules.iter().map(|r| r.0).collect()
}

#[test]
fn cohorts_move_exactly_their_users_and_give_them_back() {
    let rig = Rig::start(&web_config(1, &[("v1", 5000), ("v2", 5000)]));
    let users = users();
    let baseline = serve(&rig, &users);
    assert!(baseline.iter().any(|v| v == "v1") && baseline.iter().any(|v| v == "v2"));
    let load = Load::start(&rig.client, 2);

    // By cookie, with a sample decided before and after, and a warning that it takes from the
    // canary split: at most what the split decided, read from the proxy (the population above
    // and the load so far: no verified change has reset the counters yet).
    let (out, warned) = change(
        &rig,
        &[
            "cohort",
            "add",
            "web",
            "employees",
            "--match",
            "cookie:team=internal",
            "--variant",
            "v3",
            "--sample",
            "cookie:team=internal & cookie:uid=u-0",
            "--sample",
            "cookie:uid=u-1",
        ],
    );
    assert!(
        out.contains("cookie:team=internal & cookie:uid=u-0: CHANGES")
            && out.contains("after:  v3 (rule employees)")
            && out.contains("cookie:uid=u-1: unchanged"),
        "{out}"
    );
    let split = "warning: rule employees may take requests from the canary split of web \
                 (v1 50% | v2 50% | v3 0%), away from the canary's measurement: the split decided ";
    let decided: u64 = warned
        .split_once(split)
        .and_then(|(_, rest)| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("{warned}"));
    assert!(decided >= USERS as u64, "{warned}");
    assert!(warned.contains("so that is an upper bound"), "{warned}");
    assert_routed(&rig, &users, &baseline, &[EMPLOYEES]);

    // By header, last (the default): users with both keep the employees' rule.
    change(
        &rig,
        &[
            "cohort",
            "add",
            "web",
            "beta",
            "--match",
            "header:x-beta=1",
            "--variant",
            "v1",
        ],
    );
    assert_routed(&rig, &users, &baseline, &[EMPLOYEES, BETA]);

    // A combined expression.
    change(
        &rig,
        &[
            "cohort",
            "add",
            "web",
            "de-outside",
            "--match",
            "header:x-country=de & !cookie:team=internal",
            "--variant",
            "v2",
        ],
    );
    let before_move = assert_routed(&rig, &users, &baseline, &[EMPLOYEES, BETA, DE_OUTSIDE]);

    // Moved first, beta decides for the employees who are beta testers too.
    change(&rig, &["cohort", "move", "web", "beta", "--first"]);
    let after_move = assert_routed(&rig, &users, &baseline, &[BETA, EMPLOYEES, DE_OUTSIDE]);
    let changed: Vec<&str> = users
        .iter()
        .zip(before_move.iter().zip(&after_move))
        .filter(|(_, (a, b))| a != b)
        .map(|(u, _)| u.uid.as_str())
        .collect();
    let both: Vec<&str> = users
        .iter()
        .filter(|u| u.team && u.beta)
        .map(|u| u.uid.as_str())
        .collect();
    assert_eq!(
        changed, both,
        "exactly the employees who are beta testers moved"
    );

    // Removed: the employees are back on the variant the split gave them before any rule.
    change(&rig, &["cohort", "remove", "web", "employees"]);
    assert_routed(&rig, &users, &baseline, &[BETA, DE_OUTSIDE]);

    // Undone: the rule is back, where it was.
    let (out, _) = change(&rig, &["cohort", "undo", "web"]);
    assert!(
        out.contains("cohort undo web (version 6: cohort remove web employees)"),
        "{out}"
    );
    assert_routed(&rig, &users, &baseline, &[BETA, EMPLOYEES, DE_OUTSIDE]);

    load.finish_without_failures();
    // Six changes on top of version 1, each verified from the proxy's own gauge.
    assert_eq!(rig.envoy.stats().unwrap().veer("config.version"), 7);
}

/// Refusals write nothing, each with its exit code: a bad expression is a usage error (2), an
/// unknown rule a failure (1), a rule that can never match an invalid config (3) that names the
/// rule that takes its requests.
#[test]
fn bad_expressions_and_unknown_rules_are_refused_and_nothing_is_written() {
    let rig = Rig::start(&web_config(1, &[("v1", 5000), ("v2", 5000)]));
    change(
        &rig,
        &[
            "cohort",
            "add",
            "web",
            "beta",
            "--match",
            "header:x-beta=1",
            "--variant",
            "v3",
        ],
    );
    let cases: [(&[&str], i32, &str); 5] = [
        (
            &["cohort", "add", "web", "x", "--match", "header:x-beta=1 &", "--variant", "v2"],
            2,
            "at character 18: expected a matcher",
        ),
        (
            &["cohort", "add", "web", "x", "--match", "cookie:team=(internal)", "--variant", "v2"],
            2,
            "at character 13: unexpected '('",
        ),
        (&["cohort", "remove", "web", "gamma"], 1, "no cohort rule \"gamma\" (rules: beta)"),
        (
            &["cohort", "add", "web", "x", "--match", "cookie:a", "--variant", "v2", "--before", "gamma"],
            1,
            "no cohort rule \"gamma\"",
        ),
        (
            &["cohort", "add", "web", "beta-de", "--match", "header:x-beta=1 & header:x-country=de", "--variant", "v2"],
            3,
            "rule \"beta-de\" can never match: rule \"beta\" (position 1) takes every request it would",
        ),
    ];
    for (args, code, says) in cases {
        let out = veerctl(&rig, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert_eq!(
        rig.envoy.stats().unwrap().veer("config.version"),
        2,
        "nothing written"
    );
    let reply = rig
        .client
        .get("/", &[("cookie", b"uid=a"), ("x-beta", b"1")])
        .unwrap();
    assert_eq!(reply.served_by(), "v3");
}
