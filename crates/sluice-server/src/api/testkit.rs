//! Test helpers shared by the API modules' tests: a fresh server in a temporary directory, a
//! request helper, and a project created directly through the store and the repositories.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::StatusCode;
use serde_json::Value;
use sluice_store::ProjectRecord;
use tower::ServiceExt;

use crate::auth::ApiToken;
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

/// A fresh server (state and router).
pub async fn app() -> (Arc<App>, Router) {
    let dir = std::env::temp_dir().join(format!(
        "sluice-api-read-{}-{}",
        std::process::id(),
        crate::ids::fresh()
    ));
    let app = Arc::new(
        crate::open(&dir, ApiToken::from_value(TOKEN))
            .await
            .expect("test server opens"),
    );
    (app.clone(), super::router(app))
}

/// Sends one request with the token; answers the status and the body as JSON (`Null` when
/// empty, a string when not JSON).
pub async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut builder = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("x-token", TOKEN);
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
