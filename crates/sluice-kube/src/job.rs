//! The Job (and per-run ConfigMap of files) for one task, built as job-executor-service's
//! `CreateK8sJob` (`pkg/k8sutils/job.go` at 4511213) built it, with the differences listed in
//! the crate documentation.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, KeyToPath, LocalObjectReference, PodSecurityContext, PodSpec, PodTemplateSpec,
    ResourceRequirements, SeccompProfile, SecretKeySelector, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sluice_model::job::{Action, ResourceList, Resources, Task};

use crate::names;

/// The `app.kubernetes.io/managed-by` value of everything sluice creates (JES: its deployment name).
pub const MANAGED_BY: &str = "sluice";
/// Where the task's files are, in the init container and the task container (as in JES).
pub const KEPTN_DIR: &str = "/keptn";
/// The emptyDir volume at [`KEPTN_DIR`] (JES's name).
pub const JOB_VOLUME: &str = "job-volume";
/// JES's size limit of [`JOB_VOLUME`].
pub const JOB_VOLUME_SIZE: &str = "20Mi";
/// The ConfigMap volume the init container copies from.
pub const FILES_VOLUME: &str = "sluice-files";
/// Where [`FILES_VOLUME`] is mounted in the init container.
pub const FILES_DIR: &str = "/sluice-files";
/// The default init-container image: anything with `sh`, `mkdir` and `cp` works.
pub const DEFAULT_INIT_IMAGE: &str = "docker.io/library/busybox:1.37";
/// The default service account of task pods (JES: `default-job-account`); it should have no
/// permissions and `automountServiceAccountToken: false`.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "sluice-task";
/// Kubernetes' limit on a ConfigMap's keys plus values, in bytes.
pub const CONFIG_MAP_MAX_BYTES: usize = 1024 * 1024;

/// Backend settings: job-executor-service's chart values and environment, with its defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSettings {
    /// Namespace of tasks without `namespace` (JES: `JOB_NAMESPACE`).
    pub namespace: String,
    /// Service account of tasks without `serviceAccount` (JES: `DEFAULT_JOB_SERVICE_ACCOUNT`).
    pub service_account: String,
    /// Requests and limits of tasks without `resources`, and of the init container
    /// (JES: limits cpu 1, memory 512Mi; requests cpu 50m, memory 128Mi).
    pub resources: Resources,
    /// `ttlSecondsAfterFinished` of tasks that do not set it (JES: 21600).
    pub ttl_seconds_after_finished: i32,
    /// Image of the init container that copies the files into `/keptn`.
    pub init_image: String,
    /// Upper bound on every task's `activeDeadlineSeconds` (JES: `TASK_DEADLINE_SECONDS`,
    /// off when `None`).
    pub task_deadline_seconds: Option<i64>,
    /// Whether `privileged: true` is allowed (JES: `ALLOW_PRIVILEGED_JOBS`).
    pub allow_privileged: bool,
    /// The pod security context (JES chart `jobConfig.podSecurityContext`).
    pub pod_security_context: PodSecurityContext,
    /// The container security context tasks may override field by field (JES chart
    /// `jobConfig.jobSecurityContext`).
    pub security_context: SecurityContext,
    /// Extra labels on every Job (JES chart `jobConfig.labels`); generated labels win.
    pub labels: BTreeMap<String, String>,
    /// `imagePullSecrets` of every task pod (JES had none).
    pub image_pull_secrets: Vec<String>,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            namespace: "default".into(),
            service_account: DEFAULT_SERVICE_ACCOUNT.into(),
            resources: Resources {
                limits: ResourceList {
                    cpu: Some("1".into()),
                    memory: Some("512Mi".into()),
                },
                requests: ResourceList {
                    cpu: Some("50m".into()),
                    memory: Some("128Mi".into()),
                },
            },
            ttl_seconds_after_finished: sluice_model::job::DEFAULT_TTL_SECONDS_AFTER_FINISHED,
            init_image: DEFAULT_INIT_IMAGE.into(),
            task_deadline_seconds: None,
            allow_privileged: false,
            pod_security_context: PodSecurityContext {
                run_as_user: Some(1000),
                run_as_group: Some(2000),
                run_as_non_root: Some(true),
                fs_group: Some(2000),
                seccomp_profile: Some(runtime_default()),
                ..Default::default()
            },
            security_context: SecurityContext {
                privileged: Some(false),
                allow_privilege_escalation: Some(false),
                read_only_root_filesystem: Some(true),
                run_as_non_root: Some(true),
                run_as_user: Some(1000),
                run_as_group: Some(2000),
                capabilities: Some(Capabilities {
                    add: None,
                    drop: Some(vec!["all".into()]),
                }),
                seccomp_profile: Some(runtime_default()),
                ..Default::default()
            },
            labels: BTreeMap::new(),
            image_pull_secrets: Vec::new(),
        }
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".into(),
        localhost_profile: None,
    }
}

