//! veer-stats: the statistics behind `veerctl experiment report`. Pure functions on counts, no
//! I/O, no CLI: the report command gathers exposures and conversions from proxies or events,
//! calls [`analyze`], and prints the [`Analysis`] as a table, JSON or HTML.
//!
//! # What it computes, and how
//!
//! | Question | Method | Module |
//! |---|---|---|
//! | Did users reach the arms as configured? | Pearson chi-square goodness of fit, fails at p < 0.001 and withholds every verdict | [`srm`] |
//! | An arm's rate | Wilson score interval | [`proportion`] |
//! | Rate difference | pooled two-proportion z-test; Agresti–Caffo interval | [`proportion`] |
//! | Relative rate difference | Katz log(ratio) interval (delta method), ½ added to counts | [`proportion`] |
//! | Value metrics (revenue per user) | Welch's t-test and interval; delta-method relative interval | [`means`] |
//! | Safe to peek (the default) | always-valid p-values and confidence sequences: normal-mixture SPRT | [`sequential`] |
//! | Many arms and goals | Holm's step-down adjustment of the p-values | [`holm`] |
//! | Chance to beat control, expected loss | exact Beta–Binomial (Evan Miller's closed form); normal approximation for means | [`bayes`] |
//! | Users still needed, days | normal-approximation sample size with the deciding test's critical value | [`power`] |
//! | Winner / loser / no detectable difference / keep running | explicit rules | [`verdict`] |
//!
//! Every number that cannot be computed from the data is an [`Estimate::NotEnoughData`] with a
//! reason, never NaN; a failed sample-ratio check leaves no place for verdicts
//! ([`Decision::Withheld`]).
//!
//! # Written here, and why
//!
//! statrs (already veer-ctl's) supplies the special functions: erfc and its inverse (normal
//! tails and quantiles), the regularised incomplete gamma (chi-square tail) and beta (Student's t
//! tail and quantile), ln Γ and ln B. Its only hypothesis test is Fisher's exact test, so the
//! tests, intervals, Holm's procedure, the sample sizes, the mixture SPRT and the Beta–Binomial
//! sums are written here, each a few lines of a published formula, and each checked against
//! SciPy/statsmodels or an independent numerical integration (`tests/reference.rs`).
//!
//! # Precision
//!
//! Against the reference (1e-9 relative required), the largest relative errors measured are about
//! 2e-10, from statrs 0.18's erfc (accurate to about 1e-10; later statrs releases restore full
//! precision, statrs-dev/statrs#412). The expected loss at 20,000 conversions per arm agrees to
//! 1e-8 relative (5e-14 absolute): ln Γ of arguments near 2·10⁵ carries about 1e-10 absolute
//! error. The chance to beat control costs one term per conversion of the smaller arm.

pub mod analysis;
pub mod bayes;
pub mod compare;
pub mod dist;
pub mod error;
pub mod estimate;
pub mod holm;
pub mod input;
pub mod means;
pub mod power;
pub mod proportion;
pub mod report;
pub mod sequential;
pub mod srm;
mod validate;
pub mod verdict;

pub use analysis::analyze;
pub use error::InputError;
pub use estimate::{Estimate, Interval, NotEnoughData};
pub use input::{
    Arm, Direction, Experiment, Goal, GoalData, Mode, Settings, ValueData,
    DEFAULT_PLANNED_USERS_PER_ARM,
};
pub use report::{
    Analysis, ArmGoal, ArmMetric, ArmSummary, ArmVerdict, Comparison, ComparisonVerdict, Decision,
    Effect, Inference, MeanSummary, Planned, Power, RateSummary,
};
pub use verdict::{KeepRunning, Verdict};
