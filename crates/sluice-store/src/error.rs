//! The store's error type.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The named thing does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. `project "sockshop"`.
        what: String,
    },
    /// The named thing exists already.
    #[error("{what} already exists")]
    AlreadyExists {
        /// What was to be created, e.g. `service "carts" in project "sockshop"`.
        what: String,
    },
    /// The named thing is still used by others and cannot be deleted.
    #[error("{what} is used by {users}")]
    InUse {
        /// What was to be deleted.
        what: String,
        /// What uses it.
        users: String,
    },
    /// An event with this id was stored before (a repeated delivery); nothing was written.
    #[error("event {id} was already stored")]
    Duplicate {
        /// The event id.
        id: String,
    },
    /// This process's leader term is over: another replica started a newer term, so this
    /// commit was refused and nothing was written (see [`crate::Store::fence`]).
    #[error("fenced: this process led term {held}, but the cluster is at term {current}")]
    Fenced {
        /// The term this store was fenced with.
        held: u64,
        /// The cluster's term found in the database.
        current: u64,
    },
    /// A chained commit was not written because one sent before it failed (see
    /// [`crate::Store::send_commit`]); nothing of it was stored.
    #[error("not written: an earlier commit that it follows failed")]
    EarlierCommitFailed,
    /// The caller passed something the store cannot keep or use (an event without an id,
    /// a malformed page key or filter, a body that is not JSON).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The database failed (I/O, locking, a constraint).
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// TLS to PostgreSQL failed: the server did not offer it where the URL requires it, or
    /// its certificate did not pass the checks the URL asks for.
    #[error(
        "TLS to PostgreSQL failed: {0} (the URL's sslmode says what is checked and sslrootcert which CA is trusted; see docs/cluster.md, \"TLS to PostgreSQL\")"
    )]
    Tls(#[source] sqlx::Error),
    /// The database failed on the SQLite commit thread (I/O, locking, a constraint).
    #[error("database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// Secrets cannot be read or written before [`crate::Store::unlock_secrets`].
    #[error("secrets are locked: no secrets key was given")]
    SecretsLocked,
    /// The secrets key does not open a stored secret (another data directory's key, an old
    /// key after a rotation, or a changed database).
    #[error(
        "the secrets key does not open the stored secret {name:?}: give the key this data directory's secrets were encrypted with"
    )]
    WrongSecretsKey {
        /// The first secret that did not open.
        name: String,
    },
    /// The operating system gave no randomness (for a key or a nonce).
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    /// The database holds something this program cannot read (a stored document that no
    /// longer parses, a schema newer than this program).
    #[error("store is corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        // sqlx reports a refused server certificate as an I/O error that carries rustls's.
        let handshake = matches!(&e, sqlx::Error::Io(io)
            if io.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()));
        match e {
            sqlx::Error::Tls(_) => Error::Tls(e),
            e if handshake => Error::Tls(e),
            e => Error::Database(e),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Sqlite(e)
    }
}

impl Error {
    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound { what: what.into() }
    }

    pub(crate) fn exists(what: impl Into<String>) -> Self {
        Error::AlreadyExists { what: what.into() }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
