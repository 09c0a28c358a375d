//! The single writer: owns the sequence engine, persists each step before anything else sees
//! it, then carries out the step's effects (publish events, arm timers, cancel tasks).
//!
//! Every change of sequence state goes through one task that receives [`Command`]s from an
//! mpsc channel: events from the API and the built-in services, control commands, and fired
//! timers. For each command the driver
//! 1. drops events whose id was stored before (duplicate deliveries are ignored),
//! 2. runs the pure [`Engine::handle`],
//! 3. writes the incoming event, the events the engine emitted (into the outbox), and the
//!    changed executions and pauses in ONE store transaction,
//! 4. answers the caller (so an event is acknowledged only once it is durable),
//! 5. publishes the emitted events on the [`Bus`], arms or cancels timers and tells built-in
//!    executors to cancel aborted work, then marks the emitted events dispatched.
//!
//! After a crash, [`Driver::start`] restores the open executions and pauses, re-arms the
//! engine's pending timers and publishes the outbox events that were not dispatched, so
//! nothing is lost or sent twice (deterministic ids make the built-in services' answers
//! idempotent).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use sluice_engine::{
    ControlAction, Effect, Engine, EngineConfig, ExecutionId, Input, PauseScope, SequenceExecution,
    Step, TimerKey,
};
use sluice_model::event::{EventType, KeptnEvent, TaskEventKind, Timestamp};
use sluice_model::shipyard::Shipyard;
use sluice_resources::ResourceStore;
use sluice_store::{Changes, ExecutionRecord, NewEvent, Store};
use tokio::sync::{mpsc, oneshot};

use crate::bus::Bus;
use crate::clock;
use crate::metrics::Metrics;

/// Key under which the engine's pauses are kept in the store.
const PAUSES_KEY: &str = "engine.pauses";

/// Why the driver could not take a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed; nothing of the command was kept.
    #[error("store: {0}")]
    Store(#[from] sluice_store::Error),
    /// An execution could not be serialized.
    #[error("cannot serialize a sequence execution: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The driver has stopped (server shutting down).
    #[error("the sequence engine has stopped")]
    Stopped,
}

/// What happened to a submitted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Stored (and acted on by the engine where it concerns a sequence).
    Stored,
    /// An event with this id was stored before; nothing was done.
    Duplicate,
}

/// A request to the driver.
#[derive(Debug)]
pub enum Command {
    /// An event to store and hand to the engine.
    Event {
        /// The event (with id, time and context already assigned).
        event: Box<KeptnEvent>,
        /// Where to send the outcome.
        reply: oneshot::Sender<Result<Accepted, Error>>,
    },
    /// Pause, resume or abort a context (or one stage of it).
    Control {
        /// The context.
        keptn_context: String,
        /// Only this stage.
        stage: Option<String>,
        /// What to do.
        action: ControlAction,
        /// Where to send the outcome (`false`: nothing was open in that context).
        reply: oneshot::Sender<Result<bool, Error>>,
    },
    /// A timer fired.
    Timer(TimerKey),
    /// A project's shipyard changed (or the project was deleted: `None`).
    Shipyard {
        /// The project.
        project: String,
        /// The new shipyard.
        shipyard: Option<Arc<Shipyard>>,
    },
}

/// A task `.triggered` event that has not completed yet (for remote executors that poll).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenTask {
    /// Id of the task's `.triggered` event.
    pub triggered_id: String,
    /// Full event type (`sh.keptn.event.<task>.triggered`).
    pub event_type: String,
    /// Project.
    pub project: String,
    /// Stage.
    pub stage: String,
    /// Service.
    pub service: String,
    /// The run.
    pub keptn_context: String,
    /// Whether the task is due (not waiting for `triggeredAfter`).
    pub due: bool,
}

/// Open tasks by execution, kept current by the driver and read by API handlers.
pub type OpenTasks = Arc<RwLock<BTreeMap<ExecutionId, OpenTask>>>;

