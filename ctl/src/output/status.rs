//! Human output: tables with bars. Data is computed elsewhere; this only draws it.

use comfy_table::{presets, Cell, Color, ContentArrangement, Table};

use super::colour::{paint, Tone};
use crate::config::edit::bp_to_percent;
use crate::host::envoy::FIRST_APPLY;
use crate::observe::srm::Verdict;
use crate::observe::status::{Proxy, Runs, Status};

/// A bar of `width` cells for a share in 0..=1.
pub fn bar(share: f64, width: usize) -> String {
    let filled = (share.clamp(0.0, 1.0) * width as f64).round() as usize;
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

pub(super) fn table(color: bool) -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    if !color {
        t.force_no_tty();
    } else {
        t.enforce_styling();
    }
    t
}

fn micros(us: Option<f64>) -> String {
    match us {
        Some(us) if us >= 1000.0 => format!("{:.1} ms", us / 1000.0),
        Some(us) => format!("{us:.0} us"),
        None => "-".into(),
    }
}

/// Renders `status`.
pub fn status(s: &Status, color: bool) -> String {
    let mut out = String::new();
    for p in &s.proxies {
        out.push_str(&format!(
            "proxy {}  {}\n",
            p.url,
            proxy_state(p, s.configured_version, color)
        ));
    }
    if s.proxies.iter().any(|p| p.runs == Runs::Fallback) {
        out.push_str(&format!(
            "{}: a proxy started with a veer.json its filter refuses, and runs the bootstrap's fallback \
             config: no service is routed (everyone on the stable route; client-sent Veer headers are \
             still removed). To recover, read why in that Envoy's log (`veer: config rejected`, or a \
             wasm error), then write a config it accepts with {FIRST_APPLY}; `veerctl get` prints the \
             refused one. It leaves the fallback as soon as it accepts one.\n",
            paint("FALLBACK", Tone::Bad, color)
        ));
    }
    out.push_str(&format!(
        "counts, 5xx and p50/p99: {}, summed over the proxies above \
         (latency trails the counts by up to Envoy's stats flush interval, 5 s by default)\n",
        s.window
    ));
    for svc in &s.services {
        out.push_str(&format!(
            "\nservice {}  (default-split requests {}: {})\n",
            svc.name, s.window, svc.split_requests
        ));
        let mut t = table(color);
        t.set_header([
            "variant",
            "cluster",
            "configured",
            "observed",
            "configured | observed",
            "requests",
            "5xx",
            "p50",
            "p99",
        ]);
        for v in &svc.variants {
            let share = v.observed_share(svc.split_requests);
            let configured = v.configured_bp as f64 / 10_000.0;
            let off =
                svc.srm.as_ref().is_some_and(|r| r.mismatch) && (share - configured).abs() > 0.01;
            let mut observed = Cell::new(format!("{:.1}% ({})", share * 100.0, v.split_requests));
            if off && color {
                observed = observed.fg(Color::Red);
            }
            t.add_row(vec![
                Cell::new(&v.name),
                Cell::new(&v.cluster),
                Cell::new(bp_to_percent(v.configured_bp)),
                observed,
                Cell::new(format!("{} {}", bar(configured, 10), bar(share, 10))),
                Cell::new(v.requests),
                Cell::new(match (v.errors, v.error_rate()) {
                    (Some(errors), Some(rate)) => format!("{errors} ({:.2}%)", rate * 100.0),
                    _ => "off".to_owned(),
                }),
                Cell::new(micros(v.latency.map(|l| l.p50_us))),
                Cell::new(micros(v.latency.map(|l| l.p99_us))),
            ]);
        }
        out.push_str(&t.to_string());
        out.push('\n');
        verdict(
            &mut out,
            "split check",
            "default-split requests",
            &svc.srm,
            &svc.cause,
            color,
        );
        for e in &svc.experiments {
            out.push_str(&format!(
                "\nexperiment {}  (enrols {} of its segment; assignments {}: {})\n",
                e.id,
                bp_to_percent(e.allocation_bp),
                s.window,
                e.assigned
            ));
            let mut t = table(color);
            t.set_header([
                "arm",
                "variant",
                "configured",
                "observed",
                "configured | observed",
            ]);
            for a in &e.arms {
                let share = if e.assigned == 0 {
                    0.0
                } else {
                    a.assigned as f64 / e.assigned as f64
                };
                let configured = a.configured_bp as f64 / 10_000.0;
                t.add_row(vec![
                    Cell::new(&a.name),
                    Cell::new(&a.variant),
                    Cell::new(bp_to_percent(a.configured_bp)),
                    Cell::new(format!("{:.1}% ({})", share * 100.0, a.assigned)),
                    Cell::new(format!("{} {}", bar(configured, 10), bar(share, 10))),
                ]);
            }
            out.push_str(&t.to_string());
            out.push('\n');
            verdict(
                &mut out,
                "arm check",
                "assignments",
                &e.srm,
                &e.cause,
                color,
            );
        }
    }
    out
}

