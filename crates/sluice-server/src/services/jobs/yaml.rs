//! A small JSON → YAML formatter for `valueFrom: event` with `as: yaml`, in the block style of
//! Go's `yaml.v2` `Marshal` that JES used: mapping keys sorted, sequences under a key not
//! indented (`key:\n- a`), numbers as `%v`, strings plain unless that would read back as
//! something else (then double-quoted).

use serde_json::Value;
use sluice_model::job::go_sprint;

/// The YAML text of a JSON value (ends with a newline, as `yaml.Marshal` does).
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if m.is_empty() => out.push_str("{}\n"),
        Value::Array(a) if a.is_empty() => out.push_str("[]\n"),
        Value::Object(_) | Value::Array(_) => block(value, 0, &mut out),
        scalar => {
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
    out
}

fn block(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for k in keys {
                let Some(v) = m.get(k) else { continue };
                out.push_str(&pad);
                out.push_str(&string_text(k));
                out.push(':');
                match v {
                    Value::Object(inner) if !inner.is_empty() => {
                        out.push('\n');
                        block(v, indent + 2, out);
                    }
                    Value::Array(inner) if !inner.is_empty() => {
                        out.push('\n');
                        block(v, indent, out);
                    }
                    _ => {
                        out.push(' ');
                        out.push_str(&inline(v));
                        out.push('\n');
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                match item {
                    Value::Object(inner) if !inner.is_empty() => {
                        // The first key goes on the dash's line, the rest align with it.
                        let mut nested = String::new();
                        block(item, indent + 2, &mut nested);
                        out.push(' ');
                        out.push_str(nested.trim_start_matches(' '));
                    }
                    Value::Array(inner) if !inner.is_empty() => {
                        let mut nested = String::new();
                        block(item, indent + 2, &mut nested);
                        out.push(' ');
                        out.push_str(nested.trim_start_matches(' '));
                    }
                    _ => {
                        out.push(' ');
                        out.push_str(&inline(item));
                        out.push('\n');
                    }
                }
            }
        }
        scalar => {
            out.push_str(&pad);
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

fn inline(v: &Value) -> String {
    match v {
        Value::Object(_) => "{}".to_owned(),
        Value::Array(_) => "[]".to_owned(),
        s => scalar_text(s),
    }
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(_) => go_sprint(v),
        Value::String(s) => string_text(s),
        Value::Array(_) | Value::Object(_) => inline(v),
    }
}

/// A string as a plain scalar when it reads back as the same string, else double-quoted.
fn string_text(s: &str) -> String {
    if needs_quotes(s) {
        // JSON's escapes are valid in YAML double-quoted scalars.
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
    } else {
        s.to_owned()
    }
}

fn needs_quotes(s: &str) -> bool {
    const RESERVED: [&str; 22] = [
        "null", "Null", "NULL", "~", "true", "True", "TRUE", "false", "False", "FALSE", "yes",
        "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
    ];
    let Some(first) = s.chars().next() else {
        return true;
    };
    RESERVED.contains(&s)
        || matches!(s, "y" | "Y" | "n" | "N" | ".inf" | ".nan" | "-.inf")
        || s.parse::<f64>().is_ok()
        || s.starts_with("0x")
        || s.starts_with("0o")
        || "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || first.is_whitespace()
        || s.ends_with(char::is_whitespace)
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mappings_and_sequences_in_block_style() {
        let v = json!({"b": [1, "two", {"x": true, "a": null}], "a": {"k": "v", "e": {}}, "c": []});
        assert_eq!(
            to_yaml(&v),
            "a:\n  e: {}\n  k: v\nb:\n- 1\n- two\n- a: null\n  x: true\nc: []\n"
        );
    }

    #[test]
    fn ambiguous_strings_are_quoted() {
        assert_eq!(to_yaml(&json!("plain text")), "plain text\n");
        assert_eq!(to_yaml(&json!("true")), "\"true\"\n");
        assert_eq!(to_yaml(&json!("3")), "\"3\"\n");
        assert_eq!(to_yaml(&json!("")), "\"\"\n");
        assert_eq!(to_yaml(&json!("a: b")), "\"a: b\"\n");
        assert_eq!(to_yaml(&json!("- x")), "\"- x\"\n");
        assert_eq!(to_yaml(&json!("two\nlines")), "\"two\\nlines\"\n");
        assert_eq!(to_yaml(&json!(1000000)), "1e+06\n");
        assert_eq!(
            to_yaml(&json!({"image": "docker.io/x:1.0"})),
            "image: docker.io/x:1.0\n"
        );
    }

    #[test]
    fn nested_sequences() {
        assert_eq!(to_yaml(&json!([[1, 2], 3])), "- - 1\n  - 2\n- 3\n");
    }
}
