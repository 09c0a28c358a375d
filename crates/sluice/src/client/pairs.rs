//! `key=value` arguments: labels (`-l a=b,c=d`, repeatable) and configuration values
//! (`--values a.b=c`, dotted keys make nested objects).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// Why a `key=value` argument is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairError {
    /// No `=` in an item.
    #[error("invalid {what} {item:?} in {arg:?}: must be formatted as key=value")]
    MissingEquals {
        /// "label" or "value".
        what: &'static str,
        /// The offending item.
        item: String,
        /// The whole argument.
        arg: String,
    },
    /// `=value` without a key.
    #[error("invalid {what} {item:?} in {arg:?}: the key is empty")]
    EmptyKey {
        /// "label" or "value".
        what: &'static str,
        /// The offending item.
        item: String,
        /// The whole argument.
        arg: String,
    },
    /// A dotted key clashes with an earlier value (`a=1` then `a.b=2`).
    #[error("value {key:?} conflicts with an earlier value of {prefix:?}")]
    Conflict {
        /// The key that could not be set.
        key: String,
        /// The part that already holds a non-object value.
        prefix: String,
    },
}

/// Parses label arguments: each is a comma-separated list of `key=value` (split at the first
/// `=`, values may be empty); later keys win.
pub fn parse_labels(args: &[String]) -> Result<BTreeMap<String, String>, PairError> {
    let mut out = BTreeMap::new();
    for arg in args {
        for item in arg.split(',') {
            let item_trim = item.trim();
            if item_trim.is_empty() {
                continue;
            }
            let (k, v) = split_pair("label", item_trim, arg)?;
            out.insert(k.to_string(), v.to_string());
        }
    }
    Ok(out)
}

fn split_pair<'a>(
    what: &'static str,
    item: &'a str,
    arg: &str,
) -> Result<(&'a str, &'a str), PairError> {
    let Some((k, v)) = item.split_once('=') else {
        return Err(PairError::MissingEquals {
            what,
            item: item.to_string(),
            arg: arg.to_string(),
        });
    };
    let k = k.trim();
    if k.is_empty() {
        return Err(PairError::EmptyKey {
            what,
            item: item.to_string(),
            arg: arg.to_string(),
        });
    }
    Ok((k, v))
}

/// Sets configuration values from `key=value` arguments into `values`; a dotted key
/// (`resources.limits.cpu=1`) creates nested objects. Values are strings.
pub fn apply_values(values: &mut Map<String, Value>, args: &[String]) -> Result<(), PairError> {
    for arg in args {
        let (key, v) = split_pair("value", arg, arg)?;
        let parts: Vec<&str> = key.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(PairError::EmptyKey {
                what: "value",
                item: arg.clone(),
                arg: arg.clone(),
            });
        }
        let mut cur = &mut *values;
        for (i, part) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                cur.insert((*part).to_string(), Value::String(v.to_string()));
                break;
            }
            let entry = cur
                .entry((*part).to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            match entry {
                Value::Object(m) => cur = m,
                _ => {
                    return Err(PairError::Conflict {
                        key: key.to_string(),
                        prefix: parts[..=i].join("."),
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_string()).collect()
    }

    #[test]
    fn labels_comma_separated_and_repeated() {
        let l = parse_labels(&s(&[
            "buildId=17,owner=team-a",
            "url=http://x/?a=b",
            "empty=",
        ]))
        .unwrap();
        assert_eq!(l["buildId"], "17");
        assert_eq!(l["owner"], "team-a");
        assert_eq!(l["url"], "http://x/?a=b");
        assert_eq!(l["empty"], "");
        assert_eq!(parse_labels(&[]).unwrap().len(), 0);
    }

    #[test]
    fn bad_labels_say_which_item() {
        let e = parse_labels(&s(&["a=b,c"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid label \"c\" in \"a=b,c\": must be formatted as key=value"
        );
        let e = parse_labels(&s(&["=x"])).unwrap_err();
        assert!(e.to_string().contains("the key is empty"), "{e}");
    }

    #[test]
    fn values_nest_on_dots() {
        let mut m = Map::new();
        m.insert("image".into(), json!("carts:1"));
        apply_values(
            &mut m,
            &s(&[
                "replicas=2",
                "resources.limits.cpu=500m",
                "resources.limits.mem=1Gi",
            ]),
        )
        .unwrap();
        assert_eq!(
            Value::Object(m.clone()),
            json!({"image": "carts:1", "replicas": "2", "resources": {"limits": {"cpu": "500m", "mem": "1Gi"}}})
        );
        let e = apply_values(&mut m, &s(&["image.tag=x"])).unwrap_err();
        assert!(matches!(e, PairError::Conflict { .. }), "{e}");
        assert!(apply_values(&mut m, &s(&["a..b=1"])).is_err());
        assert!(apply_values(&mut m, &s(&["novalue"])).is_err());
    }
}
