//! The API token: created on first start, kept in the data directory with mode 0600, and
//! compared in constant time on every request.

use std::io::Write;
use std::path::{Path, PathBuf};

/// File name of the token inside the data directory.
pub const TOKEN_FILE: &str = "api-token";

/// Environment variable that supplies the token (for automation); it wins over the file.
pub const TOKEN_ENV: &str = "SLUICE_API_TOKEN";

/// Shortest token accepted from the environment.
const MIN_TOKEN_LEN: usize = 16;

/// Problems loading or creating the token.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The token file could not be read or written.
    #[error("cannot use the API token file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// The operating system gave no randomness.
    #[error("cannot generate a random API token: {0}")]
    Random(String),
    /// A token from the environment or the file is unusable.
    #[error("the API token {0}")]
    Invalid(String),
}

/// Where the token in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOrigin {
    /// `SLUICE_API_TOKEN`.
    Environment,
    /// Generated now (first start): print it once.
    Created,
    /// Read from the data directory.
    Existing,
}

/// The secret every API call must present in `x-token` (or as a bearer token).
#[derive(Clone)]
pub struct ApiToken(String);

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

impl ApiToken {
    /// Uses `from_env` if given, else the token file in `data_dir`, else creates one there.
    pub fn load_or_create(
        data_dir: &Path,
        from_env: Option<String>,
    ) -> Result<(ApiToken, TokenOrigin), Error> {
        if let Some(token) = from_env {
            let token = token.trim().to_owned();
            check(&token, TOKEN_ENV)?;
            return Ok((ApiToken(token), TokenOrigin::Environment));
        }
        let path = data_dir.join(TOKEN_FILE);
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let token = text.trim().to_owned();
                check(&token, "file")?;
                return Ok((ApiToken(token), TokenOrigin::Existing));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let token = generate()?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(io)?;
        file.write_all(token.as_bytes()).map_err(io)?;
        file.write_all(b"\n").map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok((ApiToken(token), TokenOrigin::Created))
    }

    /// A token with a known value (tests and embedding).
    pub fn from_value(value: impl Into<String>) -> Self {
        ApiToken(value.into())
    }

    /// The token text (to print once, or to hand to a client).
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is the token, compared in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), presented.as_bytes())
    }
}

fn check(token: &str, from: &str) -> Result<(), Error> {
    if token.len() < MIN_TOKEN_LEN {
        return Err(Error::Invalid(format!(
            "from {from} is shorter than {MIN_TOKEN_LEN} characters"
        )));
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::Invalid(format!(
            "from {from} contains white space or control characters"
        )));
    }
    Ok(())
}

fn generate() -> Result<String, Error> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Compares without an early exit, so the time taken does not reveal how much matched.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sluice-auth-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn created_once_then_reused_with_private_permissions() {
        let dir = temp_dir("create");
        let (first, origin) = ApiToken::load_or_create(&dir, None).unwrap();
        assert_eq!(origin, TokenOrigin::Created);
        assert_eq!(first.reveal().len(), 48);
        let (again, origin) = ApiToken::load_or_create(&dir, None).unwrap();
        assert_eq!(origin, TokenOrigin::Existing);
        assert!(again.matches(first.reveal()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn environment_wins_and_is_checked() {
        let dir = temp_dir("env");
        let (t, origin) =
            ApiToken::load_or_create(&dir, Some("0123456789abcdef-token".into())).unwrap();
        assert_eq!(origin, TokenOrigin::Environment);
        assert!(t.matches("0123456789abcdef-token"));
        assert!(!dir.join(TOKEN_FILE).exists());
        assert!(ApiToken::load_or_create(&dir, Some("short".into())).is_err());
    }

    #[test]
    fn comparison_rejects_prefixes_and_extensions() {
        let t = ApiToken::from_value("secret-token-value");
        assert!(t.matches("secret-token-value"));
        assert!(!t.matches("secret-token-valu"));
        assert!(!t.matches("secret-token-value!"));
        assert!(!t.matches(""));
        assert_eq!(format!("{t:?}"), "ApiToken(<redacted>)");
    }
}
