//! veer-stats: placeholder docs
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
pub use input::{Arm, Direction, Experiment, Goal, GoalData, Mode, Settings, ValueData};
pub use report::*;
