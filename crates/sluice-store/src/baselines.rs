//! Pinned baselines: for each project, stage and service at most one `evaluation.finished`
//! event that SLOs with `comparison.compare_with: baseline` compare with (sluice extension).
//!
//! The store keeps only the pointer; the server checks that the event is an evaluation of
//! that stage and service before pinning it. Setting and clearing write their audit entry in
//! the same transaction.

use sluice_model::event::Timestamp;
#[allow(unused_imports)]
use sqlx::Row;

use crate::access::AuditEntry;
use crate::error::{Error, Result};
use crate::{Store, from_nanos, to_nanos};

/// The pinned baseline of one stage and service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    /// Project.
    pub project: String,
    /// Stage.
    pub stage: String,
    /// Service.
    pub service: String,
    /// Id of the pinned `evaluation.finished` event.
    pub evaluation_id: String,
    /// The name of the token that pinned it.
    pub set_by: String,
    /// When it was pinned.
    pub set_at: Timestamp,
}

dual! {
    pub(crate) fn baseline_from_row(row: &DbRow) -> Result<Baseline> {
        Ok(Baseline {
            project: row.try_get("project")?,
            stage: row.try_get("stage")?,
            service: row.try_get("service")?,
            evaluation_id: row.try_get("evaluation_id")?,
            set_by: row.try_get("set_by")?,
            set_at: from_nanos(row.try_get("set_at")?),
        })
    }
}

