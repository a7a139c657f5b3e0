//! The families: one constant per metric, in one table ([`FAMILIES`]).

use super::{Stat, StatusClass, MAX_LABELS, NAMESPACE};

/// How Envoy keeps a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Set to a value, or moved up and down.
    Gauge,
    /// Values recorded one by one (`_bucket`, `_sum`, `_count` in Prometheus).
    Histogram,
}

impl Kind {
    /// Prometheus's `# TYPE` word.
    pub fn prometheus_type(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A label: one part of a name, a Prometheus label with the bootstrap's tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Label {
    /// A service name.
    Service,
    /// A variant name.
    Variant,
    /// `1xx` .. `5xx`.
    StatusClass,
    /// A cohort rule name.
    Rule,
    /// An experiment id.
    Experiment,
    /// An experiment arm name.
    Arm,
    /// A goal name.
    Goal,
}

impl Label {
    /// Every label.
    pub const ALL: [Label; 7] = [
        Label::Service,
        Label::Variant,
        Label::StatusClass,
        Label::Rule,
        Label::Experiment,
        Label::Arm,
        Label::Goal,
    ];

    /// The label's name in Prometheus (and Envoy's tag name).
    pub fn name(self) -> &'static str {
        match self {
            Label::Service => "service",
            Label::Variant => "variant",
            Label::StatusClass => "status_class",
            Label::Rule => "rule",
            Label::Experiment => "experiment",
            Label::Arm => "arm",
            Label::Goal => "goal",
        }
    }
}

/// A metric family: one Prometheus name, its labels in the order their values follow the family
/// in Envoy's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Family {
    /// The part of the name after `veer.` (`requests_total`).
    pub name: &'static str,
    /// veerctl's short key ([`Stat::key`]): `rq` for `rq.<service>.<variant>`.
    pub key: &'static str,
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// Label names, in the order their values follow the family in the name.
    pub labels: &'static [Label],
    /// What it counts (the README's table says the same).
    pub help: &'static str,
}

impl Family {
    /// The family's Prometheus name (`veer_requests_total`): Envoy drops its host prefix and
    /// turns the dots into underscores once the tags have cut the label values out.
    pub fn prometheus_name(&self) -> String {
        format!("{NAMESPACE}_{}", self.name)
    }
}

use Label::{Arm, Experiment, Goal, Rule, Service, Variant};

const SV: &[Label] = &[Service, Variant];
const SEA: &[Label] = &[Service, Experiment, Arm];
const SEAG: &[Label] = &[Service, Experiment, Arm, Goal];

const fn family(
    name: &'static str,
    key: &'static str,
    kind: Kind,
    labels: &'static [Label],
    help: &'static str,
) -> Family {
    Family {
        name,
        key,
        kind,
        labels,
        help,
    }
}

