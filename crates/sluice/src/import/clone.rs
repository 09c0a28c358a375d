//! Reads every branch of a git repository into a [`Snapshot`]: a bare clone into a temporary
//! directory (removed afterwards), bounded in time.
//!
//! The libgit2 build sluice shares with its resource store has no TLS and no SSH: it reads
//! `http://`, `git://`, `file://` and local paths. An `https://` or SSH upstream is cloned with
//! Debian's `git` (`git clone --mirror`, the token passed as an `Authorization` header through
//! git's environment, never its arguments; SSH uses the user's own keys and agent), killed
//! when the time is up, then read with libgit2.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use git2::{FetchOptions, RemoteCallbacks, Repository, build::RepoBuilder};

use super::layout::{Snapshot, Tree};

/// Largest file this import reads from the repository (a bigger one stops it before anything
/// is written); the server's own, smaller limit then refuses files one by one.
pub const MAX_FILE_BYTES: usize = 64 << 20;

/// How to reach the repository.
#[derive(Clone)]
pub struct Source {
    /// URL or path as given.
    pub url: String,
    /// User and token for HTTP basic authentication.
    pub credentials: Option<(String, String)>,
    /// How long the clone may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("url", &self.url)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

/// What kind of location `url` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Local,
    Network,
    /// `https://` and SSH: Debian's `git`.
    GitCommand,
}

fn transport(url: &str) -> Result<Transport> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://")
        || lower.starts_with("ssh://")
        || (!lower.contains("://") && url.contains('@') && url.contains(':'))
    {
        return Ok(Transport::GitCommand);
    }
    if lower.starts_with("http://") || lower.starts_with("git://") {
        return Ok(Transport::Network);
    }
    if lower.starts_with("file://") || !lower.contains("://") {
        return Ok(Transport::Local);
    }
    bail!("unsupported repository URL {url:?}: give http://, git://, file:// or a local path")
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Clones the repository and reads every branch. Gives up after `source.timeout` (the clone
/// thread is then left to end with the process).
pub fn read(source: &Source) -> Result<Snapshot> {
    let kind = transport(&source.url)?;
    let dir = TempDir(std::env::temp_dir().join(format!(
        "sluice-import-{}-{}",
        std::process::id(),
        crate::client::new_uuid()
    )));
    let (tx, rx) = mpsc::channel();
    let worker_source = source.clone();
    let path = dir.0.clone();
    std::thread::spawn(move || {
        let _ = tx.send(clone_and_read(&worker_source, kind, &path));
    });
    match rx.recv_timeout(source.timeout) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => bail!(
            "reading {} took longer than {:?}; give more with --git-timeout",
            source.url,
            source.timeout
        ),
        Err(mpsc::RecvTimeoutError::Disconnected) => bail!("reading {} failed", source.url),
    }
}

/// `git clone --mirror` of an `https://` or SSH upstream into `dir`, killed at the deadline.
fn git_mirror(source: &Source, dir: &Path) -> Result<()> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let mut command = Command::new("git");
    command
        .args([
            "-c",
            "http.followRedirects=false",
            "clone",
            "--mirror",
            "--quiet",
            "--",
        ])
        .arg(&source.url)
        .arg(dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut secrets = Vec::new();
    if let Some((user, token)) = &source.credentials {
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{token}"));
        command
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "http.extraHeader")
            .env(
                "GIT_CONFIG_VALUE_0",
                format!("Authorization: Basic {basic}"),
            );
        secrets = vec![token.clone(), basic];
    }
    let mut child = command.spawn().context(
        "cannot run git (install Debian's `git` package) to read an https:// or SSH upstream",
    )?;
    let mut stderr = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + source.timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "reading {} took longer than {:?}; give more with --git-timeout",
                source.url,
                source.timeout
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut message = reader.join().unwrap_or_default();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        message = message.replace(secret.as_str(), "***");
    }
    if !status.success() {
        bail!(
            "cannot read the repository {}: {}",
            source.url,
            message.trim().replace('\n', " / ")
        );
    }
    Ok(())
}

