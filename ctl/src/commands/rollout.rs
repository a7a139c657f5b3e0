//! `rollout APP --image IMAGE | rollout status APP | rollout undo APP`: a Deployment rolled to a
//! new image (rolling or recreate), followed, undone. Kubernetes only.

use veer_k8s::rollout::{self, RolloutRequest, Strategy};

use super::print_outcome;
use crate::cli::{RolloutArgs, RolloutCommand, StrategyArg};
use crate::error::{CliError, Result};
use crate::host::kubernetes::err;
use crate::settings::Settings;

/// `rollout ...`.
pub fn run(s: &Settings, a: &RolloutArgs) -> Result<()> {
    let reporter = s.cluster.reporter();
    match &a.command {
        Some(RolloutCommand::Status { app }) => {
            let msg = s.cluster.run(|t| async move {
                rollout::rollout_status(&t, app, &s.cluster.wait_options(), &reporter)
                    .await
                    .map_err(err)
            })?;
            println!("{msg}");
            Ok(())
        }
        Some(RolloutCommand::Undo { app, to_revision }) => {
            let out = s
                .cluster
                .run(|t| async move { rollout::undo(&t, app, *to_revision).await.map_err(err) })?;
            print_outcome(s, &out, &out.message, &out.requests)
        }
        None => {
            let (Some(app), Some(image)) = (a.app.clone(), a.image.clone()) else {
                return Err(CliError::failed("rollout needs APP and --image"));
            };
            let surge = a.max_surge.as_deref().map(int_or_string);
            let unavailable = a.max_unavailable.as_deref().map(int_or_string);
            let rolling_values = surge.is_some() || unavailable.is_some();
            // Like `kubectl set image`: the strategy changes only when asked.
            let strategy = match a.strategy {
                Some(StrategyArg::Recreate) if rolling_values => return Err(CliError::failed(
                    "--max-surge and --max-unavailable are for --strategy rolling, not recreate",
                )),
                Some(StrategyArg::Recreate) => Some(Strategy::Recreate),
                Some(StrategyArg::Rolling) => Some(Strategy::Rolling {
                    max_surge: surge,
                    max_unavailable: unavailable,
                }),
                None if rolling_values => Some(Strategy::Rolling {
                    max_surge: surge,
                    max_unavailable: unavailable,
                }),
                None => None,
            };
            let req = RolloutRequest {
                app: app.clone(),
                image,
                container: a.container.clone(),
                strategy,
            };
            let follow = !a.no_wait && s.dry_run.is_none();
            let (out, status) = s.cluster.run(|t| async move {
                let out = rollout::rollout(&t, &req).await.map_err(err)?;
                let status = if follow {
                    Some(
                        rollout::rollout_status(&t, &app, &s.cluster.wait_options(), &reporter)
                            .await
                            .map_err(err)?,
                    )
                } else {
                    None
                };
                Ok((out, status))
            })?;
            print_outcome(s, &out, &out.message, &out.requests)?;
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
