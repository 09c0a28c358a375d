//! `POST /api/v1/event`: Keptn's event ingestion. Assigns time and context the way Keptn's
//! api-service did (and an id when the sender gave none), validates scope, and answers only
//! once the event is durable. A repeated id is a retried delivery: answered, not stored again.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Extension, Router};
use serde_json::Value;
use sluice_model::event::{EventType, KeptnEvent, TaskEventKind, keptn_context_for};

use crate::access::rbac::{self, Action, Principal, Target};
use crate::api::ClientAddr;
use crate::api::audit::{self, AuditNote};
use crate::api::extract::{Body, Json};
use crate::error::ApiError;
use crate::runtime::driver::Accepted;
use crate::runtime::{clock, ids};
use crate::state::App;

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/v1/event", post(post_event))
        .route("/api/controlPlane/v1/event", post(post_event))
}

/// The source Keptn's api-service put on events that came without one.
pub const API_SOURCE: &str = "https://github.com/keptn/keptn/api";

async fn post_event(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    client: ClientAddr,
    Body(body): Body,
) -> Result<(Extension<AuditNote>, Json<EventAccepted>), ApiError> {
    // Authorized once decoded (with the case folding every reader of the event uses) and
    // before it is checked: a sender without the right learns nothing more.
    let event = decode(&body)?;
    let note = authorize(&principal, &event)?;
    let (event, kind, named_here) = accept(&app, event).await?;
    // A run reads its files at the commit pinned when it starts: the upstream's changes
    // come in first.
    if let EventType::Sequence {
        kind: sluice_model::event::kind::SequenceEventKind::Triggered,
        ..
    } = kind
        && let Some(project) = event
            .data
            .as_ref()
            .and_then(|d| d.get("project"))
            .and_then(Value::as_str)
    {
        // Boxed: a large future (5 kB) that only triggers run; inline, it would make every
        // request's handler future that large, and futures are moved by copying.
        Box::pin(crate::projects::upstream::pull_before_run(&app, project)).await;
    }
    let id = event.id.clone().unwrap_or_default();
    let mut context = event.shkeptncontext.clone().unwrap_or_default();
    // A change is recorded in the commit that stores its event (see `api::audit`).
    let recorded = !note.action.is_empty();
    let entry = recorded.then(|| {
        audit::entry(
            &principal,
            client,
            &AuditNote {
                keptn_context: context.clone(),
                ..note.clone()
            },
        )
    });
    let submitted = app.driver.submit_audited(event, named_here, entry).await;
    let accepted =
        submitted.map_err(|e| ApiError::internal("the event could not be stored", &e))?;
    if accepted == Accepted::Duplicate {
        // A retry of a delivery that was taken: the same answer as the first time, with the
        // context that was stored (a retried trigger without a context got a new one above).
        let stored = Box::pin(app.store.event(&id))
            .await
            .map_err(|e| ApiError::internal("cannot read the stored event", &e))?;
        if let Some(c) = stored.and_then(|e| e.shkeptncontext.clone()) {
            context = c;
        }
    }
    let note = AuditNote {
        keptn_context: if recorded {
            context.clone()
        } else {
            String::new()
        },
        // Written with the event, once: a retried request changed nothing the first time
        // did not, and its entry was not written again.
        written: recorded,
        ..note
    };
    Ok((
        Extension(note),
        Json(EventAccepted {
            keptn_context: context,
        }),
    ))
}

/// The answer to an accepted event (Keptn's `eventContext`).
#[derive(Debug, serde::Serialize)]
pub struct EventAccepted {
    /// The context the event was stored in.
    #[serde(rename = "keptnContext")]
    keptn_context: String,
}

