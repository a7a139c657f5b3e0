//! The server: one request per connection (it answers `connection: close`), handled in order on
//! one thread, except port-forwards, which each get a thread of their own for as long as they
//! last.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{json, Value};

use crate::pods::{self, Pod};
use crate::portforward;

/// One request the fake API server received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `METHOD path?query`.
    pub line: String,
    /// Its content type.
    pub content_type: Option<String>,
    /// The JSON body; null when empty.
    pub body: Value,
}

/// The requests received so far, in order.
pub type Log = Arc<Mutex<Vec<Seen>>>;

/// Called after each accepted write (PUT, PATCH) with the object's path and what is stored now.
type WriteHook = Box<dyn FnMut(&str, &Value) + Send>;

/// A fake API server to start: its objects, pods and write hook.
pub struct FakeApi {
    objects: Vec<(String, Value)>,
    concurrent: usize,
    pods: Vec<Pod>,
    on_write: Option<WriteHook>,
}

impl FakeApi {
    /// A fake holding `objects` by path. `GET` answers the stored object; `PUT` replaces it when
    /// the body carries the stored resourceVersion (which then goes up by one) and answers 409
    /// Conflict otherwise, as the API server does; `PATCH` merges a JSON merge patch into it.
    /// Anything else is recorded and answered 404.
    pub fn new<P: Into<String>>(objects: Vec<(P, Value)>) -> FakeApi {
        FakeApi {
            objects: objects.into_iter().map(|(p, o)| (p.into(), o)).collect(),
            concurrent: 0,
            pods: Vec::new(),
            on_write: None,
        }
    }

    /// Before each of the first `n` PUTs, another writer replaces the object first (label
    /// `other-writer`, resourceVersion up by one).
    pub fn concurrent_writes(mut self, n: usize) -> FakeApi {
        self.concurrent = n;
        self
    }

    /// A pod, listed (by label selector) under `/api/v1/namespaces/{ns}/pods`, whose
    /// port-forwards reach the addresses it was given.
    pub fn pod(mut self, pod: Pod) -> FakeApi {
        self.pods.push(pod);
        self
    }

    /// `hook(path, stored)` after each accepted PUT or PATCH.
    pub fn on_write(mut self, hook: impl FnMut(&str, &Value) + Send + 'static) -> FakeApi {
        self.on_write = Some(Box::new(hook));
        self
    }

    /// Starts serving on 127.0.0.1: its port, and the log of requests. The server lives as long
    /// as the test process.
    pub fn start(self) -> std::io::Result<(u16, Log)> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let log: Log = Arc::default();
        let seen = log.clone();
        let mut server = self;
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                server.handle(stream, &seen);
            }
        });
        Ok((port, log))
    }

    fn handle(&mut self, stream: TcpStream, log: &Log) {
        let Some(first) = first_line(&stream) else {
            return;
        };
        if let Some(forward) = pods::port_forward(&self.pods, &first) {
            record(
                log,
                Seen {
                    line: first
                        .trim_end()
                        .splitn(3, ' ')
                        .take(2)
                        .collect::<Vec<_>>()
                        .join(" "),
                    content_type: None,
                    body: Value::Null,
                },
            );
            portforward::spawn(stream, forward);
            return;
        }
        let Ok(request) = Request::read(&stream) else {
            return;
        };
        record(
            log,
            Seen {
                line: format!("{} {}", request.method, request.target),
                content_type: request.content_type.clone(),
                body: request.body.clone(),
            },
        );
        let (status, doc) = self.answer(&request);
        let text = doc.to_string();
        let mut out = stream;
        let _ = write!(
            out,
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
            text.len()
        );
    }

    fn answer(&mut self, request: &Request) -> (&'static str, Value) {
        let (path, query) = request
            .target
            .split_once('?')
            .unwrap_or((&request.target, ""));
        if request.method == "GET" {
            if let Some(list) = pods::list(&self.pods, path, query) {
                return ("200 OK", list);
            }
        }
        let stored = self
            .objects
            .iter_mut()
            .find(|(p, _)| p == path)
            .map(|(_, o)| o);
        let (status, doc) = match (request.method.as_str(), stored) {
            ("GET", Some(obj)) => ("200 OK", obj.clone()),
            ("PUT", Some(obj)) => {
                if self.concurrent > 0 {
                    self.concurrent -= 1;
                    obj["metadata"]["labels"]["other-writer"] = json!("yes");
                    bump(obj);
                }
                if request.body["metadata"]["resourceVersion"] == obj["metadata"]["resourceVersion"]
                {
                    *obj = request.body.clone();
                    bump(obj);
                    ("200 OK", obj.clone())
                } else {
                    (
                        "409 Conflict",
                        status(409, "Conflict", "the object has been modified"),
                    )
                }
            }
            ("PATCH", Some(obj)) => {
                merge_patch(obj, &request.body);
                bump(obj);
                ("200 OK", obj.clone())
            }
            _ => ("404 Not Found", status(404, "NotFound", "not found")),
        };
        if status == "200 OK" && request.method != "GET" {
            if let Some(hook) = self.on_write.as_mut() {
                hook(path, &doc);
            }
        }
        (status, doc)
    }
}

