//! Sequence executions and the atomic [`Store::commit`] of the engine driver.

use std::collections::HashSet;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::events::EventRow;
use crate::page::{Page, Paging};
use crate::query::{Arg, Conditions};
use crate::statements;
use crate::{Db, Dialect, Store, from_nanos, parse_stored, to_nanos};
use serde_json::Value;
use sluice_model::event::{KeptnEvent, Timestamp};

/// Largest page of the execution list (Keptn's sequence-state API: 50).
pub const MAX_EXECUTION_PAGE: u32 = 50;

/// One sequence execution as stored: the engine's serialized execution (`body`, opaque to the
/// store) plus the columns the store filters and sorts on.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRecord {
    /// Execution id.
    pub id: String,
    /// Project.
    pub project: String,
    /// Stage.
    pub stage: String,
    /// Service.
    pub service: String,
    /// `shkeptncontext` of the run.
    pub keptn_context: String,
    /// Sequence name.
    pub sequence_name: String,
    /// The engine's state name (for filters; the store does not interpret it).
    pub state: String,
    /// Whether the execution is over (not loaded by [`Store::load_active_executions`]).
    pub terminal: bool,
    /// When the sequence was triggered.
    pub triggered_at: Timestamp,
    /// The commit that last wrote this record ([`CommitOutcome::commit_seq`]); ignored when
    /// writing.
    pub updated_seq: u64,
    /// The engine's execution as JSON text (must be valid JSON).
    pub body: String,
}

impl ExecutionRecord {
    /// Reads `body` into the engine's type.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        parse_stored("sequence execution", &self.body)
    }
}

dual! {
    use sqlx::Row;

    /// The record of a row with [`EXECUTION_COLUMNS`].
    pub(crate) fn execution_from_row(row: &DbRow) -> Result<ExecutionRecord> {
        Ok(ExecutionRecord {
            id: row.try_get("id")?,
            project: row.try_get("project")?,
            stage: row.try_get("stage")?,
            service: row.try_get("service")?,
            keptn_context: row.try_get("keptn_context")?,
            sequence_name: row.try_get("sequence_name")?,
            state: row.try_get("state")?,
            terminal: row.try_get::<i64, _>("terminal")? != 0,
            triggered_at: from_nanos(row.try_get("triggered_at")?),
            updated_seq: row.try_get::<i64, _>("updated_seq")? as u64,
            body: row.try_get("body")?,
        })
    }
}

/// The PostgreSQL side of [`Store::commit`] (SQLite's runs on the commit thread,
/// [`crate::commit_thread`]).
mod pg_commit {
    use super::*;
    use crate::backend::postgres as shared;
    use sqlx::PgConnection as Conn;

    const D: Dialect = Dialect::Postgres;

    /// Inserts or replaces executions with one statement (ids must be distinct).
    async fn upsert_executions(
        conn: &mut Conn,
        executions: &[ExecutionRecord],
        commit_seq: i64,
    ) -> Result<()> {
        if executions.is_empty() {
            return Ok(());
        }
        let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; executions.len()].join(", ");
        let mut q = sqlx::query(D.sql_owned(format!(
            "{}{values}{}",
            statements::EXECUTION_INSERT_HEAD,
            statements::EXECUTION_UPSERT_TAIL
        )));
        for e in executions {
            q = q
                .bind(&e.id)
                .bind(&e.project)
                .bind(&e.stage)
                .bind(&e.service)
                .bind(&e.keptn_context)
                .bind(&e.sequence_name)
                .bind(&e.state)
                .bind(i64::from(e.terminal))
                .bind(to_nanos(e.triggered_at))
                .bind(commit_seq)
                .bind(&e.body);
        }
        q.execute(&mut *conn).await?;
        Ok(())
    }

    /// Records the last events of services (Keptn's `lastEventTypes`) in one statement for the
    /// whole batch (services that do not exist are skipped). Each entry of the patch is a
    /// whole object, so PostgreSQL's top-level `||` gives what SQLite's `json_patch` gives
    /// ([`statements::SQLITE_WRITE_LAST_EVENTS`]).
    async fn write_last_events(conn: &mut Conn, entries: &[crate::LastEvent]) -> Result<()> {
        let Some(patches) = crate::projects::last_event_patches(entries)? else {
            return Ok(());
        };
        sqlx::query(D.sql(
            "UPDATE service_stages \
             SET last_event_types = (last_event_types::jsonb || v.patch)::text \
             FROM (SELECT value ->> 0 AS project, value ->> 1 AS stage, value ->> 2 AS service, \
             value -> 3 AS patch FROM jsonb_array_elements(?::jsonb) AS t(value)) AS v \
             WHERE service_stages.project = v.project AND service_stages.stage = v.stage \
             AND service_stages.service = v.service",
        ))
        .bind(patches)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// [`Store::commit`] inside a transaction.
    pub(super) async fn commit_in(
        tx: &mut Conn,
        changes: &Changes,
        rows: Vec<(EventRow, bool)>,
    ) -> Result<CommitOutcome> {
        // One round trip for the commit's number and where its events' `seq`s start.
        let (commit_seq, last_seq): (i64, i64) = sqlx::query_as(statements::COMMIT_COUNTER)
            .fetch_one(&mut *tx)
            .await?;
        let mut out = CommitOutcome {
            commit_seq: commit_seq as u64,
            ..CommitOutcome::default()
        };
        // Multi-row statements: a batch of many events costs a few round trips.
        let rows: Vec<(EventRow, Option<bool>)> = rows
            .into_iter()
            .map(|(row, outgoing)| (row, outgoing.then_some(false)))
            .collect();
        let mut stored = shared::insert_rows_after(&mut *tx, &rows, last_seq)
            .await?
            .ids;
        for (row, _) in &rows {
            // The first row of an id is the stored one; a repeat in the batch is a duplicate.
            if stored.remove(row.id()) {
                out.inserted.push(row.id().to_string());
            } else {
                out.duplicates.push(row.id().to_string());
            }
        }
        for chunk in changes.executions_upsert.chunks(EXECUTIONS_PER_STATEMENT) {
            upsert_executions(&mut *tx, chunk, commit_seq).await?;
        }
        for id in &changes.executions_delete {
            sqlx::query(D.sql(statements::DELETE_EXECUTION))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for (key, value) in &changes.settings_set {
            sqlx::query(D.sql(statements::SET_SETTING))
                .bind(key)
                .bind(value.to_string())
                .execute(&mut *tx)
                .await?;
        }
        shared::mark_dispatched_in(&mut *tx, &changes.dispatched).await?;
        write_last_events(&mut *tx, &changes.last_events).await?;
        for entry in entries_of_stored(&changes.audit, &out.inserted) {
            shared::insert_audit(&mut *tx, entry).await?;
        }
        Ok(out)
    }
}

const EXECUTION_COLUMNS: &str = "id, project, stage, service, keptn_context, sequence_name, \
     state, terminal, triggered_at, updated_seq, body";

/// An event written by [`Store::commit`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The event (shared with whoever publishes it, so a batch of events is not copied).
    pub event: Arc<KeptnEvent>,
    /// `true` for an event sluice has to send: it is kept in the outbox until
    /// [`Store::mark_dispatched`]. `false` for a received event that is only recorded.
    pub outgoing: bool,
}

