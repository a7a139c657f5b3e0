//! A standalone Envoy: the ECDS file it watches (`ecds`, `store`), its admin API (`admin`),
//! proof that a change is live (`verify`) and the one path every change takes (`change`).

pub mod admin;
pub mod change;
pub mod ecds;
pub mod store;
pub mod verify;
