//! The supervisor: one long-running process per deployments directory that restarts instances that died.
//!
//! `sluice deploy` starts it (detached) when it is not running. It holds an OS lock on `DIR/supervisor.pid` (which
//! also holds its pid) for as long as it lives, so there is at most one per directory; a second one exits at once.
//! Every [`SuperviseOptions::interval`] it looks at each deployment whose lock is free (a deployment being changed
//! is skipped) and restarts every recorded instance whose process is gone, under the same name, with exponential
//! backoff per instance (immediately, then after 1s, 2s, 4s, ... up to [`SuperviseOptions::max_backoff`]; the
//! backoff resets once an instance has stayed up for a minute). It ends when the directory disappears or when
//! `sluice deployments stop --all` terminates it. Instances that `stop` stopped are no longer recorded, so they are
//! not restarted.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{DeployError, Result};
use crate::instance::{self, InstanceSpec};
use crate::state::{DeploymentLock, DeploymentState};
use crate::{Deployments, LOGS_DIR, process, targets};

/// The supervisor's lock and pid file in the deployments directory.
pub const PID_FILE: &str = "supervisor.pid";
/// The supervisor's log in the deployments directory.
pub const LOG_FILE: &str = "supervisor.log";
/// How long a restarted instance must stay up before its backoff starts again from zero.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// How the supervisor works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuperviseOptions {
    /// How often to look at the deployments.
    pub interval: Duration,
    /// How long a restarted instance may take to become ready.
    pub ready_timeout: Duration,
    /// The first delay before restarting an instance again (doubled each time).
    pub first_backoff: Duration,
    /// The longest delay between restarts of one instance.
    pub max_backoff: Duration,
}

impl Default for SuperviseOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_millis(500),
            ready_timeout: Duration::from_secs(10),
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// The restart history of one instance.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    restarts: u32,
    not_before: Instant,
}

/// The arguments that run the supervisor of `root` (also how it is recognised in /proc).
pub fn supervisor_args(root: &Path) -> Vec<String> {
    vec![
        "deployments".to_owned(),
        "supervise".to_owned(),
        "--deployments-dir".to_owned(),
        root.to_string_lossy().into_owned(),
    ]
}

fn is_supervisor_cmdline(args: &[String], root: &Path) -> bool {
    args.iter().any(|a| a == "supervise")
        && process::has_flag(args, "--deployments-dir", &root.to_string_lossy())
}

/// Live supervisor processes of `root` (normally at most one).
pub fn running_supervisors(root: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != std::process::id())
        .filter(|pid| process::live_cmdline(*pid).is_some_and(|a| is_supervisor_cmdline(&a, root)))
        .collect()
}

/// Stops every supervisor of `root`.
pub fn stop_supervisor(root: &Path) -> Result<()> {
    for pid in running_supervisors(root) {
        process::terminate(pid, "the supervisor", Duration::from_secs(2), |p| {
            process::live_cmdline(p).is_some_and(|a| is_supervisor_cmdline(&a, root))
        })?;
    }
    Ok(())
}

fn open_pid_file(root: &Path) -> Result<File> {
    crate::state::open_for_locking(root.join(PID_FILE))
}

/// Whether a supervisor holds the lock of `root`.
pub fn is_running(root: &Path) -> Result<bool> {
    let file = open_pid_file(root)?;
    Ok(matches!(
        file.try_lock(),
        Err(std::fs::TryLockError::WouldBlock)
    ))
}

