//! `/api/sluice/v1/project/{project}/monitoring`: a project's SLI provider (sluice's
//! replacement for `keptn configure monitoring` plus the `prometheus-credentials-<project>`
//! secret).
//!
//! `POST` body `{type, endpoint?, user?, password?}` replaces the configuration; the password
//! goes to the secret store only. `GET` returns the configuration without the password.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;
use serde_json::Value;

use crate::api::extract::{Json, Path};
use crate::error::ApiError;
use crate::services::monitoring::{self, MonitoringConfig};
use crate::state::App;

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new().route(
        "/api/sluice/v1/project/{project}/monitoring",
        get(get_monitoring).post(set_monitoring),
    )
}

/// The body of `POST`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MonitoringParams {
    #[serde(rename = "type")]
    provider: String,
    #[serde(default)]
    endpoint: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

fn non_empty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

async fn set_monitoring(
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Json(params): Json<MonitoringParams>,
) -> Result<Json<Value>, ApiError> {
    app.store.project(&project).await?;
    let provider = params.provider.trim().to_owned();
    if provider.is_empty()
        || provider
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ApiError::bad_request(
            "type must name the SLI provider (prometheus, loadtest, or an external provider such as dynatrace)",
        ));
    }
    let endpoint = non_empty(params.endpoint);
    if let Some(e) = &endpoint
        && reqwest::Url::parse(&monitoring_base(e)).is_err()
    {
        return Err(ApiError::bad_request(format!(
            "endpoint `{e}` is not a URL (e.g. http://prometheus:9090)"
        )));
    }
    let user = non_empty(params.user);
    let password = params.password.filter(|p| !p.is_empty());
    if password.is_some() && user.is_none() {
        return Err(ApiError::bad_request(
            "a password needs a user (basic authentication)",
        ));
    }
    let password_secret = match &password {
        Some(p) => Some(
            monitoring::save_password(
                &app.store,
                &project,
                endpoint.as_deref(),
                user.as_deref(),
                p,
            )
            .await?,
        ),
        None => {
            // Replacing the configuration without a password drops the old one.
            match app
                .store
                .delete_secret(&monitoring::secret_name(&project))
                .await
            {
                Ok(()) | Err(sluice_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            None
        }
    };
    let config = MonitoringConfig {
        provider,
        endpoint,
        user,
        password_secret,
    };
    monitoring::save(&app.store, &project, &config).await?;
    Ok(Json(shown(&config)))
}

async fn get_monitoring(
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.store.project(&project).await?;
    match monitoring::load(&app.store, &project).await? {
        Some(config) => Ok(Json(shown(&config))),
        None => Err(ApiError::not_found(format!(
            "no SLI provider configured for project {project}"
        ))),
    }
}

/// The configuration as answered: the secret's name, never its value.
fn shown(config: &MonitoringConfig) -> Value {
    serde_json::to_value(config).unwrap_or(Value::Null)
}

fn monitoring_base(endpoint: &str) -> String {
    crate::services::prometheus::base_url(endpoint)
}

#[cfg(test)]
mod tests {
    use crate::api::testkit::TestServer;
    use axum::http::StatusCode;
    use serde_json::json;

    #[tokio::test]
    async fn configure_read_and_keep_the_password_secret() {
        let server = TestServer::new().await;
        let app = &server.app;
        let uri = "/api/sluice/v1/project/shop/monitoring";
        let (status, _) = server.call("GET", uri, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        crate::services::evaluation::tests::create_project(app, "shop", &["dev"], &["carts"]).await;
        let (status, body) = server.call("GET", uri, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

        let (status, body) = server.call(
            "POST",
            uri,
            Some(json!({"type": "prometheus", "endpoint": "http://prom:9090", "user": "u", "password": "s3cret"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(!body.to_string().contains("s3cret"), "{body}");
        let (status, body) = server.call("GET", uri, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            json!({"type": "prometheus", "endpoint": "http://prom:9090", "user": "u", "password-secret": "prometheus-credentials-shop"})
        );
        let secret = app
            .store
            .secret("prometheus-credentials-shop")
            .await
            .unwrap();
        assert_eq!(
            secret.get("PROMETHEUS_PASSWORD").map(String::as_str),
            Some("s3cret")
        );

        // Replaced without a password: the secret goes.
        let (status, body) = server
            .call("POST", uri, Some(json!({"type": "loadtest"})))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({"type": "loadtest"}));
        assert!(
            app.store
                .secret("prometheus-credentials-shop")
                .await
                .is_err()
        );

        for bad in [
            json!({"type": ""}),
            json!({"type": "prometheus", "password": "x"}),
            json!({"type": "prometheus", "endpoint": "http://a b:c:d"}),
            json!({"type": "prometheus", "typo": 1}),
        ] {
            let (status, body) = server.call("POST", uri, Some(bad.clone())).await;
            assert!(status.is_client_error(), "{bad} -> {status} {body}");
        }
        let (status, _) = server
            .call(
                "POST",
                "/api/sluice/v1/project/nope/monitoring",
                Some(json!({"type": "prometheus"})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
