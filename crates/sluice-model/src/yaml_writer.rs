//! JSON values written as block-style YAML: the one emitter behind the CLI's `-o yaml` and the
//! job executor's `valueFrom: event` with `as: yaml`.
//!
//! Mapping keys come out sorted (`serde_json` maps are ordered by key), strings are plain
//! unless a YAML 1.1 or 1.2 reader would take them for something else (then double-quoted
//! with JSON's escapes, which YAML accepts), empty collections are written inline. The two
//! [`YamlStyle`]s differ only in layout and number formatting.

use serde_json::{Map, Value};

use crate::job::go_sprint;

/// How a document is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YamlStyle {
    /// Go's `gopkg.in/yaml.v2` `Marshal`, as job-executor-service used it: a sequence under a
    /// key is not indented (`key:\n- a`), a sequence in a sequence starts on the dash's line
    /// (`- - 1`), numbers as Go's `%v` (`1e+06`).
    GoYamlV2,
    /// kubectl's layout: sequences under a key are indented (`key:\n  - a`), a sequence in a
    /// sequence starts on the next line, numbers as JSON writes them.
    Indented,
}

/// The YAML document of a value (ends with a newline).
pub fn to_yaml(value: &Value, style: YamlStyle) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0, style),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0, style),
        other => {
            out.push_str(&scalar(other, style));
            out.push('\n');
        }
    }
    out
}

/// A string as a plain scalar when that reads back as the same string, else double-quoted.
pub fn string(s: &str) -> String {
    if needs_quotes(s) {
        // JSON's escapes are valid in YAML double-quoted scalars.
        serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
    } else {
        s.to_owned()
    }
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A scalar, or an empty collection written inline.
fn scalar(v: &Value, style: YamlStyle) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match style {
            YamlStyle::GoYamlV2 => go_sprint(v),
            YamlStyle::Indented => n.to_string(),
        },
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn write_map(out: &mut String, m: &Map<String, Value>, level: usize, style: YamlStyle) {
    for (k, v) in m {
        indent(out, level);
        write_entry(out, k, v, level, style);
    }
}

/// `key: value` at the cursor (already indented), nested collections below it.
fn write_entry(out: &mut String, key: &str, v: &Value, level: usize, style: YamlStyle) {
    out.push_str(&string(key));
    out.push(':');
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, level + 2, style);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            let seq_level = match style {
                YamlStyle::GoYamlV2 => level,
                YamlStyle::Indented => level + 2,
            };
            write_seq(out, a, seq_level, style);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other, style));
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, a: &[Value], level: usize, style: YamlStyle) {
    for v in a {
        indent(out, level);
        out.push('-');
        match v {
            Value::Object(m) if !m.is_empty() => {
                // The first key on the dash's line, the others aligned under it.
                for (i, (k, inner)) in m.iter().enumerate() {
                    if i == 0 {
                        out.push(' ');
                    } else {
                        indent(out, level + 2);
                    }
                    write_entry(out, k, inner, level + 2, style);
                }
            }
            Value::Array(inner) if !inner.is_empty() => match style {
                YamlStyle::GoYamlV2 => {
                    let mut nested = String::new();
                    write_seq(&mut nested, inner, level + 2, style);
                    out.push(' ');
                    out.push_str(nested.trim_start_matches(' '));
                }
                YamlStyle::Indented => {
                    out.push('\n');
                    write_seq(out, inner, level + 2, style);
                }
            },
            other => {
                out.push(' ');
                out.push_str(&scalar(other, style));
                out.push('\n');
            }
        }
    }
}

/// Whether a plain scalar would not read back as this string (in YAML 1.1, which Go's
/// yaml.v2 and many tools still speak, or in YAML 1.2).
fn needs_quotes(s: &str) -> bool {
    if s.is_empty() || s.trim() != s {
        return true;
    }
    const RESERVED: [&str; 14] = [
        "null", "~", "true", "false", "yes", "no", "on", "off", "y", "n", ".inf", "-.inf", "+.inf",
        ".nan",
    ];
    if RESERVED.contains(&s.to_ascii_lowercase().as_str()) || looks_numeric(s) {
        return true;
    }
    let first = s.chars().next().unwrap_or(' ');
    // `-foo`, `?x`, `:x` are plain in YAML 1.2 when followed by a non-space, but quoting them
    // is always safe and avoids reader differences.
    "-?:,[]{}#&*!|>'\"%@`".contains(first)
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.chars().any(|c| c.is_control() || c == '\u{feff}')
}