impl JobSettings {
    /// The namespace a task's Job goes to: the task's non-empty `namespace`, else the default.
    pub fn namespace_for<'a>(&'a self, task: &'a Task) -> &'a str {
        task.namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(&self.namespace)
    }

    /// The service account of a task's pod: the task's `serviceAccount`, else the default.
    pub fn service_account_for<'a>(&'a self, task: &'a Task) -> &'a str {
        task.service_account
            .as_deref()
            .unwrap_or(&self.service_account)
    }
}

/// The event a task answers, as far as the Job needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskEvent {
    /// `shkeptncontext`.
    pub context: String,
    /// The event's `id`.
    pub id: String,
    /// `gitcommitid` (empty when absent, as in JES).
    pub git_commit_id: String,
    /// `data.project`.
    pub project: String,
    /// `data.stage`.
    pub stage: String,
    /// `data.service`.
    pub service: String,
    /// `data.labels`, values already rendered as strings.
    pub labels: BTreeMap<String, String>,
}

/// One resolved entry of a task's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvEntry {
    /// A plain value (from `valueFrom: event`, already rendered, or `valueFrom: string`).
    Value {
        /// Variable name.
        name: String,
        /// Its value.
        value: String,
    },
    /// One key of a Kubernetes Secret (`valueFrom: secret` gives one entry per key); the Job
    /// references it with `secretKeyRef`, the value never leaves the cluster.
    SecretKey {
        /// The Secret's name.
        secret: String,
        /// The key, which is also the variable name (as in JES).
        key: String,
    },
}

/// One file of the task's `files`, resolved to its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFile {
    /// Path below `/keptn` (a leading `/` is ignored), e.g. `locust/basic.py`.
    pub path: String,
    /// The bytes.
    pub content: Vec<u8>,
}

/// Everything [`build`] needs about one run of one task.
#[derive(Debug, Clone, Copy)]
pub struct TaskRun<'a> {
    /// The matched action.
    pub action: &'a Action,
    /// The action's index in `job/config.yaml`.
    pub action_index: usize,
    /// The task's index in the action.
    pub task_index: usize,
    /// [`names::config_hash`] of the `job/config.yaml` text.
    pub config_hash: &'a str,
    /// The triggering event.
    pub event: &'a TaskEvent,
    /// The task's `env`, resolved, in file order.
    pub env: &'a [EnvEntry],
    /// The task's `files`, resolved to contents.
    pub files: &'a [TaskFile],
}

/// The objects to create for one task run.
#[derive(Debug, Clone, PartialEq)]
pub struct BuiltJob {
    /// The Job's name (also the ConfigMap's and the task container's).
    pub name: String,
    /// The namespace of both objects.
    pub namespace: String,
    /// The Job.
    pub job: Job,
    /// The immutable ConfigMap with the task's files; `None` when the task has no files
    /// (then the Job has no init container). Create it before the Job.
    pub files: Option<ConfigMap>,
}

/// Why a task's Job cannot be built; each message says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The task index is out of range.
    #[error("action '{action}' has no task number {index}")]
    NoSuchTask {
        /// The action's name.
        action: String,
        /// The 0-based index.
        index: usize,
    },
    /// `privileged: true` without the setting that allows it.
    #[error(
        "task '{task}': privileged containers are not allowed (remove securityContext.privileged \
         or allow privileged jobs in the server settings)"
    )]
    PrivilegedNotAllowed {
        /// The task's name.
        task: String,
    },
    /// An `imagePullPolicy` Kubernetes does not know.
    #[error("task '{task}': imagePullPolicy `{value}` is not one of Always, IfNotPresent, Never")]
    PullPolicy {
        /// The task's name.
        task: String,
        /// The value.
        value: String,
    },
    /// `maxPollDuration` of zero or less.
    #[error(
        "task '{task}': maxPollDuration {value} would end the task before it starts; use a \
         positive number of seconds"
    )]
    Deadline {
        /// The task's name.
        task: String,
        /// The value.
        value: i64,
    },
    /// `securityContext.seccompProfile` without `type` (JES crashed on it).
    #[error("task '{task}': securityContext.seccompProfile needs a `type`")]
    SeccompWithoutType {
        /// The task's name.
        task: String,
    },
    /// A namespace Kubernetes would refuse.
    #[error(
        "task '{task}': namespace `{value}` is not a valid Kubernetes namespace name (lower-case letters, digits and `-`, at most 63)"
    )]
    Namespace {
        /// The task's name.
        task: String,
        /// The value.
        value: String,
    },
    /// A service account name Kubernetes would refuse.
    #[error("task '{task}': serviceAccount `{value}` is not a valid Kubernetes name")]
    ServiceAccount {
        /// The task's name.
        task: String,
        /// The value.
        value: String,
    },
    /// A file path that would escape `/keptn` or is empty.
    #[error("task '{task}': file `{path}` cannot be placed under /keptn: {reason}")]
    FilePath {
        /// The task's name.
        task: String,
        /// The path.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The files do not fit in one ConfigMap.
    #[error(
        "task '{task}': its files take {total} bytes, more than the {limit} bytes a Kubernetes \
         ConfigMap holds; list fewer or smaller files"
    )]
    FilesTooLarge {
        /// The task's name.
        task: String,
        /// Bytes of keys and contents.
        total: usize,
        /// [`CONFIG_MAP_MAX_BYTES`].
        limit: usize,
    },
}

