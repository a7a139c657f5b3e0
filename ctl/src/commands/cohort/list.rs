//! `cohort list [SERVICE]`: every service's rules in evaluation order, with the requests each
//! decided since the last verified change (on a standalone Envoy, from the `--admin` proxies).

use crate::config::edit::service;
use crate::error::{CliError, Result};
use crate::observe::snapshot::counter;
use crate::output::cohort::{self as show, RuleRow};
use crate::settings::Settings;

/// Lists the rules of `only` (every service when `None`).
pub fn run(s: &Settings, only: Option<&str>) -> Result<()> {
    let live = s
        .host
        .live()?
        .ok_or_else(|| CliError::failed("no live config yet"))?;
    let services = match only {
        Some(name) => vec![service(&live.wire, name)?],
        None => live.wire.services.iter().collect(),
    };
    // Kubernetes keeps no baseline of the last change: `status` counts over a window there.
    let counted = s.host.since_last_change()?.filter(|c| c.any_readable());
    let mut rows: Vec<RuleRow> = Vec::new();
    for svc in &services {
        let decided = |rule: &str| {
            counted
                .as_ref()
                .map(|c| c.sum(&counter::rule(&svc.name, rule)))
        };
        rows.extend(show::rows(&svc.name, &svc.rules, decided));
    }
    s.printer.print(&rows, || {
        let note = match &counted {
            Some(c) => format!("requests decided {}, summed over the proxies", c.label),
            None => "requests decided: not counted (on Kubernetes, and without --admin, veerctl \
                     keeps no baseline of the last change; `veerctl status` counts over a window)"
                .to_owned(),
        };
        println!("{note}");
        for svc in &services {
            let own: Vec<RuleRow> = rows
                .iter()
                .filter(|r| r.service == svc.name)
                .cloned()
                .collect();
            println!("\nservice {}", svc.name);
            println!(
                "{}",
                show::rules_table(&own, counted.is_some(), |_| None, s.printer.colour)
            );
            println!("{}", show::after_rules(svc));
        }
    })
}