fn clone_and_read(source: &Source, kind: Transport, dir: &Path) -> Result<Snapshot> {
    if kind == Transport::GitCommand {
        git_mirror(source, dir)?;
        let repo = Repository::open_bare(dir)
            .with_context(|| format!("cannot open the clone of {}", source.url))?;
        return snapshot(&repo);
    }
    let deadline = Instant::now() + source.timeout;
    let mut callbacks = RemoteCallbacks::new();
    if let Some((user, token)) = &source.credentials {
        let (user, token) = (user.clone(), token.clone());
        let mut tries = 0;
        callbacks.credentials(move |_, _, _| {
            tries += 1;
            if tries > 1 {
                return Err(git2::Error::from_str(
                    "the repository refused the user and token",
                ));
            }
            git2::Cred::userpass_plaintext(&user, &token)
        });
    }
    callbacks.transfer_progress(move |_| Instant::now() < deadline);
    let mut fetch = FetchOptions::new();
    fetch.remote_callbacks(callbacks);
    if kind == Transport::Network {
        // Only the branch tips are read.
        fetch.depth(1);
    }
    let url = match kind {
        Transport::Local if !source.url.contains("://") => std::path::absolute(&source.url)
            .with_context(|| format!("cannot resolve the path {}", source.url))?
            .to_string_lossy()
            .into_owned(),
        _ => source.url.clone(),
    };
    let repo = RepoBuilder::new()
        .bare(true)
        .fetch_options(fetch)
        .clone(&url, dir)
        .map_err(|e| {
            anyhow::anyhow!("cannot read the repository {}: {}", source.url, e.message())
        })?;
    snapshot(&repo)
}

/// Every `origin` branch of a fresh clone and its files.
fn snapshot(repo: &Repository) -> Result<Snapshot> {
    let head = repo.head().context("the repository has no HEAD branch")?;
    let default_branch = head.shorthand().unwrap_or("").to_owned();
    let mut out = Snapshot {
        default_branch,
        ..Snapshot::default()
    };
    // A clone keeps the upstream's branches as `origin/*`; a clone of a repository with no
    // branches but HEAD has only its local one.
    let mut prefix = "refs/remotes/origin/";
    if repo
        .references_glob("refs/remotes/origin/*")?
        .next()
        .is_none()
    {
        prefix = "refs/heads/";
    }
    for reference in repo.references_glob(&format!("{prefix}*"))? {
        let reference = reference?;
        let Some(name) = reference
            .name()
            .ok()
            .and_then(|n| n.strip_prefix(prefix))
            .map(str::to_owned)
        else {
            continue;
        };
        if name == "HEAD" {
            continue;
        }
        let tree = reference.peel_to_tree()?;
        let mut files = Tree::new();
        let mut failure = None;
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() != Some(git2::ObjectType::Blob) {
                return git2::TreeWalkResult::Ok;
            }
            let path = format!("{dir}{}", entry.name().unwrap_or(""));
            match repo.find_blob(entry.id()) {
                Ok(blob) if blob.size() <= MAX_FILE_BYTES => {
                    files.insert(path, blob.content().to_vec());
                }
                Ok(blob) => {
                    failure = Some(anyhow::anyhow!(
                        "{name}:{path} has {} bytes, more than the {MAX_FILE_BYTES} this import reads",
                        blob.size()
                    ));
                    return git2::TreeWalkResult::Abort;
                }
                Err(e) => {
                    failure = Some(anyhow::anyhow!("cannot read {name}:{path}: {}", e.message()));
                    return git2::TreeWalkResult::Abort;
                }
            }
            git2::TreeWalkResult::Ok
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        out.branches.insert(name, files);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports() {
        assert_eq!(transport("file:///tmp/x").unwrap(), Transport::Local);
        assert_eq!(transport("../upstream").unwrap(), Transport::Local);
        assert_eq!(
            transport("http://127.0.0.1:1/x.git").unwrap(),
            Transport::Network
        );
        assert_eq!(transport("git://host/x").unwrap(), Transport::Network);
        assert_eq!(
            transport("https://github.com/o/r").unwrap(),
            Transport::GitCommand
        );
        assert_eq!(
            transport("git@github.com:o/r.git").unwrap(),
            Transport::GitCommand
        );
        assert_eq!(
            transport("ssh://git@github.com/o/r.git").unwrap(),
            Transport::GitCommand
        );
        assert!(transport("ftp://x").is_err());
    }

    #[test]
    fn the_token_is_not_in_debug_output() {
        let s = Source {
            url: "http://h/r".into(),
            credentials: Some(("me".into(), "s3cret-token".into())),
            timeout: Duration::from_secs(1),
        };
        let shown = format!("{s:?}");
        assert!(shown.contains("me") && !shown.contains("s3cret"), "{shown}");
    }
}
