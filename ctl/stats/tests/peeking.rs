//! Why always-valid is the default: seeded simulations of a team that looks at the report after
//! every batch of users and stops at the first verdict.
//!
//! - A/A (both arms convert at 10 %): stopping on the first "winner"/"loser" of the default
//!   (always-valid) analysis is wrong in at most alpha of the experiments, within sampling error;
//!   stopping on the first fixed-horizon p < alpha is wrong far more often, although each single
//!   fixed-horizon look is right (checked too: the last look alone is wrong about alpha of the
//!   time).
//! - A/B (10 % vs 13 %, the minimum effect): the always-valid analysis finds the winner before the
//!   planned sample in at least the planned 80 % of experiments, within sampling error, so the
//!   plan's "users still needed" is honest.
//!
//! Runs go through `analyze`, the same path as the CLI. Bounds are the nominal rate ± 3 standard
//! errors of a binomial proportion over the runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use veer_stats::power::MinimumEffect;
use veer_stats::{
    analyze, Arm, Decision, Estimate, Experiment, Goal, GoalData, Power, Settings, Verdict,
};

const ALPHA: f64 = 0.05;
/// Users per arm between two looks.
const BATCH: u64 = 200;

fn experiment(control: (u64, u64), arm: (u64, u64)) -> Experiment {
    let arm_data = |name: &str, (exposed, converted): (u64, u64)| Arm {
        name: name.into(),
        share: 1.0,
        exposed,
        goals: BTreeMap::from([("purchase".to_owned(), GoalData::Converted(converted))]),
    };
    Experiment {
        control: "a".into(),
        arms: vec![arm_data("a", control), arm_data("b", arm)],
        goals: vec![Goal {
            name: "purchase".into(),
            primary: true,
            direction: Default::default(),
            minimum_effect: Some(MinimumEffect::Relative(0.3)),
        }],
        settings: Settings {
            alpha: ALPHA,
            ..Settings::default()
        },
    }
}

/// What one look shows.
struct Look {
    /// The default analysis gives a winner or a loser.
    always_valid_verdict: Option<Verdict>,
    /// The fixed-horizon p-value is below alpha.
    fixed_significant: bool,
    /// Users per arm the always-valid plan asks for.
    planned: u64,
}

fn look(control: (u64, u64), arm: (u64, u64)) -> Look {
    let a = analyze(&experiment(control, arm)).unwrap();
    let c = &a.comparisons[0];
    let fixed_significant = match &c.effect {
        Estimate::Measured(e) => e.fixed_horizon.p_value < ALPHA,
        Estimate::NotEnoughData(_) => false,
    };
    let always_valid_verdict = match &a.decision {
        Decision::Judged { verdicts, .. } => Some(verdicts[0].verdict.clone())
            .filter(|v| matches!(v, Verdict::Winner | Verdict::Loser)),
        Decision::Withheld { .. } => None,
    };
    let planned = match &c.power {
        Power::Planned(p) => p.always_valid.planned_arm,
        _ => u64::MAX,
    };
    Look {
        always_valid_verdict,
        fixed_significant,
        planned,
    }
}

fn converted(rng: &mut fastrand::Rng, users: u64, rate: f64) -> u64 {
    (0..users).filter(|_| rng.f64() < rate).count() as u64
}

/// Upper edge of `rate` ± 3 binomial standard errors over `runs`.
fn upper(rate: f64, runs: usize) -> f64 {
    rate + 3.0 * (rate * (1.0 - rate) / runs as f64).sqrt()
}

#[test]
fn always_valid_keeps_false_positives_at_alpha_under_peeking_and_fixed_horizon_does_not() {
    const RUNS: usize = 2000;
    const LOOKS: u64 = 20;
    let mut rng = fastrand::Rng::with_seed(20170810);
    let (mut always_valid, mut peeking_fixed, mut last_look_fixed) = (0, 0, 0);
    for _ in 0..RUNS {
        let (mut c, mut a) = ((0, 0), (0, 0));
        let (mut av_stopped, mut fixed_stopped) = (false, false);
        for i in 1..=LOOKS {
            c = (c.0 + BATCH, c.1 + converted(&mut rng, BATCH, 0.10));
            a = (a.0 + BATCH, a.1 + converted(&mut rng, BATCH, 0.10));
            let l = look(c, a);
            av_stopped |= l.always_valid_verdict.is_some();
            fixed_stopped |= l.fixed_significant;
            if i == LOOKS && l.fixed_significant {
                last_look_fixed += 1;
            }
        }
        always_valid += usize::from(av_stopped);
        peeking_fixed += usize::from(fixed_stopped);
    }
    let rate = |n: usize| n as f64 / RUNS as f64;
    let bound = upper(ALPHA, RUNS);
    eprintln!(
        "A/A, {RUNS} runs, {LOOKS} looks: always-valid {:.3}, fixed with peeking {:.3}, \
         fixed at the last look only {:.3} (alpha {ALPHA}, bound {bound:.3})",
        rate(always_valid),
        rate(peeking_fixed),
        rate(last_look_fixed)
    );
    assert!(
        rate(always_valid) <= bound,
        "always-valid false positives {}",
        rate(always_valid)
    );
    assert!(
        rate(peeking_fixed) > bound,
        "peeking at fixed-horizon p {}",
        rate(peeking_fixed)
    );
    assert!(
        rate(last_look_fixed) <= bound,
        "one fixed look {}",
        rate(last_look_fixed)
    );
}

#[test]
fn always_valid_finds_the_minimum_effect_by_the_planned_sample_with_the_planned_power() {
    const RUNS: usize = 600;
    let mut rng = fastrand::Rng::with_seed(1979);
    let mut found = 0;
    for _ in 0..RUNS {
        let (mut c, mut a) = ((0, 0), (0, 0));
        loop {
            c = (c.0 + BATCH, c.1 + converted(&mut rng, BATCH, 0.10));
            a = (a.0 + BATCH, a.1 + converted(&mut rng, BATCH, 0.13));
            let l = look(c, a);
            if let Some(v) = l.always_valid_verdict {
                found += usize::from(v == Verdict::Winner);
                break;
            }
            if a.0 >= l.planned {
                break;
            }
        }
    }
    let power = found as f64 / RUNS as f64;
    let floor = 0.8 - 3.0 * (0.8 * 0.2 / RUNS as f64).sqrt();
    eprintln!(
        "10 % vs 13 %, {RUNS} runs: winner by the planned sample in {power:.3} (floor {floor:.3})"
    );
    assert!(power >= floor, "power {power}");
}
