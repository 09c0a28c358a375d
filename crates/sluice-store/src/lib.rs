//! sluice's durable store: events (Keptn's datastore), projects and services, sequence
//! executions, uniform registrations, secrets, scoped API tokens and the audit log, in one
//! embedded SQLite database.
//!
//! # The store boundary
//!
//! [`Store`] is the only way the rest of sluice reaches persistent state. Its public methods
//! take and return plain Rust and model types (no SQL types), so that a PostgreSQL
//! implementation can later offer the same methods (and a trait can then be extracted from
//! them without changing callers).
//!
//! # SQLite set-up and durability
//!
//! The database is `<data_dir>/sluice.db` in WAL mode with `foreign_keys = ON` and a 5 s busy
//! timeout. Connections come from two pools:
//!
//! * a **writer** pool of exactly one connection: every write (and every transaction) waits
//!   for it, so writes are serialised inside the process and never fight over SQLite's single
//!   write lock (no `SQLITE_BUSY` between our own writers);
//! * a **reader** pool of a few read-only connections (4 by default): in WAL mode readers see
//!   the last committed state and neither block the writer nor are blocked by it.
//!
//! `synchronous = NORMAL` (the default, [`Durability::ProcessCrash`]): a commit is in the WAL
//! file, i.e. in the operating system, before the call returns, so it survives the process
//! being killed at any point (`kill -9`, panic, OOM kill), which is the requirement. The WAL is
//! fsynced only at checkpoints, so an operating-system crash or power loss may lose the last
//! commits (never corrupting the database). [`Durability::PowerLoss`] selects
//! `synchronous = FULL`, which fsyncs at every commit and survives power loss at the cost of
//! one fsync per commit.
//!
//! # Transactions
//!
//! [`Store::commit`] writes events, sequence executions, outbox marks and settings in one transaction (the
//! transactional outbox: outgoing events are stored undispatched together with the state that
//! produced them, sent afterwards and marked with [`Store::mark_dispatched`]; after a crash
//! [`Store::undispatched_events`] returns what still has to be sent).

mod access;
mod error;
pub mod events;
pub mod executions;
mod import;
mod page;
mod projects;
mod query;
pub mod reference;
mod schema;
pub mod secrets;
mod uniform;

#[cfg(test)]
mod testutil;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sluice_model::event::Timestamp;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use access::{AuditEntry, AuditQuery, TokenRecord};
pub use error::{Error, Result};
pub use events::{BatchOutcome, EventQuery, FieldFilter, TypeQuery};
pub use executions::{Changes, CommitOutcome, ExecutionQuery, ExecutionRecord, NewEvent, RunQuery};
pub use page::{Page, Paging};
pub use projects::{
    EventContextInfo, LastEvent, ProjectRecord, ScopeExists, ServiceRecord, ServiceStageRecord,
};
pub use secrets::SecretsKey;
pub use uniform::UniformRegistration;

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "sluice.db";

/// What a commit must survive before [`Store::commit`] (or any write) returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Survive the process dying at any point (`synchronous = NORMAL` in WAL mode).
    #[default]
    ProcessCrash,
    /// Also survive an operating-system crash or power loss (`synchronous = FULL`: one fsync
    /// per commit).
    PowerLoss,
}

/// How to open a store.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// What commits must survive.
    pub durability: Durability,
    /// Number of read-only connections (at least 1).
    pub readers: u32,
    /// The time given to an event stored without a readable `time`.
    pub clock: sluice_model::clock::Clock,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            durability: Durability::ProcessCrash,
            readers: 4,
            clock: sluice_model::clock::system,
        }
    }
}

/// The durable store of one sluice instance. Cheap to clone (clones share the connections).
#[derive(Debug, Clone)]
pub struct Store {
    writer: SqlitePool,
    readers: SqlitePool,
    path: PathBuf,
    /// Project/stage/service scopes known to exist (see [`Store::scope`]).
    scopes: Arc<Mutex<KnownScopes>>,
    /// The key secrets are sealed with, once [`Store::unlock_secrets`] accepted it.
    secrets_key: Arc<std::sync::RwLock<Option<SecretsKey>>>,
    /// See [`Options::clock`].
    clock: sluice_model::clock::Clock,
}

