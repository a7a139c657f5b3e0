//! The whole decision (`veer_filter::decide`) and goal attribution (`veer_filter::goals::hits`)
//! on arbitrary requests under arbitrary configs that validate.
//!
//! Input: `<config JSON> NUL <request lines>` ([`crate::input`]). A config that does not validate
//! ends the run (the fuzzer learns to keep them valid from the seeds and the dictionary). Then:
//! - veerctl's reading (serde) and the filter's (`config::json`) give the same validated config;
//! - the request goes through what the filter does first: Veer's own headers are removed;
//! - the decision explains itself: its service is the first that matches, its variant is the
//!   service's, the step that decided is the first that applies (override, rule, experiment,
//!   split) and can give that variant, and its description names it;
//! - a user with a key is sticky: another random source gives the same decision;
//! - every goal hit is a goal the request reaches, for an experiment that is judged on it, in an
//!   arm of that experiment, and it is the arm the decision gave the same user.

use veer_filter::config::json::decode;
use veer_filter::config::{Config, RuleTarget, Service};
use veer_filter::decide::{find_service, DecidedBy, KeyOrigin};
use veer_filter::goals::{hits, reaches_any};
use veer_filter::marks::Marks;
use veer_filter::{decide, Decision, Inputs, RequestView};

use crate::input::{config_and_request, headers};

/// The clock the override check sees: 2023-11-14, so seeds can carry a valid signed override.
const NOW: u64 = 1_700_000_000;

/// Checks `data` as a config and a request.
pub fn check(data: &[u8]) {
    let Some((text, lines)) = config_and_request(data) else {
        return;
    };
    let Ok(config) = Config::from_json(text) else {
        return;
    };
    let filter = decode(text)
        .and_then(|w| Config::from_wire(&w))
        .unwrap_or_else(|p| panic!("veerctl accepts the config, the filter refuses it: {p}"));
    assert_eq!(
        format!("{config:?}"),
        format!("{filter:?}"),
        "veerctl and the filter read the config differently"
    );

    let headers = headers(lines);
    let owned: Vec<&str> = config.owned_request_headers().collect();
    let req = RequestView::new(&headers).without(|n| owned.iter().any(|o| o.as_bytes() == n));
    let decision = run(&config, &req, 1);
    if let Some(d) = &decision {
        explained(&config, &req, d);
        if matches!(d.key, KeyOrigin::Source(_)) {
            let again = run(&config, &req, 2).map(|a| (a.variant_index, format!("{:?}", a.by)));
            assert_eq!(
                again,
                Some((d.variant_index, format!("{:?}", d.by))),
                "a user with a key was not sticky"
            );
        }
    } else {
        assert!(find_service(&config, &req).is_none());
    }
    goals(&config, &req, decision.as_ref());
}

/// `decide` with a deterministic random source (xorshift from `seed`).
fn run<'c>(config: &'c Config, req: &RequestView<'_>, seed: u64) -> Option<Decision<'c>> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    decide(
        config,
        req,
        Inputs {
            now_unix: NOW,
            random: &mut random,
        },
    )
}

fn serves(service: &Service, req: &RequestView<'_>) -> bool {
    (service.hosts.is_empty() || service.hosts.iter().any(|h| h.matches(req.host())))
        && service
            .path_prefix
            .as_deref()
            .is_none_or(|p| req.path().starts_with(p.as_bytes()))
}

/// The decision is the one the config's order of steps gives.
fn explained(config: &Config, req: &RequestView<'_>, d: &Decision<'_>) {
    let first = config.services.iter().position(|s| serves(s, req));
    assert_eq!(
        first,
        Some(d.service_index),
        "not the first service that serves the request"
    );
    assert!(std::ptr::eq(d.service, &config.services[d.service_index]));
    assert_eq!(d.service.variants.get(d.variant_index), Some(d.variant));
    let first_rule = d.service.rules.iter().position(|r| r.matcher.matches(req));
    match d.by {
        DecidedBy::Override { expires } => {
            let sent = config
                .override_policy
                .as_ref()
                .is_some_and(|p| req.has(p.header.as_str()));
            assert!(
                sent && expires >= NOW,
                "an override nobody sent, or expired"
            );
        }
        DecidedBy::Rule(i, rule) => {
            assert_eq!(first_rule, Some(i), "not the first matching rule");
            assert!(std::ptr::eq(rule, &d.service.rules[i]));
            match &rule.target {
                RuleTarget::Variant(v) => assert_eq!(*v, d.variant_index),
                RuleTarget::Split { split, .. } => {
                    assert!(split.weight_of(d.variant_index).get() > 0)
                }
            }
        }
        DecidedBy::Experiment {
            index,
            experiment,
            arm_index,
            arm,
        } => {
            assert_eq!(
                first_rule, None,
                "an experiment decided where a rule matches"
            );
            assert!(std::ptr::eq(experiment, &d.service.experiments[index]));
            assert!(experiment.segment.as_ref().is_none_or(|m| m.matches(req)));
            assert_eq!(experiment.arms.get(arm_index), Some(arm));
            assert_eq!(arm.variant, d.variant_index);
            assert!(experiment.split.weight_of(arm_index).get() > 0);
            assert!(
                d.buckets
                    .is_some_and(|b| experiment.allocation.covers(b.secondary)),
                "an experiment enrolled a user its allocation does not cover"
            );
        }
        DecidedBy::Split => {
            assert_eq!(first_rule, None, "the split decided where a rule matches");
            assert!(d.service.split.weight_of(d.variant_index).get() > 0);
        }
    }
    let assigned = match d.by {
        DecidedBy::Experiment {
            experiment, arm, ..
        } => Some((experiment.id.as_str(), arm.name.as_str())),
        _ => None,
    };
    assert_eq!(d.assignment(), assigned, "the assignment sent to the app");
    let reason = d.to_string();
    assert!(reason.contains(d.variant.name.as_str()), "{reason}");
}

/// Every goal hit is sound, and agrees with the decision on the user's arm.
fn goals(config: &Config, req: &RequestView<'_>, decision: Option<&Decision<'_>>) {
    let marks = Marks::parse(req.cookie(&config.marks.name).unwrap_or_default());
    let found = hits(config, req, &marks);
    assert!(found.is_empty() || reaches_any(config, req));
    for hit in &found {
        assert!(std::ptr::eq(hit.goal, &config.goals[hit.goal_index]));
        assert!(
            hit.goal.matcher.matches(req),
            "a hit for a goal the request does not reach"
        );
        let service = &config.services[hit.service_index];
        assert!(std::ptr::eq(
            hit.experiment,
            &service.experiments[hit.experiment_index]
        ));
        assert!(hit.experiment.goals.contains(&hit.goal_index));
        assert_eq!(hit.experiment.arms.get(hit.arm_index), Some(hit.arm));
        assert!(hit.experiment.split.weight_of(hit.arm_index).get() > 0);
        assert_eq!(hit.exposed, marks.has(hit.experiment.exposure));
        let Some(d) = decision else { continue };
        if let (
            DecidedBy::Experiment {
                index, arm_index, ..
            },
            KeyOrigin::Source(_),
        ) = (d.by, &d.key)
        {
            if d.service_index == hit.service_index && index == hit.experiment_index {
                assert_eq!(arm_index, hit.arm_index, "goal attributed to another arm");
            }
        }
    }
}
