//! Secrets: named sets of key/value pairs for integrations (the job executor).
//!
//! Values are stored as given, unencrypted: the data directory must be protected like the
//! secrets themselves (file permissions, disk encryption). Encryption at rest is out of scope
//! for now.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::{Store, parse_stored};

fn what(name: &str) -> String {
    format!("secret {name:?}")
}

impl Store {
    /// Creates or replaces a secret.
    pub async fn set_secret(&self, name: &str, data: &BTreeMap<String, String>) -> Result<()> {
        let text = serde_json::to_string(data)
            .map_err(|e| Error::InvalidInput(format!("secret data: {e}")))?;
        sqlx::query(
            "INSERT INTO secrets (name, data) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET data = excluded.data",
        )
        .bind(name)
        .bind(text)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Creates a secret; [`Error::AlreadyExists`] when one has the name.
    pub async fn create_secret(&self, name: &str, data: &BTreeMap<String, String>) -> Result<()> {
        let text = serde_json::to_string(data)
            .map_err(|e| Error::InvalidInput(format!("secret data: {e}")))?;
        let done = sqlx::query(
            "INSERT INTO secrets (name, data) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(text)
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::exists(what(name)));
        }
        Ok(())
    }

    /// Replaces the data of a secret; [`Error::NotFound`] when there is none of that name.
    pub async fn update_secret(&self, name: &str, data: &BTreeMap<String, String>) -> Result<()> {
        let text = serde_json::to_string(data)
            .map_err(|e| Error::InvalidInput(format!("secret data: {e}")))?;
        let done = sqlx::query("UPDATE secrets SET data = ? WHERE name = ?")
            .bind(text)
            .bind(name)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(what(name)));
        }
        Ok(())
    }

    /// The key/value pairs of a secret.
    pub async fn secret(&self, name: &str) -> Result<BTreeMap<String, String>> {
        let text: String = sqlx::query_scalar("SELECT data FROM secrets WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.readers)
            .await?
            .ok_or_else(|| Error::not_found(what(name)))?;
        parse_stored("secret", &text)
    }

    /// The names of all secrets, sorted (never their values).
    pub async fn secret_names(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT name FROM secrets ORDER BY name")
            .fetch_all(&self.readers)
            .await?)
    }

    /// Deletes a secret.
    pub async fn delete_secret(&self, name: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM secrets WHERE name = ?")
            .bind(name)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(what(name)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[tokio::test]
    async fn secrets_set_get_list_delete() {
        let dir = TempDir::new("secrets");
        let store = Store::open(&dir.0).await.unwrap();
        let data: BTreeMap<String, String> = [("token".to_string(), "s3cr3t".to_string())].into();
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

    #[tokio::test]
    async fn create_secret_refuses_an_existing_name_and_update_a_missing_one() {
        let dir = TempDir::new("secrets-create-update");
        let store = Store::open(&dir.0).await.unwrap();
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
