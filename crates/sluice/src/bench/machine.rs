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
    fn the_cpu_model_comes_from_cpuinfo() {
        let info = "processor\t: 0\nvendor_id\t: X\nmodel name\t: AMD EPYC 7B13\nflags\t: a\n";
        assert_eq!(cpu_model(info).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor : 0\n"), None);
        let m = Machine::here();
        assert!(m.line().starts_with("machine: "));
    }
}
