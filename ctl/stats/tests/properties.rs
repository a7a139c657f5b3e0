//! Any input, however thin or odd: `analyze` does not panic, every number it reports is finite
//! (the JSON has no null, which is what NaN and ∞ become), and the numbers keep their meaning:
//! probabilities in [0, 1], intervals ordered, Holm never lowers a p-value, losses not negative.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;
use veer_stats::power::MinimumEffect;
use veer_stats::{
    analyze, Analysis, Arm, Direction, Estimate, Experiment, Goal, GoalData, Inference, Mode,
    Settings, ValueData,
};

fn goal_data(exposed: u64, kind: u8, seed: u64) -> GoalData {
    let mut rng = fastrand::Rng::with_seed(seed);
    match kind {
        0 => GoalData::Converted(rng.u64(0..=exposed)),
        1 => {
            let n = rng.u64(0..=exposed.min(30)) as usize;
            let values = (0..n).map(|_| (rng.f64() * 200.0 - 20.0).round()).collect();
            GoalData::Values(ValueData::PerUser(values))
        }
        _ => {
            let values: Vec<f64> = (0..rng.u64(0..=exposed.min(30)))
                .map(|_| rng.f64() * 50.0)
                .collect();
            GoalData::Values(ValueData::Sums {
                n: values.len() as u64,
                sum: values.iter().sum(),
                sum_of_squares: values.iter().map(|v| v * v).sum(),
            })
        }
    }
}

prop_compose! {
    fn experiments()(
        arms in prop::collection::vec((0u8..6, 0u64..3000), 1..5),
        kinds in prop::collection::vec(0u8..3, 1..4),
        seed in any::<u64>(),
        alpha in 0.001f64..0.3,
        power in 0.5f64..0.99,
        fixed in any::<bool>(),
        effects in prop::collection::vec(prop::option::of((any::<bool>(), 0.001f64..2.0)), 3),
        per_day in prop::option::of(0.0f64..1e5),
    ) -> Experiment {
        let goals: Vec<Goal> = kinds.iter().enumerate().map(|(i, _)| Goal {
            name: format!("g{i}"),
            primary: i == 0,
            direction: if i == 1 { Direction::LowerIsBetter } else { Direction::HigherIsBetter },
            minimum_effect: effects[i].map(|(rel, x)| if rel {
                MinimumEffect::Relative(x)
            } else {
                MinimumEffect::Absolute(x / 10.0)
            }),
        }).collect();
        let arms = arms.iter().enumerate().map(|(a, &(share, exposed))| Arm {
            name: format!("arm{a}"),
            share: f64::from(share),
            exposed,
            goals: kinds.iter().enumerate().map(|(g, &kind)| {
                (format!("g{g}"), goal_data(exposed, kind, seed ^ (a as u64 * 31 + g as u64)))
            }).collect::<BTreeMap<_, _>>(),
        }).collect();
        Experiment {
            control: "arm0".into(),
            arms,
            goals,
            settings: Settings {
                alpha,
                power,
                mode: if fixed { Mode::FixedHorizon } else { Mode::AlwaysValid },
                exposures_per_day: per_day,
                ..Settings::default()
            },
        }
    }
}

fn no_null(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => a.iter().all(no_null),
        Value::Object(o) => o.values().all(no_null),
        _ => true,
    }
}

fn probability(p: f64) -> bool {
    (0.0..=1.0).contains(&p)
}

fn inference_ok(i: &Inference) -> bool {
    let relative_ordered = match i.relative_interval {
        Estimate::Measured(r) => r.lower <= r.upper,
        Estimate::NotEnoughData(_) => true,
    };
    probability(i.p_value)
        && probability(i.p_value_holm)
        && i.p_value_holm >= i.p_value
        && i.difference_interval.lower <= i.difference_interval.upper
        && relative_ordered
}

fn meaningful(a: &Analysis) -> bool {
    a.comparisons.iter().all(|c| {
        let effect = match &c.effect {
            Estimate::Measured(e) => {
                inference_ok(&e.always_valid) && inference_ok(&e.fixed_horizon)
            }
            Estimate::NotEnoughData(_) => true,
        };
        let bayes = match &c.bayesian {
            Estimate::Measured(b) => {
                probability(b.chance_to_beat_control)
                    && b.expected_loss >= 0.0
                    && b.expected_loss_of_control >= 0.0
            }
            Estimate::NotEnoughData(_) => true,
        };
        effect && bayes
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_input_gives_finite_meaningful_numbers_or_a_clear_error(e in experiments()) {
        match analyze(&e) {
            Ok(a) => {
                let json = serde_json::to_value(&a).unwrap();
                prop_assert!(no_null(&json), "a null in {json}");
                prop_assert!(meaningful(&a), "{a:?}");
            }
            Err(err) => prop_assert!(err.to_string().contains(':'), "{err}"),
        }
    }
}
