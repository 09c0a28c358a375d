//! Uniform registrations: the integrations (executors) that registered or poll.

use serde_json::Value;
use sluice_model::event::Timestamp;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use crate::error::{Error, Result};
use crate::{Store, from_nanos, parse_stored, to_nanos};

/// A registered integration (Keptn's `keptnUniform` entry).
#[derive(Debug, Clone, PartialEq)]
pub struct UniformRegistration {
    /// Id (Keptn: hex SHA-1 of `name-namespace-hostname`).
    pub id: String,
    /// Integration name.
    pub name: String,
    /// `metadata` document as given.
    pub metadata: Value,
    /// `subscriptions` document as given (a JSON array in Keptn).
    pub subscriptions: Value,
    /// Last registration or ping.
    pub last_seen: Timestamp,
}

impl UniformRegistration {
    fn from_row(row: &SqliteRow) -> Result<UniformRegistration> {
        let metadata: String = row.try_get("metadata")?;
        let subscriptions: String = row.try_get("subscriptions")?;
        Ok(UniformRegistration {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            metadata: parse_stored("uniform metadata", &metadata)?,
            subscriptions: parse_stored("uniform subscriptions", &subscriptions)?,
            last_seen: from_nanos(row.try_get("last_seen")?),
        })
    }
}

fn what(id: &str) -> String {
    format!("uniform registration {id:?}")
}

impl Store {
    /// Inserts or replaces a registration.
    pub async fn upsert_registration(&self, r: &UniformRegistration) -> Result<()> {
        sqlx::query(
            "INSERT INTO uniform_registrations (id, name, metadata, subscriptions, last_seen) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
             metadata = excluded.metadata, subscriptions = excluded.subscriptions, \
             last_seen = excluded.last_seen",
        )
        .bind(&r.id)
        .bind(&r.name)
        .bind(r.metadata.to_string())
        .bind(r.subscriptions.to_string())
        .bind(to_nanos(r.last_seen))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// All registrations, sorted by name, then id.
    pub async fn registrations(&self) -> Result<Vec<UniformRegistration>> {
        let rows = sqlx::query(
            "SELECT id, name, metadata, subscriptions, last_seen FROM uniform_registrations \
             ORDER BY name, id",
        )
        .fetch_all(&self.readers)
        .await?;
        rows.iter().map(UniformRegistration::from_row).collect()
    }

    /// One registration.
    pub async fn registration(&self, id: &str) -> Result<UniformRegistration> {
        let row = sqlx::query(
            "SELECT id, name, metadata, subscriptions, last_seen FROM uniform_registrations \
             WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.readers)
        .await?
        .ok_or_else(|| Error::not_found(what(id)))?;
        UniformRegistration::from_row(&row)
    }

    /// Deletes a registration.
    pub async fn delete_registration(&self, id: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM uniform_registrations WHERE id = ?")
            .bind(id)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(what(id)));
        }
        Ok(())
    }

    /// Records a ping.
    pub async fn touch_registration(&self, id: &str, at: Timestamp) -> Result<()> {
        let done = sqlx::query("UPDATE uniform_registrations SET last_seen = ? WHERE id = ?")
            .bind(to_nanos(at))
            .bind(id)
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 {
            return Err(Error::not_found(what(id)));
        }
        Ok(())
    }

    /// Deletes registrations last seen before `cutoff` (Keptn's TTL); returns how many.
    pub async fn expire_registrations(&self, cutoff: Timestamp) -> Result<u64> {
        let done = sqlx::query("DELETE FROM uniform_registrations WHERE last_seen < ?")
            .bind(to_nanos(cutoff))
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;
    use serde_json::json;

    #[tokio::test]
    async fn registrations_roundtrip_touch_and_expire() {
        let dir = TempDir::new("uniform");
        let store = Store::open(&dir.0).await.unwrap();
        let mut r = UniformRegistration {
            id: "abc".into(),
            name: "job-executor-service".into(),
            metadata: json!({"hostname": "h", "kubernetesmetadata": {"namespace": "keptn"}}),
            subscriptions: json!([{"event": "sh.keptn.event.test.triggered", "filter": {"projects": ["shop"]}}]),
            last_seen: Timestamp::from_unix(100, 0),
        };
        store.upsert_registration(&r).await.unwrap();
        r.subscriptions = json!([]);
        store.upsert_registration(&r).await.unwrap();
        assert_eq!(store.registration("abc").await.unwrap(), r);
        store
            .touch_registration("abc", Timestamp::from_unix(200, 0))
            .await
            .unwrap();
        assert_eq!(
            store.registrations().await.unwrap()[0].last_seen,
            Timestamp::from_unix(200, 0)
        );
        assert!(matches!(
            store
                .touch_registration("zzz", Timestamp::from_unix(1, 0))
                .await,
            Err(Error::NotFound { .. })
        ));
        assert_eq!(
            store
                .expire_registrations(Timestamp::from_unix(150, 0))
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .expire_registrations(Timestamp::from_unix(250, 0))
                .await
                .unwrap(),
            1
        );
        assert!(matches!(
            store.delete_registration("abc").await,
            Err(Error::NotFound { .. })
        ));
    }
}
