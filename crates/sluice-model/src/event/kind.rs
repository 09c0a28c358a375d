//! Keptn event types (`sh.keptn.event.<task>.triggered`, ...) as a typed value, parsed in one place.
//!
//! Keptn's generic rule (`G:pkg/lib/v0_2_0/events.go`): split the type on `.`; five non-empty
//! parts are a *task* event (`sh.keptn.event.<task>.<kind>`), six non-empty parts are a
//! *sequence* event (`sh.keptn.event.<stage>.<sequence>.<kind>`). Task, stage and sequence
//! names therefore cannot contain dots.
//!
//! Some well-known types do not fit that rule the way their names suggest, and [`EventType`]
//! gives them their own variants while [`EventType::keptn_shape`] still tells how Keptn's
//! generic parser classifies them:
//! - `sh.keptn.event.<task>.status.changed` has six parts, so Keptn sees a *sequence* event
//!   with stage `<task>`, sequence `status`, kind `changed` (the shipyard-controller ignores it,
//!   the API's validation rejects it). We model it as [`EventType::TaskStatusChanged`].
//!   Consequence: a sequence literally named `status` with kind `changed` cannot be told apart;
//!   it is read as a status change, as Keptn's own helpers do.
//! - `sh.keptn.event.{project,service}.{create,delete}.{started,finished}` (six parts) are
//!   entity lifecycle events ([`EventType::Lifecycle`]); Keptn's parser sees stage `project`.
//! - `sh.keptn.event.monitoring.configure` (five parts, Keptn sees task `monitoring`, kind
//!   `configure`) is [`EventType::MonitoringConfigure`].
//! - `sh.keptn.events.problem` (legacy problem event) and `sh.keptn.log.error` (integration
//!   error log) do not start with `sh.keptn.event.`.
//!
//! Kinds outside the known set (e.g. `sh.keptn.event.deployment.foo`) are kept as `Other`
//! because Keptn's parser accepts any non-empty kind. Parsing and printing round-trip exactly.

use std::fmt;
use std::str::FromStr;

/// Prefix of all Keptn v0.2 event types.
pub const EVENT_TYPE_PREFIX: &str = "sh.keptn.event.";
/// The full event type for a short one as users write it on the command line
/// (`deployment.finished` → `sh.keptn.event.deployment.finished`); a type that already starts
/// with `sh.keptn.` is returned as it is.
pub fn full_event_type(short: &str) -> String {
    if short.starts_with("sh.keptn.") {
        short.to_string()
    } else {
        format!("{EVENT_TYPE_PREFIX}{short}")
    }
}

/// Legacy problem event type.
pub const LEGACY_PROBLEM_TYPE: &str = "sh.keptn.events.problem";
/// Integration error log event type.
pub const LOG_ERROR_TYPE: &str = "sh.keptn.log.error";
/// Legacy monitoring configuration event type.
pub const MONITORING_CONFIGURE_TYPE: &str = "sh.keptn.event.monitoring.configure";

// The task event types the built-in services match on as plain strings. Each is the
// `Display` of its `EventType` (a test checks it); other types are built with the
// `EventType` constructors.
/// `sh.keptn.event.evaluation.triggered`: starts an evaluation.
pub const EVALUATION_TRIGGERED: &str = "sh.keptn.event.evaluation.triggered";
/// `sh.keptn.event.evaluation.started`: the lighthouse's acknowledgement.
pub const EVALUATION_STARTED: &str = "sh.keptn.event.evaluation.started";
/// `sh.keptn.event.evaluation.finished`: the lighthouse's result.
pub const EVALUATION_FINISHED: &str = "sh.keptn.event.evaluation.finished";
/// `sh.keptn.event.evaluation.invalidated`: an evaluation no longer counts.
pub const EVALUATION_INVALIDATED: &str = "sh.keptn.event.evaluation.invalidated";
/// `sh.keptn.event.get-sli.triggered`: a request for SLI values.
pub const GET_SLI_TRIGGERED: &str = "sh.keptn.event.get-sli.triggered";
/// `sh.keptn.event.get-sli.started`: an SLI provider's acknowledgement.
pub const GET_SLI_STARTED: &str = "sh.keptn.event.get-sli.started";
/// `sh.keptn.event.get-sli.finished`: the SLI values.
pub const GET_SLI_FINISHED: &str = "sh.keptn.event.get-sli.finished";
/// `sh.keptn.event.get-action.triggered`: a request for the next remediation action.
pub const GET_ACTION_TRIGGERED: &str = "sh.keptn.event.get-action.triggered";
/// `sh.keptn.event.approval.triggered`: a request for an approval.
pub const APPROVAL_TRIGGERED: &str = "sh.keptn.event.approval.triggered";

