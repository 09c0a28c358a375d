//! `GET /api/sluice/v1/logs?keptnContext=C[&task=T]`: what the built-in job executor ran for
//! a run (sluice's own endpoint, for `sluice logs`): each task run with its output and
//! artifacts, and the error-log entries of events whose job config could not be used.
//!
//! ```json
//! {"runs": [{"triggeredId", "eventType", "task", "action", "taskName", "image", "start",
//!            "end", "exitCode", "status", "reason", "output", "outputBytes",
//!            "artifacts": [{"path", "size"}], "artifactsNote"}],
//!  "errors": [{"time", "integration", "keptnContext", "triggeredId", "task", "message"}]}
//! ```
//!
//! `status` is `running`, `succeeded`, `failed`, `timedOut` or `aborted`; `end`, `exitCode`,
//! `reason` and `artifactsNote` are absent when they do not apply. Runs are in the order of
//! their events, then action and task order.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sluice_model::event::EventType;

use crate::access::rbac::{Action, Principal};
use crate::api::extract::{Json, Query};
use crate::error::ApiError;
use crate::services::jobs::{self, record};
use crate::state::App;

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/api/sluice/v1/logs", get(logs))
}

/// Query parameters.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsQuery {
    /// The run.
    #[serde(default)]
    keptn_context: String,
    /// Only runs answering events of this Keptn task.
    #[serde(default)]
    task: Option<String>,
}

async fn logs(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Query(q): Query<LogsQuery>,
) -> Result<Json<Value>, ApiError> {
    if q.keptn_context.trim().is_empty() {
        return Err(ApiError::bad_request("keptnContext is required"));
    }
    let events = app
        .store
        .events_of_context(&q.keptn_context)
        .await
        .map_err(|e| ApiError::internal("cannot read the run's events", &e))?;
    if events.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no events found for keptnContext {}", q.keptn_context),
        ));
    }
    // The context names no project: the token must see every project its events are of.
    for event in &events {
        if !super::project_of(event).is_empty() {
            super::authorize_event(&principal, Action::Read, event)?;
        }
    }
    let task_filter = q.task.as_deref().filter(|t| !t.is_empty());
    let ids: Vec<String> = events
        .iter()
        .filter(|e| {
            task_filter.is_none_or(|t| {
                e.event_type().ok().as_ref().and_then(EventType::task_name) == Some(t)
            })
        })
        .filter_map(|e| e.id.clone())
        .collect();
    let runs_dir = jobs::runs_dir(&app.data_dir);
    let (runs, errors) = tokio::task::spawn_blocking(move || {
        let mut runs = Vec::new();
        let mut errors = Vec::new();
        for id in &ids {
            for (rec, output) in record::read_runs(&runs_dir, id) {
                runs.push(run_json(rec, output));
            }
            errors.extend(record::read_errors(&runs_dir, id));
        }
        (runs, errors)
    })
    .await
    .map_err(|e| ApiError::internal("cannot read the job runs", &e))?;
    Ok(Json(json!({"runs": runs, "errors": errors})))
}

fn run_json(rec: record::RunRecord, output: String) -> Value {
    let mut v = json!({
        "triggeredId": rec.triggered_id,
        "eventType": rec.event_type,
        "task": rec.task,
        "action": rec.action,
        "taskName": rec.task_name,
        "image": rec.image,
        "start": rec.start,
        "status": rec.status,
        "output": output,
        "outputBytes": rec.output_bytes,
        "artifacts": rec.artifacts,
    });
    if let Some(end) = rec.end {
        v["end"] = json!(end);
    }
    if let Some(code) = rec.exit_code {
        v["exitCode"] = json!(code);
    }
    if let Some(reason) = rec.reason {
        v["reason"] = json!(reason);
    }
    if let Some(note) = rec.artifacts_note {
        v["artifactsNote"] = json!(note);
    }
    v
}
