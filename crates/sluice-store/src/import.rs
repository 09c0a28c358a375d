//! Bulk import of events (an existing history, or a benchmark's data set): many events per
//! statement and per transaction, with the same result as storing them one by one.

use sluice_model::event::KeptnEvent;

use crate::Store;
use crate::error::Result;

impl Store {
    /// Stores many received events in one transaction, with multi-row inserts: the bulk
    /// counterpart of [`Store::insert_events_batch`] for importing a history. Known ids are
    /// skipped; root events (`contexts`) and invalidations are maintained exactly as if the
    /// events had been stored one by one in the given order. Returns how many were stored.
    /// An event without an id fails the whole import.
    pub async fn import_events(&self, events: &[KeptnEvent]) -> Result<usize> {
        let (_, inserted) = self.insert_in_one_transaction(events).await?;
        Ok(inserted.ids.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventQuery, FieldFilter, TypeQuery};
    use crate::page::Paging;
    use crate::testutil::{backends, event};

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
        let pairs = backends("import-bulk")
            .await
            .into_iter()
            .zip(backends("import-single").await);
        for (a, b) in pairs {
            println!("import: {:?}", a.location);
            let bulk = a.open().await;
            let single = b.open().await;
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
}
