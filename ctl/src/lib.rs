//! veerctl's library: everything the CLI does, without the argument parsing.
//!
//! Data first, rendering last: modules compute (`status`, `edit`, `srm`), `render` draws tables,
//! `commands` wires a command's arguments to both.

pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod host;
pub mod observe;
pub mod output;

use cli::{Cli, Command};
use error::Result;

/// Runs a parsed command line.
pub fn run(cli: &Cli) -> Result<()> {
    let g = &cli.global;
    match &cli.command {
        Command::Validate { file } => commands::config::validate(g, file),
        Command::Apply(a) => commands::config::apply(g, a),
        Command::Get => commands::config::get(g),
        Command::Diff { file } => commands::config::diff(g, file),
        Command::Explain(a) => commands::explain::run(g, a),
        Command::Status(a) if g.envoy.is_none() => host::kubernetes::sidecars::status(g, a),
        Command::Status(a) => commands::status::run(g, a),
        Command::Canary(c) => commands::canary::run(g, c),
        Command::Experiment(c) => commands::experiment::run(g, c),
        Command::Bluegreen(c) => commands::bluegreen::run(g, c),
        Command::Override(c) => commands::override_::run(g, c),
        Command::Rollout(a) => commands::kubernetes::rollout(g, a),
        Command::Mesh(c) => commands::kubernetes::mesh(g, c),
    }
}
