//! What Envoy's `/server_info` says about a hot restart in progress. After a hot restart the old
//! process serves its draining connections until `--parent-shutdown-time-s` (900 s by default)
//! has passed since the new one started, and until then the new process's `/stats` adds in the
//! old one's gauges: the filter's version and digest there are not what the new process runs.

use serde::{Deserialize, Serialize};

/// A hot restart whose old process may still run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HotRestart {
    /// The new process's restart epoch.
    pub epoch: u64,
    /// Seconds until the old process is shut down at the latest.
    pub parent_exits_in_s: u64,
}

/// The hot restart `/server_info`'s JSON shows, if the old process may still run; `None` for a
/// first process (epoch 0), one past its parent's shutdown time, or an answer that is not
/// Envoy's.
pub fn hot_restart(server_info_json: &str) -> Option<HotRestart> {
    let info: serde_json::Value = serde_json::from_str(server_info_json).ok()?;
    let options = &info["command_line_options"];
    // proto3 JSON leaves out zero values: no epoch is epoch 0.
    let epoch = options["restart_epoch"].as_u64().unwrap_or(0);
    if epoch == 0 {
        return None;
    }
    let uptime = seconds(info["uptime_current_epoch"].as_str()?)?;
    let shutdown = seconds(options["parent_shutdown_time"].as_str()?)?;
    (uptime < shutdown).then(|| HotRestart {
        epoch,
        parent_exits_in_s: shutdown - uptime,
    })
}

/// A protobuf JSON duration (`"900s"`, `"2.500s"`) in whole seconds, rounded up.
fn seconds(text: &str) -> Option<u64> {
    let value: f64 = text.strip_suffix('s')?.parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| value.ceil() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(epoch: Option<u64>, uptime: &str, shutdown: &str) -> String {
        let epoch = epoch.map_or(String::new(), |e| format!("\"restart_epoch\": {e},"));
        format!(
            "{{\"state\": \"LIVE\", \"uptime_current_epoch\": \"{uptime}\", \
             \"command_line_options\": {{{epoch} \"parent_shutdown_time\": \"{shutdown}\"}}}}"
        )
    }

    #[test]
    fn only_a_new_process_within_its_parents_shutdown_time_is_in_a_hot_restart() {
        assert_eq!(
            hot_restart(&info(Some(1), "3s", "5s")),
            Some(HotRestart {
                epoch: 1,
                parent_exits_in_s: 2
            })
        );
        assert_eq!(hot_restart(&info(Some(2), "5s", "5s")), None);
        assert_eq!(hot_restart(&info(Some(1), "60s", "5s")), None);
        assert_eq!(hot_restart(&info(None, "1s", "900s")), None);
        assert_eq!(
            hot_restart(&info(Some(1), "1.5s", "900s")).map(|h| h.parent_exits_in_s),
            Some(898)
        );
        assert_eq!(hot_restart("not json"), None);
        assert_eq!(hot_restart("{}"), None);
    }
}