/// Why a string is not a Keptn event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventTypeError {
    /// The type is empty.
    #[error("event type is empty")]
    Empty,
    /// The type does not start with `sh.keptn.event.`.
    #[error("event type {0:?} does not start with \"sh.keptn.event.\"")]
    MissingPrefix(String),
    /// One of the dot-separated parts is empty (`..`, or a leading/trailing dot).
    #[error(
        "event type {text:?} has an empty part at position {index} (two dots in a row, or a leading/trailing dot)"
    )]
    EmptyPart {
        /// The type.
        text: String,
        /// Zero-based index of the empty part.
        index: usize,
    },
    /// The type has neither 5 parts (task event) nor 6 parts (sequence event).
    #[error(
        "event type {text:?} has {parts} dot-separated parts; expected 5 (sh.keptn.event.<task>.<kind>) or 6 (sh.keptn.event.<stage>.<sequence>.<kind>)"
    )]
    WrongPartCount {
        /// The type.
        text: String,
        /// How many parts it has.
        parts: usize,
    },
}

/// The kind (last part) of a task event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskEventKind {
    /// `.triggered`: the shipyard-controller asks executors to run the task.
    Triggered,
    /// `.started`: an executor took the task.
    Started,
    /// `.finished`: an executor is done (carries result and status).
    Finished,
    /// `.invalidated` (used for `evaluation.invalidated`).
    Invalidated,
    /// Any other non-empty kind (Keptn's parser accepts it; nothing acts on it).
    Other(String),
}

impl TaskEventKind {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            TaskEventKind::Triggered => "triggered",
            TaskEventKind::Started => "started",
            TaskEventKind::Finished => "finished",
            TaskEventKind::Invalidated => "invalidated",
            TaskEventKind::Other(s) => s,
        }
    }
}

impl From<&str> for TaskEventKind {
    /// The kind for its wire spelling (any other spelling is [`TaskEventKind::Other`]).
    fn from(s: &str) -> Self {
        match s {
            "triggered" => TaskEventKind::Triggered,
            "started" => TaskEventKind::Started,
            "finished" => TaskEventKind::Finished,
            "invalidated" => TaskEventKind::Invalidated,
            other => TaskEventKind::Other(other.to_string()),
        }
    }
}

/// The kind (last part) of a sequence event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SequenceEventKind {
    /// `<stage>.<sequence>.triggered`: start a sequence.
    Triggered,
    /// `<stage>.<sequence>.finished`: the shipyard-controller reports the sequence done.
    Finished,
    /// Any other non-empty kind (there is no sequence `.started`; Keptn ignores these).
    Other(String),
}

impl SequenceEventKind {
    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            SequenceEventKind::Triggered => "triggered",
            SequenceEventKind::Finished => "finished",
            SequenceEventKind::Other(s) => s,
        }
    }

    fn from_wire(s: &str) -> Self {
        match s {
            "triggered" => SequenceEventKind::Triggered,
            "finished" => SequenceEventKind::Finished,
            other => SequenceEventKind::Other(other.to_string()),
        }
    }
}

/// The entity of a lifecycle event sent around project/service CRUD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LifecycleEntity {
    /// `sh.keptn.event.project.*`
    Project,
    /// `sh.keptn.event.service.*`
    Service,
}

/// The operation of a lifecycle event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LifecycleAction {
    /// `.create.`
    Create,
    /// `.delete.`
    Delete,
}

/// The phase of a lifecycle event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LifecyclePhase {
    /// `.started`
    Started,
    /// `.finished`
    Finished,
}

/// How Keptn's generic parser (`IsTaskEventType` / `IsSequenceEventType`) sees a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeptnShape<'a> {
    /// Five non-empty parts.
    Task {
        /// Part 3.
        task: &'a str,
        /// Part 4.
        kind: &'a str,
    },
    /// Six non-empty parts.
    Sequence {
        /// Part 3.
        stage: &'a str,
        /// Part 4.
        sequence: &'a str,
        /// Part 5.
        kind: &'a str,
    },
    /// Neither (legacy problem, log error).
    Neither,
}

