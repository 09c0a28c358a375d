//! Running one task as a local process: no shell, its own process group, stdout and stderr
//! captured together (bounded), a time limit and cancellation that end the whole group.

use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

/// Output kept in full (in `output.log`) per task.
pub const MAX_OUTPUT_BYTES: usize = 10 * 1024 * 1024;

/// Output kept from the end of the stream for the message tail.
const TAIL_RING_BYTES: usize = 64 * 1024;

/// How long a process group gets between SIGTERM and SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(2);

/// How long to keep reading output after the process ended (a descendant that left the
/// process group may hold the pipe open).
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The resolved executable.
    pub program: PathBuf,
    /// `argv[0]` as written in the config.
    pub arg0: String,
    /// The arguments.
    pub args: Vec<String>,
    /// The complete environment (nothing is inherited).
    pub env: Vec<(String, String)>,
    /// The working directory.
    pub cwd: PathBuf,
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
}

/// A finished process and what it printed.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How it ended.
    pub ending: Ending,
    /// The first [`MAX_OUTPUT_BYTES`] of the output (raw, not yet redacted).
    pub head: Vec<u8>,
    /// The last bytes of the output (raw).
    pub tail: Vec<u8>,
    /// All bytes printed.
    pub total: u64,
}

#[derive(Default)]
struct Capture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
}

impl Capture {
    fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = MAX_OUTPUT_BYTES.saturating_sub(self.head.len());
        self.head.extend_from_slice(&bytes[..room.min(bytes.len())]);
        self.tail.extend(bytes);
        let excess = self.tail.len().saturating_sub(TAIL_RING_BYTES);
        self.tail.drain(..excess);
    }
}

/// Runs the process until it ends, the limit passes or `cancel` turns true.
pub async fn run(spec: &Spec, mut cancel: watch::Receiver<bool>) -> Outcome {
    let capture = Arc::new(Mutex::new(Capture::default()));
    let ending = match start(spec) {
        Err(e) => Ending::SpawnFailed(e),
        Ok((mut child, reader)) => {
            let pgid = child.id().and_then(|p| i32::try_from(p).ok());
            let reading = tokio::spawn(read_all(reader, capture.clone()));
            let ending = tokio::select! {
                status = child.wait() => ending_of(status),
                () = tokio::time::sleep(spec.limit) => {
                    stop(&mut child, pgid).await;
                    Ending::TimedOut
                }
                () = cancelled(&mut cancel) => {
                    stop(&mut child, pgid).await;
                    Ending::Aborted
                }
            };
            // As when a container ends: whatever is left of the group goes too.
            if let Some(pgid) = pgid {
                let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            }
            if tokio::time::timeout(DRAIN_GRACE, reading).await.is_err() {
                tracing::debug!("a task's output pipe stayed open after it ended; stopped reading");
            }
            ending
        }
    };
    let c = capture.lock().unwrap_or_else(|p| p.into_inner());
    Outcome {
        ending,
        head: c.head.clone(),
        tail: c.tail.iter().copied().collect(),
        total: c.total,
    }
}

fn start(spec: &Spec) -> Result<(tokio::process::Child, OwnedFd), String> {
    let (reader, writer) =
        std::io::pipe().map_err(|e| format!("cannot create the output pipe: {e}"))?;
    let writer2 = writer
        .try_clone()
        .map_err(|e| format!("cannot create the output pipe: {e}"))?;
    let mut cmd = tokio::process::Command::new(&spec.program);
    cmd.arg0(&spec.arg0)
        .args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(&spec.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(writer2))
        .process_group(0)
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", spec.arg0));
    // The parent's copies of the write end must close, or the reader never sees the end.
    drop(cmd);
    Ok((child?, OwnedFd::from(reader)))
}

async fn read_all(reader: OwnedFd, capture: Arc<Mutex<Capture>>) {
    let Ok(mut pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(reader) else {
        return;
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => capture
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(&buf[..n]),
        }
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

/// SIGTERM to the group, SIGKILL after a grace period, then reap the child.
async fn stop(child: &mut tokio::process::Child, pgid: Option<i32>) {
    if let Some(pgid) = pgid {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
        if tokio::time::timeout(TERM_GRACE, child.wait()).await.is_ok() {
            let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
            return;
        }
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
    let _ = child.kill().await;
}

fn ending_of(status: std::io::Result<ExitStatus>) -> Ending {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => Ending::Exited(code),
            (None, Some(sig)) => Ending::Signalled(sig),
            (None, None) => Ending::Exited(-1),
        },
        Err(e) => Ending::SpawnFailed(format!("could not wait for the process: {e}")),
    }
}

/// The last `max_lines` lines within the last `max_bytes` bytes of a text.
pub fn tail_of(text: &str, max_lines: usize, max_bytes: usize) -> &str {
    let mut start = text.len().saturating_sub(max_bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let window = &text[start..];
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

    #[test]
    fn tails_are_bounded_by_lines_and_bytes() {
        assert_eq!(tail_of("a\nb\nc\n", 2, 100), "b\nc\n");
        assert_eq!(tail_of("a\nb\nc", 2, 100), "b\nc");
        assert_eq!(tail_of("a\nb\nc\n", 10, 100), "a\nb\nc\n");
        assert_eq!(tail_of("abcdef", 10, 3), "def");
        assert_eq!(tail_of("ééé", 10, 3), "é");
        assert_eq!(tail_of("", 10, 3), "");
    }

    #[test]
    fn capture_keeps_head_and_tail() {
        let mut c = Capture::default();
        c.push(&vec![b'x'; MAX_OUTPUT_BYTES - 2]);
        c.push(b"abcd");
        assert_eq!(c.head.len(), MAX_OUTPUT_BYTES);
        assert_eq!(c.total, MAX_OUTPUT_BYTES as u64 + 2);
        assert_eq!(c.tail.len(), TAIL_RING_BYTES);
        assert_eq!(c.tail.back(), Some(&b'd'));
    }
}
