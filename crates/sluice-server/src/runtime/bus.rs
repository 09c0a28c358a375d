//! The in-process event bus: every stored event, in commit order, for built-in services, the
//! server-sent-events stream and anything else that follows events live.

use std::sync::Arc;

use sluice_model::event::{EventType, KeptnEvent};
use tokio::sync::broadcast;

/// How many events a slow subscriber may fall behind before it misses some (it is told, and
/// can catch up from the store).
const CAPACITY: usize = 4096;

/// A request to stop work that belongs to an aborted sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancel {
    /// The run.
    pub keptn_context: String,
    /// The task name.
    pub task: String,
    /// Id of the task's `.triggered` event.
    pub triggered_id: String,
}

/// Publish/subscribe for stored events and cancellations.
#[derive(Debug, Clone)]
pub struct Bus {
    events: broadcast::Sender<Arc<KeptnEvent>>,
    /// The `.triggered` events only, for the services that answer one kind of task: most
    /// events (`.started`, `.finished`) then wake none of them.
    triggered: broadcast::Sender<Arc<KeptnEvent>>,
    cancels: broadcast::Sender<Cancel>,
}

impl Default for Bus {
    fn default() -> Self {
        Bus {
            events: broadcast::channel(CAPACITY).0,
            triggered: broadcast::channel(CAPACITY).0,
            cancels: broadcast::channel(256).0,
        }
    }
}

impl Bus {
    /// Sends a stored event to every subscriber (none is fine).
    pub fn publish(&self, event: Arc<KeptnEvent>) {
        if event
            .event_type
            .as_deref()
            .is_some_and(EventType::names_triggered)
        {
            let _ = self.triggered.send(event.clone());
        }
        let _ = self.events.send(event);
    }

    /// Follows events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<KeptnEvent>> {
        self.events.subscribe()
    }

    /// Follows `.triggered` events from now on (the same order as
    /// [`subscribe`](Self::subscribe), the others left out).
    pub fn subscribe_triggered(&self) -> broadcast::Receiver<Arc<KeptnEvent>> {
        self.triggered.subscribe()
    }

    /// Asks built-in executors to stop work of an aborted task.
    pub fn cancel(&self, cancel: Cancel) {
        let _ = self.cancels.send(cancel);
    }

    /// Follows cancellations.
    pub fn subscribe_cancels(&self) -> broadcast::Receiver<Cancel> {
        self.cancels.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, event_type: &str) -> Arc<KeptnEvent> {
        Arc::new(KeptnEvent::new(
            id,
            "test",
            &event_type.parse().expect("event type"),
            sluice_model::event::Timestamp::from_unix(0, 0),
            "ctx",
            serde_json::json!({}),
        ))
    }

    #[test]
    fn triggered_subscribers_get_only_triggered_events_in_order() {
        let bus = Bus::default();
        let mut all = bus.subscribe();
        let mut triggered = bus.subscribe_triggered();
        for (id, t) in [
            ("1", "sh.keptn.event.deployment.triggered"),
            ("2", "sh.keptn.event.deployment.started"),
            ("3", "sh.keptn.event.deployment.finished"),
            ("4", "sh.keptn.event.dev.delivery.triggered"),
        ] {
            bus.publish(event(id, t));
        }
        let ids = |rx: &mut broadcast::Receiver<Arc<KeptnEvent>>| {
            std::iter::from_fn(|| rx.try_recv().ok())
                .map(|e| e.id.clone().unwrap_or_default())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&mut all), ["1", "2", "3", "4"]);
        assert_eq!(ids(&mut triggered), ["1", "4"]);
    }
}
