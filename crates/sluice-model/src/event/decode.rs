//! Reading event JSON the way Go's `encoding/json` reads it into Keptn's structs.
//!
//! Keptn decodes every event payload with `encoding/json` into go-utils structs. That decoder:
//! - ignores object keys that no struct field asks for;
//! - leaves a field at its zero value when the key is missing or the value is `null`;
//! - matches keys to field tags exactly first, then case-insensitively (`problemtitle`
//!   fills a field tagged `problemTitle`);
//! - fails when a key it does decode has the wrong JSON type (a number where a string is
//!   expected, a float or an out-of-range number for an `int`, a string for a nested struct).
//!
//! [`Fields`] reproduces those rules over a [`serde_json::Value`], so a typed payload accepts
//! exactly what Keptn accepted. One difference: when an object holds two keys that fold to the
//! same field, Go keeps the last one in document order; `serde_json` does not keep order, so
//! we prefer the exact spelling, then the first case-insensitive match in key order.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Why a payload could not be read into its typed form (Go's `json.Unmarshal` failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// A field that the typed payload decodes holds the wrong JSON type.
    #[error("cannot decode {found} into field `{field}` (expected {expected})")]
    TypeMismatch {
        /// Dotted path of the field inside `data`, e.g. `get-action.actionIndex`.
        field: String,
        /// What the field needs, e.g. `string`, `integer`, `object`.
        expected: &'static str,
        /// The JSON type found, e.g. `number 1.5`, `string`, `array`.
        found: String,
    },
}

/// A short description of a JSON value's type for error messages (like Go's "number 1.5").
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(n) => format!("number {n}"),
        Value::String(_) => "string".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
    }
}

/// Case-insensitive key comparison in the spirit of Go's field-name folding.
fn fold_eq(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// Looks a field up in an object: exact key first, then a case-insensitive match.
pub(crate) fn lookup<'a>(
    map: &'a Map<String, Value>,
    key: &str,
) -> Option<(&'a String, &'a Value)> {
    if let Some((k, v)) = map.get_key_value(key) {
        return Some((k, v));
    }
    map.iter().find(|(k, _)| fold_eq(k, key))
}

/// The fields of one JSON object being decoded into a Go-like struct.
///
/// A `null` or missing object reads as an empty one (every field zero), as in Go.
pub(crate) struct Fields<'a> {
    map: Option<&'a Map<String, Value>>,
    path: String,
}

impl<'a> Fields<'a> {
    /// Starts decoding `value` (the whole `data`, for instance) as a struct.
    pub(crate) fn root(value: &'a Value) -> Result<Self, DataError> {
        Self::at(value, String::new())
    }

    fn at(value: &'a Value, path: String) -> Result<Self, DataError> {
        match value {
            Value::Null => Ok(Fields { map: None, path }),
            Value::Object(map) => Ok(Fields {
                map: Some(map),
                path,
            }),
            other => Err(DataError::TypeMismatch {
                field: if path.is_empty() { "data".into() } else { path },
                expected: "object",
                found: describe(other),
            }),
        }
    }

    fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{}", self.path, key)
        }
    }

    fn mismatch(&self, key: &str, expected: &'static str, found: &Value) -> DataError {
        DataError::TypeMismatch {
            field: self.path_of(key),
            expected,
            found: describe(found),
        }
    }

    /// The raw value of a field; `None` when missing or `null`.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        let map = self.map?;
        match lookup(map, key) {
            Some((_, Value::Null)) | None => None,
            Some((_, v)) => Some(v),
        }
    }

    /// A Go `string` field.
    pub(crate) fn string(&self, key: &str) -> Result<String, DataError> {
        match self.get(key) {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(self.mismatch(key, "string", v)),
        }
    }

    /// A Go `int` field (64-bit): only integer literals in range decode.
    pub(crate) fn int(&self, key: &str) -> Result<i64, DataError> {
        match self.get(key) {
            None => Ok(0),
            Some(v @ Value::Number(n)) => {
                n.as_i64().ok_or_else(|| self.mismatch(key, "integer", v))
            }
            Some(v) => Err(self.mismatch(key, "integer", v)),
        }
    }

    /// A Go `float64` field.
    pub(crate) fn float(&self, key: &str) -> Result<f64, DataError> {
        match self.get(key) {
            None => Ok(0.0),
            Some(v @ Value::Number(n)) => n.as_f64().ok_or_else(|| self.mismatch(key, "number", v)),
            Some(v) => Err(self.mismatch(key, "number", v)),
        }
    }

    /// A Go `bool` field.
    pub(crate) fn boolean(&self, key: &str) -> Result<bool, DataError> {
        match self.get(key) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.mismatch(key, "bool", v)),
        }
    }

    /// A Go `[]string` field; `None` is Go's nil slice (missing or `null`).
    pub(crate) fn strings(&self, key: &str) -> Result<Option<Vec<String>>, DataError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s.clone()),
                        // Go leaves a null element at the zero value "".
                        Value::Null => out.push(String::new()),
                        other => {
                            return Err(DataError::TypeMismatch {
                                field: format!("{}[{i}]", self.path_of(key)),
                                expected: "string",
                                found: describe(other),
                            });
                        }
                    }
                }
                Ok(Some(out))
            }
            Some(v) => Err(self.mismatch(key, "array of strings", v)),
        }
    }

    /// A Go `map[string]string` field (missing or `null` gives an empty map).
    pub(crate) fn string_map(&self, key: &str) -> Result<BTreeMap<String, String>, DataError> {
        match self.get(key) {
            None => Ok(BTreeMap::new()),
            Some(Value::Object(map)) => {
                let mut out = BTreeMap::new();
                for (k, v) in map {
                    match v {
                        Value::String(s) => {
                            out.insert(k.clone(), s.clone());
                        }
                        Value::Null => {
                            out.insert(k.clone(), String::new());
                        }
                        other => {
                            return Err(DataError::TypeMismatch {
                                field: format!("{}.{k}", self.path_of(key)),
                                expected: "string",
                                found: describe(other),
                            });
                        }
                    }
                }
                Ok(out)
            }
            Some(v) => Err(self.mismatch(key, "object of strings", v)),
        }
    }

    /// A Go `map[string]interface{}` field; `None` is Go's nil map.
    pub(crate) fn any_map(&self, key: &str) -> Result<Option<Map<String, Value>>, DataError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map.clone())),
            Some(v) => Err(self.mismatch(key, "object", v)),
        }
    }

    /// A Go `interface{}` field: any value; `None` for missing or `null`.
    pub(crate) fn any(&self, key: &str) -> Option<Value> {
        self.get(key).cloned()
    }

    /// A nested struct field.
    pub(crate) fn object(&self, key: &str) -> Result<Fields<'a>, DataError> {
        match self.get(key) {
            None => Ok(Fields {
                map: None,
                path: self.path_of(key),
            }),
            Some(v) => Fields::at(v, self.path_of(key)),
        }
    }

    /// A Go slice of structs (`[]T` or `[]*T`), each element read by `read`.
    pub(crate) fn list<T>(
        &self,
        key: &str,
        mut read: impl FnMut(&Fields<'a>) -> Result<T, DataError>,
    ) -> Result<Option<Vec<T>>, DataError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let fields = Fields::at(item, format!("{}[{i}]", self.path_of(key)))?;
                    out.push(read(&fields)?);
                }
                Ok(Some(out))
            }
            Some(v) => Err(self.mismatch(key, "array", v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_and_null_fields_are_zero() {
        let v = json!({"a": null});
        let f = Fields::root(&v).unwrap();
        assert_eq!(f.string("a").unwrap(), "");
        assert_eq!(f.int("b").unwrap(), 0);
        assert!(!f.boolean("c").unwrap());
        assert_eq!(f.strings("d").unwrap(), None);
        let null = Value::Null;
        assert_eq!(Fields::root(&null).unwrap().string("x").unwrap(), "");
    }

    #[test]
    fn keys_match_case_insensitively_exact_first() {
        let v = json!({"problemtitle": "folded", "ProblemTitle": "exact"});
        let f = Fields::root(&v).unwrap();
        assert_eq!(f.string("ProblemTitle").unwrap(), "exact");
        assert_eq!(f.string("problemtitle").unwrap(), "folded");
        // No exact match: the first folded key in (sorted) key order.
        assert_eq!(f.string("problemTitle").unwrap(), "exact");
        let v = json!({"PROBLEMTITLE": "x"});
        assert_eq!(
            Fields::root(&v).unwrap().string("problemTitle").unwrap(),
            "x"
        );
    }

    #[test]
    fn int_rejects_floats_like_go() {
        let v = json!({"a": 1.0, "b": 1.5, "c": "1", "d": 7, "e": 1e3});
        let f = Fields::root(&v).unwrap();
        assert!(f.int("a").is_err());
        assert!(f.int("b").is_err());
        assert!(f.int("c").is_err());
        assert!(f.int("e").is_err());
        assert_eq!(f.int("d").unwrap(), 7);
        assert_eq!(f.float("d").unwrap(), 7.0);
    }

    #[test]
    fn type_mismatch_names_the_nested_field() {
        let v = json!({"get-action": {"actionIndex": "1"}});
        let f = Fields::root(&v).unwrap();
        let err = f
            .object("get-action")
            .unwrap()
            .int("actionIndex")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot decode string into field `get-action.actionIndex` (expected integer)"
        );
        let v = json!({"labels": {"a": 1}});
        let err = Fields::root(&v).unwrap().string_map("labels").unwrap_err();
        assert!(err.to_string().contains("labels.a"), "{err}");
        let v = json!([1]);
        assert!(Fields::root(&v).is_err());
    }
}
