//! Tests of the event envelope, validation and keptn context over fixture events.

use super::data::*;
use super::*;
use serde_json::json;

/// Every fixture: (file name, text).
const FIXTURES: &[(&str, &str)] = &[
    (
        "delivery.triggered.json",
        include_str!("fixtures/delivery.triggered.json"),
    ),
    (
        "remediation_trigger.json",
        include_str!("fixtures/remediation_trigger.json"),
    ),
    (
        "deployment.triggered.json",
        include_str!("fixtures/deployment.triggered.json"),
    ),
    (
        "deployment.finished.json",
        include_str!("fixtures/deployment.finished.json"),
    ),
    (
        "test.triggered.json",
        include_str!("fixtures/test.triggered.json"),
    ),
    (
        "test.finished.json",
        include_str!("fixtures/test.finished.json"),
    ),
    (
        "evaluation.triggered.json",
        include_str!("fixtures/evaluation.triggered.json"),
    ),
    (
        "evaluation.invalidated.json",
        include_str!("fixtures/evaluation.invalidated.json"),
    ),
    (
        "get-sli.triggered.json",
        include_str!("fixtures/get-sli.triggered.json"),
    ),
    (
        "get-sli.finished.json",
        include_str!("fixtures/get-sli.finished.json"),
    ),
    (
        "approval.triggered.json",
        include_str!("fixtures/approval.triggered.json"),
    ),
    (
        "approval.finished.json",
        include_str!("fixtures/approval.finished.json"),
    ),
    (
        "release.triggered.json",
        include_str!("fixtures/release.triggered.json"),
    ),
    (
        "rollback.triggered.json",
        include_str!("fixtures/rollback.triggered.json"),
    ),
    (
        "get-action.triggered.json",
        include_str!("fixtures/get-action.triggered.json"),
    ),
    (
        "get-action.finished.json",
        include_str!("fixtures/get-action.finished.json"),
    ),
    (
        "action.triggered.json",
        include_str!("fixtures/action.triggered.json"),
    ),
    (
        "monitoring.configure.json",
        include_str!("fixtures/monitoring.configure.json"),
    ),
    (
        "project.create.finished.json",
        include_str!("fixtures/project.create.finished.json"),
    ),
    (
        "service.create.finished.json",
        include_str!("fixtures/service.create.finished.json"),
    ),
    ("log.error.json", include_str!("fixtures/log.error.json")),
    (
        "problem.legacy.json",
        include_str!("fixtures/problem.legacy.json"),
    ),
];

fn fixture(name: &str) -> KeptnEvent {
    let (_, text) = FIXTURES
        .iter()
        .find(|(n, _)| *n == name)
        .expect("fixture exists");
    KeptnEvent::from_json(text).expect("fixture parses")
}

