//! Keptn's payload merge (`shipyard-controller/internal/common` `Merge`), replicated on JSON
//! values, quirks included.
//!
//! The shipyard-controller builds every task's `.triggered` payload by merging JSON documents
//! (the sequence input, each finished task's data, the task's shipyard properties). Its rule,
//! by the type of the OLDER value:
//! - object: merged key by key (recursively); a key whose old value is `null` or absent takes
//!   the new value as is; a new `null` leaves the object unchanged; any other new type replaces
//!   the object;
//! - array: new entries first, then the old ones, duplicates removed (Keptn issue #7627); a new
//!   `null` keeps the old array (deduplicated); any other new type replaces the array;
//! - string: the new string wins; a new `null` gives `""` (Go's zero string); any other new type
//!   replaces it;
//! - `null`: the new value wins;
//! - number or boolean: **the old value is kept, whatever the new value is** (Go's switch has no
//!   case for them and falls through to "return the old value"). So a task that reports
//!   `{"replicas": 3}` after the input had `{"replicas": 1}` does not change `replicas`.
//!
//! Deduplication compares scalar entries (strings, numbers by value, booleans, null). Keptn
//! put the entries into a Go map, which panics at run time for object or array entries; we
//! keep such entries unchanged instead of crashing.

use serde_json::{Map, Value};

/// Merges `new` into `old` with Keptn's rule (see the module docs) and returns the result.
pub fn merge(old: Value, new: Value) -> Value {
    match old {
        Value::Array(old_items) => match new {
            Value::Array(mut items) => {
                items.extend(old_items);
                Value::Array(dedup(items))
            }
            Value::Null => Value::Array(dedup(old_items)),
            other => other,
        },
        Value::Object(mut old_map) => match new {
            Value::Object(new_map) => {
                merge_maps(&mut old_map, new_map);
                Value::Object(old_map)
            }
            Value::Null => Value::Object(old_map),
            other => other,
        },
        Value::String(old_s) => match new {
            Value::String(s) => Value::String(s),
            Value::Null => {
                drop(old_s);
                Value::String(String::new())
            }
            other => other,
        },
        Value::Null => new,
        // Numbers and booleans: Go's `Merge` has no case for them and returns the old value.
        keep @ (Value::Number(_) | Value::Bool(_)) => keep,
    }
}

/// Merges every key of `new` into `old` (Keptn's `mergeMaps`).
pub fn merge_maps(old: &mut Map<String, Value>, new: Map<String, Value>) {
    for (key, new_value) in new {
        match old.get_mut(&key) {
            Some(slot) if !slot.is_null() => {
                let old_value = std::mem::take(slot);
                *slot = merge(old_value, new_value);
            }
            _ => {
                old.insert(key, new_value);
            }
        }
    }
}

/// Removes repeated scalar entries, keeping the first occurrence (Keptn's `Dedup`).
fn dedup(items: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(items.len());
    for item in items {
        let scalar = !matches!(item, Value::Array(_) | Value::Object(_));
        if scalar && out.iter().any(|seen| same_scalar(seen, &item)) {
            continue;
        }
        out.push(item);
    }
    out
}

/// Go compares decoded JSON numbers as float64, so `1` and `1.0` are the same entry.
fn same_scalar(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(_) | Value::Object(_), _) => false,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(old: Value, new: Value) -> String {
        merge(old, new).to_string()
    }

    #[test]
    fn maps_merge_recursively_and_strings_take_the_newer_value() {
        assert_eq!(
            m(
                json!({"a": {"x": "old", "y": "keep"}, "b": "old"}),
                json!({"a": {"x": "new", "z": "add"}, "b": "new"})
            ),
            r#"{"a":{"x":"new","y":"keep","z":"add"},"b":"new"}"#
        );
    }

    #[test]
    fn numbers_and_booleans_keep_the_older_value() {
        assert_eq!(
            m(
                json!({"n": 1, "b": false, "f": 1.5}),
                json!({"n": 2, "b": true, "f": "text"})
            ),
            r#"{"b":false,"f":1.5,"n":1}"#
        );
    }

    #[test]
    fn arrays_put_new_entries_first_and_drop_duplicates() {
        assert_eq!(
            m(json!(["a", "b", 1]), json!(["c", "a", 1.0])),
            r#"["c","a",1.0,"b"]"#
        );
        assert_eq!(m(json!(["a", "a"]), Value::Null), r#"["a"]"#);
        assert_eq!(
            m(json!([{"k": 1}]), json!([{"k": 1}])),
            r#"[{"k":1},{"k":1}]"#
        );
    }

    #[test]
    fn type_changes_take_the_newer_value_except_for_numbers_and_booleans() {
        assert_eq!(
            m(json!({"a": "s"}), json!({"a": {"x": 1}})),
            r#"{"a":{"x":1}}"#
        );
        assert_eq!(m(json!({"a": [1]}), json!({"a": "s"})), r#"{"a":"s"}"#);
        assert_eq!(m(json!({"a": {"x": 1}}), json!({"a": 5})), r#"{"a":5}"#);
        assert_eq!(m(json!({"a": 5}), json!({"a": {"x": 1}})), r#"{"a":5}"#);
    }

    #[test]
    fn null_handling_follows_go() {
        // A null old value (or a missing key) takes the new value.
        assert_eq!(m(json!({"a": null}), json!({"a": 3})), r#"{"a":3}"#);
        // A new null blanks a string, keeps maps and arrays.
        assert_eq!(
            m(
                json!({"s": "x", "o": {"k": "v"}, "l": ["q"]}),
                json!({"s": null, "o": null, "l": null})
            ),
            r#"{"l":["q"],"o":{"k":"v"},"s":""}"#
        );
        assert_eq!(m(Value::Null, json!({"k": 1})), r#"{"k":1}"#);
    }
}
