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
//! Group commit happens here too: the commits that queued up while a transaction was being
//! written go together into the next one, so the thread never waits for the async side
//! between two transactions (a caller may send its next commit before the previous one is
//! answered, see [`CommitThread::send`]). Each commit keeps its own counter value and
//! outcome; if a merged transaction fails, it is rolled back and its commits are run again
//! one by one, so that one bad commit fails alone.
//!
//! Commits sent as a *chain* ([`Chain::Follows`]) depend on each other: after one of them
//! fails, the thread refuses the chained commits behind it without writing them, until
//! [`CommitThread::resume`] (the engine driver prepares each batch on the state the
//! previous one leaves).
//!
//! Checkpoints (copying the WAL back into the database file, with its fsyncs) run on a
//! second connection on a thread of their own, started with the first checkpoint
//! ([`Checkpoints`]): the commit thread only
//! counts the WAL's pages after each commit (SQLite's WAL hook, which also turns off
//! SQLite's automatic checkpoints on this connection) and asks for one past
//! [`CHECKPOINT_PAGES`]. A passive checkpoint never blocks the writer, so the commit thread,
//! the busiest serial part of a loaded server, keeps writing while the pages are copied.
//!
//! Two writers share the file: this connection and the store's sqlx writer (project, secret
//! and other rare writes). Both start with `BEGIN IMMEDIATE` and wait for each other through
//! SQLite's lock and busy timeout, so every write transaction is still serial.

use std::cell::Cell;
use std::os::raw::c_int;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
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

/// Whether a commit depends on the chained commits sent before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chain {
    /// On its own: written whatever happened to other commits.
    Alone,
    /// Written only if no chained commit failed since the last [`CommitThread::resume`].
    Follows,
}

type Reply = oneshot::Sender<Result<CommitOutcome>>;

enum Job {
    Commit(Work, Chain, Reply),
    /// Chained commits may be written again.
    Resume,
    Close(oneshot::Sender<()>),
}

