//! Sample-ratio mismatch: do the exposures per arm fit the configured shares?
//!
//! Pearson's chi-square goodness of fit over the arms with a positive share (scipy's
//! `stats.chisquare`); an arm configured at 0 that still has exposed users is a mismatch outright.
//! A split that fails at p < 0.001 means users did not reach the arms as configured (bots or a
//! redirect hitting one arm, one arm's pages failing to record exposures, caching before the
//! proxy...), and any comparison between the arms is then suspect: Fabijan et al., "Diagnosing
//! sample ratio mismatch in online controlled experiments" (KDD 2019); the 0.001 threshold is the
//! one Kohavi, Tang & Xu recommend ("Trustworthy Online Controlled Experiments", 2020), strict
//! because the check runs on every look.
//!
//! The chi-square approximation needs at least 5 expected users per arm (Cochran's rule); below
//! that the check reports how many users it needs instead of a p-value.
//!
//! [`check`] returns `Err(SrmFailed)` for a failed check, and only the analysis turns an `Ok` into
//! verdicts; [`SrmTest`]'s fields are private so no other code can build a "passed" test with a
//! small p-value.

use crate::dist;
use serde::Serialize;

/// Below this p-value the split is a mismatch.
pub const SRM_ALPHA: f64 = 0.001;
/// Expected users per arm the chi-square approximation needs.
pub const MIN_EXPECTED_USERS: f64 = 5.0;

/// One arm's configured and observed share.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SrmArm {
    /// Arm name.
    pub arm: String,
    /// Configured share, normalised to sum to 1.
    pub configured_share: f64,
    /// Share of all exposed users it got.
    pub observed_share: f64,
    /// Users it should have got at its configured share.
    pub expected_users: f64,
    /// Users it got.
    pub exposed: u64,
}

/// A computed chi-square goodness-of-fit test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SrmTest {
    chi_square: f64,
    degrees_of_freedom: u32,
    p_value: f64,
    arms: Vec<SrmArm>,
    unexpected_arms: Vec<String>,
}

impl SrmTest {
    /// Pearson's statistic.
    pub fn chi_square(&self) -> f64 {
        self.chi_square
    }
    /// Arms with a positive share, minus one.
    pub fn degrees_of_freedom(&self) -> u32 {
        self.degrees_of_freedom
    }
    /// P(χ² ≥ statistic) under the configured split.
    pub fn p_value(&self) -> f64 {
        self.p_value
    }
    /// Every arm, configured vs observed.
    pub fn arms(&self) -> &[SrmArm] {
        &self.arms
    }
    /// Arms configured at share 0 that still got users.
    pub fn unexpected_arms(&self) -> &[String] {
        &self.unexpected_arms
    }
}

/// A check that failed: the split does not match the configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct SrmFailed(SrmTest);

impl SrmFailed {
    /// The test behind the failure.
    pub fn test(&self) -> &SrmTest {
        &self.0
    }
}

/// A check that passed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct SrmPassed(SrmTest);

impl SrmPassed {
    /// The test behind the pass.
    pub fn test(&self) -> &SrmTest {
        &self.0
    }
}

/// The outcomes that do not withhold verdicts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SrmOk {
    /// The split fits the configuration.
    Passed(SrmPassed),
    /// Too few users for the test yet; verdicts wait (see the verdict rules).
    TooFewUsers {
        /// Users exposed so far (arms with a positive share).
        exposed: u64,
        /// Users needed for 5 expected in every arm.
        needed: u64,
    },
    /// One arm with a positive share: there is no split to check.
    SingleArm,
}

/// One arm's input to the check.
#[derive(Debug, Clone, Copy)]
pub struct ArmExposure<'a> {
    /// Arm name.
    pub arm: &'a str,
    /// Configured share (any non-negative weight; normalised here).
    pub share: f64,
    /// Users exposed.
    pub exposed: u64,
}

