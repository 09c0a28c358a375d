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
//! Commits are pipelined: the store writes one batch while the driver already runs the engine
//! on the next (at most [`MAX_IN_FLIGHT`] batches between the engine and their answers). The
//! batches are committed in order by one committer task, and nothing of a batch (answers,
//! publishing, timers, the open-task index) is seen before its own commit. A batch whose
//! commit fails fails every batch behind it that is not committed yet, until the pipeline is
//! empty again. Duplicate ids are looked up among the stored events and those in flight.
//!
//! After a crash, [`Driver::start`] restores the open executions and pauses, re-arms the
//! engine's pending timers and publishes the outbox events that were not dispatched, so
//! nothing is lost or sent twice (deterministic ids make the built-in services' answers
//! idempotent).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, RwLock};

use sluice_engine::{
    ControlAction, Effect, Engine, EngineConfig, ExecutionId, Input, PauseScope, SequenceExecution,
    Step, TimerKey,
};
use sluice_model::event::{EventType, KeptnEvent, Timestamp};
use sluice_model::shipyard::Shipyard;
use sluice_resources::ResourceStore;
use sluice_store::{AuditEntry, Changes, ExecutionRecord, NewEvent, SentCommit, Store};
use tokio::sync::{mpsc, oneshot, watch};

use crate::metrics::Metrics;
use crate::runtime::bus::Bus;
use crate::runtime::clock;
use crate::runtime::projects_view;

/// Key under which the engine's pauses are kept in the store.
const PAUSES_KEY: &str = "engine.pauses";

/// Most commands written in one transaction (group commit).
const MAX_BATCH: usize = 256;

/// Most batches between the engine and their answers (being written or waiting to be).
const MAX_IN_FLIGHT: usize = 8;

/// Most batches written in one transaction by the committer.
const MAX_MERGED: usize = MAX_IN_FLIGHT;

/// How long marks of sent events wait for the next commit before they get their own.
const DISPATCH_MARK_DELAY: std::time::Duration = std::time::Duration::from_millis(25);

