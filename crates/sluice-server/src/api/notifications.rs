//! Notifications of a project: channels (where to send)
//! `GET|POST /api/sluice/v1/project/{project}/notification/channel`,
//! `DELETE …/notification/channel/{name}`; rules (which events go to which channel)
//! `GET|POST …/notification/rule` (a rule may bring its new channel along),
//! `DELETE …/notification/rule/{name}`; and the delivery log `GET …/notification/delivery`
//! (paged, newest first).
//!
//! A channel's URL (for Slack and Teams the URL is the credential) and signing secret are
//! sealed in the store and never returned: the API shows the URL with its secret parts
//! hidden, and a generated signing secret once, in the answer that created it. Creating and
//! deleting write their audit entries in the same transaction.

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
use sluice_store::{ChannelRecord, DeliveryQuery, NewChannel, RuleRecord};

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
            "/api/sluice/v1/project/{project}/notification/channel",
            get(list_channels).post(create_channel),
        )
        .route(
            "/api/sluice/v1/project/{project}/notification/channel/{name}",
            delete(remove_channel),
        )
        .route(
            "/api/sluice/v1/project/{project}/notification/rule",
            get(list_rules).post(create_rule),
        )
        .route(
            "/api/sluice/v1/project/{project}/notification/rule/{name}",
            delete(remove_rule),
        )
        .route(
            "/api/sluice/v1/project/{project}/notification/delivery",
            get(deliveries),
        )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChannelBody {
    kind: String,
    url: String,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    secret: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RuleBody {
    name: String,
    /// A channel's name, or a new channel (named after the rule) as an object.
    channel: Value,
    events: Vec<String>,
    #[serde(default)]
    stages: Vec<String>,
    #[serde(default)]
    services: Vec<String>,
}

fn channel_view(c: &ChannelRecord) -> Value {
    json!({
        "project": c.project,
        "name": c.name,
        "kind": c.kind,
        "target": c.target,
        "template": c.template,
        "createdBy": c.created_by,
        "createdAt": c.created_at.to_rfc3339_nano(),
    })
}

fn rule_view(r: &RuleRecord, channel: Option<&ChannelRecord>) -> Value {
    json!({
        "project": r.project,
        "name": r.name,
        "channel": r.channel,
        "channelKind": channel.map(|c| c.kind.as_str()).unwrap_or(""),
        "target": channel.map(|c| c.target.as_str()).unwrap_or(""),
        "events": r.events,
        "stages": r.stages,
        "services": r.services,
        "createdBy": r.created_by,
        "createdAt": r.created_at.to_rfc3339_nano(),
    })
}

fn check_names(what: &str, list: &[String]) -> Result<(), ApiError> {
    if list.len() > MAX_NAMES {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_NAMES} {what}s may be named"
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

fn check_name(what: &str, name: &str) -> Result<String, ApiError> {
    sluice_model::names::check_object_name(what, name).map_err(ApiError::bad_request)
}

/// The channel a new rule sends to.
enum RuleChannel {
    /// A channel the project has.
    Existing(String),
    /// A new channel, created with the rule.
    New(Checked),
}

/// A checked new channel: its record, the text to seal, and the generated secret to show.
struct Checked {
    record: ChannelRecord,
    sealed: String,
    generated: Option<String>,
}

fn check_channel(
    project: &str,
    name: String,
    body: ChannelBody,
    principal: &Principal,
) -> Result<Checked, ApiError> {
    let kind = Channel::parse(&body.kind).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown channel kind {:?}: use one of {}",
            body.kind,
            Channel::ALL.map(Channel::as_str).join(", ")
        ))
    })?;
    let url = body.url.trim().to_owned();
    let target = shown_target(kind, &url).map_err(ApiError::bad_request)?;
    let template = body.template.unwrap_or_default();
    if template.len() > MAX_TEMPLATE {
        return Err(ApiError::bad_request(format!(
            "the template is longer than {MAX_TEMPLATE} bytes"
        )));
    }
    if !template.is_empty() {
        check_template(&template).map_err(ApiError::bad_request)?;
    }
    let (secret, generated) = match (kind, body.secret.filter(|s| !s.is_empty())) {
        (Channel::Webhook, Some(s)) => {
            secret_key(&s).map_err(ApiError::bad_request)?;
            (Some(s), None)
        }
        (Channel::Webhook, None) => {
            let s = generate_secret().map_err(|e| {
                ApiError::internal("cannot make a signing secret", &std::io::Error::other(e))
            })?;
            (Some(s.clone()), Some(s))
        }
        (_, Some(_)) => {
            return Err(ApiError::bad_request(format!(
                "a {} channel takes no signing secret (only webhook channels are signed)",
                kind.as_str()
            )));
        }
        (_, None) => (None, None),
    };
    let sealed = serde_json::to_string(&Sealed { url, secret })
        .map_err(|e| ApiError::internal("cannot seal the channel", &e))?;
    Ok(Checked {
        record: ChannelRecord {
            project: project.to_owned(),
            name,
            kind: kind.as_str().to_owned(),
            target,
            template,
            created_by: principal.name.clone(),
            created_at: clock::now(),
        },
        sealed,
        generated,
    })
}

