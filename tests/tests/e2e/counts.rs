//! The filter counts in its VM and publishes on a timer; a reader knows a reading is complete
//! when `counts_pending` reads 0 before the counters do. These tests hold a live Envoy to that.

use veer_filter::metrics::{self, Stat};

use crate::support::{web_config, Rig};

/// `counts_pending` and the requests counted, read in that order (two admin requests).
fn pending_then_requests(rig: &Rig) -> (u64, u64) {
    let pending = Stat::global(&metrics::COUNTS_PENDING).envoy_name();
    let pending = rig.envoy.stats_now().unwrap().get(&pending);
    let stats = rig.envoy.stats_now().unwrap();
    let requests = ["v1", "v2"]
        .iter()
        .map(|variant| stats.get(&Stat::requests("web", variant).envoy_name()))
        .sum();
    (pending, requests)
}

#[test]
fn a_reading_taken_when_nothing_is_pending_holds_every_request_before_it() {
    let rig = Rig::start(&web_config(1, &[("v1", 5000), ("v2", 5000)]));
    let mut held = 0;
    for served in 1..=40 {
        let reply = rig.client.get_as(&format!("pending-{served}")).unwrap();
        assert_eq!(reply.status, 200);
        let (pending, requests) = pending_then_requests(&rig);
        if pending == 0 {
            assert!(
                requests >= served,
                "nothing pending, yet {requests} of {served} requests counted"
            );
        } else {
            held += 1;
        }
    }
    // The counts do wait in the VM (no hostcall per request)...
    assert!(held > 0, "no reading ever found a count pending");
    // ...and the shared helper waits them out: an exact reading.
    let stats = rig.envoy.stats().unwrap();
    assert_eq!(stats.veer("rq.web.v1") + stats.veer("rq.web.v2"), 40);
    assert_eq!(stats.veer("counts.pending"), 0);
}

#[test]
fn counts_held_when_a_new_config_goes_live_are_published() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    let served = rig.serve_users("before-update", 25);
    assert!(served.iter().all(|(_, s)| s == "v1"));
    // At once, while the first config's VMs still hold (some of) those counts.
    rig.apply(&web_config(2, &[("v2", 10000)]));
    let after = rig.serve_users("after-update", 15);
    assert!(after.iter().all(|(_, s)| s == "v2"));
    let stats = rig.envoy.stats().unwrap();
    assert_eq!(stats.veer("rq.web.v1"), 25);
    assert_eq!(stats.veer("split.web.v1"), 25);
    assert_eq!(stats.veer("rq.web.v2"), 15);
    assert_eq!(stats.veer("counts.pending"), 0);
}
