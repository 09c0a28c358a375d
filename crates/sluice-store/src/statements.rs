//! SQL statements written once and run both through sqlx and by the SQLite commit thread
//! ([`crate::commit_thread`]), so that both paths write the same rows. `?` placeholders;
//! `SQLITE_*` statements are SQLite's text of a statement that PostgreSQL writes otherwise.

/// Advances the commit counter; returns the commit's number and the largest event `seq`
/// before it (where the commit's events start). On PostgreSQL the row lock taken here orders
/// the commits: `commit_seq` is the gap-free tail key.
pub(crate) const COMMIT_COUNTER: &str = "UPDATE meta SET value = value + 1 WHERE key = 'commit_seq' \
     RETURNING value, (SELECT COALESCE(MAX(seq), 0) FROM events)";

/// The head of an event insert: the columns of an event row, in the order of
/// [`INSERT_EVENT`]'s parameters.
macro_rules! event_insert_head {
    () => {
        "INSERT INTO events (id, keptn_context, type, project, stage, service, source, \
         result, triggered_id, time_nanos, time_text, dispatched, body) VALUES "
    };
}

/// See [`event_insert_head`].
pub(crate) const EVENT_INSERT_HEAD: &str = event_insert_head!();

/// One event row; an id stored before is skipped (0 rows changed).
pub(crate) const INSERT_EVENT: &str = concat!(
    event_insert_head!(),
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
);

/// Records the root event of the contexts of the events from `seq` on. (The `WHERE` of the
/// upsert is required by SQLite's grammar for an upsert from a SELECT.)
pub(crate) const SQLITE_INDEX_CONTEXTS: &str = "INSERT INTO contexts (keptn_context, project, root_seq, root_time) \
     SELECT keptn_context, project, seq, time_nanos FROM events \
     WHERE seq >= ? AND project <> '' AND keptn_context <> '' ORDER BY seq \
     ON CONFLICT (keptn_context) DO UPDATE SET project = excluded.project, \
     root_seq = excluded.root_seq, root_time = excluded.root_time \
     WHERE excluded.root_time < contexts.root_time";

/// Records the `triggeredid`s named by `*.invalidated` events from `seq` on.
pub(crate) const INDEX_INVALIDATIONS: &str = "INSERT INTO invalidations (project, triggered_id) \
     SELECT project, triggered_id FROM events \
     WHERE seq >= ? AND type LIKE '%.invalidated' AND triggered_id <> '' \
     ON CONFLICT DO NOTHING";

/// The head of an execution insert: the columns of an execution row, in the order of
/// [`UPSERT_EXECUTION`]'s parameters.
macro_rules! execution_insert_head {
    () => {
        "INSERT INTO executions (id, project, stage, service, keptn_context, sequence_name, \
         state, terminal, triggered_at, updated_seq, body) VALUES "
    };
}

/// What an execution upsert replaces (after its `VALUES`): only what a step changes. An
/// execution's project, stage, service, context, sequence and trigger time are fixed when it
/// starts, and naming them here would make SQLite delete and insert the entries of the
/// executions' indexes on them at every step (it decides by the columns named, not by their
/// values).
macro_rules! execution_upsert_tail {
    () => {
        " ON CONFLICT (id) DO UPDATE SET state = excluded.state, \
         terminal = excluded.terminal, updated_seq = excluded.updated_seq, body = excluded.body"
    };
}

/// See [`execution_insert_head`].
pub(crate) const EXECUTION_INSERT_HEAD: &str = execution_insert_head!();

/// See [`execution_upsert_tail`].
pub(crate) const EXECUTION_UPSERT_TAIL: &str = execution_upsert_tail!();

/// One execution row, inserted or replacing the stored one.
pub(crate) const UPSERT_EXECUTION: &str = concat!(
    execution_insert_head!(),
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    execution_upsert_tail!()
);

/// Deletes one execution (an unknown id changes nothing).
pub(crate) const DELETE_EXECUTION: &str = "DELETE FROM executions WHERE id = ?";

/// Writes one setting (key, JSON text), replacing an earlier value.
pub(crate) const SET_SETTING: &str = "INSERT INTO settings (key, value) VALUES (?, ?) \
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/// Marks the outgoing events whose ids are in the JSON array parameter as sent.
pub(crate) const SQLITE_MARK_DISPATCHED: &str = "UPDATE events SET dispatched = 1 \
     WHERE dispatched = 0 AND id IN (SELECT value FROM json_each(?))";

/// Applies `lastEventTypes` patches (`[[project, stage, service, {type: info}], ...]`).
pub(crate) const SQLITE_WRITE_LAST_EVENTS: &str = "UPDATE service_stages SET last_event_types = json_patch(last_event_types, v.patch) \
     FROM (SELECT value ->> 0 AS project, value ->> 1 AS stage, value ->> 2 AS service, \
     value -> 3 AS patch FROM json_each(?)) AS v \
     WHERE service_stages.project = v.project AND service_stages.stage = v.stage \
     AND service_stages.service = v.service";

/// Appends an entry to the audit log (numbered parameters: the same text for sqlx on both
/// backends and for the commit thread's rusqlite connection).
pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log (at, actor, action, project, stage, \
     service, keptn_context, detail, client) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_row_statements_bind_one_row() {
        assert_eq!(INSERT_EVENT.matches('?').count(), 13);
        assert_eq!(UPSERT_EXECUTION.matches('?').count(), 11);
    }
}
