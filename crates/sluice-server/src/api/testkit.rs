//! The API tests' one harness: a fresh server in a temporary directory ([`TestServer`], or
//! [`app`] for state and router), request helpers, and a project created through the API or
//! directly through the store and the repositories.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use serde_json::{Value, json};
use sluice_store::ProjectRecord;
use tower::ServiceExt;

use crate::access::auth::ApiToken;
use crate::state::App;

/// The token of test servers.
pub const TOKEN: &str = "test-token-0123456789";

/// A one-stage shipyard whose `delivery` sequence has the single task `deployment`.
pub const ONE_TASK_SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: shipyard
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - name: deployment
";

/// The tutorial shipyard (stages qa and production).
pub const FULLTOUR: &str = include_str!("../../../../examples/fulltour/shipyard.yaml");

/// Base64 as Keptn's clients send it.
pub fn b64(text: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The prefix of the test servers' data directories: `sluice-api-<pid>-<id>`.
const SCRATCH_PREFIX: &str = "sluice-api-";

/// A fresh temporary data directory. The directories of [`app`] stay until the test process
/// ends; the first call of a process removes those of test processes that have ended (so a
/// machine keeps at most the last run's, not every run's).
fn scratch() -> PathBuf {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    let tmp = std::env::temp_dir();
    SWEPT.call_once(|| sweep_ended(&tmp));
    tmp.join(format!(
        "{SCRATCH_PREFIX}{}-{}",
        std::process::id(),
        crate::runtime::ids::fresh()
    ))
}

/// Removes the scratch directories in `tmp` whose process no longer runs (where `/proc`
/// tells; elsewhere nothing).
fn sweep_ended(tmp: &std::path::Path) {
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(SCRATCH_PREFIX))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The settings test servers open with: outgoing requests may also reach loopback, where the
/// tests' Prometheus and webhook receivers listen (a server's default is public addresses
/// only).
pub fn options() -> crate::OpenOptions {
    crate::OpenOptions {
        outbound: crate::net::outbound::Outbound::parse("127.0.0.0/8").expect("valid"),
        ..crate::OpenOptions::default()
    }
}

/// Opens a server on a data directory (state and router).
async fn open(dir: &std::path::Path) -> (Arc<App>, Router) {
    let app = Arc::new(
        crate::open_with(dir, ApiToken::from_value(TOKEN), &options())
            .await
            .expect("test server opens"),
    );
    (app.clone(), super::router(app))
}

/// A fresh server (state and router); its directory stays for the test's lifetime.
pub async fn app() -> (Arc<App>, Router) {
    open(&scratch()).await
}

/// A fresh server that removes its data directory when dropped.
pub struct TestServer {
    /// The server's state.
    pub app: Arc<App>,
    /// Its API router.
    pub router: Router,
    dir: PathBuf,
}

impl TestServer {
    /// Opens a server in a new temporary directory.
    pub async fn new() -> TestServer {
        let dir = scratch();
        let (app, router) = open(&dir).await;
        TestServer { app, router, dir }
    }

    /// One request with the token; see [`call`].
    pub async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        call(&self.router, method, uri, body).await
    }

    /// Creates a project through the API (asserting 201).
    pub async fn create_project(&self, name: &str, shipyard: &str) {
        let (status, body) = self
            .call(
                "POST",
                "/api/controlPlane/v1/project",
                Some(json!({"name": name, "shipyard": b64(shipyard)})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    /// Creates a service through the API (asserting 200).
    pub async fn create_service(&self, project: &str, service: &str) {
        let (status, body) = self
            .call(
                "POST",
                &format!("/api/controlPlane/v1/project/{project}/service"),
                Some(json!({"serviceName": service})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends a request as it is; answers the status, the headers and the body as text.
pub async fn send(
    router: &Router,
    request: axum::http::Request<Body>,
) -> (StatusCode, HeaderMap, String) {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body reads");
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// Sends one request with the token; answers the status and the body as JSON (`Null` when
/// empty, a string when not JSON).
pub async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    call_as(router, TOKEN, method, uri, body).await
}

/// [`call`] with another token.
pub async fn call_as(
    router: &Router,
    token: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut builder = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("x-token", token);
    let body = match body {
        Some(v) => {
            builder = builder.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let response = router
        .clone()
        .oneshot(builder.body(body).expect("request builds"))
        .await
        .expect("router answers");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body reads");
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, value)
}

/// Creates a project with the given shipyard and services in the store and the repositories
/// and tells the engine about the shipyard.
pub async fn create_project(app: &App, name: &str, shipyard: &str, services: &[&str]) {
    let parsed = sluice_model::shipyard::parse(shipyard)
        .value
        .expect("test shipyard parses");
    let stages: Vec<String> = parsed.stages.iter().map(|s| s.name.clone()).collect();
    let stage_refs: Vec<&str> = stages.iter().map(String::as_str).collect();
    app.resources
        .create_project(name, &stage_refs, shipyard.as_bytes())
        .expect("repository created");
    app.store
        .create_project(&ProjectRecord {
            name: name.to_owned(),
            shipyard: shipyard.to_owned(),
            shipyard_version: "spec.keptn.sh/0.2.2".to_owned(),
            creation_date: "1600000000000000000".to_owned(),
            git_upstream: None,
            stages,
        })
        .await
        .expect("project stored");
    for service in services {
        app.resources
            .create_service(name, service)
            .expect("service in repository");
        app.store
            .create_service(name, service, "1600000000000000000")
            .await
            .expect("service stored");
    }
    app.driver
        .shipyard_changed(name.to_owned(), Some(Arc::new(parsed)))
        .await;
}
