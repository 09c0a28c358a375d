//! Keptn CloudEvents: the envelope, its validation, event types, payloads and Keptn time.
//!
//! Keptn events travel in two JSON spellings of the same envelope (spec digest 3.1):
//! structured CloudEvents 1.0 (`datacontenttype`) over HTTP, and Keptn's own model
//! (`KeptnContextExtendedCE`, with `contenttype`) on NATS, in MongoDB and in REST answers.
//! [`KeptnEvent`] reads both, keeps `data` and unknown top-level attributes as raw JSON so
//! nothing is lost, and writes either spelling ([`ContentTypeKey`]).
//!
//! Submodules: [`kind`] (event types), [`data`] (typed payloads), [`time`] (timestamps,
//! durations, evaluation window), [`decode`] (Go `encoding/json` reading rules), `plain`
//! (reading plainly spelled text in one pass, without a JSON value for the envelope).

pub mod data;
pub mod decode;
pub mod kind;
mod plain;
pub mod time;

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

pub use data::{EventData, ResultType, StatusType};
pub use decode::DataError;
pub use kind::{EventType, EventTypeError, KeptnShape, SequenceEventKind, TaskEventKind};
pub use time::{GoDuration, TimeError, Timestamp};

/// CloudEvents spec version Keptn uses.
pub const SPEC_VERSION: &str = "1.0";
/// Keptn spec version go-utils writes into `shkeptnspecversion`.
pub const KEPTN_SPEC_VERSION: &str = "0.2.4";
/// The `source` api-service uses when an event has none.
pub const API_DEFAULT_SOURCE: &str = "https://github.com/keptn/keptn/api";

/// Why a JSON document could not be read as an event envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The text is not JSON.
    #[error("event is not valid JSON: {0}")]
    Json(String),
    /// The JSON is not an object.
    #[error("event must be a JSON object, found {0}")]
    NotAnObject(String),
    /// A known attribute has the wrong JSON type (Go's decoder rejects the whole event).
    #[error("event attribute `{attribute}` must be {expected}, found {found}")]
    AttributeType {
        /// The attribute.
        attribute: String,
        /// What it must be.
        expected: &'static str,
        /// What was found.
        found: String,
    },
}

/// Which key carries the data content type when an event is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentTypeKey {
    /// `datacontenttype`: structured CloudEvents (the default).
    #[default]
    DataContentType,
    /// `contenttype`: Keptn's model, as served by the datastore and sent on NATS.
    ContentType,
}

impl ContentTypeKey {
    /// The JSON key.
    pub fn key(self) -> &'static str {
        match self {
            ContentTypeKey::DataContentType => "datacontenttype",
            ContentTypeKey::ContentType => "contenttype",
        }
    }
}

/// A Keptn CloudEvent envelope.
///
/// Every attribute is optional here so that any event Keptn stored can be read and written
/// back unchanged; [`KeptnEvent::validate`] says what is missing. `data` is kept as raw JSON:
/// read typed payloads from it with the `from_data` functions in [`data`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KeptnEvent {
    /// `specversion` (`"1.0"`).
    pub specversion: Option<String>,
    /// `id`
    pub id: Option<String>,
    /// `source`
    pub source: Option<String>,
    /// `type` as sent; parse it with [`KeptnEvent::event_type`].
    pub event_type: Option<String>,
    /// `time` as sent (RFC 3339); parse it with [`KeptnEvent::timestamp`].
    pub time: Option<String>,
    /// `datacontenttype`, or Keptn's `contenttype` (usually `application/json`).
    pub datacontenttype: Option<String>,
    /// `data`, unchanged (`None` when the key is absent; `Some(Null)` for `"data": null`).
    pub data: Option<Value>,
    /// `shkeptncontext`: correlates all events of one run.
    pub shkeptncontext: Option<String>,
    /// `triggeredid`: the id of the `.triggered` event this event answers.
    pub triggeredid: Option<String>,
    /// `gitcommitid`: the configuration commit the run uses.
    pub gitcommitid: Option<String>,
    /// `shkeptnspecversion`
    pub shkeptnspecversion: Option<String>,
    /// `extensions` (legacy, any JSON).
    pub extensions: Option<Value>,
    /// Any other top-level attribute (CloudEvents extensions), unchanged.
    pub other: BTreeMap<String, Value>,
    /// True when the input had both `datacontenttype` and `contenttype` with different values
    /// (`datacontenttype` won). Reported by [`KeptnEvent::validate`].
    pub conflicting_content_types: bool,
}

