//! The soak's figures: RESULTS.md for people, CSV files for the plot (`soak/plot.py`).

use std::fmt::Write as _;
use std::path::Path;

use crate::changes::Kind;
use crate::rss::{verdict, Verdict, FLAT_BOUND};
use crate::run::Soak;
use crate::settings::Settings;

/// Whether every figure met its target.
pub fn passed(s: &Soak) -> bool {
    s.tally.failed() == 0
        && s.changes.iter().all(|c| c.ok)
        && s.crash.crashed
        && s.crash.restored
        && s.restart.detail.is_empty()
        && s.restart.fallback_served_after.is_some()
        && s.restart.version_after == 0
        && s.final_versions.0 == s.final_versions.1
        && judged(s).is_some_and(|v| v.flat)
}

/// The RSS verdict over the second half of the run.
pub fn judged(s: &Soak) -> Option<Verdict> {
    verdict(&s.rss, s.elapsed.as_secs_f64() / 2.0)
}

/// Writes RESULTS.md, rss.csv, requests.csv and events.csv into `out`.
pub fn write(s: &Soak, settings: &Settings, machine: &str, out: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let mut rss = String::from("at_s,pid,rss_kib\n");
    for x in &s.rss {
        let _ = writeln!(rss, "{:.1},{},{}", x.at, x.pid, x.rss_kib);
    }
    std::fs::write(out.join("rss.csv"), rss)?;
    let mut requests = String::from("second,v1,v2,v3,not_decided,failed,slowest_ms\n");
    for (i, sec) in s.tally.seconds.iter().enumerate() {
        let v = |n: &str| sec.routed.get(n).copied().unwrap_or(0);
        let _ = writeln!(
            requests,
            "{i},{},{},{},{},{},{}",
            v("v1"),
            v("v2"),
            v("v3"),
            sec.not_decided,
            sec.failed,
            sec.slowest_ms
        );
    }
    std::fs::write(out.join("requests.csv"), requests)?;
    let events = format!(
        "at_s,event\n{:.1},filter VM crash\n{:.1},Envoy hot restart\n{:.1},judged from\n",
        s.crash.at,
        s.restart.at,
        s.elapsed.as_secs_f64() / 2.0
    );
    std::fs::write(out.join("events.csv"), events)?;
    std::fs::write(out.join("RESULTS.md"), markdown(s, settings, machine))
}

fn count(s: &Soak, f: impl Fn(&Kind) -> bool) -> (usize, usize) {
    let of: Vec<_> = s.changes.iter().filter(|c| f(&c.kind)).collect();
    (of.iter().filter(|c| c.ok).count(), of.len())
}

