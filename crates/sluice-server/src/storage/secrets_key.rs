//! The key that seals secrets at rest (see `sluice_store::secrets`): where it comes from,
//! how a store is unlocked with it, and its rotation.
//!
//! The key is 32 random bytes, written as base64. It comes from [`KEY_ENV`] when set, else
//! from the key file [`KEY_FILE`] in the data directory, which the first start creates with
//! mode 0600. A key that does not open the stored secrets, or a missing key file while
//! secrets are stored, stops the start with an error (never plain text, never a crash).
//!
//! Rotation ([`rotate`]) re-encrypts every secret in one transaction. With the key file, the
//! new key is first written to [`PENDING_FILE`] and renamed over the key file after the
//! commit; if the process dies in between, the next start finds which of the two keys opens
//! the secrets and finishes (or forgets) the rotation.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sluice_store::{SecretsKey, Store};

/// File name of the key inside the data directory.
pub const KEY_FILE: &str = "secrets.key";

/// File name of a new key while a rotation is under way.
pub const PENDING_FILE: &str = "secrets.key.new";

/// Environment variable that supplies the key (base64 of 32 bytes); it wins over the file.
pub const KEY_ENV: &str = "SLUICE_SECRETS_KEY";

/// Environment variable with the new key of a rotation when the key comes from [`KEY_ENV`].
pub const NEW_KEY_ENV: &str = "SLUICE_SECRETS_NEW_KEY";

/// Why the secrets could not be unlocked or the key rotated.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key file could not be read or written.
    #[error("cannot use the secrets key file {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// A key is not base64 of 32 bytes.
    #[error(
        "the secrets key from {from} is not valid: {why} (it must be base64 of 32 bytes, e.g. from `head -c 32 /dev/urandom | base64`)"
    )]
    Invalid {
        /// Where it came from.
        from: String,
        /// What is wrong.
        why: String,
    },
    /// Secrets are stored but the key file is gone.
    #[error(
        "the data directory holds encrypted secrets but its secrets key file {path} is missing: restore it from your backup, or give the key in {KEY_ENV}"
    )]
    Missing {
        /// The expected key file.
        path: PathBuf,
    },
    /// The key does not open the stored secrets.
    #[error("the secrets key from {from} is wrong")]
    Wrong {
        /// Where it came from.
        from: String,
        /// The store's refusal.
        #[source]
        source: sluice_store::Error,
    },
    /// A rotation with the key in the environment needs the new key there too.
    #[error(
        "to rotate a secrets key given in {KEY_ENV}, give the new key in {NEW_KEY_ENV} (e.g. from `head -c 32 /dev/urandom | base64`)"
    )]
    NoNewKey,
    /// The store failed.
    #[error(transparent)]
    Store(sluice_store::Error),
}

/// Where the key in use came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    /// [`KEY_ENV`].
    Environment,
    /// The key file, created now.
    Created(PathBuf),
    /// The existing key file.
    File(PathBuf),
}

/// How a server's secrets were unlocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlocked {
    /// Where the key came from.
    pub origin: KeyOrigin,
    /// The rotation done at this start, if one was asked for.
    pub rotated: Option<Rotated>,
}

/// Parses a key written as base64.
pub fn parse(text: &str, from: &str) -> Result<SecretsKey, Error> {
    let invalid = |why: String| Error::Invalid {
        from: from.to_owned(),
        why,
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| invalid(e.to_string()))?;
    let bytes: [u8; sluice_store::secrets::KEY_LEN] = bytes
        .try_into()
        .map_err(|b: Vec<u8>| invalid(format!("it has {} bytes", b.len())))?;
    Ok(SecretsKey::from_bytes(bytes))
}

/// The key as base64 (what the key file and [`KEY_ENV`] hold).
pub fn encode(key: &SecretsKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(key.bytes())
}

