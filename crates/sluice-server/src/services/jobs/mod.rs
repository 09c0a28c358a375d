//! The built-in job executor: Keptn's job-executor-service (JES 0.3.0) with two task
//! backends. Tasks configured in `job/config.yaml` run as processes on the server's machine
//! (`local`, the default, described below) or as the Kubernetes Jobs JES created
//! ([`kubernetes`]); [`backend`] says which backend runs which task. Everything else (matching,
//! events, records, redaction, messages) is shared.
//!
//! # What it does
//!
//! For every stored event (not only `.triggered` ones: JES matched any type by regex) it
//! looks up `job/config.yaml` at the service level and the stage level at the event's
//! `gitcommitid`, then at the project level at the latest commit (JES 0.3.0's order). No
//! config, or no action matching the event (type regex, JSONPath string equality, see
//! [`sluice_model::job`]): nothing happens (debug log; JES sent no events either). A config
//! that exists but does not parse gets a Keptn-style error-log entry (`errors.json` of the
//! event, see [`record`]) and nothing else.
//!
//! The matching actions run in file order (JES 0.3.0): a silent action runs without events
//! and the next one is tried; the first non-silent action sends `<task>.started` before it
//! runs and `<task>.finished` after, and ends the handling. Only task `.triggered` events are
//! answered: an action matching any other event (a `.finished`, a sequence event) runs as if
//! silent. The executor's own events are never handled. Answer ids are derived from the
//! handled event's id, so handling it twice sends nothing twice.
//!
//! The tasks of an action run one after the other; the first that fails ends the action.
//! Exit code 0 → `result: pass`, `status: succeeded`, message "Task '<name>' finished
//! successfully!\n\nLogs:\n<tail>\n\n" per task (JES's text). A non-zero exit, a signal, the
//! time limit, a start failure, a missing file or secret → `result: fail`, `status: errored`,
//! message "Task '<name>' failed: <reason>\n\nLogs:\n<tail>\n\n". The tail is the last 100
//! lines, at most 8 KiB, of the task's output. For the task `test`, and any task whose name
//! ends in `-test` (sluice's extension: JES did it for `sh.keptn.event.test.triggered` only,
//! so the tutorial's `je-test` got none), the finished data has `test: {start, end}`
//! (RFC 3339, the action's wall-clock span) for the evaluation's time frame.
//!
//! # How a task runs (local-process backend)
//!
//! - **No shell.** `cmd[0]` is the program (found through `PATH` as usual), `cmd[1..]` and
//!   `args` its arguments, passed as a vector: event data never reaches a shell command line.
//!   A config may of course name `sh -c '<fixed script>'` itself.
//! - **Environment.** The child gets only `PATH`, `HOME` and `LANG` (from the server's
//!   environment; `PATH` defaults to `/usr/local/bin:/usr/bin:/bin`) plus the task's
//!   variables in JES's order: `env` entries (`valueFrom: event` by JSONPath on the JES event
//!   map, rendered as JES did, `as: yaml` by [`yaml`]; `string`; `secret`: every key of the
//!   sluice secret of that name), then `KEPTN_PROJECT`, `KEPTN_STAGE`, `KEPTN_SERVICE`, then
//!   `LABELS_<KEY>` per event label. A task variable may override `PATH`, `HOME` or `LANG`.
//! - **`$(VAR)`** in `cmd` and `args` is expanded Kubernetes-style with the task's variables
//!   (not with `PATH`/`HOME`/`LANG`, which Kubernetes would not have known either). Env values
//!   themselves are not expanded.
//! - **Files and `/keptn`.** JES mounted a volume at `/keptn` and copied the task's `files`
//!   there. Here each task gets a private directory
//!   `<data_dir>/runs/<event id>/<action index>-<task index>/keptn/`; the listed service
//!   resources (at the event's `gitcommitid`; JES listed at the latest commit but read at the
//!   event's) are copied into it, and every `/keptn` path prefix in `cmd`, `args`, `string`
//!   env values and `workingDir` (also after a `=`, as in `--config=/keptn/x`) is rewritten to
//!   that directory. After the task the copied inputs are removed.
//! - **`workingDir`.** `/keptn/...` is rewritten (and created); another absolute path must
//!   exist; a relative one is taken inside the task's `keptn/` directory. Without it the
//!   task runs in its `keptn/` directory.
//! - **Time limit.** `maxPollDuration` (default 300 s): at the deadline the task's whole
//!   process group gets SIGTERM, then SIGKILL after 2 s, and the task fails with "job
//!   exceeded its time limit of N seconds" (JES stopped polling and left the Job running).
//! - **Process group.** Each task is spawned in its own process group. When the main process
//!   ends, what is left of its group is killed (as when a container ends). When the sequence
//!   is aborted ([`crate::runtime::bus::Cancel`] for the event's id) the group is killed and no
//!   finished event is sent.
//! - **Supervisor.** The server does not start a task itself: a small supervisor process
//!   (`sluice job-supervise`, [`supervisor`]) starts it, records the pids and start identities
//!   of both (`process.json`) before the server hears that the task runs, copies its output
//!   to the run directory as it comes, and records its exit status (`exit.json`). It outlives
//!   a crash of the server; see *After a restart* below for why.
//! - **Output.** stdout and stderr share one pipe (interleaved as written). The first 10 MiB
//!   are kept in `output.log`. The redacted `output.log` is written when the task ends.
//! - **Secrets.** Secret values, and their JSON-escaped, URL-encoded and base64 forms, are
//!   replaced by `***` ([`redact`]) in everything a task leaves before anything reads it: the
//!   output file, the message tail, the record, and the artifacts in place (so the finished
//!   data merged into the `.finished` event, the logs API, the event stream, the web UI and
//!   the SLI providers all see redacted text).
//! - **Artifacts.** Files the task writes under `/keptn/out/` stay in the run directory (at
//!   most 20 MiB per task; the rest is removed and the record says so).
//! - **Allowlist.** `SLUICE_JOB_ALLOWED_COMMANDS` ([`Allowlist`]): the commands of all tasks
//!   of an action are checked before any of them starts; a mismatch fails the action with
//!   "Forbidden: command X does not match the allowed command list". Empty or `*`: any
//!   command (a warning is logged at start-up). What is checked is the canonical path of the
//!   program that will run; a bare name allows the file the name finds through the server's
//!   `PATH`, never through the `PATH` a task sets. The server's own binary runs only its task
//!   subcommands ([`TASK_SUBCOMMANDS`]), allowlist or not: `sluice server` would start a
//!   server without any allowlist.
//! - **`image`** and the Kubernetes settings (resources, securityContext, namespace, ...) are
//!   recorded or ignored by the local backend; the Kubernetes backend uses them.
//! - Each handled event runs in its own tokio task; runs proceed concurrently.
//!
//! # After a restart
//!
//! A handling under way is marked durably (`runs/+active/<event>`) until it ends. On start
//! the executor resumes every marked handling: it never starts a task twice (a task that has
//! a record is not run again); a task recorded as running is *adopted* when its supervisor
//! is still the same process (pid, start time from `/proc/PID/stat` and boot id all match):
//! the server watches it through a pidfd (it is not the server's child, so it cannot be
//! `wait`ed for), keeps enforcing the time limit (counted from the task's recorded start)
//! and aborts, and reads its exit status from `exit.json`, which the supervisor writes when
//! the task ends; the remaining tasks of the action then run as usual. A supervisor that is
//! gone with `exit.json` written means the task ended while the server was down: its real
//! result is reported. Gone without it, the task was lost with it: what is left of its group
//! is killed and the task fails with "the server stopped (it crashed or was killed) while
//! the task was running, and the task's process is gone; ..." and the output printed until
//! then (`output.raw`, written as it came) is kept. A supervisor is used rather than the
//! task writing its own exit status because a task's program is arbitrary and a restarted
//! server can neither `wait` for a process it did not start nor read a pipe whose reading end
//! died with the old server (the task would die of SIGPIPE at its next write).
//!
//! **Another server's handlings.** On a cluster the executor runs on the leader. When a
//! leader dies, the next one takes over the handlings it left ([`JobExecutor::take_over`]):
//! open tasks with the executor's `.started` and without its `.finished`, which its own data
//! directory does not know. It handles them as new: a Kubernetes Job is found by its derived
//! name and adopted, a local job runs again (its process was on the other machine). A server
//! that comes back with a marked handling that was finished meanwhile drops the mark.
//!
//! Each task run leaves a [`RunRecord`] (`run.json`) beside its output, read by
//! `GET /api/sluice/v1/logs` ([`crate::api::logs`]).

