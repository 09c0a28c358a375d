//! Bulk import of events (an existing history, or a benchmark's data set): many events per
//! statement and per transaction, with the same result as storing them one by one.

use sluice_model::event::KeptnEvent;
use sqlx::{AssertSqlSafe, SqliteConnection};

use crate::Store;
use crate::error::Result;
use crate::events::EventRow;

/// Events per `INSERT` statement (13 parameters each, well below SQLite's 32,766).
const ROWS_PER_STATEMENT: usize = 500;

/// The `INSERT` of `rows` events, skipping known ids.
fn insert_sql(rows: usize) -> String {
    let one = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)";
    let mut sql = String::with_capacity(200 + rows * (one.len() + 2));
    sql.push_str(
        "INSERT INTO events (id, keptn_context, type, project, stage, service, source, \
         result, triggered_id, time_nanos, time_text, dispatched, body) VALUES ",
    );
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(one);
    }
    sql.push_str(" ON CONFLICT (id) DO NOTHING");
    sql
}

async fn insert_rows(conn: &mut SqliteConnection, rows: &[EventRow]) -> Result<u64> {
    let sql = insert_sql(rows.len());
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for r in rows {
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
            .bind(&r.body);
    }
    Ok(q.execute(&mut *conn).await?.rows_affected())
}

impl Store {
    /// Stores many received events in one transaction, with multi-row inserts: the bulk
    /// counterpart of [`Store::insert_events_batch`] for importing a history. Known ids are
    /// skipped; root events (`contexts`) and invalidations are maintained exactly as if the
    /// events had been stored one by one in the given order. Returns how many were stored.
    /// An event without an id fails the whole import.
    pub async fn import_events(&self, events: &[KeptnEvent]) -> Result<usize> {
        let rows = events
            .iter()
            .map(EventRow::of)
            .collect::<Result<Vec<_>>>()?;
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        // Rows inserted by this transaction get a `seq` above the current largest one.
        let before: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM events")
            .fetch_one(&mut *tx)
            .await?;
        let mut inserted = 0u64;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            inserted += insert_rows(&mut tx, chunk).await?;
        }
        // In insertion order, as `EventRow::insert` does per event: the first event of a
        // context becomes its root, a later one only replaces it when strictly earlier.
        // (The `WHERE` is required by SQLite's grammar for an upsert from a SELECT.)
        sqlx::query(
            "INSERT INTO contexts (keptn_context, project, root_seq, root_time) \
             SELECT keptn_context, project, seq, time_nanos FROM events \
             WHERE seq > ? AND project <> '' AND keptn_context <> '' ORDER BY seq \
             ON CONFLICT (keptn_context) DO UPDATE SET project = excluded.project, \
             root_seq = excluded.root_seq, root_time = excluded.root_time \
             WHERE excluded.root_time < contexts.root_time",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO invalidations (project, triggered_id) \
             SELECT project, triggered_id FROM events \
             WHERE seq > ? AND type LIKE '%.invalidated' AND triggered_id <> '' \
             ON CONFLICT DO NOTHING",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(inserted as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventQuery, FieldFilter, TypeQuery};
    use crate::page::Paging;
    use crate::testutil::{TempDir, event};

    const P: (&str, &str, &str) = ("shop", "dev", "carts");

    /// A mixed history: several contexts, a late earlier event, an invalidation, a repeat.
    fn history() -> Vec<KeptnEvent> {
        let mut out = Vec::new();
        for i in 0..1200 {
            let ctx = format!("c{}", i % 7);
            out.push(event(
                &format!("e{i}"),
                &ctx,
                "sh.keptn.event.deployment.triggered",
                P,
                1000 + i,
            ));
        }
        // Arrives late but is the earliest of c3: becomes its root.
        out.push(event(
            "late",
            "c3",
            "sh.keptn.event.dev.delivery.triggered",
            P,
            5,
        ));
        // Same time as c4's root: does not replace it.
        out.push(event(
            "tie",
            "c4",
            "sh.keptn.event.deployment.started",
            P,
            1004,
        ));
        let mut inv = event(
            "inv",
            "c1",
            "sh.keptn.event.evaluation.invalidated",
            P,
            3000,
        );
        inv.triggeredid = Some("t1".into());
        out.push(inv);
        out.push(event(
            "e5",
            "c5",
            "sh.keptn.event.deployment.triggered",
            P,
            9,
        )); // known id
        // No project: no root event.
        out.push(event(
            "np",
            "c9",
            "sh.keptn.event.deployment.triggered",
            ("", "", ""),
            1,
        ));
        out
    }

    async fn roots(store: &Store) -> Vec<String> {
        let page = store
            .events(&EventQuery {
                project: Some("shop".into()),
                root_only: true,
                paging: Paging::first(100),
                ..EventQuery::default()
            })
            .await
            .unwrap();
        let mut ids: Vec<String> = page.items.into_iter().filter_map(|e| e.id).collect();
        ids.sort();
        ids
    }

    #[tokio::test]
    async fn import_matches_storing_one_by_one() {
        let events = history();
        let (a, b) = (TempDir::new("import-bulk"), TempDir::new("import-single"));
        let bulk = Store::open(&a.0).await.unwrap();
        let single = Store::open(&b.0).await.unwrap();
        // Two imports: the second sees the first's rows as older.
        let (first, second) = events.split_at(600);
        assert_eq!(bulk.import_events(first).await.unwrap(), 600);
        assert_eq!(bulk.import_events(second).await.unwrap(), second.len() - 1);
        for e in &events {
            let _ = single.insert_event(e).await;
        }
        assert_eq!(roots(&bulk).await, roots(&single).await);
        assert!(roots(&bulk).await.contains(&"late".to_string()));
        assert!(!roots(&bulk).await.contains(&"tie".to_string()));
        let q = EventQuery {
            keptn_context: Some("c3".into()),
            paging: Paging::first(100),
            ..EventQuery::default()
        };
        assert_eq!(
            bulk.events(&q).await.unwrap().total_count,
            single.events(&q).await.unwrap().total_count
        );
        let invalidated = TypeQuery {
            filters: vec![FieldFilter {
                field: "data.project".into(),
                values: vec!["shop".into()],
            }],
            exclude_invalidated: true,
            ..TypeQuery::default()
        };
        let mut answered = event("ev", "c1", "sh.keptn.event.evaluation.finished", P, 10);
        answered.triggeredid = Some("t1".into());
        bulk.import_events(std::slice::from_ref(&answered))
            .await
            .unwrap();
        let found = bulk
            .events_by_type("sh.keptn.event.evaluation.finished", &invalidated)
            .await
            .unwrap();
        assert!(found.is_empty(), "the invalidation was imported");
        let mut no_id = answered;
        no_id.id = None;
        assert!(bulk.import_events(&[no_id]).await.is_err());
    }
}
