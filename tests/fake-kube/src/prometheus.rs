//! A fake Prometheus HTTP API on 127.0.0.1: each `/api/v1/<api>` request is answered with the
//! `data` a test's closure gives, and every query is kept, decoded.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{json, Value};

/// A fake Prometheus: each `/api/v1/query` is answered with the vector `answer(query)` gives
/// (the query URL-decoded). Returns its URL and every query it got, decoded, in order.
pub fn fake_prometheus(
    answer: impl Fn(&str) -> Vec<Value> + Send + 'static,
) -> (String, Arc<Mutex<Vec<String>>>) {
    fake_prometheus_api(
        move |asked| json!({"resultType": "vector", "result": answer(asked.param("query"))}),
    )
}

/// One request to a fake Prometheus: its API (`query`, `query_range`) and its parameters,
/// decoded.
pub struct PromRequest {
    pub api: String,
    pub params: Vec<(String, String)>,
}

impl PromRequest {
    /// Parameter `name` ("" when absent).
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Parameter `name` as a number (0 when absent; `30s` is 30).
    pub fn number(&self, name: &str) -> f64 {
        self.param(name)
            .trim_end_matches('s')
            .parse()
            .unwrap_or(0.0)
    }
}

/// A fake Prometheus: each `/api/v1/<api>` request is answered with the `data` that
/// `answer(request)` gives (a vector for `query`, a matrix for `query_range`). Returns its URL
/// and every query it got, decoded, in order.
pub fn fake_prometheus_api(
    answer: impl Fn(&PromRequest) -> Value + Send + 'static,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| Ok((l.local_addr()?, l)))
        .unwrap_or_else(|e| panic!("a fake Prometheus cannot listen on 127.0.0.1: {e}"));
    let (address, listener) = listener;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            // A connection that breaks off is the client's business: the next one is served.
            let _ = serve(conn, &answer, &log);
        }
    });
    (format!("http://{address}"), seen)
}

/// Answers one request on `conn`, keeping its query in `log`.
fn serve(
    mut conn: TcpStream,
    answer: &impl Fn(&PromRequest) -> Value,
    log: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let target = line.split_whitespace().nth(1).unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let asked = PromRequest {
        api: path.rsplit('/').next().unwrap_or("").to_owned(),
        params: form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
    };
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(asked.param("query").to_owned());
    let body = json!({"status": "success", "data": answer(&asked)}).to_string();
    write!(
        conn,
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// One sample of a Prometheus vector, labelled `labels`.
pub fn sample(labels: Value, value: &str) -> Value {
    json!({"metric": labels, "value": [1.0, value]})
}
