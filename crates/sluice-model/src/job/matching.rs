//! Which actions of a job config an incoming event triggers.
//!
//! JES built a map from the CloudEvent ([`event_map`]) and, for each action in file order,
//! checked each of its `events`: the `name` regex must match the event type somewhere
//! (unanchored, Go RE2 syntax); when `jsonpath.property` is set, the value it selects must be a
//! JSON **string** equal to `match`. JES compared the raw decoded value with the `match`
//! string (`value == match` on `interface{}`), so numbers, booleans, null, lists and mappings
//! never matched, not even `3` against `"3"`; sluice keeps that. A path that does not resolve
//! makes that matcher not match.

use serde_json::{Map, Value};

use super::{Action, EventMatcher, JobConfig, JsonPath};

/// The keys of the map JES evaluated JSONPaths against (from `eventmapper.go`).
pub const EVENT_MAP_KEYS: [&str; 8] = [
    "id",
    "shkeptncontext",
    "time",
    "source",
    "type",
    "specversion",
    "gitcommitid",
    "data",
];

/// The map JES built from a CloudEvent (as JSON): only the keys in [`EVENT_MAP_KEYS`].
/// Missing string attributes become `""` (Go's zero value), missing `data` becomes null.
pub fn event_map(cloud_event: &Value) -> Value {
    let mut m = Map::new();
    for key in EVENT_MAP_KEYS {
        let v = cloud_event.get(key).cloned().unwrap_or_else(|| {
            if key == "data" {
                Value::Null
            } else {
                Value::String(String::new())
            }
        });
        m.insert(key.to_owned(), v);
    }
    Value::Object(m)
}

impl JobConfig {
    /// The actions an event triggers, in file order (JES ran them in this order and stopped
    /// after the first non-silent one that produced a finished event).
    ///
    /// `event_json` is the JES event map ([`event_map`] of the CloudEvent); a whole CloudEvent
    /// works too, with its extra attributes reachable by JSONPath.
    pub fn actions_for_event(&self, event_type: &str, event_json: &Value) -> Vec<&Action> {
        self.actions
            .iter()
            .filter(|a| a.matches_event(event_type, event_json))
            .collect()
    }
}

impl Action {
    /// Whether any of the action's `events` matches.
    pub fn matches_event(&self, event_type: &str, event_json: &Value) -> bool {
        self.events
            .iter()
            .any(|e| e.matches(event_type, event_json))
    }
}

impl EventMatcher {
    /// Whether this matcher accepts the event (see the module docs for the exact rules).
    pub fn matches(&self, event_type: &str, event_json: &Value) -> bool {
        let Some(re) = self.regex() else {
            return false;
        };
        if !re.is_match(event_type) {
            return false;
        }
        let Some(filter) = &self.jsonpath else {
            return true;
        };
        if filter.property.is_empty() {
            return true;
        }
        let Ok(path) = filter.property.parse::<JsonPath>() else {
            return false;
        };
        matches!(path.select(event_json), Ok(Value::String(s)) if *s == filter.match_value)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{JsonPathFilter, parse};
    use super::*;
    use serde_json::json;

    fn config(src: &str) -> JobConfig {
        let parsed = parse(src);
        assert!(
            !parsed.diagnostics.has_errors(),
            "{}",
            parsed.diagnostics.render("t")
        );
        parsed.value.expect("config")
    }

    fn names<'a>(actions: &[&'a Action]) -> Vec<&'a str> {
        actions.iter().map(|a| a.name.as_str()).collect()
    }

    const CONFIG: &str = r#"apiVersion: v2
