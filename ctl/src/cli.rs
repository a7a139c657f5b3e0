//! The command line, as clap types. Their doc comments are the `--help` text.

use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use veer_filter::config::wire::WireMatch;

mod cohort;
pub use cohort::{
    parse_match, AddArgs, At, CohortCommand, Samples, SetArgs, TargetArgs, MATCH_SYNTAX,
};

/// veerctl: move user traffic between versions of a service, and prove every change is live.
///
/// Changes are written to the ECDS file a standalone Envoy watches (--envoy DIR) and then
/// verified from each proxy's own counters (--admin URL, repeatable): a change that a proxy
/// rejects or does not pick up fails loudly, showing what every proxy runs. A rejected change
/// does not stay live: the last config the proxies accepted is written again as a new version.
///
/// Exit codes: 0 success; 1 failure (unreachable proxy, unknown service or cohort rule, I/O, a
/// refused header rename, a filter file that is not a wasm module, nothing to undo, an experiment
/// report without data: an unknown experiment or goal, no exposed user, an unreadable events
/// file; nothing written); 2 usage error (also a bad match expression); 3 invalid config, or a
/// cohort rule that could never match (nothing written); 4 written but not verified live
/// (rejected, then restored; a proxy that runs another config; or not picked up in time); 5 a
/// concurrent change got in the way (`apply --expect-version`, the store's lock held too long,
/// cohort rules changed since they were read); 6 `status --check` found a split mismatch (or
/// `canary run` did during a step), or a proxy on the fallback or on another config.
#[derive(Debug, Parser)]
#[command(name = "veerctl", version = SHORT_VERSION, long_version = LONG_VERSION, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the command line as [`Cli::try_parse_from`] does, then refuses what only exists
    /// on the other host: clap's conflicts do not see a global option given before the
    /// subcommand, so the check is here, still a usage error (exit code 2) before anything runs.
    pub fn try_parse_checked<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let cli = Cli::try_parse_from(args)?;
        match (&cli.global.envoy, &cli.command) {
            (Some(_), Command::Bluegreen(c)) if c.kubernetes_only() => Err(Cli::command().error(
                ErrorKind::ArgumentConflict,
                "the argument '--envoy <DIR>' (or VEER_ENVOY_DIR) cannot be used with this \
                     command: it exists only on Kubernetes. On a standalone Envoy, blue/green is \
                     `bluegreen switch SERVICE VARIANT` and `bluegreen rollback SERVICE`",
            )),
            (Some(_), Command::Experiment(ExperimentCommand::Report(r)))
                if r.prometheus.is_some() =>
            {
                Err(Cli::command().error(
                    ErrorKind::ArgumentConflict,
                    "the argument '--prometheus <URL>' cannot be used with '--envoy <DIR>' (or \
                     VEER_ENVOY_DIR): on a standalone Envoy the report reads the proxies' admin \
                     API (--admin)",
                ))
            }
            _ => Ok(cli),
        }
    }
}

/// The proxy-wasm ABI Veer's filter is built for: the function its .wasm exports for Envoy to
/// pick the ABI (the proxy-wasm Rust SDK's). A test checks the built filter exports it.
macro_rules! filter_abi {
    () => {
        "proxy_abi_version_0_2_1"
    };
}

/// The proxy-wasm ABI veerctl expects the filter to speak.
pub const FILTER_ABI: &str = filter_abi!();

/// `veerctl -V`.
const SHORT_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (filter ABI ",
    filter_abi!(),
    ")"
);

