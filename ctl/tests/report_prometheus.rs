//! `experiment report --prometheus`: the days the power section plans come from the users
//! newly exposed per day in Prometheus's history (the proxies' counters carry no start time);
//! with too little history the report says why there is no rate instead of inventing one.
//! Against a fake Prometheus on loopback whose counters grow at a known rate, and a fake
//! Kubernetes API server holding the WasmPlugin.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

mod support;
use support::kube::{fake_api, veerctl, PLUGIN};
use veer_fake_kube::prometheus::{fake_prometheus_api, PromRequest};

/// New users per hour in each of the two arms.
const PER_HOUR: f64 = 100.0;

/// WasmPlugin `veer`: service `shop`, experiment `checkout` (two arms at 50 %) judged on goal
/// `purchase`.
fn plugin() -> Value {
    json!({
        "apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
        "metadata": {"name": "veer", "namespace": "demo", "resourceVersion": "3"},
        "spec": {"url": "oci://registry.example/veer:1", "pluginConfig": {
            "version": 4,
            "stickiness": {"sources": [{"cookie": "uid"}]},
            "goals": [{"name": "purchase", "match": {"path_prefix": "/buy"}}],
            "services": [{
                "name": "shop",
                "variants": [{"name": "v1", "cluster": "shop_v1"}, {"name": "v2", "cluster": "shop_v2"}],
                "split": {"v1": 10000},
                "experiments": [{
                    "id": "checkout", "goals": ["purchase"],
                    "arms": [{"name": "control", "variant": "v1", "weight": 5000},
                             {"name": "one-click", "variant": "v2", "weight": 5000}]
                }]
            }]
        }}
    })
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Each arm's counters at `t` of an experiment that started at `started`: PER_HOUR new users an
/// hour, 10 % of them converted (the same in both arms: no verdict, so the report plans days).
fn counters(t: f64, started: f64) -> Vec<(String, u64)> {
    let users = ((t - started).max(0.0) / 3600.0 * PER_HOUR).round() as u64;
    let mut out = vec![("config.version".to_owned(), 4)];
    for arm in ["control", "one-click"] {
        out.push((format!("exp.shop.checkout.{arm}"), 2 * users));
        out.push((format!("exp_users.shop.checkout.{arm}"), users));
        out.push((format!("goal_rq.shop.checkout.{arm}.purchase"), users / 10));
        out.push((
            format!("goal_users.shop.checkout.{arm}.purchase"),
            users / 10,
        ));
    }
    out
}

/// A Prometheus whose proxies started counting experiment `checkout` at `started`: instant
/// queries get the counters now, range queries every point from `start` to `end` by `step`.
fn prometheus(started: f64) -> String {
    let (url, _) = fake_prometheus_api(move |r: &PromRequest| {
        let asked = |stat: &str| r.param("query").contains(&format!("\"{stat}\""));
        if r.api == "query_range" {
            let (start, end, step) = (r.number("start"), r.number("end"), r.number("step"));
            let times: Vec<f64> = (0..)
                .map(|k| start + k as f64 * step)
                .take_while(|t| *t <= end)
                .collect();
            let series: Vec<Value> = counters(end, started)
                .into_iter()
                .filter(|(stat, _)| asked(stat))
                .map(|(stat, _)| {
                    let values: Vec<Value> = times
                        .iter()
                        .map(|t| {
                            let v = counters(*t, started).into_iter().find(|(s, _)| *s == stat);
                            json!([t, v.map_or(0, |(_, v)| v).to_string()])
                        })
                        .collect();
                    json!({"metric": {"veer_stat": stat}, "values": values})
                })
                .collect();
            json!({"resultType": "matrix", "result": series})
        } else {
            let samples: Vec<Value> = counters(unix_now(), started)
                .into_iter()
                .filter(|(stat, _)| asked(stat))
                .map(|(stat, v)| json!({"metric": {"veer_stat": stat}, "value": [1.0, v.to_string()]}))
                .collect();
            json!({"resultType": "vector", "result": samples})
        }
    });
    url
}

/// `experiment report shop checkout --prometheus URL --history 6h --min-lift 10` and `extra`.
fn report(prom: &str, extra: &[&str]) -> (String, String) {
    let (port, _) = fake_api(vec![(PLUGIN, plugin())]);
    let mut args = vec![
        "experiment",
        "report",
        "shop",
        "checkout",
        "--prometheus",
        prom,
        "--history",
        "6h",
        "--min-lift",
        "10",
    ];
    args.extend_from_slice(extra);
    let out = veerctl(port, &args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

/// The report as JSON.
fn json_report(prom: &str) -> Value {
    serde_json::from_str(&report(prom, &["-o", "json"]).0).unwrap()
}

/// The primary goal's comparison of `one-click` against the control.
fn comparison(r: &Value) -> &Value {
    r["analysis"]["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["arm"] == "one-click")
        .unwrap_or_else(|| panic!("no comparison: {r}"))
}

/// Three hours of history at 200 new users an hour: the rate is 4,800 users a day (within the
/// counters' rounding), measured from the first reading after the experiment started to now,
/// and the days still needed are the users still needed at that rate, per arm's share.
#[test]
fn prometheus_history_gives_the_rate_and_the_days() {
    let prom = prometheus(unix_now() - 3.0 * 3600.0);
    let r = json_report(&prom);
    let traffic = &r["source"]["traffic"];
    assert_eq!(traffic["rate"], "measured", "{traffic}");
    let per_day = traffic["exposures_per_day"].as_f64().unwrap();
    let expected = 2.0 * PER_HOUR * 24.0;
    assert!(
        (per_day - expected).abs() < 0.02 * expected,
        "{per_day} against {expected}: {traffic}"
    );
    let span = traffic["to"].as_f64().unwrap() - traffic["from"].as_f64().unwrap();
    // The history's step is 6h / 60 = 6 min: the span starts within one step after the start.
    assert!(
        span > 3.0 * 3600.0 - 400.0 && span <= 3.0 * 3600.0 + 5.0,
        "{traffic}"
    );

    let plan = &comparison(&r)["power"]["planned"]["always_valid"];
    let days = plan["days_remaining"]
        .as_f64()
        .unwrap_or_else(|| panic!("{plan}"));
    let needed = |k: &str| plan[k].as_f64().unwrap() / (per_day * 0.5);
    let slower = needed("still_needed_arm").max(needed("still_needed_control"));
    assert!(
        days > 0.0 && (days - slower).abs() < 1e-6 * slower,
        "{days} against {slower}: {plan}"
    );

    let (table, _) = report(&prom, &[]);
    assert!(
        table.contains(&format!(
            "traffic: {per_day:.0} users newly exposed per day"
        )),
        "{table}"
    );
    assert!(table.contains("days"), "{table}");
}

/// Twenty minutes of history: no rate, and the report says why; no days are planned.
#[test]
fn too_short_a_history_says_why_there_are_no_days() {
    let prom = prometheus(unix_now() - 20.0 * 60.0);
    let r = json_report(&prom);
    let traffic = &r["source"]["traffic"];
    assert_eq!(traffic["rate"], "unknown", "{traffic}");
    let why = traffic["why"].as_str().unwrap();
    assert!(
        why.contains("a reading every 6m") && why.contains("a daily rate needs at least an hour"),
        "{why}"
    );
    let plan = &comparison(&r)["power"]["planned"]["always_valid"];
    assert!(plan.get("days_remaining").is_none(), "{plan}");
    let (table, _) = report(&prom, &[]);
    assert!(
        table.contains(&format!("traffic: unknown: {why};")),
        "{table}"
    );
}