/// Requests routed to each variant, whatever decided.
pub static REQUESTS: Family = family(
    "requests_total",
    "rq",
    Kind::Counter,
    SV,
    "requests routed to the variant, whatever decided it",
);
/// Of those, the ones the default split decided.
pub static SPLIT_REQUESTS: Family = family(
    "split_requests_total",
    "split",
    Kind::Counter,
    SV,
    "of those, decided by the default split (what the split check compares with the weights)",
);
/// Responses by status class.
pub static RESPONSES: Family = family(
    "responses_total",
    "rs",
    Kind::Counter,
    &[Service, Variant, Label::StatusClass],
    "responses by status class (1xx..5xx; a response Envoy could not complete is 5xx)",
);
/// Request headers to response headers, microseconds.
pub static LATENCY: Family = family(
    "response_latency_microseconds",
    "latency_us",
    Kind::Histogram,
    SV,
    "request headers to response headers, in microseconds",
);
/// Requests a cohort rule decided.
pub static RULE_REQUESTS: Family = family(
    "rule_requests_total",
    "rule",
    Kind::Counter,
    &[Service, Rule],
    "requests decided by a cohort rule",
);
/// Requests an experiment assigned to an arm.
pub static EXPERIMENT_REQUESTS: Family = family(
    "experiment_requests_total",
    "exp",
    Kind::Counter,
    SEA,
    "requests an experiment assigned to the arm",
);
/// Users exposed to an arm, each counted once (the marks cookie).
pub static EXPERIMENT_USERS: Family = family(
    "experiment_users_total",
    "exp_users",
    Kind::Counter,
    SEA,
    "users exposed to the arm, each counted once (the marks cookie)",
);
/// Goal requests attributed to an arm.
pub static GOAL_REQUESTS: Family = family(
    "goal_requests_total",
    "goal_rq",
    Kind::Counter,
    SEAG,
    "requests that reached the goal, attributed to the arm of the user who sent them",
);
/// Users of an arm who reached a goal, each counted once.
pub static GOAL_USERS: Family = family(
    "goal_users_total",
    "goal_users",
    Kind::Counter,
    SEAG,
    "exposed users of the arm who reached the goal, each counted once (converted users)",
);
/// Responses to an arm's requests by status class.
pub static ARM_RESPONSES: Family = family(
    "arm_responses_total",
    "exp_rs",
    Kind::Counter,
    &[Service, Experiment, Arm, Label::StatusClass],
    "responses to the arm's requests by status class (arms may share a variant)",
);
/// An arm's latency, microseconds.
pub static ARM_LATENCY: Family = family(
    "arm_response_latency_microseconds",
    "exp_latency_us",
    Kind::Histogram,
    SEA,
    "request headers to response headers for the arm's requests, in microseconds",
);

/// The config version this proxy runs.
pub static CONFIG_VERSION: Family = family(
    "config_version",
    "config.version",
    Kind::Gauge,
    &[],
    "the config version this proxy runs",
);
/// Which config runs: a digest of its text.
pub static CONFIG_DIGEST: Family = family(
    "config_digest",
    "config.digest",
    Kind::Gauge,
    &[],
    "a digest of the config text this proxy runs (48 bits of XXH3-64): a version number alone \
     cannot prove which config runs",
);
/// Configs accepted.
pub static CONFIG_ACCEPTED: Family = family(
    "config_accepted_total",
    "config.accepted",
    Kind::Counter,
    &[],
    "configs accepted, once per wasm VM (the bootstrap's fallback, version 0, is not counted)",
);
/// Configs refused.
pub static CONFIG_REJECTED: Family = family(
    "config_rejected_total",
    "config.rejected",
    Kind::Counter,
    &[],
    "configs refused (once per wasm VM)",
);
/// Requests for no service.
pub static PASSTHROUGH: Family = family(
    "passthrough_requests_total",
    "passthrough",
    Kind::Counter,
    &[],
    "requests that matched no service",
);
/// Client-sent copies of Veer's headers, removed.
pub static SPOOFED_HEADERS: Family = family(
    "spoofed_headers_removed_total",
    "spoofed_header_removed",
    Kind::Counter,
    &[],
    "client-sent copies of the headers Veer owns, removed",
);
/// Signed overrides honoured.
pub static OVERRIDE_ACCEPTED: Family = family(
    "override_accepted_total",
    "override.accepted",
    Kind::Counter,
    &[],
    "signed overrides honoured",
);
/// Override headers ignored.
pub static OVERRIDE_REJECTED: Family = family(
    "override_rejected_total",
    "override.rejected",
    Kind::Counter,
    &[],
    "override headers ignored (invalid, or sent on a request for no service)",
);
/// New ids set as cookies.
pub static COOKIES_ASSIGNED: Family = family(
    "cookies_assigned_total",
    "cookie.assigned",
    Kind::Counter,
    &[],
    "new ids set as cookies",
);
/// Counting contexts holding counts not yet published.
pub static COUNTS_PENDING: Family = family(
    "counts_pending",
    "counts.pending",
    Kind::Gauge,
    &[],
    "filter instances holding counts not yet added to these metrics; 0: every count of a \
     request answered before the reading is in",
);
/// Requests whose hook panicked (a native module catches it; a wasm VM dies instead).
pub static PANICS: Family = family(
    "panics_total",
    "panic",
    Kind::Counter,
    &[],
    "requests whose filter hook panicked (native module only: caught, the request goes on)",
);