/// Everything one step of the engine driver persists, written in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// Events to store (incoming and outgoing); known ids are skipped and reported.
    pub events: Vec<NewEvent>,
    /// Executions to insert or replace.
    pub executions_upsert: Vec<ExecutionRecord>,
    /// Ids of executions to delete (unknown ids are ignored).
    pub executions_delete: Vec<String>,
    /// Settings to write (key, JSON value), replacing earlier values.
    pub settings_set: Vec<(String, Value)>,
    /// Ids of outgoing events sent since an earlier commit, to mark dispatched in this one
    /// (like [`Store::mark_dispatched`], without a transaction of its own).
    pub dispatched: Vec<String>,
    /// Last events of services to record (Keptn's `lastEventTypes`: a later entry of a type
    /// wins; services that do not exist are skipped).
    pub last_events: Vec<crate::LastEvent>,
    /// Audit entries of events of this commit, as (event id, entry): an entry is written
    /// only when its event is stored by this commit (not for a duplicate), in the same
    /// transaction, so an accepted change is never without its entry nor the other way round.
    pub audit: Vec<(String, crate::AuditEntry)>,
}

/// The audit entries of [`Changes::audit`] whose event a commit stored (`inserted`), in
/// order: both backends' commits write these and no others.
pub(crate) fn entries_of_stored<'a>(
    audit: &'a [(String, crate::AuditEntry)],
    inserted: &'a [String],
) -> impl Iterator<Item = &'a crate::AuditEntry> {
    audit
        .iter()
        .filter(|(id, _)| inserted.contains(id))
        .map(|(_, entry)| entry)
}

impl Changes {
    /// Adds the changes of a later step, so that committing the result once stores the same as
    /// committing `self` and then `later` (group commit of several batches): events and last
    /// events in order, a later execution or setting replaces an earlier one with the
    /// same key, a later delete or clear undoes an earlier upsert or set and the other way
    /// round.
    pub fn absorb(&mut self, later: Changes) {
        let Changes {
            events,
            executions_upsert,
            executions_delete,
            settings_set,
            dispatched,
            last_events,
            audit,
        } = later;
        self.events.extend(events);
        let upserted: HashSet<&str> = executions_upsert.iter().map(|e| e.id.as_str()).collect();
        let deleted: HashSet<&str> = executions_delete.iter().map(String::as_str).collect();
        self.executions_upsert
            .retain(|e| !upserted.contains(e.id.as_str()) && !deleted.contains(e.id.as_str()));
        self.executions_delete
            .retain(|id| !upserted.contains(id.as_str()) && !deleted.contains(id.as_str()));
        let settings: HashSet<&str> = settings_set.iter().map(|(k, _)| k.as_str()).collect();
        self.settings_set
            .retain(|(k, _)| !settings.contains(k.as_str()));
        self.executions_upsert.extend(executions_upsert);
        self.executions_delete.extend(executions_delete);
        self.settings_set.extend(settings_set);
        self.dispatched.extend(dispatched);
        self.last_events.extend(last_events);
        self.audit.extend(audit);
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.executions_upsert.is_empty()
            && self.executions_delete.is_empty()
            && self.settings_set.is_empty()
            && self.dispatched.is_empty()
            && self.last_events.is_empty()
            && self.audit.is_empty()
    }
}

/// What a commit did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitOutcome {
    /// Number of this commit (increases by one per commit, never reused).
    pub commit_seq: u64,
    /// Ids of the events stored.
    pub inserted: Vec<String>,
    /// Ids of events that were stored before (skipped).
    pub duplicates: Vec<String>,
}

/// Filter of [`Store::runs`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunQuery {
    /// Project.
    pub project: String,
    /// Any of these contexts (empty: all).
    pub keptn_contexts: Vec<String>,
    /// Name of the run's first sequence.
    pub sequence_name: Option<String>,
    /// First sequence triggered strictly after.
    pub from_time: Option<Timestamp>,
    /// First sequence triggered strictly before.
    pub before_time: Option<Timestamp>,
}

