//! The HTTP API: one router with Keptn's paths, token checking, authorization by role, the
//! audit log, body limits and Keptn's errors.
//!
//! Each submodule owns a group of Keptn's endpoints and returns its routes; this module joins
//! them behind the token check, which also authorizes each request by the route table of
//! `access::rbac` and records successful changes in the audit log (`audit.rs`).

pub mod alerts;
pub mod audit;
pub mod baselines;
pub mod bridge;
pub mod datastore;
pub mod evaluation;
pub mod events;
pub mod extract;
pub mod history;
pub mod logs;
pub mod monitoring;
pub mod notifications;
pub mod params;
pub mod projects;
pub mod quality;
pub mod replica;
pub mod resources;
pub mod secrets;
pub mod sequences;
pub mod stream;
#[cfg(test)]
pub(crate) mod testkit;
pub mod tokens;
pub mod triggered;
pub mod uniform;
pub mod upstream;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;

use crate::access::rbac::{self, Principal, Role};
use crate::access::tokens as scoped;
use crate::api::extract::Json;
use crate::error::ApiError;
use crate::state::App;

/// Largest accepted request body (Keptn's gateway allowed 5 MB).
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

/// Builds the whole API for one server.
pub fn router(app: Arc<App>) -> Router {
    let protected = Router::new()
        .route("/api/v1/auth", post(auth))
        .route("/api/v1/metadata", get(metadata))
        .route("/api/v1/import", post(import))
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
        .merge(baselines::routes())
        .merge(history::routes())
        .merge(audit::routes())
        .merge(tokens::routes())
        .merge(notifications::routes())
        .route_layer(middleware::from_fn_with_state(app.clone(), require_token));
    Router::new()
        .route("/health", get(health))
        .route("/api/health", get(health))
        .route("/api/mongodb-datastore/health", get(health))
        .merge(protected)
        .merge(bridge::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            keptn_error_shape,
        ))
        .with_state(app)
}

/// The token presented by a request: `x-token`, or `Authorization: Bearer`.
pub(crate) fn presented_token(headers: &HeaderMap) -> Option<&str> {
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

/// Checks a presented token under the login backoff: a client that presented too many wrong
/// tokens gets 429 (whatever it presents now) until its wait is over; a wrong token gets
/// `wrong` and lengthens the wait, a right one resets it. The bootstrap token is the instance
/// admin; a scoped token (`slc_…`) is looked up by its id and its secret's hash compared in
/// constant time; a revoked or expired one is refused with 401 (without lengthening the wait:
/// it is not a guess).
pub(crate) async fn check_token(
    app: &App,
    client: ClientAddr,
    presented: &str,
    now: Instant,
    wrong: impl FnOnce() -> ApiError,
) -> Result<Principal, ApiError> {
    app.login_backoff
        .check(client.0, now)
        .map_err(ApiError::too_many_failed_logins)?;
    if app.token.matches(presented) {
        app.login_backoff.succeeded(client.0);
        return Ok(Principal::instance_admin());
    }
    if let Some((id, secret)) = scoped::parse(presented) {
        let stored = Box::pin(app.store.token(id))
            .await
            .map_err(|e| ApiError::internal("cannot read the token", &e))?;
        if let Some(record) = stored
            && crate::access::auth::constant_time_eq(&record.secret_hash, &scoped::hash(secret))
        {
            app.login_backoff.succeeded(client.0);
            return principal_of(&record);
        }
    }
    app.login_backoff.failed(client.0, now);
    Err(wrong())
}

/// The principal of a stored token that is still valid now.
fn principal_of(record: &sluice_store::TokenRecord) -> Result<Principal, ApiError> {
    if record.revoked_at.is_some() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!("the token {:?} was revoked", record.name),
        ));
    }
    if record.expires_at <= crate::runtime::clock::now() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "the token {:?} expired at {}",
                record.name,
                record.expires_at.to_rfc3339_nano()
            ),
        ));
    }
    let role = Role::parse(&record.role).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "the token {:?} has the unknown role {:?}",
                record.name, record.role
            ),
        )
    })?;
    Ok(Principal {
        name: record.name.clone(),
        token_id: Some(record.id.clone()),
        role,
        project: record.project.clone(),
        stages: record.stages.clone(),
    })
}

