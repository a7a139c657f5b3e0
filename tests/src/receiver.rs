//! A webhook receiver on 127.0.0.1: it records the path and JSON body of every POST and answers
//! each with the status its policy gives, so a test can check what a hook was sent and decide
//! how the hook answers. A test waits for the call it expects ([`Receiver::wait_for`]) instead of
//! sleeping.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// One POST the receiver got.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The request path (`/load-test`).
    pub path: String,
    /// The JSON body (`null` if it was not JSON).
    pub body: Value,
}

/// How the receiver answers a call: its status code.
type Policy = Box<dyn Fn(&Call) -> u16 + Send>;

struct Shared {
    calls: Mutex<Vec<Call>>,
    arrived: Condvar,
    policy: Mutex<Policy>,
    stop: AtomicBool,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    port: u16,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Starts a receiver that answers every call with `policy(call)`.
    pub fn start(policy: impl Fn(&Call) -> u16 + Send + 'static) -> std::io::Result<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            calls: Mutex::new(Vec::new()),
            arrived: Condvar::new(),
            policy: Mutex::new(Box::new(policy)),
            stop: AtomicBool::new(false),
        });
        let serving = shared.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if serving.stop.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    serve(stream, &serving);
                }
            }
        });
        Ok(Receiver {
            port,
            shared,
            thread: Some(thread),
        })
    }

    /// The URL of `path` on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Answers later calls with `policy(call)`.
    pub fn set_policy(&self, policy: impl Fn(&Call) -> u16 + Send + 'static) {
        if let Ok(mut p) = self.shared.policy.lock() {
            *p = Box::new(policy);
        }
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared
            .calls
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// Waits up to `timeout` for a call that satisfies `wanted` (one already received counts).
    pub fn wait_for(&self, timeout: Duration, wanted: impl Fn(&Call) -> bool) -> Option<Call> {
        let deadline = Instant::now() + timeout;
        let mut calls = self.shared.calls.lock().ok()?;
        loop {
            if let Some(c) = calls.iter().find(|c| wanted(c)) {
                return Some(c.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            calls = self.shared.arrived.wait_timeout(calls, left).ok()?.0;
        }
    }
}

/// Reads one request from `stream`, records it, answers it and closes the connection.
fn serve(stream: TcpStream, shared: &Shared) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let call = Call {
        path,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let status = shared.policy.lock().map(|p| p(&call)).unwrap_or(500);
    // Recorded before the answer: once a hook has its answer, the test can see the call.
    if let Ok(mut calls) = shared.calls.lock() {
        calls.push(call);
        shared.arrived.notify_all();
    }
    let mut out = stream;
    let _ = write!(
        out,
        "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    let _ = out.flush();
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
