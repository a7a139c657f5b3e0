//! Pure edits of a routing config: what `canary`, `bluegreen` and `experiment` commands change.
//! Each returns the edited config or says why it cannot; the caller validates and writes it.

use std::collections::BTreeMap;

use veer_filter::config::wire::{WireArm, WireExperiment, WireMatch, WireService};
use veer_filter::config::WireConfig;

use crate::error::{CliError, Result};

const ALL: i64 = 10_000;

/// Parses a percentage with at most two decimals (`20`, `20%`, `0.5`, `12.34`) into basis points.
pub fn percent_to_bp(text: &str) -> Result<i64> {
    let t = text.trim().trim_end_matches('%');
    let bad = || {
        CliError::failed(format!(
            "{text:?} is not a percentage between 0 and 100 with at most two decimals"
        ))
    };
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole
            .bytes()
            .chain(frac.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<2}").parse().map_err(|_| bad())?
    };
    let bp = whole * 100 + frac;
    if bp > ALL {
        return Err(bad());
    }
    Ok(bp)
}

/// Formats basis points as a percentage (`2000` -> `20%`, `50` -> `0.5%`).
pub fn bp_to_percent(bp: i64) -> String {
    let (w, f) = (bp / 100, bp % 100);
    match f {
        0 => format!("{w}%"),
        f if f % 10 == 0 => format!("{w}.{}%", f / 10),
        f => format!("{w}.{f:02}%"),
    }
}

/// A service's default split for people: `v1 80% | v2 20%`, in declaration order.
pub fn split_summary(s: &WireService) -> String {
    s.variants
        .iter()
        .map(|v| {
            format!(
                "{} {}",
                v.name,
                bp_to_percent(s.split.get(&v.name).copied().unwrap_or(0))
            )
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The service named `name`.
pub fn service_mut<'w>(wire: &'w mut WireConfig, name: &str) -> Result<&'w mut WireService> {
    let unknown = no_service(wire, name);
    wire.services
        .iter_mut()
        .find(|s| s.name == name)
        .ok_or(unknown)
}

/// The service named `name`, to read.
pub fn service<'w>(wire: &'w WireConfig, name: &str) -> Result<&'w WireService> {
    wire.services
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| no_service(wire, name))
}

/// There is no service `name` in `wire`: the services there are.
fn no_service(wire: &WireConfig, name: &str) -> CliError {
    let known: Vec<&str> = wire.services.iter().map(|s| s.name.as_str()).collect();
    CliError::failed(format!(
        "no service {name:?} in the live config (services: {})",
        known.join(", ")
    ))
}

/// Refuses a `variant` the service `s` does not have, naming those it has.
pub fn check_variant(s: &WireService, variant: &str) -> Result<()> {
    if s.variants.iter().any(|v| v.name == variant) {
        return Ok(());
    }
    let known: Vec<&str> = s.variants.iter().map(|v| v.name.as_str()).collect();
    Err(CliError::failed(format!(
        "service {:?} has no variant {variant:?} (variants: {})",
        s.name,
        known.join(", ")
    )))
}

/// The stable variant: the first declared.
pub fn stable(s: &WireService) -> Result<String> {
    s.variants
        .first()
        .map(|v| v.name.clone())
        .ok_or_else(|| CliError::failed(format!("service {:?} has no variants", s.name)))
}

