//! `make soak`: Envoy with Veer under steady load for `SOAK_SECONDS` (default 600) while veerctl
//! changes the config every second, valid and invalid in turn, with a filter VM crash and an
//! Envoy hot restart in the middle. Writes RESULTS.md and the CSV files `soak/plot.py` draws
//! into `SOAK_OUT` (default `soak/`); exits 1 when a figure misses its target.
//!
//! Every process it starts (Envoy, the upstreams, veerctl) is stopped by its own handle or PID;
//! all traffic goes to 127.0.0.1.

mod changes;
mod crash;
mod load;
mod report;
mod rss;
mod run;
mod settings;

use std::process::ExitCode;

fn main() -> ExitCode {
    let settings = match settings::Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let machine_before = machine();
    eprintln!(
        "soak: {} s at {} req/s; results in {}",
        settings.duration.as_secs(),
        settings.rate,
        settings.out.display()
    );
    let soak = match run::run(&settings) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let machine = format!("{machine_before}; load average at the end {}", loadavg());
    if let Err(e) = report::write(&soak, &settings, &machine, &settings.out) {
        eprintln!(
            "error: writing the results into {}: {e}",
            settings.out.display()
        );
        return ExitCode::FAILURE;
    }
    print!("{}", report::markdown(&soak, &settings, &machine));
    if report::passed(&soak) {
        ExitCode::SUCCESS
    } else {
        eprintln!("soak: a figure missed its target (see above)");
        ExitCode::FAILURE
    }
}

/// Date, CPU, cores and load, for the results.
fn machine() -> String {
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{date}, {cpu}, {cores} cores; load average at the start {}",
        loadavg()
    )
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
