//! `bluegreen`: all traffic from one version to another at once, and back. On a standalone
//! Envoy the proxy's routing switches (`switch SERVICE VARIANT`, one atomic verified config
//! change; `rollback` undoes the last switch recorded in the history). On Kubernetes the Service
//! selector switches between two Deployments (`switch APP [blue|green]`), with `deploy`,
//! `status` and `scale-down` for the colours.

use std::time::Duration;

use veer_k8s::bluegreen::{self, DeployRequest, ScaleDownOutcome};
use veer_k8s::Colour;

use super::edited;
use super::print_outcome;
use crate::cli::BluegreenCommand;
use crate::config::edit;
use crate::error::{CliError, Result};
use crate::history::{self, Change};
use crate::host::envoy::change::{self, Base};
use crate::host::envoy::Envoy;
use crate::host::kubernetes::err;
use crate::host::Host;
use crate::settings::Settings;

/// Dispatches `bluegreen ...` to the host's blue/green.
pub fn run(s: &Settings, c: &BluegreenCommand) -> Result<()> {
    match &s.host {
        Host::Envoy(e) => on_envoy(s, e, c),
        Host::Kubernetes(_) => on_kubernetes(s, c),
    }
}

/// Blue/green at the proxy: one variant gets all of a service's traffic.
fn on_envoy(s: &Settings, envoy: &Envoy, c: &BluegreenCommand) -> Result<()> {
    match c {
        BluegreenCommand::Switch {
            name: service, to, ..
        } => {
            let variant = to
                .as_deref()
                .ok_or_else(|| CliError::failed("with --envoy, switch takes SERVICE VARIANT"))?;
            let what = Change::BluegreenSwitch {
                service: service.clone(),
                variant: variant.to_owned(),
            };
            let applied = change::change(envoy, &what, Base::Live, true, |w| {
                edit::route_all_to(w, service, variant)
            })?;
            edited::applied_on_envoy(s, &applied, Some(service), &applied.what)
        }
        BluegreenCommand::Deploy { .. }
        | BluegreenCommand::Status { .. }
        | BluegreenCommand::ScaleDown { .. } => Err(CliError::failed(
            "this is a Kubernetes command (Deployments and a Service); run it without --envoy",
        )),
        BluegreenCommand::Rollback { name: service, .. } => {
            // The switch to undo is looked up under the lock: a switch made meanwhile by another
            // veerctl is the one rolled back, not an older one.
            let applied = change::change_reading_history(envoy, Base::Live, true, |w, store| {
                let entries = store.history()?;
                let switch = history::last_switch(&entries, service).ok_or_else(|| {
                    CliError::failed(format!(
                        "no `bluegreen switch {service}` in the history to roll back"
                    ))
                })?;
                if !switch.had_config_before() {
                    return Err(CliError::failed(
                        "the switch was the first config; there is nothing to roll back to",
                    ));
                }
                edit::restore_split(w, service, switch.split_before(service))?;
                Ok(Change::BluegreenRollback {
                    service: service.clone(),
                    switch_version: switch.version,
                })
            })?;
            edited::applied_on_envoy(s, &applied, Some(service), &applied.what)
        }
    }
}

