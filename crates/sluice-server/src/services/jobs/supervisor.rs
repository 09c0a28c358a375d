//! The job supervisor: a small process (`sluice job-supervise`) between the server and a
//! task's process that outlives a crash of the server, so that a restarted server can adopt
//! the task and still learn its output and exit status.
//!
//! A restarted server cannot `waitpid` a process it did not start, and a task whose output
//! pipe led into the dead server would die of SIGPIPE at its next write. So the server never
//! starts a task itself: it starts the supervisor (in a process group of its own, so nothing
//! sent to the server's group reaches it), hands it the launch over its stdin (the task's
//! environment holds secrets, which must not be written to disk), and the supervisor
//!
//! 1. starts the task in a new process group (its pgid is its pid), stdout and stderr into
//!    one pipe that the supervisor reads;
//! 2. writes `process.json` (its own pid and, once started, the task's, each with its start
//!    time from `/proc/PID/stat` and the boot id, so a recycled pid is never taken for the
//!    task), fsynced: with its own identity first thing (before it even reads the launch),
//!    with the task's right after starting it; then prints `started` to the server;
//! 3. copies the first [`MAX_OUTPUT_BYTES`] of the output to `output.raw` as it comes (so
//!    the output so far survives anything) and keeps the last bytes in memory;
//! 4. when the task ends, kills what is left of its group (as when a container ends), reads
//!    the pipe a little longer, writes `output.tail` and finally `exit.json` (exit code or
//!    signal, bytes printed), each atomically.
//!
//! The server (or, after a restart, its successor) watches the supervisor: its own child with
//! `wait`, an adopted one through a pidfd, which becomes readable when the process ends;
//! time limits and aborts signal the task's group. `exit.json` present means the real
//! result is known; absent once the supervisor is gone means the task was lost with it.
//!
//! `output.raw` is not redacted (the supervisor does not know the secrets); it has mode 0600
//! and the server removes it once it has written the redacted `output.log`.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

/// The subcommand of the `sluice` binary that runs [`main`].
pub const SUBCOMMAND: &str = "job-supervise";

/// Set in the supervisor's environment (the unit tests' entry point looks for it).
pub const MARKER_ENV: &str = "SLUICE_JOB_SUPERVISOR";

/// What the supervisor prints once the task runs and `process.json` is written.
pub const STARTED_LINE: &str = "started";

/// Output kept in full per task.
pub const MAX_OUTPUT_BYTES: usize = 10 * 1024 * 1024;

/// Output kept from the end of the stream for the message tail.
const TAIL_RING_BYTES: usize = 64 * 1024;

/// How long to keep reading output after the task ended (a descendant that left the
/// process group may hold the pipe open).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// The identity of the supervisor and its task.
pub const PROCESS_FILE: &str = "process.json";
/// The raw output (first [`MAX_OUTPUT_BYTES`]).
pub const RAW_OUTPUT_FILE: &str = "output.raw";
/// The last bytes of the output.
pub const TAIL_FILE: &str = "output.tail";
/// How the task ended.
pub const EXIT_FILE: &str = "exit.json";

/// What to start, handed over the supervisor's stdin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Launch {
    /// The resolved executable.
    pub program: PathBuf,
    /// `argv[0]` as written in the config.
    pub arg0: String,
    /// The arguments.
    pub args: Vec<String>,
    /// The complete environment.
    pub env: Vec<(String, String)>,
    /// The working directory.
    pub cwd: PathBuf,
    /// The task's run directory (where the supervisor writes its files).
    pub dir: PathBuf,
}

/// A process as it was when it started: pid plus what tells it from a later one with the
/// same pid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    /// The pid.
    pub pid: i32,
    /// Start time in clock ticks since boot (`/proc/PID/stat`, field 22).
    pub start_ticks: u64,
    /// The kernel's boot id.
    pub boot_id: String,
}

impl Identity {
    /// The identity of a running process, if it runs.
    pub fn of(pid: i32) -> Option<Identity> {
        Some(Identity {
            pid,
            start_ticks: start_ticks(pid)?,
            boot_id: boot_id(),
        })
    }

