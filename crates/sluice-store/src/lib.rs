//! sluice's durable store: events (Keptn's datastore), projects and services, sequence
//! executions, uniform registrations, secrets, scoped API tokens and the audit log, in one
//! embedded SQLite database (the default) or in a PostgreSQL database ([`StoreLocation::Postgres`]).
//!
//! # Two backends
//!
//! Every public method runs on either backend. The SQL is written once where it is portable
//! (`?` placeholders are numbered `$1..$n` for PostgreSQL by [`Dialect::sql`]); where the
//! dialects differ (JSON functions, the root-event upsert, PRAGMAs, `BEGIN IMMEDIATE`) the code
//! says so with `match d` or `if d.is_pg()`. Method bodies are written once and compiled for each
//! backend by [`with_db!`]; helpers that take a connection are compiled for each backend by
//! [`dual!`] (modules `sqlite` and `postgres` in the files that have them). sqlx's `Any`
//! driver is not used: it would route SQLite through a slower, type-erased path and offers no
//! PostgreSQL-only features (advisory locks, `jsonb`).
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

#[macro_use]
mod backend;
mod access;
mod baselines;
mod commit_thread;
mod error;
pub mod events;
pub mod executions;
mod git;
mod import;
pub mod job_runs;
mod leadership;
pub mod notifications;
mod page;
mod projects;
mod query;
pub mod reference;
mod schema;
pub mod secrets;
mod statements;
mod uniform;

#[cfg(any(test, feature = "test-cluster"))]
pub mod test_cluster;
#[cfg(test)]
mod testutil;
#[cfg(test)]
mod tls_tests;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::commit_thread::CommitThread;
use sluice_model::event::Timestamp;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub(crate) use backend::{Db, Dialect};

pub use access::{AuditEntry, AuditQuery, TokenRecord};
pub use baselines::Baseline;
pub use error::{Error, Result};
pub use events::{BatchOutcome, EventQuery, FieldFilter, TypeQuery};
pub use executions::{
    Changes, CommitOutcome, ExecutionQuery, ExecutionRecord, NewEvent, RunQuery, SentCommit,
};
pub use git::{GitObject, GitObjectKind};
pub use job_runs::SharedRun;
pub use leadership::{HEARTBEAT, Leadership};
pub use notifications::{
    AttemptOutcome, ChannelRecord, DeliveryAttempt, DeliveryQuery, DeliveryRecord, NewChannel,
    RuleRecord,
};
pub use page::{Page, Paging};
pub use projects::{
    EventContextInfo, LastEvent, ProjectRecord, ScopeExists, ServiceRecord, ServiceStageRecord,
};
pub use secrets::{INTERNAL_SECRET_PREFIX, SecretsKey};
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

/// Where a store keeps its data. Its `Debug` form hides a password in the URL.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded SQLite database `sluice.db` in this data directory (the default).
    Sqlite(PathBuf),
    /// A PostgreSQL database, as a `postgres://user[:password]@host[:port]/database` URL.
    /// Connections use TLS (rustls with ring) as libpq's parameters in the URL say
    /// (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`); the default `prefer` encrypts when the
    /// server offers it without checking its certificate, `verify-full` checks both.
    Postgres(String),
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Sqlite(dir) => f.debug_tuple("Sqlite").field(dir).finish(),
            StoreLocation::Postgres(url) => f
                .debug_tuple("Postgres")
                .field(&redact_password(url))
                .finish(),
        }
    }
}

impl StoreLocation {
    /// The location named by a `--store` value: a `postgres://` (or `postgresql://`) URL,
    /// otherwise `None` (the SQLite database of the data directory is meant).
    pub fn parse_url(text: &str) -> Result<StoreLocation> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            text.parse::<PgConnectOptions>()
                .map_err(|e| Error::InvalidInput(format!("store URL: {e}")))?;
            Ok(StoreLocation::Postgres(text.to_owned()))
        } else {
            Err(Error::InvalidInput(format!(
                "store {text:?}: expected a postgres:// URL (the SQLite store is the default, in --data-dir)"
            )))
        }
    }

    /// A description for logs: the database file, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            StoreLocation::Sqlite(dir) => dir.join(DATABASE_FILE).display().to_string(),
            StoreLocation::Postgres(url) => redact_password(url),
        }
    }
}

