//! `veerctl status` against real Envoys: the observed split and latency cover every proxy and
//! only the time since the last verified change.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use veer_ctl::cli::Cli;
use veer_ctl::observe::status::{Status, VariantStatus};
use veer_e2e::{Client, Envoy};

use crate::support::{web_config, Rig};
use crate::veerctl::{veerctl_binary, veerctl_with};

/// How long the slow variant's upstream waits before answering.
const SLOW: Duration = Duration::from_millis(40);

/// Sends one request per user `<prefix>-<i>` through `client`.
pub(crate) fn serve(client: &Client, prefix: &str, n: usize) {
    for i in 0..n {
        let reply = client.get_as(&format!("{prefix}-{i}")).expect("request");
        assert_eq!(reply.status, 200, "{reply:?}");
    }
}

/// `status` as veerctl computes it, for the ECDS directory `dir` and comma-separated `admins`.
fn status(dir: &Path, admins: &str) -> Status {
    let cli = Cli::try_parse_from([
        "veerctl",
        "--envoy",
        dir.to_str().unwrap(),
        "--admin",
        admins,
        "status",
    ])
    .unwrap();
    veer_ctl::commands::status::collect(&veer_ctl::settings::Settings::resolve(&cli.global).host)
        .unwrap()
}

/// Polls `status` until every variant's latency covers each of its requests: Envoy publishes
/// histogram bins only at its stats flush (every 5 s), while counters are live.
fn status_with_latency_caught_up(dir: &Path, admins: &str) -> Status {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = status(dir, admins);
        let caught_up = s.services[0]
            .variants
            .iter()
            .all(|v| v.latency.map_or(0, |l| l.samples) == v.requests);
        if caught_up {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "latency samples never matched the request counts: {s:#?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Runs veerctl with `args` and `env` (NO_COLOR removed unless given) on a pseudo-terminal, as
/// util-linux `script` provides one, typing `input`; returns how it exited and everything it
/// printed, stdout and stderr together as a terminal shows them.
pub(crate) fn veerctl_on_terminal(
    args: &[&str],
    env: &[(&str, &str)],
    input: &str,
) -> (std::process::ExitStatus, String) {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let binary = veerctl_binary();
    let command: Vec<String> = std::iter::once(binary.to_str().unwrap())
        .chain(args.iter().copied())
        .map(quote)
        .collect();
    let mut script = Command::new("script")
        .args(["-q", "-e", "-c", &command.join(" "), "/dev/null"])
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("util-linux script runs");
    script
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = script.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn variant<'a>(s: &'a Status, name: &str) -> &'a VariantStatus {
    s.services[0]
        .variants
        .iter()
        .find(|v| v.name == name)
        .unwrap()
}

fn p50_ms(v: &VariantStatus) -> f64 {
    v.latency.expect("latency recorded").p50_us / 1000.0
}

#[test]
fn latency_is_merged_over_all_proxies_and_shows_the_slow_variant() {
    let config = web_config(1, &[("v1", 5000), ("v2", 5000)]);
    let rig = Rig::start(&config);
    rig.upstreams[1].set_delay(SLOW);
    let refs: Vec<_> = rig.upstreams.iter().collect();
    let second = Envoy::start(&config.to_string(), &refs).unwrap();
    // Unequal traffic through the two proxies: no single proxy's histogram has every request.
    serve(&rig.client, "first", 120);
    serve(&Client::new(second.port()), "second", 60);

    let admins = format!("{},{}", rig.envoy.admin_url(), second.admin_url());
    let s = status_with_latency_caught_up(&rig.envoy.ecds_dir(), &admins);
    let (v1, v2) = (variant(&s, "v1"), variant(&s, "v2"));
    assert_eq!(v1.requests + v2.requests, 180, "{s:#?}");
    assert!(v1.requests > 0 && v2.requests > 0, "{s:#?}");
    let slow_ms = SLOW.as_secs_f64() * 1000.0;
    assert!(p50_ms(v2) >= slow_ms, "v2 is slow: {v2:?}");
    assert!(p50_ms(v1) < slow_ms, "v1 is fast: {v1:?}");
    assert_eq!(variant(&s, "v3").latency, None, "v3 got no traffic");
}

/// The counts, the split check and the latency restart at each verified change: traffic from
/// before it (here: a slow v2 at 50 %) does not blur what the new split does.
#[test]
fn counts_and_latency_restart_at_a_verified_change() {
    let rig = Rig::start(&web_config(1, &[("v1", 5000), ("v2", 5000)]));
    let (dir, admin) = (rig.envoy.ecds_dir(), rig.envoy.admin_url());
    rig.upstreams[1].set_delay(SLOW);
    serve(&rig.client, "before", 100);
    // Wait for the slow samples to reach the admin API, so the baseline holds them.
    let before = status_with_latency_caught_up(&dir, &admin);
    assert_eq!(before.services[0].split_requests, 100);
    assert!(p50_ms(variant(&before, "v2")) >= SLOW.as_secs_f64() * 1000.0);

    veerctl_with(&dir, &admin, &["canary", "set-weight", "web", "v2", "20"]).unwrap();
    rig.upstreams[1].set_delay(Duration::ZERO);
    serve(&rig.client, "after", 1000);

    let after = status_with_latency_caught_up(&dir, &admin);
    let web = &after.services[0];
    assert_eq!(
        web.split_requests, 1000,
        "only requests since the change: {after:#?}"
    );
    let verdict = web.srm.as_ref().expect("a verdict over 1000 requests");
    assert!(
        !verdict.mismatch,
        "80/20 observed as configured: {after:#?}"
    );
    let v2 = variant(&after, "v2");
    assert_eq!(v2.configured_bp, 2000);
    let p99 = v2.latency.expect("v2 served since the change").p99_us;
    assert!(
        p99 < SLOW.as_secs_f64() * 1e6,
        "v2's slow responses from before the change are not in the window: {v2:?}"
    );
}

/// A veerctl process, stopped by its PID when dropped, whose stdout arrives line by line.
pub(crate) struct Watching {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Watching {
    /// Starts `veerctl --envoy DIR --admin URL <args>` with stdout piped.
    fn start(rig: &Rig, args: &[&str]) -> Watching {
        let mut cmd = Command::new(veerctl_binary());
        cmd.args(["--envoy", rig.envoy.ecds_dir().to_str().unwrap()])
            .args(["--admin", &rig.envoy.admin_url()])
            .args(args)
            .env_remove("NO_COLOR");
        Watching::spawn(cmd)
    }

    /// Starts `cmd` with stdout piped.
    pub(crate) fn spawn(mut cmd: Command) -> Watching {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watching { child, lines }
    }

    /// The next line; a process that stops refreshing fails the test instead of hanging it.
    pub(crate) fn next_line(&mut self) -> String {
        self.lines
            .recv_timeout(Duration::from_secs(30))
            .expect("veerctl --watch printed another line")
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--watch` keeps refreshing: a frame drawn after new traffic shows it. JSON frames come one per
/// line.
#[test]
fn watch_refreshes_until_stopped() {
    let rig = Rig::start(&web_config(1, &[("v1", 8000), ("v2", 2000)]));
    let mut watch = Watching::start(
        &rig,
        &["-o", "json", "status", "--watch", "--interval", "100ms"],
    );
    let first: serde_json::Value = serde_json::from_str(&watch.next_line()).unwrap();
    assert_eq!(first["services"][0]["split_requests"], 0, "{first}");

    serve(&rig.client, "watched", 150);
    let mut frames = 1;
    loop {
        let frame: serde_json::Value = serde_json::from_str(&watch.next_line()).unwrap();
        frames += 1;
        if frame["services"][0]["split_requests"] == 150 {
            break;
        }
        assert!(frames < 1000, "150 requests never showed up: {frame}");
    }
    assert!(watch.child.try_wait().unwrap().is_none(), "still watching");
    let pid = watch.child.id();
    drop(watch);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "veerctl {pid} stopped"
    );
}

/// `status --watch | head`: when the reader goes away, veerctl ends, successfully.
#[test]
fn watch_ends_quietly_when_its_reader_goes_away() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    let mut watch = Watching::start(&rig, &["status", "--watch", "--interval", "100ms"]);
    assert!(watch.next_line().starts_with("== status at "));
    // Dropping the receiving end makes the reading thread close the pipe at its next line.
    watch.lines = mpsc::channel().1;
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = watch.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "veerctl kept running with nobody reading"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}

/// Piped, the table has its bars and no escape codes, and `--watch` prints frame after frame; on
/// a terminal the verdict is coloured, unless NO_COLOR is set.
#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let rig = Rig::start(&web_config(1, &[("v1", 8000), ("v2", 2000)]));
    serve(&rig.client, "colour", 200);

    let mut watch = Watching::start(&rig, &["status", "--watch", "--interval", "100ms"]);
    let mut text = String::new();
    let mut headers = 0;
    while headers < 3 {
        let line = watch.next_line();
        headers += usize::from(line.starts_with("== status at "));
        text.push_str(&line);
        text.push('\n');
    }
    drop(watch);
    assert!(
        !text.contains('\x1b'),
        "escape codes in piped output:\n{text}"
    );
    assert!(
        text.contains("████████░░"),
        "v1's configured 80 % bar:\n{text}"
    );
    assert!(text.contains("split check: OK"), "{text}");

    let (dir, admin) = (rig.envoy.ecds_dir(), rig.envoy.admin_url());
    let status_args = [
        "--envoy",
        dir.to_str().unwrap(),
        "--admin",
        &admin,
        "status",
    ];
    let on_terminal = |env: &[(&str, &str)]| -> String {
        let (ok, text) = veerctl_on_terminal(&status_args, env, "");
        assert!(ok.success(), "{text}");
        text
    };
    let coloured = on_terminal(&[]);
    assert!(coloured.contains("\x1b[32;1mOK\x1b[0m"), "{coloured}");
    let plain = on_terminal(&[("NO_COLOR", "1")]);
    assert!(
        !plain.contains('\x1b'),
        "NO_COLOR=1 on a terminal:\n{plain}"
    );
    assert!(plain.contains("split check: OK"), "{plain}");
}

/// A wrong or dead `--admin` is named, with what to check, by `status` and by a change; a change
/// that cannot verify writes nothing.
#[test]
fn an_unreachable_admin_is_named_with_what_to_do() {
    let rig = Rig::start(&web_config(1, &[("v1", 10000)]));
    // A port that was just free on loopback: nothing listens there.
    let dead = format!(
        "http://127.0.0.1:{}",
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    );
    let listener = format!("http://127.0.0.1:{}", rig.envoy.port());
    let dir = rig.envoy.ecds_dir();
    let veerctl = |admins: &str, args: &[&str]| {
        let out = Command::new(veerctl_binary())
            .args(["--envoy", dir.to_str().unwrap(), "--admin", admins])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let unreachable = format!("cannot reach Envoy admin at {dead}: ");
    let what_to_do =
        "check that the proxy is running and that --admin (or VEER_ADMIN) is its admin address";

    let (code, _, stderr) = veerctl(&dead, &["status"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: {unreachable}")),
        "{stderr}"
    );
    assert!(stderr.contains(what_to_do), "{stderr}");

    // One of two proxies down: the other is still shown, the dead one named in its row.
    let both = format!("{},{dead}", rig.envoy.admin_url());
    let (code, stdout, stderr) = veerctl(&both, &["status"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains(&format!("proxy {dead}  UNREACHABLE: {unreachable}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("proxy {}  runs version 1", rig.envoy.admin_url())),
        "{stdout}"
    );

    // The listener is not the admin API.
    let (code, _, stderr) = veerctl(&listener, &["status"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{listener} does not answer like an Envoy admin API"
        )) && stderr.contains("not its listener"),
        "{stderr}"
    );

    let (code, _, stderr) = veerctl(&dead, &["canary", "set-weight", "web", "v2", "10"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&unreachable) && stderr.contains(what_to_do),
        "{stderr}"
    );
    assert!(
        !dir.join(".veer/history.json").exists(),
        "a change that cannot be verified is not written"
    );
}
