//! Keptn's control-plane project API (`/api/controlPlane/v1/project...`): create, update and
//! delete projects, create and delete services, and read projects, stages and services in
//! Keptn's `Expanded*` shapes.
//!
//! The handlers only take the request apart and shape the answer; the workflows (locks,
//! repository, record, lifecycle events, upstream) are [`crate::projects`]'s.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Extension, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sluice_model::names;
use sluice_store::{EventContextInfo, ProjectRecord, ServiceStageRecord};

use crate::access::rbac::{self, Action, Principal, Target};
use crate::api::audit::AuditNote;
use crate::api::extract::{Json, Path, Query};
use crate::api::params::{MAX_PAGE_SIZE, Page, Params};
use crate::api::upstream;
use crate::error::ApiError;
use crate::projects;
use crate::state::App;

const BASE: &str = "/api/controlPlane/v1";

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            &format!("{BASE}/project"),
            get(list_projects).post(create_project).put(update_project),
        )
        .route(
            &format!("{BASE}/project/{{project}}"),
            get(get_project).delete(delete_project),
        )
        .route(
            &format!("{BASE}/project/{{project}}/stage"),
            get(list_stages),
        )
        .route(
            &format!("{BASE}/project/{{project}}/stage/{{stage}}"),
            get(get_stage),
        )
        .route(
            &format!("{BASE}/project/{{project}}/stage/{{stage}}/service"),
            get(list_services),
        )
        .route(
            &format!("{BASE}/project/{{project}}/stage/{{stage}}/service/{{service}}"),
            get(get_service),
        )
        .route(
            &format!("{BASE}/project/{{project}}/service"),
            post(create_service),
        )
        .route(
            &format!("{BASE}/project/{{project}}/service/{{service}}"),
            delete(delete_service),
        )
}

// ---------------------------------------------------------------------------------------------
// Wire shapes (Keptn's go-utils `models`).

/// Keptn's `ExpandedProject`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExpandedProject {
    /// Name.
    pub project_name: String,
    /// Unix nanoseconds as a decimal string.
    pub creation_date: String,
    /// The shipyard YAML text.
    pub shipyard: String,
    /// The shipyard's `apiVersion`.
    pub shipyard_version: String,
    /// The stages in shipyard order.
    pub stages: Vec<ExpandedStage>,
    /// The git upstream without its secrets (Keptn's `GitAuthCredentialsSecure`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_credentials: Option<Value>,
}

/// Keptn's `ExpandedStage`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExpandedStage {
    /// Name.
    pub stage_name: String,
    /// Stages whose sequences trigger sequences of this one (from `triggeredOn`).
    pub parent_stages: Vec<String>,
    /// The services, sorted by name.
    pub services: Vec<ExpandedService>,
}

/// Keptn's `ExpandedService`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExpandedService {
    /// Name.
    pub service_name: String,
    /// Unix nanoseconds as a decimal string.
    pub creation_date: String,
    /// The image last deployed in this stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployed_image: Option<String>,
    /// The last event of each type.
    pub last_event_types: BTreeMap<String, EventContextInfo>,
    /// Open remediations.
    pub open_remediations: Vec<Value>,
}

