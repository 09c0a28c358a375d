//! A small JSON → YAML emitter for `-o yaml`: block style, two-space indent, strings quoted
//! only when plain YAML would read them differently.

use serde_json::Value;

/// The value as a YAML document (ends with a newline).
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

/// A scalar or an empty collection written inline.
fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn write_map(out: &mut String, m: &serde_json::Map<String, Value>, level: usize) {
    for (k, v) in m {
        indent(out, level);
        out.push_str(&string(k));
        out.push(':');
        write_value_after_key(out, v, level);
    }
}

fn write_value_after_key(out: &mut String, v: &Value, level: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, level + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            // Sequences under a key are indented like Kubernetes manifests.
            write_seq(out, a, level + 2);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, a: &[Value], level: usize) {
    for v in a {
        indent(out, level);
        out.push('-');
        match v {
            Value::Object(m) if !m.is_empty() => {
                // First key on the dash line, the rest aligned under it.
                let mut first = true;
                for (k, inner) in m {
                    if first {
                        out.push(' ');
                        first = false;
                    } else {
                        indent(out, level + 2);
                    }
                    out.push_str(&string(k));
                    out.push(':');
                    write_value_after_key(out, inner, level + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, level + 2);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

/// A string as a plain scalar when that reads back as the same string, else double-quoted.
pub fn string(s: &str) -> String {
    if needs_quotes(s) {
        quote(s)
    } else {
        s.to_string()
    }
}

fn needs_quotes(s: &str) -> bool {
    if s.is_empty() || s.trim() != s {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    const RESERVED: [&str; 13] = [
        "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n", ".inf", "-.inf", ".nan",
    ];
    if RESERVED.contains(&lower.as_str()) || lower == "+.inf" {
        return true;
    }
    if looks_numeric(s) {
        return true;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-foo`, `?x`, `:x` are plain in YAML 1.2 when followed by a non-space, but quoting
        // them is always safe and avoids reader differences.
        return true;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return true;
    }
    s.chars().any(|c| c.is_control() || c == '\u{feff}')
}

fn looks_numeric(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    if t.is_empty() {
        return false;
    }
    if t.starts_with("0x") || t.starts_with("0o") || t.starts_with("0b") {
        return true;
    }
    if s.parse::<f64>().is_ok() {
        return true;
    }
    // YAML 1.1 readers also take `1_000`, `1:20` (sexagesimal) and dates as non-strings.
    let digits_and = |extra: &[char]| {
        t.chars().all(|c| c.is_ascii_digit() || extra.contains(&c))
            && t.chars().next().is_some_and(|c| c.is_ascii_digit())
    };
    digits_and(&['_', '.']) || digits_and(&[':']) || digits_and(&['-', 'T', ':', '.', 'Z'])
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || c == '\u{feff}' => {
                out.push_str(&format!("\\u{:04X}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_maps_and_sequences() {
        let v = json!({
            "projectName": "sockshop",
            "stages": [
                {"stageName": "dev", "services": [{"serviceName": "carts", "deployedImage": "carts:0.1"}]},
                {"stageName": "prod", "services": []}
            ],
            "labels": {},
            "matrix": [[1, 2], []],
            "none": null
        });
        let expected = "\
labels: {}
matrix:
  -
    - 1
    - 2
  - []
none: null
projectName: sockshop
stages:
  - services:
      - deployedImage: carts:0.1
        serviceName: carts
    stageName: dev
  - services: []
    stageName: prod
";
        assert_eq!(to_yaml(&v), expected);
    }

    #[test]
    fn strings_are_quoted_only_when_needed() {
        for (s, want) in [
            ("carts", "carts"),
            (
                "docker.io/keptn/carts:0.13.1",
                "docker.io/keptn/carts:0.13.1",
            ),
            ("", "\"\""),
            ("true", "\"true\""),
            ("No", "\"No\""),
            ("null", "\"null\""),
            ("~", "\"~\""),
            ("1.0", "\"1.0\""),
            ("42", "\"42\""),
            ("0x1F", "\"0x1F\""),
            ("1e3", "\"1e3\""),
            ("2024-01-02", "\"2024-01-02\""),
            ("2024-01-02T15:04:05.000Z", "\"2024-01-02T15:04:05.000Z\""),
            ("a: b", "\"a: b\""),
            ("x #y", "\"x #y\""),
            ("- item", "\"- item\""),
            ("*ref", "\"*ref\""),
            (" lead", "\" lead\""),
            ("two\nlines", "\"two\\nlines\""),
            ("say \"hi\"", "say \"hi\""),
            ("{x}", "\"{x}\""),
            ("pass", "pass"),
        ] {
            assert_eq!(string(s), want, "{s:?}");
        }
    }

    #[test]
    fn scalars_at_the_top_and_numbers() {
        assert_eq!(to_yaml(&json!("yes")), "\"yes\"\n");
        assert_eq!(to_yaml(&json!(95.5)), "95.5\n");
        assert_eq!(to_yaml(&json!([])), "[]\n");
        assert_eq!(
            to_yaml(&json!({"a": {"b": [true]}})),
            "a:\n  b:\n    - true\n"
        );
        assert_eq!(to_yaml(&json!({"true": 1})), "\"true\": 1\n");
    }
}