/// Unlocks the store's secrets with the key from `from_env`, else from the key file in
/// `data_dir` (created when missing and no secrets are stored yet).
pub async fn unlock(
    store: &Store,
    data_dir: &Path,
    from_env: Option<&str>,
) -> Result<KeyOrigin, Error> {
    if let Some(text) = from_env {
        let key = parse(text, KEY_ENV)?;
        store
            .unlock_secrets(key)
            .await
            .map_err(|e| wrong(e, KEY_ENV))?;
        return Ok(KeyOrigin::Environment);
    }
    let path = data_dir.join(KEY_FILE);
    let pending = data_dir.join(PENDING_FILE);
    let Some(key) = read_key(&path)? else {
        if !store.secret_names().await.map_err(Error::Store)?.is_empty() {
            return Err(Error::Missing { path });
        }
        let key = SecretsKey::generate().map_err(Error::Store)?;
        write_key(&path, &key)?;
        store
            .unlock_secrets(key)
            .await
            .map_err(|e| wrong(e, &path.display().to_string()))?;
        return Ok(KeyOrigin::Created(path));
    };
    match store.unlock_secrets(key).await {
        Ok(_) => {
            // A rotation that died before its commit: its new key was never used.
            remove_if_present(&pending)?;
            Ok(KeyOrigin::File(path))
        }
        Err(e @ sluice_store::Error::WrongSecretsKey { .. }) => {
            // A rotation that died after its commit: the new key opens the secrets.
            let Some(new) = read_key(&pending)? else {
                return Err(wrong(e, &path.display().to_string()));
            };
            store
                .unlock_secrets(new)
                .await
                .map_err(|_| wrong(e, &path.display().to_string()))?;
            std::fs::rename(&pending, &path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            sync_dir(data_dir, &path)?;
            tracing::warn!(
                "finished an interrupted rotation of the secrets key: {} is the new key",
                path.display()
            );
            Ok(KeyOrigin::File(path))
        }
        Err(e) => Err(Error::Store(e)),
    }
}

/// What [`rotate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotated {
    /// The key file holds the new key.
    File(PathBuf),
    /// The secrets are sealed with the key from [`NEW_KEY_ENV`]: start with it in [`KEY_ENV`]
    /// from now on.
    Environment,
}

/// Re-encrypts every secret under a new key. The store must be unlocked (see [`unlock`])
/// with the key from `origin`. The new key is `new_from_env` when given, else a random one.
pub async fn rotate(
    store: &Store,
    data_dir: &Path,
    origin: &KeyOrigin,
    new_from_env: Option<&str>,
) -> Result<Rotated, Error> {
    let new = match new_from_env {
        Some(text) => parse(text, NEW_KEY_ENV)?,
        None if *origin == KeyOrigin::Environment => return Err(Error::NoNewKey),
        None => SecretsKey::generate().map_err(Error::Store)?,
    };
    if *origin == KeyOrigin::Environment {
        store.rotate_secrets_key(new).await.map_err(Error::Store)?;
        return Ok(Rotated::Environment);
    }
    let path = data_dir.join(KEY_FILE);
    let pending = data_dir.join(PENDING_FILE);
    remove_if_present(&pending)?;
    write_key(&pending, &new)?;
    store.rotate_secrets_key(new).await.map_err(Error::Store)?;
    std::fs::rename(&pending, &path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    sync_dir(data_dir, &path)?;
    Ok(Rotated::File(path))
}

fn wrong(e: sluice_store::Error, from: &str) -> Error {
    match e {
        e @ sluice_store::Error::WrongSecretsKey { .. } => Error::Wrong {
            from: from.to_owned(),
            source: e,
        },
        e => Error::Store(e),
    }
}

fn read_key(path: &Path) -> Result<Option<SecretsKey>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, &path.display().to_string()).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes a new key file with mode 0600 and makes it durable.
fn write_key(path: &Path, key: &SecretsKey) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    file.write_all(encode(key).as_bytes()).map_err(io)?;
    file.write_all(b"\n").map_err(io)?;
    file.sync_all().map_err(io)?;
    match path.parent() {
        Some(dir) => sync_dir(dir, path),
        None => Ok(()),
    }
}

