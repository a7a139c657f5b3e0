//! The distribution functions the tests need, on statrs's special functions.
//!
//! statrs's distribution types return `Result` from `new` and panic on out-of-range arguments; the
//! callers here always pass valid ones (a positive number of degrees of freedom, a probability
//! strictly inside (0, 1)), so these wrappers call the special functions directly and keep
//! `unwrap` out of the crate. Each function states the range it relies on.

use statrs::function::{beta, erf, gamma};
use std::f64::consts::SQRT_2;

/// P(Z > z) for a standard normal Z (accurate far into the tail: erfc, not 1 - cdf).
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erf::erfc(z / SQRT_2)
}

/// P(Z <= z) for a standard normal Z.
pub fn normal_cdf(z: f64) -> f64 {
    normal_sf(-z)
}

/// The standard normal density.
pub fn normal_pdf(z: f64) -> f64 {
    (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// The z with P(Z > z) = `upper_tail`; `upper_tail` is in (0, 1).
pub fn normal_isf(upper_tail: f64) -> f64 {
    SQRT_2 * erf::erfc_inv(2.0 * upper_tail)
}

/// Two-sided p-value of a standard normal statistic.
pub fn normal_two_sided(z: f64) -> f64 {
    (2.0 * normal_sf(z.abs())).min(1.0)
}

/// P(X > x) for chi-square X with `df` >= 1 degrees of freedom.
pub fn chi_square_sf(x: f64, df: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    // statrs rejects x = 0 and x = ∞ (handled here) and a <= 0 (df >= 1 by contract).
    gamma::checked_gamma_ur(df / 2.0, x / 2.0).unwrap_or(0.0)
}

/// Two-sided p-value of Student's t statistic `t` with `df` > 0 degrees of freedom.
pub fn students_t_two_sided(t: f64, df: f64) -> f64 {
    // P(|T| > t) = I_{df / (df + t²)}(df / 2, 1 / 2), the regularised incomplete beta.
    let x = df / (df + t * t);
    beta::beta_reg(df / 2.0, 0.5, x).min(1.0)
}

/// The t with P(T > t) = `upper_tail` for `df` > 0 degrees of freedom, `upper_tail` in (0, 0.5].
pub fn students_t_isf(upper_tail: f64, df: f64) -> f64 {
    // Inverts the relation above; the same route statrs's StudentsT::inverse_cdf takes.
    let y = beta::inv_beta_reg(df / 2.0, 0.5, 2.0 * upper_tail);
    (df * (1.0 - y) / y).sqrt()
}

/// ln B(a, b) for a, b > 0.
pub fn ln_beta(a: f64, b: f64) -> f64 {
    beta::ln_beta(a, b)
}
