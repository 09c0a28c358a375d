//! The Kubernetes task backend: each task runs as the Kubernetes Job job-executor-service
//! would have created (built by [`sluice_kube::build`]), through kube-rs.
//!
//! For one task: the per-run objects are created first (the ConfigMap of `files` and one
//! Secret per sluice secret the task's `env` names, referenced with `secretKeyRef`, so no
//! secret value is in the Job), then the Job, whose name is deterministic: a create that
//! answers 409 AlreadyExists means the task was started before (a redelivery, a restart)
//! and the existing Job is adopted, never a second one started; the per-run objects are then
//! made owned by the Job, so the garbage collector follows it. Then the Job is polled
//! (GET every [`Timing::poll`]); while it runs its pods are read, and a pod that cannot
//! start ([`status::pod_blocker`]) or a Job that gets no pod ([`status::failed_create`])
//! fails the task with Kubernetes' reason (at once for reasons that never clear, after
//! [`Timing::start_grace`] for the others). A refused read (401, 403) fails it at once;
//! other API errors are retried. `maxPollDuration` is the Job's
//! `activeDeadlineSeconds`, so the cluster stops the pod; sluice also stops waiting
//! [`Timing::deadline_slack`] later. When the Job has ended (or is given up on) its logs are
//! read (at most [`MAX_OUTPUT_BYTES`], plus the last lines when longer), then the Job is
//! deleted with its pods (`propagationPolicy: Background`) along with the per-run objects.
//! An abort deletes the Job at once.
//!
//! The outcome has the shape of a local process's (`process::Outcome`), so the executor
//! records, redacts and reports it as it does local runs (`output.log`, `run.json`, the
//! `.finished` message).

pub mod status;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use sluice_kube::{
    ALLOWED_IMAGES_SETTING, ALLOWED_NAMESPACES_SETTING, ALLOWED_SERVICE_ACCOUNTS_SETTING,
    Allowlist, BuiltJob, ClusterAllowlists, JobSettings, Refusal,
};
use sluice_model::job::{Action, Task};
use tokio::sync::watch;
use tokio::time::Instant;

use super::process::{Ending, Outcome};
use super::supervisor::MAX_OUTPUT_BYTES;
use status::{Blocker, JobState, StartWatch};

/// Namespace of tasks without `namespace` (job-executor-service: `JOB_NAMESPACE`); unset:
/// the client's namespace (in a pod, the pod's own).
pub const NAMESPACE_ENV: &str = "SLUICE_KUBE_NAMESPACE";
/// Service account of tasks without `serviceAccount`.
pub const SERVICE_ACCOUNT_ENV: &str = "SLUICE_KUBE_SERVICE_ACCOUNT";
/// Image of the init container that copies the files into `/keptn`.
pub const INIT_IMAGE_ENV: &str = "SLUICE_KUBE_INIT_IMAGE";
/// Comma-separated `imagePullSecrets` of every task pod.
pub const IMAGE_PULL_SECRETS_ENV: &str = "SLUICE_KUBE_IMAGE_PULL_SECRETS";

/// Bytes of the end of the output kept for the message tail (as the local supervisor's ring).
const TAIL_BYTES: usize = 64 * 1024;
/// Lines asked for when the output is longer than [`MAX_OUTPUT_BYTES`].
const TAIL_LINES: i64 = 100;

/// Why the backend cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// No kubeconfig and not in a pod, or a broken one.
    #[error("cannot find the Kubernetes configuration (kubeconfig or in-cluster): {0}")]
    Config(#[from] kube::config::InferConfigError),
    /// The client could not be built from the configuration.
    #[error("cannot create the Kubernetes client: {0}")]
    Client(#[from] kube::Error),
    /// An allowlist setting does not parse.
    #[error(transparent)]
    Allowlist(#[from] sluice_kube::AllowlistParseError),
}

/// How often and how long the backend waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Between two reads of a running Job (job-executor-service: 5 s).
    pub poll: Duration,
    /// How long a pod may stay in a state that a retry might still clear (an image pull
    /// back-off, no pod created) before the task fails.
    pub start_grace: Duration,
    /// How long after `maxPollDuration` sluice gives up on a Job the cluster has not ended.
    pub deadline_slack: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            poll: Duration::from_secs(2),
            start_grace: Duration::from_secs(60),
            deadline_slack: Duration::from_secs(30),
        }
    }
}

