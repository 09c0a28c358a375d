//! Running one task as a local process through the job supervisor ([`super::supervisor`]):
//! no shell, its own process group, stdout and stderr captured together (bounded), a time
//! limit and cancellation that end the whole group; and adopting a task a previous server
//! process started.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::watch;

use super::supervisor::{self, ExitRecord, Launch, ProcessRecord};

/// How long a process group gets between SIGTERM and SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);

/// How long to wait for the supervisor to record the end once its task's group is killed.
const SUPERVISOR_GRACE: Duration = Duration::from_secs(5);

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    /// What the supervisor starts.
    pub launch: Launch,
    /// Time limit (zero: the limit has passed at once).
    pub limit: Duration,
}

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// It exited with this code.
    Exited(i32),
    /// A signal ended it.
    Signalled(i32),
    /// The time limit was reached; the group was killed.
    TimedOut,
    /// The run was cancelled; the group was killed.
    Aborted,
    /// It could not be started.
    SpawnFailed(String),
    /// Nobody knows how it ended: it went with its supervisor (the message says why).
    Lost(String),
    /// It failed without an exit code (a Kubernetes Job's failure reason).
    Failed(String),
}

/// A finished process and what it printed.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How it ended.
    pub ending: Ending,
    /// The first [`supervisor::MAX_OUTPUT_BYTES`] of the output (raw, not yet redacted).
    pub head: Vec<u8>,
    /// The last bytes of the output (raw).
    pub tail: Vec<u8>,
    /// All bytes printed.
    pub total: u64,
}

/// The program and leading arguments that start a supervisor: the server's own binary with
/// `job-supervise`; in this crate's unit tests (no `sluice` binary) the test binary itself,
/// running only the supervisor's entry-point test.
fn supervisor_command() -> std::io::Result<(PathBuf, Vec<&'static str>)> {
    let exe = std::env::current_exe()?;
    if cfg!(test) {
        Ok((
            exe,
            vec![
                "--exact",
                "services::jobs::supervisor::tests::job_supervisor_entry_point",
                "--nocapture",
                "--test-threads=1",
            ],
        ))
    } else {
        Ok((exe, vec![supervisor::SUBCOMMAND]))
    }
}

/// The message of a task whose process went with a crashed server.
pub const LOST_IN_CRASH: &str = "the server stopped (it crashed or was killed) while the task was running, and the task's process is gone; the output it printed until then is kept";

/// Runs the process under a new supervisor until it ends, the limit passes or `cancel`
/// turns true.
pub async fn run(spec: &Spec, mut cancel: watch::Receiver<bool>) -> Outcome {
    supervisor::remove_files(&spec.launch.dir);
    let ending = match start(spec).await {
        Err(e) => Some(Ending::SpawnFailed(e)),
        Ok(mut child) => {
            let exited = async {
                let _ = child.wait().await;
            };
            watch_until_end(exited, &spec.launch.dir, spec.limit, &mut cancel).await
        }
    };
    collect(&spec.launch.dir, ending)
}

/// Starts the supervisor, hands it the launch and waits until it has started the task.
async fn start(spec: &Spec) -> Result<tokio::process::Child, String> {
    let (program, leading) =
        supervisor_command().map_err(|e| format!("cannot find the job supervisor: {e}"))?;
    let mut child = tokio::process::Command::new(program)
        .args(leading)
        .env_clear()
        .env(supervisor::MARKER_ENV, "1")
        .current_dir(&spec.launch.dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        // Its own group: a signal to the server's group does not reach it, and it outlives a
        // crash of the server.
        .process_group(0)
        .kill_on_drop(false)
        .spawn()
        .map_err(|e| format!("could not start the job supervisor: {e}"))?;
    let text = serde_json::to_vec(&spec.launch).map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(&text)
            .await
            .map_err(|e| format!("cannot hand the task to the job supervisor: {e}"))?;
    }
    if let Some(stdout) = child.stdout.take() {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line == supervisor::STARTED_LINE {
                break;
            }
        }
    }
    Ok(child)
}

