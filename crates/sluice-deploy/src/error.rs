//! Why a deployment operation failed, with enough detail to act on (which instance, the tail of its log).

use std::fmt;
use std::io;
use std::path::PathBuf;

use thiserror::Error;

use crate::id::DeploymentId;

/// Why an instance did not become ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReadyReason {
    /// The process exited (code, or the signal text when killed).
    Exited(String),
    /// It did not print its addresses or answer `/health` on its metrics port before the deadline.
    Timeout(&'static str),
}

impl fmt::Display for NotReadyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exited(status) => write!(f, "exited with {status}"),
            Self::Timeout(waiting_for) => write!(f, "timed out waiting for {waiting_for}"),
        }
    }
}

/// One instance that did not become ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceFailure {
    /// The instance name.
    pub instance: String,
    /// What went wrong.
    pub reason: NotReadyReason,
    /// Its log file.
    pub log: PathBuf,
    /// The last lines of its log (what it printed in this run).
    pub log_tail: String,
}

impl fmt::Display for InstanceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "instance {} {} (log: {})",
            self.instance,
            self.reason,
            self.log.display()
        )?;
        if self.log_tail.trim().is_empty() {
            write!(f, "; it printed nothing")
        } else {
            write!(f, "; last lines of its log:")?;
            for line in self.log_tail.lines() {
                write!(f, "\n    {line}")?;
            }
            Ok(())
        }
    }
}

/// Lists failures one per line after a header.
fn list(failures: &[InstanceFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("\n  {f}"))
        .collect::<String>()
}

/// A rollout whose new instances did not become ready in time.
#[derive(Debug, Clone, PartialEq, Error)]
#[error(
    "{id}: {image} did not become ready (wait timeout {timeout_secs}s); the new instances were stopped{kept}:{}",
    list(failures)
)]
pub struct NotReady {
    /// The deployment.
    pub id: DeploymentId,
    /// The image that failed.
    pub image: String,
    /// The deadline in seconds.
    pub timeout_secs: f64,
    /// `" and the previous instances keep serving"` or `""`.
    pub kept: &'static str,
    /// The instances that failed.
    pub failures: Vec<InstanceFailure>,
}

/// Everything that can go wrong in this crate.
#[derive(Debug, Error)]
pub enum DeployError {
    /// A project, stage or service name cannot be used.
    #[error("invalid {what} name {value:?}: {reason}")]
    InvalidName {
        /// `project`, `stage` or `service`.
        what: &'static str,
        /// The name given.
        value: String,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// A file or directory operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`read`, `write`, `create`, ...).
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A state file is not valid JSON of the expected shape.
    #[error("the deployment state {} is damaged: {source}", path.display())]
    DamagedState {
        /// The state file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// rollback or scale of something never deployed.
    #[error("{0} has never been deployed (run `sluice deploy` first)")]
    NotDeployed(DeploymentId),
    /// rollback without an earlier revision.
    #[error("{id} has only revision {current}; there is no earlier revision to roll back to")]
    NoPreviousRevision {
        /// The deployment.
        id: DeploymentId,
        /// Its current revision.
        current: u32,
    },
    /// rollback to a revision that is not in the history.
    #[error("{id} has no revision {revision} (revisions: {available})")]
    NoSuchRevision {
        /// The deployment.
        id: DeploymentId,
        /// The revision asked for.
        revision: u32,
        /// The revisions in the history, comma separated.
        available: String,
    },
    /// The new version did not become ready; it was stopped and the previous instances keep serving.
    #[error("{0}")]
    NotReady(Box<NotReady>),
    /// An instance process could not be started at all.
    #[error("cannot start instance {instance} ({}): {source}", program.display())]
    Spawn {
        /// The instance name.
        instance: String,
        /// The executable.
        program: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A process could not be signalled.
    #[error("cannot stop {what} (pid {pid}): {source}")]
    Signal {
        /// What the process is.
        what: String,
        /// Its pid.
        pid: u32,
        /// The operating system's error.
        source: io::Error,
    },
    /// A process did not exit even after SIGKILL.
    #[error("{what} (pid {pid}) did not exit after SIGKILL")]
    StillRunning {
        /// What the process is.
        what: String,
        /// Its pid.
        pid: u32,
    },
    /// No free loopback port could be found.
    #[error("cannot find a free port on 127.0.0.1: {0}")]
    NoFreePort(io::Error),
}

impl DeployError {
    /// Wraps an IO error with what was being done to which path.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = DeployError> = std::result::Result<T, E>;