/// The backend's settings.
#[derive(Debug, Clone, Default)]
pub struct ClusterSettings {
    /// What every Job gets (namespace, service account, init image, ...).
    pub job: JobSettings,
    /// Allowed images, namespaces and service accounts.
    pub allowlists: ClusterAllowlists,
    /// Polling and grace periods.
    pub timing: Timing,
}

impl ClusterSettings {
    /// Reads the settings from the environment ([`NAMESPACE_ENV`] and the others, the
    /// allowlists from [`ALLOWED_IMAGES_SETTING`] and its siblings); the namespace defaults to
    /// `default_namespace`.
    pub fn from_env(default_namespace: &str) -> Result<ClusterSettings, ClusterError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut job = JobSettings {
            namespace: var(NAMESPACE_ENV).unwrap_or_else(|| default_namespace.to_owned()),
            ..JobSettings::default()
        };
        if let Some(sa) = var(SERVICE_ACCOUNT_ENV) {
            job.service_account = sa;
        }
        if let Some(image) = var(INIT_IMAGE_ENV) {
            job.init_image = image;
        }
        if let Some(secrets) = var(IMAGE_PULL_SECRETS_ENV) {
            job.image_pull_secrets = secrets
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
        let list =
            |setting: &str| Allowlist::parse(setting, &std::env::var(setting).unwrap_or_default());
        let allowlists = ClusterAllowlists {
            images: list(ALLOWED_IMAGES_SETTING)?,
            namespaces: list(ALLOWED_NAMESPACES_SETTING)?,
            service_accounts: list(ALLOWED_SERVICE_ACCOUNTS_SETTING)?,
        };
        Ok(ClusterSettings {
            job,
            allowlists,
            timing: Timing::default(),
        })
    }
}

/// The objects of one task run, ready to create.
#[derive(Debug, Clone)]
pub struct ClusterTask {
    /// The Job and its files ConfigMap.
    pub built: BuiltJob,
    /// The per-run Secrets the Job's `secretKeyRef`s name.
    pub secrets: Vec<Secret>,
}

/// The Job of a task run, as its run record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JobRef {
    /// The namespace.
    pub namespace: String,
    /// The Job's name.
    pub name: String,
    /// The Job's uid, once the create was answered (or the existing Job adopted); a run
    /// record without it may not have created the Job yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// The backend as the executor reaches it: connected on first use (or at start when the
/// server's settings send tasks to it), the failure kept as the reason tasks fail with.
#[derive(Debug, Default)]
pub struct ClusterAccess {
    cell: tokio::sync::OnceCell<Result<Arc<ClusterBackend>, String>>,
}

impl ClusterAccess {
    /// Connects ([`ClusterBackend::connect`]) when first needed.
    pub fn lazy() -> ClusterAccess {
        ClusterAccess::default()
    }

    /// An already connected backend.
    pub fn ready(backend: ClusterBackend) -> ClusterAccess {
        ClusterAccess {
            cell: tokio::sync::OnceCell::new_with(Some(Ok(Arc::new(backend)))),
        }
    }

    /// The backend, or why there is none.
    pub async fn get(&self) -> Result<Arc<ClusterBackend>, String> {
        self.cell
            .get_or_init(|| async {
                match ClusterBackend::connect().await {
                    Ok(backend) => Ok(Arc::new(backend)),
                    Err(e) => {
                        tracing::error!(error = %e, "the Kubernetes job backend is not available");
                        Err(format!("the Kubernetes job backend is not available: {e}"))
                    }
                }
            })
            .await
            .clone()
    }
}

/// A connected backend.
#[derive(Clone)]
pub struct ClusterBackend {
    client: kube::Client,
    settings: ClusterSettings,
}

