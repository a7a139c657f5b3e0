//! veerctl: parse, run, report. Exit codes are documented in `veerctl --help`.

fn main() {
    let cli =
        veer_ctl::cli::Cli::try_parse_checked(std::env::args_os()).unwrap_or_else(|e| e.exit());
    if let Err(e) = veer_ctl::run(&cli) {
        eprintln!("{}", e.report());
        std::process::exit(e.exit_code());
    }
}