/// What a proxy line says after the proxy's URL.
fn proxy_state(p: &Proxy, configured: u64, color: bool) -> String {
    let v = p.version.unwrap_or(0);
    let refused = match p.rejected_updates {
        0 => String::new(),
        n => format!("; its Envoy refused {n} update(s), see its log"),
    };
    match p.runs {
        Runs::Configured => format!("runs version {v}"),
        Runs::Stale => format!(
            "runs version {v}  << {}: configured {configured}{refused}",
            paint("STALE", Tone::Bad, color)
        ),
        Runs::Fallback => format!(
            "runs the {} config (version 0)  << configured {configured}: every request goes to the stable route{refused}",
            paint("FALLBACK", Tone::Bad, color)
        ),
        Runs::OtherConfig => format!(
            "runs version {v}  << {}: not the live file's config (it loads another file)",
            paint("OTHER CONFIG", Tone::Bad, color)
        ),
        Runs::HotRestart => format!(
            "reports version {v}  << {}: its stats add in the old process's until it exits, so what it runs cannot be known yet",
            paint("HOT RESTART", Tone::Bad, color)
        ),
        Runs::Unreachable => format!(
            "{}: {}",
            paint("UNREACHABLE", Tone::Bad, color),
            p.error.as_deref().unwrap_or("no answer")
        ),
    }
}

