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
pub(crate) fn fold_eq(a: &str, b: &str) -> bool {
    // Two ASCII names compare byte by byte (the common case, and no allocation); only
    // other text needs Unicode's lowercase, which can change its length (the Kelvin sign
    // folds to `k`).
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
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

/// Where a value sits inside `data`; rendered to a dotted path only when an error names it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path<'p> {
    /// A struct's own path (empty for `data` itself).
    At(&'p str),
    /// A key of an object.
    Key(&'p Path<'p>, &'p str),
    /// An element of an array.
    Index(&'p Path<'p>, usize),
}

impl Path<'_> {
    fn render(&self) -> String {
        match self {
            Path::At(path) => (*path).to_string(),
            Path::Key(parent, key) => {
                let parent = parent.render();
                if parent.is_empty() {
                    (*key).to_string()
                } else {
                    format!("{parent}.{key}")
                }
            }
            Path::Index(parent, i) => format!("{}[{i}]", parent.render()),
        }
    }

    fn mismatch(&self, expected: &'static str, found: &Value) -> DataError {
        DataError::TypeMismatch {
            field: self.render(),
            expected,
            found: describe(found),
        }
    }
}

/// A Rust type that a Go struct field decodes into, with `encoding/json`'s rules.
///
/// Each impl is one Go field type: `String` is `string`, `i64` is `int`, `f64` is `float64`,
/// `bool` is `bool`, `Vec<T>` is `[]T` (nil read as empty, for `omitempty` slices),
/// `Option<Vec<T>>` is `[]T` keeping nil apart, `BTreeMap<String, String>` is
/// `map[string]string`, `Map<String, Value>` is `map[string]interface{}`, `Value` is
/// `interface{}`, `Option<T>` is a pointer or a nillable value, and every struct declared with
/// [`go_struct!`] is a nested struct. Wire-string enums read a Go `string` ([`go_string!`]).
pub(crate) trait GoDecode: Sized {
    /// What an array of this type is called in errors.
    const ARRAY: &'static str = "array";

    /// Reads `value`; `None` is a missing key or `null` (Go leaves the zero value).
    fn decode(value: Option<&Value>, path: &Path<'_>) -> Result<Self, DataError>;
}

impl GoDecode for String {
    const ARRAY: &'static str = "array of strings";

    fn decode(value: Option<&Value>, path: &Path<'_>) -> Result<Self, DataError> {
        match value {
            None => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(path.mismatch("string", v)),
        }
    }
}

/// A Go `int` (64-bit): only integer literals in range decode.
impl GoDecode for i64 {
    fn decode(value: Option<&Value>, path: &Path<'_>) -> Result<Self, DataError> {
        match value {
            None => Ok(0),
            Some(v @ Value::Number(n)) => n.as_i64().ok_or_else(|| path.mismatch("integer", v)),
            Some(v) => Err(path.mismatch("integer", v)),
        }
    }
}

impl GoDecode for f64 {
    fn decode(value: Option<&Value>, path: &Path<'_>) -> Result<Self, DataError> {
        match value {
            None => Ok(0.0),
            Some(v @ Value::Number(n)) => n.as_f64().ok_or_else(|| path.mismatch("number", v)),
            Some(v) => Err(path.mismatch("number", v)),
        }
    }
}

impl GoDecode for bool {
    fn decode(value: Option<&Value>, path: &Path<'_>) -> Result<Self, DataError> {
        match value {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(path.mismatch("bool", v)),
        }
    }
}

/// `interface{}`: any value as it is.
impl GoDecode for Value {
    fn decode(value: Option<&Value>, _: &Path<'_>) -> Result<Self, DataError> {
        Ok(value.cloned().unwrap_or(Value::Null))
    }
}

/// `map[string]interface{}`.
impl GoDecode for Map<String, Value> {
    fn decode(value: Option<&Value>, path: &Path<'_>) -> Result<Self, DataError> {
        match value {
            None => Ok(Map::new()),
            Some(Value::Object(map)) => Ok(map.clone()),
            Some(v) => Err(path.mismatch("object", v)),
        }
    }
}

/// `map[string]string`: a `null` entry is the zero value `""`.
impl GoDecode for BTreeMap<String, String> {
    fn decode(value: Option<&Value>, path: &Path<'_>) -> Result<Self, DataError> {
        match value {
            None => Ok(BTreeMap::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| Ok((k.clone(), String::decode(present(v), &Path::Key(path, k))?)))
                .collect(),
            Some(v) => Err(path.mismatch("object of strings", v)),
        }
    }
}

/// `[]T`: a `null` element is the zero value.
impl<T: GoDecode> GoDecode for Vec<T> {
    fn decode(value: Option<&Value>, path: &Path<'_>) -> Result<Self, DataError> {
        match value {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| T::decode(present(item), &Path::Index(path, i)))
                .collect(),
            Some(v) => Err(path.mismatch(T::ARRAY, v)),
        }
    }
}

/// A pointer, or a nil slice/map/interface kept apart from an empty one: `None` when missing
/// or `null`.
impl<T: GoDecode> GoDecode for Option<T> {
    fn decode(value: Option<&Value>, path: &Path<'_>) -> Result<Self, DataError> {
        value.map(|v| T::decode(Some(v), path)).transpose()
    }
}

/// `null` reads like a missing value.
fn present(v: &Value) -> Option<&Value> {
    (!v.is_null()).then_some(v)
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
        Self::at(Some(value), &Path::At(""))
    }

    /// The fields of a struct found at `path`; `None` (missing or `null`) has none.
    pub(crate) fn at(value: Option<&'a Value>, path: &Path<'_>) -> Result<Self, DataError> {
        match value {
            None | Some(Value::Null) => Ok(Fields {
                map: None,
                path: path.render(),
            }),
            Some(Value::Object(map)) => Ok(Fields {
                map: Some(map),
                path: path.render(),
            }),
            Some(other) => Err(DataError::TypeMismatch {
                field: match path.render() {
                    p if p.is_empty() => "data".into(),
                    p => p,
                },
                expected: "object",
                found: describe(other),
            }),
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

    /// The field `key` read as a `T` (the Go type `T` stands for; see [`GoDecode`]).
    pub(crate) fn field<T: GoDecode>(&self, key: &str) -> Result<T, DataError> {
        T::decode(self.get(key), &Path::Key(&Path::At(&self.path), key))
    }
}

/// Makes wire-string enums (declared with `wire_enum!`) Go `string` fields: the string, read
/// as a string, then mapped (an unknown spelling is kept, never an error).
macro_rules! go_string {
    ($($ty:ty),* $(,)?) => {
        $(
            impl $crate::event::decode::GoDecode for $ty {
                fn decode(
                    value: Option<&::serde_json::Value>,
                    path: &$crate::event::decode::Path<'_>,
                ) -> Result<Self, $crate::event::decode::DataError> {
                    Ok(<$ty>::from(
                        <String as $crate::event::decode::GoDecode>::decode(value, path)?.as_str(),
                    ))
                }
            }
        )*
    };
}
pub(crate) use go_string;

/// Declares a payload struct once and reads it with Go's `encoding/json` rules.
///
/// Each field names its JSON key after `=` (written as a serde `rename` too); without one the
/// key is the field's name. `: EventData` after the struct's name embeds go-utils'
/// `EventData` as a flattened `base` field, as Go's embedded struct. Other attributes (docs,
/// derives, serde `skip_serializing_if`/`serialize_with`) pass through unchanged, so writing
/// stays serde's `Serialize`. The struct gets:
/// - `read(&Fields)`, every field read by its type's [`GoDecode`];
/// - [`GoDecode`], so it can be a field, a list element or a pointer of another struct;
/// - serde `Deserialize` with the same rules (through a JSON value).
///
/// ```text
/// go_struct! {
///     /// Data of `sh.keptn.event.deployment.finished`.
///     #[derive(Debug, Clone, Default, Serialize)]
///     pub struct DeploymentFinishedEventData: EventData {
///         /// `deploymentNames` (always written; nil as `null`).
///         pub deployment_names: Option<Vec<String>> = "deploymentNames",
///     }
/// }
/// ```
macro_rules! go_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident $(: $base:ident)? {
            $(
                $(#[$field_meta:meta])*
                $field_vis:vis $field:ident : $ty:ty $(= $key:literal)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $(
                /// Common fields (go-utils `EventData`, embedded).
                #[serde(flatten)]
                pub base: $base,
            )?
            $(
                $(#[$field_meta])*
                $(#[serde(rename = $key)])?
                $field_vis $field: $ty,
            )*
        }

        impl $name {
            /// Reads this struct's fields (Go `encoding/json` rules).
            pub(crate) fn read(
                f: &$crate::event::decode::Fields<'_>,
            ) -> Result<Self, $crate::event::decode::DataError> {
                Ok($name {
                    $(base: $base::read(f)?,)?
                    $($field: f.field($crate::event::decode::go_struct!(@key $field $($key)?))?,)*
                })
            }
        }

        impl $crate::event::decode::GoDecode for $name {
            fn decode(
                value: Option<&::serde_json::Value>,
                path: &$crate::event::decode::Path<'_>,
            ) -> Result<Self, $crate::event::decode::DataError> {
                Self::read(&$crate::event::decode::Fields::at(value, path)?)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = <::serde_json::Value as ::serde::Deserialize>::deserialize(d)?;
                $crate::event::decode::Fields::root(&value)
                    .and_then(|f| Self::read(&f))
                    .map_err(::serde::de::Error::custom)
            }
        }
    };
    (@key $field:ident) => { stringify!($field) };
    (@key $field:ident $key:literal) => { $key };
}
pub(crate) use go_struct;

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use serde_json::json;

    go_struct! {
        /// A nested struct.
        #[derive(Debug, Default, PartialEq, Serialize)]
        struct Inner {
            problem_title: String = "problemTitle",
            count: i64,
        }
    }

    go_struct! {
        /// The common fields of the test payloads.
        #[derive(Debug, Default, PartialEq, Serialize)]
        struct Base {
            project: String,
        }
    }

    go_struct! {
        /// A payload with every kind of field.
        #[derive(Debug, Default, PartialEq, Serialize)]
        struct Outer: Base {
            inner: Inner,
            pointer: Option<Inner>,
            list: Option<Vec<Inner>>,
            names: Vec<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            any: Option<Value>,
        }
    }

    #[test]
    fn missing_and_null_fields_are_zero() {
        let v = json!({"a": null});
        let f = Fields::root(&v).unwrap();
        assert_eq!(f.field::<String>("a").unwrap(), "");
        assert_eq!(f.field::<i64>("b").unwrap(), 0);
        assert!(!f.field::<bool>("c").unwrap());
        assert_eq!(f.field::<Option<Vec<String>>>("d").unwrap(), None);
        let null = Value::Null;
        assert_eq!(
            Fields::root(&null).unwrap().field::<String>("x").unwrap(),
            ""
        );
    }

    #[test]
    fn keys_match_case_insensitively_exact_first() {
        let v = json!({"problemtitle": "folded", "ProblemTitle": "exact"});
        let f = Fields::root(&v).unwrap();
        assert_eq!(f.field::<String>("ProblemTitle").unwrap(), "exact");
        assert_eq!(f.field::<String>("problemtitle").unwrap(), "folded");
        // No exact match: the first folded key in (sorted) key order.
        assert_eq!(f.field::<String>("problemTitle").unwrap(), "exact");
        let v = json!({"PROBLEMTITLE": "x"});
        assert_eq!(
            Fields::root(&v)
                .unwrap()
                .field::<String>("problemTitle")
                .unwrap(),
            "x"
        );
    }

    #[test]
    fn int_rejects_floats_like_go() {
        let v = json!({"a": 1.0, "b": 1.5, "c": "1", "d": 7, "e": 1e3});
        let f = Fields::root(&v).unwrap();
        assert!(f.field::<i64>("a").is_err());
        assert!(f.field::<i64>("b").is_err());
        assert!(f.field::<i64>("c").is_err());
        assert!(f.field::<i64>("e").is_err());
        assert_eq!(f.field::<i64>("d").unwrap(), 7);
        assert_eq!(f.field::<f64>("d").unwrap(), 7.0);
    }

    #[test]
    fn type_mismatch_names_the_nested_field() {
        let v = json!({"get-action": {"actionIndex": "1"}});
        let f = Fields::root(&v).unwrap();
        let err = Fields::at(f.get("get-action"), &Path::Key(&Path::At(""), "get-action"))
            .unwrap()
            .field::<i64>("actionIndex")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot decode string into field `get-action.actionIndex` (expected integer)"
        );
        let v = json!({"labels": {"a": 1}});
        let err = Fields::root(&v)
            .unwrap()
            .field::<BTreeMap<String, String>>("labels")
            .unwrap_err();
        assert!(err.to_string().contains("labels.a"), "{err}");
        let v = json!([1]);
        assert!(Fields::root(&v).is_err());
    }

    #[test]
    fn declared_structs_fold_keys_at_every_depth() {
        let v = json!({"PROJECT": "p", "Inner": {"PROBLEMTITLE": "t", "Count": 2},
                       "pointer": {"problemtitle": "q"}, "LIST": [{"ProblemTitle": "a"}, null],
                       "names": ["x", null], "unknown": [1, 2]});
        let o = Outer::read(&Fields::root(&v).unwrap()).unwrap();
        assert_eq!(o.base.project, "p");
        assert_eq!(
            o.inner,
            Inner {
                problem_title: "t".into(),
                count: 2
            }
        );
        assert_eq!(o.pointer.unwrap().problem_title, "q");
        let list = o.list.unwrap();
        assert_eq!(list[0].problem_title, "a");
        assert_eq!(list[1], Inner::default());
        assert_eq!(o.names, ["x", ""]);
        assert_eq!(o.any, None);
        // Exact spelling wins over a folded one, inside nested objects too.
        let v = json!({"inner": {"problemtitle": "folded", "problemTitle": "exact"}});
        let o: Outer = serde_json::from_value(v).unwrap();
        assert_eq!(o.inner.problem_title, "exact");
    }

    #[test]
    fn declared_structs_keep_nil_apart_and_write_renamed_keys() {
        let o: Outer = serde_json::from_value(json!({"pointer": null, "list": []})).unwrap();
        assert_eq!(o.pointer, None);
        assert_eq!(o.list, Some(Vec::new()));
        assert_eq!(
            serde_json::to_value(&o).unwrap(),
            json!({"project": "", "inner": {"problemTitle": "", "count": 0}, "pointer": null,
                   "list": [], "names": []})
        );
        let o: Outer = serde_json::from_value(json!(null)).unwrap();
        assert_eq!(o, Outer::default());
    }

    #[test]
    fn declared_structs_name_the_dotted_path_of_a_wrong_type() {
        let err = |v: Value| serde_json::from_value::<Outer>(v).unwrap_err().to_string();
        assert_eq!(
            err(json!({"inner": {"count": 1.5}})),
            "cannot decode number 1.5 into field `inner.count` (expected integer)"
        );
        assert_eq!(
            err(json!({"list": [{}, {"problemTitle": 3}]})),
            "cannot decode number 3 into field `list[1].problemTitle` (expected string)"
        );
        assert_eq!(
            err(json!({"LIST": [{}, "x"]})),
            "cannot decode string into field `list[1]` (expected object)"
        );
        assert_eq!(
            err(json!({"pointer": []})),
            "cannot decode array into field `pointer` (expected object)"
        );
        assert_eq!(
            err(json!({"names": "x"})),
            "cannot decode string into field `names` (expected array of strings)"
        );
        assert_eq!(
            err(json!({"list": {}})),
            "cannot decode object into field `list` (expected array)"
        );
        assert_eq!(
            err(json!({"names": [true]})),
            "cannot decode bool into field `names[0]` (expected string)"
        );
        assert_eq!(
            err(json!("x")),
            "cannot decode string into field `data` (expected object)"
        );
    }
}
