//! Reading a routing config from JSON or YAML, keeping the line of every field so that each
//! problem can be reported as `line N: path: message`.
//!
//! Both formats go through one YAML parser (JSON is YAML's flow syntax), which reports positions;
//! the document becomes a `serde_json::Value` and then the engine's wire types, so what veerctl
//! validates is exactly what the filter receives.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Number, Value};
use veer_filter::config::{Problem, WireConfig};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::error::{CliError, LinedProblems, Result};

/// A config read from a file.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The parsed config.
    pub wire: WireConfig,
    /// Field path -> 1-based line.
    pub lines: BTreeMap<String, usize>,
}

impl Loaded {
    /// The line of `path`, or of its closest enclosing field.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        let mut p = path;
        loop {
            if let Some(l) = self.lines.get(p) {
                return Some(*l);
            }
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
        }
    }

    /// Validates with the engine; every problem gets its line.
    pub fn validate(&self, name: &str) -> Result<veer_filter::Config> {
        veer_filter::Config::from_wire(&self.wire).map_err(|problems| CliError::Invalid {
            source_name: name.to_owned(),
            problems: LinedProblems(
                problems
                    .0
                    .into_iter()
                    .map(|p| (self.line_of(&p.path), p))
                    .collect(),
            ),
        })
    }
}

/// Reads and parses `path` (JSON or YAML; `-` for stdin).
pub fn load_file(path: &Path) -> Result<Loaded> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).map_err(|e| CliError::io("read stdin", e))?
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| CliError::io(format!("read {}", path.display()), e))?
    };
    parse(&text, &path.display().to_string())
}

/// Parses config text (JSON or YAML).
pub fn parse(text: &str, name: &str) -> Result<Loaded> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, false) {
        let problem = Problem {
            path: "$".into(),
            message: format!("not valid JSON or YAML: {e}"),
        };
        return Err(CliError::Invalid {
            source_name: name.into(),
            problems: LinedProblems(vec![(Some(e.marker().line()), problem)]),
        });
    }
    let value = builder.root.unwrap_or(Value::Null);
    let lines = builder.lines;
    if let Some((path, line)) = builder.duplicate {
        let problem = Problem {
            path,
            message: "this key appears twice in the same map".into(),
        };
        return Err(CliError::Invalid {
            source_name: name.into(),
            problems: LinedProblems(vec![(Some(line), problem)]),
        });
    }
    if !value.is_object() {
        let problem = Problem {
            path: "$".into(),
            message: "the config must be a map (services: ...)".into(),
        };
        return Err(CliError::Invalid {
            source_name: name.into(),
            problems: LinedProblems(vec![(Some(1), problem)]),
        });
    }
    let wire: WireConfig = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { "$".to_owned() } else { path };
        let loaded = Loaded {
            wire: WireConfig::default(),
            lines: lines.clone(),
        };
        let line = loaded.line_of(&path);
        CliError::Invalid {
            source_name: name.into(),
            problems: LinedProblems(vec![(
                line,
                Problem {
                    path,
                    message: e.inner().to_string(),
                },
            )]),
        }
    })?;
    Ok(Loaded { wire, lines })
}

/// Builds a JSON value from YAML events, recording each node's path and line.
#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    lines: BTreeMap<String, usize>,
    /// The first key that appeared twice in one map, and its line.
    duplicate: Option<(String, usize)>,
}

enum Frame {
    Map {
        path: String,
        map: Map<String, Value>,
        key: Option<String>,
    },
    Seq {
        path: String,
        items: Vec<Value>,
    },
}

impl Builder {
    /// The path of the node about to be added.
    fn child_path(&self) -> String {
        match self.stack.last() {
            None => String::new(),
            Some(Frame::Map {
                path, key: Some(k), ..
            }) => join(path, k),
            Some(Frame::Map { path, .. }) => path.clone(),
            Some(Frame::Seq { path, items }) => format!("{path}[{}]", items.len()),
        }
    }

