//! Envoy's resident memory over the soak, and whether it stays flat.
//!
//! Verdict: a least-squares line through the samples of the second half of the run (after the
//! restart and its warm-up, so one process); **flat** when the growth that line gives over that
//! half is under [`FLAT_BOUND`] of the half's mean RSS. A leak of a few KiB per config change
//! (several hundred changes) or per thousand requests would exceed it; the noise of V8's
//! collections and Envoy's allocator does not.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Growth over the judged half, as a share of its mean RSS, under which memory is flat.
pub const FLAT_BOUND: f64 = 0.02;

/// One sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Seconds since the start of the soak.
    pub at: f64,
    /// The Envoy process sampled.
    pub pid: u32,
    /// Its resident memory, KiB.
    pub rss_kib: u64,
}

/// The line through the judged samples, and the verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// Samples judged.
    pub samples: usize,
    /// Their mean RSS, MiB.
    pub mean_mib: f64,
    /// Slope of the fitted line, MiB per hour.
    pub slope_mib_per_hour: f64,
    /// The line's growth over the judged window, as a share of the mean.
    pub growth: f64,
    /// `growth` < [`FLAT_BOUND`].
    pub flat: bool,
}

/// Judges the samples taken at or after `from` seconds; `None` with fewer than 10.
pub fn verdict(samples: &[Sample], from: f64) -> Option<Verdict> {
    let judged: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.at >= from)
        .map(|s| (s.at, s.rss_kib as f64 / 1024.0))
        .collect();
    if judged.len() < 10 {
        return None;
    }
    let n = judged.len() as f64;
    let mean_t = judged.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_m = judged.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = judged
        .iter()
        .map(|(t, m)| (t - mean_t) * (m - mean_m))
        .sum();
    let sxx: f64 = judged.iter().map(|(t, _)| (t - mean_t).powi(2)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let span = judged.last().map_or(0.0, |p| p.0) - judged.first().map_or(0.0, |p| p.0);
    let growth = slope * span / mean_m;
    Some(Verdict {
        samples: judged.len(),
        mean_mib: mean_m,
        slope_mib_per_hour: slope * 3600.0,
        growth,
        flat: growth < FLAT_BOUND,
    })
}

/// Samples the RSS of the Envoy whose PID is in `pid` once a second.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
    samples: Arc<Mutex<Vec<Sample>>>,
}

impl Sampler {
    /// Starts sampling; times count from `start`.
    pub fn start(pid: Arc<AtomicU32>, start: Instant) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (flag, out) = (stop.clone(), samples.clone());
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let pid = pid.load(Ordering::Relaxed);
                if let Some(rss_kib) = rss_kib(pid) {
                    let at = start.elapsed().as_secs_f64();
                    if let Ok(mut s) = out.lock() {
                        s.push(Sample { at, pid, rss_kib });
                    }
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        Sampler {
            stop,
            thread,
            samples,
        }
    }

    /// Stops and returns the samples.
    pub fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        self.samples.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// `VmRSS` of `pid`, KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(slope_kib_per_s: f64, noise: u64) -> Vec<Sample> {
        (0..600)
            .map(|i| Sample {
                at: f64::from(i),
                pid: 1,
                rss_kib: (100_000.0 + slope_kib_per_s * f64::from(i)) as u64
                    + (i as u64 * 7919) % noise,
            })
            .collect()
    }

    #[test]
    fn a_flat_noisy_series_is_flat_and_a_leak_is_not() {
        let flat = verdict(&line(0.0, 3000), 300.0).unwrap();
        assert!(flat.flat && flat.growth.abs() < 0.01, "{flat:?}");
        // 10 KiB/s is 3 MiB over the judged 300 s, 3 % of ~100 MiB.
        let leak = verdict(&line(10.0, 3000), 300.0).unwrap();
        assert!(!leak.flat, "{leak:?}");
        assert!(
            (leak.slope_mib_per_hour - 10.0 * 3600.0 / 1024.0).abs() < 2.0,
            "{leak:?}"
        );
        assert_eq!(verdict(&line(0.0, 1)[..5], 0.0), None);
    }
}
