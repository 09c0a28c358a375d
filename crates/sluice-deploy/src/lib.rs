//! Local deployments of the example service: sluice's stand-in for the tutorial's `helm upgrade --install --wait`,
//! `helm rollback` and `helm upgrade --set replicaCount=N`, without Kubernetes.
//!
//! A deployment is a service in a stage of a project. It lives in `DIR/<project>/<stage>/<service>/`:
//!
//! - `state.json` ([`DeploymentState`]): the stage's stable port, the current image, replicas and revision, the
//!   revision history and the running instances (pid, metrics port, name);
//! - `lock`: an OS file lock held while the deployment changes (deploys, the supervisor and `stop` take turns);
//! - `logs/<instance>.log`: what each instance printed.
//!
//! Instances are `sluice helloservice` processes sharing the stage port with SO_REUSEPORT (the local form of
//! replicas), each with its own metrics port. They are detached (own process group, stdin from /dev/null), so they
//! keep running after the deploying process exits. [`Deployments::deploy`] starts the new version, waits until
//! every new instance answers `/health`, and only then stops the old ones; if the new version does not become
//! ready it is stopped and the old one keeps serving, like `helm --wait` failing. Each deployment's instances are
//! listed in a Prometheus file_sd target file (see [`targets`]).
//!
//! The supervisor ([`Deployments::supervise`], `sluice deployments supervise`) restarts instances that died, with
//! backoff. Everything here is blocking (call it from `spawn_blocking` in async code) and Linux-only (/proc).

pub mod error;
pub mod id;
pub mod instance;
pub mod process;
pub mod state;
pub mod supervisor;
pub mod targets;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

pub use error::{DeployError, InstanceFailure, NotReady, NotReadyReason, Result};
pub use id::DeploymentId;
pub use state::{DeploymentLock, DeploymentState, HistoryEntry, InstanceRecord};
pub use supervisor::SuperviseOptions;

use crate::instance::{InstanceSpec, Spawned};

/// The default time to wait for a new version to become ready (helm's `--wait` default is 5m; local processes
/// start in milliseconds).
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stopped instance gets to finish its requests before SIGKILL (the tutorial chart's
/// `terminationGracePeriodSeconds: 5`).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
/// The directory of instance logs inside a deployment's directory.
pub const LOGS_DIR: &str = "logs";

/// `sluice deploy`: install or upgrade a deployment to an image.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    /// Which deployment.
    pub id: DeploymentId,
    /// The image, e.g. `ghcr.io/podtato-head/podtatoserver:v0.1.1` (helloservice behaves as its tag).
    pub image: String,
    /// The number of instances; `None` keeps the current number (1 on the first deploy).
    pub replicas: Option<u32>,
    /// How long the new instances may take to become ready.
    pub wait_timeout: Duration,
}

/// `sluice rollback`: redeploy an earlier revision's image and replicas (a new revision is recorded).
#[derive(Debug, Clone)]
pub struct RollbackRequest {
    /// Which deployment.
    pub id: DeploymentId,
    /// The revision to go back to; `None` means the one before the current one, like `helm rollback`.
    pub to_revision: Option<u32>,
    /// How long the instances may take to become ready.
    pub wait_timeout: Duration,
}

/// `sluice scale`: set the number of instances of the current version (absolute, like `replicaCount=N`).
#[derive(Debug, Clone)]
pub struct ScaleRequest {
    /// Which deployment.
    pub id: DeploymentId,
    /// The number of instances wanted.
    pub replicas: u32,
    /// How long added instances may take to become ready.
    pub wait_timeout: Duration,
}

