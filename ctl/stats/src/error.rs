//! Input the analysis cannot accept. Each message names the field and says what to fix.

/// Why an [`crate::Experiment`] was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    /// alpha or power outside (0, 1).
    #[error("settings.{field}: {value} is not between 0 and 1 (exclusive)")]
    NotAProbability {
        /// `alpha` or `power`.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// exposures_per_day negative or not finite.
    #[error("settings.exposures_per_day: {0} is not a finite number >= 0")]
    BadExposureRate(f64),
    /// planned_users_per_arm below 2.
    #[error("settings.planned_users_per_arm: {0} is too small; give at least 2")]
    BadPlannedUsers(u64),
    /// The control names no arm.
    #[error("control: no arm is named {0:?}; name one of the arms")]
    UnknownControl(String),
    /// Two arms share a name.
    #[error("arms: {0:?} appears more than once; arm names must be unique")]
    DuplicateArm(String),
    /// A share is negative or not finite.
    #[error("arms.{arm}.share: {value} is not a finite number >= 0")]
    BadShare {
        /// Arm name.
        arm: String,
        /// The value given.
        value: f64,
    },
    /// Every share is 0.
    #[error("arms: every share is 0; give each arm its configured weight")]
    NoShares,
    /// Two goals share a name.
    #[error("goals: {0:?} appears more than once; goal names must be unique")]
    DuplicateGoal(String),
    /// More than one primary goal.
    #[error("goals: {0:?} and {1:?} are both primary; mark at most one goal primary")]
    TwoPrimaries(String, String),
    /// A minimum effect that is not a positive finite number.
    #[error("goals.{goal}.minimum_effect: {value} is not a finite number > 0")]
    BadMinimumEffect {
        /// Goal name.
        goal: String,
        /// The value given.
        value: f64,
    },
    /// An arm has data for a goal that is not declared.
    #[error("arms.{arm}.goals.{goal}: no such goal; declare it in goals or remove it")]
    UnknownGoal {
        /// Arm name.
        arm: String,
        /// Goal name.
        goal: String,
    },
    /// An arm lacks data for a declared goal.
    #[error("arms.{arm}.goals: no data for goal {goal:?}; give every arm data for every goal (converted: 0 if none)")]
    MissingGoal {
        /// Arm name.
        arm: String,
        /// Goal name.
        goal: String,
    },
    /// Arms disagree on whether a goal is conversions or values.
    #[error("goals.{goal}: arm {arm:?} gives {found} but arm {first_arm:?} gives {expected}; a goal is conversions in every arm or values in every arm")]
    MixedKinds {
        /// Goal name.
        goal: String,
        /// The first arm's kind.
        first_arm: String,
        /// `conversions` or `values`.
        expected: &'static str,
        /// The arm that differs.
        arm: String,
        /// `conversions` or `values`.
        found: &'static str,
    },
    /// More users in a goal than exposed in the arm.
    #[error("arms.{arm}.goals.{goal}: {count} users but only {exposed} exposed; a goal counts exposed users only")]
    MoreThanExposed {
        /// Arm name.
        arm: String,
        /// Goal name.
        goal: String,
        /// Converted users or users with values.
        count: u64,
        /// Users exposed in the arm.
        exposed: u64,
    },
    /// A per-user value or a sum that is not finite.
    #[error("arms.{arm}.goals.{goal}: {what} is {value}; values must be finite numbers")]
    NotFinite {
        /// Arm name.
        arm: String,
        /// Goal name.
        goal: String,
        /// Which number (`value #3`, `sum`, `sum_of_squares`).
        what: String,
        /// The value given.
        value: f64,
    },
    /// Σx² below (Σx)²/n: no data set has these sums.
    #[error("arms.{arm}.goals.{goal}: sum_of_squares {sum_of_squares} is below sum²/n = {floor}; no set of values has these sums")]
    ImpossibleSums {
        /// Arm name.
        arm: String,
        /// Goal name.
        goal: String,
        /// Σx² given.
        sum_of_squares: f64,
        /// (Σx)²/n.
        floor: f64,
    },
}
