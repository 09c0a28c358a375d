//! Keptn's sequence control plane (the shipyard-controller) as a pure state machine.
//!
//! [`Engine::handle`] takes one [`Input`] (an incoming Keptn event, a fired timer or a
//! control command) and returns a [`Step`]: the [`Effect`]s the driver must carry out (events
//! to publish, timers to arm or cancel, running tasks to cancel) and the executions it changed
//! (to persist). The engine does no IO, never reads the clock (`now` is passed in) and never
//! invents randomness (ids come from the caller). Timers are effects, so a driver can persist
//! them or re-arm [`Engine::pending_timers`] after [`Engine::restore`].
//!
//! Modules: [`sequence`] (the engine), [`execution`] (the persisted per-execution state and
//! Keptn's aggregation and payload rules), [`merge`] (Keptn's payload merge).
//!
//! Decisions (where Keptn's docs, the spec digest and Keptn's code differ, or Keptn had no
//! answer):
//! - Task aggregation is "worst wins" as in spec digest 4.4(d): a result other than `pass` or
//!   `warning` (including empty and unknown spellings such as `failed`) is `fail`; status
//!   `errored` > `aborted` > `succeeded` (all of them) > `unknown`, which forces `fail` (so a
//!   `.finished` without a status fails the task). Keptn 1.x code only looked for `fail` and
//!   `warning` results and `errored` statuses.
//! - Chaining looks only at the result, as Keptn did: a task with `status: errored` but
//!   `result: pass` ends the sequence and still fires no-selector follow-ups.
//! - Payload merge replicates Keptn's `Merge` exactly, including numbers and booleans keeping the
//!   OLDER value even when the newer value has another type, and a `null` blanking a string
//!   (see [`merge`]).
//! - Keptn looked the sequence up in `data.stage`, not in the type's stage; we do the same and
//!   fall back to the type's stage when `data.stage` is empty.
//! - The sequence `.finished` carries the trigger's labels and the message of the last
//!   `.finished` event of the last task (Keptn took labels and message from that event).
//! - Follow-up sequences are started by the engine in the same step as they are emitted; when
//!   the bus delivers the same event back, it is ignored as a duplicate trigger id.
//! - A paused running execution keeps its project+stage+service slot (Keptn's `started`-state
//!   check let another sequence start next to it).
//! - Deadlines after `.started` (Keptn had none, issue 7407); the first correlating event of
//!   either kind (a lone `.finished` too) ends the started deadline and arms the finish deadline.
//! - Abort also ends queued executions of the context with an aborted `.finished` (Keptn's query
//!   returned them too), emits `CancelTask` for a dispatched task (Keptn did not tell executors),
//!   and lifts the context's pauses.

pub mod execution;
pub mod merge;
pub mod sequence;
mod time_serde;

pub use execution::{ExecutionId, SequenceExecution, SequenceState, TimerKind};
pub use sequence::{
    ControlAction, Effect, Engine, EngineConfig, Ignored, Input, PauseScope, SOURCE, Step, TimerKey,
};
