//! `status`: configured beside observed, from the proxies' own counters.

use std::io::{IsTerminal, Write};

use super::print_json;
use crate::cli::{Global, Output, StatusArgs};
use crate::error::{CliError, Result};
use crate::host::envoy::admin::{Admin, Snapshot};
use crate::host::envoy::change;
use crate::observe::status::{self, Baselines, Status};
use crate::output::progress::use_color;

/// Reads everything and computes the status once.
pub fn collect(g: &Global) -> Result<Status> {
    let store = change::store(g)?;
    let current = store.current()?.ok_or_else(|| {
        CliError::failed(format!("{} has no live config yet", store.dir().display()))
    })?;
    if g.admins.is_empty() {
        return Err(CliError::failed(
            "no --admin URL: status reads the observed split from each proxy's admin API",
        ));
    }
    let admin = Admin::default();
    let snapshots: Vec<(String, std::result::Result<Snapshot, String>)> = g
        .admins
        .iter()
        .map(|url| (url.clone(), admin.snapshot(url).map_err(|e| e.to_string())))
        .collect();
    if let Some(errors) = status::all_unreadable(&snapshots) {
        return Err(CliError::failed(errors));
    }
    let baselines: Baselines = store.read_state("baseline.json")?.unwrap_or_default();
    let history = store.history()?;
    Ok(status::compute(&status::Inputs {
        config: &current.wire,
        version: current.version,
        snapshots: &snapshots,
        baselines: &baselines,
        window: status::SINCE_LAST_CHANGE,
        history: &history,
    }))
}

/// `status`.
pub fn run(g: &Global, a: &StatusArgs) -> Result<()> {
    show(g, a, || collect(g))
}

/// Prints the status `next` gives once (then `--check`), or with `--watch` a frame every
/// `--interval` until stopped. Shared by the Envoy and the Kubernetes paths.
pub(crate) fn show(
    g: &Global,
    a: &StatusArgs,
    mut next: impl FnMut() -> Result<Status>,
) -> Result<()> {
    let mut drawn = false;
    loop {
        let s = match next() {
            Ok(s) => s,
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
            match draw_frame(g, a, &s) {
                Ok(()) => {}
                // `status --watch | head` : the reader has all it wanted.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(CliError::io("write the status", e)),
            }
        } else {
            return print_and_check(g, a, &s);
        }
        std::thread::sleep(a.interval);
    }
}

/// One `--watch` refresh. A terminal is cleared and redrawn; anything else gets one frame after
/// another, each table frame under a timestamped header and each JSON frame on one line (JSON
/// Lines), so a script can read frames as they come.
fn draw_frame(g: &Global, a: &StatusArgs, s: &Status) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match g.output {
        Output::Json => writeln!(out, "{}", serde_json::to_string(s)?)?,
        Output::Table => {
            if out.is_terminal() {
                // Clear the screen and home the cursor.
                write!(out, "\x1b[2J\x1b[H")?;
            }
            write!(
                out,
                "== status at {} (every {}; Ctrl-C stops) ==\n{}",
                humantime::format_rfc3339_seconds(std::time::SystemTime::now()),
                humantime::format_duration(a.interval),
                crate::output::status::status(s, use_color())
            )?;
        }
    }
    out.flush()
}

/// Prints `s` once, as a table or JSON, then applies `--check`.
pub(crate) fn print_and_check(g: &Global, a: &StatusArgs, s: &Status) -> Result<()> {
    match g.output {
        Output::Json => print_json(s)?,
        Output::Table => print!("{}", crate::output::status::status(s, use_color())),
    }
    check(a, s)
}

/// `--check`: a mismatch is exit code 6.
pub(crate) fn check(a: &StatusArgs, s: &Status) -> Result<()> {
    let off = |srm: &Option<crate::observe::srm::Verdict>| srm.as_ref().is_some_and(|r| r.mismatch);
    let mut mismatched: Vec<String> = Vec::new();
    for svc in &s.services {
        if off(&svc.srm) {
            mismatched.push(svc.name.clone());
        }
        for e in svc.experiments.iter().filter(|e| off(&e.srm)) {
            mismatched.push(format!("{} (experiment {})", svc.name, e.id));
        }
    }
    if a.check && !mismatched.is_empty() {
        return Err(CliError::Mismatch(format!(
            "observed split mismatches the configured one for: {}",
            mismatched.join(", ")
        )));
    }
    Ok(())
}
