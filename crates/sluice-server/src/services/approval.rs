//! The built-in approval service (Keptn's approval-service): answers `approval.triggered`
//! with `approval.started` and, when the strategy for the previous result is automatic (or the
//! result is `fail`), with `approval.finished`. Manual approvals wait for a person.

use std::sync::Arc;

use serde_json::{Value, json};
use sluice_model::evaluation::EvaluationFinishedEventData;
use sluice_model::event::data::{ApprovalStrategy, ApprovalTriggeredEventData};
use sluice_model::event::kind::APPROVAL_TRIGGERED;
use sluice_model::event::{KeptnEvent, ResultType, TaskEventKind};
use sluice_store::Store;

use crate::runtime::bus::Bus;
use crate::runtime::driver::DriverHandle;
use crate::services::feed::Feed;

/// The `source` of the events this service sends.
pub const SOURCE: &str = "approval-service";

/// Subscribes to the bus now and answers approvals in a background task.
pub fn start(bus: &Bus, driver: DriverHandle, store: Arc<Store>) {
    let feed = Feed::new(
        bus.subscribe_triggered(),
        driver.clone(),
        store.clone(),
        Some(APPROVAL_TRIGGERED),
        SOURCE,
    );
    tokio::spawn(super::answer_each(
        feed,
        driver,
        store,
        APPROVAL_TRIGGERED,
        SOURCE,
        "approval",
        |e| async move { answers(&e) },
    ));
}

/// The decision for an `approval.triggered` event, following Keptn's approval-service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Approve at once.
    Approve,
    /// Decline at once (the previous result failed).
    Decline,
    /// Wait for a person.
    Manual,
}

/// The previous result (`data.result`, else `data.evaluation.result`) and the strategy for it.
///
/// A payload that does not decode as Keptn's `ApprovalTriggeredEventData` (Keptn's
/// approval-service would not answer it) is left to a person.
pub fn decide(data: &Value) -> (ResultType, ApprovalStrategy, Decision) {
    let typed = ApprovalTriggeredEventData::from_data(data).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "approval.triggered payload does not decode; manual approval");
        ApprovalTriggeredEventData::default()
    });
    let result = match typed.base.result {
        ResultType::Unset => EvaluationFinishedEventData::from_data(data)
            .map(|d| d.evaluation.result)
            .unwrap_or_default(),
        result => result,
    };
    let (strategy, decision) = match &result {
        ResultType::Pass | ResultType::Warning => {
            let approval = typed.approval;
            let s = if result == ResultType::Pass {
                approval.pass
            } else {
                approval.warning
            };
            let d = if s.is_automatic() {
                Decision::Approve
            } else {
                Decision::Manual
            };
            (s, d)
        }
        ResultType::Fail => (ApprovalStrategy::Unset, Decision::Decline),
        _ => (ApprovalStrategy::Unset, Decision::Manual),
    };
    let strategy = if strategy.is_unset() && decision == Decision::Manual {
        ApprovalStrategy::Manual
    } else {
        strategy
    };
    (result, strategy, decision)
}

/// The events to send for one `approval.triggered` event (ids derived from its id, so
/// handling it twice changes nothing).
pub fn answers(triggered: &Arc<KeptnEvent>) -> Vec<KeptnEvent> {
    let data = triggered.data.clone().unwrap_or(Value::Null);
    let (result, strategy, decision) = decide(&data);
    let answer = |kind, data| super::answer_task(triggered, SOURCE, "approval", kind, data);
    let base = |status: &str, result: Option<&str>, message: String| {
        let mut d = json!({
            "project": data.get("project").cloned().unwrap_or(Value::Null),
            "stage": data.get("stage").cloned().unwrap_or(Value::Null),
            "service": data.get("service").cloned().unwrap_or(Value::Null),
            "status": status,
            "message": message,
        });
        if let Some(labels) = data.get("labels") {
            d["labels"] = labels.clone();
        }
        if let Some(r) = result {
            d["result"] = json!(r);
        }
        d
    };
    let mut out = vec![answer(
        TaskEventKind::Started,
        base(
            "succeeded",
            None,
            format!("Approval strategy for result '{result}': {strategy}"),
        ),
    )];
    match decision {
        Decision::Approve => out.push(answer(
            TaskEventKind::Finished,
            base("succeeded", Some("pass"), String::new()),
        )),
        Decision::Decline => out.push(answer(
            TaskEventKind::Finished,
            base(
                "succeeded",
                Some("fail"),
                "the previous result is fail: declined automatically".to_owned(),
            ),
        )),
        Decision::Manual => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triggered(data: Value) -> Arc<KeptnEvent> {
        Arc::new(KeptnEvent {
            id: Some("t-1".into()),
            event_type: Some("sh.keptn.event.approval.triggered".into()),
            shkeptncontext: Some("ctx".into()),
            data: Some(data),
            ..KeptnEvent::default()
        })
    }

    #[test]
    fn keptns_rules() {
        let d =
            |r: &str, p: &str, w: &str| json!({"result": r, "approval": {"pass": p, "warning": w}});
        assert_eq!(
            decide(&d("pass", "automatic", "manual")).2,
            Decision::Approve
        );
        assert_eq!(
            decide(&d("warning", "automatic", "manual")).2,
            Decision::Manual
        );
        assert_eq!(
            decide(&d("warning", "manual", "automatic")).2,
            Decision::Approve
        );
        assert_eq!(
            decide(&d("fail", "automatic", "automatic")).2,
            Decision::Decline
        );
        // No strategy, or no previous result: manual (Keptn's code, not its docs).
        assert_eq!(decide(&json!({"result": "pass"})).2, Decision::Manual);
        assert_eq!(
            decide(&json!({"approval": {"pass": "automatic"}})).2,
            Decision::Manual
        );
        // Falls back to the evaluation's result.
        assert_eq!(
            decide(&json!({"evaluation": {"result": "pass"}, "approval": {"pass": "automatic"}})).2,
            Decision::Approve
        );
    }

    #[test]
    fn answers_are_deterministic_and_well_formed() {
        let t = triggered(
            json!({"project": "p", "stage": "s", "service": "x", "result": "pass", "approval": {"pass": "automatic", "warning": "manual"}}),
        );
        let a = answers(&t);
        let b = answers(&t);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].id, b[0].id);
        assert_ne!(a[0].id, a[1].id);
        assert_eq!(
            a[1].event_type.as_deref(),
            Some("sh.keptn.event.approval.finished")
        );
        assert_eq!(a[1].triggeredid.as_deref(), Some("t-1"));
        assert_eq!(a[1].data.as_ref().unwrap()["result"], "pass");
        assert_eq!(
            a[0].data.as_ref().unwrap()["message"],
            "Approval strategy for result 'pass': automatic"
        );
        assert!(
            a.iter().all(|e| e.validate().is_empty()),
            "{:?}",
            a[0].validate()
        );
        let manual = answers(&triggered(
            json!({"project": "p", "stage": "s", "service": "x", "result": "pass", "approval": {"pass": "manual"}}),
        ));
        assert_eq!(manual.len(), 1);
    }
}