impl Deployments {
    /// Starts the supervisor of this directory (detached, logging to `DIR/supervisor.log`) unless one is running;
    /// returns the new supervisor's pid, or `None` when one was already running.
    pub fn ensure_supervisor(&self) -> Result<Option<u32>> {
        if is_running(self.root())? {
            return Ok(None);
        }
        let log_path = self.root().join(LOG_FILE);
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(DeployError::io("open", &log_path))?;
        let stderr = log
            .try_clone()
            .map_err(DeployError::io("open", &log_path))?;
        let mut child = Command::new(self.program())
            .args(supervisor_args(self.root()))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .map_err(|source| DeployError::Spawn {
                instance: "the supervisor".to_owned(),
                program: self.program().to_owned(),
                source,
            })?;
        let pid = child.id();
        // Wait (briefly) until it holds the lock, so a `stop --all` right after this finds it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !is_running(self.root())? {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::spawn(move || {
            let _ = child.wait();
        });
        Ok(Some(pid))
    }

    /// Runs the supervisor until the directory disappears (blocking). Returns `false` at once when another
    /// supervisor already runs for this directory. `report` receives one line per restart or failed restart.
    pub fn supervise(
        &self,
        options: &SuperviseOptions,
        mut report: impl FnMut(&str),
    ) -> Result<bool> {
        let mut pid_file = open_pid_file(self.root())?;
        match pid_file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(false),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(DeployError::io("lock", self.root().join(PID_FILE))(e));
            }
        }
        let path = self.root().join(PID_FILE);
        pid_file
            .set_len(0)
            .and_then(|()| writeln!(pid_file, "{}", std::process::id()))
            .map_err(DeployError::io("write", &path))?;
        report(&format!(
            "supervisor {} watching {}",
            std::process::id(),
            self.root().display()
        ));
        let mut backoffs = HashMap::new();
        while self.root().is_dir() {
            self.supervise_pass(options, &mut backoffs, &mut report);
            std::thread::sleep(options.interval);
        }
        report("the deployments directory is gone; supervisor exits");
        Ok(true)
    }

    /// One look at every deployment: restarts dead instances whose backoff has passed.
    fn supervise_pass(
        &self,
        options: &SuperviseOptions,
        backoffs: &mut HashMap<String, Backoff>,
        report: &mut impl FnMut(&str),
    ) {
        let Ok(ids) = self.list() else {
            return;
        };
        for id in ids {
            let dir = id.dir(self.root());
            let Ok(Some(_lock)) = DeploymentLock::try_acquire(&dir) else {
                continue;
            };
            let Ok(Some(mut state)) = DeploymentState::load(&dir) else {
                continue;
            };
            let mut changed = false;
            let port = state.port;
            let image = state.image.clone();
            for record in &mut state.instances {
                let key = format!("{id}/{}", record.instance);
                let now = Instant::now();
                if process::is_instance(record.pid, &record.instance, port) {
                    if backoffs
                        .get(&key)
                        .is_some_and(|b| now > b.not_before + STABLE_AFTER)
                    {
                        backoffs.remove(&key);
                    }
                    continue;
                }
                let backoff = backoffs.entry(key).or_insert(Backoff {
                    restarts: 0,
                    not_before: now,
                });
                if now < backoff.not_before {
                    continue;
                }
                let spec = InstanceSpec {
                    program: self.program(),
                    image: &image,
                    port,
                    name: record.instance.clone(),
                    log: dir.join(LOGS_DIR).join(format!("{}.log", record.instance)),
                };
                let outcome =
                    instance::spawn(&spec)
                        .map_err(|e| e.to_string())
                        .and_then(|mut s| {
                            match s.wait_ready(Instant::now() + options.ready_timeout) {
                                Ok(ready) => {
                                    s.detach();
                                    Ok(ready)
                                }
                                Err(failure) => {
                                    s.kill();
                                    Err(failure.to_string())
                                }
                            }
                        });
                let delay = options
                    .first_backoff
                    .saturating_mul(2u32.saturating_pow(backoff.restarts))
                    .min(options.max_backoff);
                backoff.restarts = backoff.restarts.saturating_add(1);
                backoff.not_before = Instant::now() + delay;
                match outcome {
                    Ok(ready) => {
                        report(&format!(
                            "{id}: restarted {} (pid {} died; new pid {})",
                            record.instance, record.pid, ready.pid
                        ));
                        *record = ready;
                        changed = true;
                    }
                    Err(e) => report(&format!(
                        "{id}: restart failed, next try in {}s: {e}",
                        delay.as_secs()
                    )),
                }
            }
            if changed {
                if let Err(e) = state.save(&dir) {
                    report(&format!("{id}: {e}"));
                }
                if let Err(e) = targets::write_targets(self.root(), &id, &state.instances) {
                    report(&format!("{id}: {e}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supervisor_command_lines_are_recognised_per_directory() {
        let root = Path::new("/tmp/deployments");
        let mut args = vec!["/bin/sluice".to_owned()];
        args.extend(supervisor_args(root));
        assert!(is_supervisor_cmdline(&args, root));
        assert!(!is_supervisor_cmdline(&args, Path::new("/tmp/other")));
    }

    #[test]
    fn no_supervisor_runs_in_a_fresh_directory() {
        let root = std::env::temp_dir().join(format!("sluice-deploy-sup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let _ = std::fs::create_dir_all(&root);
        assert!(matches!(is_running(&root), Ok(false)));
        assert!(running_supervisors(&root).is_empty());
        let held = open_pid_file(&root).unwrap_or_else(|e| panic!("{e}"));
        assert!(held.try_lock().is_ok());
        assert!(matches!(is_running(&root), Ok(true)));
        drop(held);
        let _ = std::fs::remove_dir_all(&root);
    }
}