fn remove_if_present(path: &Path) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Makes a created or renamed entry of `dir` durable.
fn sync_dir(dir: &Path, entry: &Path) -> Result<(), Error> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| Error::Io {
            path: entry.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::os::unix::fs::PermissionsExt;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sluice-secrets-key-{}-{name}-{}",
            std::process::id(),
            crate::runtime::ids::fresh()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn data() -> BTreeMap<String, String> {
        [("password".to_owned(), "pw".to_owned())].into()
    }

    #[tokio::test]
    async fn the_key_file_is_created_private_and_a_lost_one_is_refused() {
        let dir = temp_dir("create");
        let store = Store::open(&dir).await.unwrap();
        let origin = unlock(&store, &dir, None).await.unwrap();
        assert_eq!(origin, KeyOrigin::Created(dir.join(KEY_FILE)));
        let mode = std::fs::metadata(dir.join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        store.set_secret("s", &data()).await.unwrap();
        store.close().await;

        let store = Store::open(&dir).await.unwrap();
        assert_eq!(
            unlock(&store, &dir, None).await.unwrap(),
            KeyOrigin::File(dir.join(KEY_FILE))
        );
        assert_eq!(store.secret("s").await.unwrap(), data());
        store.close().await;

        std::fs::remove_file(dir.join(KEY_FILE)).unwrap();
        let store = Store::open(&dir).await.unwrap();
        assert!(matches!(
            unlock(&store, &dir, None).await,
            Err(Error::Missing { .. })
        ));
        assert!(
            !dir.join(KEY_FILE).exists(),
            "no new key replaces a lost one"
        );
    }

    #[tokio::test]
    async fn keys_from_the_environment_are_checked() {
        let dir = temp_dir("env");
        let store = Store::open(&dir).await.unwrap();
        assert!(matches!(
            unlock(&store, &dir, Some("bm90IDMyIGJ5dGVz")).await,
            Err(Error::Invalid { .. })
        ));
        let key = encode(&SecretsKey::from_bytes([3; 32]));
        assert_eq!(
            unlock(&store, &dir, Some(&key)).await.unwrap(),
            KeyOrigin::Environment
        );
        assert!(!dir.join(KEY_FILE).exists());
        store.set_secret("s", &data()).await.unwrap();
        assert!(matches!(
            rotate(&store, &dir, &KeyOrigin::Environment, None).await,
            Err(Error::NoNewKey)
        ));
        store.close().await;
        let store = Store::open(&dir).await.unwrap();
        let other = encode(&SecretsKey::from_bytes([4; 32]));
        assert!(matches!(
            unlock(&store, &dir, Some(&other)).await,
            Err(Error::Wrong { .. })
        ));
    }

    #[tokio::test]
    async fn an_interrupted_rotation_is_finished_or_forgotten_on_the_next_start() {
        let dir = temp_dir("rotate");
        let store = Store::open(&dir).await.unwrap();
        let origin = unlock(&store, &dir, None).await.unwrap();
        store.set_secret("s", &data()).await.unwrap();
        let old = std::fs::read_to_string(dir.join(KEY_FILE)).unwrap();
        assert_eq!(
            rotate(&store, &dir, &origin, None).await.unwrap(),
            Rotated::File(dir.join(KEY_FILE))
        );
        let new = std::fs::read_to_string(dir.join(KEY_FILE)).unwrap();
        assert_ne!(old, new);
        assert!(!dir.join(PENDING_FILE).exists());
        assert_eq!(store.secret("s").await.unwrap(), data());
        store.close().await;

        // Died after the commit, before the rename: the old key file, the new key pending.
        std::fs::write(dir.join(KEY_FILE), &old).unwrap();
        std::fs::write(dir.join(PENDING_FILE), &new).unwrap();
        let store = Store::open(&dir).await.unwrap();
        unlock(&store, &dir, None).await.unwrap();
        assert_eq!(store.secret("s").await.unwrap(), data());
        assert_eq!(std::fs::read_to_string(dir.join(KEY_FILE)).unwrap(), new);
        assert!(!dir.join(PENDING_FILE).exists());
        store.close().await;

        // Died before the commit: the pending key was never used and is dropped.
        std::fs::write(dir.join(PENDING_FILE), &old).unwrap();
        let store = Store::open(&dir).await.unwrap();
        unlock(&store, &dir, None).await.unwrap();
        assert_eq!(store.secret("s").await.unwrap(), data());
        assert!(!dir.join(PENDING_FILE).exists());
    }
}