/// The sending side, cloned into every API handler and built-in service.
#[derive(Debug, Clone)]
pub struct DriverHandle {
    tx: mpsc::Sender<Command>,
    open_tasks: OpenTasks,
}

impl DriverHandle {
    /// Stores an event and lets the engine act on it; returns once it is durable.
    pub async fn submit(&self, event: KeptnEvent) -> Result<Accepted, Error> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Event {
                event: Box::new(event),
                reply,
            })
            .await
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?
    }

    /// Pauses, resumes or aborts a context; `Ok(false)` when nothing was open there.
    pub async fn control(
        &self,
        keptn_context: String,
        stage: Option<String>,
        action: ControlAction,
    ) -> Result<bool, Error> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Control {
                keptn_context,
                stage,
                action,
                reply,
            })
            .await
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)?
    }

    /// Tells the engine about a changed (or deleted) shipyard.
    pub async fn shipyard_changed(&self, project: String, shipyard: Option<Arc<Shipyard>>) {
        let _ = self.tx.send(Command::Shipyard { project, shipyard }).await;
    }

    /// The open task events, optionally only those of one type.
    pub fn open_tasks(&self, event_type: Option<&str>) -> Vec<OpenTask> {
        let tasks = self.open_tasks.read().unwrap_or_else(|p| p.into_inner());
        tasks
            .values()
            .filter(|t| event_type.is_none_or(|ty| t.event_type == ty))
            .cloned()
            .collect()
    }
}

/// The receiving side of the driver's command channel, consumed by [`Driver::start`].
#[derive(Debug)]
pub struct Inbox {
    tx: mpsc::Sender<Command>,
    rx: mpsc::Receiver<Command>,
    open_tasks: OpenTasks,
}

/// Creates the driver's command channel: the handle (for the API and built-in services, usable
/// at once; commands wait until the driver starts) and the inbox for [`Driver::start`].
pub fn channel() -> (DriverHandle, Inbox) {
    let (tx, rx) = mpsc::channel(1024);
    let open_tasks: OpenTasks = Arc::default();
    (
        DriverHandle {
            tx: tx.clone(),
            open_tasks: open_tasks.clone(),
        },
        Inbox { tx, rx, open_tasks },
    )
}

/// The driver task's state.
pub struct Driver {
    engine: Engine,
    store: Arc<Store>,
    resources: Arc<ResourceStore>,
    bus: Bus,
    metrics: Arc<Metrics>,
    shipyards: HashMap<String, Arc<Shipyard>>,
    timers: HashMap<TimerKey, tokio::task::JoinHandle<()>>,
    tx: mpsc::Sender<Command>,
    open_tasks: OpenTasks,
    views: mpsc::UnboundedSender<Arc<KeptnEvent>>,
}

