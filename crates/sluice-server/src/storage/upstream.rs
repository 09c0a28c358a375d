//! A project's git upstream, the network side: Debian's `git` run as a child process (the
//! libgit2 sluice links has no TLS and no SSH), bounded in time and killed on expiry, never
//! through a shell, with the credentials in its environment or a private key file, never in
//! its arguments or in a log line.
//!
//! [`sync`] is the one operation: `git ls-remote` (one round trip when nothing changed),
//! `git fetch` of the changed branches into the project's repository, the merge
//! ([`ResourceStore::merge_upstream`]), `git push --atomic` of the fast-forwards, and the
//! record of what was synced. A push the upstream refuses because it moved meanwhile is
//! retried from the start ([`ATTEMPTS`] times in all).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use sluice_resources::{FirstSync, ResourceError, ResourceStore, UpstreamHeads, UpstreamMerge};

/// How long each git command may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a sync starts again when the upstream moved between its fetch and its push.
pub const ATTEMPTS: u32 = 3;

/// Keptn's branch for a new upstream (`DEFAULT_REMOTE_GIT_BRANCH`).
const DEFAULT_BRANCH: &str = "master";

/// The fetched branches.
const FETCH_REFSPEC: &str = "+refs/heads/*:refs/sluice-upstream/fetched/*";

/// How a project's upstream is reached.
#[derive(Clone)]
pub struct Upstream {
    /// `https://`, `http://` or `ssh://` URL, without credentials in it.
    pub url: String,
    /// The user (HTTP basic authentication; for SSH the URL names the user).
    pub user: String,
    /// The secret part.
    pub auth: Auth,
    /// Limit of each git command.
    pub timeout: Duration,
}

/// The secret part of an upstream's credentials.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// No credentials (a public or loopback upstream).
    None,
    /// An HTTPS access token (sent as basic authentication with the user).
    Token(String),
    /// An SSH private key (OpenSSH or PEM text, not encrypted).
    SshKey(String),
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = match self.auth {
            Auth::None => "none",
            Auth::Token(_) => "token",
            Auth::SshKey(_) => "ssh key",
        };
        f.debug_struct("Upstream")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("auth", &auth)
            .finish()
    }
}

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream did not answer, or refused the credentials.
    #[error("the git upstream {url} could not be reached: {detail}")]
    Unreachable {
        /// The upstream.
        url: String,
        /// What git said (credentials removed).
        detail: String,
    },
    /// The upstream refused the push for another reason than having moved.
    #[error("the git upstream {url} refused the push: {detail}")]
    Rejected {
        /// The upstream.
        url: String,
        /// What git said.
        detail: String,
    },
    /// The upstream moved during every attempt.
    #[error("the git upstream {url} changed during each of {ATTEMPTS} attempts to push; try again")]
    Busy {
        /// The upstream.
        url: String,
    },
    /// `git` could not be started.
    #[error("cannot run git (install Debian's `git` package): {0}")]
    NoGit(std::io::Error),
    /// The project's repository.
    #[error(transparent)]
    Resources(#[from] ResourceError),
    /// The stored credentials are unusable.
    #[error("{0}")]
    Invalid(String),
}

/// Per-project locks: one sync at a time per project.
static LOCKS: LazyLock<Mutex<HashMap<String, Arc<Mutex<()>>>>> = LazyLock::new(Mutex::default);

/// Syncs the project with its upstream (blocking; run it on the blocking pool): pulls and
/// merges the upstream's changes, pushes the project's. The local commits stay whatever
/// fails.
pub fn sync(
    resources: &ResourceStore,
    project: &str,
    upstream: &Upstream,
    first: FirstSync,
) -> Result<UpstreamMerge, UpstreamError> {
    let lock = {
        let mut locks = LOCKS.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(locks.entry(project.to_owned()).or_default())
    };
    let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
    let git_dir = resources.project_path(project);
    let credentials = Credentials::prepare(upstream, resources.config().data_dir.as_path())?;
    let git = Git {
        upstream,
        git_dir: &git_dir,
        credentials: &credentials,
    };
    for attempt in 0..ATTEMPTS {
        let heads = git.ls_remote()?;
        // Opens the repository first (in shared mode: brings the cache up to date), so git
        // finds it.
        if !resources.upstream_unchanged(project, &heads)? && !heads.heads.is_empty() {
            git.fetch()?;
        }
        let first = if attempt == 0 {
            first
        } else {
            FirstSync::Attach
        };
        let merge = resources.merge_upstream(project, &heads, first)?;
        if merge.push.is_empty() || git.push(&merge.push)? {
            resources.record_upstream_sync(project, &merge)?;
            return Ok(merge);
        }
    }
    Err(UpstreamError::Busy {
        url: upstream.url.clone(),
    })
}

