//! Reading a Job's, its pods' and its events' status (pure): has the Job ended, how, and is
//! its pod stuck in a state it will not leave by itself.
//!
//! job-executor-service only looked at the Job's `Complete`/`Failed` conditions and waited for
//! its timeout otherwise; here the pods and events are read too, so that a pod that cannot
//! start fails the task with the reason Kubernetes gives (the list follows Tekton's and GitLab
//! Runner's fail-fast lists).

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod};
use tokio::time::Instant;

/// Where a Job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Neither `Complete` nor `Failed` is true yet.
    Running,
    /// `Complete` is true.
    Complete,
    /// `Failed` is true (`reason` is e.g. `BackoffLimitExceeded` or `DeadlineExceeded`).
    Failed {
        /// The condition's reason.
        reason: String,
        /// The condition's message.
        message: String,
    },
}

/// The reason Kubernetes gives a Job that ran longer than `activeDeadlineSeconds`.
pub const DEADLINE_EXCEEDED: &str = "DeadlineExceeded";

/// The state of a Job from its conditions (`SuccessCriteriaMet` and `FailureTarget`, which
/// precede the final ones since Kubernetes 1.31, are not final: the pods may still run).
pub fn job_state(job: &Job) -> JobState {
    let conditions = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    for c in conditions.iter().filter(|c| c.status == "True") {
        match c.type_.as_str() {
            "Complete" => return JobState::Complete,
            "Failed" => {
                return JobState::Failed {
                    reason: c.reason.clone().unwrap_or_default(),
                    message: c.message.clone().unwrap_or_default(),
                };
            }
            _ => {}
        }
    }
    JobState::Running
}

/// Why a pod cannot start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// Kubernetes' reason (`ImagePullBackOff`, `FailedCreate`, ...).
    pub reason: String,
    /// Its message.
    pub message: String,
    /// Whether waiting cannot help (a bad image name, a missing Secret): fail at once.
    /// Otherwise (an image pull that may be retried, a pod that could not be created) the task
    /// fails once the start grace has passed.
    pub immediate: bool,
}

impl Blocker {
    /// The text of a task's failure.
    pub fn describe(&self, job: &str) -> String {
        if self.message.is_empty() {
            format!("the pod of job {job} cannot start: {}", self.reason)
        } else {
            format!(
                "the pod of job {job} cannot start: {}: {}",
                self.reason, self.message
            )
        }
    }
}

/// How long a pod has been kept from starting, and whether that is long enough to give up.
#[derive(Debug, Clone)]
pub struct StartWatch {
    grace: Duration,
    since: Option<Instant>,
}

impl StartWatch {
    /// A watch that tolerates blockers that may clear for `grace`.
    pub fn new(grace: Duration) -> StartWatch {
        StartWatch { grace, since: None }
    }

    /// What one look found at `now`; returns the blocker to fail with, if the task should
    /// fail now: at once for an immediate one, else once blockers have been seen without a
    /// break for the grace period. A look without a blocker starts the count afresh.
    pub fn observe(&mut self, blocker: Option<Blocker>, now: Instant) -> Option<Blocker> {
        let Some(blocker) = blocker else {
            self.since = None;
            return None;
        };
        let since = *self.since.get_or_insert(now);
        (blocker.immediate || now.saturating_duration_since(since) >= self.grace).then_some(blocker)
    }
}

/// Waiting reasons that never resolve by themselves.
const IMMEDIATE: &[&str] = &[
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "ErrImageNeverPull",
];

/// Waiting reasons that usually mean the pod will not start, but a retry may still succeed.
const AFTER_GRACE: &[&str] = &["ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff"];

/// The first container (init containers first) of a pod waiting for a reason in the lists
/// above.
pub fn pod_blocker(pod: &Pod) -> Option<Blocker> {
    let status = pod.status.as_ref()?;
    let statuses = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for s in statuses {
        let Some(waiting) = s.state.as_ref().and_then(|st| st.waiting.as_ref()) else {
            continue;
        };
        let reason = waiting.reason.clone().unwrap_or_default();
        let immediate = IMMEDIATE.contains(&reason.as_str());
        if immediate || AFTER_GRACE.contains(&reason.as_str()) {
            return Some(Blocker {
                message: waiting.message.clone().unwrap_or_default(),
                reason,
                immediate,
            });
        }
    }
    None
}

/// A `FailedCreate` warning of the Job (the Job controller could not create its pod: an
/// unknown service account, a quota, a PodSecurity refusal), the newest one.
pub fn failed_create(events: &[Event]) -> Option<Blocker> {
    events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("FailedCreate"))
        .max_by_key(|e| e.count.unwrap_or(0))
        .map(|e| Blocker {
            reason: "FailedCreate".to_owned(),
            message: e.message.clone().unwrap_or_default(),
            immediate: false,
        })
}

/// The exit code of the container `name` of a pod, once it has terminated.
pub fn exit_code(pod: &Pod, name: &str) -> Option<i32> {
    container_status(pod, name)?
        .state
        .as_ref()?
        .terminated
        .as_ref()
        .map(|t| t.exit_code)
}