mod allowlist;
pub mod backend;
mod config;
mod env;
mod files;
pub mod kubernetes;
mod process;
pub mod record;
mod redact;
pub mod supervisor;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use sluice_model::event::{ContentTypeKey, EventType, KeptnEvent, TaskEventKind, Timestamp};
use sluice_model::job::{Action, Task, event_map, expand_vars};
use sluice_resources::{ResourceStore, Scope};

use crate::services::feed::Feed;
use sluice_store::Store;
use tokio::sync::{broadcast, watch};

use crate::runtime::bus::{Bus, Cancel};
use crate::runtime::clock;
use crate::runtime::driver::DriverHandle;

pub use allowlist::{ALLOWLIST_ENV, Allowlist, REFUSED_SUBCOMMANDS, Refusal, TASK_SUBCOMMANDS};
pub use backend::{BackendChoice, BackendKind};
pub use config::CONFIG_URI;
pub use record::{Artifact, ErrorLogEntry, RunRecord, RunStatus};

use env::EventScope;
use kubernetes::{ClusterAccess, ClusterBackend, ClusterTask, JobRef};
use process::{Ending, Spec};
use redact::Redactor;

/// The `source` of the events this service sends.
pub const SOURCE: &str = "job-executor-service";
/// What the ids of the executor's answers are derived from (`<prefix>.started`,
/// `<prefix>.finished`, with the task's id; see [`super::answer`]).
const ANSWER_PREFIX: &str = "job-executor";

/// Bytes of a run's output copied into a shared (PostgreSQL) store.
const SHARED_OUTPUT_BYTES: usize = 1024 * 1024;

/// At most [`SHARED_OUTPUT_BYTES`] of a run's output, saying so when it was cut.
fn shared_output(mut output: String) -> String {
    if output.len() <= SHARED_OUTPUT_BYTES {
        return output;
    }
    output.truncate(output.floor_char_boundary(SHARED_OUTPUT_BYTES));
    output.push_str(&format!(
        "\n[output cut: the first {SHARED_OUTPUT_BYTES} bytes are shared with the other servers; the rest is in the data directory of the server that ran the task]\n"
    ));
    output
}

/// Lines of output in a finished event's message.
const TAIL_LINES: usize = 100;

/// Bytes of output in a finished event's message.
const TAIL_BYTES: usize = 8 * 1024;

/// `PATH` for tasks when the server has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Where the runs of a data directory live.
pub fn runs_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("runs")
}

/// Where `sluice deploy` keeps the local deployments of this server's projects; handed to
/// every task as [`DEPLOYMENTS_ENV`].
pub fn deployments_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("deployments")
}

/// The variable that tells `sluice deploy`, `rollback` and `scale` where the deployments are.
pub const DEPLOYMENTS_ENV: &str = "SLUICE_DEPLOYMENTS_DIR";

/// A task's `cmd` of exactly this name runs the server's own binary (so the quickstart's job
/// config works whether or not `sluice` is on `PATH`).
pub const SELF_COMMAND: &str = "sluice";

/// A file a task may write to have its content merged into the task's `.finished` data (for
/// example `deployment.deploymentURIsLocal`, so the next task can find the deployment).
pub const FINISHED_DATA_FILE: &str = "finished-data.json";

/// Most events the executor takes from the bus at once (see [`JobExecutor::run`]).
const BURST: usize = 256;

/// How the server's job executor works.
#[derive(Debug, Default)]
pub struct Settings {
    /// The commands it may run; `None` reads [`ALLOWLIST_ENV`].
    pub allowlist: Option<Allowlist>,
    /// Which backend runs which task.
    pub backends: BackendChoice,
    /// How long a run is kept after its last change; `None`: for ever.
    pub retention: Option<Duration>,
}

/// Starts the job executor on the bus (subscribes before returning, so no event stored after
/// this call is missed), with its [`Settings`]: tasks run on the backends they choose (see
/// [`backend`]), and runs past the retention are removed every [`PRUNE_EVERY`].
pub fn start(
    bus: &Bus,
    driver: DriverHandle,
    store: Arc<Store>,
    resources: Arc<ResourceStore>,
    data_dir: &Path,
    settings: Settings,
) {
    let Settings {
        allowlist,
        backends,
        retention,
    } = settings;
    let allowlist = allowlist.unwrap_or_else(Allowlist::from_env);
    if allowlist.is_open() {
        tracing::warn!(
            "the job executor runs any command: set {ALLOWLIST_ENV} to the commands it may run"
        );
    }
    let connect_now = backends.uses(BackendKind::Kubernetes);
    let mut executor = JobExecutor::new(store, resources, driver, runs_dir(data_dir), allowlist)
        .with_backends(backends, ClusterAccess::lazy());
    executor.base_env.push((
        DEPLOYMENTS_ENV.to_owned(),
        deployments_dir(data_dir).to_string_lossy().into_owned(),
    ));
    let feed = Feed::new(
        bus.subscribe(),
        executor.driver.clone(),
        executor.store.clone(),
        None,
        SOURCE,
    );
    let executor = Arc::new(executor);
    if connect_now {
        // Connect (and report a broken configuration) at start, not at the first task.
        let early = executor.clone();
        tokio::spawn(async move {
            if early.cluster.get().await.is_ok() {
                tracing::info!("the Kubernetes job backend is connected");
            }
        });
    }
    tokio::spawn(executor.clone().recover());
    // Once the engine is restored: the handlings another server started and left (a leader
    // that died) are this server's now.
    let taker = executor.clone();
    tokio::spawn(async move {
        taker.driver.restored().await;
        taker.take_over().await;
    });
    if let Some(retention) = retention {
        tokio::spawn(executor.clone().prune_every(retention, PRUNE_EVERY));
    }
    let cancels = bus.subscribe_cancels();
    tokio::spawn(executor.run(feed, cancels));
}

/// How often the runs past their retention are removed.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Removes the runs under `runs_dir` in which nothing changed for `retention` (see
/// [`record::prune`]); answers the cut.
async fn prune_local(
    runs_dir: &Path,
    retention: Duration,
    marking: &Arc<Mutex<()>>,
) -> sluice_model::event::Timestamp {
    let keep = i128::try_from(retention.as_nanos()).unwrap_or(i128::MAX);
    let before = clock::now().unix_nanos().saturating_sub(keep).max(0);
    let (runs_dir, marking) = (runs_dir.to_owned(), marking.clone());
    let cut = std::time::SystemTime::UNIX_EPOCH
        + Duration::from_nanos(u64::try_from(before).unwrap_or(u64::MAX));
    let removed =
        tokio::task::spawn_blocking(move || record::prune(&runs_dir, cut, &marking)).await;
    if let Ok(n @ 1..) = removed {
        tracing::info!("removed the runs of {n} events that ended more than {retention:?} ago");
    }
    sluice_model::event::Timestamp::from_unix_nanos(before)
}