fn note(action: &str, project: &str, detail: String) -> AuditNote {
    AuditNote {
        action: action.into(),
        project: project.to_owned(),
        detail,
        written: true,
        ..AuditNote::default()
    }
}

/// A channel body with its `name` (the body of `POST …/notification/channel`).
fn named_channel(body: Value) -> Result<(String, ChannelBody), ApiError> {
    let Value::Object(mut fields) = body else {
        return Err(ApiError::bad_request(
            "the body must be a channel {name, kind, url, template?, secret?}",
        ));
    };
    let name = match fields.remove("name") {
        Some(Value::String(name)) => name,
        _ => {
            return Err(ApiError::bad_request(
                "name is required: the channel's name",
            ));
        }
    };
    let body = serde_json::from_value(Value::Object(fields))
        .map_err(|e| ApiError::bad_request(format!("invalid channel: {e}")))?;
    Ok((name, body))
}

async fn create_channel(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    client: ClientAddr,
    Path(project): Path<String>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Extension<AuditNote>, Json<Value>), ApiError> {
    let (name, body) = named_channel(body)?;
    let name = check_name("channel", &name)?;
    names::check_project(&project).map_err(ApiError::bad_request)?;
    app.store.project(&project).await?;
    let checked = check_channel(&project, name.clone(), body, &principal)?;
    let note = note(
        "notification.channel.create",
        &project,
        format!("{name} ({})", checked.record.kind),
    );
    let entry = audit::entry(&principal, client, &note);
    app.store
        .create_notification_channel(&NewChannel {
            record: &checked.record,
            secret: &checked.sealed,
            audit: &entry,
        })
        .await?;
    let mut view = channel_view(&checked.record);
    if let Some(secret) = checked.generated {
        view["secret"] = json!(secret);
    }
    Ok((StatusCode::CREATED, Extension(note), Json(view)))
}

async fn list_channels(
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.store.project(&project).await?;
    let items: Vec<Value> = app
        .store
        .notification_channels(&project)
        .await?
        .iter()
        .map(channel_view)
        .collect();
    Ok(Json(json!({ "channels": items })))
}

async fn remove_channel(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    client: ClientAddr,
    Path((project, name)): Path<(String, String)>,
) -> Result<(Extension<AuditNote>, Json<Value>), ApiError> {
    let note = note("notification.channel.delete", &project, name.clone());
    app.store
        .delete_notification_channel(&project, &name, &audit::entry(&principal, client, &note))
        .await?;
    Ok((
        Extension(note),
        Json(
            json!({"message": format!("notification channel {name} of project {project} deleted")}),
        ),
    ))
}

