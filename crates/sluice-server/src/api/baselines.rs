//! Pinned baselines (sluice extension): the one evaluation of a stage and service that SLOs
//! with `comparison.compare_with: baseline` compare with.
//!
//! * `GET /api/sluice/v1/project/{p}/stage/{s}/service/{svc}/baseline`: the pinned
//!   evaluation (its id, who pinned it and when, and the evaluation's compact row), 404 when
//!   none is pinned;
//! * `PUT` the same path with `{"evaluationId": "…"}`: pins an `evaluation.finished` event of
//!   that project, stage and service that is not invalidated (replacing an earlier pin);
//! * `DELETE` the same path: unpins it;
//! * `GET /api/sluice/v1/project/{p}/baselines`: every pinned baseline of the project
//!   (`{baselines: [...]}`, empty when none), what the web UI reads.
//!
//! Setting and clearing are recorded in the audit log (`baseline.set`, `baseline.clear`) in
//! the same transaction as the change. Reading needs the viewer role, changing the operator
//! role (the route table in `access/rbac.rs`).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sluice_model::event::kind::EVALUATION_FINISHED;
use sluice_store::Baseline;

use crate::access::rbac::Principal;
use crate::api::ClientAddr;
use crate::api::audit::{self, AuditNote};
use crate::api::extract::{Json, Path};
use crate::api::params::store_error;
use crate::api::quality;
use crate::error::ApiError;
use crate::runtime::clock;
use crate::state::App;

/// The path of a stage and service's baseline.
pub const PATH: &str = "/api/sluice/v1/project/{project}/stage/{stage}/service/{service}/baseline";

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(PATH, get(read).put(set).delete(clear))
        .route("/api/sluice/v1/project/{project}/baselines", get(list))
}

/// The body of a `PUT`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SetRequest {
    evaluation_id: String,
}

fn view(baseline: &Baseline, evaluation: Option<Value>) -> Value {
    json!({
        "project": baseline.project,
        "stage": baseline.stage,
        "service": baseline.service,
        "evaluationId": baseline.evaluation_id,
        "setBy": baseline.set_by,
        "setAt": baseline.set_at.to_keptn_string(),
        "evaluation": evaluation,
    })
}

async fn list(
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.store.project(&project).await?;
    let baselines: Vec<Value> = app
        .store
        .baselines(&project)
        .await?
        .iter()
        .map(|b| view(b, None))
        .collect();
    Ok(Json(json!({ "baselines": baselines })))
}

async fn read(
    State(app): State<Arc<App>>,
    Path((project, stage, service)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    let baseline = app
        .store
        .baseline(&project, &stage, &service)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no baseline is pinned for service {service} in stage {stage} of project {project}"
            ))
        })?;
    let event = app
        .store
        .event(&baseline.evaluation_id)
        .await
        .map_err(|e| store_error("cannot read evaluations", e))?;
    let gone = quality::invalidated(&app, &project).await?;
    let row = event.as_ref().map(|e| quality::row(e, &gone));
    Ok(Json(view(&baseline, row)))
}

async fn set(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    client: ClientAddr,
    Path((project, stage, service)): Path<(String, String, String)>,
    Json(request): Json<SetRequest>,
) -> Result<(Extension<AuditNote>, Json<Value>), ApiError> {
    let id = request.evaluation_id.trim().to_owned();
    if id.is_empty() {
        return Err(ApiError::bad_request("evaluationId is required"));
    }
    let event = app
        .store
        .event(&id)
        .await
        .map_err(|e| store_error("cannot read evaluations", e))?
        .ok_or_else(|| ApiError::bad_request(format!("evaluation {id} not found")))?;
    if event.event_type.as_deref() != Some(EVALUATION_FINISHED) {
        return Err(ApiError::bad_request(format!(
            "event {id} is not an {EVALUATION_FINISHED} event and cannot be a baseline"
        )));
    }
    let data = event.data_value();
    let field = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let scope = (field("project"), field("stage"), field("service"));
    if scope != (project.clone(), stage.clone(), service.clone()) {
        return Err(ApiError::bad_request(format!(
            "evaluation {id} is of service {} in stage {} of project {}, not of service {service} in stage {stage} of project {project}",
            scope.2, scope.1, scope.0
        )));
    }
    let gone = quality::invalidated(&app, &project).await?;
    if event
        .triggeredid
        .as_ref()
        .is_some_and(|t| !t.is_empty() && gone.contains(t))
    {
        return Err(ApiError::bad_request(format!(
            "evaluation {id} was invalidated and cannot be a baseline"
        )));
    }
    let baseline = Baseline {
        project: project.clone(),
        stage: stage.clone(),
        service: service.clone(),
        evaluation_id: id.clone(),
        set_by: principal.name.clone(),
        set_at: clock::now(),
    };
    let note = AuditNote {
        action: "baseline.set".into(),
        project,
        stage,
        service,
        keptn_context: event.shkeptncontext.clone().unwrap_or_default(),
        detail: id,
        written: true,
    };
    app.store
        .set_baseline(&baseline, &audit::entry(&principal, client, &note))
        .await?;
    Ok((
        Extension(note),
        Json(view(&baseline, Some(quality::row(&event, &gone)))),
    ))
}

