//! Test doubles: a scripted API server for contract tests, a fake cluster, a recording reporter.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use http_body_util::BodyExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{PatchParams, PostParams};
use kube::client::Body;
use kube::Client;
use kube_fake_client::interceptor::{Funcs, PatchContext};
use serde_json::Value;
use tokio::sync::mpsc;
use tower_test::mock::Handle;
use veer_k8s::istio::{DestinationRule, VirtualService, WasmPlugin};
use veer_k8s::{Reporter, Target, WaitOptions};

/// One request as the API server received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body: Value,
}

impl Seen {
    pub fn q(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A scripted answer: status and JSON body.
pub struct Answer(pub u16, pub Value);

/// A client whose API server answers `script` in order and records what it received. A call that
/// does not come within a second fails the test (a missing call fails fast).
pub fn scripted(script: Vec<Answer>) -> (Client, tokio::task::JoinHandle<Vec<Seen>>) {
    let (svc, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let server = tokio::spawn(serve(handle, script));
    (Client::new(svc, "default"), server)
}

async fn serve(
    mut handle: Handle<Request<Body>, Response<Body>>,
    script: Vec<Answer>,
) -> Vec<Seen> {
    let mut seen = Vec::new();
    for Answer(status, body) in script {
        let next = tokio::time::timeout(Duration::from_secs(1), handle.next_request()).await;
        let (req, send) = match next {
            Ok(Some(pair)) => pair,
            _ => panic!("expected another request after {seen:#?}"),
        };
        if status == REFUSED {
            seen.push(Seen {
                method: req.method().to_string(),
                path: req.uri().path().to_owned(),
                query: Vec::new(),
                content_type: None,
                body: Value::Null,
            });
            send.send_error(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "connection refused",
            ));
            continue;
        }
        let (parts, req_body) = req.into_parts();
        let bytes = req_body.collect().await.expect("request body").to_bytes();
        seen.push(Seen {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            query: parts
                .uri
                .query()
                .map(|q| {
                    form_urlencoded::parse(q.as_bytes())
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect()
                })
                .unwrap_or_default(),
            content_type: parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .map(|v| v.to_str().expect("ascii").to_owned()),
            body: if bytes.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&bytes).expect("JSON body")
            },
        });
        let body = if body == ECHO() {
            seen.last()
                .map(|s: &Seen| s.body.clone())
                .unwrap_or_default()
        } else {
            body
        };
        let response = Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&body).expect("json")))
            .expect("response");
        send.send_response(response);
    }
    seen
}

/// As an answer body: answer with the request's own body (what an apply returns, roughly).
#[allow(non_snake_case)]
pub fn ECHO() -> Value {
    Value::String("__echo__".into())
}

/// The status of [`refused`]: no HTTP answer at all.
const REFUSED: u16 = 0;

/// No answer: the connection is refused, as through an Istio sidecar that is not ready yet.
pub fn refused() -> Answer {
    Answer(REFUSED, Value::Null)
}

/// A 404 Status answer.
pub fn not_found(kind: &str, name: &str) -> Answer {
    Answer(
        404,
        serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": format!("{kind} \"{name}\" not found"), "reason": "NotFound", "code": 404
        }),
    )
}

/// A 409 Status answer.
pub fn conflict(name: &str) -> Answer {
    Answer(
        409,
        serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": format!("Operation cannot be fulfilled on wasmplugins \"{name}\": the object has been modified"),
            "reason": "Conflict", "code": 409
        }),
    )
}

/// A fake cluster with Deployment status as a subresource and Istio's kinds registered.
pub async fn fake(objects: Vec<Value>) -> Client {
    fake_with(objects, |_| Ok(())).await
}

/// A hook that runs before each patch reaches the fake cluster (another writer's change).
pub type BeforePatch = fn(&PatchContext) -> kube_fake_client::Result<()>;