/// Every family, labelled ones first.
pub static FAMILIES: [&Family; 22] = [
    &REQUESTS,
    &SPLIT_REQUESTS,
    &RESPONSES,
    &LATENCY,
    &RULE_REQUESTS,
    &EXPERIMENT_REQUESTS,
    &EXPERIMENT_USERS,
    &GOAL_REQUESTS,
    &GOAL_USERS,
    &ARM_RESPONSES,
    &ARM_LATENCY,
    &CONFIG_VERSION,
    &CONFIG_DIGEST,
    &CONFIG_ACCEPTED,
    &CONFIG_REJECTED,
    &PASSTHROUGH,
    &SPOOFED_HEADERS,
    &OVERRIDE_ACCEPTED,
    &OVERRIDE_REJECTED,
    &COOKIES_ASSIGNED,
    &COUNTS_PENDING,
    &PANICS,
];

/// Label values copied in, unchecked: for names from a validated config, which are valid labels.
fn labelled<'a, const N: usize>(family: &'static Family, values: [&'a str; N]) -> Stat<'a> {
    let mut all = [""; MAX_LABELS];
    for (slot, v) in all.iter_mut().zip(values) {
        *slot = v;
    }
    Stat::from_parts(family, all)
}

impl<'a> Stat<'a> {
    /// [`REQUESTS`] of a variant.
    pub fn requests(service: &'a str, variant: &'a str) -> Stat<'a> {
        labelled(&REQUESTS, [service, variant])
    }

    /// [`SPLIT_REQUESTS`] of a variant.
    pub fn split_requests(service: &'a str, variant: &'a str) -> Stat<'a> {
        labelled(&SPLIT_REQUESTS, [service, variant])
    }

    /// [`RESPONSES`] of a variant in one class.
    pub fn responses(service: &'a str, variant: &'a str, class: StatusClass) -> Stat<'a> {
        labelled(&RESPONSES, [service, variant, class.as_str()])
    }

    /// [`LATENCY`] of a variant.
    pub fn latency(service: &'a str, variant: &'a str) -> Stat<'a> {
        labelled(&LATENCY, [service, variant])
    }

    /// [`RULE_REQUESTS`] of a rule.
    pub fn rule_requests(service: &'a str, rule: &'a str) -> Stat<'a> {
        labelled(&RULE_REQUESTS, [service, rule])
    }

    /// [`EXPERIMENT_REQUESTS`] of an arm.
    pub fn experiment_requests(service: &'a str, experiment: &'a str, arm: &'a str) -> Stat<'a> {
        labelled(&EXPERIMENT_REQUESTS, [service, experiment, arm])
    }

    /// [`EXPERIMENT_USERS`] of an arm.
    pub fn experiment_users(service: &'a str, experiment: &'a str, arm: &'a str) -> Stat<'a> {
        labelled(&EXPERIMENT_USERS, [service, experiment, arm])
    }

    /// [`ARM_LATENCY`] of an arm.
    pub fn arm_latency(service: &'a str, experiment: &'a str, arm: &'a str) -> Stat<'a> {
        labelled(&ARM_LATENCY, [service, experiment, arm])
    }

    /// [`ARM_RESPONSES`] of an arm in one class.
    pub fn arm_responses(
        service: &'a str,
        experiment: &'a str,
        arm: &'a str,
        class: StatusClass,
    ) -> Stat<'a> {
        labelled(&ARM_RESPONSES, [service, experiment, arm, class.as_str()])
    }

    /// [`GOAL_REQUESTS`] of an arm and a goal.
    pub fn goal_requests(
        service: &'a str,
        experiment: &'a str,
        arm: &'a str,
        goal: &'a str,
    ) -> Stat<'a> {
        labelled(&GOAL_REQUESTS, [service, experiment, arm, goal])
    }

    /// [`GOAL_USERS`] of an arm and a goal.
    pub fn goal_users(
        service: &'a str,
        experiment: &'a str,
        arm: &'a str,
        goal: &'a str,
    ) -> Stat<'a> {
        labelled(&GOAL_USERS, [service, experiment, arm, goal])
    }
}
