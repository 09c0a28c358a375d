//! The sequence state machine: Keptn's shipyard-controller as a pure function from inputs
//! (events, timer firings, control commands) to effects (events to send, timers to arm or
//! cancel, running tasks to cancel).
//!
//! Rules (spec digest 4.4; where the digest and Keptn's code differ, see the crate docs):
//! - a sequence `.triggered` creates one [`SequenceExecution`] (de-duplicated by event id);
//!   an unknown sequence, unknown stage, missing shipyard or a sequence without tasks is
//!   answered at once with an errored `<stage>.<sequence>.finished`;
//! - at most one execution per project+stage+service holds the slot (state `started`); the
//!   others wait in trigger order; an execution whose current task is `approval` releases the
//!   slot while it waits;
//! - tasks run one at a time; a task completes when it has as many `.finished` as `.started`
//!   events (and at least one); results aggregate worst-wins; a failed or errored task ends the
//!   sequence; a completed sequence emits `<stage>.<sequence>.finished` and starts the
//!   `triggeredOn` follow-ups itself (their echo from the bus is ignored as a duplicate);
//! - deadlines: a dispatched task must get a `.started` (or `.finished`) within
//!   [`EngineConfig::started_timeout`], then its completing `.finished` within the task's
//!   `properties.timeout` (default [`EngineConfig::finish_timeout`]; approvals exempt);
//! - pause / resume / abort per context, optionally per stage.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sluice_model::event::data::Verdict;
use sluice_model::event::{
    EventData, EventType, GoDuration, KeptnEvent, SequenceEventKind, TaskEventKind, Timestamp,
};
use sluice_model::shipyard::Shipyard;

use crate::execution::{
    ArmedTimer, CompletedTask, CurrentTask, ExecutionId, Outcome, Scope, SequenceExecution,
    SequenceSpec, SequenceState, TaskEvent, TaskEventPhase, TaskStatus, TimerKind,
};

/// The `source` of every event the engine emits.
pub const SOURCE: &str = "shipyard-controller";

/// Engine settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// How long a dispatched task may wait for its first `.started` (or `.finished`) event.
    /// Keptn's `TASK_STARTED_WAIT_DURATION`, default 10 minutes.
    pub started_timeout: GoDuration,
    /// How long a started task may run when its shipyard properties have no valid `timeout`.
    /// Default 1 hour. (Keptn had no such deadline, issue 7407.)
    pub finish_timeout: GoDuration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            started_timeout: GoDuration::from_nanos(10 * 60 * 1_000_000_000),
            finish_timeout: GoDuration::from_nanos(60 * 60 * 1_000_000_000),
        }
    }
}

/// Identifies one timer: the execution, the task's `.triggered` id and what the timer is for.
/// A timer whose task is no longer current is stale and ignored when it fires.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimerKey {
    /// The execution.
    pub execution: ExecutionId,
    /// The task's `.triggered` event id.
    pub triggered_id: String,
    /// What the timer is for.
    pub kind: TimerKind,
}

impl fmt::Display for TimerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.execution, self.triggered_id)
    }
}

/// A pause that applies to new triggers too: a whole context, or one stage of it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PauseScope {
    /// The paused context.
    pub keptn_context: String,
    /// The paused stage (`None`: every stage of the context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
}

/// A sequence control command (Keptn's `POST /v1/sequence/{project}/{context}/control`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ControlAction {
    /// Hold the next task of every open execution (running tasks go on).
    Pause,
    /// Undo a pause and send what was held.
    Resume,
    /// End every open execution with status `aborted`.
    Abort,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Any incoming Keptn event; the engine acts on sequence `.triggered` and task
    /// `.started`/`.finished` events and ignores the rest. Shared, so that the caller can
    /// keep (store, publish) the same event without copying it.
    Event(Arc<KeptnEvent>),
    /// A timer the engine scheduled has fired.
    Timer(TimerKey),
    /// A control command for a context (and optionally one stage).
    Control {
        /// The context.
        keptn_context: String,
        /// Only this stage (`None`: all stages).
        stage: Option<String>,
        /// What to do.
        action: ControlAction,
    },
}

