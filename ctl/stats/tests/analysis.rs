//! `analyze` as the CLI calls it: the verdict rules, the withheld verdicts of a failed split, the
//! Holm family, thin or degenerate data, and input errors that name their field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use std::collections::BTreeMap;
use veer_stats::power::MinimumEffect;
use veer_stats::srm::SrmOk;
use veer_stats::{
    analyze, Analysis, Arm, Decision, Direction, Estimate, Experiment, Goal, GoalData, KeepRunning,
    Mode, NotEnoughData, Settings, ValueData, Verdict,
};

/// An arm with one conversion goal "buy".
fn arm(name: &str, exposed: u64, bought: u64) -> Arm {
    Arm {
        name: name.into(),
        share: 1.0,
        exposed,
        goals: BTreeMap::from([("buy".to_owned(), GoalData::Converted(bought))]),
    }
}

fn goal(name: &str, minimum_effect: Option<f64>) -> Goal {
    Goal {
        name: name.into(),
        primary: false,
        direction: Direction::HigherIsBetter,
        minimum_effect: minimum_effect.map(MinimumEffect::Relative),
    }
}

fn experiment(arms: Vec<Arm>, minimum_effect: Option<f64>) -> Experiment {
    Experiment {
        control: "a".into(),
        arms,
        goals: vec![goal("buy", minimum_effect)],
        settings: Settings::default(),
    }
}

fn verdicts(a: &Analysis) -> Vec<Verdict> {
    match &a.decision {
        Decision::Judged { verdicts, .. } => verdicts.iter().map(|v| v.verdict.clone()).collect(),
        Decision::Withheld { .. } => panic!("verdicts withheld: {:?}", a.decision),
    }
}

fn only_verdict(e: &Experiment) -> Verdict {
    verdicts(&analyze(e).unwrap()).remove(0)
}

#[test]
fn a_clear_improvement_is_a_winner_and_a_clear_drop_a_loser() {
    let up = experiment(vec![arm("a", 5000, 500), arm("b", 5000, 650)], Some(0.1));
    assert_eq!(only_verdict(&up), Verdict::Winner);
    let down = experiment(vec![arm("a", 5000, 650), arm("b", 5000, 500)], Some(0.1));
    assert_eq!(only_verdict(&down), Verdict::Loser);
}

#[test]
fn lower_is_better_turns_fewer_conversions_into_a_win() {
    let mut e = experiment(vec![arm("a", 5000, 650), arm("b", 5000, 500)], None);
    e.goals[0].direction = Direction::LowerIsBetter;
    assert_eq!(only_verdict(&e), Verdict::Winner);
}

#[test]
fn equal_rates_past_the_planned_sample_are_no_detectable_difference() {
    let e = experiment(
        vec![arm("a", 40000, 4000), arm("b", 40000, 4020)],
        Some(0.1),
    );
    assert_eq!(only_verdict(&e), Verdict::NoDetectableDifference);
}

#[test]
fn before_the_planned_sample_it_says_how_many_users_and_days_remain() {
    let mut e = experiment(vec![arm("a", 1000, 100), arm("b", 1000, 104)], Some(0.1));
    e.settings.exposures_per_day = Some(500.0);
    let Verdict::KeepRunning(KeepRunning::NotSignificantYet(plan)) = only_verdict(&e) else {
        panic!("{:?}", only_verdict(&e));
    };
    assert!(plan.still_needed_arm > 10_000, "{plan:?}");
    let days = plan.days_remaining.unwrap();
    assert!(
        (days - plan.still_needed_arm as f64 / 250.0).abs() < 1e-9,
        "{plan:?}"
    );
}

#[test]
fn without_a_minimum_effect_only_a_significant_result_ends_the_experiment() {
    let e = experiment(vec![arm("a", 20000, 2000), arm("b", 20000, 2010)], None);
    assert_eq!(
        only_verdict(&e),
        Verdict::KeepRunning(KeepRunning::NoMinimumEffect)
    );
}

