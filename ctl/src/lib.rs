//! veerctl's library: everything the CLI does, without the argument parsing.

pub mod ecds;
