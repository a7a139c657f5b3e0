//! The command line, as clap types. Their doc comments are the `--help` text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// veerctl: move user traffic between versions of a service, and prove every change is live.
///
/// Changes are written to the ECDS file a standalone Envoy watches (--envoy DIR) and then
/// verified from each proxy's own counters (--admin URL, repeatable): a change that a proxy
/// rejects or does not pick up fails loudly.
///
/// Exit codes: 0 success; 1 failure (unreachable proxy, unknown service, I/O); 2 usage error;
/// 3 invalid config (nothing written); 4 written but not verified live; 5 a concurrent change
/// got in the way; 6 `status --check` found a split mismatch.
#[derive(Debug, Parser)]
#[command(name = "veerctl", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// The directory Envoy watches for the Veer filter's ECDS file (veer.json).
    #[arg(long, global = true, env = "VEER_ENVOY_DIR", value_name = "DIR")]
    pub envoy: Option<PathBuf>,
    /// Envoy admin URL of a proxy to verify and observe (repeatable, or comma-separated).
    #[arg(
        long = "admin",
        global = true,
        env = "VEER_ADMIN",
        value_delimiter = ',',
        value_name = "URL"
    )]
    pub admins: Vec<String>,
    /// How long to wait for a change to go live on every proxy.
    #[arg(long, global = true, default_value = "30s", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// No progress output on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Human-readable.
    Table,
    /// JSON, for scripts.
    Json,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a config file (JSON or YAML); print every problem with its line and path.
    Validate {
        /// The config file (`-` for stdin).
        file: PathBuf,
    },
    /// Make a config file the live config, then verify every proxy runs it.
    Apply(ApplyArgs),
    /// Print the live config (JSON).
    Get,
    /// Show what `apply -f FILE` would change, and how many users each split change moves.
    Diff {
        /// The config file.
        #[arg(short, long)]
        file: PathBuf,
    },
    /// Say which service, variant and cluster a request gets, and why.
    Explain(ExplainArgs),
    /// Configured split beside the observed split, with a mismatch test, errors and latency.
    Status(StatusArgs),
    /// Canary releases: weights, promotion, abort, progressive steps.
    #[command(subcommand)]
    Canary(CanaryCommand),
    /// A/B/n experiments per user segment.
    #[command(subcommand)]
    Experiment(ExperimentCommand),
    /// Blue/green at the proxy: switch all traffic at once, and back.
    #[command(subcommand)]
    Bluegreen(BluegreenCommand),
    /// Signed forced-variant overrides for testers.
    #[command(subcommand)]
    Override(OverrideCommand),
}

/// `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The config file (JSON or YAML; `-` for stdin).
    #[arg(short, long)]
    pub file: PathBuf,
    /// The filter's .wasm on the proxy host (needed for the first apply; kept afterwards).
    #[arg(long)]
    pub wasm: Option<PathBuf>,
    /// Refuse unless the live version is this one (optimistic concurrency for scripts).
    #[arg(long, value_name = "VERSION")]
    pub expect_version: Option<u64>,
    /// Write and return without waiting for the proxies.
    #[arg(long)]
    pub no_wait: bool,
}

/// `explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Explain against this config file instead of the live one.
    #[arg(short, long)]
    pub file: Option<PathBuf>,
    /// Request host (`:authority`).
    #[arg(long, default_value = "localhost")]
    pub host: String,
    /// Request path, with query string.
    #[arg(long, default_value = "/")]
    pub path: String,
    /// A request header, `NAME: VALUE` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// A cookie, `NAME=VALUE` (repeatable).
    #[arg(long = "cookie", value_name = "NAME=VALUE")]
    pub cookies: Vec<String>,
}

/// `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Refresh until interrupted.
    #[arg(short, long)]
    pub watch: bool,
    /// Refresh interval for --watch.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Exit 6 when any service's observed split mismatches the configured one.
    #[arg(long)]
    pub check: bool,
}

/// `canary ...`.
#[derive(Debug, Subcommand)]
pub enum CanaryCommand {
    /// Set a variant's share of the default split; the difference comes from the stable variant.
    SetWeight {
        /// Service name.
        service: String,
        /// Variant name.
        variant: String,
        /// Percent, up to two decimals (`20`, `0.5`).
        percent: String,
        /// Take the difference from (or give it to) this variant instead of the stable one.
        #[arg(long)]
        from: Option<String>,
    },
    /// Send all traffic to the variant; it becomes the new stable.
    Promote {
        /// Service name.
        service: String,
        /// Variant name.
        variant: String,
    },
    /// Send all traffic back to the stable variant at once.
    Abort {
        /// Service name.
        service: String,
    },
    /// Step the canary through weights, verifying each and checking its error rate in between.
    Run(CanaryRunArgs),
}

/// `canary run`.
#[derive(Debug, Args)]
pub struct CanaryRunArgs {
    /// Service name.
    pub service: String,
    /// Variant name.
    pub variant: String,
    /// Percent steps.
    #[arg(long, value_delimiter = ',', default_value = "5,25,50,100")]
    pub steps: Vec<String>,
    /// Pause between steps.
    #[arg(long, default_value = "1m", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Ask for confirmation on the terminal before each step instead of pausing.
    #[arg(long)]
    pub manual: bool,
    /// Abort when the canary's 5xx rate over a step exceeds this percent.
    #[arg(long, default_value = "1")]
    pub max_error_rate: f64,
    /// Promote the canary after the last step.
    #[arg(long)]
    pub promote: bool,
}

/// `experiment ...`.
#[derive(Debug, Subcommand)]
pub enum ExperimentCommand {
    /// Start (or replace) an experiment.
    Start {
        /// Service name.
        service: String,
        /// Experiment id (sent to the app and client as `id=arm`).
        id: String,
        /// An arm, `NAME=VARIANT:PERCENT` (repeatable; at least two; percents sum to 100).
        #[arg(long = "arm", required = true)]
        arms: Vec<String>,
        /// Who may be enrolled: `header:NAME=VALUE`, `cookie:NAME=VALUE`, `query:NAME=VALUE`,
        /// `path:/PREFIX` (repeatable: all must match). Default: everyone.
        #[arg(long = "segment")]
        segments: Vec<String>,
        /// Percent of the segment enrolled.
        #[arg(long, default_value = "100")]
        allocation: String,
        /// Hash salt (default: the id).
        #[arg(long)]
        salt: Option<String>,
    },
    /// Stop an experiment: its users return to the default split.
    Stop {
        /// Service name.
        service: String,
        /// Experiment id.
        id: String,
    },
    /// List experiments, with assignments observed since the last change.
    List,
}

/// `bluegreen ...`.
#[derive(Debug, Subcommand)]
pub enum BluegreenCommand {
    /// Send all of a service's traffic to one variant, atomically and verified.
    Switch {
        /// Service name.
        service: String,
        /// Variant name.
        variant: String,
    },
    /// Undo the last switch of the service.
    Rollback {
        /// Service name.
        service: String,
    },
}

/// `override ...`.
#[derive(Debug, Subcommand)]
pub enum OverrideCommand {
    /// Print a signed override value for the `x-veer-override` header.
    Sign {
        /// Service name.
        service: String,
        /// Variant to force.
        variant: String,
        /// Environment variable holding the key (keys never go on the command line).
        #[arg(long, default_value = "VEER_OVERRIDE_KEY")]
        key_env: String,
        /// How long the value is valid.
        #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
        ttl: Duration,
    },
}
