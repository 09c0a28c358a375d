//! Notifications: per-project channels (where to send) and rules (which events go to which
//! channel), the durable queue of deliveries and the log of every attempt.
//!
//! A channel's URL and signing secret are sealed under the secrets key like secrets
//! (associated data `notification:<project>/<channel>`); [`Store::unlock_secrets`] checks them
//! and [`Store::rotate_secrets_key`] re-encrypts them. Creating and deleting a channel or a
//! rule writes its audit entries in the same transaction; deleting a rule deletes its
//! deliveries; a channel that rules use cannot be deleted.
//!
//! Deliveries are derived from the committed event log by the server's notifier, which
//! enqueues them together with its position in the log ([`Store::enqueue_deliveries`], one
//! transaction, ids derived from the notification and the event so a repeat inserts
//! nothing): what is committed is notified at least once, whatever crashes.

use sluice_model::event::Timestamp;
#[allow(unused_imports)]
use sqlx::Row;

use crate::access::AuditEntry;
use crate::error::{Error, Result};
use crate::page::{Page, Paging};
use crate::{Store, from_nanos, parse_stored, to_nanos};

/// A notification channel as stored (without its sealed URL and secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRecord {
    /// The project.
    pub project: String,
    /// Its name, unique in the project.
    pub name: String,
    /// The kind's wire name (`webhook`, `slack`, `teams`).
    pub kind: String,
    /// The URL as shown (secret parts hidden).
    pub target: String,
    /// The message template; empty for the channel's default message.
    pub template: String,
    /// The name of the token that created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A notification rule as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRecord {
    /// The project.
    pub project: String,
    /// Its name, unique in the project.
    pub name: String,
    /// The channel it sends to.
    pub channel: String,
    /// The notification events it sends (wire names).
    pub events: Vec<String>,
    /// Only these stages; empty for every stage.
    pub stages: Vec<String>,
    /// Only these services; empty for every service.
    pub services: Vec<String>,
    /// The name of the token that created it.
    pub created_by: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A channel to create, with the text to seal with it.
#[derive(Debug, Clone, Copy)]
pub struct NewChannel<'a> {
    /// The channel.
    pub record: &'a ChannelRecord,
    /// Its URL and signing secret (sealed).
    pub secret: &'a str,
    /// Its audit entry.
    pub audit: &'a AuditEntry,
}

/// The state of a delivery.
pub mod state {
    /// Waiting for its next attempt.
    pub const PENDING: &str = "pending";
    /// A receiver accepted it.
    pub const DELIVERED: &str = "delivered";
    /// Given up (too many attempts, or it could not be built).
    pub const FAILED: &str = "failed";
}

/// One delivery: one notification for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Its id (also the `webhook-id` sent), derived from the notification and the event.
    pub id: String,
    /// The project.
    pub project: String,
    /// The rule's name.
    pub rule: String,
    /// The channel's name.
    pub channel: String,
    /// The notification event's wire name.
    pub event: String,
    /// The Keptn event it is about.
    pub event_id: String,
    /// Its Keptn context.
    pub keptn_context: String,
    /// Its stage, `''` when none.
    pub stage: String,
    /// Its service, `''` when none.
    pub service: String,
    /// The body sent (`''` when it could not be built).
    pub body: String,
    /// [`state`]: pending, delivered or failed.
    pub state: String,
    /// How many attempts were made.
    pub attempts: u32,
    /// When the next attempt is due (pending only).
    pub next_at: Timestamp,
    /// When it was enqueued.
    pub created_at: Timestamp,
    /// The HTTP status of the last attempt, 0 when none.
    pub last_status: u16,
    /// What went wrong at the last attempt, `''` when nothing.
    pub last_error: String,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// Its number, from 1.
    pub n: u32,
    /// When it was made.
    pub at: Timestamp,
    /// The answer's HTTP status, 0 when there was none.
    pub status: u16,
    /// What went wrong, `''` when delivered.
    pub error: String,
}

/// The outcome of an attempt, for [`Store::record_attempt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// The attempt.
    pub attempt: DeliveryAttempt,
    /// The delivery's state after it.
    pub state: String,
    /// When to try again (pending only).
    pub next_at: Timestamp,
}