impl From<ServiceStageRecord> for ExpandedService {
    fn from(r: ServiceStageRecord) -> Self {
        ExpandedService {
            service_name: r.service,
            creation_date: r.creation_date,
            deployed_image: r.deployed_image,
            last_event_types: r.last_event_types,
            open_remediations: r.open_remediations,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProjectParams {
    #[serde(default)]
    name: String,
    #[serde(default)]
    shipyard: Option<String>,
    #[serde(default)]
    git_credentials: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceParams {
    #[serde(default)]
    service_name: String,
}

// ---------------------------------------------------------------------------------------------
// Answers.

impl From<projects::Stage> for ExpandedStage {
    fn from(stage: projects::Stage) -> Self {
        ExpandedStage {
            stage_name: stage.name,
            parent_stages: stage.parent_stages,
            services: stage
                .services
                .into_iter()
                .map(ExpandedService::from)
                .collect(),
        }
    }
}

/// A project in Keptn's `ExpandedProject` shape.
async fn expand_project(app: &App, record: ProjectRecord) -> Result<ExpandedProject, ApiError> {
    let stages = projects::stages(app, &record).await?;
    let git_credentials = record
        .git_upstream
        .clone()
        .filter(|v| !v["remoteURL"].as_str().unwrap_or("").is_empty());
    Ok(ExpandedProject {
        git_credentials,
        project_name: record.name,
        creation_date: record.creation_date,
        shipyard: record.shipyard,
        shipyard_version: record.shipyard_version,
        stages: stages.into_iter().map(ExpandedStage::from).collect(),
    })
}

async fn stage_of(app: &App, project: &str, stage: &str) -> Result<ExpandedStage, ApiError> {
    Ok(projects::stage(app, project, stage).await?.into())
}

// ---------------------------------------------------------------------------------------------
// Reads.

async fn list_projects(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let mut records = app.store.projects().await?;
    // A token limited to a project sees only that one.
    records.retain(|r| principal.sees_project(&r.name));
    let page = Params::from(query).page(records, MAX_PAGE_SIZE)?;
    let mut projects = Vec::with_capacity(page.items.len());
    for record in page.items {
        projects.push(expand_project(&app, record).await?);
    }
    Ok(Json(
        Page {
            items: projects,
            next_page_key: page.next_page_key,
            total_count: page.total_count,
        }
        .to_json("projects"),
    ))
}

async fn get_project(
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
) -> Result<Json<ExpandedProject>, ApiError> {
    let record = app.store.project(&project).await?;
    Ok(Json(expand_project(&app, record).await?))
}

async fn list_stages(
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let record = app.store.project(&project).await?;
    let stages: Vec<ExpandedStage> = projects::stages(&app, &record)
        .await?
        .into_iter()
        .map(ExpandedStage::from)
        .collect();
    let page = Params::from(query).page(stages, MAX_PAGE_SIZE)?;
    Ok(Json(page.to_json("stages")))
}

async fn get_stage(
    State(app): State<Arc<App>>,
    Path((project, stage)): Path<(String, String)>,
) -> Result<Json<ExpandedStage>, ApiError> {
    Ok(Json(stage_of(&app, &project, &stage).await?))
}

async fn list_services(
    State(app): State<Arc<App>>,
    Path((project, stage)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let services = stage_of(&app, &project, &stage).await?.services;
    let page = Params::from(query).page(services, MAX_PAGE_SIZE)?;
    Ok(Json(page.to_json("services")))
}

async fn get_service(
    State(app): State<Arc<App>>,
    Path((project, stage, service)): Path<(String, String, String)>,
) -> Result<Json<ExpandedService>, ApiError> {
    stage_of(&app, &project, &stage)
        .await?
        .services
        .into_iter()
        .find(|s| s.service_name == service)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("service not found"))
}

// ---------------------------------------------------------------------------------------------
// Changes.

/// The base64 shipyard of a create or update request, `None` when it is missing or blank.
fn shipyard_of(params: &ProjectParams) -> Option<&str> {
    params.shipyard.as_deref().filter(|s| !s.trim().is_empty())
}

async fn create_project(
    State(app): State<Arc<App>>,
    Json(params): Json<ProjectParams>,
) -> Result<(StatusCode, Extension<AuditNote>, Json<Value>), ApiError> {
    names::check_project(&params.name).map_err(ApiError::bad_request)?;
    let encoded = shipyard_of(&params)
        .ok_or_else(|| ApiError::bad_request("must provide a shipyard (base64-encoded)"))?;
    let bytes = projects::decode_base64("shipyard", encoded)?;
    let (shipyard, text) = projects::parse_shipyard_off_thread(bytes.clone()).await?;
    let upstream = upstream::requested(params.git_credentials.as_ref())?;
    let new = projects::NewProject {
        name: params.name.clone(),
        shipyard,
        text,
        bytes,
        encoded: encoded.trim().to_owned(),
        upstream,
    };
    let keptn_context = projects::create_project(&app, new).await?;
    let note = AuditNote {
        action: "project.create".into(),
        project: params.name,
        keptn_context,
        ..AuditNote::default()
    };
    Ok((StatusCode::CREATED, Extension(note), Json(json!({}))))
}

async fn update_project(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Json(params): Json<ProjectParams>,
) -> Result<(Extension<AuditNote>, Json<Value>), ApiError> {
    names::check_project(&params.name).map_err(ApiError::bad_request)?;
    // The project is in the body: the route table only checked the role.
    rbac::authorize(
        &principal,
        Action::Configure,
        &Target::project(&params.name, None),
    )?;
    let upstream = upstream::requested(params.git_credentials.as_ref())?;
    let shipyard = shipyard_of(&params);
    let updated = projects::update_project(&app, &params.name, upstream, shipyard).await?;
    let detail = match updated {
        projects::Updated::Nothing => None,
        projects::Updated::Upstream => Some("gitCredentials"),
        projects::Updated::Shipyard => Some("shipyard.yaml"),
    };
    let note = detail.map_or_else(AuditNote::default, |detail| AuditNote {
        action: "project.update".into(),
        project: params.name,
        detail: detail.into(),
        ..AuditNote::default()
    });
    Ok((Extension(note), Json(json!({}))))
}

async fn delete_project(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    projects::delete_project(&app, &name).await?;
    Ok(Json(json!({
        "message": format!(
            "Project {name} deleted: its repository, services, sequences and events were \
             removed. Deployments made by integrations (Helm releases, namespaces) were not \
             removed; clean them up separately."
        )
    })))
}

async fn create_service(
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Json(params): Json<ServiceParams>,
) -> Result<(Extension<AuditNote>, Json<Value>), ApiError> {
    let service = params.service_name;
    let keptn_context = projects::create_service(&app, &project, &service).await?;
    Ok(service_answer(
        "service.create",
        project,
        service,
        keptn_context,
    ))
}

async fn delete_service(
    State(app): State<Arc<App>>,
    Path((project, service)): Path<(String, String)>,
) -> Result<(Extension<AuditNote>, Json<Value>), ApiError> {
    let keptn_context = projects::delete_service(&app, &project, &service).await?;
    Ok(service_answer(
        "service.delete",
        project,
        service,
        keptn_context,
    ))
}

/// The answer to a service change, with its audit note.
fn service_answer(
    action: &str,
    project: String,
    service: String,
    keptn_context: String,
) -> (Extension<AuditNote>, Json<Value>) {
    let note = AuditNote {
        action: action.into(),
        project,
        service,
        keptn_context,
        ..AuditNote::default()
    };
    (Extension(note), Json(json!({"message": ""})))
}

/// A server on a fresh data directory, driven through the router (shared with the resource
/// API's tests).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testkit::{FULLTOUR, TestServer, b64};
    use crate::projects::{SHIPYARD_CONTROLLER, STAGE_CHANGE_MESSAGE};
    use sluice_store::EventQuery;

    const P: &str = "/api/controlPlane/v1/project";

    async fn lifecycle_events(server: &TestServer, project: &str) -> Vec<(String, String, String)> {
        let page = server
            .app
            .store
            .events(&EventQuery {
                project: Some(project.into()),
                ..EventQuery::default()
            })
            .await
            .unwrap();
        let mut out: Vec<(String, String, String)> = page
            .items
            .into_iter()
            .filter(|e| e.source.as_deref() == Some(SHIPYARD_CONTROLLER))
            .map(|e| {
                (
                    e.event_type.clone().unwrap_or_default(),
                    e.shkeptncontext.clone().unwrap_or_default(),
                    e.data_value()["result"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        out.sort();
        out
    }

    #[tokio::test]
    async fn creating_a_project_makes_repository_record_and_events() {
        let s = TestServer::new().await;
        s.create_project("fulltour", FULLTOUR).await;
        assert!(s.app.resources.project_path("fulltour").is_dir());

        let (status, p) = s.call("GET", &format!("{P}/fulltour"), None).await;
        assert_eq!(status, StatusCode::OK, "{p}");
        assert_eq!(p["projectName"], "fulltour");
        assert_eq!(p["shipyard"], FULLTOUR);
        assert_eq!(p["shipyardVersion"], "spec.keptn.sh/0.2.2");
        let created = p["creationDate"].as_str().unwrap();
        assert!(
            created.len() >= 19 && created.bytes().all(|b| b.is_ascii_digit()),
            "Unix nanoseconds: {created}"
        );
        assert!(p.get("gitCredentials").is_none());
        assert_eq!(
            p["stages"],
            json!([
                {"stageName": "qa", "parentStages": [], "services": []},
                {"stageName": "production", "parentStages": ["qa"], "services": []},
            ])
        );

        let events = lifecycle_events(&s, "fulltour").await;
        let types: Vec<&str> = events.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            types,
            [
                "sh.keptn.event.project.create.finished",
                "sh.keptn.event.project.create.started"
            ]
        );
        assert_eq!(events[0].1, events[1].1, "one context");
        assert_eq!(events[0].2, "pass");

        // The shipyard.yaml is in the repository.
        let (status, r) = s
            .call(
                "GET",
                "/api/resource-service/v1/project/fulltour/resource/shipyard.yaml",
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert_eq!(r["resourceContent"], b64(FULLTOUR));
    }

    #[tokio::test]
    async fn an_invalid_shipyard_lists_every_error_and_creates_nothing() {
        let s = TestServer::new().await;
        let bad = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: x\n\
                   spec:\n  stages:\n    - name: Dev\n      sequences:\n        - name: delivery\n\
                   \x20         tasks: []\n";
        let (status, body) = s
            .call(
                "POST",
                P,
                Some(json!({"name": "shop", "shipyard": b64(bad)})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.starts_with("invalid shipyard: "), "{message}");
        assert!(message.contains("; "), "every error: {message}");
        assert!(message.contains("spec.stages[0].name"), "{message}");
        assert!(message.contains("spec.stages[0].sequences[0]"), "{message}");
        assert!(message.contains("7:"), "positions: {message}");

        let (status, _) = s.call("GET", &format!("{P}/shop"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(!s.app.resources.project_path("shop").exists());
        assert!(lifecycle_events(&s, "shop").await.is_empty());

        for (body, needle) in [
            (
                json!({"name": "shop", "shipyard": "%%%"}),
                "not valid base64",
            ),
            (json!({"name": "shop"}), "must provide a shipyard"),
            (json!({"name": "Shop", "shipyard": b64(FULLTOUR)}), "Shop"),
            (
                json!({"name": "shop", "shipyard": b64(FULLTOUR),
                       "gitCredentials": {"remoteURL": "file:///tmp/r.git"}}),
                "must start with https://, http:// or ssh://",
            ),
            (
                json!({"name": "shop", "shipyard": b64(FULLTOUR),
                       "gitCredentials": {"remoteURL": "https://me:t@example.invalid/r.git"}}),
                "not in the URL",
            ),
            (
                json!({"name": "shop", "shipyard": b64(FULLTOUR),
                       "gitCredentials": {"remoteURL": "https://example.invalid/r.git",
                                          "https": {"token": "t", "insecureSkipTLS": true}}}),
                "insecureSkipTLS is not supported",
            ),
            (
                json!({"name": "shop", "shipyard": b64(FULLTOUR),
                       "gitCredentials": {"remoteURL": "https://example.invalid/r.git",
                                          "https": {"token": "t"},
                                          "ssh": {"privateKey": "x"}}}),
                "not both",
            ),
        ] {
            let (status, answer) = s.call("POST", P, Some(body)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
            assert!(
                answer["message"].as_str().unwrap().contains(needle),
                "{answer}"
            );
        }
    }

    #[tokio::test]
    async fn a_failed_creation_leaves_nothing_but_its_events() {
        let s = TestServer::new().await;
        // Keptn's parser accepts a repeated stage (a warning here), but its stage cannot be
        // created twice, so the creation fails after it started.
        let twice = format!("{FULLTOUR}    - name: \"qa\"\n");
        let (status, body) = s
            .call(
                "POST",
                P,
                Some(json!({"name": "shop", "shipyard": b64(&twice)})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("twice"),
            "{body}"
        );
        let (status, _) = s.call("GET", &format!("{P}/shop"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(!s.app.resources.project_path("shop").exists());
        let events = lifecycle_events(&s, "shop").await;
        let got: Vec<(&str, &str)> = events
            .iter()
            .map(|e| (e.0.as_str(), e.2.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("sh.keptn.event.project.create.finished", "fail"),
                ("sh.keptn.event.project.create.started", "")
            ]
        );
        s.create_project("shop", FULLTOUR).await;
    }

    #[tokio::test]
    async fn a_project_cannot_be_created_twice() {
        let s = TestServer::new().await;
        s.create_project("shop", FULLTOUR).await;
        let (status, body) = s
            .call(
                "POST",
                P,
                Some(json!({"name": "shop", "shipyard": b64(FULLTOUR)})),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["message"], "project already exists");
    }

    #[tokio::test]
    async fn service_names_with_white_space_are_refused_and_nothing_is_created() {
        let s = TestServer::new().await;
        s.create_project("shop", FULLTOUR).await;
        for bad in ["my service", " carts", "carts\t", "a\u{7}b"] {
            let (status, body) = s
                .call(
                    "POST",
                    &format!("{P}/shop/service"),
                    Some(json!({"serviceName": bad})),
                )
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {body}");
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .contains("must not contain white space or control characters"),
                "{body}"
            );
        }
        assert!(s.app.store.services("shop").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn services_appear_in_every_stage() {
        let s = TestServer::new().await;
        s.create_project("shop", FULLTOUR).await;
        s.create_service("shop", "carts").await;
        s.create_service("shop", "alpha").await;
        let (status, body) = s
            .call(
                "POST",
                &format!("{P}/shop/service"),
                Some(json!({"serviceName": "carts"})),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["message"], "service already exists");
        let (status, body) = s
            .call(
                "POST",
                &format!("{P}/nope/service"),
                Some(json!({"serviceName": "carts"})),
            )
            .await;
        assert_eq!(
            (status, &body["message"]),
            (StatusCode::NOT_FOUND, &json!("project not found"))
        );
        let (status, _) = s
            .call(
                "POST",
                &format!("{P}/shop/service"),
                Some(json!({"serviceName": "a/b"})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let (_, p) = s.call("GET", &format!("{P}/shop"), None).await;
        for stage in p["stages"].as_array().unwrap() {
            let names: Vec<&str> = stage["services"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["serviceName"].as_str().unwrap())
                .collect();
            assert_eq!(names, ["alpha", "carts"], "{stage}");
            let carts = &stage["services"][1];
            assert_eq!(carts["lastEventTypes"], json!({}));
            assert_eq!(carts["openRemediations"], json!([]));
            assert!(
                carts["creationDate"]
                    .as_str()
                    .unwrap()
                    .parse::<u128>()
                    .is_ok()
            );
        }
        // The service directories are in the repository.
        for stage in ["qa", "production"] {
            let (status, _) = s
                .call(
                    "GET",
                    &format!(
                        "/api/resource-service/v1/project/shop/stage/{stage}/service/carts/resource"
                    ),
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK);
        }

        let (status, stages) = s.call("GET", &format!("{P}/shop/stage"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(stages["totalCount"], 2);
        assert_eq!(stages["nextPageKey"], "0");
        assert_eq!(stages["stages"][1]["stageName"], "production");
        let (status, stage) = s.call("GET", &format!("{P}/shop/stage/qa"), None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(stage["stageName"], "qa");
        let (status, body) = s.call("GET", &format!("{P}/shop/stage/dev"), None).await;
        assert_eq!(
            (status, &body["message"]),
            (StatusCode::NOT_FOUND, &json!("stage not found"))
        );
        let (status, page) = s
            .call(
                "GET",
                &format!("{P}/shop/stage/qa/service?pageSize=1"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["services"][0]["serviceName"], "alpha");
        assert_eq!(
            (page["nextPageKey"].as_str(), page["totalCount"].as_u64()),
            (Some("1"), Some(2))
        );
        let (_, page) = s
            .call(
                "GET",
                &format!("{P}/shop/stage/qa/service?pageSize=1&nextPageKey=1"),
                None,
            )
            .await;
        assert_eq!(page["services"][0]["serviceName"], "carts");
        assert_eq!(page["nextPageKey"], "0");
        let (status, svc) = s
            .call(
                "GET",
                &format!("{P}/shop/stage/production/service/carts"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(svc["serviceName"], "carts");
        let (status, body) = s
            .call(
                "GET",
                &format!("{P}/shop/stage/production/service/nope"),
                None,
            )
            .await;
        assert_eq!(
            (status, &body["message"]),
            (StatusCode::NOT_FOUND, &json!("service not found"))
        );

        // Delete one: gone from every stage, the repository and the record.
        let (status, body) = s
            .call("DELETE", &format!("{P}/shop/service/carts"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, _) = s
            .call("GET", &format!("{P}/shop/stage/qa/service/carts"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = s
            .call(
                "GET",
                "/api/resource-service/v1/project/shop/stage/qa/service/carts/resource",
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = s
            .call("DELETE", &format!("{P}/shop/service/carts"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let types: Vec<String> = lifecycle_events(&s, "shop")
            .await
            .into_iter()
            .map(|e| e.0)
            .collect();
        for t in [
            "sh.keptn.event.service.create.started",
            "sh.keptn.event.service.create.finished",
            "sh.keptn.event.service.delete.started",
            "sh.keptn.event.service.delete.finished",
        ] {
            assert!(types.iter().any(|x| x == t), "{t} in {types:?}");
        }
    }

    #[tokio::test]
    async fn updates_keep_the_stages() {
        let s = TestServer::new().await;
        s.create_project("shop", FULLTOUR).await;
        let renamed = FULLTOUR.replace("name: \"production\"", "name: \"prod\"");
        let (status, body) = s
            .call(
                "PUT",
                P,
                Some(json!({"name": "shop", "shipyard": b64(&renamed)})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["message"], STAGE_CHANGE_MESSAGE);
        let added = format!("{FULLTOUR}    - name: \"extra\"\n");
        let (status, _) = s
            .call(
                "PUT",
                P,
                Some(json!({"name": "shop", "shipyard": b64(&added)})),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = s
            .call(
                "PUT",
                P,
                Some(json!({"name": "nope", "shipyard": b64(FULLTOUR)})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let changed = FULLTOUR.replace("timeframe: \"2m\"", "timeframe: \"5m\"");
        let (status, body) = s
            .call(
                "PUT",
                P,
                Some(json!({"name": "shop", "shipyard": b64(&changed)})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({}));
        let (_, p) = s.call("GET", &format!("{P}/shop"), None).await;
        assert_eq!(p["shipyard"], changed);
        let (_, r) = s
            .call(
                "GET",
                "/api/resource-service/v1/project/shop/resource/shipyard.yaml",
                None,
            )
            .await;
        assert_eq!(r["resourceContent"], b64(&changed));
        // Without a shipyard nothing changes.
        let (status, _) = s.call("PUT", P, Some(json!({"name": "shop"}))).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn deleting_a_project_removes_everything() {
        let s = TestServer::new().await;
        s.create_project("shop", FULLTOUR).await;
        s.create_service("shop", "carts").await;
        let repo = s.app.resources.project_path("shop");
        assert!(repo.is_dir());
        let (status, body) = s.call("DELETE", &format!("{P}/shop"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body["message"].as_str().unwrap().contains("shop"));
        let (status, body) = s.call("GET", &format!("{P}/shop"), None).await;
        assert_eq!(
            (status, &body["message"]),
            (StatusCode::NOT_FOUND, &json!("project not found"))
        );
        assert!(!repo.exists());
        let (status, _) = s.call("DELETE", &format!("{P}/shop"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // The name is free again.
        s.create_project("shop", FULLTOUR).await;
    }

    #[tokio::test]
    async fn projects_are_listed_by_name_in_pages() {
        let s = TestServer::new().await;
        for name in ["cc", "aa", "bb"] {
            s.create_project(name, FULLTOUR).await;
        }
        let (status, page) = s.call("GET", &format!("{P}?pageSize=2"), None).await;
        assert_eq!(status, StatusCode::OK);
        let names: Vec<&str> = page["projects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["projectName"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["aa", "bb"]);
        assert_eq!(page["nextPageKey"], "2");
        assert_eq!(page["totalCount"], 3);
        assert_eq!(page["pageSize"], 2);
        let (_, page) = s
            .call("GET", &format!("{P}?pageSize=2&nextPageKey=2"), None)
            .await;
        assert_eq!(page["projects"][0]["projectName"], "cc");
        assert_eq!(page["nextPageKey"], "0");
        let (status, _) = s.call("GET", &format!("{P}?nextPageKey=x"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
