//! `POST /api/sluice/v1/project/{project}/history`: stores a project's past events (a history
//! exported from Keptn's datastore by `sluice import keptn-history`) with their original ids,
//! contexts and times, without running them through the sequence engine.
//!
//! The body is `{"events": [...]}` in the datastore's shape (`contenttype` or
//! `datacontenttype`), at most [`MAX_EVENTS`] per request. Every event must be a valid stored
//! event of the project in the path; one bad event refuses the whole request, naming its index
//! and field. Ids already stored are skipped, so a repeated or resumed import stores nothing
//! twice. The answer is `{"stored": n, "skipped": m}`.
//!
//! The events become part of the datastore: the sequence list, the heatmap and the
//! lighthouse's comparison with earlier evaluations see them. They are history: no task they
//! name is offered to an executor and no sequence is resumed from them.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};
use sluice_model::event::KeptnEvent;

use crate::api::extract::{Json, Path};
use crate::api::params::store_error;
use crate::error::ApiError;
use crate::state::App;

/// Most events accepted in one request.
pub const MAX_EVENTS: usize = 1000;

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/api/sluice/v1/project/{project}/history", post(import))
}

async fn import(
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    let Some(Value::Array(items)) = body.get("events") else {
        return Err(ApiError::bad_request(
            "the body must be {\"events\": [...]}: a list of events as Keptn's datastore stores them",
        ));
    };
    if items.len() > MAX_EVENTS {
        return Err(ApiError::bad_request(format!(
            "{} events in one request: at most {MAX_EVENTS} are accepted; send them in parts",
            items.len()
        )));
    }
    app.store
        .project(&project)
        .await
        .map_err(|e| store_error(&format!("project {project}"), e))?;
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let event = KeptnEvent::from_value(item.clone())
            .map_err(|e| ApiError::bad_request(format!("events[{i}]: {e}")))?;
        if let Some(p) = event.validate().into_iter().next() {
            return Err(ApiError::bad_request(format!(
                "events[{i}] ({}): {}: {}",
                event.id.as_deref().unwrap_or("no id"),
                p.attribute,
                p.message
            )));
        }
        let of = event
            .data
            .as_ref()
            .and_then(|d| d.get("project"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if of != project {
            return Err(ApiError::bad_request(format!(
                "events[{i}] ({}): data.project is {of:?}, not {project:?}: a history is imported one project at a time",
                event.id.as_deref().unwrap_or("no id"),
            )));
        }
        events.push(event);
    }
    let stored = app
        .store
        .import_events(&events)
        .await
        .map_err(|e| store_error("cannot store the history", e))?;
    Ok(Json(json!({
        "stored": stored,
        "skipped": events.len() - stored,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testkit::{self, call};
    use axum::http::StatusCode;

    fn event(id: &str, project: &str) -> Value {
        json!({
            "specversion": "1.0",
            "id": id,
            "source": "lighthouse-service",
            "type": "sh.keptn.event.evaluation.finished",
            "time": "2022-03-08T09:50:39.599Z",
            "shkeptncontext": "cfaadbb1-3c47-46e5-a230-d0f055f4f518",
            "triggeredid": "d69f66fd-d4f0-4d4f-9856-0b08c557d8fc",
            "contenttype": "application/json",
            "data": {"project": project, "stage": "dev", "service": "carts", "result": "pass", "status": "succeeded"},
        })
    }

    #[tokio::test]
    async fn stores_a_history_once_with_its_ids_and_times() {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", testkit::ONE_TASK_SHIPYARD, &["carts"]).await;
        let body = json!({"events": [event("e1", "shop"), event("e2", "shop")]});
        let uri = "/api/sluice/v1/project/shop/history";
        let (status, answer) = call(&router, "POST", uri, Some(body.clone())).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer, json!({"stored": 2, "skipped": 0}));
        let (_, again) = call(&router, "POST", uri, Some(body)).await;
        assert_eq!(again, json!({"stored": 0, "skipped": 2}));
        let (status, listed) = call(
            &router,
            "GET",
            "/api/mongodb-datastore/event?project=shop&eventID=e1",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(listed["events"][0]["time"], "2022-03-08T09:50:39.599Z");
        assert_eq!(
            listed["events"][0]["shkeptncontext"],
            "cfaadbb1-3c47-46e5-a230-d0f055f4f518"
        );
    }

    #[tokio::test]
    async fn refuses_bad_events_whole_and_unknown_projects() {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", testkit::ONE_TASK_SHIPYARD, &["carts"]).await;
        let uri = "/api/sluice/v1/project/shop/history";
        let mut no_context = event("e2", "shop");
        no_context
            .as_object_mut()
            .expect("object")
            .remove("shkeptncontext");
        let cases = [
            (
                json!({"events": [event("e1", "shop"), no_context]}),
                "events[1] (e2): shkeptncontext",
            ),
            (
                json!({"events": [event("e1", "other")]}),
                "data.project is \"other\"",
            ),
            (json!({"events": [42]}), "events[0]"),
            (json!({"evts": []}), "the body must be"),
            (
                json!({"events": vec![event("x", "shop"); MAX_EVENTS + 1]}),
                "at most 1000",
            ),
        ];
        for (body, expected) in cases {
            let (status, answer) = call(&router, "POST", uri, Some(body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
            let message = answer["message"].as_str().unwrap_or_default();
            assert!(message.contains(expected), "{message} lacks {expected}");
        }
        // Nothing of a refused request was stored.
        let (_, listed) = call(
            &router,
            "GET",
            "/api/mongodb-datastore/event?project=shop&eventID=e1",
            None,
        )
        .await;
        assert_eq!(listed["events"], json!([]));
        let (status, _) = call(
            &router,
            "POST",
            "/api/sluice/v1/project/nope/history",
            Some(json!({"events": []})),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