/// The line under a table: the sample-ratio verdict (`what`: "split check") and, on a
/// mismatch, its likely cause.
fn verdict(
    out: &mut String,
    what: &str,
    counted: &str,
    srm: &Option<Verdict>,
    cause: &Option<String>,
    color: bool,
) {
    match srm {
        None => out.push_str(&format!(
            "{what}: not enough traffic yet (needs 100 {counted})\n"
        )),
        Some(v) if !v.mismatch => {
            out.push_str(&format!(
                "{what}: {} (chi-square p = {:.3})\n",
                paint("OK", Tone::Good, color),
                v.p_value
            ));
        }
        Some(v) => {
            out.push_str(&format!(
                "{what}: {} (chi-square p = {:.2e}{})\n",
                paint("MISMATCH", Tone::Bad, color),
                v.p_value,
                if v.unexpected.is_empty() {
                    String::new()
                } else {
                    format!("; traffic to 0% shares: {}", v.unexpected.join(", "))
                }
            ));
            if let Some(c) = cause {
                out.push_str(&format!("likely cause: {c}\n"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::srm;
    use crate::observe::status::{ServiceStatus, VariantStatus};

    /// One proxy and service `web` whose default split sent `v1` and `v2` requests (80/20
    /// configured).
    fn status(v1: u64, v2: u64) -> Status {
        let variant = |name: &str, bp: i64, n: u64| VariantStatus {
            name: name.into(),
            cluster: format!("web_{name}"),
            configured_bp: bp,
            split_requests: n,
            requests: n,
            errors: Some(0),
            latency: None,
        };
        Status {
            configured_version: 2,
            window: "over the last 10s".into(),
            proxies: vec![Proxy {
                url: "http://127.0.0.1:9901".into(),
                version: Some(2),
                error: None,
                runs: Runs::Configured,
                rejected_updates: 0,
            }],
            services: vec![ServiceStatus {
                name: "web".into(),
                variants: vec![variant("v1", 8000, v1), variant("v2", 2000, v2)],
                split_requests: v1 + v2,
                srm: srm::test(&[("v1".into(), v1, 8000), ("v2".into(), v2, 2000)]),
                cause: None,
                experiments: Vec::new(),
            }],
        }
    }

    #[test]
    fn bars_show_the_configured_and_observed_shares() {
        assert_eq!(bar(0.8, 10), "████████░░");
        assert_eq!(bar(0.0, 4), "░░░░");
        assert_eq!(bar(1.7, 4), "████");
        let out = super::status(&status(500, 500), false);
        // Configured 20 %, observed 50 %.
        assert!(out.contains("██░░░░░░░░ █████░░░░░"), "{out}");
        assert!(out.contains("50.0% (500)"), "{out}");
    }

    #[test]
    fn without_colour_there_is_no_escape_code() {
        for s in [status(800, 200), status(500, 500), status(0, 0)] {
            let out = super::status(&s, false);
            assert!(!out.contains('\x1b'), "{out}");
        }
        assert!(super::status(&status(500, 500), false).contains("split check: MISMATCH"));
    }

    #[test]
    fn experiments_get_a_table_of_arms_and_their_own_check() {
        use crate::observe::status::{ArmStatus, ExperimentStatus};
        let mut s = status(800, 200);
        let arm = |name: &str, variant: &str, n: u64| ArmStatus {
            name: name.into(),
            variant: variant.into(),
            configured_bp: 5000,
            assigned: n,
        };
        s.services[0].experiments.push(ExperimentStatus {
            id: "checkout".into(),
            allocation_bp: 2000,
            arms: vec![arm("a", "v1", 700), arm("b", "v2", 300)],
            assigned: 1000,
            srm: srm::test(&[("a".into(), 700, 5000), ("b".into(), 300, 5000)]),
            cause: Some("the arms' shares differ beyond chance".into()),
        });
        let out = super::status(&s, false);
        assert!(out.contains("experiment checkout  (enrols 20%"), "{out}");
        assert!(out.contains("70.0% (700)"), "{out}");
        assert!(out.contains("█████░░░░░ ███████░░░"), "{out}");
        assert!(out.contains("split check: OK"), "{out}");
        assert!(out.contains("arm check: MISMATCH"), "{out}");
        assert!(out.contains("likely cause: the arms' shares"), "{out}");
    }

    /// The window is the caller's: the same tables say "since the last verified change" on the
    /// Envoy path and "over the last 10s" on Kubernetes.
    #[test]
    fn every_count_is_labelled_with_the_status_window() {
        let mut s = status(800, 200);
        s.services[0]
            .experiments
            .push(crate::observe::status::ExperimentStatus {
                id: "checkout".into(),
                allocation_bp: 10_000,
                arms: Vec::new(),
                assigned: 7,
                srm: None,
                cause: None,
            });
        let out = super::status(&s, false);
        assert!(
            out.contains("counts, 5xx and p50/p99: over the last 10s, summed over the proxies"),
            "{out}"
        );
        assert!(
            out.contains("(default-split requests over the last 10s: 1000)"),
            "{out}"
        );
        assert!(out.contains("assignments over the last 10s: 7)"), "{out}");
        s.window = crate::observe::status::SINCE_LAST_CHANGE.into();
        let out = super::status(&s, false);
        assert!(
            out.contains("(default-split requests since the last verified change: 1000)"),
            "{out}"
        );
        assert!(!out.contains("10s"), "{out}");
    }

    #[test]
    fn with_colour_the_verdict_is_green_or_red() {
        let ok = super::status(&status(800, 200), true);
        assert!(ok.contains("\x1b[32;1mOK\x1b[0m"), "{ok}");
        let bad = super::status(&status(500, 500), true);
        assert!(bad.contains("\x1b[31;1mMISMATCH\x1b[0m"), "{bad}");
    }
}