/// A cluster follower's pruning of its own runs directory (the runs it made while it led
/// before): at once and every [`PRUNE_EVERY`], until `stop` is sent or dropped. The leader's
/// executor prunes the shared runs; a follower runs no jobs, so nothing in its directory is
/// under way. Awaiting the returned task after the stop waits for a pass in progress.
pub fn prune_while_following(
    data_dir: &Path,
    retention: Duration,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<()> {
    let runs_dir = runs_dir(data_dir);
    let marking = Arc::new(Mutex::new(()));
    tokio::spawn(async move {
        loop {
            prune_local(&runs_dir, retention, &marking).await;
            tokio::select! {
                _ = &mut stop => return,
                () = tokio::time::sleep(PRUNE_EVERY) => {}
            }
        }
    })
}

/// The executor's state, shared by its runs.
pub struct JobExecutor {
    store: Arc<Store>,
    resources: Arc<ResourceStore>,
    driver: DriverHandle,
    runs_dir: PathBuf,
    allowlist: Allowlist,
    base_env: Vec<(String, String)>,
    /// Cancel switches of the events being handled, by event id.
    active: Mutex<HashMap<String, watch::Sender<bool>>>,
    /// `job/config.yaml` lookups already made.
    configs: Arc<config::ConfigCache>,
    /// Which backend runs which task.
    backends: BackendChoice,
    /// The Kubernetes backend.
    cluster: Arc<ClusterAccess>,
    /// Held while a handling is marked as under way, and by [`record::prune`] while it
    /// decides on a directory.
    marking: Arc<Mutex<()>>,
}

impl std::fmt::Debug for JobExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobExecutor")
            .field("runs_dir", &self.runs_dir)
            .field("allowlist", &self.allowlist)
            .finish_non_exhaustive()
    }
}

/// How an action ended.
enum ActionOutcome {
    /// Ran to the end or failed: a finished event is due (unless silent).
    Done {
        passed: bool,
        message: String,
        start: Timestamp,
        end: Timestamp,
    },
    /// Cancelled: no finished event.
    Aborted,
}

/// How a task ended.
enum TaskOutcome {
    Passed { tail: String },
    Failed { reason: String, tail: String },
    Aborted,
}

/// A task ready to run on its backend.
enum TaskPlan {
    /// A local process.
    Local(Plan),
    /// A Kubernetes Job.
    Cluster {
        backend: Arc<ClusterBackend>,
        task: Box<ClusterTask>,
    },
}

/// A task ready to run (everything that can fail before a process starts, except files).
struct Plan {
    written: String,
    resolved: Option<PathBuf>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
    create_cwd: bool,
}

/// The event a handling is about.
struct Handling<'a> {
    event: &'a KeptnEvent,
    id: String,
    keptn_context: String,
    event_type: String,
    task: Option<String>,
    scope: EventScope,
    commit: Option<String>,
    map: Value,
    config_level: &'static str,
    /// `names::config_hash` of the `job/config.yaml` text (a label of Kubernetes Jobs).
    config_hash: String,
}

impl JobExecutor {
    /// Runs `read` on the blocking pool with the resource store, the task's service and the
    /// commit its sequence pinned.
    async fn at_pinned_commit<T, F>(
        &self,
        h: &Handling<'_>,
        read: F,
    ) -> Result<T, tokio::task::JoinError>
    where
        T: Send + 'static,
        F: FnOnce(&ResourceStore, Scope<'_>, Option<&str>) -> T + Send + 'static,
    {
        let resources = self.resources.clone();
        let (p, s, v, c) = (
            h.scope.project.clone(),
            h.scope.stage.clone(),
            h.scope.service.clone(),
            h.commit.clone(),
        );
        tokio::task::spawn_blocking(move || {
            read(&resources, Scope::service(&p, &s, &v), c.as_deref())
        })
        .await
    }

    /// An executor writing its runs under `runs_dir`.
    pub fn new(
        store: Arc<Store>,
        resources: Arc<ResourceStore>,
        driver: DriverHandle,
        runs_dir: PathBuf,
        allowlist: Allowlist,
    ) -> JobExecutor {
        let mut base_env = vec![(
            "PATH".to_owned(),
            std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_owned()),
        )];
        for key in ["HOME", "LANG"] {
            if let Ok(v) = std::env::var(key) {
                base_env.push((key.to_owned(), v));
            }
        }
        JobExecutor {
            store,
            resources,
            driver,
            runs_dir,
            allowlist,
            base_env,
            active: Mutex::new(HashMap::new()),
            configs: Arc::default(),
            backends: BackendChoice::default(),
            cluster: Arc::new(ClusterAccess::lazy()),
            marking: Arc::default(),
        }
    }

    /// The same executor choosing backends with `backends` and reaching Kubernetes through
    /// `cluster`.
    pub fn with_backends(mut self, backends: BackendChoice, cluster: ClusterAccess) -> JobExecutor {
        self.backends = backends;
        self.cluster = Arc::new(cluster);
        self
    }

