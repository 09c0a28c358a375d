//! Reads every branch of a git repository into a [`Snapshot`]: a bare clone into a temporary
//! directory with libgit2 (removed afterwards), bounded in time.
//!
//! The libgit2 build sluice shares with its resource store has no TLS: it reads `http://`,
//! `git://`, `file://` and local paths. An `https://` upstream is read from a mirror clone
//! made with `git clone --mirror`.

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
}

fn transport(url: &str) -> Result<Transport> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        bail!(
            "this build reads git over http://, git://, file:// and local paths, not https:// \
             (its git library has no TLS)\n  hint: `git clone --mirror {url} keptn-upstream` \
             and import with --git-url keptn-upstream"
        );
    }
    if lower.starts_with("ssh://")
        || (!lower.contains("://") && url.contains('@') && url.contains(':'))
    {
        bail!(
            "this build does not read git over SSH\n  hint: `git clone --mirror {url} \
             keptn-upstream` and import with --git-url keptn-upstream"
        );
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

fn clone_and_read(source: &Source, kind: Transport, dir: &Path) -> Result<Snapshot> {
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
        let e = transport("https://github.com/o/r").unwrap_err().to_string();
        assert!(
            e.contains("git clone --mirror https://github.com/o/r"),
            "{e}"
        );
        assert!(transport("git@github.com:o/r.git").is_err());
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
