//! veerctl's library: everything the CLI does, without the argument parsing.
//!
//! Layers, each using only those below it: `cli` (the clap types) is resolved once into
//! `settings` (the host, the printer); `commands` (one file per command or group) use `host`
//! (a standalone Envoy or Kubernetes), `config` (reading, editing, comparing configs), `observe`
//! (status, latency, sample-ratio checks from the proxies' counters), `history` (what changed)
//! and `output` (tables, JSON, progress). Data first, rendering last.

pub mod cli;
pub mod commands;
pub mod config;
pub mod error;
pub mod history;
pub mod host;
pub mod observe;
pub mod output;
pub mod progressive;
pub mod settings;

use cli::{Cli, Command};
use error::Result;
use settings::Settings;

/// Runs a parsed command line.
pub fn run(cli: &Cli) -> Result<()> {
    let s = &Settings::resolve(&cli.global);
    match &cli.command {
        Command::Validate { file } => commands::config::validate(s, file),
        Command::Apply(a) => commands::config::apply(s, a),
        Command::Get => commands::config::get(s),
        Command::Diff { file } => commands::config::diff(s, file),
        Command::Explain(a) => commands::explain::run(s, a),
        Command::Status(a) => commands::status::run(s, a),
        Command::Canary(c) => commands::canary::run(s, c),
        Command::Cohort(c) => commands::cohort::run(s, c),
        Command::Experiment(c) => commands::experiment::run(s, c),
        Command::Bluegreen(c) => commands::bluegreen::run(s, c),
        Command::Override(c) => commands::override_::run(s, c),
        Command::Rollout(a) => commands::rollout::run(s, a),
        Command::Mesh(c) => commands::mesh::run(s, c),
        Command::Bootstrap(a) => commands::bootstrap::run(s, a),
        Command::Completions { shell } => {
            commands::completions::run(*shell, &mut std::io::stdout())
        }
        Command::Schema => commands::schema::run(&mut std::io::stdout()),
    }
}
