//! The events a built-in service follows: the live bus, and after falling behind it, the tasks
//! that were missed, read back from the driver's open tasks and the store.
//!
//! The bus holds a few thousand events; a burst larger than that makes a slow subscriber lag
//! and lose events. A task executor must not lose a task (it would wait for its deadline), so
//! after a lag the feed yields the `.triggered` events of every open, due task that no
//! executor has answered yet, then goes on with live events. Services' answers are
//! idempotent (deterministic ids, or a check of what is running), so a task seen twice is
//! answered once.

use std::collections::VecDeque;
use std::sync::Arc;

use sluice_model::event::KeptnEvent;
use sluice_store::Store;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};

use crate::runtime::driver::DriverHandle;

/// A bus subscription that catches up with missed tasks.
#[derive(Debug)]
pub struct Feed {
    events: broadcast::Receiver<Arc<KeptnEvent>>,
    driver: DriverHandle,
    store: Arc<Store>,
    /// Only tasks of this `.triggered` type are caught up (`None`: all).
    task_type: Option<&'static str>,
    /// Who follows (for the log).
    name: &'static str,
    /// Ids of the `.triggered` events of missed tasks still to yield.
    missed: VecDeque<String>,
}

impl Feed {
    /// Follows `events` (subscribe before the driver starts so nothing is missed).
    pub fn new(
        events: broadcast::Receiver<Arc<KeptnEvent>>,
        driver: DriverHandle,
        store: Arc<Store>,
        task_type: Option<&'static str>,
        name: &'static str,
    ) -> Feed {
        Feed {
            events,
            driver,
            store,
            task_type,
            name,
            missed: VecDeque::new(),
        }
    }

