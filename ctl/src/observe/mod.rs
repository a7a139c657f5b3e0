//! What the proxies' counters say, computed from readings only (no I/O): the status report
//! (`status`), latency percentiles over any window (`latency`) and the sample-ratio test
//! (`srm`).

pub mod latency;
pub mod snapshot;
pub mod srm;
pub mod status;
pub mod window;
