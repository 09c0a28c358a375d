//! Keptn's secret-service API (`/api/secrets/v1/secret`): named key/value secrets for the job
//! executor's `valueFrom: secret` variables. Values can be written and deleted, never read back.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::extract::Query;
use crate::error::ApiError;
use crate::state::App;

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new().route(
        "/api/secrets/v1/secret",
        get(list).post(create).put(create).delete(remove),
    )
}

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

async fn create(
    State(app): State<Arc<App>>,
    Json(body): Json<SecretBody>,
) -> Result<Json<Value>, ApiError> {
    check_name(&body.name)?;
    if body.data.is_empty() {
        return Err(ApiError::bad_request(
            "a secret needs at least one key in `data`",
        ));
    }
    for key in body.data.keys() {
        let valid = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid {
            return Err(ApiError::bad_request(format!(
                "invalid key `{key}` in secret `{}`: use letters, digits, `-`, `_` and `.`",
                body.name
            )));
        }
    }
    app.store
        .set_secret(&body.name, &body.data)
        .await
        .map_err(|e| ApiError::internal("cannot store the secret", &e))?;
    Ok(Json(
        json!({"name": body.name, "scope": body.scope.unwrap_or_else(|| "keptn-default".to_owned())}),
    ))
}

async fn list(State(app): State<Arc<App>>) -> Result<Json<Value>, ApiError> {
    let mut secrets = Vec::new();
    for name in app
        .store
        .secret_names()
        .await
        .map_err(|e| ApiError::internal("cannot list secrets", &e))?
    {
        let keys: Vec<String> = app
            .store
            .secret(&name)
            .await
            .map(|m| m.into_keys().collect())
            .unwrap_or_default();
        secrets.push(json!({"name": name, "scope": "keptn-default", "keys": keys}));
    }
    Ok(Json(json!({"Secrets": secrets})))
}

#[derive(Debug, Deserialize)]
struct DeleteQuery {
    name: String,
}

async fn remove(
    State(app): State<Arc<App>>,
    Query(q): Query<DeleteQuery>,
) -> Result<Json<Value>, ApiError> {
    match app.store.delete_secret(&q.name).await {
        Ok(()) => Ok(Json(json!({}))),
        Err(sluice_store::Error::NotFound { .. }) => {
            Err(ApiError::not_found(format!("secret not found: {}", q.name)))
        }
        Err(e) => Err(ApiError::internal("cannot delete the secret", &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn secret_names_follow_kubernetes() {
        assert!(check_name("locust-credentials").is_ok());
        assert!(check_name("a.b-1").is_ok());
        assert!(check_name("Bad").is_err());
        assert!(check_name("-x").is_err());
        assert!(check_name("").is_err());
    }
}
