//! The projects view: the last event of each task type per service and stage (Keptn's
//! `lastEventTypes`, [`last_event`], written by the driver in the same commit as the events),
//! and, kept current in the background from the events the driver publishes, the image a
//! successful deployment task rolled out (`deployedImage`) and task durations for `/metrics`.
//!
//! The background part is a derived view, written after the driver's commit and off the path
//! from one task to the next. A crash in between leaves it one event behind, never the
//! sequence state.

use std::sync::Arc;

use sluice_model::event::{EventType, KeptnEvent, TaskEventKind};
use sluice_store::{EventContextInfo, LastEvent, Store};
use tokio::sync::mpsc;

use crate::metrics::Metrics;

/// Most events taken from the channel at once.
const MAX_BATCH: usize = 512;

/// Starts the view's task; send it every event once it is durable.
pub(crate) fn spawn(
    store: Arc<Store>,
    metrics: Arc<Metrics>,
) -> mpsc::UnboundedSender<Arc<KeptnEvent>> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Arc<KeptnEvent>>();
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            update(&store, &metrics, &batch).await;
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

async fn update(store: &Store, metrics: &Metrics, events: &[Arc<KeptnEvent>]) {
    for t in events.iter().filter_map(|e| TaskEvent::of(e)) {
        if t.kind == TaskEventKind::Finished {
            finished(store, metrics, &t).await;
        }
    }
}

/// A `.finished` task event: its duration, and the image a passing deployment rolled out.
async fn finished(store: &Store, metrics: &Metrics, t: &TaskEvent<'_>) {
    let triggered = match &t.event.triggeredid {
        Some(id) => store.event(id).await.ok().flatten(),
        None => None,
    };
    if let Some(triggered) = &triggered
        && let (Some(Ok(start)), Some(Ok(end))) = (triggered.timestamp(), t.event.timestamp())
    {
        let seconds = end.nanos_since(start) as f64 / 1e9;
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
        None if t.task.ends_with("deployment") => triggered
            .as_ref()
            .and_then(|e| e.data.as_ref())
            .and_then(|d| d.pointer("/configurationChange/values/image"))
            .and_then(serde_json::Value::as_str),
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
