//! The placeholders of webhook requests: the subset of Go's `text/template` Keptn's webhooks
//! use, `{{.data.project}}`, with Keptn's `missingkey=error`.
//!
//! Supported: field chains from the root (`{{.id}}`, `{{ .data.evaluation.score }}`), the
//! root itself (`{{.}}`), the trim markers `{{-` and `-}}`, and comments `{{/* ... */}}`.
//! Anything else inside `{{ }}` (functions, pipelines, `if`, `range`, variables) is refused
//! when the file is read, so a webhook sluice cannot render is found by `sluice lint`, not
//! when the task runs. Values print as Go's `fmt` prints the `interface{}` values that
//! `encoding/json` decodes: numbers as `float64` (`%v`: `100`, `0.5`, `1.234567e+06`), maps as
//! `map[k:v]` with sorted keys, lists as `[a b]`, and a null field as `<no value>`.

use serde_json::Value;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// A field chain; empty for `{{.}}`. `source` is the action as written, for messages.
    Field {
        path: Vec<String>,
        source: String,
    },
}

/// Why a template cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: character {offset}: {message}")]
pub struct TemplateError {
    /// The 1-based character offset in the template where the problem starts.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

/// Why a template cannot be rendered with some data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("executing template at <{action}>: {message}")]
pub struct RenderError {
    /// The action as written (`.data.foo`).
    pub action: String,
    /// What went wrong, in Go's words (`map has no entry for key "foo"`).
    pub message: String,
}

impl Template {
    /// Reads a template.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut rest = text;
        let mut consumed = 0usize;
        let mut trim_next = false;
        while let Some(open) = rest.find("{{") {
            let mut literal = &rest[..open];
            if trim_next {
                literal = literal.trim_start();
            }
            let after = &rest[open + 2..];
            let trim_before = after.starts_with("- ")
                || after.starts_with("-\t")
                || after.starts_with("-\n")
                || after.starts_with("-\r");
            if trim_before {
                literal = literal.trim_end();
            }
            if !literal.is_empty() {
                pieces.push(Piece::Text(literal.to_owned()));
            }
            let action_start = consumed + open;
            let close = after.find("}}").ok_or_else(|| TemplateError {
                offset: char_offset(text, action_start),
                message: "unclosed action (`{{` without `}}`)".into(),
            })?;
            let mut inner = &after[..close];
            if trim_before {
                inner = &inner[1..];
            }
            trim_next = inner.ends_with(" -")
                || inner.ends_with("\t-")
                || inner.ends_with("\n-")
                || inner.ends_with("\r-");
            if trim_next {
                inner = &inner[..inner.len() - 1];
            }
            let action = inner.trim();
            if action.starts_with("/*") && action.ends_with("*/") && action.len() >= 4 {
                // A comment prints nothing.
            } else {
                let path = field_chain(action).ok_or_else(|| TemplateError {
                    offset: char_offset(text, action_start),
                    message: format!(
                        "`{{{{{action}}}}}` is not supported: sluice's webhooks support only field placeholders such as {{{{.data.project}}}} or {{{{.env.mySecret}}}}"
                    ),
                })?;
                pieces.push(Piece::Field {
                    path,
                    source: action.to_owned(),
                });
            }
            let used = open + 2 + close + 2;
            consumed += used;
            rest = &rest[used..];
        }
        let mut literal = rest;
        if trim_next {
            literal = literal.trim_start();
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal.to_owned()));
        }
        Ok(Template { pieces })
    }

    /// A template that is only `text` (no placeholders).
    pub fn literal(text: &str) -> Template {
        Template {
            pieces: vec![Piece::Text(text.to_owned())],
        }
    }

    /// The text, when the template has no placeholders.
    pub fn as_literal(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [] => Some(""),
            [Piece::Text(t)] => Some(t),
            _ => None,
        }
    }

    /// Whether the template has no placeholders.
    pub fn is_literal(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Text(_)))
    }

    /// The placeholders' field chains (`["env", "secretKey"]`), in order.
    pub fn fields(&self) -> impl Iterator<Item = &[String]> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Field { path, .. } => Some(path.as_slice()),
            Piece::Text(_) => None,
        })
    }

    /// Renders the template over `data`; a missing map key is an error (`missingkey=error`).
    pub fn render(&self, data: &Value) -> Result<String, RenderError> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Field { path, source } => {
                    let mut value = data;
                    for key in path {
                        value = match value {
                            Value::Object(map) => map.get(key).ok_or_else(|| RenderError {
                                action: source.clone(),
                                message: format!("map has no entry for key \"{key}\""),
                            })?,
                            Value::Null => {
                                return Err(RenderError {
                                    action: source.clone(),
                                    message: format!("nil pointer evaluating interface {{}}.{key}"),
                                });
                            }
                            other => {
                                return Err(RenderError {
                                    action: source.clone(),
                                    message: format!(
                                        "can't evaluate field {key} in type {}",
                                        go_type(other)
                                    ),
                                });
                            }
                        };
                    }
                    match value {
                        Value::Null => out.push_str("<no value>"),
                        v => go_print(v, &mut out),
                    }
                }
            }
        }
        Ok(out)
    }
}

