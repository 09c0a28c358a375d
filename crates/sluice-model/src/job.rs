//! The job-executor-service configuration (`job/config.yaml`, `apiVersion: v2`) as typed values.
//!
//! job-executor-service (JES) 0.3.0 decoded this file with `yaml.v2`'s `UnmarshalStrict`
//! (unknown and duplicate keys rejected) and then required `apiVersion: v2`. A few more
//! problems only surfaced when a job was built (an unknown `valueFrom`, an unparsable resource
//! quantity): they fail every run of the task, so sluice reports them as errors too. Things JES
//! accepted that are almost certainly mistakes (an action without events, an event regex that
//! never compiles, `$(VAR)` references to nothing, ...) are warnings.
//!
//! Besides [`parse`], this module has the pure pieces the executor needs: which actions an
//! event triggers ([`JobConfig::actions_for_event`], with the JES event map from
//! [`event_map`]), the JSONPath subset used by `jsonpath.property` and `valueFrom: event`
//! ([`JsonPath`]), Kubernetes `$(VAR)` expansion ([`expand_vars`]) and Go's `%v` rendering of
//! event values ([`env_value_string`]).

mod decode;
pub(crate) mod env_value;
mod expand;
mod jsonpath;
mod matching;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

pub use env_value::{EnvValueError, env_value_string, go_sprint};
pub use expand::{expand_vars, var_references};
pub use jsonpath::{JsonPath, JsonPathError};
pub use matching::{EVENT_MAP_KEYS, event_map};

use crate::Parsed;

/// The only `apiVersion` JES 0.1.3 and later accept.
pub const API_VERSION: &str = "v2";

/// How long JES polls a task's Kubernetes Job when `maxPollDuration` is not set (5 minutes).
pub const DEFAULT_MAX_POLL_DURATION_SECS: i64 = 300;

/// The `ttlSecondsAfterFinished` JES gives a Job when the task does not set one (6 hours).
pub const DEFAULT_TTL_SECONDS_AFTER_FINISHED: i32 = 21_600;

/// The smallest `ttlSecondsAfterFinished` JES uses; smaller values are raised to this.
pub const MIN_TTL_SECONDS_AFTER_FINISHED: i32 = 60;

/// Environment variables JES always sets for a task (besides `LABELS_<KEY>` per event label).
pub const BUILTIN_ENV_VARS: [&str; 3] = ["KEPTN_PROJECT", "KEPTN_STAGE", "KEPTN_SERVICE"];

/// Parses a `job/config.yaml` document.
///
/// `value` is `Some` whenever the document is a mapping (even with errors); a YAML syntax
/// error or a document that is not a mapping gives `None`.
pub fn parse(src: &str) -> Parsed<JobConfig> {
    decode::parse(src)
}

/// A whole `job/config.yaml`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobConfig {
    /// `apiVersion`, as written (valid files have [`API_VERSION`]).
    pub api_version: String,
    /// `actions`, in file order (JES tries them in this order).
    pub actions: Vec<Action>,
}

/// One action: when any of its `events` matches, its `tasks` run one after another.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Action {
    /// `name`.
    pub name: String,
    /// `events`: the action runs if any of them matches.
    pub events: Vec<EventMatcher>,
    /// `tasks`, run in order; the first failure stops the action.
    pub tasks: Vec<Task>,
    /// `silent`: send no `.started`/`.finished` events for this action.
    pub silent: bool,
}

/// One entry of an action's `events`.
#[derive(Debug, Clone, Default)]
pub struct EventMatcher {
    /// `name`: a Go (RE2) regular expression, matched unanchored against the event type.
    pub name: String,
    /// `jsonpath`: an extra condition on the event map.
    pub jsonpath: Option<JsonPathFilter>,
    /// `name` compiled, or `None` if it does not compile (then the matcher never matches,
    /// as in JES, which ignored the compile error).
    regex: Option<regex::Regex>,
}

