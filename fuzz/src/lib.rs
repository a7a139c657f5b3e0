//! What Veer's fuzz targets check. Each target is a function of the fuzzer's bytes that panics
//! when a property fails; `fuzz/libfuzzer` runs them under libFuzzer (`make fuzz`), and
//! `tests/corpus.rs` replays the committed corpus and every input that once failed through the
//! same functions in `make test`, so a fixed failure stays fixed.
//!
//! Inputs are never rejected for being malformed: a target reads what it can (a config that does
//! not validate ends the run early) and checks the rest.

pub mod config_decoder;
pub mod decide;
pub mod header_map;
pub mod input;
pub mod match_expr;
pub mod request;

/// A fuzz target: its name (the harness binary, the corpus folder) and its check.
#[derive(Clone, Copy)]
pub struct Target {
    /// `fuzz/corpus/<name>`, `fuzz/regressions/<name>`, `fuzz/libfuzzer/targets/<name>.rs`.
    pub name: &'static str,
    /// Panics when a property fails for these bytes.
    pub check: fn(&[u8]),
}

/// Every target.
pub const TARGETS: &[Target] = &[
    Target {
        name: "config_decoder",
        check: config_decoder::check,
    },
    Target {
        name: "header_map",
        check: header_map::check,
    },
    Target {
        name: "request",
        check: request::check,
    },
    Target {
        name: "decide",
        check: decide::check,
    },
    Target {
        name: "match_expr",
        check: match_expr::check,
    },
];