/// `veerctl --version`: what veerctl expects of the filter it configures. veer-ctl and
/// veer-filter share the workspace's version, so the config format is that release's.
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\nfilter ABI: ",
    filter_abi!(),
    " (proxy-wasm, loaded by Envoy's wasm filter)\nrouting config: the format of veer-filter ",
    env!("CARGO_PKG_VERSION"),
    " (JSON in the filter's configuration; JSON or YAML for veerctl)"
);

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
    /// How long to wait: for a change to go live on every proxy (default 30s), for a
    /// Kubernetes rollout or WasmPlugin to be live (default 5m).
    #[arg(long, global = true, value_parser = humantime::parse_duration, value_name = "DURATION", overrides_with = "timeout")]
    pub timeout: Option<Duration>,
    /// Output format.
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// No progress output on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Kubernetes: the kubeconfig context (default: the current one). Commands act on
    /// Kubernetes when --envoy is not given.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// Kubernetes: the namespace (default: the context's).
    #[arg(short = 'n', long, global = true, value_name = "NAME")]
    pub namespace: Option<String>,
    /// Show what a change would do instead of doing it. Kubernetes: print the requests it would
    /// send (`client`), or send them with dryRun=All (`server`). With --envoy (either mode):
    /// print every field of the live config it would change; nothing is written.
    #[arg(long, global = true, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "client", value_name = "MODE")]
    pub dry_run: Option<DryRunMode>,
    /// Kubernetes: the WasmPlugin that carries the routing config.
    #[arg(long, global = true, default_value = "veer", value_name = "NAME")]
    pub plugin: String,
}

/// --timeout when not given, for a change on the proxies: ECDS is picked up within seconds.
pub const ENVOY_TIMEOUT: Duration = Duration::from_secs(30);
/// --timeout when not given, for a Kubernetes wait: pulling images (or a Wasm module) and
/// starting pods takes minutes (kubectl's and the Deployment controller's scale).
pub const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(300);

impl Global {
    /// How long a change may take to go live on every proxy.
    pub fn envoy_timeout(&self) -> Duration {
        self.timeout.unwrap_or(ENVOY_TIMEOUT)
    }

    /// How long a Kubernetes wait (a rollout, a WasmPlugin reaching the sidecars) may take.
    pub fn kube_timeout(&self) -> Duration {
        self.timeout.unwrap_or(ROLLOUT_TIMEOUT)
    }
}

/// `--dry-run` modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DryRunMode {
    /// Print, send nothing.
    Client,
    /// Send with dryRun=All: validated by the API server, persisted nowhere.
    Server,
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
    /// Make a config file the live config, then verify every proxy runs it (a rejected config
    /// is replaced by the last accepted one again).
    Apply(ApplyArgs),
    /// Print the live config (JSON).
    Get,
    /// Show every field `apply -f FILE` would change, how many users each split change moves,
    /// and a warning for changes that reshuffle users (salt, stickiness sources).
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
    /// Cohort rules: who gets which variant ahead of experiments and the split (employees,
    /// beta testers, a country), one verified change at a time.
    #[command(subcommand)]
    Cohort(Box<CohortCommand>),
    /// A/B/n experiments per user segment.
    #[command(subcommand)]
    Experiment(ExperimentCommand),
    /// Blue/green: all traffic to one version at once, and back (a variant at the proxy with
    /// --envoy; Deployments behind a Service on Kubernetes).
    #[command(subcommand)]
    Bluegreen(BluegreenCommand),
    /// Signed forced-variant overrides for testers.
    #[command(subcommand)]
    Override(OverrideCommand),
    /// Kubernetes: roll a Deployment to a new image (rolling or recreate), follow it, undo it.
    Rollout(RolloutArgs),
    /// Kubernetes + Istio: install Veer's WasmPlugin and the routes that obey it.
    #[command(subcommand)]
    Mesh(MeshCommand),
    /// Print an Envoy bootstrap (YAML) that runs Veer's filter, from the --envoy directory, in
    /// front of the given clusters: for starting a standalone Envoy by hand. Envoy starts on it
    /// once the directory holds a first config (`apply --no-wait`).
    Bootstrap(BootstrapArgs),
    /// Print a shell completion script: `source <(veerctl completions bash)`, or save it where
    /// your shell loads completions (e.g. ~/.local/share/bash-completion/completions/veerctl).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the JSON Schema of the routing config, for editors that complete and check a config
    /// as it is written (see the README: a `yaml-language-server` modeline, or a JSON `$schema`).
    Schema,
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
    /// Veer native instead of the .wasm: the dynamic module Envoy loads, by name (veer_native)
    /// or as the directory holding libveer_native.so (target/native after `make native`), which
    /// must be in the proxy's ENVOY_DYNAMIC_MODULES_SEARCH_PATH. Needed for the first apply;
    /// kept afterwards. Every proxy's Envoy release must load the module's ABI (/server_info).
    #[arg(long, value_name = "NAME_OR_DIR", conflicts_with = "wasm")]
    pub module: Option<PathBuf>,
    /// Refuse unless the live version is this one (optimistic concurrency for scripts).
    #[arg(long, value_name = "VERSION")]
    pub expect_version: Option<u64>,
    /// Write and return without waiting for the proxies.
    #[arg(long)]
    pub no_wait: bool,
    /// Allow renaming a header the filter owns (headers.cluster, .variant, .experiment,
    /// override.header). Change what reads the old name first, e.g. the route's cluster_header:
    /// after the rename the filter no longer removes client-sent copies of the old name.
    #[arg(long)]
    pub allow_header_rename: bool,
}

