//! `make demo` (deploy/demo/demo.sh) as a test: every step's verification passes, a step whose
//! traffic differs from what the demo expects fails it, and Ctrl-C leaves none of its processes
//! behind.
//!
//! The demo runs in its own session, so everything it starts is found by session id (`ps`), and
//! only those processes are ever signalled. Needs `make wasm native envoy` and veerctl built
//! (`make test-demo` does both). The whole demo runs once per build (`VEER_BUILD=wasm|native`). A separate test binary from e2e: `make test-demo` runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};

use veer_e2e::paths;

/// Requests per step: enough for the split checks, small enough for well under a minute.
const REQUESTS: &str = "150";

/// A running demo in its own session; dropping it stops whatever of that session still runs.
struct Demo {
    child: Child,
    out: BufReader<ChildStdout>,
    /// Collects stderr (echoed) until it closes, so the demo never blocks on it.
    err: Option<std::thread::JoinHandle<String>>,
}

impl Demo {
    /// Starts the demo of `build` (`VEER_BUILD`) with `veerctl` as its veerctl.
    fn start_with(veerctl: &Path, build: &str) -> Demo {
        let root = paths::workspace();
        // setsid: a new session whose id is the demo's PID. env --default-signal: SIGINT as a
        // terminal would deliver it, even if this runner was started with SIGINT ignored.
        let mut child = Command::new("setsid")
            .args(["env", "--default-signal=INT"])
            .arg(root.join("deploy/demo/demo.sh"))
            .env("VEER_DEMO_REQUESTS", REQUESTS)
            .env("VEER_BUILD", build)
            .env("VEER_DEMO_APP", env!("CARGO_BIN_EXE_veer-demo-app"))
            .env(
                "VEER_DEMO_SHOPPERS_BIN",
                env!("CARGO_BIN_EXE_veer-demo-shoppers"),
            )
            .env("VEER_DEMO_REPORT", report_path(build))
            .env("VEERCTL", veerctl)
            .env("VEER_ENVOY", paths::envoy())
            .env("NO_COLOR", "1")
            .env_remove("VEER_DEMO_PAUSE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start deploy/demo/demo.sh");
        let out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut stderr = child.stderr.take().expect("piped stderr");
        let err = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            eprint!("{text}");
            text
        });
        let demo = Demo {
            child,
            out,
            err: Some(err),
        };
        // `setsid` calls setsid(2) in the child after the spawn returned: wait until it has.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while session_of(demo.pid()) != Some(demo.pid()) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(
            session_of(demo.pid()),
            Some(demo.pid()),
            "setsid did not make the demo a session leader within 10 s"
        );
        demo
    }

    fn start() -> Demo {
        Demo::start_with(&veerctl(), "wasm")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads output lines (echoing them) until one satisfies `stop`; false at end of output.
    fn read_until(&mut self, transcript: &mut String, stop: impl Fn(&str) -> bool) -> bool {
        let mut line = String::new();
        loop {
            line.clear();
            if self.out.read_line(&mut line).expect("read demo output") == 0 {
                return false;
            }
            print!("{line}");
            transcript.push_str(&line);
            if stop(&line) {
                return true;
            }
        }
    }

    /// Everything the demo wrote to stderr; call once it and its processes have ended.
    fn stderr(&mut self) -> String {
        self.err
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default()
    }

    fn wait(&mut self) -> ExitStatus {
        self.child.wait().expect("wait for the demo")
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = signal("TERM", self.pid());
            let _ = self.child.wait();
        }
        for (pid, _) in session_members(self.pid()) {
            let _ = signal("KILL", pid);
        }
    }
}

/// The veerctl the demo runs (`cargo build -p veer-ctl`).
fn veerctl() -> PathBuf {
    let path = paths::workspace().join("target/debug/veerctl");
    assert!(
        path.exists(),
        "{} is missing: `cargo build -p veer-ctl`",
        path.display()
    );
    path
}

/// Where the demo of `build` puts its HTML report in these tests (target/, per test process and
/// build: the two builds' demos may run at once).
fn report_path(build: &str) -> PathBuf {
    paths::workspace().join(format!(
        "target/veer-demo-report-test-{build}-{}.html",
        std::process::id()
    ))
}

/// Sends SIGNAL to one process, by PID.
fn signal(name: &str, pid: u32) -> bool {
    Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()
        .is_ok_and(|s| s.success())
}

/// (pid, command) of every live process in session `sid` (zombies are dead, and left out).
fn session_members(sid: u32) -> Vec<(u32, String)> {
    let out = Command::new("ps")
        .args(["-e", "-o", "pid=,sid=,stat=,comm="])
        .output()
        .expect("run ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                [pid, s, stat, comm] if s.parse() == Ok(sid) && !stat.starts_with('Z') => {
                    Some((pid.parse().ok()?, (*comm).to_owned()))
                }
                _ => None,
            }
        })
        .collect()
}

