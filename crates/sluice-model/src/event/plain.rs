//! Reading an event straight from its JSON text, in one pass and without a JSON value for the
//! envelope, when the text needs none of the folding rules of [`KeptnEvent::from_value`].
//!
//! Almost every event arrives spelled plainly: the envelope's attributes in their own
//! spelling, string attributes as strings (or `null`). Such text is read here directly into
//! the event (`data`, `extensions` and unknown attributes still become JSON values; a
//! repeated key keeps its last value, as in a JSON value). Any other text (a key that only
//! folds to an attribute's name, an attribute of the wrong type, text that is not an object
//! or not JSON) is refused with `None`, and the caller reads it through a JSON value, which
//! applies the rules and names the error; so both ways always give the same event.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::{ENVELOPE, KeptnEvent, decode};

/// The event of `text`, when it is spelled plainly (see the module); `None` otherwise.
pub(super) fn read(text: &[u8]) -> Option<KeptnEvent> {
    serde_json::from_slice::<Plain>(text)
        .ok()
        .map(|plain| plain.0)
}

/// An event read from plainly spelled text.
struct Plain(KeptnEvent);

impl<'de> Deserialize<'de> for Plain {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PlainVisitor)
    }
}

/// Why the text is left to the JSON value's reading (never shown: the caller reads the text
/// again, and that reading succeeds or names its own error).
const NOT_PLAIN: &str = "not plainly spelled";

struct PlainVisitor;

impl<'de> Visitor<'de> for PlainVisitor {
    type Value = Plain;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Plain, A::Error> {
        let mut ev = KeptnEvent::default();
        let (mut datacontenttype, mut contenttype) = (None, None);
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let Some(&name) = ENVELOPE.iter().find(|name| **name == key) else {
                if ENVELOPE.iter().any(|name| decode::fold_eq(&key, name)) {
                    return Err(de::Error::custom(NOT_PLAIN));
                }
                // A repeated key keeps its last value, as in a JSON value.
                let value = map.next_value::<Value>()?;
                ev.other.insert(key.into_owned(), value);
                continue;
            };
            if name == "data" {
                ev.data = Some(map.next_value::<Value>()?);
                continue;
            }
            if name == "extensions" {
                ev.extensions = Some(map.next_value::<Value>()?).filter(|v| !v.is_null());
                continue;
            }
            // `null` is absent; any other type than a string fails, and the value's reading
            // names the attribute.
            let text = map.next_value::<Option<String>>()?;
            let attribute = match name {
                "specversion" => &mut ev.specversion,
                "id" => &mut ev.id,
                "source" => &mut ev.source,
                "type" => &mut ev.event_type,
                "time" => &mut ev.time,
                "shkeptncontext" => &mut ev.shkeptncontext,
                "triggeredid" => &mut ev.triggeredid,
                "gitcommitid" => &mut ev.gitcommitid,
                "shkeptnspecversion" => &mut ev.shkeptnspecversion,
                "datacontenttype" => &mut datacontenttype,
                "contenttype" => &mut contenttype,
                _ => return Err(de::Error::custom(NOT_PLAIN)),
            };
            *attribute = text;
        }
        ev.set_content_type(datacontenttype, contenttype);
        Ok(Plain(ev))
    }
}

/// An object key, borrowed from the text when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}