impl PartialEq for EventMatcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.jsonpath == other.jsonpath
    }
}

impl EventMatcher {
    /// A matcher for an event-type regex and an optional JSONPath filter.
    pub fn new(name: impl Into<String>, jsonpath: Option<JsonPathFilter>) -> Self {
        let name = name.into();
        let regex = regex::Regex::new(&name).ok();
        EventMatcher {
            name,
            jsonpath,
            regex,
        }
    }

    /// The compiled `name`, if it is a valid regular expression.
    pub fn regex(&self) -> Option<&regex::Regex> {
        self.regex.as_ref()
    }
}

/// An event's `jsonpath` condition: the value at `property` must equal `match_value`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonPathFilter {
    /// `property`: a JSONPath into the event map (`$.data.action.action`). Empty means
    /// "no condition" (JES then matches on the event type alone).
    pub property: String,
    /// `match`: the string the value must equal.
    pub match_value: String,
}

/// One task: a container run as a Kubernetes Job (or, in sluice, possibly a local process).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Task {
    /// `name`.
    pub name: String,
    /// `image`.
    pub image: String,
    /// `imagePullPolicy` (`Always`, `IfNotPresent`, `Never`; JES did not check it).
    pub image_pull_policy: Option<String>,
    /// `cmd`: the container command (the image's entrypoint when empty).
    pub cmd: Vec<String>,
    /// `args`.
    pub args: Vec<String>,
    /// `files`: Keptn resources copied to `/keptn/<path>` before the task runs.
    pub files: Vec<String>,
    /// `env`.
    pub env: Vec<EnvVar>,
    /// `resources`; when present (even empty) it replaces all default requests and limits.
    pub resources: Option<Resources>,
    /// `workingDir`.
    pub working_dir: Option<String>,
    /// `maxPollDuration` in seconds (Go `int`); see [`Task::max_poll_duration_secs`].
    pub max_poll_duration: Option<i64>,
    /// `namespace`: overrides the job namespace.
    pub namespace: Option<String>,
    /// `ttlSecondsAfterFinished` as written (Go `int32`); see
    /// [`Task::effective_ttl_seconds_after_finished`].
    pub ttl_seconds_after_finished: Option<i32>,
    /// `securityContext`: overrides parts of the default container security context.
    pub security_context: Option<SecurityContext>,
    /// `serviceAccount`: the Kubernetes service account (JES default: `default-job-account`).
    pub service_account: Option<String>,
    /// `annotations` for the Kubernetes Job.
    pub annotations: BTreeMap<String, String>,
}

impl Task {
    /// The poll timeout JES used: `maxPollDuration` or 300 s. Zero or negative values made
    /// JES time out before the first poll.
    pub fn max_poll_duration_secs(&self) -> i64 {
        self.max_poll_duration
            .unwrap_or(DEFAULT_MAX_POLL_DURATION_SECS)
    }

    /// The `ttlSecondsAfterFinished` JES put on the Job: the task's value raised to at least
    /// 60, or 21600 when unset.
    pub fn effective_ttl_seconds_after_finished(&self) -> i32 {
        match self.ttl_seconds_after_finished {
            Some(t) => t.max(MIN_TTL_SECONDS_AFTER_FINISHED),
            None => DEFAULT_TTL_SECONDS_AFTER_FINISHED,
        }
    }
}

/// One entry of a task's `env`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// `name`: the variable name, or for [`EnvSource::Secret`] the Kubernetes Secret's name.
    pub name: String,
    /// `value`: a JSONPath for [`EnvSource::Event`], the literal for [`EnvSource::String`],
    /// ignored for [`EnvSource::Secret`].
    pub value: String,
    /// `valueFrom`.
    pub value_from: EnvSource,
    /// `as`: how an event value is rendered (JES compared it case-insensitively; other
    /// values were ignored).
    pub format: Option<EnvFormat>,
}

