//! Sequence state for people and tooling: Keptn's materialised sequence state
//! (`GET /api/controlPlane/v1/sequence/{project}`), sequence control (pause, resume, abort)
//! and the raw executions (`GET /api/controlPlane/v1/sequence-execution`).
//!
//! # The materialised state
//!
//! Keptn kept one `SequenceState` document per project and `keptnContext` (go-utils
//! `models/state.go`), updated by hooks as events went by. sluice computes the same document on
//! request from the context's sequence executions (one per stage the run reached) and its
//! stored events, so it can never drift from the engine:
//!
//! * `name`, `service`, `time` come from the context's first execution (the sequence that was
//!   triggered; chained stages add entries to `stages`), `time` in Keptn's format;
//! * overall `state`: while anything is open, `paused` when every open execution is paused,
//!   else `started` when one holds its slot, else `waitingForApproval` when one waits for a
//!   person, else `waiting` (queued) or `triggered`; once everything ended, `aborted` if any
//!   execution was aborted, else `timedOut` if any timed out, else `finished`. So `finished`
//!   only shows when no stage is still running. Keptn's own view showed `started` during an
//!   approval; sluice shows `waitingForApproval` (a state go-utils defines), because "waiting
//!   for a person" is what the reader needs to know;
//! * per stage: `state` is `triggered` while the stage's sequence runs (`paused` while paused),
//!   then the `status` of its `<stage>.<sequence>.finished` (`succeeded`, `errored`,
//!   `aborted`, `unknown`), as Keptn's view had it; `image` from the stage's
//!   `deployment.triggered` (else its sequence trigger) `configurationChange.values.image`;
//!   `latestEvaluation` from the stage's last `evaluation.finished` (any source: sluice's
//!   built-in evaluation is the lighthouse); `latestEvent` and `latestFailedEvent` (result
//!   `fail` or status `errored`) over the stage's events other than the sequence trigger;
//! * `problemTitle` from the trigger's `data.problem.problemTitle` (remediations).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Serialize;
use serde_json::{Value, json};
use sluice_engine::{ControlAction, SequenceExecution, SequenceState};
use sluice_model::event::kind::EVALUATION_FINISHED;
use sluice_model::event::{EventType, KeptnEvent, SequenceEventKind, Timestamp};
use sluice_store::{ExecutionQuery, ExecutionRecord, Paging, RunQuery};

use crate::access::rbac::{self, Action, Principal, Target};
use crate::api::audit::AuditNote;
use crate::api::extract::{Body, Json, Path, Query};
use crate::api::params::{Params, next_offset, store_error};
use crate::error::ApiError;
use crate::state::App;

/// Largest page of the sequence lists (Keptn: 50).
pub const MAX_PAGE: u32 = 50;

/// At most this many executions of one project are read to build the state list.
pub const MAX_EXECUTIONS_SCANNED: usize = 20_000;

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/api/controlPlane/v1/sequence/{project}",
            get(sequence_states),
        )
        .route(
            "/api/controlPlane/v1/sequence/{project}/{keptn_context}/control",
            post(control),
        )
        .route(
            "/api/controlPlane/v1/sequence-execution",
            get(sequence_executions),
        )
}

/// Keptn's `SequenceState`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SequenceStateView {
    /// Sequence name (of the first sequence of the run).
    pub name: String,
    /// Service.
    pub service: String,
    /// Project.
    pub project: String,
    /// When the run was triggered (Keptn's time format).
    pub time: String,
    /// The run.
    pub shkeptncontext: String,
    /// Overall state.
    pub state: String,
    /// The stages the run reached, in the order it reached them.
    pub stages: Vec<StageView>,
    /// Problem title of a remediation run.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub problem_title: String,
}

/// Keptn's `SequenceStateStage`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StageView {
    /// Stage name.
    pub name: String,
    /// Deployed image, if any.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// Stage state.
    pub state: String,
    /// Last evaluation result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_evaluation: Option<EvaluationView>,
    /// Last event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_event: Option<EventView>,
    /// Last failed event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_failed_event: Option<EventView>,
}

/// Keptn's `SequenceStateEvaluation`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluationView {
    /// `pass`, `warning`, `fail`.
    pub result: String,
    /// Total score.
    pub score: f64,
}

