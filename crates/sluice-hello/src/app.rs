//! helloservice's HTTP routes (`/`, `/health`, `/metrics`) and the middleware that times every routed request.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::metrics::{Metrics, RequestLabels};
use crate::process::ProcessStats;
use crate::version::ServiceVersion;

pub use crate::version::SLOW_BUILD_DELAY;

/// Content type of the Prometheus text exposition format.
const EXPOSITION_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What every handler of one helloservice process shares.
#[derive(Debug)]
pub struct AppState {
    /// The version this process pretends to be.
    pub version: ServiceVersion,
    /// The instance id shown on the page (tells replicas apart).
    pub instance: String,
    /// This process's metrics.
    pub metrics: Arc<Metrics>,
    /// How many `/` requests this process has begun (for the version's [`ServiceVersion::delay`]).
    pub pages: std::sync::atomic::AtomicU64,
}

/// The main router: `/`, `/health` and `/metrics`, all timed into the duration histogram.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            record_duration,
        ))
        .with_state(state)
}

/// The router of the optional separate metrics port: `/metrics`, timed like on the main port, and `/health`, which
/// is not timed (it is the readiness probe of local deployments and must not show up in the SLIs' histograms).
pub fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            record_duration,
        ))
        .route("/health", get(health))
        .with_state(state)
}

/// Times one routed request into `http_server_request_duration_seconds`, labelled with the route template.
///
/// It is a `route_layer`, so like gorilla/mux middleware it only sees requests that matched a route (404s are not
/// recorded).
async fn record_duration(
    State(state): State<Arc<AppState>>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let route = matched.map(|path| path.as_str().to_owned());
    let method = method_label(request.method());
    let in_flight = state.metrics.request_started();
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    drop(in_flight);
    if let Some(route) = route {
        let labels = RequestLabels {
            method,
            route,
            status_code: response.status().as_u16(),
        };
        state.metrics.observe_request(labels, elapsed);
    }
    response
}

/// The `method` label: standard methods by name, extension methods folded into `OTHER`.
fn method_label(method: &Method) -> String {
    const STANDARD: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::CONNECT,
        Method::OPTIONS,
        Method::TRACE,
        Method::PATCH,
    ];
    if STANDARD.contains(method) {
        method.as_str().to_owned()
    } else {
        "OTHER".to_owned()
    }
}

/// `GET /`: the page; the slow builds then sleep (see [`ServiceVersion::delay`]), and the answered request is counted as a success.
async fn index(State(state): State<Arc<AppState>>) -> Html<String> {
    let page = render_page(&state.version, &state.instance);
    let n = state
        .pages
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let delay = state.version.delay(n);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    state.metrics.count_success();
    Html(page)
}

/// `GET /health`: always `ok` while the process serves.
async fn health() -> &'static str {
    "ok"
}

/// `GET /metrics`: the Prometheus text exposition of this process.
async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    // Reading three small procfs files is quick enough to do inline.
    let process = ProcessStats::read_self();
    (
        [(header::CONTENT_TYPE, EXPOSITION_CONTENT_TYPE)],
        state.metrics.scrape(process.as_ref()),
    )
}

/// The tiny HTML page: service name, version, instance and a podtato head whose parts change with the version.
pub fn render_page(version: &ServiceVersion, instance: &str) -> String {
    let part = version.part_id();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>helloservice</title></head>\n\
         <body style=\"font-family:monospace\">\n<h1>helloservice</h1>\n\
         <p>version <b id=\"version\">{version}</b> &middot; instance <b id=\"instance\">{instance}</b> \
         &middot; parts <b>{part}</b></p>\n<pre>\n   .-\"\"\"-.\n  /  o o  \\   podtato-head\n \
         |    ^    |  hat {part}, arms {part}, legs {part}\n  \\  \\_/  /\n   '-...-'\n</pre>\n</body></html>\n",
        version = escape_html(&version.to_string()),
        instance = escape_html(instance),
    )
}

/// Escapes text for an HTML body.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_shows_version_and_escaped_instance() {
        let version = ServiceVersion::parse("v0.1.1").unwrap_or_else(|e| panic!("{e}"));
        let page = render_page(&version, "<a&b>");
        assert!(page.contains("<b id=\"version\">v0.1.1</b>"), "{page}");
        assert!(
            page.contains("<b id=\"instance\">&lt;a&amp;b&gt;</b>"),
            "{page}"
        );
        assert!(page.contains("parts <b>02</b>"), "{page}");
    }

    #[test]
    fn extension_methods_fold_into_other() {
        assert_eq!(method_label(&Method::GET), "GET");
        let custom = Method::from_bytes(b"PURGE").unwrap_or(Method::GET);
        assert_eq!(method_label(&custom), "OTHER");
    }
}
