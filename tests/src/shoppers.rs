//! Simulated users of an A/B experiment, for the end-to-end tests and `make demo`: each user
//! loads the experiment's pages (keeping the marks cookie the proxy sets, as a browser does),
//! reads the arm it was given from the `x-veer-experiment` response header, and with that arm's
//! conversion probability (seeded) reaches the goal: requests to a goal host, possibly several.
//! What was sent is tallied per arm, to compare with what `veerctl experiment report` counted.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::client::Client;

/// The goal request: `method` `path` on `host`.
#[derive(Debug, Clone)]
pub struct Goal {
    /// Host header (another host than the pages': attribution across hosts).
    pub host: String,
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
}

/// Who the users are and what they do.
#[derive(Debug, Clone)]
pub struct Plan {
    /// User ids are `<prefix>-<n>`.
    pub prefix: String,
    /// How many users.
    pub users: usize,
    /// Conversion probability per arm name.
    pub rates: BTreeMap<String, f64>,
    /// Seeds the draws.
    pub seed: u64,
    /// Page views per user (at least 1).
    pub pages: usize,
    /// Goal requests per converting user (at least 1).
    pub goal_requests: usize,
    /// Extra headers on every page request (a segment's header).
    pub page_headers: Vec<(String, String)>,
    /// The goal.
    pub goal: Goal,
    /// Keep the marks cookie between requests (a browser); false: a client that drops cookies.
    pub keep_cookies: bool,
}

/// What the users of one arm did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ArmTally {
    /// Users the pages assigned to the arm.
    pub users: u64,
    /// Page requests they made.
    pub page_requests: u64,
    /// Users who converted.
    pub converted: u64,
    /// Goal requests they made.
    pub goal_requests: u64,
}

/// What the users did: per arm, and each enrolled user's arm; users the experiment did not enrol
/// are not counted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// Per arm name.
    pub arms: BTreeMap<String, ArmTally>,
    /// Each enrolled user: id, arm, converted.
    pub users: Vec<(String, String, bool)>,
}

/// The experiment assignment header the proxy sends to the client.
const ASSIGNMENT: &str = "x-veer-experiment";
/// The marks cookie's name (the config's default).
const MARKS: &str = "veer_marks";

/// Runs `plan` through `client`; each user's requests in order, users one after another.
pub fn run(client: &Client, plan: &Plan) -> Result<Tally, ureq::Error> {
    let mut rng = fastrand::Rng::with_seed(plan.seed);
    let mut tally = Tally::default();
    for n in 0..plan.users {
        let uid = format!("{}-{n}", plan.prefix);
        let mut marks = String::new();
        let mut arm = None;
        for _ in 0..plan.pages.max(1) {
            let cookie = cookie(&uid, &marks, plan.keep_cookies);
            let mut headers: Vec<(&str, &[u8])> = vec![("cookie", cookie.as_bytes())];
            headers.extend(
                plan.page_headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_bytes())),
            );
            let reply = client.get("/", &headers)?;
            remember(&mut marks, &reply.set_cookies);
            if let Some(a) = reply.header(ASSIGNMENT) {
                arm = a.split_once('=').map(|(_, a)| a.to_owned());
            }
            if let Some(a) = &arm {
                tally.arms.entry(a.clone()).or_default().page_requests += 1;
            }
        }
        let Some(arm) = arm else { continue };
        let t = tally.arms.entry(arm.clone()).or_default();
        t.users += 1;
        let p = plan.rates.get(&arm).copied().unwrap_or(0.0);
        let converts = rng.f64() < p;
        tally.users.push((uid.clone(), arm.clone(), converts));
        if !converts {
            continue;
        }
        t.converted += 1;
        for _ in 0..plan.goal_requests.max(1) {
            let cookie = cookie(&uid, &marks, plan.keep_cookies);
            let headers: [(&str, &[u8]); 2] = [
                ("host", plan.goal.host.as_bytes()),
                ("cookie", cookie.as_bytes()),
            ];
            let reply = client.send(&plan.goal.method, &plan.goal.path, &headers)?;
            remember(&mut marks, &reply.set_cookies);
            t.goal_requests += 1;
        }
    }
    Ok(tally)
}

fn cookie(uid: &str, marks: &str, keep: bool) -> String {
    match (keep, marks.is_empty()) {
        (true, false) => format!("uid={uid}; {MARKS}={marks}"),
        _ => format!("uid={uid}"),
    }
}

/// Keeps the marks cookie a `set-cookie` carries, as a browser would.
fn remember(marks: &mut String, set_cookies: &[String]) {
    for c in set_cookies {
        if let Some(v) = c.strip_prefix(&format!("{MARKS}=")) {
            *marks = v.split(';').next().unwrap_or_default().to_owned();
        }
    }
}