/// Sets `variant` to `bp`; the difference is taken from or given to `from` (default: the stable
/// variant, or the variant with the most weight when `variant` is the stable one).
pub fn set_weight(
    wire: &mut WireConfig,
    service: &str,
    variant: &str,
    bp: i64,
    from: Option<&str>,
) -> Result<()> {
    let s = service_mut(wire, service)?;
    check_variant(s, variant)?;
    let donor = match from {
        Some(f) => {
            check_variant(s, f)?;
            f.to_owned()
        }
        None => {
            let st = stable(s)?;
            if st != variant {
                st
            } else {
                s.variants
                    .iter()
                    .filter(|v| v.name != variant)
                    .max_by_key(|v| s.split.get(&v.name).copied().unwrap_or(0))
                    .map(|v| v.name.clone())
                    .ok_or_else(|| {
                        CliError::failed(format!(
                            "service {service:?} has only one variant; nothing to shift"
                        ))
                    })?
            }
        }
    };
    if donor == variant {
        return Err(CliError::failed("--from must name another variant"));
    }
    let old = s.split.get(variant).copied().unwrap_or(0);
    let donor_old = s.split.get(&donor).copied().unwrap_or(0);
    let donor_new = donor_old - (bp - old);
    if donor_new < 0 {
        return Err(CliError::failed(format!(
            "{donor} has only {} to give, {variant} needs {} more; lower another variant first or pass --from",
            bp_to_percent(donor_old),
            bp_to_percent(bp - old)
        )));
    }
    s.split.insert(variant.to_owned(), bp);
    s.split.insert(donor, donor_new);
    Ok(())
}

/// Sends everything to `variant` (weights of others 0).
pub fn route_all_to(wire: &mut WireConfig, service: &str, variant: &str) -> Result<()> {
    let s = service_mut(wire, service)?;
    check_variant(s, variant)?;
    s.split = s
        .variants
        .iter()
        .map(|v| (v.name.clone(), if v.name == variant { ALL } else { 0 }))
        .collect();
    Ok(())
}

/// Promotes `variant`: all traffic to it, and it becomes the stable (first) variant.
pub fn promote(wire: &mut WireConfig, service: &str, variant: &str) -> Result<()> {
    route_all_to(wire, service, variant)?;
    let s = service_mut(wire, service)?;
    if let Some(i) = s.variants.iter().position(|v| v.name == variant) {
        let v = s.variants.remove(i);
        s.variants.insert(0, v);
    }
    Ok(())
}

/// Aborts a canary: all traffic back to the stable variant at once.
pub fn abort(wire: &mut WireConfig, service: &str) -> Result<String> {
    let st = stable(service_mut(wire, service)?)?;
    route_all_to(wire, service, &st)?;
    Ok(st)
}

/// Restores the default split of `service` to `earlier`, its split before a switch (`None`: the
/// service did not exist then).
pub fn restore_split(
    wire: &mut WireConfig,
    service: &str,
    earlier: Option<&BTreeMap<String, i64>>,
) -> Result<()> {
    let old = earlier.ok_or_else(|| {
        CliError::failed(format!(
            "service {service:?} did not exist before the switch"
        ))
    })?;
    service_mut(wire, service)?.split = old.clone();
    Ok(())
}

/// Parameters of a new experiment.
#[derive(Debug, Clone)]
pub struct NewExperiment {
    /// Experiment id.
    pub id: String,
    /// `NAME=VARIANT:PERCENT` arms.
    pub arms: Vec<String>,
    /// Segment matchers (all must match).
    pub segment: Vec<WireMatch>,
    /// Allocation in bp.
    pub allocation: i64,
    /// Salt (defaults to the id).
    pub salt: Option<String>,
    /// Goals it is judged on (declared in the config's `goals`).
    pub goals: Vec<String>,
    /// The goal that decides the verdict (one of `goals`).
    pub primary_goal: Option<String>,
}