    /// Handles events and cancellations until the bus closes.
    pub async fn run(self: Arc<Self>, mut feed: Feed, mut cancels: broadcast::Receiver<Cancel>) {
        use broadcast::error::RecvError;
        loop {
            tokio::select! {
                event = feed.recv() => match event {
                    Some(event) => {
                        // What else is waiting is taken with it, before any branch head is
                        // asked: the burst shares the answers (see `config::Heads`).
                        let mut burst = vec![event];
                        while burst.len() < BURST
                            && let Some(more) = feed.try_recv()
                        {
                            burst.push(more);
                        }
                        let mut heads = config::Heads::default();
                        for event in burst {
                            self.clone().dispatch_in(event, &mut heads);
                        }
                    }
                    None => return,
                },
                cancel = cancels.recv() => match cancel {
                    Ok(cancel) => {
                        self.cancel(&cancel.triggered_id);
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "the job executor missed cancellations");
                    }
                    Err(RecvError::Closed) => return,
                },
            }
        }
    }

    /// Starts handling one event in its own task (unless it is the executor's own event or
    /// already being handled). Returns the task.
    pub fn dispatch(
        self: Arc<Self>,
        event: Arc<KeptnEvent>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        self.dispatch_in(event, &mut config::Heads::default())
    }

    /// [`dispatch`](Self::dispatch) as part of a burst of events that were all published
    /// before `heads` was first asked.
    fn dispatch_in(
        self: Arc<Self>,
        event: Arc<KeptnEvent>,
        heads: &mut config::Heads,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if event.source.as_deref() == Some(SOURCE) {
            return None;
        }
        let id = event.id.clone().filter(|id| !id.is_empty())?;
        // Most events of a busy server have no job config at all: known from memory, they
        // cost no task.
        let scope = EventScope::of(event.data_value());
        let commit = event.gitcommitid.clone().filter(|c| !c.is_empty());
        let cached = self.configs.cached(
            &self.resources,
            &scope.project,
            &scope.stage,
            &scope.service,
            commit.as_deref(),
            heads,
        );
        if matches!(cached, Some(None)) {
            return None;
        }
        let cancel = {
            let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
            if active.contains_key(&id) {
                return None;
            }
            let (tx, rx) = watch::channel(false);
            active.insert(id.clone(), tx);
            rx
        };
        Some(tokio::spawn(async move {
            let (me, handled) = (self.clone(), event.clone());
            let work = async move { me.handle_in(&handled, scope, commit, cached, cancel).await };
            let claim = super::Claim::IfStarted(&self.store);
            super::guard_infallible(&self.driver, &event, SOURCE, ANSWER_PREFIX, claim, work).await;
            // Also after a panic (answered by the guard): a restart must not replay it.
            record::unmark_active(&self.runs_dir, &id);
            self.active
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        }))
    }

    /// Resumes the handlings that were under way when the server stopped: their tasks are
    /// adopted if their processes still run, otherwise reported as lost (see
    /// [`supervisor`]). Called once at start-up.
    pub async fn recover(self: Arc<Self>) {
        let finished = format!("{ANSWER_PREFIX}.finished");
        for id in record::active_events(&self.runs_dir) {
            // Answered meanwhile by another server that took the handling over (a replica
            // that led while this one was away): nothing is left to do here.
            match super::answer_stored(&self.store, &id, &finished).await {
                Ok(true) => {
                    tracing::info!(event = %id, "a job handling was finished by another server");
                    record::unmark_active(&self.runs_dir, &id);
                    continue;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, event = %id, "cannot resume a job handling");
                    continue;
                }
            }
            match self.store.event(&id).await {
                Ok(Some(event)) => {
                    tracing::info!(event = %id, "resuming a job handling after a restart");
                    self.clone().dispatch(Arc::new(event));
                }
                Ok(None) => record::unmark_active(&self.runs_dir, &id),
                Err(e) => tracing::error!(error = %e, event = %id, "cannot resume a job handling"),
            }
        }
    }

    /// Takes over the handlings that another server started and left: open tasks whose
    /// `.started` this executor sent (its id is derived from the task), without its
    /// `.finished`, and not handled here. On a cluster these are the jobs of a leader that
    /// died or was replaced: the new leader handles them again, which adopts a Kubernetes
    /// Job (its name is derived from the task) and runs a local job again, since its process
    /// was on the other machine. A handling this server's data directory knows is resumed
    /// from its records instead (see [`recover`](Self::recover)), so nothing runs twice here.
    /// Runs once the driver has restored the engine ([`DriverHandle::restored`]); returns how
    /// many handlings were taken over.
    pub async fn take_over(self: Arc<Self>) -> usize {
        let mut taken = 0;
        let left = super::cut_off_tasks(&self.driver, &self.store, None, ANSWER_PREFIX).await;
        for event in left {
            let id = event.id.clone().unwrap_or_default();
            if self.is_active(&id) {
                continue;
            }
            tracing::warn!(
                event = %id,
                "taking over a job handling that another server started and did not finish"
            );
            if self.clone().dispatch(Arc::new(event)).is_some() {
                taken += 1;
            }
        }
        taken
    }

    /// Whether this executor is handling the event `id` now.
    fn is_active(&self, id: &str) -> bool {
        self.active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(id)
    }

    /// Stops the runs of an event (kills their processes; no finished event). Returns whether
    /// the event was being handled.
    pub fn cancel(&self, event_id: &str) -> bool {
        let active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        match active.get(event_id) {
            Some(tx) => {
                tx.send_replace(true);
                true
            }
            None => false,
        }
    }

    /// Handles `event` (what [`JobExecutor::dispatch`] runs in its task).
    #[cfg(test)]
    async fn handle(&self, event: &KeptnEvent, cancel: watch::Receiver<bool>) {
        let scope = EventScope::of(event.data_value());
        let commit = event.gitcommitid.clone().filter(|c| !c.is_empty());
        self.handle_in(event, scope, commit, None, cancel).await;
    }

    /// Handles `event` of `scope`, whose files are those of `commit` (the latest when
    /// `None`); `cached` is what the config cache knew without reading git (`None`: look).
    async fn handle_in(
        &self,
        event: &KeptnEvent,
        scope: EventScope,
        commit: Option<String>,
        cached: Option<Option<config::FoundConfig>>,
        cancel: watch::Receiver<bool>,
    ) {
        let found = match cached {
            Some(found) => found,
            None => {
                let resources = self.resources.clone();
                let (p, s, v, c) = (
                    scope.project.clone(),
                    scope.stage.clone(),
                    scope.service.clone(),
                    commit.clone(),
                );
                let configs = self.configs.clone();
                tokio::task::spawn_blocking(move || {
                    configs.find(&resources, &p, &s, &v, c.as_deref())
                })
                .await
                .ok()
                .flatten()
            }
        };
        let id = event.id.clone().unwrap_or_default();
        let event_type = event.event_type.clone().unwrap_or_default();
        let Some(found) = found else {
            tracing::debug!(event = %id, %event_type, "no job/config.yaml for this event");
            return;
        };
        let task = event.triggered_task();
        // Parsing is CPU work: on the blocking pool, like the read.
        let text = found.text.clone();
        let Ok(parsed) = tokio::task::spawn_blocking(move || sluice_model::job::parse(&text)).await
        else {
            tracing::error!(event = %id, "parsing job/config.yaml did not finish");
            return;
        };
        let config = match parsed.value {
            Some(config) if !parsed.diagnostics.has_errors() => config,
            _ => {
                let message = format!(
                    "job-executor-service: the {} level job/config.yaml cannot be used:\n{}",
                    found.level,
                    parsed.diagnostics.render(config::CONFIG_URI).trim_end()
                );
                self.log_error(event, task.as_deref().unwrap_or(""), message);
                return;
            }
        };
        let map = event_map(&event.to_value(ContentTypeKey::default()));
        let matching: Vec<(usize, &Action)> = config
            .actions
            .iter()
            .enumerate()
            .filter(|(_, a)| a.matches_event(&event_type, &map))
            .collect();
        if matching.is_empty() {
            tracing::debug!(event = %id, %event_type, "no job action matches this event");
            return;
        }
        let handling = Handling {
            event,
            id,
            keptn_context: event.shkeptncontext.clone().unwrap_or_default(),
            event_type,
            task,
            scope,
            commit,
            map,
            config_level: found.level,
            config_hash: sluice_kube::names::config_hash(found.text.as_bytes()),
        };
        // Until the handling ends, a restarted server resumes it (adopting what runs), and
        // its runs are not pruned.
        let marked = {
            let _marking = self.marking.lock().unwrap_or_else(|p| p.into_inner());
            record::mark_active(&self.runs_dir, &handling.id)
        };
        if let Err(e) = marked {
            tracing::warn!(error = %e, "cannot mark a job handling as active");
        }
        self.run_matching(&handling, matching, &cancel).await;
        // Silent or aborted handlings send no `.finished`: their runs are shared here.
        self.share_runs(&handling.id).await;
        record::unmark_active(&self.runs_dir, &handling.id);
    }

    /// Runs the matching actions in order and answers the task (see the module doc).
    async fn run_matching(
        &self,
        handling: &Handling<'_>,
        matching: Vec<(usize, &Action)>,
        cancel: &watch::Receiver<bool>,
    ) {
        let mut started = false;
        for (index, action) in matching {
            if *cancel.borrow() {
                return;
            }
            let silent = action.silent || handling.task.is_none();
            if !silent && !started {
                self.answer(handling, "started", "succeeded", None, String::new(), None)
                    .await;
                started = true;
            }
            match self.run_action(handling, index, action, cancel).await {
                ActionOutcome::Aborted => return,
                ActionOutcome::Done {
                    passed,
                    message,
                    start,
                    end,
                } => {
                    if !silent {
                        let result = if passed { "pass" } else { "fail" };
                        let status = if passed { "succeeded" } else { "errored" };
                        self.answer(
                            handling,
                            "finished",
                            status,
                            Some(result),
                            message,
                            Some((start, end)),
                        )
                        .await;
                        return;
                    }
                }
            }
        }
    }

    async fn run_action(
        &self,
        h: &Handling<'_>,
        action_index: usize,
        action: &Action,
        cancel: &watch::Receiver<bool>,
    ) -> ActionOutcome {
        // What an earlier handling of this event (before a restart, or a redelivery) left.
        let records: Vec<Option<RunRecord>> = (0..action.tasks.len())
            .map(|ti| {
                record::read_record(&record::task_dir(&self.runs_dir, &h.id, action_index, ti))
            })
            .collect();
        let resumed = records.iter().any(Option::is_some);
        let start = records
            .iter()
            .flatten()
            .filter_map(|r| Timestamp::parse_rfc3339(&r.start).ok())
            .min_by_key(|t| t.unix_nanos())
            .unwrap_or_else(clock::now);
        // An action that ended before (a task failed, was refused or aborted) is not run again.
        for (ti, rec) in records.iter().enumerate() {
            let Some(rec) = rec else { continue };
            match rec.status {
                RunStatus::Aborted => return ActionOutcome::Aborted,
                RunStatus::Failed | RunStatus::TimedOut => {
                    let dir = record::task_dir(&self.runs_dir, &h.id, action_index, ti);
                    let output =
                        std::fs::read_to_string(dir.join(record::OUTPUT_FILE)).unwrap_or_default();
                    let tail = process::tail_of(&output, TAIL_LINES, TAIL_BYTES);
                    let name = action.tasks.get(ti).map_or("", |t| t.name.as_str());
                    let reason = rec.reason.clone().unwrap_or_default();
                    return done_failed(start, name, &reason, tail);
                }
                RunStatus::Running | RunStatus::Succeeded => {}
            }
        }
        let mut redactor = Redactor::default();
        let mut plans = Vec::with_capacity(action.tasks.len());
        for (ti, task) in action.tasks.iter().enumerate() {
            let keptn_dir = record::task_dir(&self.runs_dir, &h.id, action_index, ti).join("keptn");
            let kind = self
                .backends
                .for_task(&h.scope.project, &h.scope.stage, &task.annotations);
            let planned = match kind {
                Err(e) => Err(e.to_string()),
                Ok(BackendKind::Local) => self
                    .plan(h, task, &keptn_dir)
                    .await
                    .map(|(plan, secrets)| (TaskPlan::Local(plan), secrets)),
                Ok(BackendKind::Kubernetes) => self.plan_cluster(h, action_index, action, ti).await,
            };
            match planned {
                Ok((plan, secrets)) => {
                    redactor.add(&secrets);
                    plans.push(Some(plan));
                }
                // A task that ran already needs no plan to be adopted or reported.
                Err(_) if records.get(ti).is_some_and(Option::is_some) => plans.push(None),
                Err(reason) => {
                    let reason = redactor.redact(&reason);
                    self.record_refusal(h, action_index, action, ti, &reason);
                    return done_failed(start, &task.name, &reason, "");
                }
            }
        }
        // A resumed action passed the check when it started (and every task is checked
        // again just before it runs).
        for (ti, plan) in plans.iter().enumerate().filter(|_| !resumed) {
            let refusal = match plan {
                None => None,
                Some(TaskPlan::Local(plan)) => self
                    .allowlist
                    .check(&plan.written, plan.resolved.as_deref(), &plan.args)
                    .err()
                    .map(|refusal| refusal.message(&plan.written)),
                Some(TaskPlan::Cluster { backend, .. }) => backend
                    .check(action, &action.tasks[ti])
                    .err()
                    .map(|refusal| refusal.to_string()),
            };
            if let Some(refusal) = refusal {
                let message = redactor.redact(&refusal);
                self.record_refusal(h, action_index, action, ti, &message);
                return ActionOutcome::Done {
                    passed: false,
                    message,
                    start,
                    end: clock::now(),
                };
            }
        }
        let mut message = String::new();
        for (ti, (task, plan)) in action.tasks.iter().zip(plans).enumerate() {
            if *cancel.borrow() {
                return ActionOutcome::Aborted;
            }
            match self
                .run_task(
                    h,
                    action_index,
                    action,
                    ti,
                    task,
                    plan,
                    &redactor,
                    cancel.clone(),
                )
                .await
            {
                TaskOutcome::Passed { tail } => message.push_str(&format!(
                    "Task '{}' finished successfully!\n\nLogs:\n{tail}\n\n",
                    task.name
                )),
                TaskOutcome::Failed { reason, tail } => {
                    return done_failed(start, &task.name, &reason, &tail);
                }
                TaskOutcome::Aborted => return ActionOutcome::Aborted,
            }
        }
        ActionOutcome::Done {
            passed: true,
            message,
            start,
            end: clock::now(),
        }
    }

    /// Environment, command line and working directory of a task, plus its secret values.
    async fn plan(
        &self,
        h: &Handling<'_>,
        task: &Task,
        keptn_dir: &Path,
    ) -> Result<(Plan, Vec<String>), String> {
        if task.cmd.is_empty() {
            return Err(
                "the task has no cmd (the local backend has no image entrypoint to fall back on)"
                    .to_owned(),
            );
        }
        let task_env = env::build(task, &h.map, &h.scope, &self.store, keptn_dir).await?;
        let lookup = |name: &str| task_env.get(name);
        let mut argv = task
            .cmd
            .iter()
            .chain(&task.args)
            .map(|s| files::rewrite_keptn_path(&expand_vars(s, &lookup), keptn_dir));
        let written = argv.next().unwrap_or_default();
        let args: Vec<String> = argv.collect();
        let (cwd, create_cwd) = match &task.working_dir {
            None => (keptn_dir.to_path_buf(), true),
            Some(w) if w.is_empty() => (keptn_dir.to_path_buf(), true),
            Some(w) => {
                let rewritten = PathBuf::from(files::rewrite_keptn_path(w, keptn_dir));
                let inside = rewritten.starts_with(keptn_dir) || rewritten.is_relative();
                if inside
                    && rewritten
                        .components()
                        .any(|c| c == std::path::Component::ParentDir)
                {
                    return Err(format!(
                        "the working directory {w} must not leave the task's /keptn directory"
                    ));
                }
                if rewritten.starts_with(keptn_dir) {
                    (rewritten, true)
                } else if rewritten.is_absolute() {
                    if !rewritten.is_dir() {
                        return Err(format!("the working directory {w} does not exist"));
                    }
                    (rewritten, false)
                } else {
                    (keptn_dir.join(rewritten), true)
                }
            }
        };
        let mut env = self.base_env.clone();
        env.extend(task_env.vars.iter().cloned());
        let path = env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let resolved = if written == SELF_COMMAND {
            std::env::current_exe().ok()
        } else {
            allowlist::resolve_program(&written, &path, &cwd)
        };
        Ok((
            Plan {
                written,
                resolved,
                args,
                env,
                cwd,
                create_cwd,
            },
            task_env.secret_values,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_task(
        &self,
        h: &Handling<'_>,
        action_index: usize,
        action: &Action,
        task_index: usize,
        task: &Task,
        plan: Option<TaskPlan>,
        redactor: &Redactor,
        cancel: watch::Receiver<bool>,
    ) -> TaskOutcome {
        let dir = record::task_dir(&self.runs_dir, &h.id, action_index, task_index);
        let keptn_dir = dir.join("keptn");
        // Handled before (a restart, a redelivery): never run twice; adopt or report.
        if let Some(previous) = record::read_record(&dir) {
            return self
                .resume_task(&dir, previous, task, plan, redactor, cancel)
                .await;
        }
        let plan = match plan {
            Some(TaskPlan::Local(plan)) => plan,
            Some(TaskPlan::Cluster { backend, task: job }) => {
                let rec = self.new_record(h, action_index, action, task_index, task);
                return self
                    .run_cluster_task(&dir, rec, task, &backend, &job, redactor, cancel)
                    .await;
            }
            None => {
                return TaskOutcome::Failed {
                    reason: "the task's run record disappeared".to_owned(),
                    tail: String::new(),
                };
            }
        };
        // Leftovers of a run that never got a record.
        let _ = std::fs::remove_dir_all(&dir);
        let mut rec = self.new_record(h, action_index, action, task_index, task);
        if let Err(e) = std::fs::create_dir_all(keptn_dir.join("out")) {
            return TaskOutcome::Failed {
                reason: format!("cannot create the run directory {}: {e}", dir.display()),
                tail: String::new(),
            };
        }
        self.save(&dir, &rec);
        let fail = |rec: &mut RunRecord, reason: String| {
            rec.status = RunStatus::Failed;
            rec.reason = Some(reason.clone());
            rec.end = Some(clock::now().to_rfc3339_nano());
            self.save(&dir, rec);
            TaskOutcome::Failed {
                reason,
                tail: String::new(),
            }
        };

        if !task.files.is_empty() {
            let entries = task.files.clone();
            let target = keptn_dir.clone();
            let copied = self
                .at_pinned_commit(h, move |resources, scope, commit| {
                    files::materialise(resources, scope, commit, &entries, &target)
                })
                .await
                .unwrap_or_else(|e| Err(format!("copying the files failed: {e}")));
            if let Err(reason) = copied {
                return fail(&mut rec, redactor.redact(&reason));
            }
        }
        if plan.create_cwd
            && let Err(e) = std::fs::create_dir_all(&plan.cwd)
        {
            return fail(
                &mut rec,
                format!("cannot create the working directory: {e}"),
            );
        }
        let path = plan
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let Some(program) = plan
            .resolved
            .clone()
            .or_else(|| allowlist::resolve_program(&plan.written, path, &plan.cwd))
        else {
            let reason = redactor.redact(&format!(
                "command {} was not found (or is not executable)",
                plan.written
            ));
            return fail(&mut rec, reason);
        };
        // Found only now (a program among the task's files): the same check on what runs.
        if let Err(refusal) = self
            .allowlist
            .check(&plan.written, Some(&program), &plan.args)
        {
            return fail(&mut rec, redactor.redact(&refusal.message(&plan.written)));
        }
        let limit_secs = task.max_poll_duration_secs();
        let spec = Spec {
            launch: supervisor::Launch {
                program,
                arg0: plan.written.clone(),
                args: plan.args,
                env: plan.env,
                cwd: plan.cwd,
                dir: dir.clone(),
            },
            limit: Duration::from_secs(u64::try_from(limit_secs).unwrap_or(0)),
        };
        let outcome = process::run(&spec, cancel).await;
        self.finish_run(&dir, rec, outcome, limit_secs, redactor)
    }

    /// A task that has a record already: its result when it ended, otherwise (the server
    /// restarted while it ran) its process adopted and watched to the end, or reported lost.
    async fn resume_task(
        &self,
        dir: &Path,
        rec: RunRecord,
        task: &Task,
        plan: Option<TaskPlan>,
        redactor: &Redactor,
        cancel: watch::Receiver<bool>,
    ) -> TaskOutcome {
        let output = std::fs::read_to_string(dir.join(record::OUTPUT_FILE)).unwrap_or_default();
        let tail = || process::tail_of(&output, TAIL_LINES, TAIL_BYTES).to_owned();
        match rec.status {
            RunStatus::Succeeded => return TaskOutcome::Passed { tail: tail() },
            RunStatus::Aborted => return TaskOutcome::Aborted,
            RunStatus::Failed | RunStatus::TimedOut => {
                return TaskOutcome::Failed {
                    reason: rec.reason.clone().unwrap_or_default(),
                    tail: tail(),
                };
            }
            RunStatus::Running => {}
        }
        if let Some(job) = rec.job.clone() {
            return self
                .reattach_cluster_task(dir, rec, job, task, plan, redactor, cancel)
                .await;
        }
        let limit_secs = task.max_poll_duration_secs();
        let limit = Duration::from_secs(u64::try_from(limit_secs).unwrap_or(0));
        let ran = Timestamp::parse_rfc3339(&rec.start)
            .map(|start| clock::now().nanos_since(start))
            .unwrap_or(0);
        let ran = Duration::from_nanos(u64::try_from(ran).unwrap_or(0));
        tracing::info!(dir = %dir.display(), "adopting a job task that was running when the server stopped");
        let outcome = process::adopt(dir, limit.saturating_sub(ran), cancel).await;
        self.finish_run(dir, rec, outcome, limit_secs, redactor)
    }

    /// Environment, files and Job of a task for the Kubernetes backend, plus its secret values.
    async fn plan_cluster(
        &self,
        h: &Handling<'_>,
        action_index: usize,
        action: &Action,
        task_index: usize,
    ) -> Result<(TaskPlan, Vec<String>), String> {
        let backend = self.cluster.get().await?;
        let task = &action.tasks[task_index];
        let job_name =
            sluice_kube::names::job_name(&h.keptn_context, &h.id, action_index, task_index);
        let env = env::build_cluster(task, &h.map, &self.store, |i| {
            kubernetes::run_secret_name(&job_name, i)
        })
        .await?;
        let task_files = if task.files.is_empty() {
            Vec::new()
        } else {
            let entries = task.files.clone();
            self.at_pinned_commit(h, move |resources, scope, commit| {
                files::collect(resources, scope, commit, &entries)
            })
            .await
            .unwrap_or_else(|e| Err(format!("reading the files failed: {e}")))?
            .into_iter()
            .map(|(path, content)| sluice_kube::TaskFile { path, content })
            .collect()
        };
        let event = sluice_kube::TaskEvent {
            context: h.keptn_context.clone(),
            id: h.id.clone(),
            git_commit_id: h.commit.clone().unwrap_or_default(),
            project: h.scope.project.clone(),
            stage: h.scope.stage.clone(),
            service: h.scope.service.clone(),
            labels: h.scope.labels.iter().cloned().collect(),
        };
        let run = sluice_kube::TaskRun {
            action,
            action_index,
            task_index,
            config_hash: &h.config_hash,
            event: &event,
            env: &env.entries,
            files: &task_files,
        };
        let mut built =
            sluice_kube::build(&run, backend.job_settings()).map_err(|e| e.to_string())?;
        kubernetes::label_files(&mut built);
        let secrets = env
            .secrets
            .iter()
            .map(|(name, data)| kubernetes::run_secret(name, &built.name, &built.namespace, data))
            .collect();
        Ok((
            TaskPlan::Cluster {
                backend,
                task: Box::new(ClusterTask { built, secrets }),
            },
            env.secret_values,
        ))
    }

    /// Runs a task as a Kubernetes Job: the record names the Job before it is created.
    #[allow(clippy::too_many_arguments)]
    async fn run_cluster_task(
        &self,
        dir: &Path,
        mut rec: RunRecord,
        task: &Task,
        backend: &ClusterBackend,
        job: &ClusterTask,
        redactor: &Redactor,
        cancel: watch::Receiver<bool>,
    ) -> TaskOutcome {
        // Leftovers of a run that never got a record.
        let _ = std::fs::remove_dir_all(dir);
        if let Err(e) = std::fs::create_dir_all(dir) {
            return TaskOutcome::Failed {
                reason: format!("cannot create the run directory {}: {e}", dir.display()),
                tail: String::new(),
            };
        }
        let mut job_ref = JobRef {
            namespace: job.built.namespace.clone(),
            name: job.built.name.clone(),
            uid: None,
        };
        rec.backend = Some(BackendKind::Kubernetes.as_str().to_owned());
        rec.job = Some(job_ref.clone());
        self.save(dir, &rec);
        match backend.create(job).await {
            Ok(uid) => job_ref.uid = Some(uid).filter(|u| !u.is_empty()),
            Err(reason) => {
                let reason = redactor.redact(&reason);
                rec.status = RunStatus::Failed;
                rec.reason = Some(reason.clone());
                rec.end = Some(clock::now().to_rfc3339_nano());
                self.save(dir, &rec);
                return TaskOutcome::Failed {
                    reason,
                    tail: String::new(),
                };
            }
        }
        rec.job = Some(job_ref.clone());
        self.save(dir, &rec);
        let limit_secs = task.max_poll_duration_secs();
        let limit = Duration::from_secs(u64::try_from(limit_secs).unwrap_or(0));
        let outcome = backend.follow(&job_ref, limit, cancel).await;
        self.finish_run(dir, rec, outcome, limit_secs, redactor)
    }

    /// A Kubernetes task that was running when the server stopped: its Job is followed again
    /// (created first only if the record shows the create was never answered and no Job of
    /// that name exists: a Job is never started twice).
    #[allow(clippy::too_many_arguments)]
    async fn reattach_cluster_task(
        &self,
        dir: &Path,
        mut rec: RunRecord,
        mut job: JobRef,
        task: &Task,
        plan: Option<TaskPlan>,
        redactor: &Redactor,
        cancel: watch::Receiver<bool>,
    ) -> TaskOutcome {
        let limit_secs = task.max_poll_duration_secs();
        let fail = |rec: &mut RunRecord, reason: String| {
            let reason = redactor.redact(&reason);
            rec.status = RunStatus::Failed;
            rec.reason = Some(reason.clone());
            rec.end = Some(clock::now().to_rfc3339_nano());
            self.save(dir, rec);
            TaskOutcome::Failed {
                reason,
                tail: String::new(),
            }
        };
        let backend = match self.cluster.get().await {
            Ok(backend) => backend,
            Err(reason) => return fail(&mut rec, reason),
        };
        tracing::info!(job = %job.name, "re-attaching to the Kubernetes Job of a task that was running when the server stopped");
        if job.uid.is_none() {
            let created = match plan {
                Some(TaskPlan::Cluster { task: planned, .. }) => backend.create(&planned).await,
                _ => match backend.exists(&job).await {
                    Ok(true) => Ok(String::new()),
                    Ok(false) => Err(format!(
                        "the task's Job {} was never created and the task cannot be planned again",
                        job.name
                    )),
                    Err(e) => Err(e),
                },
            };
            match created {
                Ok(uid) => job.uid = Some(uid).filter(|u| !u.is_empty()),
                Err(reason) => return fail(&mut rec, reason),
            }
            rec.job = Some(job.clone());
            self.save(dir, &rec);
        }
        let limit = Duration::from_secs(u64::try_from(limit_secs).unwrap_or(0));
        let ran = Timestamp::parse_rfc3339(&rec.start)
            .map(|start| clock::now().nanos_since(start))
            .unwrap_or(0);
        let ran = Duration::from_nanos(u64::try_from(ran).unwrap_or(0));
        let outcome = backend
            .follow(&job, limit.saturating_sub(ran), cancel)
            .await;
        self.finish_run(dir, rec, outcome, limit_secs, redactor)
    }

    /// Keeps the (redacted) output and the artifacts of an ended run and completes its record.
    fn finish_run(
        &self,
        dir: &Path,
        mut rec: RunRecord,
        outcome: process::Outcome,
        limit_secs: i64,
        redactor: &Redactor,
    ) -> TaskOutcome {
        let keptn_dir = dir.join("keptn");

        let mut output = redactor.redact(&String::from_utf8_lossy(&outcome.head));
        if outcome.total > outcome.head.len() as u64 {
            output.push_str(&format!(
                "\n[output truncated: {} bytes were printed, the first {} are kept]\n",
                outcome.total,
                outcome.head.len()
            ));
        }
        if let Err(e) = std::fs::write(dir.join(record::OUTPUT_FILE), &output) {
            tracing::warn!(error = %e, "cannot write a job's output file");
        }
        supervisor::remove_files(dir);
        let tail_text = redactor.redact(&String::from_utf8_lossy(&outcome.tail));
        let tail = process::tail_of(&tail_text, TAIL_LINES, TAIL_BYTES).to_owned();
        record::remove_inputs(&keptn_dir);
        let out_dir = keptn_dir.join("out");
        let (mut artifacts, note) = record::collect_artifacts(&out_dir);
        redact_artifacts(&out_dir, &mut artifacts, redactor);

        rec.end = Some(clock::now().to_rfc3339_nano());
        rec.output_bytes = outcome.total;
        rec.artifacts = artifacts;
        rec.artifacts_note = note;
        let (status, reason) = match &outcome.ending {
            Ending::Exited(0) => (RunStatus::Succeeded, None),
            Ending::Exited(code) => (RunStatus::Failed, Some(format!("exited with code {code}"))),
            Ending::Signalled(sig) => (
                RunStatus::Failed,
                Some(format!("was ended by signal {sig}")),
            ),
            Ending::TimedOut => (
                RunStatus::TimedOut,
                Some(format!(
                    "job exceeded its time limit of {limit_secs} seconds"
                )),
            ),
            Ending::Aborted => (
                RunStatus::Aborted,
                Some("the sequence was aborted".to_owned()),
            ),
            Ending::SpawnFailed(e) | Ending::Lost(e) | Ending::Failed(e) => {
                (RunStatus::Failed, Some(e.clone()))
            }
        };
        let reason = reason.map(|r| redactor.redact(&r));
        rec.status = status;
        rec.exit_code = match outcome.ending {
            Ending::Exited(code) => Some(code),
            _ => None,
        };
        rec.reason = reason.clone();
        self.save(dir, &rec);
        match (status, reason) {
            (RunStatus::Succeeded, _) => TaskOutcome::Passed { tail },
            (RunStatus::Aborted, _) => TaskOutcome::Aborted,
            (_, reason) => TaskOutcome::Failed {
                reason: reason.unwrap_or_default(),
                tail,
            },
        }
    }

    fn new_record(
        &self,
        h: &Handling<'_>,
        action_index: usize,
        action: &Action,
        task_index: usize,
        task: &Task,
    ) -> RunRecord {
        RunRecord {
            triggered_id: h.id.clone(),
            keptn_context: h.keptn_context.clone(),
            event_type: h.event_type.clone(),
            task: h.task.clone().unwrap_or_default(),
            action: action.name.clone(),
            action_index,
            task_name: task.name.clone(),
            task_index,
            image: task.image.clone(),
            config_level: h.config_level.to_owned(),
            start: clock::now().to_rfc3339_nano(),
            end: None,
            exit_code: None,
            status: RunStatus::Running,
            reason: None,
            output_bytes: 0,
            artifacts: Vec::new(),
            artifacts_note: None,
            backend: None,
            job: None,
        }
    }

    /// Records a task that was refused before anything ran.
    fn record_refusal(
        &self,
        h: &Handling<'_>,
        action_index: usize,
        action: &Action,
        task_index: usize,
        reason: &str,
    ) {
        let Some(task) = action.tasks.get(task_index) else {
            return;
        };
        let dir = record::task_dir(&self.runs_dir, &h.id, action_index, task_index);
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            tracing::warn!(error = %e, "cannot create a job run directory");
            return;
        }
        let mut rec = self.new_record(h, action_index, action, task_index, task);
        rec.status = RunStatus::Failed;
        rec.reason = Some(reason.to_owned());
        rec.end = Some(rec.start.clone());
        self.save(&dir, &rec);
    }

    fn save(&self, dir: &Path, rec: &RunRecord) {
        if let Err(e) = record::write_record(dir, rec) {
            tracing::warn!(error = %e, dir = %dir.display(), "cannot write a job run record");
        }
    }

    /// Removes the runs past `retention` every `every`, from the start on.
    async fn prune_every(self: Arc<Self>, retention: Duration, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.prune(retention).await;
        }
    }

    /// Removes the runs in which nothing changed for `retention`, except those of handlings
    /// under way (see [`record::prune`]), and on a PostgreSQL store the shared runs that
    /// ended that long ago.
    pub async fn prune(&self, retention: Duration) {
        let before = prune_local(&self.runs_dir, retention, &self.marking).await;
        if self.store.shares_job_runs() {
            match self.store.delete_job_runs_ended_before(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    "removed {n} shared job runs that ended more than {retention:?} ago"
                ),
                Err(e) => tracing::warn!(error = %e, "cannot remove old shared job runs"),
            }
        }
    }

    /// Copies the ended runs of the handling of `event_id` (each record and at most
    /// [`SHARED_OUTPUT_BYTES`] of its output) into a PostgreSQL store, so that every replica
    /// that leads later shows them (best effort: they stay in this data directory either way).
    /// Done before the task's `.finished` is sent, and when the handling ends.
    async fn share_runs(&self, event_id: &str) {
        if !self.store.shares_job_runs() {
            return;
        }
        let runs = record::read_runs(&self.runs_dir, event_id);
        for (rec, output) in runs {
            if rec.status == RunStatus::Running {
                continue;
            }
            let Ok(record) = serde_json::to_string(&rec) else {
                continue;
            };
            let run = sluice_store::SharedRun {
                triggered_id: rec.triggered_id.clone(),
                action_index: i64::try_from(rec.action_index).unwrap_or(i64::MAX),
                task_index: i64::try_from(rec.task_index).unwrap_or(i64::MAX),
                keptn_context: rec.keptn_context.clone(),
                record,
                output: shared_output(output),
                // Shared as it ends (and again when the handling ends).
                ended_at: clock::now(),
            };
            if let Err(e) = self.store.put_job_run(&run).await {
                tracing::warn!(error = %e, event = %event_id, "cannot share a job run with the other servers");
            }
        }
    }

    fn log_error(&self, event: &KeptnEvent, task: &str, message: String) {
        tracing::error!(event = event.id.as_deref().unwrap_or(""), "{message}");
        let entry = ErrorLogEntry {
            time: clock::now().to_rfc3339_nano(),
            integration: SOURCE.to_owned(),
            keptn_context: event.shkeptncontext.clone().unwrap_or_default(),
            triggered_id: event.id.clone().unwrap_or_default(),
            task: task.to_owned(),
            message,
        };
        if let Err(e) = record::append_error(&self.runs_dir, &entry) {
            tracing::warn!(error = %e, "cannot write the job executor's error log");
        }
    }

    /// Sends `<task>.<kind>` for the handled event.
    async fn answer(
        &self,
        h: &Handling<'_>,
        kind: &str,
        status: &str,
        result: Option<&str>,
        message: String,
        span: Option<(Timestamp, Timestamp)>,
    ) {
        let Some(task) = &h.task else { return };
        let source = h.event.data_value();
        let mut data = json!({
            "project": source.get("project").cloned().unwrap_or(Value::Null),
            "stage": source.get("stage").cloned().unwrap_or(Value::Null),
            "service": source.get("service").cloned().unwrap_or(Value::Null),
            "status": status,
        });
        if let Some(labels) = source.get("labels") {
            data["labels"] = labels.clone();
        }
        if let Some(result) = result {
            data["result"] = json!(result);
        }
        if !message.is_empty() {
            data["message"] = json!(message);
        }
        if kind == "finished" {
            merge_finished_data(&mut data, &self.runs_dir, &h.id);
            self.share_runs(&h.id).await;
        }
        if let Some((start, end)) = span
            && is_test_task(task)
        {
            data["test"] = json!({"start": rfc3339_seconds(start), "end": rfc3339_seconds(end)});
        }
        let event = super::answer(
            h.event,
            SOURCE,
            &EventType::task(task, TaskEventKind::from(kind)).to_string(),
            &format!("{ANSWER_PREFIX}.{kind}"),
            data,
        );
        if let Err(e) = self.driver.submit(event).await {
            tracing::error!(error = %e, "job-executor-service could not answer");
        }
    }
}

