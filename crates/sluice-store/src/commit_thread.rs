//! The engine's commits on SQLite: one thread that owns a write connection of its own and
//! runs each [`Store::commit`](crate::Store::commit) transaction whole, so that a commit
//! costs one hand-off between threads instead of one per statement.
//!
//! sqlx runs every statement of a SQLite connection on that connection's thread and wakes the
//! calling task for each result; under load each of those round trips costs more than the
//! statement (about 150 µs on two busy cores), and a commit of the engine has seven or more.
//! Here the whole transaction (the commit counter, the events, the contexts, executions,
//! settings, dispatch marks and `lastEventTypes`) runs on one thread with cached prepared
//! statements, and only its outcome crosses back. The statements are the ones the sqlx path
//! of the other writes uses ([`crate::statements`]), so both write the same rows.
//!
//! Two writers share the file: this connection and the store's sqlx writer (project, secret
//! and other rare writes). Both start with `BEGIN IMMEDIATE` and wait for each other through
//! SQLite's lock and busy timeout, so every write transaction is still serial.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use tokio::sync::oneshot;

use crate::AuditEntry;
use crate::error::{Error, Result};
use crate::events::EventRow;
use crate::executions::{CommitOutcome, ExecutionRecord};
use crate::statements as sql;
use crate::{Durability, to_nanos};

/// What one commit writes, prepared on the caller's side (rows built, JSON parameters made).
#[derive(Default)]
pub(crate) struct Work {
    /// Event rows, and whether each is outgoing (kept in the outbox).
    pub(crate) rows: Vec<(EventRow, bool)>,
    pub(crate) executions_upsert: Vec<ExecutionRecord>,
    pub(crate) executions_delete: Vec<String>,
    /// Settings as (key, JSON text).
    pub(crate) settings_set: Vec<(String, String)>,
    /// Ids to mark dispatched, as a JSON array (`None`: none).
    pub(crate) dispatched: Option<String>,
    /// The `lastEventTypes` patches (`None`: none).
    pub(crate) last_events: Option<String>,
    /// Audit entries, each written only if its event (by id) is stored.
    pub(crate) audit: Vec<(String, AuditEntry)>,
}

enum Job {
    Commit(Work, oneshot::Sender<Result<CommitOutcome>>),
    Close(oneshot::Sender<()>),
}

/// The handle of the commit thread (cheap to clone; the thread ends when the last handle is
/// dropped or [`CommitThread::close`] is called).
#[derive(Clone)]
pub(crate) struct CommitThread {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for CommitThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommitThread")
    }
}

/// How long a commit waits for the other writer before it fails (as the sqlx connections).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

impl CommitThread {
    /// Opens a write connection to the database at `path` (which must exist, in WAL mode,
    /// with its schema up to date) and starts the thread.
    pub(crate) fn start(path: &Path, durability: Durability) -> Result<CommitThread> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let synchronous = match durability {
            Durability::ProcessCrash => "NORMAL",
            Durability::PowerLoss => "FULL",
        };
        conn.pragma_update(None, "synchronous", synchronous)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let (jobs, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("sluice-commit".into())
            .spawn(move || serve(conn, rx))
            .map_err(|e| Error::Database(sqlx::Error::Io(e)))?;
        Ok(CommitThread { jobs })
    }

    /// Runs one commit on the thread and returns its outcome once it is durable.
    pub(crate) async fn commit(&self, work: Work) -> Result<CommitOutcome> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Commit(work, tx))
            .map_err(|_| closed())?;
        rx.await.map_err(|_| closed())?
    }

    /// Closes the connection (after the commits sent before) and ends the thread.
    pub(crate) async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.jobs.send(Job::Close(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

fn closed() -> Error {
    Error::Database(sqlx::Error::PoolClosed)
}

fn serve(mut conn: Connection, jobs: mpsc::Receiver<Job>) {
    while let Ok(job) = jobs.recv() {
        match job {
            Job::Commit(work, reply) => {
                let _ = reply.send(commit(&mut conn, work));
            }
            Job::Close(reply) => {
                drop(conn);
                let _ = reply.send(());
                return;
            }
        }
    }
}

/// The whole commit in one transaction: everything is stored or (on any error) nothing.
fn commit(conn: &mut Connection, work: Work) -> Result<CommitOutcome> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (commit_seq, last_seq): (i64, i64) = tx
        .prepare_cached(sql::COMMIT_COUNTER)?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let mut out = CommitOutcome {
        commit_seq: commit_seq as u64,
        ..CommitOutcome::default()
    };
    let mut invalidations = false;
    {
        let mut insert = tx.prepare_cached(sql::INSERT_EVENT)?;
        for (r, outgoing) in &work.rows {
            let stored = insert.execute(rusqlite::params![
                r.id,
                r.context,
                r.event_type,
                r.project,
                r.stage,
                r.service,
                r.source,
                r.result,
                r.triggered_id,
                r.time_nanos,
                r.time_text,
                outgoing.then_some(0_i64),
                r.body,
            ])?;
            if stored == 1 {
                invalidations |= r.event_type.ends_with(".invalidated");
                out.inserted.push(r.id.clone());
            } else {
                out.duplicates.push(r.id.clone());
            }
        }
    }
    if !out.inserted.is_empty() {
        tx.prepare_cached(sql::SQLITE_INDEX_CONTEXTS)?
            .execute([last_seq + 1])?;
        if invalidations {
            tx.prepare_cached(sql::INDEX_INVALIDATIONS)?
                .execute([last_seq + 1])?;
        }
    }
    if !work.executions_upsert.is_empty() {
        let mut upsert = tx.prepare_cached(sql::UPSERT_EXECUTION)?;
        for e in &work.executions_upsert {
            upsert.execute(rusqlite::params![
                e.id,
                e.project,
                e.stage,
                e.service,
                e.keptn_context,
                e.sequence_name,
                e.state,
                i64::from(e.terminal),
                to_nanos(e.triggered_at),
                commit_seq,
                e.body,
            ])?;
        }
    }
    for id in &work.executions_delete {
        tx.prepare_cached(sql::DELETE_EXECUTION)?.execute([id])?;
    }
    for (key, value) in &work.settings_set {
        tx.prepare_cached(sql::SET_SETTING)?.execute([key, value])?;
    }
    if let Some(ids) = &work.dispatched {
        tx.prepare_cached(sql::SQLITE_MARK_DISPATCHED)?
            .execute([ids])?;
    }
    if let Some(patches) = &work.last_events {
        tx.prepare_cached(sql::SQLITE_WRITE_LAST_EVENTS)?
            .execute([patches])?;
    }
    for e in crate::executions::entries_of_stored(&work.audit, &out.inserted) {
        tx.prepare_cached(sql::INSERT_AUDIT)?
            .execute(rusqlite::params![
                to_nanos(e.at),
                e.actor,
                e.action,
                e.project,
                e.stage,
                e.service,
                e.keptn_context,
                e.detail,
                e.client,
            ])?;
    }
    tx.commit()?;
    Ok(out)
}