/// Adds (or replaces) an experiment.
pub fn start_experiment(wire: &mut WireConfig, service: &str, e: NewExperiment) -> Result<()> {
    check_goals(wire, &e)?;
    let s = service_mut(wire, service)?;
    let mut arms = Vec::new();
    for a in &e.arms {
        let parsed = a
            .split_once('=')
            .and_then(|(name, rest)| rest.split_once(':').map(|(v, w)| (name, v, w)));
        let Some((name, variant, weight)) = parsed else {
            return Err(CliError::failed(format!(
                "arm {a:?} must look like NAME=VARIANT:PERCENT, e.g. treatment=v2:50"
            )));
        };
        arms.push(WireArm {
            name: name.into(),
            variant: variant.into(),
            weight: percent_to_bp(weight)?,
        });
    }
    let segment = match e.segment.len() {
        0 => None,
        1 => e.segment.into_iter().next(),
        _ => Some(WireMatch {
            all: Some(e.segment),
            ..WireMatch::default()
        }),
    };
    let exp = WireExperiment {
        id: e.id.clone(),
        segment,
        allocation: Some(e.allocation),
        arms,
        salt: e.salt,
        goals: e.goals,
        primary_goal: e.primary_goal,
    };
    match s.experiments.iter_mut().find(|x| x.id == e.id) {
        Some(existing) => *existing = exp,
        None => s.experiments.push(exp),
    }
    Ok(())
}

/// Every goal `e` names must be declared in the config, and its primary goal must be one of them.
fn check_goals(wire: &WireConfig, e: &NewExperiment) -> Result<()> {
    let declared: Vec<&str> = wire.goals.iter().map(|g| g.name.as_str()).collect();
    if let Some(unknown) = e.goals.iter().find(|g| !declared.contains(&g.as_str())) {
        return Err(CliError::failed(format!(
            "--goal {unknown:?}: the config declares no such goal ({}); add it under `goals` \
             with `veerctl apply -f FILE` first",
            if declared.is_empty() {
                "it declares none".to_owned()
            } else {
                format!("it declares {}", declared.join(", "))
            }
        )));
    }
    match &e.primary_goal {
        Some(p) if !e.goals.contains(p) => Err(CliError::failed(format!(
            "--primary-goal {p:?} is not one of the --goal options ({})",
            e.goals.join(", ")
        ))),
        _ => Ok(()),
    }
}

