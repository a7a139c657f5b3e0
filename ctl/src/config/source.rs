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
    let bytes = if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
            .map_err(|e| CliError::io("read stdin", e))?;
        bytes
    } else {
        std::fs::read(path).map_err(|e| CliError::io(format!("read {}", path.display()), e))?
    };
    let name = path.display().to_string();
    parse(&utf8(bytes, &name)?, &name)
}

/// The text of a config file, which must be UTF-8 (JSON and YAML are): anything else is an
/// invalid config (exit code 3), with the line of the first byte that is not.
fn utf8(bytes: Vec<u8>, name: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..at];
        let line = 1 + before.iter().filter(|b| **b == b'\n').count();
        let column = 1 + before.iter().rev().take_while(|b| **b != b'\n').count();
        let problem = Problem {
            path: "$".into(),
            message: format!(
                "the file is not UTF-8 text (byte 0x{:02x} at column {column}); save it as UTF-8",
                e.as_bytes()[at]
            ),
        };
        CliError::Invalid {
            source_name: name.into(),
            problems: LinedProblems(vec![(Some(line), problem)]),
        }
    })
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
    /// Every number out of range (it stands as null): its path, line and problem.
    out_of_range: Vec<(String, usize, String)>,
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
        out_of_range: builder.out_of_range,
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
        for (path, line, message) in &self.out_of_range {
            let (path, message) = (path.clone(), message.clone());
            problems.push((Some(*line), Problem { path, message }));
        }
        let decoded = decode_all(self.value.clone(), &mut |path, message| {
            // A number out of range stands as null; its type error would say it twice.
            if !self.out_of_range.iter().any(|(p, _, _)| *p == path) {
                problems.push((line_of(&self.lines, &path), Problem { path, message }));
            }
        });
        problems.sort_by_key(|(line, _)| *line);
        (decoded, problems)
    }
}

/// Any YAML (or JSON) document as a JSON value, read as configs are (YAML 1.2 core schema,
/// quoted scalars always strings), without a config's checks: a number out of range is null.
pub fn yaml_value(text: &str) -> std::result::Result<Value, String> {
    let mut builder = Builder::default();
    Parser::new_from_str(text)
        .load(&mut builder, false)
        .map_err(|e| e.to_string())?;
    Ok(builder.root.unwrap_or(Value::Null))
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
    /// Every number too large for any number type, with its line and what to say.
    out_of_range: Vec<(String, usize, String)>,
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
                    self.lines.entry(p.clone()).or_insert(line);
                    let value = match out_of_range(&s, style) {
                        Some(message) => {
                            self.out_of_range.push((p, line, message));
                            Value::Null
                        }
                        None => scalar(s, style),
                    };
                    self.push_value(value);
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

/// Why a plain scalar that is a number cannot be one: an integer beyond 64 bits, or a float
/// beyond a double (`1e400`), which would otherwise be read as the string "1e400".
fn out_of_range(s: &str, style: TScalarStyle) -> Option<String> {
    if style != TScalarStyle::Plain {
        return None;
    }
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    let integer = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    if integer && s.parse::<i64>().is_err() && s.parse::<u64>().is_err() {
        return Some(format!(
            "the number {s} is out of range (integers here go from {} to {})",
            i64::MIN,
            u64::MAX
        ));
    }
    match s.parse::<f64>() {
        Ok(f) if f.is_infinite() && !digits.starts_with(['i', 'I']) => Some(format!(
            "the number {s} is out of range (larger than any number a config can hold)"
        )),
        _ => None,
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

    /// Issue 11.5: a number too large for any number type is named as such, with its line,
    /// not as "invalid type: string"; a file that is not UTF-8 is an invalid config (exit 3).
    #[test]
    fn numbers_out_of_range_and_non_utf8_text_are_invalid_configs() {
        for (text, want) in [
            ("version: 1e400\nservices: []\n", "line 1: version: the number 1e400 is out of range (larger than any number a config can hold)"),
            ("{\"version\": -1e400, \"services\": []}", "line 1: version: the number -1e400 is out of range"),
            ("services: []\nversion: 99999999999999999999\n", "line 2: version: the number 99999999999999999999 is out of range (integers here go from"),
        ] {
            let err = parse(text, "x").unwrap_err();
            assert_eq!(err.exit_code(), 3);
            let msg = err.to_string();
            assert!(msg.contains(want), "{msg}");
            assert!(!msg.contains("invalid type"), "said twice: {msg}");
        }
        let err = utf8(b"services: []\nversion: \xff1\n".to_vec(), "x.yaml").unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(
            err.to_string().contains(
                "line 2: $: the file is not UTF-8 text (byte 0xff at column 10); save it as UTF-8"
            ),
            "{err}"
        );
        // Ordinary numbers and strings that look like numbers are unchanged.
        let ok = parse("version: 12\nservices: []\n", "x").unwrap();
        assert_eq!(ok.wire.version, Some(12));
        assert_eq!(out_of_range("inf", TScalarStyle::Plain), None);
        assert_eq!(out_of_range("1e400", TScalarStyle::DoubleQuoted), None);
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