/// Filter of [`Store::executions`]; results are newest triggered first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecutionQuery {
    /// Project.
    pub project: Option<String>,
    /// Stage.
    pub stage: Option<String>,
    /// Sequence name (`name` in Keptn's API).
    pub sequence_name: Option<String>,
    /// State name.
    pub state: Option<String>,
    /// Triggered strictly after.
    pub from_time: Option<Timestamp>,
    /// Triggered strictly before.
    pub before_time: Option<Timestamp>,
    /// Any of these contexts (empty: all).
    pub keptn_contexts: Vec<String>,
    /// The page (max 50).
    pub paging: Paging,
}

/// Chained commits that may wait on SQLite's commit thread at a time (see
/// [`Store::commit_pipeline`]): while it writes one, the next ones are ready. Measured
/// (docs/performance.md): 2 was better than 1, and once checkpoints left the commit thread
/// 4 was better than 2; 64 made the transactions smaller, each with its fixed pages to
/// write, and cost more CPU per event.
const SQLITE_COMMIT_PIPELINE: usize = 4;

/// A commit handed over by [`Store::send_commit`]: a future of its outcome.
pub struct SentCommit(Sent);

enum Sent {
    /// On the commit thread's queue.
    Queued(tokio::sync::oneshot::Receiver<Result<CommitOutcome>>),
    /// Runs when awaited.
    Deferred(std::pin::Pin<Box<dyn Future<Output = Result<CommitOutcome>> + Send>>),
}

impl std::fmt::Debug for SentCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SentCommit")
    }
}

impl Future for SentCommit {
    type Output = Result<CommitOutcome>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        match &mut self.0 {
            Sent::Queued(rx) => std::pin::Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or(Err(Error::Database(sqlx::Error::PoolClosed)))),
            Sent::Deferred(f) => f.as_mut().poll(cx),
        }
    }
}

/// What the commit thread writes for `changes` (whose event rows are `rows`).
pub(crate) fn work_of(
    changes: Changes,
    rows: Vec<(EventRow, bool)>,
) -> Result<crate::commit_thread::Work> {
    Ok(crate::commit_thread::Work {
        rows,
        last_events: crate::projects::last_event_patches(&changes.last_events)?,
        dispatched: (!changes.dispatched.is_empty())
            .then(|| crate::events::json_array(&changes.dispatched)),
        settings_set: changes
            .settings_set
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect(),
        executions_upsert: changes.executions_upsert,
        executions_delete: changes.executions_delete,
        audit: changes.audit,
    })
}

/// Executions per multi-row upsert (11 parameters each).
const EXECUTIONS_PER_STATEMENT: usize = 500;

