//! Simulated shoppers for `make demo`'s A/B step: each loads the shop's page (keeping the marks
//! cookie the proxy sets), reads its arm, and buys with that arm's probability (seeded). Prints
//! what they did per arm and writes it as JSON for deploy/demo/verify.py to compare with
//! `veerctl experiment report`.
//!
//! Usage: `veer-demo-shoppers --port PORT --users N --rate ARM=P ... [--seed S] --out FILE`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Parser;
use veer_e2e::shoppers::{self, Goal, Plan};
use veer_e2e::Client;

#[derive(Parser)]
struct Args {
    /// The proxy's listener on 127.0.0.1.
    #[arg(long)]
    port: u16,
    /// How many shoppers.
    #[arg(long, default_value_t = 2000)]
    users: usize,
    /// An arm's chance to buy, `ARM=P` (repeatable).
    #[arg(long = "rate", value_parser = rate)]
    rates: Vec<(String, f64)>,
    /// Seeds the draws.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Pages each shopper loads before deciding.
    #[arg(long, default_value_t = 2)]
    pages: usize,
    /// Where the tally goes (JSON).
    #[arg(long)]
    out: PathBuf,
}

fn rate(s: &str) -> Result<(String, f64), String> {
    let (arm, p) = s.split_once('=').ok_or("expected ARM=P")?;
    let p: f64 = p.parse().map_err(|e| format!("{p}: {e}"))?;
    Ok((arm.to_owned(), p))
}

fn main() {
    let a = Args::parse();
    let plan = Plan {
        prefix: "shopper".to_owned(),
        users: a.users,
        rates: a.rates.iter().cloned().collect::<BTreeMap<_, _>>(),
        seed: a.seed,
        pages: a.pages,
        goal_requests: 1,
        page_headers: Vec::new(),
        goal: Goal {
            host: "127.0.0.1".to_owned(),
            method: "POST".to_owned(),
            path: "/api/buy".to_owned(),
        },
        keep_cookies: true,
    };
    let tally = match shoppers::run(&Client::new(a.port), &plan) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("veer-demo-shoppers: a request failed: {e}");
            std::process::exit(1);
        }
    };
    for (arm, t) in &tally.arms {
        println!(
            "  {arm}: {} shoppers ({} page views), {} bought ({:.1} %)",
            t.users,
            t.page_requests,
            t.converted,
            100.0 * t.converted as f64 / t.users.max(1) as f64
        );
    }
    let json = serde_json::to_string_pretty(&tally.arms).unwrap_or_default();
    if let Err(e) = std::fs::write(&a.out, json) {
        eprintln!("veer-demo-shoppers: cannot write {}: {e}", a.out.display());
        std::process::exit(1);
    }
}
