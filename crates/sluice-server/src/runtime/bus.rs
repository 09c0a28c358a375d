//! The in-process event bus: every stored event, in commit order, for built-in services, the
//! server-sent-events stream and anything else that follows events live.

use std::sync::Arc;

use sluice_model::event::KeptnEvent;
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
    cancels: broadcast::Sender<Cancel>,
}

impl Default for Bus {
    fn default() -> Self {
        Bus {
            events: broadcast::channel(CAPACITY).0,
            cancels: broadcast::channel(256).0,
        }
    }
}

impl Bus {
    /// Sends a stored event to every subscriber (none is fine).
    pub fn publish(&self, event: Arc<KeptnEvent>) {
        let _ = self.events.send(event);
    }

    /// Follows events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<KeptnEvent>> {
        self.events.subscribe()
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