fn session_of(pid: u32) -> Option<u32> {
    let out = Command::new("ps")
        .args(["-o", "sid=", "-p", &pid.to_string()])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

#[test]
fn every_step_of_the_demo_verifies_and_it_leaves_nothing_running() {
    every_step_verifies("wasm");
}

/// The same demo on Veer native: veerctl drives the dynamic module as it drives the wasm filter,
/// and the module counts the A/B test's goal as the wasm filter does.
#[test]
fn every_step_of_the_native_demo_verifies_and_it_leaves_nothing_running() {
    every_step_verifies("native");
}

fn every_step_verifies(build: &str) {
    let mut demo = Demo::start_with(&veerctl(), build);
    let mut transcript = String::new();
    // Up to its last line, not to the end of output: a process left behind would hold it open.
    demo.read_until(&mut transcript, |l| l.starts_with("== Done"));
    let status = demo.wait();
    assert!(
        status.success(),
        "the demo failed ({status}); see its output above"
    );
    // start, the employees' cohort and everyone else, canary 20/50/100, the experiment's arms,
    // the non-enrolled users, the report of the A/B test with a goal, blue, green.
    assert_eq!(
        transcript.matches("  verified: ").count(),
        11,
        "{transcript}"
    );
    // The product step: the report names the winner and says where its HTML is.
    assert!(transcript.contains("WINNER: one-click beats classic on purchase"));
    let html = format!("HTML report: {}", report_path(build).display());
    assert!(transcript.contains(&html), "{transcript}");
    let report = std::fs::read_to_string(report_path(build));
    assert!(report.is_ok_and(|h| h.contains("one-click")));
    assert_eq!(transcript.matches("split check: OK").count(), 8);
    let left = session_members(demo.pid());
    assert!(left.is_empty(), "processes left after the demo: {left:?}");
}

#[test]
fn ctrl_c_mid_run_stops_every_process_the_demo_started() {
    let mut demo = Demo::start();
    let mut transcript = String::new();
    assert!(
        demo.read_until(&mut transcript, |l| l.contains("Canary: 50"))
            && demo.read_until(&mut transcript, |l| l.starts_with("Sending ")),
        "the demo ended before its 50 % step"
    );
    // Interrupt while requests are in flight: a curl of the request loop is running.
    while !session_members(demo.pid())
        .iter()
        .any(|(_, comm)| comm == "curl")
    {
        assert!(
            matches!(demo.child.try_wait(), Ok(None)),
            "the demo exited before it was interrupted"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let before = session_members(demo.pid());
    assert!(
        before.iter().any(|(_, c)| c == "envoy")
            && before.iter().any(|(_, c)| c == "veer-demo-app"),
        "Envoy and the apps run in the demo's session: {before:?}"
    );
    assert!(signal("INT", demo.pid()), "send SIGINT to the demo");
    let status = demo.wait();
    let left = session_members(demo.pid());
    assert!(
        left.is_empty(),
        "still running after Ctrl-C (of {before:?}): {left:?}"
    );
    assert_eq!(status.code(), Some(130), "exit status after Ctrl-C");
    let mut rest = String::new();
    demo.out
        .read_to_string(&mut rest)
        .expect("read demo output");
    assert!(
        rest.contains("interrupted: stopping the demo processes"),
        "{rest}"
    );
}

#[test]
fn a_step_whose_traffic_differs_from_the_configured_split_fails_the_demo() {
    // A veerctl that sets 50 % when the demo asks for 20 %: the proxies follow the 50 % it
    // really configured, and the demo, which expects 20 %, must notice and fail at that step.
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("veerctl");
    std::fs::write(
        &wrapper,
        format!(
            "#!/usr/bin/env bash\n\
             if [[ $1 == canary && $2 == set-weight && $5 == 20 ]]; then set -- \"${{@:1:4}}\" 50; fi\n\
             exec {:?} \"$@\"\n",
            veerctl()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let mut demo = Demo::start_with(&wrapper, "wasm");
    let mut transcript = String::new();
    demo.read_until(&mut transcript, |l| l.starts_with("== Done"));
    let status = demo.wait();
    assert_eq!(status.code(), Some(1), "the demo must fail: {status}");
    // The cohort step wrote version 2; the canary step, with the wrapper's 50 %, version 3.
    assert!(
        transcript.contains("canary set-weight web v2 50%: version 3 live"),
        "the step ran: {transcript}"
    );
    let left = session_members(demo.pid());
    assert!(
        left.is_empty(),
        "processes left after the failed demo: {left:?}"
    );
    let err = demo.stderr();
    assert!(
        err.contains(
            "make demo: step 'canary20': the responses do not follow the configured split"
        ),
        "{err}"
    );
    assert!(err.contains("v2: "), "says what differed: {err}");
}