/// What a deploy, rollback or scale did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeployOutcome {
    /// Which deployment.
    #[serde(skip)]
    pub id: DeploymentId,
    /// The stage's address, `http://127.0.0.1:<port>`.
    pub url: String,
    /// The stage's port.
    pub port: u16,
    /// The revision recorded.
    pub revision: u32,
    /// The image now deployed.
    pub image: String,
    /// The version it stands for (`v0.1.1`).
    pub version: String,
    /// The image before (None on the first deploy).
    pub previous_image: Option<String>,
    /// The instances now running.
    pub instances: Vec<InstanceRecord>,
    /// How many instances were started.
    pub started: usize,
    /// The instances that were stopped.
    pub stopped: Vec<InstanceRecord>,
    /// Problems that did not fail the operation (e.g. an old instance that would not stop).
    pub warnings: Vec<String>,
}

impl DeployOutcome {
    /// The `deployment` data a Keptn deployment task reports, for the job executor to merge into `.finished`.
    pub fn finished_data(&self) -> serde_json::Value {
        json!({
            "deployment": {
                "deploymentURIsLocal": [self.url],
                "deploymentURIsPublic": [],
                "deploymentNames": ["direct"],
                "deploymentstrategy": "direct",
                // Not a Keptn field: the image now running, so the control plane can show the
                // version per stage after a rollback or scale too.
                "image": self.image,
            }
        })
    }
}

/// One instance as `status` sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceStatus {
    /// The recorded instance.
    #[serde(flatten)]
    pub record: InstanceRecord,
    /// Whether its process is alive.
    pub alive: bool,
}

/// One deployment as `status` sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentStatus {
    /// The project.
    pub project: String,
    /// The stage.
    pub stage: String,
    /// The service.
    pub service: String,
    /// The current image.
    pub image: String,
    /// Its version.
    pub version: String,
    /// The stage's address.
    pub url: String,
    /// The current revision.
    pub revision: u32,
    /// The desired number of instances.
    pub replicas: u32,
    /// How many recorded instances are alive.
    pub running: usize,
    /// The recorded instances.
    pub instances: Vec<InstanceStatus>,
}

/// Which deployments `stop` applies to (`None` matches any).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    /// Only this project.
    pub project: Option<String>,
    /// Only this stage.
    pub stage: Option<String>,
    /// Only this service.
    pub service: Option<String>,
}

impl Selector {
    /// Whether the selector matches a deployment.
    pub fn matches(&self, id: &DeploymentId) -> bool {
        self.project.as_deref().is_none_or(|p| p == id.project())
            && self.stage.as_deref().is_none_or(|s| s == id.stage())
            && self.service.as_deref().is_none_or(|s| s == id.service())
    }
}

/// What `stop` did to one deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StopReport {
    /// The deployment, `project/stage/service`.
    pub deployment: String,
    /// How many instances were stopped (including strays not recorded in the state).
    pub stopped: usize,
    /// Instances that would not stop.
    pub warnings: Vec<String>,
}

/// How to change the instances in a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Start all replicas anew, then stop every old instance (deploy, rollback).
    Replace,
    /// Keep live instances; start the missing ones or stop the surplus (scale).
    Adjust,
}

/// The deployments directory and the program that instances run.
#[derive(Debug, Clone)]
pub struct Deployments {
    root: PathBuf,
    program: PathBuf,
    grace: Duration,
}

impl Deployments {
    /// Opens (creating it if needed) a deployments directory; instances will run `program` (the `sluice` binary,
    /// e.g. `std::env::current_exe()`).
    pub fn open(root: impl AsRef<Path>, program: impl Into<PathBuf>) -> Result<Self> {
        let root = root.as_ref();
        std::fs::create_dir_all(root).map_err(DeployError::io("create", root))?;
        let root = root
            .canonicalize()
            .map_err(DeployError::io("resolve", root))?;
        Ok(Self {
            root,
            program: program.into(),
            grace: DEFAULT_GRACE,
        })
    }

