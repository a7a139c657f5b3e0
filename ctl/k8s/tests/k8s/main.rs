//! veer-k8s tests, in one binary to keep link time low: contract tests (exact requests, on a
//! tower-test mock), multi-step flows (on kube-fake-client's in-memory API), observed split
//! parsing and manifests. No network; no cluster.

// Tests state their expectations with expect(): a failed one is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract_bluegreen;
mod contract_bluegreen_cases;
mod contract_mesh;
mod contract_mesh_cases;
mod contract_observe;
mod contract_plugin_live;
mod contract_rollout;
mod contract_rollout_cases;
mod contract_run_state;
mod errors;
mod flows_bluegreen;
mod flows_diagnose;
mod flows_plugin_config;
mod flows_rollout;
mod flows_scale_down;
mod manifests;
mod observe;
mod scale;
mod support;
