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

mod decode;

use decode::decode_all;
#[cfg(test)]
use decode::MAX_DECODE_PROBLEMS;

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
        line_of(&self.lines, path)
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
    let invalid = |problems| CliError::Invalid {
        source_name: name.into(),
        problems: LinedProblems(problems),
    };
    let doc = read_document(text, "the config must be a map (services: ...)").map_err(invalid)?;
    let (wire, problems) = doc.decode::<WireConfig>();
    match wire {
        Some(wire) if problems.is_empty() => Ok(Loaded {
            wire,
            lines: doc.lines,
        }),
        _ => Err(invalid(problems)),
    }
}

/// A JSON or YAML document, with the line of every node.
#[derive(Debug, Clone)]
pub struct Document {
    /// The document.
    pub value: Value,
    /// Node path (`gates[0].condition`) -> 1-based line.
    pub lines: BTreeMap<String, usize>,
    /// Every key that appeared twice in one map, and its line.
    duplicates: Vec<(String, usize)>,
}

/// Reads `text` as JSON or YAML, which must hold a map (`not_a_map` says what is expected
/// otherwise); the problems come each with its line.
pub fn read_document(
    text: &str,
    not_a_map: &str,
) -> std::result::Result<Document, Vec<(Option<usize>, Problem)>> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, false) {
        let problem = Problem {
            path: "$".into(),
            message: format!("not valid JSON or YAML: {e}"),
        };
        return Err(vec![(Some(e.marker().line()), problem)]);
    }
    let value = builder.root.unwrap_or(Value::Null);
    if !value.is_object() {
        let problem = Problem {
            path: "$".into(),
            message: not_a_map.into(),
        };
        return Err(vec![(Some(1), problem)]);
    }
    Ok(Document {
        value,
        lines: builder.lines,
        duplicates: builder.duplicates,
    })
}

impl Document {
    /// The line of `path`, or of its closest enclosing field.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        line_of(&self.lines, path)
    }

    /// Decodes the document as a `T`, reporting every problem (each duplicate key and each
    /// decode problem) with its line, in line order. `None` when decoding cannot go on; a `T`
    /// returned with problems is for counting them only.
    pub fn decode<T: serde::de::DeserializeOwned>(
        &self,
    ) -> (Option<T>, Vec<(Option<usize>, Problem)>) {
        let mut problems: Vec<(Option<usize>, Problem)> = self
            .duplicates
            .iter()
            .map(|(path, line)| {
                let message = "this key appears twice in the same map".to_owned();
                (
                    Some(*line),
                    Problem {
                        path: path.clone(),
                        message,
                    },
                )
            })
            .collect();
        let decoded = decode_all(self.value.clone(), &mut |path, message| {
            problems.push((line_of(&self.lines, &path), Problem { path, message }));
        });
        problems.sort_by_key(|(line, _)| *line);
        (decoded, problems)
    }
}

/// The line of `path`, or of its closest enclosing field.
fn line_of(lines: &BTreeMap<String, usize>, path: &str) -> Option<usize> {
    let mut p = path;
    loop {
        if let Some(l) = lines.get(p) {
            return Some(*l);
        }
        let cut = p.rfind(['.', '['])?;
        p = &p[..cut];
    }
}

/// Builds a JSON value from YAML events, recording each node's path and line.
#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    lines: BTreeMap<String, usize>,
    /// Every key that appeared twice in one map, and its line.
    duplicates: Vec<(String, usize)>,
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
                        if map.contains_key(&s) {
                            self.duplicates.push((p.clone(), line));
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

    /// Every parse-level problem of a file, in line order, each once: no "missing field" for a
    /// field that is there with the wrong type.
    #[test]
    fn every_decode_problem_is_reported_with_its_line() {
        let yaml = "\
version: 3
services:
  - name: web
    varaints: []
    variants:
      - name: v1
        cluster: 7
      - name: v2
    split:
      v1: lots
      v2: 1000
      v2: 2000
    hosts: example.com
";
        let json = "{\n  \"version\": \"3\",\n  \"services\": [{\n    \"name\": \"web\",\n    \"colour\": \"red\",\n    \"variants\": [{\"name\": \"v1\"}],\n    \"split\": {\"v1\": true}\n  }]\n}\n";
        let cases = [
            (
                yaml,
                vec![
                    "line 4: services[0].varaints: unknown field `varaints`",
                    "line 7: services[0].variants[0].cluster: invalid type: integer `7`, expected a string",
                    "line 8: services[0].variants[1]: missing field `cluster`",
                    "line 10: services[0].split.v1: invalid type: string \"lots\", expected i64",
                    "line 12: services[0].split.v2: this key appears twice in the same map",
                    "line 13: services[0].hosts: invalid type: string \"example.com\", expected a sequence",
                ],
            ),
            (
                json,
                vec![
                    "line 2: version: invalid type: string \"3\", expected u64",
                    "line 5: services[0].colour: unknown field `colour`",
                    "line 6: services[0].variants[0]: missing field `cluster`",
                    "line 7: services[0].split.v1: invalid type: boolean `true`, expected i64",
                ],
            ),
        ];
        for (text, expected) in cases {
            let err = parse(text, "x").unwrap_err();
            let CliError::Invalid { problems, .. } = &err else {
                panic!("{err}");
            };
            let lines: Vec<String> = problems
                .to_string()
                .lines()
                .map(|l| l.trim().to_owned())
                .collect();
            assert_eq!(lines.len(), expected.len(), "{lines:#?}");
            for (line, want) in lines.iter().zip(&expected) {
                assert!(
                    line.starts_with(want),
                    "{line}\n  does not start with\n{want}"
                );
            }
        }
    }

    #[test]
    fn decoding_stops_at_the_cap_instead_of_looping() {
        let fields: String = (0..MAX_DECODE_PROBLEMS + 10)
            .map(|i| format!("typo{i}: 1\n"))
            .collect();
        let err = parse(&format!("services: []\n{fields}"), "x").unwrap_err();
        let CliError::Invalid { problems, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(problems.0.len(), MAX_DECODE_PROBLEMS);
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
