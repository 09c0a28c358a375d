//! Notifications of a project: `GET|POST /api/sluice/v1/project/{project}/notification`,
//! `DELETE …/notification/{name}` and the delivery log
//! `GET /api/sluice/v1/project/{project}/notification-delivery` (paged, newest first).
//!
//! A notification's URL (for Slack and Teams the URL is the credential) and signing secret
//! are sealed in the store and never returned: the API shows the URL with its secret parts
//! hidden, and a generated signing secret once, in the answer that created it. Creating and
//! deleting write their audit entry in the same transaction.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sluice_model::names;
use sluice_store::notifications::state;
use sluice_store::{DeliveryQuery, NotificationRecord};

use crate::access::rbac::Principal;
use crate::api::ClientAddr;
use crate::api::audit::{self, AuditNote};
use crate::api::extract::{Json, Path, Query};
use crate::api::params::Params;
use crate::error::ApiError;
use crate::runtime::clock;
use crate::services::notifications::worker::Sealed;
use crate::services::notifications::{
    Channel, NoticeKind, check_template, generate_secret, secret_key, shown_target,
};
use crate::state::App;

/// The largest template.
const MAX_TEMPLATE: usize = 16 * 1024;
/// The most stages or services a notification may name.
const MAX_NAMES: usize = 100;

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/api/sluice/v1/project/{project}/notification",
            get(list).post(create),
        )
        .route(
            "/api/sluice/v1/project/{project}/notification/{name}",
            delete(remove),
        )
        .route(
            "/api/sluice/v1/project/{project}/notification-delivery",
            get(deliveries),
        )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CreateRequest {
    name: String,
    channel: String,
    url: String,
    events: Vec<String>,
    #[serde(default)]
    stages: Vec<String>,
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    secret: Option<String>,
}

fn view(n: &NotificationRecord) -> Value {
    json!({
        "project": n.project,
        "name": n.name,
        "channel": n.channel,
        "target": n.target,
        "events": n.events,
        "stages": n.stages,
        "services": n.services,
        "template": n.template,
        "createdBy": n.created_by,
        "createdAt": n.created_at.to_rfc3339_nano(),
    })
}

fn check_names(what: &str, list: &[String]) -> Result<(), ApiError> {
    if list.len() > MAX_NAMES {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_NAMES} {what} may be named"
        )));
    }
    for name in list {
        if name.is_empty() || name.len() > 100 || name.contains(['/', ',']) {
            return Err(ApiError::bad_request(format!(
                "invalid {what} name {name:?}"
            )));
        }
    }
    Ok(())
}

async fn create(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    client: ClientAddr,
    Path(project): Path<String>,
    Json(request): Json<CreateRequest>,
) -> Result<(StatusCode, Extension<AuditNote>, Json<Value>), ApiError> {
    let name = request.name.trim().to_owned();
    if name.is_empty()
        || name.len() > 100
        || name
            .chars()
            .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(ApiError::bad_request(format!(
            "invalid notification name {name:?}: use 1 to 100 letters, digits, '-', '_' and '.'"
        )));
    }
    names::check_project(&project).map_err(ApiError::bad_request)?;
    app.store.project(&project).await?;
    let channel = Channel::parse(&request.channel).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown channel {:?}: use one of {}",
            request.channel,
            Channel::ALL.map(Channel::as_str).join(", ")
        ))
    })?;
    let target = shown_target(channel, request.url.trim()).map_err(ApiError::bad_request)?;
    if request.events.is_empty() {
        return Err(ApiError::bad_request(format!(
            "events is empty: name one or more of {}",
            NoticeKind::ALL.map(NoticeKind::as_str).join(", ")
        )));
    }
    let mut events: Vec<String> = Vec::new();
    for e in &request.events {
        let kind = NoticeKind::parse(e).ok_or_else(|| {
            ApiError::bad_request(format!(
                "unknown event {e:?}: use one of {}",
                NoticeKind::ALL.map(NoticeKind::as_str).join(", ")
            ))
        })?;
        if !events.iter().any(|x| x == kind.as_str()) {
            events.push(kind.as_str().to_owned());
        }
    }
    check_names("stage", &request.stages)?;
    check_names("service", &request.services)?;
    let template = request.template.unwrap_or_default();
    if template.len() > MAX_TEMPLATE {
        return Err(ApiError::bad_request(format!(
            "the template is longer than {MAX_TEMPLATE} bytes"
        )));
    }
    if !template.is_empty() {
        check_template(&template).map_err(ApiError::bad_request)?;
    }
    let (secret, generated) = match (channel, request.secret.filter(|s| !s.is_empty())) {
        (Channel::Webhook, Some(s)) => {
            secret_key(&s).map_err(ApiError::bad_request)?;
            (Some(s), false)
        }
        (Channel::Webhook, None) => (
            Some(generate_secret().map_err(|e| {
                ApiError::internal("cannot make a signing secret", &std::io::Error::other(e))
            })?),
            true,
        ),
        (_, Some(_)) => {
            return Err(ApiError::bad_request(format!(
                "a {} channel takes no signing secret (only webhook channels are signed)",
                channel.as_str()
            )));
        }
        (_, None) => (None, false),
    };
    let sealed = serde_json::to_string(&Sealed {
        url: request.url.trim().to_owned(),
        secret: secret.clone(),
    })
    .map_err(|e| ApiError::internal("cannot seal the notification", &e))?;
    let record = NotificationRecord {
        project: project.clone(),
        name: name.clone(),
        channel: channel.as_str().to_owned(),
        events,
        stages: request.stages,
        services: request.services,
        template,
        target,
        created_by: principal.name.clone(),
        created_at: clock::now(),
    };
    let note = AuditNote {
        action: "notification.create".into(),
        project: project.clone(),
        detail: format!("{name} ({})", channel.as_str()),
        written: true,
        ..AuditNote::default()
    };
    app.store
        .create_notification(&record, &sealed, &audit::entry(&principal, client, &note))
        .await?;
    let mut body = view(&record);
    if generated {
        body["secret"] = json!(secret);
    }
    Ok((StatusCode::CREATED, Extension(note), Json(body)))
}

