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
//! Where Keptn's docs, its digest and its code disagree, this crate follows the product brief:
//! - task aggregation "worst wins" as in spec digest 4.4(d): a result other than `pass` or
//!   `warning` (including empty and unknown spellings) is `fail`; status `errored` >
//!   `aborted` > `succeeded` (all) > `unknown` (which forces `fail`). Keptn 1.x code only
//!   looked for `fail`/`warning` results and `errored` statuses.
//! - deadlines after `.started` (Keptn had none, issue 7407) and `CancelTask` on abort
//!   (Keptn did not tell executors).

pub mod execution;
pub mod merge;
pub mod sequence;
mod time_serde;

pub use execution::{ExecutionId, SequenceExecution, SequenceState, TimerKind};
pub use sequence::{
    ControlAction, Effect, Engine, EngineConfig, Ignored, Input, PauseScope, SOURCE, Step, TimerKey,
};
