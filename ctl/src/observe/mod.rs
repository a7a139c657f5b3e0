//! What the proxies' counters say, computed from readings only (no I/O): the status report
//! (`status`), latency percentiles over any window (`latency`), the sample-ratio test
//! (`srm`) and the experiment report (`report`).

pub mod latency;
pub mod report;
pub mod snapshot;
pub mod srm;
pub mod status;
pub mod window;