async fn list(
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.store.project(&project).await?;
    let items: Vec<Value> = app
        .store
        .notifications(&project)
        .await?
        .iter()
        .map(view)
        .collect();
    Ok(Json(json!({ "notifications": items })))
}

async fn remove(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    client: ClientAddr,
    Path((project, name)): Path<(String, String)>,
) -> Result<(Extension<AuditNote>, Json<Value>), ApiError> {
    let note = AuditNote {
        action: "notification.delete".into(),
        project: project.clone(),
        detail: name.clone(),
        written: true,
        ..AuditNote::default()
    };
    app.store
        .delete_notification(&project, &name, &audit::entry(&principal, client, &note))
        .await?;
    Ok((
        Extension(note),
        Json(json!({"message": format!("notification {name} of project {project} deleted")})),
    ))
}

async fn deliveries(
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let params = Params::from(query);
    let filter = DeliveryQuery {
        notification: params.text("notification"),
        state: params.text("state"),
    };
    if let Some(s) = &filter.state
        && ![state::PENDING, state::DELIVERED, state::FAILED].contains(&s.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "unknown state {s:?}: use pending, delivered or failed"
        )));
    }
    app.store.project(&project).await?;
    let page = app
        .store
        .deliveries(&project, &filter, &params.paging()?)
        .await?;
    let mut items = Vec::with_capacity(page.items.len());
    for d in &page.items {
        let attempts: Vec<Value> = app
            .store
            .delivery_attempts(&d.id)
            .await?
            .iter()
            .map(|a| {
                json!({
                    "n": a.n,
                    "time": a.at.to_rfc3339_nano(),
                    "status": a.status,
                    "error": a.error,
                })
            })
            .collect();
        let mut item = json!({
            "id": d.id,
            "notification": d.notification,
            "event": d.event,
            "eventId": d.event_id,
            "keptnContext": d.keptn_context,
            "stage": d.stage,
            "service": d.service,
            "state": d.state,
            "attempts": d.attempts,
            "createdAt": d.created_at.to_rfc3339_nano(),
            "lastStatus": d.last_status,
            "lastError": d.last_error,
            "attemptLog": attempts,
        });
        if d.state == state::PENDING {
            item["nextAttemptAt"] = json!(d.next_at.to_rfc3339_nano());
        }
        items.push(item);
    }
    let mut body = json!({
        "deliveries": items,
        "pageSize": page.page_size,
        "totalCount": page.total_count,
    });
    if let Some(next) = page.next_page_key {
        body["nextPageKey"] = json!(next);
    }
    Ok(Json(body))
}