/// The project of an event (`data.project`), `''` when it has none.
pub(crate) fn project_of(event: &sluice_model::event::KeptnEvent) -> &str {
    event
        .data
        .as_ref()
        .and_then(|d| d.get("project"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
}

/// For routes that name no project (an evaluation by id, job logs by context): whether the
/// principal may do `action` on what the request reached, by the event's project and stage.
pub(crate) fn authorize_event(
    principal: &Principal,
    action: rbac::Action,
    event: &sluice_model::event::KeptnEvent,
) -> Result<(), ApiError> {
    let project = project_of(event);
    let stage = event
        .data
        .as_ref()
        .and_then(|d| d.get("stage"))
        .and_then(serde_json::Value::as_str);
    let target = if project.is_empty() {
        rbac::Target::AllProjects
    } else {
        rbac::Target::project(project, stage)
    };
    rbac::authorize(principal, action, &target).map_err(ApiError::from)
}

/// The session's principal as it is now: a scoped token is looked up again (revoked or
/// expired ends the session's rights).
pub(crate) async fn refresh(app: &App, principal: &Principal) -> Result<Principal, ApiError> {
    let Some(id) = &principal.token_id else {
        return Ok(principal.clone());
    };
    match app
        .store
        .token(id)
        .await
        .map_err(|e| ApiError::internal("cannot read the token", &e))?
    {
        Some(record) => principal_of(&record),
        None => Err(ApiError::unauthorized()),
    }
}

/// Authenticates, authorizes by the route table ([`rbac::classify`]), hands the principal to
/// the handler (an extension), and after a successful change appends it to the audit log.
async fn require_token(State(app): State<Arc<App>>, mut request: Request, next: Next) -> Response {
    let client = ClientAddr::of(request.extensions());
    let principal = match authenticate(
        &app,
        client,
        request.headers(),
        request.method(),
        Instant::now(),
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    // Shared, not copied: the URI's parts are reference-counted.
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let path = uri.path();
    let query: Vec<(String, String)> =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
            .map(|q| q.0)
            .unwrap_or_default();
    let need = rbac::classify(method.as_str(), path, &query);
    let allowed = match &need {
        rbac::Need::Check(action, target) => rbac::authorize(&principal, *action, target),
        rbac::Need::InHandler(Some(project)) if !principal.sees_project(project) => {
            Err(rbac::Denied(format!(
                "token {:?} is limited to project {} and may not act on project {project}",
                principal.name,
                principal.project.as_deref().unwrap_or_default()
            )))
        }
        rbac::Need::InHandler(_) => Ok(()),
    };
    if let Err(denied) = allowed {
        return ApiError::from(denied).into_response();
    }
    request.extensions_mut().insert(principal.clone());
    let mut response = next.run(request).await;
    if response.status().is_success() && method != Method::GET && method != Method::HEAD {
        // Taken, not copied: nothing after this layer reads it.
        let note = response.extensions_mut().remove::<audit::AuditNote>();
        // Boxed: a large future that most requests never run; inline it would be copied
        // with every request's future.
        Box::pin(audit::after(&app, &principal, client, &method, path, note)).await;
    }
    response
}

/// The API token in a header, or else a web UI session cookie; a change (any method but GET
/// and HEAD) made with a session must come from the server's own pages: no foreign `Origin`,
/// and the session's CSRF token in [`bridge::CSRF_HEADER`].
async fn authenticate(
    app: &App,
    client: ClientAddr,
    headers: &HeaderMap,
    method: &Method,
    now: Instant,
) -> Result<Principal, ApiError> {
    if let Some(token) = presented_token(headers) {
        return check_token(app, client, token, now, ApiError::unauthorized).await;
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
    let principal = refresh(app, &session.principal).await?;
    if method == Method::GET || method == Method::HEAD {
        return Ok(principal);
    }
    bridge::check_same_origin(headers)?;
    bridge::check_csrf(headers, &session)?;
    Ok(principal)
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({"status": "OK"}))
}

/// `POST /api/v1/auth`: 200 when the token is right (the middleware answers 401 otherwise).
async fn auth() -> Json<serde_json::Value> {
    Json(json!({"message": "authenticated"}))
}

/// The Keptn release whose API, events and files sluice is compatible with: what
/// `/api/v1/metadata` reports as `keptnversion`, a semantic version as Keptn's CLI expects.
pub const KEPTN_VERSION: &str = "1.4.5";

/// `GET /api/v1/metadata`, in Keptn's shape, plus `sluiceversion` (sluice's own version).
async fn metadata() -> Json<serde_json::Value> {
    Json(json!({
        "namespace": "sluice",
        "keptnlabel": "keptn",
        "keptnversion": KEPTN_VERSION,
        "sluiceversion": env!("CARGO_PKG_VERSION"),
        "bridgeversion": "",
        "shipyardversion": "0.2.0",
        "keptnservices": {},
        "automaticprovisioning": false,
    }))
}

/// `POST /api/v1/import`: Keptn's import of ZIP configuration packages, not implemented.
async fn import() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "POST /api/v1/import is not implemented: sluice does not import Keptn's ZIP configuration \
         packages (their manifests run API calls and webhook templates inside Keptn's api-service); \
         create the services, resources, secrets and subscriptions with the API or the sluice CLI",
    )
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

/// Gives every error answer Keptn's `{code, message}` body, whatever produced it: handlers and
/// extractors already answer with [`ApiError`]; this catches the rest, which axum and
/// tower-http answer with plain text or nothing (a method the path does not serve, a body over
/// the size limit). It also counts every error answer for `/metrics` (one layer for both: each
/// layer of axum middleware costs every request a few allocations).
async fn keptn_error_shape(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    // The URI is shared, not copied: it is only read when the answer is an error.
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    app.metrics.http_error(status.as_u16());
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let path = uri.path();
    let message = match status {
        // axum adds the `Allow` header outside this layer.
        StatusCode::METHOD_NOT_ALLOWED => format!(
            "method {method} is not allowed on {path}: the Allow header lists the methods it serves"
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("the request body is too large: at most {MAX_BODY_BYTES} bytes are accepted")
        }
        _ => {
            let text = axum::body::to_bytes(response.into_body(), 64 * 1024)
                .await
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&text).trim().to_owned();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                text
            }
        }
    };
    ApiError::new(status, message).into_response()
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
    use crate::api::testkit::{self, TOKEN};
    use axum::body::Body;

    async fn app() -> Router {
        testkit::app().await.1
    }

    async fn call(router: Router, request: axum::http::Request<Body>) -> (StatusCode, String) {
        let (status, _, body) = testkit::send(&router, request).await;
        (status, body)
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

    #[tokio::test]
    async fn every_error_answer_is_counted_by_status_whichever_layer_gave_it() {
        let router = app().await;
        // From the fallback, from the token check, and from the body limit in front of the
        // routes (which answers before any handler runs); a success is not counted.
        call(router.clone(), req("GET", "/api/nope", Some(TOKEN))).await;
        call(router.clone(), req("GET", "/api/nope/too", Some(TOKEN))).await;
        call(router.clone(), req("POST", "/api/v1/auth", None)).await;
        let mut oversized = with_body(
            "POST",
            "/api/v1/event",
            "application/json",
            vec![b' '; MAX_BODY_BYTES + 1],
        );
        oversized.headers_mut().insert(
            header::CONTENT_LENGTH,
            (MAX_BODY_BYTES + 1).to_string().parse().unwrap(),
        );
        let (status, _) = call(router.clone(), oversized).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        call(router.clone(), req("POST", "/api/v1/auth", Some(TOKEN))).await;
        let (status, text) = call(router, req("GET", "/metrics", Some(TOKEN))).await;
        assert_eq!(status, StatusCode::OK);
        let counted: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("sluice_http_errors_total{"))
            .collect();
        assert_eq!(
            counted,
            [
                "sluice_http_errors_total{status=\"401\"} 1",
                "sluice_http_errors_total{status=\"404\"} 2",
                "sluice_http_errors_total{status=\"413\"} 1",
            ],
            "{text}"
        );
    }

    #[tokio::test]
    async fn metadata_keptnversion_is_a_semver_keptn_release_and_sluiceversion_is_separate() {
        let (status, body) = call(app().await, req("GET", "/api/v1/metadata", Some(TOKEN))).await;
        assert_eq!(status, StatusCode::OK);
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        let keptn = body["keptnversion"].as_str().unwrap();
        let parts: Vec<u64> = keptn.split('.').map(|p| p.parse().unwrap()).collect();
        assert_eq!(parts, [1, 4, 5], "{keptn}");
        assert_eq!(body["sluiceversion"], env!("CARGO_PKG_VERSION"));
        assert_eq!(body["automaticprovisioning"], false);
    }

    #[tokio::test]
    async fn import_answers_501_in_keptns_error_shape() {
        let (status, body) = call(
            app().await,
            req("POST", "/api/v1/import?project=shop", Some(TOKEN)),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
        assert_keptn_error(status, &body, "import");
        assert!(
            body.contains("POST /api/v1/import is not implemented"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn page_size_follows_one_rule_on_every_list_endpoint() {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", testkit::ONE_TASK_SHIPYARD, &["carts"]).await;
        let lists = [
            "/api/controlPlane/v1/project",
            "/api/controlPlane/v1/project/shop/stage",
            "/api/controlPlane/v1/project/shop/stage/dev/service",
            "/api/resource-service/v1/project/shop/resource",
            "/api/mongodb-datastore/event?project=shop",
            "/api/controlPlane/v1/sequence/shop",
            "/api/controlPlane/v1/event/triggered/sh.keptn.event.deployment.triggered?project=shop",
            "/api/controlPlane/v1/log",
            "/api/sluice/v1/project/shop/stage/dev/service/carts/evaluations",
        ];
        for list in lists {
            let sep = if list.contains('?') { '&' } else { '?' };
            for bad in ["-5", "x", "2.5"] {
                let (status, body) =
                    testkit::call(&router, "GET", &format!("{list}{sep}pageSize={bad}"), None)
                        .await;
                assert_eq!(
                    status,
                    StatusCode::BAD_REQUEST,
                    "{list} pageSize={bad}: {body}"
                );
                assert!(
                    body["message"].as_str().unwrap().starts_with(&format!(
                        "invalid pageSize \"{bad}\": expected a whole number (0 or none: 20"
                    )),
                    "{list}: {body}"
                );
            }
            for good in ["", "0", "1", "100", "100000"] {
                let (status, body) =
                    testkit::call(&router, "GET", &format!("{list}{sep}pageSize={good}"), None)
                        .await;
                assert_eq!(status, StatusCode::OK, "{list} pageSize={good}: {body}");
            }
        }
    }

    /// The body is exactly Keptn's `{code, message}` with `code` equal to the status.
    fn assert_keptn_error(status: StatusCode, body: &str, what: &str) {
        let value: serde_json::Value =
            serde_json::from_str(body).unwrap_or_else(|_| panic!("{what}: not JSON: {body:?}"));
        let object = value.as_object().expect("an object");
        assert_eq!(object.len(), 2, "{what}: {body}");
        assert_eq!(object["code"], status.as_u16(), "{what}: {body}");
        assert!(
            object["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {body}"
        );
    }

    fn with_body(
        method: &str,
        uri: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> axum::http::Request<Body> {
        axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("x-token", TOKEN)
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap()
    }

    #[tokio::test]
    async fn every_rejection_and_fallback_answers_in_keptns_error_shape() {
        let router = app().await;
        let cases: Vec<(&str, axum::http::Request<Body>, StatusCode)> = vec![
            (
                "missing query parameter",
                req("DELETE", "/api/secrets/v1/secret", Some(TOKEN)),
                StatusCode::BAD_REQUEST,
            ),
            (
                "method not served by the path",
                req("DELETE", "/api/v1/metadata", Some(TOKEN)),
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            (
                "method not served, without a token",
                req("PATCH", "/api/controlPlane/v1/project", None),
                StatusCode::UNAUTHORIZED,
            ),
            (
                "unknown path",
                req("GET", "/api/v2/nothing", Some(TOKEN)),
                StatusCode::NOT_FOUND,
            ),
            (
                "malformed JSON",
                with_body(
                    "POST",
                    "/api/controlPlane/v1/project",
                    "application/json",
                    b"{\"name\":".to_vec(),
                ),
                StatusCode::BAD_REQUEST,
            ),
            (
                "JSON of the wrong shape",
                with_body(
                    "POST",
                    "/api/controlPlane/v1/project",
                    "application/json",
                    b"[1]".to_vec(),
                ),
                StatusCode::BAD_REQUEST,
            ),
            (
                "wrong content type",
                with_body(
                    "POST",
                    "/api/controlPlane/v1/project",
                    "text/plain",
                    b"{}".to_vec(),
                ),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                "body over the limit, JSON extractor",
                with_body(
                    "POST",
                    "/api/controlPlane/v1/project",
                    "application/json",
                    vec![b' '; MAX_BODY_BYTES + 1],
                ),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                "body over the limit, raw body",
                with_body(
                    "POST",
                    "/api/v1/event",
                    "application/json",
                    vec![b' '; MAX_BODY_BYTES + 1],
                ),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                "path segment that is not UTF-8",
                req("GET", "/api/controlPlane/v1/project/%FF", Some(TOKEN)),
                StatusCode::BAD_REQUEST,
            ),
            (
                "malformed query parameter",
                req(
                    "GET",
                    "/api/sluice/v1/project/shop/alerting-rules?for=1&for=2",
                    Some(TOKEN),
                ),
                StatusCode::BAD_REQUEST,
            ),
        ];
        for (what, request, status) in cases {
            let (got, body) = call(router.clone(), request).await;
            assert_eq!(got, status, "{what}: {body}");
            assert_keptn_error(got, &body, what);
        }
        let (_, headers, body) =
            testkit::send(&router, req("DELETE", "/api/v1/metadata", Some(TOKEN))).await;
        assert_eq!(headers[header::ALLOW], "GET,HEAD");
        assert!(
            body.contains("method DELETE is not allowed on /api/v1/metadata"),
            "{body}"
        );
    }
}
