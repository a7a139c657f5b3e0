//! Human output: tables with bars. Data is computed elsewhere; this only draws it.

use comfy_table::{presets, Cell, Color, ContentArrangement, Table};

use crate::edit::bp_to_percent;
use crate::status::Status;

/// A bar of `width` cells for a share in 0..=1.
pub fn bar(share: f64, width: usize) -> String {
    let filled = (share.clamp(0.0, 1.0) * width as f64).round() as usize;
    format!("{}{}", "█".repeat(filled), "░".repeat(width - filled))
}

fn table(color: bool) -> Table {
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
        let state = match (p.version, &p.error) {
            (Some(v), _) if v == s.configured_version => format!("runs version {v}"),
            (Some(v), _) => format!(
                "runs version {v}  << STALE: configured {}",
                s.configured_version
            ),
            (None, Some(e)) => format!("UNREACHABLE: {e}"),
            (None, None) => "unknown".into(),
        };
        out.push_str(&format!("proxy {}  {state}\n", p.url));
    }
    out.push_str(
        "counts, 5xx and p50/p99: since the last verified change, summed over the proxies above \
         (latency trails the counts by up to Envoy's stats flush interval, 5 s by default)\n",
    );
    for svc in &s.services {
        out.push_str(&format!(
            "\nservice {}  (default-split requests since the last change: {})\n",
            svc.name, svc.split_requests
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
        match &svc.srm {
            None => out.push_str(
                "split check: not enough traffic yet (needs 100 default-split requests)\n",
            ),
            Some(v) if !v.mismatch => {
                out.push_str(&format!(
                    "split check: OK (chi-square p = {:.3})\n",
                    v.p_value
                ));
            }
            Some(v) => {
                out.push_str(&format!(
                    "split check: MISMATCH (chi-square p = {:.2e}{})\n",
                    v.p_value,
                    if v.unexpected.is_empty() {
                        String::new()
                    } else {
                        format!("; traffic to 0% variants: {}", v.unexpected.join(", "))
                    }
                ));
                if let Some(c) = &svc.cause {
                    out.push_str(&format!("likely cause: {c}\n"));
                }
            }
        }
    }
    out
}
