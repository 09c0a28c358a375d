//! Events: Keptn's datastore (every accepted event, with Keptn's queries), root events,
//! invalidations and the outbox of outgoing events.

use std::collections::HashSet;

use serde_json::Value;
use sluice_model::event::{ContentTypeKey, KeptnEvent, Timestamp};
#[cfg(test)]
use sqlx::AssertSqlSafe;

use sluice_model::event::kind::EVALUATION_FINISHED;

use crate::error::{Error, Result};
use crate::page::{Page, Paging};
use crate::query::{Arg, Conditions};
use crate::statements;
use crate::{Dialect, Store, to_nanos};

/// Largest page of the event list (Keptn's datastore: 100).
pub const MAX_EVENT_PAGE: u32 = 100;

/// Filter of [`Store::events`], Keptn's `GET /event` of the datastore. All given fields must
/// match; results are newest first (`time`, then insertion order, descending).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    /// `shkeptncontext`
    pub keptn_context: Option<String>,
    /// `type`
    pub event_type: Option<String>,
    /// `data.project`
    pub project: Option<String>,
    /// `data.stage`
    pub stage: Option<String>,
    /// `data.service`
    pub service: Option<String>,
    /// `id`
    pub event_id: Option<String>,
    /// `source`
    pub source: Option<String>,
    /// `triggeredid`
    pub triggered_id: Option<String>,
    /// Only events strictly after this time (Keptn: `$gt`).
    pub from_time: Option<Timestamp>,
    /// Only events strictly before this time (Keptn: `$lt`).
    pub before_time: Option<Timestamp>,
    /// Only root events: the earliest event of each context that has a project (`root=true`).
    pub root_only: bool,
    /// The page.
    pub paging: Paging,
}

/// One condition of Keptn's `/event/type/{type}?filter=` mini-language: the event's value at
/// `field` (a dotted JSON path such as `data.project`) is one of `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldFilter {
    /// Dotted path into the event (`data.project`, `shkeptncontext`, `source`, ...).
    pub field: String,
    /// Accepted values (an IN list).
    pub values: Vec<String>,
}

/// Query of [`Store::events_by_type`], Keptn's `GET /event/type/{type}` of the datastore.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TypeQuery {
    /// Conditions; one of them must be a non-empty `data.project` or `shkeptncontext`.
    pub filters: Vec<FieldFilter>,
    /// Leave out events whose `triggeredid` was named by an `*.invalidated` event of the
    /// same project.
    pub exclude_invalidated: bool,
    /// Only events strictly after this time.
    pub from_time: Option<Timestamp>,
    /// At most this many events (`None` or 0: all).
    pub limit: Option<u32>,
}

impl TypeQuery {
    /// Reads Keptn's filter text `key:value AND key:v1,v2` the way the datastore does:
    /// pairs are separated by ` AND `, a pair without exactly one `:` is ignored, a value
    /// list is comma separated, and a later pair for the same key replaces an earlier one.
    pub fn parse_filter(text: &str) -> Vec<FieldFilter> {
        let mut out: Vec<FieldFilter> = Vec::new();
        for pair in text.split(" AND ") {
            let parts: Vec<&str> = pair.split(':').collect();
            let [field, values] = parts.as_slice() else {
                continue;
            };
            let filter = FieldFilter {
                field: field.to_string(),
                values: values.split(',').map(str::to_string).collect(),
            };
            match out.iter_mut().find(|f| f.field == filter.field) {
                Some(existing) => *existing = filter,
                None => out.push(filter),
            }
        }
        out
    }
}

/// What [`Store::insert_events_batch`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Number of events stored.
    pub inserted: usize,
    /// Ids that were stored before (skipped).
    pub duplicates: Vec<String>,
}

/// The indexed columns of one event and its JSON.
pub(crate) struct EventRow {
    pub(crate) id: String,
    pub(crate) context: String,
    pub(crate) event_type: String,
    pub(crate) project: String,
    pub(crate) stage: String,
    pub(crate) service: String,
    pub(crate) source: String,
    pub(crate) result: String,
    pub(crate) triggered_id: String,
    pub(crate) time_nanos: i64,
    pub(crate) time_text: String,
    pub(crate) body: String,
}