/// The envelope's attributes, in the order their type errors are reported.
const ENVELOPE: [&str; 13] = [
    "specversion",
    "id",
    "source",
    "type",
    "time",
    "shkeptncontext",
    "triggeredid",
    "gitcommitid",
    "shkeptnspecversion",
    "datacontenttype",
    "contenttype",
    "data",
    "extensions",
];

/// The body's key taken for one attribute of the envelope.
struct Found {
    /// The key is the attribute's own spelling (not a case-folded one).
    exact: bool,
    key: String,
    value: Value,
}

impl KeptnEvent {
    /// A new event as go-utils builds one: `specversion` 1.0, `datacontenttype`
    /// `application/json`, `shkeptnspecversion` 0.2.4. The caller supplies the id, the time and
    /// the context (this crate has no randomness and no clock).
    pub fn new(
        id: &str,
        source: &str,
        event_type: &EventType,
        time: Timestamp,
        keptn_context: &str,
        data: Value,
    ) -> Self {
        KeptnEvent {
            specversion: Some(SPEC_VERSION.to_string()),
            id: Some(id.to_string()),
            source: Some(source.to_string()),
            event_type: Some(event_type.to_string()),
            time: Some(time.to_rfc3339_nano()),
            datacontenttype: Some("application/json".to_string()),
            data: Some(data),
            shkeptncontext: Some(keptn_context.to_string()),
            shkeptnspecversion: Some(KEPTN_SPEC_VERSION.to_string()),
            ..KeptnEvent::default()
        }
    }

    /// Reads an event from JSON text.
    pub fn from_json(text: &str) -> Result<Self, EventError> {
        if let Some(ev) = Self::from_plain_json(text.as_bytes()) {
            return Ok(ev);
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| EventError::Json(e.to_string()))?;
        Self::from_value(value)
    }

    /// Reads an event from JSON text in one pass, when the text is spelled plainly: the
    /// attributes in their own spelling, string attributes as strings or `null`.
    /// The event is the one [`from_value`](Self::from_value) reads from the text's JSON value;
    /// any other text gives `None`, to be read through a value (which applies Go's folding
    /// rules and names what is wrong).
    pub fn from_plain_json(text: &[u8]) -> Option<Self> {
        plain::read(text)
    }