/// Removes an experiment.
pub fn stop_experiment(wire: &mut WireConfig, service: &str, id: &str) -> Result<()> {
    let s = service_mut(wire, service)?;
    let before = s.experiments.len();
    s.experiments.retain(|x| x.id != id);
    if s.experiments.len() == before {
        return Err(CliError::failed(format!(
            "service {service:?} has no experiment {id:?}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(split: &[(&str, i64)]) -> WireConfig {
        let text = serde_json::json!({
            "services": [{
                "name": "web",
                "variants": [{"name": "v1", "cluster": "a"}, {"name": "v2", "cluster": "b"}, {"name": "v3", "cluster": "c"}],
                "split": split.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect::<BTreeMap<_, _>>()
            }]
        });
        serde_json::from_value(text).unwrap()
    }

    fn split_of(w: &WireConfig) -> Vec<(String, i64)> {
        w.services[0]
            .split
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    #[test]
    fn percentages_parse_exactly_into_basis_points() {
        for (t, bp) in [
            ("20", 2000),
            ("20%", 2000),
            ("0.5", 50),
            ("12.34", 1234),
            ("100", 10000),
            ("0", 0),
        ] {
            assert_eq!(percent_to_bp(t).unwrap(), bp, "{t}");
        }
        for t in ["101", "-1", "1.234", "abc", "", ".5", "50.x"] {
            assert!(percent_to_bp(t).is_err(), "{t}");
        }
        assert_eq!(bp_to_percent(50), "0.5%");
        assert_eq!(bp_to_percent(1234), "12.34%");
    }

    #[test]
    fn set_weight_takes_from_the_stable_variant_by_default() {
        let mut w = wire(&[("v1", 8000), ("v2", 2000)]);
        set_weight(&mut w, "web", "v2", 5000, None).unwrap();
        assert_eq!(split_of(&w), [("v1".into(), 5000), ("v2".into(), 5000)]);
        set_weight(&mut w, "web", "v3", 1000, Some("v2")).unwrap();
        assert_eq!(
            split_of(&w),
            [
                ("v1".into(), 5000),
                ("v2".into(), 4000),
                ("v3".into(), 1000)
            ]
        );
        veer_filter::Config::from_wire(&w).unwrap();
    }

    #[test]
    fn set_weight_refuses_what_it_cannot_do() {
        let mut w = wire(&[("v1", 8000), ("v2", 2000)]);
        assert!(set_weight(&mut w, "web", "v2", 5000, Some("v3"))
            .unwrap_err()
            .to_string()
            .contains("v3 has only 0%"));
        assert!(set_weight(&mut w, "nope", "v2", 5000, None)
            .unwrap_err()
            .to_string()
            .contains("no service \"nope\""));
        assert!(set_weight(&mut w, "web", "v9", 5000, None)
            .unwrap_err()
            .to_string()
            .contains("no variant \"v9\""));
    }

    #[test]
    fn promote_makes_the_variant_stable_and_abort_returns_to_it() {
        let mut w = wire(&[("v1", 8000), ("v2", 2000)]);
        promote(&mut w, "web", "v2").unwrap();
        assert_eq!(w.services[0].variants[0].name, "v2");
        assert_eq!(w.services[0].split["v2"], 10000);
        set_weight(&mut w, "web", "v3", 1000, None).unwrap();
        assert_eq!(abort(&mut w, "web").unwrap(), "v2");
        assert_eq!(w.services[0].split["v3"], 0);
        assert_eq!(w.services[0].split["v2"], 10000);
    }

    #[test]
    fn experiments_start_and_stop() {
        let mut w = wire(&[("v1", 10000)]);
        let e = NewExperiment {
            id: "checkout".into(),
            arms: vec!["control=v1:50".into(), "one-click=v2:50".into()],
            segment: vec![crate::config::match_expr::parse("header:x-country=de").unwrap()],
            allocation: 2500,
            salt: None,
            goals: Vec::new(),
            primary_goal: None,
        };
        start_experiment(&mut w, "web", e).unwrap();
        veer_filter::Config::from_wire(&w).unwrap();
        assert_eq!(w.services[0].experiments[0].arms[1].weight, 5000);
        stop_experiment(&mut w, "web", "checkout").unwrap();
        assert!(w.services[0].experiments.is_empty());
        assert!(stop_experiment(&mut w, "web", "checkout").is_err());
    }

    /// Goals must be declared in the config, and the primary one must be among them; then the
    /// experiment is judged on them.
    #[test]
    fn experiment_goals_must_exist() {
        let mut w = wire(&[("v1", 10000)]);
        w.stickiness =
            serde_json::from_value(serde_json::json!({"sources": [{"cookie": "uid"}]})).unwrap();
        w.goals = vec![serde_json::from_value(
            serde_json::json!({"name": "purchase", "match": {"path_prefix": "/buy"}}),
        )
        .unwrap()];
        let start = |w: &mut WireConfig, goals: &[&str], primary: Option<&str>| {
            let e = NewExperiment {
                id: "checkout".into(),
                arms: vec!["a=v1:50".into(), "b=v2:50".into()],
                segment: Vec::new(),
                allocation: 10000,
                salt: None,
                goals: goals.iter().map(|g| (*g).to_owned()).collect(),
                primary_goal: primary.map(str::to_owned),
            };
            start_experiment(w, "web", e).map_err(|e| e.to_string())
        };
        let unknown = start(&mut w, &["purchase", "signup"], None).unwrap_err();
        assert!(
            unknown.contains("\"signup\": the config declares no such goal (it declares purchase)"),
            "{unknown}"
        );
        let primary = start(&mut w, &["purchase"], Some("signup")).unwrap_err();
        assert!(
            primary.contains("--primary-goal \"signup\" is not one of"),
            "{primary}"
        );
        assert!(w.services[0].experiments.is_empty(), "nothing was added");
        start(&mut w, &["purchase"], Some("purchase")).unwrap();
        let c = veer_filter::Config::from_wire(&w).unwrap();
        assert!(c.services[0].experiments[0].measured());
    }
}