impl Driver {
    /// Restores state from the store and starts the driver task on the inbox of [`channel`].
    ///
    /// Built-in services must subscribe to the bus before this runs: on start the driver
    /// republishes undispatched events and unanswered tasks, and they must not be missed.
    pub async fn start(
        inbox: Inbox,
        store: Arc<Store>,
        resources: Arc<ResourceStore>,
        bus: Bus,
        metrics: Arc<Metrics>,
        config: EngineConfig,
    ) -> Result<(), Error> {
        let Inbox { tx, rx, open_tasks } = inbox;
        let mut executions = Vec::new();
        for record in store.load_active_executions().await? {
            executions.push(record.decode::<SequenceExecution>()?);
        }
        let pauses: Vec<PauseScope> = match store.setting(PAUSES_KEY).await? {
            Some(v) => serde_json::from_value(v)?,
            None => Vec::new(),
        };
        let mut shipyards = HashMap::new();
        for project in store.projects().await? {
            if let Some(parsed) = sluice_model::shipyard::parse(&project.shipyard).value {
                shipyards.insert(project.name.clone(), Arc::new(parsed));
            }
        }
        let (views, mut view_events) = mpsc::unbounded_channel::<Arc<KeptnEvent>>();
        let view_store = store.clone();
        tokio::spawn(async move {
            while let Some(event) = view_events.recv().await {
                Driver::update_views(&view_store, &event).await;
            }
        });
        let mut driver = Driver {
            engine: Engine::restore(config, executions, pauses),
            store,
            resources,
            bus,
            metrics,
            shipyards,
            timers: HashMap::new(),
            tx: tx.clone(),
            open_tasks: open_tasks.clone(),
            views,
        };
        for (key, at) in driver.engine.pending_timers() {
            driver.arm(key, at);
        }
        driver.refresh_open_tasks(None);
        // Whatever was committed but not yet published before a crash goes out now.
        let undispatched = driver.store.undispatched_events().await?;
        let ids: Vec<String> = undispatched.iter().filter_map(|e| e.id.clone()).collect();
        for event in undispatched {
            driver.bus.publish(Arc::new(event));
        }
        driver.store.mark_dispatched(&ids).await?;
        // Built-in services re-handle tasks that never got an answer (their answers have
        // deterministic ids, so handling twice stores nothing twice).
        for event in driver.unanswered_tasks().await? {
            driver.bus.publish(Arc::new(event));
        }
        tokio::spawn(driver.run(rx));
        Ok(())
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        while let Some(command) = rx.recv().await {
            match command {
                Command::Event { event, reply } => {
                    let outcome = self.on_event(*event).await;
                    let _ = reply.send(outcome);
                }
                Command::Control {
                    keptn_context,
                    stage,
                    action,
                    reply,
                } => {
                    let input = Input::Control {
                        keptn_context,
                        stage,
                        action,
                    };
                    let outcome = self
                        .step(input, None)
                        .await
                        .map(|step| step.ignored.is_none());
                    let _ = reply.send(outcome);
                }
                Command::Timer(key) => {
                    self.timers.remove(&key);
                    if let Err(e) = self.step(Input::Timer(key), None).await {
                        tracing::error!(error = %e, "cannot persist a timer step; it will be retried after a restart");
                    }
                }
                Command::Shipyard { project, shipyard } => match shipyard {
                    Some(s) => {
                        self.shipyards.insert(project, s);
                    }
                    None => {
                        self.shipyards.remove(&project);
                    }
                },
            }
        }
        for (_, timer) in self.timers.drain() {
            timer.abort();
        }
    }

    async fn on_event(&mut self, event: KeptnEvent) -> Result<Accepted, Error> {
        let id = event.id.clone().unwrap_or_default();
        if self.store.event_exists(&id).await? {
            return Ok(Accepted::Duplicate);
        }
        self.metrics
            .event_received(event.event_type.as_deref().unwrap_or(""));
        let task_finished = event
            .event_type()
            .ok()
            .and_then(|t| match t {
                EventType::Task {
                    task,
                    kind: TaskEventKind::Finished,
                } => Some(task),
                _ => None,
            })
            .zip(event.triggeredid.clone());
        let stored = Arc::new(event.clone());
        let step = self.step(Input::event(event), Some(stored.clone())).await?;
        if let Some((task, triggered_id)) = task_finished {
            self.observe_task_duration(&task, &triggered_id, &stored)
                .await;
        }
        let _ = step;
        Ok(Accepted::Stored)
    }

