//! The whole-analysis reference case (analysis_case.py): every number `analyze` reports for a
//! three-arm, two-goal experiment, against the reference pipeline.

use super::{num, pair, Checker};
use serde_json::Value;
use veer_stats::power::Plan;
use veer_stats::srm::SrmOk;
use veer_stats::{Analysis, ArmMetric, Decision, Estimate, Inference, Interval, Power};

pub fn check(c: &mut Checker, case: &str, a: &Analysis, expect: &Value) {
    c.close(
        case,
        "planning alpha",
        a.planning_alpha,
        num(expect, "planning_alpha"),
    );
    c.close(
        case,
        "mixture y",
        a.mixture.tau_squared_over_planned_variance,
        num(expect, "y"),
    );
    match &a.decision {
        Decision::Judged {
            srm: SrmOk::Passed(p),
            ..
        } => {
            c.close(
                case,
                "srm chi2",
                p.test().chi_square(),
                num(expect, "srm_chi2"),
            );
            c.close(case, "srm p", p.test().p_value(), num(expect, "srm_p"));
        }
        other => c.fail(case, format!("expected a passed SRM check, got {other:?}")),
    }
    for want in expect["comparisons"].as_array().unwrap() {
        comparison(c, case, a, want);
    }
    for want in expect["arms"].as_array().unwrap() {
        arm(c, case, a, want);
    }
}

fn comparison(c: &mut Checker, case: &str, a: &Analysis, want: &Value) {
    let (arm, goal) = (
        want["arm"].as_str().unwrap(),
        want["goal"].as_str().unwrap(),
    );
    let name = &format!("{case} {arm}/{goal}");
    let Some(got) = a
        .comparisons
        .iter()
        .find(|x| x.arm == arm && x.goal == goal)
    else {
        return c.fail(name, "missing".into());
    };
    let Estimate::Measured(e) = &got.effect else {
        return c.fail(name, format!("no effect: {:?}", got.effect));
    };
    c.close(name, "statistic", e.statistic, num(want, "statistic"));
    c.close(
        name,
        "information fraction",
        e.information_fraction,
        num(want, "information_fraction"),
    );
    c.close(name, "difference", e.difference, num(want, "difference"));
    match e.relative {
        Estimate::Measured(r) => c.close(name, "relative", r, num(want, "relative")),
        ref other => c.fail(name, format!("relative: {other:?}")),
    }
    inference(
        c,
        &format!("{name} always-valid"),
        &e.always_valid,
        &want["always_valid"],
    );
    inference(
        c,
        &format!("{name} fixed"),
        &e.fixed_horizon,
        &want["fixed_horizon"],
    );
    match &got.bayesian {
        Estimate::Measured(b) => {
            c.close(
                name,
                "chance to beat",
                b.chance_to_beat_control,
                num(&want["bayes"], "beat"),
            );
            c.close(
                name,
                "expected loss",
                b.expected_loss,
                num(&want["bayes"], "loss"),
            );
        }
        other => c.fail(name, format!("bayesian: {other:?}")),
    }
    match (&got.power, want.get("plan")) {
        (Power::Planned(p), Some(plan_want)) => {
            plan(
                c,
                &format!("{name} always-valid plan"),
                &p.always_valid,
                &plan_want["always_valid"],
            );
            plan(
                c,
                &format!("{name} fixed plan"),
                &p.fixed_horizon,
                &plan_want["fixed_horizon"],
            );
        }
        (Power::NoMinimumEffect, None) => {}
        (got, want) => c.fail(name, format!("power {got:?}, reference {want:?}")),
    }
}

fn inference(c: &mut Checker, name: &str, got: &Inference, want: &Value) {
    c.close(name, "p", got.p_value, num(want, "p"));
    c.close(name, "p (Holm)", got.p_value_holm, num(want, "p_holm"));
    interval(
        c,
        name,
        "difference",
        got.difference_interval,
        pair(want, "difference"),
    );
    match got.relative_interval {
        Estimate::Measured(i) => interval(c, name, "relative", i, pair(want, "relative")),
        ref other => c.fail(name, format!("relative interval: {other:?}")),
    }
}

fn interval(c: &mut Checker, name: &str, what: &str, got: Interval, want: (f64, f64)) {
    c.close(name, &format!("{what} lower"), got.lower, want.0);
    c.close(name, &format!("{what} upper"), got.upper, want.1);
}

fn plan(c: &mut Checker, name: &str, got: &Plan, want: &Value) {
    let n = |k: &str| want[k].as_u64().unwrap();
    c.equal(
        name,
        "planned control",
        got.planned_control,
        n("planned_control"),
    );
    c.equal(name, "planned arm", got.planned_arm, n("planned_arm"));
    c.equal(
        name,
        "still needed control",
        got.still_needed_control,
        n("still_needed_control"),
    );
    c.equal(
        name,
        "still needed arm",
        got.still_needed_arm,
        n("still_needed_arm"),
    );
    c.close(
        name,
        "days",
        got.days_remaining.unwrap_or(f64::NAN),
        num(want, "days_remaining"),
    );
}

fn arm(c: &mut Checker, case: &str, a: &Analysis, want: &Value) {
    let name = &format!("{case} arm {}", want["arm"].as_str().unwrap());
    let Some(got) = a
        .arms
        .iter()
        .find(|x| x.arm == want["arm"].as_str().unwrap())
    else {
        return c.fail(name, "missing".into());
    };
    for g in &got.goals {
        match &g.metric {
            ArmMetric::Rate {
                rate: Estimate::Measured(r),
                ..
            } => interval(c, name, "wilson", r.wilson_interval, pair(want, "wilson")),
            ArmMetric::Value {
                mean: Estimate::Measured(m),
                ..
            } => {
                c.close(name, "mean", m.mean, num(want, "mean"));
                c.close(name, "sd", m.standard_deviation, num(want, "sd"));
                interval(
                    c,
                    name,
                    "t interval",
                    m.t_interval,
                    pair(want, "t_interval"),
                );
            }
            other => c.fail(name, format!("{}: {other:?}", g.goal)),
        }
    }
}
