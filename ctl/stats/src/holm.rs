//! Holm's step-down correction (Holm, "A simple sequentially rejective multiple test procedure",
//! Scandinavian Journal of Statistics 6, 1979): controls the chance of any false positive across a
//! family of tests, for any dependence between them, and rejects at least what Bonferroni does.
//!
//! Adjusted p-values: sort ascending, p̃₍ᵢ₎ = max_{j ≤ i} min(1, (m − j + 1) · p₍ⱼ₎); a test is
//! significant at level α when its adjusted p-value is below α. (statsmodels' `multipletests`
//! with `method="holm"`.)

/// Holm-adjusted p-values, in the order given.
pub fn adjust(p_values: &[f64]) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut adjusted = vec![1.0; m];
    let mut running = 0.0_f64;
    for (rank, &i) in order.iter().enumerate() {
        let scaled = ((m - rank) as f64 * p_values[i]).min(1.0);
        running = running.max(scaled);
        adjusted[i] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_down_and_stays_monotone() {
        // Sorted 0.01, 0.03, 0.04, 1.0 → 0.04, max(0.04, 0.09), max(0.09, 0.08), 1.
        let got = adjust(&[0.01, 0.04, 0.03, 1.0]);
        for (g, want) in got.iter().zip([0.04, 0.09, 0.09, 1.0]) {
            assert!((g - want).abs() < 1e-15, "{got:?}");
        }
    }

    #[test]
    fn one_test_is_left_alone_and_none_is_empty() {
        assert_eq!(adjust(&[0.2]), [0.2]);
        assert!(adjust(&[]).is_empty());
    }
}