    fn push_value(&mut self, v: Value) {
        match self.stack.last_mut() {
            None => self.root = Some(v),
            Some(Frame::Map { map, key, .. }) => match key.take() {
                Some(k) => {
                    map.insert(k, v);
                }
                None => {
                    let k = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    *key = Some(k);
                }
            },
            Some(Frame::Seq { items, .. }) => items.push(v),
        }
    }

    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        match ev {
            Event::Scalar(s, style, _, _) => {
                if self.expecting_key() {
                    if let Some(Frame::Map { path, map, .. }) = self.stack.last() {
                        let p = join(path, &s);
                        if map.contains_key(&s) && self.duplicate.is_none() {
                            self.duplicate = Some((p.clone(), line));
                        }
                        self.lines.insert(p, line);
                    }
                    self.push_value(Value::String(s));
                } else {
                    let p = self.child_path();
                    self.lines.entry(p).or_insert(line);
                    self.push_value(scalar(s, style));
                }
            }
            Event::MappingStart(..) => {
                let path = self.child_path();
                self.lines.entry(path.clone()).or_insert(line);
                self.stack.push(Frame::Map {
                    path,
                    map: Map::new(),
                    key: None,
                });
            }
            Event::SequenceStart(..) => {
                let path = self.child_path();
                self.lines.entry(path.clone()).or_insert(line);
                self.stack.push(Frame::Seq {
                    path,
                    items: Vec::new(),
                });
            }
            Event::MappingEnd => {
                if let Some(Frame::Map { map, .. }) = self.stack.pop() {
                    self.push_value(Value::Object(map));
                }
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { items, .. }) = self.stack.pop() {
                    self.push_value(Value::Array(items));
                }
            }
            _ => {}
        }
    }
}

/// YAML 1.2 core-schema resolution of a scalar; quoted scalars are always strings.
fn scalar(s: String, style: TScalarStyle) -> Value {
    if style != TScalarStyle::Plain {
        return Value::String(s);
    }
    match s.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => {
            if let Ok(i) = s.parse::<i64>() {
                Value::Number(i.into())
            } else if let Ok(u) = s.parse::<u64>() {
                Value::Number(u.into())
            } else if let Some(n) = s.parse::<f64>().ok().and_then(Number::from_f64) {
                Value::Number(n)
            } else {
                Value::String(s)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "\
version: 3
services:
  - name: web
    variants:
      - name: v1
        cluster: web_v1
      - name: v2
        cluster: web_v2
    split:
      v1: 8000
      v2: 1990
";

    #[test]
    fn yaml_problems_carry_their_line() {
        let loaded = parse(YAML, "web.yaml").unwrap();
        let err = loaded.validate("web.yaml").unwrap_err().to_string();
        assert!(
            err.contains("line 9: services[0].split: weights sum to 9990 bp, must be 10000"),
            "{err}"
        );
    }

    #[test]
    fn json_is_read_by_the_same_parser_with_lines() {
        let json = "{\n  \"services\": [\n    {\n      \"name\": \"web\",\n      \"variants\": [{\"name\": \"v1\", \"cluster\": \"\"}],\n      \"split\": {\"v1\": 10000}\n    }\n  ]\n}\n";
        let err = parse(json, "web.json")
            .unwrap()
            .validate("web.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 5: services[0].variants[0].cluster: cluster name is empty"),
            "{err}"
        );
    }

    #[test]
    fn type_errors_and_unknown_fields_name_path_and_line() {
        let text = YAML.replace("v2: 1990", "v2: lots");
        let err = parse(&text, "x.yaml").unwrap_err().to_string();
        assert!(
            err.contains("line 11: services[0].split.v2: invalid type: string \"lots\""),
            "{err}"
        );
        let typo = YAML.replace("    variants:", "    varaints:");
        let err = parse(&typo, "x.yaml").unwrap_err().to_string();
        assert!(err.contains("unknown field `varaints`"), "{err}");
        assert!(err.contains("line 4"), "{err}");
    }

    #[test]
    fn duplicate_keys_and_non_maps_are_refused() {
        let dup = YAML.replace("      v2: 1990", "      v2: 1990\n      v2: 2000");
        let err = parse(&dup, "x.yaml").unwrap_err().to_string();
        assert!(
            err.contains("line 12: services[0].split.v2: this key appears twice"),
            "{err}"
        );
        let err = parse("[5]", "x.yaml").unwrap_err().to_string();
        assert!(err.contains("$: the config must be a map"), "{err}");
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let err = parse("services: [\n  {name: web\n", "x.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not valid JSON or YAML"), "{err}");
        assert!(err.contains("line "), "{err}");
    }
}
