//! Keptn's control-plane project API (`/api/controlPlane/v1/project...`): create, update and
//! delete projects, create and delete services, and read projects, stages and services in
//! Keptn's `Expanded*` shapes.
//!
//! The project record in the store is the authority on whether a project exists; its git
//! repository is created before the record and removed after it, and every change of a
//! project's structure holds the project's lock (see [`lock_project`]), so a failed step
//! can be rolled back without racing another request.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Extension, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sluice_model::event::kind::{LifecycleAction, LifecycleEntity, LifecyclePhase};
use sluice_model::event::{EventType, KeptnEvent};
use sluice_model::names;
use sluice_model::shipyard::{self, Shipyard};
use sluice_resources::{FirstSync, ResourceError, ResourceStore, Scope, Upload};
use sluice_store::{EventContextInfo, ProjectRecord, ServiceStageRecord};
use tokio::sync::OwnedMutexGuard;

use crate::access::rbac::{self, Action, Principal, Target};
use crate::api::audit::AuditNote;
use crate::api::extract::{Json, Path, Query};
use crate::api::params::{MAX_PAGE_SIZE, Page, Params};
use crate::api::upstream;
use crate::error::ApiError;
use crate::runtime::{clock, ids};
use crate::state::App;

/// The source Keptn's shipyard-controller put on the lifecycle events it sent.
pub const SHIPYARD_CONTROLLER: &str = "shipyard-controller";

/// The project-level resource holding the shipyard.
pub const SHIPYARD_URI: &str = "shipyard.yaml";

/// Keptn's answer to a shipyard update that changes the stages.
pub const STAGE_CHANGE_MESSAGE: &str =
    "invalid stage change: stages cannot be added, removed or renamed";

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
// Shared helpers (also used by the resource API).

/// Per-project locks serialising changes of a project's structure (create, update, delete,
/// services, shipyard writes), like Keptn's `common.LockProject`.
static LOCKS: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Mutex::default);

/// Takes the lock of `project` for structural changes.
pub async fn lock_project(project: &str) -> OwnedMutexGuard<()> {
    let lock = {
        let mut map = LOCKS.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(project.to_owned()).or_default().clone()
    };
    lock.lock_owned().await
}

/// Runs a (synchronous) resource-store operation on a blocking thread.
pub async fn with_resources<T, F>(app: &App, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&ResourceStore) -> Result<T, ResourceError> + Send + 'static,
{
    let store = app.resources.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| ApiError::internal("a repository operation did not finish", &e))?
        .map_err(ApiError::from)
}

/// Runs CPU work of a request (parsing a submitted file) on the blocking pool, so that a big
/// or hostile file never holds an async worker.
pub async fn blocking<T, F>(what: &'static str, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(what, &e))?
}

/// Decodes Keptn's base64 content (standard alphabet; surrounding whitespace tolerated).
pub fn decode_base64(what: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| ApiError::bad_request(format!("{what} is not valid base64: {e}")))
}

/// Parses a shipyard and refuses it when it has errors, listing every one
/// (`line:col: path: message`, joined by `; `).
pub fn parse_shipyard(bytes: &[u8]) -> Result<(Shipyard, String), ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ApiError::bad_request(format!("the shipyard is not UTF-8 text: {e}")))?;
    let parsed = shipyard::parse(text);
    let errors: Vec<String> = parsed
        .diagnostics
        .sorted()
        .into_iter()
        .filter(|d| d.severity == sluice_model::diagnostic::Severity::Error)
        .map(|d| {
            if d.path.is_empty() {
                format!("{}: {}", d.pos, d.message)
            } else {
                format!("{}: {}: {}", d.pos, d.path, d.message)
            }
        })
        .collect();
    match parsed.value {
        Some(value) if errors.is_empty() => Ok((value, text.to_owned())),
        _ if errors.is_empty() => Err(ApiError::bad_request("invalid shipyard")),
        _ => Err(ApiError::bad_request(format!(
            "invalid shipyard: {}",
            errors.join("; ")
        ))),
    }
}

fn stage_names(shipyard: &Shipyard) -> Vec<String> {
    shipyard.stages.iter().map(|s| s.name.clone()).collect()
}

/// Checks a new shipyard for an existing project: valid, and exactly the same stages.
pub fn check_shipyard_update(
    record: &ProjectRecord,
    bytes: &[u8],
) -> Result<(Shipyard, String), ApiError> {
    let (shipyard, text) = parse_shipyard(bytes)?;
    if stage_names(&shipyard) != record.stages {
        return Err(ApiError::bad_request(STAGE_CHANGE_MESSAGE));
    }
    Ok((shipyard, text))
}

