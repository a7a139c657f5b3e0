//! What `veerctl status` shows: per service, the configured split beside the split the proxies
//! observed since the last change, a sample-ratio-mismatch verdict with its likely cause, and
//! per-variant errors and latency. Computed from snapshots only, so it is tested without Envoy.

use serde::Serialize;
use veer_filter::config::{StatusClass, WireConfig};
use veer_filter::metrics::Stat;

use crate::history::Entry;
use crate::observe::latency::Histogram;
use crate::observe::snapshot::Snapshot;
use crate::observe::srm::{self, Verdict};
pub use crate::observe::window::{all_unreadable, Baselines};

/// The window of `status --envoy`: baselines are taken when a change is verified.
pub const SINCE_LAST_CHANGE: &str = "since the last verified change";

/// Everything `status` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The version veerctl last wrote.
    pub configured_version: u64,
    /// What the counts cover, as the output says it (e.g. [`SINCE_LAST_CHANGE`], "over the last
    /// 10s"): each caller's baselines mean something else.
    pub window: String,
    /// Each proxy.
    pub proxies: Vec<Proxy>,
    /// Each service.
    pub services: Vec<ServiceStatus>,
}

/// One proxy's view.
#[derive(Debug, Clone, Serialize)]
pub struct Proxy {
    /// Admin URL.
    pub url: String,
    /// Version it runs (`None`: unreachable).
    pub version: Option<u64>,
    /// Why it could not be read.
    pub error: Option<String>,
    /// What it runs, beside the configured config.
    pub runs: Runs,
    /// Updates its Envoy refused since it started (ECDS `update_rejected`).
    pub rejected_updates: u64,
}

/// What a proxy runs, beside the configured config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runs {
    /// The configured version (and, where it is known, the configured config's digest).
    Configured,
    /// Another version: it has not picked up the configured one, or refused it.
    Stale,
    /// The bootstrap's fallback config (version 0, no file accepted since it started): it
    /// started with a file its filter refuses, and routes no service (everyone on stable).
    Fallback,
    /// The configured version, but another config (its digest differs): it loads another file.
    OtherConfig,
    /// In a hot restart whose old process may still run: its stats add in the old process's,
    /// so what it runs cannot be known until that process exits.
    HotRestart,
    /// Its admin API did not answer.
    Unreachable,
}

impl Proxy {
    /// The proxy at `url` as `reading` shows it, beside the configured `version` (and `digest`,
    /// where known).
    pub fn of(
        url: &str,
        reading: &Result<Snapshot, String>,
        version: u64,
        digest: Option<u64>,
    ) -> Proxy {
        let s = match reading {
            Ok(s) => s,
            Err(e) => {
                return Proxy {
                    url: url.to_owned(),
                    version: None,
                    error: Some(e.clone()),
                    runs: Runs::Unreachable,
                    rejected_updates: 0,
                }
            }
        };
        let runs = if s.hot_restart.is_some() {
            Runs::HotRestart
        } else if s.runs_fallback() && version != 0 {
            Runs::Fallback
        } else if s.version() != version {
            Runs::Stale
        } else if digest.is_some_and(|d| s.digest().is_some_and(|got| got != d)) {
            Runs::OtherConfig
        } else {
            Runs::Configured
        };
        Proxy {
            url: url.to_owned(),
            version: Some(s.version()),
            error: None,
            runs,
            rejected_updates: s.rejected(),
        }
    }

    /// Why this proxy's traffic does not follow the configured config, if it does not.
    pub fn off(&self, configured: u64) -> Option<String> {
        let v = self.version.unwrap_or(0);
        let refused = match self.rejected_updates {
            0 => String::new(),
            n => format!("; its Envoy refused {n} update(s), see its log"),
        };
        match self.runs {
            Runs::Configured | Runs::Unreachable => None,
            Runs::Stale => Some(format!(
                "{} runs version {v} (configured {configured}{refused})",
                self.url
            )),
            Runs::Fallback => Some(format!(
                "{} runs the fallback config, everyone on the stable route (configured {configured}{refused})",
                self.url
            )),
            Runs::OtherConfig => Some(format!(
                "{} runs another config under version {v} (it loads another file)",
                self.url
            )),
            Runs::HotRestart => Some(format!(
                "{} is in a hot restart: what it runs cannot be known until its old process exits",
                self.url
            )),
        }
    }
}

/// One service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    /// Name.
    pub name: String,
    /// Per variant.
    pub variants: Vec<VariantStatus>,
    /// Requests decided by the default split since the last change (what the SRM test uses).
    pub split_requests: u64,
    /// The SRM verdict (`None`: not enough traffic yet).
    pub srm: Option<Verdict>,
    /// The likely cause when the split mismatches.
    pub cause: Option<String>,
    /// Each experiment the config runs in this service, with its arms.
    pub experiments: Vec<ExperimentStatus>,
}

