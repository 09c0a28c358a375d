//! The projects view: the last event of each task type per service and stage (Keptn's
//! `lastEventTypes`, [`last_event`], written by the driver in the same commit as the events),
//! and, kept current in the background from the events the driver publishes, the image a
//! successful deployment task rolled out (`deployedImage`) and task durations for `/metrics`.
//!
//! The background part is a derived view, written after the driver's commit and off the path
//! from one task to the next. A crash in between leaves it one event behind, never the
//! sequence state. The `.triggered` events it sees are remembered ([`Triggers`]) until their
//! `.finished` arrives, so a task's duration and image need no read of the store; a trigger
//! from before a restart (or forgotten for room) is read from the store instead.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use sluice_model::event::{EventType, KeptnEvent, TaskEventKind};
use sluice_store::{EventContextInfo, LastEvent, Store};
use tokio::sync::mpsc;

use crate::metrics::Metrics;

/// Most events taken from the channel at once.
const MAX_BATCH: usize = 512;

/// Most `.triggered` events remembered; beyond it the oldest is forgotten (and read from the
/// store if its task ever finishes).
const MAX_TRIGGERS: usize = 10_000;

/// What a task's `.finished` needs of its `.triggered` event.
#[derive(Debug, Clone, PartialEq)]
struct Trigger {
    time: Option<sluice_model::event::Timestamp>,
    /// `configurationChange.values.image`, which a deployment task rolls out.
    image: Option<String>,
}

impl Trigger {
    fn of(event: &KeptnEvent) -> Trigger {
        Trigger {
            time: event.timestamp().and_then(Result::ok),
            image: event
                .data
                .as_ref()
                .and_then(|d| d.pointer("/configurationChange/values/image"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned),
        }
    }
}

/// The `.triggered` task events seen and not finished yet, by id, oldest forgotten first.
#[derive(Debug, Default)]
struct Triggers {
    by_id: HashMap<String, Trigger>,
    order: VecDeque<String>,
}

impl Triggers {
    fn remember(&mut self, id: &str, trigger: Trigger) {
        if self.by_id.insert(id.to_owned(), trigger).is_none() {
            self.order.push_back(id.to_owned());
        }
        while self.by_id.len() > MAX_TRIGGERS {
            match self.order.pop_front() {
                Some(old) => {
                    self.by_id.remove(&old);
                }
                None => break,
            }
        }
        // Ids whose task finished stay in `order` until they come up; keep it bounded too.
        if self.order.len() > 2 * MAX_TRIGGERS {
            let by_id = &self.by_id;
            self.order.retain(|id| by_id.contains_key(id));
        }
    }

    fn take(&mut self, id: &str) -> Option<Trigger> {
        self.by_id.remove(id)
    }
}

/// Starts the view's task; send it every event once it is durable.
pub(crate) fn spawn(
    store: Arc<Store>,
    metrics: Arc<Metrics>,
) -> mpsc::UnboundedSender<Arc<KeptnEvent>> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Arc<KeptnEvent>>();
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut triggers = Triggers::default();
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            update(&store, &metrics, &mut triggers, &batch).await;
            batch.clear();
        }
    });
    tx
}

/// A task event's project, stage and service, when it has all three.
struct TaskEvent<'a> {
    event: &'a KeptnEvent,
    task: String,
    kind: TaskEventKind,
    project: String,
    stage: String,
    service: String,
}

impl<'a> TaskEvent<'a> {
    fn of(event: &'a KeptnEvent) -> Option<TaskEvent<'a>> {
        let Ok(EventType::Task { task, kind }) = event.event_type() else {
            return None;
        };
        let (project, stage, service) = (
            data_str(event, "project"),
            data_str(event, "stage"),
            data_str(event, "service"),
        );
        if project.is_empty() || stage.is_empty() || service.is_empty() {
            return None;
        }
        Some(TaskEvent {
            event,
            task,
            kind,
            project: project.to_owned(),
            stage: stage.to_owned(),
            service: service.to_owned(),
        })
    }

    fn last_event(&self) -> LastEvent {
        let e = self.event;
        LastEvent {
            project: self.project.clone(),
            stage: self.stage.clone(),
            service: self.service.clone(),
            event_type: e.event_type.clone().unwrap_or_default(),
            info: EventContextInfo {
                event_id: e.id.clone().unwrap_or_default(),
                keptn_context: e.shkeptncontext.clone().unwrap_or_default(),
                time: e
                    .timestamp()
                    .and_then(Result::ok)
                    .map(|t| t.unix_nanos().to_string())
                    .unwrap_or_default(),
            },
        }
    }
}

fn data_str<'e>(event: &'e KeptnEvent, key: &str) -> &'e str {
    event
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
}

