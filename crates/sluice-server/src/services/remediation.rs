//! The built-in remediation service (Keptn's remediation-service, get-action): answers
//! `get-action.triggered` with the next action of `remediation.yaml` for the problem.
//!
//! - Sends `get-action.started`, then reads the service's `remediation.yaml` in the stage (the
//!   stage's file when the event names no service, as Keptn did) AT the event's `gitcommitid`.
//!   Keptn's service asked the resource service with `?commitID=`, which it ignored, so it
//!   always read the branch head; sluice reads the pinned commit, so a run is not changed by an
//!   upload in the middle of it (and handling the same event twice gives the same answer).
//! - Missing file: `errored`/`fail` "unable to get remediation.yaml: remediation.yaml not
//!   found ...". Parse errors: `errored`/`fail` with the diagnostics.
//! - The action: `problem.rootCause`, else `problem.problemTitle`, else `default`
//!   ([`Remediation::select_action`]) at `get-action.actionIndex` (absent = 0).
//!   Found: `succeeded`/`pass` with `action` and `get-action.actionIndex = index + 1`.
//!   None left: `succeeded`/`fail` with Keptn's message, so the remediation loop stops.
//! - Unlike Keptn (whose error answers carried only status, result and a fixed message),
//!   every answer echoes project, stage, service, labels and the problem, and error messages
//!   include the reason Keptn only logged.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use sluice_model::diagnostic::Severity;
use sluice_model::event::data::GetActionTriggeredEventData;
use sluice_model::event::kind::GET_ACTION_TRIGGERED;
use sluice_model::event::{KeptnEvent, TaskEventKind};
use sluice_model::remediation::{Remediation, SelectError};
use sluice_resources::{ResourceError, ResourceStore, Scope};
use sluice_store::Store;

use crate::runtime::bus::Bus;
use crate::runtime::driver::DriverHandle;
use crate::services::feed::Feed;

/// The `source` of the events this service sends (Keptn's service name).
pub const SOURCE: &str = "remediation-service";
/// Where the remediation file lives (service level of a stage).
pub const REMEDIATION_URI: &str = "remediation.yaml";

/// Subscribes to the bus now and answers get-action requests in a background task.
pub fn start(bus: &Bus, driver: DriverHandle, store: Arc<Store>, resources: Arc<ResourceStore>) {
    let feed = Feed::new(
        bus.subscribe_triggered(),
        driver.clone(),
        store.clone(),
        Some(GET_ACTION_TRIGGERED),
        SOURCE,
    );
    let answer = move |e: Arc<KeptnEvent>| {
        let r = resources.clone();
        async move {
            let file = read_file(&r, &e).await;
            answers(&e, &file)
        }
    };
    tokio::spawn(super::answer_each(
        feed,
        driver,
        store,
        GET_ACTION_TRIGGERED,
        SOURCE,
        "get-action",
        answer,
    ));
}

/// What reading `remediation.yaml` gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRead {
    /// The file's text.
    Found(String),
    /// There is no such file (at that commit).
    NotFound,
    /// Something else went wrong (the message says what).
    Failed(String),
}

/// Reads `remediation.yaml` for the event's project, stage and service at its commit.
pub async fn read_file(resources: &Arc<ResourceStore>, triggered: &KeptnEvent) -> FileRead {
    let data = triggered.data.clone().unwrap_or(Value::Null);
    let field = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (p, st, sv) = (field("project"), field("stage"), field("service"));
    let at = triggered.gitcommitid.clone().filter(|c| !c.is_empty());
    let r = resources.clone();
    let read = tokio::task::spawn_blocking(move || {
        let scope = if sv.is_empty() {
            Scope::stage(&p, &st)
        } else {
            Scope::service(&p, &st, &sv)
        };
        r.get_resource(scope, REMEDIATION_URI, at.as_deref())
    })
    .await;
    match read {
        Ok(Ok(resource)) => match String::from_utf8(resource.content) {
            Ok(text) => FileRead::Found(text),
            Err(_) => FileRead::Failed("remediation.yaml is not UTF-8 text".to_owned()),
        },
        Ok(Err(ResourceError::ResourceNotFound)) => FileRead::NotFound,
        Ok(Err(e)) => FileRead::Failed(e.to_string()),
        Err(e) => FileRead::Failed(e.to_string()),
    }
}

/// The outcome of one get-action request.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `status` of the `.finished` event.
    pub status: &'static str,
    /// `result` of the `.finished` event.
    pub result: &'static str,
    /// `message` (empty on success).
    pub message: String,
    /// The chosen action and the next index, on success.
    pub action: Option<(Value, i64)>,
}