    /// The next event, or `None` once the bus has closed. Cancel-safe (usable in `select!`).
    pub async fn recv(&mut self) -> Option<Arc<KeptnEvent>> {
        loop {
            if let Some(id) = self.missed.front() {
                let read = self.store.event(id).await;
                self.missed.pop_front();
                match read {
                    Ok(Some(event)) => return Some(Arc::new(event)),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(error = %e, service = self.name, "cannot read a missed task");
                    }
                }
                continue;
            }
            match self.events.recv().await {
                Ok(event) => return Some(event),
                Err(RecvError::Lagged(n)) => self.lagged(n),
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// The next live event if one is waiting on the bus now; `None` when none is, while
    /// missed tasks are being caught up, and after a lag (which queues the missed tasks for
    /// [`recv`](Self::recv)). For taking what arrived together as one burst.
    pub fn try_recv(&mut self) -> Option<Arc<KeptnEvent>> {
        if !self.missed.is_empty() {
            return None;
        }
        match self.events.try_recv() {
            Ok(event) => Some(event),
            Err(TryRecvError::Lagged(n)) => {
                self.lagged(n);
                None
            }
            Err(TryRecvError::Empty | TryRecvError::Closed) => None,
        }
    }

    /// After `n` events were lost: queues the open, due tasks no executor has answered.
    fn lagged(&mut self, n: u64) {
        tracing::warn!(
            missed = n,
            service = self.name,
            "fell behind the event bus; catching up with unanswered tasks"
        );
        let tasks = self.driver.open_tasks(self.task_type);
        self.missed.extend(
            tasks
                .into_iter()
                .filter(|t| t.due && !t.answered)
                .map(|t| t.triggered_id),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testkit;
    use serde_json::json;

    fn trigger(service: &str) -> KeptnEvent {
        KeptnEvent {
            specversion: Some("1.0".into()),
            id: Some(crate::runtime::ids::fresh()),
            source: Some("test".into()),
            event_type: Some("sh.keptn.event.dev.delivery.triggered".into()),
            shkeptncontext: Some(crate::runtime::ids::fresh()),
            data: Some(json!({"project": "p", "stage": "dev", "service": service})),
            ..KeptnEvent::default()
        }
    }

    /// A feed of deployment tasks on a bus of two places.
    fn small_feed(app: &crate::state::App) -> (broadcast::Sender<Arc<KeptnEvent>>, Feed) {
        let (tx, rx) = broadcast::channel(2);
        let feed = Feed::new(
            rx,
            app.driver.clone(),
            app.store.clone(),
            Some("sh.keptn.event.deployment.triggered"),
            "test",
        );
        (tx, feed)
    }

    #[tokio::test]
    async fn after_a_lag_the_unanswered_tasks_come_back_from_the_store() {
        let (app, _router) = testkit::app().await;
        testkit::create_project(&app, "p", testkit::ONE_TASK_SHIPYARD, &["a", "b"]).await;
        app.driver.submit(trigger("a")).await.unwrap();
        app.driver.submit(trigger("b")).await.unwrap();
        let open = app
            .driver
            .open_tasks(Some("sh.keptn.event.deployment.triggered"));
        assert_eq!(open.len(), 2);
        // Answer b's task: it must not come back.
        let answered = &open.iter().find(|t| t.service == "b").unwrap().triggered_id;
        let started = KeptnEvent {
            specversion: Some("1.0".into()),
            id: Some(crate::runtime::ids::fresh()),
            source: Some("test".into()),
            event_type: Some("sh.keptn.event.deployment.started".into()),
            shkeptncontext: open
                .iter()
                .find(|t| t.service == "b")
                .map(|t| t.keptn_context.clone()),
            triggeredid: Some(answered.clone()),
            data: Some(json!({"project": "p", "stage": "dev", "service": "b"})),
            ..KeptnEvent::default()
        };
        app.driver.submit(started).await.unwrap();

        // Overrun by five events.
        let (tx, mut feed) = small_feed(&app);
        for _ in 0..5 {
            tx.send(Arc::new(KeptnEvent::default())).unwrap();
        }
        let first = feed.recv().await.unwrap();
        assert_eq!(
            first.event_type.as_deref(),
            Some("sh.keptn.event.deployment.triggered")
        );
        let data = first.data.as_ref().unwrap();
        assert_eq!(data["service"], "a", "only the unanswered task: {first:?}");
        // Then the live events that are still in the bus.
        let next = feed.recv().await.unwrap();
        assert_eq!(next.event_type, None);
        drop(tx);
        assert_eq!(feed.recv().await.map(|e| e.event_type.clone()), Some(None));
        assert!(feed.recv().await.is_none());
    }

    #[tokio::test]
    async fn try_recv_takes_what_waits_and_leaves_a_lag_to_recv() {
        let (app, _router) = testkit::app().await;
        testkit::create_project(&app, "p", testkit::ONE_TASK_SHIPYARD, &["a"]).await;
        app.driver.submit(trigger("a")).await.unwrap();
        let (tx, mut feed) = small_feed(&app);
        assert!(feed.try_recv().is_none(), "nothing waits");
        let live = |id: &str| {
            Arc::new(KeptnEvent {
                id: Some(id.into()),
                ..KeptnEvent::default()
            })
        };
        tx.send(live("1")).unwrap();
        tx.send(live("2")).unwrap();
        assert_eq!(
            feed.try_recv().and_then(|e| e.id.clone()).as_deref(),
            Some("1")
        );
        assert_eq!(
            feed.try_recv().and_then(|e| e.id.clone()).as_deref(),
            Some("2")
        );
        assert!(feed.try_recv().is_none());
        // Overrun: try_recv yields nothing, and recv brings the open task back first.
        for id in ["3", "4", "5"] {
            tx.send(live(id)).unwrap();
        }
        assert!(feed.try_recv().is_none());
        assert!(
            feed.try_recv().is_none(),
            "while the missed task waits for recv"
        );
        let caught_up = feed.recv().await.unwrap();
        assert_eq!(
            caught_up.event_type.as_deref(),
            Some("sh.keptn.event.deployment.triggered")
        );
        assert_eq!(
            feed.try_recv().and_then(|e| e.id.clone()).as_deref(),
            Some("4")
        );
    }
}
