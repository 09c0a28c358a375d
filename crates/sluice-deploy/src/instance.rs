//! Starting one helloservice instance as a detached process and waiting until it is ready.
//!
//! The instance writes its stdout and stderr to its log file. It is ready when the log shows its metrics address
//! (`metrics on http://ADDR/metrics`) and `GET /health` on that address answers 200. The health check goes to the
//! instance's own metrics port because the main port is shared (SO_REUSEPORT) with the other instances.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{DeployError, InstanceFailure, NotReadyReason, Result};
use crate::state::InstanceRecord;

/// How often to look at the log and the health endpoint while waiting.
const POLL: Duration = Duration::from_millis(25);
/// How many log lines an error shows.
const TAIL_LINES: usize = 15;

/// What to run for one instance.
#[derive(Debug, Clone)]
pub struct InstanceSpec<'a> {
    /// The executable (the `sluice` binary).
    pub program: &'a Path,
    /// The image (passed as `--version`).
    pub image: &'a str,
    /// The stage's shared port.
    pub port: u16,
    /// The instance name.
    pub name: String,
    /// Where its log goes.
    pub log: PathBuf,
}

/// A started instance whose readiness is not yet known.
#[derive(Debug)]
pub struct Spawned {
    /// The instance name.
    pub name: String,
    /// The process.
    pub child: Child,
    /// The log file.
    pub log: PathBuf,
    /// Where this run's output starts in the log (the log is appended to across restarts).
    pub log_offset: u64,
}

/// The arguments that start an instance (also what [`crate::process::is_instance_cmdline`] recognises).
pub fn instance_args(image: &str, port: u16, name: &str) -> Vec<String> {
    [
        "helloservice",
        "--version",
        image,
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--reuse-port",
        "--metrics-listen",
        "127.0.0.1:0",
        "--instance",
        name,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// Starts an instance detached: its own process group, stdin from /dev/null, output appended to its log.
pub fn spawn(spec: &InstanceSpec<'_>) -> Result<Spawned> {
    if let Some(parent) = spec.log.parent() {
        std::fs::create_dir_all(parent).map_err(DeployError::io("create", parent))?;
    }
    let mut log = File::options()
        .create(true)
        .append(true)
        .open(&spec.log)
        .map_err(DeployError::io("open", &spec.log))?;
    let log_offset = log.seek(SeekFrom::End(0)).unwrap_or(0);
    let _ = writeln!(
        log,
        "--- sluice: starting {} with {} on 127.0.0.1:{}",
        spec.name, spec.image, spec.port
    );
    let log_offset = log.stream_position().unwrap_or(log_offset);
    let stderr = log
        .try_clone()
        .map_err(DeployError::io("open", &spec.log))?;
    let child = Command::new(spec.program)
        .args(instance_args(spec.image, spec.port, &spec.name))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(stderr)
        .env("NO_COLOR", "1")
        .process_group(0)
        .spawn()
        .map_err(|source| DeployError::Spawn {
            instance: spec.name.clone(),
            program: spec.program.to_owned(),
            source,
        })?;
    Ok(Spawned {
        name: spec.name.clone(),
        child,
        log: spec.log.clone(),
        log_offset,
    })
}

impl Spawned {
    /// Waits until the instance is ready or `deadline` passes; on success returns its record.
    pub fn wait_ready(&mut self, deadline: Instant) -> Result<InstanceRecord, InstanceFailure> {
        let mut metrics: Option<SocketAddr> = None;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.failure(NotReadyReason::Exited(status.to_string())));
            }
            if metrics.is_none() {
                metrics = metrics_addr(&self.output());
            }
            if let Some(addr) = metrics
                && health_ok(addr)
            {
                return Ok(InstanceRecord {
                    pid: self.child.id(),
                    metrics_port: addr.port(),
                    instance: self.name.clone(),
                });
            }
            if Instant::now() >= deadline {
                let waiting_for = if metrics.is_some() {
                    "GET /health on its metrics port to answer 200"
                } else {
                    "it to print its addresses"
                };
                return Err(self.failure(NotReadyReason::Timeout(waiting_for)));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Hands the process to a background thread that reaps it when it exits, so it never lingers as a zombie
    /// while this process lives on (the supervisor, or a long-running caller of the library).
    pub fn detach(self) {
        let mut child = self.child;
        std::thread::spawn(move || {
            let _ = child.wait();
        });
    }

    /// What this run printed so far.
    fn output(&self) -> String {
        read_from(&self.log, self.log_offset)
    }

    fn failure(&self, reason: NotReadyReason) -> InstanceFailure {
        InstanceFailure {
            instance: self.name.clone(),
            reason,
            log: self.log.clone(),
            log_tail: tail(&self.output(), TAIL_LINES),
        }
    }
}

fn read_from(path: &Path, offset: u64) -> String {
    let mut text = Vec::new();
    if let Ok(mut file) = File::open(path)
        && file.seek(SeekFrom::Start(offset)).is_ok()
    {
        let _ = file.read_to_end(&mut text);
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// The metrics address from helloservice's `metrics on http://ADDR/metrics` line.
pub fn metrics_addr(output: &str) -> Option<SocketAddr> {
    output.lines().find_map(|line| {
        line.trim()
            .strip_prefix("metrics on http://")?
            .strip_suffix("/metrics")?
            .parse()
            .ok()
    })
}

/// The last `n` lines of a text.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `GET /health` answers 200 (one short-lived connection, bounded by timeouts).
pub fn health_ok(addr: SocketAddr) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.set_write_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(
            format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"))
    };
    attempt().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metrics_address_comes_from_the_log() {
        let log = "--- sluice: starting x\nhelloservice v0.1.1 (x) listening on http://127.0.0.1:4000\n\
                   metrics on http://127.0.0.1:4100/metrics\n";
        assert_eq!(
            metrics_addr(log),
            Some(SocketAddr::from(([127, 0, 0, 1], 4100)))
        );
        assert_eq!(
            metrics_addr("helloservice v1 listening on http://127.0.0.1:1\n"),
            None
        );
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(tail("", 5), "");
    }

    #[test]
    fn arguments_name_the_instance_and_the_shared_port() {
        let args = instance_args("img:v1", 4000, "svc-qa-r1-1");
        assert!(crate::process::is_instance_cmdline(
            &args,
            "svc-qa-r1-1",
            4000
        ));
        assert!(args.contains(&"--reuse-port".to_owned()));
    }
}