    /// Runs one engine step, persists it with the incoming event, then carries out its effects.
    async fn step(
        &mut self,
        input: Input,
        incoming: Option<Arc<KeptnEvent>>,
    ) -> Result<Step, Error> {
        let now = clock::now();
        let resources = self.resources.clone();
        let shipyards = &self.shipyards;
        let shipyard_for = |project: &str| shipyards.get(project).cloned();
        let stage_commit = |project: &str, stage: &str| {
            resources
                .stage_head(project, stage)
                .ok()
                .map(|c| c.to_string())
        };
        let mut ids = || uuid::Uuid::new_v4().to_string();
        let step = self
            .engine
            .handle(input, &shipyard_for, &stage_commit, now, &mut ids);
        if let Some(reason) = &step.ignored {
            tracing::debug!(%reason, "engine ignored an input");
        }

        let mut changes = Changes::default();
        if let Some(event) = &incoming {
            changes.events.push(NewEvent {
                event: (**event).clone(),
                outgoing: false,
            });
        }
        let mut emitted = Vec::new();
        for effect in &step.effects {
            if let Effect::Emit(event) = effect {
                changes.events.push(NewEvent {
                    event: (**event).clone(),
                    outgoing: true,
                });
                emitted.push(Arc::new((**event).clone()));
            }
        }
        for id in &step.changed {
            if let Some(execution) = self.engine.execution(id) {
                changes.executions_upsert.push(record_of(execution)?);
            }
        }
        if step.pauses_changed {
            changes.settings_set.push((
                PAUSES_KEY.to_owned(),
                serde_json::to_value(self.engine.pauses())?,
            ));
        }
        if !changes.is_empty() {
            self.store.commit(&changes).await?;
        }

        // Durable: now the world may see it. The projects view follows in the background,
        // off the path from one task to the next.
        if let Some(event) = incoming {
            let _ = self.views.send(event.clone());
            self.bus.publish(event);
        }
        let emitted_ids: Vec<String> = emitted.iter().filter_map(|e| e.id.clone()).collect();
        for event in emitted {
            let _ = self.views.send(event.clone());
            self.bus.publish(event);
        }
        for effect in &step.effects {
            match effect {
                Effect::Emit(_) => {}
                Effect::ScheduleTimer { key, at } => self.arm(key.clone(), *at),
                Effect::CancelTimer(key) => {
                    if let Some(t) = self.timers.remove(key) {
                        t.abort();
                    }
                }
                Effect::CancelTask {
                    keptn_context,
                    task,
                    triggered_id,
                    ..
                } => {
                    self.bus.cancel(crate::bus::Cancel {
                        keptn_context: keptn_context.clone(),
                        task: task.clone(),
                        triggered_id: triggered_id.clone(),
                    });
                }
            }
        }
        if !emitted_ids.is_empty() {
            self.store.mark_dispatched(&emitted_ids).await?;
        }
        self.refresh_open_tasks(Some(&step.changed));
        // Ended executions need not stay in memory; the store keeps them for the API.
        for id in &step.changed {
            if self.engine.execution(id).is_some_and(|e| !e.is_open()) {
                self.engine.forget(id);
            }
        }
        Ok(step)
    }

