//! The machine a run measured: cores, CPU model, kernel and the sluice build, printed first
//! so that every set of figures says where it came from.

/// What is known about this machine (Linux; unknown parts say so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Logical CPUs available to this process.
    pub cores: usize,
    /// `model name` of /proc/cpuinfo.
    pub cpu: String,
    /// /proc/sys/kernel/osrelease.
    pub kernel: String,
    /// sluice's version and build profile.
    pub sluice: String,
}

impl Machine {
    /// Reads the facts of this machine.
    pub fn here() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Machine {
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            cpu: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown CPU".to_owned()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|k| format!("Linux {}", k.trim()))
                .unwrap_or_else(|_| std::env::consts::OS.to_owned()),
            sluice: format!(
                "sluice {} ({} build)",
                env!("CARGO_PKG_VERSION"),
                if cfg!(debug_assertions) {
                    "debug"
                } else {
                    "release"
                }
            ),
        }
    }

    /// `machine: 2 cores, <cpu>, Linux <release>, sluice <version> (<profile> build)`.
    pub fn line(&self) -> String {
        format!(
            "machine: {} cores, {}, {}, {}",
            self.cores, self.cpu, self.kernel, self.sluice
        )
    }
}

/// The CPU time this process has used so far (user and system, all threads), from
/// `/proc/self/stat`; `None` where that file cannot be read. Linux reports it in ticks of
/// `USER_HZ`, which is 100 on every architecture sluice is built for, so the resolution is
/// 10 ms: measure runs of seconds.
pub fn process_cpu_seconds() -> Option<f64> {
    cpu_seconds_of(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// `utime + stime` of a `/proc/<pid>/stat` line, in seconds. The command name (in
/// parentheses) may hold spaces, so the fields are counted after its closing parenthesis.
fn cpu_seconds_of(stat: &str) -> Option<f64> {
    const USER_HZ: f64 = 100.0;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state, ppid, pgrp, session, tty_nr, tpgid, flags, minflt, cminflt,
    // majflt, cmajflt, utime, stime.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// CPU time per unit of work: microseconds of this process's CPU (all its threads, the
/// benchmark's own clients included) for each of `units` done between two readings of
/// [`process_cpu_seconds`]. Less noisy than a rate on a shared machine, where the rate also
/// moves with what the other guests do.
pub fn cpu_micros_per(before: Option<f64>, after: Option<f64>, units: f64) -> f64 {
    match (before, after) {
        (Some(b), Some(a)) if units > 0.0 => (a - b) * 1e6 / units,
        _ => f64::NAN,
    }
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        // A command name with spaces and a parenthesis of its own.
        let stat = "4242 (tokio rt) x) S 1 4242 4242 0 -1 4194560 5000 0 12 0 250 75 0 0 20 0 9";
        assert_eq!(cpu_seconds_of(stat), Some(3.25));
        assert_eq!(cpu_seconds_of("4242 (short) S 1"), None);
        assert!(process_cpu_seconds().is_some_and(|s| s >= 0.0));
        assert_eq!(cpu_micros_per(Some(1.0), Some(1.5), 1000.0), 500.0);
        assert!(cpu_micros_per(None, Some(1.5), 1000.0).is_nan());
    }

    #[test]
    fn the_cpu_model_comes_from_cpuinfo() {
        let info = "processor\t: 0\nvendor_id\t: X\nmodel name\t: AMD EPYC 7B13\nflags\t: a\n";
        assert_eq!(cpu_model(info).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor : 0\n"), None);
        let m = Machine::here();
        assert!(m.line().starts_with("machine: "));
    }
}