#[test]
fn fixed_horizon_reads_nothing_before_the_planned_sample_even_when_significant() {
    let mut e = experiment(vec![arm("a", 3000, 300), arm("b", 3000, 390)], Some(0.1));
    e.settings.mode = Mode::FixedHorizon;
    assert!(matches!(
        only_verdict(&e),
        Verdict::KeepRunning(KeepRunning::PlannedSampleNotReached(_))
    ));
    e.goals[0].minimum_effect = Some(MinimumEffect::Relative(0.3));
    assert_eq!(only_verdict(&e), Verdict::Winner);
}

#[test]
fn the_same_data_is_significant_at_a_fixed_horizon_before_it_is_always_valid() {
    // z ≈ 2.4: p ≈ 0.016 read once, but not enough evidence for a team that looks every day.
    let e = experiment(vec![arm("a", 2000, 200), arm("b", 2000, 252)], None);
    let a = analyze(&e).unwrap();
    let Estimate::Measured(effect) = &a.comparisons[0].effect else {
        panic!()
    };
    assert!(effect.fixed_horizon.p_value < 0.05, "{effect:?}");
    assert!(effect.always_valid.p_value > 0.05, "{effect:?}");
    assert!(
        effect.always_valid.difference_interval.lower
            < effect.fixed_horizon.difference_interval.lower
    );
    assert_eq!(
        verdicts(&a)[0],
        Verdict::KeepRunning(KeepRunning::NoMinimumEffect)
    );
}

#[test]
fn a_split_that_does_not_match_the_shares_withholds_every_verdict() {
    // 50/50 configured, 55/45 measured: p ≈ 2e-23.
    let e = experiment(vec![arm("a", 5500, 500), arm("b", 4500, 650)], Some(0.1));
    let a = analyze(&e)
        .unwrap()
        .with_likely_causes(["bots reach arm a".to_owned()]);
    let Decision::Withheld { srm, likely_causes } = &a.decision else {
        panic!("{:?}", a.decision);
    };
    assert!(srm.test().p_value() < 1e-10);
    assert_eq!(likely_causes, &["bots reach arm a"]);
    // The numbers are still reported, for the analyst who investigates.
    assert!(a.comparisons[0].effect.measured().is_some());
    let json = serde_json::to_value(&a).unwrap();
    assert!(json["decision"]["withheld"].get("verdicts").is_none());
}

#[test]
fn too_few_users_for_the_split_check_means_keep_running() {
    let e = experiment(vec![arm("a", 3, 0), arm("b", 3, 3)], None);
    let a = analyze(&e).unwrap();
    assert!(matches!(
        &a.decision,
        Decision::Judged {
            srm: SrmOk::TooFewUsers { .. },
            ..
        }
    ));
    assert_eq!(
        verdicts(&a)[0],
        Verdict::KeepRunning(KeepRunning::SrmNotCheckedYet)
    );
}

#[test]
fn holm_counts_every_arm_and_goal_and_keeps_goals_without_data_in_the_family() {
    let mut e = experiment(vec![arm("a", 5000, 500), arm("b", 5000, 580)], None);
    e.goals.push(goal("refund", None));
    for a in &mut e.arms {
        a.goals.insert("refund".into(), GoalData::Converted(0));
    }
    let a = analyze(&e).unwrap();
    assert_eq!(a.comparisons_in_family, 2);
    assert_eq!(a.planning_alpha, 0.025);
    let buy = a.comparisons[0].effect.measured().unwrap();
    for inference in [&buy.always_valid, &buy.fixed_horizon] {
        assert!((inference.p_value_holm - (2.0 * inference.p_value).min(1.0)).abs() < 1e-15);
    }
    assert_eq!(
        a.comparisons[1].effect,
        Estimate::NotEnoughData(NotEnoughData::NoVariance)
    );
}