/// Checks a remote URL: `http://`, `https://` or `ssh://` (Keptn's rule), no credentials in
/// it, no control characters.
pub fn check_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    let Some(rest) = ["https://", "http://", "ssh://"]
        .iter()
        .find_map(|p| lower.strip_prefix(p))
    else {
        return Err(format!(
            "gitCredentials.remoteURL `{url}`: must start with https://, http:// or ssh://"
        ));
    };
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("gitCredentials.remoteURL: contains spaces or control characters".into());
    }
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return Err(format!("gitCredentials.remoteURL `{url}`: names no host"));
    }
    if !lower.starts_with("ssh://") && authority.contains('@') {
        return Err(
            "gitCredentials.remoteURL: put the user in gitCredentials.user and the token in \
             gitCredentials.https.token, not in the URL"
                .into(),
        );
    }
    if lower.starts_with("ssh://") && authority.contains(':') && authority.contains('@') {
        let userinfo = authority.rsplit_once('@').map(|(u, _)| u).unwrap_or("");
        if userinfo.contains(':') {
            return Err("gitCredentials.remoteURL: no password in an ssh:// URL".into());
        }
    }
    Ok(())
}

/// The upstream of a project from its record's `gitCredentials` (without secrets) and its
/// stored secret (`token` or `privateKey`).
pub fn from_stored(
    record: &Value,
    secret: &BTreeMap<String, String>,
) -> Result<Upstream, UpstreamError> {
    let url = record["remoteURL"].as_str().unwrap_or("").to_owned();
    check_url(&url).map_err(UpstreamError::Invalid)?;
    let auth = if let Some(token) = secret.get("token") {
        Auth::Token(token.clone())
    } else if let Some(key) = secret.get("privateKey") {
        Auth::SshKey(key.clone())
    } else {
        Auth::None
    };
    Ok(Upstream {
        url,
        user: record["user"].as_str().unwrap_or("").to_owned(),
        auth,
        timeout: DEFAULT_TIMEOUT,
    })
}

/// What the project record keeps of an upstream (Keptn's `GitAuthCredentialsSecure`: no
/// token, no key).
pub fn secure_view(upstream: &Upstream) -> Value {
    let mut view = json!({"remoteURL": upstream.url, "user": upstream.user});
    match upstream.auth {
        Auth::SshKey(_) => view["ssh"] = json!({}),
        Auth::Token(_) | Auth::None if !upstream.url.to_ascii_lowercase().starts_with("ssh://") => {
            view["https"] = json!({"insecureSkipTLS": false})
        }
        _ => {}
    }
    view
}

/// The secret of an upstream, as stored.
pub fn secret_of(upstream: &Upstream) -> BTreeMap<String, String> {
    let mut data = BTreeMap::new();
    match &upstream.auth {
        Auth::Token(t) => {
            data.insert("token".to_owned(), t.clone());
        }
        Auth::SshKey(k) => {
            data.insert("privateKey".to_owned(), k.clone());
        }
        Auth::None => {}
    }
    data
}

/// The name of a project's git-credentials secret (an internal secret).
pub fn secret_name(project: &str) -> String {
    format!("git-credentials:{project}")
}

/// What a git command gets to authenticate: environment variables, and the key file it names
/// (removed when dropped).
struct Credentials {
    env: Vec<(String, String)>,
    key_file: Option<PathBuf>,
    /// Strings that must never appear in a message.
    secrets: Vec<String>,
}