    /// Sets how long stopped instances get before SIGKILL (default [`DEFAULT_GRACE`]).
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The (absolute) deployments directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The program instances run.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Installs or upgrades, like `helm upgrade --install --wait`: starts the new version, waits until it is ready,
    /// then stops the old instances and records a new revision.
    pub fn deploy(&self, request: &DeployRequest) -> Result<DeployOutcome> {
        let image = request.image.clone();
        self.rollout(&request.id, request.wait_timeout, |state| {
            let replicas = request.replicas.unwrap_or(if state.revision == 0 {
                1
            } else {
                state.replicas
            });
            Ok((image, replicas, Plan::Replace))
        })
    }

    /// Goes back to an earlier revision's image and replicas, like `helm rollback --wait`.
    pub fn rollback(&self, request: &RollbackRequest) -> Result<DeployOutcome> {
        let id = &request.id;
        self.rollout(id, request.wait_timeout, |state| {
            let entry = rollback_target(id, state, request.to_revision)?;
            Ok((entry.image.clone(), entry.replicas, Plan::Replace))
        })
    }

    /// Sets the number of instances of the current version, like `helm upgrade --set replicaCount=N`.
    pub fn scale(&self, request: &ScaleRequest) -> Result<DeployOutcome> {
        let id = &request.id;
        self.rollout(id, request.wait_timeout, |state| {
            if state.revision == 0 {
                return Err(DeployError::NotDeployed(id.clone()));
            }
            Ok((state.image.clone(), request.replicas, Plan::Adjust))
        })
    }

    /// The recorded state of one deployment (`None` if it was never created).
    pub fn state(&self, id: &DeploymentId) -> Result<Option<DeploymentState>> {
        DeploymentState::load(&id.dir(&self.root))
    }

    fn rollout(
        &self,
        id: &DeploymentId,
        wait_timeout: Duration,
        decide: impl FnOnce(&DeploymentState) -> Result<(String, u32, Plan)>,
    ) -> Result<DeployOutcome> {
        let dir = id.dir(&self.root);
        let _lock = DeploymentLock::acquire(&dir)?;
        let mut state = match DeploymentState::load(&dir)? {
            Some(state) => state,
            None => {
                // The port is chosen once and saved at once, so the stage keeps its address even if this first
                // deploy fails.
                let state = DeploymentState::new(free_port()?);
                state.save(&dir)?;
                state
            }
        };
        let (image, replicas, plan) = decide(&state)?;
        let port = state.port;
        let live: Vec<InstanceRecord> = state
            .instances
            .iter()
            .filter(|i| process::is_instance(i.pid, &i.instance, port))
            .cloned()
            .collect();
        let (keep, to_stop, start) = plan_instances(plan, &live, replicas);
        let revision = state.revision + 1;

        let deadline = Instant::now() + wait_timeout;
        let mut spawned: Vec<Spawned> = Vec::with_capacity(start);
        for index in 1..=start {
            let name = id.instance_name(revision, index);
            let spec = InstanceSpec {
                program: &self.program,
                image: &image,
                port,
                log: dir.join(LOGS_DIR).join(format!("{name}.log")),
                name,
            };
            match instance::spawn(&spec) {
                Ok(s) => spawned.push(s),
                Err(e) => {
                    spawned.into_iter().for_each(Spawned::kill);
                    return Err(e);
                }
            }
        }
        let mut ready = Vec::with_capacity(start);
        let mut failures = Vec::new();
        for s in &mut spawned {
            match s.wait_ready(deadline) {
                Ok(record) => ready.push(record),
                Err(failure) => failures.push(failure),
            }
        }
        if !failures.is_empty() {
            spawned.into_iter().for_each(Spawned::kill);
            return Err(DeployError::NotReady(Box::new(error::NotReady {
                id: id.clone(),
                image,
                timeout_secs: wait_timeout.as_secs_f64(),
                kept: if live.is_empty() {
                    ""
                } else {
                    " and the previous instances keep serving"
                },
                failures,
            })));
        }
        spawned.into_iter().for_each(Spawned::detach);

        let warnings = self.stop_instances(port, &to_stop);
        let previous_image = (state.revision > 0).then(|| state.image.clone());
        let version = sluice_hello::ServiceVersion::parse(&image)
            .map(|v| v.to_string())
            .unwrap_or_default();
        state.instances = keep.into_iter().chain(ready).collect();
        state.record_revision(&image, &version, replicas, std::time::SystemTime::now());
        state.save(&dir)?;
        targets::write_targets(&self.root, id, &state.instances)?;
        Ok(DeployOutcome {
            id: id.clone(),
            url: format!("http://127.0.0.1:{port}"),
            port,
            revision: state.revision,
            image,
            version,
            previous_image,
            instances: state.instances,
            started: start,
            stopped: to_stop,
            warnings,
        })
    }

