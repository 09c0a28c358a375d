//! The database schema and its versioned migrations.
//!
//! `schema_version` holds one row: how many entries of [`MIGRATIONS`] have been applied.
//! Opening a store applies the missing ones in order, each in its own transaction, so a crash
//! during a migration leaves the previous version intact. Migrations are append-only: never
//! edit a published entry, add a new one.
//!
//! Conventions: tables are `STRICT`; text columns that mirror optional event attributes use
//! `''` for "absent" so that equality filters need no `IS NULL` cases; times are Unix
//! nanoseconds in `INTEGER` columns (`i64`, years 1678..2262); JSON documents are `TEXT`
//! checked with `json_valid`.

use sqlx::SqliteConnection;

use crate::error::{Error, Result};

/// The migrations, in order. Index + 1 is the schema version after applying it.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5];

const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;
INSERT INTO meta (key, value) VALUES ('commit_seq', 0);

-- Every accepted event (Keptn's mongodb-datastore), incoming and outgoing.
CREATE TABLE events (
    seq           INTEGER PRIMARY KEY,          -- insertion order
    id            TEXT NOT NULL UNIQUE,
    keptn_context TEXT NOT NULL,
    type          TEXT NOT NULL,
    project       TEXT NOT NULL,                -- data.project, '' when absent
    stage         TEXT NOT NULL,
    service       TEXT NOT NULL,
    source        TEXT NOT NULL,
    result        TEXT NOT NULL,                -- data.result
    triggered_id  TEXT NOT NULL,
    time_nanos    INTEGER NOT NULL,
    time_text     TEXT NOT NULL,                -- `time` as received ('' when absent)
    dispatched    INTEGER CHECK (dispatched IN (0, 1)), -- NULL: not outgoing; 0: in the outbox
    body          TEXT NOT NULL                 -- the whole event (Keptn model JSON)
) STRICT;
CREATE INDEX events_context      ON events (keptn_context, seq);
CREATE INDEX events_scope        ON events (project, stage, service, type, time_nanos);
CREATE INDEX events_project_time ON events (project, time_nanos);
CREATE INDEX events_type_time    ON events (type, time_nanos);
CREATE INDEX events_triggered    ON events (triggered_id) WHERE triggered_id <> '';
CREATE INDEX events_outbox       ON events (seq) WHERE dispatched = 0;

-- Root event (earliest by time) of each context that has a project.
CREATE TABLE contexts (
    keptn_context TEXT PRIMARY KEY,
    project       TEXT NOT NULL,
    root_seq      INTEGER NOT NULL,
    root_time     INTEGER NOT NULL
) STRICT;
CREATE INDEX contexts_project_time ON contexts (project, root_time);

-- triggeredids named by `*.invalidated` events, per project.
CREATE TABLE invalidations (
    project      TEXT NOT NULL,
    triggered_id TEXT NOT NULL,
    PRIMARY KEY (project, triggered_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE projects (
    name             TEXT PRIMARY KEY,
    shipyard         TEXT NOT NULL,
    shipyard_version TEXT NOT NULL,
    creation_date    TEXT NOT NULL,
    git_upstream     TEXT CHECK (git_upstream IS NULL OR json_valid(git_upstream))
) STRICT;

CREATE TABLE stages (
    project  TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (project, name)
) STRICT;

CREATE TABLE services (
    project       TEXT NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    creation_date TEXT NOT NULL,
    PRIMARY KEY (project, name)
) STRICT;

CREATE TABLE service_stages (
    project           TEXT NOT NULL,
    stage             TEXT NOT NULL,
    service           TEXT NOT NULL,
    deployed_image    TEXT,
    last_event_types  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(last_event_types)),
    open_remediations TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(open_remediations)),
    PRIMARY KEY (project, stage, service),
    FOREIGN KEY (project, stage) REFERENCES stages (project, name) ON DELETE CASCADE,
    FOREIGN KEY (project, service) REFERENCES services (project, name) ON DELETE CASCADE
) STRICT;
CREATE INDEX service_stages_service ON service_stages (project, service);

CREATE TABLE executions (
    id            TEXT PRIMARY KEY,
    project       TEXT NOT NULL,
    stage         TEXT NOT NULL,
    service       TEXT NOT NULL,
    keptn_context TEXT NOT NULL,
    sequence_name TEXT NOT NULL,
    state         TEXT NOT NULL,
    terminal      INTEGER NOT NULL CHECK (terminal IN (0, 1)),
    triggered_at  INTEGER NOT NULL,
    updated_seq   INTEGER NOT NULL,
    body          TEXT NOT NULL CHECK (json_valid(body))
) STRICT;
CREATE INDEX executions_active       ON executions (triggered_at) WHERE terminal = 0;
CREATE INDEX executions_project_time ON executions (project, triggered_at);
CREATE INDEX executions_context      ON executions (keptn_context);

CREATE TABLE timers (
    key     TEXT PRIMARY KEY,
    due     INTEGER NOT NULL,
    project TEXT,
    payload TEXT NOT NULL CHECK (json_valid(payload))
) STRICT;
CREATE INDEX timers_due     ON timers (due);
CREATE INDEX timers_project ON timers (project) WHERE project IS NOT NULL;

CREATE TABLE uniform_registrations (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    metadata      TEXT NOT NULL CHECK (json_valid(metadata)),
    subscriptions TEXT NOT NULL CHECK (json_valid(subscriptions)),
    last_seen     INTEGER NOT NULL
) STRICT;

CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    data TEXT NOT NULL CHECK (json_valid(data))
) STRICT;
"#;