/// Keptn's `SequenceStateEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventView {
    /// Event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Event id.
    pub id: String,
    /// Event time (Keptn's format).
    pub time: String,
}

/// The overall state of a run from its executions (see the module docs).
pub fn overall_state(executions: &[SequenceExecution]) -> &'static str {
    let open: Vec<&SequenceExecution> = executions.iter().filter(|e| e.is_open()).collect();
    if !open.is_empty() {
        if open.iter().all(|e| e.paused) {
            return "paused";
        }
        let running: Vec<&&SequenceExecution> = open.iter().filter(|e| !e.paused).collect();
        let any = |s: SequenceState| running.iter().any(|e| e.state == s);
        return if any(SequenceState::Started) {
            "started"
        } else if any(SequenceState::WaitingForApproval) {
            "waitingForApproval"
        } else if any(SequenceState::Waiting) {
            "waiting"
        } else {
            "triggered"
        };
    }
    let any = |s: SequenceState| executions.iter().any(|e| e.state == s);
    if any(SequenceState::Aborted) {
        "aborted"
    } else if any(SequenceState::TimedOut) {
        "timedOut"
    } else {
        "finished"
    }
}

/// The state of one stage from its latest execution.
fn stage_state(execution: &SequenceExecution) -> String {
    if execution.is_open() {
        return if execution.paused {
            "paused".to_owned()
        } else {
            "triggered".to_owned()
        };
    }
    match &execution.outcome {
        Some(outcome) => outcome.status.to_status_type().to_string(),
        None => execution.state.wire().to_owned(),
    }
}

/// Keptn's time format of an event's `time` (unchanged when unreadable).
fn keptn_time(event: &KeptnEvent) -> String {
    let raw = event.time.clone().unwrap_or_default();
    Timestamp::parse(&raw)
        .map(|t| t.to_keptn_string())
        .unwrap_or(raw)
}

fn event_view(event: &KeptnEvent) -> EventView {
    EventView {
        event_type: event.event_type.clone().unwrap_or_default(),
        id: event.id.clone().unwrap_or_default(),
        time: keptn_time(event),
    }
}

fn data_str<'a>(event: &'a KeptnEvent, pointer: &str) -> &'a str {
    event
        .data_value()
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Builds the state of one run: `executions` oldest first (at least one), `events` the
/// context's events in stored order.
pub fn build_state(executions: &[SequenceExecution], events: &[KeptnEvent]) -> SequenceStateView {
    let root = &executions[0];
    // Latest execution per stage, stages in the order the run reached them.
    let mut order: Vec<&str> = Vec::new();
    let mut latest: HashMap<&str, &SequenceExecution> = HashMap::new();
    for e in executions {
        let stage = e.scope.stage.as_str();
        if !order.contains(&stage) {
            order.push(stage);
        }
        latest.insert(stage, e);
    }
    let stages = order
        .iter()
        .map(|stage| {
            let mut view = StageView {
                name: (*stage).to_owned(),
                image: String::new(),
                state: latest
                    .get(stage)
                    .map(|e| stage_state(e))
                    .unwrap_or_default(),
                latest_evaluation: None,
                latest_event: None,
                latest_failed_event: None,
            };
            let mut trigger_image = String::new();
            for event in events.iter().filter(|e| {
                data_str(e, "/stage") == *stage && data_str(e, "/project") == root.scope.project
            }) {
                let kind = event.event_type();
                let image = data_str(event, "/configurationChange/values/image");
                if let Ok(EventType::Sequence {
                    kind: SequenceEventKind::Triggered,
                    ..
                }) = kind
                {
                    if !image.is_empty() {
                        trigger_image = image.to_owned();
                    }
                    continue;
                }
                let ty = event.event_type.as_deref().unwrap_or("");
                if ty == "sh.keptn.event.deployment.triggered" && !image.is_empty() {
                    view.image = image.to_owned();
                }
                if ty == EVALUATION_FINISHED {
                    view.latest_evaluation = Some(EvaluationView {
                        result: data_str(event, "/result").to_owned(),
                        score: event
                            .data_value()
                            .pointer("/evaluation/score")
                            .and_then(Value::as_f64)
                            .unwrap_or(0.0),
                    });
                }
                let v = event_view(event);
                if data_str(event, "/result") == "fail" || data_str(event, "/status") == "errored" {
                    view.latest_failed_event = Some(v.clone());
                }
                view.latest_event = Some(v);
            }
            if view.image.is_empty() {
                view.image = trigger_image;
            }
            view
        })
        .collect();
    let problem_title = events
        .iter()
        .find(|e| e.id.as_deref() == Some(root.scope.triggered_id.as_str()))
        .map(|e| data_str(e, "/problem/problemTitle").to_owned())
        .unwrap_or_default();
    SequenceStateView {
        name: root.sequence.name.clone(),
        service: root.scope.service.clone(),
        project: root.scope.project.clone(),
        time: root.triggered_at.to_keptn_string(),
        shkeptncontext: root.scope.keptn_context.clone(),
        state: overall_state(executions).to_owned(),
        stages,
        problem_title,
    }
}

