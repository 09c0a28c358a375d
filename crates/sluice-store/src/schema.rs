//! The database schema and its versioned migrations.
//!
//! `schema_version` holds one row: how many entries of [`MIGRATIONS`] have been applied.
//! Opening a store applies the missing ones in order, each in its own transaction, so a crash
//! during a migration leaves the previous version intact. Migrations are append-only: never
//! edit a published entry, add a new one.
//!
//! SQLite and PostgreSQL have separate lists ([`MIGRATIONS`], [`PG_MIGRATIONS`]) with the
//! same scheme; a PostgreSQL database starts at the schema SQLite reached with version 4.
//!
//! Conventions: tables are `STRICT`; text columns that mirror optional event attributes use
//! `''` for "absent" so that equality filters need no `IS NULL` cases; times are Unix
//! nanoseconds in `INTEGER` columns (`i64`, years 1678..2262); JSON documents are `TEXT`
//! checked with `json_valid`.

use crate::Dialect;
use crate::error::{Error, Result};

/// The migrations, in order. Index + 1 is the schema version after applying it.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7];

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

dual! {
/// Brings the schema up to the newest version. Runs on the writer connection.
    pub(crate) async fn migrate(conn: &mut Conn) -> Result<()> {
        let migrations = match D {
            Dialect::Sqlite => MIGRATIONS,
            Dialect::Postgres => PG_MIGRATIONS,
        };
        if D.is_pg() {
            // Several processes may open one database at once: the first migrates, the others
            // wait for it (a transaction-level advisory lock, released at its end).
            sqlx::raw_sql("BEGIN").execute(&mut *conn).await?;
            let ready = async {
                sqlx::raw_sql("SELECT pg_advisory_xact_lock(7318041361206412907)")
                    .execute(&mut *conn)
                    .await?;
                sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
                    .execute(&mut *conn)
                    .await?;
                Ok::<(), sqlx::Error>(())
            }
            .await;
            if let Err(e) = ready {
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
                return Err(e.into());
            }
        } else {
            sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT")
                .execute(&mut *conn)
                .await?;
        }
        let result = apply(conn, migrations).await;
        if D.is_pg() {
            match &result {
                Ok(()) => {
                    sqlx::raw_sql("COMMIT").execute(&mut *conn).await?;
                }
                Err(_) => {
                    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
                }
            }
        }
        result
    }

    /// Applies the missing migrations. On SQLite each runs in its own transaction; on
    /// PostgreSQL they all run in the caller's (DDL is transactional there).
    async fn apply(conn: &mut Conn, migrations: &[&'static str]) -> Result<()> {
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
        if current > migrations.len() {
            return Err(Error::Corrupt(format!(
                "the database has schema version {current}, newer than this program ({})",
                migrations.len()
            )));
        }
        for (i, sql) in migrations.iter().enumerate().skip(current) {
            let version = i as i64 + 1;
            if !D.is_pg() {
                sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut *conn).await?;
            }
            let applied = async {
                sqlx::raw_sql(*sql).execute(&mut *conn).await?;
                sqlx::query(D.sql("UPDATE schema_version SET version = ?"))
                    .bind(version)
                    .execute(&mut *conn)
                    .await?;
                Ok::<(), sqlx::Error>(())
            }
            .await;
            match applied {
                Ok(()) if D.is_pg() => {}
                Ok(()) => {
                    sqlx::raw_sql("COMMIT").execute(&mut *conn).await?;
                }
                Err(e) => {
                    if !D.is_pg() {
                        // Best effort: the connection is discarded with the error anyway.
                        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
                    }
                    return Err(e.into());
                }
            }
        }
        Ok(())
    }
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

/// The PostgreSQL migrations, in order. Index + 1 is the schema version after applying it.
pub(crate) const PG_MIGRATIONS: &[&str] = &[PG_V1, PG_V2, PG_V3, PG_V4, PG_V5, PG_V6, PG_V7];

/// Version 1 on PostgreSQL: SQLite's version 4 in PostgreSQL types. Integers are `BIGINT`
/// (the same `i64` binds on both backends, flags included); the event store's `seq` is an
/// identity column (insertion order, not commit order: the gap-free tail key is
/// `meta.commit_seq`, bumped by `UPDATE … RETURNING` in every commit); event bodies stay
/// `TEXT`, byte-exact as received, with a generated `jsonb` copy for the filters on JSON paths;
/// other JSON documents are `TEXT` checked by a cast to `jsonb`.
const PG_V1: &str = r#"
CREATE TABLE meta (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('commit_seq', 0);

CREATE TABLE events (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT COLLATE "C" NOT NULL UNIQUE,
    keptn_context TEXT COLLATE "C" NOT NULL,
    type          TEXT COLLATE "C" NOT NULL,
    project       TEXT COLLATE "C" NOT NULL,
    stage         TEXT COLLATE "C" NOT NULL,
    service       TEXT COLLATE "C" NOT NULL,
    source        TEXT COLLATE "C" NOT NULL,
    result        TEXT COLLATE "C" NOT NULL,
    triggered_id  TEXT COLLATE "C" NOT NULL,
    time_nanos    BIGINT NOT NULL,
    time_text     TEXT COLLATE "C" NOT NULL,
    dispatched    BIGINT CHECK (dispatched IN (0, 1)),
    body          TEXT COLLATE "C" NOT NULL,
    body_j        JSONB GENERATED ALWAYS AS (body::jsonb) STORED
);
CREATE INDEX events_context      ON events (keptn_context, seq);
CREATE INDEX events_scope        ON events (project, stage, service, type, time_nanos);
CREATE INDEX events_project_time ON events (project, time_nanos);
CREATE INDEX events_type_time    ON events (type, time_nanos);
CREATE INDEX events_triggered    ON events (triggered_id) WHERE triggered_id <> '';
CREATE INDEX events_outbox       ON events (seq) WHERE dispatched = 0;

CREATE TABLE contexts (
    keptn_context TEXT PRIMARY KEY,
    project       TEXT COLLATE "C" NOT NULL,
    root_seq      BIGINT NOT NULL,
    root_time     BIGINT NOT NULL
);
CREATE INDEX contexts_project_time ON contexts (project, root_time);

CREATE TABLE invalidations (
    project      TEXT COLLATE "C" NOT NULL,
    triggered_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (project, triggered_id)
);

CREATE TABLE projects (
    name             TEXT COLLATE "C" PRIMARY KEY,
    shipyard         TEXT COLLATE "C" NOT NULL,
    shipyard_version TEXT COLLATE "C" NOT NULL,
    creation_date    TEXT COLLATE "C" NOT NULL,
    git_upstream     TEXT COLLATE "C" CHECK (git_upstream IS NULL OR (git_upstream::jsonb) IS NOT NULL)
);

CREATE TABLE stages (
    project  TEXT COLLATE "C" NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    name     TEXT COLLATE "C" NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (project, name)
);

CREATE TABLE services (
    project       TEXT COLLATE "C" NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
    name          TEXT COLLATE "C" NOT NULL,
    creation_date TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (project, name)
);

CREATE TABLE service_stages (
    project           TEXT COLLATE "C" NOT NULL,
    stage             TEXT COLLATE "C" NOT NULL,
    service           TEXT COLLATE "C" NOT NULL,
    deployed_image    TEXT COLLATE "C",
    last_event_types  TEXT COLLATE "C" NOT NULL DEFAULT '{}' CHECK ((last_event_types::jsonb) IS NOT NULL),
    open_remediations TEXT COLLATE "C" NOT NULL DEFAULT '[]' CHECK ((open_remediations::jsonb) IS NOT NULL),
    PRIMARY KEY (project, stage, service),
    FOREIGN KEY (project, stage) REFERENCES stages (project, name) ON DELETE CASCADE,
    FOREIGN KEY (project, service) REFERENCES services (project, name) ON DELETE CASCADE
);
CREATE INDEX service_stages_service ON service_stages (project, service);

CREATE TABLE executions (
    id            TEXT PRIMARY KEY,
    project       TEXT COLLATE "C" NOT NULL,
    stage         TEXT COLLATE "C" NOT NULL,
    service       TEXT COLLATE "C" NOT NULL,
    keptn_context TEXT COLLATE "C" NOT NULL,
    sequence_name TEXT COLLATE "C" NOT NULL,
    state         TEXT COLLATE "C" NOT NULL,
    terminal      BIGINT NOT NULL CHECK (terminal IN (0, 1)),
    triggered_at  BIGINT NOT NULL,
    updated_seq   BIGINT NOT NULL,
    body          TEXT COLLATE "C" NOT NULL CHECK ((body::jsonb) IS NOT NULL)
);
CREATE INDEX executions_active       ON executions (triggered_at) WHERE terminal = 0;
CREATE INDEX executions_project_time ON executions (project, triggered_at);
CREATE INDEX executions_context      ON executions (keptn_context);

CREATE TABLE uniform_registrations (
    id            TEXT COLLATE "C" PRIMARY KEY,
    name          TEXT COLLATE "C" NOT NULL,
    metadata      TEXT COLLATE "C" NOT NULL CHECK ((metadata::jsonb) IS NOT NULL),
    subscriptions TEXT COLLATE "C" NOT NULL CHECK ((subscriptions::jsonb) IS NOT NULL),
    last_seen     BIGINT NOT NULL
);

CREATE TABLE secrets (
    name TEXT COLLATE "C" PRIMARY KEY,
    data TEXT COLLATE "C" NOT NULL CHECK ((data::jsonb) IS NOT NULL)
);

CREATE TABLE settings (
    key   TEXT COLLATE "C" PRIMARY KEY,
    value TEXT COLLATE "C" NOT NULL CHECK ((value::jsonb) IS NOT NULL)
);

CREATE TABLE sealed_secrets (
    name   TEXT COLLATE "C" PRIMARY KEY,
    nonce  BYTEA NOT NULL,
    sealed BYTEA NOT NULL
);

-- The leader's term (see `Store::campaign`): bumped by each new leader.
CREATE TABLE cluster (
    id     BIGINT PRIMARY KEY CHECK (id = 1),
    epoch  BIGINT NOT NULL,
    leader TEXT COLLATE "C" NOT NULL
);
INSERT INTO cluster (id, epoch, leader) VALUES (1, 0, '');
"#;

/// Version 2 on PostgreSQL: the project repositories shared by the replicas (see
/// `git.rs`). `git_objects` holds every git object of a project by its id (content-addressed,
/// so inserts are `ON CONFLICT DO NOTHING`); `git_refs` the branch heads, moved only by a
/// compare-and-swap in the transaction that inserts the new commit's objects. SQLite stores
/// have one process and keep the repositories on disk only, so they have no such tables.
const PG_V2: &str = r#"
CREATE TABLE git_objects (
    project TEXT COLLATE "C" NOT NULL,
    oid     TEXT COLLATE "C" NOT NULL,
    kind    TEXT COLLATE "C" NOT NULL CHECK (kind IN ('commit', 'tree', 'blob', 'tag')),
    data    BYTEA NOT NULL,
    PRIMARY KEY (project, oid)
);

CREATE TABLE git_refs (
    project TEXT COLLATE "C" NOT NULL,
    name    TEXT COLLATE "C" NOT NULL,
    oid     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (project, name)
);
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

/// Version 3 on PostgreSQL: SQLite's version 5 (scoped API tokens and the audit log) in
/// PostgreSQL types.
const PG_V3: &str = r#"
CREATE TABLE api_tokens (
    id           TEXT COLLATE "C" PRIMARY KEY,
    name         TEXT COLLATE "C" NOT NULL UNIQUE,
    role         TEXT COLLATE "C" NOT NULL,
    project      TEXT COLLATE "C" NOT NULL,
    stages       TEXT COLLATE "C" NOT NULL,
    secret_hash  BYTEA NOT NULL,
    created_by   TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);

CREATE TABLE audit_log (
    seq           BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at            BIGINT NOT NULL,
    actor         TEXT COLLATE "C" NOT NULL,
    action        TEXT COLLATE "C" NOT NULL,
    project       TEXT COLLATE "C" NOT NULL,
    stage         TEXT COLLATE "C" NOT NULL,
    service       TEXT COLLATE "C" NOT NULL,
    keptn_context TEXT COLLATE "C" NOT NULL,
    detail        TEXT COLLATE "C" NOT NULL,
    client        TEXT COLLATE "C" NOT NULL
);
CREATE INDEX audit_log_project ON audit_log (project, seq);
CREATE INDEX audit_log_actor   ON audit_log (actor, seq);
"#;

/// Version 6: notifications: channels (where to send; the URL and signing secret sealed like
/// secrets), rules (which events of which stages and services go to which channel), the
/// deliveries (the durable queue and its log) and every attempt of each delivery.
const V6: &str = r#"
CREATE TABLE notification_channels (
    project     TEXT NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,                -- webhook, slack, teams
    target      TEXT NOT NULL,                -- the URL as shown (secret parts hidden)
    template    TEXT NOT NULL,                -- '' for the channel's default message
    nonce       BLOB NOT NULL,
    sealed      BLOB NOT NULL,                -- the URL and signing secret, sealed
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (project, name)
) STRICT;

CREATE TABLE notification_rules (
    project     TEXT NOT NULL,
    name        TEXT NOT NULL,
    channel     TEXT NOT NULL,                -- a channel of the project
    events      TEXT NOT NULL,                -- JSON array of notification event names
    stages      TEXT NOT NULL,                -- JSON array, [] for every stage
    services    TEXT NOT NULL,                -- JSON array, [] for every service
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (project, name)
) STRICT;

CREATE TABLE notification_deliveries (
    id            TEXT PRIMARY KEY,           -- derived from rule and event
    project       TEXT NOT NULL,
    rule          TEXT NOT NULL,
    channel       TEXT NOT NULL,
    event         TEXT NOT NULL,              -- the notification event name
    event_id      TEXT NOT NULL,
    keptn_context TEXT NOT NULL,
    stage         TEXT NOT NULL,
    service       TEXT NOT NULL,
    body          TEXT NOT NULL,              -- what is sent ('' when it could not be built)
    state         TEXT NOT NULL,              -- pending, delivered, failed
    attempts      INTEGER NOT NULL,
    next_at       INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    last_status   INTEGER NOT NULL,           -- HTTP status of the last attempt, 0 for none
    last_error    TEXT NOT NULL
) STRICT;
CREATE INDEX notification_deliveries_due     ON notification_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX notification_deliveries_project ON notification_deliveries (project, created_at);

CREATE TABLE notification_attempts (
    delivery_id TEXT NOT NULL,
    n           INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    status      INTEGER NOT NULL,             -- HTTP status, 0 when no answer
    error       TEXT NOT NULL,                -- '' when delivered
    PRIMARY KEY (delivery_id, n)
) STRICT;
"#;

/// Version 4 on PostgreSQL: SQLite's version 6 (notification channels, rules, deliveries,
/// attempts) in PostgreSQL types.
const PG_V4: &str = r#"
CREATE TABLE notification_channels (
    project     TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL,
    target      TEXT COLLATE "C" NOT NULL,
    template    TEXT NOT NULL,
    nonce       BYTEA NOT NULL,
    sealed      BYTEA NOT NULL,
    created_by  TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (project, name)
);

CREATE TABLE notification_rules (
    project     TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    channel     TEXT COLLATE "C" NOT NULL,
    events      TEXT COLLATE "C" NOT NULL,
    stages      TEXT COLLATE "C" NOT NULL,
    services    TEXT COLLATE "C" NOT NULL,
    created_by  TEXT COLLATE "C" NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (project, name)
);

CREATE TABLE notification_deliveries (
    id            TEXT COLLATE "C" PRIMARY KEY,
    project       TEXT COLLATE "C" NOT NULL,
    rule          TEXT COLLATE "C" NOT NULL,
    channel       TEXT COLLATE "C" NOT NULL,
    event         TEXT COLLATE "C" NOT NULL,
    event_id      TEXT COLLATE "C" NOT NULL,
    keptn_context TEXT COLLATE "C" NOT NULL,
    stage         TEXT COLLATE "C" NOT NULL,
    service       TEXT COLLATE "C" NOT NULL,
    body          TEXT NOT NULL,
    state         TEXT COLLATE "C" NOT NULL,
    attempts      BIGINT NOT NULL,
    next_at       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_status   BIGINT NOT NULL,
    last_error    TEXT NOT NULL
);
CREATE INDEX notification_deliveries_due     ON notification_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX notification_deliveries_project ON notification_deliveries (project, created_at);

CREATE TABLE notification_attempts (
    delivery_id TEXT COLLATE "C" NOT NULL,
    n           BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    status      BIGINT NOT NULL,
    error       TEXT NOT NULL,
    PRIMARY KEY (delivery_id, n)
);
"#;

/// Version 7: the pinned baseline evaluation of each stage and service (sluice's
/// `comparison.compare_with: baseline`).
const V7: &str = r#"
CREATE TABLE baselines (
    project       TEXT NOT NULL,
    stage         TEXT NOT NULL,
    service       TEXT NOT NULL,
    evaluation_id TEXT NOT NULL,                -- id of an evaluation.finished event
    set_by        TEXT NOT NULL,                -- the token name
    set_at        INTEGER NOT NULL,
    PRIMARY KEY (project, stage, service)
) STRICT;
"#;

/// Version 5 on PostgreSQL: SQLite's version 7 (pinned baselines) in PostgreSQL types.
const PG_V5: &str = r#"
CREATE TABLE baselines (
    project       TEXT COLLATE "C" NOT NULL,
    stage         TEXT COLLATE "C" NOT NULL,
    service       TEXT COLLATE "C" NOT NULL,
    evaluation_id TEXT COLLATE "C" NOT NULL,
    set_by        TEXT COLLATE "C" NOT NULL,
    set_at        BIGINT NOT NULL,
    PRIMARY KEY (project, stage, service)
);
"#;

/// Version 6 on PostgreSQL: the job executor's finished task runs, shared by the replicas
/// (see `job_runs.rs`), so that a replica that leads after another shows the runs the other
/// made. A single server keeps them in its data directory only, so SQLite has no such table.
const PG_V6: &str = r#"
CREATE TABLE job_runs (
    triggered_id  TEXT COLLATE "C" NOT NULL,
    action_index  BIGINT NOT NULL,
    task_index    BIGINT NOT NULL,
    keptn_context TEXT COLLATE "C" NOT NULL,
    record        TEXT NOT NULL,
    output        TEXT NOT NULL,
    PRIMARY KEY (triggered_id, action_index, task_index)
);
"#;

/// Version 7 on PostgreSQL: when each shared job run ended (nanoseconds since the epoch), so
/// that runs past the server's retention go (`Store::delete_job_runs_ended_before`). Runs
/// shared before, and runs a replica of the previous version still shares during a rolling
/// upgrade (it does not name the column), count as ended when they are written: they are
/// kept one retention period from then.
const PG_V7: &str = r#"
ALTER TABLE job_runs ADD COLUMN ended_at BIGINT NOT NULL
    DEFAULT ((extract(epoch FROM now()) * 1000000000)::BIGINT);
CREATE INDEX job_runs_ended ON job_runs (ended_at);
"#;
