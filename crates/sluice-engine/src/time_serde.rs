//! Serde helpers that store a [`Timestamp`] as RFC 3339 text (nanosecond precision, UTC).

use serde::{Deserialize, Deserializer, Serializer};
use sluice_model::event::Timestamp;

/// Serializes as RFC 3339.
pub fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_nano())
}

/// Reads RFC 3339.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
    let text = String::deserialize(d)?;
    Timestamp::parse_rfc3339(&text).map_err(serde::de::Error::custom)
}

/// The same for `Option<Timestamp>` (`null` for `None`).
pub mod option {
    use super::*;

    /// Serializes as RFC 3339 or null.
    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&t.to_rfc3339_nano()),
            None => s.serialize_none(),
        }
    }

    /// Reads RFC 3339 or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => Timestamp::parse_rfc3339(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}
