//! Envoy's `stats_config.stats_tags` that make labels of the parts of Veer's names.
//!
//! A tag is a label name and a regex matched against the full name in `/stats`
//! (`wasmcustom.veer.responses_total.web.v2.5xx`): Envoy cuts the regex's first capture group out
//! of the name and takes the second as the label's value. Envoy refuses two tags of one name, so
//! each label has one regex, with an alternative for each position the label takes in some family
//! (`status_class` is the third value of `responses_total` and the fourth of
//! `arm_responses_total`). deploy/envoy/envoy.yaml and the Istio bootstrap carry exactly these
//! (tested).

use super::{Label, FAMILIES, HOST_PREFIXES, NAMESPACE};

/// One of Envoy's `stats_config.stats_tags`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsTag {
    /// The Prometheus label (`tag_name`).
    pub tag_name: &'static str,
    /// Matched against the full name in `/stats` (`regex`).
    pub regex: String,
}

/// The tags of every label some family has, in [`Label::ALL`] order.
pub fn stats_tags() -> Vec<StatsTag> {
    Label::ALL
        .into_iter()
        .filter_map(|label| {
            let alternatives = positions(label)
                .into_iter()
                .map(|(position, families)| {
                    format!("(?:{}){}", families.join("|"), r"\.[^.]+".repeat(position))
                })
                .collect::<Vec<_>>();
            (!alternatives.is_empty()).then(|| StatsTag {
                tag_name: label.name(),
                regex: format!(
                    r"^(?:{})\.{NAMESPACE}\.(?:{})(\.([^.]+))",
                    HOST_PREFIXES.join("|"),
                    alternatives.join("|")
                ),
            })
        })
        .collect()
}

/// Where `label` sits among a family's values: (position, the families with it there), by
/// position.
fn positions(label: Label) -> Vec<(usize, Vec<&'static str>)> {
    let mut out: Vec<(usize, Vec<&'static str>)> = Vec::new();
    for family in FAMILIES {
        let Some(p) = family.labels.iter().position(|l| *l == label) else {
            continue;
        };
        match out.iter_mut().find(|(q, _)| *q == p) {
            Some((_, names)) => names.push(family.name),
            None => out.push((p, vec![family.name])),
        }
    }
    out.sort_by_key(|(p, _)| *p);
    out
}

/// Bucket bounds, in microseconds, for Veer's latency histograms in `/stats/prometheus`
/// (`stats_config.histogram_bucket_settings`): Envoy's default buckets are made for milliseconds
/// and would put every response under 250 µs into one bucket.
pub const LATENCY_BUCKETS_US: [u64; 18] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

/// The `histogram_bucket_settings` match for Veer's histograms (RE2, whole name).
pub fn histogram_match_regex() -> String {
    format!(r"^{}.*", super::name_pattern(None))
}