impl Input {
    /// An incoming event.
    pub fn event(ev: KeptnEvent) -> Self {
        Input::Event(Arc::new(ev))
    }
}

/// Something the driver must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Publish this event.
    Emit(Box<KeptnEvent>),
    /// Arm a timer; feed [`Input::Timer`] back at `at`. Persist it to survive restarts (or use
    /// [`Engine::pending_timers`] after [`Engine::restore`]).
    ScheduleTimer {
        /// The timer.
        key: TimerKey,
        /// When it fires.
        at: Timestamp,
    },
    /// Disarm a timer scheduled earlier (firing it anyway is harmless: it would be ignored).
    CancelTimer(TimerKey),
    /// An aborted sequence's task may still be running: built-in executors should stop it.
    CancelTask {
        /// The execution that was aborted.
        execution: ExecutionId,
        /// The run.
        keptn_context: String,
        /// Task name.
        task: String,
        /// Id of the task's `.triggered` event.
        triggered_id: String,
    },
}

/// Why an input changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ignored {
    /// An event the engine does not act on (task `.triggered`, sequence `.finished`, ...).
    #[error("event type {0} is not handled by the sequence engine")]
    NotHandled(String),
    /// The event type is missing or not a Keptn type.
    #[error("event has no valid type: {0}")]
    BadType(String),
    /// A required attribute or data field is missing or empty.
    #[error("event has no {0}")]
    Missing(&'static str),
    /// `data` could not be read.
    #[error("event data is invalid: {0}")]
    BadData(String),
    /// The same sequence `.triggered` event (same id) arrived before.
    #[error("sequence trigger {0} was already received")]
    DuplicateTrigger(String),
    /// A task event for a task that is not open (late, duplicate or foreign).
    #[error("no open task was triggered with id {0}")]
    UnknownTriggeredId(String),
    /// A timer for a task that has moved on.
    #[error("timer {0} is stale")]
    StaleTimer(String),
    /// A control command for a context without open executions.
    #[error("no open sequence in context {0}")]
    NoOpenSequence(String),
}

/// What one input caused.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Step {
    /// Effects, in order.
    pub effects: Vec<Effect>,
    /// Executions created or modified (persist these), in first-change order.
    pub changed: Vec<ExecutionId>,
    /// Set when the input changed nothing, with the reason (for logs).
    pub ignored: Option<Ignored>,
    /// The set of [`PauseScope`]s changed (persist [`Engine::pauses`]).
    pub pauses_changed: bool,
}

/// project, stage, service: the unit in which only one sequence runs at a time.
type SlotKey = (String, String, String);

/// The collaborators and accumulators of one [`Engine::handle`] call.
struct Env<'a> {
    shipyard_for: &'a dyn Fn(&str) -> Option<Arc<Shipyard>>,
    stage_commit: &'a dyn Fn(&str, &str) -> Option<String>,
    now: Timestamp,
    ids: &'a mut dyn FnMut() -> String,
    effects: Vec<Effect>,
    changed: Vec<ExecutionId>,
    pauses_changed: bool,
}

impl Env<'_> {
    fn touch(&mut self, id: &ExecutionId) {
        if !self.changed.contains(id) {
            self.changed.push(id.clone());
        }
    }

    fn emit(&mut self, ev: KeptnEvent) {
        self.effects.push(Effect::Emit(Box::new(ev)));
    }

    fn new_id(&mut self) -> String {
        (self.ids)()
    }
}

/// The in-memory state of all sequence executions.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    config: EngineConfig,
    executions: BTreeMap<ExecutionId, SequenceExecution>,
    pauses: BTreeSet<PauseScope>,
    next_arrival: u64,
}

impl Engine {
    /// An empty engine.
    pub fn new(config: EngineConfig) -> Self {
        Engine {
            config,
            ..Engine::default()
        }
    }