actions:
  - name: deploy
    events:
      - name: sh.keptn.event.deployment.triggered
    tasks:
      - {name: t, image: alpine, cmd: [echo]}
  - name: scale
    events:
      - name: sh.keptn.event.action.triggered
        jsonpath:
          property: $.data.action.action
          match: scale
    tasks:
      - {name: t, image: alpine, cmd: [echo]}
  - name: any-triggered
    silent: true
    events:
      - name: "sh.keptn.event.*.triggered"
    tasks:
      - {name: t, image: alpine, cmd: [echo]}
  - name: numbers
    events:
      - name: sh.keptn.event.action.triggered
        jsonpath:
          property: $.data.action.value
          match: "3"
    tasks:
      - {name: t, image: alpine, cmd: [echo]}
"#;

    fn ce(ty: &str, data: Value) -> Value {
        event_map(&json!({
            "type": ty, "id": "e1", "shkeptncontext": "c1", "source": "shipyard-controller",
            "specversion": "1.0", "time": "2022-01-01T00:00:00Z", "data": data,
            "triggeredid": "not-in-the-map"
        }))
    }

    #[test]
    fn regex_matches_unanchored_and_in_order() {
        let c = config(CONFIG);
        let ev = ce("sh.keptn.event.deployment.triggered", json!({}));
        assert_eq!(
            names(&c.actions_for_event("sh.keptn.event.deployment.triggered", &ev)),
            vec!["deploy", "any-triggered"]
        );
        // Unanchored: a prefix/suffix around the pattern still matches.
        assert_eq!(
            names(&c.actions_for_event("x.sh.keptn.event.deployment.triggered.y", &ev)),
            vec!["deploy", "any-triggered"]
        );
        assert!(
            c.actions_for_event("sh.keptn.event.deployment.finished", &ev)
                .is_empty()
        );
    }

    #[test]
    fn silent_actions_are_returned_and_flagged() {
        let c = config(CONFIG);
        let ev = ce("sh.keptn.event.test.triggered", json!({}));
        let hits = c.actions_for_event("sh.keptn.event.test.triggered", &ev);
        assert_eq!(names(&hits), vec!["any-triggered"]);
        assert!(hits[0].silent);
    }

    #[test]
    fn jsonpath_requires_string_equality() {
        let c = config(CONFIG);
        let t = "sh.keptn.event.action.triggered";
        let scale = ce(t, json!({"action": {"action": "scale", "value": 3}}));
        assert_eq!(
            names(&c.actions_for_event(t, &scale)),
            vec!["scale", "any-triggered"]
        );
        let other = ce(t, json!({"action": {"action": "scaleup"}}));
        assert_eq!(
            names(&c.actions_for_event(t, &other)),
            vec!["any-triggered"]
        );
        let missing = ce(t, json!({}));
        assert_eq!(
            names(&c.actions_for_event(t, &missing)),
            vec!["any-triggered"]
        );
        // JES compared interface{} values: the number 3 is not the string "3".
        let string3 = ce(t, json!({"action": {"action": "x", "value": "3"}}));
        assert_eq!(
            names(&c.actions_for_event(t, &string3)),
            vec!["any-triggered", "numbers"]
        );
    }

    #[test]
    fn event_map_keeps_only_jes_keys() {
        let m = ce("t", json!({"a": 1}));
        assert_eq!(m.as_object().map(|o| o.len()), Some(8));
        assert!(m.get("triggeredid").is_none());
        assert_eq!(event_map(&json!({}))["gitcommitid"], json!(""));
    }

    #[test]
    fn empty_property_matches_on_type_alone_and_bad_regex_never_matches() {
        let m = EventMatcher::new(
            "deployment",
            Some(JsonPathFilter {
                property: String::new(),
                match_value: "ignored".into(),
            }),
        );
        assert!(m.matches("sh.keptn.event.deployment.triggered", &json!({})));
        let bad = EventMatcher::new("sh.keptn.event.(", None);
        assert!(bad.regex().is_none());
        assert!(!bad.matches("sh.keptn.event.(", &json!({})));
        // An empty name matches every type, as in Go.
        assert!(EventMatcher::new("", None).matches("anything", &json!({})));
    }
}
