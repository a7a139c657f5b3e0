//! A tiny upstream app: answers every request with its version name, and echoes back the Veer
//! headers it received (`x-seen-<header>`) and the path it was asked for (`x-seen-path`), so tests
//! can see exactly what the app was told.
//! It can be made slow ([`Upstream::set_delay`]) or failing ([`Upstream::set_status`]), for tests
//! of what the proxies measure and of the gates that act on it; a request can ask for its own
//! status with `x-test-status: 503` and its own delay with `x-test-delay-ms: 150` (an arm whose
//! code path is slow, when arms share one deployment).
//!
//! Built on hyper because the tests send hostile bytes (non-UTF-8 header values) through Envoy
//! and the upstream must take whatever Envoy forwards, as a real app server would.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

/// A running upstream on 127.0.0.1; stops when dropped.
pub struct Upstream {
    name: String,
    port: u16,
    served: Arc<AtomicU64>,
    delay_us: Arc<AtomicU64>,
    status: Arc<AtomicU16>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Upstream {
    /// Starts an upstream named `name` on `port` (0: an ephemeral port).
    pub fn start(name: &str, port: u16) -> std::io::Result<Upstream> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))?;
        let port = listener.local_addr()?.port();
        let served = Arc::new(AtomicU64::new(0));
        let delay_us = Arc::new(AtomicU64::new(0));
        let status = Arc::new(AtomicU16::new(200));
        let (stop, stopped) = oneshot::channel();
        let app = App {
            name: Arc::from(name),
            served: served.clone(),
            delay_us: delay_us.clone(),
            status: status.clone(),
        };
        let thread = std::thread::spawn(move || {
            runtime.block_on(async move {
                tokio::select! {
                    _ = accept_loop(listener, app) => {}
                    _ = stopped => {}
                }
            });
            runtime.shutdown_background();
        });
        Ok(Upstream {
            name: name.to_owned(),
            port,
            served,
            delay_us,
            status,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Its name (the version it reports).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Requests answered so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Makes every later request wait `delay` before it is answered.
    pub fn set_delay(&self, delay: Duration) {
        let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.delay_us.store(us, Ordering::Relaxed);
    }

    /// Makes every later request be answered with `status` (e.g. 500: a failing version); 200
    /// by default.
    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::Relaxed);
    }
}

/// What each connection's handler shares.
#[derive(Clone)]
struct App {
    name: Arc<str>,
    served: Arc<AtomicU64>,
    delay_us: Arc<AtomicU64>,
    status: Arc<AtomicU16>,
}

async fn accept_loop(listener: tokio::net::TcpListener, app: App) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                app.served.fetch_add(1, Ordering::Relaxed);
                let delay = Duration::from_micros(app.delay_us.load(Ordering::Relaxed));
                let name = app.name.clone();
                let status = app.status.load(Ordering::Relaxed);
                let delay = delay + asked_delay(&req);
                async move {
                    if !delay.is_zero() {
                        tokio::time::sleep(delay).await;
                    }
                    answer(req, name, status).await
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The delay a request asks for with `x-test-delay-ms` (none without it).
fn asked_delay(req: &Request<Incoming>) -> Duration {
    req.headers()
        .get("x-test-delay-ms")
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_millis)
}

async fn answer(
    req: Request<Incoming>,
    name: Arc<str>,
    status: u16,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{name}\n"))));
    // A test asks for a status with `x-test-status` (a failed purchase, ...); otherwise the
    // upstream's own (`set_status`).
    let asked = req
        .headers()
        .get("x-test-status")
        .and_then(|v| v.to_str().ok()?.parse::<u16>().ok());
    if let Ok(status) = hyper::StatusCode::from_u16(asked.unwrap_or(status)) {
        *response.status_mut() = status;
    }
    let headers = response.headers_mut();
    if let Ok(v) = hyper::header::HeaderValue::from_str(&name) {
        headers.insert("x-served-by", v);
    }
    let path = req.uri().path_and_query().map_or("", |p| p.as_str());
    if let Ok(v) = hyper::header::HeaderValue::from_str(path) {
        headers.insert("x-seen-path", v);
    }
    for (field, value) in req.headers() {
        if field.as_str().starts_with("x-veer-") {
            if let Ok(echo) =
                hyper::header::HeaderName::from_bytes(format!("x-seen-{field}").as_bytes())
            {
                headers.append(echo, value.clone());
            }
        }
    }
    Ok(response)
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