#[test]
fn the_primary_goal_decides_and_a_losing_secondary_goal_is_named() {
    let mut e = experiment(vec![arm("a", 5000, 500), arm("b", 5000, 650)], Some(0.1));
    e.goals[0].primary = true;
    e.goals.push(Goal {
        direction: Direction::LowerIsBetter,
        ..goal("error", None)
    });
    e.arms[0]
        .goals
        .insert("error".into(), GoalData::Converted(100));
    e.arms[1]
        .goals
        .insert("error".into(), GoalData::Converted(200));
    let a = analyze(&e).unwrap();
    let Decision::Judged { arms, .. } = &a.decision else {
        panic!()
    };
    assert_eq!(arms.len(), 1);
    assert_eq!(
        (arms[0].arm.as_str(), &arms[0].verdict),
        ("b", &Verdict::Winner)
    );
    assert_eq!(arms[0].losing_goals, ["error"]);
}

#[test]
fn several_goals_and_none_primary_give_no_arm_verdict() {
    let mut e = experiment(vec![arm("a", 100, 10), arm("b", 100, 12)], None);
    e.goals.push(goal("other", None));
    for a in &mut e.arms {
        a.goals.insert("other".into(), GoalData::Converted(1));
    }
    let a = analyze(&e).unwrap();
    assert!(matches!(&a.decision, Decision::Judged { arms, .. } if arms.is_empty()));
}

/// Every number in the JSON is finite (serde_json writes NaN and ∞ as null, and the report uses
/// no nulls: optional fields are left out).
fn assert_no_null(v: &Value, path: &str) {
    match v {
        Value::Null => panic!("null (a NaN or ∞?) at {path}"),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| assert_no_null(x, &format!("{path}[{i}]"))),
        Value::Object(o) => o
            .iter()
            .for_each(|(k, x)| assert_no_null(x, &format!("{path}.{k}"))),
        _ => {}
    }
}

fn values_arm(name: &str, exposed: u64, values: Vec<f64>) -> Arm {
    Arm {
        name: name.into(),
        share: 1.0,
        exposed,
        goals: BTreeMap::from([(
            "buy".to_owned(),
            GoalData::Values(ValueData::PerUser(values)),
        )]),
    }
}

#[test]
fn thin_and_degenerate_data_give_typed_reasons_and_never_nan() {
    let cases: Vec<(&str, Vec<Arm>, NotEnoughData)> = vec![
        (
            "no exposures",
            vec![arm("a", 0, 0), arm("b", 0, 0)],
            NotEnoughData::NoExposures,
        ),
        (
            "control not exposed",
            vec![arm("a", 0, 0), arm("b", 10, 2)],
            NotEnoughData::NoExposures,
        ),
        (
            "nobody converts",
            vec![arm("a", 500, 0), arm("b", 500, 0)],
            NotEnoughData::NoVariance,
        ),
        (
            "everybody converts",
            vec![arm("a", 500, 500), arm("b", 480, 480)],
            NotEnoughData::NoVariance,
        ),
        (
            "one user each",
            vec![values_arm("a", 1, vec![5.0]), values_arm("b", 1, vec![7.0])],
            NotEnoughData::FewerThanTwoUsers,
        ),
        (
            "equal values",
            vec![
                values_arm("a", 3, vec![2.0; 3]),
                values_arm("b", 2, vec![2.0; 2]),
            ],
            NotEnoughData::NoVariance,
        ),
    ];
    for (name, arms, reason) in cases {
        let e = experiment(arms, Some(0.1));
        let a = analyze(&e).unwrap();
        assert_eq!(
            a.comparisons[0].effect,
            Estimate::NotEnoughData(reason),
            "{name}"
        );
        let json = serde_json::to_value(&a).unwrap();
        assert_no_null(&json, name);
        assert_eq!(
            verdicts(&a)[0],
            Verdict::KeepRunning(KeepRunning::NotEnoughData(reason)),
            "{name}"
        );
    }
}