    /// Reads an event from a JSON value.
    ///
    /// Known attributes are matched like Go's `encoding/json` (exact key first, then
    /// case-insensitively); a known attribute with a non-string value is an error, `null` is
    /// the same as absent. Both `datacontenttype` and `contenttype` are accepted.
    pub fn from_value(value: Value) -> Result<Self, EventError> {
        let Value::Object(map) = value else {
            return Err(EventError::NotAnObject(decode::describe(&value)));
        };
        // One pass over the body's keys. Each attribute takes its exact key, else the first
        // key (in the object's order) that folds to its name, as Go's decoder does; every
        // other key, a second spelling of an attribute included, is kept unchanged.
        let mut found: [Option<Found>; ENVELOPE.len()] = std::array::from_fn(|_| None);
        let mut other = BTreeMap::new();
        for (key, value) in map {
            let exact = ENVELOPE.iter().position(|name| *name == key);
            let Some(slot) =
                exact.or_else(|| ENVELOPE.iter().position(|name| decode::fold_eq(&key, name)))
            else {
                other.insert(key, value);
                continue;
            };
            let taken = &mut found[slot];
            let wins = match taken {
                None => true,
                // The exact spelling wins over a folded one seen before it.
                Some(earlier) => exact.is_some() && !earlier.exact,
            };
            let found = Found {
                exact: exact.is_some(),
                key,
                value,
            };
            let loser = if wins {
                taken.replace(found)
            } else {
                Some(found)
            };
            if let Some(loser) = loser {
                other.insert(loser.key, loser.value);
            }
        }
        let [
            specversion,
            id,
            source,
            event_type,
            time,
            shkeptncontext,
            triggeredid,
            gitcommitid,
            shkeptnspecversion,
            datacontenttype,
            contenttype,
            data,
            extensions,
        ] = found.map(|f| f.map(|f| f.value));
        // In the envelope's order: the first attribute that is not a string is the error.
        let mut ev = KeptnEvent {
            specversion: string_attribute("specversion", specversion)?,
            id: string_attribute("id", id)?,
            source: string_attribute("source", source)?,
            event_type: string_attribute("type", event_type)?,
            time: string_attribute("time", time)?,
            shkeptncontext: string_attribute("shkeptncontext", shkeptncontext)?,
            triggeredid: string_attribute("triggeredid", triggeredid)?,
            gitcommitid: string_attribute("gitcommitid", gitcommitid)?,
            shkeptnspecversion: string_attribute("shkeptnspecversion", shkeptnspecversion)?,
            ..KeptnEvent::default()
        };
        ev.set_content_type(
            string_attribute("datacontenttype", datacontenttype)?,
            string_attribute("contenttype", contenttype)?,
        );
        ev.data = data;
        ev.extensions = extensions.filter(|v| !v.is_null());
        ev.other = other;
        Ok(ev)
    }

    /// Takes the content type from either key: `datacontenttype` wins, and two different
    /// values are kept as a conflict for [`KeptnEvent::validate`].
    fn set_content_type(&mut self, datacontenttype: Option<String>, contenttype: Option<String>) {
        self.conflicting_content_types =
            matches!((&datacontenttype, &contenttype), (Some(a), Some(b)) if a != b);
        self.datacontenttype = datacontenttype.or(contenttype);
    }