#[test]
fn every_fixture_round_trips_in_its_own_spelling() {
    for (name, text) in FIXTURES {
        let original: Value = serde_json::from_str(text).unwrap();
        let ev = KeptnEvent::from_json(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let key = if original.get("contenttype").is_some() {
            ContentTypeKey::ContentType
        } else {
            ContentTypeKey::DataContentType
        };
        assert_eq!(ev.to_value(key), original, "{name}");
        let t = ev.event_type().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(Some(t.to_string()), ev.event_type, "{name}");
        // Every fixture's data decodes as common event data.
        ev.event_data().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn every_fixture_payload_decodes_and_round_trips() {
    fn check<T>(name: &str, read: fn(&Value) -> Result<T, DataError>, write: fn(&T) -> Value) {
        let ev = fixture(name);
        let typed = read(ev.data_value()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let again = read(&write(&typed)).unwrap_or_else(|e| panic!("{name} again: {e}"));
        assert_eq!(write(&again), write(&typed), "{name}");
    }
    check(
        "delivery.triggered.json",
        DeliveryTriggeredEventData::from_data,
        DeliveryTriggeredEventData::to_data,
    );
    check(
        "deployment.triggered.json",
        DeploymentTriggeredEventData::from_data,
        DeploymentTriggeredEventData::to_data,
    );
    check(
        "deployment.finished.json",
        DeploymentFinishedEventData::from_data,
        DeploymentFinishedEventData::to_data,
    );
    check(
        "test.triggered.json",
        TestTriggeredEventData::from_data,
        TestTriggeredEventData::to_data,
    );
    check(
        "test.finished.json",
        TestFinishedEventData::from_data,
        TestFinishedEventData::to_data,
    );
    check(
        "evaluation.triggered.json",
        EvaluationTriggeredEventData::from_data,
        EvaluationTriggeredEventData::to_data,
    );
    check(
        "evaluation.invalidated.json",
        PlainEventData::from_data,
        PlainEventData::to_data,
    );
    check(
        "get-sli.triggered.json",
        GetSliTriggeredEventData::from_data,
        GetSliTriggeredEventData::to_data,
    );
    check(
        "get-sli.finished.json",
        GetSliFinishedEventData::from_data,
        GetSliFinishedEventData::to_data,
    );
    check(
        "approval.triggered.json",
        ApprovalTriggeredEventData::from_data,
        ApprovalTriggeredEventData::to_data,
    );
    check(
        "approval.finished.json",
        PlainEventData::from_data,
        PlainEventData::to_data,
    );
    check(
        "release.triggered.json",
        ReleaseTriggeredEventData::from_data,
        ReleaseTriggeredEventData::to_data,
    );
    check(
        "rollback.triggered.json",
        PlainEventData::from_data,
        PlainEventData::to_data,
    );
    check(
        "remediation_trigger.json",
        RemediationTriggeredEventData::from_data,
        RemediationTriggeredEventData::to_data,
    );
    check(
        "get-action.triggered.json",
        GetActionTriggeredEventData::from_data,
        GetActionTriggeredEventData::to_data,
    );
    check(
        "get-action.finished.json",
        GetActionFinishedEventData::from_data,
        GetActionFinishedEventData::to_data,
    );
    check(
        "action.triggered.json",
        ActionTriggeredEventData::from_data,
        ActionTriggeredEventData::to_data,
    );
    check(
        "monitoring.configure.json",
        MonitoringConfigureEventData::from_data,
        MonitoringConfigureEventData::to_data,
    );
    check(
        "project.create.finished.json",
        ProjectCreateFinishedEventData::from_data,
        ProjectCreateFinishedEventData::to_data,
    );
    check(
        "service.create.finished.json",
        ServiceCreateFinishedEventData::from_data,
        ServiceCreateFinishedEventData::to_data,
    );
    check(
        "log.error.json",
        ErrorLogEventData::from_data,
        ErrorLogEventData::to_data,
    );
    check(
        "problem.legacy.json",
        LegacyProblemEventData::from_data,
        LegacyProblemEventData::to_data,
    );

    let d =
        DeploymentFinishedEventData::from_data(fixture("deployment.finished.json").data_value())
            .unwrap();
    assert_eq!(d.base.result, ResultType::Pass);
    assert_eq!(
        d.deployment.deployment_names,
        Some(vec!["direct".to_string()])
    );
    let g =
        GetActionTriggeredEventData::from_data(fixture("get-action.triggered.json").data_value())
            .unwrap();
    assert_eq!(g.get_action.action_index, 1);
    let a = ApprovalTriggeredEventData::from_data(fixture("approval.triggered.json").data_value())
        .unwrap();
    assert!(a.approval.pass.is_automatic() && !a.approval.warning.is_automatic());
}

#[test]
fn both_content_type_spellings() {
    let ev = fixture("remediation_trigger.json");
    assert_eq!(ev.datacontenttype.as_deref(), Some("application/json"));
    let ce = ev.to_value(ContentTypeKey::DataContentType);
    assert_eq!(ce["datacontenttype"], "application/json");
    assert!(ce.get("contenttype").is_none());
    let keptn = ev.to_value(ContentTypeKey::ContentType);
    assert_eq!(keptn["contenttype"], "application/json");
    assert!(keptn.get("datacontenttype").is_none());
    // serde Serialize uses the CloudEvents spelling; Deserialize reads either.
    let text = serde_json::to_string(&ev).unwrap();
    assert!(text.contains("\"datacontenttype\""));
    let back: KeptnEvent = serde_json::from_str(&text).unwrap();
    assert_eq!(back, ev);
    // Both present and different: datacontenttype wins, validation complains.
    let ev = KeptnEvent::from_value(
        json!({"datacontenttype": "application/json", "contenttype": "text/plain"}),
    )
    .unwrap();
    assert_eq!(ev.datacontenttype.as_deref(), Some("application/json"));
    assert!(
        ev.validate()
            .iter()
            .any(|p| p.attribute == "datacontenttype")
    );
    let ev = KeptnEvent::from_value(
        json!({"datacontenttype": "application/json", "contenttype": "application/json"}),
    )
    .unwrap();
    assert!(!ev.conflicting_content_types);
}

#[test]
fn unknown_attributes_and_data_fields_are_preserved() {
    let original = json!({"specversion":"1.0","id":"x","source":"s","type":"sh.keptn.event.deployment.started",
        "shkeptncontext":"a7e5e2b1-4b5e-4c8a-9a31-0e5d6c1f2a3b","traceparent":"00-abc-01","myext":{"n":[1,2]},
        "extensions":{"legacy":true},
        "data":{"project":"p","stage":"s","service":"x","temporaryData":{"distributor":{"subscriptionID":"42"}}}});
    let ev = KeptnEvent::from_value(original.clone()).unwrap();
    assert_eq!(ev.other.get("traceparent"), Some(&json!("00-abc-01")));
    assert_eq!(ev.extensions, Some(json!({"legacy": true})));
    assert_eq!(ev.to_value(ContentTypeKey::DataContentType), original);
    assert!(ev.validate().is_empty(), "{:?}", ev.validate());
}

#[test]
fn envelope_attribute_type_errors_and_junk() {
    assert!(matches!(
        KeptnEvent::from_json("[1]"),
        Err(EventError::NotAnObject(_))
    ));
    assert!(matches!(
        KeptnEvent::from_json("{"),
        Err(EventError::Json(_))
    ));
    let err = KeptnEvent::from_value(json!({"id": 5})).unwrap_err();
    assert_eq!(
        err.to_string(),
        "event attribute `id` must be a string, found number 5"
    );
    // null is the same as absent.
    let ev = KeptnEvent::from_value(json!({"id": null, "triggeredid": null})).unwrap();
    assert_eq!(ev.id, None);
    // Go-style folding of attribute names.
    let ev = KeptnEvent::from_value(json!({"Type": "sh.keptn.log.error", "ShKeptnContext": "c"}))
        .unwrap();
    assert_eq!(ev.event_type.as_deref(), Some("sh.keptn.log.error"));
    assert_eq!(ev.shkeptncontext.as_deref(), Some("c"));
}

#[test]
fn validation_reports_every_problem() {
    let ev = KeptnEvent::from_value(
        json!({"specversion": "0.3", "type": "sh.keptn.event..triggered",
        "time": "yesterday", "data": {"project": 1}}),
    )
    .unwrap();
    let problems = ev.validate();
    let attrs: Vec<&str> = problems.iter().map(|p| p.attribute.as_str()).collect();
    assert_eq!(
        attrs,
        [
            "specversion",
            "id",
            "source",
            "type",
            "shkeptncontext",
            "time",
            "data"
        ],
        "{problems:?}"
    );
    assert!(problems[0].message.contains("\"0.3\""));
    assert!(problems[3].message.contains("empty part"));
    assert_eq!(
        problems[4].to_string(),
        "shkeptncontext: shkeptncontext is missing"
    );
    assert!(problems[6].message.contains("`project`"));

    let ev = KeptnEvent::from_value(json!({"specversion":"1.0","data":[1]})).unwrap();
    let problems = ev.validate();
    assert!(
        problems
            .iter()
            .any(|p| p.message == "data must be a JSON object, found array")
    );
    assert!(problems.iter().any(|p| p.message == "type is missing"));

    // Incoming API events may omit id, time, specversion and the context.
    let ev = fixture("remediation_trigger.json");
    assert!(
        ev.validate_incoming().is_empty(),
        "{:?}",
        ev.validate_incoming()
    );
    let problems = ev.validate();
    assert_eq!(
        problems
            .iter()
            .map(|p| p.attribute.as_str())
            .collect::<Vec<_>>(),
        ["id", "shkeptncontext"]
    );
    let ev = KeptnEvent::from_value(json!({"type": "sh.keptn.event.a.triggered"})).unwrap();
    let attrs: Vec<String> = ev
        .validate_incoming()
        .into_iter()
        .map(|p| p.attribute)
        .collect();
    assert_eq!(attrs, ["source", "data"]);

    for (name, _) in FIXTURES {
        let ev = fixture(name);
        if ev.id.is_some() && ev.shkeptncontext.is_some() {
            assert!(ev.validate().is_empty(), "{name}: {:?}", ev.validate());
        }
    }
}

#[test]
fn keptn_api_validation_rules() {
    let check = |ty: &str, data: Value| {
        KeptnEvent::from_value(json!({"type": ty, "source": "s", "data": data}))
            .unwrap()
            .keptn_api_validation()
            .map_err(|p| p.message)
    };
    let scope = json!({"project":"p","stage":"dev","service":"x"});
    assert_eq!(
        check("sh.keptn.event.dev.delivery.triggered", scope.clone()),
        Ok(())
    );
    assert_eq!(
        check("sh.keptn.event.prod.delivery.triggered", scope.clone()),
        Err("stage name in event data and in event type does not match".into())
    );
    assert_eq!(
        check("sh.keptn.event.dev.delivery.finished", scope.clone()),
        Err("kind/action: finished".into())
    );
    assert_eq!(
        check("sh.keptn.event.deployment.status.changed", scope.clone()),
        Err("kind/action: changed".into())
    );
    assert_eq!(
        check("sh.keptn.event.deployment.triggered", scope.clone()),
        Err("kind/action: triggered".into())
    );
    assert_eq!(
        check("sh.keptn.event.evaluation.invalidated", scope.clone()),
        Err("kind/action: invalidated".into())
    );
    assert_eq!(
        check("sh.keptn.event.deployment.started", scope.clone()),
        Ok(())
    );
    assert_eq!(
        check("sh.keptn.event.deployment.started", json!({"project":"p"})),
        Err("mandatory field(s) 'project', 'stage' or 'service' missing".into())
    );
    assert_eq!(
        check("sh.keptn.event.deployment.finished", scope.clone()),
        Err("result field is not set".into())
    );
    assert_eq!(
        check(
            "sh.keptn.event.deployment.finished",
            json!({"project":"p","stage":"dev","service":"x","result":"pass"})
        ),
        Err("status field is not set".into())
    );
    assert_eq!(
        check(
            "sh.keptn.event.deployment.finished",
            json!({"project":"p","stage":"dev","service":"x","result":"pass","status":"succeeded"})
        ),
        Ok(())
    );
    assert_eq!(
        check("sh.keptn.event.deployment.started", json!({"project":5})),
        Err("could not parse common event data".into())
    );
    assert_eq!(check("sh.keptn.log.error", json!({})), Ok(()));
    assert_eq!(
        check("sh.keptn.events.problem", json!({})),
        Err("unknown event type".into())
    );
    assert_eq!(
        check("nonsense", json!({})),
        Err("unknown event type".into())
    );
}

#[test]
fn new_event_is_valid_and_zoneless_time_is_not() {
    let t = Timestamp::parse("2022-03-01T10:00:00.5Z").unwrap();
    let ev = KeptnEvent::new(
        "id-1",
        "sluice",
        &EventType::task_triggered("deployment"),
        t,
        "a7e5e2b1-4b5e-4c8a-9a31-0e5d6c1f2a3b",
        json!({"project": "p", "stage": "s", "service": "x"}),
    );
    assert!(ev.validate().is_empty(), "{:?}", ev.validate());
    let v = ev.to_value(ContentTypeKey::ContentType);
    assert_eq!(v["time"], "2022-03-01T10:00:00.5Z");
    assert_eq!(v["type"], "sh.keptn.event.deployment.triggered");
    assert_eq!(v["shkeptnspecversion"], "0.2.4");
    let mut ev = ev;
    ev.time = Some("2022-03-01T10:00:00".into());
    assert_eq!(ev.validate().len(), 1);
    assert_eq!(ev.validate()[0].attribute, "time");
    let t: EventType =
        serde_json::from_value(json!("sh.keptn.event.dev.delivery.finished")).unwrap();
    assert!(t.is_finished());
    assert!(serde_json::from_value::<EventType>(json!("sh.keptn")).is_err());
}

#[test]
fn keptn_context_derivation() {
    let fresh = "0f8fad5b-d9cb-469f-a165-70867728950e";
    assert_eq!(keptn_context_for(None, || fresh.to_owned()), fresh);
    assert_eq!(keptn_context_for(Some(""), || fresh.to_owned()), fresh);
    // Valid UUIDs are kept verbatim, even upper-case or braced.
    let upper = "A7E5E2B1-4B5E-4C8A-9A31-0E5D6C1F2A3B";
    assert_eq!(keptn_context_for(Some(upper), || fresh.to_owned()), upper);
    assert_eq!(
        keptn_context_for(Some("{a7e5e2b1-4b5e-4c8a-9a31-0e5d6c1f2a3b}"), || fresh
            .to_owned()),
        "{a7e5e2b1-4b5e-4c8a-9a31-0e5d6c1f2a3b}"
    );
    assert!(is_go_uuid("urn:uuid:a7e5e2b1-4b5e-4c8a-9a31-0e5d6c1f2a3b"));
    assert!(is_go_uuid("URN:UUID:a7e5e2b1-4b5e-4c8a-9a31-0e5d6c1f2a3b"));
    assert!(is_go_uuid("a7e5e2b14b5e4c8a9a310e5d6c1f2a3b"));
    assert!(
        is_go_uuid("xa7e5e2b1-4b5e-4c8a-9a31-0e5d6c1f2a3bx"),
        "Go ignores the brace bytes"
    );
    assert!(!is_go_uuid("a7e5e2b1-4b5e-4c8a-9a31-0e5d6c1f2a3g"));
    assert!(!is_go_uuid("a7e5e2b1_4b5e-4c8a-9a31-0e5d6c1f2a3b"));
    assert!(!is_go_uuid("urn:uuix:a7e5e2b1-4b5e-4c8a-9a31-0e5d6c1f2a3b"));

    // Short string: padded with spaces to 16 (see deterministic_keptn_context docs).
    assert_eq!(
        keptn_context_for(Some("my-alert"), || fresh.to_owned()),
        "6d792d61-6c65-4274-a020-202020202020"
    );
    // Long string: only the first 16 bytes count.
    // "0123456789abcdefXYZ": 30313233 3435 3637 3839 616263646566; byte 6 0x36 -> 0x46, byte 8 0x38 -> 0xb8.
    assert_eq!(
        deterministic_keptn_context("0123456789abcdefXYZ"),
        "30313233-3435-4637-b839-616263646566"
    );
    assert_eq!(
        deterministic_keptn_context("0123456789abcdef"),
        deterministic_keptn_context("0123456789abcdefXYZ")
    );
    // Multi-byte: "é" is 2 bytes, 1 rune: padded with 15 spaces, 17 bytes, first 16 used.
    assert_eq!(
        deterministic_keptn_context("é"),
        "c3a92020-2020-4020-a020-202020202020"
    );
    // Deterministic.
    assert_eq!(
        deterministic_keptn_context("fp-12345"),
        deterministic_keptn_context("fp-12345")
    );
    assert!(is_go_uuid(&deterministic_keptn_context("anything at all")));
}

#[test]
fn fixtures_read_in_one_pass_as_through_a_value() {
    for (name, text) in FIXTURES {
        let value: Value = serde_json::from_str(text).unwrap();
        let one_pass = KeptnEvent::from_plain_json(text.as_bytes())
            .unwrap_or_else(|| panic!("{name} is spelled plainly"));
        assert_eq!(Ok(one_pass), KeptnEvent::from_value(value), "{name}");
    }
}

#[test]
fn text_that_is_not_plain_is_left_to_the_value() {
    for text in [
        "",
        "[]",
        "\"sh.keptn.event.a.triggered\"",
        "{\"type\": \"a\"} x",
        "{\"type\": \"a\",}",
        "{\"Type\": \"a\"}",
        "{\"type\": 1, \"type\": \"b\"}",
        "{\"type\": 1}",
        "{\"id\": {\"a\": 1}}",
        "{\"source\": \"\\ud800\"}",
    ] {
        assert_eq!(KeptnEvent::from_plain_json(text.as_bytes()), None, "{text}");
    }
    // Escaped keys are keys like any other.
    let ev = KeptnEvent::from_plain_json(
        br#"{"\u0074ype": "sh.keptn.event.a.triggered", "data": null}"#,
    )
    .unwrap();
    assert_eq!(ev.event_type.as_deref(), Some("sh.keptn.event.a.triggered"));
    assert_eq!(ev.data, Some(Value::Null));
    // A repeated key keeps its last value, as in a JSON value.
    let text = r#"{"type": "a", "x": 1, "type": "b", "x": 2}"#;
    let ev = KeptnEvent::from_plain_json(text.as_bytes()).unwrap();
    assert_eq!(
        Ok(ev.clone()),
        KeptnEvent::from_value(serde_json::from_str(text).unwrap())
    );
    assert_eq!(ev.event_type.as_deref(), Some("b"));
    // Both content-type keys, different: `datacontenttype` wins, and the conflict is kept.
    for text in [
        r#"{"datacontenttype": "application/json", "contenttype": "text/plain"}"#,
        r#"{"contenttype": "text/plain", "datacontenttype": "application/json"}"#,
    ] {
        let ev = KeptnEvent::from_plain_json(text.as_bytes()).unwrap();
        assert_eq!(ev.datacontenttype.as_deref(), Some("application/json"));
        assert!(ev.conflicting_content_types);
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_text_never_panics(s in ".{0,200}") {
            if let Ok(ev) = KeptnEvent::from_json(&s) {
                let _ = ev.validate();
                let _ = ev.keptn_api_validation();
            }
            let _ = s.parse::<EventType>();
            let _ = Timestamp::parse(&s);
            let _ = GoDuration::parse(&s);
            let _ = keptn_context_for(Some(&s), || "x".to_owned());
        }

        #[test]
        fn any_json_data_never_panics(v in any_json()) {
            let _ = DeploymentFinishedEventData::from_data(&v);
            let _ = GetSliFinishedEventData::from_data(&v);
            let _ = GetActionTriggeredEventData::from_data(&v);
            let _ = ActionTriggeredEventData::from_data(&v);
            let _ = LegacyProblemEventData::from_data(&v);
            if let Ok(ev) = KeptnEvent::from_value(v) {
                let again = KeptnEvent::from_value(ev.to_value(ContentTypeKey::ContentType)).unwrap();
                prop_assert_eq!(again, ev);
            }
        }

        /// The text written from borrowed fields is the text of the event's JSON value,
        /// whatever the event holds (unknown attributes, also under a known name).
        #[test]
        fn json_text_is_the_text_of_the_json_value(v in any_json(), clash in "[a-z]{1,4}", other in any_json()) {
            let mut events = Vec::new();
            if let Ok(ev) = KeptnEvent::from_value(v.clone()) {
                events.push(ev);
            }
            let mut built = KeptnEvent::new(
                "id-1",
                "src",
                &"sh.keptn.event.deployment.triggered".parse().unwrap(),
                Timestamp::from_unix(1_700_000_000, 5),
                "ctx",
                v,
            );
            built.other.insert(clash, other.clone());
            built.other.insert("id".into(), other.clone());
            built.other.insert("contenttype".into(), other);
            built.extensions = Some(Value::from("x"));
            events.push(built);
            for ev in &events {
                for key in [ContentTypeKey::ContentType, ContentTypeKey::DataContentType] {
                    prop_assert_eq!(ev.to_json(key), ev.to_value(key).to_string());
                }
            }
        }

        /// The one-pass decoder takes the same keys as reading attribute by attribute did
        /// (exact spelling first, else the first key that folds to the name, type errors in
        /// the envelope's order), and keeps every other key.
        #[test]
        fn envelope_keys_are_taken_as_attribute_by_attribute(
            entries in proptest::collection::btree_map(envelope_key(), envelope_value(), 0..10)
        ) {
            let value = Value::Object(entries.into_iter().collect());
            let one_pass = KeptnEvent::from_value(value.clone()).map_err(|e| e.to_string());
            let reference = attribute_by_attribute(value).map_err(|e| e.to_string());
            prop_assert_eq!(one_pass, reference);
        }

        /// Text read in one pass gives the event its JSON value gives, and every plainly
        /// spelled text (attributes in their own spelling, string attributes as strings or
        /// null; keys may repeat) is read in one pass.
        #[test]
        fn plain_text_reads_as_its_json_value(
            entries in proptest::collection::vec((envelope_key(), envelope_value(), any::<bool>()), 0..10)
        ) {
            let text = object_text(&entries);
            let one_pass = KeptnEvent::from_plain_json(text.as_bytes());
            let through_value = serde_json::from_str::<Value>(&text)
                .map_err(|e| e.to_string())
                .and_then(|v| KeptnEvent::from_value(v).map_err(|e| e.to_string()));
            if let Some(ev) = &one_pass {
                prop_assert_eq!(Ok(ev.clone()), through_value.clone());
                prop_assert_eq!(KeptnEvent::from_json(&text), Ok(ev.clone()));
            }
            let plain = entries.iter().all(|(key, value, _)| {
                let exact = ENVELOPE.contains(&key.as_str());
                let folded = !exact && ENVELOPE.iter().any(|n| decode::fold_eq(key, n));
                let typed = !exact
                    || matches!(key.as_str(), "data" | "extensions")
                    || matches!(value, Value::Null | Value::String(_));
                !folded && typed
            });
            prop_assert_eq!(one_pass.is_some(), plain, "{}", text);
        }

        #[test]
        fn parsed_event_types_round_trip(parts in proptest::collection::vec("[a-z-]{0,6}", 1..8)) {
            let s = format!("sh.keptn.event.{}", parts.join("."));
            if let Ok(t) = s.parse::<EventType>() {
                prop_assert_eq!(t.to_string(), s);
            }
        }
    }

    /// The decoder as it was written first: one look-up per attribute, in the envelope's
    /// order, each removing the key it took.
    fn attribute_by_attribute(value: Value) -> Result<KeptnEvent, EventError> {
        let Value::Object(mut map) = value else {
            return Err(EventError::NotAnObject(decode::describe(&value)));
        };
        let take = |map: &mut serde_json::Map<String, Value>, name: &str| {
            let key = match map.get_key_value(name) {
                Some((k, _)) => Some(k.clone()),
                None => map
                    .keys()
                    .find(|k| {
                        k.chars()
                            .flat_map(char::to_lowercase)
                            .eq(name.chars().flat_map(char::to_lowercase))
                    })
                    .cloned(),
            };
            key.and_then(|k| map.remove(&k))
        };
        let string = |map: &mut serde_json::Map<String, Value>, name: &str| {
            string_attribute(name, take(map, name))
        };
        let mut ev = KeptnEvent {
            specversion: string(&mut map, "specversion")?,
            id: string(&mut map, "id")?,
            source: string(&mut map, "source")?,
            event_type: string(&mut map, "type")?,
            time: string(&mut map, "time")?,
            shkeptncontext: string(&mut map, "shkeptncontext")?,
            triggeredid: string(&mut map, "triggeredid")?,
            gitcommitid: string(&mut map, "gitcommitid")?,
            shkeptnspecversion: string(&mut map, "shkeptnspecversion")?,
            ..KeptnEvent::default()
        };
        let dct = string(&mut map, "datacontenttype")?;
        let ct = string(&mut map, "contenttype")?;
        ev.set_content_type(dct, ct);
        ev.data = take(&mut map, "data");
        ev.extensions = take(&mut map, "extensions").filter(|v| !v.is_null());
        ev.other = map.into_iter().collect();
        Ok(ev)
    }

    /// Keys of an envelope: attributes in several spellings (the Kelvin sign folds to `k`),
    /// and others.
    fn envelope_key() -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::sample::select(vec![
                "type",
                "TYPE",
                "Type",
                "id",
                "ID",
                "Id",
                "time",
                "Time",
                "source",
                "data",
                "Data",
                "DATA",
                "extensions",
                "Extensions",
                "contenttype",
                "ContentType",
                "datacontenttype",
                "DataContentType",
                "shkeptncontext",
                "ShKeptnContext",
                "sh\u{212A}eptncontext",
                "specversion",
                "triggeredid",
                "gitcommitid",
                "shkeptnspecversion",
                "ß",
                "typ",
                "types",
                "x-custom",
            ])
            .prop_map(str::to_owned),
            "[a-zA-Z]{1,6}",
        ]
    }

    /// An object's JSON text with these entries in this order (repeated keys included);
    /// a key marked `true` has its first character written as a `\u` escape.
    fn object_text(entries: &[(String, Value, bool)]) -> String {
        let members: Vec<String> = entries
            .iter()
            .map(|(key, value, escaped)| {
                let key_text = match key.chars().next() {
                    Some(first) if *escaped && first.is_ascii() => {
                        format!("\"\\u{:04x}{}\"", first as u32, &key[1..])
                    }
                    _ => serde_json::to_string(key).unwrap(),
                };
                format!("{key_text}: {value}")
            })
            .collect();
        format!("{{{}}}", members.join(", "))
    }

    fn envelope_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            "[a-z]{0,3}".prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            Just(json!({"project": "p"})),
        ]
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "[a-zA-Z-]{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("data".to_string()),
                        Just("type".to_string()),
                        Just("deployment".to_string()),
                        Just("get-sli".to_string()),
                        Just("indicatorValues".to_string()),
                        Just("problem".to_string()),
                        Just("action".to_string()),
                        Just("labels".to_string()),
                        "[a-z]{1,8}",
                    ],
                    inner,
                    0..5
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
