//! The provider side of Keptn's get-sli protocol, shared by the built-in SLI providers: pick
//! the `get-sli.triggered` events addressed to one provider name, answer each with
//! `get-sli.started` and `get-sli.finished` (ids derived from the request, so answering twice
//! stores nothing twice), and turn per-indicator outcomes into Keptn's status and result.
//!
//! A provider implements [`SliSource`]; [`run`] does the rest.

use std::future::Future;
use std::sync::Arc;

use serde_json::Value;
use sluice_model::evaluation::SliResult;
use sluice_model::event::data::{GetSliFinishedEventData, GetSliResult, GetSliTriggeredEventData};
use sluice_model::event::kind::GET_SLI_TRIGGERED;
use sluice_model::event::{EventData, KeptnEvent, ResultType, StatusType, TaskEventKind};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::runtime::driver::DriverHandle;

/// Result message when every indicator failed (prometheus-service's text).
pub const ALL_FAILED_MESSAGE: &str = "unable to retrieve metrics";

/// One `get-sli.triggered` event addressed to a provider.
#[derive(Debug, Clone)]
pub struct SliRequest {
    /// The event.
    pub event: Arc<KeptnEvent>,
    /// Its data.
    pub data: GetSliTriggeredEventData,
}

impl SliRequest {
    /// The request in `event` if it is a `get-sli.triggered` for `provider`.
    pub fn addressed_to(event: &Arc<KeptnEvent>, provider: &str) -> Option<SliRequest> {
        if event.event_type.as_deref() != Some(GET_SLI_TRIGGERED) {
            return None;
        }
        let data = GetSliTriggeredEventData::from_data(event.data_value()).ok()?;
        (data.get_sli.sli_provider == provider).then(|| SliRequest {
            event: event.clone(),
            data,
        })
    }

    /// The request's id (what the answers' `triggeredid` names).
    pub fn id(&self) -> &str {
        self.event.id.as_deref().unwrap_or("")
    }
}

/// What a provider found for one request.
#[derive(Debug, Clone, PartialEq)]
pub enum SliOutcome {
    /// One value per requested indicator (failures as `success: false` with a message).
    Values(Vec<SliResult>),
    /// The provider could not even start (no endpoint, unreadable SLI file, ...):
    /// `get-sli.finished` with status errored, result fail and this message.
    Errored(String),
}

/// A built-in SLI provider.
pub trait SliSource: Send + Sync + 'static {
    /// The `sliProvider` name this source answers.
    fn provider(&self) -> &str;
    /// The `source` of its events.
    fn source(&self) -> &str;
    /// Fetches the values of one request.
    fn fetch(&self, request: &SliRequest) -> impl Future<Output = SliOutcome> + Send;
}

/// A successful value.
pub fn value(metric: &str, value: f64) -> SliResult {
    SliResult {
        metric: metric.to_owned(),
        value,
        success: true,
        ..SliResult::default()
    }
}

/// A failed value (value 0, like prometheus-service).
pub fn failed(metric: &str, message: impl Into<String>) -> SliResult {
    SliResult {
        metric: metric.to_owned(),
        success: false,
        message: message.into(),
        ..SliResult::default()
    }
}

/// prometheus-service's event result: pass when every value succeeded (or none was asked
/// for), warning when some failed, fail with [`ALL_FAILED_MESSAGE`] when all failed.
pub fn result_of(values: &[SliResult]) -> (ResultType, String) {
    let failed = values.iter().filter(|v| !v.success).count();
    if values.is_empty() || failed == 0 {
        (ResultType::Pass, String::new())
    } else if failed < values.len() {
        (ResultType::Warning, String::new())
    } else {
        (ResultType::Fail, ALL_FAILED_MESSAGE.to_owned())
    }
}

/// The `get-sli.started` answer.
pub fn started(request: &SliRequest, source: &str) -> KeptnEvent {
    let data = EventData {
        status: StatusType::Succeeded,
        ..base(request)
    };
    answer(request, source, TaskEventKind::Started, data.to_data())
}

/// The `get-sli.finished` answer for an outcome.
pub fn finished(request: &SliRequest, source: &str, outcome: SliOutcome) -> KeptnEvent {
    let (status, result, message, values) = match outcome {
        SliOutcome::Values(values) => {
            let (result, message) = result_of(&values);
            (StatusType::Succeeded, result, message, values)
        }
        SliOutcome::Errored(message) => {
            (StatusType::Errored, ResultType::Fail, message, Vec::new())
        }
    };
    let data = GetSliFinishedEventData {
        base: EventData {
            status,
            result,
            message,
            ..base(request)
        },
        get_sli: GetSliResult {
            start: request.data.get_sli.start.clone(),
            end: request.data.get_sli.end.clone(),
            indicator_values: values,
        },
    };
    answer(request, source, TaskEventKind::Finished, data.to_data())
}

