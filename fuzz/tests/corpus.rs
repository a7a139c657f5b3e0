//! Replays every committed fuzz input through its target's check: the corpus `make fuzz` grew
//! (fuzz/corpus/<target>) and every input that once failed (fuzz/regressions/<target>, kept
//! after the fix). A failure names the file.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_committed_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failed = Vec::new();
    for target in veer_fuzz::TARGETS {
        let corpus = inputs(&root.join("corpus").join(target.name));
        assert!(!corpus.is_empty(), "no corpus for {}", target.name);
        let regressions = inputs(&root.join("regressions").join(target.name));
        for file in corpus.iter().chain(&regressions) {
            let Ok(data) = std::fs::read(file) else {
                failed.push(format!("{}: unreadable", file.display()));
                continue;
            };
            if catch_unwind(AssertUnwindSafe(|| (target.check)(&data))).is_err() {
                failed.push(file.display().to_string());
            }
        }
    }
    assert!(
        failed.is_empty(),
        "inputs that fail their target:\n{}",
        failed.join("\n")
    );
}
