//! Process metrics read from /proc (Linux), as client_golang's process collector exposes them.
//!
//! On platforms without /proc, [`ProcessStats::read_self`] returns `None` and the `process_*` families are left
//! out of the exposition rather than reported as zero.

/// Clock ticks per second of the times in /proc/<pid>/stat. Linux fixes USER_HZ at 100 for userspace on every
/// mainstream architecture (sysconf(_SC_CLK_TCK) would need unsafe FFI, which the workspace forbids).
const USER_HZ: f64 = 100.0;

/// One reading of the process's own resource usage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    /// User + system CPU time in seconds (`process_cpu_seconds_total`).
    pub cpu_seconds: f64,
    /// Resident set size in bytes (`process_resident_memory_bytes`).
    pub resident_memory_bytes: u64,
    /// Start time in seconds since the Unix epoch (`process_start_time_seconds`).
    pub start_time_seconds: f64,
}

impl ProcessStats {
    /// Reads /proc/self/stat, /proc/self/status and /proc/stat; `None` if any is missing or unreadable.
    pub fn read_self() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let system = std::fs::read_to_string("/proc/stat").ok()?;
        Self::from_proc(&stat, &status, &system)
    }

    /// Builds the stats from the texts of /proc/self/stat, /proc/self/status and /proc/stat.
    pub fn from_proc(stat: &str, status: &str, system_stat: &str) -> Option<Self> {
        // The command name (field 2) is in parentheses and may contain spaces or ')'; fields after the last ')'
        // start at field 3 (state), so field n is at index n - 3.
        let after_comm = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = after_comm.split_whitespace().collect();
        let field = |n: usize| -> Option<u64> { fields.get(n.checked_sub(3)?)?.parse().ok() };
        let utime = field(14)?;
        let stime = field(15)?;
        let start_ticks = field(22)?;

        let rss_kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        let boot_time: u64 = system_stat
            .lines()
            .find_map(|line| line.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;

        Some(Self {
            cpu_seconds: (utime + stime) as f64 / USER_HZ,
            resident_memory_bytes: rss_kib * 1024,
            start_time_seconds: boot_time as f64 + start_ticks as f64 / USER_HZ,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (hello (svc) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 3 0 \
                        123456 10000000 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
    const STATUS: &str = "Name:\thello\nVmPeak:\t  20000 kB\nVmRSS:\t    8192 kB\nThreads:\t3\n";
    const SYSTEM: &str = "cpu  1 2 3 4\nintr 5\nbtime 1700000000\nprocesses 99\n";

    #[test]
    fn parses_cpu_memory_and_start_time() {
        let stats = ProcessStats::from_proc(STAT, STATUS, SYSTEM);
        assert_eq!(
            stats,
            Some(ProcessStats {
                cpu_seconds: 3.0,
                resident_memory_bytes: 8192 * 1024,
                start_time_seconds: 1_700_000_000.0 + 1234.56,
            })
        );
    }

    #[test]
    fn garbage_gives_none() {
        assert_eq!(ProcessStats::from_proc("", STATUS, SYSTEM), None);
        assert_eq!(ProcessStats::from_proc("1 (x) S 1 2", STATUS, SYSTEM), None);
        assert_eq!(ProcessStats::from_proc(STAT, "Name: x\n", SYSTEM), None);
        assert_eq!(ProcessStats::from_proc(STAT, STATUS, "cpu 1\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_this_process_on_linux() {
        let stats = ProcessStats::read_self();
        assert!(stats.is_some_and(|s| s.resident_memory_bytes > 0 && s.start_time_seconds > 1.0e9));
    }
}