fn base(request: &SliRequest) -> EventData {
    let b = &request.data.base;
    EventData {
        project: b.project.clone(),
        stage: b.stage.clone(),
        service: b.service.clone(),
        labels: b.labels.clone(),
        ..EventData::default()
    }
}

fn answer(request: &SliRequest, source: &str, kind: TaskEventKind, data: Value) -> KeptnEvent {
    super::answer_task(&request.event, source, "get-sli", kind, data)
}

/// Answers one request: started, fetch, finished.
pub async fn answer_request<S: SliSource>(source: &S, driver: &DriverHandle, request: SliRequest) {
    if let Err(e) = driver.submit(started(&request, source.source())).await {
        tracing::error!(error = %e, provider = source.provider(), "cannot send get-sli.started");
        return;
    }
    let outcome = source.fetch(&request).await;
    if let Err(e) = driver
        .submit(finished(&request, source.source(), outcome))
        .await
    {
        tracing::error!(error = %e, provider = source.provider(), "cannot send get-sli.finished");
    }
}

/// Serves requests from `events` (subscribe before spawning, so nothing published in between
/// is missed) until the bus closes; each request is answered in its own task.
pub async fn run<S: SliSource>(
    source: Arc<S>,
    mut events: broadcast::Receiver<Arc<KeptnEvent>>,
    driver: DriverHandle,
) {
    loop {
        match events.recv().await {
            Ok(event) => {
                let Some(request) = SliRequest::addressed_to(&event, source.provider()) else {
                    continue;
                };
                let (source, driver) = (source.clone(), driver.clone());
                tokio::spawn(async move {
                    let (s, d) = (source.clone(), driver.clone());
                    let event = request.event.clone();
                    let work = async move { answer_request(&*s, &d, request).await };
                    super::guard_infallible(
                        &driver,
                        &event,
                        source.source(),
                        "get-sli",
                        super::Claim::Always,
                        work,
                    )
                    .await;
                });
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(
                    missed = n,
                    provider = source.provider(),
                    "SLI provider fell behind the event bus"
                )
            }
            Err(RecvError::Closed) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(provider: &str) -> Arc<KeptnEvent> {
        Arc::new(KeptnEvent {
            id: Some("g-1".into()),
            event_type: Some(GET_SLI_TRIGGERED.into()),
            shkeptncontext: Some("ctx".into()),
            gitcommitid: Some("abc".into()),
            data: Some(json!({
                "project": "p", "stage": "s", "service": "x", "labels": {"a": "b"},
                "get-sli": {"sliProvider": provider, "start": "2024-01-01T00:00:00.000Z",
                            "end": "2024-01-01T00:05:00.000Z", "indicators": ["a", "b"]},
                "deployment": "direct"
            })),
            ..KeptnEvent::default()
        })
    }

    #[test]
    fn only_requests_for_the_provider() {
        assert!(SliRequest::addressed_to(&request("prometheus"), "prometheus").is_some());
        assert!(SliRequest::addressed_to(&request("dynatrace"), "prometheus").is_none());
    }

    #[test]
    fn results_follow_prometheus_service() {
        assert_eq!(result_of(&[]).0, ResultType::Pass);
        assert_eq!(result_of(&[value("a", 1.0)]).0, ResultType::Pass);
        assert_eq!(
            result_of(&[value("a", 1.0), failed("b", "x")]).0,
            ResultType::Warning
        );
        assert_eq!(
            result_of(&[failed("a", "x"), failed("b", "y")]),
            (ResultType::Fail, ALL_FAILED_MESSAGE.to_owned())
        );
    }

    #[test]
    fn answers_echo_the_request() {
        let r = SliRequest::addressed_to(&request("loadtest"), "loadtest").unwrap();
        let s = started(&r, "me");
        let f = finished(&r, "me", SliOutcome::Values(vec![value("a", 2.5)]));
        assert_eq!(s.triggeredid.as_deref(), Some("g-1"));
        assert_eq!(f.triggeredid.as_deref(), Some("g-1"));
        assert_ne!(s.id, f.id);
        assert_eq!(f.id, finished(&r, "me", SliOutcome::Errored("x".into())).id);
        assert_eq!(f.gitcommitid.as_deref(), Some("abc"));
        let d = f.data.unwrap();
        assert_eq!(d["labels"], json!({"a": "b"}));
        assert_eq!(d["status"], "succeeded");
        assert_eq!(d["result"], "pass");
        assert_eq!(d["get-sli"]["start"], "2024-01-01T00:00:00.000Z");
        assert_eq!(d["get-sli"]["indicatorValues"][0]["value"], json!(2.5));
        let e = finished(&r, "me", SliOutcome::Errored("no endpoint".into()))
            .data
            .unwrap();
        assert_eq!(e["status"], "errored");
        assert_eq!(e["result"], "fail");
        assert_eq!(e["message"], "no endpoint");
        assert!(s.validate().is_empty(), "{:?}", s.validate());
    }
}
