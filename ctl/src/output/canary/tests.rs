//! The panel, a step's line and a recorded run, as the user sees them (insta snapshots).

use super::*;
use crate::progressive::condition::Condition;
use crate::progressive::gates::{Action, Unit};

const T0: &str = "2026-12-01T10:00:00Z";
const T1: &str = "2026-12-01T10:01:00Z";

fn readings() -> Vec<Reading> {
    vec![
        Reading::of(
            "requests",
            812.0,
            Unit::Requests,
            Condition::AtLeast(100.0),
            Action::Halt,
        ),
        Reading {
            detail: Some("3 of 812 requests answered 5xx".into()),
            ..Reading::of(
                "error-rate",
                0.369,
                Unit::Percent,
                Condition::AtMost(1.0),
                Action::Rollback,
            )
        },
        Reading {
            detail: Some("over 800 responses".into()),
            ..Reading::of(
                "p99",
                612.0,
                Unit::Ms,
                Condition::AtMost(500.0),
                Action::Rollback,
            )
        },
        Reading::without(
            "p99-increase",
            Unit::Change,
            Condition::AtMost(20.0),
            Verdict::NoData,
            "stable variant: 2 of the 100 latency samples needed".into(),
        ),
        Reading {
            detail: Some("of 812 split requests, p=0.62".into()),
            ..Reading::of(
                "split",
                31.2,
                Unit::Percent,
                Condition::Between(22.5, 37.5),
                Action::Halt,
            )
        },
        Reading::of(
            "error-ratio",
            0.004,
            Unit::Number,
            Condition::Below(0.01),
            Action::Rollback,
        ),
    ]
}

fn run(step: usize, phase: Phase) -> RunState {
    let mut r = RunState::new("web", "v2", "v1", &[1000, 3000, 6000], true, T0);
    for i in 0..step {
        r.pass(i, readings()[..2].to_vec(), T1);
    }
    r.begin(step, T1);
    r.end(phase, T1);
    r
}

#[test]
fn the_live_panel() {
    let weights: BTreeMap<String, i64> = [("v1".to_owned(), 7000), ("v2".to_owned(), 3000)].into();
    let r = run(1, Phase::Running);
    let readings = readings();
    let p = Panel {
        run: &r,
        activity: "watching",
        weights: &weights,
        readings: &readings,
    };
    insta::assert_snapshot!("panel-plain", panel(&p, false));
    insta::assert_snapshot!("panel-colour", panel(&p, true));
    let empty = Panel { readings: &[], ..p };
    assert!(panel(&empty, false).ends_with("  gates    not read yet\n"));
}

#[test]
fn the_line_of_a_step() {
    let r = readings();
    insta::assert_snapshot!(summary("v2", "30%", &r), @"v2 at 30%: 0.37% 5xx (3 of 812 requests), within --max-error-rate 1%; p99 612 ms (over 800 responses), breaking --max-p99; p99-increase: stable variant: 2 of the 100 latency samples needed; the split fits its weights (31.20% of 812 split requests, p=0.62); error-ratio 0.004, within < 0.01");
}

#[test]
fn a_recorded_run() {
    insta::assert_snapshot!(
        "run-halted",
        run_status(
            &run(
                1,
                Phase::Halted {
                    reason: "the before-step hook load-test answered 503".into()
                }
            ),
            false
        )
    );
    insta::assert_snapshot!("run-promoted", run_status(&run(3, Phase::Promoted), false));
    let rolled = run_status(
        &run(
            0,
            Phase::RolledBack {
                reason: "p99".into(),
            },
        ),
        false,
    );
    assert!(
        rolled.contains("steps    ✖ 10%  ○ 30%  ○ 60%  ○ promote"),
        "{rolled}"
    );
    assert!(!rolled.contains("continue with"), "{rolled}");
}
