//! The allowed-command list (`SLUICE_JOB_ALLOWED_COMMANDS`), sluice's counterpart of JES's
//! image allowlist (`ALLOWED_IMAGE_LIST`): which programs the local-process backend may start.

use std::path::{Path, PathBuf};

/// The environment variable holding the list.
pub const ALLOWLIST_ENV: &str = "SLUICE_JOB_ALLOWED_COMMANDS";

/// Comma-separated program names or globs (`helm`, `sluice`, `/usr/bin/*`). Empty, or any
/// `*` entry, allows everything.
///
/// What is compared is the program that will really run: its absolute path, with symbolic
/// links resolved (canonical), never the name as a task wrote it (a task may set its own
/// `PATH` and put a program of any name in front).
///
/// - An entry with a `/` is a path glob; it matches when the program's absolute path or its
///   canonical path matches (a literal path entry is itself canonicalised, so `/bin/sh`
///   allows the file `/bin/sh` points to). In a glob, `*` stands for any run of characters
///   other than `/` and `?` for one such character, so `/usr/bin/*` allows `/usr/bin/sh` but
///   not `/usr/bin/x/y`.
/// - A bare name (or name glob: `*ctl`) matches when the program's file name matches it and
///   the program is the very file that name finds through the **server's** `PATH` (read when
///   the list is made, before any task's environment applies). The name `sluice` stands for
///   the server's own binary (what a task's `cmd: [sluice, ...]` runs).
/// - The server's own binary (or any program file named `sluice`), however it was allowed,
///   runs only the task subcommands ([`TASK_SUBCOMMANDS`]): `sluice server` would start a
///   server without this list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allowlist {
    /// The entries; empty means open.
    patterns: Vec<String>,
    /// The server's `PATH`, for bare names.
    server_path: String,
    /// The server's own binary (canonical), if known.
    own_binary: Option<PathBuf>,
}

/// The subcommands of the server's own binary a task may run: the local tools a job runs
/// (`deploy`, `rollback`, `scale`, `deployments`, `load`, `evaluate`, `lint`) and the client
/// commands that talk to a server over its API. Everything else (`server`, `quickstart`,
/// `bench`, `import`, the hidden `helloservice` and `job-supervise`, and any subcommand added
/// later until it is listed here) is refused. The CLI's tests check that every subcommand is
/// either listed here or in [`REFUSED_SUBCOMMANDS`].
pub const TASK_SUBCOMMANDS: &[&str] = &[
    "deploy",
    "rollback",
    "scale",
    "deployments",
    "load",
    "evaluate",
    "lint",
    "logs",
    "auth",
    "create",
    "update",
    "delete",
    "configure",
    "add-resource",
    "trigger",
    "send",
    "approve",
    "decline",
    "get",
    "abort",
    "pause",
    "resume",
    "cluster",
    "token",
    "audit",
    "whoami",
    "baseline",
];

/// The subcommands of the server's own binary a task may not run (they serve, run a whole
/// server of their own, or, as `import`, read any git repository the server's host reaches).
pub const REFUSED_SUBCOMMANDS: &[&str] = &[
    "server",
    "quickstart",
    "bench",
    "helloservice",
    "job-supervise",
    "import",
];

/// Why a command may not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The program does not match the list.
    NotAllowed,
    /// The program is the server's own binary and the subcommand is not a task subcommand.
    Subcommand(String),
}

impl Refusal {
    /// The message of the task's `.finished` event.
    pub fn message(&self, written: &str) -> String {
        match self {
            Refusal::NotAllowed => {
                format!("Forbidden: command {written} does not match the allowed command list")
            }
            Refusal::Subcommand(sub) if sub.is_empty() => format!(
                "Forbidden: {written} may run only its task subcommands ({}), and it was given none",
                TASK_SUBCOMMANDS.join(", ")
            ),
            Refusal::Subcommand(sub) => format!(
                "Forbidden: `{written} {sub}` is not a task subcommand; a task may run only {}",
                TASK_SUBCOMMANDS.join(", ")
            ),
        }
    }
}