    /// Keeps the projects view current: the last event of each task type per service and
    /// stage (Keptn's `lastEventTypes`) and the image a successful deployment task rolled out
    /// (`deployedImage`). These are derived views, written after the commit; a crash in
    /// between leaves them one event behind, never the sequence state.
    async fn update_views(store: &Store, event: &KeptnEvent) {
        let Ok(EventType::Task { task, kind }) = event.event_type() else {
            return;
        };
        let data = event.data.as_ref().unwrap_or(&serde_json::Value::Null);
        let field = |k: &str| {
            data.get(k)
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let (project, stage, service) = (field("project"), field("stage"), field("service"));
        if project.is_empty() || stage.is_empty() || service.is_empty() {
            return;
        }
        let info = sluice_store::EventContextInfo {
            event_id: event.id.clone().unwrap_or_default(),
            keptn_context: event.shkeptncontext.clone().unwrap_or_default(),
            time: event
                .timestamp()
                .and_then(Result::ok)
                .map(|t| t.unix_nanos().to_string())
                .unwrap_or_default(),
        };
        let ty = event.event_type.clone().unwrap_or_default();
        if let Err(e) = store
            .record_last_event(&project, &stage, &service, &ty, &info)
            .await
        {
            tracing::debug!(error = %e, "cannot record the last event of {service} in {stage}");
        }
        let passed = matches!(field("result").as_str(), "pass" | "warning");
        if kind != TaskEventKind::Finished || !passed {
            return;
        }
        // The image a task reports having rolled out (`deployment.image`, written by sluice's
        // local deployments for deploy, rollback and scale) wins; otherwise, like Keptn, a
        // deployment task's image is the one its trigger asked for.
        let reported = data
            .pointer("/deployment/image")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        let image = match reported {
            Some(image) => Some(image),
            None if task.ends_with("deployment") => {
                let Some(triggered_id) = &event.triggeredid else {
                    return;
                };
                let Ok(Some(triggered)) = store.event(triggered_id).await else {
                    return;
                };
                triggered
                    .data
                    .as_ref()
                    .and_then(|d| d.pointer("/configurationChange/values/image"))
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            }
            None => None,
        };
        if let Some(image) = image
            && let Err(e) = store
                .set_deployed_image(&project, &stage, &service, &image)
                .await
        {
            tracing::warn!(error = %e, "cannot record the deployed image of {service} in {stage}");
        }
    }

    fn arm(&mut self, key: TimerKey, at: Timestamp) {
        let tx = self.tx.clone();
        let delay = clock::until(at);
        let fired = key.clone();
        let handle = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tx.send(Command::Timer(fired)).await;
        });
        if let Some(old) = self.timers.insert(key, handle) {
            old.abort();
        }
    }

    /// Recomputes the open-task index for the given executions (all when `None`).
    fn refresh_open_tasks(&self, changed: Option<&[ExecutionId]>) {
        let mut tasks = self.open_tasks.write().unwrap_or_else(|p| p.into_inner());
        let ids: Vec<ExecutionId> = match changed {
            Some(ids) => ids.to_vec(),
            None => {
                tasks.clear();
                self.engine.executions().map(|e| e.id.clone()).collect()
            }
        };
        for id in ids {
            tasks.remove(&id);
            let Some(execution) = self.engine.execution(&id) else {
                continue;
            };
            if !execution.is_open() {
                continue;
            }
            let Some(current) = &execution.current_task else {
                continue;
            };
            if current.is_complete() {
                continue;
            }
            tasks.insert(
                id.clone(),
                OpenTask {
                    triggered_id: current.triggered_id.clone(),
                    event_type: format!("sh.keptn.event.{}.triggered", current.name),
                    project: execution.scope.project.clone(),
                    stage: execution.scope.stage.clone(),
                    service: execution.scope.service.clone(),
                    keptn_context: execution.scope.keptn_context.clone(),
                    due: !current.delayed,
                },
            );
        }
    }

    /// `.triggered` events of open, due tasks that have no `.started`/`.finished` yet.
    async fn unanswered_tasks(&self) -> Result<Vec<KeptnEvent>, Error> {
        let mut out = Vec::new();
        for execution in self.engine.executions() {
            let Some(current) = &execution.current_task else {
                continue;
            };
            if current.delayed || !current.events.is_empty() {
                continue;
            }
            if let Some(event) = self.store.event(&current.triggered_id).await? {
                out.push(event);
            }
        }
        Ok(out)
    }

    async fn observe_task_duration(&self, task: &str, triggered_id: &str, finished: &KeptnEvent) {
        let Ok(Some(triggered)) = self.store.event(triggered_id).await else {
            return;
        };
        let (Some(Ok(start)), Some(Ok(end))) = (triggered.timestamp(), finished.timestamp()) else {
            return;
        };
        let seconds = end.nanos_since(start) as f64 / 1e9;
        if seconds >= 0.0 {
            self.metrics.task_finished(task, seconds);
        }
    }
}

/// The store's view of an execution.
fn record_of(execution: &SequenceExecution) -> Result<ExecutionRecord, Error> {
    Ok(ExecutionRecord {
        id: execution.id.to_string(),
        project: execution.scope.project.clone(),
        stage: execution.scope.stage.clone(),
        service: execution.scope.service.clone(),
        keptn_context: execution.scope.keptn_context.clone(),
        sequence_name: execution.sequence.name.clone(),
        state: execution.wire_state().to_owned(),
        terminal: !execution.is_open(),
        triggered_at: execution.triggered_at,
        updated_seq: 0,
        body: serde_json::to_string(execution)?,
    })
}