#[test]
fn zero_against_all_still_compares_and_the_relative_change_says_why_it_is_missing() {
    let e = experiment(vec![arm("a", 200, 0), arm("b", 200, 200)], Some(0.1));
    let a = analyze(&e).unwrap();
    let effect = a.comparisons[0].effect.measured().unwrap();
    assert_eq!(
        effect.relative,
        Estimate::NotEnoughData(NotEnoughData::ControlIsZero)
    );
    assert!(effect.always_valid.p_value < 1e-10);
    assert_no_null(&serde_json::to_value(&a).unwrap(), "0 vs all");
}

#[test]
fn a_single_arm_has_no_comparisons() {
    let a = analyze(&experiment(vec![arm("a", 100, 10)], Some(0.1))).unwrap();
    assert!(a.comparisons.is_empty());
    assert!(
        matches!(&a.decision, Decision::Judged { srm: SrmOk::SingleArm, verdicts, .. } if verdicts.is_empty())
    );
    assert_no_null(&serde_json::to_value(&a).unwrap(), "single arm");
}

#[test]
fn missing_per_user_values_count_as_zero() {
    let sparse = values_arm("a", 4, vec![10.0]);
    let dense = values_arm("a", 4, vec![10.0, 0.0, 0.0, 0.0]);
    let other = values_arm("b", 4, vec![1.0, 2.0, 3.0, 4.0]);
    let a = analyze(&experiment(vec![sparse, other.clone()], None)).unwrap();
    let b = analyze(&experiment(vec![dense, other], None)).unwrap();
    assert_eq!(a.comparisons, b.comparisons);
}

#[test]
fn the_json_shape_is_tagged_and_readable() {
    let e = experiment(vec![arm("a", 1000, 100), arm("b", 1000, 104)], Some(0.1));
    let json = serde_json::to_value(analyze(&e).unwrap()).unwrap();
    let verdict = &json["decision"]["judged"]["verdicts"][0]["verdict"];
    assert_eq!(verdict["verdict"], "keep_running");
    assert!(verdict["because"]["not_significant_yet"]["still_needed_arm"].is_u64());
    assert!(json["decision"]["judged"]["srm"]["passed"]["p_value"].is_f64());
    let c = &json["comparisons"][0];
    assert!(c["effect"]["measured"]["always_valid"]["difference_interval"]["lower"].is_f64());
    assert_eq!(c["bayesian"]["measured"]["model"], "beta_binomial");
    assert_eq!(
        c["power"]["planned"]["always_valid"].get("days_remaining"),
        None
    );
}

#[test]
fn an_experiment_reads_from_json_with_defaults() {
    let e: Experiment = serde_json::from_value(json!({
        "control": "a",
        "arms": [
            {"name": "a", "share": 5000, "exposed": 100, "goals": {"buy": {"converted": 10}}},
            {"name": "b", "share": 5000, "exposed": 90, "goals": {"buy": {"converted": 12}}}
        ],
        "goals": [{"name": "buy", "minimum_effect": {"relative": 0.05}}]
    }))
    .unwrap();
    assert_eq!(e.settings, Settings::default());
    assert_eq!(
        e.goals[0].minimum_effect,
        Some(MinimumEffect::Relative(0.05))
    );
    assert!(analyze(&e).is_ok());
}