/// Records an accepted new shipyard (already written to the repository) in the project record
/// and tells the engine.
pub async fn record_shipyard(
    app: &App,
    record: &ProjectRecord,
    shipyard: Shipyard,
    text: String,
) -> Result<(), ApiError> {
    let updated = ProjectRecord {
        shipyard: text,
        shipyard_version: shipyard.api_version.clone(),
        ..record.clone()
    };
    app.store.update_project(&updated).await?;
    app.driver
        .shipyard_changed(record.name.clone(), Some(Arc::new(shipyard)))
        .await;
    Ok(())
}

/// Unix nanoseconds now, as Keptn wrote creation dates.
fn creation_date() -> String {
    clock::now().unix_nanos().to_string()
}

/// Stores a lifecycle event (`sh.keptn.event.{project,service}.{create,delete}.{phase}`).
async fn emit(
    app: &App,
    entity: LifecycleEntity,
    action: LifecycleAction,
    phase: LifecyclePhase,
    keptn_context: &str,
    data: Value,
) -> Result<(), ApiError> {
    let event = KeptnEvent::new(
        &ids::fresh(),
        SHIPYARD_CONTROLLER,
        &EventType::Lifecycle {
            entity,
            action,
            phase,
        },
        clock::now(),
        keptn_context,
        data,
    );
    app.driver
        .submit(event)
        .await
        .map(|_| ())
        .map_err(|e| ApiError::internal("a lifecycle event could not be stored", &e))
}

/// Like [`emit`], for the `.finished` event after the work is done: a failure is logged, not
/// answered (the change itself has happened), as Keptn did.
async fn emit_finished(
    app: &App,
    entity: LifecycleEntity,
    action: LifecycleAction,
    keptn_context: &str,
    data: Value,
) {
    if let Err(e) = emit(
        app,
        entity,
        action,
        LifecyclePhase::Finished,
        keptn_context,
        data,
    )
    .await
    {
        tracing::error!(message = %e.message, "lifecycle .finished event not stored");
    }
}

fn finished_data(mut data: Value, outcome: &Result<(), ApiError>) -> Value {
    let (status, result, message) = match outcome {
        Ok(()) => ("succeeded", "pass", String::new()),
        Err(e) => ("errored", "fail", e.message.clone()),
    };
    if let Some(map) = data.as_object_mut() {
        map.insert("status".into(), json!(status));
        map.insert("result".into(), json!(result));
        if !message.is_empty() {
            map.insert("message".into(), json!(message));
        }
    }
    data
}

/// Parent stages of each stage: the stages named by its sequences' `triggeredOn` events,
/// other than itself, in order of first mention.
fn parent_stages(shipyard_text: &str) -> HashMap<String, Vec<String>> {
    let mut out = HashMap::new();
    let Some(shipyard) = shipyard::parse(shipyard_text).value else {
        return out;
    };
    for stage in &shipyard.stages {
        let mut parents: Vec<String> = Vec::new();
        for trigger in stage.sequences.iter().flat_map(|s| &s.triggered_on) {
            if let Some(source) = &trigger.source
                && source.stage != stage.name
                && !parents.contains(&source.stage)
            {
                parents.push(source.stage.clone());
            }
        }
        out.insert(stage.name.clone(), parents);
    }
    out
}

async fn expand_stages(app: &App, record: &ProjectRecord) -> Result<Vec<ExpandedStage>, ApiError> {
    let mut by_stage: HashMap<String, Vec<ExpandedService>> = HashMap::new();
    for ss in app.store.service_stages(&record.name).await? {
        by_stage
            .entry(ss.stage.clone())
            .or_default()
            .push(ss.into());
    }
    let mut parents = parent_stages(&record.shipyard);
    Ok(record
        .stages
        .iter()
        .map(|name| ExpandedStage {
            stage_name: name.clone(),
            parent_stages: parents.remove(name).unwrap_or_default(),
            services: by_stage.remove(name).unwrap_or_default(),
        })
        .collect())
}

/// A project in Keptn's `ExpandedProject` shape.
pub async fn expand_project(app: &App, record: ProjectRecord) -> Result<ExpandedProject, ApiError> {
    let stages = expand_stages(app, &record).await?;
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
        stages,
    })
}