    /// An engine continuing from persisted executions and pauses. Re-arm
    /// [`Engine::pending_timers`] afterwards.
    pub fn restore(
        config: EngineConfig,
        executions: Vec<SequenceExecution>,
        pauses: Vec<PauseScope>,
    ) -> Self {
        let next_arrival = executions.iter().map(|e| e.arrival + 1).max().unwrap_or(0);
        Engine {
            config,
            executions: executions.into_iter().map(|e| (e.id.clone(), e)).collect(),
            pauses: pauses.into_iter().collect(),
            next_arrival,
        }
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// All executions (open and ended), by id.
    pub fn executions(&self) -> impl Iterator<Item = &SequenceExecution> {
        self.executions.values()
    }

    /// One execution.
    pub fn execution(&self, id: &ExecutionId) -> Option<&SequenceExecution> {
        self.executions.get(id)
    }

    /// Forgets an ended execution (the driver decides how long to keep history). Open
    /// executions are kept; returns the removed one. A forgotten trigger id is no longer
    /// de-duplicated.
    pub fn forget(&mut self, id: &ExecutionId) -> Option<SequenceExecution> {
        if self.executions.get(id)?.is_open() {
            return None;
        }
        self.executions.remove(id)
    }

    /// The active pauses.
    pub fn pauses(&self) -> Vec<PauseScope> {
        self.pauses.iter().cloned().collect()
    }

    /// Every armed timer, earliest first (re-arm these after a restart).
    pub fn pending_timers(&self) -> Vec<(TimerKey, Timestamp)> {
        let mut out: Vec<(TimerKey, Timestamp)> = self
            .executions
            .values()
            .filter(|e| e.is_open())
            .filter_map(|e| {
                let ct = e.current_task.as_ref()?;
                let t = ct.timer?;
                Some((timer_key(&e.id, ct, t.kind), t.at))
            })
            .collect();
        out.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        out
    }

    /// Handles one input.
    ///
    /// `shipyard_for(project)` gives the project's current shipyard; `stage_commit(project,
    /// stage)` the stage's current configuration commit; `ids` fresh unique ids (event and
    /// execution ids).
    pub fn handle(
        &mut self,
        input: Input,
        shipyard_for: &dyn Fn(&str) -> Option<Arc<Shipyard>>,
        stage_commit: &dyn Fn(&str, &str) -> Option<String>,
        now: Timestamp,
        ids: &mut dyn FnMut() -> String,
    ) -> Step {
        let mut env = Env {
            shipyard_for,
            stage_commit,
            now,
            ids,
            effects: Vec::new(),
            changed: Vec::new(),
            pauses_changed: false,
        };
        let ignored = match input {
            Input::Event(ev) => self.on_event(&ev, &mut env),
            Input::Timer(key) => self.on_timer(&key, &mut env),
            Input::Control {
                keptn_context,
                stage,
                action,
            } => self.on_control(&keptn_context, stage.as_deref(), action, &mut env),
        };
        Step {
            effects: env.effects,
            changed: env.changed,
            ignored,
            pauses_changed: env.pauses_changed,
        }
    }

    // -----------------------------------------------------------------------------------
    // events

    fn on_event(&mut self, ev: &KeptnEvent, env: &mut Env<'_>) -> Option<Ignored> {
        let ty = match ev.event_type() {
            Ok(t) => t,
            Err(e) => return Some(Ignored::BadType(e.to_string())),
        };
        match &ty {
            EventType::Sequence {
                stage,
                sequence,
                kind: SequenceEventKind::Triggered,
            } => self.on_sequence_triggered(ev, stage, sequence, env),
            EventType::Task {
                kind: TaskEventKind::Started,
                ..
            } => self.on_task_event(ev, TaskEventPhase::Started, env),
            EventType::Task {
                kind: TaskEventKind::Finished,
                ..
            } => self.on_task_event(ev, TaskEventPhase::Finished, env),
            other => Some(Ignored::NotHandled(other.to_string())),
        }
    }

    fn on_sequence_triggered(
        &mut self,
        ev: &KeptnEvent,
        type_stage: &str,
        sequence_name: &str,
        env: &mut Env<'_>,
    ) -> Option<Ignored> {
        let Some(trigger_id) = non_empty(&ev.id) else {
            return Some(Ignored::Missing("id"));
        };
        let Some(context) = non_empty(&ev.shkeptncontext) else {
            return Some(Ignored::Missing("shkeptncontext"));
        };
        let data = match ev.event_data() {
            Ok(d) => d,
            Err(e) => return Some(Ignored::BadData(e.to_string())),
        };
        if data.project.is_empty() {
            return Some(Ignored::Missing("data.project"));
        }
        if data.service.is_empty() {
            return Some(Ignored::Missing("data.service"));
        }
        // Keptn looks the sequence up in `data.stage`; we fall back to the type's stage.
        let stage = if data.stage.is_empty() {
            type_stage.to_string()
        } else {
            data.stage.clone()
        };
        if self
            .executions
            .values()
            .any(|x| x.scope.triggered_id == trigger_id)
        {
            return Some(Ignored::DuplicateTrigger(trigger_id.to_string()));
        }

        let spec = match lookup_sequence(
            (env.shipyard_for)(&data.project).as_deref(),
            &data.project,
            &stage,
            sequence_name,
        ) {
            Ok(spec) => spec,
            Err(message) => {
                let finished = EventData {
                    project: data.project.clone(),
                    stage: stage.clone(),
                    service: data.service.clone(),
                    labels: data.labels.clone(),
                    status: TaskStatus::Errored.to_status_type(),
                    result: Verdict::Fail.to_result_type(),
                    message,
                };
                let id = env.new_id();
                let mut out = KeptnEvent::new(
                    &id,
                    SOURCE,
                    &EventType::sequence_finished(&stage, sequence_name),
                    env.now,
                    context,
                    finished.to_data(),
                );
                out.triggeredid = Some(trigger_id.to_string());
                env.emit(out);
                return None;
            }
        };

        let git_commit_id = non_empty(&ev.gitcommitid)
            .map(str::to_string)
            .or_else(|| (env.stage_commit)(&data.project, &stage));
        let triggered_at = match ev.timestamp() {
            Some(Ok(t)) => t,
            _ => env.now,
        };
        let input_properties = match ev.data_value() {
            Value::Object(m) => Value::Object(m.clone()),
            _ => Value::Object(serde_json::Map::new()),
        };
        let paused = self
            .pauses
            .iter()
            .any(|p| p.keptn_context == context && p.stage.as_deref().is_none_or(|s| s == stage));
        let id = ExecutionId(env.new_id());
        let arrival = self.next_arrival;
        self.next_arrival += 1;
        let execution = SequenceExecution {
            id: id.clone(),
            sequence: spec,
            scope: Scope {
                project: data.project.clone(),
                stage: stage.clone(),
                service: data.service.clone(),
                labels: data.labels.clone(),
                keptn_context: context.to_string(),
                triggered_id: trigger_id.to_string(),
                git_commit_id,
            },
            input_properties,
            triggered_at,
            arrival,
            state: SequenceState::Triggered,
            paused,
            previous_tasks: Vec::new(),
            current_task: None,
            outcome: None,
        };
        let slot = slot_of(&execution);
        self.executions.insert(id.clone(), execution);
        env.touch(&id);
        self.run_queue(&slot, env);
        None
    }

    fn on_task_event(
        &mut self,
        ev: &KeptnEvent,
        phase: TaskEventPhase,
        env: &mut Env<'_>,
    ) -> Option<Ignored> {
        let Some(triggered_id) = non_empty(&ev.triggeredid) else {
            return Some(Ignored::Missing("triggeredid"));
        };
        let context = non_empty(&ev.shkeptncontext);
        let found = self.executions.values().find(|x| {
            x.is_open()
                && context.is_none_or(|c| c == x.scope.keptn_context)
                && x.current_task
                    .as_ref()
                    .is_some_and(|t| t.triggered_id == triggered_id && t.dispatched_at.is_some())
        });
        let Some(id) = found.map(|x| x.id.clone()) else {
            return Some(Ignored::UnknownTriggeredId(triggered_id.to_string()));
        };
        // A payload that cannot be read still counts; its result then counts as fail.
        let data = ev.event_data().unwrap_or_default();
        let record = TaskEvent {
            kind: phase,
            source: ev.source.clone().unwrap_or_default(),
            result: data.result.clone(),
            status: data.status.clone(),
            message: data.message.clone(),
            received_at: env.now,
            properties: match phase {
                TaskEventPhase::Finished if ev.data_value().is_object() => ev.data_value().clone(),
                _ => Value::Null,
            },
        };
        let finish_default = self.config.finish_timeout;
        let exec = self.executions.get_mut(&id)?;
        let spec = exec.sequence.tasks.clone();
        let ct = exec.current_task.as_mut()?;
        let first = ct.events.is_empty();
        ct.events.push(record);
        let task_spec = spec.get(ct.index);
        if first {
            disarm(&exec.id, ct, env);
            // Approvals wait for a human: no finish deadline.
            if let Some(task) = task_spec.filter(|t| !t.is_approval()) {
                let at = env.now.plus(task.finish_timeout(finish_default));
                arm(&exec.id, ct, TimerKind::FinishedDeadline, at, env);
            }
        }
        env.touch(&id);
        if !ct.is_complete() {
            return None;
        }
        let completed = ct.aggregate();
        disarm(&exec.id, ct, env);
        let next_index = ct.index + 1;
        exec.current_task = None;
        exec.previous_tasks.push(completed.clone());
        if completed.ends_sequence() || next_index >= exec.sequence.tasks.len() {
            self.complete(&id, &completed, env);
        } else {
            self.prepare_task(&id, next_index, env);
        }
        None
    }

    // -----------------------------------------------------------------------------------
    // timers

    fn on_timer(&mut self, key: &TimerKey, env: &mut Env<'_>) -> Option<Ignored> {
        let stale = || Some(Ignored::StaleTimer(key.to_string()));
        let Some(exec) = self.executions.get_mut(&key.execution) else {
            return stale();
        };
        if !exec.is_open() {
            return stale();
        }
        let Some(ct) = exec.current_task.as_mut() else {
            return stale();
        };
        if ct.triggered_id != key.triggered_id || ct.timer.is_none_or(|t| t.kind != key.kind) {
            return stale();
        }
        // It fired: nothing to cancel any more.
        ct.timer = None;
        let task_type = EventType::task_triggered(&ct.name).to_string();
        let id = exec.id.clone();
        env.touch(&id);
        match key.kind {
            TimerKind::TriggeredAfter => {
                ct.delayed = false;
                self.try_dispatch(&id, env);
            }
            TimerKind::StartedDeadline => {
                let message = format!(
                    "sequence timed out while waiting for task {task_type} to receive a correlating .started or .finished event"
                );
                self.time_out(&id, message, env);
            }
            TimerKind::FinishedDeadline => {
                let limit = exec
                    .sequence
                    .tasks
                    .get(ct.index)
                    .map(|t| t.finish_timeout(self.config.finish_timeout))
                    .unwrap_or(self.config.finish_timeout);
                let message = format!(
                    "sequence timed out while waiting for task {task_type} to receive a completing .finished event within {limit} after it was started"
                );
                self.time_out(&id, message, env);
            }
        }
        None
    }

    fn time_out(&mut self, id: &ExecutionId, message: String, env: &mut Env<'_>) {
        let outcome = Outcome {
            result: Verdict::Fail,
            status: TaskStatus::Errored,
            message,
        };
        if let Some(slot) = self.end(id, SequenceState::TimedOut, outcome, env) {
            self.run_queue(&slot, env);
        }
    }

    // -----------------------------------------------------------------------------------
    // control

    fn on_control(
        &mut self,
        context: &str,
        stage: Option<&str>,
        action: ControlAction,
        env: &mut Env<'_>,
    ) -> Option<Ignored> {
        let mut targets: Vec<&SequenceExecution> = self
            .executions
            .values()
            .filter(|x| {
                x.is_open()
                    && x.scope.keptn_context == context
                    && stage.is_none_or(|s| s == x.scope.stage)
            })
            .collect();
        targets.sort_by_key(|x| (x.triggered_at, x.arrival));
        let targets: Vec<ExecutionId> = targets.into_iter().map(|x| x.id.clone()).collect();
        let scope = PauseScope {
            keptn_context: context.to_string(),
            stage: stage.map(str::to_string),
        };
        match action {
            ControlAction::Pause => {
                env.pauses_changed |= self.pauses.insert(scope);
                for id in &targets {
                    if let Some(x) = self.executions.get_mut(id)
                        && !x.paused
                    {
                        x.paused = true;
                        env.touch(id);
                    }
                }
                None
            }
            ControlAction::Resume | ControlAction::Abort => {
                self.remove_pauses(&scope, env);
                if targets.is_empty() {
                    return Some(Ignored::NoOpenSequence(context.to_string()));
                }
                let mut slots = BTreeSet::new();
                for id in &targets {
                    if action == ControlAction::Resume {
                        if let Some(x) = self.executions.get_mut(id)
                            && x.paused
                        {
                            x.paused = false;
                            env.touch(id);
                            slots.insert(slot_of(x));
                            self.try_dispatch(id, env);
                        }
                    } else {
                        let outcome = Outcome {
                            result: Verdict::Pass,
                            status: TaskStatus::Aborted,
                            message: String::new(),
                        };
                        slots.extend(self.end(id, SequenceState::Aborted, outcome, env));
                    }
                }
                for slot in &slots {
                    self.run_queue(slot, env);
                }
                None
            }
        }
    }

    fn remove_pauses(&mut self, scope: &PauseScope, env: &mut Env<'_>) {
        let before = self.pauses.len();
        self.pauses.retain(|p| {
            p.keptn_context != scope.keptn_context
                || (scope.stage.is_some() && p.stage != scope.stage)
        });
        env.pauses_changed |= self.pauses.len() != before;
    }

    // -----------------------------------------------------------------------------------
    // queue and tasks

    /// Whether an execution other than `except` holds the slot.
    fn slot_taken(&self, slot: &SlotKey, except: &ExecutionId) -> bool {
        self.executions
            .values()
            .any(|x| x.id != *except && x.state == SequenceState::Started && in_slot(x, slot))
    }

    /// Starts queued executions of the slot in trigger order while the slot is free, then
    /// marks the rest as waiting.
    fn run_queue(&mut self, slot: &SlotKey, env: &mut Env<'_>) {
        loop {
            let none = ExecutionId(String::new());
            if self.slot_taken(slot, &none) {
                break;
            }
            let next = self
                .executions
                .values()
                .filter(|x| x.state.is_queued() && !x.paused && in_slot(x, slot))
                .min_by_key(|x| (x.triggered_at, x.arrival))
                .map(|x| x.id.clone());
            let Some(id) = next else { break };
            let Some(x) = self.executions.get_mut(&id) else {
                break;
            };
            x.state = SequenceState::Started;
            env.touch(&id);
            if x.current_task.is_none() {
                self.prepare_task(&id, 0, env);
            } else {
                self.try_dispatch(&id, env);
            }
        }
        let waiting: Vec<ExecutionId> = self
            .executions
            .values()
            .filter(|x| x.state == SequenceState::Triggered && !x.paused && in_slot(x, slot))
            .map(|x| x.id.clone())
            .collect();
        for id in waiting {
            if let Some(x) = self.executions.get_mut(&id) {
                x.state = SequenceState::Waiting;
                env.touch(&id);
            }
        }
    }

    /// Makes task `index` current: allocates its `.triggered` id, arms `triggeredAfter`,
    /// takes or releases the slot, and sends the event if nothing holds it back.
    fn prepare_task(&mut self, id: &ExecutionId, index: usize, env: &mut Env<'_>) {
        let triggered_id = env.new_id();
        let Some(x) = self.executions.get(id) else {
            return;
        };
        let Some(task) = x.sequence.tasks.get(index).cloned() else {
            return;
        };
        let slot = slot_of(x);
        let mut released = false;
        let new_state = if task.is_approval() {
            released = x.state == SequenceState::Started;
            SequenceState::WaitingForApproval
        } else if x.state == SequenceState::Started || !self.slot_taken(&slot, id) {
            SequenceState::Started
        } else {
            SequenceState::Waiting
        };
        let Some(x) = self.executions.get_mut(id) else {
            return;
        };
        x.state = new_state;
        let mut ct = CurrentTask {
            name: task.name.clone(),
            index,
            triggered_id,
            delayed: false,
            dispatched_at: None,
            events: Vec::new(),
            timer: None,
        };
        if let Some(delay) = task.delay() {
            ct.delayed = true;
            arm(
                id,
                &mut ct,
                TimerKind::TriggeredAfter,
                env.now.plus(delay),
                env,
            );
        }
        x.current_task = Some(ct);
        env.touch(id);
        self.try_dispatch(id, env);
        if released {
            self.run_queue(&slot, env);
        }
    }

    /// Sends the current task's `.triggered` when it is due, not paused and the execution may
    /// run (holds the slot, or the task is an approval).
    fn try_dispatch(&mut self, id: &ExecutionId, env: &mut Env<'_>) {
        let started_timeout = self.config.started_timeout;
        let Some(x) = self.executions.get_mut(id) else {
            return;
        };
        let runnable = matches!(
            x.state,
            SequenceState::Started | SequenceState::WaitingForApproval
        );
        let Some(ct) = x.current_task.as_ref() else {
            return;
        };
        if !runnable || x.paused || ct.delayed || ct.dispatched_at.is_some() {
            return;
        }
        let payload = x.payload_for(x.sequence.tasks.get(ct.index));
        let mut ev = KeptnEvent::new(
            &ct.triggered_id,
            SOURCE,
            &EventType::task_triggered(&ct.name),
            env.now,
            &x.scope.keptn_context,
            payload,
        );
        ev.gitcommitid = x.scope.git_commit_id.clone();
        env.emit(ev);
        let Some(ct) = x.current_task.as_mut() else {
            return;
        };
        ct.dispatched_at = Some(env.now);
        arm(
            id,
            ct,
            TimerKind::StartedDeadline,
            env.now.plus(started_timeout),
            env,
        );
        env.touch(id);
    }

    /// Normal completion: `.finished`, then the `triggeredOn` follow-ups, then the queue.
    fn complete(&mut self, id: &ExecutionId, last: &CompletedTask, env: &mut Env<'_>) {
        let outcome = Outcome {
            result: last.result,
            status: last.status,
            message: last.message.clone(),
        };
        let Some(slot) = self.end(id, SequenceState::Finished, outcome, env) else {
            return;
        };
        let Some(x) = self.executions.get(id) else {
            return;
        };
        let mut follow_ups = Vec::new();
        if let Some(shipyard) = (env.shipyard_for)(&x.scope.project) {
            let base = x.payload_for(None);
            for next in shipyard.sequences_triggered_by(
                &x.scope.stage,
                &x.sequence.name,
                last.result,
                &last.name,
            ) {
                let mut payload = base.clone();
                if let Value::Object(m) = &mut payload {
                    m.insert("stage".into(), Value::String(next.stage.name.clone()));
                }
                let ev_id = env.new_id();
                let ev = KeptnEvent::new(
                    &ev_id,
                    SOURCE,
                    &EventType::sequence_triggered(&next.stage.name, &next.sequence.name),
                    env.now,
                    &x.scope.keptn_context,
                    payload,
                );
                follow_ups.push(ev);
            }
        }
        for ev in &follow_ups {
            env.emit(ev.clone());
        }
        for ev in &follow_ups {
            // The engine starts follow-ups itself; their echo from the bus is a duplicate.
            self.on_event(ev, env);
        }
        self.run_queue(&slot, env);
    }

    /// Ends an open execution: final state, outcome, timers, `CancelTask` for an aborted
    /// running task, and the `<stage>.<sequence>.finished` event. Returns its slot.
    fn end(
        &mut self,
        id: &ExecutionId,
        state: SequenceState,
        outcome: Outcome,
        env: &mut Env<'_>,
    ) -> Option<SlotKey> {
        let x = self.executions.get_mut(id)?;
        if !x.is_open() {
            return None;
        }
        x.state = state;
        if let Some(mut ct) = x.current_task.take() {
            disarm(id, &mut ct, env);
            if state == SequenceState::Aborted && ct.dispatched_at.is_some() {
                env.effects.push(Effect::CancelTask {
                    execution: id.clone(),
                    keptn_context: x.scope.keptn_context.clone(),
                    task: ct.name.clone(),
                    triggered_id: ct.triggered_id.clone(),
                });
            }
        }
        let data = EventData {
            project: x.scope.project.clone(),
            stage: x.scope.stage.clone(),
            service: x.scope.service.clone(),
            labels: x.scope.labels.clone(),
            status: outcome.status.to_status_type(),
            result: outcome.result.to_result_type(),
            message: outcome.message.clone(),
        };
        x.outcome = Some(outcome);
        let ev_id = env.new_id();
        let mut ev = KeptnEvent::new(
            &ev_id,
            SOURCE,
            &EventType::sequence_finished(&x.scope.stage, &x.sequence.name),
            env.now,
            &x.scope.keptn_context,
            data.to_data(),
        );
        ev.triggeredid = Some(x.scope.triggered_id.clone());
        env.emit(ev);
        env.touch(id);
        Some(slot_of(x))
    }
}

/// Whether `x` runs in `slot` (compared in place: this runs for every execution held).
fn in_slot(x: &SequenceExecution, slot: &SlotKey) -> bool {
    x.scope.service == slot.2 && x.scope.stage == slot.1 && x.scope.project == slot.0
}

fn slot_of(x: &SequenceExecution) -> SlotKey {
    (
        x.scope.project.clone(),
        x.scope.stage.clone(),
        x.scope.service.clone(),
    )
}

fn timer_key(id: &ExecutionId, ct: &CurrentTask, kind: TimerKind) -> TimerKey {
    TimerKey {
        execution: id.clone(),
        triggered_id: ct.triggered_id.clone(),
        kind,
    }
}

/// Arms a timer for the task, cancelling the one it replaces.
fn arm(id: &ExecutionId, ct: &mut CurrentTask, kind: TimerKind, at: Timestamp, env: &mut Env<'_>) {
    disarm(id, ct, env);
    ct.timer = Some(ArmedTimer { kind, at });
    env.effects.push(Effect::ScheduleTimer {
        key: timer_key(id, ct, kind),
        at,
    });
}

/// Cancels the task's armed timer, if any.
fn disarm(id: &ExecutionId, ct: &mut CurrentTask, env: &mut Env<'_>) {
    if let Some(t) = ct.timer.take() {
        env.effects
            .push(Effect::CancelTimer(timer_key(id, ct, t.kind)));
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

/// Finds the sequence to run, or Keptn's error message for the errored `.finished`.
fn lookup_sequence(
    shipyard: Option<&Shipyard>,
    project: &str,
    stage: &str,
    sequence: &str,
) -> Result<SequenceSpec, String> {
    let Some(shipyard) = shipyard else {
        return Err(format!(
            "Unable to retrieve Shipyard file: no shipyard found for project {project}"
        ));
    };
    let fail = |why: String| Err(format!("Unable to start sequence {sequence}: {why}"));
    let Some(st) = shipyard.stage(stage) else {
        return fail(format!("no stage with name {stage}"));
    };
    let Some(seq) = st.sequence(sequence) else {
        return fail(format!(
            "no task sequence with name {sequence} found in stage {stage}"
        ));
    };
    if seq.tasks.is_empty() {
        return fail(format!(
            "task sequence {sequence} does not contain any tasks"
        ));
    }
    Ok(SequenceSpec::from_shipyard(&seq))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod transcript;
