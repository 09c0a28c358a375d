//! Scoped tokens and the caller's own rights.
//!
//! * `POST /api/sluice/v1/tokens` `{name, role, project?, stages?, expires}` creates a token
//!   and answers its text once (only a hash is kept);
//! * `GET /api/sluice/v1/tokens[?project=]` lists them (never their text);
//! * `DELETE /api/sluice/v1/tokens/{id}` revokes one;
//! * `GET /api/sluice/v1/session` answers who the caller is: name, role, scope and rights
//!   (the web UI shows only what they allow).
//!
//! An instance admin manages every token; a project admin only the tokens of its project,
//! and never creates an instance admin. Creating and revoking write their audit entries in
//! the same transaction.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Extension, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sluice_model::names;
use sluice_store::TokenRecord;

use crate::access::rbac::{self, Action, Principal, Role, Target};
use crate::access::tokens as scoped;
use crate::api::ClientAddr;
use crate::api::audit::{self, AuditNote};
use crate::api::extract::{Json, Path, Query};
use crate::error::ApiError;
use crate::runtime::clock;
use crate::state::App;

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/sluice/v1/tokens", get(list).post(create))
        .route("/api/sluice/v1/tokens/{id}", delete(revoke))
        .route("/api/sluice/v1/session", get(session))
}

/// The caller's name, role, scope and rights.
pub fn describe(principal: &Principal) -> Value {
    json!({
        "name": principal.name,
        "role": principal.role.as_str(),
        "project": principal.project,
        "stages": principal.stages,
        "rights": rbac::rights(principal),
    })
}

async fn session(Extension(principal): Extension<Principal>) -> Json<Value> {
    Json(describe(&principal))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    name: String,
    role: String,
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    stages: Vec<String>,
    #[serde(default)]
    expires: Option<String>,
}

fn target_of(project: Option<&str>) -> Target {
    match project {
        Some(p) => Target::project(p, None),
        None => Target::AllProjects,
    }
}

fn view(t: &TokenRecord, now: sluice_model::event::Timestamp) -> Value {
    let state = if t.revoked_at.is_some() {
        "revoked"
    } else if t.expires_at <= now {
        "expired"
    } else {
        "active"
    };
    json!({
        "id": t.id,
        "name": t.name,
        "role": t.role,
        "project": t.project,
        "stages": t.stages,
        "createdBy": t.created_by,
        "createdAt": t.created_at.to_rfc3339_nano(),
        "expiresAt": t.expires_at.to_rfc3339_nano(),
        "revokedAt": t.revoked_at.map(|r| r.to_rfc3339_nano()),
        "state": state,
    })
}

async fn create(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    client: ClientAddr,
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
            "invalid token name {name:?}: use 1 to 100 letters, digits, '-', '_' and '.'"
        )));
    }
    let role = Role::parse(&request.role).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown role {:?}: use one of {}",
            request.role,
            Role::ALL.map(Role::as_str).join(", ")
        ))
    })?;
    let project = request.project.filter(|p| !p.is_empty());
    if let Some(p) = &project {
        names::check_project(p).map_err(ApiError::bad_request)?;
        app.store.project(p).await?;
    }
    for stage in &request.stages {
        if stage.is_empty() || stage.contains(['/', ',']) {
            return Err(ApiError::bad_request(format!(
                "invalid stage name {stage:?}"
            )));
        }
    }
    if role == Role::InstanceAdmin && (project.is_some() || !request.stages.is_empty()) {
        return Err(ApiError::bad_request(
            "an instance-admin token cannot be limited to a project or stages",
        ));
    }
    if role == Role::InstanceAdmin && principal.role != Role::InstanceAdmin {
        return Err(rbac::Denied(format!(
            "token {:?} (role {}) may not create instance-admin tokens",
            principal.name,
            principal.role.as_str()
        ))
        .into());
    }
    rbac::authorize(
        &principal,
        Action::Configure,
        &target_of(project.as_deref()),
    )?;
    let expires = request
        .expires
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("expires is required: how long the token lives, e.g. 30d")
        })?;
    let lifetime = scoped::parse_lifetime(&expires).map_err(ApiError::bad_request)?;
    let token = scoped::generate().map_err(|e| ApiError::internal("cannot make a token", &e))?;
    let now = clock::now();
    let record = TokenRecord {
        id: token.id.clone(),
        name: name.clone(),
        role: role.as_str().to_owned(),
        project: project.clone(),
        stages: request.stages,
        secret_hash: token.hash,
        created_by: principal.name.clone(),
        created_at: now,
        expires_at: now.plus(lifetime),
        revoked_at: None,
    };
    let note = AuditNote {
        action: "token.create".into(),
        project: project.clone().unwrap_or_default(),
        detail: format!("{name} ({})", role.as_str()),
        written: true,
        ..AuditNote::default()
    };
    app.store
        .create_token(&record, &audit::entry(&principal, client, &note))
        .await?;
    let mut body = view(&record, now);
    body["token"] = json!(token.text);
    Ok((StatusCode::CREATED, Extension(note), Json(body)))
}

async fn list(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let project = query
        .get("project")
        .filter(|p| !p.is_empty())
        .cloned()
        .or_else(|| principal.project.clone());
    rbac::authorize(
        &principal,
        Action::Configure,
        &target_of(project.as_deref()),
    )?;
    let now = clock::now();
    let tokens: Vec<Value> = app
        .store
        .tokens(project.as_deref())
        .await?
        .iter()
        .map(|t| view(t, now))
        .collect();
    Ok(Json(json!({ "tokens": tokens })))
}

async fn revoke(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    client: ClientAddr,
    Path(id): Path<String>,
) -> Result<(Extension<AuditNote>, Json<Value>), ApiError> {
    let record = app
        .store
        .token(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("token {id} not found")))?;
    rbac::authorize(
        &principal,
        Action::Configure,
        &target_of(record.project.as_deref()),
    )?;
    if record.role == Role::InstanceAdmin.as_str() && principal.role != Role::InstanceAdmin {
        return Err(rbac::Denied(format!(
            "token {:?} (role {}) may not revoke instance-admin tokens",
            principal.name,
            principal.role.as_str()
        ))
        .into());
    }
    let note = AuditNote {
        action: "token.revoke".into(),
        project: record.project.clone().unwrap_or_default(),
        detail: record.name.clone(),
        written: true,
        ..AuditNote::default()
    };
    app.store
        .revoke_token(&id, clock::now(), &audit::entry(&principal, client, &note))
        .await?;
    Ok((
        Extension(note),
        Json(json!({"message": format!("token {} revoked", record.name)})),
    ))
}
