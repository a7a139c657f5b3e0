//! README "Starting Envoy by hand" (issue 11.6), step by step against the real Envoy, for the
//! selected build (`VEER_BUILD`: `--wasm` or `--module`): `veerctl bootstrap` renders a
//! bootstrap, Envoy refuses it until the first config is written (`apply --no-wait`), then
//! `envoy --mode validate` passes on it, Envoy starts on it, routes with Veer's filter, exports
//! Veer's metrics with their Prometheus labels, and changes are verified live through it; a
//! restart on a file the filter refuses serves every request on the stable cluster, client-sent
//! cluster headers removed (the bootstrap's fallback config).

use std::process::Command;

use serde_json::json;
use veer_e2e::envoy::Filter;
use veer_e2e::{paths, Client, Envoy, Upstream};

use crate::support::tally;
use crate::veerctl::veerctl_binary;

fn envoy_validate(bootstrap: &std::path::Path, filter: &Filter) -> (bool, String) {
    let mut command = Command::new(paths::envoy());
    if let Some((name, value)) = filter.envoy_env() {
        command.env(name, value);
    }
    let out = command
        .args(["--mode", "validate", "-c"])
        .arg(bootstrap)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_first_start_sequence_gives_a_running_veer() {
    let upstreams: Vec<Upstream> = ["v1", "v2"]
        .iter()
        .map(|n| Upstream::start(n, 0).unwrap())
        .collect();
    let dir = tempfile::Builder::new()
        .prefix("veer-envoy-")
        .tempdir()
        .unwrap();
    let ecds = dir.path().join("ecds");
    std::fs::create_dir(&ecds).unwrap();
    let veerctl = |args: &[&str]| {
        Command::new(veerctl_binary())
            .env_remove("VEER_ADMIN")
            .args(["--envoy", ecds.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap()
    };
    let filter = Filter::veer();
    let [flag, built] = filter.veerctl_args();
    let clusters: Vec<String> = upstreams
        .iter()
        .enumerate()
        .map(|(i, u)| format!("web_v{}=127.0.0.1:{}", i + 1, u.port()))
        .collect();

    // 1. The bootstrap (ports 0: Envoy picks free ones, read back from its admin API).
    let out = veerctl(&[
        "bootstrap",
        "--cluster",
        &clusters[0],
        "--cluster",
        &clusters[1],
        &flag,
        &built,
        "--listen-port",
        "0",
        "--admin-port",
        "0",
    ]);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Some((name, value)) = filter.envoy_env() {
        // The module's search path, which a bootstrap cannot set, is named for Envoy's start.
        let wanted = format!("{name}={}", value.display());
        assert!(stderr.contains(&wanted), "{stderr}");
    }
    let bootstrap = dir.path().join("envoy.yaml");
    std::fs::write(&bootstrap, &out.stdout).unwrap();

    // 2. Before the first config Envoy refuses to start on it, naming the missing file.
    let (ok, text) = envoy_validate(&bootstrap, &filter);
    assert!(!ok && text.contains("veer.json"), "{text}");

    // 3. The first config, without waiting (there is no Envoy to verify it yet): the command
    //    the bootstrap's note gives.
    let config = json!({
        "services": [{
            "name": "web",
            "variants": [{ "name": "v1", "cluster": "web_v1" }, { "name": "v2", "cluster": "web_v2" }],
            "split": { "v1": 10000 }
        }]
    });
    let file = dir.path().join("web.json");
    std::fs::write(&file, config.to_string()).unwrap();
    assert!(
        stderr.contains(&format!("apply -f FILE {flag} {built} --no-wait")),
        "{stderr}"
    );
    let out = veerctl(&[
        "apply",
        "-f",
        file.to_str().unwrap(),
        &flag,
        &built,
        "--no-wait",
    ]);
    assert!(out.status.success(), "{out:?}");

    // 4. Now Envoy accepts the bootstrap...
    let (ok, text) = envoy_validate(&bootstrap, &filter);
    assert!(ok, "{text}");

    // 5. ...starts on it, runs version 1, and the next change is verified live through it.
    let mut envoy = Envoy::start_on_bootstrap(dir, filter).unwrap();
    let admin = envoy.admin_url();
    let out = veerctl(&["--admin", &admin, "status"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{out:?}");
    assert!(
        stdout.contains(&format!("proxy {admin}  runs version 1\n")),
        "{stdout}"
    );
    let out = veerctl(&["--admin", &admin, "canary", "set-weight", "web", "v2", "50"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{out:?}");
    assert!(stdout.contains("version 2 live on 1 proxy"), "{stdout}");
    let client = Client::new(envoy.port());
    let served: Vec<String> = (0..400)
        .map(|i| {
            client
                .get_as(&format!("first-start-{i}"))
                .unwrap()
                .served_by()
                .to_owned()
        })
        .collect();
    let counts = tally(served.iter().map(String::as_str));
    assert!(counts["v1"] > 100 && counts["v2"] > 100, "{counts:?}");

    // 6. Veer's metrics reach Prometheus under the same family and labels from either build (the
    //    bootstrap's stats_tags; for the module, its runtime flag that drops the namespace).
    let prometheus = envoy.admin_get("/stats/prometheus").unwrap();
    assert!(
        prometheus
            .lines()
            .any(|l| l.starts_with("veer_requests_total{")
                && l.contains(r#"service="web""#)
                && l.contains(r#"variant="v2""#)),
        "{prometheus}"
    );

    // 7. A restart on a file the filter refuses: the bootstrap's fallback config serves every
    //    request on the stable cluster, a client-sent cluster header included.
    let refused =
        json!({ "version": 3, "services": [{ "name": "web", "variants": [], "split": {} }] });
    envoy.push(&refused.to_string()).unwrap();
    envoy.restart().unwrap();
    let out = veerctl(&["--admin", &envoy.admin_url(), "status"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("runs the FALLBACK config"),
        "{stdout}{out:?}"
    );
    let client = Client::new(envoy.port());
    for i in 0..20 {
        let reply = client
            .get(
                &format!("/fallback-{i}"),
                &[("x-veer-cluster", b"web_v2".as_slice())],
            )
            .unwrap();
        assert_eq!(reply.served_by(), "v1");
    }
}
