//! Secrets: named sets of key/value pairs for integrations (the job executor's `valueFrom`
//! variables, the Prometheus provider's password), encrypted at rest.
//!
//! Each secret's JSON is sealed with XChaCha20-Poly1305 under the store's [`SecretsKey`]: a
//! random 24-byte nonce per value, and the secret's name as associated data (a sealed value
//! copied under another name does not open). The database holds only nonces and ciphertexts
//! (table `sealed_secrets`); the key lives outside it (the server keeps it in a key file or
//! takes it from the environment).
//!
//! A store opens with its secrets locked: [`Store::unlock_secrets`] checks that the key opens
//! every stored secret (a wrong key is refused before anything is served), encrypts the
//! plain-text secrets that versions before encryption left in the table `secrets`, and erases
//! them (SQLite's `secure_delete` for that transaction, then a WAL checkpoint, so the plain
//! text leaves the database and WAL files). [`Store::rotate_secrets_key`] re-encrypts every
//! secret under a new key in one transaction.

use std::collections::BTreeMap;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::error::{Error, Result};
use crate::{Store, parse_stored};

/// Length of a [`SecretsKey`] in bytes.
pub const KEY_LEN: usize = 32;

/// Prefix of the server's own secrets (a project's git credentials): a name no secret of
/// the secrets API can have (`:` is not allowed there), left out of [`Store::secret_names`]
/// and refused by [`Store::secret`], the reader of secrets that files name.
pub const INTERNAL_SECRET_PREFIX: &str = "sluice:";

const NONCE_LEN: usize = 24;

/// The key secrets are sealed with (256 bits).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretsKey([u8; KEY_LEN]);

impl std::fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsKey(<redacted>)")
    }
}

impl SecretsKey {
    /// A new random key from the operating system.
    pub fn generate() -> Result<SecretsKey> {
        let mut bytes = [0u8; KEY_LEN];
        getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
        Ok(SecretsKey(bytes))
    }

