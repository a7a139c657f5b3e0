//! The soak's timeline: Envoy with Veer in front of three versions, steady load, a change a
//! second, the crash at 20 % of the run, the hot restart at 35 % (right after a file the filter
//! refuses was written, so the new process starts on it and runs the fallback config until the
//! next change), and RSS sampled every second.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use veer_e2e::client::raw_reply;
use veer_e2e::envoy::Ports;
use veer_e2e::{Envoy, Upstream};

use crate::changes::{live_version, valid, Change, Kind, Veerctl};
use crate::crash::{crash, Crash};
use crate::load::{Load, Tally};
use crate::rss::{Sample, Sampler};
use crate::settings::Settings;

/// The hot restart.
#[derive(Debug, Clone, Default)]
pub struct Restart {
    /// Seconds since the start.
    pub at: f64,
    /// Until the new process listened.
    pub took: Duration,
    /// From the restart until a new connection was served by the fallback config (the new
    /// process refuses the file on disk).
    pub fallback_served_after: Option<Duration>,
    /// The version `/stats` reported while the old process was still draining.
    pub reported_with_parent: u64,
    /// The version the new process reported once the old one had exited (0: the fallback).
    pub version_after: u64,
    /// What went wrong, if anything.
    pub detail: String,
}

/// Everything the soak saw.
#[derive(Debug)]
pub struct Soak {
    /// How long the load ran.
    pub elapsed: Duration,
    /// The load's tally.
    pub tally: Tally,
    /// Every change.
    pub changes: Vec<Change>,
    /// The crash.
    pub crash: Crash,
    /// The restart.
    pub restart: Restart,
    /// RSS samples.
    pub rss: Vec<Sample>,
    /// The version the proxy ran at the end, and the last one veerctl verified.
    pub final_versions: (u64, u64),
}

/// Runs the soak.
pub fn run(settings: &Settings) -> Result<Soak, String> {
    let upstreams: Vec<Upstream> = ["v1", "v2", "v3"]
        .iter()
        .map(|n| Upstream::start(n, 0).map_err(|e| format!("upstream {n}: {e}")))
        .collect::<Result<_, _>>()?;
    let refs: Vec<&Upstream> = upstreams.iter().collect();
    let mut first = valid(0);
    first["version"] = 1.into();
    let ports = Ports::free().map_err(|e| format!("free ports: {e}"))?;
    let mut envoy = Envoy::start_on(ports, &first.to_string(), &refs)
        .map_err(|e| format!("starting Envoy: {e}"))?;
    let veerctl = Veerctl::new(&settings.veerctl).map_err(|e| e.to_string())?;

    let start = Instant::now();
    let pid = Arc::new(AtomicU32::new(envoy.pid()));
    let sampler = Sampler::start(pid.clone(), start);
    let load = Load::start(envoy.port(), settings.rate, start);
    let total = settings.duration.as_secs_f64();
    let (crash_at, restart_at) = (0.20 * total, 0.35 * total);
    let mut changes: Vec<Change> = Vec::new();
    let mut crashed = None;
    let mut restart = None;
    let mut n = 0u64;
    while start.elapsed() < settings.duration {
        let at = start.elapsed().as_secs_f64();
        if crashed.is_none() && at >= crash_at {
            eprintln!("soak: {at:.0} s: crashing the filter VM");
            crashed = Some(crash(
                &envoy,
                &veerctl,
                &settings.crash_wasm,
                &settings.wasm,
                at,
            ));
        } else {
            let change = veerctl.change(&envoy, n, at);
            if !change.ok {
                eprintln!(
                    "soak: {at:.0} s: {:?} did not end as it must: {}",
                    change.kind, change.detail
                );
            }
            let after_rejection = change.kind == Kind::Rejected;
            changes.push(change);
            n += 1;
            if restart.is_none() && after_rejection && at >= restart_at {
                eprintln!("soak: {at:.0} s: hot restart, a rejected file on disk");
                restart = Some(hot_restart(&mut envoy, &pid, start));
            }
        }
        // One change a second: wait for the next whole second of the run.
        let next = Duration::from_secs(start.elapsed().as_secs() + 1);
        if let Some(wait) = next.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let tally = load.finish();
    let elapsed = start.elapsed();
    let rss = sampler.finish();
    let last_verified = changes.iter().rev().find_map(|c| c.verified).unwrap_or(0);
    let final_versions = (live_version(&envoy)?, last_verified);
    Ok(Soak {
        elapsed,
        tally,
        changes,
        crash: crashed.unwrap_or_default(),
        restart: restart.unwrap_or_default(),
        rss,
        final_versions,
    })
}

fn hot_restart(envoy: &mut Envoy, pid: &AtomicU32, start: Instant) -> Restart {
    let at = start.elapsed().as_secs_f64();
    let began = Instant::now();
    let mut out = Restart {
        at,
        ..Restart::default()
    };
    if let Err(e) = envoy.hot_restart() {
        out.detail = e.to_string();
        return out;
    }
    out.took = began.elapsed();
    pid.store(envoy.pid(), Ordering::Relaxed);
    // What the new process serves, seen on new connections: the fallback config decides nothing.
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && out.fallback_served_after.is_none() {
        let request =
            b"GET / HTTP/1.1\r\nhost: soak\r\ncookie: uid=u-1\r\nconnection: close\r\n\r\n";
        if let Ok(r) = raw_reply(envoy.port(), request) {
            if r.status == 200 && r.seen("x-veer-variant").is_none() {
                out.fallback_served_after = Some(began.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    out.reported_with_parent = live_version(envoy).unwrap_or(u64::MAX);
    if let Err(e) = envoy.wait_for_parent_exit(Duration::from_secs(20)) {
        out.detail = e.to_string();
    }
    out.version_after = live_version(envoy).unwrap_or(u64::MAX);
    out
}
