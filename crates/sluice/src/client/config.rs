//! Stored client credentials: where the config file lives, reading it with environment
//! overrides, and writing it with mode 0600.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// Environment variable naming the config file.
pub const CONFIG_ENV: &str = "SLUICE_CONFIG";
/// Environment variable overriding the stored endpoint.
pub const ENDPOINT_ENV: &str = "SLUICE_ENDPOINT";
/// Environment variable overriding the stored API token (the server reads the same name).
pub const TOKEN_ENV: &str = "SLUICE_API_TOKEN";

/// An API token. Its `Debug` and `Display` never show the value.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiToken(String);

impl ApiToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        ApiToken(token.into())
    }

    /// The secret itself, for the one place that sends it (the `x-token` header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(***)")
    }
}

impl fmt::Display for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where and how to reach a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// Base URL without a trailing slash or `/api` (paths start with `/api/...`).
    pub endpoint: String,
    /// The API token.
    #[serde(rename = "apiToken")]
    pub api_token: ApiToken,
}

/// Normalises an endpoint URL: requires http(s), drops a trailing `/` and a trailing `/api`
/// (Keptn's endpoints were given as `http://host/api`).
pub fn normalize_endpoint(raw: &str) -> Result<String> {
    let trimmed = raw.trim();
    let Some((scheme, rest)) = trimmed.split_once("://") else {
        bail!("endpoint {raw:?} is not a URL: it must start with http:// or https://");
    };
    if scheme != "http" && scheme != "https" {
        bail!("endpoint {raw:?} must start with http:// or https://, not {scheme}://");
    }
    if rest.is_empty() || rest.starts_with('/') {
        bail!("endpoint {raw:?} has no host");
    }
    let mut url = trimmed.trim_end_matches('/').to_string();
    if let Some(stripped) = url.strip_suffix("/api") {
        url = stripped.to_string();
    }
    Ok(url)
}

/// The config file path: `$SLUICE_CONFIG`, else `$XDG_CONFIG_HOME/sluice/config.json`, else
/// `~/.config/sluice/config.json`.
pub fn config_path() -> Result<PathBuf> {
    path_from(
        std::env::var_os(CONFIG_ENV),
        std::env::var_os("XDG_CONFIG_HOME"),
        std::env::var_os("HOME"),
    )
}

fn path_from(
    explicit: Option<std::ffi::OsString>,
    xdg: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Result<PathBuf> {
    if let Some(p) = explicit.filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if let Some(x) = xdg.filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(x).join("sluice").join("config.json"));
    }
    if let Some(h) = home.filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(h)
            .join(".config")
            .join("sluice")
            .join("config.json"));
    }
    bail!("cannot tell where to keep the config: set {CONFIG_ENV} or HOME")
}

/// The credentials to use: the config file, with `SLUICE_ENDPOINT` / `SLUICE_API_TOKEN`
/// taking precedence. Fails with a hint to run `sluice auth` when nothing is configured.
pub fn load() -> Result<Credentials> {
    let env_endpoint = std::env::var(ENDPOINT_ENV).ok().filter(|s| !s.is_empty());
    let env_token = std::env::var(TOKEN_ENV).ok().filter(|s| !s.is_empty());
    let path = config_path()?;
    let stored = if env_endpoint.is_some() && env_token.is_some() {
        None
    } else {
        read(&path)?
    };
    let endpoint = match (env_endpoint, &stored) {
        (Some(e), _) => normalize_endpoint(&e).with_context(|| format!("in {ENDPOINT_ENV}"))?,
        (None, Some(c)) => c.endpoint.clone(),
        (None, None) => bail!(
            "not logged in to a sluice server: no credentials in {}\n  hint: run `sluice auth --endpoint URL --api-token TOKEN`, or set {ENDPOINT_ENV} and {TOKEN_ENV}",
            path.display()
        ),
    };
    let api_token = match (env_token, stored) {
        (Some(t), _) => ApiToken::new(t),
        (None, Some(c)) => c.api_token,
        (None, None) => bail!(
            "no API token: set {TOKEN_ENV} or run `sluice auth --endpoint {endpoint} --api-token TOKEN`"
        ),
    };
    Ok(Credentials {
        endpoint,
        api_token,
    })
}

/// Reads a config file; `None` when it does not exist.
pub fn read(path: &Path) -> Result<Option<Credentials>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let creds: Credentials = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a sluice config file; run `sluice auth` to rewrite it",
            path.display()
        )
    })?;
    Ok(Some(creds))
}

/// Writes the credentials to `path` (creating its directory), readable only by the owner:
/// the content goes to a temporary file created with mode 0600, which then replaces `path`.
pub fn store(path: &Path, creds: &Credentials) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config.json".into());
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let text = serde_json::to_string_pretty(creds).context("cannot encode the config")?;
    let result = write_private(&tmp, text.as_bytes()).and_then(|()| {
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sluice-config-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn endpoints_are_normalised() {
        assert_eq!(
            normalize_endpoint("http://127.0.0.1:8090/").unwrap(),
            "http://127.0.0.1:8090"
        );
        assert_eq!(
            normalize_endpoint("https://keptn.example.com/api").unwrap(),
            "https://keptn.example.com"
        );
        assert!(normalize_endpoint("127.0.0.1:8090").is_err());
        assert!(normalize_endpoint("ftp://x").is_err());
        assert!(normalize_endpoint("http://").is_err());
    }

    #[test]
    fn path_precedence() {
        let p = |e: Option<&str>, x: Option<&str>, h: Option<&str>| {
            path_from(e.map(Into::into), x.map(Into::into), h.map(Into::into))
        };
        assert_eq!(
            p(Some("/a/c.json"), Some("/x"), Some("/h")).unwrap(),
            PathBuf::from("/a/c.json")
        );
        assert_eq!(
            p(None, Some("/x"), Some("/h")).unwrap(),
            PathBuf::from("/x/sluice/config.json")
        );
        assert_eq!(
            p(Some(""), None, Some("/h")).unwrap(),
            PathBuf::from("/h/.config/sluice/config.json")
        );
        assert!(p(None, None, None).is_err());
    }

    #[test]
    fn stored_file_is_private_and_round_trips() {
        let dir = scratch("store");
        let path = dir.join("nested").join("config.json");
        let creds = Credentials {
            endpoint: "http://127.0.0.1:8090".into(),
            api_token: ApiToken::new("s3cret"),
        };
        store(&path, &creds).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(read(&path).unwrap(), Some(creds.clone()));
        // Overwriting keeps the mode and leaves no temporary file behind.
        store(&path, &creds).unwrap();
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn token_is_never_formatted() {
        let creds = Credentials {
            endpoint: "http://x".into(),
            api_token: ApiToken::new("s3cret"),
        };
        assert!(!format!("{creds:?}").contains("s3cret"));
        assert!(!format!("{}", creds.api_token).contains("s3cret"));
    }

    #[test]
    fn missing_file_is_none_and_garbage_is_an_error() {
        let dir = scratch("read");
        assert_eq!(read(&dir.join("nope.json")).unwrap(), None);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("bad.json"), "not json").unwrap();
        let err = read(&dir.join("bad.json")).unwrap_err().to_string();
        assert!(err.contains("not a sluice config file"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
