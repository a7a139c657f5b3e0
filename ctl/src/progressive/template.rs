//! A gate's query template: the team's own PromQL with `{{ service }}`, `{{ variant }}`,
//! `{{ stable }}`, `{{ namespace }}` and `{{ window }}` in it, as Flagger's metric templates take
//! `{{ namespace }}` and `{{ interval }}`. Checked when the gate file is read (an unknown or
//! unclosed placeholder is an error with its line), filled in at each evaluation.

use std::time::Duration;

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// The service's name.
    Service,
    /// The canary variant.
    Variant,
    /// The stable variant.
    Stable,
    /// The Kubernetes namespace (or the gate file's `namespace`).
    Namespace,
    /// How long the step has been live, as a PromQL duration (`90s`).
    Window,
}

const NAMES: [(&str, Placeholder); 5] = [
    ("service", Placeholder::Service),
    ("variant", Placeholder::Variant),
    ("stable", Placeholder::Stable),
    ("namespace", Placeholder::Namespace),
    ("window", Placeholder::Window),
];

/// A query split into text and placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Hole(Placeholder),
}

/// The values a template is filled with.
#[derive(Debug, Clone)]
pub struct Values<'a> {
    /// `{{ service }}`.
    pub service: &'a str,
    /// `{{ variant }}`.
    pub variant: &'a str,
    /// `{{ stable }}`.
    pub stable: &'a str,
    /// `{{ namespace }}` (checked present when the run starts, if a template uses it).
    pub namespace: Option<&'a str>,
    /// `{{ window }}`.
    pub window: Duration,
}

impl Template {
    /// Parses `text`; an unknown placeholder or a `{{` without `}}` is an error that says which
    /// placeholders there are.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            parts.push(Part::Text(rest[..open].to_owned()));
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| "a `{{` is not closed by `}}`".to_owned())?;
            let name = after[..close].trim();
            let hole = NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, p)| *p)
                .ok_or_else(|| {
                    format!(
                        "unknown placeholder `{{{{ {name} }}}}`; there are {}",
                        NAMES
                            .iter()
                            .map(|(n, _)| format!("{{{{ {n} }}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
            parts.push(Part::Hole(hole));
            rest = &after[close + 2..];
        }
        parts.push(Part::Text(rest.to_owned()));
        parts.retain(|p| !matches!(p, Part::Text(t) if t.is_empty()));
        Ok(Template { parts })
    }

    /// Whether the template uses `p`.
    pub fn uses(&self, p: Placeholder) -> bool {
        self.parts.contains(&Part::Hole(p))
    }

    /// The query with every placeholder filled in. `{{ window }}` is whole seconds, at least 1.
    pub fn fill(&self, v: &Values<'_>) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Hole(Placeholder::Service) => v.service.to_owned(),
                Part::Hole(Placeholder::Variant) => v.variant.to_owned(),
                Part::Hole(Placeholder::Stable) => v.stable.to_owned(),
                Part::Hole(Placeholder::Namespace) => v.namespace.unwrap_or_default().to_owned(),
                Part::Hole(Placeholder::Window) => format!("{}s", v.window.as_secs().max(1)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_with_or_without_spaces() {
        let t = Template::parse(
            r#"sum(rate(x{app="{{ service }}",v="{{variant}}",ns="{{ namespace }}"}[{{ window }}])) / on() y{v="{{ stable }}"}"#,
        )
        .unwrap();
        let v = Values {
            service: "web",
            variant: "v2",
            stable: "v1",
            namespace: Some("shop"),
            window: Duration::from_millis(90_400),
        };
        assert_eq!(
            t.fill(&v),
            r#"sum(rate(x{app="web",v="v2",ns="shop"}[90s])) / on() y{v="v1"}"#
        );
        assert!(t.uses(Placeholder::Namespace));
        let short = Values {
            window: Duration::from_millis(200),
            ..v
        };
        assert_eq!(
            Template::parse("[{{window}}]").unwrap().fill(&short),
            "[1s]"
        );
        assert!(!Template::parse("up").unwrap().uses(Placeholder::Namespace));
    }

    #[test]
    fn unknown_or_unclosed_placeholders_are_errors() {
        let err = Template::parse("x{a=\"{{ target }}\"}").unwrap_err();
        assert!(
            err.starts_with(
                "unknown placeholder `{{ target }}`; there are {{ service }}, {{ variant }}"
            ),
            "{err}"
        );
        let err = Template::parse("x{a=\"{{ service \"}").unwrap_err();
        assert!(err.contains("not closed"), "{err}");
    }
}