/// Adopts the supervised task of `dir` that a previous server process started: watches it
/// until it ends, `remaining` passes or `cancel` turns true. A task whose supervisor is
/// gone without recording an end is [`Ending::Lost`] (what is left of its group is killed).
pub async fn adopt(dir: &Path, remaining: Duration, mut cancel: watch::Receiver<bool>) -> Outcome {
    let record = supervisor::read_json::<ProcessRecord>(dir, supervisor::PROCESS_FILE);
    let ending = match record {
        Some(record) if record.supervisor.is_alive() => match pidfd_exit(record.supervisor.pid) {
            Ok(exited) => watch_until_end(exited, dir, remaining, &mut cancel).await,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch an adopted job supervisor");
                kill_group(&record);
                Some(Ending::Lost(format!(
                    "the server restarted while the task was running and could not watch it again ({e}); it was stopped"
                )))
            }
        },
        Some(record) => {
            // Its supervisor died (perhaps not the task): nobody reads its output any more.
            kill_group(&record);
            None
        }
        None => None,
    };
    collect(dir, ending)
}

fn kill_group(record: &ProcessRecord) {
    if let Some(task) = &record.task
        && task.pid > 1
        && task.is_alive()
    {
        let _ = killpg(Pid::from_raw(task.pid), Signal::SIGKILL);
    }
}

/// A future that completes when the (non-child) process `pid` ends: a pidfd becomes
/// readable then (it cannot be `wait`ed for, not being a child); one blocking thread polls it.
fn pidfd_exit(pid: i32) -> std::io::Result<impl Future<Output = ()>> {
    use rustix::event::{PollFd, PollFlags, poll};
    let pid = rustix::process::Pid::from_raw(pid)
        .ok_or_else(|| std::io::Error::other("not a process id"))?;
    let fd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())?;
    let waiting = tokio::task::spawn_blocking(move || {
        loop {
            let mut fds = [PollFd::new(&fd, PollFlags::IN)];
            match poll(&mut fds, None) {
                Err(rustix::io::Errno::INTR) => {}
                _ => return,
            }
        }
    });
    Ok(async move {
        let _ = waiting.await;
    })
}