/// Numbers in any notation a YAML 1.1 reader resolves: hex, octal, binary, floats,
/// `1_000`, sexagesimal `1:20` and dates.
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
    let digits_and = |extra: &[char]| {
        t.chars().all(|c| c.is_ascii_digit() || extra.contains(&c))
            && t.chars().next().is_some_and(|c| c.is_ascii_digit())
    };
    digits_and(&['_', '.']) || digits_and(&[':']) || digits_and(&['-', 'T', ':', '.', 'Z'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn go(v: &Value) -> String {
        to_yaml(v, YamlStyle::GoYamlV2)
    }

    fn indented(v: &Value) -> String {
        to_yaml(v, YamlStyle::Indented)
    }

    // The CLI's `-o yaml` (formerly its own emitter).

    #[test]
    fn indented_nested_maps_and_sequences() {
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
        assert_eq!(indented(&v), expected);
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
    fn indented_scalars_at_the_top_and_numbers() {
        assert_eq!(indented(&json!("yes")), "\"yes\"\n");
        assert_eq!(indented(&json!(95.5)), "95.5\n");
        assert_eq!(indented(&json!([])), "[]\n");
        assert_eq!(
            indented(&json!({"a": {"b": [true]}})),
            "a:\n  b:\n    - true\n"
        );
        assert_eq!(indented(&json!({"true": 1})), "\"true\": 1\n");
    }

    // job-executor-service's `as: yaml` (formerly the job executor's own emitter).

    #[test]
    fn go_mappings_and_sequences_in_block_style() {
        let v = json!({"b": [1, "two", {"x": true, "a": null}], "a": {"k": "v", "e": {}}, "c": []});
        assert_eq!(
            go(&v),
            "a:\n  e: {}\n  k: v\nb:\n- 1\n- two\n- a: null\n  x: true\nc: []\n"
        );
    }

    #[test]
    fn go_ambiguous_strings_are_quoted() {
        assert_eq!(go(&json!("plain text")), "plain text\n");
        assert_eq!(go(&json!("true")), "\"true\"\n");
        assert_eq!(go(&json!("3")), "\"3\"\n");
        assert_eq!(go(&json!("")), "\"\"\n");
        assert_eq!(go(&json!("a: b")), "\"a: b\"\n");
        assert_eq!(go(&json!("- x")), "\"- x\"\n");
        assert_eq!(go(&json!("two\nlines")), "\"two\\nlines\"\n");
        assert_eq!(go(&json!(1000000)), "1e+06\n");
        assert_eq!(
            go(&json!({"image": "docker.io/x:1.0"})),
            "image: docker.io/x:1.0\n"
        );
    }

    #[test]
    fn go_nested_sequences() {
        assert_eq!(go(&json!([[1, 2], 3])), "- - 1\n  - 2\n- 3\n");
    }

    #[test]
    fn go_yaml_v2_layout() {
        let v = json!({"b": [1, "two", {"x": true, "a": null}], "a": {"k": "v", "e": {}}, "c": []});
        assert_eq!(
            to_yaml(&v, YamlStyle::GoYamlV2),
            "a:\n  e: {}\n  k: v\nb:\n- 1\n- two\n- a: null\n  x: true\nc: []\n"
        );
        assert_eq!(
            to_yaml(&json!([[1, 2], 3]), YamlStyle::GoYamlV2),
            "- - 1\n  - 2\n- 3\n"
        );
        assert_eq!(to_yaml(&json!(1000000), YamlStyle::GoYamlV2), "1e+06\n");
        assert_eq!(
            to_yaml(&json!({"a": {"b": [true]}}), YamlStyle::GoYamlV2),
            "a:\n  b:\n  - true\n"
        );
    }

    #[test]
    fn indented_layout() {
        let v = json!({"a": {"b": [true, {"c": [1]}]}, "m": [[1, 2], []]});
        assert_eq!(
            to_yaml(&v, YamlStyle::Indented),
            "a:\n  b:\n    - true\n    - c:\n        - 1\nm:\n  -\n    - 1\n    - 2\n  - []\n"
        );
        assert_eq!(to_yaml(&json!(1000000), YamlStyle::Indented), "1000000\n");
    }

    #[test]
    fn both_layouts_read_back_as_the_same_value() {
        let v = json!({
            "s": ["true", "1:20", "2024-01-02", "0o17", "+.inf", "Y", " x", "a: b", "-", "\u{feff}bom"],
            "n": [1, -2.5, 0],
            "nested": [[["deep"]], {"k": [{"x": null}]}],
            "empty": [{}, []],
        });
        for style in [YamlStyle::GoYamlV2, YamlStyle::Indented] {
            let text = to_yaml(&v, style);
            let mut diags = crate::diagnostic::Diagnostics::default();
            let back = crate::yaml::parse(&text, &mut diags)
                .unwrap_or_else(|| panic!("{style:?}: {diags:?}\n{text}"))
                .to_json();
            assert_eq!(back, v, "{style:?}:\n{text}");
        }
    }
}
