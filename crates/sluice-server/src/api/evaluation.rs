//! `POST /api/controlPlane/v1/project/{p}/stage/{s}/service/{svc}/evaluation`: Keptn's quality
//! gate shortcut. Computes the evaluation window with Keptn's rules, sends
//! `sh.keptn.event.<stage>.evaluation.triggered` in a new context and answers the context.
//!
//! As Keptn's shipyard-controller: every problem (bad window, unknown project, stage or
//! service) is a 400; the event carries `source https://github.com/keptn/keptn/api`, the
//! go-utils `EvaluationTriggeredEventData` shape with `evaluation.start`/`end` in Keptn's time
//! format (Keptn did not fill `evaluation.timeframe`: the window is already resolved), the
//! given labels, and `gitcommitid` when given.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};
use sluice_model::event::data::{EvaluationTriggeredEventData, EvaluationWindowSpec};
use sluice_model::event::time::evaluation_window;
use sluice_model::event::{EventData, EventType, KeptnEvent};

use crate::api::events::API_SOURCE;
use crate::api::extract::{Body, Json, Path};
use crate::error::ApiError;
use crate::runtime::{clock, ids};
use crate::state::App;

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new().route(
        "/api/controlPlane/v1/project/{project}/stage/{stage}/service/{service}/evaluation",
        post(create_evaluation),
    )
}

/// Keptn's `CreateEvaluationParams`.
#[derive(Debug, Deserialize)]
struct EvaluationParams {
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
    #[serde(default)]
    timeframe: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    gitcommitid: String,
}

async fn create_evaluation(
    State(app): State<Arc<App>>,
    Path((project, stage, service)): Path<(String, String, String)>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let params = evaluation_params(&body)?;
    let now = clock::now();
    let (start, end) = evaluation_window(&params.start, &params.end, &params.timeframe, now)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    check_service(&app, &project, &stage, &service).await?;
    // The evaluation pins the SLO's commit when it starts: the upstream's changes come in
    // first.
    crate::projects::upstream::pull_before_run(&app, &project).await;

    let keptn_context = ids::fresh();
    let data = EvaluationTriggeredEventData {
        base: EventData {
            project: project.clone(),
            stage: stage.clone(),
            service: service.clone(),
            labels: params.labels,
            ..EventData::default()
        },
        evaluation: EvaluationWindowSpec {
            start: start.to_keptn_string(),
            end: end.to_keptn_string(),
            timeframe: String::new(),
        },
        ..EvaluationTriggeredEventData::default()
    }
    .to_data();
    let mut event = KeptnEvent::new(
        &ids::fresh(),
        API_SOURCE,
        &EventType::sequence_triggered(&stage, "evaluation"),
        now,
        &keptn_context,
        data,
    );
    if !params.gitcommitid.is_empty() {
        event.gitcommitid = Some(params.gitcommitid);
    }
    app.driver
        .submit_named(event)
        .await
        .map_err(|e| ApiError::internal("the evaluation could not be triggered", &e))?;
    Ok(Json(json!({ "keptnContext": keptn_context })))
}

/// The body, as Keptn's `ShouldBindJSON` read it: a JSON object is required (an empty body was
/// "Invalid request format: EOF"); `{}` means the default window.
fn evaluation_params(body: &[u8]) -> Result<EvaluationParams, ApiError> {
    const EXPECTED: &str = "expected a JSON object with start, end, timeframe, labels, gitcommitid; {} for the last 5 minutes";
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(format!(
            "invalid request format: the body is empty ({EXPECTED})"
        )));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid request format: {e} ({EXPECTED})")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request(format!(
            "invalid request format: the body is not an object ({EXPECTED})"
        )));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("invalid request format: {e} ({EXPECTED})")))
}

/// The service must exist in the stage of the project (Keptn answered 400 otherwise).
async fn check_service(
    app: &App,
    project: &str,
    stage: &str,
    service: &str,
) -> Result<(), ApiError> {
    crate::runtime::scope::check(&app.store, project, stage, service)
        .await
        .map_err(|e| ApiError::internal("cannot read the project", &e))?
        .map_err(|missing| ApiError::bad_request(missing.to_string()))
}

#[cfg(test)]
mod tests {
    use crate::api::testkit::{self, ONE_TASK_SHIPYARD, call};
    use axum::http::StatusCode;
    use serde_json::{Value, json};
    use sluice_model::event::Timestamp;

    const URI: &str = "/api/controlPlane/v1/project/shop/stage/dev/service/carts/evaluation";

    async fn triggered(app: &crate::state::App, context: &str) -> Value {
        let events = app.store.events_of_context(context).await.unwrap();
        let event = events
            .iter()
            .find(|e| e.event_type.as_deref() == Some("sh.keptn.event.dev.evaluation.triggered"))
            .expect("the evaluation trigger is stored");
        event.to_value(sluice_model::event::ContentTypeKey::ContentType)
    }

    fn ts(v: &Value) -> Timestamp {
        Timestamp::parse(v.as_str().unwrap()).unwrap()
    }

