//! `GET /api/controlPlane/v1/event/triggered/{eventType}`: the open task `.triggered` events
//! that remote execution planes poll (Keptn's distributor and go-sdk HTTP source).
//!
//! An event is listed from the moment it is due (sent, not waiting for `triggeredAfter`)
//! until its task completes; pollers de-duplicate by id, so the same event is returned on
//! every poll until then. The list comes from the driver's in-memory index of open tasks
//! (no scan of the event table): filtering and paging happen on that index, and only the
//! events of the answered page are read from the store, by id.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use crate::api::datastore::stored_shape;
use crate::api::extract::{Json, Path, Query};
use crate::api::params::{Params, next_offset};
use crate::error::ApiError;
use crate::state::App;

/// Largest page (as Keptn's other list endpoints).
pub const MAX_PAGE: u32 = 100;

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new().route(
        "/api/controlPlane/v1/event/triggered/{event_type}",
        get(triggered_events),
    )
}

async fn triggered_events(
    State(app): State<Arc<App>>,
    Path(event_type): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    if !event_type.ends_with(".triggered") {
        return Err(ApiError::bad_request(format!(
            "{event_type} is not a .triggered event type: only open .triggered task events can be polled (e.g. sh.keptn.event.deployment.triggered)"
        )));
    }
    let p = Params::from(query);
    let (size, offset) = p.page_window(MAX_PAGE)?;
    let (project, stage, service, event_id) = (
        p.text("project"),
        p.text("stage"),
        p.text("service"),
        p.text("eventID"),
    );
    let same = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
    let mut tasks: Vec<_> = app
        .driver
        .open_tasks(Some(&event_type))
        .into_iter()
        .filter(|t| {
            t.due
                && same(&project, &t.project)
                && same(&stage, &t.stage)
                && same(&service, &t.service)
                && same(&event_id, &t.triggered_id)
        })
        .collect();
    // A stable order so that paging across polls is consistent.
    tasks.sort_by(|a, b| {
        (&a.project, &a.stage, &a.service, &a.triggered_id).cmp(&(
            &b.project,
            &b.stage,
            &b.service,
            &b.triggered_id,
        ))
    });
    let total = tasks.len();
    let mut events = Vec::new();
    for task in tasks.iter().skip(offset).take(size) {
        match app.store.event(&task.triggered_id).await {
            Ok(Some(event)) => events.push(stored_shape(&event)),
            // Prepared but not stored yet (held by a pause): not visible to pollers.
            Ok(None) => {}
            Err(e) => return Err(ApiError::internal("cannot read a triggered event", &e)),
        }
    }
    let mut body = json!({
        "events": events,
        "pageSize": size,
        "totalCount": total,
    });
    if let Some(next) = next_offset(offset, size, total) {
        body["nextPageKey"] = Value::String(next.to_string());
    }
    Ok(Json(body))
}

#[cfg(test)]
mod tests {
    use crate::api::testkit::{self, ONE_TASK_SHIPYARD, call};
    use axum::http::StatusCode;
    use serde_json::json;

    const POLL: &str = "/api/controlPlane/v1/event/triggered/sh.keptn.event.deployment.triggered";

    async fn poll(router: &axum::Router, query: &str) -> serde_json::Value {
        let (status, body) = call(router, "GET", &format!("{POLL}{query}"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    #[tokio::test]
    async fn open_task_is_listed_until_it_completes_and_the_sequence_finishes() {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", ONE_TASK_SHIPYARD, &["carts"]).await;
        assert_eq!(poll(&router, "").await["events"], json!([]));

        let (status, body) = call(
            &router,
            "POST",
            "/api/v1/event",
            Some(json!({
                "specversion": "1.0",
                "type": "sh.keptn.event.dev.delivery.triggered",
                "source": "test",
                "data": {"project": "shop", "stage": "dev", "service": "carts",
                         "configurationChange": {"values": {"image": "carts:0.1"}}}
            })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let context = body["keptnContext"].as_str().unwrap().to_owned();

        let body = poll(&router, "?project=shop&stage=dev&service=carts").await;
        assert_eq!(body["totalCount"], 1, "{body}");
        let task = body["events"][0].clone();
        assert_eq!(task["type"], "sh.keptn.event.deployment.triggered");
        assert_eq!(task["shkeptncontext"], context.as_str());
        assert_eq!(task["contenttype"], "application/json");
        assert_eq!(
            task["data"]["configurationChange"]["values"]["image"],
            "carts:0.1"
        );
        let triggered_id = task["id"].as_str().unwrap().to_owned();
        // Filters.
        assert_eq!(poll(&router, "?project=other").await["events"], json!([]));
        assert_eq!(poll(&router, "?stage=prod").await["events"], json!([]));
        assert_eq!(poll(&router, "?service=db").await["events"], json!([]));
        assert_eq!(poll(&router, "?eventID=nope").await["events"], json!([]));
        assert_eq!(
            poll(&router, &format!("?eventID={triggered_id}")).await["totalCount"],
            1
        );
        let (_, other_type) = call(
            &router,
            "GET",
            "/api/controlPlane/v1/event/triggered/sh.keptn.event.test.triggered",
            None,
        )
        .await;
        assert_eq!(other_type["events"], json!([]));

        // Still listed after .started (the task is not complete).
        let answer = |kind: &str| {
            json!({
                "specversion": "1.0",
                "type": format!("sh.keptn.event.deployment.{kind}"),
                "source": "remote-executor",
                "shkeptncontext": context,
                "triggeredid": triggered_id,
                "data": {"project": "shop", "stage": "dev", "service": "carts",
                         "status": "succeeded", "result": "pass"}
            })
        };
        let (status, body) = call(&router, "POST", "/api/v1/event", Some(answer("started"))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(poll(&router, "").await["totalCount"], 1);
        let (status, body) = call(&router, "POST", "/api/v1/event", Some(answer("finished"))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(poll(&router, "").await["events"], json!([]));

        let (status, body) = call(&router, "GET", "/api/controlPlane/v1/sequence/shop", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let state = &body["states"][0];
        assert_eq!(state["shkeptncontext"], context.as_str());
        assert_eq!(state["name"], "delivery");
        assert_eq!(state["state"], "finished", "{body}");
        assert_eq!(state["stages"][0]["name"], "dev");
        assert_eq!(state["stages"][0]["state"], "succeeded");
        assert_eq!(state["stages"][0]["image"], "carts:0.1");
        assert_eq!(
            state["stages"][0]["latestEvent"]["type"],
            "sh.keptn.event.dev.delivery.finished"
        );
    }

    #[tokio::test]
    async fn only_triggered_types_can_be_polled() {
        let (_app, router) = testkit::app().await;
        let (status, body) = call(
            &router,
            "GET",
            "/api/controlPlane/v1/event/triggered/sh.keptn.event.deployment.finished",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, _) = call(&router, "GET", &format!("{POLL}?nextPageKey=x"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
