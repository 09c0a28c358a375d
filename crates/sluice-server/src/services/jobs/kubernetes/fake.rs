//! A fake Kubernetes API server for the backend's tests (axum on 127.0.0.1:0): the REST calls
//! the backend makes, with the shapes the API publishes (`Job`, `PodList`, `EventList`,
//! `Status` with `AlreadyExists`/`NotFound`, plain-text logs that answer 400 while a container
//! waits). Each Job follows a script of [`Phase`]s chosen by its image: every GET of the Job
//! shows the next phase (the last one repeats), and its pod and events follow the phase last
//! shown. Every request is recorded, and [`FakeCluster::wait_until`] lets a test wait for a
//! state instead of sleeping.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::watch;

/// A namespace where creating Jobs is forbidden (as without a RoleBinding there).
pub const FORBIDDEN_NAMESPACE: &str = "locked";

/// A namespace where Jobs can be created but not read (a Role without `get`).
pub const BLIND_NAMESPACE: &str = "blind";

/// Where a scripted Job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// No pod (yet): the Job controller could not create one when the script has a
    /// `FailedCreate` message.
    NoPod,
    /// The pod is being created.
    Pending,
    /// The task container waits for this reason (`ImagePullBackOff`, ...).
    Waiting(&'static str, &'static str),
    /// The task container runs.
    Running,
    /// It exited 0; the Job is `Complete`.
    Succeeded,
    /// It exited with this code; the Job is `Failed` (`BackoffLimitExceeded`).
    Exited(i32),
    /// The Job passed `activeDeadlineSeconds`; the pod was killed.
    DeadlineExceeded,
    /// The init container (`init-<job>`) exited with this code; the task container never
    /// started; the Job is `Failed` (`BackoffLimitExceeded`).
    InitFailed(i32),
}

/// What a Job with a given image does.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// The phases, one per GET of the Job.
    pub phases: Vec<Phase>,
    /// What the task container printed.
    pub logs: String,
    /// What the init container printed.
    pub init_logs: String,
    /// The message of a `FailedCreate` event shown while there is no pod.
    pub failed_create: Option<String>,
}

#[derive(Debug)]
struct FakeJob {
    object: Value,
    script: Script,
    next: usize,
    shown: Option<usize>,
}

impl FakeJob {
    fn phase(&self) -> Option<&Phase> {
        self.shown.and_then(|i| self.script.phases.get(i))
    }
}

/// Everything the fake holds.
#[derive(Debug, Default)]
pub struct Cluster {
    scripts: HashMap<String, Script>,
    jobs: BTreeMap<String, FakeJob>,
    objects: BTreeMap<(String, String), Value>,
    /// Every request, as `METHOD kind name` (deletes of Jobs with `propagation=...`).
    pub requests: Vec<String>,
    /// Every object created, as `(kind, object)`, kept after it is deleted.
    pub created: Vec<(String, Value)>,
    uids: u64,
}

impl Cluster {
    /// Requests whose text starts with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.requests
            .iter()
            .filter(|r| r.starts_with(prefix))
            .count()
    }

    /// Whether a Job of this name exists.
    pub fn has_job(&self, name: &str) -> bool {
        self.jobs.contains_key(name)
    }

    /// The names of the Jobs.
    pub fn job_names(&self) -> Vec<String> {
        self.jobs.keys().cloned().collect()
    }

    /// The stored Job.
    pub fn job(&self, name: &str) -> Option<&Value> {
        self.jobs.get(name).map(|j| &j.object)
    }

    /// The phase a Job showed last.
    pub fn shown(&self, name: &str) -> Option<Phase> {
        self.jobs.get(name).and_then(|j| j.phase().cloned())
    }

    /// ConfigMaps and Secrets, as `(kind, name)`.
    pub fn object_names(&self) -> Vec<(String, String)> {
        self.objects.keys().cloned().collect()
    }

    /// A stored ConfigMap or Secret.
    pub fn object(&self, kind: &str, name: &str) -> Option<&Value> {
        self.objects.get(&(kind.to_owned(), name.to_owned()))
    }
}

