//! Where veerctl acts: a standalone Envoy (`envoy`) or Kubernetes (`kubernetes`).

pub mod envoy;
pub mod kubernetes;