/// Where an environment variable's value comes from (`valueFrom`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnvSource {
    /// `event`: the value at the JSONPath `value` in the event map.
    Event,
    /// `secret`: every key of the Kubernetes Secret named `name` becomes a variable.
    Secret,
    /// `string`: `value` as it is.
    String,
}

/// A `valueFrom` that JES does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown valueFrom `{0}` (expected event, secret or string)")]
pub struct UnknownEnvSource(pub String);

impl FromStr for EnvSource {
    type Err = UnknownEnvSource;
    /// Exact, case-sensitive, as JES's `switch` was.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "event" => Ok(EnvSource::Event),
            "secret" => Ok(EnvSource::Secret),
            "string" => Ok(EnvSource::String),
            other => Err(UnknownEnvSource(other.to_owned())),
        }
    }
}

impl fmt::Display for EnvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EnvSource::Event => "event",
            EnvSource::Secret => "secret",
            EnvSource::String => "string",
        })
    }
}

/// How an event value is rendered into an environment variable (`as`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EnvFormat {
    /// `json`: JSON-serialised (JES also did this for every mapping value).
    Json,
    /// `yaml`: YAML-serialised.
    Yaml,
}

/// An `as` value JES ignores.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format `{0}` (expected json or yaml)")]
pub struct UnknownEnvFormat(pub String);

impl FromStr for EnvFormat {
    type Err = UnknownEnvFormat;
    /// Case-insensitive, as JES's `strings.EqualFold` was.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("json") {
            Ok(EnvFormat::Json)
        } else if s.eq_ignore_ascii_case("yaml") {
            Ok(EnvFormat::Yaml)
        } else {
            Err(UnknownEnvFormat(s.to_owned()))
        }
    }
}

impl fmt::Display for EnvFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EnvFormat::Json => "json",
            EnvFormat::Yaml => "yaml",
        })
    }
}

/// A task's `resources`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resources {
    /// `limits`.
    pub limits: ResourceList,
    /// `requests`.
    pub requests: ResourceList,
}

/// `cpu` and `memory` quantities (Kubernetes quantity strings such as `50m`, `512Mi`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceList {
    /// `cpu`; `None` when empty or absent.
    pub cpu: Option<String>,
    /// `memory`; `None` when empty or absent.
    pub memory: Option<String>,
}

/// The subset of a Kubernetes container `securityContext` that JES accepts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityContext {
    /// `capabilities`.
    pub capabilities: Option<Capabilities>,
    /// `privileged` (refused by JES unless `jobConfig.allowPrivilegedJobs`).
    pub privileged: Option<bool>,
    /// `runAsUser`.
    pub run_as_user: Option<i64>,
    /// `runAsGroup`.
    pub run_as_group: Option<i64>,
    /// `runAsNonRoot`.
    pub run_as_non_root: Option<bool>,
    /// `readOnlyRootFilesystem`.
    pub read_only_root_filesystem: Option<bool>,
    /// `allowPrivilegeEscalation`.
    pub allow_privilege_escalation: Option<bool>,
    /// `procMount`.
    pub proc_mount: Option<String>,
    /// `seccompProfile`.
    pub seccomp_profile: Option<SeccompProfile>,
}

/// `securityContext.capabilities`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// `add`.
    pub add: Vec<String>,
    /// `drop`.
    pub drop: Vec<String>,
}

/// `securityContext.seccompProfile`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeccompProfile {
    /// `type` (`RuntimeDefault`, `Localhost`, `Unconfined`).
    pub profile_type: Option<String>,
    /// `localhostProfile`.
    pub localhost_profile: Option<String>,
}

impl JobConfig {
    /// The action with this name (the first one, as JES's init container looked it up).
    pub fn action(&self, name: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.name == name)
    }
}

impl Action {
    /// The task with this name (the first one, as JES's init container looked it up).
    pub fn task(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests;
