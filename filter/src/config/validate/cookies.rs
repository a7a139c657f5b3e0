//! Stickiness sources and the cookies Veer sets (the minted id, the marks).

use super::super::names::HeaderName;
use super::super::problems::{Collector, Path};
use super::super::wire::{WireAssignCookie, WireKeySource, WireStickiness};
use super::super::{AssignCookie, KeySource, Stickiness};

/// How long a minted id lives when the config does not say: a year.
const DEFAULT_ASSIGN_MAX_AGE: u64 = 365 * 24 * 3600;

pub(super) fn stickiness(
    w: Option<&WireStickiness>,
    path: &Path,
    out: &mut Collector,
) -> Option<Stickiness> {
    let Some(w) = w else {
        return Some(Stickiness::default());
    };
    let sources_path = path.field("sources");
    let sources: Vec<Option<KeySource>> = w
        .sources
        .iter()
        .enumerate()
        .map(|(i, s)| key_source(s, &sources_path.index(i), out))
        .collect();
    let sources: Option<Vec<KeySource>> = sources.into_iter().collect();
    let assign_cookie = match &w.assign_cookie {
        Some(c) => {
            let cookie = assign_cookie(c, &path.field("assign_cookie"), out);
            let is_source = w
                .sources
                .iter()
                .any(|s| s.cookie.as_deref() == Some(c.name.as_str()));
            if !is_source {
                out.report(
                    &path.field("assign_cookie").field("name"),
                    format!("cookie {:?} is not among the sources, so the id it carries would never be read back; add {{\"cookie\": {:?}}} to sources", c.name, c.name),
                );
                return None;
            }
            Some(cookie?)
        }
        None => None,
    };
    Some(Stickiness {
        sources: sources?,
        assign_cookie,
    })
}

pub(super) fn key_source(w: &WireKeySource, path: &Path, out: &mut Collector) -> Option<KeySource> {
    match (&w.header, &w.cookie, &w.query) {
        (Some(h), None, None) => {
            HeaderName::parse(h, &path.field("header"), out).map(KeySource::Header)
        }
        (None, Some(c), None) => cookie_name(c, &path.field("cookie"), out).map(KeySource::Cookie),
        (None, None, Some(q)) if !q.is_empty() => Some(KeySource::Query(q.clone())),
        (None, None, Some(_)) => {
            out.report(&path.field("query"), "query parameter name is empty");
            None
        }
        _ => {
            out.report(
                path,
                "a key source needs exactly one of header, cookie, query",
            );
            None
        }
    }
}

pub(super) fn cookie_name(name: &str, path: &Path, out: &mut Collector) -> Option<String> {
    let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(is_tchar) {
        out.report(path, format!("{name:?} is not a valid cookie name"));
        return None;
    }
    Some(name.to_owned())
}

pub(super) fn assign_cookie(
    w: &WireAssignCookie,
    path: &Path,
    out: &mut Collector,
) -> Option<AssignCookie> {
    let name = cookie_name(&w.name, &path.field("name"), out);
    let max_age = w.max_age_seconds.unwrap_or(DEFAULT_ASSIGN_MAX_AGE);
    let mut attributes = format!("; Max-Age={max_age}");
    let safe = |v: &str| {
        v.chars()
            .all(|c| c.is_ascii_graphic() && c != ';' && c != ',')
    };
    let cookie_path = w.path.as_deref().unwrap_or("/");
    if !cookie_path.starts_with('/') || !safe(cookie_path) {
        out.report(
            &path.field("path"),
            format!("{cookie_path:?} must start with '/' and contain no spaces, ';' or ','"),
        );
    }
    attributes.push_str(&format!("; Path={cookie_path}"));
    if let Some(domain) = &w.domain {
        if domain.is_empty() || !safe(domain) {
            out.report(
                &path.field("domain"),
                format!("{domain:?} is not a valid cookie domain"),
            );
        }
        attributes.push_str(&format!("; Domain={domain}"));
    }
    let same_site = w.same_site.as_deref().unwrap_or("Lax");
    match same_site {
        "Strict" | "Lax" => {}
        "None" if w.secure == Some(true) => {}
        "None" => out.report(
            &path.field("same_site"),
            "SameSite=None requires secure: true (browsers drop it otherwise)",
        ),
        other => out.report(
            &path.field("same_site"),
            format!("{other:?} must be one of Strict, Lax, None"),
        ),
    }
    if w.secure == Some(true) {
        attributes.push_str("; Secure");
    }
    if w.http_only.unwrap_or(true) {
        attributes.push_str("; HttpOnly");
    }
    attributes.push_str(&format!("; SameSite={same_site}"));
    Some(AssignCookie {
        name: name?,
        attributes,
    })
}