async fn stage_of(app: &App, project: &str, stage: &str) -> Result<ExpandedStage, ApiError> {
    let record = app.store.project(project).await?;
    expand_stages(app, &record)
        .await?
        .into_iter()
        .find(|s| s.stage_name == stage)
        .ok_or_else(|| ApiError::not_found("stage not found"))
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
    let stages = expand_stages(&app, &record).await?;
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
// Projects.

async fn create_project(
    State(app): State<Arc<App>>,
    Json(params): Json<ProjectParams>,
) -> Result<(StatusCode, Extension<AuditNote>, Json<Value>), ApiError> {
    names::check_project(&params.name).map_err(ApiError::bad_request)?;
    let encoded = params
        .shipyard
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("must provide a shipyard (base64-encoded)"))?;
    let bytes = decode_base64("shipyard", encoded)?;
    let (shipyard, text) = {
        let bytes = bytes.clone();
        blocking("checking a shipyard did not finish", move || {
            parse_shipyard(&bytes)
        })
        .await?
    };
    let upstream = upstream::requested(params.git_credentials.as_ref())?;
    let name = params.name;

    let _guard = lock_project(&name).await;
    match app.store.project(&name).await {
        Ok(_) => return Err(ApiError::conflict("project already exists")),
        Err(sluice_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    // A repository without a record is the leftover of a creation that crashed half-way
    // (never acknowledged): the record decides, so it goes.
    let orphan = name.clone();
    with_resources(&app, move |r| {
        if r.project_exists(&orphan) {
            tracing::warn!(project = %orphan, "removing the repository of an unfinished project creation");
            r.delete_project(&orphan)?;
        }
        Ok(())
    })
    .await?;

    let keptn_context = ids::fresh();
    let data = json!({"project": name});
    emit(
        &app,
        LifecycleEntity::Project,
        LifecycleAction::Create,
        LifecyclePhase::Started,
        &keptn_context,
        data.clone(),
    )
    .await?;
    let remote_url = upstream.as_ref().map(|u| u.url.clone()).unwrap_or_default();
    let outcome = create_project_steps(&app, &name, &shipyard, &text, &bytes, upstream).await;
    let mut finished = finished_data(data, &outcome);
    if let Some(map) = finished.as_object_mut() {
        map.insert(
            "createdProject".into(),
            json!({"projectName": name, "gitRemoteURL": remote_url, "shipyard": encoded.trim()}),
        );
    }
    emit_finished(
        &app,
        LifecycleEntity::Project,
        LifecycleAction::Create,
        &keptn_context,
        finished,
    )
    .await;
    outcome?;
    let note = AuditNote {
        action: "project.create".into(),
        project: name,
        keptn_context,
        ..AuditNote::default()
    };
    Ok((StatusCode::CREATED, Extension(note), Json(json!({}))))
}

/// Repository, then the upstream (credentials stored, first push), then record; on failure
/// whatever was made is removed again.
async fn create_project_steps(
    app: &App,
    name: &str,
    shipyard: &Shipyard,
    text: &str,
    bytes: &[u8],
    upstream: Option<upstream::Upstream>,
) -> Result<(), ApiError> {
    let stages = stage_names(shipyard);
    let (project, repo_stages, content) = (name.to_owned(), stages.clone(), bytes.to_vec());
    with_resources(app, move |r| {
        let stages: Vec<&str> = repo_stages.iter().map(String::as_str).collect();
        r.create_project(&project, &stages, &content)
    })
    .await?;
    let git_upstream = upstream.as_ref().map(crate::storage::upstream::secure_view);
    let undo = async |app: &App| {
        let project = name.to_owned();
        if let Err(undo) = with_resources(app, move |r| r.delete_project(&project)).await {
            tracing::error!(project = name, message = %undo.message, "rollback: repository not removed");
        }
        if let Err(undo) = upstream::store_credentials(app, name, None).await {
            tracing::error!(project = name, message = %undo.message, "rollback: git credentials not removed");
        }
    };
    if let Some(upstream) = upstream {
        let pushed = async {
            upstream::store_credentials(app, name, Some(&upstream)).await?;
            upstream::sync_with(app, name, upstream, FirstSync::Create).await
        }
        .await;
        if let Err(e) = pushed {
            undo(app).await;
            return Err(e);
        }
    }
    let record = ProjectRecord {
        name: name.to_owned(),
        shipyard: text.to_owned(),
        shipyard_version: shipyard.api_version.clone(),
        creation_date: creation_date(),
        git_upstream,
        stages,
    };
    if let Err(e) = app.store.create_project(&record).await {
        undo(app).await;
        return Err(e.into());
    }
    app.driver
        .shipyard_changed(name.to_owned(), Some(Arc::new(shipyard.clone())))
        .await;
    Ok(())
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
    let note = AuditNote {
        action: "project.update".into(),
        project: params.name.clone(),
        detail: "shipyard.yaml".into(),
        ..AuditNote::default()
    };
    let upstream = upstream::requested(params.git_credentials.as_ref())?;
    let name = params.name;
    let _guard = lock_project(&name).await;
    let mut record = app.store.project(&name).await?;
    let attached = upstream.is_some();
    if let Some(upstream) = upstream {
        attach_upstream(&app, &mut record, upstream).await?;
    }
    let Some(encoded) = params.shipyard.as_deref().filter(|s| !s.trim().is_empty()) else {
        let note = if attached {
            AuditNote {
                detail: "gitCredentials".into(),
                ..note
            }
        } else {
            AuditNote::default()
        };
        return Ok((Extension(note), Json(json!({}))));
    };
    let bytes = decode_base64("shipyard", encoded)?;
    let (shipyard, text) = {
        let (record, bytes) = (record.clone(), bytes.clone());
        blocking("checking a shipyard did not finish", move || {
            check_shipyard_update(&record, &bytes)
        })
        .await?
    };
    let commit = write_shipyard(&app, &record, bytes).await?;
    if let Err(e) = record_shipyard(&app, &record, shipyard, text).await {
        restore_shipyard(&app, &record).await;
        return Err(e);
    }
    drop(commit);
    upstream::push_after_write(&app, &name).await?;
    Ok((Extension(note), Json(json!({}))))
}

/// Attaches (or re-attaches with new credentials) an upstream to an existing project: the
/// first sync must succeed before anything is stored; a new URL starts from no sync state.
async fn attach_upstream(
    app: &App,
    record: &mut ProjectRecord,
    upstream: upstream::Upstream,
) -> Result<(), ApiError> {
    let old_url = record
        .git_upstream
        .as_ref()
        .and_then(|v| v["remoteURL"].as_str())
        .unwrap_or("")
        .to_owned();
    if old_url != upstream.url {
        let project = record.name.clone();
        with_resources(app, move |r| r.forget_upstream(&project)).await?;
    }
    let view = crate::storage::upstream::secure_view(&upstream);
    let merge = upstream::sync_with(app, &record.name, upstream.clone(), FirstSync::Attach).await?;
    upstream::store_credentials(app, &record.name, Some(&upstream)).await?;
    let updated = ProjectRecord {
        git_upstream: Some(view),
        ..record.clone()
    };
    app.store.update_project(&updated).await?;
    *record = updated;
    tracing::info!(project = %record.name, url = %upstream.url, pulled = merge.pulled, pushed = merge.push.len(), "git upstream attached");
    Ok(())
}

async fn write_shipyard(
    app: &App,
    record: &ProjectRecord,
    bytes: Vec<u8>,
) -> Result<sluice_resources::CommitId, ApiError> {
    let project = record.name.clone();
    with_resources(app, move |r| {
        r.put_resources(
            Scope::project(&project),
            &[Upload {
                uri: SHIPYARD_URI,
                content: &bytes,
            }],
        )
    })
    .await
}

/// Puts the recorded shipyard back into the repository after a failed update.
pub async fn restore_shipyard(app: &App, record: &ProjectRecord) {
    if let Err(e) = write_shipyard(app, record, record.shipyard.clone().into_bytes()).await {
        tracing::error!(project = %record.name, message = %e.message, "rollback: shipyard.yaml not restored");
    }
}

async fn delete_project(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let _guard = lock_project(&name).await;
    app.store.delete_project(&name).await?;
    let project = name.clone();
    let repo = with_resources(&app, move |r| match r.delete_project(&project) {
        Err(ResourceError::ProjectNotFound) => Ok(()),
        other => other,
    })
    .await;
    app.driver.shipyard_changed(name.clone(), None).await;
    if let Err(e) = upstream::store_credentials(&app, &name, None).await {
        tracing::error!(project = %name, message = %e.message, "the git credentials of a deleted project were not removed");
    }
    repo?;
    Ok(Json(json!({
        "message": format!(
            "Project {name} deleted: its repository, services, sequences and events were \
             removed. Deployments made by integrations (Helm releases, namespaces) were not \
             removed; clean them up separately."
        )
    })))
}

// ---------------------------------------------------------------------------------------------
// Services.

async fn create_service(
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Json(params): Json<ServiceParams>,
) -> Result<(Extension<AuditNote>, Json<Value>), ApiError> {
    let service = params.service_name;
    if service.is_empty() {
        return Err(ApiError::bad_request("must provide a service name"));
    }
    names::check_service(&service).map_err(ApiError::bad_request)?;
    let _guard = lock_project(&project).await;
    app.store.project(&project).await?;
    // One indexed look-up, not the list of the project's services.
    if app.store.scope(&project, "", &service).await?.service {
        return Err(ApiError::conflict("service already exists"));
    }
    let keptn_context = ids::fresh();
    let data = json!({"project": project, "service": service});
    emit(
        &app,
        LifecycleEntity::Service,
        LifecycleAction::Create,
        LifecyclePhase::Started,
        &keptn_context,
        data.clone(),
    )
    .await?;
    let outcome = create_service_steps(&app, &project, &service).await;
    emit_finished(
        &app,
        LifecycleEntity::Service,
        LifecycleAction::Create,
        &keptn_context,
        finished_data(data, &outcome),
    )
    .await;
    outcome?;
    upstream::push_after_write(&app, &project).await?;
    let note = AuditNote {
        action: "service.create".into(),
        project,
        service,
        keptn_context,
        ..AuditNote::default()
    };
    Ok((Extension(note), Json(json!({"message": ""}))))
}

async fn create_service_steps(app: &App, project: &str, service: &str) -> Result<(), ApiError> {
    let (p, s) = (project.to_owned(), service.to_owned());
    with_resources(app, move |r| match r.create_service(&p, &s) {
        // Left over from an unfinished creation: the record decides.
        Err(ResourceError::AlreadyExists(_)) => Ok(()),
        other => other.map(|_| ()),
    })
    .await?;
    if let Err(e) = app
        .store
        .create_service(project, service, &creation_date())
        .await
    {
        let (p, s) = (project.to_owned(), service.to_owned());
        if let Err(undo) = with_resources(app, move |r| r.delete_service(&p, &s)).await {
            tracing::error!(project, service, message = %undo.message, "rollback: service directories not removed");
        }
        return Err(e.into());
    }
    Ok(())
}

async fn delete_service(
    State(app): State<Arc<App>>,
    Path((project, service)): Path<(String, String)>,
) -> Result<(Extension<AuditNote>, Json<Value>), ApiError> {
    let _guard = lock_project(&project).await;
    app.store.project(&project).await?;
    if !app
        .store
        .services(&project)
        .await?
        .iter()
        .any(|s| s.name == service)
    {
        return Err(ApiError::not_found("service not found"));
    }
    let keptn_context = ids::fresh();
    let data = json!({"project": project, "service": service});
    emit(
        &app,
        LifecycleEntity::Service,
        LifecycleAction::Delete,
        LifecyclePhase::Started,
        &keptn_context,
        data.clone(),
    )
    .await?;
    let outcome = delete_service_steps(&app, &project, &service).await;
    emit_finished(
        &app,
        LifecycleEntity::Service,
        LifecycleAction::Delete,
        &keptn_context,
        finished_data(data, &outcome),
    )
    .await;
    outcome?;
    upstream::push_after_write(&app, &project).await?;
    let note = AuditNote {
        action: "service.delete".into(),
        project,
        service,
        keptn_context,
        ..AuditNote::default()
    };
    Ok((Extension(note), Json(json!({"message": ""}))))
}

/// Record first (so the service is gone for readers even if the repository fails), then the
/// directories.
async fn delete_service_steps(app: &App, project: &str, service: &str) -> Result<(), ApiError> {
    app.store.delete_service(project, service).await?;
    let (p, s) = (project.to_owned(), service.to_owned());
    with_resources(app, move |r| match r.delete_service(&p, &s) {
        Err(ResourceError::ServiceNotFound) => Ok(()),
        other => other.map(|_| ()),
    })
    .await
}

/// A server on a fresh data directory, driven through the router (shared with the resource
/// API's tests).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testkit::{FULLTOUR, TestServer, b64};
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

    #[test]
    fn parent_stages_come_from_triggers() {
        let parents = parent_stages(FULLTOUR);
        assert_eq!(parents["qa"], Vec::<String>::new());
        assert_eq!(parents["production"], ["qa"]);
    }
}