/// Builds the Job and the files ConfigMap for one task run. Pure: no IO, no clock.
pub fn build(run: &TaskRun<'_>, settings: &JobSettings) -> Result<BuiltJob, BuildError> {
    let action = run.action;
    let task = action
        .tasks
        .get(run.task_index)
        .ok_or_else(|| BuildError::NoSuchTask {
            action: action.name.clone(),
            index: run.task_index,
        })?;
    let tname = || task.name.clone();
    let event = run.event;
    let name = names::job_name(&event.context, &event.id, run.action_index, run.task_index);
    let namespace = settings.namespace_for(task).to_owned();
    if !names::is_dns_label(&namespace) {
        return Err(BuildError::Namespace {
            task: tname(),
            value: namespace,
        });
    }
    let service_account = settings.service_account_for(task).to_owned();
    if !names::is_dns_subdomain(&service_account) {
        return Err(BuildError::ServiceAccount {
            task: tname(),
            value: service_account,
        });
    }

    let pull_policy = match task.image_pull_policy.as_deref() {
        None | Some("") => None,
        Some(p @ ("Always" | "IfNotPresent" | "Never")) => Some(p.to_owned()),
        Some(other) => {
            return Err(BuildError::PullPolicy {
                task: tname(),
                value: other.to_owned(),
            });
        }
    };

    let security_context = merge_security_context(&settings.security_context, task)?;
    if security_context.privileged == Some(true) && !settings.allow_privileged {
        return Err(BuildError::PrivilegedNotAllowed { task: tname() });
    }

    let poll = task.max_poll_duration_secs();
    if poll <= 0 {
        return Err(BuildError::Deadline {
            task: tname(),
            value: poll,
        });
    }
    let deadline = match settings.task_deadline_seconds {
        Some(cap) if cap > 0 => poll.min(cap),
        _ => poll,
    };
    let ttl = task
        .ttl_seconds_after_finished
        .unwrap_or(settings.ttl_seconds_after_finished)
        .max(sluice_model::job::MIN_TTL_SECONDS_AFTER_FINISHED);

    let mut labels = settings.labels.clone();
    labels.extend([
        (
            "app.kubernetes.io/managed-by".to_owned(),
            MANAGED_BY.to_owned(),
        ),
        (
            "keptn.sh/context".to_owned(),
            names::label_value(&event.context),
        ),
        (
            "keptn.sh/event-id".to_owned(),
            names::label_value(&event.id),
        ),
        (
            "keptn.sh/commitid".to_owned(),
            names::label_value(&event.git_commit_id),
        ),
        (
            "keptn.sh/jes-action".to_owned(),
            names::sanitize_label(&action.name),
        ),
        (
            "keptn.sh/jes-task".to_owned(),
            names::sanitize_label(&task.name),
        ),
        (
            "keptn.sh/jes-job-confighash".to_owned(),
            names::label_value(run.config_hash),
        ),
        (
            "keptn.sh/jes-action-index".to_owned(),
            run.action_index.to_string(),
        ),
        (
            "keptn.sh/jes-task-index".to_owned(),
            run.task_index.to_string(),
        ),
    ]);

    let job_mount = VolumeMount {
        name: JOB_VOLUME.into(),
        mount_path: KEPTN_DIR.into(),
        ..Default::default()
    };
    let mut volumes = vec![Volume {
        name: JOB_VOLUME.into(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: None,
            size_limit: Some(Quantity(JOB_VOLUME_SIZE.into())),
        }),
        ..Default::default()
    }];

    let files = files_config_map(run, task, &name, &namespace, &labels)?;
    let mut init_containers = Vec::new();
    if let Some((config_map, items)) = &files {
        volumes.push(Volume {
            name: FILES_VOLUME.into(),
            config_map: Some(ConfigMapVolumeSource {
                name: config_map.metadata.name.clone().unwrap_or_default(),
                items: Some(
                    items
                        .iter()
                        .map(|(key, _)| KeyToPath {
                            key: key.clone(),
                            path: key.clone(),
                            mode: None,
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        });
        init_containers.push(Container {
            name: format!("init-{name}"),
            image: Some(settings.init_image.clone()),
            image_pull_policy: Some("IfNotPresent".into()),
            command: Some(vec!["sh".into(), "-c".into(), copy_script(items)]),
            security_context: Some(security_context.clone()),
            volume_mounts: Some(vec![
                job_mount.clone(),
                VolumeMount {
                    name: FILES_VOLUME.into(),
                    mount_path: FILES_DIR.into(),
                    read_only: Some(true),
                    ..Default::default()
                },
            ]),
            resources: Some(resource_requirements(&settings.resources)),
            ..Default::default()
        });
    }

    let container = Container {
        name: name.clone(),
        image: Some(task.image.clone()),
        image_pull_policy: pull_policy,
        command: non_empty(task.cmd.clone()),
        args: non_empty(task.args.clone()),
        working_dir: task.working_dir.clone().filter(|d| !d.is_empty()),
        security_context: Some(security_context),
        volume_mounts: Some(vec![job_mount]),
        env: Some(env(run.env, event)),
        resources: Some(resource_requirements(
            task.resources.as_ref().unwrap_or(&settings.resources),
        )),
        ..Default::default()
    };

    let job = Job {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            labels: Some(labels),
            annotations: (!task.annotations.is_empty()).then(|| task.annotations.clone()),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            ttl_seconds_after_finished: Some(ttl),
            active_deadline_seconds: Some(deadline),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(BTreeMap::from([(
                        "app.kubernetes.io/managed-by".to_owned(),
                        MANAGED_BY.to_owned(),
                    )])),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    security_context: Some(settings.pod_security_context.clone()),
                    init_containers: non_empty(init_containers),
                    containers: vec![container],
                    restart_policy: Some("Never".into()),
                    volumes: Some(volumes),
                    service_account_name: Some(service_account),
                    image_pull_secrets: non_empty(
                        settings
                            .image_pull_secrets
                            .iter()
                            .map(|s| LocalObjectReference { name: s.clone() })
                            .collect(),
                    ),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    };
    Ok(BuiltJob {
        name,
        namespace,
        job,
        files: files.map(|(cm, _)| cm),
    })
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// JES's env order: the task's entries, `KEPTN_PROJECT/STAGE/SERVICE`, then `LABELS_<KEY>`
/// (JES's order was Go's random map order; here it is sorted by label key).
fn env(entries: &[EnvEntry], event: &TaskEvent) -> Vec<EnvVar> {
    let plain = |name: &str, value: &str| EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        value_from: None,
    };
    let mut out: Vec<EnvVar> = entries
        .iter()
        .map(|e| match e {
            EnvEntry::Value { name, value } => plain(name, value),
            EnvEntry::SecretKey { secret, key } => EnvVar {
                name: key.clone(),
                value: None,
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: secret.clone(),
                        key: key.clone(),
                        optional: None,
                    }),
                    ..Default::default()
                }),
            },
        })
        .collect();
    out.push(plain("KEPTN_PROJECT", &event.project));
    out.push(plain("KEPTN_STAGE", &event.stage));
    out.push(plain("KEPTN_SERVICE", &event.service));
    for (key, value) in &event.labels {
        out.push(plain(&label_var_name(key), value));
    }
    out
}

