//! veerctl: parse, run, report. Exit codes are documented in `veerctl --help`.

use clap::Parser;

fn main() {
    let cli = veer_ctl::cli::Cli::parse();
    if let Err(e) = veer_ctl::run(&cli) {
        eprintln!("{}", e.report());
        std::process::exit(e.exit_code());
    }
}
