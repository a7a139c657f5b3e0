//! The README's worked config example must stay a valid config: it is read from README.md and
//! validated by the engine, both as veerctl reads it (YAML) and as the filter receives it (JSON).
//! Its gate file example must stay a gate file `canary run` accepts.
//!
//! The block is the first fenced block after the line `<!-- veer-test: worked-example -->`, or,
//! without that marker, the first ```yaml or ```json block under the heading that starts with
//! `## The routing config`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use veer_e2e::paths;

const MARKER: &str = "<!-- veer-test: worked-example -->";
const HEADING: &str = "## The routing config";

/// The text of the worked example, or why it cannot be found.
fn worked_example(readme: &str) -> Result<String, String> {
    let lines: Vec<&str> = readme.lines().collect();
    let (start, what) = match lines.iter().position(|l| l.trim() == MARKER) {
        Some(i) => (i + 1, format!("after {MARKER}")),
        None => {
            let i = lines
                .iter()
                .position(|l| l.starts_with(HEADING))
                .ok_or_else(|| {
                    format!("README.md has neither {MARKER} nor a heading {HEADING:?}")
                })?;
            (i + 1, format!("under {HEADING:?}"))
        }
    };
    first_block(&lines, start, &what)
}

/// The first ```yaml or ```json block from line `start` to the end of its `## ` section.
fn first_block(lines: &[&str], start: usize, what: &str) -> Result<String, String> {
    let section = lines.get(start..).unwrap_or_default();
    let section_end = section
        .iter()
        .position(|l| l.starts_with("## "))
        .unwrap_or(section.len());
    let section = &section[..section_end];
    let open = section
        .iter()
        .position(|l| matches!(l.trim(), "```yaml" | "```json"))
        .ok_or_else(|| format!("no ```yaml or ```json block {what}"))?;
    let body = &section[open + 1..];
    let close = body
        .iter()
        .position(|l| l.trim() == "```")
        .ok_or_else(|| format!("the config block {what} is not closed"))?;
    Ok(body[..close].join("\n"))
}

#[test]
fn the_readme_worked_example_is_a_valid_config() {
    let readme = std::fs::read_to_string(paths::workspace().join("README.md")).unwrap();
    let text = worked_example(&readme).unwrap_or_else(|e| panic!("{e}"));
    let loaded = veer_ctl::config::source::parse(&text, "README.md worked example")
        .unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
    loaded
        .validate("README.md worked example")
        .unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
    // What the filter receives: the same config as JSON, through the filter's own reader.
    let json = serde_json::to_string(&loaded.wire).unwrap();
    let config = veer_filter::Config::from_json(&json).unwrap_or_else(|e| panic!("{e}\n{json}"));
    assert!(!config.services.is_empty(), "the example defines services");
}

#[test]
fn an_invalid_example_is_caught() {
    let broken = "## The routing config, by example\n\n```yaml\nservices:\n  - name: shop\n    variants:\n      - { name: stable, cluster: shop_v1 }\n    split: { stable: 9990 }\n```\n";
    let text = worked_example(broken).unwrap();
    let err = veer_ctl::config::source::parse(&text, "x")
        .unwrap()
        .validate("x")
        .unwrap_err()
        .to_string();
    assert!(err.contains("weights sum to 9990 bp"), "{err}");
    let marked = format!("intro\n```json\n{{}}\n```\n{MARKER}\n```yaml\nversion: 1\n```\n");
    assert_eq!(worked_example(&marked).unwrap(), "version: 1");
    assert!(worked_example("# Veer\n```yaml\nx: 1\n```\n").is_err());
}

/// The README's gate file example (the block after `<!-- veer-test: gate-file -->`) is one
/// `canary run --gate-file` accepts, with the gates and hooks it shows.
#[test]
fn the_readme_gate_file_example_is_a_valid_gate_file() {
    const GATE_FILE: &str = "<!-- veer-test: gate-file -->";
    let readme = std::fs::read_to_string(paths::workspace().join("README.md")).unwrap();
    let lines: Vec<&str> = readme.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim() == GATE_FILE)
        .unwrap_or_else(|| panic!("README.md has no {GATE_FILE}"));
    let text = first_block(&lines, at + 1, &format!("after {GATE_FILE}")).unwrap();
    let file = veer_ctl::progressive::gate_file::parse(&text, "README.md gate file")
        .unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
    assert_eq!(file.gates.len(), 1);
    assert_eq!(file.hooks.len(), 3);
}
