//! Keptn's secret-service API (`/api/secrets/v1/secret`): named key/value secrets for the job
//! executor's `valueFrom: secret` variables, and `/api/secrets/v1/scope`. Values can be written
//! and deleted, never read back.
//!
//! As in Keptn, `POST` creates (409 when the name is taken) and `PUT` replaces (404 when there is
//! no such secret), with Keptn's messages. Names are one namespace, as Keptn's Kubernetes
//! secrets were; the scope must be one of Keptn's ([`SCOPES`]) but is not kept: every secret is
//! listed in `keptn-default`, the scope sluice's job executor reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::extract::{Json, Query};
use crate::error::ApiError;
use crate::state::App;

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/api/secrets/v1/secret",
            get(list).post(create).put(update).delete(remove),
        )
        .route("/api/secrets/v1/scope", get(scopes))
}

/// The scopes of Keptn's secret service as installed by its Helm chart (`scopes.yaml`), sorted
/// as `GET /scope` lists them.
pub const SCOPES: [&str; 4] = [
    "dynatrace-service",
    "keptn-default",
    "keptn-prometheus-service",
    "keptn-webhook-service",
];

/// The scope of a secret that names none.
pub const DEFAULT_SCOPE: &str = "keptn-default";

/// A secret as Keptn's CLI sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretBody {
    name: String,
    #[serde(default)]
    scope: Option<String>,
    data: BTreeMap<String, String>,
}

/// Kubernetes' secret-name rule (what Keptn enforced), so configs stay portable.
fn check_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "invalid secret name `{name}`: use lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit"
        )))
    }
}

/// The secret's scope (Keptn's default when absent or empty), which must be one of
/// [`SCOPES`]; `action` starts Keptn's message ("Unable to create secret").
fn check_scope(scope: Option<&str>, name: &str, action: &str) -> Result<String, ApiError> {
    let scope = scope.filter(|s| !s.is_empty()).unwrap_or(DEFAULT_SCOPE);
    if SCOPES.contains(&scope) {
        Ok(scope.to_owned())
    } else {
        Err(ApiError::bad_request(format!(
            "{action}: unable to check defined scope {scope} for secret {name}: scope not found (known scopes: {})",
            SCOPES.join(", ")
        )))
    }
}

/// Checks a secret's name, scope and keys; answers its scope.
fn check_secret(body: &SecretBody, action: &str) -> Result<String, ApiError> {
    check_name(&body.name)?;
    let scope = check_scope(body.scope.as_deref(), &body.name, action)?;
    if body.data.is_empty() {
        return Err(ApiError::bad_request(
            "a secret needs at least one key in `data`",
        ));
    }
    for key in body.data.keys() {
        let valid = !key.is_empty()
            && key.len() <= 253
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid {
            return Err(ApiError::bad_request(format!(
                "invalid key `{key}` in secret `{}`: use up to 253 letters, digits, `-`, `_` and `.`",
                body.name
            )));
        }
    }
    Ok(scope)
}

/// `POST /secret`: creates a secret → 201; 409 when the name is taken (as Keptn).
async fn create(
    State(app): State<Arc<App>>,
    Json(body): Json<SecretBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    const ACTION: &str = "Unable to create secret";
    let scope = check_secret(&body, ACTION)?;
    match app.store.create_secret(&body.name, &body.data).await {
        Ok(()) => Ok((
            StatusCode::CREATED,
            Json(json!({"name": body.name, "scope": scope})),
        )),
        Err(sluice_store::Error::AlreadyExists { .. }) => Err(ApiError::conflict(format!(
            "{ACTION}: secret already exists"
        ))),
        Err(e) => Err(ApiError::internal("cannot store the secret", &e)),
    }
}

/// `PUT /secret`: replaces the data of an existing secret → 200; 404 when there is none (as
/// Keptn).
async fn update(
    State(app): State<Arc<App>>,
    Json(body): Json<SecretBody>,
) -> Result<Json<Value>, ApiError> {
    const ACTION: &str = "Unable to update secret";
    let scope = check_secret(&body, ACTION)?;
    match app.store.update_secret(&body.name, &body.data).await {
        Ok(()) => Ok(Json(json!({"name": body.name, "scope": scope}))),
        Err(sluice_store::Error::NotFound { .. }) => {
            Err(ApiError::not_found(format!("{ACTION}: secret not found")))
        }
        Err(e) => Err(ApiError::internal("cannot store the secret", &e)),
    }
}

/// The optional filters of `GET /secret`.
#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

