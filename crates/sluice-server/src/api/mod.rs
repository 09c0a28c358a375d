//! The HTTP API: one router with Keptn's paths, token checking, body limits and Keptn's errors.
//!
//! Each submodule owns a group of Keptn's endpoints and returns its routes; this module joins
//! them behind the token check.

pub mod alerts;
pub mod bridge;
pub mod datastore;
pub mod evaluation;
pub mod events;
pub mod logs;
pub mod monitoring;
pub mod params;
pub mod projects;
pub mod quality;
pub mod resources;
pub mod secrets;
pub mod sequences;
pub mod stream;
#[cfg(test)]
pub(crate) mod testkit;
pub mod triggered;
pub mod uniform;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;

use crate::error::ApiError;
use crate::state::App;

/// Largest accepted request body (Keptn's gateway allowed 5 MB).
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// Builds the whole API for one server.
pub fn router(app: Arc<App>) -> Router {
    let protected = Router::new()
        .route("/api/v1/auth", post(auth))
        .route("/api/v1/metadata", get(metadata))
        .route("/metrics", get(metrics))
        .merge(events::routes())
        .merge(stream::routes())
        .merge(projects::routes())
        .merge(resources::routes())
        .merge(datastore::routes())
        .merge(sequences::routes())
        .merge(triggered::routes())
        .merge(evaluation::routes())
        .merge(uniform::routes())
        .merge(logs::routes())
        .merge(monitoring::routes())
        .merge(secrets::routes())
        .merge(alerts::routes())
        .merge(quality::routes())
        .route_layer(middleware::from_fn_with_state(app.clone(), require_token));
    Router::new()
        .route("/health", get(health))
        .route("/api/health", get(health))
        .merge(protected)
        .merge(bridge::routes())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), count_errors))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .with_state(app)
}

/// The token presented by a request: `x-token`, or `Authorization: Bearer`.
fn presented_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("x-token").and_then(|v| v.to_str().ok()) {
        return Some(v.trim());
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The address of the client that sent a request (the unspecified address when the server
/// was not told, as in tests that call the router directly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    fn of(extensions: &axum::http::Extensions) -> ClientAddr {
        ClientAddr(
            extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
        )
    }
}

impl<S: Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr::of(&parts.extensions))
    }
}

/// Checks a presented API token under the login backoff: a client that presented too many
/// wrong tokens gets 429 (whatever it presents now) until its wait is over; a wrong token
/// gets `wrong` and lengthens the wait, a right one resets it.
pub(crate) fn check_token(
    app: &App,
    client: ClientAddr,
    presented: &str,
    now: Instant,
    wrong: impl FnOnce() -> ApiError,
) -> Result<(), ApiError> {
    app.login_backoff
        .check(client.0, now)
        .map_err(ApiError::too_many_failed_logins)?;
    if app.token.matches(presented) {
        app.login_backoff.succeeded(client.0);
        Ok(())
    } else {
        app.login_backoff.failed(client.0, now);
        Err(wrong())
    }
}

async fn require_token(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let client = ClientAddr::of(request.extensions());
    match authenticate(
        &app,
        client,
        request.headers(),
        request.method(),
        Instant::now(),
    ) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    }
}

/// The API token in a header, or else a web UI session cookie; a change (any method but GET
/// and HEAD) made with a session must come from the server's own pages: no foreign `Origin`,
/// and the session's CSRF token in [`bridge::CSRF_HEADER`].
fn authenticate(
    app: &App,
    client: ClientAddr,
    headers: &HeaderMap,
    method: &Method,
    now: Instant,
) -> Result<(), ApiError> {
    if let Some(token) = presented_token(headers) {
        return check_token(app, client, token, now, ApiError::unauthorized);
    }
    let Some(id) = bridge::session_cookie(headers) else {
        return Err(ApiError::unauthorized());
    };
    let Some(session) = app.sessions.get(id, now) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the web UI session has expired or is unknown: log in again",
        ));
    };
    if method == Method::GET || method == Method::HEAD {
        return Ok(());
    }
    bridge::check_same_origin(headers)?;
    bridge::check_csrf(headers, &session)
}

async fn count_errors(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status().is_client_error() || response.status().is_server_error() {
        app.metrics.http_error(response.status().as_u16());
    }
    response
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "OK"}))
}

/// `POST /api/v1/auth`: 200 when the token is right (the middleware answers 401 otherwise).
async fn auth() -> Json<serde_json::Value> {
    Json(json!({"message": "authenticated"}))
}

/// `GET /api/v1/metadata`, in Keptn's shape.
async fn metadata() -> Json<serde_json::Value> {
    Json(json!({
        "namespace": "sluice",
        "keptnlabel": "keptn",
        "keptnversion": format!("sluice-{}", env!("CARGO_PKG_VERSION")),
        "bridgeversion": "",
        "shipyardversion": "0.2.0",
        "keptnservices": {},
        "automaticprovisioning": false,
    }))
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let text = app.metrics.render(&app.sequence_counts().await);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn not_found(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no such API path: {} {}",
            request.method(),
            request.uri().path()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ApiToken;
    use axum::body::Body;
    use tower::ServiceExt;

    const TOKEN: &str = "test-token-0123456789";

    async fn app() -> Router {
        let dir = std::env::temp_dir().join(format!(
            "sluice-api-{}-{}",
            std::process::id(),
            crate::ids::fresh()
        ));
        router(Arc::new(
            crate::open(&dir, ApiToken::from_value(TOKEN))
                .await
                .unwrap(),
        ))
    }

    async fn call(router: Router, request: axum::http::Request<Body>) -> (StatusCode, String) {
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    fn req(method: &str, uri: &str, token: Option<&str>) -> axum::http::Request<Body> {
        let mut b = axum::http::Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            b = b.header("x-token", t);
        }
        b.body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn health_needs_no_token() {
        let (status, body) = call(app().await, req("GET", "/health", None)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, r#"{"status":"OK"}"#);
    }

    #[tokio::test]
    async fn everything_else_needs_the_token() {
        let (status, body) = call(app().await, req("POST", "/api/v1/auth", None)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.contains("\"code\":401"), "{body}");
        let (status, _) = call(
            app().await,
            req("POST", "/api/v1/auth", Some("wrong-token-000000000")),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = call(app().await, req("POST", "/api/v1/auth", Some(TOKEN))).await;
        assert_eq!(status, StatusCode::OK);
        let bearer = axum::http::Request::builder()
            .method("GET")
            .uri("/metrics")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap();
        let (status, body) = call(app().await, bearer).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("sluice_build_info"), "{body}");
    }

    #[tokio::test]
    async fn unknown_paths_get_keptns_error_shape() {
        let (status, body) = call(app().await, req("GET", "/api/nope", Some(TOKEN))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body,
            r#"{"code":404,"message":"no such API path: GET /api/nope"}"#
        );
    }
}