/// A request read whole: method, target, content type and JSON body.
struct Request {
    method: String,
    target: String,
    content_type: Option<String>,
    body: Value,
}

impl Request {
    fn read(stream: &TcpStream) -> std::io::Result<Request> {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let (mut length, mut content_type) = (0usize, None);
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                break;
            }
            let lower = h.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if let Some(v) = lower.strip_prefix("content-type:") {
                content_type = Some(v.trim().to_owned());
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        let mut parts = line.split_whitespace();
        Ok(Request {
            method: parts.next().unwrap_or("").to_owned(),
            target: parts.next().unwrap_or("").to_owned(),
            content_type,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        })
    }
}

/// The request line, looked at without taking it from the stream: a port-forward hands the
/// whole request to the WebSocket handshake. `None` when the client sent none.
fn first_line(stream: &TcpStream) -> Option<String> {
    let mut buf = [0u8; 4096];
    for _ in 0..1000 {
        let n = stream.peek(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        if let Some(end) = buf[..n].windows(2).position(|w| w == b"\r\n") {
            return Some(String::from_utf8_lossy(&buf[..end]).into_owned());
        }
        if n == buf.len() {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    None
}

fn record(log: &Log, seen: Seen) {
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(seen);
}

/// Applies a JSON merge patch (RFC 7386): maps merge, `null` removes, anything else replaces.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    for (key, value) in fields {
        if value.is_null() {
            if let Some(map) = target.as_object_mut() {
                map.remove(key);
            }
        } else {
            merge_patch(&mut target[key], value);
        }
    }
}

/// A fake API server holding `objects` with `concurrent` conflicting writes
/// ([`FakeApi::concurrent_writes`]): its port and request log.
pub fn fake_api_with(objects: Vec<(&'static str, Value)>, concurrent: usize) -> (u16, Log) {
    FakeApi::new(objects)
        .concurrent_writes(concurrent)
        .start()
        .unwrap_or_else(|e| panic!("the fake API server cannot listen on 127.0.0.1: {e}"))
}

/// A fake API server with no concurrent writer.
pub fn fake_api(objects: Vec<(&'static str, Value)>) -> (u16, Log) {
    fake_api_with(objects, 0)
}

/// A `Status` object, as the API server answers errors.
pub fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code, "message": message})
}

/// Raises an object's resourceVersion by one, as every write on the API server does.
pub fn bump(obj: &mut Value) {
    let rv: u64 = obj["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    obj["metadata"]["resourceVersion"] = json!((rv + 1).to_string());
}

/// The request lines the fake API server received, in order.
pub fn lines(seen: &Log) -> Vec<String> {
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|s| s.line.clone())
        .collect()
}