/// A running fake API server.
#[derive(Clone)]
pub struct FakeCluster {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<Cluster>>,
    changes: watch::Sender<u64>,
}

type Shared = (Arc<Mutex<Cluster>>, watch::Sender<u64>);

impl FakeCluster {
    /// Starts a server with the scripts by image (other images succeed at once with no
    /// output). Returns once it accepts connections.
    pub async fn start(scripts: impl IntoIterator<Item = (&'static str, Script)>) -> FakeCluster {
        let state = Arc::new(Mutex::new(Cluster {
            scripts: scripts
                .into_iter()
                .map(|(image, s)| (image.to_owned(), s))
                .collect(),
            ..Cluster::default()
        }));
        let (changes, _) = watch::channel(0u64);
        let shared: Shared = (state.clone(), changes.clone());
        let router = Router::new()
            .route("/apis/batch/v1/namespaces/{ns}/jobs", post(create_job))
            .route(
                "/apis/batch/v1/namespaces/{ns}/jobs/{name}",
                get(get_job).delete(delete_job),
            )
            .route("/api/v1/namespaces/{ns}/pods", get(list_pods))
            .route("/api/v1/namespaces/{ns}/pods/{pod}/log", get(pod_log))
            .route("/api/v1/namespaces/{ns}/events", get(list_events))
            .route(
                "/api/v1/namespaces/{ns}/{kind}",
                post(create_object).get(list_objects),
            )
            .route(
                "/api/v1/namespaces/{ns}/{kind}/{name}",
                axum::routing::delete(delete_object).patch(patch_object),
            )
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake API server");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeCluster {
            addr,
            state,
            changes,
        }
    }

    /// A client for it (namespace `default`).
    pub fn client(&self) -> kube::Client {
        let url = format!("http://{}", self.addr).parse().expect("url");
        kube::Client::try_from(kube::Config::new(url)).expect("client")
    }

    /// Reads the state.
    pub fn with<T>(&self, f: impl FnOnce(&Cluster) -> T) -> T {
        f(&self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Appends phases to a Job's script (to let a held Job go on).
    pub fn continue_job(&self, name: &str, phases: &[Phase]) {
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let job = state.jobs.get_mut(name).expect("a job to continue");
            job.script.phases.extend_from_slice(phases);
        }
        self.changes.send_modify(|n| *n += 1);
    }

    /// Waits (at most `limit`) until `ready` holds; panics with `what` otherwise.
    pub async fn wait_until(&self, what: &str, limit: Duration, ready: impl Fn(&Cluster) -> bool) {
        let mut rx = self.changes.subscribe();
        let waited = tokio::time::timeout(limit, async {
            loop {
                if self.with(&ready) {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        assert!(waited.is_ok(), "the fake API server never saw: {what}");
    }
}

fn note(shared: &Shared, request: String) -> std::sync::MutexGuard<'_, Cluster> {
    let mut state = shared.0.lock().unwrap_or_else(|p| p.into_inner());
    state.requests.push(request);
    state
}

fn changed(shared: &Shared) {
    shared.1.send_modify(|n| *n += 1);
}

fn status(code: StatusCode, reason: &str, message: String) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code.as_u16(),
    });
    (code, axum::Json(body)).into_response()
}

fn success() -> Response {
    axum::Json(json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"
    }))
    .into_response()
}

