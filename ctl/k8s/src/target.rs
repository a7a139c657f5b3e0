//! Where operations act (one namespace of one cluster) and how (dry-run, field manager, waits).

use std::fmt::Debug;
use std::time::Duration;

use k8s_openapi::NamespaceResourceScope;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::dry_run::{DryRun, Writer};
use crate::error::{Error, Result};

/// The field manager veerctl's server-side applies and patches are recorded under, so that
/// `kubectl get -o yaml --show-managed-fields` says which fields veerctl owns.
pub const FIELD_MANAGER: &str = "veerctl";

/// One namespace of one cluster, and how to write to it.
#[derive(Clone)]
pub struct Target {
    /// The client (from the kubeconfig context, or a test double).
    pub client: Client,
    /// The namespace every operation acts in.
    pub namespace: String,
    /// Whether writes are sent, sent as server dry-run, or only printed.
    pub dry_run: DryRun,
    /// The field manager of every write (`veerctl` unless changed).
    pub field_manager: String,
}

impl Target {
    /// A target that writes for real, as field manager `veerctl`.
    pub fn new(client: Client, namespace: impl Into<String>) -> Self {
        Target {
            client,
            namespace: namespace.into(),
            dry_run: DryRun::Off,
            field_manager: FIELD_MANAGER.to_owned(),
        }
    }

    /// The same target with another dry-run mode.
    pub fn with_dry_run(mut self, dry_run: DryRun) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// An `Api` for a namespaced kind in this target's namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// A writer that records every request of one operation.
    pub(crate) fn writer(&self) -> Writer {
        Writer::new(self.dry_run, &self.field_manager)
    }

    /// `Kind namespace/name`, for messages.
    pub(crate) fn what(&self, kind: &str, name: &str) -> String {
        format!("{kind} {}/{name}", self.namespace)
    }

    /// Reads an object, `None` when it does not exist.
    pub(crate) async fn get_opt<K>(&self, kind: &str, name: &str) -> Result<Option<K>>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        self.api::<K>()
            .get_opt(name)
            .await
            .map_err(|source| Error::Read {
                source: Box::new(source),
                what: self.what(kind, name),
            })
    }

    /// [`Target::get`], trying again for up to [`UNREACHABLE_GRACE`] while the API server cannot
    /// be reached at all (no HTTP answer). In a pod with an Istio sidecar that is not ready yet,
    /// e.g. the scale-down CronJob's in a namespace with injection, the first connections are
    /// refused; this is the read that comes first, so the run waits for the proxy instead of
    /// failing. Any answer of the API server, an error too, is returned at once.
    pub(crate) async fn get_when_reachable<K>(
        &self,
        kind: &str,
        name: &str,
        hint: &str,
    ) -> Result<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        let deadline = Instant::now() + UNREACHABLE_GRACE;
        loop {
            match self.get(kind, name, hint).await {
                Err(Error::Read { source, .. })
                    if is_unreachable(&source) && Instant::now() < deadline =>
                {
                    tokio::time::sleep(UNREACHABLE_RETRY).await;
                }
                result => return result,
            }
        }
    }

    /// Reads an object that must exist; `hint` says what to do when it does not.
    pub(crate) async fn get<K>(&self, kind: &str, name: &str, hint: &str) -> Result<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + Debug,
    {
        self.get_opt(kind, name)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: self.what(kind, name),
                hint: hint.to_owned(),
            })
    }
}

/// How long [`Target::get_when_reachable`] keeps trying an API server it cannot reach: a
/// sidecar is usually ready within seconds.
pub const UNREACHABLE_GRACE: Duration = Duration::from_secs(30);

/// Pause between two of those tries.
const UNREACHABLE_RETRY: Duration = Duration::from_millis(500);

/// No HTTP answer: the connection failed (refused, reset), as opposed to an API error.
fn is_unreachable(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Service(_) | kube::Error::HyperError(_))
}

/// How long and how often to poll while waiting for a rollout. Polling (not watching) keeps the
/// wait testable on an in-memory API that has no watch, and costs one GET per interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    /// Give up after this long.
    pub timeout: Duration,
    /// Time between two reads of the Deployment.
    pub interval: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            timeout: Duration::from_secs(300),
            interval: Duration::from_secs(2),
        }
    }
}

/// Refuses names the API server would refuse, before anything is sent: a DNS-1123 label of at
/// most `max` characters.
pub(crate) fn check_name(what: &str, name: &str, max: usize) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid {
            what: format!("{what} {name:?}"),
            reason: format!(
                "use lowercase letters, digits and '-', at most {max} characters, \
                 starting and ending with a letter or digit"
            ),
        })
    }
}