/// A Keptn event type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// `sh.keptn.event.<task>.<kind>`
    Task {
        /// Task name (a shipyard task, or e.g. `get-sli`).
        task: String,
        /// Event kind.
        kind: TaskEventKind,
    },
    /// `sh.keptn.event.<task>.status.changed` (six parts; see the module docs).
    TaskStatusChanged {
        /// Task name.
        task: String,
    },
    /// `sh.keptn.event.<stage>.<sequence>.<kind>`
    Sequence {
        /// Stage name.
        stage: String,
        /// Sequence name.
        sequence: String,
        /// Event kind.
        kind: SequenceEventKind,
    },
    /// `sh.keptn.event.{project,service}.{create,delete}.{started,finished}`
    Lifecycle {
        /// Project or service.
        entity: LifecycleEntity,
        /// Create or delete.
        action: LifecycleAction,
        /// Started or finished.
        phase: LifecyclePhase,
    },
    /// `sh.keptn.event.monitoring.configure` (legacy, `keptn configure monitoring`).
    MonitoringConfigure,
    /// `sh.keptn.events.problem` (legacy problem event).
    LegacyProblem,
    /// `sh.keptn.log.error` (integration error log).
    LogError,
}

impl EventType {
    /// `sh.keptn.event.<task>.triggered`
    pub fn task_triggered(task: &str) -> Self {
        Self::task(task, TaskEventKind::Triggered)
    }

    /// `sh.keptn.event.<task>.started`
    pub fn task_started(task: &str) -> Self {
        Self::task(task, TaskEventKind::Started)
    }

    /// `sh.keptn.event.<task>.finished`
    pub fn task_finished(task: &str) -> Self {
        Self::task(task, TaskEventKind::Finished)
    }

    /// `sh.keptn.event.<task>.<kind>`
    pub fn task(task: &str, kind: TaskEventKind) -> Self {
        EventType::Task {
            task: task.to_string(),
            kind,
        }
    }

    /// `sh.keptn.event.<stage>.<sequence>.triggered`
    pub fn sequence_triggered(stage: &str, sequence: &str) -> Self {
        Self::sequence(stage, sequence, SequenceEventKind::Triggered)
    }

    /// `sh.keptn.event.<stage>.<sequence>.finished`
    pub fn sequence_finished(stage: &str, sequence: &str) -> Self {
        Self::sequence(stage, sequence, SequenceEventKind::Finished)
    }

    /// `sh.keptn.event.<stage>.<sequence>.<kind>`
    pub fn sequence(stage: &str, sequence: &str, kind: SequenceEventKind) -> Self {
        EventType::Sequence {
            stage: stage.to_string(),
            sequence: sequence.to_string(),
            kind,
        }
    }

    /// A `.triggered` task or sequence event.
    pub fn is_triggered(&self) -> bool {
        matches!(
            self,
            EventType::Task {
                kind: TaskEventKind::Triggered,
                ..
            } | EventType::Sequence {
                kind: SequenceEventKind::Triggered,
                ..
            }
        )
    }

    /// A `.started` task or lifecycle event.
    pub fn is_started(&self) -> bool {
        matches!(
            self,
            EventType::Task {
                kind: TaskEventKind::Started,
                ..
            } | EventType::Lifecycle {
                phase: LifecyclePhase::Started,
                ..
            }
        )
    }

    /// Whether the wire type `event_type` is a `.triggered` event of any kind (task, sequence
    /// or lifecycle), without parsing it (asked of every event the server stores).
    pub fn names_triggered(event_type: &str) -> bool {
        event_type.starts_with(EVENT_TYPE_PREFIX)
            && event_type.rsplit('.').next() == Some(TaskEventKind::Triggered.as_str())
    }

    /// A `.finished` task, sequence or lifecycle event.
    pub fn is_finished(&self) -> bool {
        matches!(
            self,
            EventType::Task {
                kind: TaskEventKind::Finished,
                ..
            } | EventType::Sequence {
                kind: SequenceEventKind::Finished,
                ..
            } | EventType::Lifecycle {
                phase: LifecyclePhase::Finished,
                ..
            }
        )
    }

    /// The task name of a task or status-changed event.
    pub fn task_name(&self) -> Option<&str> {
        match self {
            EventType::Task { task, .. } | EventType::TaskStatusChanged { task } => Some(task),
            _ => None,
        }
    }

    /// The stage of a sequence event (task events carry the stage in `data.stage` only).
    pub fn stage(&self) -> Option<&str> {
        match self {
            EventType::Sequence { stage, .. } => Some(stage),
            _ => None,
        }
    }