/// Waits for `exited`; at the limit or on cancel, stops the task's group. Returns the ending
/// when the server stopped it (otherwise the supervisor's record tells).
async fn watch_until_end(
    exited: impl Future<Output = ()>,
    dir: &Path,
    limit: Duration,
    cancel: &mut watch::Receiver<bool>,
) -> Option<Ending> {
    tokio::pin!(exited);
    let stopped = tokio::select! {
        () = &mut exited => None,
        () = tokio::time::sleep(limit) => Some(Ending::TimedOut),
        () = cancelled(cancel) => Some(Ending::Aborted),
    };
    let pgid = supervisor::task_group(dir);
    if stopped.is_some()
        && let Some(pgid) = pgid
    {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
        if tokio::time::timeout(TERM_GRACE, &mut exited).await.is_err() {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            let _ = tokio::time::timeout(SUPERVISOR_GRACE, &mut exited).await;
        }
    }
    // As when a container ends: whatever is left of the group goes too.
    if let Some(pgid) = pgid {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
    stopped
}

/// The outcome from the supervisor's files; `stopped` (the server stopped the task) wins
/// over the recorded end.
fn collect(dir: &Path, stopped: Option<Ending>) -> Outcome {
    let head = std::fs::read(dir.join(supervisor::RAW_OUTPUT_FILE)).unwrap_or_default();
    let exit = supervisor::read_json::<ExitRecord>(dir, supervisor::EXIT_FILE);
    let tail = match std::fs::read(dir.join(supervisor::TAIL_FILE)) {
        Ok(tail) if exit.is_some() => tail,
        _ => head[head.len().saturating_sub(64 * 1024)..].to_vec(),
    };
    let total = exit
        .as_ref()
        .map_or(head.len() as u64, |e| e.total.max(head.len() as u64));
    let ending = match (stopped, exit) {
        (Some(ending), _) => ending,
        (
            None,
            Some(ExitRecord {
                spawn_error: Some(e),
                ..
            }),
        ) => Ending::SpawnFailed(e),
        (None, Some(ExitRecord { code: Some(c), .. })) => Ending::Exited(c),
        (
            None,
            Some(ExitRecord {
                signal: Some(s), ..
            }),
        ) => Ending::Signalled(s),
        (None, Some(_)) => Ending::Exited(-1),
        (None, None) => Ending::Lost(LOST_IN_CRASH.to_owned()),
    };
    Outcome {
        ending,
        head,
        tail,
        total,
    }
}

async fn cancelled(cancel: &mut watch::Receiver<bool>) {
    loop {
        if *cancel.borrow_and_update() {
            return;
        }
        if cancel.changed().await.is_err() {
            // Nobody can cancel any more.
            std::future::pending::<()>().await;
        }
    }
}

/// The last `max_lines` lines within the last `max_bytes` bytes of a text.
pub fn tail_of(text: &str, max_lines: usize, max_bytes: usize) -> &str {
    let window = &text[text.ceil_char_boundary(text.len().saturating_sub(max_bytes))..];
    let trimmed = window.strip_suffix('\n').unwrap_or(window);
    match trimmed
        .rmatch_indices('\n')
        .nth(max_lines.saturating_sub(1))
    {
        Some((i, _)) => &window[i + 1..],
        None => window,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dir: &Path, script: &str) -> Spec {
        Spec {
            launch: Launch {
                program: PathBuf::from("/bin/sh"),
                arg0: "sh".into(),
                args: vec!["-c".into(), script.into()],
                env: vec![("PATH".into(), "/usr/bin:/bin".into())],
                cwd: dir.to_path_buf(),
                dir: dir.to_path_buf(),
            },
            limit: Duration::from_secs(60),
        }
    }

    fn scratch() -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sluice-adopt-{}", crate::runtime::ids::fresh()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn a_task_that_ended_while_the_server_was_down_is_reported_with_its_real_result() {
        let dir = scratch();
        let (_tx, rx) = watch::channel(false);
        // A run whose files stay as a crashed server would have left them.
        let first = run(&spec(&dir, "echo hi; exit 5"), rx.clone()).await;
        assert_eq!(first.ending, Ending::Exited(5));
        let adopted = adopt(&dir, Duration::from_secs(60), rx).await;
        assert_eq!(adopted.ending, Ending::Exited(5));
        assert_eq!(adopted.head, b"hi\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_task_whose_supervisor_is_gone_without_an_exit_record_is_lost() {
        let dir = scratch();
        let (_tx, rx) = watch::channel(false);
        let _ = run(&spec(&dir, "echo partial; exit 0"), rx.clone()).await;
        std::fs::remove_file(dir.join(supervisor::EXIT_FILE)).unwrap();
        let adopted = adopt(&dir, Duration::from_secs(60), rx).await;
        assert_eq!(adopted.ending, Ending::Lost(LOST_IN_CRASH.to_owned()));
        assert_eq!(adopted.head, b"partial\n", "the output so far is kept");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn an_adopted_task_keeps_its_time_limit() {
        let dir = scratch();
        let (_tx, rx) = watch::channel(false);
        // Start a long task under a supervisor, then adopt it as a restarted server would
        // (the first watcher gives up at once: its limit is zero).
        let mut long = spec(&dir, "sleep 30");
        long.limit = Duration::ZERO;
        let child = start(&long).await.expect("started");
        let adopted = adopt(&dir, Duration::ZERO, rx).await;
        assert_eq!(adopted.ending, Ending::TimedOut);
        let record: ProcessRecord =
            supervisor::read_json(&dir, supervisor::PROCESS_FILE).expect("process.json");
        drop(child);
        let task = record.task.expect("the task");
        tokio::time::timeout(Duration::from_secs(30), async {
            while task.is_alive() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the task's group was killed");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn tails_are_bounded_by_lines_and_bytes() {
        assert_eq!(tail_of("a\nb\nc\n", 2, 100), "b\nc\n");
        assert_eq!(tail_of("a\nb\nc", 2, 100), "b\nc");
        assert_eq!(tail_of("a\nb\nc\n", 10, 100), "a\nb\nc\n");
        assert_eq!(tail_of("abcdef", 10, 3), "def");
        assert_eq!(tail_of("ééé", 10, 3), "é");
        assert_eq!(tail_of("", 10, 3), "");
    }
}
