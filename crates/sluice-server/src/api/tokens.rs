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
    let name = sluice_model::names::check_object_name("token", &request.name)
        .map_err(ApiError::bad_request)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testkit::{self, ONE_TASK_SHIPYARD, call, call_as};
    use sluice_model::duration::GoDuration;
    use sluice_store::{AuditQuery, Paging};

    /// Creates a token through the API with the bootstrap token; answers its text and id.
    async fn token(
        router: &Router,
        role: &str,
        project: Option<&str>,
        stages: &[&str],
    ) -> (String, String) {
        let name = format!("{role}-{}", crate::runtime::ids::fresh());
        let (status, body) = call(
            router,
            "POST",
            "/api/sluice/v1/tokens",
            Some(json!({"name": name, "role": role, "project": project, "stages": stages, "expires": "30d"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (
            body["token"].as_str().unwrap().to_owned(),
            body["id"].as_str().unwrap().to_owned(),
        )
    }

    fn event(kind: &str, stage: &str, extra: Value) -> Value {
        let mut data = json!({"project": "shop", "stage": stage, "service": "carts"});
        if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
            d.extend(e.clone());
        }
        let mut event = json!({"type": kind, "specversion": "1.0", "source": "test", "data": data});
        if !kind.ends_with(".triggered") {
            event["triggeredid"] = json!("00000000-0000-0000-0000-000000000001");
        }
        event
    }

    /// One request of each endpoint group: (group, method, path, body).
    fn groups() -> Vec<(&'static str, &'static str, &'static str, Option<Value>)> {
        vec![
            (
                "read project",
                "GET",
                "/api/controlPlane/v1/project/shop",
                None,
            ),
            (
                "read events",
                "GET",
                "/api/mongodb-datastore/event?project=shop",
                None,
            ),
            (
                "read resources",
                "GET",
                "/api/resource-service/v1/project/shop/resource",
                None,
            ),
            (
                "read sequences",
                "GET",
                "/api/controlPlane/v1/sequence/shop",
                None,
            ),
            (
                "poll tasks",
                "GET",
                "/api/controlPlane/v1/event/triggered/sh.keptn.event.deployment.triggered?project=shop",
                None,
            ),
            ("secret names", "GET", "/api/secrets/v1/secret", None),
            (
                "trigger",
                "POST",
                "/api/v1/event",
                Some(event(
                    "sh.keptn.event.dev.delivery.triggered",
                    "dev",
                    json!({}),
                )),
            ),
            (
                "trigger evaluation",
                "POST",
                "/api/controlPlane/v1/project/shop/stage/dev/service/carts/evaluation",
                Some(json!({"timeframe": "5m"})),
            ),
            (
                "approve",
                "POST",
                "/api/v1/event",
                Some(event(
                    "sh.keptn.event.approval.finished",
                    "dev",
                    json!({"result": "pass", "status": "succeeded"}),
                )),
            ),
            (
                "answer",
                "POST",
                "/api/v1/event",
                Some(event("sh.keptn.event.deployment.started", "dev", json!({}))),
            ),
            (
                "register",
                "POST",
                "/api/controlPlane/v1/uniform/registration",
                Some(
                    json!({"name": "my-service", "metadata": {"hostname": "h"}, "subscriptions": []}),
                ),
            ),
            (
                "control",
                "POST",
                "/api/controlPlane/v1/sequence/shop/no-such-context/control",
                Some(json!({"state": "pause", "stage": "dev"})),
            ),
            (
                "configure resources",
                "PUT",
                "/api/resource-service/v1/project/shop/stage/dev/service/carts/resource/notes.txt",
                Some(json!({"resourceContent": testkit::b64("x")})),
            ),
            (
                "configure monitoring",
                "POST",
                "/api/sluice/v1/project/shop/monitoring",
                Some(json!({"type": "prometheus"})),
            ),
            ("tokens", "GET", "/api/sluice/v1/tokens", None),
            ("audit", "GET", "/api/sluice/v1/audit", None),
            (
                "write secrets",
                "POST",
                "/api/secrets/v1/secret",
                Some(json!({"name": "s", "scope": "keptn-default", "data": {"a": "b"}})),
            ),
            (
                "create project",
                "POST",
                "/api/controlPlane/v1/project",
                Some(json!({"name": "other", "shipyard": testkit::b64(ONE_TASK_SHIPYARD)})),
            ),
            ("metrics", "GET", "/metrics", None),
        ]
    }

    /// role × endpoint group → allowed. `admin` is a project admin of `shop`; every scoped
    /// token is limited to project `shop`.
    const TABLE: &[(&str, &[&str])] = &[
        (
            "viewer",
            &[
                "read project",
                "read events",
                "read resources",
                "read sequences",
                "poll tasks",
                "secret names",
            ],
        ),
        (
            "approver",
            &[
                "read project",
                "read events",
                "read resources",
                "read sequences",
                "poll tasks",
                "secret names",
                "approve",
            ],
        ),
        (
            "operator",
            &[
                "read project",
                "read events",
                "read resources",
                "read sequences",
                "poll tasks",
                "secret names",
                "trigger",
                "trigger evaluation",
                "control",
            ],
        ),
        (
            "integration",
            &[
                "read project",
                "read events",
                "read resources",
                "read sequences",
                "poll tasks",
                "secret names",
                "answer",
                "register",
            ],
        ),
        (
            "admin",
            &[
                "read project",
                "read events",
                "read resources",
                "read sequences",
                "poll tasks",
                "secret names",
                "trigger",
                "trigger evaluation",
                "approve",
                "answer",
                "register",
                "control",
                "configure resources",
                "configure monitoring",
                "tokens",
                "audit",
            ],
        ),
    ];

    #[tokio::test]
    async fn every_role_reaches_exactly_its_endpoint_groups() {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", ONE_TASK_SHIPYARD, &["carts"]).await;
        for (role, allowed) in TABLE {
            let (text, _) = token(&router, role, Some("shop"), &[]).await;
            for (group, method, path, body) in groups() {
                let (status, answer) = call_as(&router, &text, method, path, body).await;
                let want = allowed.contains(&group);
                if want {
                    assert!(
                        status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                        "{role} should reach {group}: {status} {answer}"
                    );
                } else {
                    assert_eq!(
                        status,
                        StatusCode::FORBIDDEN,
                        "{role} must not reach {group}: {answer}"
                    );
                    assert_eq!(answer["code"], 403, "{answer}");
                    assert!(
                        answer["message"].as_str().unwrap().contains(role),
                        "{answer}"
                    );
                }
            }
        }
        // The instance admin (the bootstrap token) reaches everything.
        for (group, method, path, body) in groups() {
            let (status, answer) = call(&router, method, path, body).await;
            assert!(
                status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                "instance admin should reach {group}: {status} {answer}"
            );
        }
    }

    #[tokio::test]
    async fn project_and_stage_limits_apply_to_the_events_project_and_stage() {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", testkit::FULLTOUR, &["carts"]).await;
        testkit::create_project(&app, "other", ONE_TASK_SHIPYARD, &["carts"]).await;
        let (approver, _) = token(&router, "approver", Some("shop"), &["production"]).await;
        let approve = |stage: &str| {
            event(
                "sh.keptn.event.approval.finished",
                stage,
                json!({"result": "pass", "status": "succeeded"}),
            )
        };
        let (status, body) = call_as(
            &router,
            &approver,
            "POST",
            "/api/v1/event",
            Some(approve("production")),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = call_as(
            &router,
            &approver,
            "POST",
            "/api/v1/event",
            Some(approve("qa")),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("stage qa"),
            "{body}"
        );
        // An approver cannot trigger, not even in its stage.
        let trigger = event(
            "sh.keptn.event.production.delivery.triggered",
            "production",
            json!({}),
        );
        let (status, _) = call_as(&router, &approver, "POST", "/api/v1/event", Some(trigger)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // Nor by spelling its attributes otherwise: they are read as the event is, with the
        // same case folding.
        let mut folded = event(
            "sh.keptn.event.production.delivery.triggered",
            "production",
            json!({}),
        );
        let folded_map = folded.as_object_mut().unwrap();
        let kind = folded_map.remove("type").unwrap();
        folded_map.insert("Type".into(), kind);
        let data = folded_map.remove("data").unwrap();
        folded_map.insert("DATA".into(), data);
        let (status, body) =
            call_as(&router, &approver, "POST", "/api/v1/event", Some(folded)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        // Another project is out of reach, and lists show only its own.
        for path in [
            "/api/controlPlane/v1/project/other",
            "/api/mongodb-datastore/event",
        ] {
            let (status, _) = call_as(&router, &approver, "GET", path, None).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        }
        let (_, list) = call_as(
            &router,
            &approver,
            "GET",
            "/api/controlPlane/v1/project",
            None,
        )
        .await;
        let names: Vec<&str> = list["projects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["projectName"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["shop"]);
        // Job logs and evaluations name no project in their path: their project decides.
        let mut other = event("sh.keptn.event.dev.delivery.triggered", "dev", json!({}));
        other["data"]["project"] = json!("other");
        let (status, body) = call(&router, "POST", "/api/v1/event", Some(other)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let logs = format!(
            "/api/sluice/v1/logs?keptnContext={}",
            body["keptnContext"].as_str().unwrap()
        );
        let (status, body) = call_as(&router, &approver, "GET", &logs, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        let (status, _) = call(&router, "GET", &logs, None).await;
        assert_eq!(status, StatusCode::OK);
        // A viewer cannot approve.
        let (viewer, _) = token(&router, "viewer", None, &[]).await;
        let (status, _) = call_as(
            &router,
            &viewer,
            "POST",
            "/api/v1/event",
            Some(approve("production")),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // The session endpoint tells the role and scope.
        let (status, me) = call_as(&router, &approver, "GET", "/api/sluice/v1/session", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(me["role"], "approver");
        assert_eq!(me["project"], "shop");
        assert_eq!(me["rights"], json!(["read", "approve"]));
    }

    #[tokio::test]
    async fn expired_revoked_and_unknown_tokens_are_refused() {
        let (app, router) = testkit::app().await;
        let (text, id) = token(&router, "viewer", None, &[]).await;
        let (status, _) =
            call_as(&router, &text, "GET", "/api/controlPlane/v1/project", None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = call(
            &router,
            "DELETE",
            &format!("/api/sluice/v1/tokens/{id}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) =
            call_as(&router, &text, "GET", "/api/controlPlane/v1/project", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            body["message"].as_str().unwrap().contains("revoked"),
            "{body}"
        );

        // Expired: stored with an expiry in the past.
        let made = scoped::generate().unwrap();
        let past = clock::now().plus(GoDuration::from_nanos(-60_000_000_000));
        let record = TokenRecord {
            id: made.id.clone(),
            name: "old".into(),
            role: "viewer".into(),
            project: None,
            stages: vec![],
            secret_hash: made.hash.clone(),
            created_by: "admin".into(),
            created_at: past,
            expires_at: past,
            revoked_at: None,
        };
        let note = AuditNote {
            action: "token.create".into(),
            ..AuditNote::default()
        };
        app.store
            .create_token(
                &record,
                &audit::entry(
                    &Principal::instance_admin(),
                    ClientAddr(std::net::Ipv4Addr::LOCALHOST.into()),
                    &note,
                ),
            )
            .await
            .unwrap();
        let (status, body) = call_as(
            &router,
            &made.text,
            "GET",
            "/api/controlPlane/v1/project",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            body["message"].as_str().unwrap().contains("expired"),
            "{body}"
        );
        // A right id with a wrong secret is a wrong token.
        let forged = format!("{}{}_{}", scoped::PREFIX, made.id, "0".repeat(64));
        let (status, body) = call_as(
            &router,
            &forged,
            "GET",
            "/api/controlPlane/v1/project",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("missing or invalid"),
            "{body}"
        );
        // Bad requests to create one.
        for bad in [
            json!({"name": "x", "role": "viewer"}),
            json!({"name": "x", "role": "root", "expires": "1d"}),
            json!({"name": "x y", "role": "viewer", "expires": "1d"}),
            json!({"name": "x", "role": "viewer", "expires": "1000d"}),
            json!({"name": "x", "role": "instance-admin", "project": "shop", "expires": "1d"}),
        ] {
            let (status, body) =
                call(&router, "POST", "/api/sluice/v1/tokens", Some(bad.clone())).await;
            assert!(
                status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
                "{bad}: {status} {body}"
            );
        }
        let (_, list) = call(&router, "GET", "/api/sluice/v1/tokens", None).await;
        let states: Vec<(&str, &str)> = list["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["name"].as_str().unwrap(), t["state"].as_str().unwrap()))
            .collect();
        assert!(states.contains(&("old", "expired")), "{states:?}");
        assert!(
            list.to_string().find("slc_").is_none(),
            "the list never shows a token: {list}"
        );
    }

    #[tokio::test]
    async fn the_audit_log_records_each_action_and_cannot_be_changed() {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", ONE_TASK_SHIPYARD, &["carts"]).await;
        let (operator, id) = token(&router, "operator", Some("shop"), &[]).await;
        let (approver, _) = token(&router, "approver", Some("shop"), &[]).await;
        let (admin, _) = token(&router, "admin", Some("shop"), &[]).await;
        let (status, body) = call_as(
            &router,
            &operator,
            "POST",
            "/api/v1/event",
            Some(event(
                "sh.keptn.event.dev.delivery.triggered",
                "dev",
                json!({}),
            )),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let context = body["keptnContext"].as_str().unwrap().to_owned();
        // A retried request (same event id) is recorded once.
        let mut trigger = event("sh.keptn.event.dev.delivery.triggered", "dev", json!({}));
        trigger["id"] = json!("retried-trigger-1");
        trigger["shkeptncontext"] = json!(context);
        for _ in 0..2 {
            let (status, body) = call_as(
                &router,
                &operator,
                "POST",
                "/api/v1/event",
                Some(trigger.clone()),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        for state in ["pause", "resume", "abort"] {
            let (status, body) = call_as(
                &router,
                &operator,
                "POST",
                &format!("/api/controlPlane/v1/sequence/shop/{context}/control"),
                Some(json!({"state": state})),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{state}: {body}");
        }
        for result in ["pass", "fail"] {
            let (status, body) = call_as(
                &router,
                &approver,
                "POST",
                "/api/v1/event",
                Some(event(
                    "sh.keptn.event.approval.finished",
                    "dev",
                    json!({"result": result, "status": "succeeded"}),
                )),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let (status, body) = call_as(
            &router,
            &admin,
            "PUT",
            "/api/resource-service/v1/project/shop/stage/dev/service/carts/resource/notes.txt",
            Some(json!({"resourceContent": testkit::b64("x")})),
        )
        .await;
        assert!(status.is_success(), "{body}");
        let (status, body) = call_as(
            &router,
            &admin,
            "POST",
            "/api/sluice/v1/project/shop/monitoring",
            Some(json!({"type": "prometheus"})),
        )
        .await;
        assert!(status.is_success(), "{body}");
        let (status, _) = call(
            &router,
            "DELETE",
            &format!("/api/sluice/v1/tokens/{id}"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        // A denied request is not an action.
        let (status, _) = call_as(
            &router,
            &approver,
            "POST",
            "/api/v1/event",
            Some(event(
                "sh.keptn.event.dev.delivery.triggered",
                "dev",
                json!({}),
            )),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        let page = app
            .store
            .audit_entries(&AuditQuery::default(), &Paging::first(100))
            .await
            .unwrap();
        let mut seen: Vec<(String, String)> = page
            .items
            .iter()
            .map(|e| (e.action.clone(), e.actor.clone()))
            .collect();
        seen.reverse();
        let actions: Vec<&str> = seen.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(
            actions,
            [
                "token.create",
                "token.create",
                "token.create",
                "trigger",
                "trigger",
                "pause",
                "resume",
                "abort",
                "approve",
                "decline",
                "resource.update",
                "monitoring.update",
                "token.revoke"
            ]
        );
        let trigger = page
            .items
            .iter()
            .rev()
            .find(|e| e.action == "trigger")
            .unwrap();
        assert_eq!(
            (
                trigger.project.as_str(),
                trigger.stage.as_str(),
                trigger.service.as_str()
            ),
            ("shop", "dev", "carts")
        );
        assert_eq!(trigger.keptn_context, context);
        assert!(trigger.actor.starts_with("operator-"), "{trigger:?}");
        // Read through the API, filtered by actor; a project admin reads its project's log.
        let (status, body) = call_as(
            &router,
            &admin,
            "GET",
            &format!("/api/sluice/v1/audit?actor={}", trigger.actor),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body["totalCount"], 5,
            "two triggers (the retry is not one), pause, resume, abort: {body}"
        );
        let (status, _) = call_as(
            &router,
            &admin,
            "GET",
            "/api/sluice/v1/audit?project=other",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // No method changes it.
        for method in ["POST", "PUT", "DELETE"] {
            let (status, _) = call(&router, method, "/api/sluice/v1/audit", Some(json!({}))).await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        }
    }
}