    /// The sequence name of a sequence event.
    pub fn sequence_name(&self) -> Option<&str> {
        match self {
            EventType::Sequence { sequence, .. } => Some(sequence),
            _ => None,
        }
    }

    /// The same task or sequence event with another kind, e.g. the `.finished` type answering
    /// a `.triggered` one. `None` for the other variants.
    pub fn with_task_kind(&self, kind: TaskEventKind) -> Option<EventType> {
        match self {
            EventType::Task { task, .. } | EventType::TaskStatusChanged { task } => {
                Some(EventType::Task {
                    task: task.clone(),
                    kind,
                })
            }
            _ => None,
        }
    }

    /// How Keptn's generic five/six-part parser classifies this type (see the module docs).
    pub fn keptn_shape(&self) -> KeptnShape<'_> {
        match self {
            EventType::Task { task, kind } => KeptnShape::Task {
                task,
                kind: kind.as_str(),
            },
            EventType::TaskStatusChanged { task } => KeptnShape::Sequence {
                stage: task,
                sequence: "status",
                kind: "changed",
            },
            EventType::Sequence {
                stage,
                sequence,
                kind,
            } => KeptnShape::Sequence {
                stage,
                sequence,
                kind: kind.as_str(),
            },
            EventType::Lifecycle {
                entity,
                action,
                phase,
            } => KeptnShape::Sequence {
                stage: entity_str(*entity),
                sequence: action_str(*action),
                kind: phase_str(*phase),
            },
            EventType::MonitoringConfigure => KeptnShape::Task {
                task: "monitoring",
                kind: "configure",
            },
            EventType::LegacyProblem | EventType::LogError => KeptnShape::Neither,
        }
    }
}

fn entity_str(e: LifecycleEntity) -> &'static str {
    match e {
        LifecycleEntity::Project => "project",
        LifecycleEntity::Service => "service",
    }
}

fn action_str(a: LifecycleAction) -> &'static str {
    match a {
        LifecycleAction::Create => "create",
        LifecycleAction::Delete => "delete",
    }
}

fn phase_str(p: LifecyclePhase) -> &'static str {
    match p {
        LifecyclePhase::Started => "started",
        LifecyclePhase::Finished => "finished",
    }
}

impl FromStr for EventType {
    type Err = EventTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(EventTypeError::Empty);
        }
        if s == LEGACY_PROBLEM_TYPE {
            return Ok(EventType::LegacyProblem);
        }
        if s == LOG_ERROR_TYPE {
            return Ok(EventType::LogError);
        }
        if !s.starts_with(EVENT_TYPE_PREFIX) {
            return Err(EventTypeError::MissingPrefix(s.to_string()));
        }
        // At most six parts are ever valid: the rest are only counted, for the error
        // (no allocation: this runs several times for every event).
        let mut buffer = [""; 6];
        let mut count = 0;
        for (index, part) in s.split('.').enumerate() {
            if part.is_empty() {
                return Err(EventTypeError::EmptyPart {
                    text: s.to_string(),
                    index,
                });
            }
            if let Some(slot) = buffer.get_mut(index) {
                *slot = part;
            }
            count += 1;
        }
        let parts = &buffer[..count.min(buffer.len())];
        match parts {
            _ if count > buffer.len() => Err(EventTypeError::WrongPartCount {
                text: s.to_string(),
                parts: count,
            }),
            [_, _, _, "monitoring", "configure"] => Ok(EventType::MonitoringConfigure),
            [_, _, _, task, kind] => Ok(EventType::Task {
                task: (*task).to_string(),
                kind: TaskEventKind::from(*kind),
            }),
            [_, _, _, task, "status", "changed"] => Ok(EventType::TaskStatusChanged {
                task: (*task).to_string(),
            }),
            [_, _, _, entity, action, phase] => {
                let lifecycle = (|| {
                    let entity = match *entity {
                        "project" => LifecycleEntity::Project,
                        "service" => LifecycleEntity::Service,
                        _ => return None,
                    };
                    let action = match *action {
                        "create" => LifecycleAction::Create,
                        "delete" => LifecycleAction::Delete,
                        _ => return None,
                    };
                    let phase = match *phase {
                        "started" => LifecyclePhase::Started,
                        "finished" => LifecyclePhase::Finished,
                        _ => return None,
                    };
                    Some(EventType::Lifecycle {
                        entity,
                        action,
                        phase,
                    })
                })();
                Ok(lifecycle.unwrap_or_else(|| EventType::Sequence {
                    stage: (*entity).to_string(),
                    sequence: (*action).to_string(),
                    kind: SequenceEventKind::from_wire(phase),
                }))
            }
            _ => Err(EventTypeError::WrongPartCount {
                text: s.to_string(),
                parts: count,
            }),
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventType::LegacyProblem => f.write_str(LEGACY_PROBLEM_TYPE),
            EventType::LogError => f.write_str(LOG_ERROR_TYPE),
            EventType::TaskStatusChanged { task } => {
                write!(f, "{EVENT_TYPE_PREFIX}{task}.status.changed")
            }
            other => match other.keptn_shape() {
                KeptnShape::Task { task, kind } => write!(f, "{EVENT_TYPE_PREFIX}{task}.{kind}"),
                KeptnShape::Sequence {
                    stage,
                    sequence,
                    kind,
                } => write!(f, "{EVENT_TYPE_PREFIX}{stage}.{sequence}.{kind}"),
                KeptnShape::Neither => Ok(()),
            },
        }
    }
}