/// Filters of [`Store::deliveries`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryQuery {
    /// Only this rule.
    pub rule: Option<String>,
    /// Only this state.
    pub state: Option<String>,
}

/// Largest page of the delivery log.
const MAX_DELIVERY_PAGE: u32 = 200;

/// The associated data a channel's secrets are sealed with.
pub(crate) fn sealed_name(project: &str, name: &str) -> String {
    format!("notification:{project}/{name}")
}

macro_rules! delivery_columns {
    () => {
        "id, project, rule, channel, event, event_id, keptn_context, stage, service, body, state, \
         attempts, next_at, created_at, last_status, last_error"
    };
}

macro_rules! channel_columns {
    () => {
        "project, name, kind, target, template, created_by, created_at"
    };
}

macro_rules! rule_columns {
    () => {
        "project, name, channel, events, stages, services, created_by, created_at"
    };
}

/// The delivery log's filter: empty values match everything.
macro_rules! delivery_filter {
    () => {
        "project = $1 AND ($2 = '' OR rule = $2) AND ($3 = '' OR state = $3)"
    };
}

fn list_text(what: &str, list: &[String]) -> Result<String> {
    serde_json::to_string(list).map_err(|e| Error::InvalidInput(format!("{what}: {e}")))
}

fn small(n: i64) -> u16 {
    u16::try_from(n).unwrap_or(0)
}