/// The `lastEventTypes` entry of a task event (`None` for other events).
pub(crate) fn last_event(event: &KeptnEvent) -> Option<LastEvent> {
    TaskEvent::of(event).map(|t| t.last_event())
}

async fn update(
    store: &Store,
    metrics: &Metrics,
    triggers: &mut Triggers,
    events: &[Arc<KeptnEvent>],
) {
    for t in events.iter().filter_map(|e| TaskEvent::of(e)) {
        match t.kind {
            TaskEventKind::Triggered => {
                if let Some(id) = t.event.id.as_deref() {
                    triggers.remember(id, Trigger::of(t.event));
                }
            }
            TaskEventKind::Finished => {
                let trigger = match t.event.triggeredid.as_deref() {
                    Some(id) => match triggers.take(id) {
                        Some(trigger) => Some(trigger),
                        None => store
                            .event(id)
                            .await
                            .ok()
                            .flatten()
                            .map(|e| Trigger::of(&e)),
                    },
                    None => None,
                };
                finished(store, metrics, &t, trigger).await;
            }
            _ => {}
        }
    }
}

/// A `.finished` task event: its duration, and the image a passing deployment rolled out.
async fn finished(store: &Store, metrics: &Metrics, t: &TaskEvent<'_>, trigger: Option<Trigger>) {
    if let Some(Trigger {
        time: Some(start), ..
    }) = &trigger
        && let Some(Ok(end)) = t.event.timestamp()
    {
        let seconds = end.nanos_since(*start) as f64 / 1e9;
        if seconds >= 0.0 {
            metrics.task_finished(&t.task, seconds);
        }
    }
    if !matches!(data_str(t.event, "result"), "pass" | "warning") {
        return;
    }
    // The image a task reports having rolled out (`deployment.image`, written by sluice's
    // local deployments for deploy, rollback and scale) wins; otherwise, like Keptn, a
    // deployment task's image is the one its trigger asked for.
    let reported = t
        .event
        .data
        .as_ref()
        .and_then(|d| d.pointer("/deployment/image"))
        .and_then(serde_json::Value::as_str);
    let image = match reported {
        Some(image) => Some(image),
        None if t.task.ends_with("deployment") => trigger.as_ref().and_then(|t| t.image.as_deref()),
        None => None,
    };
    if let Some(image) = image
        && let Err(e) = store
            .set_deployed_image(&t.project, &t.stage, &t.service, image)
            .await
    {
        tracing::warn!(error = %e, "cannot record the deployed image of {} in {}", t.service, t.stage);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(n: i64) -> Trigger {
        Trigger {
            time: Some(sluice_model::event::Timestamp::from_unix(n, 0)),
            image: None,
        }
    }

    #[test]
    fn a_trigger_is_taken_once() {
        let mut triggers = Triggers::default();
        triggers.remember("a", trigger(1));
        assert_eq!(triggers.take("a"), Some(trigger(1)));
        assert_eq!(triggers.take("a"), None);
    }

    #[test]
    fn the_oldest_triggers_are_forgotten_beyond_the_bound() {
        let mut triggers = Triggers::default();
        for n in 0..MAX_TRIGGERS + 10 {
            triggers.remember(&n.to_string(), trigger(n as i64));
        }
        assert_eq!(triggers.by_id.len(), MAX_TRIGGERS);
        assert_eq!(triggers.take("9"), None);
        assert_eq!(triggers.take("10"), Some(trigger(10)));
        // Finished tasks leave ids behind in the order; it stays bounded as well.
        for n in 0..3 * MAX_TRIGGERS {
            let id = format!("f{n}");
            triggers.remember(&id, trigger(0));
            triggers.take(&id);
        }
        assert!(triggers.order.len() <= 2 * MAX_TRIGGERS + 1);
    }

    #[test]
    fn a_trigger_keeps_its_time_and_requested_image() {
        let ty: sluice_model::event::EventType =
            "sh.keptn.event.deployment.triggered".parse().expect("type");
        let event = KeptnEvent::new(
            "t1",
            "test",
            &ty,
            sluice_model::event::Timestamp::from_unix(1_704_067_200, 0),
            "ctx",
            serde_json::json!({"project": "p", "stage": "s", "service": "v",
                "configurationChange": {"values": {"image": "carts:0.13.1"}}}),
        );
        assert_eq!(
            Trigger::of(&event),
            Trigger {
                time: Some(sluice_model::event::Timestamp::from_unix(1_704_067_200, 0)),
                image: Some("carts:0.13.1".into()),
            }
        );
    }
}
