//! `status`: configured beside observed, from the proxies' own counters. On a standalone Envoy,
//! since the last verified change (the baselines recorded then); on Kubernetes, over a window of
//! two readings of every sidecar (or from Prometheus), since Kubernetes records no baselines.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::cli::{Output, StatusArgs};
use crate::error::{CliError, Result};
use crate::host::kubernetes::{prometheus, sidecars::window_label};
use crate::host::{Host, Live, Proxies};
use crate::observe::status::{self, Runs, Status};
use crate::observe::window::{all_unreadable, Counted, Window};
use crate::settings::Settings;

/// The window on Kubernetes when --window is not given: long enough for a few requests, short
/// for a shell.
const DEFAULT_WINDOW: Duration = Duration::from_secs(10);

/// `status`.
pub fn run(s: &Settings, a: &StatusArgs) -> Result<()> {
    match &s.host {
        Host::Envoy(_) => show(s, a, || collect(&s.host)),
        Host::Kubernetes(_) => on_kubernetes(s, a),
    }
}

/// The status of a standalone Envoy: every `--admin` proxy since the last verified change.
pub fn collect(host: &Host) -> Result<Status> {
    let envoy = host.envoy()?;
    let current = envoy.current_or_error()?;
    if envoy.admins.is_empty() {
        return Err(CliError::failed(
            "no --admin URL: status reads the observed split from each proxy's admin API",
        ));
    }
    let live = Live {
        wire: current.wire,
        version: current.version,
        digest: Some(current.digest),
    };
    of_counted(host, &live, &envoy.since_last_change()?)
}

/// The status of `live` from what the proxies counted, naming earlier configs from the host's
/// history; no proxy readable is an error naming each one's reason, not a table of zeros.
pub(crate) fn of_counted(host: &Host, live: &Live, counted: &Counted) -> Result<Status> {
    if let Some(errors) = all_unreadable(&counted.readings) {
        return Err(CliError::failed(errors));
    }
    let history = host.history()?;
    Ok(status::compute(&status::Inputs {
        config: &live.wire,
        version: live.version,
        digest: live.digest,
        snapshots: &counted.readings,
        baselines: &counted.baselines,
        window: &counted.label,
        history: &history,
    }))
}

/// `status` on Kubernetes: from Prometheus, or from the sidecars over `--window` (0: since each
/// started), or with `--watch` a frame over the window and then one since the frame before.
fn on_kubernetes(s: &Settings, a: &StatusArgs) -> Result<()> {
    let (live, proxies) = s.host.observe(a.selector.as_deref())?;
    let live = live.ok_or_else(|| CliError::failed("the WasmPlugin has no config"))?;
    if let Some(url) = &a.prometheus {
        if a.watch {
            return Err(CliError::failed(
                "--watch reads the sidecars; with --prometheus, run `veerctl status` again (or graph the counters in Prometheus)",
            ));
        }
        let counted = prometheus::counted(url, &live.wire, a.window)?;
        let st = status::of_counted(&live.wire, live.version, &counted, &[]);
        return print_and_check(s, a, &st);
    }
    let window = a.window.unwrap_or(DEFAULT_WINDOW);
    if a.watch {
        return watch(s, a, &proxies, window);
    }
    let open = proxies.open_window()?;
    let counted = if window.is_zero() {
        open.since_start(&window_label(window))
    } else {
        if !s.printer.quiet {
            eprintln!(
                "Counting for {} before the second reading",
                humantime::format_duration(window)
            );
        }
        std::thread::sleep(window);
        proxies.count(open, &window_label(window))?.0
    };
    print_and_check(
        s,
        a,
        &status::of_counted(&live.wire, live.version, &counted, &[]),
    )
}

