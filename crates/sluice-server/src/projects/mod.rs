//! Projects and their services: creating, updating and deleting them, the shipyard (parsed,
//! checked against the project's stages, written and recorded), the lifecycle events Keptn's
//! shipyard-controller sent for each change, and the stages with their services as readers
//! see them. `upstream` syncs a project with its git upstream.
//!
//! The project record in the store is the authority on whether a project exists; its git
//! repository is created before the record and removed after it, and every change of a
//! project's structure holds the project's lock (see [`lock_project`]), so a failed step
//! can be rolled back without racing another request.

pub mod upstream;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use serde_json::{Value, json};
use sluice_model::event::kind::{LifecycleAction, LifecycleEntity, LifecyclePhase};
use sluice_model::event::{EventType, KeptnEvent};
use sluice_model::names;
use sluice_model::shipyard::{self, Shipyard};
use sluice_resources::{CommitId, FirstSync, ResourceError, ResourceStore, Scope, Upload};
use sluice_store::{ProjectRecord, ServiceStageRecord};
use tokio::sync::OwnedMutexGuard;

use crate::runtime::{clock, ids};
use crate::state::App;
use upstream::Upstream;

/// The source Keptn's shipyard-controller put on the lifecycle events it sent.
pub const SHIPYARD_CONTROLLER: &str = "shipyard-controller";

/// The project-level resource holding the shipyard.
pub const SHIPYARD_URI: &str = "shipyard.yaml";

/// Keptn's answer to a shipyard update that changes the stages.
pub const STAGE_CHANGE_MESSAGE: &str =
    "invalid stage change: stages cannot be added, removed or renamed";

/// Why a change or a read of a project failed. Keptn's clients recognise some of these by
/// their text, so the phrases are Keptn's.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is wrong: an invalid shipyard or name, a stage change.
    #[error("{0}")]
    Invalid(String),
    /// The project exists already.
    #[error("project already exists")]
    ProjectExists,
    /// The service exists already.
    #[error("service already exists")]
    ServiceExists,
    /// The project has no such stage.
    #[error("stage not found")]
    StageNotFound,
    /// The project has no such service.
    #[error("service not found")]
    ServiceNotFound,
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] sluice_store::Error),
    /// The project's repository failed or refused.
    #[error(transparent)]
    Resources(#[from] ResourceError),
    /// The sync with the project's git upstream failed.
    #[error(transparent)]
    Upstream(#[from] upstream::Error),
    /// Work on the blocking pool did not finish (what it was, and why).
    #[error("{what}")]
    Unfinished {
        /// What did not finish.
        what: &'static str,
        /// Why.
        #[source]
        source: tokio::task::JoinError,
    },
    /// A lifecycle `.started` event could not be stored.
    #[error("a lifecycle event could not be stored")]
    Lifecycle(#[source] crate::runtime::driver::Error),
}

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
pub async fn with_resources<T, F>(app: &App, f: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: FnOnce(&ResourceStore) -> Result<T, ResourceError> + Send + 'static,
{
    let store = app.resources.clone();
    Ok(tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|source| Error::Unfinished {
            what: "a repository operation did not finish",
            source,
        })??)
}

/// Decodes Keptn's base64 content (standard alphabet; surrounding whitespace tolerated).
pub fn decode_base64(what: &str, text: &str) -> Result<Vec<u8>, Error> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| Error::Invalid(format!("{what} is not valid base64: {e}")))
}

// ---------------------------------------------------------------------------------------------
// The shipyard.

/// Parses a shipyard and refuses it when it has errors, listing every one
/// (`line:col: path: message`, joined by `; `).
pub fn parse_shipyard(bytes: &[u8]) -> Result<(Shipyard, String), Error> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::Invalid(format!("the shipyard is not UTF-8 text: {e}")))?;
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
        _ if errors.is_empty() => Err(Error::Invalid("invalid shipyard".into())),
        _ => Err(Error::Invalid(format!(
            "invalid shipyard: {}",
            errors.join("; ")
        ))),
    }
}

/// Runs a shipyard check on the blocking pool, so that a big or hostile file never holds an
/// async worker.
async fn off_thread<F>(check: F) -> Result<(Shipyard, String), Error>
where
    F: FnOnce() -> Result<(Shipyard, String), Error> + Send + 'static,
{
    tokio::task::spawn_blocking(check)
        .await
        .map_err(|source| Error::Unfinished {
            what: "checking a shipyard did not finish",
            source,
        })?
}

/// [`parse_shipyard`] on the blocking pool.
pub async fn parse_shipyard_off_thread(bytes: Vec<u8>) -> Result<(Shipyard, String), Error> {
    off_thread(move || parse_shipyard(&bytes)).await
}