async fn create_job(
    State(shared): State<Shared>,
    Path(ns): Path<String>,
    axum::Json(mut job): axum::Json<Value>,
) -> Response {
    let name = job["metadata"]["name"].as_str().unwrap_or("").to_owned();
    let response = {
        let mut state = note(&shared, format!("POST jobs {name}"));
        if ns == FORBIDDEN_NAMESPACE {
            status(
                StatusCode::FORBIDDEN,
                "Forbidden",
                format!(
                    "jobs.batch is forbidden: User \"system:serviceaccount:sluice:sluice\" cannot create resource \"jobs\" in API group \"batch\" in the namespace \"{ns}\""
                ),
            )
        } else if state.jobs.contains_key(&name) {
            status(
                StatusCode::CONFLICT,
                "AlreadyExists",
                format!("jobs.batch \"{name}\" already exists"),
            )
        } else {
            state.uids += 1;
            job["metadata"]["uid"] = json!(format!("uid-{}", state.uids));
            job["metadata"]["namespace"] = json!(ns);
            job["metadata"]["resourceVersion"] = json!("1");
            job["status"] = json!({});
            let image = job["spec"]["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            let script = state.scripts.get(&image).cloned().unwrap_or(Script {
                phases: vec![Phase::Succeeded],
                ..Script::default()
            });
            let created = job.clone();
            state.created.push(("jobs".to_owned(), job.clone()));
            state.jobs.insert(
                name,
                FakeJob {
                    object: job,
                    script,
                    next: 0,
                    shown: None,
                },
            );
            (StatusCode::CREATED, axum::Json(created)).into_response()
        }
    };
    changed(&shared);
    response
}

fn job_status(phase: &Phase) -> Value {
    let condition = |type_: &str, reason: &str| json!({"type": type_, "status": "True", "reason": reason, "message": ""});
    match phase {
        Phase::NoPod => json!({}),
        Phase::Pending | Phase::Waiting(..) => json!({"active": 1, "ready": 0}),
        Phase::Running => json!({"active": 1, "ready": 1}),
        Phase::Succeeded => json!({"succeeded": 1, "conditions": [
            condition("SuccessCriteriaMet", "CompletionsReached"),
            condition("Complete", "CompletionsReached")]}),
        Phase::Exited(_) | Phase::InitFailed(_) => json!({"failed": 1, "conditions": [
            condition("FailureTarget", "BackoffLimitExceeded"),
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "Job has reached the specified backoff limit"}]}),
        Phase::DeadlineExceeded => json!({"failed": 1, "conditions": [
            {"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
             "message": "Job was active longer than specified deadline"}]}),
    }
}

async fn get_job(
    State(shared): State<Shared>,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    let response = {
        let mut state = note(&shared, format!("GET jobs {name}"));
        match state.jobs.get_mut(&name) {
            _ if ns == BLIND_NAMESPACE => status(
                StatusCode::FORBIDDEN,
                "Forbidden",
                format!(
                    "jobs.batch \"{name}\" is forbidden: User \"system:serviceaccount:sluice:sluice\" cannot get resource \"jobs\" in API group \"batch\" in the namespace \"{ns}\""
                ),
            ),
            None => status(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("jobs.batch \"{name}\" not found"),
            ),
            Some(job) => {
                let last = job.script.phases.len().saturating_sub(1);
                let index = job.next.min(last);
                job.next = index + 1;
                job.shown = Some(index);
                let mut object = job.object.clone();
                if let Some(phase) = job.phase() {
                    object["status"] = job_status(phase);
                }
                axum::Json(object).into_response()
            }
        }
    };
    changed(&shared);
    response
}

