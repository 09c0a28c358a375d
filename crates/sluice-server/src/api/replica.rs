//! The HTTP side of a replica (see [`crate::runtime::cluster`]): `GET /api/sluice/v1/cluster`,
//! the full API when this replica leads, and otherwise every request forwarded to the leader
//! with its answer streamed back (server-sent events too), or 503 with `Retry-After` in
//! Keptn's error shape while there is no leader.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tower::ServiceExt as _;

use crate::runtime::cluster::Replica;

/// The router of a replica.
pub fn router(replica: Arc<Replica>) -> Router {
    Router::new()
        .route("/api/sluice/v1/cluster", get(status))
        .fallback(dispatch)
        .with_state(replica)
}

async fn dispatch(State(replica): State<Arc<Replica>>, request: Request) -> Response {
    match replica.leading_api() {
        Some(api) => match api.oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        },
        None => forward(&replica, request).await,
    }
}

async fn status(State(replica): State<Arc<Replica>>, request: Request) -> Response {
    let presented = super::presented_token(request.headers());
    if !presented.is_some_and(|t| replica.token.matches(t)) {
        return keptn_error(StatusCode::UNAUTHORIZED, "missing or invalid API token");
    }
    match replica.status().await {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => keptn_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot read the cluster state: {e}"),
        ),
    }
}

/// Forwards a request to the leader and streams its answer back.
async fn forward(replica: &Replica, request: Request) -> Response {
    let leader = match replica.leader().await {
        Ok(Some(l)) => l,
        Ok(None) => return unavailable("no leader yet: the replicas are electing one"),
        Err(e) => return unavailable(&format!("cannot read the cluster state: {e}")),
    };
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let body = match axum::body::to_bytes(body, crate::api::MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return keptn_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "the request body is too large: at most {} bytes are accepted",
                    crate::api::MAX_BODY_BYTES
                ),
            );
        }
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) && name != header::HOST {
            headers.append(name.clone(), value.clone());
        }
    }
    let url = format!("{}{path}", leader.url.trim_end_matches('/'));
    let sent = replica
        .proxy
        .request(parts.method, &url)
        .headers(headers)
        .body(body)
        .send()
        .await;
    let answer = match sent {
        Ok(a) => a,
        Err(e) => {
            replica.forget_leader();
            return unavailable(&format!(
                "the leader {} at {} does not answer ({e})",
                leader.node, leader.url
            ));
        }
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !hop_by_hop(name) {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from_stream(answer.bytes_stream()))
        .unwrap_or_else(|_| unavailable("the leader's answer cannot be passed on"))
}

fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
    )
}

fn keptn_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json!({"code": status.as_u16(), "message": message}).to_string(),
    )
        .into_response()
}

fn unavailable(message: &str) -> Response {
    let mut r = keptn_error(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("{message}; retry shortly"),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}
