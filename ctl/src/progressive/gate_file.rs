//! `canary run --gate-file FILE`: the team's own gates (Prometheus queries with a condition, as
//! Flagger's MetricTemplates and Argo Rollouts' AnalysisTemplates) and the run's webhooks, in
//! YAML or JSON. Read with the line of every field, so each problem is reported as
//! `line N: gates[1].condition: ...`, all of them at once, before the run changes anything.
//!
//! ```yaml
//! prometheus: http://prometheus.istio-system:9090
//! gates:
//!   - name: error-ratio
//!     query: sum(rate(errors{app="{{ service }}",version="{{ variant }}"}[{{ window }}]))
//!     condition: "< 0.01"
//! hooks:
//!   - name: load-test
//!     type: before-step
//!     url: http://loadtester.test/
//! ```

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};
use veer_filter::Problem;

use super::condition::Condition;
use super::gates::Action;
use super::hooks::{Hook, HookType};
use super::template::{Placeholder, Template};
use crate::config::source::{read_document, Document};
use crate::error::{CliError, LinedProblems, Result};

/// The built-in gates' names, which a file's gate may not take.
pub const BUILTIN: [&str; 5] = ["requests", "error-rate", "p99", "p99-increase", "split"];

/// How long a hook call may take unless the file says.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an approval waits before asking again unless the file says.
pub const APPROVAL_RETRY: Duration = Duration::from_secs(10);

/// A gate file, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateFile {
    /// Where the gates' queries go (`http://host:9090`).
    pub prometheus: Option<String>,
    /// `{{ namespace }}` on a standalone Envoy (on Kubernetes, the run's namespace).
    pub namespace: Option<String>,
    /// The query gates.
    pub gates: Vec<QueryGate>,
    /// The webhooks.
    pub hooks: Vec<Hook>,
}

/// A gate defined by a query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryGate {
    /// Its name.
    pub name: String,
    /// The PromQL template; its result must be one number.
    pub query: Template,
    /// What that number must satisfy.
    pub condition: Condition,
    /// What a failure does.
    pub on_failure: Action,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    prometheus: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    gates: Vec<RawGate>,
    #[serde(default)]
    hooks: Vec<RawHook>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGate {
    name: String,
    query: String,
    condition: String,
    #[serde(default)]
    on_failure: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHook {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    url: String,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    retry: Option<String>,
    #[serde(default)]
    blocking: Option<bool>,
    #[serde(default)]
    on_failure: Option<String>,
    #[serde(default)]
    metadata: Map<String, Value>,
}

/// Reads and checks the gate file at `path`.
pub fn load(path: &Path) -> Result<GateFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::io(format!("read the gate file {}", path.display()), e))?;
    parse(&text, &path.display().to_string())
}

/// Parses and checks gate file text; every problem is reported, each with its line.
pub fn parse(text: &str, name: &str) -> Result<GateFile> {
    let invalid = |problems| CliError::InvalidFile {
        source_name: name.to_owned(),
        kind: "gate file",
        problems: LinedProblems(problems),
    };
    let doc =
        read_document(text, "a gate file is a map (gates: ..., hooks: ...)").map_err(invalid)?;
    let (raw, mut problems) = doc.decode::<RawFile>();
    let Some(raw) = raw.filter(|_| problems.is_empty()) else {
        return Err(invalid(problems));
    };
    let mut check = Checker {
        doc: &doc,
        problems: &mut problems,
    };
    let file = check.file(raw);
    problems.sort_by_key(|(line, _)| *line);
    if problems.is_empty() {
        Ok(file)
    } else {
        Err(invalid(problems))
    }
}

/// Collects the problems of a decoded file, each with its line.
struct Checker<'a> {
    doc: &'a Document,
    problems: &'a mut Vec<(Option<usize>, Problem)>,
}