/// Whether the sender may send this event ([`rbac::event_action`] on the event's project and
/// stage), and the audit note of it: triggers, approvals and declines and other changes are
/// recorded; task answers are not.
/// An event without a known type passes here and is refused by [`accept`].
fn authorize(principal: &Principal, event: &KeptnEvent) -> Result<AuditNote, ApiError> {
    let event_type = event.event_type.as_deref().unwrap_or("");
    let Ok(kind) = event_type.parse::<EventType>() else {
        return Ok(AuditNote::default());
    };
    let data = event.data.as_ref().unwrap_or(&Value::Null);
    let field = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("");
    let (project, mut stage, service) = (field("project"), field("stage"), field("service"));
    if let EventType::Sequence { stage: typed, .. } = &kind {
        stage = typed;
    }
    let action = rbac::event_action(&kind);
    let target = if project.is_empty() {
        Target::AllProjects
    } else {
        Target::project(project, Some(stage))
    };
    rbac::authorize(principal, action, &target)?;
    let name = match action {
        Action::Approve if field("result") == "fail" => "decline",
        Action::Approve => "approve",
        Action::Trigger => "trigger",
        Action::Control => "control",
        Action::Configure => "configure",
        // Not recorded: the note stays empty (nobody reads it).
        Action::Answer | Action::Read | Action::Administer => return Ok(AuditNote::default()),
    };
    Ok(AuditNote {
        action: name.to_owned(),
        project: project.to_owned(),
        stage: stage.to_owned(),
        service: service.to_owned(),
        detail: event_type.to_owned(),
        ..AuditNote::default()
    })
}

/// The request body as an event (read once, for the authorization and the checks).
fn decode(body: &[u8]) -> Result<KeptnEvent, ApiError> {
    // Almost every body is spelled plainly and read in one pass; any other is read through
    // a JSON value, which applies Go's folding rules and names what is wrong.
    if let Some(event) = KeptnEvent::from_plain_json(body) {
        return Ok(event);
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not valid JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })?;
    KeptnEvent::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("not a CloudEvent: {e}")))
}

/// Completes and checks an incoming event; nothing is stored for a rejected one. Also
/// answers its type and whether its id was made here (it came without one).
pub async fn accept(
    app: &App,
    mut event: KeptnEvent,
) -> Result<(KeptnEvent, EventType, bool), ApiError> {
    // The sender's id is kept, so that a retried request (same id) is recognised and
    // dropped; Keptn's api-service replaced it, which made every retry a new event. An
    // event without an id gets a fresh one. The time is the receive time, as in Keptn.
    let named_here = event.id.as_deref().is_none_or(|id| id.trim().is_empty());
    if named_here {
        event.id = Some(ids::fresh());
    }
    event.time = Some(clock::now().to_rfc3339_nano());
    if event.specversion.as_deref().unwrap_or("").is_empty() {
        event.specversion = Some("1.0".to_owned());
    }
    if event.source.as_deref().unwrap_or("").is_empty() {
        event.source = Some(API_SOURCE.to_owned());
    }
    if event.datacontenttype.as_deref().unwrap_or("").is_empty() {
        event.datacontenttype = Some("application/json".to_owned());
    }
    event.shkeptncontext = Some(keptn_context_for(
        event.shkeptncontext.as_deref().filter(|c| !c.is_empty()),
        ids::fresh,
    ));

    let problems = event.validate_incoming();
    if let Some(p) = problems.first() {
        let all: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {}", p.attribute, p.message))
            .collect();
        return Err(ApiError::bad_request(if problems.len() == 1 {
            format!("invalid event: {}: {}", p.attribute, p.message)
        } else {
            format!("invalid event: {}", all.join("; "))
        }));
    }
    let kind = event
        .event_type()
        .map_err(|e| ApiError::bad_request(format!("unknown event type: {e}")))?;
    check_scope(app, &event, &kind).await?;
    Ok((event, kind, named_here))
}