impl Store {
    /// Writes all `changes` in one transaction: either everything is stored or (on any
    /// error, e.g. an execution body that is not JSON, refused by the database) nothing.
    /// Returns after the commit is durable (see [`crate::Durability`]).
    pub async fn commit(&self, changes: Changes) -> Result<CommitOutcome> {
        let rows = self.event_rows(&changes)?;
        let pool = match &self.db {
            Db::Sqlite { committer, .. } => {
                return committer.commit(work_of(changes, rows)?).await;
            }
            Db::Postgres(pool) => pool,
        };
        let fence = self.fence.load(std::sync::atomic::Ordering::SeqCst);
        let mut tx = pool.begin().await?;
        if fence != 0 {
            // Held until the commit: a newer term's `UPDATE cluster` waits for it, and
            // a commit after that update sees the newer term and writes nothing.
            let current: i64 = sqlx::query_scalar(
                Dialect::Postgres.sql("SELECT epoch FROM cluster WHERE id = 1 FOR SHARE"),
            )
            .fetch_one(&mut *tx)
            .await?;
            if current as u64 != fence {
                return Err(Error::Fenced {
                    held: fence,
                    current: current as u64,
                });
            }
        }
        let out = pg_commit::commit_in(&mut tx, &changes, rows).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// The rows of the events of `changes`, stamped now.
    pub(crate) fn event_rows(&self, changes: &Changes) -> Result<Vec<(EventRow, bool)>> {
        let now = (self.clock)();
        changes
            .events
            .iter()
            .map(|n| Ok((EventRow::of(&n.event, now)?, n.outgoing)))
            .collect()
    }

    /// Hands `changes` to the store as the next commit of a chain and returns at once; the
    /// [`SentCommit`] resolves to what [`Store::commit`] would return. Chained commits are
    /// written in the order they are sent, and after one of them fails the ones sent behind
    /// it fail with [`Error::EarlierCommitFailed`] without being written, until
    /// [`Store::resume_commits`] (each was prepared on the state the previous one leaves).
    ///
    /// How many may be sent before the first is answered is [`Store::commit_pipeline`]: on
    /// SQLite four (the commit thread goes from one to the next without waiting for the
    /// caller; those that queued up share a transaction); on PostgreSQL one, and the commit
    /// runs when the [`SentCommit`] is awaited.
    pub fn send_commit(&self, changes: Changes) -> Result<SentCommit> {
        match &self.db {
            Db::Sqlite { committer, .. } => {
                let rows = self.event_rows(&changes)?;
                let work = work_of(changes, rows)?;
                let rx = committer.send(work, crate::commit_thread::Chain::Follows)?;
                Ok(SentCommit(Sent::Queued(rx)))
            }
            Db::Postgres(_) => {
                let store = self.clone();
                Ok(SentCommit(Sent::Deferred(Box::pin(async move {
                    let broken = &store.chain_broken;
                    if broken.load(std::sync::atomic::Ordering::SeqCst) {
                        return Err(Error::EarlierCommitFailed);
                    }
                    let outcome = store.commit(changes).await;
                    if outcome.is_err() {
                        broken.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    outcome
                }))))
            }
        }
    }

    /// How many [`Store::send_commit`] commits may wait for their outcome at a time.
    pub fn commit_pipeline(&self) -> usize {
        match self.db {
            Db::Sqlite { .. } => SQLITE_COMMIT_PIPELINE,
            Db::Postgres(_) => 1,
        }
    }

    /// After a chained commit failed: lets the chained commits sent after this call be
    /// written again.
    pub fn resume_commits(&self) {
        match &self.db {
            Db::Sqlite { committer, .. } => committer.resume(),
            Db::Postgres(_) => self
                .chain_broken
                .store(false, std::sync::atomic::Ordering::SeqCst),
        }
    }

    /// Makes every later [`Store::commit`] of this store (and its clones) check, in its own
    /// transaction, that the cluster is still at leader term `epoch` (from
    /// [`Store::campaign`]), and refuse with [`Error::Fenced`] otherwise: a leader that was
    /// paused or cut off past its term can never commit engine state after a newer leader
    /// took over. Has no effect on SQLite (one process by construction).
    pub fn fence(&self, epoch: u64) {
        self.fence.store(epoch, std::sync::atomic::Ordering::SeqCst);
    }

    /// A setting written by [`Store::commit`], if any.
    pub async fn setting(&self, key: &str) -> Result<Option<Value>> {
        let text: Option<String> = with_db!(self, |readers, writer, d| {
            sqlx::query_scalar(d.sql("SELECT value FROM settings WHERE key = ?"))
                .bind(key)
                .fetch_optional(readers)
                .await?
        });
        text.map(|t| parse_stored("setting", &t)).transpose()
    }

    /// Every setting whose key starts with `prefix`, by key.
    pub async fn settings_with_prefix(&self, prefix: &str) -> Result<Vec<(String, Value)>> {
        let pattern = format!(
            "{}%",
            prefix
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let rows: Vec<(String, String)> = with_db!(self, |readers, writer, d| {
            sqlx::query_as(
                d.sql("SELECT key, value FROM settings WHERE key LIKE ? ESCAPE '\\' ORDER BY key"),
            )
            .bind(&pattern)
            .fetch_all(readers)
            .await?
        });
        // SQLite's LIKE ignores ASCII case: keep exact prefixes only.
        rows.into_iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| Ok((k, parse_stored("setting", &v)?)))
            .collect()
    }

    /// Number of executions per state name (for metrics).
    pub async fn execution_counts_by_state(&self) -> Result<Vec<(String, u64)>> {
        let rows: Vec<(String, i64)> = with_db!(self, |readers, writer, d| {
            sqlx::query_as("SELECT state, COUNT(*) FROM executions GROUP BY state ORDER BY state")
                .fetch_all(readers)
                .await?
        });
        Ok(rows.into_iter().map(|(s, n)| (s, n as u64)).collect())
    }

    /// All executions that are not terminal, oldest triggered first (for recovery at start).
    pub async fn load_active_executions(&self) -> Result<Vec<ExecutionRecord>> {
        with_db!(self, |readers, writer, d| {
            let rows = sqlx::query(d.sql_owned(format!(
                "SELECT {EXECUTION_COLUMNS} FROM executions WHERE terminal = 0 \
                 ORDER BY triggered_at, id"
            )))
            .fetch_all(readers)
            .await?;
            rows.iter().map(backend::execution_from_row).collect()
        })
    }

    /// The execution with this id.
    pub async fn execution(&self, id: &str) -> Result<Option<ExecutionRecord>> {
        with_db!(self, |readers, writer, d| {
            let row = sqlx::query(d.sql_owned(format!(
                "SELECT {EXECUTION_COLUMNS} FROM executions WHERE id = ?"
            )))
            .bind(id)
            .fetch_optional(readers)
            .await?;
            row.as_ref().map(backend::execution_from_row).transpose()
        })
    }

    /// The runs (contexts) of a project that have executions, newest first by the time
    /// their first sequence was triggered, one page of `limit` from `offset`: the contexts
    /// of the page and the number of runs that match. Filters on the first sequence of a
    /// run: its name and when it was triggered (strictly after / before).
    pub async fn runs(&self, q: &RunQuery, limit: u64, offset: u64) -> Result<(Vec<String>, u64)> {
        let mut inner = Conditions::default();
        inner.eq("project", Some(&q.project));
        inner.any_of("keptn_context", &q.keptn_contexts);
        let mut outer = Conditions::default();
        outer.eq("sequence_name", q.sequence_name.as_deref());
        outer.cmp_int("root_at", ">", q.from_time.map(to_nanos));
        outer.cmp_int("root_at", "<", q.before_time.map(to_nanos));
        // SQLite gives the other columns of the row where MIN() is found: the first sequence.
        // PostgreSQL says so with DISTINCT ON.
        let roots = match self.dialect() {
            Dialect::Sqlite => format!(
                "WITH roots AS (SELECT keptn_context, sequence_name, MIN(triggered_at) AS root_at \
                 FROM executions{} GROUP BY keptn_context) SELECT",
                inner.where_clause()
            ),
            Dialect::Postgres => format!(
                "WITH roots AS (SELECT DISTINCT ON (keptn_context) keptn_context, sequence_name, \
                 triggered_at AS root_at FROM executions{} \
                 ORDER BY keptn_context, triggered_at, id) SELECT",
                inner.where_clause()
            ),
        };
        let mut args = inner.args.clone();
        args.extend(outer.args.iter().cloned());
        let wh = outer.where_clause();
        let (total, contexts): (i64, Vec<String>) = with_db!(self, |readers, writer, d| {
            let total: i64 = sqlx::query_scalar_with(
                d.sql_owned(format!("{roots} COUNT(*) FROM roots{wh}")),
                shared::arguments(&args, &[])?,
            )
            .fetch_one(readers)
            .await?;
            let contexts: Vec<String> = sqlx::query_scalar_with(
                d.sql_owned(format!(
                    "{roots} keptn_context FROM roots{wh} \
                     ORDER BY root_at DESC, keptn_context DESC LIMIT ? OFFSET ?"
                )),
                shared::arguments(
                    &args,
                    &[
                        Arg::Int(i64::try_from(limit).unwrap_or(i64::MAX)),
                        Arg::Int(i64::try_from(offset).unwrap_or(i64::MAX)),
                    ],
                )?,
            )
            .fetch_all(readers)
            .await?;
            (total, contexts)
        });
        Ok((contexts, total as u64))
    }

    /// Executions matching the query, newest triggered first, paged (max 50 per page).
    pub async fn executions(&self, q: &ExecutionQuery) -> Result<Page<ExecutionRecord>> {
        let (size, offset) = q.paging.resolve(MAX_EXECUTION_PAGE)?;
        let mut c = Conditions::default();
        c.eq("project", q.project.as_deref());
        c.eq("stage", q.stage.as_deref());
        c.eq("sequence_name", q.sequence_name.as_deref());
        c.eq("state", q.state.as_deref());
        c.cmp_int("triggered_at", ">", q.from_time.map(to_nanos));
        c.cmp_int("triggered_at", "<", q.before_time.map(to_nanos));
        c.any_of("keptn_context", &q.keptn_contexts);
        let wh = c.where_clause();
        let (total, items) = with_db!(self, |readers, writer, d| {
            let total: i64 = sqlx::query_scalar_with(
                d.sql_owned(format!("SELECT COUNT(*) FROM executions{wh}")),
                shared::arguments(&c.args, &[])?,
            )
            .fetch_one(readers)
            .await?;
            let rows = sqlx::query_with(
                d.sql_owned(format!(
                    "SELECT {EXECUTION_COLUMNS} FROM executions{wh} \
                     ORDER BY triggered_at DESC, id DESC LIMIT ? OFFSET ?"
                )),
                shared::arguments(
                    &c.args,
                    &[Arg::Int(i64::from(size)), Arg::Int(offset as i64)],
                )?,
            )
            .fetch_all(readers)
            .await?;
            let items = rows
                .iter()
                .map(backend::execution_from_row)
                .collect::<Result<Vec<_>>>()?;
            (total, items)
        });
        Ok(Page::new(items, size, offset, total as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::testutil::{TempDir, backends, event};
    use serde_json::json;

    fn exec(id: &str, ctx: &str, state: &str, terminal: bool, secs: i64) -> ExecutionRecord {
        ExecutionRecord {
            id: id.into(),
            project: "shop".into(),
            stage: "dev".into(),
            service: "carts".into(),
            keptn_context: ctx.into(),
            sequence_name: "delivery".into(),
            state: state.into(),
            terminal,
            triggered_at: Timestamp::from_unix(1_704_067_200 + secs, 0),
            updated_seq: 0,
            body: json!({"id": id, "state": state}).to_string(),
        }
    }

    fn outgoing(id: &str, ctx: &str) -> NewEvent {
        NewEvent {
            event: event(
                id,
                ctx,
                "sh.keptn.event.deployment.triggered",
                ("shop", "dev", "carts"),
                1,
            )
            .into(),
            outgoing: true,
        }
    }

    fn ids(events: &[KeptnEvent]) -> Vec<String> {
        events.iter().filter_map(|e| e.id.clone()).collect()
    }

    #[tokio::test]
    async fn commit_is_all_or_nothing() {
        for dir in backends("atomic").await {
            println!("atomic: {:?}", dir.location);
            let store = dir.open().await;
            let mut bad = exec("x2", "c1", "started", false, 2);
            bad.body = "{not json".into();
            let changes = Changes {
                events: vec![
                    NewEvent {
                        event: event(
                            "in1",
                            "c1",
                            "sh.keptn.event.dev.delivery.triggered",
                            ("shop", "dev", "carts"),
                            0,
                        )
                        .into(),
                        outgoing: false,
                    },
                    outgoing("out1", "c1"),
                ],
                executions_upsert: vec![exec("x1", "c1", "started", false, 1), bad],
                ..Changes::default()
            };
            let err = store.commit(changes.clone()).await.unwrap_err();
            assert!(
                matches!(err, Error::Database(_) | Error::Sqlite(_)),
                "{err:?}"
            );
            assert!(!store.event_exists("in1").await.unwrap());
            assert!(store.undispatched_events().await.unwrap().is_empty());
            assert!(store.load_active_executions().await.unwrap().is_empty());

            // The same changes without the bad row go through, numbered from 1 (the failed
            // commit's number was rolled back too).
            let mut good = changes.clone();
            good.executions_upsert.pop();
            let out = store.commit(good.clone()).await.unwrap();
            assert_eq!(out.commit_seq, 1);
            assert_eq!(out.inserted, vec!["in1".to_string(), "out1".to_string()]);
            // Replaying the same step: events are recognised as duplicates.
            let again = store.commit(good).await.unwrap();
            assert_eq!(again.commit_seq, 2);
            assert_eq!(again.duplicates.len(), 2);
            assert_eq!(
                ids(&store.undispatched_events().await.unwrap()),
                vec!["out1"]
            );
            assert_eq!(store.execution("x1").await.unwrap().unwrap().updated_seq, 2);
        }
    }

    #[tokio::test]
    async fn chained_commits_behind_a_failed_one_are_not_written_until_resumed() {
        for dir in backends("chain").await {
            println!("chain: {:?}", dir.location);
            let store = dir.open().await;
            let step = |id: &str, x: &str, body: Option<&str>| {
                let mut record = exec(x, "c1", "started", false, 1);
                if let Some(body) = body {
                    record.body = body.into();
                }
                Changes {
                    events: vec![outgoing(id, "c1")],
                    executions_upsert: vec![record],
                    ..Changes::default()
                }
            };
            // Sent one behind the other before the first is answered.
            let first = store.send_commit(step("e1", "x1", None)).unwrap();
            let second = store
                .send_commit(step("e2", "x2", Some("{not json")))
                .unwrap();
            let third = store.send_commit(step("e3", "x3", None)).unwrap();
            assert_eq!(first.await.unwrap().inserted, vec!["e1".to_string()]);
            let err = second.await.unwrap_err();
            assert!(
                matches!(err, Error::Database(_) | Error::Sqlite(_)),
                "{err:?}"
            );
            let err = third.await.unwrap_err();
            assert!(matches!(err, Error::EarlierCommitFailed), "{err:?}");
            // A commit outside the chain is written all the same; the chain stays refused.
            store.commit(step("e4", "x4", None)).await.unwrap();
            let err = store
                .send_commit(step("e5", "x5", None))
                .unwrap()
                .await
                .unwrap_err();
            assert!(matches!(err, Error::EarlierCommitFailed), "{err:?}");
            store.resume_commits();
            store
                .send_commit(step("e6", "x6", None))
                .unwrap()
                .await
                .unwrap();
            for (id, stored) in [
                ("e1", true),
                ("e2", false),
                ("e3", false),
                ("e4", true),
                ("e5", false),
                ("e6", true),
            ] {
                assert_eq!(store.event_exists(id).await.unwrap(), stored, "{id}");
            }
            for (id, stored) in [("x1", true), ("x3", false), ("x5", false), ("x6", true)] {
                assert_eq!(store.execution(id).await.unwrap().is_some(), stored, "{id}");
            }
        }
    }

    #[tokio::test]
    async fn audit_entries_are_written_with_their_events_only() {
        for dir in backends("commitaudit").await {
            println!("commitaudit: {:?}", dir.location);
            let store = dir.open().await;
            let entry = |action: &str| crate::AuditEntry {
                seq: 0,
                at: Timestamp::from_unix(100, 0),
                actor: "ci".into(),
                action: action.into(),
                project: "shop".into(),
                stage: "dev".into(),
                service: "carts".into(),
                keptn_context: "c1".into(),
                detail: "sh.keptn.event.dev.delivery.triggered".into(),
                client: "127.0.0.1".into(),
            };
            let first = Changes {
                events: vec![outgoing("e1", "c1")],
                audit: vec![("e1".into(), entry("trigger"))],
                ..Changes::default()
            };
            store.commit(first).await.unwrap();
            // A second delivery of e1 is a duplicate: its entry is not written; an entry
            // whose event is not in the commit is not written either.
            let mut again = Changes {
                events: vec![outgoing("e1", "c1"), outgoing("e2", "c1")],
                audit: vec![
                    ("e1".into(), entry("retried")),
                    ("e2".into(), entry("approve")),
                ],
                ..Changes::default()
            };
            again.absorb(Changes {
                audit: vec![("absent".into(), entry("nothing"))],
                ..Changes::default()
            });
            let out = store.commit(again).await.unwrap();
            assert_eq!(out.duplicates, vec!["e1".to_string()]);
            let page = store
                .audit_entries(&crate::AuditQuery::default(), &crate::Paging::first(10))
                .await
                .unwrap();
            let actions: Vec<&str> = page.items.iter().map(|e| e.action.as_str()).collect();
            assert_eq!(actions, ["approve", "trigger"], "newest first");
            assert_eq!(
                page.items[1],
                crate::AuditEntry {
                    seq: page.items[1].seq,
                    ..entry("trigger")
                }
            );
        }
    }

    #[tokio::test]
    async fn state_and_outbox_survive_reopen() {
        for dir in backends("reopen").await {
            println!("reopen: {:?}", dir.location);
            {
                let store = dir.open().await;
                store
                    .commit(Changes {
                        events: vec![
                            outgoing("o1", "c1"),
                            outgoing("o2", "c1"),
                            outgoing("o3", "c2"),
                        ],
                        executions_upsert: vec![
                            exec("x1", "c1", "started", false, 1),
                            exec("x2", "c2", "finished", true, 2),
                            exec("x3", "c3", "triggered", false, 3),
                        ],
                        ..Changes::default()
                    })
                    .await
                    .unwrap();
                store.mark_dispatched(&["o2".to_string()]).await.unwrap();
                // Dropped without close(): connections go away as after a crash.
            }
            let store = dir.open().await;
            assert_eq!(
                ids(&store.undispatched_events().await.unwrap()),
                vec!["o1", "o3"]
            );
            let active = store.load_active_executions().await.unwrap();
            let active_ids: Vec<&str> = active.iter().map(|e| e.id.as_str()).collect();
            assert_eq!(active_ids, ["x1", "x3"]);
            let body: Value = active[0].decode().unwrap();
            assert_eq!(body["state"], "started");

            // Terminal now, execution deleted: gone after another reopen.
            store
                .commit(Changes {
                    executions_upsert: vec![exec("x1", "c1", "finished", true, 1)],
                    executions_delete: vec!["x3".into(), "unknown".into()],
                    ..Changes::default()
                })
                .await
                .unwrap();
            store.clone().close().await;
            let store = dir.open().await;
            assert!(store.load_active_executions().await.unwrap().is_empty());
            assert!(store.execution("x3").await.unwrap().is_none());
        }
    }

    /// Two stores on one PostgreSQL database (two processes later): opened at once, they
    /// migrate it once; concurrent commits get
    /// distinct, gap-free `commit_seq`s, an event sent to both is stored once, and a project
    /// created by both exists once (one of them is told it exists).
    #[tokio::test]
    async fn concurrent_stores_on_one_postgres_database_stay_consistent() {
        let Some(url) = crate::test_cluster::fresh_database("concurrent stores on postgres").await
        else {
            return;
        };
        let location = crate::StoreLocation::Postgres(url);
        // Both create the schema of the empty database at once: one migrates, the other
        // waits for it (advisory lock) and finds it done.
        let (a, b) = tokio::join!(
            Store::open_location(&location, crate::Options::default()),
            Store::open_location(&location, crate::Options::default())
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let work = |store: Store, name: &'static str| {
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                let mut inserted = Vec::new();
                for i in 0..30 {
                    let outcome = store
                        .commit(Changes {
                            events: vec![
                                outgoing(&format!("{name}-{i}"), "c1"),
                                outgoing(&format!("shared-{i}"), "c1"),
                            ],
                            executions_upsert: vec![exec("x", "c1", name, false, i)],
                            ..Changes::default()
                        })
                        .await
                        .unwrap();
                    seqs.push(outcome.commit_seq);
                    inserted.extend(outcome.inserted);
                }
                let project = crate::ProjectRecord {
                    name: "both".into(),
                    shipyard: "s".into(),
                    shipyard_version: "v".into(),
                    creation_date: "d".into(),
                    git_upstream: None,
                    stages: vec!["dev".into()],
                };
                let created = store.create_project(&project).await;
                (seqs, inserted, created)
            })
        };
        let (ra, rb) = tokio::join!(work(a.clone(), "a"), work(b.clone(), "b"));
        let (mut seqs, mut inserted, created_a) = ra.unwrap();
        let (seqs_b, inserted_b, created_b) = rb.unwrap();
        seqs.extend(seqs_b);
        seqs.sort_unstable();
        assert_eq!(
            seqs,
            (1..=60).collect::<Vec<u64>>(),
            "gap-free, never shared"
        );
        inserted.extend(inserted_b);
        let unique: HashSet<&String> = inserted.iter().collect();
        assert_eq!(
            inserted.len(),
            90,
            "30 + 30 own events, 30 shared ones once"
        );
        assert_eq!(unique.len(), 90);
        assert_eq!(a.events_of_context("c1").await.unwrap().len(), 90);
        match (created_a, created_b) {
            (Ok(()), Err(crate::Error::AlreadyExists { .. }))
            | (Err(crate::Error::AlreadyExists { .. }), Ok(())) => {}
            other => panic!("one creation wins, the other is told: {other:?}"),
        }
        assert_eq!(b.project("both").await.unwrap().stages, ["dev"]);
    }

    #[tokio::test]
    async fn a_batch_commit_reports_duplicates_and_carries_dispatch_marks() {
        for dir in backends("batch").await {
            println!("batch: {:?}", dir.location);
            let store = dir.open().await;
            store
                .commit(Changes {
                    events: vec![outgoing("o1", "c1"), outgoing("o2", "c1")],
                    ..Changes::default()
                })
                .await
                .unwrap();
            let outcome = store
                .commit(Changes {
                    events: vec![outgoing("o2", "c1"), outgoing("o3", "c2")],
                    executions_upsert: vec![
                        exec("x1", "c1", "started", false, 1),
                        exec("x2", "c2", "started", false, 2),
                    ],
                    dispatched: vec!["o1".into(), "o2".into(), "unknown".into()],
                    ..Changes::default()
                })
                .await
                .unwrap();
            assert_eq!(outcome.inserted, ["o3"]);
            assert_eq!(outcome.duplicates, ["o2"]);
            assert_eq!(ids(&store.undispatched_events().await.unwrap()), ["o3"]);
            assert_eq!(store.load_active_executions().await.unwrap().len(), 2);
            assert!(store.event_exists("o3").await.unwrap());
            let known = store
                .existing_event_ids(&["o1".into(), "nope".into(), "o3".into()])
                .await
                .unwrap();
            assert_eq!(known.len(), 2);
            assert!(known.contains("o1") && known.contains("o3"));
        }
    }

    #[tokio::test]
    async fn runs_are_paged_by_their_first_sequence() {
        for dir in backends("runs").await {
            println!("runs: {:?}", dir.location);
            let store = dir.open().await;
            let named = |id: &str, ctx: &str, name: &str, secs: i64| ExecutionRecord {
                sequence_name: name.into(),
                ..exec(id, ctx, "started", false, secs)
            };
            store
                .commit(Changes {
                    executions_upsert: vec![
                        named("a1", "a", "delivery", 10),
                        named("a2", "a", "evaluation", 50),
                        named("b1", "b", "evaluation", 20),
                        named("c1", "c", "delivery", 30),
                    ],
                    ..Changes::default()
                })
                .await
                .unwrap();
            let runs = |q: RunQuery, limit: u64, offset: u64| {
                let store = store.clone();
                async move { store.runs(&q, limit, offset).await.unwrap() }
            };
            let all = RunQuery {
                project: "shop".into(),
                ..RunQuery::default()
            };
            assert_eq!(
                runs(all.clone(), 10, 0).await,
                (vec!["c".into(), "b".into(), "a".into()], 3)
            );
            assert_eq!(runs(all.clone(), 1, 1).await, (vec!["b".into()], 3));
            let delivery = RunQuery {
                sequence_name: Some("delivery".into()),
                ..all.clone()
            };
            // Run a's first sequence is a delivery, even though its newest is an evaluation.
            assert_eq!(
                runs(delivery, 10, 0).await,
                (vec!["c".into(), "a".into()], 2)
            );
            let early = RunQuery {
                before_time: Some(Timestamp::from_unix(1_704_067_200 + 25, 0)),
                keptn_contexts: vec!["a".into(), "c".into()],
                ..all.clone()
            };
            assert_eq!(runs(early, 10, 0).await, (vec!["a".into()], 1));
            let other = RunQuery {
                project: "other".into(),
                ..RunQuery::default()
            };
            assert_eq!(runs(other, 10, 0).await, (Vec::new(), 0));
        }
    }

    const CRASH_DIR: &str = "SLUICE_STORE_CRASH_DIR";

    /// Child half of `commits_survive_a_killed_process`: commits, then aborts the process
    /// (no destructors, no close, like `kill -9`). Does nothing in a normal test run.
    #[tokio::test]
    async fn crash_helper_process() {
        let Some(dir) = std::env::var_os(CRASH_DIR) else {
            return;
        };
        let store = Store::open(std::path::Path::new(&dir)).await.unwrap();
        store
            .commit(Changes {
                events: vec![outgoing("o1", "c1")],
                executions_upsert: vec![exec("x1", "c1", "started", false, 1)],
                ..Changes::default()
            })
            .await
            .unwrap();
        std::process::abort();
    }

    #[tokio::test]
    async fn commits_survive_a_killed_process() {
        let dir = TempDir::new("crash");
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "executions::tests::crash_helper_process",
                "--test-threads=1",
            ])
            .env(CRASH_DIR, &dir.0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(!status.success(), "the helper must have aborted");
        let store = Store::open(&dir.0).await.unwrap();
        assert_eq!(ids(&store.undispatched_events().await.unwrap()), vec!["o1"]);
        assert_eq!(store.load_active_executions().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn execution_listing_filters_and_pages() {
        for dir in backends("execlist").await {
            println!("execlist: {:?}", dir.location);
            let store = dir.open().await;
            let mut upsert: Vec<ExecutionRecord> = (0..12)
                .map(|i| {
                    exec(
                        &format!("x{i:02}"),
                        &format!("c{}", i % 4),
                        if i % 3 == 0 { "finished" } else { "started" },
                        i % 3 == 0,
                        i,
                    )
                })
                .collect();
            upsert[11].project = "other".into();
            store
                .commit(Changes {
                    executions_upsert: upsert,
                    ..Changes::default()
                })
                .await
                .unwrap();
            let q = ExecutionQuery {
                project: Some("shop".into()),
                paging: Paging::first(4),
                ..ExecutionQuery::default()
            };
            let page = store.executions(&q).await.unwrap();
            assert_eq!(page.total_count, 11);
            assert_eq!(page.next_page_key.as_deref(), Some("4"));
            assert_eq!(page.items[0].id, "x10");
            let q = ExecutionQuery {
                project: Some("shop".into()),
                state: Some("started".into()),
                keptn_contexts: vec!["c1".into(), "c2".into()],
                from_time: Some(Timestamp::from_unix(1_704_067_200 + 1, 0)),
                ..ExecutionQuery::default()
            };
            let got: Vec<String> = store
                .executions(&q)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|e| e.id)
                .collect();
            // started: i % 3 != 0; contexts 1, 2: i % 4 in {1, 2}; after 1 s: i > 1
            assert_eq!(got, ["x10", "x05", "x02"]);
        }
    }

    #[test]
    fn absorbing_later_changes_keeps_what_a_second_commit_would_leave() {
        let ev = |id: &str| NewEvent {
            event: Arc::new(event(
                id,
                "c",
                "sh.keptn.event.a.triggered",
                ("p", "s", "v"),
                1,
            )),
            outgoing: true,
        };
        let mut first = Changes {
            events: vec![ev("e1")],
            executions_upsert: vec![
                exec("x1", "c", "started", false, 1),
                exec("x2", "c", "started", false, 1),
            ],
            executions_delete: vec!["x3".into(), "x4".into()],
            settings_set: vec![("a".into(), json!(1)), ("b".into(), json!(1))],
            dispatched: vec!["d1".into()],
            ..Changes::default()
        };
        first.absorb(Changes {
            events: vec![ev("e2")],
            executions_upsert: vec![
                exec("x1", "c", "finished", true, 1),
                exec("x3", "c", "started", false, 1),
            ],
            executions_delete: vec!["x2".into()],
            settings_set: vec![("a".into(), json!(2))],
            dispatched: vec!["d2".into()],
            ..Changes::default()
        });
        let ids: Vec<&str> = first
            .events
            .iter()
            .map(|e| e.event.id.as_deref().unwrap_or_default())
            .collect();
        assert_eq!(ids, ["e1", "e2"]);
        let upserts: Vec<(&str, &str)> = first
            .executions_upsert
            .iter()
            .map(|e| (e.id.as_str(), e.state.as_str()))
            .collect();
        assert_eq!(upserts, [("x1", "finished"), ("x3", "started")]);
        assert_eq!(first.executions_delete, ["x4", "x2"]);
        assert_eq!(
            first.settings_set,
            [("b".to_owned(), json!(1)), ("a".to_owned(), json!(2))]
        );
        assert_eq!(first.dispatched, ["d1", "d2"]);
    }
}