/// Most commits merged into one transaction.
const MAX_MERGED: usize = 256;

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
        let synchronous = match durability {
            Durability::ProcessCrash => "NORMAL",
            Durability::PowerLoss => "FULL",
        };
        let conn = open_writer(path, synchronous)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.wal_hook(Some(count_wal_pages));
        let checkpoints = Checkpoints::new(path, synchronous);
        let (jobs, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("sluice-commit".into())
            .spawn(move || serve(conn, rx, checkpoints))
            .map_err(|e| Error::Database(sqlx::Error::Io(e)))?;
        Ok(CommitThread { jobs })
    }

    /// Runs one commit on the thread and returns its outcome once it is durable.
    pub(crate) async fn commit(&self, work: Work) -> Result<CommitOutcome> {
        let rx = self.send(work, Chain::Alone)?;
        rx.await.map_err(|_| closed())?
    }

    /// Hands a commit to the thread now, without waiting: commits are written in the order
    /// they are sent, and the receiver gets the outcome once it is durable.
    pub(crate) fn send(
        &self,
        work: Work,
        chain: Chain,
    ) -> Result<oneshot::Receiver<Result<CommitOutcome>>> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Job::Commit(work, chain, tx))
            .map_err(|_| closed())?;
        Ok(rx)
    }

    /// Lets chained commits sent after this be written again after a failure.
    pub(crate) fn resume(&self) {
        let _ = self.jobs.send(Job::Resume);
    }

    /// Closes the connection (after the commits sent before) and ends the thread.
    pub(crate) async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.jobs.send(Job::Close(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// A connection that may write to the database at `path`, with the store's busy timeout
/// and `synchronous` setting (the commit and the checkpoint connections).
fn open_writer(path: &Path, synchronous: &str) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    Ok(conn)
}

fn closed() -> Error {
    Error::Database(sqlx::Error::PoolClosed)
}

/// WAL pages after which the commit thread asks for a checkpoint: four times SQLite's
/// default for its automatic checkpoints. Every checkpoint copies each page written since
/// the last one and fsyncs the WAL and the database, and the pages a stream of commits
/// rewrites (the right edges of the time-ordered indexes, the counters) are copied once per
/// checkpoint whatever their number of versions in the WAL: fewer, larger checkpoints cost
/// less CPU per event (docs/performance.md). The WAL then grows to about 16 MiB.
const CHECKPOINT_PAGES: c_int = 4000;

thread_local! {
    /// Pages in the WAL after this thread's last commit ([`count_wal_pages`]).
    static WAL_PAGES: Cell<c_int> = const { Cell::new(0) };
}

/// The commit connection's WAL hook: SQLite calls it after each commit with the number of
/// pages in the WAL, on the committing thread.
fn count_wal_pages(_: &rusqlite::hooks::Wal, pages: c_int) -> rusqlite::Result<()> {
    WAL_PAGES.with(|p| p.set(pages));
    Ok(())
}

/// The checkpoint thread: a connection of its own that runs a passive checkpoint whenever
/// asked (asks that come while one runs are merged into the next). It starts with the
/// first checkpoint, so an idle server does not pay for its connection and thread.
struct Checkpoints {
    path: std::path::PathBuf,
    synchronous: &'static str,
    running: Option<(mpsc::SyncSender<()>, JoinHandle<()>)>,
}

impl Checkpoints {
    fn new(path: &Path, synchronous: &'static str) -> Checkpoints {
        Checkpoints {
            path: path.to_owned(),
            synchronous,
            running: None,
        }
    }

    fn start(&self) -> Result<(mpsc::SyncSender<()>, JoinHandle<()>)> {
        let conn = open_writer(&self.path, self.synchronous)?;
        let (ask, asked) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("sluice-checkpoint".into())
            .spawn(move || {
                while asked.recv().is_ok() {
                    let _ = passive_checkpoint(&conn);
                }
            })
            .map_err(|e| Error::Database(sqlx::Error::Io(e)))?;
        Ok((ask, thread))
    }

    /// Asks for a checkpoint when the WAL has grown past [`CHECKPOINT_PAGES`]. If the
    /// checkpoint thread cannot be started, the commit connection checkpoints itself, so
    /// the WAL never grows without bound.
    fn after_commit(&mut self, conn: &Connection) {
        if WAL_PAGES.with(Cell::get) < CHECKPOINT_PAGES {
            return;
        }
        if self.running.is_none() {
            match self.start() {
                Ok(running) => self.running = Some(running),
                Err(_) => {
                    let _ = passive_checkpoint(conn);
                    return;
                }
            }
        }
        if let Some((ask, _)) = &self.running {
            // Full: one is asked for already.
            let _ = ask.try_send(());
        }
    }

    /// Ends the thread after the checkpoint it runs, if any.
    fn stop(self) {
        if let Some((ask, thread)) = self.running {
            drop(ask);
            let _ = thread.join();
        }
    }
}

/// Copies into the database file what no reader still needs from the WAL, without waiting
/// for the writer; what it cannot copy yet is copied by a later one.
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

fn serve(mut conn: Connection, jobs: mpsc::Receiver<Job>, mut checkpoints: Checkpoints) {
    // Whether a chained commit failed since the last resume.
    let mut broken = false;
    let mut held: Option<Job> = None;
    loop {
        let job = match held.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        let first = match job {
            Job::Commit(work, chain, reply) => (work, chain, reply),
            Job::Resume => {
                broken = false;
                continue;
            }
            Job::Close(reply) => {
                checkpoints.stop();
                drop(conn);
                let _ = reply.send(());
                return;
            }
        };
        let mut batch = vec![first];
        while batch.len() < MAX_MERGED {
            match jobs.try_recv() {
                Ok(Job::Commit(work, chain, reply)) => batch.push((work, chain, reply)),
                Ok(other) => {
                    held = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        write_batch(&mut conn, batch, &mut broken);
        checkpoints.after_commit(&conn);
    }
}

/// Writes commits that queued up together: in one transaction when all of them can be
/// written, else one by one (chained ones only while no chained one failed).
fn write_batch(conn: &mut Connection, batch: Vec<(Work, Chain, Reply)>, broken: &mut bool) {
    // If the merged transaction fails it is rolled back whole, and each commit runs again
    // alone to get its own outcome. While the chain is broken (rare) they all go one by one,
    // so that the refused ones are left out.
    if batch.len() > 1
        && !*broken
        && let Ok(outcomes) = commit_together(conn, batch.iter().map(|(work, ..)| work))
    {
        for ((.., reply), outcome) in batch.into_iter().zip(outcomes) {
            let _ = reply.send(Ok(outcome));
        }
        return;
    }
    for (work, chain, reply) in batch {
        if *broken && chain == Chain::Follows {
            let _ = reply.send(Err(Error::EarlierCommitFailed));
            continue;
        }
        let outcome = commit_together(conn, std::iter::once(&work))
            .map(|mut outcomes| outcomes.pop().unwrap_or_default());
        *broken |= outcome.is_err() && chain == Chain::Follows;
        let _ = reply.send(outcome);
    }
}

/// The commits in one transaction, each with its own counter value and outcome: everything
/// is stored or (on any error) nothing.
fn commit_together<'a>(
    conn: &mut Connection,
    works: impl Iterator<Item = &'a Work>,
) -> Result<Vec<CommitOutcome>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let outcomes = works
        .map(|work| write(&tx, work))
        .collect::<Result<Vec<_>>>()?;
    tx.commit()?;
    Ok(outcomes)
}

/// One commit's writes, inside the caller's transaction.
fn write(tx: &rusqlite::Transaction<'_>, work: &Work) -> Result<CommitOutcome> {
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
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{TempDir, event};
    use crate::{Changes, NewEvent};

    /// A store's database, and a connection of the thread's kind to it.
    async fn database(name: &str) -> (TempDir, crate::Store, Connection) {
        let dir = TempDir::new(name);
        let store = crate::Store::open(&dir.0).await.unwrap();
        let conn = Connection::open(store.path().unwrap()).unwrap();
        (dir, store, conn)
    }

    /// A commit that stores one event, or fails (a setting that is not JSON).
    fn work(store: &crate::Store, id: &str, fails: bool) -> Work {
        let changes = Changes {
            events: vec![NewEvent {
                event: event(
                    id,
                    "c1",
                    "sh.keptn.event.deployment.triggered",
                    ("shop", "dev", "carts"),
                    1,
                )
                .into(),
                outgoing: true,
            }],
            ..Changes::default()
        };
        let rows = store.event_rows(&changes).unwrap();
        let mut work = crate::executions::work_of(changes, rows).unwrap();
        if fails {
            work.settings_set.push(("k".into(), "{not json".into()));
        }
        work
    }

    /// Runs `batch` as one merge of the thread and gives each commit's outcome.
    fn run(
        conn: &mut Connection,
        batch: Vec<(Work, Chain)>,
        broken: &mut bool,
    ) -> Vec<Result<CommitOutcome>> {
        let mut answers = Vec::new();
        let batch = batch
            .into_iter()
            .map(|(work, chain)| {
                let (tx, rx) = oneshot::channel();
                answers.push(rx);
                (work, chain, tx)
            })
            .collect();
        write_batch(conn, batch, broken);
        answers
            .into_iter()
            .map(|mut rx| rx.try_recv().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn a_merged_commit_that_fails_is_written_again_one_by_one() {
        let (_dir, store, mut conn) = database("merged").await;
        let mut broken = false;
        let batch = vec![
            (work(&store, "a", false), Chain::Alone),
            (work(&store, "b", true), Chain::Alone),
            (work(&store, "c", false), Chain::Alone),
        ];
        let outcomes = run(&mut conn, batch, &mut broken);
        assert_eq!(
            outcomes[0].as_ref().unwrap().inserted,
            vec!["a".to_string()]
        );
        assert!(
            matches!(outcomes[1], Err(Error::Sqlite(_))),
            "{:?}",
            outcomes[1]
        );
        assert_eq!(
            outcomes[2].as_ref().unwrap().inserted,
            vec!["c".to_string()]
        );
        // Each commit has its own number, and the failed one's was rolled back.
        let seqs: Vec<u64> = [&outcomes[0], &outcomes[2]]
            .iter()
            .map(|o| o.as_ref().unwrap().commit_seq)
            .collect();
        assert_eq!(seqs, vec![1, 2]);
        assert!(!broken, "commits that are not chained break no chain");
        for (id, stored) in [("a", true), ("b", false), ("c", true)] {
            assert_eq!(store.event_exists(id).await.unwrap(), stored, "{id}");
        }
    }

    #[tokio::test]
    async fn the_checkpoint_thread_copies_the_wal_into_the_database() {
        let dir = TempDir::new("checkpoint");
        let store = crate::Store::open(&dir.0).await.unwrap();
        let file = store.path().unwrap();
        let size = || std::fs::metadata(&file).unwrap().len();
        let before = size();
        // About 6 MB of events: well past CHECKPOINT_PAGES of the WAL. The commit
        // connection never checkpoints itself, so only the checkpoint thread can make
        // the database file grow.
        let blob = "x".repeat(3000);
        for n in 0..200 {
            let events = (0..10)
                .map(|i| {
                    let mut e = event(
                        &format!("e{n}-{i}"),
                        "c1",
                        "sh.keptn.event.deployment.triggered",
                        ("shop", "dev", "carts"),
                        1,
                    );
                    e.data.as_mut().unwrap()["blob"] = blob.clone().into();
                    NewEvent {
                        event: e.into(),
                        outgoing: false,
                    }
                })
                .collect();
            store
                .commit(Changes {
                    events,
                    ..Changes::default()
                })
                .await
                .unwrap();
        }
        let mut waited = 0;
        while size() < before + 4_000_000 && waited < 200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            waited += 1;
        }
        assert!(size() >= before + 4_000_000, "{before} -> {}", size());
        store.close().await;
    }

    #[tokio::test]
    async fn merged_commits_are_one_transaction_with_a_number_each() {
        let (_dir, store, mut conn) = database("together").await;
        let mut broken = false;
        let batch = (0..3)
            .map(|i| (work(&store, &format!("e{i}"), false), Chain::Follows))
            .collect();
        let outcomes = run(&mut conn, batch, &mut broken);
        let seqs: Vec<u64> = outcomes
            .iter()
            .map(|o| o.as_ref().unwrap().commit_seq)
            .collect();
        assert_eq!(seqs, vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn a_failed_chained_commit_stops_the_chain_behind_it() {
        let (_dir, store, mut conn) = database("chained").await;
        let mut broken = false;
        let batch = vec![
            (work(&store, "a", false), Chain::Follows),
            (work(&store, "b", true), Chain::Follows),
            (work(&store, "c", false), Chain::Follows),
            (work(&store, "d", false), Chain::Alone),
        ];
        let outcomes = run(&mut conn, batch, &mut broken);
        assert!(outcomes[0].is_ok());
        assert!(matches!(outcomes[1], Err(Error::Sqlite(_))));
        assert!(matches!(outcomes[2], Err(Error::EarlierCommitFailed)));
        assert!(outcomes[3].is_ok(), "{:?}", outcomes[3]);
        assert!(broken);
        // Later batches too, until the chain is resumed.
        let outcomes = run(
            &mut conn,
            vec![(work(&store, "e", false), Chain::Follows)],
            &mut broken,
        );
        assert!(matches!(outcomes[0], Err(Error::EarlierCommitFailed)));
        for (id, stored) in [
            ("a", true),
            ("b", false),
            ("c", false),
            ("d", true),
            ("e", false),
        ] {
            assert_eq!(store.event_exists(id).await.unwrap(), stored, "{id}");
        }
    }
}