impl Drop for Credentials {
    fn drop(&mut self) {
        if let Some(file) = &self.key_file {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Quotes `text` for the POSIX shell that runs `GIT_SSH_COMMAND`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

impl Credentials {
    fn prepare(upstream: &Upstream, data_dir: &Path) -> Result<Credentials, UpstreamError> {
        let mut out = Credentials {
            env: Vec::new(),
            key_file: None,
            secrets: Vec::new(),
        };
        match &upstream.auth {
            Auth::None => {}
            Auth::Token(token) => {
                let basic = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{token}", upstream.user));
                out.env.extend([
                    ("GIT_CONFIG_COUNT".to_owned(), "1".to_owned()),
                    ("GIT_CONFIG_KEY_0".to_owned(), "http.extraHeader".to_owned()),
                    (
                        "GIT_CONFIG_VALUE_0".to_owned(),
                        format!("Authorization: Basic {basic}"),
                    ),
                ]);
                out.secrets.extend([token.clone(), basic]);
            }
            Auth::SshKey(key) => {
                static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let dir = data_dir.join("upstream");
                std::fs::create_dir_all(&dir).map_err(ResourceError::Io)?;
                let file = dir.join(format!(
                    "key-{}-{}",
                    std::process::id(),
                    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                ));
                write_private(&file, key)?;
                out.key_file = Some(file.clone());
                let known_hosts = dir.join("known_hosts");
                out.env.push((
                    "GIT_SSH_COMMAND".to_owned(),
                    format!(
                        "ssh -i {} -o IdentitiesOnly=yes -o BatchMode=yes -o \
                         StrictHostKeyChecking=accept-new -o UserKnownHostsFile={} -o \
                         ConnectTimeout={}",
                        shell_quote(&file.to_string_lossy()),
                        shell_quote(&known_hosts.to_string_lossy()),
                        upstream.timeout.as_secs().max(1)
                    ),
                ));
                out.secrets.push(key.clone());
            }
        }
        Ok(out)
    }

    /// `text` without any secret in it.
    fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in self.secrets.iter().filter(|s| !s.is_empty()) {
            out = out.replace(secret.as_str(), "***");
        }
        out
    }
}

/// Writes a private file (mode 0600, created new).
fn write_private(path: &Path, content: &str) -> Result<(), UpstreamError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(ResourceError::Io)?;
    let mut text = content.to_owned();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    file.write_all(text.as_bytes()).map_err(ResourceError::Io)?;
    Ok(())
}

/// What one git command left.
struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

/// The git commands of one sync.
struct Git<'a> {
    upstream: &'a Upstream,
    git_dir: &'a Path,
    credentials: &'a Credentials,
}

impl Git<'_> {
    /// Runs `git --git-dir <repo> <args>` with the credentials, at most the upstream's
    /// timeout; kills it (and what it started) on expiry.
    fn run(&self, args: &[&str]) -> Result<Output, UpstreamError> {
        let mut command = Command::new("git");
        command
            .arg("--git-dir")
            .arg(self.git_dir)
            .args([
                "-c",
                "gc.auto=0",
                "-c",
                "maintenance.auto=false",
                "-c",
                "fetch.writeCommitGraph=false",
                "-c",
                "http.followRedirects=false",
                "-c",
                "credential.helper=",
                "-c",
                "protocol.allow=never",
                "-c",
                "protocol.http.allow=always",
                "-c",
                "protocol.https.allow=always",
                "-c",
                "protocol.ssh.allow=always",
            ])
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_ASKPASS", "true")
            .env("SSH_ASKPASS", "true")
            .env("LC_ALL", "C")
            .env_remove("GIT_SSH_COMMAND")
            .env_remove("GIT_SSH")
            .env_remove("GIT_DIR")
            .envs(self.credentials.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let mut child = command.spawn().map_err(UpstreamError::NoGit)?;
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let out_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stdout.by_ref().take(16 << 20).read_to_end(&mut buf);
            buf
        });
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.by_ref().take(1 << 20).read_to_end(&mut buf);
            buf
        });
        let deadline = Instant::now() + self.upstream.timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() >= deadline => {
                    // The whole group: git's helpers (git-remote-https, ssh) too.
                    if let Ok(pid) = i32::try_from(child.id()) {
                        let _ = nix::sys::signal::killpg(
                            nix::unistd::Pid::from_raw(pid),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(UpstreamError::Resources(ResourceError::Io(e))),
            }
        };
        let stdout = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
        let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
        let Some(status) = status else {
            return Err(UpstreamError::Unreachable {
                url: self.upstream.url.clone(),
                detail: format!(
                    "no answer within {}s (git {} was stopped)",
                    self.upstream.timeout.as_secs(),
                    args.first().copied().unwrap_or("")
                ),
            });
        };
        Ok(Output {
            success: status.success(),
            stdout: self.credentials.scrub(&stdout),
            stderr: self.credentials.scrub(&stderr),
        })
    }

    /// The last meaningful lines git wrote to stderr.
    fn detail(output: &Output) -> String {
        let lines: Vec<&str> = output
            .stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.contains("core.fsyncObjectFiles"))
            .collect();
        let start = lines.len().saturating_sub(3);
        let text = lines[start..].join(" / ");
        if text.is_empty() {
            "git failed without a message".to_owned()
        } else {
            text
        }
    }

    fn unreachable(&self, output: &Output) -> UpstreamError {
        UpstreamError::Unreachable {
            url: self.upstream.url.clone(),
            detail: Self::detail(output),
        }
    }

    /// The upstream's default branch and branches.
    fn ls_remote(&self) -> Result<UpstreamHeads, UpstreamError> {
        let url = self.upstream.url.as_str();
        let output = self.run(&["ls-remote", "--symref", "--", url])?;
        if !output.success {
            return Err(self.unreachable(&output));
        }
        Ok(parse_ls_remote(&output.stdout))
    }

    fn fetch(&self) -> Result<(), UpstreamError> {
        let url = self.upstream.url.as_str();
        let output = self.run(&[
            "fetch",
            "--quiet",
            "--no-tags",
            "--prune",
            "--no-write-fetch-head",
            "--",
            url,
            FETCH_REFSPEC,
        ])?;
        if !output.success {
            return Err(self.unreachable(&output));
        }
        Ok(())
    }

    /// Pushes the branches; `false` when the upstream moved meanwhile (not a fast-forward).
    fn push(&self, branches: &[(String, String)]) -> Result<bool, UpstreamError> {
        let specs: Vec<String> = branches
            .iter()
            .map(|(branch, id)| format!("{id}:refs/heads/{branch}"))
            .collect();
        let mut args = vec!["push", "--atomic", "--porcelain", "--", &self.upstream.url];
        args.extend(specs.iter().map(String::as_str));
        let output = self.run(&args)?;
        if output.success {
            return Ok(true);
        }
        let text = format!("{}\n{}", output.stdout, output.stderr);
        if text.contains("[rejected]")
            || text.contains("non-fast-forward")
            || text.contains("fetch first")
            || text.contains("stale info")
        {
            return Ok(false);
        }
        if text.contains("[remote rejected]") {
            return Err(UpstreamError::Rejected {
                url: self.upstream.url.clone(),
                detail: Self::detail(&output),
            });
        }
        Err(self.unreachable(&output))
    }
}

