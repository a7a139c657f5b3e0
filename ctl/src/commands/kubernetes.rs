//! Kubernetes-only commands: blue/green Deployments, rollouts, mesh install, and `status` from
//! the sidecars or Prometheus.

use std::collections::BTreeMap;
use std::path::Path;

use veer_k8s::bluegreen::{self, DeployRequest, ScaleDownOutcome};
use veer_k8s::mesh::{self, MeshSpec, PluginSettings, ServiceRoutes, Sha256};
use veer_k8s::plugin_live::{PluginWait, PortForward};
use veer_k8s::rollout::{self, RolloutRequest, Strategy};
use veer_k8s::Colour;

use super::print_json;
use crate::cli::{
    BluegreenCommand, Global, MeshCommand, Output, RolloutArgs, RolloutCommand, StrategyArg,
};
use crate::config::source;
use crate::error::{CliError, Result};
use crate::host::kubernetes::{err, print, run, wait_options as wait, StderrReporter};

/// `bluegreen ...` on Kubernetes.
pub fn bluegreen(g: &Global, c: &BluegreenCommand) -> Result<()> {
    let reporter = StderrReporter::new(g);
    match c {
        BluegreenCommand::Deploy {
            app,
            image,
            replicas,
            container,
        } => {
            let req = DeployRequest {
                app: app.clone(),
                image: image.clone(),
                container: container.clone(),
                replicas: *replicas,
                wait: wait(g),
            };
            let out = run(g, |t| async move {
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
            print(g, &out, &summary, &out.requests)
        }
        BluegreenCommand::Switch {
            name,
            to,
            scale_down_after,
        } => {
            let colour = to.as_deref().map(parse_colour).transpose()?;
            let out = run(g, |t| async move {
                bluegreen::switch(&t, name, colour, *scale_down_after)
                    .await
                    .map_err(err)
            })?;
            let summary = switched(&out, "Service now selects", *scale_down_after);
            print(g, &out, &summary, &out.requests)
        }
        BluegreenCommand::Rollback {
            name,
            scale_down_after,
        } => {
            let out = run(g, |t| async move {
                bluegreen::rollback(&t, name, *scale_down_after)
                    .await
                    .map_err(err)
            })?;
            let summary = switched(&out, "rolled back to", *scale_down_after);
            print(g, &out, &summary, &out.requests)
        }
        BluegreenCommand::Status { app } => {
            let s = run(g, |t| async move {
                bluegreen::status(&t, app).await.map_err(err)
            })?;
            match g.output {
                Output::Json => print_json(&s),
                Output::Table => {
                    println!(
                        "{}: Service {} -> {}{}",
                        s.app,
                        if s.service_exists {
                            "exists"
                        } else {
                            "missing"
                        },
                        s.live.map_or("nothing".into(), |c| c.to_string()),
                        s.previous.map_or(String::new(), |p| format!(
                            " (previous {p}, switched {})",
                            s.switched_at.as_deref().unwrap_or("?")
                        ))
                    );
                    for c in &s.colours {
                        println!("  {}", serde_json::to_string(c).unwrap_or_default());
                    }
                    Ok(())
                }
            }
        }
        BluegreenCommand::ScaleDown { app, after } => {
            let out = run(g, |t| async move {
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
            print(g, &out, &summary, &requests)
        }
    }
}

/// What a switch or a rollback did (`done`: "Service now selects"): the colour now selected and
/// how long the previous one keeps running, or that nothing changed.
fn switched(out: &bluegreen::SwitchOutcome, done: &str, after: std::time::Duration) -> String {
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
fn keeps(from: Option<Colour>, app: &str, after: std::time::Duration) -> String {
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

/// `rollout ...`.
pub fn rollout(g: &Global, a: &RolloutArgs) -> Result<()> {
    let reporter = StderrReporter::new(g);
    match &a.command {
        Some(RolloutCommand::Status { app }) => {
            let msg = run(g, |t| async move {
                rollout::rollout_status(&t, app, &wait(g), &reporter)
                    .await
                    .map_err(err)
            })?;
            println!("{msg}");
            Ok(())
        }
        Some(RolloutCommand::Undo { app, to_revision }) => {
            let out = run(g, |t| async move {
                rollout::undo(&t, app, *to_revision).await.map_err(err)
            })?;
            print(g, &out, &out.message, &out.requests)
        }
        None => {
            let (Some(app), Some(image)) = (a.app.clone(), a.image.clone()) else {
                return Err(CliError::failed("rollout needs APP and --image"));
            };
            let strategy = match a.strategy {
                StrategyArg::Recreate => Strategy::Recreate,
                StrategyArg::Rolling => Strategy::Rolling {
                    max_surge: int_or_string(&a.max_surge),
                    max_unavailable: int_or_string(&a.max_unavailable),
                },
            };
            let req = RolloutRequest {
                app: app.clone(),
                image,
                container: a.container.clone(),
                strategy,
            };
            let follow = !a.no_wait && g.dry_run.is_none();
            let (out, status) = run(g, |t| async move {
                let out = rollout::rollout(&t, &req).await.map_err(err)?;
                let status = if follow {
                    Some(
                        rollout::rollout_status(&t, &app, &wait(g), &reporter)
                            .await
                            .map_err(err)?,
                    )
                } else {
                    None
                };
                Ok((out, status))
            })?;
            print(g, &out, &out.message, &out.requests)?;
            if let Some(s) = status {
                println!("{s}");
            }
            Ok(())
        }
    }
}

fn int_or_string(v: &str) -> k8s_openapi::apimachinery::pkg::util::intstr::IntOrString {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    v.parse::<i32>()
        .map_or_else(|_| IntOrString::String(v.to_owned()), IntOrString::Int)
}

/// `mesh install`.
pub fn mesh(g: &Global, c: &MeshCommand) -> Result<()> {
    let MeshCommand::Install {
        file,
        plugin_url,
        sha256,
        wasm,
        selectors,
        routes,
        gateways,
        no_wait,
    } = c;
    let loaded = source::load_file(file)?;
    loaded.validate(&file.display().to_string())?;
    let digest = plugin_digest(plugin_url, sha256.as_deref(), wasm.as_deref())?;
    let mut plugin = PluginSettings::new(plugin_url, Some(digest));
    plugin.selector = pairs(selectors, "--selector")?;
    let hosts = pairs(routes, "--route")?;
    let routes = loaded
        .wire
        .services
        .iter()
        .map(|s| ServiceRoutes {
            service: s.name.clone(),
            host: hosts
                .get(&s.name)
                .cloned()
                .unwrap_or_else(|| s.name.clone()),
            gateways: gateways.clone(),
            ..ServiceRoutes::default()
        })
        .collect();
    let spec = MeshSpec {
        plugin,
        config: loaded.wire,
        routes,
    };
    let reporter = StderrReporter::new(g);
    let wait = PluginWait {
        opts: wait(g),
        reader: PortForward,
    };
    let out = run(g, |t| async move {
        if *no_wait {
            mesh::mesh_install(&t, &spec, &reporter).await
        } else {
            mesh::mesh_install_waiting(&t, &spec, &wait, &reporter).await
        }
        .map_err(err)
    })?;
    let summary = format!("installed, in this order: {}", out.applied.join(", "));
    print(g, &out, &summary, &out.requests)
}

/// The digest the WasmPlugin carries: --sha256 as given, or the SHA-256 of --wasm FILE.
fn plugin_digest(url: &str, hex: Option<&str>, wasm: Option<&Path>) -> Result<Sha256> {
    match (hex, wasm) {
        (Some(hex), _) => Sha256::parse(hex).map_err(err),
        (None, Some(_)) if url.starts_with("oci://") => Err(CliError::failed(
            "--wasm gives the module's SHA-256, but for an oci:// URL Istio checks the image's \
             digest: give --sha256 with the digest your registry printed on push (without `sha256:`)",
        )),
        (None, Some(path)) => std::fs::read(path)
            .map(|bytes| Sha256::of(&bytes))
            .map_err(|e| CliError::io(format!("read --wasm {}", path.display()), e)),
        (None, None) => Err(CliError::failed(
            "mesh install needs the module's digest: --sha256 HEX or --wasm FILE",
        )),
    }
}

fn pairs(items: &[String], flag: &str) -> Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|i| {
            i.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| CliError::failed(format!("{flag} {i:?} must look like KEY=VALUE")))
        })
        .collect()
}