/// Why the driver could not take a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed; nothing of the command was kept.
    #[error("store: {0}")]
    Store(#[from] sluice_store::Error),
    /// An execution could not be serialized.
    #[error("cannot serialize a sequence execution: {0}")]
    Serialize(#[from] serde_json::Error),
    /// A failure shared by all commands handled in one transaction.
    #[error(transparent)]
    Shared(Arc<Error>),
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
        /// Its id was made by this server for it just now ([`DriverHandle::submit_named`]):
        /// no stored event can have it, so the engine does not look it up.
        named_here: bool,
        /// The audit entry to write in the same commit as the event (not for a duplicate).
        audit: Option<Box<AuditEntry>>,
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
    /// Whether an executor has sent `.started` (or `.finished`) for it.
    pub answered: bool,
}

/// Open tasks by execution, kept current by the driver and read by API handlers.
pub type OpenTasks = Arc<RwLock<BTreeMap<ExecutionId, OpenTask>>>;

/// The sending side, cloned into every API handler and built-in service.
#[derive(Debug, Clone)]
pub struct DriverHandle {
    tx: mpsc::Sender<Command>,
    open_tasks: OpenTasks,
    /// Turns true once the driver has restored the engine (see [`DriverHandle::restored`]).
    restored: watch::Receiver<bool>,
}

impl DriverHandle {
    /// Stores an event and lets the engine act on it; returns once it is durable.
    /// An event whose id was stored before (a retried delivery, from any sender) is dropped
    /// and answered [`Accepted::Duplicate`].
    pub async fn submit(&self, event: KeptnEvent) -> Result<Accepted, Error> {
        self.send_event(event, false, None).await
    }

    /// [`DriverHandle::submit`] for an event whose id this server has just made (a fresh
    /// UUID, not derived from anything): it cannot be a retry, so it skips the engine's
    /// lookup of stored ids.
    pub async fn submit_named(&self, event: KeptnEvent) -> Result<Accepted, Error> {
        self.send_event(event, true, None).await
    }

    /// [`DriverHandle::submit`] (or [`DriverHandle::submit_named`] when `named_here`) that
    /// writes `audit`, if any, in the commit that stores the event: an accepted change is
    /// never without its entry, and a duplicate delivery writes none.
    pub async fn submit_audited(
        &self,
        event: KeptnEvent,
        named_here: bool,
        audit: Option<AuditEntry>,
    ) -> Result<Accepted, Error> {
        self.send_event(event, named_here, audit.map(Box::new))
            .await
    }

    async fn send_event(
        &self,
        event: KeptnEvent,
        named_here: bool,
        audit: Option<Box<AuditEntry>>,
    ) -> Result<Accepted, Error> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Event {
                event: Box::new(event),
                named_here,
                audit,
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

    /// Returns once the driver has restored the engine from the store (its open tasks are
    /// known, the unanswered ones republished): where a built-in service's recovery after a
    /// restart, or after a cluster leader's takeover, begins. Never returns when the driver
    /// did not start.
    pub async fn restored(&self) {
        let mut restored = self.restored.clone();
        if restored.wait_for(|done| *done).await.is_err() {
            std::future::pending::<()>().await;
        }
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
    restored: watch::Sender<bool>,
}

/// Creates the driver's command channel: the handle (for the API and built-in services, usable
/// at once; commands wait until the driver starts) and the inbox for [`Driver::start`].
pub fn channel() -> (DriverHandle, Inbox) {
    let (tx, rx) = mpsc::channel(1024);
    let open_tasks: OpenTasks = Arc::default();
    let (restored, restored_rx) = watch::channel(false);
    (
        DriverHandle {
            tx: tx.clone(),
            open_tasks: open_tasks.clone(),
            restored: restored_rx,
        },
        Inbox {
            tx,
            rx,
            open_tasks,
            restored,
        },
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
    /// Ids of outgoing events published but not yet marked dispatched in the store.
    sent: Vec<String>,
    /// Batches whose commit is under way, oldest first.
    in_flight: VecDeque<Prepared>,
    /// Ids of the incoming events of the batches in flight (stored soon: duplicates).
    in_flight_ids: HashSet<String>,
    /// Commits, in order.
    committer: mpsc::UnboundedSender<Commit>,
}

/// A batch after its engine steps, waiting for its commit.
struct Prepared {
    applied: Vec<Applied>,
    /// The open-task index entries of the changed executions, as of this batch.
    open: Vec<(ExecutionId, Option<OpenTask>)>,
    /// Ids of its incoming events.
    ids: Vec<String>,
    /// The outcome of its commit (`None`: nothing to write).
    done: Option<oneshot::Receiver<Result<(), Error>>>,
}

impl Prepared {
    /// A batch that was answered at once (nothing to commit or to carry out).
    fn nothing() -> Prepared {
        Prepared {
            applied: Vec::new(),
            open: Vec::new(),
            ids: Vec::new(),
            done: None,
        }
    }
}

/// Where the committer answers one batch.
type CommitReply = oneshot::Sender<Result<(), Error>>;

/// A request to the committer.
enum Commit {
    /// Write these changes (unless an earlier commit failed).
    Write(Box<Changes>, CommitReply),
    /// The pipeline is empty: writing may resume after a failure.
    Resume,
}

/// The committer: writes the batches' changes in the order they were prepared. The batches
/// that queued up while the store was busy go together into one commit (group commit of
/// batches: [`Changes::absorb`]), so the store's round trips are shared by more events the
/// busier it is. Up to [`Store::commit_pipeline`] commits are handed to the store before the
/// first is answered ([`Store::send_commit`]): SQLite's commit thread then goes from one
/// transaction to the next without waiting for this task to wake up. After a failure it
/// refuses the changes behind it without writing them (they were prepared on engine state
/// that is not stored; the store refuses those it already has), until the driver says
/// [`Commit::Resume`].
async fn run_committer(store: Arc<Store>, mut rx: mpsc::UnboundedReceiver<Commit>) {
    let depth = store.commit_pipeline().max(1);
    let mut failed: Option<Arc<Error>> = None;
    let mut held: Option<Commit> = None;
    let mut sent: VecDeque<(SentCommit, Vec<CommitReply>)> = VecDeque::new();
    let mut open = true;
    while open || !sent.is_empty() {
        tokio::select! {
            biased;
            outcome = oldest_sent(&mut sent) => {
                let Some((_, replies)) = sent.pop_front() else { continue };
                // The commits the store refused behind a failed one hear of the first failure.
                let failure = outcome.err().map(|e| first_failure(&mut failed, e));
                answer(replies, &failure);
            }
            request = next_commit(&mut held, &mut rx), if open && sent.len() < depth => {
                let (mut changes, reply) = match request {
                    None => {
                        open = false;
                        continue;
                    }
                    Some(Commit::Resume) => {
                        failed = None;
                        store.resume_commits();
                        continue;
                    }
                    Some(Commit::Write(changes, reply)) => (changes, reply),
                };
                let mut replies = vec![reply];
                while replies.len() < MAX_MERGED {
                    match rx.try_recv() {
                        Ok(Commit::Write(more, reply)) => {
                            changes.absorb(*more);
                            replies.push(reply);
                        }
                        Ok(other) => {
                            held = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                if failed.is_some() {
                    answer(replies, &failed);
                    continue;
                }
                match store.send_commit(*changes) {
                    Ok(commit) => sent.push_back((commit, replies)),
                    Err(e) => answer(replies, &Some(first_failure(&mut failed, e))),
                }
            }
        }
    }
}

/// The outcome of the oldest commit handed to the store (pending while there is none).
async fn oldest_sent<T>(
    sent: &mut VecDeque<(SentCommit, T)>,
) -> Result<sluice_store::CommitOutcome, sluice_store::Error> {
    match sent.front_mut() {
        None => std::future::pending().await,
        Some((commit, _)) => commit.await,
    }
}

/// The next request: the one held back by the last merge, else the next from the driver.
async fn next_commit(
    held: &mut Option<Commit>,
    rx: &mut mpsc::UnboundedReceiver<Commit>,
) -> Option<Commit> {
    match held.take() {
        Some(request) => Some(request),
        None => rx.recv().await,
    }
}

/// The failure that refuses the chain from now on: the first one since the last resume
/// (logged once), which every batch behind it hears of.
fn first_failure(failed: &mut Option<Arc<Error>>, error: sluice_store::Error) -> Arc<Error> {
    failed
        .get_or_insert_with(|| {
            tracing::error!(error = %error, "cannot persist a batch of engine steps");
            Arc::new(Error::Store(error))
        })
        .clone()
}

/// Tells the batches of a commit how it went.
fn answer(replies: Vec<CommitReply>, failed: &Option<Arc<Error>>) {
    for reply in replies {
        let outcome = match failed {
            Some(e) => Err(Error::Shared(e.clone())),
            None => Ok(()),
        };
        let _ = reply.send(outcome);
    }
}

/// How to answer one command of a batch once the batch is durable.
enum Reply {
    Event(oneshot::Sender<Result<Accepted, Error>>, Accepted),
    Control(oneshot::Sender<Result<bool, Error>>, bool),
    None,
}

impl Reply {
    fn send(self) {
        match self {
            Reply::Event(tx, outcome) => {
                let _ = tx.send(Ok(outcome));
            }
            Reply::Control(tx, found) => {
                let _ = tx.send(Ok(found));
            }
            Reply::None => {}
        }
    }

    fn fail(self, error: &Arc<Error>) {
        match self {
            Reply::Event(tx, _) => {
                let _ = tx.send(Err(Error::Shared(error.clone())));
            }
            Reply::Control(tx, _) => {
                let _ = tx.send(Err(Error::Shared(error.clone())));
            }
            Reply::None => {
                tracing::error!(error = %error, "cannot persist a timer step; it will be retried after a restart");
            }
        }
    }
}

/// One command of a batch after its engine step.
struct Applied {
    reply: Reply,
    /// The incoming event to store and publish.
    incoming: Option<Arc<KeptnEvent>>,
    /// The audit entry of the incoming event.
    audit: Option<Box<AuditEntry>>,
    /// The events the step emitted, to store and publish.
    emitted: Vec<Arc<KeptnEvent>>,
    /// The step's other effects (timers, cancellations).
    effects: Vec<Effect>,
}

impl Applied {
    /// A command answered without an engine step.
    fn answer(reply: Reply) -> Applied {
        Applied {
            reply,
            incoming: None,
            audit: None,
            emitted: Vec::new(),
            effects: Vec::new(),
        }
    }

    /// A command after its step; the emitted events are moved out of their boxes, not copied.
    fn of(reply: Reply, incoming: Option<Arc<KeptnEvent>>, step: Step) -> Applied {
        let mut emitted = Vec::new();
        let mut effects = Vec::new();
        for effect in step.effects {
            match effect {
                Effect::Emit(event) => emitted.push(Arc::from(event)),
                other => effects.push(other),
            }
        }
        Applied {
            reply,
            incoming,
            audit: None,
            emitted,
            effects,
        }
    }
}

/// What the steps of one batch changed.
#[derive(Default)]
struct Work {
    /// The latest serialized state of each changed execution.
    records: HashMap<String, ExecutionRecord>,
    changed: Vec<ExecutionId>,
    pauses_changed: bool,
    error: Option<Error>,
    /// The commit of each stage's head, as first looked up in this batch.
    stage_heads: std::cell::RefCell<HashMap<(String, String), Option<String>>>,
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
        let Inbox {
            tx,
            rx,
            open_tasks,
            restored,
        } = inbox;
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
        let views = projects_view::spawn(store.clone(), metrics.clone());
        let (committer, commits) = mpsc::unbounded_channel();
        tokio::spawn(run_committer(store.clone(), commits));
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
            sent: Vec::new(),
            in_flight: VecDeque::new(),
            in_flight_ids: HashSet::new(),
            committer,
        };
        for (key, at) in driver.engine.pending_timers() {
            driver.arm(key, at);
        }
        driver.refresh_open_tasks();
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
        restored.send_replace(true);
        Ok(())
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut open = true;
        while open || !self.in_flight.is_empty() {
            let room = open && self.in_flight.len() < MAX_IN_FLIGHT;
            // Marks of sent events ride along with the next commit; when nothing comes for a
            // moment they get a transaction of their own.
            let quiet = self.in_flight.is_empty() && !self.sent.is_empty();
            tokio::select! {
                biased;
                // The oldest batch first: its answers wait for nothing else.
                outcome = Self::oldest_commit(&mut self.in_flight) => {
                    if let Some(prepared) = self.in_flight.pop_front() {
                        self.finish(prepared, outcome);
                    }
                }
                // Everything waiting is taken at once (up to MAX_BATCH): one batch, one commit.
                received = rx.recv_many(&mut batch, MAX_BATCH), if room => {
                    if received == 0 {
                        open = false;
                        continue;
                    }
                    let prepared = self.prepare(&mut batch).await;
                    self.in_flight.push_back(prepared);
                }
                _ = tokio::time::sleep(DISPATCH_MARK_DELAY), if quiet => self.flush_sent().await,
            }
        }
        self.flush_sent().await;
        for (_, timer) in self.timers.drain() {
            timer.abort();
        }
    }

    /// The outcome of the oldest batch's commit (pending while nothing is in flight).
    async fn oldest_commit(in_flight: &mut VecDeque<Prepared>) -> Result<(), Error> {
        match in_flight.front_mut() {
            None => std::future::pending().await,
            Some(Prepared { done: None, .. }) => Ok(()),
            Some(Prepared { done: Some(rx), .. }) => rx.await.unwrap_or(Err(Error::Stopped)),
        }
    }

    /// Marks the events sent since the last commit as dispatched.
    async fn flush_sent(&mut self) {
        if self.sent.is_empty() {
            return;
        }
        let ids = std::mem::take(&mut self.sent);
        if let Err(e) = self.store.mark_dispatched(&ids).await {
            tracing::warn!(error = %e, "cannot mark sent events; they are sent again after a restart");
        }
    }

    /// Takes the commands that arrived together: runs the engine on each in order and hands
    /// everything they change to the committer as ONE transaction (group commit). The batch
    /// is answered and its effects carried out by [`Driver::finish`] once that is durable.
    async fn prepare(&mut self, batch: &mut Vec<Command>) -> Prepared {
        // Every event is looked up, whoever sent it: a sender that retries a request it got
        // no answer to sends the same id again, and that must not count twice. Only ids this
        // server has just made are not: nothing stored can have them.
        let ids: Vec<String> = batch
            .iter()
            .filter_map(|c| match c {
                Command::Event {
                    event,
                    named_here: false,
                    ..
                } => event.id.clone(),
                _ => None,
            })
            .collect();
        let mut known = if ids.is_empty() {
            HashSet::new()
        } else {
            match self.store.existing_event_ids(&ids).await {
                Ok(known) => known,
                Err(e) => {
                    let e = Arc::new(Error::Store(e));
                    for command in batch.drain(..) {
                        self.refuse(command, &e);
                    }
                    return Prepared::nothing();
                }
            }
        };
        // Stored by a batch in flight: as good as known.
        known.extend(
            ids.iter()
                .filter(|id| self.in_flight_ids.contains(*id))
                .cloned(),
        );
        let mut fresh_ids = Vec::new();
        let mut applied: Vec<Applied> = Vec::with_capacity(batch.len());
        let mut work = Work::default();
        for command in batch.drain(..) {
            match command {
                Command::Event {
                    event,
                    reply,
                    audit,
                    ..
                } => {
                    let id = event.id.clone().unwrap_or_default();
                    // Known before, or twice in this batch: a duplicate delivery.
                    if !known.insert(id.clone()) {
                        applied.push(Applied::answer(Reply::Event(reply, Accepted::Duplicate)));
                        continue;
                    }
                    fresh_ids.push(id);
                    self.metrics
                        .event_received(event.event_type.as_deref().unwrap_or(""));
                    // Shared from here on by the engine, the store and the bus: never copied.
                    let stored: Arc<KeptnEvent> = Arc::from(event);
                    let step = self.step(Input::Event(stored.clone()), &mut work);
                    applied.push(Applied {
                        audit,
                        ..Applied::of(Reply::Event(reply, Accepted::Stored), Some(stored), step)
                    });
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
                    let step = self.step(input, &mut work);
                    let found = step.ignored.is_none();
                    applied.push(Applied::of(Reply::Control(reply, found), None, step));
                }
                Command::Timer(key) => {
                    self.timers.remove(&key);
                    let step = self.step(Input::Timer(key), &mut work);
                    applied.push(Applied::of(Reply::None, None, step));
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

        // One transaction for the whole batch, in the order the steps happened, with the
        // services' last events (`lastEventTypes`).
        let mut changes = Changes::default();
        for a in &mut applied {
            if let (Some(entry), Some(id)) = (
                a.audit.take(),
                a.incoming.as_ref().and_then(|e| e.id.clone()),
            ) {
                changes.audit.push((id, *entry));
            }
            let incoming = a.incoming.iter().map(|e| (e, false));
            for (event, outgoing) in incoming.chain(a.emitted.iter().map(|e| (e, true))) {
                changes.last_events.extend(projects_view::last_event(event));
                changes.events.push(NewEvent {
                    event: event.clone(),
                    outgoing,
                });
            }
        }
        changes.executions_upsert = work.records.into_values().collect();
        if work.pauses_changed {
            match serde_json::to_value(self.engine.pauses()) {
                Ok(v) => changes.settings_set.push((PAUSES_KEY.to_owned(), v)),
                Err(e) => tracing::error!(error = %e, "cannot serialize the pauses"),
            }
        }
        if let Some(e) = work.error.take() {
            let e = Arc::new(e);
            for a in applied {
                a.reply.fail(&e);
            }
            return Prepared::nothing();
        }
        let open = self.open_task_entries(&work.changed);
        let done = if changes.is_empty() {
            None
        } else {
            changes.dispatched = std::mem::take(&mut self.sent);
            let (tx, rx) = oneshot::channel();
            if self
                .committer
                .send(Commit::Write(Box::new(changes), tx))
                .is_err()
            {
                let e = Arc::new(Error::Stopped);
                for a in applied {
                    a.reply.fail(&e);
                }
                return Prepared::nothing();
            }
            self.in_flight_ids.extend(fresh_ids.iter().cloned());
            Some(rx)
        };
        Prepared {
            applied,
            open,
            ids: fresh_ids,
            done,
        }
    }

    /// Completes a batch after its commit: on success the world may see it, pollers of open
    /// tasks included, before any caller hears that its event was taken (the projects view
    /// follows in the background, off the path from one task to the next); on failure every
    /// caller hears of it.
    fn finish(&mut self, prepared: Prepared, outcome: Result<(), Error>) {
        let Prepared {
            applied, open, ids, ..
        } = prepared;
        for id in &ids {
            self.in_flight_ids.remove(id);
        }
        if let Err(e) = outcome {
            let e = Arc::new(e);
            for a in applied {
                a.reply.fail(&e);
            }
            if self.in_flight.is_empty() {
                let _ = self.committer.send(Commit::Resume);
            }
            return;
        }
        if self.in_flight.is_empty() {
            // Harmless when nothing failed; after a failure the next batch may be written.
            let _ = self.committer.send(Commit::Resume);
        }
        self.apply_open_tasks(open);
        for a in applied {
            if let Some(event) = a.incoming {
                let _ = self.views.send(event.clone());
                self.bus.publish(event);
            }
            for event in a.emitted {
                if let Some(id) = &event.id {
                    self.sent.push(id.clone());
                }
                let _ = self.views.send(event.clone());
                self.bus.publish(event);
            }
            for effect in &a.effects {
                self.carry_out(effect);
            }
            a.reply.send();
        }
    }

    /// Answers a command that could not be handled at all.
    fn refuse(&mut self, command: Command, error: &Arc<Error>) {
        let reply = match command {
            Command::Event { reply, .. } => Reply::Event(reply, Accepted::Stored),
            Command::Control { reply, .. } => Reply::Control(reply, false),
            Command::Timer(key) => {
                tracing::error!(error = %error, "cannot handle a timer; it fires again after a restart");
                self.timers.remove(&key);
                Reply::None
            }
            Command::Shipyard { project, shipyard } => {
                match shipyard {
                    Some(s) => self.shipyards.insert(project, s),
                    None => self.shipyards.remove(&project),
                };
                Reply::None
            }
        };
        reply.fail(error);
    }

    /// Runs one engine step and notes what it changed in `work` (executions are serialized
    /// at once: an ended one is forgotten right after its step).
    fn step(&mut self, input: Input, work: &mut Work) -> Step {
        let now = clock::now();
        let resources = self.resources.clone();
        let shipyards = &self.shipyards;
        let shipyard_for = |project: &str| shipyards.get(project).cloned();
        // Looked up once per stage and batch: the sequences triggered together pin the same
        // commit, and git is read once instead of once per sequence.
        let heads = &work.stage_heads;
        let stage_commit = |project: &str, stage: &str| {
            let key = (project.to_owned(), stage.to_owned());
            if let Some(head) = heads.borrow().get(&key) {
                return head.clone();
            }
            let head = resources
                .stage_head(project, stage)
                .ok()
                .map(|c| c.to_string());
            heads.borrow_mut().insert(key, head.clone());
            head
        };
        // Time-ordered (UUID v7) like every fresh id: the events and executions a batch
        // makes sit together in the store's id, triggered-id and execution indexes instead of
        // dirtying a random page of each.
        let mut ids = crate::runtime::ids::fresh;
        let step = self
            .engine
            .handle(input, &shipyard_for, &stage_commit, now, &mut ids);
        if let Some(reason) = &step.ignored {
            tracing::debug!(%reason, "engine ignored an input");
        }
        for id in &step.changed {
            if let Some(execution) = self.engine.execution(id) {
                match record_of(execution) {
                    Ok(record) => {
                        work.records.insert(record.id.clone(), record);
                    }
                    Err(e) => work.error = Some(e),
                }
            }
            work.changed.push(id.clone());
        }
        work.pauses_changed |= step.pauses_changed;
        // Ended executions need not stay in memory; the store keeps them for the API.
        for id in &step.changed {
            if self.engine.execution(id).is_some_and(|e| !e.is_open()) {
                self.engine.forget(id);
            }
        }
        step
    }

    /// Carries out a committed step's effect other than publishing: timers, cancellations.
    fn carry_out(&mut self, effect: &Effect) {
        match effect {
            // Taken out of the step by `Applied::of` and published by the caller.
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
                self.bus.cancel(crate::runtime::bus::Cancel {
                    keptn_context: keptn_context.clone(),
                    task: task.clone(),
                    triggered_id: triggered_id.clone(),
                });
            }
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

    /// Recomputes the whole open-task index (at start).
    fn refresh_open_tasks(&self) {
        let ids: Vec<ExecutionId> = self.engine.executions().map(|e| e.id.clone()).collect();
        let entries = self.open_task_entries(&ids);
        self.open_tasks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.apply_open_tasks(entries);
    }

    /// The open-task index entries of these executions as the engine has them now (`None`:
    /// no open task).
    fn open_task_entries(&self, ids: &[ExecutionId]) -> Vec<(ExecutionId, Option<OpenTask>)> {
        ids.iter()
            .map(|id| (id.clone(), self.open_task_of(id)))
            .collect()
    }

    fn open_task_of(&self, id: &ExecutionId) -> Option<OpenTask> {
        let execution = self.engine.execution(id)?;
        if !execution.is_open() {
            return None;
        }
        let current = execution.current_task.as_ref()?;
        if current.is_complete() {
            return None;
        }
        Some(OpenTask {
            triggered_id: current.triggered_id.clone(),
            event_type: EventType::task_triggered(&current.name).to_string(),
            project: execution.scope.project.clone(),
            stage: execution.scope.stage.clone(),
            service: execution.scope.service.clone(),
            keptn_context: execution.scope.keptn_context.clone(),
            due: !current.delayed,
            answered: !current.events.is_empty(),
        })
    }

    /// Writes entries into the open-task index, in order (a later entry of an execution wins).
    fn apply_open_tasks(&self, entries: Vec<(ExecutionId, Option<OpenTask>)>) {
        let mut tasks = self.open_tasks.write().unwrap_or_else(|p| p.into_inner());
        for (id, task) in entries {
            match task {
                Some(task) => {
                    tasks.insert(id, task);
                }
                None => {
                    tasks.remove(&id);
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, body: &str) -> ExecutionRecord {
        ExecutionRecord {
            id: id.into(),
            project: "p".into(),
            stage: "s".into(),
            service: "v".into(),
            keptn_context: "c".into(),
            sequence_name: "delivery".into(),
            state: "started".into(),
            terminal: false,
            triggered_at: Timestamp::from_unix(1, 0),
            updated_seq: 0,
            body: body.into(),
        }
    }

    fn write(id: &str, body: &str) -> (Commit, oneshot::Receiver<Result<(), Error>>) {
        let (tx, rx) = oneshot::channel();
        let changes = Changes {
            executions_upsert: vec![record(id, body)],
            ..Changes::default()
        };
        (Commit::Write(Box::new(changes), tx), rx)
    }

    #[tokio::test]
    async fn the_committer_writes_queued_batches_together_and_stops_after_a_failure() {
        let dir =
            std::env::temp_dir().join(format!("sluice-committer-{}", crate::runtime::ids::fresh()));
        let store = Arc::new(Store::open(&dir).await.unwrap());
        let (tx, rx) = mpsc::unbounded_channel();
        // Queued before the committer runs: one transaction for the three.
        let mut outcomes = Vec::new();
        for id in ["a", "b", "c"] {
            let (commit, outcome) = write(id, "{}");
            tx.send(commit).unwrap();
            outcomes.push(outcome);
        }
        let committer = tokio::spawn(run_committer(store.clone(), rx));
        for outcome in outcomes {
            outcome.await.unwrap().unwrap();
        }
        for id in ["a", "b", "c"] {
            assert!(store.execution(id).await.unwrap().is_some(), "{id}");
        }
        // A failed commit (a body that is not JSON) refuses what is behind it unwritten...
        let (bad, bad_outcome) = write("bad", "not json");
        tx.send(bad).unwrap();
        assert!(bad_outcome.await.unwrap().is_err());
        let (after, after_outcome) = write("after", "{}");
        tx.send(after).unwrap();
        assert!(after_outcome.await.unwrap().is_err());
        assert!(store.execution("after").await.unwrap().is_none());
        tx.send(Commit::Resume).unwrap();
        // Also what was handed to the store before the failure was known.
        let (bad, bad_outcome) = write("bad", "not json");
        tx.send(bad).unwrap();
        tokio::task::yield_now().await;
        let (behind, behind_outcome) = write("behind", "{}");
        tx.send(behind).unwrap();
        assert!(bad_outcome.await.unwrap().is_err());
        assert!(behind_outcome.await.unwrap().is_err());
        assert!(store.execution("behind").await.unwrap().is_none());
        // ... until the pipeline is empty and the driver resumes it.
        tx.send(Commit::Resume).unwrap();
        let (again, again_outcome) = write("again", "{}");
        tx.send(again).unwrap();
        again_outcome.await.unwrap().unwrap();
        assert!(store.execution("again").await.unwrap().is_some());
        drop(tx);
        committer.await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