/// Reads `git ls-remote --symref` output: `ref: refs/heads/<b>\tHEAD` and `<id>\trefs/heads/<b>`.
fn parse_ls_remote(text: &str) -> UpstreamHeads {
    let mut out = UpstreamHeads::default();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("ref: ") {
            if let Some((target, "HEAD")) = rest.split_once('\t')
                && let Some(branch) = target.strip_prefix("refs/heads/")
            {
                out.default_branch = branch.to_owned();
            }
            continue;
        }
        if let Some((id, name)) = line.split_once('\t')
            && let Some(branch) = name.strip_prefix("refs/heads/")
            && id.len() == 40
        {
            out.heads.insert(branch.to_owned(), id.to_owned());
        }
    }
    if out.default_branch.is_empty() {
        out.default_branch = DEFAULT_BRANCH.to_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_remote_output_is_read() {
        let heads = parse_ls_remote(
            "ref: refs/heads/main\tHEAD\n1111111111111111111111111111111111111111\tHEAD\n\
             1111111111111111111111111111111111111111\trefs/heads/main\n\
             2222222222222222222222222222222222222222\trefs/heads/qa\n\
             3333333333333333333333333333333333333333\trefs/tags/v1\n",
        );
        assert_eq!(heads.default_branch, "main");
        assert_eq!(heads.heads.len(), 2);
        assert_eq!(parse_ls_remote("").default_branch, "master");
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://github.com/o/r.git").is_ok());
        assert!(check_url("ssh://git@github.com/o/r.git").is_ok());
        assert!(check_url("http://127.0.0.1:9/r").is_ok());
        assert!(check_url("https://me:tok@github.com/o/r").is_err());
        assert!(check_url("file:///tmp/r").is_err());
        assert!(check_url("git@github.com:o/r.git").is_err());
        assert!(check_url("https:///r").is_err());
        assert!(check_url("https://h/r\n").is_err());
    }

    #[test]
    fn credentials_are_kept_out_of_debug_output_and_messages() {
        let up = Upstream {
            url: "https://h/r".into(),
            user: "me".into(),
            auth: Auth::Token("s3cret-token".into()),
            timeout: DEFAULT_TIMEOUT,
        };
        assert!(!format!("{up:?}").contains("s3cret"));
        let dir = std::env::temp_dir();
        let creds = Credentials::prepare(&up, &dir).unwrap();
        assert!(creds.env.iter().all(|(_, v)| !v.contains("s3cret-token")));
        assert_eq!(creds.scrub("x s3cret-token y"), "x *** y");
        assert_eq!(secure_view(&up)["https"]["insecureSkipTLS"], json!(false));
        assert!(!secure_view(&up).to_string().contains("s3cret"));
    }

    #[test]
    fn the_ssh_command_quotes_its_paths() {
        assert_eq!(shell_quote("/a b/it's"), "'/a b/it'\\''s'");
    }
}
