//! `explain`: the engine's decision for a described request, with its reason.

use serde_json::json;
use veer_filter::decide::{decide, DecidedBy, Inputs};
use veer_filter::RequestView;

use crate::cli::ExplainArgs;
use crate::config::source;
use crate::error::{CliError, Result};
use crate::history::now;
use crate::settings::Settings;

/// `explain`.
pub fn run(s: &Settings, a: &ExplainArgs) -> Result<()> {
    let wire = match &a.file {
        Some(f) => source::load_file(f)?.wire,
        None => {
            s.host
                .envoy()?
                .current()?
                .ok_or_else(|| CliError::failed("no live config; pass -f FILE"))?
                .wire
        }
    };
    let config = veer_filter::Config::from_wire(&wire).map_err(CliError::invalid_edit)?;
    let mut headers: Vec<(String, Vec<u8>)> = vec![
        (":authority".into(), a.host.clone().into_bytes()),
        (":path".into(), a.path.clone().into_bytes()),
    ];
    for h in &a.headers {
        let (name, value) = h.split_once(':').ok_or_else(|| {
            CliError::failed(format!("header {h:?} must look like 'NAME: VALUE'"))
        })?;
        headers.push((
            name.trim().to_ascii_lowercase(),
            value.trim().as_bytes().to_vec(),
        ));
    }
    if !a.cookies.is_empty() {
        headers.push(("cookie".into(), a.cookies.join("; ").into_bytes()));
    }
    // The filter strips client-sent copies of its own headers before deciding; so does explain.
    let owned: Vec<String> = config.owned_request_headers().map(str::to_owned).collect();
    headers.retain(|(n, _)| !owned.contains(n));
    let mut rng = fastrand::Rng::new();
    let mut random = || rng.u64(..);
    let req = RequestView::new(&headers);
    let decision = decide(
        &config,
        &req,
        Inputs {
            now_unix: now(),
            random: &mut random,
        },
    );
    let Some(d) = decision else {
        let doc = json!({ "service": null, "reason": "no service matches; the request passes through untouched" });
        return s.printer.print(&doc, || {
            println!(
                "no service matches host {:?} path {:?}: the request passes through untouched",
                a.host, a.path
            );
        });
    };
    let by = match d.by {
        DecidedBy::Override { .. } => "override".to_owned(),
        DecidedBy::Rule(_, r) => format!("rule {}", r.name),
        DecidedBy::Experiment {
            experiment, arm, ..
        } => format!("experiment {}={}", experiment.id, arm.name),
        DecidedBy::Split => "default split".to_owned(),
    };
    let doc = json!({
        "service": d.service.name.as_str(),
        "variant": d.variant.name.as_str(),
        "cluster": d.variant.cluster.as_str(),
        "decided_by": by,
        "experiment": d.assignment().map(|(id, arm)| format!("{id}={arm}")),
        "reason": d.to_string(),
    });
    s.printer.print(&doc, || {
        println!("service  {}", d.service.name);
        println!("variant  {}", d.variant.name);
        println!("cluster  {}", d.variant.cluster);
        println!("by       {by}");
        println!("why      {d}");
    })
}
