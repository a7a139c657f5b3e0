//! The small value types every module shares: an interval, and a number that may be missing for a
//! stated reason instead of being NaN.

use serde::Serialize;

/// A two-sided interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

impl Interval {
    /// `center ± half_width`.
    pub fn around(center: f64, half_width: f64) -> Self {
        Interval {
            lower: center - half_width,
            upper: center + half_width,
        }
    }

    /// Whether `x` lies inside (bounds included).
    pub fn contains(&self, x: f64) -> bool {
        self.lower <= x && x <= self.upper
    }
}

/// Why a number could not be computed. Every statistic that needs more data says which data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotEnoughData {
    /// An arm has no exposed users.
    NoExposures,
    /// A value metric needs at least two users per arm for a variance.
    FewerThanTwoUsers,
    /// Every user in both arms has the same outcome (nobody or everybody converted, or every value
    /// is equal): there is no variance to test against.
    NoVariance,
    /// The control arm has no conversions (or a mean of 0): a relative change is undefined.
    ControlIsZero,
    /// The experiment has only the control arm: nothing to compare.
    SingleArm,
}

/// A statistic, or the reason it is missing. Serialised as `{"measured": ...}` or
/// `{"not_enough_data": "reason"}`, so no NaN or null ever reaches the JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimate<T> {
    /// Computed.
    Measured(T),
    /// Not computable from this data.
    NotEnoughData(NotEnoughData),
}

impl<T> Estimate<T> {
    /// The value, if computed.
    pub fn measured(&self) -> Option<&T> {
        match self {
            Estimate::Measured(v) => Some(v),
            Estimate::NotEnoughData(_) => None,
        }
    }
}

impl<T> From<Result<T, NotEnoughData>> for Estimate<T> {
    fn from(r: Result<T, NotEnoughData>) -> Self {
        match r {
            Ok(v) => Estimate::Measured(v),
            Err(reason) => Estimate::NotEnoughData(reason),
        }
    }
}