    #[tokio::test]
    async fn timeframe_only_ends_now() {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", ONE_TASK_SHIPYARD, &["carts"]).await;
        let before = crate::runtime::clock::now();
        let (status, body) = call(
            &router,
            "POST",
            URI,
            Some(json!({"timeframe": "10m", "labels": {"buildId": "42"}, "gitcommitid": "abc123"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let context = body["keptnContext"].as_str().unwrap();
        let event = triggered(&app, context).await;
        assert_eq!(event["source"], "https://github.com/keptn/keptn/api");
        assert_eq!(event["shkeptncontext"], context);
        assert_eq!(event["gitcommitid"], "abc123");
        let data = &event["data"];
        assert_eq!(data["project"], "shop");
        assert_eq!(data["stage"], "dev");
        assert_eq!(data["service"], "carts");
        assert_eq!(data["labels"], json!({"buildId": "42"}));
        let (start, end) = (
            ts(&data["evaluation"]["start"]),
            ts(&data["evaluation"]["end"]),
        );
        assert_eq!(end.nanos_since(start), 600_000_000_000);
        // Keptn's format: milliseconds, Z.
        let text = data["evaluation"]["end"].as_str().unwrap();
        assert_eq!(text.len(), "2021-01-02T15:10:00.000Z".len(), "{text}");
        assert!(text.ends_with('Z'));
        assert!(end.nanos_since(before) >= -1_000_000, "end is now");
    }

    #[tokio::test]
    async fn start_and_end_are_taken_as_given_and_nothing_defaults_to_five_minutes() {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", ONE_TASK_SHIPYARD, &["carts"]).await;
        let (status, body) = call(
            &router,
            "POST",
            URI,
            Some(json!({"start": "2021-01-02T15:00:00", "end": "2021-01-02T16:10:00.000Z"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let event = triggered(&app, body["keptnContext"].as_str().unwrap()).await;
        assert_eq!(
            event["data"]["evaluation"],
            json!({"start": "2021-01-02T15:00:00.000Z", "end": "2021-01-02T16:10:00.000Z", "timeframe": ""})
        );
        assert!(event.get("gitcommitid").is_none());

        let (status, body) = call(&router, "POST", URI, Some(json!({}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let event = triggered(&app, body["keptnContext"].as_str().unwrap()).await;
        let w = &event["data"]["evaluation"];
        assert_eq!(ts(&w["end"]).nanos_since(ts(&w["start"])), 300_000_000_000);
    }

    #[tokio::test]
    async fn evaluation_trigger_without_a_body_is_400_and_starts_nothing() {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", ONE_TASK_SHIPYARD, &["carts"]).await;
        for body in [None, Some(json!([])), Some(json!("5m"))] {
            let (status, answer) = call(&router, "POST", URI, body.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}: {answer}");
            assert!(
                answer["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("invalid request format: the body is"),
                "{answer}"
            );
        }
        let page = app
            .store
            .events(&sluice_store::EventQuery {
                project: Some("shop".into()),
                ..sluice_store::EventQuery::default()
            })
            .await
            .unwrap();
        assert!(page.items.is_empty(), "no evaluation was triggered");
    }

    #[tokio::test]
    async fn keptns_window_rules_and_unknown_scopes_are_400() {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", ONE_TASK_SHIPYARD, &["carts"]).await;
        for (uri, body, message) in [
            (
                URI,
                json!({"end": "2021-01-02T15:10:00"}),
                "start date is required when using an end date",
            ),
            (
                URI,
                json!({"start": "2021-01-02T15:00:00", "end": "2021-01-02T15:00:30"}),
                "end date must be at least 1 minute after start date",
            ),
            (
                URI,
                json!({"timeframe": "30s"}),
                "end date must be at least 1 minute after start date",
            ),
            (
                URI,
                json!({"start": "2021-01-02T15:00:00"}),
                "no timeframe or end date provided",
            ),
            (
                URI,
                json!({"start": "2021-01-02T15:00:00", "end": "2021-01-02T15:10:00", "timeframe": "5m"}),
                "'end' and 'timeframe' are mutually exclusive",
            ),
            (
                URI,
                json!({"timeframe": "1d"}),
                "could not parse provided timeframe",
            ),
            (
                URI,
                json!({"start": "yesterday", "timeframe": "5m"}),
                "could not parse time",
            ),
            (URI, json!({"labels": ["x"]}), "invalid request format"),
            (
                "/api/controlPlane/v1/project/shop/stage/dev/service/db/evaluation",
                json!({}),
                "service not found",
            ),
            (
                "/api/controlPlane/v1/project/shop/stage/prod/service/carts/evaluation",
                json!({}),
                "stage not found",
            ),
            (
                "/api/controlPlane/v1/project/nope/stage/dev/service/carts/evaluation",
                json!({}),
                "project not found",
            ),
        ] {
            let (status, answer) = call(&router, "POST", uri, Some(body.clone())).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
            let text = answer["message"].as_str().unwrap();
            assert!(text.starts_with(message), "{body}: {text}");
        }
        // Nothing was stored for the rejected requests.
        let page = app
            .store
            .events(&sluice_store::EventQuery {
                project: Some("shop".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(page.total_count, 0);
    }
}