impl serde::Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> EventType {
        let t: EventType = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(t.to_string(), s, "round trip");
        t
    }

    #[test]
    fn task_events() {
        assert_eq!(
            parse("sh.keptn.event.deployment.triggered"),
            EventType::task_triggered("deployment")
        );
        assert_eq!(
            parse("sh.keptn.event.get-sli.finished"),
            EventType::task_finished("get-sli")
        );
        assert_eq!(
            parse("sh.keptn.event.test.started"),
            EventType::task_started("test")
        );
        assert_eq!(
            parse("sh.keptn.event.evaluation.invalidated"),
            EventType::task("evaluation", TaskEventKind::Invalidated)
        );
        let t = parse("sh.keptn.event.deployment.foo");
        assert_eq!(
            t,
            EventType::task("deployment", TaskEventKind::Other("foo".into()))
        );
        // Case matters, as in Keptn.
        let t = parse("sh.keptn.event.deployment.Triggered");
        assert!(!t.is_triggered());
        assert!(parse("sh.keptn.event.approval.triggered").is_triggered());
        assert_eq!(
            parse("sh.keptn.event.approval.triggered").task_name(),
            Some("approval")
        );
        assert_eq!(parse("sh.keptn.event.approval.triggered").stage(), None);
    }

    #[test]
    fn names_triggered_agrees_with_the_parsed_type() {
        for wire in [
            "sh.keptn.event.deployment.triggered",
            "sh.keptn.event.dev.delivery.triggered",
            "sh.keptn.event.deployment.started",
            "sh.keptn.event.deployment.finished",
            "sh.keptn.event.deployment.Triggered",
            "sh.keptn.event.dev.delivery.finished",
            "sh.keptn.event.deployment.status.changed",
        ] {
            assert_eq!(
                EventType::names_triggered(wire),
                parse(wire).is_triggered(),
                "{wire}"
            );
        }
        // Lifecycle events too, which `is_triggered` leaves out.
        assert!(EventType::names_triggered(
            "sh.keptn.event.service.create.triggered"
        ));
        assert!(!EventType::names_triggered("sh.keptn.events.problem"));
        assert!(!EventType::names_triggered("com.example.triggered"));
        assert!(!EventType::names_triggered(""));
    }

    #[test]
    fn sequence_events() {
        let t = parse("sh.keptn.event.dev.delivery.triggered");
        assert_eq!(t, EventType::sequence_triggered("dev", "delivery"));
        assert_eq!(t.stage(), Some("dev"));
        assert_eq!(t.sequence_name(), Some("delivery"));
        assert!(t.is_triggered());
        let t = parse("sh.keptn.event.production.remediation.finished");
        assert!(t.is_finished());
        let t = parse("sh.keptn.event.dev.delivery.started");
        assert_eq!(
            t,
            EventType::sequence(
                "dev",
                "delivery",
                SequenceEventKind::Other("started".into())
            )
        );
        // A stage named "project" with a triggered sequence "create" stays a sequence.
        assert_eq!(
            parse("sh.keptn.event.project.create.triggered"),
            EventType::sequence_triggered("project", "create")
        );
    }

    #[test]
    fn status_changed_is_six_parts() {
        let t = parse("sh.keptn.event.deployment.status.changed");
        assert_eq!(
            t,
            EventType::TaskStatusChanged {
                task: "deployment".into()
            }
        );
        assert_eq!(
            t.keptn_shape(),
            KeptnShape::Sequence {
                stage: "deployment",
                sequence: "status",
                kind: "changed"
            }
        );
        assert_eq!(t.task_name(), Some("deployment"));
        // "status" alone as a 5-part kind is just an unknown task kind.
        assert_eq!(
            parse("sh.keptn.event.deployment.status"),
            EventType::task("deployment", TaskEventKind::Other("status".into()))
        );
    }

    #[test]
    fn other_known_types() {
        assert_eq!(
            parse("sh.keptn.event.project.create.started"),
            EventType::Lifecycle {
                entity: LifecycleEntity::Project,
                action: LifecycleAction::Create,
                phase: LifecyclePhase::Started
            }
        );
        parse("sh.keptn.event.project.create.finished");
        parse("sh.keptn.event.project.delete.finished");
        parse("sh.keptn.event.service.create.started");
        assert!(parse("sh.keptn.event.service.delete.finished").is_finished());
        assert_eq!(
            parse("sh.keptn.event.monitoring.configure"),
            EventType::MonitoringConfigure
        );
        assert_eq!(parse("sh.keptn.events.problem"), EventType::LegacyProblem);
        assert_eq!(parse("sh.keptn.log.error"), EventType::LogError);
        assert_eq!(EventType::LogError.keptn_shape(), KeptnShape::Neither);
    }

    #[test]
    fn invalid_types() {
        let err = |s: &str| s.parse::<EventType>().unwrap_err();
        assert_eq!(err(""), EventTypeError::Empty);
        assert!(matches!(
            err("deployment.triggered"),
            EventTypeError::MissingPrefix(_)
        ));
        assert!(matches!(
            err("sh.keptn.events.deployment.triggered"),
            EventTypeError::MissingPrefix(_)
        ));
        assert!(matches!(
            err("SH.KEPTN.EVENT.a.triggered"),
            EventTypeError::MissingPrefix(_)
        ));
        assert_eq!(
            err("sh.keptn.event..triggered"),
            EventTypeError::EmptyPart {
                text: "sh.keptn.event..triggered".into(),
                index: 3
            }
        );
        assert!(matches!(
            err("sh.keptn.event.a.b."),
            EventTypeError::EmptyPart { index: 5, .. }
        ));
        assert!(matches!(
            err("sh.keptn.event.dev..triggered"),
            EventTypeError::EmptyPart { index: 4, .. }
        ));
        assert!(matches!(
            err("sh.keptn.event."),
            EventTypeError::EmptyPart { index: 3, .. }
        ));
        assert!(matches!(
            err("sh.keptn.event.a"),
            EventTypeError::WrongPartCount { parts: 4, .. }
        ));
        assert!(matches!(
            err("sh.keptn.event.a.b.c.d"),
            EventTypeError::WrongPartCount { parts: 7, .. }
        ));
        // An empty part past the sixth is still named as such, wherever it is.
        assert!(matches!(
            err("sh.keptn.event.a.b.c.d..e"),
            EventTypeError::EmptyPart { index: 7, .. }
        ));
        assert!(
            err("sh.keptn.event.a.b.c.d")
                .to_string()
                .contains("expected 5")
        );
    }

    #[test]
    fn named_types_are_the_display_of_their_event_type() {
        for (constant, ty) in [
            (
                EVALUATION_TRIGGERED,
                EventType::task_triggered("evaluation"),
            ),
            (EVALUATION_STARTED, EventType::task_started("evaluation")),
            (EVALUATION_FINISHED, EventType::task_finished("evaluation")),
            (
                EVALUATION_INVALIDATED,
                EventType::task("evaluation", TaskEventKind::Invalidated),
            ),
            (GET_SLI_TRIGGERED, EventType::task_triggered("get-sli")),
            (GET_SLI_STARTED, EventType::task_started("get-sli")),
            (GET_SLI_FINISHED, EventType::task_finished("get-sli")),
            (
                GET_ACTION_TRIGGERED,
                EventType::task_triggered("get-action"),
            ),
            (APPROVAL_TRIGGERED, EventType::task_triggered("approval")),
            (MONITORING_CONFIGURE_TYPE, EventType::MonitoringConfigure),
        ] {
            assert_eq!(constant, ty.to_string());
            assert_eq!(constant.parse::<EventType>(), Ok(ty));
        }
        assert_eq!(
            EventType::task("deployment", TaskEventKind::from("finished")).to_string(),
            "sh.keptn.event.deployment.finished"
        );
        assert_eq!(
            TaskEventKind::from("odd"),
            TaskEventKind::Other("odd".into())
        );
    }
}