/// Init containers of a pod that did not complete successfully (their logs are kept).
pub fn failed_init_containers(pod: &Pod) -> Vec<String> {
    pod.status
        .as_ref()
        .and_then(|s| s.init_container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter(|s| {
            s.state
                .as_ref()
                .and_then(|st| st.terminated.as_ref())
                .is_some_and(|t| t.exit_code != 0)
        })
        .map(|s| s.name.clone())
        .collect()
}

/// Whether the container `name` of a pod has started or ended (its logs can be read).
pub fn has_run(pod: &Pod, name: &str) -> bool {
    container_status(pod, name)
        .and_then(|s| s.state.as_ref())
        .is_some_and(|st| st.running.is_some() || st.terminated.is_some())
}

fn container_status<'a>(pod: &'a Pod, name: &str) -> Option<&'a ContainerStatus> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn job(status: serde_json::Value) -> Job {
        serde_json::from_value(json!({"metadata": {"name": "j"}, "status": status})).unwrap()
    }

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "status": status})).unwrap()
    }

    #[test]
    fn only_final_conditions_end_a_job() {
        assert_eq!(job_state(&job(json!({}))), JobState::Running);
        let target = job(json!({"conditions": [
            {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"}
        ]}));
        assert_eq!(job_state(&target), JobState::Running);
        let done = job(json!({"conditions": [
            {"type": "SuccessCriteriaMet", "status": "True"},
            {"type": "Complete", "status": "True", "reason": "CompletionsReached"}
        ]}));
        assert_eq!(job_state(&done), JobState::Complete);
        let failed = job(json!({"conditions": [
            {"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
             "message": "Job was active longer than specified deadline"}
        ]}));
        assert_eq!(
            job_state(&failed),
            JobState::Failed {
                reason: DEADLINE_EXCEEDED.into(),
                message: "Job was active longer than specified deadline".into()
            }
        );
        let not_yet = job(json!({"conditions": [{"type": "Failed", "status": "False"}]}));
        assert_eq!(job_state(&not_yet), JobState::Running);
    }

    #[test]
    fn stuck_pods_are_classified() {
        let waiting = |reason: &str| {
            pod(json!({"phase": "Pending", "containerStatuses": [
                {"name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"waiting": {"reason": reason, "message": "m"}}}
            ]}))
        };
        assert_eq!(pod_blocker(&waiting("ContainerCreating")), None);
        let pull = pod_blocker(&waiting("ImagePullBackOff")).unwrap();
        assert!(!pull.immediate);
        assert_eq!(
            pull.describe("j"),
            "the pod of job j cannot start: ImagePullBackOff: m"
        );
        assert!(
            pod_blocker(&waiting("CreateContainerConfigError"))
                .unwrap()
                .immediate
        );
        assert!(pod_blocker(&waiting("InvalidImageName")).unwrap().immediate);
        let init = pod(json!({"phase": "Pending", "initContainerStatuses": [
            {"name": "init", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
             "state": {"waiting": {"reason": "ErrImagePull"}}}
        ]}));
        assert_eq!(pod_blocker(&init).unwrap().reason, "ErrImagePull");
    }

    #[test]
    fn blockers_that_may_clear_get_a_grace_period_and_others_none() {
        let grace = Duration::from_secs(60);
        let t0 = Instant::now();
        let pull = || {
            Some(Blocker {
                reason: "ImagePullBackOff".into(),
                message: String::new(),
                immediate: false,
            })
        };
        let mut watch = StartWatch::new(grace);
        assert_eq!(watch.observe(pull(), t0), None);
        assert_eq!(watch.observe(pull(), t0 + Duration::from_secs(59)), None);
        assert_eq!(
            watch.observe(pull(), t0 + grace).map(|b| b.reason),
            Some("ImagePullBackOff".to_owned())
        );
        // A look without a blocker (the pull succeeded) starts the count afresh.
        let mut watch = StartWatch::new(grace);
        watch.observe(pull(), t0);
        assert_eq!(watch.observe(None, t0 + Duration::from_secs(30)), None);
        assert_eq!(watch.observe(pull(), t0 + Duration::from_secs(70)), None);
        assert!(
            watch
                .observe(pull(), t0 + Duration::from_secs(130))
                .is_some()
        );
        let config = Blocker {
            reason: "CreateContainerConfigError".into(),
            message: String::new(),
            immediate: true,
        };
        assert!(StartWatch::new(grace).observe(Some(config), t0).is_some());
    }

    #[test]
    fn exit_codes_and_failed_init_containers() {
        let p = pod(json!({"phase": "Failed",
            "initContainerStatuses": [
                {"name": "init", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}],
            "containerStatuses": [
                {"name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                 "state": {"terminated": {"exitCode": 3, "reason": "Error"}}}]}));
        assert_eq!(exit_code(&p, "c"), Some(3));
        assert_eq!(exit_code(&p, "other"), None);
        assert_eq!(failed_init_containers(&p), vec!["init".to_owned()]);
        assert!(has_run(&p, "c"));
    }

    #[test]
    fn failed_create_events_block() {
        let events: Vec<Event> = serde_json::from_value(json!([
            {"metadata": {"name": "e1"}, "involvedObject": {"kind": "Job", "name": "j"},
             "reason": "SuccessfulCreate", "message": "Created pod: p"},
            {"metadata": {"name": "e2"}, "involvedObject": {"kind": "Job", "name": "j"},
             "reason": "FailedCreate", "type": "Warning", "count": 3,
             "message": "Error creating: pods \"j-\" is forbidden: error looking up service account ns/nope: serviceaccount \"nope\" not found"}
        ]))
        .unwrap();
        let b = failed_create(&events).unwrap();
        assert!(b.message.contains("serviceaccount \"nope\" not found"));
        assert!(failed_create(&events[..1]).is_none());
    }
}
