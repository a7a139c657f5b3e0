//! When a recorded run is continued, when a new one starts, and when neither is safe.

use super::*;

const NOW: &str = "2026-12-01T10:00:00Z";

/// A run of web v2 over 10, 30, 60 %, at step `index`, in `phase`.
fn run(index: usize, phase: Phase) -> RunState {
    let mut r = RunState::new("web", "v2", "v1", &[1000, 3000, 6000], false, NOW);
    r.begin(index, NOW);
    r.end(phase, NOW);
    r
}

fn asked(live_bp: i64) -> Requested<'static> {
    Requested {
        variant: "v2",
        steps: &[1000, 3000, 6000],
        promote: false,
        restart: false,
        live_bp,
    }
}

#[test]
fn nothing_recorded_or_an_ended_run_starts_afresh() {
    assert_eq!(start(None, asked(0)), Ok(Start::Fresh));
    for ended in [
        Phase::Promoted,
        Phase::Completed,
        Phase::RolledBack {
            reason: "p99".into(),
        },
    ] {
        assert_eq!(start(Some(run(1, ended)), asked(0)), Ok(Start::Fresh));
    }
}

/// A run killed at step 2 continues there, whether it was killed before or after setting the
/// step's weight; so does a halted one.
#[test]
fn a_run_that_did_not_end_continues_at_its_step() {
    for live in [1000, 3000] {
        let Ok(Start::Resume(r)) = start(Some(run(1, Phase::Running)), asked(live)) else {
            panic!("not resumed at {live}");
        };
        assert_eq!(r.step, 1);
        assert_eq!(r.position(), "2 of 3 (30%)");
    }
    let halted = run(
        2,
        Phase::Halted {
            reason: "hook".into(),
        },
    );
    assert!(matches!(
        start(Some(halted), asked(3000)),
        Ok(Start::Resume(_))
    ));
    // The first step: before it the canary had nothing.
    assert!(matches!(
        start(Some(run(0, Phase::Running)), asked(0)),
        Ok(Start::Resume(_))
    ));
}

/// Another variant or other steps, or a live weight the run did not leave, is refused with what
/// to do; --restart starts afresh.
#[test]
fn a_different_request_or_a_changed_split_is_refused_with_what_to_do() {
    let recorded = || Some(run(1, Phase::Running));
    let v3 = Requested {
        variant: "v3",
        ..asked(3000)
    };
    let err = start(recorded(), v3).unwrap_err();
    assert!(err.starts_with("a run of web v2 is recorded at step 2 of 3 (30%) (running, or stopped without a word), started 2026-12-01T10:00:00Z"), "{err}");
    assert!(
        err.contains("`veerctl canary run web v2 --steps 10,30,60`, or pass --restart"),
        "{err}"
    );
    let other_steps = Requested {
        steps: &[1000, 5000],
        ..asked(3000)
    };
    assert!(start(recorded(), other_steps).is_err());
    let err = start(recorded(), asked(0)).unwrap_err();
    assert!(
        err.contains("the live split gives v2 0% where the run left it at 30%"),
        "{err}"
    );
    assert!(err.contains("`veerctl canary abort web`"), "{err}");
    let restart = Requested {
        restart: true,
        ..v3
    };
    assert_eq!(start(recorded(), restart), Ok(Start::Fresh));
}

#[test]
fn a_record_round_trips_and_says_where_it_is() {
    let mut r = run(0, Phase::Running);
    r.pass(0, Vec::new(), NOW);
    r.pass(0, Vec::new(), NOW);
    assert_eq!(r.passed.len(), 1, "a step passed again is recorded once");
    r.begin(3, NOW);
    assert_eq!(r.position(), "promotion");
    assert_eq!(r.info(3).number, 3);
    assert_eq!(r.info(3).weight_bp, 6000);
    let text = serde_json::to_string(&r).unwrap();
    assert!(text.contains(r#""phase":{"state":"running"}"#), "{text}");
    let back: RunState = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
}