impl EventRow {
    /// The row of an event. The id must be present; a missing or unreadable `time` is
    /// stored as `now` (with an empty original string).
    pub(crate) fn of(ev: &KeptnEvent, now: Timestamp) -> Result<EventRow> {
        let id = ev.id.clone().unwrap_or_default();
        if id.is_empty() {
            return Err(Error::InvalidInput("event has no id".into()));
        }
        let data = ev.data_value();
        let field = |k: &str| {
            data.get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let (time_nanos, time_text) = match ev.timestamp() {
            Some(Ok(t)) => (to_nanos(t), ev.time.clone().unwrap_or_default()),
            _ => (to_nanos(now), String::new()),
        };
        Ok(EventRow {
            id,
            context: ev.shkeptncontext.clone().unwrap_or_default(),
            event_type: ev.event_type.clone().unwrap_or_default(),
            project: field("project"),
            stage: field("stage"),
            service: field("service"),
            source: ev.source.clone().unwrap_or_default(),
            result: field("result"),
            triggered_id: ev.triggeredid.clone().unwrap_or_default(),
            time_nanos,
            time_text,
            body: ev.to_json(ContentTypeKey::ContentType),
        })
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }
}

/// Events per multi-row `INSERT` statement (13 parameters each, well below SQLite's 32,766).
const ROWS_PER_STATEMENT: usize = 500;

/// What [`insert_rows`] stored.
#[derive(Debug, Default)]
pub(crate) struct Inserted {
    /// Ids of the events stored.
    pub(crate) ids: HashSet<String>,
    /// Whether one of them is an `*.invalidated` event.
    pub(crate) invalidations: bool,
}

dual! {
    use sqlx::Row;

    /// Inserts many events with multi-row statements (one round trip to SQLite per 500 events
    /// instead of two per event), skipping known ids; `dispatched` is `None` for events that are
    /// not ours to send, `Some(false)` for outbox entries.
    /// Then maintains root events and invalidations.
    ///
    /// The rows get consecutive `seq`s after the largest stored one. The statements return no
    /// rows: a `RETURNING` clause would hand every row from SQLite's thread to ours one at a time,
    /// which costs more than the insert. When every row was stored (the usual case: the driver
    /// drops known ids before) the stored ids are the rows' ids; only when some were skipped are
    /// the stored ones read back, in one query.
    pub(crate) async fn insert_rows(
        conn: &mut Conn,
        rows: &[(EventRow, Option<bool>)],
    ) -> Result<Inserted> {
        if rows.is_empty() {
            return Ok(Inserted::default());
        }
        // (PostgreSQL reads back what it stored with `RETURNING` instead.)
        let before: i64 = if D.is_pg() {
            0
        } else {
            sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
                .fetch_one(&mut *conn)
                .await?
        };
        insert_rows_after(conn, rows, before).await
    }

    /// [`insert_rows`] when the caller already read, in the same transaction, the largest
    /// stored `seq` (`before`).
    pub(crate) async fn insert_rows_after(
        conn: &mut Conn,
        rows: &[(EventRow, Option<bool>)],
        before: i64,
    ) -> Result<Inserted> {
        let mut inserted = Inserted::default();
        if rows.is_empty() {
            return Ok(inserted);
        }
        let mut stored = 0;
        // PostgreSQL: the rows stored by this transaction, read back with `RETURNING` (other
        // transactions may insert at the same time, so `seq > before` would not do).
        let mut returned: Vec<(String, i64)> = Vec::new();
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let one = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
            let mut sql = String::with_capacity(200 + chunk.len() * (one.len() + 2));
            sql.push_str(statements::EVENT_INSERT_HEAD);
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(one);
            }
            sql.push_str(" ON CONFLICT (id) DO NOTHING");
            if D.is_pg() {
                sql.push_str(" RETURNING id, seq");
            }
            let mut q = sqlx::query(D.sql_owned(sql));
            for (r, dispatched) in chunk {
                q = q
                    .bind(&r.id)
                    .bind(&r.context)
                    .bind(&r.event_type)
                    .bind(&r.project)
                    .bind(&r.stage)
                    .bind(&r.service)
                    .bind(&r.source)
                    .bind(&r.result)
                    .bind(&r.triggered_id)
                    .bind(r.time_nanos)
                    .bind(&r.time_text)
                    .bind(dispatched.map(i64::from))
                    .bind(&r.body);
            }
            if D.is_pg() {
                for row in q.fetch_all(&mut *conn).await? {
                    returned.push((row.try_get(0)?, row.try_get(1)?));
                }
            } else {
                stored += q.execute(&mut *conn).await?.rows_affected();
            }
        }
        let first_seq = if D.is_pg() {
            stored = returned.len() as u64;
            returned.iter().map(|(_, seq)| *seq).min().unwrap_or(0)
        } else {
            before + 1
        };
        if stored == 0 {
            return Ok(inserted);
        }
        inserted.ids = if D.is_pg() {
            returned.into_iter().map(|(id, _)| id).collect()
        } else if stored as usize == rows.len() {
            rows.iter().map(|(r, _)| r.id.clone()).collect()
        } else {
            sqlx::query_scalar(D.sql("SELECT id FROM events WHERE seq > ?"))
                .bind(before)
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .collect()
        };
        inserted.invalidations = rows
            .iter()
            .any(|(r, _)| r.event_type.ends_with(".invalidated") && inserted.ids.contains(&r.id));
        index_rows_from(conn, first_seq, inserted.invalidations).await?;
        Ok(inserted)
    }

    /// Maintains root events (`contexts`) and invalidations for the events stored from `seq` on,
    /// exactly as storing them one by one would: in insertion order, the first event of a
    /// context becomes its root, a later one only replaces it when strictly earlier.
    async fn index_rows_from(conn: &mut Conn, seq: i64, invalidations: bool) -> Result<()> {
        // PostgreSQL refuses to update one row twice in a statement, so it upserts only the
        // earliest new event of each context (by time, then insertion): the same result.
        let sql = match D {
            Dialect::Sqlite => statements::SQLITE_INDEX_CONTEXTS,
            Dialect::Postgres => {
                "INSERT INTO contexts (keptn_context, project, root_seq, root_time) \
                 SELECT DISTINCT ON (keptn_context) keptn_context, project, seq, time_nanos \
                 FROM events WHERE seq >= ? AND project <> '' AND keptn_context <> '' \
                 ORDER BY keptn_context, time_nanos, seq \
                 ON CONFLICT (keptn_context) DO UPDATE SET project = excluded.project, \
                 root_seq = excluded.root_seq, root_time = excluded.root_time \
                 WHERE excluded.root_time < contexts.root_time"
            }
        };
        sqlx::query(D.sql(sql))
        .bind(seq)
        .execute(&mut *conn)
        .await?;
        if invalidations {
            sqlx::query(D.sql(statements::INDEX_INVALIDATIONS))
            .bind(seq)
            .execute(&mut *conn)
            .await?;
        }
        Ok(())
    }

    /// Takes events out of the outbox inside a transaction (unknown or already sent ids are
    /// ignored), in one statement whatever the number of ids (they go as one JSON array).
    pub(crate) async fn mark_dispatched_in(conn: &mut Conn, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = match D {
            Dialect::Sqlite => statements::SQLITE_MARK_DISPATCHED,
            Dialect::Postgres => {
                "UPDATE events SET dispatched = 1 WHERE dispatched = 0 \
                 AND id IN (SELECT jsonb_array_elements_text(?::jsonb))"
            }
        };
        sqlx::query(D.sql(sql))
        .bind(json_array(ids))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }


    /// Deletes the events of a project (and its root events and invalidations).
    pub(crate) async fn delete_project_events(
        conn: &mut Conn,
        project: &str,
    ) -> Result<()> {
        for sql in [
            "DELETE FROM events WHERE project = ?",
            "DELETE FROM contexts WHERE project = ?",
            "DELETE FROM invalidations WHERE project = ?",
            "DELETE FROM baselines WHERE project = ?",
        ] {
            sqlx::query(D.sql(sql)).bind(project).execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// A JSON array of strings, the one parameter of a statement over many ids.
pub(crate) fn json_array(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// Maps a filter field to an SQL expression (and its arguments).
fn field_expr(d: Dialect, field: &str) -> Result<(String, Vec<Arg>)> {
    let column = match field {
        "id" => "e.id",
        "shkeptncontext" => "e.keptn_context",
        "type" => "e.type",
        "source" => "e.source",
        "triggeredid" => "e.triggered_id",
        "data.project" => "e.project",
        "data.stage" => "e.stage",
        "data.service" => "e.service",
        "data.result" => "e.result",
        other => {
            if other.is_empty() || other.contains('"') || other.split('.').any(str::is_empty) {
                return Err(Error::InvalidInput(format!("invalid filter key {other:?}")));
            }
            if d.is_pg() {
                // A text[] literal: every element quoted, backslashes escaped. Only a JSON
                // string compares equal to a filter value, as with SQLite's `json_extract`
                // (and Keptn's typed MongoDB query): other JSON values give NULL.
                let path: Vec<String> = other
                    .split('.')
                    .map(|s| format!("\"{}\"", s.replace('\\', "\\\\")))
                    .collect();
                let path = format!("{{{}}}", path.join(","));
                return Ok((
                    "(CASE WHEN jsonb_typeof(e.body_j #> ?::text[]) = 'string' \
                     THEN e.body_j #>> ?::text[] END)"
                        .to_string(),
                    vec![Arg::Text(path.clone()), Arg::Text(path)],
                ));
            }
            let path: String = other.split('.').map(|s| format!(".\"{s}\"")).collect();
            return Ok((
                "json_extract(e.body, ?)".to_string(),
                vec![Arg::Text(format!("${path}"))],
            ));
        }
    };
    Ok((column.to_string(), Vec::new()))
}

fn decode(bodies: Vec<String>) -> Result<Vec<KeptnEvent>> {
    bodies
        .iter()
        .map(|b| KeptnEvent::from_json(b).map_err(|e| Error::Corrupt(format!("stored event: {e}"))))
        .collect()
}

const NOT_INVALIDATED: &str = "NOT EXISTS (SELECT 1 FROM invalidations i \
     WHERE i.project = e.project AND i.triggered_id = e.triggered_id)";

impl Store {
    /// Stores one event (an incoming one: not part of the outbox). An id that was stored
    /// before gives [`Error::Duplicate`] and changes nothing: that is how repeated deliveries
    /// are recognised.
    pub async fn insert_event(&self, event: &KeptnEvent) -> Result<()> {
        let row = EventRow::of(event, (self.clock)())?;
        let rows = [(row, None)];
        let stored = with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            let stored = !backend::insert_rows(&mut tx, &rows).await?.ids.is_empty();
            tx.commit().await?;
            stored
        });
        if !stored {
            let [(row, _)] = rows;
            return Err(Error::Duplicate { id: row.id });
        }
        Ok(())
    }

    /// Stores many incoming events in one transaction, skipping known ids. An event without
    /// an id fails the whole batch.
    pub async fn insert_events_batch(&self, events: &[KeptnEvent]) -> Result<BatchOutcome> {
        let (rows, inserted) = self.insert_in_one_transaction(events).await?;
        let mut out = BatchOutcome {
            inserted: inserted.ids.len(),
            ..BatchOutcome::default()
        };
        let mut stored = inserted.ids;
        for (row, _) in rows {
            // The first row of an id is the stored one; a repeat in the batch is a duplicate.
            if !stored.remove(&row.id) {
                out.duplicates.push(row.id);
            }
        }
        Ok(out)
    }

    /// Stores events in one transaction with multi-row inserts, skipping known ids; answers
    /// their rows and which were stored. An event without an id fails them all.
    pub(crate) async fn insert_in_one_transaction(
        &self,
        events: &[KeptnEvent],
    ) -> Result<(Vec<(EventRow, Option<bool>)>, Inserted)> {
        let now = (self.clock)();
        let rows = events
            .iter()
            .map(|e| EventRow::of(e, now))
            .collect::<Result<Vec<_>>>()?;
        let rows: Vec<(EventRow, Option<bool>)> = rows.into_iter().map(|r| (r, None)).collect();
        let inserted = with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            let inserted = backend::insert_rows(&mut tx, &rows).await?;
            tx.commit().await?;
            inserted
        });
        Ok((rows, inserted))
    }

    /// Whether an event with this id is stored.
    pub async fn event_exists(&self, id: &str) -> Result<bool> {
        let found: Option<i64> = with_db!(self, |readers, writer, d| {
            sqlx::query_scalar(d.sql("SELECT seq FROM events WHERE id = ?"))
                .bind(id)
                .fetch_optional(readers)
                .await?
        });
        Ok(found.is_some())
    }

    /// Which of these ids belong to stored events (one query for a whole batch). The ids go
    /// to SQLite as one JSON array, so the statement is the same for every batch and stays
    /// prepared.
    pub async fn existing_event_ids(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashSet<String>> {
        if ids.is_empty() {
            return Ok(std::collections::HashSet::new());
        }
        let found: Vec<String> = with_db!(self, |readers, writer, d| {
            let sql = match d {
                Dialect::Sqlite => {
                    "SELECT id FROM events WHERE id IN (SELECT value FROM json_each(?))"
                }
                Dialect::Postgres => {
                    "SELECT id FROM events WHERE id IN (SELECT jsonb_array_elements_text(?::jsonb))"
                }
            };
            sqlx::query_scalar(d.sql(sql))
                .bind(json_array(ids))
                .fetch_all(readers)
                .await?
        });
        Ok(found.into_iter().collect())
    }

    /// The event with this id.
    pub async fn event(&self, id: &str) -> Result<Option<KeptnEvent>> {
        let body: Option<String> = with_db!(self, |readers, writer, d| {
            sqlx::query_scalar(d.sql("SELECT body FROM events WHERE id = ?"))
                .bind(id)
                .fetch_optional(readers)
                .await?
        });
        Ok(decode(body.into_iter().collect())?.pop())
    }

    /// Keptn's datastore event list: filtered, newest first, paged (max 100 per page).
    pub async fn events(&self, q: &EventQuery) -> Result<Page<KeptnEvent>> {
        let (size, offset) = q.paging.resolve(MAX_EVENT_PAGE)?;
        let mut c = Conditions::default();
        let (from, order) = if q.root_only {
            c.eq("c.project", q.project.as_deref());
            (
                "events e JOIN contexts c ON c.root_seq = e.seq",
                "c.root_time DESC, e.seq DESC",
            )
        } else {
            c.eq("e.project", q.project.as_deref());
            ("events e", "e.time_nanos DESC, e.seq DESC")
        };
        c.eq("e.keptn_context", q.keptn_context.as_deref());
        c.eq("e.type", q.event_type.as_deref());
        c.eq("e.stage", q.stage.as_deref());
        c.eq("e.service", q.service.as_deref());
        c.eq("e.id", q.event_id.as_deref());
        c.eq("e.source", q.source.as_deref());
        c.eq("e.triggered_id", q.triggered_id.as_deref());
        c.cmp_int("e.time_nanos", ">", q.from_time.map(to_nanos));
        c.cmp_int("e.time_nanos", "<", q.before_time.map(to_nanos));
        let wh = c.where_clause();

        let (total, bodies): (i64, Vec<String>) = with_db!(self, |readers, writer, d| {
            let total: i64 = sqlx::query_scalar_with(
                d.sql_owned(format!("SELECT COUNT(*) FROM {from}{wh}")),
                shared::arguments(&c.args, &[])?,
            )
            .fetch_one(readers)
            .await?;
            let bodies: Vec<String> = sqlx::query_scalar_with(
                d.sql_owned(format!(
                    "SELECT e.body FROM {from}{wh} ORDER BY {order} LIMIT ? OFFSET ?"
                )),
                shared::arguments(
                    &c.args,
                    &[Arg::Int(i64::from(size)), Arg::Int(offset as i64)],
                )?,
            )
            .fetch_all(readers)
            .await?;
            (total, bodies)
        });
        Ok(Page::new(decode(bodies)?, size, offset, total as u64))
    }

    /// Keptn's `/event/type/{type}` query: events of one type matching every filter, newest
    /// first, optionally without invalidated ones.
    pub async fn events_by_type(&self, event_type: &str, q: &TypeQuery) -> Result<Vec<KeptnEvent>> {
        let scoped = q.filters.iter().any(|f| {
            (f.field == "data.project" || f.field == "shkeptncontext")
                && f.values.iter().any(|v| !v.is_empty())
        });
        if !scoped {
            return Err(Error::InvalidInput(
                "either 'shkeptncontext' or 'data.project' must be set".into(),
            ));
        }
        let d = self.dialect();
        let mut c = Conditions::default();
        c.eq("e.type", Some(event_type));
        for f in &q.filters {
            let (expr, args) = field_expr(d, &f.field)?;
            c.any_of_with(&expr, args, &f.values);
        }
        c.cmp_int("e.time_nanos", ">", q.from_time.map(to_nanos));
        if q.exclude_invalidated {
            c.raw(NOT_INVALIDATED);
        }
        let limit = match q.limit {
            None | Some(0) => i64::MAX,
            Some(n) => i64::from(n),
        };
        let bodies: Vec<String> = with_db!(self, |readers, writer, d| {
            sqlx::query_scalar_with(
                d.sql_owned(format!(
                    "SELECT e.body FROM events e{} ORDER BY e.time_nanos DESC, e.seq DESC LIMIT ?",
                    c.where_clause()
                )),
                shared::arguments(&c.args, &[Arg::Int(limit)])?,
            )
            .fetch_all(readers)
            .await?
        });
        decode(bodies)
    }

    /// The newest `limit` evaluation results (`sh.keptn.event.evaluation.finished`) of a
    /// service in a stage, newest first, without invalidated ones; `results` restricts
    /// `data.result` (empty: any). This is the history the quality gate compares with. Unlike
    /// the lighthouse's query it does not require `source=lighthouse-service`: use
    /// [`Store::events_by_type`] with a `source` filter for that.
    pub async fn previous_evaluations(
        &self,
        project: &str,
        stage: &str,
        service: &str,
        results: &[&str],
        limit: u32,
    ) -> Result<Vec<KeptnEvent>> {
        let one = |field: &str, v: &str| FieldFilter {
            field: field.to_string(),
            values: vec![v.to_string()],
        };
        let mut filters = vec![
            one("data.project", project),
            one("data.stage", stage),
            one("data.service", service),
        ];
        if !results.is_empty() {
            filters.push(FieldFilter {
                field: "data.result".into(),
                values: results.iter().map(|r| r.to_string()).collect(),
            });
        }
        let q = TypeQuery {
            filters,
            exclude_invalidated: true,
            from_time: None,
            limit: Some(limit.max(1)),
        };
        self.events_by_type(EVALUATION_FINISHED, &q).await
    }

    /// All events of a context in the order they were stored.
    pub async fn events_of_context(&self, keptn_context: &str) -> Result<Vec<KeptnEvent>> {
        let bodies: Vec<String> = with_db!(self, |readers, writer, d| {
            sqlx::query_scalar(
                d.sql("SELECT body FROM events WHERE keptn_context = ? ORDER BY seq"),
            )
            .bind(keptn_context)
            .fetch_all(readers)
            .await?
        });
        decode(bodies)
    }

    /// Outgoing events stored by [`Store::commit`] and not yet marked as sent, oldest first.
    pub async fn undispatched_events(&self) -> Result<Vec<KeptnEvent>> {
        let bodies: Vec<String> = with_db!(self, |readers, writer, d| {
            sqlx::query_scalar(d.sql("SELECT body FROM events WHERE dispatched = 0 ORDER BY seq"))
                .fetch_all(readers)
                .await?
        });
        decode(bodies)
    }

    /// The position (as [`Store::events_after`] counts) of the stored event `id`, if any.
    pub async fn event_position(&self, id: &str) -> Result<Option<i64>> {
        Ok(with_db!(self, |readers, writer, d| {
            sqlx::query_scalar(d.sql("SELECT seq FROM events WHERE id = ?"))
                .bind(id)
                .fetch_optional(readers)
                .await?
        }))
    }

    /// The position of the newest stored event (0 when there is none): a cursor for
    /// [`Store::events_after`].
    pub async fn last_event_position(&self) -> Result<i64> {
        let seq: Option<i64> = with_db!(self, |readers, writer, d| {
            sqlx::query_scalar(d.sql("SELECT MAX(seq) FROM events"))
                .fetch_one(readers)
                .await?
        });
        Ok(seq.unwrap_or(0))
    }

    /// Up to `limit` stored events after position `after`, in the order they were committed,
    /// each with its position: a tail of the datastore for relays that must see every event
    /// once. On SQLite positions grow with each commit (the one writer connection orders
    /// them). On PostgreSQL concurrent transactions may commit a lower position after a higher
    /// one, so the read first waits until no transaction is inserting events (`SHARE` lock on
    /// the table, held only for the read): no lower position can appear after it.
    pub async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<(i64, KeptnEvent)>> {
        const TAIL: &str = "SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT ?";
        let rows: Vec<(i64, String)> = match &self.db {
            crate::Db::Sqlite { readers, .. } => {
                sqlx::query_as(TAIL)
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(readers)
                    .await?
            }
            crate::Db::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("LOCK TABLE events IN SHARE MODE")
                    .execute(&mut *tx)
                    .await?;
                let rows = sqlx::query_as(crate::Dialect::Postgres.sql(TAIL))
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                rows
            }
        };
        rows.into_iter()
            .map(|(seq, body)| {
                KeptnEvent::from_json(&body)
                    .map(|e| (seq, e))
                    .map_err(|e| Error::Corrupt(format!("stored event: {e}")))
            })
            .collect()
    }

    /// Marks outgoing events as sent. Unknown ids and events that are not outgoing are
    /// ignored.
    pub async fn mark_dispatched(&self, ids: &[String]) -> Result<()> {
        with_db!(self, |readers, writer, d| {
            let mut tx = writer.begin_with(d.begin()).await?;
            backend::mark_dispatched_in(&mut tx, ids).await?;
            tx.commit().await?;
        });
        Ok(())
    }
}

