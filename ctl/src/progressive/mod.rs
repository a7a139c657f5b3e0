//! Progressive delivery of a canary (`canary run`) as data and rules, apart from the command that
//! drives it: the gates and what they decide (`gates`, `condition`, `decision`), the team's own gates and
//! webhooks from a file (`gate_file`, `template`, `prometheus`, `hooks`), the run's recorded
//! state (`state`) and the events it reports (`events`).

pub mod condition;
pub mod decision;
pub mod events;
pub mod gate_file;
pub mod gates;
pub mod hooks;
pub mod prometheus;
pub mod state;
pub mod template;