/// Reads every execution matching `q` (ignoring its paging), newest triggered first, up to
/// [`MAX_EXECUTIONS_SCANNED`].
async fn all_executions(
    app: &App,
    mut q: ExecutionQuery,
) -> Result<Vec<ExecutionRecord>, ApiError> {
    let mut out = Vec::new();
    let mut offset: u64 = 0;
    loop {
        q.paging = Paging {
            page_size: Some(sluice_store::executions::MAX_EXECUTION_PAGE),
            next_page_key: Some(offset.to_string()),
        };
        let page = app
            .store
            .executions(&q)
            .await
            .map_err(|e| store_error("cannot read sequence executions", e))?;
        offset += page.items.len() as u64;
        out.extend(page.items);
        if page.next_page_key.is_none() || out.len() >= MAX_EXECUTIONS_SCANNED {
            return Ok(out);
        }
    }
}

fn decode(record: &ExecutionRecord) -> Result<SequenceExecution, ApiError> {
    record
        .decode::<SequenceExecution>()
        .map_err(|e| ApiError::internal("cannot read a stored sequence execution", &e))
}

/// `GET /sequence/{project}?name&state&fromTime&beforeTime&pageSize&nextPageKey&keptnContext`.
async fn sequence_states(
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = Params::from(query);
    let (size, offset) = p.page_window(MAX_PAGE)?;
    let (from, before) = (p.time("fromTime")?, p.time("beforeTime")?);
    let (name, state) = (p.text("name"), p.text("state"));
    let contexts: Vec<String> = p
        .text("keptnContext")
        .map(|c| {
            c.split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    // Without a state filter the store pages the runs itself, so only the page is read;
    // a run's state needs all of its executions, so that filter is applied here.
    let (contexts, paged_total) = if state.is_none() {
        let query = RunQuery {
            project: project.clone(),
            keptn_contexts: contexts,
            sequence_name: name.clone(),
            from_time: from,
            before_time: before,
        };
        let (page, total) = app
            .store
            .runs(&query, size as u64, offset as u64)
            .await
            .map_err(|e| store_error("cannot read sequence executions", e))?;
        if page.is_empty() {
            return Ok(Json(states_body(Vec::new(), size, offset, total as usize)));
        }
        (page, Some(total as usize))
    } else {
        (contexts, None)
    };
    let records = all_executions(
        &app,
        ExecutionQuery {
            project: Some(project.clone()),
            keptn_contexts: contexts,
            ..ExecutionQuery::default()
        },
    )
    .await?;
    // Group by context, each oldest first.
    let mut runs: BTreeMap<String, Vec<SequenceExecution>> = BTreeMap::new();
    for record in &records {
        runs.entry(record.keptn_context.clone())
            .or_default()
            .push(decode(record)?);
    }
    let mut runs: Vec<Vec<SequenceExecution>> = runs
        .into_values()
        .map(|mut v| {
            v.sort_by_key(|e| (e.triggered_at, e.arrival));
            v
        })
        .filter(|v| {
            let root = &v[0];
            name.as_deref().is_none_or(|n| root.sequence.name == n)
                && state.as_deref().is_none_or(|s| overall_state(v) == s)
                && from.is_none_or(|t| root.triggered_at > t)
                && before.is_none_or(|t| root.triggered_at < t)
        })
        .collect();
    // Newest first.
    runs.sort_by(|a, b| {
        (b[0].triggered_at, &b[0].scope.keptn_context)
            .cmp(&(a[0].triggered_at, &a[0].scope.keptn_context))
    });
    // Paged by the store already, or here.
    let (total, skip) = match paged_total {
        Some(total) => (total, 0),
        None => (runs.len(), offset),
    };
    let mut states = Vec::new();
    for run in runs.iter().skip(skip).take(size) {
        let events = app
            .store
            .events_of_context(&run[0].scope.keptn_context)
            .await
            .map_err(|e| store_error("cannot read the events of a sequence", e))?;
        states.push(build_state(run, &events));
    }
    Ok(Json(states_body(states, size, offset, total)))
}

/// Keptn's `SequenceStates` page.
fn states_body(states: Vec<SequenceStateView>, size: usize, offset: usize, total: usize) -> Value {
    let mut body = json!({
        "states": states,
        "pageSize": size,
        "totalCount": total,
    });
    // Keptn's SequenceStates has an integer nextPageKey, left out when there is no next page.
    if let Some(next) = next_offset(offset, size, total) {
        body["nextPageKey"] = json!(next);
    }
    body
}

/// `POST /sequence/{project}/{keptnContext}/control` with `{"state": "pause"|"resume"|"abort",
/// "stage": ""}`.
async fn control(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Path((project, keptn_context)): Path<(String, String)>,
    Body(body): Body,
) -> Result<(Extension<AuditNote>, Json<Value>), ApiError> {
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    let state = body.get("state").and_then(Value::as_str).unwrap_or("");
    let action = match state {
        "pause" => ControlAction::Pause,
        "resume" => ControlAction::Resume,
        "abort" => ControlAction::Abort,
        "" => {
            return Err(ApiError::bad_request(
                "state is missing: send {\"state\": \"pause\"|\"resume\"|\"abort\"}",
            ));
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown sequence control state {other:?}: use pause, resume or abort"
            )));
        }
    };
    let stage = body
        .get("stage")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    // Without a stage the control acts on every stage of the sequence.
    rbac::authorize(
        &principal,
        Action::Control,
        &Target::project(&project, stage.as_deref()),
    )?;
    let not_found = || {
        ApiError::not_found(format!(
            "sequence not found: nothing is open in keptnContext {keptn_context} of project {project}{}",
            stage
                .as_deref()
                .map(|s| format!(" (stage {s})"))
                .unwrap_or_default()
        ))
    };
    let known = app
        .store
        .executions(&ExecutionQuery {
            project: Some(project.clone()),
            keptn_contexts: vec![keptn_context.clone()],
            paging: Paging::first(1),
            ..ExecutionQuery::default()
        })
        .await
        .map_err(|e| store_error("cannot read sequence executions", e))?;
    if known.total_count == 0 {
        return Err(not_found());
    }
    let acted = app
        .driver
        .control(keptn_context.clone(), stage.clone(), action)
        .await
        .map_err(|e| ApiError::internal("the sequence control could not be applied", &e))?;
    if !acted {
        return Err(not_found());
    }
    let note = AuditNote {
        action: state.to_owned(),
        project: project.clone(),
        stage: stage.clone().unwrap_or_default(),
        keptn_context: keptn_context.clone(),
        ..AuditNote::default()
    };
    Ok((Extension(note), Json(json!({}))))
}

