//! Reading the filter's stats straight from the sidecars: a port-forward to each pod's Envoy
//! admin port (15000 in Istio sidecars, bound to the pod's localhost) and `GET /stats`.
//!
//! The HTTP exchange is a plain HTTP/1.1 client (hyper) over any byte stream, so it is tested on
//! an in-memory pipe; the port-forward itself is kube's `Api::<Pod>::portforward`.

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::{Error, Result};
use crate::target::Target;

/// Envoy's admin port in Istio sidecars.
pub const ENVOY_ADMIN_PORT: u16 = 15000;

/// `GET path` over `stream`, returning the body of a 200 answer.
pub async fn http_get<S>(stream: S, path: &str) -> std::result::Result<String, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let driver = tokio::spawn(conn);
    let req = http::Request::get(path)
        .header(http::header::HOST, "localhost")
        .header(http::header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let res = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = res.status();
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
        .to_bytes();
    driver.abort();
    let text = String::from_utf8_lossy(&body).into_owned();
    if status != http::StatusCode::OK {
        return Err(format!("answered {status}: {}", text.trim()));
    }
    Ok(text)
}

/// Only the config version the filter runs (`filter=^wasmcustom\.veer\.config_version$`, under
/// any host's prefix).
pub static VERSION_PATH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let pattern = veer_filter::metrics::name_pattern(Some(&veer_filter::metrics::CONFIG_VERSION));
    veer_filter::metrics::admin_stats_filter(&format!("^{pattern}$"))
});

/// How long one read of a sidecar may take: a port-forward can accept and then never answer,
/// and every wait and `status` must end.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// `GET path` on one pod's Envoy admin endpoint, through a port-forward, given up after
/// [`READ_TIMEOUT`].
pub async fn admin_get(target: &Target, pod: &str, port: u16, path: &str) -> Result<String> {
    bounded(pod, port, forwarded_get(target, pod, port, path)).await
}

/// `read`, or an error naming the pod once [`READ_TIMEOUT`] has passed.
pub async fn bounded(
    pod: &str,
    port: u16,
    read: impl std::future::Future<Output = Result<String>>,
) -> Result<String> {
    tokio::time::timeout(READ_TIMEOUT, read)
        .await
        .unwrap_or_else(|_| {
            Err(Error::Stats {
                source_name: format!("pod {pod} port {port}"),
                reason: format!(
                    "no answer within {}s through the port-forward",
                    READ_TIMEOUT.as_secs()
                ),
            })
        })
}

async fn forwarded_get(target: &Target, pod: &str, port: u16, path: &str) -> Result<String> {
    let mut forwarder = target
        .api::<Pod>()
        .portforward(pod, &[port])
        .await
        .map_err(|source| Error::PortForward {
            source: Box::new(source),
            pod: pod.to_owned(),
            port,
        })?;
    let refused = forwarder.take_error(port);
    let stream = forwarder.take_stream(port).ok_or_else(|| Error::Stats {
        source_name: format!("pod {pod}"),
        reason: "the port-forward opened no stream".into(),
    })?;
    let text = match http_get(stream, path).await {
        Ok(text) => Ok(text),
        Err(reason) => {
            // When the kubelet cannot reach the port it says why on the port's error channel
            // (e.g. "connection refused"), then closes: that, not "connection closed", is the
            // reason to show.
            let said = match refused {
                Some(said) => tokio::time::timeout(ERROR_WAIT, said).await.ok().flatten(),
                None => None,
            };
            Err(Error::Stats {
                source_name: format!("pod {pod} port {port}"),
                reason: said.map_or(reason, |s| s.trim().to_owned()),
            })
        }
    };
    forwarder.abort();
    text
}

/// How long a failed read waits for the port-forward's error message (it comes before the
/// connection closes, so it is normally there already).
const ERROR_WAIT: Duration = Duration::from_millis(500);
