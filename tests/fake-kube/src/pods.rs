//! Pods as the fake lists them, and which address a port-forward to one of their ports reaches.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde_json::{json, Value};

use crate::portforward::Forward;

/// Envoy's admin port in an Istio sidecar: where veerctl port-forwards to.
pub const SIDECAR_ADMIN_PORT: u16 = 15000;

/// A running pod with Istio's sidecar, as `kubectl get pod -o json` would show it (phase
/// Running, containers `app` and `istio-proxy`), and where a port-forward to each of its ports
/// really goes.
#[derive(Debug, Clone)]
pub struct Pod {
    /// Its name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its labels (what a label selector matches).
    pub labels: BTreeMap<String, String>,
    /// Pod port -> the address a port-forward to it is relayed to.
    pub ports: BTreeMap<u16, SocketAddr>,
}

impl Pod {
    /// Pod `name` in namespace `demo` whose sidecar's admin port ([`SIDECAR_ADMIN_PORT`]) is
    /// `admin` (a real Envoy's admin address on loopback).
    pub fn sidecar(name: &str, admin: SocketAddr) -> Pod {
        Pod {
            name: name.to_owned(),
            namespace: "demo".to_owned(),
            labels: BTreeMap::new(),
            ports: BTreeMap::from([(SIDECAR_ADMIN_PORT, admin)]),
        }
    }

    /// The pod with label `key=value`.
    pub fn label(mut self, key: &str, value: &str) -> Pod {
        self.labels.insert(key.to_owned(), value.to_owned());
        self
    }

    fn to_json(&self) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": self.name, "namespace": self.namespace,
                         "labels": self.labels, "resourceVersion": "1"},
            "spec": {"containers": [{"name": "app", "image": "app"},
                                    {"name": "istio-proxy", "image": "istio/proxyv2"}]},
            "status": {"phase": "Running"}
        })
    }

    /// Whether the pod matches a label selector of equalities (`a=1,b=2`; empty: every pod).
    fn matches(&self, selector: &str) -> bool {
        selector
            .split(',')
            .filter(|s| !s.is_empty())
            .all(|term| match term.split_once('=') {
                Some((k, v)) => self.labels.get(k.trim()).map(String::as_str) == Some(v.trim()),
                None => false,
            })
    }
}

/// The PodList for `GET path?query` when `path` lists the pods of a namespace some pod is in:
/// those that match the query's `labelSelector`.
pub(crate) fn list(pods: &[Pod], path: &str, query: &str) -> Option<Value> {
    let namespace = path
        .strip_prefix("/api/v1/namespaces/")?
        .strip_suffix("/pods")?;
    if !pods.iter().any(|p| p.namespace == namespace) {
        return None;
    }
    let selector = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "labelSelector")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let items: Vec<Value> = pods
        .iter()
        .filter(|p| p.namespace == namespace && p.matches(&selector))
        .map(Pod::to_json)
        .collect();
    Some(
        json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": items}),
    )
}

/// The port-forward a request line asks for (`GET /api/v1/namespaces/{ns}/pods/{pod}/portforward?ports=N`)
/// to a pod the fake knows; `None` for any other request (an unknown pod is answered 404).
pub(crate) fn port_forward(pods: &[Pod], request_line: &str) -> Option<Forward> {
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next()?, parts.next()?);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let rest = path.strip_prefix("/api/v1/namespaces/")?;
    let (namespace, rest) = rest.split_once("/pods/")?;
    let name = rest.strip_suffix("/portforward")?;
    let pod = pods
        .iter()
        .find(|p| p.namespace == namespace && p.name == name)?;
    if method != "GET" {
        return None;
    }
    let ports: Vec<u16> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "ports")
        .flat_map(|(_, v)| {
            v.split(',')
                .filter_map(|p| p.trim().parse().ok())
                .collect::<Vec<u16>>()
        })
        .collect();
    Some(Forward {
        pod: pod.name.clone(),
        ports: ports
            .iter()
            .map(|p| (*p, pod.ports.get(p).copied()))
            .collect(),
    })
}
