//! Verification across several proxies, against fake Envoy admin APIs on 127.0.0.1 whose
//! answers are scripted by request count (no timing): every proxy is checked and reported, and
//! a rejection fails the change only once the others have settled.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;
use std::time::Duration;

use veer_ctl::host::envoy::admin::Admin;
use veer_ctl::host::envoy::verify::{self, ProxyState};
use veer_filter::metrics::{self, Stat};

mod support;
use support::fake_admin;
use veer_ctl::output::progress::Progress;

/// What a proxy's `/stats` says: the filter's version (its name from the names module), Envoy's
/// rejections, version text and reloads (one per version applied on every worker).
fn stats(version: u64, rejected: u64) -> String {
    format!(
        "{}: {version}\n\
         extension_config_discovery.http_filter.veer.update_rejected: {rejected}\n\
         extension_config_discovery.http_filter.veer.config_reload: {version}\n\
         extension_config_discovery.http_filter.veer.version_text: \"{version}\"\n",
        Stat::global(&metrics::CONFIG_VERSION).envoy_name()
    )
}

#[test]
fn a_rejection_is_reported_after_every_proxy_settled_with_what_each_runs() {
    // Rejects version 2 right after the change is written (request 0 is `before`).
    let (rejecting, _) = fake_admin(|n| stats(1, u64::from(n > 0)));
    // Picks version 2 up only at its fifth request: verification must still be waiting for it.
    let (slow, slow_count) = fake_admin(|n| if n < 5 { stats(1, 0) } else { stats(2, 0) });
    let admins = [rejecting.clone(), slow.clone()];
    let admin = Admin::default();
    let before = verify::before(&admin, &admins).unwrap();
    let quiet = Progress::hidden();
    let failed =
        verify::wait_live(&admin, &before, 2, Duration::from_secs(60), &quiet).unwrap_err();

    assert!(
        slow_count.load(Ordering::SeqCst) > 5,
        "stopped at the first rejection"
    );
    assert!(failed.rejected());
    assert_eq!(failed.still_running(), Some(1));
    assert!(matches!(failed.proxies[0].1, ProxyState::Rejected(_)));
    assert!(matches!(failed.proxies[1].1, ProxyState::Live(_)));
    let text = failed.to_string();
    assert!(
        text.contains(&format!(
            "{rejecting} rejected version 2 and still runs version 1"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("{slow} runs version 2: live")),
        "{text}"
    );
}

#[test]
fn a_timeout_lists_every_proxy_including_the_live_ones() {
    let (live, _) = fake_admin(|n| if n == 0 { stats(1, 0) } else { stats(2, 0) });
    let (behind, _) = fake_admin(|_| stats(1, 0));
    let admins = [
        live.clone(),
        behind.clone(),
        "http://127.0.0.1:1".to_owned(),
    ];
    let admin = Admin::default();
    let before = verify::before(&admin, &admins[..2]).unwrap();
    let quiet = Progress::hidden();
    let failed =
        verify::wait_live(&admin, &before, 2, Duration::from_millis(300), &quiet).unwrap_err();
    assert!(!failed.rejected());
    let text = failed.to_string();
    assert!(
        text.starts_with("version 2 was written but is not live everywhere after 300ms:"),
        "{text}"
    );
    assert!(
        text.contains(&format!("{live} runs version 2: live")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{behind} runs version 1: has not picked up version 2"
        )),
        "{text}"
    );
}