/// Blue/green of Deployments: the Service selector moves between APP-blue and APP-green.
/// `bluegreen ...` on Kubernetes.
fn on_kubernetes(s: &Settings, c: &BluegreenCommand) -> Result<()> {
    let reporter = s.cluster.reporter();
    match c {
        BluegreenCommand::Deploy {
            app,
            image,
            replicas,
            container,
            adopt_service,
        } => {
            let req = DeployRequest {
                app: app.clone(),
                image: image.clone(),
                container: container.clone(),
                replicas: *replicas,
                wait: s.cluster.wait_options(),
                adopt_service: *adopt_service,
            };
            let out = s.cluster.run(|t| async move {
                bluegreen::deploy(&t, &req, &reporter).await.map_err(err)
            })?;
            let summary = format!(
                "{}: {} ({}) {}",
                out.app,
                out.deployment,
                out.colour,
                out.rolled_out
                    .as_deref()
                    .unwrap_or("written; not waited for in dry run")
            );
            print_outcome(s, &out, &summary, &out.requests)
        }
        BluegreenCommand::Switch {
            name,
            to,
            scale_down_after,
        } => {
            let colour = to.as_deref().map(parse_colour).transpose()?;
            let out = s.cluster.run(|t| async move {
                bluegreen::switch(&t, name, colour, *scale_down_after)
                    .await
                    .map_err(err)
            })?;
            let summary = switched(&out, "Service now selects", *scale_down_after);
            print_outcome(s, &out, &summary, &out.requests)
        }
        BluegreenCommand::Rollback {
            name,
            scale_down_after,
        } => {
            let out = s.cluster.run(|t| async move {
                bluegreen::rollback(&t, name, *scale_down_after)
                    .await
                    .map_err(err)
            })?;
            let summary = switched(&out, "rolled back to", *scale_down_after);
            print_outcome(s, &out, &summary, &out.requests)
        }
        BluegreenCommand::Status { app } => {
            let st = s
                .cluster
                .run(|t| async move { bluegreen::status(&t, app).await.map_err(err) })?;
            s.printer.print(&st, || {
                println!(
                    "{}: Service {} -> {}{}",
                    st.app,
                    if st.service_exists {
                        "exists"
                    } else {
                        "missing"
                    },
                    st.live.map_or("nothing".into(), |c| c.to_string()),
                    st.previous.map_or(String::new(), |p| format!(
                        " (previous {p}, switched {})",
                        st.switched_at.as_deref().unwrap_or("?")
                    ))
                );
                for c in &st.colours {
                    println!("  {}", serde_json::to_string(c).unwrap_or_default());
                }
            })
        }
        BluegreenCommand::ScaleDown { app, after } => {
            let out = s.cluster.run(|t| async move {
                bluegreen::scale_down_idle(&t, app, *after)
                    .await
                    .map_err(err)
            })?;
            let (summary, requests) = match &out {
                ScaleDownOutcome::ScaledDown { colour, deployment, replicas_before, requests } => {
                    (format!("{app}: scaled {deployment} ({colour}) from {replicas_before} to 0"), requests.clone())
                }
                ScaleDownOutcome::NotYet { colour, remaining_seconds } => {
                    (format!("{app}: {colour} stays for {remaining_seconds}s more so that rollback is instant"), Vec::new())
                }
                ScaleDownOutcome::InUse { colour, reason } => (format!("{app}: {colour} not scaled down: {reason}"), Vec::new()),
                ScaleDownOutcome::Nothing { reason } => (format!("{app}: nothing to scale down ({reason})"), Vec::new()),
            };
            print_outcome(s, &out, &summary, &requests)
        }
    }
}

/// What a switch or a rollback did (`done`: "Service now selects"): the colour now selected and
/// how long the previous one keeps running, or that nothing changed.
fn switched(out: &bluegreen::SwitchOutcome, done: &str, after: Duration) -> String {
    if out.changed {
        format!(
            "{}: {done} {} (was {}); {}",
            out.app,
            out.to,
            out.from.map_or("nothing".into(), |c| c.to_string()),
            keeps(out.from, &out.app, after)
        )
    } else {
        format!(
            "{}: Service already selects {}; nothing changed",
            out.app, out.to
        )
    }
}

/// What happens to the colour switched away from, for the summary of a switch or rollback.
fn keeps(from: Option<Colour>, app: &str, after: Duration) -> String {
    match from {
        Some(c) => format!(
            "{c} keeps running for {} so that rollback is instant; `veerctl bluegreen scale-down {app}` (or the CronJob) scales it down after that",
            humantime::format_duration(after)
        ),
        None => "no previous colour to keep".into(),
    }
}

fn parse_colour(s: &str) -> Result<Colour> {
    match s {
        "blue" => Ok(Colour::Blue),
        "green" => Ok(Colour::Green),
        other => Err(CliError::failed(format!(
            "{other:?} is not a colour: use blue or green (or --envoy DIR for a proxy variant)"
        ))),
    }
}
