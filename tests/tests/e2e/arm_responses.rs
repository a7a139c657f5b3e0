//! Per-arm request metrics when two arms share one variant (a UI flag in one deployment): the
//! variant's own response metrics cannot tell the arms apart, so the filter counts each arm's
//! responses and latency. Users of one arm hit a slow, sometimes failing code path (the
//! upstream delays and fails the requests that ask for it); `veerctl experiment report` shows
//! per arm the requests, the 5xx and latency percentiles that contain the injected delay, and
//! the other arm's do not.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::report::{config, report, start, veerctl};
use crate::support::Rig;

/// What the slow arm's requests wait upstream.
const DELAY_MS: u64 = 150;
/// Requests per user after the first (which learns the user's arm).
const MORE: usize = 4;

/// What one arm's users sent.
#[derive(Debug, Default)]
struct Sent {
    users: u64,
    requests: u64,
    errors: u64,
    slow: u64,
}

/// Users `flag-<n>`: a first page view gives each its arm (from the `x-veer-experiment`
/// response header); then MORE page views, which on arm `on` ask the upstream for a DELAY_MS
/// delay, and every other one of them for a 503.
fn browse(rig: &Rig, users: usize) -> BTreeMap<String, Sent> {
    let mut sent: BTreeMap<String, Sent> = BTreeMap::new();
    for n in 0..users {
        let uid = format!("uid=flag-{n}");
        let first = rig.client.get("/", &[("cookie", uid.as_bytes())]).unwrap();
        let arm = first
            .header("x-veer-experiment")
            .and_then(|h| h.strip_prefix("flag="))
            .unwrap_or_else(|| panic!("user {n} not assigned an arm: {first:?}"))
            .to_owned();
        // Keep the marks cookie, as a browser does: the user is exposed once.
        let marks = first
            .set_cookies
            .iter()
            .find(|c| c.starts_with("veer_marks="))
            .and_then(|c| c.split(';').next())
            .unwrap_or_else(|| panic!("user {n} got no marks cookie: {first:?}"));
        let cookie = format!("{uid}; {marks}");
        let s = sent.entry(arm.clone()).or_default();
        s.users += 1;
        s.requests += 1;
        for i in 0..MORE {
            let mut headers: Vec<(&str, &[u8])> = vec![("cookie", cookie.as_bytes())];
            let delay = DELAY_MS.to_string();
            if arm == "on" {
                headers.push(("x-test-delay-ms", delay.as_bytes()));
                if i % 2 == 1 {
                    headers.push(("x-test-status", b"503"));
                }
            }
            let reply = rig.client.get("/", &headers).unwrap();
            s.requests += 1;
            s.errors += u64::from(reply.status == 503);
            s.slow += u64::from(arm == "on");
        }
    }
    sent
}

#[test]
fn each_arm_of_a_shared_variant_has_its_own_errors_and_latency() {
    let rig = Rig::start(&config(json!([])));
    start(&rig, "flag", ["off=v1:50", "on=v1:50"], "purchase");
    let sent = browse(&rig, 40);
    assert!(
        sent.len() == 2 && sent.values().all(|s| s.requests > 0),
        "{sent:?}"
    );

    let r = report_with_latency_caught_up(&rig);
    for (arm, s) in &sent {
        let a = arm_of(&r, arm);
        assert_eq!(a["exposure_requests"], s.requests, "{arm}: {a}");
        assert_eq!(a["exposed_users"], s.users, "{arm}: {a}");
        let by_class: Vec<u64> = serde_json::from_value(a["responses"]["by_class"].clone())
            .unwrap_or_else(|e| panic!("{arm}: {e}: {a}"));
        assert_eq!(by_class.iter().sum::<u64>(), s.requests, "{arm}: {a}");
        assert_eq!(by_class[4], s.errors, "{arm}: 5xx: {a}");
        assert_eq!(by_class[1], s.requests - s.errors, "{arm}: 2xx: {a}");
        let latency = &a["responses"]["latency"];
        assert_eq!(latency["samples"], s.requests, "{arm}: {a}");
        let (p50, p99) = (us(latency, "p50_us"), us(latency, "p99_us"));
        let delay = (DELAY_MS * 1000) as f64;
        if arm == "on" {
            // 4 in 5 of its requests waited DELAY_MS upstream: the median's bucket holds the
            // delay (plus the proxy's and the loopback's time, well under 100 ms).
            assert!(
                p50 >= delay && p50 < delay + 100_000.0,
                "{arm}: p50 {p50}: {a}"
            );
            assert!(p99 >= delay, "{arm}: p99 {p99}: {a}");
        } else {
            assert!(p50 < delay / 2.0, "{arm}: p50 {p50} (nothing delayed): {a}");
        }
    }

    // The HTML report carries the same per arm.
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let again = report(&rig, "flag", &["--html", page.to_str().unwrap()]);
    let html = std::fs::read_to_string(&page).unwrap();
    for (arm, s) in &sent {
        let row = html
            .split("<tr ")
            .find(|r| r.starts_with(&format!("data-arm=\"{arm}\">")))
            .unwrap_or_else(|| panic!("no row for arm {arm}: {html}"));
        let latency = &arm_of(&again, arm)["responses"]["latency"];
        for (field, value) in [
            ("responses_5xx", s.errors as f64),
            ("latency_p50_us", us(latency, "p50_us")),
            ("latency_p99_us", us(latency, "p99_us")),
        ] {
            let key = format!("data-field=\"{field}\" data-value=\"");
            let shown: Option<f64> = row
                .split_once(&key)
                .and_then(|(_, rest)| rest.split('"').next()?.parse().ok());
            assert_eq!(shown, Some(value), "{arm}: {field} in {row}");
        }
    }

    // The table shows the same per arm: requests, 5xx, and the median and p99 in ms.
    let (code, table, err) = veerctl(&rig, &["experiment", "report", "web", "flag"]);
    assert_eq!(code, 0, "{err}");
    for (arm, s) in &sent {
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("│ {arm} ")))
            .unwrap_or_else(|| panic!("no row for arm {arm}:\n{table}"));
        let cells: Vec<&str> = row.trim_matches('│').split('┆').map(str::trim).collect();
        let latency = &arm_of(&r, arm)["responses"]["latency"];
        let shown = |f: &str| match us(latency, f) {
            x if x >= 1000.0 => format!("{:.1} ms", x / 1000.0),
            x => format!("{x:.0} us"),
        };
        let expected = [
            s.requests.to_string(),
            s.errors.to_string(),
            shown("p50_us"),
            shown("p99_us"),
        ];
        let got = [4, 6, 7, 8].map(|i| cells.get(i).copied().unwrap_or_default());
        assert_eq!(
            got,
            expected.each_ref().map(String::as_str),
            "{row}\n{table}"
        );
    }
}

/// `experiment report web flag`, once every arm's latency holds each of its requests: Envoy
/// publishes histogram bins at its stats flush (every 5 s), while counters are live.
fn report_with_latency_caught_up(rig: &Rig) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = report(rig, "flag", &[]);
        let caught_up = r["arms"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["responses"]["latency"]["samples"] == a["exposure_requests"]);
        if caught_up || Instant::now() > deadline {
            return r;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn arm_of<'r>(r: &'r Value, arm: &str) -> &'r Value {
    r["arms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["arm"] == arm)
        .unwrap_or_else(|| panic!("no arm {arm}: {r}"))
}

fn us(latency: &Value, field: &str) -> f64 {
    latency[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field}: {latency}"))
}
