//! Keptn's mongodb-datastore read API: `GET /api/mongodb-datastore/event` (filtered, newest
//! first, paged) and `GET /api/mongodb-datastore/event/type/{eventType}` (the `filter=`
//! mini-language the lighthouse and the Bridge use).
//!
//! Events are answered in the shape the datastore stored them: Keptn's model with
//! `contenttype` (not `datacontenttype`) and extension attributes flat at the top level.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use sluice_model::event::{ContentTypeKey, KeptnEvent};
use sluice_store::{EventQuery, TypeQuery};

use crate::api::extract::{Json, Path, Query};
use crate::api::params::{Params, store_error};
use crate::error::ApiError;
use crate::state::App;

/// Largest `limit` of the type query (the datastore's swagger maximum).
pub const MAX_TYPE_LIMIT: u32 = 100;
/// `limit` of the type query when none is given (the datastore's swagger default).
pub const DEFAULT_TYPE_LIMIT: u32 = 20;

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/mongodb-datastore/event", get(list_events))
        .route(
            "/api/mongodb-datastore/event/type/{event_type}",
            get(events_by_type),
        )
}

/// An event as the datastore serves it.
pub fn stored_shape(event: &KeptnEvent) -> Value {
    event.to_value(ContentTypeKey::ContentType)
}

/// `GET /event`: either `keptnContext` or `project` is required (Keptn answered 400).
async fn list_events(
    State(app): State<Arc<App>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = Params::from(query);
    let keptn_context = p.text("keptnContext");
    let project = p.text("project");
    if keptn_context.is_none() && project.is_none() {
        return Err(ApiError::bad_request(
            "either keptnContext or project must be specified",
        ));
    }
    let q = EventQuery {
        keptn_context,
        event_type: p.text("type"),
        project,
        stage: p.text("stage"),
        service: p.text("service"),
        event_id: p.text("eventID"),
        source: p.text("source"),
        triggered_id: None,
        from_time: p.time("fromTime")?,
        before_time: p.time("beforeTime")?,
        root_only: p.flag("root")?,
        paging: p.paging()?,
    };
    let page = app
        .store
        .events(&q)
        .await
        .map_err(|e| store_error("cannot read events", e))?;
    let events: Vec<Value> = page.items.iter().map(stored_shape).collect();
    let mut body = json!({
        "events": events,
        "pageSize": page.page_size,
        "totalCount": page.total_count,
    });
    if let Some(next) = page.next_page_key {
        body["nextPageKey"] = Value::String(next);
    }
    Ok(Json(body))
}

