//! Scoped API tokens and the audit log.
//!
//! A token is kept as its id, its scope and a hash of its secret (never the secret); the role
//! is kept as the text the server gave (the server converts roles to and from text). Creating
//! and revoking a token writes its audit entry in the same transaction. The audit log is
//! append-only: this module has no method that changes or deletes an entry.

use sluice_model::event::Timestamp;
#[allow(unused_imports)]
use sqlx::Row;

use crate::error::{Error, Result};
use crate::page::{Page, Paging};
use crate::{Store, from_nanos, parse_stored, to_nanos};

/// A scoped token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The public id (part of the token text).
    pub id: String,
    /// A unique name (the actor in the audit log).
    pub name: String,
    /// The role's wire name.
    pub role: String,
    /// The project it is limited to; `None` for every project.
    pub project: Option<String>,
    /// The stages it is limited to; empty for every stage.
    pub stages: Vec<String>,
    /// SHA-256 of the secret part of the token.
    pub secret_hash: Vec<u8>,
    /// The name of the token that created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the log (assigned by the store; ignored when appending).
    pub seq: i64,
    /// When it happened.
    pub at: Timestamp,
    /// The name of the token that did it.
    pub actor: String,
    /// What was done (`trigger`, `approve`, `token.create`, ...).
    pub action: String,
    /// The project, `''` when none.
    pub project: String,
    /// The stage, `''` when none.
    pub stage: String,
    /// The service, `''` when none.
    pub service: String,
    /// The Keptn context, `''` when none.
    pub keptn_context: String,
    /// More about it (a resource URI, an event type, a token name), `''` when nothing.
    pub detail: String,
    /// The client's address.
    pub client: String,
}

/// Filters of [`Store::audit_entries`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this project.
    pub project: Option<String>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only this action.
    pub action: Option<String>,
}

/// Largest page of the audit log.
const MAX_AUDIT_PAGE: u32 = 500;

/// The columns of `api_tokens`, in the order of its insert.
macro_rules! token_columns {
    () => {
        "id, name, role, project, stages, secret_hash, created_by, created_at, expires_at, revoked_at"
    };
}

/// The audit log's filter: empty values match everything, so one prepared statement serves
/// every query.
macro_rules! audit_filter {
    () => {
        "($1 = '' OR project = $1) AND ($2 = '' OR actor = $2) AND ($3 = '' OR action = $3)"
    };
}