    /// The event as JSON with the given content-type key. Absent attributes are left out;
    /// `data` and unknown attributes are written unchanged.
    pub fn to_value(&self, key: ContentTypeKey) -> Value {
        let mut map: Map<String, Value> = self.other.clone().into_iter().collect();
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                map.insert(k.to_string(), Value::String(v.clone()));
            }
        };
        put("specversion", &self.specversion);
        put("id", &self.id);
        put("source", &self.source);
        put("type", &self.event_type);
        put("time", &self.time);
        put(key.key(), &self.datacontenttype);
        put("shkeptncontext", &self.shkeptncontext);
        put("triggeredid", &self.triggeredid);
        put("gitcommitid", &self.gitcommitid);
        put("shkeptnspecversion", &self.shkeptnspecversion);
        if let Some(d) = &self.data {
            map.insert("data".into(), d.clone());
        }
        if let Some(e) = &self.extensions {
            map.insert("extensions".into(), e.clone());
        }
        Value::Object(map)
    }

    /// JSON text with the given content-type key: the text of [`KeptnEvent::to_value`]
    /// (keys sorted, as a JSON object of this crate orders them), written from borrowed
    /// fields instead of a copy of the event.
    pub fn to_json(&self, key: ContentTypeKey) -> String {
        /// A field of the envelope, borrowed.
        enum Field<'a> {
            Text(&'a str),
            Json(&'a Value),
        }
        impl serde::Serialize for Field<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    Field::Text(t) => s.serialize_str(t),
                    Field::Json(v) => v.serialize(s),
                }
            }
        }
        let mut fields: BTreeMap<&str, Field<'_>> = self
            .other
            .iter()
            .map(|(k, v)| (k.as_str(), Field::Json(v)))
            .collect();
        let texts = [
            ("specversion", &self.specversion),
            ("id", &self.id),
            ("source", &self.source),
            ("type", &self.event_type),
            ("time", &self.time),
            (key.key(), &self.datacontenttype),
            ("shkeptncontext", &self.shkeptncontext),
            ("triggeredid", &self.triggeredid),
            ("gitcommitid", &self.gitcommitid),
            ("shkeptnspecversion", &self.shkeptnspecversion),
        ];
        for (k, v) in texts {
            if let Some(v) = v {
                fields.insert(k, Field::Text(v));
            }
        }
        if let Some(d) = &self.data {
            fields.insert("data", Field::Json(d));
        }
        if let Some(e) = &self.extensions {
            fields.insert("extensions", Field::Json(e));
        }
        // Strings and JSON values always serialize.
        serde_json::to_string(&fields).unwrap_or_else(|_| self.to_value(key).to_string())
    }

    /// The parsed event type.
    pub fn event_type(&self) -> Result<EventType, EventTypeError> {
        self.event_type.as_deref().unwrap_or("").parse()
    }

    /// The task of a `sh.keptn.event.<task>.triggered` event; `None` for any other event.
    pub fn triggered_task(&self) -> Option<String> {
        match self.event_type() {
            Ok(EventType::Task {
                task,
                kind: kind::TaskEventKind::Triggered,
            }) => Some(task),
            _ => None,
        }
    }

    /// The parsed `time`.
    pub fn timestamp(&self) -> Option<Result<Timestamp, TimeError>> {
        self.time.as_deref().map(Timestamp::parse_rfc3339)
    }

    /// The `data` value (`Null` when absent).
    pub fn data_value(&self) -> &Value {
        self.data.as_ref().unwrap_or(&Value::Null)
    }

    /// The common payload fields of `data`.
    pub fn event_data(&self) -> Result<EventData, DataError> {
        EventData::from_data(self.data_value())
    }

    /// Checks a complete event as it travels between Keptn services (NATS, datastore):
    /// `specversion` `1.0`, non-empty `id`, `source`, `type` (a Keptn type), `shkeptncontext`,
    /// a parsable `time` if present, `data` an object if present, one content type.
    /// Returns every problem found (empty when valid).
    pub fn validate(&self) -> Vec<EventProblem> {
        let mut out = Vec::new();
        match self.specversion.as_deref() {
            None | Some("") => out.push(EventProblem::new(
                "specversion",
                "specversion is missing (must be \"1.0\")",
            )),
            Some(SPEC_VERSION) => {}
            Some(other) => out.push(EventProblem::new(
                "specversion",
                format!("specversion {other:?} is not supported (must be \"1.0\")"),
            )),
        }
        self.require(&mut out, "id", &self.id);
        self.require(&mut out, "source", &self.source);
        self.check_type(&mut out);
        self.require(&mut out, "shkeptncontext", &self.shkeptncontext);
        self.check_common(&mut out);
        out
    }

    /// Checks an event posted to the API (`POST /v1/event`): `type` (a Keptn type) and
    /// `source` and `data` are required, as in Keptn's swagger; `id`, `time`, `specversion`
    /// and `shkeptncontext` may be missing because the API fills them.
    pub fn validate_incoming(&self) -> Vec<EventProblem> {
        let mut out = Vec::new();
        if let Some(v) = self.specversion.as_deref()
            && !v.is_empty()
            && v != SPEC_VERSION
        {
            out.push(EventProblem::new(
                "specversion",
                format!("specversion {v:?} is not supported (must be \"1.0\")"),
            ));
        }
        self.require(&mut out, "source", &self.source);
        self.check_type(&mut out);
        if self.data.is_none() {
            out.push(EventProblem::new("data", "data is missing"));
        }
        self.check_common(&mut out);
        out
    }

    /// Keptn's optional API event validation (`apiService.eventValidation.enabled`,
    /// `K:api/handlers/eventvalidation.go`), with Keptn's messages: sequence events may only be
    /// `triggered` and need project/stage/service with `data.stage` equal to the type's stage;
    /// task events may only be `started` or `finished` and need project/stage/service;
    /// `finished` also needs a non-empty `result` and `status`; `sh.keptn.log.error` passes;
    /// anything else is "unknown event type". Keptn stops at the first problem; so do we.
    pub fn keptn_api_validation(&self) -> Result<(), EventProblem> {
        let ty = self.event_type.as_deref().unwrap_or("");
        let parsed = ty.parse::<EventType>();
        let shape = match &parsed {
            Ok(t) => t.keptn_shape(),
            Err(_) => KeptnShape::Neither,
        };
        let unknown = || EventProblem::new("type", "unknown event type");
        let common = || {
            self.event_data()
                .map_err(|_| EventProblem::new("data", "could not parse common event data"))
        };
        let scope = |d: &EventData| {
            if d.project.is_empty() || d.stage.is_empty() || d.service.is_empty() {
                Err(EventProblem::new(
                    "data",
                    "mandatory field(s) 'project', 'stage' or 'service' missing",
                ))
            } else {
                Ok(())
            }
        };
        match shape {
            KeptnShape::Sequence { stage, kind, .. } => {
                if kind != "triggered" {
                    return Err(EventProblem::new("type", format!("kind/action: {kind}")));
                }
                let d = common()?;
                scope(&d)?;
                if d.stage != stage {
                    return Err(EventProblem::new(
                        "data.stage",
                        "stage name in event data and in event type does not match",
                    ));
                }
                Ok(())
            }
            KeptnShape::Task { kind, .. } => {
                if kind != "started" && kind != "finished" {
                    return Err(EventProblem::new("type", format!("kind/action: {kind}")));
                }
                let d = common()?;
                scope(&d)?;
                if kind == "finished" {
                    if d.result.is_unset() {
                        return Err(EventProblem::new("data.result", "result field is not set"));
                    }
                    if d.status.is_unset() {
                        return Err(EventProblem::new("data.status", "status field is not set"));
                    }
                }
                Ok(())
            }
            KeptnShape::Neither if parsed == Ok(EventType::LogError) => Ok(()),
            KeptnShape::Neither => Err(unknown()),
        }
    }

    fn require(&self, out: &mut Vec<EventProblem>, name: &'static str, v: &Option<String>) {
        if v.as_deref().is_none_or(str::is_empty) {
            out.push(EventProblem::new(name, format!("{name} is missing")));
        }
    }

    fn check_type(&self, out: &mut Vec<EventProblem>) {
        match self.event_type.as_deref() {
            None | Some("") => out.push(EventProblem::new("type", "type is missing")),
            Some(t) => {
                if let Err(e) = t.parse::<EventType>() {
                    out.push(EventProblem::new("type", e.to_string()));
                }
            }
        }
    }

    fn check_common(&self, out: &mut Vec<EventProblem>) {
        if let Some(Err(e)) = self.timestamp() {
            out.push(EventProblem::new("time", e.to_string()));
        }
        match &self.data {
            None | Some(Value::Null) | Some(Value::Object(_)) => {}
            Some(other) => out.push(EventProblem::new(
                "data",
                format!(
                    "data must be a JSON object, found {}",
                    decode::describe(other)
                ),
            )),
        }
        if let Err(e) = self.event_data() {
            out.push(EventProblem::new("data", e.to_string()));
        }
        if self.conflicting_content_types {
            out.push(EventProblem::new(
                "datacontenttype",
                "both datacontenttype and contenttype are set, with different values",
            ));
        }
    }
}

