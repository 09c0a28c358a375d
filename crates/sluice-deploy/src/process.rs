//! Processes by pid: is it still ours and alive (Linux /proc), and stopping it with SIGTERM then SIGKILL.
//!
//! A pid alone is never trusted: pids are reused, so a process is only signalled when its command line shows it is
//! the expected instance (or supervisor). A zombie (exited, not yet reaped by its parent, which is init for the
//! detached instances) counts as gone.

use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use crate::error::{DeployError, Result};

/// How often to look again while waiting for a process to exit.
const POLL: Duration = Duration::from_millis(20);

/// The arguments of a live (non-zombie) process; `None` when there is no such process or it is a zombie.
pub fn live_cmdline(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .next()?;
    if state == "Z" || state == "X" || state == "x" {
        return None;
    }
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    if raw.is_empty() {
        return None;
    }
    Some(
        raw.split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// Whether `args` contains `flag` immediately followed by `value`.
pub fn has_flag(args: &[String], flag: &str, value: &str) -> bool {
    args.windows(2).any(|w| w[0] == flag && w[1] == value)
}

/// Whether `pid` is alive and runs helloservice as instance `instance` on the stage port `port`.
pub fn is_instance(pid: u32, instance: &str, port: u16) -> bool {
    live_cmdline(pid).is_some_and(|args| is_instance_cmdline(&args, instance, port))
}

/// Whether a command line is helloservice's instance `instance` on the stage port `port`.
pub fn is_instance_cmdline(args: &[String], instance: &str, port: u16) -> bool {
    args.iter().any(|a| a == "helloservice")
        && has_flag(args, "--instance", instance)
        && has_flag(args, "--listen", &format!("127.0.0.1:{port}"))
}

/// Sends `signal` to `pid`.
fn send(pid: u32, signal: Signal, what: &str) -> Result<()> {
    let raw = i32::try_from(pid).ok().and_then(Pid::from_raw);
    let Some(target) = raw else {
        return Ok(());
    };
    match rustix::process::kill_process(target, signal) {
        Ok(()) => Ok(()),
        // Gone in the meantime.
        Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(e) => Err(DeployError::Signal {
            what: what.to_owned(),
            pid,
            source: e.into(),
        }),
    }
}

/// Stops a process that `still_ours` recognises: SIGTERM, up to `grace` to exit, then SIGKILL.
///
/// Does nothing when the process is already gone or is no longer what we started.
pub fn terminate(
    pid: u32,
    what: &str,
    grace: Duration,
    still_ours: impl Fn(u32) -> bool,
) -> Result<()> {
    if !still_ours(pid) {
        return Ok(());
    }
    send(pid, Signal::TERM, what)?;
    if wait_gone(pid, &still_ours, grace) {
        return Ok(());
    }
    send(pid, Signal::KILL, what)?;
    if wait_gone(pid, &still_ours, Duration::from_secs(5)) {
        return Ok(());
    }
    Err(DeployError::StillRunning {
        what: what.to_owned(),
        pid,
    })
}

fn wait_gone(pid: u32, still_ours: &impl Fn(u32) -> bool, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if !still_ours(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn instance_command_lines_are_recognised_exactly() {
        let cmd = args(&[
            "/bin/sluice",
            "helloservice",
            "--version",
            "v1",
            "--listen",
            "127.0.0.1:4000",
            "--instance",
            "svc-qa-r1-1",
        ]);
        assert!(is_instance_cmdline(&cmd, "svc-qa-r1-1", 4000));
        assert!(!is_instance_cmdline(&cmd, "svc-qa-r1-2", 4000));
        assert!(!is_instance_cmdline(&cmd, "svc-qa-r1-1", 4001));
        assert!(!is_instance_cmdline(
            &args(&["sleep", "--instance", "svc-qa-r1-1"]),
            "svc-qa-r1-1",
            4000
        ));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_alive_and_is_not_an_instance() {
        let me = std::process::id();
        assert!(live_cmdline(me).is_some_and(|a| !a.is_empty()));
        assert!(!is_instance(me, "x", 1));
        assert_eq!(live_cmdline(u32::MAX), None);
        // Terminating something that is not ours does nothing.
        assert!(terminate(me, "me", Duration::from_millis(1), |_| false).is_ok());
    }
}
