//! How JES turned an event value into an environment variable's text (`valueFrom: event`).
//!
//! JES decoded event JSON into Go values (every number a `float64`), selected one with the
//! JSONPath and then: `as: yaml` → YAML; `as: json`, or any mapping → `json.Marshal` (sorted
//! keys, `<`, `>`, `&` escaped); anything else → `fmt.Sprintf("%v")` (so `1000000` became
//! `1e+06`, null `<nil>`, a list `[a b]`). These functions reproduce the JSON and `%v` forms.

use serde_json::Value;

use super::EnvFormat;

/// Why an event value could not be rendered here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvValueError {
    /// `as: yaml` needs a YAML serialiser, which this pure model crate does not carry.
    #[error("`as: yaml` rendering is done by the executor, not the model")]
    YamlNotHere,
}

/// The environment variable text JES produced for a selected event value.
pub fn env_value_string(value: &Value, format: Option<EnvFormat>) -> Result<String, EnvValueError> {
    match format {
        Some(EnvFormat::Yaml) => Err(EnvValueError::YamlNotHere),
        Some(EnvFormat::Json) => Ok(go_json(value)),
        None if value.is_object() => Ok(go_json(value)),
        None => Ok(go_sprint(value)),
    }
}

/// Go's `fmt.Sprintf("%v", v)` for a value decoded from JSON into `interface{}`.
pub fn go_sprint(value: &Value) -> String {
    let mut out = String::new();
    sprint_into(value, &mut out, go_float_g);
    out
}

/// Go's `%v` of a decoded JSON value into `out`, with `float` printing the numbers (JES and
/// Go's templates print them a little differently).
pub(crate) fn sprint_into(value: &Value, out: &mut String, float: fn(f64) -> String) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&float(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                sprint_into(item, out, float);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push_str("map[");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                if let Some(v) = m.get(k) {
                    sprint_into(v, out, float);
                }
            }
            out.push(']');
        }
    }
}

/// Go's `json.Marshal` of a value decoded from JSON into `interface{}`.
pub(crate) fn go_json(value: &Value) -> String {
    let mut out = String::new();
    json_into(value, &mut out);
    out
}

fn json_into(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_json_float(n.as_f64().unwrap_or(0.0))),
        Value::String(s) => json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_into(item, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_string(k, out);
                out.push(':');
                if let Some(v) = m.get(k) {
                    json_into(v, out);
                }
            }
            out.push('}');
        }
    }
}

fn json_string(s: &str, out: &mut String) {
    let quoted = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned());
    for c in quoted.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
}

/// Shortest decimal digits and decimal-point position of a finite float: `v = 0.d1d2… × 10^dp`.
fn shortest_digits(v: f64) -> (bool, String, i32) {
    let s = format!("{:e}", v.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    (v.is_sign_negative() && v != 0.0, digits, exp + 1)
}

fn fmt_e(neg: bool, digits: &str, dp: i32, min_exp_digits: usize) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    let exp = dp - 1;
    out.push('e');
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&format!(
        "{:0width$}",
        exp.unsigned_abs(),
        width = min_exp_digits
    ));
    out
}

fn fmt_f(neg: bool, digits: &str, dp: i32) -> String {
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let nd = digits.len() as i32;
    if dp <= 0 {
        out.push_str("0.");
        out.push_str(&"0".repeat(dp.unsigned_abs() as usize));
        out.push_str(digits);
    } else if dp >= nd {
        out.push_str(digits);
        out.push_str(&"0".repeat((dp - nd) as usize));
    } else {
        out.push_str(&digits[..dp as usize]);
        out.push('.');
        out.push_str(&digits[dp as usize..]);
    }
    out
}

/// `strconv.FormatFloat(v, 'g', -1, 64)`, which `%v` uses for a `float64`.
fn go_float_g(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if v == 0.0 {
        return "0".into();
    }
    let (neg, digits, dp) = shortest_digits(v);
    let exp = dp - 1;
    if !(-4..6).contains(&exp) {
        fmt_e(neg, &digits, dp, 2)
    } else {
        fmt_f(neg, &digits, dp)
    }
}

/// `encoding/json`'s float format: plain decimals, exponent form only below 1e-6 or from 1e21.
fn go_json_float(v: f64) -> String {
    if !v.is_finite() {
        return "null".into();
    }
    if v == 0.0 {
        return "0".into();
    }
    let (neg, digits, dp) = shortest_digits(v);
    let abs = v.abs();
    if !(1e-6..1e21).contains(&abs) {
        // Go formats with at least two exponent digits, then trims `e-07` to `e-7`.
        fmt_e(neg, &digits, dp, 2).replace("e-0", "e-")
    } else {
        fmt_f(neg, &digits, dp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sprint_matches_go_percent_v() {
        assert_eq!(go_sprint(&json!("x")), "x");
        assert_eq!(go_sprint(&json!(3)), "3");
        assert_eq!(go_sprint(&json!(2.5)), "2.5");
        assert_eq!(go_sprint(&json!(100000)), "100000");
        assert_eq!(go_sprint(&json!(1000000)), "1e+06");
        assert_eq!(go_sprint(&json!(123456789)), "1.23456789e+08");
        assert_eq!(go_sprint(&json!(0.0001)), "0.0001");
        assert_eq!(go_sprint(&json!(0.00001)), "1e-05");
        assert_eq!(go_sprint(&json!(-1.5)), "-1.5");
        assert_eq!(go_sprint(&json!(null)), "<nil>");
        assert_eq!(go_sprint(&json!(true)), "true");
        assert_eq!(go_sprint(&json!(["a", 1, {"b": 2}])), "[a 1 map[b:2]]");
    }

    #[test]
    fn json_matches_go_marshal() {
        assert_eq!(
            go_json(&json!({"b": [1, 2.0, 1e21], "a": "<&>"})),
            r#"{"a":"\u003c\u0026\u003e","b":[1,2,1e+21]}"#
        );
        assert_eq!(go_json(&json!(0.0000001)), "1e-7");
    }

    #[test]
    fn maps_become_json_without_as() {
        let v = json!({"k": "v"});
        assert_eq!(env_value_string(&v, None).as_deref(), Ok(r#"{"k":"v"}"#));
        assert_eq!(
            env_value_string(&json!("s"), Some(EnvFormat::Json)).as_deref(),
            Ok(r#""s""#)
        );
        assert_eq!(env_value_string(&json!(["a"]), None).as_deref(), Ok("[a]"));
        assert_eq!(
            env_value_string(&v, Some(EnvFormat::Yaml)),
            Err(EnvValueError::YamlNotHere)
        );
    }
}