/// `bootstrap`.
#[derive(Debug, Args)]
pub struct BootstrapArgs {
    /// An upstream cluster, `NAME=HOST:PORT` (repeatable). The first is the stable one: every
    /// request that no service claims, or that the filter cannot route, goes there.
    #[arg(long = "cluster", required = true, value_name = "NAME=HOST:PORT")]
    pub clusters: Vec<String>,
    /// The filter's .wasm on this host (for the fallback config Envoy runs when it starts on a
    /// file its filter refuses).
    #[arg(long, required_unless_present = "module")]
    pub wasm: Option<PathBuf>,
    /// Veer native instead of the .wasm: the dynamic module, by name (veer_native) or as the
    /// directory holding libveer_native.so (target/native after `make native`), as for `apply
    /// --module`. Envoy loads it from its ENVOY_DYNAMIC_MODULES_SEARCH_PATH, which must be set
    /// when Envoy starts (a bootstrap cannot set it).
    #[arg(long, value_name = "NAME_OR_DIR", conflicts_with = "wasm")]
    pub module: Option<PathBuf>,
    /// The listener's address.
    #[arg(long, default_value = "127.0.0.1")]
    pub listen_address: String,
    /// The listener's port.
    #[arg(long, default_value_t = 8080)]
    pub listen_port: u16,
    /// The admin API's port, on 127.0.0.1 (--admin http://127.0.0.1:PORT).
    #[arg(long, default_value_t = 9901)]
    pub admin_port: u16,
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
    /// Kubernetes: read the observed split from this Prometheus (instead of the sidecars).
    /// Better with many pods: one query, where the sidecar path opens a port-forward per pod
    /// (32 at a time, each up to 10 s when a sidecar does not answer) and reads each twice per
    /// window; also when you may not port-forward to the pods. Without latency.
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// Kubernetes: read the observed split from the sidecars of the pods matching this label
    /// selector, through port-forwards (e.g. `app=frontend`; default: the pods the WasmPlugin
    /// runs in).
    #[arg(long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Kubernetes: count over this window. From the sidecars (default 10s), each is read at its
    /// start and at its end, and `0` counts since each sidecar started; with --prometheus, the
    /// increase over it (default: totals since each proxy started).
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub window: Option<Duration>,
    /// Refresh until interrupted. A terminal is redrawn in place; piped, frames follow each
    /// other under a timestamped header (with -o json: one JSON document per line). On
    /// Kubernetes the first frame counts over --window and each later one since the frame
    /// before.
    #[arg(short, long)]
    pub watch: bool,
    /// Refresh interval for --watch.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Exit 6 when any service's observed split, or any experiment's arms, mismatch the
    /// configured ones.
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
    /// Step the canary through weights, verifying each and gating each step on the proxies'
    /// figures (5xx rate, latency, the split itself, enough traffic), the gate file's queries
    /// and webhooks. The run is recorded with the config: started again after a kill, it
    /// continues from the recorded step.
    Run(CanaryRunArgs),
    /// Where the recorded `canary run` of a service is: its step, its state, what each passed
    /// step's gates read.
    Status {
        /// Service name.
        service: String,
    },
}