impl Checker<'_> {
    fn report(&mut self, path: String, message: impl Into<String>) {
        let line = self.doc.line_of(&path);
        self.problems.push((
            line,
            Problem {
                path,
                message: message.into(),
            },
        ));
    }

    fn file(&mut self, raw: RawFile) -> GateFile {
        if let Some(url) = &raw.prometheus {
            self.url("prometheus".into(), url);
        } else if !raw.gates.is_empty() {
            self.report(
                "gates".into(),
                "the gates query Prometheus: give its address as `prometheus: http://HOST:9090`",
            );
        }
        let mut names: Vec<String> = Vec::new();
        let gates = (raw.gates.into_iter().enumerate())
            .filter_map(|(i, g)| self.gate(&format!("gates[{i}]"), g, &mut names))
            .collect();
        let hooks = (raw.hooks.into_iter().enumerate())
            .filter_map(|(i, h)| self.hook(&format!("hooks[{i}]"), h, &mut names))
            .collect();
        GateFile {
            prometheus: raw.prometheus,
            namespace: raw.namespace,
            gates,
            hooks,
        }
    }

    /// A name: not empty, not taken (by another gate or hook, or a built-in gate).
    fn name(&mut self, at: &str, name: &str, taken: &mut Vec<String>) {
        let path = format!("{at}.name");
        if name.trim().is_empty() {
            self.report(path, "the name is empty");
        } else if BUILTIN.contains(&name) {
            self.report(
                path,
                format!("`{name}` is a built-in gate's name; choose another"),
            );
        } else if taken.iter().any(|n| n == name) {
            self.report(
                path,
                format!("`{name}` is used twice; names must be unique"),
            );
        } else {
            taken.push(name.to_owned());
        }
    }

    fn url(&mut self, path: String, url: &str) {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            self.report(path, format!("`{url}` is not an http:// or https:// URL"));
        }
    }

    /// `rollback` or `halt` (`default` when absent).
    fn action(&mut self, path: String, text: Option<&str>, default: Action) -> Action {
        match text {
            None => default,
            Some("rollback") => Action::Rollback,
            Some("halt") => Action::Halt,
            Some(other) => {
                self.report(
                    path,
                    format!("`{other}` is not an action: `rollback` or `halt`"),
                );
                default
            }
        }
    }

    fn gate(&mut self, at: &str, g: RawGate, names: &mut Vec<String>) -> Option<QueryGate> {
        self.name(at, &g.name, names);
        let on_failure = self.action(
            format!("{at}.on_failure"),
            g.on_failure.as_deref(),
            Action::Rollback,
        );
        let query = Template::parse(&g.query).map_err(|e| self.report(format!("{at}.query"), e));
        let condition = g
            .condition
            .parse::<Condition>()
            .map_err(|e| self.report(format!("{at}.condition"), e.to_string()));
        Some(QueryGate {
            name: g.name,
            query: query.ok()?,
            condition: condition.ok()?,
            on_failure,
        })
    }

    fn duration(&mut self, path: String, text: Option<&str>, default: Duration) -> Duration {
        match text.map(humantime::parse_duration) {
            None => default,
            Some(Ok(d)) if !d.is_zero() => d,
            Some(Ok(_)) => {
                self.report(path, "must be longer than 0s");
                default
            }
            Some(Err(e)) => {
                self.report(path, format!("not a duration ({e}); e.g. `10s`, `1m`"));
                default
            }
        }
    }

    fn hook(&mut self, at: &str, h: RawHook, names: &mut Vec<String>) -> Option<Hook> {
        self.name(at, &h.name, names);
        self.url(format!("{at}.url"), &h.url);
        let on_failure = self.action(
            format!("{at}.on_failure"),
            h.on_failure.as_deref(),
            Action::Halt,
        );
        let Some(hook_type) = HookType::parse(&h.kind) else {
            let types: Vec<&str> = HookType::ALL.iter().map(|k| k.name()).collect();
            self.report(
                format!("{at}.type"),
                format!("`{}` is not a hook type: {}", h.kind, types.join(", ")),
            );
            return None;
        };
        let kind = hook_type.name();
        if h.blocking == Some(true) && !hook_type.can_block() {
            let why = if hook_type.is_approval() {
                "it is an approval: the run waits until it answers 2xx"
            } else {
                "it is called after the fact"
            };
            self.report(
                format!("{at}.blocking"),
                format!("a {kind} hook cannot block: {why}"),
            );
        }
        let blocking = hook_type.can_block() && h.blocking.unwrap_or(true);
        if h.on_failure.is_some() && !blocking {
            self.report(
                format!("{at}.on_failure"),
                format!("only a blocking hook stops the run; this {kind} hook does not block"),
            );
        }
        if h.retry.is_some() && !hook_type.is_approval() {
            self.report(format!("{at}.retry"), format!("only approvals (confirm-step, confirm-promotion) are asked again; this is a {kind} hook"));
        }
        Some(Hook {
            timeout: self.duration(format!("{at}.timeout"), h.timeout.as_deref(), HOOK_TIMEOUT),
            retry: self.duration(format!("{at}.retry"), h.retry.as_deref(), APPROVAL_RETRY),
            name: h.name,
            kind: hook_type,
            url: h.url,
            blocking,
            on_failure,
            metadata: h.metadata,
        })
    }
}

impl GateFile {
    /// Whether a gate's query uses `{{ namespace }}`.
    pub fn uses_namespace(&self) -> bool {
        self.gates
            .iter()
            .any(|g| g.query.uses(Placeholder::Namespace))
    }

    /// The hooks of type `kind`, in file order.
    pub fn hooks(&self, kind: HookType) -> impl Iterator<Item = &Hook> {
        self.hooks.iter().filter(move |h| h.kind == kind)
    }
}

#[cfg(test)]
mod tests;
