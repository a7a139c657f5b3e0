//! `experiment report`: one experiment's counts from the proxies (a standalone Envoy's `--admin`
//! proxies since the experiment started; Kubernetes sidecars since they started, or Prometheus),
//! optionally an app's events, analysed and printed as a table or JSON, and as an HTML file.
//!
//! On a standalone Envoy, `experiment start` records the counters' baselines at the start
//! ([`record_start`]) and every report run adds a reading to that record: the lift over time.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use veer_filter::config::Config;

use crate::cli::ReportArgs;
use crate::error::{CliError, Result};
use crate::host::envoy::{admin, Envoy, BASELINES};
use crate::host::kubernetes::prometheus;
use crate::host::{Edited, Host, Proxies};
use crate::observe::report::history::{self, Reading};
use crate::observe::report::traffic::{self, Traffic};
use crate::observe::report::{self, events, ArmCounts, Inputs, Names, Options, Source};
use crate::observe::status::Baselines;
use crate::observe::window::{all_unreadable, Counted};
use crate::settings::Settings;

/// What `experiment start` records on a standalone Envoy for the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Run {
    /// When the start was verified live (unix seconds).
    started_at: f64,
    /// The config version that started it.
    version: u64,
    /// Every proxy's counters then: the report counts from here.
    baselines: Baselines,
    /// The counts at each report run since, oldest first.
    #[serde(default)]
    readings: Vec<Reading>,
}