/// `LABELS_<KEY>`: `-` and spaces become `_`, then upper case (JES's replacer and ToUpper).
pub fn label_var_name(key: &str) -> String {
    format!("LABELS_{}", key.replace(['-', ' '], "_").to_uppercase())
}

/// JES's `CreateResourceRequirements`: only the quantities that are set; an empty list is left out.
fn resource_requirements(r: &Resources) -> ResourceRequirements {
    let list = |l: &ResourceList| {
        let m: BTreeMap<String, Quantity> = [("cpu", &l.cpu), ("memory", &l.memory)]
            .into_iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_owned(), Quantity(v.clone()))))
            .collect();
        (!m.is_empty()).then_some(m)
    };
    ResourceRequirements {
        limits: list(&r.limits),
        requests: list(&r.requests),
        claims: None,
    }
}

/// JES's `BuildSecurityContext`: each field the task sets replaces the default's;
/// `capabilities` and `seccompProfile` are replaced as a whole.
fn merge_security_context(
    base: &SecurityContext,
    task: &Task,
) -> Result<SecurityContext, BuildError> {
    let mut sc = base.clone();
    let Some(t) = &task.security_context else {
        return Ok(sc);
    };
    if let Some(c) = &t.capabilities {
        sc.capabilities = Some(Capabilities {
            add: Some(c.add.clone()),
            drop: Some(c.drop.clone()),
        });
    }
    if t.privileged.is_some() {
        sc.privileged = t.privileged;
    }
    if t.run_as_user.is_some() {
        sc.run_as_user = t.run_as_user;
    }
    if t.run_as_group.is_some() {
        sc.run_as_group = t.run_as_group;
    }
    if t.run_as_non_root.is_some() {
        sc.run_as_non_root = t.run_as_non_root;
    }
    if t.read_only_root_filesystem.is_some() {
        sc.read_only_root_filesystem = t.read_only_root_filesystem;
    }
    if t.allow_privilege_escalation.is_some() {
        sc.allow_privilege_escalation = t.allow_privilege_escalation;
    }
    if t.proc_mount.is_some() {
        sc.proc_mount = t.proc_mount.clone();
    }
    if let Some(p) = &t.seccomp_profile {
        let Some(type_) = p.profile_type.clone() else {
            return Err(BuildError::SeccompWithoutType {
                task: task.name.clone(),
            });
        };
        sc.seccomp_profile = Some(SeccompProfile {
            type_,
            localhost_profile: p.localhost_profile.clone(),
        });
    }
    Ok(sc)
}