impl std::fmt::Debug for ClusterBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterBackend")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ClusterBackend {
    /// Connects with the kubeconfig (`KUBECONFIG`, `~/.kube/config`) or, without one, the
    /// pod's in-cluster configuration; settings from the environment.
    pub async fn connect() -> Result<ClusterBackend, ClusterError> {
        ClusterBackend::with_config(kube::Config::infer().await?)
    }

    /// Connects with a given client configuration (its namespace is the default one, unless
    /// [`NAMESPACE_ENV`] says otherwise); settings from the environment.
    pub fn with_config(config: kube::Config) -> Result<ClusterBackend, ClusterError> {
        let settings = ClusterSettings::from_env(&config.default_namespace)?;
        let client = kube::Client::try_from(config)?;
        Ok(ClusterBackend::new(client, settings))
    }

    /// A backend on a given client.
    pub fn new(client: kube::Client, settings: ClusterSettings) -> ClusterBackend {
        if settings.allowlists.images.is_open() {
            tracing::warn!(
                "the Kubernetes job backend runs any image: set {ALLOWED_IMAGES_SETTING} to the images tasks may use"
            );
        }
        ClusterBackend { client, settings }
    }

    /// What every Job gets.
    pub fn job_settings(&self) -> &JobSettings {
        &self.settings.job
    }

    /// Checks one task against the allowlists (images, namespaces, service accounts).
    pub fn check(&self, action: &Action, task: &Task) -> Result<(), Refusal> {
        let single = Action {
            name: action.name.clone(),
            tasks: vec![task.clone()],
            ..Action::default()
        };
        self.settings
            .allowlists
            .check_action(&single, &self.settings.job)
    }

    fn jobs(&self, namespace: &str) -> Api<Job> {
        Api::namespaced(self.client.clone(), namespace)
    }

    fn pods(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Creates the run's Secrets, ConfigMap and Job (each existing one is kept: a 409 means
    /// an earlier delivery created it) and returns the Job's uid.
    pub async fn create(&self, task: &ClusterTask) -> Result<String, String> {
        let ns = &task.built.namespace;
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        for secret in &task.secrets {
            create_or_keep(&secrets, secret, "Secret").await?;
        }
        if let Some(files) = &task.built.files {
            let config_maps: Api<ConfigMap> = Api::namespaced(self.client.clone(), ns);
            create_or_keep(&config_maps, files, "ConfigMap").await?;
        }
        let jobs = self.jobs(ns);
        let job = match jobs.create(&PostParams::default(), &task.built.job).await {
            Ok(job) => job,
            Err(kube::Error::Api(status)) if status.is_already_exists() => {
                tracing::info!(job = %task.built.name, "adopting the existing Job of a task started before");
                jobs.get(&task.built.name)
                    .await
                    .map_err(|e| api_failure("read the existing Job", &e))?
            }
            Err(e) => {
                // No Job uses the per-run objects: remove them (a 409 above keeps them, the
                // existing Job may be using them).
                self.delete_run_objects(ns, &task.built.name).await;
                return Err(api_failure("create the Job", &e));
            }
        };
        let uid = job.metadata.uid.unwrap_or_default();
        self.hand_over(task, &uid).await;
        Ok(uid)
    }

    /// Makes the Job the owner of the run's ConfigMap and Secrets, so that Kubernetes'
    /// garbage collector removes them with the Job (its `ttlSecondsAfterFinished` included)
    /// should sluice never delete them itself. Best effort: sluice deletes them too.
    async fn hand_over(&self, task: &ClusterTask, uid: &str) {
        if uid.is_empty() {
            return;
        }
        let ns = &task.built.namespace;
        let patch = kube::api::Patch::Merge(serde_json::json!({
            "metadata": {"ownerReferences": [{
                "apiVersion": "batch/v1",
                "kind": "Job",
                "name": task.built.name,
                "uid": uid,
            }]}
        }));
        let params = kube::api::PatchParams::default();
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), ns);
        let config_maps: Api<ConfigMap> = Api::namespaced(self.client.clone(), ns);
        let names = task
            .secrets
            .iter()
            .filter_map(|s| s.metadata.name.as_deref());
        for name in names {
            if let Err(e) = secrets.patch(name, &params, &patch).await {
                tracing::warn!(job = %task.built.name, error = %e, "cannot make a Job the owner of its Secret");
            }
        }
        if let Some(name) = task
            .built
            .files
            .as_ref()
            .and_then(|c| c.metadata.name.as_deref())
            && let Err(e) = config_maps.patch(name, &params, &patch).await
        {
            tracing::warn!(job = %task.built.name, error = %e, "cannot make a Job the owner of its ConfigMap");
        }
    }

    /// Whether the Job exists (`Err` when the API cannot tell).
    pub async fn exists(&self, job: &JobRef) -> Result<bool, String> {
        self.jobs(&job.namespace)
            .get_opt(&job.name)
            .await
            .map(|j| j.is_some())
            .map_err(|e| api_failure("read the Job", &e))
    }

    /// Waits for the Job to end (or fail to start, or pass `limit` plus the slack, or be
    /// aborted), reads its logs and deletes it with its pods and per-run objects.
    pub async fn follow(
        &self,
        job: &JobRef,
        limit: Duration,
        mut cancel: watch::Receiver<bool>,
    ) -> Outcome {
        let timing = self.settings.timing;
        let give_up = Instant::now() + limit + timing.deadline_slack;
        let mut start = StartWatch::new(timing.start_grace);
        let ending = loop {
            if *cancel.borrow() {
                self.delete(job).await;
                return Outcome {
                    ending: Ending::Aborted,
                    head: Vec::new(),
                    tail: Vec::new(),
                    total: 0,
                };
            }
            match self.poll(job, &mut start).await {
                Ok(Some(ending)) => break ending,
                Ok(None) => {}
                // Missing permissions do not come back by themselves.
                Err(PollError {
                    message,
                    permanent: true,
                }) => break Ending::Failed(message),
                Err(PollError { message, .. }) => {
                    tracing::warn!(job = %job.name, error = %message, "cannot read a task's Job; trying again")
                }
            }
            if Instant::now() >= give_up {
                break Ending::TimedOut;
            }
            tokio::select! {
                () = tokio::time::sleep(timing.poll) => {}
                _ = cancel.changed() => {}
            }
        };
        let (head, tail, total) = self.read_logs(job).await;
        self.delete(job).await;
        Outcome {
            ending,
            head,
            tail,
            total,
        }
    }

    /// One look at the Job (and its pods and events while it runs): `Some` once it has ended
    /// or cannot start.
    async fn poll(
        &self,
        job: &JobRef,
        start: &mut StartWatch,
    ) -> Result<Option<Ending>, PollError> {
        let Some(current) = self
            .jobs(&job.namespace)
            .get_opt(&job.name)
            .await
            .map_err(|e| PollError::of("read the Job", &e))?
        else {
            return Ok(Some(Ending::Lost(format!(
                "the Job {} was deleted before it ended",
                job.name
            ))));
        };
        if job
            .uid
            .as_deref()
            .is_some_and(|uid| current.metadata.uid.as_deref().is_some_and(|u| u != uid))
        {
            return Ok(Some(Ending::Lost(format!(
                "the Job {} was replaced by another Job of the same name",
                job.name
            ))));
        }
        match status::job_state(&current) {
            JobState::Complete => return Ok(Some(Ending::Exited(0))),
            JobState::Failed { reason, .. } if reason == status::DEADLINE_EXCEEDED => {
                return Ok(Some(Ending::TimedOut));
            }
            JobState::Failed { reason, message } => {
                let pods = self.job_pods(job).await.unwrap_or_default();
                let code = pods.iter().find_map(|p| status::exit_code(p, &job.name));
                return Ok(Some(match code {
                    Some(code) => Ending::Exited(code),
                    None => Ending::Failed(format!(
                        "job {} failed. Reason: {reason}, Message: {message}",
                        job.name
                    )),
                }));
            }
            JobState::Running => {}
        }
        let pods = self
            .job_pods(job)
            .await
            .map_err(|e| PollError::of("list the Job's pods", &e))?;
        let blocker = match pods.iter().find_map(status::pod_blocker) {
            Some(b) => Some(b),
            None if pods.is_empty() => self
                .failed_create(job)
                .await
                .map_err(|e| PollError::of("list the Job's events", &e))?,
            None => None,
        };
        Ok(start
            .observe(blocker, Instant::now())
            .map(|b| Ending::SpawnFailed(b.describe(&job.name))))
    }

    async fn job_pods(&self, job: &JobRef) -> Result<Vec<Pod>, kube::Error> {
        let mut pods = self
            .pods(&job.namespace)
            .list(&ListParams::default().labels(&format!("job-name={}", job.name)))
            .await?
            .items;
        pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(pods)
    }

    async fn failed_create(&self, job: &JobRef) -> Result<Option<Blocker>, kube::Error> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), &job.namespace);
        let selector = format!("involvedObject.kind=Job,involvedObject.name={}", job.name);
        let list = events
            .list(&ListParams::default().fields(&selector))
            .await?;
        Ok(status::failed_create(&list.items))
    }

    /// The output of the Job's pods: failed init containers with a header, then the task
    /// container; at most [`MAX_OUTPUT_BYTES`] (the local backend's cap) plus the last lines.
    /// Returns `(head, tail, total)` as a local run's outcome has them.
    async fn read_logs(&self, job: &JobRef) -> (Vec<u8>, Vec<u8>, u64) {
        let pods = match self.job_pods(job).await {
            Ok(pods) => pods,
            Err(e) => {
                let e = api_failure("list the Job's pods", &e);
                let note = format!("[the task's logs could not be read: {e}]\n");
                return (note.clone().into_bytes(), note.into_bytes(), 0);
            }
        };
        let api = self.pods(&job.namespace);
        let cap = MAX_OUTPUT_BYTES;
        let mut head = String::new();
        let mut truncated = false;
        let mut last_container = None;
        for pod in &pods {
            let pod_name = pod.metadata.name.clone().unwrap_or_default();
            for init in status::failed_init_containers(pod) {
                let text = self
                    .logs(&api, &pod_name, &init, cap.saturating_sub(head.len()))
                    .await;
                head.push_str(&format!("Init container {init} of pod {pod_name}:\n"));
                truncated |= push_capped(&mut head, &text, cap);
            }
            if status::has_run(pod, &job.name) {
                let room = cap.saturating_sub(head.len());
                let text = self.logs(&api, &pod_name, &job.name, room).await;
                truncated |= push_capped(&mut head, &text, cap);
                last_container = Some(pod_name);
            }
        }
        let mut tail = head.as_bytes()[head.len().saturating_sub(TAIL_BYTES)..].to_vec();
        if truncated {
            if let Some(pod_name) = last_container {
                let params = LogParams {
                    container: Some(job.name.clone()),
                    tail_lines: Some(TAIL_LINES),
                    limit_bytes: Some(TAIL_BYTES as i64),
                    ..LogParams::default()
                };
                if let Ok(text) = api.logs(&pod_name, &params).await {
                    tail = text.into_bytes();
                }
            }
            head.push_str(&format!(
                "\n[output truncated: more than {cap} bytes were printed, the first {cap} are kept]\n"
            ));
        }
        let total = head.len() as u64;
        (head.into_bytes(), tail, total)
    }

    /// A container's log, at most `room` bytes plus one (to tell that there was more); an
    /// unreadable log is a note in its place.
    async fn logs(&self, api: &Api<Pod>, pod: &str, container: &str, room: usize) -> String {
        let params = LogParams {
            container: Some(container.to_owned()),
            limit_bytes: Some(i64::try_from(room).unwrap_or(i64::MAX).saturating_add(1)),
            ..LogParams::default()
        };
        match api.logs(pod, &params).await {
            Ok(text) => text,
            Err(e) => format!(
                "[the log of container {container} of pod {pod} could not be read: {}]\n",
                api_failure("read it", &e)
            ),
        }
    }

    /// Deletes the Job with its pods, and the run's ConfigMap and Secrets (best effort: the
    /// Job's `ttlSecondsAfterFinished` is the backstop).
    pub async fn delete(&self, job: &JobRef) {
        let jobs = self.jobs(&job.namespace);
        match jobs.delete(&job.name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.is_not_found() => {}
            Err(e) => tracing::warn!(job = %job.name, error = %e, "cannot delete a task's Job"),
        }
        self.delete_run_objects(&job.namespace, &job.name).await;
    }

    /// Deletes the ConfigMap and Secrets made for the Job `job`.
    async fn delete_run_objects(&self, namespace: &str, job: &str) {
        let selector = format!("{RUN_LABEL}={job}");
        let config_maps: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
        let secrets: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        delete_labelled(&config_maps, &selector, job).await;
        delete_labelled(&secrets, &selector, job).await;
    }
}