/// `GET /event/type/{eventType}?filter=&excludeInvalidated=&fromTime=&limit=`.
async fn events_by_type(
    State(app): State<Arc<App>>,
    Path(event_type): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = Params::from(query);
    let filter = p.text("filter").unwrap_or_default();
    let filters = TypeQuery::parse_filter(&filter);
    let scoped = filters.iter().any(|f| {
        (f.field == "data.project" || f.field == "shkeptncontext")
            && f.values.iter().any(|v| !v.is_empty())
    });
    if !scoped {
        return Err(ApiError::bad_request(
            "the filter must include data.project or shkeptncontext, e.g. filter=data.project:sockshop AND data.stage:dev",
        ));
    }
    let limit = match p.number("limit")? {
        None | Some(0) => DEFAULT_TYPE_LIMIT,
        Some(n) => n.min(MAX_TYPE_LIMIT),
    };
    let q = TypeQuery {
        filters,
        exclude_invalidated: p.flag("excludeInvalidated")?,
        from_time: p.time("fromTime")?,
        limit: Some(limit),
    };
    let events = app
        .store
        .events_by_type(&event_type, &q)
        .await
        .map_err(|e| store_error("cannot read events", e))?;
    let events: Vec<Value> = events.iter().map(stored_shape).collect();
    Ok(Json(json!({ "events": events })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testkit::{self, call};
    use axum::http::StatusCode;

    /// Stores `n` evaluation.finished events in project `p` directly (times one minute
    /// apart from 2021-01-01T10:00Z), alternating results pass/fail, plus one event of another
    /// project.
    async fn seed(app: &App, n: usize) {
        for i in 0..n {
            let result = if i % 2 == 0 { "pass" } else { "fail" };
            let event = KeptnEvent::from_value(json!({
                "specversion": "1.0",
                "id": format!("ev-{i}"),
                "source": "lighthouse-service",
                "type": "sh.keptn.event.evaluation.finished",
                "time": format!("2021-01-01T10:{i:02}:00.000Z"),
                "datacontenttype": "application/json",
                "shkeptncontext": format!("ctx-{}", i % 3),
                "triggeredid": format!("tr-{i}"),
                "myextension": "flat",
                "data": {"project": "p", "stage": "dev", "service": "carts", "result": result}
            }))
            .unwrap();
            app.store.insert_event(&event).await.unwrap();
        }
        let other = KeptnEvent::from_value(json!({
            "specversion": "1.0", "id": "other", "source": "x",
            "type": "sh.keptn.event.evaluation.finished", "time": "2021-01-01T09:00:00Z",
            "shkeptncontext": "ctx-o", "data": {"project": "q", "stage": "dev", "service": "carts", "result": "pass"}
        }))
        .unwrap();
        app.store.insert_event(&other).await.unwrap();
    }

    #[tokio::test]
    async fn lists_newest_first_in_the_stored_shape_with_paging() {
        let (app, router) = testkit::app().await;
        seed(&app, 25).await;
        let (status, body) = call(
            &router,
            "GET",
            "/api/mongodb-datastore/event?project=p",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["totalCount"], 25);
        assert_eq!(body["pageSize"], 20);
        assert_eq!(body["nextPageKey"], "20");
        let events = body["events"].as_array().unwrap();
        assert_eq!(events.len(), 20);
        assert_eq!(events[0]["id"], "ev-24");
        assert_eq!(events[0]["contenttype"], "application/json");
        assert!(events[0].get("datacontenttype").is_none());
        assert_eq!(events[0]["myextension"], "flat");

        let (_, body) = call(
            &router,
            "GET",
            "/api/mongodb-datastore/event?project=p&nextPageKey=20",
            None,
        )
        .await;
        assert_eq!(body["events"].as_array().unwrap().len(), 5);
        assert!(body.get("nextPageKey").is_none(), "{body}");
        assert_eq!(body["events"][4]["id"], "ev-0");

        let (_, body) = call(
            &router,
            "GET",
            "/api/mongodb-datastore/event?project=p&pageSize=500",
            None,
        )
        .await;
        assert_eq!(body["pageSize"], 100, "capped at Keptn's maximum");
    }

    #[tokio::test]
    async fn filters_by_context_scope_id_source_and_time() {
        let (app, router) = testkit::app().await;
        seed(&app, 10).await;
        let get = |q: &str| {
            let router = router.clone();
            let uri = format!("/api/mongodb-datastore/event?{q}");
            async move { call(&router, "GET", &uri, None).await }
        };
        let (_, body) = get("keptnContext=ctx-1").await;
        assert_eq!(body["totalCount"], 3, "ev-1, ev-4, ev-7");
        let (_, body) = get("keptnContext=ctx-1&type=sh.keptn.event.evaluation.finished&project=p&stage=dev&service=carts&source=lighthouse-service").await;
        assert_eq!(body["totalCount"], 3);
        let (_, body) = get("project=p&stage=prod").await;
        assert_eq!(body["totalCount"], 0);
        let (_, body) = get("project=p&eventID=ev-3").await;
        assert_eq!(body["events"][0]["id"], "ev-3");
        let (_, body) =
            get("project=p&fromTime=2021-01-01T10:02:00.000Z&beforeTime=2021-01-01T10:05:00").await;
        let ids: Vec<&str> = body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["ev-4", "ev-3"], "strictly between the bounds");
        let (_, body) = get("project=p&root=true").await;
        assert_eq!(body["totalCount"], 3, "one root event per context");
    }

    #[tokio::test]
    async fn rejects_unscoped_queries_bad_times_and_bad_keys() {
        let (_app, router) = testkit::app().await;
        for (uri, needle) in [
            (
                "/api/mongodb-datastore/event",
                "either keptnContext or project",
            ),
            (
                "/api/mongodb-datastore/event?type=sh.keptn.event.evaluation.finished",
                "either keptnContext or project",
            ),
            (
                "/api/mongodb-datastore/event?project=p&fromTime=yesterday",
                "invalid fromTime",
            ),
            (
                "/api/mongodb-datastore/event?project=p&beforeTime=2021-13-01T00:00:00Z",
                "invalid beforeTime",
            ),
            (
                "/api/mongodb-datastore/event?project=p&nextPageKey=abc",
                "invalid nextPageKey",
            ),
            (
                "/api/mongodb-datastore/event?project=p&pageSize=-3",
                "invalid pageSize",
            ),
            (
                "/api/mongodb-datastore/event/type/sh.keptn.event.evaluation.finished?filter=data.stage:dev",
                "must include data.project or shkeptncontext",
            ),
            (
                "/api/mongodb-datastore/event/type/sh.keptn.event.evaluation.finished",
                "must include data.project",
            ),
            (
                "/api/mongodb-datastore/event/type/x?filter=data.project:p&fromTime=now",
                "invalid fromTime",
            ),
        ] {
            let (status, body) = call(&router, "GET", uri, None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert_eq!(body["code"], 400);
            assert!(
                body["message"].as_str().unwrap().contains(needle),
                "{uri}: {body}"
            );
        }
    }

    #[tokio::test]
    async fn type_query_speaks_keptns_filter_language() {
        let (app, router) = testkit::app().await;
        seed(&app, 10).await;
        let get = |q: &str| {
            let router = router.clone();
            let uri =
                format!("/api/mongodb-datastore/event/type/sh.keptn.event.evaluation.finished?{q}");
            async move {
                let (status, body) = call(&router, "GET", &uri, None).await;
                assert_eq!(status, StatusCode::OK, "{uri}: {body}");
                body["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["id"].as_str().unwrap().to_owned())
                    .collect::<Vec<_>>()
            }
        };
        let all = get("filter=data.project:p&limit=100").await;
        assert_eq!(all.len(), 10);
        assert_eq!(all[0], "ev-9", "newest first");
        assert_eq!(get("filter=data.project:p").await.len(), 10);
        assert_eq!(
            get("filter=data.project:p%20AND%20data.result:pass&limit=2").await,
            ["ev-8", "ev-6"]
        );
        assert_eq!(
            get("filter=data.project:p,q%20AND%20data.result:pass,warning")
                .await
                .len(),
            6,
            "IN lists"
        );
        assert_eq!(
            get("filter=shkeptncontext:ctx-2%20AND%20data.service:carts").await,
            ["ev-8", "ev-5", "ev-2"]
        );
        assert_eq!(
            get("filter=data.project:p&fromTime=2021-01-01T10:07:00Z").await,
            ["ev-9", "ev-8"]
        );
        let (status, body) = call(
            &router,
            "GET",
            "/api/mongodb-datastore/event/type/sh.keptn.event.evaluation.finished?filter=data.project:p&excludeInvalidated=true",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["events"].as_array().unwrap().len(), 10);
        assert_eq!(body["events"][0]["contenttype"], "application/json");
    }
}
