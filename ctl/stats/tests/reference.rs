//! Every formula against an independent implementation: tests/reference/reference.py computes a
//! table of cases with SciPy and statsmodels (pinned in tests/reference/requirements.txt,
//! installed into the project's .venv by `make stats-reference`), and where no library has the
//! method (the mixture SPRT, the Bayesian numbers) by numerical integration of the published
//! definition. This test runs it and compares each number to 1e-9 relative.
//!
//! Without the venv the test fails and says how to make it; it never skips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use veer_stats::bayes::{self, Posterior};
use veer_stats::dist::normal_isf;
use veer_stats::means::{self, ValueStats, Welch};
use veer_stats::proportion::{self, Counts};
use veer_stats::sequential::{self, Mixture};
use veer_stats::srm::{self, ArmExposure, SrmOk, SrmTest};
use veer_stats::{analyze, holm, power, Experiment};

#[path = "reference/analysis.rs"]
mod reference_analysis;

/// Relative tolerance; the absolute floor covers values that are 0 in exact arithmetic.
const RTOL: f64 = 1e-9;
const ATOL: f64 = 1e-13;

/// Collects every mismatch so one run shows them all.
#[derive(Default)]
pub struct Checker {
    failures: Vec<String>,
    compared: usize,
}

impl Checker {
    pub fn close(&mut self, case: &str, what: &str, got: f64, want: f64) {
        self.compared += 1;
        let ok = (got - want).abs() <= RTOL * want.abs() + ATOL;
        if !ok {
            let rel = (got - want).abs() / want.abs().max(f64::MIN_POSITIVE);
            self.failures.push(format!(
                "{case}: {what}: got {got:e}, reference {want:e} (relative error {rel:e})"
            ));
        }
    }

    pub fn equal(&mut self, case: &str, what: &str, got: u64, want: u64) {
        self.compared += 1;
        if got != want {
            self.failures
                .push(format!("{case}: {what}: got {got}, reference {want}"));
        }
    }

    pub fn fail(&mut self, case: &str, what: String) {
        self.failures.push(format!("{case}: {what}"));
    }
}

/// A number from the reference JSON (a missing field is a broken reference script: panic).
pub fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("reference lacks number {key:?} in {v}"))
}

/// A two-number list from the reference JSON.
pub fn pair(v: &Value, key: &str) -> (f64, f64) {
    (v[key][0].as_f64().unwrap(), v[key][1].as_f64().unwrap())
}

fn counts(v: &Value) -> Counts {
    Counts {
        converted: v[0].as_u64().unwrap(),
        exposed: v[1].as_u64().unwrap(),
    }
}

fn reference() -> Value {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = crate_dir.join("../../.venv/bin/python");
    let script = crate_dir.join("tests/reference/reference.py");
    assert!(
        python.exists(),
        "{} does not exist: run `make stats-reference` (it installs the pinned SciPy and \
         statsmodels this test compares against into the project's .venv)",
        python.display()
    );
    let out = Command::new(&python)
        .arg(&script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "{} failed (run `make stats-reference` to install its packages):\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reference.py prints JSON")
}

#[test]
fn every_formula_matches_scipy_and_statsmodels() {
    let reference = reference();
    let mut check = Checker::default();
    let mut kinds = BTreeSet::new();
    for case in reference["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().unwrap();
        let kind = case["kind"].as_str().unwrap();
        kinds.insert(kind.to_owned());
        let (input, expect) = (&case["input"], &case["expect"]);
        match kind {
            "wilson" | "z_test" | "difference_interval" | "ratio_interval" => {
                rates(&mut check, name, kind, input, expect)
            }
            "welch" | "mean_interval" => values(&mut check, name, kind, input, expect),
            "srm" => srm_case(&mut check, name, input, expect),
            "holm" => holm_case(&mut check, name, input, expect),
            "mixture_tuning" | "always_valid_p" | "always_valid_multiplier" => {
                sequential_case(&mut check, name, kind, input, expect)
            }
            "bayes_rates" | "bayes_means" => bayes_case(&mut check, name, kind, input, expect),
            "power_rates" | "power_means" => power_case(&mut check, name, kind, input, expect),
            "analysis" => {
                let experiment: Experiment =
                    serde_json::from_value(input.clone()).expect("the case is an Experiment");
                let analysis = analyze(&experiment).expect("the case is valid");
                reference_analysis::check(&mut check, name, &analysis, expect);
            }
            other => panic!("unknown reference kind {other:?}"),
        }
    }
    let expected_kinds = [
        "wilson",
        "z_test",
        "difference_interval",
        "ratio_interval",
        "welch",
        "mean_interval",
        "srm",
        "holm",
        "mixture_tuning",
        "always_valid_p",
        "always_valid_multiplier",
        "bayes_rates",
        "bayes_means",
        "power_rates",
        "power_means",
        "analysis",
    ];
    for k in expected_kinds {
        assert!(kinds.contains(k), "the reference has no {k:?} case");
    }
    assert!(
        check.failures.is_empty(),
        "{} of {} numbers differ from the reference ({}):\n{}",
        check.failures.len(),
        check.compared,
        reference["versions"],
        check.failures.join("\n")
    );
    eprintln!("{} numbers match {}", check.compared, reference["versions"]);
}

