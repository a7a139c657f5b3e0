//! `explain`: the engine's decision for a described request, with its reason.

use serde_json::json;

use crate::cli::ExplainArgs;
use crate::config::{request, source};
use crate::error::{CliError, Result};
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
    let headers = request::described(&a.host, &a.path, &a.headers, &a.cookies)
        .map_err(|h| CliError::failed(format!("header {h:?} must look like 'NAME: VALUE'")))?;
    let mut rng = fastrand::Rng::new();
    let mut random = || rng.u64(..);
    let Some(d) = request::decide_described(&config, &headers, &mut random) else {
        let doc = json!({ "service": null, "reason": "no service matches; the request passes through untouched" });
        return s.printer.print(&doc, || {
            println!(
                "no service matches host {:?} path {:?}: the request passes through untouched",
                a.host, a.path
            );
        });
    };
    s.printer.print(&d, || {
        println!("service  {}", d.service);
        println!("variant  {}", d.variant);
        println!("cluster  {}", d.cluster);
        println!("by       {}", d.decided_by);
        println!("why      {}", d.reason);
    })
}