/// Deletes every object of one kind carrying a run's label, one by one (the Role needs no
/// `deletecollection`).
async fn delete_labelled<K>(api: &Api<K>, selector: &str, job: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let names = match api.list(&ListParams::default().labels(selector)).await {
        Ok(list) => list.items.into_iter().filter_map(|o| o.meta().name.clone()),
        Err(e) => {
            tracing::warn!(%job, error = %e, "cannot list a task's per-run objects");
            return;
        }
    };
    for name in names.collect::<Vec<_>>() {
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.is_not_found() => {}
            Err(e) => tracing::warn!(%job, error = %e, "cannot delete a task's per-run object"),
        }
    }
}

/// A failed look at a Job.
#[derive(Debug)]
struct PollError {
    message: String,
    /// Refused (401, 403): asking again will not help.
    permanent: bool,
}

impl PollError {
    fn of(what: &str, e: &kube::Error) -> PollError {
        PollError {
            message: api_failure(what, e),
            permanent: matches!(e, kube::Error::Api(s) if s.code == 401 || s.code == 403),
        }
    }
}

/// The label that ties the per-run ConfigMap and Secrets to their Job (its name).
pub const RUN_LABEL: &str = "sluice.dev/run";

/// Appends `text` to `head` without passing `cap` bytes (at a character boundary); returns
/// whether something was cut.
fn push_capped(head: &mut String, text: &str, cap: usize) -> bool {
    let room = cap.saturating_sub(head.len());
    if text.len() <= room {
        head.push_str(text);
        return false;
    }
    head.push_str(&text[..text.floor_char_boundary(room)]);
    true
}

