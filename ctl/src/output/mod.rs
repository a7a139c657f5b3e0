//! Drawing for people: status tables (`status`) and progress on stderr (`progress`).

pub mod progress;
pub mod status;
