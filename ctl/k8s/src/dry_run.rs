//! Dry-run and the record of what was sent.
//!
//! Every write of an operation goes through one [`Writer`], which renders the request with kube's
//! own request builder (`kube::core::Request`, the code `Api` itself uses) before sending it. In
//! client dry-run it stops there; otherwise it sends. Either way the rendered request is kept, so
//! `--dry-run` shows exactly the method, path, query, content type and body a real run sends, and
//! tests can assert the order of writes (plugin before routes).

use std::fmt::{self, Debug};

use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// What a mutating operation does with its writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DryRun {
    /// Send them.
    #[default]
    Off,
    /// Send nothing; return the requests that would be sent (`--dry-run` / `--dry-run=client`).
    /// Reads still happen: an operation reads the cluster to decide what to write.
    Client,
    /// Send them with `dryRun=All`: the API server validates and admits them, persists nothing
    /// (`--dry-run=server`). Waits are skipped, since nothing changes.
    Server,
}

/// One write, as it is (or would be) sent to the API server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedRequest {
    /// HTTP method: `PATCH`, `PUT`, `POST`.
    pub method: String,
    /// Path without the query, e.g. `/apis/apps/v1/namespaces/demo/deployments/web-green`.
    pub path: String,
    /// Query parameters in order, e.g. `fieldManager=veerctl`, `force=true`, `dryRun=All`.
    pub query: Vec<(String, String)>,
    /// `application/apply-patch+yaml`, `application/merge-patch+json`,
    /// `application/json-patch+json` or `application/json`.
    pub content_type: String,
    /// The body (JSON; an apply patch's JSON is also its YAML).
    pub body: Value,
}

impl PlannedRequest {
    fn from_http(req: &http::Request<Vec<u8>>) -> Result<PlannedRequest> {
        let uri = req.uri();
        let query = uri
            .query()
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let content_type = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = if req.body().is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(req.body()).map_err(|e| Error::Serialize {
                what: format!("the body of {} {}", req.method(), uri.path()),
                reason: e.to_string(),
            })?
        };
        Ok(PlannedRequest {
            method: req.method().to_string(),
            path: uri.path().to_owned(),
            query,
            content_type,
            body,
        })
    }

    /// The value of query parameter `key`.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for PlannedRequest {
    /// `METHOD path?query`, the content type, then the body as indented JSON: what `--dry-run`
    /// prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let query: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let sep = if query.is_empty() { "" } else { "?" };
        writeln!(f, "{} {}{sep}{}", self.method, self.path, query.join("&"))?;
        writeln!(f, "Content-Type: {}", self.content_type)?;
        let body = serde_json::to_string_pretty(&self.body).map_err(|_| fmt::Error)?;
        writeln!(f, "{body}")
    }
}

/// Renders, records and (unless dry-run) sends the writes of one operation.
pub(crate) struct Writer {
    dry_run: DryRun,
    field_manager: String,
    sent: Vec<PlannedRequest>,
}

impl Writer {
    pub(crate) fn new(dry_run: DryRun, field_manager: &str) -> Self {
        Writer {
            dry_run,
            field_manager: field_manager.to_owned(),
            sent: Vec::new(),
        }
    }

    /// Whether writes are actually persisted (not client or server dry-run).
    pub(crate) fn persists(&self) -> bool {
        self.dry_run == DryRun::Off
    }

    /// The requests recorded so far, in order.
    pub(crate) fn into_requests(self) -> Vec<PlannedRequest> {
        self.sent
    }

    fn patch_params(&self, apply: bool) -> PatchParams {
        let mut pp = if apply {
            PatchParams::apply(&self.field_manager).force()
        } else {
            PatchParams {
                field_manager: Some(self.field_manager.clone()),
                ..PatchParams::default()
            }
        };
        pp.dry_run = self.dry_run == DryRun::Server;
        pp
    }

    /// Server-side apply of a whole object (create or update in one request), forcing
    /// ownership of the fields it sets: veerctl is the authority for the objects it manages.
    pub(crate) async fn apply<K, P>(
        &mut self,
        api: &Api<K>,
        name: &str,
        obj: &P,
    ) -> Result<Option<K>>
    where
        K: Resource + Clone + DeserializeOwned + Debug,
        P: Serialize + Debug,
    {
        let pp = self.patch_params(true);
        self.patch(api, name, &pp, &Patch::Apply(obj), "apply")
            .await
    }

    /// JSON merge patch (RFC 7386): only the fields in `patch` change.
    pub(crate) async fn merge_patch<K>(
        &mut self,
        api: &Api<K>,
        name: &str,
        patch: &Value,
    ) -> Result<Option<K>>
    where
        K: Resource + Clone + DeserializeOwned + Debug,
    {
        let pp = self.patch_params(false);
        self.patch(api, name, &pp, &Patch::Merge(patch), "merge-patch")
            .await
    }

    /// JSON patch (RFC 6902), for replacing a whole sub-tree such as `/spec/template`.
    pub(crate) async fn json_patch<K>(
        &mut self,
        api: &Api<K>,
        name: &str,
        ops: &Value,
    ) -> Result<Option<K>>
    where
        K: Resource + Clone + DeserializeOwned + Debug,
    {
        let doc = serde_json::from_value(ops.clone()).map_err(|e| Error::Serialize {
            what: format!("the JSON patch for {name}"),
            reason: e.to_string(),
        })?;
        let pp = self.patch_params(false);
        self.patch(api, name, &pp, &Patch::<()>::Json(doc), "json-patch")
            .await
    }

    async fn patch<K, P>(
        &mut self,
        api: &Api<K>,
        name: &str,
        pp: &PatchParams,
        patch: &Patch<P>,
        verb: &str,
    ) -> Result<Option<K>>
    where
        K: Resource + Clone + DeserializeOwned + Debug,
        P: Serialize + Debug,
    {
        let what = format!("{verb} {}/{name}", api.resource_url());
        let req = kube::core::Request::new(api.resource_url())
            .patch(name, pp, patch)
            .map_err(|source| Error::BuildRequest {
                what: what.clone(),
                source,
            })?;
        self.sent.push(PlannedRequest::from_http(&req)?);
        if self.dry_run == DryRun::Client {
            return Ok(None);
        }
        api.patch(name, pp, patch)
            .await
            .map(Some)
            .map_err(|source| Error::Write {
                source: Box::new(source),
                what,
            })
    }

    /// PUT of a whole object carrying the `metadata.resourceVersion` it was read at: the API
    /// server answers 409 Conflict if anyone wrote it since (optimistic concurrency).
    pub(crate) async fn replace<K>(
        &mut self,
        api: &Api<K>,
        name: &str,
        obj: &K,
    ) -> Result<Option<K>>
    where
        K: Resource + Clone + DeserializeOwned + Serialize + Debug,
    {
        let pp = PostParams {
            dry_run: self.dry_run == DryRun::Server,
            field_manager: Some(self.field_manager.clone()),
        };
        let what = format!("replace {}/{name}", api.resource_url());
        let body = serde_json::to_vec(obj).map_err(|e| Error::Serialize {
            what: what.clone(),
            reason: e.to_string(),
        })?;
        let req = kube::core::Request::new(api.resource_url())
            .replace(name, &pp, body)
            .map_err(|source| Error::BuildRequest {
                what: what.clone(),
                source,
            })?;
        self.sent.push(PlannedRequest::from_http(&req)?);
        if self.dry_run == DryRun::Client {
            return Ok(None);
        }
        api.replace(name, &pp, obj)
            .await
            .map(Some)
            .map_err(|source| Error::Write {
                source: Box::new(source),
                what,
            })
    }
}