async fn create_or_keep<K>(api: &Api<K>, object: &K, what: &str) -> Result<(), String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    match api.create(&PostParams::default(), object).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(()),
        Err(e) => Err(api_failure(&format!("create the {what}"), &e)),
    }
}

/// A failed API call as a task's failure reason (the API server's own message when it gave
/// one: a 403 names the missing permission, a 422 the invalid field).
fn api_failure(what: &str, e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => format!(
            "the Kubernetes API refused to {what}: {} ({} {})",
            status.message, status.code, status.reason
        ),
        other => format!("cannot {what} through the Kubernetes API: {other}"),
    }
}

/// The per-run Secret `name` holding one sluice secret's keys for the Job `job`; the Job
/// references its keys with `secretKeyRef`.
pub fn run_secret(name: &str, job: &str, namespace: &str, data: &[(String, String)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(run_labels(job)),
            ..ObjectMeta::default()
        },
        immutable: Some(true),
        data: Some(
            data.iter()
                .map(|(k, v)| (k.clone(), ByteString(v.clone().into_bytes())))
                .collect(),
        ),
        type_: Some("Opaque".to_owned()),
        ..Secret::default()
    }
}

/// The name of the `index`th per-run Secret of a Job.
pub fn run_secret_name(job: &str, index: usize) -> String {
    format!("{job}-s{index}")
}

/// Labels of the per-run objects of a Job.
pub fn run_labels(job: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_owned(),
            sluice_kube::MANAGED_BY.to_owned(),
        ),
        (RUN_LABEL.to_owned(), job.to_owned()),
    ])
}

/// Adds [`RUN_LABEL`] to the built ConfigMap so that it is deleted with its run.
pub fn label_files(built: &mut BuiltJob) {
    if let Some(cm) = &mut built.files {
        cm.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(RUN_LABEL.to_owned(), built.name.clone());
    }
}
