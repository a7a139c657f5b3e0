//! A gate file's queries, evaluated by Prometheus's HTTP API (`/api/v1/query`). A gate needs one
//! number: a scalar, or a vector of one sample. No sample (or NaN, as `0/0` gives before any
//! traffic) is no data, which holds the step; several samples are an error that says to
//! aggregate, rather than a silent pick of the first (Argo Rollouts' `result[0]`).

use std::time::Duration;

use serde_json::Value;

use super::gate_file::QueryGate;
use super::gates::{Reading, Unit, Verdict};
use super::template::Values;

/// How long one query may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The result of `query` from the Prometheus at `url`: `None` when it has no data.
pub fn query(url: &str, query: &str) -> Result<Option<f64>, String> {
    let endpoint = format!("{}/api/v1/query", url.trim_end_matches('/'));
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(TIMEOUT))
        .build();
    let body = ureq::Agent::new_with_config(config)
        .get(&endpoint)
        .query("query", query)
        .call()
        .and_then(|mut r| r.body_mut().read_to_string())
        .map_err(|e| format!("cannot query Prometheus at {url}: {e}"))?;
    value_of(&body)
}

/// The one number in an `/api/v1/query` answer.
pub fn value_of(body: &str) -> Result<Option<f64>, String> {
    let doc: Value =
        serde_json::from_str(body).map_err(|e| format!("Prometheus's answer is not JSON: {e}"))?;
    if doc["status"] != "success" {
        return Err(format!(
            "Prometheus refused the query: {}",
            doc["error"].as_str().unwrap_or("no error message")
        ));
    }
    let result = &doc["data"]["result"];
    let sample = match doc["data"]["resultType"].as_str() {
        Some("scalar") => result,
        Some("vector") => match result.as_array().map(Vec::as_slice) {
            Some([]) => return Ok(None),
            Some([one]) => &one["value"],
            Some(many) => {
                return Err(format!(
                    "the query returns {} series; a gate needs one number: aggregate it (sum, max, ...)",
                    many.len()
                ))
            }
            None => return Err("Prometheus's vector has no result list".into()),
        },
        other => {
            return Err(format!(
                "the query returns a {}; a gate needs one number (a scalar, or a vector of one sample)",
                other.unwrap_or("result of no type")
            ))
        }
    };
    let text = sample[1]
        .as_str()
        .ok_or_else(|| format!("a sample without a value: {sample}"))?;
    let n: f64 = text
        .parse()
        .map_err(|_| format!("the value {text:?} is not a number"))?;
    Ok((!n.is_nan()).then_some(n))
}

/// The reading of `gate` over the step, its query filled in with `values`. A Prometheus that
/// cannot answer gives no data (the step waits, and then halts or rolls back as configured),
/// with the reason.
pub fn read_gate(url: &str, gate: &QueryGate, values: &Values<'_>) -> Reading {
    let without = |why: String| {
        let mut r = Reading::without(
            &gate.name,
            Unit::Number,
            gate.condition,
            Verdict::NoData,
            why,
        );
        r.on_failure = gate.on_failure;
        r
    };
    match query(url, &gate.query.fill(values)) {
        Ok(Some(v)) => Reading::of(&gate.name, v, Unit::Number, gate.condition, gate.on_failure),
        Ok(None) => without("the query returned no data".into()),
        Err(e) => without(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(values: &[&str]) -> String {
        let result: Vec<Value> = values
            .iter()
            .map(|v| serde_json::json!({"metric": {}, "value": [1.0, v]}))
            .collect();
        serde_json::json!({"status": "success", "data": {"resultType": "vector", "result": result}})
            .to_string()
    }

    #[test]
    fn one_number_is_read_and_no_sample_or_nan_is_no_data() {
        assert_eq!(value_of(&vector(&["0.25"])), Ok(Some(0.25)));
        assert_eq!(value_of(&vector(&[])), Ok(None));
        assert_eq!(value_of(&vector(&["NaN"])), Ok(None));
        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1.0,"7"]}}"#;
        assert_eq!(value_of(scalar), Ok(Some(7.0)));
    }

    #[test]
    fn several_series_errors_and_refusals_say_what_to_do() {
        let err = value_of(&vector(&["1", "2"])).unwrap_err();
        assert!(
            err.contains("returns 2 series") && err.contains("aggregate"),
            "{err}"
        );
        let err = value_of(r#"{"status":"error","error":"parse error at char 5"}"#).unwrap_err();
        assert!(err.contains("parse error at char 5"), "{err}");
        let err = value_of(r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#)
            .unwrap_err();
        assert!(err.contains("returns a matrix"), "{err}");
        assert!(value_of("nope").unwrap_err().contains("not JSON"));
    }
}
