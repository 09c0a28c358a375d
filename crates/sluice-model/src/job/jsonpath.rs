//! The JSONPath subset that job configs use, with the lookup semantics of JES's library.
//!
//! JES evaluated `jsonpath.property` and `valueFrom: event` values with
//! `github.com/PaesslerAG/jsonpath` (a gval language). sluice implements the part users
//! write: a single value selected from the root `$` by `.key`, `['key']`/`["key"]` and `[n]`
//! (negative `n` counts from the end). Wildcards, `..`, unions, slices, filters and scripts
//! select several values: in JES they yielded a list, which never equals a `match` string, so
//! sluice rejects them with [`JsonPathError::Unsupported`] instead.
//!
//! Lookup follows PaesslerAG: a missing key is an error (JES then treated the matcher as not
//! matching, or failed the task for an env value), `[n]` on a mapping looks up the key `"n"`,
//! and `.key` only takes Go identifiers (`$.data.my-key` is arithmetic in gval: write
//! `$.data['my-key']`). Out-of-range indexes are an error (PaesslerAG 0.1.x); later versions
//! returned null.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

/// A parsed JSONPath that selects one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    segments: Vec<Segment>,
}

/// One step of a [`JsonPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// `.key` or `['key']`.
    Key(String),
    /// `[n]`.
    Index(i64),
}

/// Why a JSONPath could not be parsed or evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonPathError {
    /// The text is not a JSONPath.
    #[error("invalid JSONPath at character {at}: {message}")]
    Syntax {
        /// 0-based character offset.
        at: usize,
        /// What was expected.
        message: String,
    },
    /// A JSONPath feature that selects several values.
    #[error("{0} selects several values, which never equal a single string; select one value")]
    Unsupported(String),
    /// The key is not in the mapping.
    #[error("unknown key {0}")]
    UnknownKey(String),
    /// The index is outside the list.
    #[error("index {0} out of bounds")]
    OutOfBounds(i64),
    /// A key or index applied to a scalar, or a key to a list.
    #[error("cannot select {selector} from {found}")]
    NotSelectable {
        /// The key or index.
        selector: String,
        /// What the value was.
        found: &'static str,
    },
}

impl JsonPath {
    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The steps after `$`.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The value this path selects in `root`.
    pub fn select<'a>(&self, root: &'a Value) -> Result<&'a Value, JsonPathError> {
        let mut cur = root;
        for seg in &self.segments {
            cur = match (seg, cur) {
                (Segment::Key(k), Value::Object(m)) => m
                    .get(k)
                    .ok_or_else(|| JsonPathError::UnknownKey(k.clone()))?,
                (Segment::Index(i), Value::Object(m)) => {
                    let k = i.to_string();
                    m.get(&k).ok_or(JsonPathError::UnknownKey(k))?
                }
                (Segment::Index(i), Value::Array(a)) => index(a, *i)?,
                (Segment::Key(k), Value::Array(a)) => match k.parse::<i64>() {
                    Ok(i) => index(a, i)?,
                    Err(_) => {
                        return Err(JsonPathError::NotSelectable {
                            selector: k.clone(),
                            found: "a list",
                        });
                    }
                },
                (seg, other) => {
                    return Err(JsonPathError::NotSelectable {
                        selector: match seg {
                            Segment::Key(k) => k.clone(),
                            Segment::Index(i) => i.to_string(),
                        },
                        found: describe(other),
                    });
                }
            };
        }
        Ok(cur)
    }
}