impl serde::Serialize for KeptnEvent {
    /// Serializes with the structured CloudEvents spelling (`datacontenttype`).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_value(ContentTypeKey::DataContentType).serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for KeptnEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        KeptnEvent::from_value(v).map_err(serde::de::Error::custom)
    }
}

/// A string attribute of the envelope: `null` is the same as absent, any other type than a
/// string is an error naming the attribute.
fn string_attribute(name: &str, value: Option<Value>) -> Result<Option<String>, EventError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(EventError::AttributeType {
            attribute: name.to_string(),
            expected: "a string",
            found: decode::describe(&other),
        }),
    }
}

/// One problem with an event, for a 400 answer: which attribute and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EventProblem {
    /// The attribute or data field (`type`, `shkeptncontext`, `data.result`, ...).
    pub attribute: String,
    /// What is wrong.
    pub message: String,
}

impl EventProblem {
    fn new(attribute: &str, message: impl Into<String>) -> Self {
        EventProblem {
            attribute: attribute.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for EventProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.attribute, self.message)
    }
}

// ---------------------------------------------------------------------------------------
// Keptn context

/// The keptn context the API gives a posted event (`K:api/handlers/event.go`,
/// `createOrApplyKeptnContext`):
/// - missing or empty: what `fresh_random_uuid` makes (the caller's generator, called only
///   then; this crate has no randomness);
/// - a string Go's `uuid.Parse` accepts: kept exactly as given (Keptn does not normalise case
///   or braces);
/// - anything else: [`deterministic_keptn_context`] of it, so the same alert fingerprint
///   always maps to the same context.
pub fn keptn_context_for(
    given: Option<&str>,
    fresh_random_uuid: impl FnOnce() -> String,
) -> String {
    match given {
        None | Some("") => fresh_random_uuid(),
        Some(s) if is_go_uuid(s) => s.to_string(),
        Some(s) => deterministic_keptn_context(s),
    }
}