impl std::fmt::Display for Template {
    /// The template as written (without trim markers and comments).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => f.write_str(t)?,
                Piece::Field { source, .. } => write!(f, "{{{{{source}}}}}")?,
            }
        }
        Ok(())
    }
}

/// `.a.b.c` → `[a, b, c]`; `.` → `[]`; anything else → `None`.
fn field_chain(action: &str) -> Option<Vec<String>> {
    if action == "." {
        return Some(Vec::new());
    }
    let rest = action.strip_prefix('.')?;
    let mut path = Vec::new();
    for part in rest.split('.') {
        let mut chars = part.chars();
        let first = chars.next()?;
        let ident = (first.is_alphabetic() || first == '_')
            && chars.all(|c| c.is_alphanumeric() || c == '_');
        if !ident {
            return None;
        }
        path.push(part.to_owned());
    }
    Some(path)
}

fn char_offset(text: &str, byte: usize) -> usize {
    text[..byte].chars().count() + 1
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "interface {}",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `fmt.Sprint` of a decoded JSON value.
fn go_print(v: &Value, out: &mut String) {
    crate::job::env_value::sprint_into(v, out, go_float);
}

/// Go's `%v` of a `float64` (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest digits, in
/// exponent form when the decimal exponent is below -4 or at least 6 (so `1e+06`, the
/// well-known surprise of integers in Go templates).
fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        return format!(
            "{mantissa}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        );
    }
    format!("{f}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(t: &str, data: &Value) -> Result<String, String> {
        Template::parse(t)
            .map_err(|e| e.to_string())?
            .render(data)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn fields_render_like_go() {
        let data = json!({"id": "e1", "data": {"project": "shop", "evaluation": {"score": 100, "result": "pass", "ratio": 0.5},
            "labels": {"b": "2", "a": "1"}, "list": ["x", 1], "none": null}, "env": {"secretKey": "s3cr3t"}});
        assert_eq!(
            render(
                "http://h/v1/project/{{.data.project}}?t={{ .env.secretKey }}",
                &data
            ),
            Ok("http://h/v1/project/shop?t=s3cr3t".into())
        );
        assert_eq!(
            render(
                "Evaluation {{.data.evaluation.result}} with a score of {{.data.evaluation.score}} ",
                &data
            ),
            Ok("Evaluation pass with a score of 100 ".into())
        );
        assert_eq!(
            render("{{.data.evaluation.ratio}}", &data),
            Ok("0.5".into())
        );
        assert_eq!(render("{{.data.labels}}", &data), Ok("map[a:1 b:2]".into()));
        assert_eq!(render("{{.data.list}}", &data), Ok("[x 1]".into()));
        assert_eq!(render("{{.data.none}}", &data), Ok("<no value>".into()));
        assert_eq!(
            render("a  {{- .id -}}  b{{/* note */}}", &data),
            Ok("ae1b".into())
        );
        assert_eq!(
            render("no placeholders", &data),
            Ok("no placeholders".into())
        );
    }

    #[test]
    fn numbers_print_as_go_float64() {
        for (n, text) in [
            (json!(100), "100"),
            (json!(100000), "100000"),
            (json!(1234567), "1.234567e+06"),
            (json!(1000000), "1e+06"),
            (json!(0.0001), "0.0001"),
            (json!(0.00001), "1e-05"),
            (json!(-2.5), "-2.5"),
            (json!(0), "0"),
        ] {
            assert_eq!(
                render("{{.n}}", &json!({"n": n})),
                Ok(text.to_owned()),
                "{n}"
            );
        }
    }

    #[test]
    fn a_missing_key_is_an_error_naming_it() {
        let data = json!({"data": {"project": "shop"}, "env": {}});
        assert_eq!(
            render("{{.env.secretKey}}", &data),
            Err(
                "executing template at <.env.secretKey>: map has no entry for key \"secretKey\""
                    .into()
            )
        );
        assert_eq!(
            render("{{.data.project.name}}", &data),
            Err("executing template at <.data.project.name>: can't evaluate field name in type string".into())
        );
    }

    #[test]
    fn unsupported_actions_are_refused_when_read() {
        for (t, offset) in [
            ("x {{index .data \"a\"}}", 3),
            ("{{if .a}}y{{end}}", 1),
            ("{{.a | printf \"%s\"}}", 1),
            ("{{$x := 1}}", 1),
            ("é{{.a", 2),
            ("{{.secret.slack-webhook.token}}", 1),
        ] {
            let e = Template::parse(t).unwrap_err();
            assert_eq!(e.offset, offset, "{t}: {e}");
        }
    }
}
