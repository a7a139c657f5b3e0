//! YAML for people: a JSON value written as YAML (`veerctl bootstrap`), through yaml-rust2's
//! emitter, which veerctl already links for reading configs.

use serde_json::Value;
use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlEmitter};

use crate::error::{CliError, Result};

/// `value` as a YAML document under `comment` (each line made a YAML comment), a newline last.
pub fn to_yaml(value: &Value, comment: &str) -> Result<String> {
    let mut out: String = comment.lines().map(|l| format!("# {l}\n")).collect();
    YamlEmitter::new(&mut out)
        .dump(&yaml(value))
        .map_err(|e| CliError::failed(format!("failed to write YAML: {e}")))?;
    out.push('\n');
    Ok(out)
}

fn yaml(value: &Value) -> Yaml {
    match value {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        Value::String(s) => Yaml::String(s.clone()),
        Value::Array(items) => Yaml::Array(items.iter().map(yaml).collect()),
        Value::Object(map) => {
            let mut hash = Hash::new();
            for (k, v) in map {
                hash.insert(Yaml::String(k.clone()), yaml(v));
            }
            Yaml::Hash(hash)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is written reads back as the same value, strings that look like other things
    /// (JSON text, `@type`, numbers in quotes) included.
    #[test]
    fn written_yaml_reads_back_as_the_same_value() {
        let value = serde_json::json!({
            "@type": "type.googleapis.com/x",
            "value": "{\"version\": 0, \"split\": {\"a\": 1}}",
            "port": 8080,
            "on": true,
            "text": "8080",
            "list": [{ "a": null }, "b: c"]
        });
        let text = to_yaml(&value, "two\nlines").unwrap();
        assert!(text.starts_with("# two\n# lines\n---\n"), "{text}");
        let back = crate::config::source::yaml_value(&text).unwrap();
        assert_eq!(back, value, "{text}");
    }
}