/// A PostgreSQL URL with its password (if any) replaced by `***`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The durable store of one sluice instance. Cheap to clone (clones share the connections).
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    location: StoreLocation,
    /// Project/stage/service scopes known to exist (see [`Store::scope`]).
    scopes: Arc<Mutex<KnownScopes>>,
    /// The key secrets are sealed with, once [`Store::unlock_secrets`] accepted it.
    secrets_key: Arc<std::sync::RwLock<Option<SecretsKey>>>,
    /// See [`Options::clock`].
    clock: sluice_model::clock::Clock,
    /// The leader's term that [`Store::commit`] must still hold (0: not fenced); see
    /// [`Store::fence`].
    fence: Arc<std::sync::atomic::AtomicU64>,
    /// Whether a chained commit failed since the last [`Store::resume_commits`] (PostgreSQL;
    /// SQLite's commit thread keeps its own, see [`Store::send_commit`]).
    chain_broken: Arc<std::sync::atomic::AtomicBool>,
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
        Store::open_location(&StoreLocation::Sqlite(data_dir.to_owned()), options).await
    }

    /// Opens (creating the SQLite database or the PostgreSQL tables if needed) the store at
    /// `location`, bringing its schema up to date. For PostgreSQL the database must exist;
    /// [`Options::readers`] + 1 is the size of its connection pool and
    /// [`Options::durability`] is ignored (a PostgreSQL commit is durable as the server is
    /// configured: `synchronous_commit`, `fsync`).
    pub async fn open_location(location: &StoreLocation, options: Options) -> Result<Store> {
        let db = match location {
            StoreLocation::Sqlite(dir) => open_sqlite(dir, options).await?,
            StoreLocation::Postgres(url) => open_postgres(url, options).await?,
        };
        Ok(Store {
            db,
            location: location.clone(),
            scopes: Arc::default(),
            secrets_key: Arc::default(),
            clock: options.clock,
            fence: Arc::default(),
            chain_broken: Arc::default(),
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

    /// Where the store keeps its data.
    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// The SQLite database file, `None` for a PostgreSQL store.
    pub fn path(&self) -> Option<PathBuf> {
        match &self.location {
            StoreLocation::Sqlite(dir) => Some(dir.join(DATABASE_FILE)),
            StoreLocation::Postgres(_) => None,
        }
    }

    /// The SQL dialect of this store's backend.
    pub(crate) fn dialect(&self) -> Dialect {
        match self.db {
            Db::Sqlite { .. } => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Which backend this store runs on.
    pub fn backend_name(&self) -> &'static str {
        match self.db {
            Db::Sqlite { .. } => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Closes all connections (checkpointing the WAL). Dropping the store also closes them,
    /// in the background.
    pub async fn close(self) {
        match self.db {
            Db::Sqlite {
                writer,
                readers,
                committer,
            } => {
                committer.close().await;
                readers.close().await;
                writer.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// Opens the SQLite database of a data directory: one writer connection, a few readers.
async fn open_sqlite(data_dir: &Path, options: Options) -> Result<Db> {
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
        // An in-process file, not a network peer: nothing goes stale between uses, and the
        // ping sqlx sends by default would cost a round trip to the connection's thread
        // before every transaction.
        .test_before_acquire(false)
        .connect_with(writer_options)
        .await?;
    {
        let mut conn = writer.acquire().await?;
        schema::sqlite::migrate(&mut conn).await?;
    }
    let readers = SqlitePoolOptions::new()
        .max_connections(options.readers.max(1))
        .acquire_timeout(Duration::from_secs(60))
        .test_before_acquire(false)
        .connect_with(base.read_only(true))
        .await?;
    let committer = CommitThread::start(&path, options.durability)?;
    Ok(Db::Sqlite {
        writer,
        readers,
        committer,
    })
}

/// Opens a PostgreSQL store: one pool for reads and writes (PostgreSQL's MVCC needs no
/// single writer; writes that SQLite serialised rely on unique keys, `ON CONFLICT` and the
/// `commit_seq` row lock instead).
async fn open_postgres(url: &str, options: Options) -> Result<Db> {
    let connect: PgConnectOptions = url
        .parse()
        .map_err(|e| Error::InvalidInput(format!("store URL: {e}")))?;
    let pool = PgPoolOptions::new()
        .max_connections(options.readers.max(1) + 1)
        .acquire_timeout(Duration::from_secs(60))
        .connect_with(
            connect
                .application_name("sluice")
                .options(leadership::POOL_SESSION_SETTINGS.iter().copied()),
        )
        .await?;
    {
        let mut conn = pool.acquire().await?;
        schema::postgres::migrate(&mut conn).await?;
    }
    Ok(Db::Postgres(pool))
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
impl Store {
    /// Writes the setting `k` = `{"v": 1}` (tests).
    pub(crate) async fn write_test_setting(&self) {
        let changes = Changes {
            settings_set: vec![("k".into(), serde_json::json!({"v": 1}))],
            ..Changes::default()
        };
        self.commit(changes).await.unwrap();
    }

    /// The SQLite writer pool (tests of SQLite specifics).
    pub(crate) fn sqlite_writer(&self) -> &sqlx::SqlitePool {
        match &self.db {
            Db::Sqlite { writer, .. } => writer,
            Db::Postgres(_) => panic!("not a SQLite store"),
        }
    }

    /// The SQLite reader pool (tests of SQLite specifics).
    pub(crate) fn sqlite_readers(&self) -> &sqlx::SqlitePool {
        match &self.db {
            Db::Sqlite { readers, .. } => readers,
            Db::Postgres(_) => panic!("not a SQLite store"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    /// Compile-time check: the store's futures can run on a multi-threaded runtime (axum).
    #[allow(dead_code)]
    fn futures_are_send(store: &Store, changes: &Changes, q: &EventQuery, t: &TypeQuery) {
        fn send<T: Send>(_: T) {}
        send(store.commit(changes.clone()));
        send(store.events(q));
        send(store.events_by_type("x", t));
        send(store.previous_evaluations("p", "s", "v", &["pass"], 3));
        send(store.load_active_executions());
        send(store.project("p"));
        send(store.clone());
    }

    /// Reopening applies nothing; a schema newer than this program is refused, on both
    /// backends (a PostgreSQL store migrates under an advisory lock, in one transaction).
    #[tokio::test]
    async fn reopening_keeps_data_and_newer_schemas_are_refused() {
        for backend in crate::testutil::backends("schema").await {
            println!("schema: {:?}", backend.location);
            let store = backend.open().await;
            store.write_test_setting().await;
            store.close().await;
            let store = backend.open().await;
            assert_eq!(
                store.setting("k").await.unwrap(),
                Some(serde_json::json!({"v": 1}))
            );
            let bump = "UPDATE schema_version SET version = version + 1";
            match &store.db {
                Db::Sqlite { writer, .. } => sqlx::query(bump).execute(writer).await.map(drop),
                Db::Postgres(pool) => sqlx::query(bump).execute(pool).await.map(drop),
            }
            .unwrap();
            store.close().await;
            match Store::open_location(&backend.location, Options::default()).await {
                Err(Error::Corrupt(msg)) => assert!(msg.contains("newer"), "{msg}"),
                other => panic!("expected Corrupt, got {other:?}"),
            }
        }
    }

    #[test]
    fn store_urls_are_checked_and_their_passwords_never_shown() {
        let url = "postgres://sluice:s3cret@db.example:5433/sluice?application_name=x";
        let location = StoreLocation::parse_url(url).unwrap();
        assert_eq!(location, StoreLocation::Postgres(url.to_owned()));
        for shown in [location.describe(), format!("{location:?}")] {
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(
                shown.contains("sluice:***@db.example:5433/sluice"),
                "{shown}"
            );
        }
        assert_eq!(
            StoreLocation::parse_url("postgresql://u@h/d")
                .unwrap()
                .describe(),
            "postgresql://u@h/d"
        );
        for bad in ["mysql://u@h/d", "sluice.db", "postgres://u@h:notaport/d"] {
            assert!(
                matches!(StoreLocation::parse_url(bad), Err(Error::InvalidInput(_))),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn opens_in_wal_mode_and_refuses_newer_schemas() {
        let dir = TempDir::new("open");
        let store = Store::open(&dir.0.join("nested")).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(store.sqlite_writer())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(store.sqlite_writer())
            .await
            .unwrap();
        assert_eq!(sync, 1, "NORMAL");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(store.sqlite_readers())
            .await
            .unwrap();
        assert_eq!(fk, 1);
        // Readers cannot write.
        assert!(
            sqlx::query("DELETE FROM secrets")
                .execute(store.sqlite_readers())
                .await
                .is_err()
        );
        sqlx::query("UPDATE schema_version SET version = version + 1")
            .execute(store.sqlite_writer())
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
