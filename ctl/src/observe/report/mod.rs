//! `veerctl experiment report`, computed: the proxies' counts per arm (and an app's events),
//! the statistics of [`veer_stats`], a headline verdict, what is approximate, and the lift over
//! time. No I/O: the command reads the proxies and files, this builds the [`Report`], and the
//! output layer prints it as a table, JSON or HTML.

pub mod counts;
pub mod events;
mod headline;
pub mod history;
mod input;
pub mod traffic;

use serde::Serialize;
use veer_filter::config::Config;
use veer_stats::Analysis;

use crate::error::{CliError, Result};
pub use counts::{ArmCounts, Names};
pub use events::EventSummary;
pub use headline::{keep_running, ArmHeadline, Headline};
pub use history::{LiftPoint, Reading};
pub use traffic::Traffic;

/// How the statistics are asked for (`experiment report`'s flags).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The control arm (default: the experiment's first).
    pub control: Option<String>,
    /// Smallest relative lift worth detecting (0.05 = 5 %), for every goal.
    pub min_lift: Option<f64>,
    /// Verdicts from the fixed-horizon numbers instead of the always-valid ones.
    pub fixed_horizon: bool,
}

/// Where the counts came from.
#[derive(Debug, Clone, Serialize)]
pub struct Source {
    /// `envoy`, `sidecars` or `prometheus`.
    pub kind: &'static str,
    /// What the counts cover, as the output says it.
    pub window: String,
    /// The proxies read (admin URLs, pods, or the Prometheus), with the config version each
    /// runs; `None` where unknown.
    pub proxies: Vec<(String, Option<u64>)>,
    /// When the experiment started (unix seconds), where veerctl recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started: Option<f64>,
    /// Users newly exposed per day, for the days the power section plans, or why unknown.
    pub traffic: Traffic,
    /// Proxies whose filter still held counts it had not published when read (traffic did not
    /// pause while veerctl waited): their figures trail by up to one publish period.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub counts_trailing: Vec<String>,
}

/// Everything the report says.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Service name.
    pub service: String,
    /// Experiment id.
    pub experiment: String,
    /// The live config's version.
    pub config_version: u64,
    /// Where the counts came from.
    pub source: Source,
    /// When the report was made (unix seconds).
    pub generated_at: f64,
    /// The control arm.
    pub control: String,
    /// The goal that decides each arm's verdict.
    pub primary_goal: Option<String>,
    /// The verdict in a sentence, per non-control arm.
    pub headline: Headline,
    /// Per arm, what the proxies counted.
    pub arms: Vec<ArmCounts>,
    /// What the app's events added, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<EventSummary>,
    /// Goals and event metrics that could not be analysed, and why.
    pub left_out: Vec<String>,
    /// The statistics.
    pub analysis: Analysis,
    /// What is approximate in these numbers.
    pub approximations: Vec<String>,
    /// The primary goal's cumulative lift over time (empty without history).
    pub history: Vec<LiftPoint>,
}

/// What a report is made of.
pub struct Inputs<'a> {
    /// The live config, validated.
    pub config: &'a Config,
    /// Its version.
    pub config_version: u64,
    /// Service name.
    pub service: &'a str,
    /// Experiment id.
    pub experiment: &'a str,
    /// Each arm's counts now.
    pub arms: Vec<ArmCounts>,
    /// The source.
    pub source: Source,
    /// The app's events joined with the experiment.
    pub events: Option<events::Joined>,
    /// Earlier readings, oldest first (now included last).
    pub readings: &'a [Reading],
    /// Now, unix seconds.
    pub now: f64,
    /// The flags.
    pub options: &'a Options,
}