/// `canary run`.
#[derive(Debug, Args)]
#[command(after_help = CANARY_RUN_HELP)]
pub struct CanaryRunArgs {
    /// Service name.
    pub service: String,
    /// Variant name.
    pub variant: String,
    /// Percent steps.
    #[arg(long, value_delimiter = ',', default_value = "5,25,50,100")]
    pub steps: Vec<String>,
    /// How long each step is watched before it can pass (and before --promote); a failing gate
    /// stops the run at once.
    #[arg(long, default_value = "1m", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// After each step, ask on the terminal whether to go on to the next (and to --promote)
    /// instead of pausing.
    #[arg(long)]
    pub manual: bool,
    /// Roll back when the canary's 5xx rate over a step exceeds this percent.
    #[arg(long, default_value = "1")]
    pub max_error_rate: f64,
    /// Roll back when the canary's p99 latency over a step exceeds this (`500ms`), from the
    /// proxies' histograms merged over every proxy.
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub max_p99: Option<Duration>,
    /// Roll back when the canary's p99 latency exceeds the stable variant's over the same window
    /// by more than this percent (`20%`).
    #[arg(long, value_parser = parse_percent, value_name = "PERCENT")]
    pub max_p99_increase: Option<f64>,
    /// Requests (and latency samples) a step needs before it can pass: with fewer, it waits
    /// (--max-wait), then acts (--on-no-data). Default 1, so a step never passes on no data;
    /// with --manual, 0 (the person who answers decides).
    #[arg(long, value_name = "N")]
    pub min_requests: Option<u64>,
    /// How long a step may wait past --interval for enough data.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub max_wait: Duration,
    /// What a step that still lacks data after --max-wait does.
    #[arg(long, value_enum, default_value_t = crate::progressive::gates::Action::Halt)]
    pub on_no_data: crate::progressive::gates::Action,
    /// Gates defined as Prometheus query templates, and webhooks (YAML or JSON; see below).
    #[arg(long, value_name = "FILE")]
    pub gate_file: Option<PathBuf>,
    /// Start over from the first step even if a run of this service is recorded (its record is
    /// replaced).
    #[arg(long)]
    pub restart: bool,
    /// Promote the canary after the last step has passed its gates.
    #[arg(long)]
    pub promote: bool,
    /// Kubernetes: read the canary's figures from the sidecars of the pods with these labels
    /// (`app=client`) instead of the pods the WasmPlugin runs in.
    #[arg(long)]
    pub selector: Option<String>,
}

/// `--max-p99-increase 20%` (or `20`): percent.
fn parse_percent(text: &str) -> Result<f64, String> {
    text.trim()
        .trim_end_matches('%')
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|p| p.is_finite() && *p >= 0.0)
        .ok_or_else(|| format!("`{text}` is not a percent (e.g. `20%`)"))
}