/// One experiment: its arms' configured shares of the enrolled traffic beside the observed ones.
///
/// A sample-ratio mismatch between arms is the classic sign of a broken experiment (an arm that
/// loses or duplicates users), so it is tested like the default split.
#[derive(Debug, Clone, Serialize)]
pub struct ExperimentStatus {
    /// Experiment id.
    pub id: String,
    /// Share of the segment enrolled (bp).
    pub allocation_bp: i64,
    /// Per arm.
    pub arms: Vec<ArmStatus>,
    /// Assignments since the last change, over all arms.
    pub assigned: u64,
    /// The SRM verdict over the arms (`None`: not enough traffic yet).
    pub srm: Option<Verdict>,
    /// The likely cause when the arms mismatch.
    pub cause: Option<String>,
}

/// One arm of an experiment.
#[derive(Debug, Clone, Serialize)]
pub struct ArmStatus {
    /// Arm name (what the app and the client see).
    pub name: String,
    /// The variant that serves it.
    pub variant: String,
    /// Configured share of the enrolled traffic (bp).
    pub configured_bp: i64,
    /// Requests assigned to it since the last change.
    pub assigned: u64,
}

/// One variant.
#[derive(Debug, Clone, Serialize)]
pub struct VariantStatus {
    /// Name.
    pub name: String,
    /// Cluster.
    pub cluster: String,
    /// Configured default-split weight (bp).
    pub configured_bp: i64,
    /// Requests the default split sent here since the last change.
    pub split_requests: u64,
    /// All requests routed here since the last change (split, cohorts, experiments, overrides).
    pub requests: u64,
    /// 5xx responses since the last change (`None`: the config turns response metrics off).
    pub errors: Option<u64>,
    /// Latency since the last change over all proxies (`None`: no response recorded yet, or
    /// response metrics are off).
    pub latency: Option<Latency>,
}

/// Latency percentiles of one variant, from request headers to response headers at the proxy.
///
/// The window is the same as the counts' (since the last verified change, all proxies), but it
/// trails them by up to Envoy's stats flush interval (5 s by default): Envoy publishes histogram
/// bins to its admin API only at each flush.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Latency {
    /// Responses the percentiles are computed from.
    pub samples: u64,
    /// Median (us).
    pub p50_us: f64,
    /// 99th percentile (us).
    pub p99_us: f64,
}

impl Latency {
    /// The percentiles of `h`, if it holds anything.
    pub fn of(h: &Histogram) -> Option<Latency> {
        Some(Latency {
            samples: h.count(),
            p50_us: h.percentile(50.0)?,
            p99_us: h.percentile(99.0)?,
        })
    }
}

impl VariantStatus {
    /// Share of split traffic observed here, 0..=1.
    pub fn observed_share(&self, total: u64) -> f64 {
        if total == 0 {
            0.0
        } else {
            self.split_requests as f64 / total as f64
        }
    }

    /// 5xx share of all requests here (`None`: not recorded).
    pub fn error_rate(&self) -> Option<f64> {
        let errors = self.errors?;
        Some(if self.requests == 0 {
            0.0
        } else {
            errors as f64 / self.requests as f64
        })
    }
}

/// The inputs of [`compute`].
pub struct Inputs<'a> {
    /// Configured config and version.
    pub config: &'a WireConfig,
    /// Its version.
    pub version: u64,
    /// The digest of its text, where the proxies report the same (a standalone Envoy's file;
    /// not Kubernetes, where Istio re-encodes the config).
    pub digest: Option<u64>,
    /// Per admin URL: a snapshot or why it failed.
    pub snapshots: &'a [(String, Result<Snapshot, String>)],
    /// What each proxy's figures are counted from (an absent proxy: since it started).
    pub baselines: &'a Baselines,
    /// What the baselines make of the counts, for the output ([`Status::window`]).
    pub window: &'a str,
    /// Past changes, for naming the config a stale split matches.
    pub history: &'a [Entry],
}

/// The status of `config` (at `version`) from what the proxies counted, naming earlier configs
/// from `history`.
pub fn of_counted(
    config: &WireConfig,
    version: u64,
    counted: &crate::observe::window::Counted,
    history: &[Entry],
) -> Status {
    compute(&Inputs {
        config,
        version,
        digest: None,
        snapshots: &counted.readings,
        baselines: &counted.baselines,
        window: &counted.label,
        history,
    })
}