fn rates(check: &mut Checker, name: &str, kind: &str, input: &Value, expect: &Value) {
    let alpha = num(input, "alpha");
    let z = normal_isf(alpha / 2.0);
    let result = match kind {
        "wilson" => proportion::wilson(counts(&input["counts"]), alpha),
        _ => {
            let (c, a) = (counts(&input["control"]), counts(&input["arm"]));
            match kind {
                "z_test" => {
                    let stat = proportion::z_statistic(c, a).unwrap();
                    check.close(name, "z", stat, num(expect, "z"));
                    let p = proportion::z_test_p_value(c, a).unwrap();
                    check.close(name, "p", p, num(expect, "p"));
                    return;
                }
                "difference_interval" => proportion::difference_scale(c, a).map(|s| s.interval(z)),
                _ => proportion::ratio_scale(c, a).map(|s| s.interval(z)),
            }
        }
    };
    match result {
        Ok(i) => {
            check.close(name, "lower", i.lower, num(expect, "lower"));
            check.close(name, "upper", i.upper, num(expect, "upper"));
        }
        Err(e) => check.fail(name, format!("not computed: {e:?}")),
    }
}

/// The same values three ways: every value, the non-zero ones plus a count of zeros, and sums.
fn value_stats(v: &Value) -> [ValueStats; 2] {
    let nonzero: Vec<f64> = serde_json::from_value(v["nonzero"].clone()).unwrap();
    let zeros = v["zeros"].as_u64().unwrap();
    [
        ValueStats::from_values(&nonzero, zeros),
        ValueStats::from_sums(
            v["n"].as_u64().unwrap(),
            num(v, "sum"),
            num(v, "sum_of_squares"),
            zeros,
        ),
    ]
}

fn values(check: &mut Checker, name: &str, kind: &str, input: &Value, expect: &Value) {
    let alpha = num(input, "alpha");
    if kind == "mean_interval" {
        for (how, s) in ["per user", "sums"]
            .iter()
            .zip(value_stats(&input["values"]))
        {
            let name = &format!("{name} ({how})");
            check.close(name, "mean", s.mean, num(expect, "mean"));
            check.close(name, "sd", s.variance().unwrap().sqrt(), num(expect, "sd"));
            let i = s.interval(alpha).unwrap();
            check.close(name, "lower", i.lower, num(expect, "lower"));
            check.close(name, "upper", i.upper, num(expect, "upper"));
        }
        return;
    }
    let controls = value_stats(&input["control"]);
    let arms = value_stats(&input["arm"]);
    for ((how, c), a) in ["per user", "sums"].iter().zip(&controls).zip(&arms) {
        let name = &format!("{name} ({how})");
        let w = Welch::test(c, a).unwrap();
        check.close(name, "t", w.t, num(expect, "t"));
        check.close(name, "p", w.p_value, num(expect, "p"));
        check.close(name, "df", w.degrees_of_freedom, num(expect, "df"));
        check.close(name, "se", w.standard_error, num(expect, "se"));
        let i = w.interval(alpha);
        check.close(name, "lower", i.lower, num(expect, "lower"));
        check.close(name, "upper", i.upper, num(expect, "upper"));
        let r = means::relative_scale(c, a)
            .unwrap()
            .interval(normal_isf(alpha / 2.0));
        check.close(name, "relative lower", r.lower, num(expect, "rel_lower"));
        check.close(name, "relative upper", r.upper, num(expect, "rel_upper"));
    }
}