/// The end of `canary run --help`: the gate file and the webhooks, briefly (the README has it
/// all).
const CANARY_RUN_HELP: &str = "\
Gate file (--gate-file):
  prometheus: http://prometheus:9090
  gates:
    - name: error-ratio
      query: sum(rate(errors{app=\"{{ service }}\",version=\"{{ variant }}\"}[{{ window }}]))
      condition: \"< 0.01\"        # < <= > >= N, or between A B
      on_failure: rollback        # or halt
  hooks:
    - name: load-test
      type: before-step           # after-step, confirm-step, before-promotion,
      url: http://loadtester/     # confirm-promotion, promoted, rolled-back, halted
      on_failure: halt            # or rollback (blocking hooks)
Placeholders: {{ service }} {{ variant }} {{ stable }} {{ namespace }} {{ window }}.
Each hook gets a JSON POST (schema veer.dev/canary-hook/v1: service, step, weights, gates).
With -o json, the run prints one JSON event per line.";

/// `experiment ...`.
#[derive(Debug, Subcommand)]
pub enum ExperimentCommand {
    /// Start (or replace) an experiment.
    #[command(after_help = MATCH_SYNTAX)]
    Start {
        /// Service name.
        service: String,
        /// Experiment id (sent to the app and client as `id=arm`).
        id: String,
        /// An arm, `NAME=VARIANT:PERCENT` (repeatable; at least two; percents sum to 100).
        #[arg(long = "arm", required = true)]
        arms: Vec<String>,
        /// Who may be enrolled: a match expression, e.g. `header:x-country=de` or
        /// 'cookie:team=internal & !query:classic' (see below; repeatable: all must match).
        /// Default: everyone.
        #[arg(long = "segment", value_name = "EXPR", value_parser = parse_match)]
        segments: Vec<WireMatch>,
        /// Percent of the segment enrolled.
        #[arg(long, default_value = "100")]
        allocation: String,
        /// Hash salt (default: the id).
        #[arg(long)]
        salt: Option<String>,
        /// A goal the experiment is judged on (repeatable; declared under `goals` in the
        /// config). With goals, the proxies count exposed and converted users per arm for
        /// `experiment report`.
        #[arg(long = "goal", value_name = "NAME")]
        goals: Vec<String>,
        /// The goal that decides the verdict (one of --goal; default: the first).
        #[arg(long, value_name = "NAME", requires = "goals")]
        primary_goal: Option<String>,
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
    /// Which arm wins: per arm and goal, exposed and converted users, rates with intervals, the
    /// difference to the control with its p-value and a verdict, the sample-ratio check first
    /// (a failed one withholds every verdict), Bayesian chance to beat the control, and how many
    /// more users and days a conclusion needs. Always-valid numbers by default: safe to look
    /// every day and stop when it says so.
    Report(ReportArgs),
}

/// `experiment report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Service name.
    pub service: String,
    /// Experiment id.
    pub experiment: String,
    /// The app's own events, JSON lines: {"user": ID, "event": NAME, "timestamp": RFC3339 or
    /// unix seconds, "value": NUMBER (optional, e.g. revenue), "arm": NAME (optional, the arm
    /// the app recorded)}. Each event name becomes a metric (a value per user where events carry
    /// values, else users who sent it); each user's arm is recomputed from the id, and users
    /// whose recorded arm disagrees are reported.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Also write the report as one self-contained HTML file (no network, no script).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// The control arm (default: the experiment's first arm).
    #[arg(long, value_name = "ARM")]
    pub control: Option<String>,
    /// The smallest relative lift worth detecting, in percent (e.g. `10`): plans how many users
    /// and days a conclusion needs, and allows "no detectable difference".
    #[arg(long, value_name = "PERCENT")]
    pub min_lift: Option<f64>,
    /// Verdicts from the classic fixed-horizon numbers (valid only when read once, at the planned
    /// sample) instead of the always-valid ones.
    #[arg(long)]
    pub fixed_horizon: bool,
    /// Kubernetes only: read the counts from this Prometheus (totals, and their history for the
    /// lift over time) instead of the sidecars.
    #[arg(long, value_name = "URL")]
    pub prometheus: Option<String>,
    /// Kubernetes: read the sidecars of the pods matching this label selector (default: the
    /// pods the WasmPlugin runs in).
    #[arg(long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// With --prometheus: how far back the lift over time goes.
    #[arg(long, default_value = "7d", value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub history: Duration,
}

/// `bluegreen ...`. With --envoy it acts on the proxy's routing (SERVICE VARIANT); without, on
/// Kubernetes Deployments and the Service selector (APP). `deploy`, `status` and `scale-down`
/// exist only on Kubernetes: with --envoy (or VEER_ENVOY_DIR) they are refused as a usage error.
#[derive(Debug, Subcommand)]
pub enum BluegreenCommand {
    /// Kubernetes only: create or update the idle colour's Deployment and wait until it is
    /// available.
    #[command(after_help = KUBERNETES_ONLY)]
    Deploy {
        /// The app (Service APP, Deployments APP-blue and APP-green).
        app: String,
        /// The new image.
        #[arg(long)]
        image: String,
        /// Replicas (default: as many as the live colour).
        #[arg(long)]
        replicas: Option<i32>,
        /// The container that gets the image (default: the first).
        #[arg(long)]
        container: Option<String>,
        /// Deploy even though Service APP selects no colour (only `app`): the new colour's pods
        /// then get traffic as soon as they are ready, beside the current ones, until the first
        /// `bluegreen switch` puts the colour in the selector. Without it, such a Service is
        /// refused.
        #[arg(long)]
        adopt_service: bool,
    },
    /// Send all traffic to one variant (--envoy: SERVICE VARIANT) or colour (Kubernetes: APP
    /// [blue|green], default the idle colour, only when it is fully available).
    Switch {
        /// Service (--envoy) or app (Kubernetes).
        name: String,
        /// Variant (--envoy) or colour (Kubernetes).
        to: Option<String>,
        /// Kubernetes: keep the previous colour running this long, so rollback stays instant;
        /// recorded on the Service for `bluegreen scale-down`.
        #[arg(long, default_value = "10m", value_parser = humantime::parse_duration, value_name = "DURATION")]
        scale_down_after: Duration,
    },
    /// Undo the last switch.
    Rollback {
        /// Service (--envoy) or app (Kubernetes).
        name: String,
        /// Kubernetes: as for switch: how long the colour rolled back from keeps running.
        #[arg(long, default_value = "10m", value_parser = humantime::parse_duration, value_name = "DURATION")]
        scale_down_after: Duration,
    },
    /// Kubernetes only: both colours, their images and readiness, and where the Service points.
    #[command(after_help = KUBERNETES_ONLY)]
    Status {
        /// The app.
        app: String,
    },
    /// Kubernetes only: scale the idle colour to zero once the keep time recorded by the last
    /// switch (--scale-down-after) has passed; run it later by hand or from a CronJob
    /// (deploy/k8s/scale-down-cronjob.yaml). A colour being switched to or deployed is left alone.
    #[command(after_help = KUBERNETES_ONLY)]
    ScaleDown {
        /// The app.
        app: String,
        /// Override the keep time the last switch recorded (default: the recorded one, or 10m).
        #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
        after: Option<Duration>,
    },
}

impl BluegreenCommand {
    /// Whether this verb exists only on Kubernetes (Deployments and a Service).
    pub fn kubernetes_only(&self) -> bool {
        matches!(
            self,
            BluegreenCommand::Deploy { .. }
                | BluegreenCommand::Status { .. }
                | BluegreenCommand::ScaleDown { .. }
        )
    }
}

/// The note under the help of a verb that exists only on Kubernetes.
const KUBERNETES_ONLY: &str = "Kubernetes only: with --envoy (or VEER_ENVOY_DIR) this is refused; \
     on a standalone Envoy, blue/green is `bluegreen switch SERVICE VARIANT` and `bluegreen rollback SERVICE`.";

/// `rollout`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct RolloutArgs {
    #[command(subcommand)]
    pub command: Option<RolloutCommand>,
    /// The Deployment.
    #[arg(required = true)]
    pub app: Option<String>,
    /// The new image.
    #[arg(long, required = true)]
    pub image: Option<String>,
    /// Change how pods are replaced (default: keep the Deployment's strategy, as `kubectl set
    /// image` does).
    #[arg(long, value_enum)]
    pub strategy: Option<StrategyArg>,
    /// Rolling: extra pods allowed during the rollout (`25%` or a number; default: keep the
    /// Deployment's). Implies --strategy rolling.
    #[arg(long)]
    pub max_surge: Option<String>,
    /// Rolling: pods that may be unavailable during the rollout (`25%` or a number; default:
    /// keep the Deployment's). Implies --strategy rolling.
    #[arg(long)]
    pub max_unavailable: Option<String>,
    /// The container that gets the image (default: the first).
    #[arg(long)]
    pub container: Option<String>,
    /// Return after the change instead of following the rollout.
    #[arg(long)]
    pub no_wait: bool,
}

/// Rollout strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// A few pods at a time; no downtime.
    Rolling,
    /// All old pods stop, then the new ones start.
    Recreate,
}

/// `rollout status | undo`.
#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Follow a rollout until it finishes, as `kubectl rollout status` does.
    Status {
        /// The Deployment.
        app: String,
    },
    /// Return to the previous revision (or --to-revision).
    Undo {
        /// The Deployment.
        app: String,
        /// The revision to return to.
        #[arg(long)]
        to_revision: Option<i64>,
    },
}

