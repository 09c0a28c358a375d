//! Uniform registrations: the integrations (executors) that registered or poll.

use serde_json::Value;
use sluice_model::event::Timestamp;

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

/// `id, name, metadata, subscriptions, last_seen`.
type RegistrationRow = (String, String, String, String, i64);

dual! {}

impl UniformRegistration {
    fn from_row(row: RegistrationRow) -> Result<UniformRegistration> {
        let (id, name, metadata, subscriptions, last_seen) = row;
        Ok(UniformRegistration {
            id,
            name,
            metadata: parse_stored("uniform metadata", &metadata)?,
            subscriptions: parse_stored("uniform subscriptions", &subscriptions)?,
            last_seen: from_nanos(last_seen),
        })
    }
}

fn what(id: &str) -> String {
    format!("uniform registration {id:?}")
}

impl Store {
    /// Inserts or replaces a registration.
    pub async fn upsert_registration(&self, r: &UniformRegistration) -> Result<()> {
        with_db!(self, |readers, writer, d| {
            sqlx::query(d.sql(
                "INSERT INTO uniform_registrations (id, name, metadata, subscriptions, last_seen) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                 metadata = excluded.metadata, subscriptions = excluded.subscriptions, \
                 last_seen = excluded.last_seen",
            ))
            .bind(&r.id)
            .bind(&r.name)
            .bind(r.metadata.to_string())
            .bind(r.subscriptions.to_string())
            .bind(to_nanos(r.last_seen))
            .execute(writer)
            .await?;
        });
        Ok(())
    }

    /// All registrations, sorted by name, then id.
    pub async fn registrations(&self) -> Result<Vec<UniformRegistration>> {
        let rows: Vec<RegistrationRow> = with_db!(self, |readers, writer, d| {
            sqlx::query_as(
                "SELECT id, name, metadata, subscriptions, last_seen FROM uniform_registrations \
                 ORDER BY name, id",
            )
            .fetch_all(readers)
            .await?
        });
        rows.into_iter()
            .map(UniformRegistration::from_row)
            .collect()
    }

    /// One registration.
    pub async fn registration(&self, id: &str) -> Result<UniformRegistration> {
        let row: RegistrationRow = with_db!(self, |readers, writer, d| {
            sqlx::query_as(d.sql(
                "SELECT id, name, metadata, subscriptions, last_seen FROM uniform_registrations \
                 WHERE id = ?",
            ))
            .bind(id)
            .fetch_optional(readers)
            .await?
            .ok_or_else(|| Error::not_found(what(id)))?
        });
        UniformRegistration::from_row(row)
    }

    /// Deletes a registration.
    pub async fn delete_registration(&self, id: &str) -> Result<()> {
        let done = with_db!(self, |readers, writer, d| {
            sqlx::query(d.sql("DELETE FROM uniform_registrations WHERE id = ?"))
                .bind(id)
                .execute(writer)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(Error::not_found(what(id)));
        }
        Ok(())
    }

    /// Records a ping.
    pub async fn touch_registration(&self, id: &str, at: Timestamp) -> Result<()> {
        let done = with_db!(self, |readers, writer, d| {
            sqlx::query(d.sql("UPDATE uniform_registrations SET last_seen = ? WHERE id = ?"))
                .bind(to_nanos(at))
                .bind(id)
                .execute(writer)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(Error::not_found(what(id)));
        }
        Ok(())
    }

    /// Deletes registrations last seen before `cutoff` (Keptn's TTL); returns how many.
    pub async fn expire_registrations(&self, cutoff: Timestamp) -> Result<u64> {
        let done = with_db!(self, |readers, writer, d| {
            sqlx::query(d.sql("DELETE FROM uniform_registrations WHERE last_seen < ?"))
                .bind(to_nanos(cutoff))
                .execute(writer)
                .await?
                .rows_affected()
        });
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::backends;
    use serde_json::json;

    #[tokio::test]
    async fn registrations_roundtrip_touch_and_expire() {
        for dir in backends("uniform").await {
            println!("uniform: {:?}", dir.location);
            let store = dir.open().await;
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
}
