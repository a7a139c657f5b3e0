use serde_json::json;
use veer_filter::config::WireConfig;

use super::reach::{self, Source, Taking};
use super::*;
use crate::config::match_expr::parse;

/// Service `web` (v1 80 %, v2 20 %) with rules `beta` (header x-beta=1 -> v2) and `de`
/// (header x-country=de -> v1), and experiment `checkout` on German users.
fn wire() -> WireConfig {
    serde_json::from_value(json!({
        "services": [{
            "name": "web",
            "variants": [{"name": "v1", "cluster": "a"}, {"name": "v2", "cluster": "b"}],
            "split": {"v1": 8000, "v2": 2000},
            "rules": [
                {"name": "beta", "match": {"header": "x-beta", "equals": "1"}, "variant": "v2"},
                {"name": "de", "match": {"header": "x-country", "equals": "de"}, "variant": "v1"}
            ],
            "experiments": [{
                "id": "checkout", "segment": {"header": "x-lang", "equals": "fr"},
                "arms": [{"name": "a", "variant": "v1", "weight": 5000},
                         {"name": "b", "variant": "v2", "weight": 5000}]
            }]
        }]
    }))
    .unwrap()
}

fn names(w: &WireConfig) -> Vec<String> {
    w.services[0].rules.iter().map(|r| r.name.clone()).collect()
}

fn rule(name: &str, expr: &str, variant: &str) -> WireRule {
    new_rule(name, parse(expr).unwrap(), &Target::Variant(variant.into()))
}

/// Applies `edit` to `w` as planned on `w`, then checks its inverse takes the rules back to
/// exactly what they were.
fn apply_and_undo(w: &WireConfig, edit: &CohortEdit) -> WireConfig {
    let before = w.services[0].rules.clone();
    let mut after = w.clone();
    apply_planned(&mut after, "web", &before, edit).unwrap();
    veer_filter::Config::from_wire(&after).unwrap();
    let mut undone = after.clone();
    let now = undone.services[0].rules.clone();
    apply_planned(&mut undone, "web", &now, &edit.inverse()).unwrap();
    assert_eq!(undone.services[0].rules, before, "the inverse of {edit:?}");
    after
}

/// Each position puts a new rule where it says, the default last; each add is undone exactly.
#[test]
fn add_places_the_rule_where_asked_and_its_inverse_removes_it() {
    let w = wire();
    let cases = [
        (Position::Last, ["beta", "de", "new"]),
        (Position::First, ["new", "beta", "de"]),
        (Position::Before("de".into()), ["beta", "new", "de"]),
        (Position::After("beta".into()), ["beta", "new", "de"]),
        (Position::After("de".into()), ["beta", "de", "new"]),
    ];
    for (position, want) in cases {
        let edit = plan_add(
            &w.services[0],
            rule("new", "cookie:team=internal", "v2"),
            &position,
        )
        .unwrap();
        assert_eq!(names(&apply_and_undo(&w, &edit)), want, "{position:?}");
    }
}

/// Remove, move and set record what they need to be undone exactly: the rule as it was and
/// where.
#[test]
fn remove_move_and_set_are_undone_exactly() {
    let w = wire();
    let s = &w.services[0];
    let remove = plan_remove(s, "beta").unwrap();
    assert_eq!(names(&apply_and_undo(&w, &remove)), ["de"]);
    let down = plan_move(s, "beta", &Position::Last).unwrap().unwrap();
    assert_eq!(
        down,
        CohortEdit::Move {
            rule: "beta".into(),
            from: 0,
            to: 1
        }
    );
    assert_eq!(names(&apply_and_undo(&w, &down)), ["de", "beta"]);
    let up = plan_move(s, "de", &Position::Before("beta".into()))
        .unwrap()
        .unwrap();
    assert_eq!(names(&apply_and_undo(&w, &up)), ["de", "beta"]);
    let set = plan_set(
        s,
        "de",
        Some(parse("header:x-country^=d").unwrap()),
        Some(&Target::Variant("v2".into())),
    )
    .unwrap()
    .unwrap();
    let after = apply_and_undo(&w, &set);
    assert_eq!(after.services[0].rules[1].variant.as_deref(), Some("v2"));
    assert_eq!(
        after.services[0].rules[1].match_.prefix.as_deref(),
        Some("d")
    );
    let split = Target::parse_split("v1=90,v2=10").unwrap();
    let to_split = plan_set(s, "beta", None, Some(&split)).unwrap().unwrap();
    let after = apply_and_undo(&w, &to_split);
    assert_eq!(after.services[0].rules[0].variant, None);
    assert_eq!(
        after.services[0].rules[0].split,
        Some([("v1".to_owned(), 9000), ("v2".to_owned(), 1000)].into())
    );
}