async fn delete_job(
    State(shared): State<Shared>,
    Path((_, name)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let options: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let policy = options["propagationPolicy"].as_str().unwrap_or("none");
    let response = {
        let mut state = note(&shared, format!("DELETE jobs {name} propagation={policy}"));
        match state.jobs.remove(&name) {
            Some(_) => success(),
            None => status(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("jobs.batch \"{name}\" not found"),
            ),
        }
    };
    changed(&shared);
    response
}

/// The pod of a Job as its last shown phase has it.
fn pod_of(name: &str, ns: &str, phase: &Phase) -> Option<Value> {
    let state = match phase {
        Phase::NoPod => return None,
        Phase::Pending => json!({"waiting": {"reason": "ContainerCreating"}}),
        Phase::Waiting(reason, message) => {
            json!({"waiting": {"reason": reason, "message": message}})
        }
        Phase::Running => json!({"running": {"startedAt": "2026-12-05T12:00:00Z"}}),
        Phase::Succeeded => json!({"terminated": {"exitCode": 0, "reason": "Completed"}}),
        Phase::Exited(code) => json!({"terminated": {"exitCode": code, "reason": "Error"}}),
        Phase::DeadlineExceeded => json!({"terminated": {"exitCode": 137, "reason": "Error"}}),
        Phase::InitFailed(_) => json!({"waiting": {"reason": "PodInitializing"}}),
    };
    let init = match phase {
        Phase::InitFailed(code) => json!([{
            "name": format!("init-{name}"), "image": "busybox", "imageID": "", "ready": false,
            "restartCount": 0, "state": {"terminated": {"exitCode": code, "reason": "Error"}}}]),
        _ => json!([]),
    };
    let pod_phase = match phase {
        Phase::Succeeded => "Succeeded",
        Phase::Exited(_) | Phase::DeadlineExceeded | Phase::InitFailed(_) => "Failed",
        Phase::Running => "Running",
        _ => "Pending",
    };
    Some(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{name}-x7k2p"), "namespace": ns,
                     "labels": {"job-name": name, "batch.kubernetes.io/job-name": name}},
        "status": {"phase": pod_phase, "initContainerStatuses": init, "containerStatuses": [{
            "name": name, "image": "i", "imageID": "", "ready": *phase == Phase::Running,
            "restartCount": 0, "state": state}]}
    }))
}

fn selected<'a>(query: &'a HashMap<String, String>, key: &str, field: &str) -> Option<&'a str> {
    query
        .get(key)?
        .split(',')
        .find_map(|part| part.strip_prefix(field)?.strip_prefix('='))
}

fn list(kind: &str, items: Vec<Value>) -> Response {
    axum::Json(json!({
        "apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "1"}, "items": items
    }))
    .into_response()
}

async fn list_pods(
    State(shared): State<Shared>,
    Path(ns): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let job = selected(&query, "labelSelector", "job-name").unwrap_or("");
    let state = note(&shared, format!("LIST pods {job}"));
    let pods = state
        .jobs
        .get(job)
        .and_then(FakeJob::phase)
        .and_then(|phase| pod_of(job, &ns, phase))
        .into_iter()
        .collect();
    drop(state);
    changed(&shared);
    list("PodList", pods)
}

async fn list_events(
    State(shared): State<Shared>,
    Path(ns): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let job = selected(&query, "fieldSelector", "involvedObject.name").unwrap_or("");
    let state = note(&shared, format!("LIST events {job}"));
    let events = state
        .jobs
        .get(job)
        .filter(|j| j.phase() == Some(&Phase::NoPod))
        .and_then(|j| j.script.failed_create.clone())
        .map(|message| {
            json!({
                "metadata": {"name": format!("{job}.1"), "namespace": ns},
                "involvedObject": {"kind": "Job", "name": job, "namespace": ns},
                "reason": "FailedCreate", "type": "Warning", "count": 2, "message": message,
            })
        })
        .into_iter()
        .collect();
    drop(state);
    changed(&shared);
    list("EventList", events)
}