/// `GET /secret?name&scope`: names and keys, never values.
async fn list(
    State(app): State<Arc<App>>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let name = q.name.filter(|n| !n.is_empty());
    let scope = q.scope.filter(|s| !s.is_empty());
    let mut secrets = Vec::new();
    if scope.as_deref().is_none_or(|s| s == DEFAULT_SCOPE) {
        for stored in app
            .store
            .secret_names()
            .await
            .map_err(|e| ApiError::internal("cannot list secrets", &e))?
        {
            if name.as_deref().is_some_and(|n| n != stored) {
                continue;
            }
            let keys: Vec<String> = match app.store.secret(&stored).await {
                Ok(data) => data.into_keys().collect(),
                // Deleted since the names were read.
                Err(sluice_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            secrets.push(json!({"name": stored, "scope": DEFAULT_SCOPE, "keys": keys}));
        }
    }
    Ok(Json(json!({"Secrets": secrets})))
}

/// `GET /scope`: the scopes a secret can have.
async fn scopes() -> Json<Value> {
    Json(json!({"scopes": SCOPES}))
}

#[derive(Debug, Deserialize)]
struct DeleteQuery {
    name: String,
    #[serde(default)]
    scope: Option<String>,
}

/// `DELETE /secret?name&scope`.
async fn remove(
    State(app): State<Arc<App>>,
    Query(q): Query<DeleteQuery>,
) -> Result<Json<Value>, ApiError> {
    const ACTION: &str = "Unable to delete secret";
    let scope = check_scope(q.scope.as_deref(), &q.name, ACTION)?;
    match app.store.delete_secret(&q.name).await {
        Ok(()) => Ok(Json(json!({}))),
        Err(sluice_store::Error::NotFound { .. }) => Err(ApiError::not_found(format!(
            "{ACTION}: could not delete secret {} in scope {scope}: secret not found",
            q.name
        ))),
        Err(e) => Err(ApiError::internal("cannot delete the secret", &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testkit::{self, call};

    const SECRET: &str = "/api/secrets/v1/secret";

    #[tokio::test]
    async fn secret_post_of_an_existing_name_conflicts_and_put_of_a_missing_one_is_not_found() {
        let (app, router) = testkit::app().await;
        let v1 = json!({"name": "creds", "data": {"token": "one"}});
        let v2 = json!({"name": "creds", "scope": "keptn-default", "data": {"token": "two"}});

        let (status, body) = call(&router, "PUT", SECRET, Some(v2.clone())).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(
            body,
            json!({"code": 404, "message": "Unable to update secret: secret not found"})
        );
        assert!(
            app.store.secret_names().await.unwrap().is_empty(),
            "PUT created nothing"
        );

        let (status, body) = call(&router, "POST", SECRET, Some(v1.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body, json!({"name": "creds", "scope": "keptn-default"}));

        let (status, body) = call(&router, "POST", SECRET, Some(v2.clone())).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(
            body,
            json!({"code": 409, "message": "Unable to create secret: secret already exists"})
        );
        assert_eq!(
            app.store.secret("creds").await.unwrap()["token"],
            "one",
            "not overwritten"
        );

        let (status, body) = call(&router, "PUT", SECRET, Some(v2)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(app.store.secret("creds").await.unwrap()["token"], "two");

        let (status, body) = call(
            &router,
            "POST",
            SECRET,
            Some(json!({"name": "other", "scope": "nowhere", "data": {"k": "v"}})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["message"].as_str().unwrap().ends_with(
            "scope not found (known scopes: dynatrace-service, keptn-default, keptn-prometheus-service, keptn-webhook-service)"
        ));

        let (status, body) = call(&router, "GET", &format!("{SECRET}?name=creds"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"Secrets": [{"name": "creds", "scope": "keptn-default", "keys": ["token"]}]})
        );
        let (_, body) = call(&router, "GET", &format!("{SECRET}?name=nope"), None).await;
        assert_eq!(body, json!({"Secrets": []}));

        let (status, _) = call(
            &router,
            "DELETE",
            &format!("{SECRET}?name=creds&scope=keptn-default"),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = call(&router, "DELETE", &format!("{SECRET}?name=creds"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body["message"],
            "Unable to delete secret: could not delete secret creds in scope keptn-default: secret not found"
        );
    }

    #[tokio::test]
    async fn secret_scope_list_is_keptns() {
        let (_app, router) = testkit::app().await;
        let (status, body) = call(&router, "GET", "/api/secrets/v1/scope", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"scopes": ["dynatrace-service", "keptn-default", "keptn-prometheus-service", "keptn-webhook-service"]})
        );
    }

    #[test]
    fn secret_names_follow_kubernetes() {
        assert!(check_name("locust-credentials").is_ok());
        assert!(check_name("a.b-1").is_ok());
        assert!(check_name("Bad").is_err());
        assert!(check_name("-x").is_err());
        assert!(check_name("").is_err());
    }
}