/// A move to where the rule is, or a set to what it is, changes nothing: no edit.
#[test]
fn a_move_or_set_that_changes_nothing_is_no_edit() {
    let w = wire();
    let s = &w.services[0];
    assert_eq!(plan_move(s, "beta", &Position::First).unwrap(), None);
    assert_eq!(
        plan_move(s, "beta", &Position::Before("de".into())).unwrap(),
        None
    );
    let same = plan_set(s, "beta", Some(parse("header:x-beta=1").unwrap()), None).unwrap();
    assert_eq!(same, None);
}

/// Unknown rules and services, a taken name and a rule placed beside itself are refused with
/// what there is.
#[test]
fn bad_names_are_refused_with_what_there_is() {
    let w = wire();
    let s = &w.services[0];
    let err = plan_remove(s, "nope").unwrap_err().to_string();
    assert!(
        err.contains("no cohort rule \"nope\" (rules: beta, de)"),
        "{err}"
    );
    let err = plan_add(
        s,
        rule("x", "everyone", "v1"),
        &Position::After("nope".into()),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("no cohort rule \"nope\""), "{err}");
    let err = plan_add(s, rule("beta", "everyone", "v1"), &Position::Last)
        .unwrap_err()
        .to_string();
    assert!(err.contains("has a cohort rule \"beta\" already"), "{err}");
    let err = plan_move(s, "beta", &Position::After("beta".into()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("before or after itself"), "{err}");
    let err = rules_of(&w, "shop").unwrap_err().to_string();
    assert!(err.contains("no service \"shop\""), "{err}");
}

/// An edit planned on rules that changed since is refused as a conflict (exit code 5), and one
/// whose rule is not where it expects is too: nothing else is changed.
#[test]
fn an_edit_on_rules_that_changed_meanwhile_is_refused() {
    let w = wire();
    let planned = w.services[0].rules.clone();
    let edit = plan_remove(&w.services[0], "beta").unwrap();
    let mut changed = w.clone();
    changed.services[0].rules.reverse();
    let err = apply_planned(&mut changed.clone(), "web", &planned, &edit).unwrap_err();
    assert_eq!(err.exit_code(), 5, "{err}");
    let now = changed.services[0].rules.clone();
    let err = apply_planned(&mut changed, "web", &now, &edit).unwrap_err();
    assert_eq!(err.exit_code(), 5, "{err}");
    assert!(
        err.to_string().contains("not at position 1 as it was"),
        "{err}"
    );
}

/// `--split` reads percentages into basis points and refuses what is not a split.
#[test]
fn splits_parse_from_percentages() {
    assert_eq!(
        Target::parse_split("v1=90, v2=9.5,v3=0.5")
            .unwrap()
            .to_string(),
        "v1 90% | v2 9.5% | v3 0.5%"
    );
    for bad in ["v1", "v1=x", "v1=50,v1=50", "v1=101"] {
        assert!(Target::parse_split(bad).is_err(), "{bad}");
    }
}

fn checked(w: &WireConfig, at: usize) -> std::result::Result<(), String> {
    let config = veer_filter::Config::from_wire(w).unwrap();
    reach::check(&config, "web", at).map_err(|e| {
        assert_eq!(e.exit_code(), 3, "{e}");
        e.to_string()
    })
}

/// A rule that earlier rules provably take every request of is refused, naming them (also two
/// that only together cover it); so is a rule that would empty a later one. A rule that merely
/// overlaps is fine.
#[test]
fn unreachable_rules_are_refused_with_the_rules_that_cause_it() {
    let mut w = wire();
    let add = |w: &mut WireConfig, r: WireRule, at: usize| w.services[0].rules.insert(at, r);
    add(
        &mut w,
        rule("narrow", "header:x-beta=1 & cookie:team=internal", "v1"),
        2,
    );
    let err = checked(&w, 2).unwrap_err();
    assert!(
        err.contains("services[0].rules[2]: rule \"narrow\" can never match: rule \"beta\" (position 1) takes every request it would"),
        "{err}"
    );
    let mut w = wire();
    add(
        &mut w,
        rule("either", "header:x-beta=1 | header:x-country=de", "v1"),
        2,
    );
    let err = checked(&w, 2).unwrap_err();
    assert!(
        err.contains("rules \"beta\" (position 1) and \"de\" (position 2) together take"),
        "{err}"
    );
    let mut w = wire();
    add(&mut w, rule("all-beta", "header:x-beta", "v1"), 0);
    let err = checked(&w, 0).unwrap_err();
    assert!(
        err.contains(
            "would take every request of rule \"beta\" (position 2), which could then never match"
        ),
        "{err}"
    );
    let mut w = wire();
    add(&mut w, rule("overlap", "cookie:team=internal", "v1"), 0);
    checked(&w, 0).unwrap();
}

/// A rule takes from each experiment it may overlap (all of it when the segment lies within its
/// match) and from a canary split; not from an experiment an earlier rule already empties.
#[test]
fn what_a_rule_takes_from() {
    let takes = |expr: &str, at: usize, w: &mut WireConfig| {
        w.services[0].rules.insert(at, rule("new", expr, "v2"));
        let config = veer_filter::Config::from_wire(w).unwrap();
        reach::takes_from(&config, &w.services[0], at)
    };
    let exp = |all| Taking {
        source: Source::Experiment("checkout".into()),
        all,
    };
    let canary = |all| Taking {
        source: Source::Canary,
        all,
    };
    assert_eq!(
        takes("cookie:team=internal", 2, &mut wire()),
        [exp(false), canary(false)]
    );
    assert_eq!(
        takes("header:x-lang", 2, &mut wire()),
        [exp(true), canary(false)]
    );
    assert_eq!(takes("everyone", 2, &mut wire()), [exp(true), canary(true)]);
    let mut no_canary = wire();
    no_canary.services[0].split = [("v1".to_owned(), 10_000), ("v2".to_owned(), 0)].into();
    assert_eq!(
        takes("cookie:team=internal", 0, &mut no_canary),
        [exp(false)]
    );
    let mut emptied = wire();
    emptied.services[0]
        .rules
        .insert(0, rule("fr", "header:x-lang", "v1"));
    assert_eq!(
        takes("cookie:team=internal", 3, &mut emptied),
        [canary(false)]
    );
}

/// The history stores each edit as data and reads it back the same.
#[test]
fn edits_round_trip_through_json() {
    let w = wire();
    let s = &w.services[0];
    for edit in [
        plan_add(
            s,
            rule("new", "cookie:team=internal", "v2"),
            &Position::First,
        )
        .unwrap(),
        plan_remove(s, "de").unwrap(),
        plan_move(s, "de", &Position::First).unwrap().unwrap(),
        plan_set(s, "de", None, Some(&Target::Variant("v2".into())))
            .unwrap()
            .unwrap(),
    ] {
        let text = serde_json::to_string(&edit).unwrap();
        assert_eq!(
            serde_json::from_str::<CohortEdit>(&text).unwrap(),
            edit,
            "{text}"
        );
    }
}