/// [`fake`], with `before` run ahead of every patch. Two differences from the API server are
/// evened out: the tracker numbers resourceVersions itself and could hand out one a fixture
/// already carries (so fixtures' are dropped), and it raises a Deployment's generation on a
/// metadata-only patch such as veerctl's stamps, where the API server does not (so those are
/// applied with [`patch_metadata`]).
pub async fn fake_with(objects: Vec<Value>, before: BeforePatch) -> Client {
    let objects = objects
        .into_iter()
        .map(|mut o| {
            if let Some(meta) = o["metadata"].as_object_mut() {
                meta.remove("resourceVersion");
            }
            o
        })
        .collect();
    let funcs = Funcs::new().patch(move |ctx| {
        before(&ctx)?;
        let merge = ctx.patch_type == kube_fake_client::PatchType::MergePatch;
        if merge && ctx.patch.get("spec").is_none() && ctx.patch.get("status").is_none() {
            return patch_metadata(&ctx, ctx.patch).map(Some);
        }
        Ok(None)
    });
    kube_fake_client::ClientBuilder::new()
        .with_status_subresource::<Deployment>()
        .with_resource::<WasmPlugin>()
        .with_resource::<DestinationRule>()
        .with_resource::<VirtualService>()
        .with_runtime_objects(objects)
        .with_interceptor_funcs(funcs)
        .build()
        .await
        .expect("fake client")
}

/// Applies a metadata-only merge patch to the Deployment `ctx` names as the API server does:
/// its rollout stays observed if it was (the fake raised the generation: catch the status up).
pub fn patch_metadata(ctx: &PatchContext, patch: &Value) -> kube_fake_client::Result<Value> {
    let before: Deployment = ctx.client.get(ctx.namespace, ctx.name)?;
    let observed =
        before.status.as_ref().and_then(|s| s.observed_generation) == before.metadata.generation;
    let mut after: Deployment =
        ctx.client
            .patch(ctx.namespace, ctx.name, patch, &PatchParams::default())?;
    if observed {
        if let Some(status) = after.status.as_mut() {
            status.observed_generation = after.metadata.generation;
        }
        after = ctx
            .client
            .update_status(ctx.namespace, &after, &PostParams::default())?;
    }
    Ok(serde_json::to_value(after)?)
}

pub fn target(client: Client, ns: &str) -> Target {
    Target::new(client, ns)
}

pub fn fast_wait() -> WaitOptions {
    WaitOptions {
        timeout: Duration::from_secs(5),
        interval: Duration::from_millis(5),
    }
}

/// Records messages, and sends each to a channel so a test can feed the next status only after
/// the previous one was seen.
#[derive(Clone)]
pub struct Recorder {
    pub messages: Arc<Mutex<Vec<String>>>,
    tx: Option<mpsc::UnboundedSender<String>>,
}

impl Recorder {
    pub fn new() -> Self {
        Recorder {
            messages: Arc::default(),
            tx: None,
        }
    }

    pub fn with_channel() -> (Self, mpsc::UnboundedReceiver<String>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Recorder {
                messages: Arc::default(),
                tx: Some(tx),
            },
            rx,
        )
    }

    pub fn all(&self) -> Vec<String> {
        self.messages.lock().expect("lock").clone()
    }
}

impl Reporter for Recorder {
    fn progress(&self, message: &str) {
        self.messages.lock().expect("lock").push(message.to_owned());
        if let Some(tx) = &self.tx {
            let _ = tx.send(message.to_owned());
        }
    }
}

/// A Deployment as JSON, with a status.
pub fn deployment(name: &str, labels: Value, image: &str, replicas: i32, available: i32) -> Value {
    serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": name, "namespace": "demo", "generation": 1, "resourceVersion": "1",
                      "uid": format!("uid-{name}"), "labels": labels.clone() },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": labels.clone() },
            "template": {
                "metadata": { "labels": labels },
                "spec": { "containers": [ { "name": "app", "image": image, "args": ["-text=v1"] } ] }
            }
        },
        "status": { "observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
                    "readyReplicas": available, "availableReplicas": available }
    })
}

/// A Service as JSON.
pub fn service(name: &str, selector: Value, annotations: Value) -> Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": { "name": name, "namespace": "demo", "resourceVersion": "7", "annotations": annotations },
        "spec": { "selector": selector, "ports": [ { "port": 80, "targetPort": 5678 } ] }
    })
}