async fn create_rule(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    client: ClientAddr,
    Path(project): Path<String>,
    Json(body): Json<RuleBody>,
) -> Result<(StatusCode, Extension<AuditNote>, Json<Value>), ApiError> {
    let name = check_name("rule", &body.name)?;
    names::check_project(&project).map_err(ApiError::bad_request)?;
    app.store.project(&project).await?;
    let new_channel = match body.channel {
        Value::String(channel) => RuleChannel::Existing(check_name("channel", &channel)?),
        Value::Object(fields) => {
            let body: ChannelBody = serde_json::from_value(Value::Object(fields))
                .map_err(|e| ApiError::bad_request(format!("invalid channel: {e}")))?;
            RuleChannel::New(check_channel(&project, name.clone(), body, &principal)?)
        }
        _ => {
            return Err(ApiError::bad_request(
                "channel must be a channel's name or a new channel {kind, url, template?, secret?}",
            ));
        }
    };
    if body.events.is_empty() {
        return Err(ApiError::bad_request(format!(
            "events is empty: name one or more of {}",
            NoticeKind::ALL.map(NoticeKind::as_str).join(", ")
        )));
    }
    let mut events: Vec<String> = Vec::new();
    for e in &body.events {
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
    check_names("stage", &body.stages)?;
    check_names("service", &body.services)?;
    let channel_name = match &new_channel {
        RuleChannel::New(checked) => checked.record.name.clone(),
        RuleChannel::Existing(existing) => existing.clone(),
    };
    let rule = RuleRecord {
        project: project.clone(),
        name: name.clone(),
        channel: channel_name.clone(),
        events,
        stages: body.stages,
        services: body.services,
        created_by: principal.name.clone(),
        created_at: clock::now(),
    };
    let rule_note = note(
        "notification.rule.create",
        &project,
        format!("{name} → {channel_name}"),
    );
    let rule_entry = audit::entry(&principal, client, &rule_note);
    let view = match &new_channel {
        RuleChannel::New(checked) => {
            let channel_note = note(
                "notification.channel.create",
                &project,
                format!("{} ({})", checked.record.name, checked.record.kind),
            );
            let channel_entry = audit::entry(&principal, client, &channel_note);
            app.store
                .create_notification_rule(
                    &rule,
                    Some(&NewChannel {
                        record: &checked.record,
                        secret: &checked.sealed,
                        audit: &channel_entry,
                    }),
                    &rule_entry,
                )
                .await?;
            let mut view = rule_view(&rule, Some(&checked.record));
            if let Some(secret) = &checked.generated {
                view["secret"] = json!(secret);
            }
            view
        }
        RuleChannel::Existing(_) => {
            app.store
                .create_notification_rule(&rule, None, &rule_entry)
                .await?;
            let channels = app.store.notification_channels(&project).await?;
            rule_view(&rule, channels.iter().find(|c| c.name == rule.channel))
        }
    };
    Ok((StatusCode::CREATED, Extension(rule_note), Json(view)))
}

async fn list_rules(
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.store.project(&project).await?;
    let channels = app.store.notification_channels(&project).await?;
    let items: Vec<Value> = app
        .store
        .notification_rules(&project)
        .await?
        .iter()
        .map(|r| rule_view(r, channels.iter().find(|c| c.name == r.channel)))
        .collect();
    Ok(Json(json!({ "rules": items })))
}

async fn remove_rule(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    client: ClientAddr,
    Path((project, name)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<(Extension<AuditNote>, Json<Value>), ApiError> {
    let drop_channel = match query.get("channel").map(String::as_str) {
        None | Some("" | "keep") => false,
        Some("unused") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "channel={other:?}: use keep (the default) or unused (delete the rule's channel when no other rule uses it)"
            )));
        }
    };
    let rule_note = note("notification.rule.delete", &project, name.clone());
    let channel_of = app
        .store
        .notification_rules(&project)
        .await?
        .into_iter()
        .find(|r| r.name == name)
        .map(|r| r.channel)
        .unwrap_or_default();
    let channel_note = note("notification.channel.delete", &project, channel_of.clone());
    let channel_entry = audit::entry(&principal, client, &channel_note);
    let dropped = app
        .store
        .delete_notification_rule(
            &project,
            &name,
            &audit::entry(&principal, client, &rule_note),
            drop_channel.then_some(&channel_entry),
        )
        .await?;
    let message = if dropped {
        format!(
            "notification rule {name} and its channel {channel_of} of project {project} deleted"
        )
    } else {
        format!("notification rule {name} of project {project} deleted")
    };
    Ok((Extension(rule_note), Json(json!({ "message": message }))))
}

async fn deliveries(
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let params = Params::from(query);
    let filter = DeliveryQuery {
        rule: params.text("rule"),
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
            "rule": d.rule,
            "channel": d.channel,
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