/// Brings the schema up to the newest version. Runs on the writer connection.
pub(crate) async fn migrate(conn: &mut SqliteConnection) -> Result<()> {
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT")
        .execute(&mut *conn)
        .await?;
    let current: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_version")
        .fetch_optional(&mut *conn)
        .await?;
    let current = match current {
        Some(v) => usize::try_from(v)
            .map_err(|_| Error::Corrupt(format!("schema version {v} is negative")))?,
        None => {
            sqlx::query("INSERT INTO schema_version (version) VALUES (0)")
                .execute(&mut *conn)
                .await?;
            0
        }
    };
    if current > MIGRATIONS.len() {
        return Err(Error::Corrupt(format!(
            "the database has schema version {current}, newer than this program ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let version = i as i64 + 1;
        sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let applied = async {
            sqlx::raw_sql(*sql).execute(&mut *conn).await?;
            sqlx::query("UPDATE schema_version SET version = ?")
                .bind(version)
                .execute(&mut *conn)
                .await?;
            Ok::<(), sqlx::Error>(())
        }
        .await;
        match applied {
            Ok(()) => {
                sqlx::raw_sql("COMMIT").execute(&mut *conn).await?;
            }
            Err(e) => {
                // Best effort: the connection is discarded with the error anyway.
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// Version 2: small JSON settings of the control plane (such as the engine's pauses), written
/// in the same transaction as the state they belong to.
const V2: &str = r#"
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL CHECK (json_valid(value))
) STRICT;
"#;

/// Version 3: secrets encrypted at rest (see `secrets.rs`). The plain-text table `secrets` of
/// versions 1 and 2 stays, empty once `Store::unlock_secrets` has encrypted its rows.
const V3: &str = r#"
CREATE TABLE sealed_secrets (
    name   TEXT PRIMARY KEY,
    nonce  BLOB NOT NULL,
    sealed BLOB NOT NULL
) STRICT;
"#;

/// Version 4: the `timers` table of version 1 goes. Nothing wrote it: the driver re-arms
/// timers from the open executions it restores.
const V4: &str = r#"
DROP TABLE IF EXISTS timers;
"#;

/// Version 5: scoped API tokens (only a hash of each secret is kept) and the audit log
/// (append-only: the store has no method that changes or deletes an entry). Plain tables
/// and types a PostgreSQL schema has too; `stages` is a JSON array kept as text and read in
/// Rust, so no JSON function of the database is needed.
const V5: &str = r#"
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL,
    project      TEXT NOT NULL,                -- '' for every project
    stages       TEXT NOT NULL,                -- JSON array of stage names, [] for every stage
    secret_hash  BLOB NOT NULL,                -- SHA-256 of the secret part
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
) STRICT;

CREATE TABLE audit_log (
    seq           INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    actor         TEXT NOT NULL,                -- token name
    action        TEXT NOT NULL,
    project       TEXT NOT NULL,
    stage         TEXT NOT NULL,
    service       TEXT NOT NULL,
    keptn_context TEXT NOT NULL,
    detail        TEXT NOT NULL,
    client        TEXT NOT NULL                 -- the client address
) STRICT;
CREATE INDEX audit_log_project ON audit_log (project, seq);
CREATE INDEX audit_log_actor   ON audit_log (actor, seq);
"#;