/// Builds the status.
pub fn compute(i: &Inputs<'_>) -> Status {
    let proxies: Vec<Proxy> = i
        .snapshots
        .iter()
        .map(|(url, s)| Proxy::of(url, s, i.version, i.digest))
        .collect();
    let window = Window {
        live: i
            .snapshots
            .iter()
            .filter_map(|(_, s)| s.as_ref().ok())
            .collect(),
        baselines: i.baselines,
    };
    let stale: Vec<String> = proxies.iter().filter_map(|p| p.off(i.version)).collect();

    let responses = i
        .config
        .metrics
        .as_ref()
        .and_then(|m| m.responses)
        .unwrap_or(true);
    let services = i
        .config
        .services
        .iter()
        .map(|svc| {
            let variants: Vec<VariantStatus> = svc
                .variants
                .iter()
                .map(|v| {
                    let (service, variant) = (svc.name.as_str(), v.name.as_str());
                    let key = format!("{service}.{variant}");
                    let errors = Stat::responses(service, variant, StatusClass::SERVER_ERROR);
                    VariantStatus {
                        name: v.name.clone(),
                        cluster: v.cluster.clone(),
                        configured_bp: svc.split.get(&v.name).copied().unwrap_or(0),
                        split_requests: window.count(&Stat::split_requests(service, variant)),
                        requests: window.count(&Stat::requests(service, variant)),
                        errors: responses.then(|| window.count(&errors)),
                        latency: responses.then(|| window.latency(&key)).flatten(),
                    }
                })
                .collect();
            let observed: Vec<(String, u64, i64)> = variants
                .iter()
                .map(|v| (v.name.clone(), v.split_requests, v.configured_bp))
                .collect();
            let split_requests = observed.iter().map(|(_, n, _)| n).sum();
            let srm = srm::test(&observed);
            let cause = srm
                .as_ref()
                .filter(|v| v.mismatch)
                .map(|_| likely_cause(&svc.name, &observed, &stale, i.history));
            let experiments = svc
                .experiments
                .iter()
                .map(|e| experiment(&svc.name, e, &window, &stale))
                .collect();
            ServiceStatus {
                name: svc.name.clone(),
                variants,
                split_requests,
                srm,
                cause,
                experiments,
            }
        })
        .collect();
    Status {
        configured_version: i.version,
        window: i.window.to_owned(),
        proxies,
        services,
    }
}

/// The arms of experiment `e` of `service`, as observed in `window`.
fn experiment(
    service: &str,
    e: &veer_filter::config::wire::WireExperiment,
    window: &Window<'_>,
    stale: &[String],
) -> ExperimentStatus {
    let arms: Vec<ArmStatus> = e
        .arms
        .iter()
        .map(|a| ArmStatus {
            name: a.name.clone(),
            variant: a.variant.clone(),
            configured_bp: a.weight,
            assigned: window.count(&Stat::experiment_requests(service, &e.id, &a.name)),
        })
        .collect();
    let observed: Vec<(String, u64, i64)> = arms
        .iter()
        .map(|a| (a.name.clone(), a.assigned, a.configured_bp))
        .collect();
    let srm = srm::test(&observed);
    let cause = srm.as_ref().filter(|v| v.mismatch).map(|_| {
        if stale.is_empty() {
            "the arms' shares differ beyond chance. Counts are per request, so an arm whose users send more requests (retries, redirects, a slower or a broken page) is over-counted; otherwise look for an arm that drops users (errors, a redirect that loses the stickiness cookie) or bot traffic".to_owned()
        } else {
            format!(
                "a proxy still runs an old config: {}. Its traffic follows the old experiment",
                stale.join("; ")
            )
        }
    });
    ExperimentStatus {
        id: e.id.clone(),
        allocation_bp: e.allocation.unwrap_or(10_000),
        assigned: arms.iter().map(|a| a.assigned).sum(),
        arms,
        srm,
        cause,
    }
}

/// "Since the last change, over every proxy that answered": each proxy's figures minus its
/// baseline, summed.
struct Window<'a> {
    live: Vec<&'a Snapshot>,
    baselines: &'a Baselines,
}

impl Window<'_> {
    /// A counter's increase.
    fn count(&self, stat: &Stat<'_>) -> u64 {
        let key = stat.key();
        self.live
            .iter()
            .map(|s| {
                let base = self.baselines.get(&s.url).map_or(0, |b| b.get(&key));
                s.get(&key).saturating_sub(base)
            })
            .sum()
    }

    /// The latency of the responses recorded in the window, per `<service>.<variant>`.
    fn latency(&self, key: &str) -> Option<Latency> {
        let live = self.live.iter().copied();
        Latency::of(&crate::observe::window::histogram_since(
            live,
            self.baselines,
            key,
        ))
    }
}

/// The most likely reason for a mismatch, most specific first.
fn likely_cause(
    service: &str,
    observed: &[(String, u64, i64)],
    stale: &[String],
    history: &[Entry],
) -> String {
    if !stale.is_empty() {
        return format!(
            "a proxy still runs an old config: {}. Its traffic follows the old weights; check that it received the update (the file it watches, or istiod's push) and that its filter accepted it",
            stale.join("; ")
        );
    }
    // Does the traffic fit an earlier split of this service?
    for change in history.iter().rev() {
        let Some(before) = change.split_before(service) else {
            continue;
        };
        let earlier: Vec<(String, u64, i64)> = observed
            .iter()
            .map(|(name, n, _)| (name.clone(), *n, before.get(name).copied().unwrap_or(0)))
            .collect();
        if srm::test(&earlier).is_some_and(|v| !v.mismatch) {
            return format!(
                "the traffic fits the split before version {} ({}); something still routes by the old weights: another proxy, a second routing layer (e.g. an ingress with its own weights), or a cache",
                change.version,
                change.what
            );
        }
    }
    "the split differs from the configured one beyond chance; look for a second routing layer with its own weights, retries that favour one variant, clients without a stickiness key, or bot traffic".to_owned()
}

#[cfg(test)]
mod tests;