fn stage_names(shipyard: &Shipyard) -> Vec<String> {
    shipyard.stages.iter().map(|s| s.name.clone()).collect()
}

/// Checks a new shipyard for an existing project: valid, and exactly the same stages.
pub fn check_shipyard_update(
    record: &ProjectRecord,
    bytes: &[u8],
) -> Result<(Shipyard, String), Error> {
    let (shipyard, text) = parse_shipyard(bytes)?;
    if stage_names(&shipyard) != record.stages {
        return Err(Error::Invalid(STAGE_CHANGE_MESSAGE.into()));
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
) -> Result<(), Error> {
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

async fn write_shipyard(
    app: &App,
    record: &ProjectRecord,
    bytes: Vec<u8>,
) -> Result<CommitId, Error> {
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
async fn restore_shipyard(app: &App, record: &ProjectRecord) {
    if let Err(e) = write_shipyard(app, record, record.shipyard.clone().into_bytes()).await {
        tracing::error!(project = %record.name, message = %e, "rollback: shipyard.yaml not restored");
    }
}

/// A shipyard update under the project's lock: checked against the project's stages, written
/// by `write` (with other files, or alone), recorded (the recorded shipyard is put back when
/// that fails) and pushed to the upstream. Answers what `write` gave.
pub async fn update_shipyard<T, F>(
    app: &App,
    project: &str,
    shipyard: Vec<u8>,
    write: F,
) -> Result<T, Error>
where
    T: Send + 'static,
    F: FnOnce(&ResourceStore) -> Result<T, ResourceError> + Send + 'static,
{
    let _guard = lock_project(project).await;
    let record = app.store.project(project).await?;
    let checked = record.clone();
    let (parsed, text) = off_thread(move || check_shipyard_update(&checked, &shipyard)).await?;
    let written = with_resources(app, write).await?;
    if let Err(e) = record_shipyard(app, &record, parsed, text).await {
        restore_shipyard(app, &record).await;
        return Err(e);
    }
    upstream::push_after_write(app, project).await?;
    Ok(written)
}

// ---------------------------------------------------------------------------------------------
// Lifecycle events.

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
) -> Result<(), Error> {
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
        .submit_named(event)
        .await
        .map(|_| ())
        .map_err(Error::Lifecycle)
}

/// Runs `steps` between the lifecycle `.started` and `.finished` events of one change, in a
/// fresh context: `.started` must be stored before anything is done; `.finished` carries the
/// outcome (with `extra` fields added), and a failure to store it is logged, not answered
/// (the change itself has happened), as Keptn did. Answers the context.
async fn lifecycle(
    app: &App,
    entity: LifecycleEntity,
    action: LifecycleAction,
    data: Value,
    extra: Option<(&str, Value)>,
    steps: impl Future<Output = Result<(), Error>>,
) -> Result<String, Error> {
    let keptn_context = ids::fresh();
    emit(
        app,
        entity,
        action,
        LifecyclePhase::Started,
        &keptn_context,
        data.clone(),
    )
    .await?;
    let outcome = steps.await;
    let mut finished = finished_data(data, &outcome);
    if let (Some((key, value)), Some(map)) = (extra, finished.as_object_mut()) {
        map.insert(key.into(), value);
    }
    if let Err(e) = emit(
        app,
        entity,
        action,
        LifecyclePhase::Finished,
        &keptn_context,
        finished,
    )
    .await
    {
        tracing::error!(error = %e, "lifecycle .finished event not stored");
    }
    outcome.map(|()| keptn_context)
}

/// The `.finished` event's data: the `.started` data with the outcome; a failure's message is
/// what the client is answered.
fn finished_data(mut data: Value, outcome: &Result<(), Error>) -> Value {
    let (status, result, message) = match outcome {
        Ok(()) => ("succeeded", "pass", String::new()),
        Err(e) => ("errored", "fail", crate::error::message(e)),
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

// ---------------------------------------------------------------------------------------------
// Projects.

/// A project to create: a checked name, its parsed shipyard, and how it was sent.
pub struct NewProject {
    /// The project's name (checked by [`names::check_project`]).
    pub name: String,
    /// The parsed shipyard.
    pub shipyard: Shipyard,
    /// Its text.
    pub text: String,
    /// Its bytes, as written to the repository.
    pub bytes: Vec<u8>,
    /// The base64 form the client sent (without surrounding white space), repeated in the
    /// `.finished` event.
    pub encoded: String,
    /// The git upstream to push the new project to.
    pub upstream: Option<Upstream>,
}

/// Creates a project between its lifecycle events; answers the events' context.
pub async fn create_project(app: &App, new: NewProject) -> Result<String, Error> {
    let name = new.name.clone();
    let _guard = lock_project(&name).await;
    match app.store.project(&name).await {
        Ok(_) => return Err(Error::ProjectExists),
        Err(sluice_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    // A repository without a record is the leftover of a creation that crashed half-way
    // (never acknowledged): the record decides, so it goes.
    let orphan = name.clone();
    with_resources(app, move |r| {
        if r.project_exists(&orphan) {
            tracing::warn!(project = %orphan, "removing the repository of an unfinished project creation");
            r.delete_project(&orphan)?;
        }
        Ok(())
    })
    .await?;

    let remote_url = new
        .upstream
        .as_ref()
        .map(|u| u.url.clone())
        .unwrap_or_default();
    let created = json!({"projectName": name, "gitRemoteURL": remote_url, "shipyard": new.encoded});
    lifecycle(
        app,
        LifecycleEntity::Project,
        LifecycleAction::Create,
        json!({"project": name}),
        Some(("createdProject", created)),
        create_project_steps(app, new),
    )
    .await
}

/// Repository, then the upstream (credentials stored, first push), then record; on failure
/// whatever was made is removed again.
async fn create_project_steps(app: &App, new: NewProject) -> Result<(), Error> {
    let NewProject {
        name,
        shipyard,
        text,
        bytes,
        upstream,
        ..
    } = new;
    let name = name.as_str();
    let stages = stage_names(&shipyard);
    let (project, repo_stages) = (name.to_owned(), stages.clone());
    with_resources(app, move |r| {
        let stages: Vec<&str> = repo_stages.iter().map(String::as_str).collect();
        r.create_project(&project, &stages, &bytes)
    })
    .await?;
    let git_upstream = upstream.as_ref().map(crate::storage::upstream::secure_view);
    let undo = async |app: &App| {
        let project = name.to_owned();
        if let Err(undo) = with_resources(app, move |r| r.delete_project(&project)).await {
            tracing::error!(project = name, message = %undo, "rollback: repository not removed");
        }
        if let Err(undo) = upstream::store_credentials(app, name, None).await {
            tracing::error!(project = name, message = %undo, "rollback: git credentials not removed");
        }
    };
    if let Some(upstream) = upstream {
        let pushed = async {
            upstream::store_credentials(app, name, Some(&upstream)).await?;
            upstream::sync_with(app, name, upstream, FirstSync::Create)
                .await
                .map_err(Error::from)
        }
        .await;
        if let Err(e) = pushed {
            undo(app).await;
            return Err(e);
        }
    }
    let record = ProjectRecord {
        name: name.to_owned(),
        shipyard: text,
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
        .shipyard_changed(name.to_owned(), Some(Arc::new(shipyard)))
        .await;
    Ok(())
}

/// What an update of a project changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Updated {
    /// Nothing: no upstream and no shipyard were given.
    Nothing,
    /// The git upstream was attached (and no shipyard given).
    Upstream,
    /// The shipyard (and the upstream, when one was given).
    Shipyard,
}

/// Updates a project: attaches the upstream when one is given, then takes the new shipyard
/// (base64, as Keptn sent it) when one is given (same stages), and pushes.
pub async fn update_project(
    app: &App,
    name: &str,
    upstream: Option<Upstream>,
    shipyard: Option<&str>,
) -> Result<Updated, Error> {
    let _guard = lock_project(name).await;
    let mut record = app.store.project(name).await?;
    let attached = upstream.is_some();
    if let Some(upstream) = upstream {
        attach_upstream(app, &mut record, upstream).await?;
    }
    let Some(encoded) = shipyard else {
        return Ok(if attached {
            Updated::Upstream
        } else {
            Updated::Nothing
        });
    };
    let bytes = decode_base64("shipyard", encoded)?;
    let (shipyard, text) = {
        let (record, bytes) = (record.clone(), bytes.clone());
        off_thread(move || check_shipyard_update(&record, &bytes)).await?
    };
    let commit = write_shipyard(app, &record, bytes).await?;
    if let Err(e) = record_shipyard(app, &record, shipyard, text).await {
        restore_shipyard(app, &record).await;
        return Err(e);
    }
    drop(commit);
    upstream::push_after_write(app, name).await?;
    Ok(Updated::Shipyard)
}

/// Attaches (or re-attaches with new credentials) an upstream to an existing project: the
/// first sync must succeed before anything is stored; a new URL starts from no sync state.
async fn attach_upstream(
    app: &App,
    record: &mut ProjectRecord,
    upstream: Upstream,
) -> Result<(), Error> {
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

/// Deletes a project: its record, its repository, its engine state and its upstream
/// credentials.
pub async fn delete_project(app: &App, name: &str) -> Result<(), Error> {
    let _guard = lock_project(name).await;
    app.store.delete_project(name).await?;
    let project = name.to_owned();
    let repo = with_resources(app, move |r| match r.delete_project(&project) {
        Err(ResourceError::ProjectNotFound) => Ok(()),
        other => other,
    })
    .await;
    app.driver.shipyard_changed(name.to_owned(), None).await;
    if let Err(e) = upstream::store_credentials(app, name, None).await {
        tracing::error!(project = %name, message = %e, "the git credentials of a deleted project were not removed");
    }
    repo
}

// ---------------------------------------------------------------------------------------------
// Services.

/// Whether a service is created or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServiceChange {
    Create,
    Delete,
}

/// Creates a service in every stage between its lifecycle events, and pushes; answers the
/// events' context.
pub async fn create_service(app: &App, project: &str, service: &str) -> Result<String, Error> {
    if service.is_empty() {
        return Err(Error::Invalid("must provide a service name".into()));
    }
    names::check_service(service).map_err(Error::Invalid)?;
    change_service(app, project, service, ServiceChange::Create).await
}

/// Deletes a service from every stage between its lifecycle events, and pushes; answers the
/// events' context.
pub async fn delete_service(app: &App, project: &str, service: &str) -> Result<String, Error> {
    change_service(app, project, service, ServiceChange::Delete).await
}

async fn change_service(
    app: &App,
    project: &str,
    service: &str,
    change: ServiceChange,
) -> Result<String, Error> {
    let _guard = lock_project(project).await;
    app.store.project(project).await?;
    let action = match change {
        ServiceChange::Create => {
            // One indexed look-up, not the list of the project's services.
            if app.store.scope(project, "", service).await?.service {
                return Err(Error::ServiceExists);
            }
            LifecycleAction::Create
        }
        ServiceChange::Delete => {
            if !app
                .store
                .services(project)
                .await?
                .iter()
                .any(|s| s.name == service)
            {
                return Err(Error::ServiceNotFound);
            }
            LifecycleAction::Delete
        }
    };
    let steps = async {
        match change {
            ServiceChange::Create => create_service_steps(app, project, service).await,
            ServiceChange::Delete => delete_service_steps(app, project, service).await,
        }
    };
    let keptn_context = lifecycle(
        app,
        LifecycleEntity::Service,
        action,
        json!({"project": project, "service": service}),
        None,
        steps,
    )
    .await?;
    upstream::push_after_write(app, project).await?;
    Ok(keptn_context)
}

async fn create_service_steps(app: &App, project: &str, service: &str) -> Result<(), Error> {
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
            tracing::error!(project, service, message = %undo, "rollback: service directories not removed");
        }
        return Err(e.into());
    }
    Ok(())
}

/// Record first (so the service is gone for readers even if the repository fails), then the
/// directories.
async fn delete_service_steps(app: &App, project: &str, service: &str) -> Result<(), Error> {
    app.store.delete_service(project, service).await?;
    let (p, s) = (project.to_owned(), service.to_owned());
    with_resources(app, move |r| match r.delete_service(&p, &s) {
        Err(ResourceError::ServiceNotFound) => Ok(()),
        other => other.map(|_| ()),
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Reads.

/// A stage as readers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// Name.
    pub name: String,
    /// Stages whose sequences trigger sequences of this one (from `triggeredOn`).
    pub parent_stages: Vec<String>,
    /// The services, sorted by name.
    pub services: Vec<ServiceStageRecord>,
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

/// The project's stages in shipyard order, with their parents and services.
pub async fn stages(app: &App, record: &ProjectRecord) -> Result<Vec<Stage>, Error> {
    let mut by_stage: HashMap<String, Vec<ServiceStageRecord>> = HashMap::new();
    for ss in app.store.service_stages(&record.name).await? {
        by_stage.entry(ss.stage.clone()).or_default().push(ss);
    }
    let mut parents = parent_stages(&record.shipyard);
    Ok(record
        .stages
        .iter()
        .map(|name| Stage {
            name: name.clone(),
            parent_stages: parents.remove(name).unwrap_or_default(),
            services: by_stage.remove(name).unwrap_or_default(),
        })
        .collect())
}

/// One stage of a project.
pub async fn stage(app: &App, project: &str, stage: &str) -> Result<Stage, Error> {
    let record = app.store.project(project).await?;
    stages(app, &record)
        .await?
        .into_iter()
        .find(|s| s.name == stage)
        .ok_or(Error::StageNotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testkit::FULLTOUR;

    #[test]
    fn parent_stages_come_from_triggers() {
        let parents = parent_stages(FULLTOUR);
        assert_eq!(parents["qa"], Vec::<String>::new());
        assert_eq!(parents["production"], ["qa"]);
    }
}