/// Sequence triggers and task progress must name an existing project, stage and service.
async fn check_scope(app: &App, event: &KeptnEvent, kind: &EventType) -> Result<(), ApiError> {
    let needs_scope = match kind {
        EventType::Sequence { .. } => true,
        EventType::Task { kind, .. } => {
            matches!(kind, TaskEventKind::Started | TaskEventKind::Finished)
        }
        _ => false,
    };
    if !needs_scope {
        return Ok(());
    }
    let data = event.data.as_ref().unwrap_or(&Value::Null);
    let field = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("");
    let (project, stage, service) = (field("project"), field("stage"), field("service"));
    for (name, value) in [("project", project), ("stage", stage), ("service", service)] {
        if value.is_empty() {
            return Err(ApiError::bad_request(format!(
                "data.{name} is missing: Keptn events need project, stage and service"
            )));
        }
    }
    if let EventType::Sequence { stage: typed, .. } = kind
        && *typed != stage
    {
        return Err(ApiError::bad_request(format!(
            "data.stage `{stage}` does not match the stage `{typed}` in the event type"
        )));
    }
    if matches!(kind, EventType::Task { .. })
        && event.triggeredid.as_deref().unwrap_or("").is_empty()
    {
        return Err(ApiError::bad_request(
            "triggeredid is missing: .started and .finished events answer a .triggered event",
        ));
    }
    // One query for the three checks: every task event of every executor passes here.
    crate::runtime::scope::check(&app.store, project, stage, service)
        .await
        .map_err(|e| ApiError::internal("cannot read the project", &e))?
        .map_err(|missing| ApiError::bad_request(missing.to_string()))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::json;

    use crate::api::testkit::{ONE_TASK_SHIPYARD, app, call, create_project};

    #[tokio::test]
    async fn task_events_need_an_existing_project_stage_and_service() {
        let (app, router) = app().await;
        create_project(&app, "shop", ONE_TASK_SHIPYARD, &["carts"]).await;
        let started = |project: &str, stage: &str, service: &str| {
            json!({"type": "sh.keptn.event.deployment.started", "source": "x", "triggeredid": "t1",
                "data": {"project": project, "stage": stage, "service": service}})
        };
        let cases = [
            (started("nope", "dev", "carts"), "project not found: nope"),
            (started("shop", "qa", "carts"), "stage not found: qa"),
            (
                started("shop", "dev", "orders"),
                "service not found: orders",
            ),
        ];
        for (body, message) in cases {
            let (status, answer) = call(&router, "POST", "/api/v1/event", Some(body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
            assert!(
                answer["message"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with(message),
                "{answer}"
            );
        }
        let (status, answer) = call(
            &router,
            "POST",
            "/api/v1/event",
            Some(started("shop", "dev", "carts")),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }

    #[tokio::test]
    async fn a_repeated_event_id_is_answered_and_stored_once() {
        let (app, router) = app().await;
        create_project(&app, "shop", ONE_TASK_SHIPYARD, &["carts"]).await;
        // A trigger without a context, sent twice: the second answer names the first run.
        let trigger = json!({"id": "retried-trigger", "type": "sh.keptn.event.dev.delivery.triggered",
            "source": "ci", "data": {"project": "shop", "stage": "dev", "service": "carts"}});
        let (status, first) = call(&router, "POST", "/api/v1/event", Some(trigger.clone())).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        let (status, again) = call(&router, "POST", "/api/v1/event", Some(trigger)).await;
        assert_eq!((status, &again), (StatusCode::OK, &first));
        let stored = app.store.event("retried-trigger").await.unwrap().unwrap();
        assert_eq!(
            stored.shkeptncontext.as_deref(),
            first["keptnContext"].as_str()
        );
        let triggers = sluice_store::EventQuery {
            event_type: Some("sh.keptn.event.dev.delivery.triggered".into()),
            project: Some("shop".into()),
            ..Default::default()
        };
        let count = |app: std::sync::Arc<crate::state::App>| {
            let q = triggers.clone();
            async move { app.store.events(&q).await.unwrap().total_count }
        };
        assert_eq!(count(app.clone()).await, 1, "one run");
        // Without an id every post is a new event.
        let no_id = json!({"type": "sh.keptn.event.dev.delivery.triggered", "source": "ci",
            "data": {"project": "shop", "stage": "dev", "service": "carts"}});
        let (_, a) = call(&router, "POST", "/api/v1/event", Some(no_id.clone())).await;
        let (_, b) = call(&router, "POST", "/api/v1/event", Some(no_id)).await;
        assert_ne!(a["keptnContext"], b["keptnContext"]);
        assert_eq!(count(app.clone()).await, 3);
    }
}