dual! {
    pub(crate) fn channel_from_row(row: &DbRow) -> Result<ChannelRecord> {
        Ok(ChannelRecord {
            project: row.try_get("project")?,
            name: row.try_get("name")?,
            kind: row.try_get("kind")?,
            target: row.try_get("target")?,
            template: row.try_get("template")?,
            created_by: row.try_get("created_by")?,
            created_at: from_nanos(row.try_get("created_at")?),
        })
    }

    pub(crate) fn rule_from_row(row: &DbRow) -> Result<RuleRecord> {
        Ok(RuleRecord {
            project: row.try_get("project")?,
            name: row.try_get("name")?,
            channel: row.try_get("channel")?,
            events: parse_stored("notification events", &row.try_get::<String, _>("events")?)?,
            stages: parse_stored("notification stages", &row.try_get::<String, _>("stages")?)?,
            services: parse_stored("notification services", &row.try_get::<String, _>("services")?)?,
            created_by: row.try_get("created_by")?,
            created_at: from_nanos(row.try_get("created_at")?),
        })
    }

    /// Inserts a channel with its sealed text and audit entry; a taken name is
    /// [`Error::AlreadyExists`].
    pub(crate) async fn insert_channel(
        conn: &mut Conn,
        channel: &NewChannel<'_>,
        sealed: (&[u8], &[u8]),
    ) -> Result<()> {
        let r = channel.record;
        let done = sqlx::query(concat!(
            "INSERT INTO notification_channels (",
            channel_columns!(),
            ", nonce, sealed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (project, name) DO NOTHING"
        ))
        .bind(&r.project)
        .bind(&r.name)
        .bind(&r.kind)
        .bind(&r.target)
        .bind(&r.template)
        .bind(&r.created_by)
        .bind(to_nanos(r.created_at))
        .bind(sealed.0)
        .bind(sealed.1)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(Error::exists(format!(
                "notification channel {:?} of project {:?}",
                r.name, r.project
            )));
        }
        shared::insert_audit(&mut *conn, channel.audit).await
    }

    pub(crate) fn delivery_from_row(row: &DbRow) -> Result<DeliveryRecord> {
        Ok(DeliveryRecord {
            id: row.try_get("id")?,
            project: row.try_get("project")?,
            rule: row.try_get("rule")?,
            channel: row.try_get("channel")?,
            event: row.try_get("event")?,
            event_id: row.try_get("event_id")?,
            keptn_context: row.try_get("keptn_context")?,
            stage: row.try_get("stage")?,
            service: row.try_get("service")?,
            body: row.try_get("body")?,
            state: row.try_get("state")?,
            attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(0),
            next_at: from_nanos(row.try_get("next_at")?),
            created_at: from_nanos(row.try_get("created_at")?),
            last_status: small(row.try_get("last_status")?),
            last_error: row.try_get("last_error")?,
        })
    }

    /// Checks that `key` opens every notification's sealed secrets.
    pub(crate) async fn check_sealed_notifications(
        conn: &mut Conn,
        key: &crate::SecretsKey,
    ) -> Result<()> {
        let rows: Vec<(String, String, Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT project, name, nonce, sealed FROM notification_channels")
                .fetch_all(&mut *conn)
                .await?;
        for (project, name, nonce, sealed) in &rows {
            let aad = sealed_name(project, name);
            if key.open(&aad, nonce, sealed).is_none() {
                return Err(Error::WrongSecretsKey { name: aad });
            }
        }
        Ok(())
    }

    /// Re-encrypts every notification's sealed secrets from `old` to `new`.
    pub(crate) async fn reseal_notifications(
        conn: &mut Conn,
        old: &crate::SecretsKey,
        new: &crate::SecretsKey,
    ) -> Result<()> {
        let rows: Vec<(String, String, Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT project, name, nonce, sealed FROM notification_channels")
                .fetch_all(&mut *conn)
                .await?;
        for (project, name, nonce, sealed) in &rows {
            let aad = sealed_name(project, name);
            let text = old
                .open(&aad, nonce, sealed)
                .ok_or_else(|| Error::WrongSecretsKey { name: aad.clone() })?;
            let (nonce, sealed) = new.seal(&aad, &text)?;
            sqlx::query("UPDATE notification_channels SET nonce = $1, sealed = $2 WHERE project = $3 AND name = $4")
                .bind(nonce)
                .bind(sealed)
                .bind(project)
                .bind(name)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

impl Store {
    /// Stores a new channel with its sealed `secret` text and its audit entry in one
    /// transaction; a taken name is [`Error::AlreadyExists`] and writes nothing. The store's
    /// secrets must be unlocked.
    pub async fn create_notification_channel(&self, channel: &NewChannel<'_>) -> Result<()> {
        let key = self.secrets_key()?;
        let r = channel.record;
        let (nonce, sealed) = key.seal(&sealed_name(&r.project, &r.name), channel.secret)?;
        with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            backend::insert_channel(&mut tx, channel, (&nonce, &sealed)).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Stores a new rule and its audit entry, and first `channel` when given (a rule and its
    /// channel created in one go), in one transaction. A taken name is
    /// [`Error::AlreadyExists`], a channel the project does not have [`Error::NotFound`]; both
    /// write nothing.
    pub async fn create_notification_rule(
        &self,
        rule: &RuleRecord,
        channel: Option<&NewChannel<'_>>,
        audit: &AuditEntry,
    ) -> Result<()> {
        let sealed = match channel {
            Some(c) => {
                let key = self.secrets_key()?;
                Some(key.seal(&sealed_name(&c.record.project, &c.record.name), c.secret)?)
            }
            None => None,
        };
        let events = list_text("notification events", &rule.events)?;
        let stages = list_text("notification stages", &rule.stages)?;
        let services = list_text("notification services", &rule.services)?;
        with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            if let (Some(c), Some((nonce, sealed))) = (channel, &sealed) {
                backend::insert_channel(&mut tx, c, (nonce.as_slice(), sealed.as_slice())).await?;
            }
            let found: Option<String> = sqlx::query_scalar(
                "SELECT name FROM notification_channels WHERE project = $1 AND name = $2",
            )
            .bind(&rule.project)
            .bind(&rule.channel)
            .fetch_optional(&mut *tx)
            .await?;
            if found.is_none() {
                return Err(Error::not_found(format!(
                    "notification channel {:?} of project {:?}",
                    rule.channel, rule.project
                )));
            }
            let done = sqlx::query(concat!(
                "INSERT INTO notification_rules (",
                rule_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (project, name) DO NOTHING"
            ))
            .bind(&rule.project)
            .bind(&rule.name)
            .bind(&rule.channel)
            .bind(&events)
            .bind(&stages)
            .bind(&services)
            .bind(&rule.created_by)
            .bind(to_nanos(rule.created_at))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done == 0 {
                return Err(Error::exists(format!(
                    "notification rule {:?} of project {:?}",
                    rule.name, rule.project
                )));
            }
            shared::commit_audited(tx, audit).await
        })
    }

    /// The channels of a project, by name.
    pub async fn notification_channels(&self, project: &str) -> Result<Vec<ChannelRecord>> {
        with_db!(self, |readers, writer, d| {
            let rows = sqlx::query(concat!(
                "SELECT ",
                channel_columns!(),
                " FROM notification_channels WHERE project = $1 ORDER BY name"
            ))
            .bind(project)
            .fetch_all(readers)
            .await?;
            rows.iter().map(backend::channel_from_row).collect()
        })
    }

    /// The position of the newest stored event while no project has a notification rule,
    /// `None` once one has (the notifier skips the event log up to it). One statement, so
    /// the position and the absence of rules are read from the same snapshot.
    pub async fn log_end_without_rules(&self) -> Result<Option<i64>> {
        with_db!(self, |readers, writer, d| {
            Ok(sqlx::query_scalar(
                "SELECT (SELECT COALESCE(MAX(seq), 0) FROM events) \
                 WHERE NOT EXISTS (SELECT 1 FROM notification_rules)",
            )
            .fetch_optional(readers)
            .await?)
        })
    }

    /// The rules of a project, by name.
    pub async fn notification_rules(&self, project: &str) -> Result<Vec<RuleRecord>> {
        with_db!(self, |readers, writer, d| {
            let rows = sqlx::query(concat!(
                "SELECT ",
                rule_columns!(),
                " FROM notification_rules WHERE project = $1 ORDER BY name"
            ))
            .bind(project)
            .fetch_all(readers)
            .await?;
            rows.iter().map(backend::rule_from_row).collect()
        })
    }

    /// The sealed text stored with a channel, opened.
    pub async fn notification_channel_secret(&self, project: &str, name: &str) -> Result<String> {
        let key = self.secrets_key()?;
        let (nonce, sealed): (Vec<u8>, Vec<u8>) = with_db!(self, |readers, writer, d| {
            sqlx::query_as(
                "SELECT nonce, sealed FROM notification_channels WHERE project = $1 AND name = $2",
            )
            .bind(project)
            .bind(name)
            .fetch_optional(readers)
            .await?
            .ok_or_else(|| Error::not_found(format!("notification channel {name:?}")))?
        });
        let aad = sealed_name(project, name);
        key.open(&aad, &nonce, &sealed)
            .ok_or(Error::WrongSecretsKey { name: aad })
    }

    /// Deletes a channel and writes its audit entry in one transaction; an unknown name is
    /// [`Error::NotFound`], a channel that rules use [`Error::InUse`] (nothing is deleted).
    pub async fn delete_notification_channel(
        &self,
        project: &str,
        name: &str,
        audit: &AuditEntry,
    ) -> Result<()> {
        with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            let users: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM notification_rules WHERE project = $1 AND channel = $2 ORDER BY name",
            )
            .bind(project)
            .bind(name)
            .fetch_all(&mut *tx)
            .await?;
            if !users.is_empty() {
                return Err(Error::InUse {
                    what: format!("notification channel {name:?} of project {project:?}"),
                    users: format!("the rules {}", users.join(", ")),
                });
            }
            let done =
                sqlx::query("DELETE FROM notification_channels WHERE project = $1 AND name = $2")
                    .bind(project)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if done == 0 {
                return Err(Error::not_found(format!(
                    "notification channel {name:?} of project {project:?}"
                )));
            }
            shared::commit_audited(tx, audit).await
        })
    }

    /// Deletes a rule, its deliveries and their attempts, and writes the audit entry, in one
    /// transaction; an unknown name is [`Error::NotFound`]. With `channel_audit`, its channel
    /// goes too when no other rule uses it (with that audit entry). Answers whether the
    /// channel was deleted.
    pub async fn delete_notification_rule(
        &self,
        project: &str,
        name: &str,
        audit: &AuditEntry,
        channel_audit: Option<&AuditEntry>,
    ) -> Result<bool> {
        with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            let channel: Option<String> = sqlx::query_scalar(
                "SELECT channel FROM notification_rules WHERE project = $1 AND name = $2",
            )
            .bind(project)
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(channel) = channel else {
                return Err(Error::not_found(format!(
                    "notification rule {name:?} of project {project:?}"
                )));
            };
            sqlx::query("DELETE FROM notification_rules WHERE project = $1 AND name = $2")
                .bind(project)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "DELETE FROM notification_attempts WHERE delivery_id IN \
                 (SELECT id FROM notification_deliveries WHERE project = $1 AND rule = $2)",
            )
            .bind(project)
            .bind(name)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM notification_deliveries WHERE project = $1 AND rule = $2")
                .bind(project)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            shared::insert_audit(&mut tx, audit).await?;
            let mut dropped = false;
            if let Some(channel_audit) = channel_audit {
                let used: Option<String> = sqlx::query_scalar(
                    "SELECT name FROM notification_rules WHERE project = $1 AND channel = $2 LIMIT 1",
                )
                .bind(project)
                .bind(&channel)
                .fetch_optional(&mut *tx)
                .await?;
                if used.is_none() {
                    sqlx::query(
                        "DELETE FROM notification_channels WHERE project = $1 AND name = $2",
                    )
                    .bind(project)
                    .bind(&channel)
                    .execute(&mut *tx)
                    .await?;
                    shared::insert_audit(&mut tx, channel_audit).await?;
                    dropped = true;
                }
            }
            tx.commit().await?;
            Ok(dropped)
        })
    }

    /// Inserts deliveries (those whose id is stored already are skipped) and sets the setting
    /// `cursor` to `position`, in one transaction.
    pub async fn enqueue_deliveries(
        &self,
        deliveries: &[DeliveryRecord],
        cursor: &str,
        position: i64,
    ) -> Result<()> {
        with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            for r in deliveries {
                sqlx::query(concat!(
                    "INSERT INTO notification_deliveries (",
                    delivery_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
                     ON CONFLICT (id) DO NOTHING"
                ))
                .bind(&r.id)
                .bind(&r.project)
                .bind(&r.rule)
                .bind(&r.channel)
                .bind(&r.event)
                .bind(&r.event_id)
                .bind(&r.keptn_context)
                .bind(&r.stage)
                .bind(&r.service)
                .bind(&r.body)
                .bind(&r.state)
                .bind(i64::from(r.attempts))
                .bind(to_nanos(r.next_at))
                .bind(to_nanos(r.created_at))
                .bind(i64::from(r.last_status))
                .bind(&r.last_error)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(cursor)
            .bind(position.to_string())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Pending deliveries due at `now`, oldest due first.
    pub async fn due_deliveries(&self, now: Timestamp, limit: u32) -> Result<Vec<DeliveryRecord>> {
        with_db!(self, |readers, writer, d| {
            let rows = sqlx::query(concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM notification_deliveries WHERE state = 'pending' AND next_at <= $1 \
                 ORDER BY next_at, id LIMIT $2"
            ))
            .bind(to_nanos(now))
            .bind(i64::from(limit))
            .fetch_all(readers)
            .await?;
            rows.iter().map(backend::delivery_from_row).collect()
        })
    }

    /// When the earliest pending delivery is due, if any is pending.
    pub async fn next_delivery_due(&self) -> Result<Option<Timestamp>> {
        let next: Option<i64> = with_db!(self, |readers, writer, d| {
            sqlx::query_scalar(
                "SELECT MIN(next_at) FROM notification_deliveries WHERE state = 'pending'",
            )
            .fetch_one(readers)
            .await?
        });
        Ok(next.map(from_nanos))
    }

    /// Records an attempt of a delivery and its new state in one transaction. A delivery
    /// deleted meanwhile (with its rule) records nothing.
    pub async fn record_attempt(&self, id: &str, outcome: &AttemptOutcome) -> Result<()> {
        let a = &outcome.attempt;
        with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            let done = sqlx::query(
                "UPDATE notification_deliveries SET state = $1, attempts = $2, next_at = $3, \
                 last_status = $4, last_error = $5 WHERE id = $6",
            )
            .bind(&outcome.state)
            .bind(i64::from(a.n))
            .bind(to_nanos(outcome.next_at))
            .bind(i64::from(a.status))
            .bind(&a.error)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if done > 0 {
                sqlx::query(
                    "INSERT INTO notification_attempts (delivery_id, n, at, status, error) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (delivery_id, n) DO NOTHING",
                )
                .bind(id)
                .bind(i64::from(a.n))
                .bind(to_nanos(a.at))
                .bind(i64::from(a.status))
                .bind(&a.error)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// A page of a project's delivery log, newest first.
    pub async fn deliveries(
        &self,
        project: &str,
        query: &DeliveryQuery,
        paging: &Paging,
    ) -> Result<Page<DeliveryRecord>> {
        let (limit, offset) = paging.resolve(MAX_DELIVERY_PAGE)?;
        let n = query.rule.clone().unwrap_or_default();
        let s = query.state.clone().unwrap_or_default();
        with_db!(self, |readers, writer, d| {
            let total: i64 = sqlx::query_scalar(concat!(
                "SELECT COUNT(*) FROM notification_deliveries WHERE ",
                delivery_filter!()
            ))
            .bind(project)
            .bind(&n)
            .bind(&s)
            .fetch_one(readers)
            .await?;
            let rows = sqlx::query(concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM notification_deliveries WHERE ",
                delivery_filter!(),
                " ORDER BY created_at DESC, id LIMIT $4 OFFSET $5"
            ))
            .bind(project)
            .bind(&n)
            .bind(&s)
            .bind(i64::from(limit))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(readers)
            .await?;
            let items = rows
                .iter()
                .map(backend::delivery_from_row)
                .collect::<Result<Vec<_>>>()?;
            Ok(Page::new(
                items,
                limit,
                offset,
                u64::try_from(total).unwrap_or(0),
            ))
        })
    }

    /// Deletes the finished (delivered or failed) deliveries enqueued before `before`, with
    /// their attempts, in one transaction; pending ones stay. Answers how many were deleted.
    pub async fn prune_deliveries(&self, before: Timestamp) -> Result<u64> {
        with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            sqlx::query(
                "DELETE FROM notification_attempts WHERE delivery_id IN \
                 (SELECT id FROM notification_deliveries WHERE state <> 'pending' AND created_at < $1)",
            )
            .bind(to_nanos(before))
            .execute(&mut *tx)
            .await?;
            let done = sqlx::query(
                "DELETE FROM notification_deliveries WHERE state <> 'pending' AND created_at < $1",
            )
            .bind(to_nanos(before))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok(done)
        })
    }

    /// The attempts of a delivery, in order.
    pub async fn delivery_attempts(&self, id: &str) -> Result<Vec<DeliveryAttempt>> {
        let rows: Vec<(i64, i64, i64, String)> = with_db!(self, |readers, writer, d| {
            sqlx::query_as(
                "SELECT n, at, status, error FROM notification_attempts WHERE delivery_id = $1 \
                 ORDER BY n",
            )
            .bind(id)
            .fetch_all(readers)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(n, at, status, error)| DeliveryAttempt {
                n: u32::try_from(n).unwrap_or(0),
                at: from_nanos(at),
                status: small(status),
                error,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audit(action: &str) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at: Timestamp::from_unix(100, 0),
            actor: "admin".into(),
            action: action.into(),
            project: "shop".into(),
            stage: String::new(),
            service: String::new(),
            keptn_context: String::new(),
            detail: "n1".into(),
            client: "127.0.0.1".into(),
        }
    }

    fn channel(name: &str) -> ChannelRecord {
        ChannelRecord {
            project: "shop".into(),
            name: name.into(),
            kind: "slack".into(),
            target: "https://hooks.slack.com/…".into(),
            template: "{{.project}}".into(),
            created_by: "admin".into(),
            created_at: Timestamp::from_unix(100, 0),
        }
    }

    fn rule(name: &str, channel: &str) -> RuleRecord {
        RuleRecord {
            project: "shop".into(),
            name: name.into(),
            channel: channel.into(),
            events: vec!["sequence.failed".into()],
            stages: vec!["prod".into()],
            services: vec![],
            created_by: "admin".into(),
            created_at: Timestamp::from_unix(100, 0),
        }
    }

    fn delivery(id: &str, name: &str, secs: i64) -> DeliveryRecord {
        DeliveryRecord {
            id: id.into(),
            project: "shop".into(),
            rule: name.into(),
            channel: "c1".into(),
            event: "sequence.failed".into(),
            event_id: format!("e-{id}"),
            keptn_context: "ctx".into(),
            stage: "prod".into(),
            service: "cart".into(),
            body: "{}".into(),
            state: state::PENDING.into(),
            attempts: 0,
            next_at: Timestamp::from_unix(secs, 0),
            created_at: Timestamp::from_unix(secs, 0),
            last_status: 0,
            last_error: String::new(),
        }
    }

    #[tokio::test]
    async fn notifications_deliveries_and_attempts_on_both_backends() {
        for backend in crate::testutil::backends("notifications").await {
            let store = backend.open().await;
            let key = crate::SecretsKey::generate().unwrap();
            store.unlock_secrets(key.clone()).await.unwrap();
            let c1 = channel("c1");
            let create = audit("notification.channel.create");
            let new = NewChannel {
                record: &c1,
                secret: r#"{"url":"https://x/secret"}"#,
                audit: &create,
            };
            // No rule yet: the notifier may skip to the end of the (empty) log.
            assert_eq!(store.log_end_without_rules().await.unwrap(), Some(0));
            // A rule and its channel in one go; a second channel of that name writes nothing,
            // not even the rule.
            store
                .create_notification_rule(
                    &rule("n1", "c1"),
                    Some(&new),
                    &audit("notification.rule.create"),
                )
                .await
                .unwrap();
            assert_eq!(store.log_end_without_rules().await.unwrap(), None);
            assert!(matches!(
                store
                    .create_notification_rule(&rule("n2", "c1"), Some(&new), &audit("x"))
                    .await,
                Err(Error::AlreadyExists { .. })
            ));
            assert!(matches!(
                store.create_notification_channel(&new).await,
                Err(Error::AlreadyExists { .. })
            ));
            assert!(matches!(
                store
                    .create_notification_rule(&rule("n2", "nope"), None, &audit("x"))
                    .await,
                Err(Error::NotFound { .. })
            ));
            assert!(matches!(
                store
                    .create_notification_rule(&rule("n1", "c1"), None, &audit("x"))
                    .await,
                Err(Error::AlreadyExists { .. })
            ));
            // A second rule on the same channel.
            store
                .create_notification_rule(
                    &rule("n2", "c1"),
                    None,
                    &audit("notification.rule.create"),
                )
                .await
                .unwrap();
            assert_eq!(
                store.notification_channels("shop").await.unwrap(),
                vec![c1.clone()]
            );
            assert_eq!(
                store.notification_rules("shop").await.unwrap(),
                vec![rule("n1", "c1"), rule("n2", "c1")]
            );
            assert!(store.notification_rules("other").await.unwrap().is_empty());
            assert_eq!(
                store
                    .notification_channel_secret("shop", "c1")
                    .await
                    .unwrap(),
                r#"{"url":"https://x/secret"}"#
            );
            // Rotation re-seals it; a wrong key no longer unlocks the store.
            let new_key = crate::SecretsKey::generate().unwrap();
            store.rotate_secrets_key(new_key.clone()).await.unwrap();
            assert!(
                store
                    .notification_channel_secret("shop", "c1")
                    .await
                    .is_ok()
            );
            assert!(matches!(
                store.unlock_secrets(key).await,
                Err(Error::WrongSecretsKey { .. })
            ));
            store.unlock_secrets(new_key).await.unwrap();

            // Enqueueing twice inserts once and moves the cursor.
            let batch = [delivery("d1", "n1", 10), delivery("d2", "n1", 20)];
            store
                .enqueue_deliveries(&batch, "notify.position", 5)
                .await
                .unwrap();
            store
                .enqueue_deliveries(&batch[..1], "notify.position", 6)
                .await
                .unwrap();
            assert_eq!(
                store.setting("notify.position").await.unwrap(),
                Some(serde_json::json!(6))
            );
            let due = store
                .due_deliveries(Timestamp::from_unix(15, 0), 10)
                .await
                .unwrap();
            assert_eq!(due, vec![batch[0].clone()]);
            assert_eq!(
                store.next_delivery_due().await.unwrap(),
                Some(Timestamp::from_unix(10, 0))
            );
            let failed_once = AttemptOutcome {
                attempt: DeliveryAttempt {
                    n: 1,
                    at: Timestamp::from_unix(11, 0),
                    status: 503,
                    error: "HTTP 503".into(),
                },
                state: state::PENDING.into(),
                next_at: Timestamp::from_unix(30, 0),
            };
            store.record_attempt("d1", &failed_once).await.unwrap();
            let ok = AttemptOutcome {
                attempt: DeliveryAttempt {
                    n: 2,
                    at: Timestamp::from_unix(31, 0),
                    status: 200,
                    error: String::new(),
                },
                state: state::DELIVERED.into(),
                next_at: Timestamp::from_unix(31, 0),
            };
            store.record_attempt("d1", &ok).await.unwrap();
            assert_eq!(
                store.delivery_attempts("d1").await.unwrap(),
                vec![failed_once.attempt.clone(), ok.attempt.clone()]
            );
            let log = store
                .deliveries("shop", &DeliveryQuery::default(), &Paging::default())
                .await
                .unwrap();
            assert_eq!(log.total_count, 2);
            assert_eq!(log.items[0].id, "d2", "newest first");
            assert_eq!(log.items[1].state, state::DELIVERED);
            assert_eq!(log.items[1].attempts, 2);
            assert_eq!(log.items[1].last_status, 200);
            let delivered = store
                .deliveries(
                    "shop",
                    &DeliveryQuery {
                        state: Some(state::DELIVERED.into()),
                        ..DeliveryQuery::default()
                    },
                    &Paging::default(),
                )
                .await
                .unwrap();
            assert_eq!(delivered.total_count, 1);
            assert_eq!(
                store.next_delivery_due().await.unwrap(),
                Some(Timestamp::from_unix(20, 0))
            );
            // Pruning keeps pending deliveries and what is newer.
            assert_eq!(
                store
                    .prune_deliveries(Timestamp::from_unix(5, 0))
                    .await
                    .unwrap(),
                0
            );
            assert_eq!(
                store
                    .prune_deliveries(Timestamp::from_unix(100, 0))
                    .await
                    .unwrap(),
                1
            );
            assert!(store.delivery_attempts("d1").await.unwrap().is_empty());
            let left = store
                .deliveries("shop", &DeliveryQuery::default(), &Paging::default())
                .await
                .unwrap();
            assert_eq!(left.items.len(), 1);
            assert_eq!(left.items[0].id, "d2");

            // A channel in use is not deleted; deleting a rule deletes its queue and log, and
            // its channel only when asked and no other rule uses it.
            assert!(matches!(
                store
                    .delete_notification_channel("shop", "c1", &audit("x"))
                    .await,
                Err(Error::InUse { .. })
            ));
            let dropped = store
                .delete_notification_rule(
                    "shop",
                    "n1",
                    &audit("notification.rule.delete"),
                    Some(&audit("notification.channel.delete")),
                )
                .await
                .unwrap();
            assert!(!dropped, "n2 still uses c1");
            assert!(matches!(
                store
                    .delete_notification_rule("shop", "n1", &audit("x"), None)
                    .await,
                Err(Error::NotFound { .. })
            ));
            store.record_attempt("d2", &ok).await.unwrap();
            assert!(store.delivery_attempts("d2").await.unwrap().is_empty());
            assert_eq!(store.next_delivery_due().await.unwrap(), None);
            store
                .delete_notification_rule("shop", "n2", &audit("notification.rule.delete"), None)
                .await
                .unwrap();
            store
                .delete_notification_channel("shop", "c1", &audit("notification.channel.delete"))
                .await
                .unwrap();
            assert!(
                store
                    .notification_channels("shop")
                    .await
                    .unwrap()
                    .is_empty()
            );
            let actions: Vec<String> = store
                .audit_entries(&crate::AuditQuery::default(), &Paging::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|e| e.action)
                .collect();
            assert_eq!(
                actions,
                [
                    "notification.channel.delete",
                    "notification.rule.delete",
                    "notification.rule.delete",
                    "notification.rule.create",
                    "notification.rule.create",
                    "notification.channel.create",
                ]
            );
        }
    }
}