/// Builds the report. No exposed user at all is an error that says what to check: a table of
/// zeros would read as "no difference".
pub fn build(i: Inputs<'_>) -> Result<Report> {
    let (_, experiment) = find(i.config, i.service, i.experiment)?;
    let exposed: u64 = i.arms.iter().map(|a| a.exposed_users).sum();
    if exposed == 0 {
        return Err(CliError::failed(format!(
            "no exposed users counted for experiment {}/{} ({}): check that requests reach the \
             service and match the experiment's segment and allocation (`veerctl explain`), that \
             the proxies read are the ones serving it, and that clients send back the marks \
             cookie {:?}",
            i.service, i.experiment, i.source.window, i.config.marks.name
        )));
    }
    let control = match &i.options.control {
        Some(c) if experiment.arms.iter().any(|a| a.name.as_str() == c) => c.clone(),
        Some(c) => {
            return Err(CliError::failed(format!(
                "--control {c:?}: experiment {} has no such arm; its arms are {}",
                i.experiment,
                arm_names(experiment)
            )))
        }
        None => experiment
            .arms
            .first()
            .map(|a| a.name.to_string())
            .unwrap_or_default(),
    };
    let primary_goal = experiment
        .primary_goal
        .and_then(|g| i.config.goals.get(g))
        .map(|g| g.name.to_string());
    let stats = input::Stats {
        control: &control,
        primary_goal: primary_goal.as_deref(),
        options: i.options,
        exposures_per_day: i.source.traffic.exposures_per_day(),
    };
    let (analysis, left_out) = stats.analyze(&i.arms, i.events.as_ref())?;
    let analysis = analysis.with_likely_causes(input::likely_causes(&i.arms));
    let history = stats.lift_over_time(i.readings);
    Ok(Report {
        service: i.service.to_owned(),
        experiment: i.experiment.to_owned(),
        config_version: i.config_version,
        headline: headline::headline(&analysis, &control, i.options.fixed_horizon),
        approximations: approximations(i.config, &i.source, i.events.is_some()),
        source: i.source,
        generated_at: i.now,
        control,
        primary_goal,
        arms: i.arms,
        events: i.events.map(|j| j.summary),
        left_out,
        analysis,
        history,
    })
}

/// The experiment `id` of service `service`, measured on goals; otherwise an error that says
/// what exists.
pub fn find<'c>(
    config: &'c Config,
    service: &str,
    id: &str,
) -> Result<(usize, &'c veer_filter::config::Experiment)> {
    let s = config.service(service).ok_or_else(|| {
        CliError::failed(format!(
            "unknown service {service:?}; the live config has {}",
            config
                .services
                .iter()
                .map(|s| s.name.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let (index, e) = s
        .experiments
        .iter()
        .enumerate()
        .find(|(_, e)| e.id.as_str() == id)
        .ok_or_else(|| {
            let ids: Vec<&str> = s.experiments.iter().map(|e| e.id.as_str()).collect();
            CliError::failed(format!(
                "service {service:?} has no experiment {id:?}; {}",
                if ids.is_empty() {
                    "it runs none (`veerctl experiment list`)".to_owned()
                } else {
                    format!("it runs {}", ids.join(", "))
                }
            ))
        })?;
    if !e.measured() {
        return Err(CliError::failed(format!(
            "experiment {service}/{id} is judged on no goal, so nothing is counted per user: \
             start it with `--goal NAME` (goals are declared under `goals` in the config)"
        )));
    }
    Ok((index, e))
}

fn arm_names(e: &veer_filter::config::Experiment) -> String {
    e.arms
        .iter()
        .map(|a| a.name.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the reader must know about how these numbers were counted.
fn approximations(config: &Config, source: &Source, events: bool) -> Vec<String> {
    let mut out = vec![
        format!(
            "Users are counted once through the marks cookie {:?} the proxy sets: a client that \
             does not keep cookies (a bot, a privacy tool) is counted again on every request, \
             so compare each arm's exposed users with its exposure requests; a person on \
             several devices or browsers counts once per device.",
            config.marks.name
        ),
        "A converted user is a goal request carrying the experiment's exposure mark; goal \
         requests without it (cookies blocked, or a goal host the marks cookie's domain does \
         not cover) count as goal requests only."
            .to_owned(),
    ];
    out.push(match source.kind {
        "envoy" if source.started.is_some() => "Counted from the baselines `experiment start` \
            recorded; a proxy restarted since lost its counts (its counters start again at 0)."
            .to_owned(),
        "envoy" => "veerctl has no record of this experiment's start (it was not started with \
            `experiment start`): counted since the last verified change, which may be later \
            than the start."
            .to_owned(),
        "sidecars" => "Counted since each sidecar started: a restarted sidecar lost its counts, \
            and an experiment restarted with the same id and salt keeps counting where it was."
            .to_owned(),
        _ => "Prometheus totals since each proxy started, summed over the proxies it scrapes: \
            a restarted proxy lost its counts."
            .to_owned(),
    });
    if !source.counts_trailing.is_empty() {
        out.push(format!(
            "{} still held counts not yet published when read (requests kept arriving while \
             veerctl waited for them): the figures trail the last {} ms of traffic there.",
            source.counts_trailing.join(", "),
            veer_filter::exchange::tally::FLUSH_PERIOD.as_millis()
        ));
    }
    if events {
        out.push(
            "Users in the events are placed in arms from their ids, as if they matched the \
             experiment's segment; event users who were never exposed to the experiment still \
             count in the events' metrics."
                .to_owned(),
        );
    }
    out
}
