//! Verification across several proxies, against fake Envoy admin APIs on 127.0.0.1 whose
//! answers are scripted by request count (no timing): every proxy is checked and reported, and
//! a rejection fails the change only once the others have settled.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::Ordering;
use std::time::Duration;

use veer_ctl::host::envoy::admin::Admin;
use veer_ctl::host::envoy::verify::{self, ProxyState, Target};
use veer_filter::metrics::{self, Stat};

mod support;
use support::fake_admin;
use veer_ctl::output::progress::Progress;

/// The digest of the config the fake proxies run at `version` (one config per version).
fn digest(version: u64) -> u64 {
    0x5eed_0000 + version
}

/// The config written at `version`, as a proxy that runs it reports it.
fn target(version: u64) -> Target {
    Target {
        version,
        digest: digest(version),
    }
}

/// No config written on top of the target.
fn none() -> Option<Target> {
    None
}

/// What a proxy's `/stats` says: the filter's version and digest, Envoy's rejections and
/// version text.
fn stats(version: u64, rejected: u64) -> String {
    stats_of(version, digest(version), rejected)
}

/// `/stats` of a proxy that runs config `digest` under `version` on every worker (Envoy counts
/// one reload per version applied everywhere).
fn stats_of(version: u64, digest: u64, rejected: u64) -> String {
    stats_reloaded(version, digest, rejected, version)
}

/// `/stats` with the filter's names from the names module, and `reloads` ECDS reloads.
fn stats_reloaded(version: u64, digest: u64, rejected: u64, reloads: u64) -> String {
    format!(
        "{}: {version}\n\
         {}: {digest}\n\
         extension_config_discovery.http_filter.veer.update_rejected: {rejected}\n\
         extension_config_discovery.http_filter.veer.config_reload: {reloads}\n\
         extension_config_discovery.http_filter.veer.version_text: \"{version}\"\n",
        Stat::global(&metrics::CONFIG_VERSION).envoy_name(),
        Stat::global(&metrics::CONFIG_DIGEST).envoy_name(),
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
    let failed = verify::wait_live(
        &admin,
        &before,
        target(2),
        &none,
        Duration::from_secs(60),
        &quiet,
    )
    .unwrap_err();

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
    let failed = verify::wait_live(
        &admin,
        &before,
        target(2),
        &none,
        Duration::from_millis(300),
        &quiet,
    )
    .unwrap_err();
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

/// Issue 11.1: a version number proves nothing by itself. A proxy that runs another config under
/// the version written, or a higher version that was not written on top of it, is not live; a
/// later version written on top of it is.
#[test]
fn only_the_config_written_or_one_built_on_it_counts_as_live() {
    // Another copy of the directory: version 2, other content.
    let (same_number, _) = fake_admin(|n| {
        if n == 0 {
            stats(1, 0)
        } else {
            stats_of(2, 77, 0)
        }
    });
    // Another copy at a higher version.
    let (higher, _) = fake_admin(|_| stats_of(9, 99, 0));
    // Skipped straight to version 3, which veerctl wrote on top of version 2.
    let (successor, _) = fake_admin(|n| if n == 0 { stats(1, 0) } else { stats(3, 0) });
    let admins = [same_number.clone(), higher.clone(), successor.clone()];
    let admin = Admin::default();
    let before = verify::before(&admin, &admins).unwrap();
    assert_eq!(before.highest_version(), 9);
    let later = || Some(target(3));
    let failed = verify::wait_live(
        &admin,
        &before,
        target(2),
        &later,
        Duration::from_millis(300),
        &Progress::hidden(),
    )
    .unwrap_err();
    assert!(matches!(failed.proxies[0].1, ProxyState::Other(_)));
    assert!(matches!(failed.proxies[1].1, ProxyState::Other(_)));
    assert!(matches!(failed.proxies[2].1, ProxyState::Live(_)));
    let text = veer_ctl::error::CliError::from(failed).to_string();
    assert!(
        text.contains(&format!(
            "{same_number} runs another config under version 2 (digest 00000000004d, not the one written)"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{higher} runs version 9, which was not written on top of version 2: it does not contain this change"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("{successor} runs version 3: live")),
        "{text}"
    );
}

/// A filter that reports no digest cannot prove which config it runs: not live, and said so.
#[test]
fn a_proxy_without_a_digest_is_not_taken_at_its_word() {
    let (old_filter, _) = fake_admin(|_| {
        format!(
            "{}: 2\n\
             extension_config_discovery.http_filter.veer.update_rejected: 0\n\
             extension_config_discovery.http_filter.veer.config_reload: 2\n\
             extension_config_discovery.http_filter.veer.version_text: \"2\"\n",
            Stat::global(&metrics::CONFIG_VERSION).envoy_name()
        )
    });
    let admin = Admin::default();
    let before = verify::before(&admin, std::slice::from_ref(&old_filter)).unwrap();
    let failed = verify::wait_live(
        &admin,
        &before,
        target(2),
        &none,
        Duration::from_millis(200),
        &Progress::hidden(),
    )
    .unwrap_err();
    assert!(
        failed
            .to_string()
            .contains("runs version 2 but its filter reports no config digest"),
        "{failed}"
    );
}

/// Envoy's main thread runs a new config (the filter's gauges show it) before every worker has
/// applied it; Envoy counts the reload only then. Until it does, the proxy is not live.
#[test]
fn a_proxy_is_live_only_once_every_worker_applied_the_change() {
    // Requests: 0 is `before`; 1-3 show version 2 without the reload; then with it.
    let (proxy, count) = fake_admin(|n| match n {
        0 => stats(1, 0),
        1..=3 => stats_reloaded(2, digest(2), 0, 1),
        _ => stats(2, 0),
    });
    let admin = Admin::default();
    let admins = [proxy];
    let before = verify::before(&admin, &admins).unwrap();
    let quiet = Progress::hidden();
    let live = verify::wait_live(
        &admin,
        &before,
        target(2),
        &none,
        Duration::from_secs(60),
        &quiet,
    )
    .unwrap();
    assert_eq!(live.len(), 1);
    assert!(
        count.load(Ordering::SeqCst) > 4,
        "not live before the reload counter moved"
    );
}
