//! Always-valid inference: p-values and intervals a team can look at every day and stop on.
//!
//! Method: the mixture sequential probability ratio test (mSPRT) with a normal mixture, as in
//! Johari, Koomen, Pekelis & Walsh, "Peeking at A/B tests: why it matters, and what to do about
//! it" (KDD 2017) and Johari, Pekelis & Walsh, "Always valid inference: continuous monitoring of
//! A/B tests" (Operations Research 70(3), 2022) — the method behind Optimizely's Stats Engine.
//! With an estimate Δ̂ of the effect θ whose variance is V, and the effect mixed over N(0, τ²),
//! the likelihood ratio against θ = θ₀ is (Robbins 1970)
//!
//! ```text
//! Λ = sqrt(V / (V + τ²)) · exp( τ² (Δ̂ − θ₀)² / (2 V (V + τ²)) )
//! ```
//!
//! Under θ = θ₀ it is a non-negative martingale with mean 1, so by Ville's inequality the chance it
//! EVER exceeds 1/α is at most α: p = min(1, 1/Λ) is an always-valid p-value, and
//! {θ₀ : Λ(θ₀) < 1/α} an always-valid (1 − α) interval, i.e. a confidence sequence. Neither needs
//! the history of earlier looks: each look's numbers are valid on their own, whenever the team
//! looks and whenever it stops. (With the history, the running minimum of p and the running
//! intersection of intervals are valid too and never worse; the report may show them.)
//!
//! Written with r = τ² / V and z = Δ̂ / √V (the usual z statistic), everything depends on z and r:
//! `p = min(1, sqrt(1 + r) · exp(−z² r / (2 (1 + r))))` and the interval is
//! `Δ̂ ± √V · sqrt((1 + 1/r) · ln((1 + r) / α²))`.
//!
//! Why this and not Howard et al.'s confidence sequences (Eppo's choice)? They are the same
//! object here: Howard, Ramdas, McAuliffe & Sekhon, "Time-uniform, nonparametric, nonasymptotic
//! confidence sequences" (Annals of Statistics 49(2), 2021) give the two-sided normal-mixture
//! boundary, which is exactly the interval above with ρ = 1/τ² per unit of information. We take
//! from them the tuning: τ is set in standardised units so that the interval is narrowest at the
//! planned sample size (see [`Mixture`]). The variance is estimated from the data (plug-in), so the
//! guarantee is asymptotic, as in Waudby-Smith, Arbour, Sinha, Kennedy & Ramdas, "Time-uniform
//! central limit theory and asymptotic confidence sequences" (arXiv:2103.06476); the A/A
//! simulation in this crate's tests checks the false-positive rate under daily peeking.
//!
//! The price: at the planned sample an always-valid test needs a larger z than 1.96 (about 3.0 at
//! α = 0.05), so it needs roughly twice the users of a fixed-horizon test to detect the same
//! effect with the same power; in exchange it can stop as soon as the evidence is there.

use serde::Serialize;

/// A normal mixture tuned to be narrowest at a planned amount of information.
///
/// τ² is fixed in standardised units: τ² = y · V*, with V* the variance of the estimate at the
/// planned sample. For equal per-user variance V ∝ 1/n_eff with n_eff = 1 / (1/n_control +
/// 1/n_arm), so at any sample r = τ² / V = y · n_eff / n_eff*, the same for every metric and scale
/// (absolute, relative, rates, means). y minimises the interval's width at r = y (Howard et al.
/// 2021, the normal-mixture boundary optimised for a target intrinsic time): it solves
/// `y − ln(1 + y) = 2 ln(1/α)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Mixture {
    /// Level the mixture is tuned for.
    pub alpha: f64,
    /// τ² / V* (mixture variance over the estimate's variance at the planned sample).
    pub tau_squared_over_planned_variance: f64,
}

impl Mixture {
    /// The mixture narrowest at the planned sample for level `alpha` (in (0, 1)).
    pub fn tuned(alpha: f64) -> Self {
        let k = 2.0 * (1.0 / alpha).ln();
        // Fixed point of y = k + ln(1 + y): a contraction (slope 1/(1+y) < 1), increasing from
        // y = k, so it converges monotonically; 200 steps are far more than double precision needs.
        let mut y = k;
        for _ in 0..200 {
            let next = k + y.ln_1p();
            if (next - y).abs() <= 1e-15 * next {
                y = next;
                break;
            }
            y = next;
        }
        Mixture {
            alpha,
            tau_squared_over_planned_variance: y,
        }
    }

    /// r = τ² / V at a sample with `information_fraction` = n_eff / n_eff* (> 0).
    pub fn ratio(&self, information_fraction: f64) -> f64 {
        self.tau_squared_over_planned_variance * information_fraction
    }

    /// The z a test needs at the planned sample (where r = y) to reach p = alpha: what replaces
    /// z_{1−α/2} in the sample-size formula.
    pub fn critical_at_plan(&self) -> f64 {
        multiplier(self.tau_squared_over_planned_variance, self.alpha)
    }
}

/// Always-valid two-sided p-value of the z statistic `z` at mixture ratio `r` > 0.
pub fn p_value(z: f64, r: f64) -> f64 {
    let ln_p = 0.5 * r.ln_1p() - z * z * r / (2.0 * (1.0 + r));
    ln_p.min(0.0).exp()
}

/// The always-valid half-width in standard errors at mixture ratio `r` > 0 and level `alpha`.
pub fn multiplier(r: f64, alpha: f64) -> f64 {
    ((1.0 + 1.0 / r) * (r.ln_1p() - 2.0 * alpha.ln())).sqrt()
}

/// n_eff = 1 / (1/a + 1/b): the information two arms of `a` and `b` users hold about a difference,
/// in users (half the per-arm count when the arms are equal).
pub fn effective_users(a: f64, b: f64) -> f64 {
    if a <= 0.0 || b <= 0.0 {
        return 0.0;
    }
    a * b / (a + b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuning_solves_its_equation() {
        let m = Mixture::tuned(0.05);
        let y = m.tau_squared_over_planned_variance;
        assert!((y - y.ln_1p() - 2.0 * 20f64.ln()).abs() < 1e-12, "{y}");
    }

    #[test]
    fn the_p_value_reaches_alpha_exactly_at_the_interval_edge() {
        for &(r, alpha) in &[(0.3, 0.05), (8.2, 0.01), (40.0, 0.1)] {
            let z = multiplier(r, alpha);
            assert!((p_value(z, r) - alpha).abs() < 1e-12 * alpha.max(1.0));
        }
    }

    #[test]
    fn the_p_value_is_one_without_evidence_and_never_above_one() {
        assert_eq!(p_value(0.0, 5.0), 1.0);
        assert!(p_value(1.0, 5.0) <= 1.0);
    }

    #[test]
    fn always_valid_is_wider_than_fixed_at_the_plan() {
        let m = Mixture::tuned(0.05);
        let c = m.critical_at_plan();
        assert!(c > 2.9 && c < 3.1, "{c}");
    }
}