#[cfg(test)]
impl Store {
    /// Every row of `invalidations` (tests).
    pub(crate) async fn invalidation_rows(&self) -> Vec<(String, String)> {
        with_db!(self, |readers, writer, d| {
            sqlx::query_as("SELECT project, triggered_id FROM invalidations ORDER BY 1, 2")
                .fetch_all(readers)
                .await
                .unwrap()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{TempDir, backends, event};
    use sluice_model::event::Timestamp;

    const P: (&str, &str, &str) = ("shop", "dev", "carts");

    fn ids(events: &[KeptnEvent]) -> Vec<&str> {
        events
            .iter()
            .map(|e| e.id.as_deref().unwrap_or(""))
            .collect()
    }

    fn evaluation(id: &str, ctx: &str, triggered: &str, result: &str, secs: i64) -> KeptnEvent {
        let mut e = event(id, ctx, EVALUATION_FINISHED, P, secs);
        e.triggeredid = Some(triggered.to_string());
        e.source = Some("lighthouse-service".into());
        if let Some(Value::Object(m)) = e.data.as_mut() {
            m.insert("result".into(), Value::String(result.into()));
        }
        e
    }

    #[tokio::test]
    async fn an_event_without_a_readable_time_is_stored_at_the_stores_clock() {
        fn clock() -> Timestamp {
            Timestamp::from_unix(1_700_000_000, 0)
        }
        for dir in backends("clock").await {
            println!("clock: {:?}", dir.location);
            let options = crate::Options {
                clock,
                ..crate::Options::default()
            };
            let store = dir.open_with(options).await;
            let mut e = event("e1", "c1", "sh.keptn.event.dev.delivery.triggered", P, 0);
            e.time = None;
            let row = EventRow::of(&e, clock()).unwrap();
            assert_eq!(row.time_nanos, 1_700_000_000_000_000_000);
            assert_eq!(row.time_text, "");
            store.insert_event(&e).await.unwrap();
            let page = store
                .events(&EventQuery {
                    from_time: Some(Timestamp::from_unix(1_699_999_999, 0)),
                    ..EventQuery::default()
                })
                .await
                .unwrap();
            assert_eq!(ids(&page.items), ["e1"]);
        }
    }

    #[tokio::test]
    async fn the_tail_lists_events_after_a_position_in_commit_order_and_knows_each_position() {
        for dir in backends("tail").await {
            let store = dir.open().await;
            assert_eq!(store.last_event_position().await.unwrap(), 0);
            // Times out of order: the tail follows commits, not times.
            for (id, secs) in [("a", 30), ("b", 10), ("c", 20)] {
                let e = event(id, "c1", "sh.keptn.event.dev.delivery.triggered", P, secs);
                store.insert_event(&e).await.unwrap();
            }
            let all = store.events_after(0, 10).await.unwrap();
            let listed: Vec<&str> = all.iter().map(|(_, e)| e.id.as_deref().unwrap()).collect();
            assert_eq!(listed, ["a", "b", "c"], "{:?}", dir.location);
            let (first, _) = all[0];
            let rest = store.events_after(first, 1).await.unwrap();
            assert_eq!(rest.len(), 1);
            assert_eq!(rest[0].1.id.as_deref(), Some("b"));
            assert_eq!(store.last_event_position().await.unwrap(), all[2].0);
            assert!(store.events_after(all[2].0, 10).await.unwrap().is_empty());
            assert_eq!(store.event_position("b").await.unwrap(), Some(all[1].0));
            assert_eq!(store.event_position("nope").await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn duplicate_ids_are_ignored() {
        for dir in backends("dup").await {
            println!("dup: {:?}", dir.location);
            let store = dir.open().await;
            let e = event("e1", "c1", "sh.keptn.event.dev.delivery.triggered", P, 0);
            store.insert_event(&e).await.unwrap();
            let mut again = e.clone();
            again.source = Some("other".into());
            match store.insert_event(&again).await {
                Err(Error::Duplicate { id }) => assert_eq!(id, "e1"),
                other => panic!("expected Duplicate, got {other:?}"),
            }
            let stored = store.event("e1").await.unwrap().unwrap();
            assert_eq!(
                stored.source.as_deref(),
                Some("test"),
                "first delivery wins"
            );
            let batch = store
                .insert_events_batch(&[
                    e.clone(),
                    event("e2", "c1", "sh.keptn.event.deployment.triggered", P, 1),
                ])
                .await
                .unwrap();
            assert_eq!(batch.inserted, 1);
            assert_eq!(batch.duplicates, vec!["e1".to_string()]);
            assert_eq!(store.events_of_context("c1").await.unwrap().len(), 2);
            let mut no_id = e;
            no_id.id = None;
            assert!(matches!(
                store.insert_event(&no_id).await,
                Err(Error::InvalidInput(_))
            ));
        }
    }

    #[tokio::test]
    async fn filters_paging_and_newest_first() {
        for dir in backends("filters").await {
            println!("filters: {:?}", dir.location);
            let store = dir.open().await;
            let mut batch = Vec::new();
            for i in 0..25 {
                let ctx = format!("c{}", i % 5);
                let ty = if i % 2 == 0 {
                    "sh.keptn.event.deployment.triggered"
                } else {
                    "sh.keptn.event.deployment.finished"
                };
                let scope = if i % 3 == 0 {
                    ("shop", "prod", "carts")
                } else {
                    P
                };
                batch.push(event(&format!("e{i:02}"), &ctx, ty, scope, i));
            }
            // Same time as e24, stored later: comes first among equals.
            batch.push(event(
                "tie",
                "c9",
                "sh.keptn.event.deployment.triggered",
                P,
                24,
            ));
            batch.push(event(
                "other",
                "x",
                "sh.keptn.event.deployment.triggered",
                ("o", "dev", "a"),
                3,
            ));
            store.insert_events_batch(&batch).await.unwrap();

            let q = EventQuery {
                project: Some("shop".into()),
                paging: Paging::first(10),
                ..EventQuery::default()
            };
            let page1 = store.events(&q).await.unwrap();
            assert_eq!(page1.total_count, 26);
            assert_eq!(page1.next_page_key.as_deref(), Some("10"));
            assert_eq!(&ids(&page1.items)[..3], ["tie", "e24", "e23"]);
            let page3 = store
                .events(&EventQuery {
                    paging: Paging {
                        page_size: Some(10),
                        next_page_key: Some("20".into()),
                    },
                    ..q.clone()
                })
                .await
                .unwrap();
            assert_eq!(page3.items.len(), 6);
            assert_eq!(page3.next_page_key, None);
            assert_eq!(ids(&page3.items).last(), Some(&"e00"));

            let q = EventQuery {
                project: Some("shop".into()),
                stage: Some("dev".into()),
                event_type: Some("sh.keptn.event.deployment.finished".into()),
                keptn_context: Some("c1".into()),
                ..EventQuery::default()
            };
            let got = store.events(&q).await.unwrap();
            // i % 2 == 1, i % 5 == 1, i % 3 != 0: 1, 11
            assert_eq!(ids(&got.items), ["e11", "e01"]);

            let t = |s: i64| Timestamp::from_unix(1_704_067_200 + s, 0);
            let q = EventQuery {
                project: Some("shop".into()),
                from_time: Some(t(10)),
                before_time: Some(t(13)),
                ..EventQuery::default()
            };
            assert_eq!(ids(&store.events(&q).await.unwrap().items), ["e12", "e11"]);
            let q = EventQuery {
                event_id: Some("e07".into()),
                ..EventQuery::default()
            };
            assert_eq!(ids(&store.events(&q).await.unwrap().items), ["e07"]);
            let q = EventQuery {
                source: Some("nobody".into()),
                project: Some("shop".into()),
                ..EventQuery::default()
            };
            assert_eq!(store.events(&q).await.unwrap().total_count, 0);
            let bad = EventQuery {
                paging: Paging {
                    page_size: None,
                    next_page_key: Some("x".into()),
                },
                ..EventQuery::default()
            };
            assert!(matches!(
                store.events(&bad).await,
                Err(Error::InvalidInput(_))
            ));
        }
    }

    #[tokio::test]
    async fn root_events_are_the_earliest_of_each_context() {
        for dir in backends("root").await {
            println!("root: {:?}", dir.location);
            let store = dir.open().await;
            let ty = "sh.keptn.event.dev.delivery.triggered";
            store
                .insert_events_batch(&[
                    event("a2", "A", ty, P, 20),
                    event("b1", "B", ty, P, 15),
                    event("a1", "A", ty, P, 10), // earlier, arrives later: becomes the root
                    event("a3", "A", ty, P, 30),
                    event("n1", "N", ty, ("", "", ""), 5), // no project: no root
                ])
                .await
                .unwrap();
            let q = EventQuery {
                project: Some("shop".into()),
                root_only: true,
                ..EventQuery::default()
            };
            let page = store.events(&q).await.unwrap();
            assert_eq!(ids(&page.items), ["b1", "a1"]);
            assert_eq!(page.total_count, 2);
        }
    }

    #[tokio::test]
    async fn previous_evaluations_skip_invalidated_and_filter_results() {
        for dir in backends("eval").await {
            println!("eval: {:?}", dir.location);
            let store = dir.open().await;
            let mut batch = vec![
                evaluation("ev1", "c1", "t1", "pass", 1),
                evaluation("ev2", "c2", "t2", "fail", 2),
                evaluation("ev3", "c3", "t3", "warning", 3),
                evaluation("ev4", "c4", "t4", "pass", 4),
                evaluation("ev5", "c5", "t5", "pass", 5),
            ];
            // Other service: never included.
            let mut other = evaluation("ev6", "c6", "t6", "pass", 6);
            other.data.as_mut().unwrap()["service"] = Value::String("orders".into());
            batch.push(other);
            let mut inv = event("inv", "c4", "sh.keptn.event.evaluation.invalidated", P, 7);
            inv.triggeredid = Some("t4".into());
            batch.push(inv);
            store.insert_events_batch(&batch).await.unwrap();

            let all = store
                .previous_evaluations("shop", "dev", "carts", &[], 10)
                .await
                .unwrap();
            assert_eq!(ids(&all), ["ev5", "ev3", "ev2", "ev1"]);
            let pass = store
                .previous_evaluations("shop", "dev", "carts", &["pass"], 10)
                .await
                .unwrap();
            assert_eq!(ids(&pass), ["ev5", "ev1"]);
            let pw = store
                .previous_evaluations("shop", "dev", "carts", &["pass", "warning"], 2)
                .await
                .unwrap();
            assert_eq!(ids(&pw), ["ev5", "ev3"]);

            // The datastore query with Keptn's filter text.
            let filters = TypeQuery::parse_filter(
                "data.project:shop AND data.stage:dev AND data.service:carts,orders AND source:lighthouse-service",
            );
            let with_invalidated = store
                .events_by_type(
                    EVALUATION_FINISHED,
                    &TypeQuery {
                        filters: filters.clone(),
                        ..TypeQuery::default()
                    },
                )
                .await
                .unwrap();
            assert_eq!(
                ids(&with_invalidated),
                ["ev6", "ev5", "ev4", "ev3", "ev2", "ev1"]
            );
            let q = TypeQuery {
                filters,
                exclude_invalidated: true,
                from_time: Some(Timestamp::from_unix(1_704_067_200 + 2, 0)),
                limit: Some(2),
            };
            assert_eq!(
                ids(&store.events_by_type(EVALUATION_FINISHED, &q).await.unwrap()),
                ["ev6", "ev5"]
            );
            // Arbitrary data paths go through json_extract.
            let q = TypeQuery {
                filters: TypeQuery::parse_filter("shkeptncontext:c3 AND data.result:warning"),
                ..TypeQuery::default()
            };
            assert_eq!(
                ids(&store.events_by_type(EVALUATION_FINISHED, &q).await.unwrap()),
                ["ev3"]
            );
            let q = TypeQuery {
                filters: TypeQuery::parse_filter("data.project:shop AND data.labels.x:y"),
                ..TypeQuery::default()
            };
            assert!(
                store
                    .events_by_type(EVALUATION_FINISHED, &q)
                    .await
                    .unwrap()
                    .is_empty()
            );
            let unscoped = TypeQuery {
                filters: TypeQuery::parse_filter("data.stage:dev"),
                ..TypeQuery::default()
            };
            assert!(matches!(
                store.events_by_type(EVALUATION_FINISHED, &unscoped).await,
                Err(Error::InvalidInput(_))
            ));
        }
    }

    /// A filter value matches JSON strings only, on both backends (Keptn's typed query).
    #[tokio::test]
    async fn json_path_filters_match_strings_not_numbers() {
        for dir in backends("json-path").await {
            println!("json-path: {:?}", dir.location);
            let store = dir.open().await;
            let mut text = event("text", "c1", EVALUATION_FINISHED, P, 1);
            text.data.as_mut().unwrap()["labels"] = serde_json::json!({"n": "1", "q": "a\\b"});
            let mut number = event("number", "c2", EVALUATION_FINISHED, P, 2);
            number.data.as_mut().unwrap()["labels"] = serde_json::json!({"n": 1});
            store.insert_events_batch(&[text, number]).await.unwrap();
            let found = |filter: &'static str| {
                let store = store.clone();
                async move {
                    let q = TypeQuery {
                        filters: TypeQuery::parse_filter(filter),
                        ..TypeQuery::default()
                    };
                    let events = store.events_by_type(EVALUATION_FINISHED, &q).await.unwrap();
                    events.into_iter().filter_map(|e| e.id).collect::<Vec<_>>()
                }
            };
            assert_eq!(
                found("data.project:shop AND data.labels.n:1").await,
                ["text"]
            );
            assert_eq!(
                found("data.project:shop AND data.labels.q:a\\b").await,
                ["text"]
            );
            assert!(
                found("data.project:shop AND data.labels:1")
                    .await
                    .is_empty()
            );
        }
    }

    #[test]
    fn filter_text_is_read_like_the_datastore() {
        let f = TypeQuery::parse_filter("data.project:a AND bad AND x:1,2 AND data.project:b");
        assert_eq!(
            f,
            vec![
                FieldFilter {
                    field: "data.project".into(),
                    values: vec!["b".into()]
                },
                FieldFilter {
                    field: "x".into(),
                    values: vec!["1".into(), "2".into()]
                },
            ]
        );
    }

    /// 50,000 events in 500 contexts; the context and scope queries must use indexes.
    #[tokio::test]
    async fn large_volume_uses_indexes() {
        let dir = TempDir::new("volume");
        let store = Store::open(&dir.0).await.unwrap();
        let types = [
            "sh.keptn.event.dev.delivery.triggered",
            "sh.keptn.event.deployment.triggered",
            "sh.keptn.event.deployment.finished",
            "sh.keptn.event.evaluation.finished",
        ];
        let started = std::time::Instant::now();
        for chunk in 0..50 {
            let batch: Vec<KeptnEvent> = (0..1000)
                .map(|j| {
                    let i = chunk * 1000 + j;
                    let service = format!("svc{}", i % 7);
                    event(
                        &format!("ev-{i}"),
                        &format!("ctx-{}", i / 100),
                        types[(i % 4) as usize],
                        ("shop", "dev", &service),
                        i,
                    )
                })
                .collect();
            store.insert_events_batch(&batch).await.unwrap();
        }
        let elapsed = started.elapsed();
        println!(
            "batched insert: 50000 events in {:.2?} ({:.0} events/s)",
            elapsed,
            50_000.0 / elapsed.as_secs_f64()
        );
        assert_eq!(store.events_of_context("ctx-123").await.unwrap().len(), 100);

        let plan = |sql: &'static str| {
            let store = store.clone();
            async move {
                let rows: Vec<(i64, i64, i64, String)> =
                    sqlx::query_as(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                        .fetch_all(store.sqlite_readers())
                        .await
                        .unwrap();
                rows.into_iter()
                    .map(|r| r.3)
                    .collect::<Vec<_>>()
                    .join(" | ")
            }
        };
        let p = plan("SELECT body FROM events WHERE keptn_context = 'ctx-1' ORDER BY seq").await;
        assert!(p.contains("USING INDEX events_context"), "{p}");
        let p = plan(
            "SELECT e.body FROM events e WHERE e.type = 'sh.keptn.event.evaluation.finished' \
             AND e.project = 'shop' AND e.stage = 'dev' AND e.service = 'svc1' \
             ORDER BY e.time_nanos DESC, e.seq DESC LIMIT 3",
        )
        .await;
        assert!(p.contains("USING INDEX events_scope"), "{p}");
        let p = plan(
            "SELECT e.body FROM events e WHERE e.type = 'sh.keptn.event.evaluation.finished' \
             AND e.time_nanos > 5 ORDER BY e.time_nanos DESC",
        )
        .await;
        assert!(p.contains("USING INDEX events_type_time"), "{p}");
        let started = std::time::Instant::now();
        let prev = store
            .previous_evaluations("shop", "dev", "svc3", &["pass", "warning"], 3)
            .await
            .unwrap();
        println!(
            "previous_evaluations over 50000 events: {:.2?}",
            started.elapsed()
        );
        assert!(prev.is_empty(), "no event has a result");
    }

    /// Prints single-row durable commits vs. one batch (not asserted).
    #[tokio::test]
    async fn insert_throughput() {
        for durability in [
            crate::Durability::ProcessCrash,
            crate::Durability::PowerLoss,
        ] {
            let dir = TempDir::new("throughput");
            let store = Store::open_with(
                &dir.0,
                crate::Options {
                    durability,
                    ..crate::Options::default()
                },
            )
            .await
            .unwrap();
            let n = 2000;
            let started = std::time::Instant::now();
            for i in 0..n {
                let e = event(
                    &format!("s{i}"),
                    "c",
                    "sh.keptn.event.deployment.finished",
                    P,
                    i,
                );
                store.insert_event(&e).await.unwrap();
            }
            let single = started.elapsed();
            let batch: Vec<KeptnEvent> = (0..n)
                .map(|i| {
                    event(
                        &format!("b{i}"),
                        "c",
                        "sh.keptn.event.deployment.finished",
                        P,
                        i,
                    )
                })
                .collect();
            let started = std::time::Instant::now();
            store.insert_events_batch(&batch).await.unwrap();
            let batched = started.elapsed();
            println!(
                "{durability:?}: {n} single-row commits {:.2?} ({:.0}/s); one batch {:.2?} ({:.0}/s)",
                single,
                n as f64 / single.as_secs_f64(),
                batched,
                n as f64 / batched.as_secs_f64()
            );
        }
    }
}