impl Allowlist {
    /// Parses the comma-separated list; bare names are looked up in the server's `PATH`.
    pub fn parse(spec: &str) -> Allowlist {
        let path = std::env::var("PATH").unwrap_or_else(|_| super::DEFAULT_PATH.to_owned());
        let own = std::env::current_exe()
            .ok()
            .and_then(|p| std::fs::canonicalize(p).ok());
        Allowlist::parse_with(spec, &path, own)
    }

    /// Parses the list with an explicit server `PATH` and own binary.
    pub fn parse_with(spec: &str, server_path: &str, own_binary: Option<PathBuf>) -> Allowlist {
        let patterns: Vec<String> = spec
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        if patterns.iter().any(|p| p == "*") {
            return Allowlist {
                own_binary,
                ..Allowlist::default()
            };
        }
        Allowlist {
            patterns,
            server_path: server_path.to_owned(),
            own_binary,
        }
    }

    /// The list from [`ALLOWLIST_ENV`] (open when unset).
    pub fn from_env() -> Allowlist {
        Allowlist::parse(&std::env::var(ALLOWLIST_ENV).unwrap_or_default())
    }

    /// Whether every command is allowed.
    pub fn is_open(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `program` (the absolute path that will run; `None` when it was not found) may
    /// run with `args`. `written` is `cmd[0]` as the config gave it (after `$(VAR)`).
    pub fn check(
        &self,
        written: &str,
        program: Option<&Path>,
        args: &[String],
    ) -> Result<(), Refusal> {
        let canonical = program.and_then(|p| std::fs::canonicalize(p).ok());
        // The server's own binary, or another `sluice` (an upgrade may have replaced the
        // running one on disk, so that the two differ).
        let is_sluice = canonical.as_ref().is_some_and(|c| {
            self.own_binary.as_ref() == Some(c)
                || c.file_name().is_some_and(|n| n == super::SELF_COMMAND)
        });
        if is_sluice {
            let sub = args.first().map(String::as_str).unwrap_or("");
            if !TASK_SUBCOMMANDS.contains(&sub) {
                return Err(Refusal::Subcommand(sub.to_owned()));
            }
        }
        if self.is_open() {
            return Ok(());
        }
        let (Some(program), Some(canonical)) = (program, canonical) else {
            return Err(Refusal::NotAllowed);
        };
        let allowed = self
            .patterns
            .iter()
            .any(|p| self.entry_matches(p, written, program, &canonical));
        if allowed {
            Ok(())
        } else {
            Err(Refusal::NotAllowed)
        }
    }

    fn entry_matches(&self, entry: &str, written: &str, program: &Path, canonical: &Path) -> bool {
        if entry.contains('/') {
            let literal = !entry.contains(['*', '?']);
            if literal {
                return std::fs::canonicalize(entry).is_ok_and(|e| e == canonical);
            }
            return program.to_str().is_some_and(|p| glob_match(entry, p))
                || canonical.to_str().is_some_and(|c| glob_match(entry, c));
        }
        // A bare name: the program must be what the name finds for the server.
        let name = Path::new(written)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("");
        if !glob_match(entry, name) {
            return false;
        }
        let found = if name == super::SELF_COMMAND && written == super::SELF_COMMAND {
            self.own_binary.clone()
        } else {
            resolve_program(name, &self.server_path, Path::new("/"))
                .and_then(|p| std::fs::canonicalize(p).ok())
        };
        found.is_some_and(|f| f == canonical)
    }
}

/// Shell-style glob matching where `*` and `?` never match `/`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Classic backtracking over the last `*`.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == t[ti] || (p[pi] == '?' && t[ti] != '/')) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star
            && t[st] != '/'
        {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Finds the executable a program name refers to: a name with a `/` relative to `cwd` (or
/// absolute), otherwise the first executable file of that name in `path` (`PATH` syntax).
pub fn resolve_program(program: &str, path: &str, cwd: &Path) -> Option<PathBuf> {
    if program.is_empty() {
        return None;
    }
    if program.contains('/') {
        let p = cwd.join(program);
        return is_executable(&p).then_some(p);
    }
    path.split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_do_not_cross_slashes() {
        assert!(glob_match("helm", "helm"));
        assert!(!glob_match("helm", "helm2"));
        assert!(glob_match("/usr/bin/*", "/usr/bin/sh"));
        assert!(!glob_match("/usr/bin/*", "/usr/bin/x/y"));
        assert!(glob_match("k?bectl", "kubectl"));
        assert!(glob_match("*ctl", "kubectl"));
        assert!(!glob_match("*ctl", "/usr/bin/kubectl"));
        assert!(glob_match("/usr/*/kubectl", "/usr/bin/kubectl"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
    }

    #[test]
    fn empty_or_star_is_open() {
        assert!(Allowlist::parse("").is_open());
        assert!(Allowlist::parse(" , ").is_open());
        assert!(Allowlist::parse("helm, *").is_open());
        let sh = std::fs::canonicalize("/bin/sh").unwrap();
        let l = Allowlist::parse_with("helm, /usr/bin/*, /bin/sh", "/usr/bin:/bin", None);
        assert!(!l.is_open());
        assert_eq!(
            l.check("/tmp/x/helm", Some(Path::new("/tmp/x/helm")), &[]),
            Err(Refusal::NotAllowed)
        );
        assert_eq!(l.check("sh", Some(Path::new("/bin/sh")), &[]), Ok(()));
        assert_eq!(l.check("sh", Some(&sh), &[]), Ok(()));
        assert_eq!(l.check("helm", None, &[]), Err(Refusal::NotAllowed));
    }

    #[test]
    fn bare_names_resolve_through_the_servers_path_not_the_tasks() {
        let dir =
            std::env::temp_dir().join(format!("sluice-allow-{}", crate::runtime::ids::fresh()));
        std::fs::create_dir_all(&dir).unwrap();
        let fake = dir.join("ls");
        std::fs::write(&fake, "#!/bin/sh\necho fake\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        let l = Allowlist::parse_with("ls", "/usr/bin:/bin", None);
        // What a task with PATH=<its dir>:... would run.
        assert_eq!(l.check("ls", Some(&fake), &[]), Err(Refusal::NotAllowed));
        let real = resolve_program("ls", "/usr/bin:/bin", Path::new("/")).unwrap();
        assert_eq!(l.check("ls", Some(&real), &[]), Ok(()));
        assert_eq!(
            l.check("/bin/ls", Some(&real), &[]),
            Ok(()),
            "the same file by its path"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn another_sluice_binary_runs_only_task_subcommands_too() {
        let dir =
            std::env::temp_dir().join(format!("sluice-allow-{}", crate::runtime::ids::fresh()));
        std::fs::create_dir_all(&dir).unwrap();
        let other = dir.join("sluice");
        std::fs::copy("/bin/sh", &other).unwrap();
        let l = Allowlist::parse_with("", "/usr/bin", None);
        assert_eq!(
            l.check("sluice", Some(&other), &["server".to_owned()]),
            Err(Refusal::Subcommand("server".into()))
        );
        assert_eq!(
            l.check("sluice", Some(&other), &["lint".to_owned()]),
            Ok(())
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_own_binary_runs_only_task_subcommands() {
        let own = std::fs::canonicalize("/bin/sh").unwrap();
        for spec in ["sluice", "", "/bin/*, /usr/bin/*"] {
            let l = Allowlist::parse_with(spec, "/nonexistent", Some(own.clone()));
            let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
            assert_eq!(
                l.check("sluice", Some(&own), &args(&["server", "--listen", "x"])),
                Err(Refusal::Subcommand("server".into())),
                "{spec}"
            );
            assert!(
                l.check("sluice", Some(&own), &args(&["quickstart"]))
                    .is_err()
            );
            assert!(
                l.check("sluice", Some(&own), &args(&["--version"]))
                    .is_err()
            );
            assert!(l.check("sluice", Some(&own), &[]).is_err());
            assert_eq!(
                l.check("sluice", Some(&own), &args(&["deploy", "--image", "x"])),
                Ok(()),
                "{spec}"
            );
        }
    }

    #[test]
    fn programs_resolve_through_path() {
        let sh = resolve_program("sh", "/nonexistent:/usr/bin:/bin", Path::new("/"));
        assert!(sh.is_some_and(|p| p.ends_with("sh")));
        assert!(resolve_program("no-such-program-xyz", "/usr/bin:/bin", Path::new("/")).is_none());
        assert!(resolve_program("", "/usr/bin", Path::new("/")).is_none());
    }
}