#[test]
fn bad_input_names_the_field_and_what_to_do() {
    let base = || experiment(vec![arm("a", 100, 10), arm("b", 100, 12)], None);
    type Breaks = Box<dyn Fn(&mut Experiment)>;
    let cases: Vec<(Breaks, &str)> = vec![
        (
            Box::new(|e| e.control = "z".into()),
            "control: no arm is named \"z\"",
        ),
        (
            Box::new(|e| e.arms[1].name = "a".into()),
            "arms: \"a\" appears more than once",
        ),
        (
            Box::new(|e| e.arms[0].share = -1.0),
            "arms.a.share: -1 is not a finite number >= 0",
        ),
        (
            Box::new(|e| e.arms.iter_mut().for_each(|a| a.share = 0.0)),
            "arms: every share is 0",
        ),
        (
            Box::new(|e| e.settings.alpha = 1.5),
            "settings.alpha: 1.5 is not between 0 and 1",
        ),
        (
            Box::new(|e| e.settings.power = 0.0),
            "settings.power: 0 is not between 0 and 1",
        ),
        (
            Box::new(|e| e.settings.exposures_per_day = Some(f64::NAN)),
            "settings.exposures_per_day",
        ),
        (
            Box::new(|e| {
                e.arms[1]
                    .goals
                    .insert("buy".into(), GoalData::Converted(101))
                    .map(drop)
                    .unwrap_or(())
            }),
            "arms.b.goals.buy: 101 users but only 100 exposed",
        ),
        (
            Box::new(|e| drop(e.arms[1].goals.remove("buy"))),
            "arms.b.goals: no data for goal \"buy\"",
        ),
        (
            Box::new(|e| {
                drop(
                    e.arms[1]
                        .goals
                        .insert("sell".into(), GoalData::Converted(1)),
                )
            }),
            "arms.b.goals.sell: no such goal",
        ),
        (
            Box::new(|e| e.goals[0].minimum_effect = Some(MinimumEffect::Absolute(0.0))),
            "goals.buy.minimum_effect: 0 is not a finite number > 0",
        ),
        (
            Box::new(|e| {
                e.goals.push(goal("buy", None));
            }),
            "goals: \"buy\" appears more than once",
        ),
        (
            Box::new(|e| {
                drop(e.arms[1].goals.insert(
                    "buy".into(),
                    GoalData::Values(ValueData::PerUser(vec![1.0])),
                ))
            }),
            "goals.buy: arm \"b\" gives values but arm \"a\" gives conversions",
        ),
        (
            Box::new(|e| {
                drop(e.arms[1].goals.insert(
                    "buy".into(),
                    GoalData::Values(ValueData::PerUser(vec![f64::INFINITY])),
                ))
            }),
            "value #0 is inf",
        ),
        (
            Box::new(|e| {
                drop(e.arms[1].goals.insert(
                    "buy".into(),
                    GoalData::Values(ValueData::Sums {
                        n: 2,
                        sum: 10.0,
                        sum_of_squares: 1.0,
                    }),
                ))
            }),
            "sum_of_squares 1 is below sum²/n = 50",
        ),
    ];
    for (break_it, message) in cases {
        let mut e = base();
        break_it(&mut e);
        let err = analyze(&e).expect_err(message).to_string();
        assert!(err.contains(message), "{err:?} lacks {message:?}");
    }
    let mut two_primaries = base();
    two_primaries.goals[0].primary = true;
    two_primaries.goals.push(Goal {
        primary: true,
        ..goal("other", None)
    });
    two_primaries
        .arms
        .iter_mut()
        .for_each(|a| drop(a.goals.insert("other".into(), GoalData::Converted(1))));
    let err = analyze(&two_primaries).unwrap_err().to_string();
    assert!(
        err.contains("\"buy\" and \"other\" are both primary"),
        "{err}"
    );
}

#[test]
fn an_effect_too_small_to_ever_detect_still_gives_finite_numbers() {
    let mut e = experiment(vec![arm("a", 1000, 100), arm("b", 1000, 120)], None);
    e.goals[0].minimum_effect = Some(MinimumEffect::Absolute(1e-200));
    let a = analyze(&e).unwrap();
    assert_no_null(&serde_json::to_value(&a).unwrap(), "tiny effect");
    let Verdict::KeepRunning(KeepRunning::NotSignificantYet(plan)) = verdicts(&a).remove(0) else {
        panic!("{:?}", a.decision);
    };
    assert_eq!(plan.planned_arm, u64::MAX);
    // The mixture falls back to the default tuning (10,000 users per arm).
    let effect = a.comparisons[0].effect.measured().unwrap();
    assert!(
        (effect.information_fraction - 0.1).abs() < 1e-12,
        "{effect:?}"
    );
}