/// The UUID Keptn derives from a non-UUID context string.
///
/// Keptn sets google/uuid's random source to a reader over the string (right-padded with
/// spaces to 16 characters with `fmt.Sprintf("%-16v")` when it is shorter than 16 bytes) and
/// calls `uuid.New()`. That reads exactly 16 bytes from the reader, then stamps the version
/// and variant: byte 6 becomes `(b & 0x0f) | 0x40` (version 4) and byte 8 becomes
/// `(b & 0x3f) | 0x80` (RFC 4122 variant). The result is printed lower-case hex as
/// 8-4-4-4-12. So the context is simply the first 16 bytes of the (padded) UTF-8 string.
///
/// Padding counts characters (Go's width counts runes), the length check counts bytes; for a
/// string shorter than 16 bytes the padded form always has at least 16 bytes.
///
/// Example: `my-alert` -> bytes `6d 79 2d 61 6c 65 72 74 20 20 20 20 20 20 20 20`; byte 6
/// `0x72` -> `0x42`, byte 8 `0x20` -> `0xa0`: `6d792d61-6c65-4274-a020-202020202020`.
pub fn deterministic_keptn_context(given: &str) -> String {
    let mut bytes: Vec<u8> = given.as_bytes().to_vec();
    if bytes.len() < 16 {
        let chars = given.chars().count();
        bytes.extend(std::iter::repeat_n(b' ', 16usize.saturating_sub(chars)));
    }
    let mut b = [0u8; 16];
    for (dst, src) in b.iter_mut().zip(bytes.iter()) {
        *dst = *src;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Whether Go's `github.com/google/uuid` `Parse` accepts the string: 36 chars
/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, the same in braces (38 bytes; Go does not check
/// that the outer two bytes really are braces), with a case-insensitive
/// `urn:uuid:` prefix (45), or 32 hex digits; hex digits in either case; version and variant
/// are not checked.
pub fn is_go_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    let canonical = |b: &[u8]| {
        b.len() == 36
            && b.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            })
    };
    match b.len() {
        36 => canonical(b),
        // Go drops the first byte and never looks at the braces themselves.
        38 => canonical(&b[1..37]),
        45 => b[..9].eq_ignore_ascii_case(b"urn:uuid:") && canonical(&b[9..]),
        32 => b.iter().all(u8::is_ascii_hexdigit),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
