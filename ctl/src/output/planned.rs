//! The outcome of a Kubernetes operation: JSON with -o json; otherwise its summary, and in a dry
//! run the requests it would send (or sent with dryRun=All).

use serde::Serialize;
use veer_k8s::PlannedRequest;

use super::Printer;
use crate::cli::DryRunMode;
use crate::error::Result;

/// Prints `outcome`: JSON with -o json; otherwise `summary`, then (in a dry run) `requests`.
pub fn print<T: Serialize>(
    printer: &Printer,
    dry_run: Option<DryRunMode>,
    outcome: &T,
    summary: &str,
    requests: &[PlannedRequest],
) -> Result<()> {
    printer.print(outcome, || match dry_run {
        Some(mode) => {
            println!(
                "dry run ({}): {summary}",
                if mode == DryRunMode::Server {
                    "server"
                } else {
                    "nothing sent"
                }
            );
            for r in requests {
                println!("\n{r}");
            }
        }
        None => println!("{summary}"),
    })
}
