//! The history as data: old files (entries with `what` only) load with their changes typed, and
//! the file stays bounded however large the config.

use std::path::PathBuf;

use serde_json::json;

use super::*;

/// A history file as veerctl wrote it before changes were recorded as data.
const WHAT_ONLY: &str = include_str!("../../testdata/history-what-only.json");

/// Service `web` with `n` extra services of `width` variants each, at `version`: a config whose
/// size grows with `n`.
fn config(version: u64, v2: i64, n: usize, width: usize) -> WireConfig {
    let mut services = vec![json!({
        "name": "web",
        "variants": [{"name": "v1", "cluster": "web_v1"}, {"name": "v2", "cluster": "web_v2"}],
        "split": {"v1": 10000 - v2, "v2": v2}
    })];
    for i in 0..n {
        let variants: Vec<_> = (0..width)
            .map(|v| json!({"name": format!("v{v}"), "cluster": format!("svc{i}_v{v}_cluster_with_a_long_name")}))
            .collect();
        services
            .push(json!({"name": format!("svc{i}"), "variants": variants, "split": {"v0": 10000}}));
    }
    serde_json::from_value(json!({"version": version, "services": services})).unwrap()
}

#[test]
fn an_old_history_with_only_what_loads_with_each_change_typed() {
    let entries: Vec<Entry> = serde_json::from_str(WHAT_ONLY).unwrap();
    let changes: Vec<&Change> = entries.iter().map(|e| &e.change).collect();
    assert_eq!(
        changes,
        [
            &Change::Apply {
                file: "deploy/web.json".into()
            },
            &Change::BluegreenSwitch {
                service: "web".into(),
                variant: "v2".into()
            },
            &Change::CanarySetWeight {
                service: "web".into(),
                variant: "v3".into(),
                bp: 1000
            },
            &Change::Restore {
                version: 2,
                rejected: 3
            },
            &Change::Other {
                what: "a change made by hand".into()
            },
        ]
    );
    assert!(entries[2].rejected);
    // Rollback finds the switch by its data, and the split before it from the whole config.
    let switch = last_switch(&entries, "web").unwrap();
    assert_eq!(switch.version, 2);
    let split: Vec<(&str, i64)> = switch
        .split_before("web")
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(split, [("v1", 10000), ("v2", 0), ("v3", 0)]);
    assert!(!entries[0].had_config_before());
    // Written again, an old entry keeps its text and gains its change as data.
    let again = serde_json::to_value(&entries[1]).unwrap();
    assert_eq!(again["what"], "bluegreen switch web v2");
    assert_eq!(again["change"]["kind"], "bluegreen-switch");
}

/// A rejected switch is not the one rolled back, and another service's switch is not either.
#[test]
fn the_switch_to_undo_is_the_last_accepted_one_of_that_service() {
    let switch = |service: &str, variant: &str| Change::BluegreenSwitch {
        service: service.into(),
        variant: variant.into(),
    };
    let wasm = Filter::Wasm(PathBuf::from("/opt/veer.wasm"));
    let before = config(1, 0, 0, 0);
    let mut entries = Vec::new();
    for (version, change) in [
        (2, switch("web", "v2")),
        (3, switch("web", "v1")),
        (4, switch("api", "v2")),
    ] {
        push(
            &mut entries,
            Entry::new(version, &change, Some((&before, &wasm)), &before),
        );
    }
    entries[1].rejected = true;
    assert_eq!(last_switch(&entries, "web").map(|e| e.version), Some(2));
    assert!(last_switch(&entries, "shop").is_none());
}

/// The case (20 changes of a config of several MB) and beyond: at most MAX_ENTRIES
/// entries, whole configs only in the last FULL_CONFIGS, each entry with the splits its change
/// altered (not the others), so the file stays near FULL_CONFIGS configs; and the split a rollback
/// needs survives in an old entry.
#[test]
fn the_history_is_bounded_and_old_entries_keep_the_splits_they_changed() {
    let wasm = Filter::Wasm(PathBuf::from("/opt/veer.wasm"));
    let mut current = config(1, 0, 300, 20);
    let config_size = serde_json::to_string(&current).unwrap().len();
    let mut entries = Vec::new();
    let mut switched = current.clone();
    switched.services[0].split = [("v1".into(), 0), ("v2".into(), 10000)].into();
    let switch = Change::BluegreenSwitch {
        service: "web".into(),
        variant: "v2".into(),
    };
    push(
        &mut entries,
        Entry::new(2, &switch, Some((&current, &wasm)), &switched),
    );
    current = switched;
    for version in 3..=(MAX_ENTRIES as i64 + 10) {
        let mut after = current.clone();
        after.services[1].split = [("v0".into(), 10000 - version), ("v1".into(), version)].into();
        let change = Change::CanarySetWeight {
            service: "svc0".into(),
            variant: "v1".into(),
            bp: version,
        };
        push(
            &mut entries,
            Entry::new(version as u64, &change, Some((&current, &wasm)), &after),
        );
        current = after;
        if version == 22 {
            // 20 changes after it, the switch keeps the split a rollback restores.
            let switch = last_switch(&entries, "web").unwrap();
            assert!(switch.before.is_none());
            assert_eq!(switch.split_before("web").unwrap()["v1"], 10000);
        }
    }
    assert_eq!(entries.len(), MAX_ENTRIES);
    let whole: Vec<bool> = entries.iter().map(|e| e.before.is_some()).collect();
    assert!(whole[..MAX_ENTRIES - FULL_CONFIGS].iter().all(|w| !w));
    assert!(whole[MAX_ENTRIES - FULL_CONFIGS..].iter().all(|w| *w));
    for e in &entries {
        assert_eq!(e.split_before("svc0").unwrap()["v1"], e.version as i64 - 1);
        assert!(
            e.split_before("svc299").is_none(),
            "an unchanged split is not kept"
        );
    }
    let file = serde_json::to_string(&entries).unwrap().len();
    assert!(
        file < (FULL_CONFIGS + 1) * config_size,
        "history is {file} bytes for a {config_size}-byte config"
    );
}