impl Store {
    /// Pins `baseline` (replacing the stage and service's earlier one) and writes its audit
    /// entry, in one transaction.
    pub async fn set_baseline(&self, baseline: &Baseline, audit: &AuditEntry) -> Result<()> {
        if baseline.evaluation_id.is_empty() {
            return Err(Error::InvalidInput(
                "a baseline needs an evaluation id".into(),
            ));
        }
        with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            sqlx::query(
                "INSERT INTO baselines (project, stage, service, evaluation_id, set_by, set_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (project, stage, service) DO UPDATE \
                 SET evaluation_id = excluded.evaluation_id, set_by = excluded.set_by, \
                 set_at = excluded.set_at",
            )
            .bind(&baseline.project)
            .bind(&baseline.stage)
            .bind(&baseline.service)
            .bind(&baseline.evaluation_id)
            .bind(&baseline.set_by)
            .bind(to_nanos(baseline.set_at))
            .execute(&mut *tx)
            .await?;
            shared::commit_audited(tx, audit).await
        })
    }

    /// The pinned baseline of a stage and service, if any.
    pub async fn baseline(
        &self,
        project: &str,
        stage: &str,
        service: &str,
    ) -> Result<Option<Baseline>> {
        with_db!(self, |readers, writer, d| {
            let row = sqlx::query(
                "SELECT project, stage, service, evaluation_id, set_by, set_at FROM baselines \
                 WHERE project = $1 AND stage = $2 AND service = $3",
            )
            .bind(project)
            .bind(stage)
            .bind(service)
            .fetch_optional(readers)
            .await?;
            row.as_ref().map(backend::baseline_from_row).transpose()
        })
    }

    /// The pinned baselines of a project, by stage and service.
    pub async fn baselines(&self, project: &str) -> Result<Vec<Baseline>> {
        with_db!(self, |readers, writer, d| {
            let rows = sqlx::query(
                "SELECT project, stage, service, evaluation_id, set_by, set_at FROM baselines \
                 WHERE project = $1 ORDER BY stage, service",
            )
            .bind(project)
            .fetch_all(readers)
            .await?;
            rows.iter().map(backend::baseline_from_row).collect()
        })
    }

    /// Unpins the baseline of a stage and service and writes the audit entry, in one
    /// transaction; [`Error::NotFound`] (writing nothing) when none is pinned.
    pub async fn clear_baseline(
        &self,
        project: &str,
        stage: &str,
        service: &str,
        audit: &AuditEntry,
    ) -> Result<()> {
        with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            let done = sqlx::query(
                "DELETE FROM baselines WHERE project = $1 AND stage = $2 AND service = $3",
            )
            .bind(project)
            .bind(stage)
            .bind(service)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(Error::not_found(format!(
                    "baseline of {project}/{stage}/{service}"
                )));
            }
            shared::commit_audited(tx, audit).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AuditQuery, Paging};

    fn pin(id: &str, at: i64) -> Baseline {
        Baseline {
            project: "shop".into(),
            stage: "hardening".into(),
            service: "cart".into(),
            evaluation_id: id.into(),
            set_by: "admin".into(),
            set_at: Timestamp::from_unix(at, 0),
        }
    }

    fn entry(action: &str) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at: Timestamp::from_unix(100, 0),
            actor: "admin".into(),
            action: action.into(),
            project: "shop".into(),
            stage: "hardening".into(),
            service: "cart".into(),
            keptn_context: String::new(),
            detail: String::new(),
            client: "127.0.0.1".into(),
        }
    }

    #[tokio::test]
    async fn baselines_are_pinned_replaced_and_cleared_with_their_audit_entries() {
        for backend in crate::testutil::backends("baselines").await {
            let store = backend.open().await;
            assert_eq!(
                store.baseline("shop", "hardening", "cart").await.unwrap(),
                None
            );
            store
                .set_baseline(&pin("e1", 1), &entry("baseline.set"))
                .await
                .unwrap();
            store
                .set_baseline(&pin("e2", 2), &entry("baseline.set"))
                .await
                .unwrap();
            assert_eq!(
                store.baseline("shop", "hardening", "cart").await.unwrap(),
                Some(pin("e2", 2))
            );
            assert_eq!(store.baselines("shop").await.unwrap(), vec![pin("e2", 2)]);
            assert_eq!(
                store.baseline("shop", "production", "cart").await.unwrap(),
                None
            );
            assert!(matches!(
                store
                    .set_baseline(&pin("", 3), &entry("baseline.set"))
                    .await,
                Err(Error::InvalidInput(_))
            ));
            store
                .clear_baseline("shop", "hardening", "cart", &entry("baseline.clear"))
                .await
                .unwrap();
            // Clearing again is not found and audits nothing.
            assert!(matches!(
                store
                    .clear_baseline("shop", "hardening", "cart", &entry("baseline.clear"))
                    .await,
                Err(Error::NotFound { .. })
            ));
            assert_eq!(
                store.baseline("shop", "hardening", "cart").await.unwrap(),
                None
            );
            let log = store
                .audit_entries(&AuditQuery::default(), &Paging::default())
                .await
                .unwrap();
            let actions: Vec<&str> = log.items.iter().map(|e| e.action.as_str()).collect();
            assert_eq!(actions, ["baseline.clear", "baseline.set", "baseline.set"]);

            // Deleting the service, or the project, removes its pins.
            store
                .create_project(&crate::ProjectRecord {
                    name: "shop".into(),
                    shipyard: String::new(),
                    shipyard_version: String::new(),
                    creation_date: "0".into(),
                    git_upstream: None,
                    stages: vec!["hardening".into()],
                })
                .await
                .unwrap();
            store.create_service("shop", "cart", "0").await.unwrap();
            store
                .set_baseline(&pin("e3", 3), &entry("baseline.set"))
                .await
                .unwrap();
            store.delete_service("shop", "cart").await.unwrap();
            assert_eq!(
                store.baseline("shop", "hardening", "cart").await.unwrap(),
                None
            );
            store.create_service("shop", "cart", "0").await.unwrap();
            store
                .set_baseline(&pin("e4", 4), &entry("baseline.set"))
                .await
                .unwrap();
            store.delete_project("shop").await.unwrap();
            assert_eq!(store.baselines("shop").await.unwrap(), vec![]);
        }
    }
}