/// `mesh ...`.
#[derive(Debug, Subcommand)]
pub enum MeshCommand {
    /// Write the WasmPlugin (first) and the DestinationRules and VirtualServices that send each
    /// cluster-header value to its version (after).
    Install {
        /// The routing config (JSON or YAML).
        #[arg(short, long)]
        file: PathBuf,
        /// Where Istio fetches the filter (`oci://...`, `https://...`, `file://...`).
        #[arg(long)]
        plugin_url: String,
        /// SHA-256 Istio checks the module against, as 64 hex digits: for oci://, the image
        /// digest (without `sha256:`). Or give --wasm.
        #[arg(
            long,
            value_name = "HEX",
            required_unless_present = "wasm",
            conflicts_with = "wasm"
        )]
        sha256: Option<String>,
        /// The .wasm file --plugin-url serves (https://, http://, file://): veerctl writes its
        /// SHA-256. Not for oci://, whose digest is the image's: give --sha256.
        #[arg(long, value_name = "FILE")]
        wasm: Option<PathBuf>,
        /// Pod labels of the workloads that run the plugin, `KEY=VALUE` (repeatable; default:
        /// every workload of the namespace; only pods of this namespace are reached).
        #[arg(long = "selector", value_name = "KEY=VALUE")]
        selectors: Vec<String>,
        /// Kubernetes Service host of a config service, `SERVICE=HOST` (repeatable; default:
        /// the service's name).
        #[arg(long = "route", value_name = "SERVICE=HOST")]
        routes: Vec<String>,
        /// Not supported, refused: routes bound to a gateway would not steer traffic (a
        /// WasmPlugin in this namespace does not reach a gateway in istio-system or
        /// istio-ingress, and the routes are exported only here). Veer runs in the sidecars.
        #[arg(long = "gateway", hide = true)]
        gateways: Vec<String>,
        /// Apply the routes right after the WasmPlugin, without waiting until the sidecars it
        /// selects run it (read through port-forwards to their admin port, up to --timeout).
        #[arg(long)]
        no_wait: bool,
        /// What a proxy does when the plugin fails: `reload` restarts it after a runtime error
        /// (Istio 1.27+), `close` fails requests (every Istio); `auto` reads Istio's WasmPlugin
        /// CRD and picks reload where it is allowed, else close. Never open: a skipped filter
        /// would let a client-sent header choose the route.
        #[arg(long, value_enum, default_value_t = FailStrategyArg::Auto)]
        fail_strategy: FailStrategyArg,
    },
}