/// Scopes found to exist, and a generation that every change of projects, stages or
/// services advances (a look-up that raced with a change is not remembered).
#[derive(Debug, Default)]
struct KnownScopes {
    generation: u64,
    known: HashSet<(String, String, String)>,
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir` with the default [`Options`].
    pub async fn open(data_dir: &Path) -> Result<Store> {
        Store::open_with(data_dir, Options::default()).await
    }

    /// Opens (creating if needed) the store in `data_dir`, bringing its schema up to date.
    pub async fn open_with(data_dir: &Path, options: Options) -> Result<Store> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::Database(sqlx::Error::Io(e)))?;
        let path = data_dir.join(DATABASE_FILE);
        let base = base_options(&path);
        let writer_options = writer_options(&path, options.durability);
        // One connection, kept open for the life of the store: it serialises our writes and
        // keeps the WAL index alive for the read-only connections.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(writer_options)
            .await?;
        {
            let mut conn = writer.acquire().await?;
            schema::migrate(&mut conn).await?;
        }
        let readers = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(base.read_only(true))
            .await?;
        Ok(Store {
            writer,
            readers,
            path,
            scopes: Arc::default(),
            secrets_key: Arc::default(),
            clock: options.clock,
        })
    }

    fn scopes(&self) -> std::sync::MutexGuard<'_, KnownScopes> {
        self.scopes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a scope is known to exist.
    pub(crate) fn is_known_scope(&self, scope: &(String, String, String)) -> bool {
        self.scopes().known.contains(scope)
    }

    pub(crate) fn scope_generation(&self) -> u64 {
        self.scopes().generation
    }

    /// Remembers a scope found to exist, unless projects changed since `generation`.
    pub(crate) fn remember_scope(&self, generation: u64, scope: (String, String, String)) {
        let mut scopes = self.scopes();
        if scopes.generation == generation {
            scopes.known.insert(scope);
        }
    }

    /// Forgets the known scopes (called before and after every change of projects, stages
    /// or services).
    pub(crate) fn forget_scopes(&self) {
        let mut scopes = self.scopes();
        scopes.generation += 1;
        scopes.known.clear();
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes all connections (checkpointing the WAL). Dropping the store also closes them,
    /// in the background.
    pub async fn close(self) {
        self.readers.close().await;
        self.writer.close().await;
    }
}

/// Options every connection to the database file at `path` uses.
fn base_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5))
}

/// Options of the writer connection: WAL, and the `synchronous` level of `durability`.
pub(crate) fn writer_options(path: &Path, durability: Durability) -> SqliteConnectOptions {
    let synchronous = match durability {
        Durability::ProcessCrash => SqliteSynchronous::Normal,
        Durability::PowerLoss => SqliteSynchronous::Full,
    };
    base_options(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(synchronous)
}

/// Unix nanoseconds of a timestamp, clamped to the `i64` range stored in the database.
pub(crate) fn to_nanos(t: Timestamp) -> i64 {
    let n = t.unix_nanos();
    n.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// The timestamp of stored Unix nanoseconds.
pub(crate) fn from_nanos(n: i64) -> Timestamp {
    Timestamp::from_unix_nanos(n as i128)
}

/// Parses a JSON document read from the database.
pub(crate) fn parse_stored<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt(format!("stored {what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    /// Compile-time check: the store's futures can run on a multi-threaded runtime (axum).
    #[allow(dead_code)]
    fn futures_are_send(store: &Store, changes: &Changes, q: &EventQuery, t: &TypeQuery) {
        fn send<T: Send>(_: T) {}
        send(store.commit(changes));
        send(store.events(q));
        send(store.events_by_type("x", t));
        send(store.previous_evaluations("p", "s", "v", &["pass"], 3));
        send(store.load_active_executions());
        send(store.project("p"));
        send(store.clone());
    }

    #[tokio::test]
    async fn opens_in_wal_mode_and_refuses_newer_schemas() {
        let dir = TempDir::new("open");
        let store = Store::open(&dir.0.join("nested")).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.writer)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&store.writer)
            .await
            .unwrap();
        assert_eq!(sync, 1, "NORMAL");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&store.readers)
            .await
            .unwrap();
        assert_eq!(fk, 1);
        // Readers cannot write.
        assert!(
            sqlx::query("DELETE FROM secrets")
                .execute(&store.readers)
                .await
                .is_err()
        );
        sqlx::query("UPDATE schema_version SET version = version + 1")
            .execute(&store.writer)
            .await
            .unwrap();
        store.close().await;
        // Reopening an up-to-date store applies nothing; a newer one is refused.
        match Store::open(&dir.0.join("nested")).await {
            Err(Error::Corrupt(msg)) => assert!(msg.contains("newer"), "{msg}"),
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
}