impl Outcome {
    fn failed(status: &'static str, message: String) -> Self {
        Outcome {
            status,
            result: "fail",
            message,
            action: None,
        }
    }
}

/// Decides the answer to a `get-action.triggered` payload given the remediation file.
pub fn decide(data: &Value, file: &FileRead) -> Outcome {
    let request = match GetActionTriggeredEventData::from_data(data) {
        Ok(r) => r,
        Err(e) => {
            return Outcome::failed(
                "errored",
                format!("unable to decode the get-action.triggered data: {e}"),
            );
        }
    };
    let b = &request.base;
    let text = match file {
        FileRead::Found(text) => text,
        FileRead::NotFound => {
            let whose = if b.service.is_empty() {
                format!("stage {} of project {}", b.stage, b.project)
            } else {
                format!(
                    "service {} in stage {} of project {}",
                    b.service, b.stage, b.project
                )
            };
            return Outcome::failed(
                "errored",
                format!("unable to get remediation.yaml: remediation.yaml not found for {whose}"),
            );
        }
        FileRead::Failed(e) => {
            return Outcome::failed("errored", format!("unable to get remediation.yaml: {e}"));
        }
    };
    let remediation = match parsed(text) {
        Ok(r) => r,
        Err(problems) => {
            return Outcome::failed(
                "errored",
                format!("unable to parse remediation.yaml: {problems}"),
            );
        }
    };
    let problem = &request.problem;
    let index = request.get_action.action_index;
    // A negative index (Keptn's Go code would have panicked) selects nothing: looking up
    // index `usize::MAX` still tells a missing problem type from a missing action.
    let chosen = remediation.select_action(
        &problem.problem_title,
        &problem.root_cause,
        usize::try_from(index).unwrap_or(usize::MAX),
    );
    match chosen {
        Ok(action) => {
            let mut info = Map::new();
            info.insert("name".into(), json!(action.name));
            info.insert("action".into(), json!(action.action));
            // go-utils' ActionInfo: description and value are omitempty.
            if !action.description.is_empty() {
                info.insert("description".into(), json!(action.description));
            }
            if !action.value.is_null() {
                info.insert("value".into(), action.value.clone());
            }
            Outcome {
                status: "succeeded",
                result: "pass",
                message: String::new(),
                action: Some((Value::Object(info), index + 1)),
            }
        }
        Err(e) => {
            let reason = match (&e, index < 0) {
                (SelectError::NoActionWithIndex { root_cause, .. }, true) => format!(
                    "failed to get action for root cause {root_cause}. There is no action with index {index}"
                ),
                _ => e.to_string(),
            };
            Outcome::failed(
                "succeeded",
                format!("unable to get next action from remediation.yaml: {reason}"),
            )
        }
    }
}

/// Parses the file; every error diagnostic (what Keptn rejected) is reported.
fn parsed(text: &str) -> Result<Remediation, String> {
    let parsed = sluice_model::remediation::parse(text);
    let errors: Vec<String> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.render(REMEDIATION_URI))
        .collect();
    match parsed.value {
        Some(r) if errors.is_empty() => Ok(r),
        _ if errors.is_empty() => Err("remediation.yaml could not be read".to_owned()),
        _ => Err(errors.join("; ")),
    }
}

/// The events to send for one `get-action.triggered` event (ids derived from its id, so
/// handling it twice changes nothing).
pub fn answers(triggered: &KeptnEvent, file: &FileRead) -> Vec<KeptnEvent> {
    let data = triggered.data.clone().unwrap_or(Value::Null);
    let outcome = decide(&data, file);
    let answer = |kind, data| super::answer_task(triggered, SOURCE, "get-action", kind, data);
    let mut base = Map::new();
    for key in ["project", "stage", "service", "labels"] {
        if let Some(v) = data.get(key) {
            base.insert(key.to_owned(), v.clone());
        }
    }
    let mut started = base.clone();
    started.insert("status".into(), json!("succeeded"));
    let mut finished = base;
    finished.insert("status".into(), json!(outcome.status));
    finished.insert("result".into(), json!(outcome.result));
    if !outcome.message.is_empty() {
        finished.insert("message".into(), json!(outcome.message));
    }
    if let Some((action, next)) = outcome.action {
        finished.insert("action".into(), action);
        finished.insert("get-action".into(), json!({"actionIndex": next}));
    }
    if let Some(problem) = data.get("problem") {
        finished.insert("problem".into(), problem.clone());
    }
    vec![
        answer(TaskEventKind::Started, Value::Object(started)),
        answer(TaskEventKind::Finished, Value::Object(finished)),
    ]
}

#[cfg(test)]
pub(crate) mod tests;