async fn pod_log(
    State(shared): State<Shared>,
    Path((_, pod)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let container = query.get("container").cloned().unwrap_or_default();
    let state = note(
        &shared,
        format!(
            "LOG {pod} container={container} limitBytes={} tailLines={}",
            query.get("limitBytes").map_or("-", String::as_str),
            query.get("tailLines").map_or("-", String::as_str)
        ),
    );
    let init = container.strip_prefix("init-");
    let Some(job) = state.jobs.get(init.unwrap_or(&container)) else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("pods \"{pod}\" not found"),
        );
    };
    let waiting = match init {
        Some(_) => !matches!(job.phase(), Some(Phase::InitFailed(_))),
        None => matches!(
            job.phase(),
            None | Some(Phase::NoPod | Phase::Pending | Phase::Waiting(..) | Phase::InitFailed(_))
        ),
    };
    if waiting {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("container \"{container}\" in pod \"{pod}\" is waiting to start"),
        );
    }
    let mut text = if init.is_some() {
        job.script.init_logs.clone()
    } else {
        job.script.logs.clone()
    };
    if let Some(n) = query.get("tailLines").and_then(|n| n.parse::<usize>().ok()) {
        let lines: Vec<&str> = text.lines().collect();
        let kept = lines[lines.len().saturating_sub(n)..].join("\n");
        text = if text.ends_with('\n') {
            format!("{kept}\n")
        } else {
            kept
        };
    }
    if let Some(n) = query
        .get("limitBytes")
        .and_then(|n| n.parse::<usize>().ok())
    {
        text.truncate(n.min(text.len()));
    }
    text.into_response()
}

async fn create_object(
    State(shared): State<Shared>,
    Path((ns, kind)): Path<(String, String)>,
    axum::Json(mut object): axum::Json<Value>,
) -> Response {
    let name = object["metadata"]["name"].as_str().unwrap_or("").to_owned();
    let response = {
        let mut state = note(&shared, format!("POST {kind} {name}"));
        match state.objects.entry((kind.clone(), name.clone())) {
            std::collections::btree_map::Entry::Occupied(_) => status(
                StatusCode::CONFLICT,
                "AlreadyExists",
                format!("{kind} \"{name}\" already exists"),
            ),
            std::collections::btree_map::Entry::Vacant(slot) => {
                object["metadata"]["namespace"] = json!(ns);
                slot.insert(object.clone());
                state.created.push((kind.clone(), object.clone()));
                (StatusCode::CREATED, axum::Json(object)).into_response()
            }
        }
    };
    changed(&shared);
    response
}

async fn list_objects(
    State(shared): State<Shared>,
    Path((_, kind)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let run = selected(&query, "labelSelector", super::RUN_LABEL).unwrap_or("");
    let state = note(&shared, format!("LIST {kind} {run}"));
    let items = state
        .objects
        .iter()
        .filter(|((k, _), o)| *k == kind && o["metadata"]["labels"][super::RUN_LABEL] == run)
        .map(|(_, o)| o.clone())
        .collect();
    drop(state);
    changed(&shared);
    let list_kind = if kind == "secrets" {
        "SecretList"
    } else {
        "ConfigMapList"
    };
    list(list_kind, items)
}

/// A JSON merge patch of `metadata.ownerReferences` (the only patch the backend sends).
async fn patch_object(
    State(shared): State<Shared>,
    Path((_, kind, name)): Path<(String, String, String)>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let patch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let response = {
        let mut state = note(&shared, format!("PATCH {kind} {name}"));
        match state.objects.get_mut(&(kind.clone(), name.clone())) {
            _ if content_type != "application/merge-patch+json" => status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                format!("the fake takes merge patches, not {content_type}"),
            ),
            Some(object) => {
                object["metadata"]["ownerReferences"] =
                    patch["metadata"]["ownerReferences"].clone();
                axum::Json(object.clone()).into_response()
            }
            None => status(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("{kind} \"{name}\" not found"),
            ),
        }
    };
    changed(&shared);
    response
}

async fn delete_object(
    State(shared): State<Shared>,
    Path((_, kind, name)): Path<(String, String, String)>,
) -> Response {
    let response = {
        let mut state = note(&shared, format!("DELETE {kind} {name}"));
        match state.objects.remove(&(kind.clone(), name.clone())) {
            Some(_) => success(),
            None => status(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("{kind} \"{name}\" not found"),
            ),
        }
    };
    changed(&shared);
    response
}