/// `(key, destination below /keptn)` of every file in the ConfigMap.
type Items = Vec<(String, String)>;

/// The immutable per-run ConfigMap: key `f<i>` per file, text in `data`, other bytes in
/// `binaryData`.
fn files_config_map(
    run: &TaskRun<'_>,
    task: &Task,
    name: &str,
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> Result<Option<(ConfigMap, Items)>, BuildError> {
    if run.files.is_empty() {
        return Ok(None);
    }
    let mut data = BTreeMap::new();
    let mut binary = BTreeMap::new();
    let mut items = Vec::new();
    let mut total = 0;
    for (i, file) in run.files.iter().enumerate() {
        let dest = checked_path(&file.path).map_err(|reason| BuildError::FilePath {
            task: task.name.clone(),
            path: file.path.clone(),
            reason,
        })?;
        let key = format!("f{i}");
        total += key.len() + file.content.len();
        match std::str::from_utf8(&file.content) {
            Ok(text) => {
                data.insert(key.clone(), text.to_owned());
            }
            Err(_) => {
                binary.insert(key.clone(), ByteString(file.content.clone()));
            }
        }
        items.push((key, dest));
    }
    if total > CONFIG_MAP_MAX_BYTES {
        return Err(BuildError::FilesTooLarge {
            task: task.name.clone(),
            total,
            limit: CONFIG_MAP_MAX_BYTES,
        });
    }
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(labels.clone()),
            ..Default::default()
        },
        data: (!data.is_empty()).then_some(data),
        binary_data: (!binary.is_empty()).then_some(binary),
        immutable: Some(true),
    };
    Ok(Some((cm, items)))
}

/// The relative destination of a file, or why it is refused.
fn checked_path(path: &str) -> Result<String, &'static str> {
    let rel = path.trim_start_matches('/');
    if rel.is_empty() {
        return Err("the path is empty");
    }
    if rel.contains('\0') {
        return Err("the path contains a NUL byte");
    }
    if rel
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err("the path has an empty, `.` or `..` component");
    }
    Ok(rel.to_owned())
}

/// The init container's shell script: create each file's directory, copy it from the
/// ConfigMap volume. Every path is single-quoted.
fn copy_script(items: &Items) -> String {
    let mut s = String::from("set -eu\n");
    let mut made = std::collections::BTreeSet::new();
    for (key, dest) in items {
        let target = format!("{KEPTN_DIR}/{dest}");
        if let Some((dir, _)) = target.rsplit_once('/')
            && dir != KEPTN_DIR
            && made.insert(dir.to_owned())
        {
            s.push_str(&format!("mkdir -p {}\n", quote(dir)));
        }
        s.push_str(&format!(
            "cp {} {}\n",
            quote(&format!("{FILES_DIR}/{key}")),
            quote(&target)
        ));
    }
    s
}

/// POSIX shell single quoting.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests;
