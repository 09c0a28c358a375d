//! The allowed-command list (`SLUICE_JOB_ALLOWED_COMMANDS`), sluice's counterpart of JES's
//! image allowlist (`ALLOWED_IMAGE_LIST`): which programs the local-process backend may start.

use std::path::{Path, PathBuf};

/// The environment variable holding the list.
pub const ALLOWLIST_ENV: &str = "SLUICE_JOB_ALLOWED_COMMANDS";

/// Comma-separated program names or globs (`helm`, `sluice`, `/usr/bin/*`). Empty, or any
/// `*` entry, allows everything.
///
/// An entry matches a command when it matches the program as written in `cmd[0]` (after
/// `$(VAR)` expansion) or the absolute path the program resolves to. In a glob, `*` stands
/// for any run of characters other than `/` and `?` for one such character, so `/usr/bin/*`
/// allows `/usr/bin/sh` (and `sh`, when `PATH` finds it there) but not `/usr/bin/x/y`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Allowlist {
    /// The entries; empty means open.
    patterns: Vec<String>,
}

impl Allowlist {
    /// Parses the comma-separated list.
    pub fn parse(spec: &str) -> Allowlist {
        let patterns: Vec<String> = spec
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        if patterns.iter().any(|p| p == "*") {
            return Allowlist::default();
        }
        Allowlist { patterns }
    }

    /// The list from [`ALLOWLIST_ENV`] (open when unset).
    pub fn from_env() -> Allowlist {
        Allowlist::parse(&std::env::var(ALLOWLIST_ENV).unwrap_or_default())
    }

    /// Whether every command is allowed.
    pub fn is_open(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the program (as written, and where it resolves to) is allowed.
    pub fn permits(&self, written: &str, resolved: Option<&Path>) -> bool {
        if self.is_open() {
            return true;
        }
        let resolved = resolved.and_then(Path::to_str);
        self.patterns
            .iter()
            .any(|p| glob_match(p, written) || resolved.is_some_and(|r| glob_match(p, r)))
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
        let l = Allowlist::parse("helm, /usr/bin/*");
        assert!(!l.is_open());
        assert!(l.permits("helm", None));
        assert!(!l.permits("/tmp/x/helm", Some(Path::new("/tmp/x/helm"))));
        assert!(l.permits("sh", Some(Path::new("/usr/bin/sh"))));
        assert!(!l.permits("sh", Some(Path::new("/bin/sh"))));
    }

    #[test]
    fn programs_resolve_through_path() {
        let sh = resolve_program("sh", "/nonexistent:/usr/bin:/bin", Path::new("/"));
        assert!(sh.is_some_and(|p| p.ends_with("sh")));
        assert!(resolve_program("no-such-program-xyz", "/usr/bin:/bin", Path::new("/")).is_none());
        assert!(resolve_program("", "/usr/bin", Path::new("/")).is_none());
    }
}