    /// Whether this very process is still alive (not a zombie, not a recycled pid).
    pub fn is_alive(&self) -> bool {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) else {
            return false;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return false;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields
            .first()
            .is_some_and(|state| *state != "Z" && *state != "X")
            && fields.get(19).and_then(|t| t.parse().ok()) == Some(self.start_ticks)
            && boot_id() == self.boot_id
    }
}

/// `process.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessRecord {
    /// The supervisor.
    pub supervisor: Identity,
    /// The task's main process (its pid is also its process group id), once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<Identity>,
}

/// `exit.json`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExitRecord {
    /// The exit code, when the task exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// The signal that ended it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Why it could not start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spawn_error: Option<String>,
    /// Bytes printed in all.
    #[serde(default)]
    pub total: u64,
}

fn start_ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Reads a JSON file of the run directory.
pub fn read_json<T: for<'de> Deserialize<'de>>(dir: &Path, name: &str) -> Option<T> {
    let bytes = std::fs::read(dir.join(name)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes a file atomically and durably (write, fsync, rename).
fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes the supervisor's files from a run directory (after the server has taken their
/// content).
pub fn remove_files(dir: &Path) {
    for name in [PROCESS_FILE, RAW_OUTPUT_FILE, TAIL_FILE, EXIT_FILE] {
        let _ = std::fs::remove_file(dir.join(name));
    }
}

#[derive(Default)]
struct Capture {
    file: Option<std::fs::File>,
    kept: usize,
    tail: VecDeque<u8>,
    total: u64,
}

impl Capture {
    fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = MAX_OUTPUT_BYTES.saturating_sub(self.kept);
        let head = &bytes[..room.min(bytes.len())];
        if !head.is_empty()
            && let Some(file) = &mut self.file
            && file.write_all(head).is_err()
        {
            self.file = None;
        }
        self.kept += head.len();
        self.tail.extend(bytes);
        let excess = self.tail.len().saturating_sub(TAIL_RING_BYTES);
        self.tail.drain(..excess);
    }
}

/// The supervisor process: reads a [`Launch`] from stdin and runs it. Returns the exit code
/// of the supervisor itself (0 once `exit.json` is written).
pub fn main() -> i32 {
    // Before anything else, so that a server restarted at any moment from now on finds this
    // process (its working directory is the task's run directory).
    let _ = write_record(
        Path::new("."),
        &ProcessRecord {
            supervisor: own_identity(),
            task: None,
        },
    );
    let mut input = Vec::new();
    if std::io::stdin().read_to_end(&mut input).is_err() {
        return 2;
    }
    let Ok(launch) = serde_json::from_slice::<Launch>(&input) else {
        eprintln!("job-supervise: the launch on stdin is not valid");
        return 2;
    };
    supervise(&launch)
}

fn own_identity() -> Identity {
    let pid = i32::try_from(std::process::id()).unwrap_or(0);
    Identity::of(pid).unwrap_or_else(|| Identity {
        pid,
        start_ticks: 0,
        boot_id: boot_id(),
    })
}

fn write_record(dir: &Path, record: &ProcessRecord) -> std::io::Result<()> {
    write_durably(
        dir,
        PROCESS_FILE,
        &serde_json::to_vec(record).unwrap_or_default(),
    )
}

/// The task's process group, once the supervisor has started it.
pub fn task_group(dir: &Path) -> Option<i32> {
    read_json::<ProcessRecord>(dir, PROCESS_FILE)?
        .task
        .map(|t| t.pid)
        .filter(|p| *p > 1)
}

/// Tells the server the task runs: [`STARTED_LINE`] on a line of its own (after a newline,
/// in case something printed a partial line before: libtest does, in the unit tests).
fn announce() {
    let mut out = std::io::stdout();
    let _ = write!(out, "\n{STARTED_LINE}\n");
    let _ = out.flush();
}

fn supervise(launch: &Launch) -> i32 {
    let dir = &launch.dir;
    let finish = |exit: &ExitRecord| {
        let text = serde_json::to_vec(exit).unwrap_or_default();
        if write_durably(dir, EXIT_FILE, &text).is_err() {
            return 1;
        }
        0
    };
    let pipe = std::io::pipe().and_then(|(r, w)| {
        let w2 = w.try_clone()?;
        Ok((r, w, w2))
    });
    let (reader, writer, writer2) = match pipe {
        Ok(p) => p,
        Err(e) => {
            announce();
            return finish(&ExitRecord {
                spawn_error: Some(format!("cannot create the output pipe: {e}")),
                ..ExitRecord::default()
            });
        }
    };
    let mut cmd = std::process::Command::new(&launch.program);
    cmd.arg0(&launch.arg0)
        .args(&launch.args)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(&launch.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(writer2))
        .process_group(0);
    let spawned = cmd.spawn();
    // The copies of the write end must close, or the reader never sees the end.
    drop(cmd);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            announce();
            return finish(&ExitRecord {
                spawn_error: Some(format!("could not start {}: {e}", launch.arg0)),
                ..ExitRecord::default()
            });
        }
    };
    let task_pid = i32::try_from(child.id()).unwrap_or(0);
    let _ = write_record(
        dir,
        &ProcessRecord {
            supervisor: own_identity(),
            task: Some(Identity::of(task_pid).unwrap_or_else(|| Identity {
                pid: task_pid,
                start_ticks: 0,
                boot_id: boot_id(),
            })),
        },
    );
    announce();

    let capture = Arc::new(Mutex::new(Capture {
        file: {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(dir.join(RAW_OUTPUT_FILE))
                .ok()
        },
        ..Capture::default()
    }));
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let pump = capture.clone();
    std::thread::spawn(move || {
        let mut reader = reader;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => pump
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(&buf[..n]),
            }
        }
        let _ = done_tx.send(());
    });
    let status = child.wait();
    // As when a container ends: whatever is left of the group goes too.
    let _ = killpg(Pid::from_raw(task_pid), Signal::SIGKILL);
    let _ = done_rx.recv_timeout(DRAIN_GRACE);
    let c = capture.lock().unwrap_or_else(|p| p.into_inner());
    let tail: Vec<u8> = c.tail.iter().copied().collect();
    let _ = write_durably(dir, TAIL_FILE, &tail);
    let mut exit = ExitRecord {
        total: c.total,
        ..ExitRecord::default()
    };
    match status {
        Ok(s) => {
            exit.code = s.code();
            exit.signal = s.signal();
        }
        Err(e) => exit.spawn_error = Some(format!("could not wait for the process: {e}")),
    }
    finish(&exit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The supervisor's entry point when the unit tests' job executor starts this test binary
    /// as its supervisor ([`super::super::process`] does so under `cfg(test)`, where there is
    /// no `sluice` binary); otherwise a test of a whole supervised run.
    #[tokio::test]
    async fn job_supervisor_entry_point() {
        if std::env::var_os(MARKER_ENV).is_some() {
            std::process::exit(main());
        }
        let dir = std::env::temp_dir().join(format!(
            "sluice-supervisor-{}",
            crate::runtime::ids::fresh()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let spec = super::super::process::Spec {
            launch: Launch {
                program: PathBuf::from("/bin/sh"),
                arg0: "sh".into(),
                args: vec!["-c".into(), "echo out; echo err >&2; exit 3".into()],
                env: vec![("PATH".into(), "/usr/bin:/bin".into())],
                cwd: dir.clone(),
                dir: dir.clone(),
            },
            limit: Duration::from_secs(60),
        };
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let outcome = super::super::process::run(&spec, rx).await;
        assert_eq!(outcome.ending, super::super::process::Ending::Exited(3));
        assert_eq!(String::from_utf8_lossy(&outcome.head), "out\nerr\n");
        assert_eq!(outcome.total, 8);
        let record: ProcessRecord = read_json(&dir, PROCESS_FILE).expect("process.json");
        assert!(!record.task.expect("the task's identity").is_alive());
        assert!(!record.supervisor.is_alive());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_live_process_is_recognised_and_a_recycled_pid_is_not() {
        let me = Identity::of(i32::try_from(std::process::id()).unwrap()).unwrap();
        assert!(me.is_alive());
        let other = Identity {
            start_ticks: me.start_ticks + 1,
            ..me.clone()
        };
        assert!(!other.is_alive());
        let rebooted = Identity {
            boot_id: "another boot".into(),
            ..me
        };
        assert!(!rebooted.is_alive());
    }
}
