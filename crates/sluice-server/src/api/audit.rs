//! The audit log: who changed what, where, when and from which address.
//!
//! After a successful change (any method but GET and HEAD) the token check in `api/mod.rs`
//! calls [`after`], which appends one entry: the handler's [`AuditNote`] when it left one in
//! the answer (events, sequence control, projects), else one derived from the path
//! ([`derived`]). Store writes that can carry their entry in their own transaction (token
//! create and revoke) write it there and leave a note with `written` set. So do events: the
//! entry goes to the engine with the event and is written in the commit that stores it (not
//! for a duplicate delivery), so an accepted trigger or approval always has its entry and
//! costs no write transaction of its own. Sequence control is recorded right after the
//! commit that made it durable. Integration traffic (task `.started`/`.finished`,
//! registrations, pings, logs) is not recorded.
//!
//! `GET /api/sluice/v1/audit` (also `/api/v1/audit`) reads the log, newest first, paged, with
//! `project`, `actor` and `action` filters; a token limited to a project reads only that
//! project's entries. Nothing in the API changes or deletes an entry.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::Method;
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{Value, json};
use sluice_store::{AuditEntry, AuditQuery};

use crate::access::rbac::Principal;
use crate::api::ClientAddr;
use crate::api::extract::{Json, Query};
use crate::api::params::Params;
use crate::error::ApiError;
use crate::runtime::clock;
use crate::state::App;

/// What a handler says about the change it made (a response extension).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditNote {
    /// The action (`trigger`, `approve`, `decline`, `pause`, ...); empty: nothing to record.
    pub action: String,
    /// The project.
    pub project: String,
    /// The stage.
    pub stage: String,
    /// The service.
    pub service: String,
    /// The Keptn context.
    pub keptn_context: String,
    /// More about it.
    pub detail: String,
    /// The handler wrote the entry itself (in its own transaction).
    pub written: bool,
}

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/sluice/v1/audit", get(list))
        .route("/api/v1/audit", get(list))
}

/// The entry a principal's change makes, at the current time.
pub fn entry(principal: &Principal, client: ClientAddr, note: &AuditNote) -> AuditEntry {
    AuditEntry {
        seq: 0,
        at: clock::now(),
        actor: principal.name.clone(),
        action: note.action.clone(),
        project: note.project.clone(),
        stage: note.stage.clone(),
        service: note.service.clone(),
        keptn_context: note.keptn_context.clone(),
        detail: note.detail.clone(),
        client: client.0.to_string(),
    }
}

/// Records a successful change (see the module docs). A failure to write is logged: the
/// change itself is already done.
pub async fn after(
    app: &App,
    principal: &Principal,
    client: ClientAddr,
    method: &Method,
    path: &str,
    note: Option<AuditNote>,
) {
    let note = match note {
        Some(note) if note.written || note.action.is_empty() => return,
        Some(note) => note,
        None => match derived(method, path) {
            Some(note) => note,
            None => return,
        },
    };
    if let Err(e) = app
        .store
        .append_audit(&entry(principal, client, &note))
        .await
    {
        tracing::error!(error = %e, action = %note.action, "cannot write the audit log");
    }
}

/// The entry of a change whose handler left no note, from its method and path; `None` for
/// what is not recorded.
pub fn derived(method: &Method, path: &str) -> Option<AuditNote> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let verb = match *method {
        Method::POST => "create",
        Method::PUT => "update",
        Method::DELETE => "delete",
        _ => return None,
    };
    let after = |name: &str| {
        segments
            .iter()
            .position(|s| *s == name)
            .and_then(|i| segments.get(i + 1))
            .map(|s| (*s).to_owned())
            .unwrap_or_default()
    };
    let mut note = AuditNote {
        project: after("project"),
        stage: after("stage"),
        service: after("service"),
        ..AuditNote::default()
    };
    match segments.as_slice() {
        ["api", "resource-service", "v1", "project", ..] => {
            note.action = format!("resource.{verb}");
            note.detail = path
                .split_once("/resource/")
                .map(|(_, uri)| uri.to_owned())
                .unwrap_or_default();
        }
        ["api", "controlPlane", "v1", "project", _, "service", ..] => {
            note.action = format!("service.{verb}");
        }
        ["api", "controlPlane", "v1", "project", _] => note.action = format!("project.{verb}"),
        ["api", "controlPlane", "v1", "project", .., "evaluation"] => {
            note.action = "evaluation.trigger".into();
        }
        ["api", "sluice", "v1", "project", _, "monitoring"] => {
            note.action = "monitoring.update".into();
        }
        ["api", "secrets", "v1", "secret"] => note.action = format!("secret.{verb}"),
        ["api", "sluice", "v1", "evaluation", id, "invalidate"] => {
            note.action = "evaluation.invalidate".into();
            note.detail = (*id).to_owned();
        }
        ["api", "sluice", "v1", "alerts"] => note.action = "alert".into(),
        _ => return None,
    }
    Some(note)
}

async fn list(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let params = Params::from(query);
    let param = |k: &str| params.text(k);
    let mut filter = AuditQuery {
        project: param("project"),
        actor: param("actor"),
        action: param("action"),
    };
    if let Some(own) = &principal.project {
        match &filter.project {
            Some(p) if p != own => {
                return Err(crate::access::rbac::Denied(format!(
                    "token {:?} is limited to project {own} and may not read the audit log of project {p}",
                    principal.name
                ))
                .into());
            }
            _ => filter.project = Some(own.clone()),
        }
    }
    let page = app.store.audit_entries(&filter, &params.paging()?).await?;
    let entries: Vec<Value> = page
        .items
        .iter()
        .map(|e| {
            json!({
                "time": e.at.to_rfc3339_nano(),
                "actor": e.actor,
                "action": e.action,
                "project": e.project,
                "stage": e.stage,
                "service": e.service,
                "keptnContext": e.keptn_context,
                "detail": e.detail,
                "client": e.client,
            })
        })
        .collect();
    let mut body = json!({
        "entries": entries,
        "pageSize": page.page_size,
        "totalCount": page.total_count,
    });
    if let Some(next) = page.next_page_key {
        body["nextPageKey"] = json!(next);
    }
    Ok(Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_named_from_their_paths() {
        let n = derived(
            &Method::PUT,
            "/api/resource-service/v1/project/shop/stage/qa/service/carts/resource/slo.yaml",
        )
        .unwrap();
        assert_eq!(
            (n.action.as_str(), n.project.as_str(), n.stage.as_str()),
            ("resource.update", "shop", "qa")
        );
        assert_eq!(
            (n.service.as_str(), n.detail.as_str()),
            ("carts", "slo.yaml")
        );
        let n = derived(&Method::DELETE, "/api/controlPlane/v1/project/shop").unwrap();
        assert_eq!(n.action, "project.delete");
        let n = derived(&Method::POST, "/api/controlPlane/v1/project/shop/service").unwrap();
        assert_eq!(n.action, "service.create");
        assert_eq!(
            derived(
                &Method::PUT,
                "/api/controlPlane/v1/uniform/registration/x/ping"
            ),
            None
        );
    }
}