/// RESULTS.md.
pub fn markdown(s: &Soak, settings: &Settings, machine: &str) -> String {
    let t = &s.tally;
    let mut md = String::new();
    let _ = writeln!(md, "# make soak\n\n{machine}\n");
    let _ = writeln!(
        md,
        "{:.0} s of load at {} req/s (4 keep-alive clients on 127.0.0.1, 10,000 users); a change \
         started at each whole second after the previous one ended: {} changes.\n",
        s.elapsed.as_secs_f64(),
        settings.rate,
        s.changes.len()
    );
    md.push_str(
        "A request **failed** when it got no reply, a status other than 200, a reply from no \
         upstream, or a reply from another version than the one Veer chose (the app echoes the \
         `x-veer-variant` it was sent). The one request sent to crash the VM is not part of the \
         load. Envoy's RSS is `VmRSS` of the serving process, once a second. Written by \
         `make soak` (soak/src).\n\n",
    );
    let _ = writeln!(md, "| figure | measured | target |\n| --- | --- | --- |");
    let _ = writeln!(md, "| requests | {} | |", t.requests());
    let _ = writeln!(md, "| failed requests | {} | 0 |", t.failed());
    let _ = writeln!(
        md,
        "| served with no Veer decision (crash stand-in loaded, or the fallback config after the restart) | {} | (counted apart) |",
        t.not_decided()
    );
    let verified = s.changes.iter().filter(|c| c.verified.is_some()).count();
    let _ = writeln!(md, "| changes verified live (exit 0, then the proxy's gauge shows the version written) | {verified} | every valid change |");
    for (label, f) in [
        (
            "valid `canary set-weight`",
            (|k: &Kind| matches!(k, Kind::SetWeight(_))) as fn(&Kind) -> bool,
        ),
        ("valid `apply -f`", |k| matches!(k, Kind::Apply(_))),
        (
            "invalid `apply -f`, refused by veerctl (exit 3, file unchanged)",
            |k| *k == Kind::Refused,
        ),
        (
            "invalid file written over the watched one, rejected by Envoy (old version kept)",
            |k| *k == Kind::Rejected,
        ),
    ] {
        let (ok, all) = count(s, f);
        let _ = writeln!(md, "| {label}: as expected | {ok} of {all} | all |");
    }
    let mut took: Vec<f64> = s
        .changes
        .iter()
        .filter(|c| c.verified.is_some())
        .map(|c| c.took.as_secs_f64() * 1000.0)
        .collect();
    took.sort_by(f64::total_cmp);
    if let (Some(median), Some(max)) = (took.get(took.len() / 2), took.last()) {
        let _ = writeln!(md, "| verified change, veerctl start to exit: median / max | {median:.0} / {max:.0} ms | |");
    }
    let c = &s.crash;
    let _ = writeln!(
        md,
        "| filter VM crash at {:.0} s: crashing request's status (excluded from the load) | {} ({}) | 0 or 5xx |",
        c.at,
        c.status,
        if c.crashed { "VM panicked, in Envoy's log" } else { "**no crash in Envoy's log**" }
    );
    let _ = writeln!(
        md,
        "| crashed VM serving again (20 new connections in a row) | {} | |",
        c.recovered_in.map_or("**never**".to_owned(), |d| format!(
            "{:.2} s",
            d.as_secs_f64()
        ))
    );
    let _ = writeln!(
        md,
        "| Veer restored after the crash, verified | {} | yes |",
        yes(c.restored)
    );
    let r = &s.restart;
    let _ = writeln!(
        md,
        "| Envoy hot restart at {:.0} s: new process listening after | {:.2} s{} | |",
        r.at,
        r.took.as_secs_f64(),
        if r.detail.is_empty() {
            String::new()
        } else {
            format!(" (**{}**)", r.detail)
        }
    );
    let _ = writeln!(
        md,
        "| new process serving the fallback config (it refuses the file on disk), on a new connection, after | {} | |",
        r.fallback_served_after.map_or("**never**".to_owned(), |d| format!("{:.2} s", d.as_secs_f64()))
    );
    let _ = writeln!(
        md,
        "| version in `/stats` while the old process drained / after it exited | {} / {} | (the old one's) / 0 |",
        r.reported_with_parent, r.version_after
    );
    let _ = writeln!(
        md,
        "| at the end: the proxy runs / the last verified change | {} / {} | equal |",
        s.final_versions.0, s.final_versions.1
    );
    rss_rows(&mut md, s);
    failures(&mut md, s);
    md
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "**no**"
    }
}

fn rss_rows(md: &mut String, s: &Soak) {
    let mib = |k: u64| k as f64 / 1024.0;
    let (first, last) = (s.rss.first(), s.rss.last());
    let max = s.rss.iter().map(|x| x.rss_kib).max().unwrap_or(0);
    let _ = writeln!(
        md,
        "| Envoy RSS: first / max / last sample | {:.1} / {:.1} / {:.1} MiB | |",
        first.map_or(0.0, |x| mib(x.rss_kib)),
        mib(max),
        last.map_or(0.0, |x| mib(x.rss_kib))
    );
    match judged(s) {
        Some(v) => {
            let _ = writeln!(
                md,
                "| RSS over the second half ({} samples, mean {:.1} MiB): fitted slope | {:+.2} MiB/h, {:+.2} % over the half: **{}** | flat: growth < {:.0} % of the mean |",
                v.samples,
                v.mean_mib,
                v.slope_mib_per_hour,
                100.0 * v.growth,
                if v.flat { "flat" } else { "not flat" },
                100.0 * FLAT_BOUND
            );
        }
        None => {
            let _ = writeln!(md, "| RSS verdict | too few samples | |");
        }
    }
    let _ = writeln!(md, "\n![Envoy RSS over the soak](rss.png)\n");
}

fn failures(md: &mut String, s: &Soak) {
    let bad: Vec<_> = s.changes.iter().filter(|c| !c.ok).collect();
    if !bad.is_empty() {
        let _ = writeln!(md, "## Changes that did not end as they must\n");
        for c in bad.iter().take(30) {
            let _ = writeln!(md, "- {:.0} s, {:?}: {}", c.at, c.kind, c.detail);
        }
        md.push('\n');
    }
    if !s.tally.failures.is_empty() {
        let _ = writeln!(
            md,
            "## Failed requests (the first {})\n",
            s.tally.failures.len()
        );
        for f in &s.tally.failures {
            let _ = writeln!(md, "- {:.2} s: {}", f.at, f.reason);
        }
        md.push('\n');
    }
    if !s.crash.detail.is_empty() {
        let _ = writeln!(md, "Crash: {}\n", s.crash.detail);
    }
}