/// `GET /sequence-execution?project&stage&service&keptnContext&name&status&pageSize&nextPageKey`:
/// the engine's stored executions, for tooling.
async fn sequence_executions(
    State(app): State<Arc<App>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = Params::from(query);
    let project = p
        .text("project")
        .ok_or_else(|| ApiError::bad_request("project must be set"))?;
    app.store
        .project(&project)
        .await
        .map_err(|e| store_error("cannot read the project", e))?;
    let (size, offset) = p.page_window(MAX_PAGE)?;
    let q = ExecutionQuery {
        project: Some(project),
        stage: p.text("stage"),
        sequence_name: p.text("name"),
        state: p.text("status"),
        keptn_contexts: p.text("keptnContext").into_iter().collect(),
        ..ExecutionQuery::default()
    };
    let service = p.text("service");
    let (records, total) = match &service {
        // The store does not filter by service: read all and page here.
        Some(service) => {
            let all: Vec<ExecutionRecord> = all_executions(&app, q)
                .await?
                .into_iter()
                .filter(|r| &r.service == service)
                .collect();
            let total = all.len();
            (all.into_iter().skip(offset).take(size).collect(), total)
        }
        None => {
            let page = app
                .store
                .executions(&ExecutionQuery {
                    paging: Paging {
                        page_size: Some(size as u32),
                        next_page_key: Some(offset.to_string()),
                    },
                    ..q
                })
                .await
                .map_err(|e| store_error("cannot read sequence executions", e))?;
            let total = page.total_count as usize;
            (page.items, total)
        }
    };
    let executions = records
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(&r.body)
                .map_err(|e| ApiError::internal("cannot read a stored sequence execution", &e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut body = json!({
        "sequenceExecutions": executions,
        "pageSize": size,
        "totalCount": total,
    });
    if let Some(next) = next_offset(offset, size, total) {
        body["nextPageKey"] = json!(next);
    }
    Ok(Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testkit::{self, ONE_TASK_SHIPYARD, call};
    use axum::http::StatusCode;

    async fn trigger(router: &Router, service: &str) -> String {
        let (status, body) = call(
            router,
            "POST",
            "/api/v1/event",
            Some(json!({
                "specversion": "1.0",
                "type": "sh.keptn.event.dev.delivery.triggered",
                "source": "test",
                "data": {"project": "shop", "stage": "dev", "service": service}
            })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["keptnContext"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn control_of_an_unknown_context_is_not_found_and_bad_states_are_rejected() {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", ONE_TASK_SHIPYARD, &["carts"]).await;
        let uri = "/api/controlPlane/v1/sequence/shop/no-such-context/control";
        let (status, body) = call(&router, "POST", uri, Some(json!({"state": "abort"}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("sequence not found"),
            "{body}"
        );
        let (status, body) = call(&router, "POST", uri, Some(json!({"state": "stop"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("pause, resume or abort")
        );
        let (status, _) = call(&router, "POST", uri, Some(json!({}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn pause_resume_abort_show_in_the_state_list() {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", ONE_TASK_SHIPYARD, &["carts", "db"]).await;
        let first = trigger(&router, "carts").await;
        let second = trigger(&router, "db").await;
        let list = |q: &str| {
            let router = router.clone();
            let uri = format!("/api/controlPlane/v1/sequence/shop{q}");
            async move {
                let (status, body) = call(&router, "GET", &uri, None).await;
                assert_eq!(status, StatusCode::OK, "{uri}: {body}");
                body
            }
        };
        let body = list("").await;
        assert_eq!(body["totalCount"], 2);
        assert_eq!(
            body["states"][0]["shkeptncontext"],
            second.as_str(),
            "newest first"
        );
        assert_eq!(body["states"][0]["state"], "started");
        assert_eq!(body["states"][0]["service"], "db");
        assert_eq!(body["states"][0]["stages"][0]["state"], "triggered");
        assert_eq!(
            body["states"][0]["stages"][0]["latestEvent"]["type"],
            "sh.keptn.event.deployment.triggered"
        );
        assert!(body.get("nextPageKey").is_none());

        let control = |ctx: &str, state: &str| {
            let router = router.clone();
            let uri = format!("/api/controlPlane/v1/sequence/shop/{ctx}/control");
            let body = json!({"state": state, "stage": ""});
            async move { call(&router, "POST", &uri, Some(body)).await }
        };
        let (status, body) = control(&first, "pause").await;
        assert_eq!((status, body), (StatusCode::OK, json!({})));
        let body = list(&format!("?keptnContext={first}")).await;
        assert_eq!(body["totalCount"], 1);
        assert_eq!(body["states"][0]["state"], "paused");
        assert_eq!(body["states"][0]["stages"][0]["state"], "paused");
        assert_eq!(list("?state=paused").await["totalCount"], 1);
        let (status, _) = control(&first, "resume").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list("?state=started").await["totalCount"], 2);

        let (status, _) = control(&first, "abort").await;
        assert_eq!(status, StatusCode::OK);
        let body = list(&format!("?keptnContext={first},{second}&state=aborted")).await;
        assert_eq!(body["totalCount"], 1, "{body}");
        assert_eq!(body["states"][0]["stages"][0]["state"], "aborted");
        // Nothing is open any more in the aborted context.
        let (status, _) = control(&first, "abort").await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Filters and paging.
        assert_eq!(list("?name=delivery").await["totalCount"], 2);
        assert_eq!(list("?name=other").await["totalCount"], 0);
        assert_eq!(
            list("?fromTime=2999-01-01T00:00:00Z").await["totalCount"],
            0
        );
        assert_eq!(
            list("?beforeTime=2999-01-01T00:00:00.000Z").await["totalCount"],
            2
        );
        let body = list("?pageSize=1").await;
        assert_eq!(body["nextPageKey"], 1, "an integer, as in go-utils");
        assert_eq!(body["states"].as_array().unwrap().len(), 1);
        let body = list("?pageSize=1&nextPageKey=1").await;
        assert_eq!(body["states"][0]["shkeptncontext"], first.as_str());
        assert!(body.get("nextPageKey").is_none());
        let (status, _) = call(
            &router,
            "GET",
            "/api/controlPlane/v1/sequence/shop?fromTime=soon",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(list("").await["states"].as_array().unwrap().len(), 2);
        assert_eq!(
            call(&router, "GET", "/api/controlPlane/v1/sequence/nope", None)
                .await
                .1["totalCount"],
            0
        );
    }

    #[tokio::test]
    async fn raw_executions_for_tooling() {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", ONE_TASK_SHIPYARD, &["carts", "db"]).await;
        let ctx = trigger(&router, "carts").await;
        trigger(&router, "db").await;
        let get = |q: &str| {
            let router = router.clone();
            let uri = format!("/api/controlPlane/v1/sequence-execution{q}");
            async move { call(&router, "GET", &uri, None).await }
        };
        let (status, body) = get("?project=shop").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["totalCount"], 2);
        let (_, body) = get("?project=shop&service=carts").await;
        assert_eq!(body["totalCount"], 1);
        let execution = &body["sequenceExecutions"][0];
        assert_eq!(execution["scope"]["keptnContext"], ctx.as_str());
        assert_eq!(execution["sequence"]["name"], "delivery");
        assert_eq!(execution["currentTask"]["name"], "deployment");
        let (_, body) = get(&format!("?project=shop&keptnContext={ctx}&status=started")).await;
        assert_eq!(body["totalCount"], 1, "{body}");
        let (_, body) = get("?project=shop&status=finished").await;
        assert_eq!(body["totalCount"], 0);
        let (_, body) = get("?project=shop&pageSize=1").await;
        assert_eq!(body["nextPageKey"], 1);
        let (status, _) = get("").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, body) = get("?project=nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }

    #[test]
    fn stage_details_come_from_the_context_events() {
        let exec = |stage: &str, state: &str, at: &str, outcome: Value| -> SequenceExecution {
            let mut v = json!({
                "id": format!("e-{stage}"),
                "sequence": {"name": "delivery", "tasks": [{"name": "deployment"}]},
                "scope": {"project": "p", "stage": stage, "service": "carts", "keptnContext": "c",
                          "triggeredId": format!("trig-{stage}")},
                "inputProperties": {},
                "triggeredAt": at,
                "arrival": 1,
                "state": state
            });
            if !outcome.is_null() {
                v["outcome"] = outcome;
            }
            serde_json::from_value(v).unwrap()
        };
        let ev = |id: &str, ty: &str, stage: &str, data: Value| {
            let mut d = json!({"project": "p", "stage": stage, "service": "carts"});
            for (k, v) in data.as_object().unwrap() {
                d[k] = v.clone();
            }
            KeptnEvent::from_value(
                json!({"id": id, "type": ty, "time": "2021-01-01T10:00:00.123456Z",
                                          "shkeptncontext": "c", "source": "x", "data": d}),
            )
            .unwrap()
        };
        let executions = [
            exec(
                "dev",
                "finished",
                "2021-01-01T10:00:00Z",
                json!({"result": "fail", "status": "succeeded"}),
            ),
            exec("prod", "started", "2021-01-01T11:00:00Z", Value::Null),
        ];
        let events = [
            ev(
                "trig-dev",
                "sh.keptn.event.dev.delivery.triggered",
                "dev",
                json!({"configurationChange": {"values": {"image": "carts:1"}},
                       "problem": {"problemTitle": "cpu"}}),
            ),
            ev(
                "d1",
                "sh.keptn.event.deployment.triggered",
                "dev",
                json!({"configurationChange": {"values": {"image": "carts:2"}}}),
            ),
            ev(
                "e1",
                "sh.keptn.event.evaluation.finished",
                "dev",
                json!({"result": "fail", "evaluation": {"score": 33.5}}),
            ),
            ev(
                "f1",
                "sh.keptn.event.dev.delivery.finished",
                "dev",
                json!({"result": "fail"}),
            ),
            ev(
                "trig-prod",
                "sh.keptn.event.prod.delivery.triggered",
                "prod",
                json!({"configurationChange": {"values": {"image": "carts:3"}}}),
            ),
            ev(
                "other",
                "sh.keptn.event.deployment.triggered",
                "dev",
                json!({"project": "q"}),
            ),
        ];
        let state = build_state(&executions, &events);
        assert_eq!(state.state, "started", "prod still runs");
        assert_eq!(state.problem_title, "cpu");
        assert_eq!(state.time, "2021-01-01T10:00:00.000Z");
        let dev = &state.stages[0];
        assert_eq!(dev.name, "dev");
        assert_eq!(dev.state, "succeeded");
        assert_eq!(
            dev.image, "carts:2",
            "deployment.triggered wins over the trigger"
        );
        assert_eq!(
            dev.latest_evaluation,
            Some(EvaluationView {
                result: "fail".into(),
                score: 33.5
            })
        );
        assert_eq!(dev.latest_event.as_ref().unwrap().id, "f1");
        assert_eq!(
            dev.latest_event.as_ref().unwrap().time,
            "2021-01-01T10:00:00.123Z"
        );
        assert_eq!(dev.latest_failed_event.as_ref().unwrap().id, "f1");
        let prod = &state.stages[1];
        assert_eq!(prod.state, "triggered");
        assert_eq!(prod.image, "carts:3", "from the sequence trigger");
        assert_eq!(prod.latest_event, None);
        let json = serde_json::to_value(&state).unwrap();
        assert!(json["stages"][1].get("latestEvaluation").is_none());
        assert_eq!(json["problemTitle"], "cpu");
    }

    #[test]
    fn overall_state_rules() {
        let base: SequenceExecution = serde_json::from_value(json!({
            "id": "e1",
            "sequence": {"name": "delivery", "tasks": [{"name": "deployment"}]},
            "scope": {"project": "p", "stage": "dev", "service": "s", "keptnContext": "c",
                      "triggeredId": "t"},
            "inputProperties": {},
            "triggeredAt": "2021-01-01T00:00:00Z",
            "arrival": 1,
            "state": "started"
        }))
        .expect("an execution as the engine stores it");
        let with = |state: SequenceState, paused: bool| {
            let mut e = base.clone();
            e.state = state;
            e.paused = paused;
            e
        };
        use SequenceState as S;
        assert_eq!(overall_state(&[with(S::Started, false)]), "started");
        assert_eq!(overall_state(&[with(S::Waiting, false)]), "waiting");
        assert_eq!(
            overall_state(&[with(S::WaitingForApproval, false)]),
            "waitingForApproval"
        );
        assert_eq!(overall_state(&[with(S::Started, true)]), "paused");
        assert_eq!(
            overall_state(&[with(S::Finished, false), with(S::Started, false)]),
            "started",
            "finished only when no stage runs"
        );
        assert_eq!(
            overall_state(&[with(S::Finished, false), with(S::Finished, false)]),
            "finished"
        );
        assert_eq!(
            overall_state(&[with(S::Finished, false), with(S::Aborted, false)]),
            "aborted"
        );
        assert_eq!(overall_state(&[with(S::TimedOut, false)]), "timedOut");
        assert_eq!(overall_state(&[with(S::Triggered, false)]), "triggered");
    }
}