/// `status --watch` on Kubernetes: the first frame counts over `window`, each later one what
/// came since the frame before (every `--interval`). The WasmPlugin is read for every frame, so
/// a change made meanwhile shows with its configured split and version.
fn watch(s: &Settings, a: &StatusArgs, proxies: &Proxies<'_>, window: Duration) -> Result<()> {
    let mut open: Option<Window> = None;
    show(s, a, || {
        let (current, label) = match open.take() {
            Some(w) => (w, window_label(a.interval)),
            None => {
                let w = proxies.open_window()?;
                std::thread::sleep(window);
                (w, window_label(window))
            }
        };
        let live = s
            .host
            .live()?
            .ok_or_else(|| CliError::failed("the WasmPlugin has no config"))?;
        let (counted, next) = proxies.count(current, &label)?;
        open = Some(next);
        Ok(status::of_counted(&live.wire, live.version, &counted, &[]))
    })
}

/// Prints the status `next` gives once (then `--check`), or with `--watch` a frame every
/// `--interval` until stopped. Shared by the Envoy and the Kubernetes paths.
fn show(s: &Settings, a: &StatusArgs, mut next: impl FnMut() -> Result<Status>) -> Result<()> {
    let mut drawn = false;
    loop {
        let st = match next() {
            Ok(st) => st,
            // A watch outlives a proxy's restart; a first frame that fails is a wrong setup.
            Err(e) if a.watch && drawn => {
                eprintln!(
                    "error: {e} (retrying every {})",
                    humantime::format_duration(a.interval)
                );
                std::thread::sleep(a.interval);
                continue;
            }
            Err(e) => return Err(e),
        };
        drawn = true;
        if a.watch {
            match draw_frame(s, a, &st) {
                Ok(()) => {}
                // `status --watch | head` : the reader has all it wanted.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(CliError::io("write the status", e)),
            }
        } else {
            return print_and_check(s, a, &st);
        }
        std::thread::sleep(a.interval);
    }
}

/// One `--watch` refresh. A terminal is cleared and redrawn; anything else gets one frame after
/// another, each table frame under a timestamped header and each JSON frame on one line (JSON
/// Lines), so a script can read frames as they come.
fn draw_frame(s: &Settings, a: &StatusArgs, st: &Status) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match s.printer.format {
        Output::Json => writeln!(out, "{}", serde_json::to_string(st)?)?,
        Output::Table => {
            if out.is_terminal() {
                console::Term::stdout().clear_screen()?;
            }
            write!(
                out,
                "== status at {} (every {}; Ctrl-C stops) ==\n{}",
                humantime::format_rfc3339_seconds(std::time::SystemTime::now()),
                humantime::format_duration(a.interval),
                crate::output::status::status(st, s.printer.colour)
            )?;
        }
    }
    out.flush()
}

/// Prints `s` once, as a table or JSON, then applies `--check`.
fn print_and_check(s: &Settings, a: &StatusArgs, st: &Status) -> Result<()> {
    s.printer.print(st, || {
        print!("{}", crate::output::status::status(st, s.printer.colour));
    })?;
    check(a, st)
}

/// `--check`: a mismatch is exit code 6, and so is a proxy that runs the fallback config or
/// another config than the live file's (its traffic cannot follow the configured split), or one
/// in a hot restart (what it runs cannot be known until its old process exits).
fn check(a: &StatusArgs, s: &Status) -> Result<()> {
    let off = |srm: &Option<crate::observe::srm::Verdict>| srm.as_ref().is_some_and(|r| r.mismatch);
    let mut mismatched: Vec<String> = s
        .proxies
        .iter()
        .filter(|p| {
            matches!(
                p.runs,
                Runs::Fallback | Runs::OtherConfig | Runs::HotRestart
            )
        })
        .filter_map(|p| p.off(s.configured_version))
        .collect();
    for svc in &s.services {
        if off(&svc.srm) {
            mismatched.push(svc.name.clone());
        }
        for e in svc.experiments.iter().filter(|e| off(&e.srm)) {
            mismatched.push(format!("{} (experiment {})", svc.name, e.id));
        }
    }
    if a.check && !mismatched.is_empty() {
        return Err(CliError::mismatch(format!(
            "observed split mismatches the configured one for: {}",
            mismatched.join(", ")
        )));
    }
    Ok(())
}
