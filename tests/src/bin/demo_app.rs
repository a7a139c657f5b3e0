//! The demo web app: answers every request with its version name (`v1`, `v2`, ...).
//!
//! Usage: `veer-demo-app NAME PORT` (listens on 127.0.0.1). Runs until killed.

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(name), Some(port)) = (args.next(), args.next().and_then(|p| p.parse::<u16>().ok()))
    else {
        eprintln!("usage: veer-demo-app NAME PORT");
        std::process::exit(2);
    };
    match veer_e2e::Upstream::start(&name, port) {
        Ok(app) => {
            eprintln!(
                "demo app {} listening on 127.0.0.1:{}",
                app.name(),
                app.port()
            );
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("demo app {name}: cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    }
}