fn srm_case(check: &mut Checker, name: &str, input: &Value, expect: &Value) {
    let names = ["a", "b", "c", "d"];
    let exposures: Vec<ArmExposure<'_>> = input["exposed"]
        .as_array()
        .unwrap()
        .iter()
        .zip(input["shares"].as_array().unwrap())
        .zip(names)
        .map(|((n, s), arm)| ArmExposure {
            arm,
            share: s.as_f64().unwrap(),
            exposed: n.as_u64().unwrap(),
        })
        .collect();
    let test: SrmTest = match srm::check(&exposures) {
        Ok(SrmOk::Passed(p)) => p.test().clone(),
        Err(f) => f.test().clone(),
        Ok(other) => return check.fail(name, format!("no test: {other:?}")),
    };
    check.close(name, "chi2", test.chi_square(), num(expect, "chi2"));
    check.close(name, "p", test.p_value(), num(expect, "p"));
}

fn holm_case(check: &mut Checker, name: &str, input: &Value, expect: &Value) {
    let p: Vec<f64> = serde_json::from_value(input["p"].clone()).unwrap();
    let want: Vec<f64> = serde_json::from_value(expect["adjusted"].clone()).unwrap();
    for (i, (got, want)) in holm::adjust(&p).iter().zip(want).enumerate() {
        check.close(name, &format!("adjusted[{i}]"), *got, want);
    }
}

fn sequential_case(check: &mut Checker, name: &str, kind: &str, input: &Value, expect: &Value) {
    match kind {
        "mixture_tuning" => {
            let m = Mixture::tuned(num(input, "alpha"));
            check.close(
                name,
                "y",
                m.tau_squared_over_planned_variance,
                num(expect, "y"),
            );
            check.close(
                name,
                "critical",
                m.critical_at_plan(),
                num(expect, "critical"),
            );
        }
        "always_valid_p" => {
            let p = sequential::p_value(num(input, "z"), num(input, "r"));
            check.close(name, "p", p, num(expect, "p"));
        }
        _ => {
            let m = sequential::multiplier(num(input, "r"), num(input, "alpha"));
            check.close(name, "multiplier", m, num(expect, "multiplier"));
        }
    }
}

fn bayes_case(check: &mut Checker, name: &str, kind: &str, input: &Value, expect: &Value) {
    let got = if kind == "bayes_means" {
        bayes::means(num(input, "d"), num(input, "se"), true)
    } else {
        let post = |v: &Value| Posterior {
            alpha: v[0].as_f64().unwrap(),
            beta: v[1].as_f64().unwrap(),
        };
        let (c, a) = (post(&input["control"]), post(&input["arm"]));
        bayes::Bayesian {
            model: bayes::Model::BetaBinomial,
            chance_to_beat_control: bayes::probability_greater(a, c),
            expected_loss: bayes::expected_loss(a, c),
            expected_loss_of_control: bayes::expected_loss(c, a),
        }
    };
    check.close(
        name,
        "chance to beat",
        got.chance_to_beat_control,
        num(expect, "beat"),
    );
    check.close(
        name,
        "expected loss",
        got.expected_loss,
        num(expect, "loss"),
    );
    check.close(
        name,
        "loss of control",
        got.expected_loss_of_control,
        num(expect, "loss_control"),
    );
}

fn power_case(check: &mut Checker, name: &str, kind: &str, input: &Value, expect: &Value) {
    let (alpha, pw, k) = (
        num(input, "alpha"),
        num(input, "power"),
        num(input, "control_per_arm"),
    );
    let effect = num(input, "effect");
    let fixed = normal_isf(alpha / 2.0);
    if kind == "power_means" {
        let n = power::means(num(input, "sd"), effect, k, fixed, pw).unwrap();
        check.close(name, "fixed n", n.arm, num(expect, "fixed_arm"));
        return;
    }
    let pc = num(input, "control_rate");
    let n = power::rates(pc, effect, k, fixed, pw).unwrap();
    check.close(name, "fixed n", n.arm, num(expect, "fixed_arm"));
    let critical = Mixture::tuned(alpha).critical_at_plan();
    let n = power::rates(pc, effect, k, critical, pw).unwrap();
    check.close(
        name,
        "always-valid n",
        n.arm,
        num(expect, "always_valid_arm"),
    );
}
