//! Writes every manifest veer-k8s generates (demo inputs) into a directory, for schema
//! validation: `cargo run -p veer-k8s --example write-manifests -- DIR`. Those only Istio 1.27
//! and later accept go to `DIR/istio-1.27/` (`veer_k8s::manifests::ISTIO_1_27`).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: write-manifests DIR");
        return ExitCode::from(2);
    };
    let manifests = match veer_k8s::manifests::generated() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: failed to create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    for m in manifests {
        let path = dir.join(&m.file);
        if let Some(parent) = path.parent() {
            if let Err(e) = std::fs::create_dir_all(parent) {
                eprintln!("error: failed to create {}: {e}", parent.display());
                return ExitCode::FAILURE;
            }
        }
        if let Err(e) = std::fs::write(&path, m.yaml) {
            eprintln!("error: failed to write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("{}", path.display());
    }
    ExitCode::SUCCESS
}
