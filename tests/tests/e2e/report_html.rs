//! The HTML report in a real browser: Debian's Chromium, headless, renders the file veerctl
//! wrote (from a real Envoy's counts, with a few readings of history) without a console
//! message, takes a screenshot, every number the page carries in its `data-value` attributes
//! equals the one `-o json` printed for the same counts, and every figure a reader sees in the
//! goal tables is the one the terminal table shows for that arm.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use veer_e2e::shoppers::{self, Goal, Plan};

use crate::report::{report, start, veerctl};
use crate::support::{web_config, Rig};

/// Chromium from Debian (`make test` installs it), or `$VEER_CHROMIUM`.
fn chromium() -> PathBuf {
    let path = std::env::var_os("VEER_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "{} is missing: install Debian's chromium (make test does: apt-get install chromium)",
        path.display()
    );
    path
}

/// Runs headless Chromium on `page` with `args`; returns (stdout, stderr).
fn browse(page: &Path, profile: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium failed: {stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

/// Every `data-*` attribute set of the elements that carry `data-field`, with the `data-arm`
/// and `data-goal` of their row: (arm, goal, field, value).
fn fields(dom: &str) -> Vec<(String, String, String, String)> {
    let attr = |tag: &str, name: &str| {
        let key = format!(" {name}=\"");
        tag.find(&key).map(|i| {
            let rest = &tag[i + key.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
    };
    let (mut arm, mut goal) = (String::new(), String::new());
    let mut out = Vec::new();
    for piece in dom.split('<').skip(1) {
        let tag = piece.split('>').next().unwrap_or_default();
        if tag.starts_with("tr ") {
            arm = attr(tag, "data-arm").unwrap_or_default();
            goal = attr(tag, "data-goal").unwrap_or_default();
        }
        if let (Some(field), Some(value)) = (attr(tag, "data-field"), attr(tag, "data-value")) {
            out.push((arm.clone(), goal.clone(), field, value));
        }
    }
    out
}

/// The visible text of each cell of the goal tables' rows: (arm, goal, cells), tags removed and
/// entities of the serialised DOM decoded.
fn goal_rows(dom: &str) -> Vec<(String, String, Vec<String>)> {
    let text = |html: &str| {
        let mut out = String::new();
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out.replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut rows = Vec::new();
    for row in dom.split("<tr ").skip(1) {
        let head = row.split('>').next().unwrap_or_default();
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            head.find(&key).map(|i| {
                let rest = &head[i + key.len()..];
                rest[..rest.find('"').unwrap()].to_owned()
            })
        };
        let (Some(arm), Some(goal)) = (attr("data-arm"), attr("data-goal")) else {
            continue;
        };
        let body = &row[..row.find("</tr>").unwrap()];
        let cells = body
            .split("<td")
            .skip(1)
            .map(|c| text(&format!("<td{c}")))
            .collect();
        rows.push((arm, goal, cells));
    }
    rows
}

/// What `-o json` says for one data attribute of the page.
fn expected(r: &Value, arm: &str, goal: &str, field: &str) -> Value {
    let arm_counts = r["arms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["arm"] == arm);
    let summary = r["analysis"]["arms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["arm"] == arm)
        .and_then(|a| {
            a["goals"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["goal"] == goal)
        })
        .map(|g| &g["metric"]["rate"]);
    let comparison = r["analysis"]["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["arm"] == arm && c["goal"] == goal);
    let effect = comparison.map(|c| &c["effect"]["measured"]);
    match field {
        "share_bp" | "exposed_users" | "exposure_requests" => arm_counts.unwrap()[field].clone(),
        "converted" => summary.unwrap()["converted"].clone(),
        "rate" => summary.unwrap()["rate"]["measured"]["rate"].clone(),
        "relative" => effect.unwrap()["relative"]["measured"].clone(),
        "p_value_holm" => effect.unwrap()["always_valid"]["p_value_holm"].clone(),
        "chance_to_beat_control" => {
            comparison.unwrap()["bayesian"]["measured"]["chance_to_beat_control"].clone()
        }
        "verdict" if arm == r["control"] => json!("control"),
        "verdict" => r["analysis"]["decision"]["judged"]["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["arm"] == arm && v["goal"] == goal)
            .map(|v| v["verdict"]["verdict"].clone())
            .unwrap(),
        "srm" => json!("passed"),
        "exposures_per_day" => r["source"]["traffic"]["exposures_per_day"].clone(),
        "responses_5xx" => arm_counts.unwrap()["responses"]["by_class"][4].clone(),
        "latency_p50_us" => arm_counts.unwrap()["responses"]["latency"]["p50_us"].clone(),
        "latency_p99_us" => arm_counts.unwrap()["responses"]["latency"]["p99_us"].clone(),
        other => panic!("the page carries a field the test does not know: {other}"),
    }
}

#[test]
fn the_html_report_renders_in_chromium_with_the_numbers_of_the_json() {
    let mut config = web_config(1, &[("v1", 10000)]);
    config["services"][0]["hosts"] = json!(["127.0.0.1"]);
    config["goals"] = json!([{"name": "signup", "match": {"path_prefix": "/signup"}}]);
    let rig = Rig::start(&config);
    start(
        &rig,
        "onboarding",
        ["classic=v1:50", "guided=v2:50"],
        "signup",
    );
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    // Three batches of users with a report after each: three readings of history.
    for batch in 0..3 {
        let plan = Plan {
            prefix: format!("visitor{batch}"),
            users: 150,
            rates: [("classic".to_owned(), 0.2), ("guided".to_owned(), 0.45)].into(),
            seed: 40 + batch,
            pages: 2,
            goal_requests: 1,
            page_headers: Vec::new(),
            goal: Goal {
                host: "127.0.0.1".to_owned(),
                method: "GET".to_owned(),
                path: "/signup".to_owned(),
            },
            keep_cookies: true,
        };
        shoppers::run(&rig.client, &plan).unwrap();
        if batch < 2 {
            report(&rig, "onboarding", &[]);
        }
    }
    let r = report(&rig, "onboarding", &["--html", page.to_str().unwrap()]);
    assert_eq!(
        r["history"].as_array().unwrap().len(),
        3,
        "{}",
        r["history"]
    );

    let html = std::fs::read_to_string(&page).unwrap();
    // Nothing is fetched: no script, stylesheet, image, font or frame from anywhere.
    for fetch in [
        "<script", "<link", "<img", "<iframe", " src=", " href=", "@import", "url(",
    ] {
        assert!(
            !html.contains(fetch),
            "the page must be self-contained: {fetch}"
        );
    }
    let profile = tempfile::tempdir().unwrap();
    let (dom, log) = browse(&page, profile.path(), &["--dump-dom"]);
    assert!(!log.contains("CONSOLE"), "console messages: {log}");
    let shot = dir.path().join("report.png");
    browse(
        &page,
        profile.path(),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1000,2600",
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    if let Some(keep) = std::env::var_os("VEER_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }

    let found = fields(&dom);
    assert!(found.len() >= 16, "too few numbers on the page: {found:?}");
    for (arm, goal, field, value) in &found {
        let want = expected(&r, arm, goal, field);
        let same = match (&want, value.parse::<f64>()) {
            (Value::Number(n), Ok(v)) => n.as_f64() == Some(v),
            (Value::String(s), _) => s == value,
            _ => false,
        };
        assert!(
            same,
            "{arm}/{goal} {field}: the page says {value}, the JSON {want}"
        );
    }
    // What a reader sees: each goal row's figures, as the terminal's table shows them for the
    // same counts (its row of that arm in that goal's table).
    let (code, table, err) = veerctl(&rig, &["experiment", "report", "web", "onboarding"]);
    assert_eq!(code, 0, "{err}");
    let rows = goal_rows(&dom);
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (arm, goal, cells) in &rows {
        let section = table
            .split(&format!("goal {goal}"))
            .nth(1)
            .unwrap_or_else(|| panic!("no goal {goal} in:\n{table}"));
        let line = section
            .lines()
            .find(|l| {
                l.trim_start_matches(['│', ' '])
                    .starts_with(&format!("{arm} "))
            })
            .unwrap_or_else(|| panic!("no row of {arm} in:\n{section}"));
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        for cell in cells.iter().skip(1).filter(|c| !c.is_empty()) {
            assert!(
                line.contains(cell.as_str()),
                "{arm}/{goal}: the page shows {cell:?}, the table's row is {line:?}"
            );
        }
    }
    // The split check: its state and p-value as the JSON has them.
    let srm_tag = dom
        .split('<')
        .find(|t| t.contains("data-field=\"srm\""))
        .unwrap();
    assert!(table.contains("split check: passed"), "{table}");
    assert!(srm_tag.contains("data-value=\"passed\""), "{srm_tag}");

    // The headline, as the JSON says it (text escaped as the serialised DOM escapes it).
    let headline = r["headline"]["text"].as_str().unwrap();
    let escaped = headline
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    assert!(dom.contains(&escaped), "{headline}");
}
