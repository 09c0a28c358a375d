//! The integration-test binary: runs the built `sluice` binary the way a user would.

mod access;
mod baseline;
mod bench;
mod client;
mod cluster;
mod connector;
mod deploy;
mod evaluate;
mod history;
mod hostile_files;
mod http;
mod import;
mod jobs;
mod lint;
mod load;
mod nats;
mod notifications;
mod postgres;
mod security;
mod server;
mod tidy;
mod upstream;
mod webhooks;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The output of one run of the binary.
pub struct Run {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Everything printed on stdout.
    pub stdout: String,
    /// Everything printed on stderr.
    pub stderr: String,
}

impl Run {
    /// The run of a finished process.
    pub fn of(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs `sluice` with arguments, from the repository root.
pub fn sluice(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(repo_root())
        .env("NO_COLOR", "1")
        .output()
        .expect("run sluice");
    Run::of(out)
}

/// Runs `sluice` with a private HOME and config file and the given extra environment (no
/// endpoint or token from the caller's environment).
pub fn sluice_env(home: &Path, envs: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.args(args)
        .current_dir(repo_root())
        .env("NO_COLOR", "1")
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("SLUICE_ENDPOINT")
        .env_remove("SLUICE_API_TOKEN")
        .env("SLUICE_CONFIG", home.join("config.json"));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    Run::of(cmd.output().expect("run sluice"))
}

/// The workspace root (where README.md and examples/ are).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// A fresh, empty scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "sluice-it-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        name
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Writes a file into a scratch directory and returns its path as a string.
pub fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("parent dir");
    }
    std::fs::write(&path, content).expect("write file");
    path.to_string_lossy().into_owned()
}