/// The run state's name (config names hold letters, digits, `_` and `-` only).
fn run_name(service: &str, id: &str) -> String {
    format!("experiment-{service}-{id}")
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// After `experiment start` went live on a standalone Envoy: records the baselines the change
/// recorded as the experiment's start (nothing on Kubernetes, nor in a dry run).
pub fn record_start(s: &Settings, edited: &Edited, service: &str, id: &str) -> Result<()> {
    let (Host::Envoy(envoy), Edited::Envoy(applied)) = (&s.host, edited) else {
        return Ok(());
    };
    if applied.dry_run.is_some() {
        return Ok(());
    }
    let baselines: Baselines = envoy.store()?.read_state(BASELINES)?.unwrap_or_default();
    let run = Run {
        started_at: unix_now(),
        version: applied.version,
        baselines,
        readings: Vec::new(),
    };
    s.host.save_state(&run_name(service, id), &run)
}

/// `experiment report`.
pub fn run(s: &Settings, a: &ReportArgs) -> Result<()> {
    let (live, proxies) = s.host.observe(a.selector.as_deref())?;
    let live = live.ok_or_else(|| CliError::failed("no live config yet: nothing to report"))?;
    let config = Config::from_wire(&live.wire).map_err(|p| {
        CliError::failed(format!(
            "the live config does not validate, so it cannot be read: {p}"
        ))
    })?;
    let (_, experiment) = report::find(&config, &a.service, &a.experiment)?;
    let service = config
        .service(&a.service)
        .ok_or_else(|| CliError::failed(format!("unknown service {:?}", a.service)))?;
    let names = Names::new(&config, service, experiment);
    let now = unix_now();
    let (arms, source, readings) = match (&s.host, &a.prometheus) {
        (Host::Envoy(e), _) => from_envoy(&s.host, e, &names, &config, a, now)?,
        (Host::Kubernetes(_), Some(url)) => from_prometheus(url, &names, &config, a, now)?,
        (Host::Kubernetes(_), None) => from_sidecars(&proxies, &names, &config)?,
    };
    let events = match &a.events {
        Some(path) => Some(read_events(
            path,
            experiment,
            source.started,
            s.printer.quiet,
        )?),
        None => None,
    };
    let options = Options {
        control: a.control.clone(),
        min_lift: a.min_lift.map(|p| p / 100.0),
        fixed_horizon: a.fixed_horizon,
    };
    let r = report::build(Inputs {
        config: &config,
        config_version: live.version,
        service: &a.service,
        experiment: &a.experiment,
        arms,
        source,
        events,
        readings: &readings,
        now,
        options: &options,
    })?;
    if let Some(path) = &a.html {
        let html = crate::output::report::html(&r)?;
        std::fs::write(path, html)
            .map_err(|e| CliError::io(format!("write the HTML report {}", path.display()), e))?;
    }
    s.printer.print(&r, || {
        print!("{}", crate::output::report::table(&r, s.printer.colour));
        if let Some(path) = &a.html {
            println!("\nHTML report: {}", path.display());
        }
    })
}

/// From a standalone Envoy's `--admin` proxies: since the start `experiment start` recorded
/// (adding this reading to its record), else since the last verified change.
fn from_envoy(
    host: &Host,
    envoy: &Envoy,
    names: &Names<'_>,
    config: &Config,
    a: &ReportArgs,
    now: f64,
) -> Result<(Vec<ArmCounts>, Source, Vec<Reading>)> {
    if envoy.admins.is_empty() {
        return Err(CliError::failed(
            "no --admin URL: the report reads the counts from each proxy's admin API",
        ));
    }
    let state = run_name(&a.service, &a.experiment);
    let run: Option<Run> = host.load_state(&state)?;
    let counted = match &run {
        Some(r) => Counted {
            readings: envoy.read_proxies_settled(admin::SETTLE_ONCE),
            baselines: r.baselines.clone(),
            label: format!(
                "since the experiment started (version {}, {})",
                r.version,
                humantime::format_rfc3339_seconds(
                    UNIX_EPOCH + std::time::Duration::from_secs_f64(r.started_at)
                )
            ),
        },
        None => envoy.since_last_change_within(admin::SETTLE_ONCE)?,
    };
    let arms = readable(&counted, names, config)?;
    let started = run.as_ref().map(|r| r.started_at);
    let rate = match started {
        Some(at) => traffic::since_start(arms.iter().map(|a| a.exposed_users).sum(), at, now),
        None => Traffic::unknown(
            "veerctl has no record of when this experiment started: it was not started with \
             `veerctl experiment start`",
        ),
    };
    let readings = match run {
        Some(mut r) => {
            history::append(&mut r.readings, Reading::of(now, &arms));
            host.save_state(&state, &r)?;
            r.readings
        }
        None => Vec::new(),
    };
    Ok((arms, source("envoy", &counted, started, rate), readings))
}

/// From the sidecars: one reading, counted since each started (the arms' counters are the
/// experiment's own, so that is since it started, unless a sidecar restarted).
fn from_sidecars(
    proxies: &Proxies<'_>,
    names: &Names<'_>,
    config: &Config,
) -> Result<(Vec<ArmCounts>, Source, Vec<Reading>)> {
    let counted = proxies
        .open_window()?
        .since_start("since each sidecar started");
    let arms = readable(&counted, names, config)?;
    let rate = Traffic::unknown(
        "the sidecars count since each started, and when that was is not read: give \
         --prometheus URL for the rate from its history",
    );
    Ok((arms, source("sidecars", &counted, None, rate), Vec::new()))
}

/// From Prometheus: the totals, and their history over `--history` for the lift over time and
/// the users exposed per day.
fn from_prometheus(
    url: &str,
    names: &Names<'_>,
    config: &Config,
    a: &ReportArgs,
    now: f64,
) -> Result<(Vec<ArmCounts>, Source, Vec<Reading>)> {
    let stats = names.counters();
    let counted = prometheus::counted_stats(url, &stats, None)?;
    let arms = readable(&counted, names, config)?;
    let step = (a.history / 60).max(std::time::Duration::from_secs(60));
    let points = prometheus::range(url, &stats, (now - a.history.as_secs_f64(), now, step))?;
    let readings: Vec<Reading> = points
        .into_iter()
        .map(|(at, values)| {
            let count = |name: &str| values.get(name).copied().unwrap_or(0);
            Reading::of(at, &names.arms_from(count, |_| None, false))
        })
        .collect();
    let rate = traffic::from_history(&readings, &Reading::of(now, &arms), step);
    Ok((arms, source("prometheus", &counted, None, rate), readings))
}

/// Each arm's counts; no proxy readable is an error naming each one's reason.
fn readable(counted: &Counted, names: &Names<'_>, config: &Config) -> Result<Vec<ArmCounts>> {
    if let Some(errors) = all_unreadable(&counted.readings) {
        return Err(CliError::failed(errors));
    }
    Ok(names.arms(counted, config.response_metrics))
}

fn source(kind: &'static str, counted: &Counted, started: Option<f64>, traffic: Traffic) -> Source {
    Source {
        kind,
        window: counted.label.clone(),
        proxies: counted
            .readings
            .iter()
            .map(|(url, s)| (url.clone(), s.as_ref().ok().map(|s| s.version())))
            .collect(),
        started,
        traffic,
        counts_trailing: counted
            .readable()
            .filter(|s| s.counts_pending() > 0)
            .map(|s| s.url.clone())
            .collect(),
    }
}

/// Reads `--events`: every line that cannot be read is a warning with its number (the rest is
/// used); a file that cannot be read at all is an error.
fn read_events(
    path: &Path,
    experiment: &veer_filter::config::Experiment,
    started: Option<f64>,
    quiet: bool,
) -> Result<events::Joined> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::io(format!("read the events file {}", path.display()), e))?;
    let parsed = events::parse(&bytes);
    if !quiet {
        for m in parsed.malformed.iter().take(20) {
            eprintln!("warning: {} line {}: {}", path.display(), m.line, m.error);
        }
        if parsed.malformed.len() > 20 {
            eprintln!(
                "warning: {}: {} more lines that cannot be read (all listed with -o json)",
                path.display(),
                parsed.malformed.len() - 20
            );
        }
    }
    Ok(events::join(
        &path.display().to_string(),
        parsed,
        experiment,
        started,
    ))
}
