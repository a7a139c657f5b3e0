//! Reading the filter's counters straight from the sidecars: a port-forward to each pod's Envoy
//! admin port (15000 in Istio sidecars, bound to the pod's localhost) and `GET /stats`.
//!
//! The HTTP exchange is a plain HTTP/1.1 client (hyper) over any byte stream, so it is tested on
//! an in-memory pipe; the port-forward itself is kube's `Api::<Pod>::portforward`.

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::ResourceExt;
use tokio::io::{AsyncRead, AsyncWrite};
use veer_filter::config::WireConfig;

use crate::error::{Error, Result};
use crate::observe::{from_envoy_stats, ObservedSplit};
use crate::report::Reporter;
use crate::target::Target;

/// Envoy's admin port in Istio sidecars.
pub const ENVOY_ADMIN_PORT: u16 = 15000;

/// Only Veer's request counters: `filter=^wasmcustom\.veer\.rq\.` (URL-encoded).
pub const STATS_PATH: &str = "/stats?filter=%5Ewasmcustom%5C.veer%5C.rq%5C.";

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

/// Only the config version the filter runs: `filter=^wasmcustom\.veer\.config\.version$`.
pub const VERSION_PATH: &str = "/stats?filter=%5Ewasmcustom%5C.veer%5C.config%5C.version%24";

/// Veer's counters from one pod's Envoy admin endpoint, through a port-forward.
pub async fn admin_stats(target: &Target, pod: &str, port: u16) -> Result<String> {
    admin_get(target, pod, port, STATS_PATH).await
}

/// `GET path` on one pod's Envoy admin endpoint, through a port-forward.
pub async fn admin_get(target: &Target, pod: &str, port: u16, path: &str) -> Result<String> {
    let mut forwarder = target
        .api::<Pod>()
        .portforward(pod, &[port])
        .await
        .map_err(|source| Error::PortForward {
            source: Box::new(source),
            pod: pod.to_owned(),
            port,
        })?;
    let stream = forwarder.take_stream(port).ok_or_else(|| Error::Stats {
        source_name: format!("pod {pod}"),
        reason: "the port-forward opened no stream".into(),
    })?;
    let text = http_get(stream, path).await.map_err(|reason| Error::Stats {
        source_name: format!("pod {pod} port {port}"),
        reason,
    });
    forwarder.abort();
    text
}

/// The observed split summed over every running pod matching `selector` (e.g. `app=client` or
/// the WasmPlugin's selector), read through port-forwards to their sidecars one at a time.
pub async fn observe_sidecars(
    target: &Target,
    selector: &str,
    config: &WireConfig,
    reporter: &dyn Reporter,
) -> Result<ObservedSplit> {
    let pods = target
        .api::<Pod>()
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|source| Error::Read {
            source: Box::new(source),
            what: format!("pods {selector:?} in namespace {}", target.namespace),
        })?;
    let scope = format!("{selector:?} in namespace {}", target.namespace);
    observe_running(&pods.items, &scope, config, reporter, |pod| async move {
        admin_stats(target, &pod, ENVOY_ADMIN_PORT).await
    })
    .await
}

/// The split summed over the pods of `pods` that are Running (the others have no sidecar to
/// ask, or one that is going away), each read with `read(pod name)`. Split from
/// [`observe_sidecars`] so the choice of pods and the sum are tested without a port-forward.
/// `scope` names where the pods were looked for, for the error when none runs.
pub async fn observe_running<F, Fut>(
    pods: &[Pod],
    scope: &str,
    config: &WireConfig,
    reporter: &dyn Reporter,
    mut read: F,
) -> Result<ObservedSplit>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<String>>,
{
    let running: Vec<String> = pods
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .map(|p| p.name_any())
        .collect();
    if running.is_empty() {
        return Err(Error::NotFound {
            what: format!("running pods matching {scope}"),
            hint: "give the labels of the workloads that run the Veer plugin".into(),
        });
    }
    let mut texts = Vec::new();
    for pod in running {
        reporter.progress(&format!("Reading Envoy stats of pod {pod}"));
        texts.push(read(pod).await?);
    }
    from_envoy_stats(&texts, config)
}