dual! {
    pub(crate) fn token_from_row(row: &DbRow) -> Result<TokenRecord> {
        let project: String = row.try_get("project")?;
        let stages: String = row.try_get("stages")?;
        let revoked: Option<i64> = row.try_get("revoked_at")?;
        Ok(TokenRecord {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            role: row.try_get("role")?,
            project: (!project.is_empty()).then_some(project),
            stages: parse_stored("token stages", &stages)?,
            secret_hash: row.try_get("secret_hash")?,
            created_by: row.try_get("created_by")?,
            created_at: from_nanos(row.try_get("created_at")?),
            expires_at: from_nanos(row.try_get("expires_at")?),
            revoked_at: revoked.map(from_nanos),
        })
    }

    pub(crate) fn audit_from_row(row: &DbRow) -> Result<AuditEntry> {
        Ok(AuditEntry {
            seq: row.try_get("seq")?,
            at: from_nanos(row.try_get("at")?),
            actor: row.try_get("actor")?,
            action: row.try_get("action")?,
            project: row.try_get("project")?,
            stage: row.try_get("stage")?,
            service: row.try_get("service")?,
            keptn_context: row.try_get("keptn_context")?,
            detail: row.try_get("detail")?,
            client: row.try_get("client")?,
        })
    }

    pub(crate) async fn insert_audit(conn: &mut Conn, entry: &AuditEntry) -> Result<()> {
    sqlx::query(crate::statements::INSERT_AUDIT)
    .bind(to_nanos(entry.at))
    .bind(&entry.actor)
    .bind(&entry.action)
    .bind(&entry.project)
    .bind(&entry.stage)
    .bind(&entry.service)
    .bind(&entry.keptn_context)
    .bind(&entry.detail)
    .bind(&entry.client)
    .execute(&mut *conn)
    .await?;
    Ok(())
    }

    /// Writes the audit entry of a change into the change's transaction and commits both.
    pub(crate) async fn commit_audited(
        mut tx: sqlx::Transaction<'_, <Conn as sqlx::Connection>::Database>,
        entry: &AuditEntry,
    ) -> Result<()> {
        insert_audit(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Stores a new token and its audit entry in one transaction; a taken name or id is
    /// [`Error::AlreadyExists`] and writes nothing.
    pub async fn create_token(&self, token: &TokenRecord, audit: &AuditEntry) -> Result<()> {
        let stages = serde_json::to_string(&token.stages)
            .map_err(|e| Error::InvalidInput(format!("token stages: {e}")))?;
        with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            let taken: Option<String> =
                sqlx::query_scalar("SELECT name FROM api_tokens WHERE name = $1 OR id = $2")
                    .bind(&token.name)
                    .bind(&token.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if taken.is_some() {
                return Err(Error::exists(format!("token {:?}", token.name)));
            }
            sqlx::query(concat!(
                "INSERT INTO api_tokens (",
                token_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ))
            .bind(&token.id)
            .bind(&token.name)
            .bind(&token.role)
            .bind(token.project.as_deref().unwrap_or(""))
            .bind(stages)
            .bind(&token.secret_hash)
            .bind(&token.created_by)
            .bind(to_nanos(token.created_at))
            .bind(to_nanos(token.expires_at))
            .bind(token.revoked_at.map(to_nanos))
            .execute(&mut *tx)
            .await?;
            backend::commit_audited(tx, audit).await
        })
    }

    /// The token with this id (revoked and expired ones too).
    pub async fn token(&self, id: &str) -> Result<Option<TokenRecord>> {
        with_db!(self, |readers, writer, d| {
            let row = sqlx::query(concat!(
                "SELECT ",
                token_columns!(),
                " FROM api_tokens WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(readers)
            .await?;
            row.as_ref().map(backend::token_from_row).transpose()
        })
    }

    /// All tokens (or those of one project), newest first.
    pub async fn tokens(&self, project: Option<&str>) -> Result<Vec<TokenRecord>> {
        with_db!(self, |readers, writer, d| {
            let rows = match project {
                Some(p) => {
                    sqlx::query(concat!(
                        "SELECT ",
                        token_columns!(),
                        " FROM api_tokens WHERE project = $1 ORDER BY created_at DESC, id"
                    ))
                    .bind(p)
                    .fetch_all(readers)
                    .await?
                }
                None => {
                    sqlx::query(concat!(
                        "SELECT ",
                        token_columns!(),
                        " FROM api_tokens ORDER BY created_at DESC, id"
                    ))
                    .fetch_all(readers)
                    .await?
                }
            };
            rows.iter().map(backend::token_from_row).collect()
        })
    }

    /// Revokes a token (from `at` on) and writes its audit entry in one transaction. An
    /// unknown id is [`Error::NotFound`]; revoking twice keeps the first time.
    pub async fn revoke_token(&self, id: &str, at: Timestamp, audit: &AuditEntry) -> Result<()> {
        with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            let found: Option<String> =
                sqlx::query_scalar("SELECT id FROM api_tokens WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if found.is_none() {
                return Err(Error::not_found(format!("token {id:?}")));
            }
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            )
            .bind(to_nanos(at))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            backend::commit_audited(tx, audit).await
        })
    }

    /// Appends an entry to the audit log.
    pub async fn append_audit(&self, entry: &AuditEntry) -> Result<()> {
        with_db!(self, |readers, writer, d| {
            let mut conn = writer.acquire().await?;
            backend::insert_audit(&mut conn, entry).await
        })
    }

    /// A page of the audit log, newest first.
    pub async fn audit_entries(
        &self,
        query: &AuditQuery,
        paging: &Paging,
    ) -> Result<Page<AuditEntry>> {
        let (limit, offset) = paging.resolve(MAX_AUDIT_PAGE)?;
        let bind = |q: &AuditQuery| {
            (
                q.project.clone().unwrap_or_default(),
                q.actor.clone().unwrap_or_default(),
                q.action.clone().unwrap_or_default(),
            )
        };
        let (p, a, x) = bind(query);
        with_db!(self, |readers, writer, d| {
            let total: i64 = sqlx::query_scalar(concat!(
                "SELECT COUNT(*) FROM audit_log WHERE ",
                audit_filter!()
            ))
            .bind(&p)
            .bind(&a)
            .bind(&x)
            .fetch_one(readers)
            .await?;
            let rows = sqlx::query(concat!(
                "SELECT seq, at, actor, action, project, stage, service, keptn_context, detail, \
             client FROM audit_log WHERE ",
                audit_filter!(),
                " ORDER BY seq DESC LIMIT $4 OFFSET $5"
            ))
            .bind(&p)
            .bind(&a)
            .bind(&x)
            .bind(i64::from(limit))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(readers)
            .await?;
            let items = rows
                .iter()
                .map(backend::audit_from_row)
                .collect::<Result<Vec<_>>>()?;
            Ok(Page::new(
                items,
                limit,
                offset,
                u64::try_from(total).unwrap_or(0),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(id: &str, name: &str, project: Option<&str>) -> TokenRecord {
        TokenRecord {
            id: id.into(),
            name: name.into(),
            role: "approver".into(),
            project: project.map(Into::into),
            stages: vec!["production".into()],
            secret_hash: vec![7; 32],
            created_by: "admin".into(),
            created_at: Timestamp::from_unix(100, 0),
            expires_at: Timestamp::from_unix(1000, 0),
            revoked_at: None,
        }
    }

    fn entry(action: &str, project: &str) -> AuditEntry {
        AuditEntry {
            at: Timestamp::from_unix(100, 0),
            actor: "admin".into(),
            action: action.into(),
            project: project.into(),
            stage: String::new(),
            service: String::new(),
            keptn_context: String::new(),
            detail: String::new(),
            client: "127.0.0.1".into(),
            seq: 0,
        }
    }

    #[tokio::test]
    async fn tokens_are_created_listed_and_revoked_with_their_audit_entries() {
        for backend in crate::testutil::backends("access").await {
            let store = backend.open().await;
            let t = token("abc", "prod-approve", Some("shop"));
            store
                .create_token(&t, &entry("token.create", "shop"))
                .await
                .unwrap();
            assert_eq!(store.token("abc").await.unwrap(), Some(t.clone()));
            // A taken name writes nothing, not even its audit entry.
            assert!(matches!(
                store
                    .create_token(
                        &token("def", "prod-approve", None),
                        &entry("token.create", "")
                    )
                    .await,
                Err(Error::AlreadyExists { .. })
            ));
            store
                .create_token(&token("ghi", "all", None), &entry("token.create", ""))
                .await
                .unwrap();
            assert_eq!(store.tokens(None).await.unwrap().len(), 2);
            assert_eq!(store.tokens(Some("shop")).await.unwrap(), vec![t]);
            store
                .revoke_token(
                    "abc",
                    Timestamp::from_unix(200, 0),
                    &entry("token.revoke", "shop"),
                )
                .await
                .unwrap();
            store
                .revoke_token(
                    "abc",
                    Timestamp::from_unix(300, 0),
                    &entry("token.revoke", "shop"),
                )
                .await
                .unwrap();
            assert_eq!(
                store.token("abc").await.unwrap().unwrap().revoked_at,
                Some(Timestamp::from_unix(200, 0))
            );
            assert!(matches!(
                store
                    .revoke_token(
                        "zzz",
                        Timestamp::from_unix(1, 0),
                        &entry("token.revoke", "")
                    )
                    .await,
                Err(Error::NotFound { .. })
            ));
            let all = store
                .audit_entries(&AuditQuery::default(), &Paging::default())
                .await
                .unwrap();
            let actions: Vec<&str> = all.items.iter().map(|e| e.action.as_str()).collect();
            assert_eq!(
                actions,
                [
                    "token.revoke",
                    "token.revoke",
                    "token.create",
                    "token.create"
                ]
            );
            let shop = store
                .audit_entries(
                    &AuditQuery {
                        project: Some("shop".into()),
                        action: Some("token.create".into()),
                        ..AuditQuery::default()
                    },
                    &Paging::first(1),
                )
                .await
                .unwrap();
            assert_eq!(shop.total_count, 1);
            assert_eq!(shop.items[0].project, "shop");
            assert_eq!(shop.next_page_key, None);
        }
    }
}