/// WasmPlugin failStrategy choices (`mesh install --fail-strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailStrategyArg {
    /// FAIL_RELOAD if the cluster's Istio allows it (1.27+), else FAIL_CLOSE.
    Auto,
    /// FAIL_RELOAD (Istio 1.27 and later).
    Reload,
    /// FAIL_CLOSE (every Istio).
    Close,
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
        /// How long the value is valid (more than 0s; at most the live config's
        /// override.max_ttl_seconds, a week by default).
        #[arg(long, default_value = "1h", value_parser = positive_duration)]
        ttl: Duration,
    },
}

/// A duration longer than zero (`--ttl`).
fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("must be longer than 0s".to_owned()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(args: &[&str]) -> Global {
        let argv = [&["veerctl"], args, &["rollout", "status", "web"]].concat();
        Cli::try_parse_from(argv).expect("parses").global
    }

    /// The blue/green verbs that exist only on Kubernetes are refused with --envoy when the
    /// command line is parsed (a usage error), not after; switch and rollback take --envoy.
    #[test]
    fn kubernetes_only_bluegreen_verbs_are_refused_with_envoy_at_parse_time() {
        for verb in [
            &["deploy", "web", "--image", "web:2"][..],
            &["status", "web"],
            &["scale-down", "web"],
        ] {
            let argv = [&["veerctl", "--envoy", "/tmp", "bluegreen"], verb].concat();
            let err = Cli::try_parse_checked(&argv).expect_err("refused");
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::ArgumentConflict,
                "{err}"
            );
            assert!(err.to_string().contains("--envoy"), "{err}");
            let argv = [&["veerctl", "bluegreen"], verb].concat();
            Cli::try_parse_checked(&argv).expect("parses without --envoy");
        }
        for verb in [&["switch", "web", "v2"][..], &["rollback", "web"]] {
            let argv = [&["veerctl", "--envoy", "/tmp", "bluegreen"], verb].concat();
            Cli::try_parse_checked(&argv).expect("parses with --envoy");
        }
    }

    /// Without --timeout each wait has its own default; a given --timeout is used as given, also
    /// when it is shorter than the rollout default.
    #[test]
    fn timeout_defaults_differ_per_wait_and_a_given_one_is_used_as_is() {
        let g = global(&[]);
        assert_eq!(
            (g.envoy_timeout(), g.kube_timeout()),
            (Duration::from_secs(30), Duration::from_secs(300))
        );
        let g = global(&["--timeout", "10s"]);
        assert_eq!(
            (g.envoy_timeout(), g.kube_timeout()),
            (Duration::from_secs(10), Duration::from_secs(10))
        );
    }
}