async fn clear(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    client: ClientAddr,
    Path((project, stage, service)): Path<(String, String, String)>,
) -> Result<(Extension<AuditNote>, Json<Value>), ApiError> {
    let Some(old) = app.store.baseline(&project, &stage, &service).await? else {
        return Err(ApiError::not_found(format!(
            "no baseline is pinned for service {service} in stage {stage} of project {project}"
        )));
    };
    let note = AuditNote {
        action: "baseline.clear".into(),
        project: project.clone(),
        stage: stage.clone(),
        service: service.clone(),
        keptn_context: String::new(),
        detail: old.evaluation_id.clone(),
        written: true,
    };
    app.store
        .clear_baseline(
            &project,
            &stage,
            &service,
            &audit::entry(&principal, client, &note),
        )
        .await?;
    Ok((
        Extension(note),
        Json(
            json!({"message": format!("baseline {} of service {service} in stage {stage} unpinned", old.evaluation_id)}),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::{Value, json};
    use sluice_model::event::KeptnEvent;
    use sluice_store::{AuditQuery, Paging};

    use crate::api::testkit::{self, ONE_TASK_SHIPYARD, call, call_as};

    const PATH: &str = "/api/sluice/v1/project/shop/stage/dev/service/carts/baseline";

    fn stored(id: &str, ty: &str, stage: &str) -> KeptnEvent {
        KeptnEvent::from_value(json!({
            "specversion": "1.0", "id": id, "source": "lighthouse-service", "type": ty,
            "time": "2026-01-01T00:01:00.000Z",
            "shkeptncontext": "00000000-0000-4000-8000-000000000001",
            "triggeredid": format!("t-{id}"),
            "data": {"project": "shop", "stage": stage, "service": "carts", "result": "pass",
                     "evaluation": {"score": 100, "result": "pass"}}
        }))
        .unwrap()
    }

    async fn token(router: &axum::Router, role: &str) -> String {
        let (status, body) = call(
            router,
            "POST",
            "/api/sluice/v1/tokens",
            Some(json!({"name": format!("{role}-t"), "role": role, "project": "shop", "expires": "1d"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["token"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn a_baseline_is_pinned_read_and_cleared_by_the_roles_allowed_and_audited() {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", ONE_TASK_SHIPYARD, &["carts"]).await;
        let stage = app.store.project("shop").await.unwrap().stages[0].clone();
        let path = PATH.replace("/dev/", &format!("/{stage}/"));
        let finished = "sh.keptn.event.evaluation.finished";
        for e in [
            stored("e1", finished, &stage),
            stored("e2", finished, "elsewhere"),
            stored("t1", "sh.keptn.event.evaluation.triggered", &stage),
        ] {
            app.store.insert_event(&e).await.unwrap();
        }
        let (status, body) = call(&router, "GET", &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("no baseline is pinned")
        );

        // Only an evaluation.finished of this stage and service, which exists.
        for (id, why) in [
            ("nope", "evaluation nope not found"),
            ("t1", "is not an sh.keptn.event.evaluation.finished event"),
            ("e2", "is of service carts in stage elsewhere"),
            ("", "evaluationId is required"),
        ] {
            let (status, body) =
                call(&router, "PUT", &path, Some(json!({"evaluationId": id}))).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{id}: {body}");
            assert!(body["message"].as_str().unwrap().contains(why), "{body}");
        }
        let (status, body) = call(&router, "PUT", &path, Some(json!({"evaluation": "e1"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

        // A viewer reads but may not pin; an operator pins and clears.
        let viewer = token(&router, "viewer").await;
        let operator = token(&router, "operator").await;
        let (status, _) = call_as(
            &router,
            &viewer,
            "PUT",
            &path,
            Some(json!({"evaluationId": "e1"})),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, body) = call_as(
            &router,
            &operator,
            "PUT",
            &path,
            Some(json!({"evaluationId": "e1"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["evaluationId"], "e1");
        assert_eq!(body["setBy"], "operator-t");
        let (status, body) = call_as(&router, &viewer, "GET", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["evaluationId"], "e1");
        assert_eq!(body["evaluation"]["id"], "e1");
        let list = "/api/sluice/v1/project/shop/baselines";
        let (status, body) = call_as(&router, &viewer, "GET", list, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["baselines"][0]["evaluationId"], "e1", "{body}");
        assert_eq!(body["baselines"][0]["stage"], stage.as_str(), "{body}");
        let (status, _) = call_as(&router, &viewer, "DELETE", &path, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, body) = call_as(&router, &operator, "DELETE", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, _) = call_as(&router, &operator, "DELETE", &path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // An invalidated evaluation cannot be pinned.
        app.store
            .insert_event(
                &KeptnEvent::from_value(json!({
                    "specversion": "1.0", "id": "inv", "source": "test",
                    "type": "sh.keptn.event.evaluation.invalidated",
                    "shkeptncontext": "00000000-0000-4000-8000-000000000001",
                    "triggeredid": "t-e1",
                    "data": {"project": "shop", "stage": stage, "service": "carts"}
                }))
                .unwrap(),
            )
            .await
            .unwrap();
        let (status, body) = call(&router, "PUT", &path, Some(json!({"evaluationId": "e1"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["message"].as_str().unwrap().contains("invalidated"));

        let log = app
            .store
            .audit_entries(
                &AuditQuery {
                    project: Some("shop".into()),
                    ..AuditQuery::default()
                },
                &Paging::default(),
            )
            .await
            .unwrap();
        let actions: Vec<(&str, &str, &str)> = log
            .items
            .iter()
            .filter(|e| e.action.starts_with("baseline"))
            .map(|e| (e.action.as_str(), e.actor.as_str(), e.detail.as_str()))
            .collect();
        assert_eq!(
            actions,
            [
                ("baseline.clear", "operator-t", "e1"),
                ("baseline.set", "operator-t", "e1")
            ]
        );
        let _: Value = body;
    }
}