    /// The key with these bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> SecretsKey {
        SecretsKey(bytes)
    }

    /// The key's bytes (to store it).
    pub fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }

    /// Seals a secret's JSON text; answers the nonce and the ciphertext.
    pub(crate) fn seal(&self, name: &str, text: &str) -> Result<(Vec<u8>, Vec<u8>)> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| Error::Random(e.to_string()))?;
        let sealed = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: text.as_bytes(),
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| Error::InvalidInput(format!("cannot encrypt secret {name:?}")))?;
        Ok((nonce.to_vec(), sealed))
    }

    /// Opens a sealed secret; `None` when this key (or this name) does not open it.
    pub(crate) fn open(&self, name: &str, nonce: &[u8], sealed: &[u8]) -> Option<String> {
        if nonce.len() != NONCE_LEN {
            return None;
        }
        let plain = self
            .cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: name.as_bytes(),
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

fn what(name: &str) -> String {
    format!("secret {name:?}")
}

/// A stored secret: name, nonce, ciphertext.
type SealedRow = (String, Vec<u8>, Vec<u8>);

dual! {
    /// Turns SQLite's `secure_delete` on or off for this connection (while it is on, deleted
    /// and replaced secrets are overwritten in the file); PostgreSQL has no such setting.
    pub(crate) async fn secure_delete(conn: &mut Conn, on: bool) -> Result<()> {
        if !D.is_pg() {
            let pragma = if on { "PRAGMA secure_delete = ON" } else { "PRAGMA secure_delete = OFF" };
            sqlx::query(pragma).execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Every sealed secret, by name.
    pub(crate) async fn sealed_rows(conn: &mut Conn) -> Result<Vec<SealedRow>> {
        Ok(
            sqlx::query_as("SELECT name, nonce, sealed FROM sealed_secrets ORDER BY name")
                .fetch_all(&mut *conn)
                .await?,
        )
    }
}

impl Store {
    pub(crate) fn secrets_key(&self) -> Result<SecretsKey> {
        self.secrets_key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
            .ok_or(Error::SecretsLocked)
    }

    /// Checks that `key` opens every stored secret, encrypts the plain-text secrets of older
    /// versions with it (erasing their plain text), and uses it from now on. Answers how many
    /// plain-text secrets were encrypted. A key that does not open a stored secret is refused
    /// ([`Error::WrongSecretsKey`]) and changes nothing.
    pub async fn unlock_secrets(&self, key: SecretsKey) -> Result<usize> {
        let migrated = with_db!(self, |readers, writer, d| {
            let mut conn = writer.acquire().await?;
            backend::secure_delete(&mut conn, true).await?;
            let migrated = async {
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let sealed = backend::sealed_rows(&mut tx).await?;
            for (name, nonce, ciphertext) in &sealed {
                if key.open(name, nonce, ciphertext).is_none() {
                    return Err(Error::WrongSecretsKey { name: name.clone() });
                }
            }
            shared::check_sealed_notifications(&mut tx, &key).await?;
            let plain: Vec<(String, String)> =
                sqlx::query_as("SELECT name, data FROM secrets ORDER BY name")
                    .fetch_all(&mut *tx)
                    .await?;
            for (name, text) in &plain {
                let (nonce, ciphertext) = key.seal(name, text)?;
                sqlx::query(d.sql(
                    "INSERT INTO sealed_secrets (name, nonce, sealed) VALUES (?, ?, ?) \
                     ON CONFLICT (name) DO UPDATE SET nonce = excluded.nonce, sealed = excluded.sealed",
                ))
                .bind(name)
                .bind(nonce)
                .bind(ciphertext)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("DELETE FROM secrets").execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(plain.len())
        }
        .await;
            if d.is_pg() {
                // (PostgreSQL: deleted rows stay in the table's pages until VACUUM reuses them.)
                migrated?
            } else {
                let off = backend::secure_delete(&mut conn, false).await;
                let migrated = migrated?;
                off?;
                if migrated > 0 {
                    // Copy the erased pages into the database file and empty the WAL, so the plain
                    // text is in neither file any more.
                    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                        .execute(&mut *conn)
                        .await?;
                }
                migrated
            }
        });
        *self
            .secrets_key
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(key);
        Ok(migrated)
    }

    /// Re-encrypts every secret under `new` in one transaction and uses it from now on. The
    /// store must be unlocked.
    pub async fn rotate_secrets_key(&self, new: SecretsKey) -> Result<()> {
        let old = self.secrets_key()?;
        with_db!(self, |readers, writer, d| {
            let mut conn = writer.acquire().await?;
            backend::secure_delete(&mut conn, true).await?;
            let rotated = async {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                let sealed = backend::sealed_rows(&mut tx).await?;
                for (name, nonce, ciphertext) in &sealed {
                    let text = old
                        .open(name, nonce, ciphertext)
                        .ok_or_else(|| Error::WrongSecretsKey { name: name.clone() })?;
                    let (nonce, ciphertext) = new.seal(name, &text)?;
                    sqlx::query(
                        d.sql("UPDATE sealed_secrets SET nonce = ?, sealed = ? WHERE name = ?"),
                    )
                    .bind(nonce)
                    .bind(ciphertext)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
                }
                shared::reseal_notifications(&mut tx, &old, &new).await?;
                tx.commit().await?;
                Ok::<(), Error>(())
            }
            .await;
            let off = backend::secure_delete(&mut conn, false).await;
            rotated?;
            off?;
        });
        *self
            .secrets_key
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(new);
        Ok(())
    }

    /// Creates or replaces a secret.
    pub async fn set_secret(&self, name: &str, data: &BTreeMap<String, String>) -> Result<()> {
        let key = self.secrets_key()?;
        let text = serde_json::to_string(data)
            .map_err(|e| Error::InvalidInput(format!("secret data: {e}")))?;
        let (nonce, ciphertext) = key.seal(name, &text)?;
        with_db!(self, |readers, writer, d| {
            sqlx::query(d.sql(
                "INSERT INTO sealed_secrets (name, nonce, sealed) VALUES (?, ?, ?) \
                 ON CONFLICT (name) DO UPDATE SET nonce = excluded.nonce, sealed = excluded.sealed",
            ))
            .bind(name)
            .bind(nonce)
            .bind(ciphertext)
            .execute(writer)
            .await?;
        });
        Ok(())
    }

    /// Creates a secret; [`Error::AlreadyExists`] when one has the name.
    pub async fn create_secret(&self, name: &str, data: &BTreeMap<String, String>) -> Result<()> {
        let key = self.secrets_key()?;
        let text = serde_json::to_string(data)
            .map_err(|e| Error::InvalidInput(format!("secret data: {e}")))?;
        let (nonce, ciphertext) = key.seal(name, &text)?;
        let done = with_db!(self, |readers, writer, d| {
            sqlx::query(d.sql(
                "INSERT INTO sealed_secrets (name, nonce, sealed) VALUES (?, ?, ?) \
                 ON CONFLICT (name) DO NOTHING",
            ))
            .bind(name)
            .bind(nonce)
            .bind(ciphertext)
            .execute(writer)
            .await?
            .rows_affected()
        });
        if done == 0 {
            return Err(Error::exists(what(name)));
        }
        Ok(())
    }

    /// Replaces the data of a secret; [`Error::NotFound`] when there is none of that name.
    pub async fn update_secret(&self, name: &str, data: &BTreeMap<String, String>) -> Result<()> {
        let key = self.secrets_key()?;
        let text = serde_json::to_string(data)
            .map_err(|e| Error::InvalidInput(format!("secret data: {e}")))?;
        let (nonce, ciphertext) = key.seal(name, &text)?;
        let done = with_db!(self, |readers, writer, d| {
            sqlx::query(d.sql("UPDATE sealed_secrets SET nonce = ?, sealed = ? WHERE name = ?"))
                .bind(nonce)
                .bind(ciphertext)
                .bind(name)
                .execute(writer)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(Error::not_found(what(name)));
        }
        Ok(())
    }

    /// The key/value pairs of a secret. Internal secrets ([`INTERNAL_SECRET_PREFIX`]) are
    /// not found here: files users write name secrets, and must never reach those.
    pub async fn secret(&self, name: &str) -> Result<BTreeMap<String, String>> {
        if name.starts_with(INTERNAL_SECRET_PREFIX) {
            return Err(Error::not_found(what(name)));
        }
        self.read_secret(name).await
    }

    /// The key/value pairs of one of the server's own secrets (`name` without
    /// [`INTERNAL_SECRET_PREFIX`]), such as a project's git credentials.
    pub async fn internal_secret(&self, name: &str) -> Result<BTreeMap<String, String>> {
        self.read_secret(&format!("{INTERNAL_SECRET_PREFIX}{name}"))
            .await
    }

    /// Creates or replaces one of the server's own secrets (see
    /// [`Store::internal_secret`]).
    pub async fn set_internal_secret(
        &self,
        name: &str,
        data: &BTreeMap<String, String>,
    ) -> Result<()> {
        self.set_secret(&format!("{INTERNAL_SECRET_PREFIX}{name}"), data)
            .await
    }

    /// Deletes one of the server's own secrets; `Ok` when there was none.
    pub async fn delete_internal_secret(&self, name: &str) -> Result<()> {
        match self
            .delete_secret(&format!("{INTERNAL_SECRET_PREFIX}{name}"))
            .await
        {
            Err(Error::NotFound { .. }) => Ok(()),
            other => other,
        }
    }

    async fn read_secret(&self, name: &str) -> Result<BTreeMap<String, String>> {
        let key = self.secrets_key()?;
        let (nonce, ciphertext): (Vec<u8>, Vec<u8>) = with_db!(self, |readers, writer, d| {
            sqlx::query_as(d.sql("SELECT nonce, sealed FROM sealed_secrets WHERE name = ?"))
                .bind(name)
                .fetch_optional(readers)
                .await?
                .ok_or_else(|| Error::not_found(what(name)))?
        });
        let text = key
            .open(name, &nonce, &ciphertext)
            .ok_or_else(|| Error::WrongSecretsKey {
                name: name.to_owned(),
            })?;
        parse_stored("secret", &text)
    }

    /// The names of all secrets but the internal ones, sorted (never their values).
    pub async fn secret_names(&self) -> Result<Vec<String>> {
        let names: Vec<String> = with_db!(self, |readers, writer, d| {
            sqlx::query_scalar("SELECT name FROM sealed_secrets ORDER BY name")
                .fetch_all(readers)
                .await?
        });
        Ok(names
            .into_iter()
            .filter(|n| !n.starts_with(INTERNAL_SECRET_PREFIX))
            .collect())
    }

    /// Deletes a secret.
    pub async fn delete_secret(&self, name: &str) -> Result<()> {
        let done = with_db!(self, |readers, writer, d| {
            sqlx::query(d.sql("DELETE FROM sealed_secrets WHERE name = ?"))
                .bind(name)
                .execute(writer)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(Error::not_found(what(name)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{TempDir, backends};

    fn key(byte: u8) -> SecretsKey {
        SecretsKey::from_bytes([byte; KEY_LEN])
    }

    /// Whether `needle` occurs in any file of the directory (the database, WAL and index).
    fn on_disk(dir: &std::path::Path, needle: &str) -> bool {
        std::fs::read_dir(dir).unwrap().any(|e| {
            let bytes = std::fs::read(e.unwrap().path()).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        })
    }

    #[tokio::test]
    async fn secrets_set_get_list_delete() {
        for dir in backends("secrets").await {
            println!("secrets: {:?}", dir.location);
            let store = dir.open().await;
            let data: BTreeMap<String, String> =
                [("token".to_string(), "s3cr3t".to_string())].into();
            assert!(matches!(
                store.set_secret("dynatrace", &data).await,
                Err(Error::SecretsLocked)
            ));
            assert_eq!(store.unlock_secrets(key(1)).await.unwrap(), 0);
            store.set_secret("dynatrace", &data).await.unwrap();
            store.set_secret("aws", &BTreeMap::new()).await.unwrap();
            assert_eq!(store.secret("dynatrace").await.unwrap(), data);
            assert_eq!(store.secret_names().await.unwrap(), ["aws", "dynatrace"]);
            store.delete_secret("aws").await.unwrap();
            assert!(matches!(
                store.secret("aws").await,
                Err(Error::NotFound { .. })
            ));
            assert!(matches!(
                store.delete_secret("aws").await,
                Err(Error::NotFound { .. })
            ));
        }
    }

    #[tokio::test]
    async fn internal_secrets_are_not_listed_nor_read_by_name() {
        for dir in backends("internal-secrets").await {
            let store = dir.open().await;
            store.unlock_secrets(key(1)).await.unwrap();
            let data: BTreeMap<String, String> =
                [("token".to_string(), "ghp_x".to_string())].into();
            store
                .set_internal_secret("git-credentials:p", &data)
                .await
                .unwrap();
            store.set_secret("user", &BTreeMap::new()).await.unwrap();
            assert_eq!(
                store.internal_secret("git-credentials:p").await.unwrap(),
                data
            );
            assert_eq!(store.secret_names().await.unwrap(), ["user"]);
            assert!(matches!(
                store.secret("sluice:git-credentials:p").await,
                Err(Error::NotFound { .. })
            ));
            store
                .delete_internal_secret("git-credentials:p")
                .await
                .unwrap();
            store
                .delete_internal_secret("git-credentials:p")
                .await
                .unwrap();
            assert!(matches!(
                store.internal_secret("git-credentials:p").await,
                Err(Error::NotFound { .. })
            ));
        }
    }

    #[tokio::test]
    async fn secret_values_are_encrypted_at_rest_and_need_the_right_key() {
        let dir = TempDir::new("secrets-sealed");
        let value = "plain-value-8d1f0c";
        let data: BTreeMap<String, String> = [("password".to_string(), value.to_string())].into();
        let store = Store::open(&dir.0).await.unwrap();
        store.unlock_secrets(key(1)).await.unwrap();
        store.set_secret("creds", &data).await.unwrap();
        assert!(
            !on_disk(&dir.0, value),
            "the value is on disk in plain text"
        );
        store.close().await;

        let store = Store::open(&dir.0).await.unwrap();
        assert!(matches!(
            store.secret("creds").await,
            Err(Error::SecretsLocked)
        ));
        match store.unlock_secrets(key(2)).await {
            Err(Error::WrongSecretsKey { name }) => assert_eq!(name, "creds"),
            other => panic!("expected WrongSecretsKey, got {other:?}"),
        }
        assert!(matches!(
            store.secret("creds").await,
            Err(Error::SecretsLocked)
        ));
        store.unlock_secrets(key(1)).await.unwrap();
        assert_eq!(store.secret("creds").await.unwrap(), data);

        // A sealed value moved under another name does not open.
        sqlx::query(
            "INSERT INTO sealed_secrets (name, nonce, sealed) \
             SELECT 'other', nonce, sealed FROM sealed_secrets WHERE name = 'creds'",
        )
        .execute(store.sqlite_writer())
        .await
        .unwrap();
        assert!(matches!(
            store.secret("other").await,
            Err(Error::WrongSecretsKey { .. })
        ));
    }

    #[tokio::test]
    async fn plain_text_secrets_of_older_versions_are_encrypted_and_erased_on_unlock() {
        let dir = TempDir::new("secrets-migrate");
        let value = "legacy-plain-5a7e21";
        let store = Store::open(&dir.0).await.unwrap();
        sqlx::query("INSERT INTO secrets (name, data) VALUES ('old', ?)")
            .bind(format!(r#"{{"token":"{value}"}}"#))
            .execute(store.sqlite_writer())
            .await
            .unwrap();
        assert!(on_disk(&dir.0, value), "the test wrote the plain text");
        assert_eq!(store.unlock_secrets(key(7)).await.unwrap(), 1);
        assert_eq!(
            store.secret("old").await.unwrap(),
            [("token".to_string(), value.to_string())].into()
        );
        assert_eq!(store.secret_names().await.unwrap(), ["old"]);
        assert!(!on_disk(&dir.0, value), "the plain text is still on disk");
        store.close().await;
        assert!(!on_disk(&dir.0, value), "the plain text is still on disk");
    }

    #[tokio::test]
    async fn rotating_the_key_keeps_secrets_readable_under_the_new_key_only() {
        for dir in backends("secrets-rotate").await {
            println!("secrets-rotate: {:?}", dir.location);
            let data: BTreeMap<String, String> = [("k".to_string(), "v".to_string())].into();
            let store = dir.open().await;
            store.unlock_secrets(key(1)).await.unwrap();
            store.set_secret("a", &data).await.unwrap();
            store.set_secret("b", &data).await.unwrap();
            store.rotate_secrets_key(key(2)).await.unwrap();
            assert_eq!(store.secret("a").await.unwrap(), data);
            store.close().await;
            let store = dir.open().await;
            assert!(matches!(
                store.unlock_secrets(key(1)).await,
                Err(Error::WrongSecretsKey { .. })
            ));
            store.unlock_secrets(key(2)).await.unwrap();
            assert_eq!(store.secret("b").await.unwrap(), data);
        }
    }

    #[tokio::test]
    async fn create_secret_refuses_an_existing_name_and_update_a_missing_one() {
        for dir in backends("secrets-create-update").await {
            println!("secrets-create-update: {:?}", dir.location);
            let store = dir.open().await;
            store.unlock_secrets(key(3)).await.unwrap();
            let one: BTreeMap<String, String> = [("k".to_string(), "1".to_string())].into();
            let two: BTreeMap<String, String> = [("k".to_string(), "2".to_string())].into();
            assert!(matches!(
                store.update_secret("s", &one).await,
                Err(Error::NotFound { .. })
            ));
            assert!(store.secret_names().await.unwrap().is_empty());
            store.create_secret("s", &one).await.unwrap();
            assert!(matches!(
                store.create_secret("s", &two).await,
                Err(Error::AlreadyExists { .. })
            ));
            assert_eq!(store.secret("s").await.unwrap(), one);
            store.update_secret("s", &two).await.unwrap();
            assert_eq!(store.secret("s").await.unwrap(), two);
        }
    }
}