fn index(a: &[Value], i: i64) -> Result<&Value, JsonPathError> {
    let len = i64::try_from(a.len()).unwrap_or(i64::MAX);
    let p = if i < 0 { len.saturating_add(i) } else { i };
    if p < 0 || p >= len {
        return Err(JsonPathError::OutOfBounds(i));
    }
    usize::try_from(p)
        .ok()
        .and_then(|p| a.get(p))
        .ok_or(JsonPathError::OutOfBounds(i))
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for JsonPath {
    type Err = JsonPathError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let chars: Vec<char> = text.chars().collect();
        let mut p = Cursor {
            chars: &chars,
            i: 0,
        };
        p.skip_ws();
        if p.peek() != Some('$') {
            return Err(p.syntax("a JSONPath starts with `$`"));
        }
        p.i += 1;
        let mut segments = Vec::new();
        loop {
            p.skip_ws();
            match p.peek() {
                None => break,
                Some('.') => {
                    p.i += 1;
                    match p.peek() {
                        Some('.') => return Err(JsonPathError::Unsupported("`..`".into())),
                        Some('*') => return Err(JsonPathError::Unsupported("`.*`".into())),
                        Some(c) if c == '_' || c.is_alphabetic() => {
                            let start = p.i;
                            while p.peek().is_some_and(|c| c == '_' || c.is_alphanumeric()) {
                                p.i += 1;
                            }
                            segments.push(Segment::Key(chars[start..p.i].iter().collect()));
                        }
                        _ => {
                            return Err(p.syntax(
                                "expected a key name after `.` (use ['key'] for other keys)",
                            ));
                        }
                    }
                }
                Some('[') => {
                    p.i += 1;
                    p.skip_ws();
                    let seg = match p.peek() {
                        Some(q @ ('\'' | '"')) => Segment::Key(p.quoted(q)?),
                        Some(c) if c == '-' || c.is_ascii_digit() => {
                            let start = p.i;
                            p.i += 1;
                            while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                                p.i += 1;
                            }
                            let s: String = chars[start..p.i].iter().collect();
                            let n = s
                                .parse::<i64>()
                                .map_err(|_| p.syntax("expected an index"))?;
                            Segment::Index(n)
                        }
                        Some('*') => return Err(JsonPathError::Unsupported("`[*]`".into())),
                        Some('?') => return Err(JsonPathError::Unsupported("a filter".into())),
                        Some(':') => return Err(JsonPathError::Unsupported("a slice".into())),
                        _ => return Err(p.syntax("expected an index or a quoted key")),
                    };
                    p.skip_ws();
                    match p.peek() {
                        Some(']') => p.i += 1,
                        Some(',') => return Err(JsonPathError::Unsupported("a union".into())),
                        Some(':') => return Err(JsonPathError::Unsupported("a slice".into())),
                        _ => return Err(p.syntax("expected `]`")),
                    }
                    segments.push(seg);
                }
                Some('(') => return Err(JsonPathError::Unsupported("a script".into())),
                Some(_) => return Err(p.syntax("expected `.`, `[` or the end of the path")),
            }
        }
        Ok(JsonPath {
            text: text.to_owned(),
            segments,
        })
    }
}

struct Cursor<'a> {
    chars: &'a [char],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
    }

    fn syntax(&self, message: &str) -> JsonPathError {
        JsonPathError::Syntax {
            at: self.i,
            message: message.to_owned(),
        }
    }

    /// A quoted key with backslash escapes; the cursor is on the opening quote.
    fn quoted(&mut self, quote: char) -> Result<String, JsonPathError> {
        self.i += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.syntax("unterminated quoted key")),
                Some(c) if c == quote => {
                    self.i += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.i += 1;
                    let c = self
                        .peek()
                        .ok_or_else(|| self.syntax("unterminated quoted key"))?;
                    out.push(match c {
                        'n' => '\n',
                        't' => '\t',
                        other => other,
                    });
                    self.i += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> JsonPath {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_the_forms_users_write() {
        assert_eq!(p("$").segments(), &[]);
        assert_eq!(
            p("$.data.action.action").segments(),
            &[
                Segment::Key("data".into()),
                Segment::Key("action".into()),
                Segment::Key("action".into())
            ]
        );
        assert_eq!(
            p("$.data.deployment.deploymentURIsLocal[0]").segments()[3],
            Segment::Index(0)
        );
        assert_eq!(
            p("$['data'][\"my-key\"][-1]").segments(),
            &[
                Segment::Key("data".into()),
                Segment::Key("my-key".into()),
                Segment::Index(-1)
            ]
        );
        assert_eq!(p("$.data.labels.E2E_x1").segments().len(), 3);
    }

    #[test]
    fn rejects_multi_value_and_broken_paths() {
        for s in [
            "$..a",
            "$.a.*",
            "$.a[*]",
            "$.a[0,1]",
            "$.a[0:2]",
            "$.a[?(@.b)]",
        ] {
            assert!(
                matches!(s.parse::<JsonPath>(), Err(JsonPathError::Unsupported(_))),
                "{s}"
            );
        }
        for s in ["", "data.a", "$.", "$.a-b", "$.0", "$['a'", "$[a]", "$.a]"] {
            assert!(
                matches!(s.parse::<JsonPath>(), Err(JsonPathError::Syntax { .. })),
                "{s}"
            );
        }
    }

    #[test]
    fn selects_like_paesslerag() {
        let v = json!({"data": {"a": {"b": "x"}, "l": [1, 2, 3], "m": {"0": "zero"}}});
        assert_eq!(p("$.data.a.b").select(&v), Ok(&json!("x")));
        assert_eq!(p("$.data.l[0]").select(&v), Ok(&json!(1)));
        assert_eq!(p("$.data.l[-1]").select(&v), Ok(&json!(3)));
        assert_eq!(p("$.data.m[0]").select(&v), Ok(&json!("zero")));
        assert_eq!(p("$").select(&v), Ok(&v));
        assert_eq!(
            p("$.data.nope").select(&v),
            Err(JsonPathError::UnknownKey("nope".into()))
        );
        assert_eq!(
            p("$.data.l[3]").select(&v),
            Err(JsonPathError::OutOfBounds(3))
        );
        assert!(matches!(
            p("$.data.a.b.c").select(&v),
            Err(JsonPathError::NotSelectable { .. })
        ));
    }
}
