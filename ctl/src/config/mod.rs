//! The routing config as veerctl handles it, before any host: read from a file with the line of
//! every field (`source`), edited by commands (`edit`, and `cohort` for cohort rules), compared
//! (`diff`), requests decided on it (`request`), match expressions (`match_expr`), and the check
//! that refuses renaming a header the filter owns (`owned_headers`).

pub mod cohort;
pub mod diff;
pub mod edit;
pub mod match_expr;
pub mod owned_headers;
pub mod request;
pub mod source;