    /// Stops instances in parallel (SIGTERM, grace, SIGKILL); returns warnings for those that would not stop.
    fn stop_instances(&self, port: u16, instances: &[InstanceRecord]) -> Vec<String> {
        std::thread::scope(|scope| {
            let handles: Vec<_> = instances
                .iter()
                .map(|i| {
                    scope.spawn(move || {
                        process::terminate(
                            i.pid,
                            &format!("instance {}", i.instance),
                            self.grace,
                            |pid| process::is_instance(pid, &i.instance, port),
                        )
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| match h.join() {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(_) => Some("a stop thread panicked".to_owned()),
                })
                .collect()
        })
    }

    /// Every deployment in the directory, sorted by project, stage and service.
    pub fn list(&self) -> Result<Vec<DeploymentId>> {
        let mut ids = Vec::new();
        for project in subdirs(&self.root)? {
            for stage in subdirs(&self.root.join(&project))? {
                for service in subdirs(&self.root.join(&project).join(&stage))? {
                    if let Ok(id) = DeploymentId::new(&project, &stage, &service)
                        && id.dir(&self.root).join(state::STATE_FILE).is_file()
                    {
                        ids.push(id);
                    }
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// The status of every deployment (images, replicas running/desired, addresses, revisions).
    pub fn status(&self) -> Result<Vec<DeploymentStatus>> {
        let mut rows = Vec::new();
        for id in self.list()? {
            let Some(state) = self.state(&id)? else {
                continue;
            };
            let instances: Vec<InstanceStatus> = state
                .instances
                .iter()
                .map(|record| InstanceStatus {
                    alive: process::is_instance(record.pid, &record.instance, state.port),
                    record: record.clone(),
                })
                .collect();
            rows.push(DeploymentStatus {
                project: id.project().to_owned(),
                stage: id.stage().to_owned(),
                service: id.service().to_owned(),
                image: state.image,
                version: state.version,
                url: format!("http://127.0.0.1:{}", state.port),
                revision: state.revision,
                replicas: state.replicas,
                running: instances.iter().filter(|i| i.alive).count(),
                instances,
            });
        }
        Ok(rows)
    }

    /// Stops the instances of the selected deployments (and stray instances on their ports that the state does
    /// not list). The state keeps image, replicas and revision; the next deploy, rollback or scale starts
    /// instances again, and the supervisor does not restart stopped ones.
    pub fn stop(&self, selector: &Selector) -> Result<Vec<StopReport>> {
        let mut reports = Vec::new();
        for id in self.list()?.into_iter().filter(|id| selector.matches(id)) {
            let dir = id.dir(&self.root);
            let _lock = DeploymentLock::acquire(&dir)?;
            let Some(mut state) = DeploymentState::load(&dir)? else {
                continue;
            };
            let mut targets = state.instances.clone();
            for (pid, instance) in stray_instances(&id, state.port) {
                if !targets.iter().any(|t| t.pid == pid) {
                    targets.push(InstanceRecord {
                        pid,
                        metrics_port: 0,
                        instance,
                    });
                }
            }
            let stopped = targets
                .iter()
                .filter(|t| process::is_instance(t.pid, &t.instance, state.port))
                .count();
            let warnings = self.stop_instances(state.port, &targets);
            state.instances.clear();
            state.save(&dir)?;
            targets::write_targets(&self.root, &id, &[])?;
            reports.push(StopReport {
                deployment: id.to_string(),
                stopped,
                warnings,
            });
        }
        Ok(reports)
    }

    /// Stops the supervisor and every deployment's instances.
    pub fn stop_all(&self) -> Result<Vec<StopReport>> {
        supervisor::stop_supervisor(&self.root)?;
        self.stop(&Selector::default())
    }
}

/// Splits the live instances into those kept and those stopped, and says how many to start.
fn plan_instances(
    plan: Plan,
    live: &[InstanceRecord],
    replicas: u32,
) -> (Vec<InstanceRecord>, Vec<InstanceRecord>, usize) {
    let wanted = usize::try_from(replicas).unwrap_or(usize::MAX);
    match plan {
        Plan::Replace => (Vec::new(), live.to_vec(), wanted),
        // Scaling down keeps the oldest instances.
        Plan::Adjust if live.len() >= wanted => {
            let mut keep = live.to_vec();
            let surplus = keep.split_off(wanted);
            (keep, surplus, 0)
        }
        Plan::Adjust => (live.to_vec(), Vec::new(), wanted - live.len()),
    }
}

/// The history entry a rollback goes to.
fn rollback_target<'a>(
    id: &DeploymentId,
    state: &'a DeploymentState,
    to_revision: Option<u32>,
) -> Result<&'a HistoryEntry> {
    if state.revision == 0 {
        return Err(DeployError::NotDeployed(id.clone()));
    }
    let revision = match to_revision {
        Some(0) | None => {
            if state.revision < 2 {
                return Err(DeployError::NoPreviousRevision {
                    id: id.clone(),
                    current: state.revision,
                });
            }
            state.revision - 1
        }
        Some(r) => r,
    };
    state
        .revision_entry(revision)
        .ok_or_else(|| DeployError::NoSuchRevision {
            id: id.clone(),
            revision,
            available: state
                .history
                .iter()
                .map(|h| h.revision.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// A port on 127.0.0.1 that is free right now.
fn free_port() -> Result<u16> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(DeployError::NoFreePort)
}

/// The names of the subdirectories of `dir` (none if it does not exist).
fn subdirs(dir: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(DeployError::io("read", dir)(e)),
    };
    Ok(entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect())
}

/// Live helloservice processes of a deployment (by their `--listen` port and instance-name prefix), recorded or
/// not: what a deploy that was killed half-way might have left behind.
fn stray_instances(id: &DeploymentId, port: u16) -> Vec<(u32, String)> {
    let prefix = format!("{}-{}-r", id.service(), id.stage());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let args = process::live_cmdline(pid)?;
            let name = args
                .windows(2)
                .find(|w| w[0] == "--instance")
                .map(|w| w[1].clone())?;
            (name.starts_with(&prefix) && process::is_instance_cmdline(&args, &name, port))
                .then_some((pid, name))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> DeploymentId {
        DeploymentId::new("fulltour", "qa", "helloservice").unwrap_or_else(|e| panic!("{e}"))
    }

    fn state_with(revisions: &[(&str, u32)]) -> DeploymentState {
        let mut state = DeploymentState::new(4000);
        for (image, replicas) in revisions {
            state.record_revision(image, "", *replicas, std::time::UNIX_EPOCH);
        }
        state
    }

    #[test]
    fn rollback_goes_to_the_previous_revision_like_helm() {
        let state = state_with(&[("a", 1), ("b", 1), ("b", 2)]);
        let entry = rollback_target(&id(), &state, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (entry.revision, entry.image.as_str(), entry.replicas),
            (2, "b", 1)
        );
        let entry = rollback_target(&id(), &state, Some(1)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((entry.image.as_str(), entry.replicas), ("a", 1));
        let err = rollback_target(&id(), &state, Some(9))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("fulltour/qa/helloservice has no revision 9 (revisions: 1, 2, 3)")
        );
    }

    #[test]
    fn deploys_replace_everything_and_scaling_adjusts() {
        let live: Vec<InstanceRecord> = (1..=3)
            .map(|pid| InstanceRecord {
                pid,
                metrics_port: 0,
                instance: format!("i{pid}"),
            })
            .collect();
        let pids = |list: &[InstanceRecord]| list.iter().map(|i| i.pid).collect::<Vec<_>>();
        let (keep, stop, start) = plan_instances(Plan::Replace, &live, 2);
        assert_eq!(
            (pids(&keep), pids(&stop), start),
            (vec![], vec![1, 2, 3], 2)
        );
        let (keep, stop, start) = plan_instances(Plan::Adjust, &live, 1);
        assert_eq!((pids(&keep), pids(&stop), start), (vec![1], vec![2, 3], 0));
        let (keep, stop, start) = plan_instances(Plan::Adjust, &live, 5);
        assert_eq!(
            (pids(&keep), pids(&stop), start),
            (vec![1, 2, 3], vec![], 2)
        );
        let (keep, stop, start) = plan_instances(Plan::Adjust, &live, 3);
        assert_eq!((keep.len(), stop.len(), start), (3, 0, 0));
    }

    #[test]
    fn rollback_needs_an_earlier_revision() {
        assert!(matches!(
            rollback_target(&id(), &state_with(&[]), None),
            Err(DeployError::NotDeployed(_))
        ));
        assert!(matches!(
            rollback_target(&id(), &state_with(&[("a", 1)]), None),
            Err(DeployError::NoPreviousRevision { current: 1, .. })
        ));
    }

    #[test]
    fn selectors_match_by_each_given_name() {
        let all = Selector::default();
        assert!(all.matches(&id()));
        let qa = Selector {
            stage: Some("qa".to_owned()),
            ..Selector::default()
        };
        assert!(qa.matches(&id()));
        let other = Selector {
            project: Some("other".to_owned()),
            ..Selector::default()
        };
        assert!(!other.matches(&id()));
    }

    #[test]
    fn finished_data_names_the_stage_address() {
        let outcome = DeployOutcome {
            id: id(),
            url: "http://127.0.0.1:4000".to_owned(),
            port: 4000,
            revision: 1,
            image: "img:v0.1.1".to_owned(),
            version: "v0.1.1".to_owned(),
            previous_image: None,
            instances: Vec::new(),
            started: 1,
            stopped: Vec::new(),
            warnings: Vec::new(),
        };
        assert_eq!(
            outcome.finished_data()["deployment"]["deploymentURIsLocal"][0],
            "http://127.0.0.1:4000"
        );
        assert_eq!(
            outcome.finished_data()["deployment"]["deploymentstrategy"],
            "direct"
        );
    }

    #[test]
    fn the_port_is_chosen_once_and_kept() {
        let root = std::env::temp_dir().join(format!("sluice-deploy-port-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let deployments =
            Deployments::open(&root, "/nonexistent/sluice").unwrap_or_else(|e| panic!("{e}"));
        let request = DeployRequest {
            id: id(),
            image: "img:v0.1.1".to_owned(),
            replicas: Some(1),
            wait_timeout: Duration::from_secs(1),
        };
        // The program does not exist, so the deploy fails, but the stage's port is already recorded.
        let first = deployments.deploy(&request);
        assert!(matches!(first, Err(DeployError::Spawn { .. })), "{first:?}");
        let port = deployments
            .state(&id())
            .ok()
            .flatten()
            .map(|s| s.port)
            .unwrap_or(0);
        assert_ne!(port, 0);
        let _ = deployments.deploy(&request);
        let again = deployments.state(&id()).ok().flatten();
        assert_eq!(again.as_ref().map(|s| s.port), Some(port));
        assert_eq!(
            again.map(|s| s.revision),
            Some(0),
            "failed deploys record no revision"
        );
        assert_eq!(deployments.list().ok(), Some(vec![id()]));
        let _ = std::fs::remove_dir_all(&root);
    }
}