/// Redacts the kept artifacts in place (their sizes follow), and the finished data's strings
/// also decoded (a task's JSON writer may escape a secret differently from the forms the
/// redactor knows).
fn redact_artifacts(out_dir: &Path, artifacts: &mut [Artifact], redactor: &Redactor) {
    if redactor.is_empty() {
        return;
    }
    for artifact in artifacts.iter_mut() {
        let path = out_dir.join(&artifact.path);
        if artifact.path == FINISHED_DATA_FILE
            && let Ok(text) = std::fs::read(&path)
            && let Ok(value) = serde_json::from_slice::<Value>(&text)
        {
            let clean = redactor.redact_json(&value);
            if clean != value
                && let Ok(bytes) = serde_json::to_vec(&clean)
            {
                let _ = std::fs::write(&path, bytes);
            }
        }
        if let Err(e) = redactor.redact_file(&path) {
            tracing::warn!(error = %e, file = %path.display(), "cannot redact an artifact; removing it");
            let _ = std::fs::remove_file(&path);
        }
        artifact.size = std::fs::metadata(&path).map_or(0, |m| m.len());
    }
}

/// Merges every `keptn/out/finished-data.json` the event's tasks wrote into the `.finished`
/// data (top-level keys; the scope, status, result and message stay the executor's own).
fn merge_finished_data(data: &mut Value, runs_dir: &Path, event_id: &str) {
    for (run, _) in record::read_runs(runs_dir, event_id) {
        let file = record::task_dir(runs_dir, event_id, run.action_index, run.task_index)
            .join("keptn")
            .join("out")
            .join(FINISHED_DATA_FILE);
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(Value::Object(extra)) = serde_json::from_str::<Value>(&text) else {
            tracing::warn!(file = %file.display(), "ignoring a finished-data file that is not a JSON object");
            continue;
        };
        for (key, value) in extra {
            if !matches!(
                key.as_str(),
                "project" | "stage" | "service" | "status" | "result" | "message" | "labels"
            ) {
                data[key] = value;
            }
        }
    }
}

fn done_failed(start: Timestamp, task: &str, reason: &str, tail: &str) -> ActionOutcome {
    ActionOutcome::Done {
        passed: false,
        message: format!("Task '{task}' failed: {reason}\n\nLogs:\n{tail}\n\n"),
        start,
        end: clock::now(),
    }
}

/// Tasks whose finished event carries `test: {start, end}`: `test` and `*-test`.
pub fn is_test_task(task: &str) -> bool {
    task == "test" || task.ends_with("-test")
}

/// RFC 3339 with whole seconds (Go's `time.RFC3339`, as JES wrote test.start/end).
fn rfc3339_seconds(t: Timestamp) -> String {
    Timestamp::from_unix(t.unix_seconds(), 0).to_rfc3339_nano()
}
