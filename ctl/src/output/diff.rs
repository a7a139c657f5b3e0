//! Config differences for people: each path and change, warnings on their own line.

use crate::config::diff::Difference;

/// Prints `differences`, or `no changes`.
pub fn print(differences: &[Difference]) {
    if differences.is_empty() {
        println!("no changes");
    }
    for d in differences {
        println!("{}: {}", d.path, d.change);
        if let Some(w) = &d.warning {
            println!("  WARNING: {w}");
        }
    }
}
