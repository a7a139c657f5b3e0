//! The failure policy veerctl writes into the ECDS resource (`FAIL_RELOAD`), in a real Envoy: a
//! filter whose VM crashed is restarted, and no request ever skips the filter. Veer's filter
//! does not panic on request data, so a stand-in that crashes on purpose
//! (`tests/crash-filter`) is loaded through the same resource.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use veer_e2e::{paths, Envoy, Upstream};

use crate::support::web_config;

/// A reply's status and whether the filter handled the request (`x-crash-filter: ran`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    status: u16,
    filter_ran: bool,
}

/// One request on a new connection (so that requests spread over Envoy's workers, each with its
/// own VM), optionally marked to crash the filter.
fn request(envoy: &Envoy, crash: bool) -> Seen {
    let mut stream = TcpStream::connect(("127.0.0.1", envoy.port())).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let marker = if crash { "x-test-crash: 1\r\n" } else { "" };
    write!(
        stream,
        "GET / HTTP/1.1\r\nhost: web.example.com\r\n{marker}connection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = Vec::new();
    // A reset after the reply is fine: what was read is what counts.
    let _ = stream.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply).to_ascii_lowercase();
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Seen {
        status,
        filter_ran: reply.contains("\r\nx-crash-filter: ran\r\n"),
    }
}

#[test]
fn a_crashed_filter_vm_is_restarted_and_the_filter_is_never_skipped() {
    let upstreams: Vec<Upstream> = ["v1", "v2"]
        .iter()
        .map(|n| Upstream::start(n, 0).unwrap())
        .collect();
    let refs: Vec<&Upstream> = upstreams.iter().collect();
    let config = web_config(1, &[("v1", 10000)]).to_string();
    let envoy = Envoy::start_with_wasm(&config, &refs, paths::crash_wasm()).unwrap();
    let ok = Seen {
        status: 200,
        filter_ran: true,
    };
    for _ in 0..20 {
        assert_eq!(request(&envoy, false), ok, "before the crash");
    }

    let crashed = request(&envoy, true);
    assert!(
        crashed.status == 0 || crashed.status >= 500,
        "the crashing request cannot succeed: {crashed:?}"
    );
    assert!(
        envoy.log().contains("crashing on purpose"),
        "the VM did not crash: {}",
        envoy.log()
    );

    // FAIL_CLOSED would fail every later request on the crashed worker until a config update;
    // FAIL_OPEN would serve them without the filter. FAIL_RELOAD restarts the VM: wait for a
    // whole round of fresh connections to be served by the filter, and never see it skipped.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = Vec::new();
    loop {
        let round: Vec<Seen> = (0..40).map(|_| request(&envoy, false)).collect();
        if let Some(skipped) = round.iter().find(|s| s.status == 200 && !s.filter_ran) {
            panic!("a request skipped the filter after the crash: {skipped:?}");
        }
        if round.iter().all(|s| *s == ok) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the crashed VM was not restarted; last round: {last:?}\n{}",
            envoy.log()
        );
        last = round;
        std::thread::sleep(Duration::from_millis(100));
    }
}
