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
    // On a cluster, runs made by other replicas (a leader before this one) are in the store.
    let shared = if app.store.shares_job_runs() {
        app.store
            .job_runs(&ids)
            .await
            .map_err(|e| ApiError::internal("cannot read the shared job runs", &e))?
    } else {
        Vec::new()
    };
    let runs_dir = jobs::runs_dir(&app.data_dir);
    let (runs, errors) = tokio::task::spawn_blocking(move || {
        let mut runs = Vec::new();
        let mut errors = Vec::new();
        for id in &ids {
            let here = record::read_runs(&runs_dir, id);
            let elsewhere = shared
                .iter()
                .filter(|r| r.triggered_id == *id)
                .filter_map(|r| {
                    let rec: record::RunRecord = serde_json::from_str(&r.record).ok()?;
                    Some((rec, r.output.clone()))
                });
            for (rec, output) in merge_runs(here, elsewhere.collect()) {
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

/// What the logs show of one event's task runs: the runs of this data directory (`here`,
/// with their artifacts) and those other servers shared (`elsewhere`), one per action and
/// task. A run kept here wins, unless it is still recorded as running while another server
/// shared its end (the task was taken over when this server was away). Ordered by action
/// and task.
pub fn merge_runs(
    here: Vec<(record::RunRecord, String)>,
    elsewhere: Vec<(record::RunRecord, String)>,
) -> Vec<(record::RunRecord, String)> {
    let mut by_task: std::collections::BTreeMap<(usize, usize), (record::RunRecord, String)> = here
        .into_iter()
        .map(|(rec, output)| ((rec.action_index, rec.task_index), (rec, output)))
        .collect();
    for (mut rec, output) in elsewhere {
        let key = (rec.action_index, rec.task_index);
        let replace = by_task
            .get(&key)
            .is_none_or(|(kept, _)| kept.status == record::RunStatus::Running);
        if replace {
            if !rec.artifacts.is_empty() {
                rec.artifacts_note = Some(format!(
                    "{}the artifacts are in the data directory of the server that ran the task",
                    rec.artifacts_note
                        .as_deref()
                        .map(|n| format!("{n}; "))
                        .unwrap_or_default()
                ));
            }
            by_task.insert(key, (rec, output));
        }
    }
    by_task.into_values().collect()
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

#[cfg(test)]
mod merge_tests {
    use super::*;
    use record::{Artifact, RunRecord, RunStatus};

    fn rec(action: usize, task: usize, status: RunStatus, artifacts: usize) -> RunRecord {
        let mut r: RunRecord = serde_json::from_value(json!({
            "triggeredId": "e", "keptnContext": "c", "eventType": "t", "task": "test",
            "action": "a", "actionIndex": action, "taskName": "n", "taskIndex": task,
            "image": "", "configLevel": "service", "start": "2026-01-01T00:00:00Z",
            "status": "running",
        }))
        .unwrap();
        r.status = status;
        r.artifacts = (0..artifacts)
            .map(|i| Artifact {
                path: format!("f{i}"),
                size: 1,
            })
            .collect();
        r
    }

    /// A run kept here wins over a shared copy unless it is still recorded as running; shared
    /// runs fill what this directory lacks, with a note on where their artifacts are.
    #[test]
    fn local_runs_win_unless_they_were_left_running() {
        let here = vec![
            (rec(0, 0, RunStatus::Succeeded, 0), "local 0".to_owned()),
            (rec(0, 1, RunStatus::Running, 0), "local 1".to_owned()),
        ];
        let elsewhere = vec![
            (rec(0, 0, RunStatus::Failed, 0), "shared 0".to_owned()),
            (rec(0, 1, RunStatus::Succeeded, 0), "shared 1".to_owned()),
            (rec(1, 0, RunStatus::Succeeded, 2), "shared 2".to_owned()),
        ];
        let merged = merge_runs(here, elsewhere);
        let outputs: Vec<&str> = merged.iter().map(|(_, o)| o.as_str()).collect();
        assert_eq!(outputs, ["local 0", "shared 1", "shared 2"]);
        assert_eq!(merged[1].0.status, RunStatus::Succeeded);
        assert_eq!(merged[1].0.artifacts_note, None, "no artifacts, no note");
        assert_eq!(
            merged[2].0.artifacts_note.as_deref(),
            Some("the artifacts are in the data directory of the server that ran the task")
        );
    }
}
