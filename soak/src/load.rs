//! Steady load on the proxy: a fixed request rate from a few threads, each with a keep-alive
//! client, every reply judged.
//!
//! A request **failed** when it got no reply (connection refused or reset, timeout), a status
//! other than 200, a reply from no upstream, or a reply from another version than the one Veer
//! chose for it (the upstream echoes the `x-veer-variant` it was sent). A 200 from an upstream
//! with no Veer decision (no variant header reached the app) is **not decided**: what the
//! fallback route serves while a filter other than Veer is loaded (the crash stand-in) or Veer
//! runs its fallback config; it is counted apart, not as a failure.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use veer_e2e::Client;

/// Threads sending the load (each paced to its share of the rate).
const THREADS: u32 = 4;
/// Users the requests are spread over (cookie `uid`).
const USERS: u64 = 10_000;
/// Failures kept with their details.
const KEPT: usize = 50;

/// How one request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Served by the version Veer chose.
    Routed(String),
    /// Served (200) with no Veer decision.
    NotDecided(String),
    /// Failed, and why.
    Failed(String),
}

/// Counts for one second of the run.
#[derive(Debug, Clone, Default)]
pub struct Second {
    /// Served by the version Veer chose, per version.
    pub routed: BTreeMap<String, u64>,
    /// Served with no Veer decision.
    pub not_decided: u64,
    /// Failed.
    pub failed: u64,
    /// The slowest request that ended in this second, milliseconds.
    pub slowest_ms: u64,
}

/// A failed request.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Seconds since the start of the soak.
    pub at: f64,
    /// Why it failed.
    pub reason: String,
}

/// What the load saw, second by second.
#[derive(Debug, Default)]
pub struct Tally {
    /// Index = whole seconds since the start.
    pub seconds: Vec<Second>,
    /// The first failures, with details.
    pub failures: Vec<Failure>,
}

impl Tally {
    fn record(&mut self, at: f64, took: Duration, outcome: Outcome) {
        let i = at as usize;
        if self.seconds.len() <= i {
            self.seconds.resize(i + 1, Second::default());
        }
        let Some(second) = self.seconds.get_mut(i) else {
            return;
        };
        let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        second.slowest_ms = second.slowest_ms.max(ms);
        match outcome {
            Outcome::Routed(v) => *second.routed.entry(v).or_default() += 1,
            Outcome::NotDecided(_) => second.not_decided += 1,
            Outcome::Failed(reason) => {
                second.failed += 1;
                if self.failures.len() < KEPT {
                    self.failures.push(Failure { at, reason });
                }
            }
        }
    }

    /// All requests.
    pub fn requests(&self) -> u64 {
        self.seconds
            .iter()
            .map(|s| s.routed.values().sum::<u64>() + s.not_decided + s.failed)
            .sum()
    }

    /// Failed requests.
    pub fn failed(&self) -> u64 {
        self.seconds.iter().map(|s| s.failed).sum()
    }

    /// Requests served with no Veer decision.
    pub fn not_decided(&self) -> u64 {
        self.seconds.iter().map(|s| s.not_decided).sum()
    }
}

/// The running load.
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    tally: Arc<Mutex<Tally>>,
}

impl Load {
    /// Starts `rate` requests per second to the proxy on 127.0.0.1:`port`; times count from
    /// `start`.
    pub fn start(port: u16, rate: u32, start: Instant) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let interval = Duration::from_secs_f64(f64::from(THREADS) / f64::from(rate.max(1)));
        let threads = (0..THREADS)
            .map(|i| {
                let (stop, tally) = (stop.clone(), tally.clone());
                std::thread::spawn(move || {
                    let client = Client::new(port);
                    let mut user = u64::from(i) * 7919;
                    let mut next = Instant::now();
                    while !stop.load(Ordering::Relaxed) {
                        user = (user + 104_729) % USERS;
                        let sent = Instant::now();
                        let outcome = request(&client, user);
                        let at = start.elapsed().as_secs_f64();
                        if let Ok(mut t) = tally.lock() {
                            t.record(at, sent.elapsed(), outcome);
                        }
                        next += interval;
                        let now = Instant::now();
                        if next > now {
                            std::thread::sleep(next - now);
                        } else {
                            // Behind (a slow reply): catch up without a burst.
                            next = now;
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            threads,
            tally,
        }
    }

    /// Stops the load and returns what it saw.
    pub fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        match Arc::try_unwrap(self.tally) {
            Ok(m) => m.into_inner().unwrap_or_default(),
            Err(shared) => shared
                .lock()
                .map(|mut t| std::mem::take(&mut *t))
                .unwrap_or_default(),
        }
    }
}

/// One request as user `user`, judged.
fn request(client: &Client, user: u64) -> Outcome {
    let cookie = format!("uid=u-{user}");
    let reply = match client.get("/", &[("cookie", cookie.as_bytes())]) {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(format!("no reply: {e}")),
    };
    if reply.status != 200 {
        return Outcome::Failed(format!("status {}", reply.status));
    }
    let served = reply.served_by().to_owned();
    if served.is_empty() {
        return Outcome::Failed("a 200 from no upstream".to_owned());
    }
    match reply.seen("x-veer-variant") {
        None => Outcome::NotDecided(served),
        Some(chosen) if chosen == served => Outcome::Routed(served),
        Some(chosen) => Outcome::Failed(format!("Veer chose {chosen}, {served} answered")),
    }
}