/// Runs the check. Shares are non-negative with a positive sum (validated by the caller).
pub fn check(arms: &[ArmExposure<'_>]) -> Result<SrmOk, SrmFailed> {
    let share_sum: f64 = arms.iter().map(|a| a.share).sum();
    let rows = rows(arms, share_sum);
    let live: Vec<&SrmArm> = rows.iter().filter(|r| r.configured_share > 0.0).collect();
    let unexpected_arms: Vec<String> = rows
        .iter()
        .filter(|r| r.configured_share == 0.0 && r.exposed > 0)
        .map(|r| r.arm.clone())
        .collect();
    if live.len() < 2 && unexpected_arms.is_empty() {
        return Ok(SrmOk::SingleArm);
    }
    let chi_square: f64 = live
        .iter()
        .filter(|r| r.expected_users > 0.0)
        .map(|r| (r.exposed as f64 - r.expected_users).powi(2) / r.expected_users)
        .sum();
    let degrees_of_freedom = live.len().saturating_sub(1) as u32;
    let p_value = if degrees_of_freedom == 0 {
        1.0
    } else {
        dist::chi_square_sf(chi_square, f64::from(degrees_of_freedom))
    };
    let too_few = live.iter().any(|r| r.expected_users < MIN_EXPECTED_USERS);
    let min_share = live.iter().map(|r| r.configured_share).fold(1.0, f64::min);
    let exposed = live.iter().map(|r| r.exposed).sum();
    let test = SrmTest {
        chi_square,
        degrees_of_freedom,
        p_value,
        arms: rows,
        unexpected_arms,
    };
    if !test.unexpected_arms.is_empty() || (!too_few && p_value < SRM_ALPHA) {
        Err(SrmFailed(test))
    } else if too_few {
        Ok(SrmOk::TooFewUsers {
            exposed,
            needed: (MIN_EXPECTED_USERS / min_share).ceil() as u64,
        })
    } else {
        Ok(SrmOk::Passed(SrmPassed(test)))
    }
}

/// Each arm's configured and observed share; expected users spread the users of the arms with a
/// positive share over those arms.
fn rows(arms: &[ArmExposure<'_>], share_sum: f64) -> Vec<SrmArm> {
    let live_total: u64 = arms
        .iter()
        .filter(|a| a.share > 0.0)
        .map(|a| a.exposed)
        .sum();
    let all_total: u64 = arms.iter().map(|a| a.exposed).sum();
    arms.iter()
        .map(|a| SrmArm {
            arm: a.arm.to_owned(),
            configured_share: a.share / share_sum,
            observed_share: if all_total > 0 {
                a.exposed as f64 / all_total as f64
            } else {
                0.0
            },
            expected_users: live_total as f64 * a.share / share_sum,
            exposed: a.exposed,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arms(v: &[(&'static str, f64, u64)]) -> Vec<ArmExposure<'static>> {
        v.iter()
            .map(|&(arm, share, exposed)| ArmExposure {
                arm,
                share,
                exposed,
            })
            .collect()
    }

    #[test]
    fn a_fair_split_passes() {
        let ok = check(&arms(&[("a", 50.0, 5020), ("b", 50.0, 4980)])).unwrap();
        assert!(
            matches!(ok, SrmOk::Passed(ref t) if t.test().p_value() > 0.5),
            "{ok:?}"
        );
    }

    #[test]
    fn a_skewed_split_fails_and_says_which_arm_got_more() {
        let failed = check(&arms(&[("a", 1.0, 5300), ("b", 1.0, 4700)])).unwrap_err();
        assert!(failed.test().p_value() < 1e-6);
        let b = &failed.test().arms()[1];
        assert_eq!((b.arm.as_str(), b.configured_share), ("b", 0.5));
        assert!((b.observed_share - 0.47).abs() < 1e-12);
    }

    #[test]
    fn users_in_a_zero_share_arm_fail_even_when_few() {
        let failed = check(&arms(&[("a", 1.0, 3), ("b", 0.0, 1)])).unwrap_err();
        assert_eq!(failed.test().unexpected_arms(), ["b"]);
    }

    #[test]
    fn too_few_users_says_how_many_are_needed() {
        let ok = check(&arms(&[("a", 90.0, 30), ("b", 10.0, 2)])).unwrap();
        assert_eq!(
            ok,
            SrmOk::TooFewUsers {
                exposed: 32,
                needed: 50
            }
        );
        assert!(matches!(
            check(&arms(&[("a", 1.0, 0), ("b", 1.0, 0)])),
            Ok(SrmOk::TooFewUsers { exposed: 0, .. })
        ));
    }

    #[test]
    fn one_arm_has_nothing_to_check() {
        assert_eq!(check(&arms(&[("a", 1.0, 100)])), Ok(SrmOk::SingleArm));
    }
}
