//! Built-in services that answer tasks inside the server (Keptn ran each as its own pod).

pub mod approval;
pub mod evaluation;
pub mod feed;
pub mod jobs;
pub mod load_artifacts;
pub mod loadtest;
pub mod monitoring;
pub mod notifications;
pub mod prometheus;
pub mod prometheus_rules;
pub mod remediation;
pub mod sli_provider;
pub mod webhook;

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;

use serde_json::{Value, json};
use sluice_model::event::{EventType, KeptnEvent, TaskEventKind};

use sluice_store::Store;

use crate::runtime::driver::DriverHandle;
use crate::services::feed::Feed;

/// An event a built-in service sends for `triggered` (its `.started` or `.finished`, or a
/// request it makes on the task's behalf): the same context and commit, `triggeredid` naming
/// `triggered`, and an id derived from `triggered`'s id and `what`, so that handling the same
/// event twice stores nothing twice.
pub fn answer(
    triggered: &KeptnEvent,
    source: &str,
    event_type: &str,
    what: &str,
    data: Value,
) -> KeptnEvent {
    let triggered_id = triggered.id.clone().unwrap_or_default();
    KeptnEvent {
        specversion: Some("1.0".to_owned()),
        id: Some(crate::runtime::ids::derived(&triggered_id, what)),
        source: Some(source.to_owned()),
        event_type: Some(event_type.to_owned()),
        time: Some(crate::runtime::clock::now().to_rfc3339_nano()),
        datacontenttype: Some("application/json".to_owned()),
        shkeptncontext: triggered.shkeptncontext.clone(),
        triggeredid: Some(triggered_id),
        gitcommitid: triggered.gitcommitid.clone(),
        data: Some(data),
        ..KeptnEvent::default()
    }
}

/// The `<task>.<kind>` answer to the task event `triggered` (`<task>.triggered`), as
/// [`answer`] builds it, with the id derived from `<task>.<kind>`.
pub fn answer_task(
    triggered: &KeptnEvent,
    source: &str,
    task: &str,
    kind: TaskEventKind,
    data: Value,
) -> KeptnEvent {
    let what = format!("{task}.{}", kind.as_str());
    let event_type = EventType::task(task, kind).to_string();
    answer(triggered, source, &event_type, &what, data)
}

/// Runs a service that answers one task event type, until the bus closes: every event of
/// `event_type` the feed delivers gets the events `answers` computes for it, submitted in
/// order under [`guard`] (`task` is the answers' prefix; the task is always this service's).
///
/// Answers depend only on the task (and the files at its pinned commit), and their ids are
/// derived from it. So once the engine is restored ([`DriverHandle::restored`]), the tasks
/// this service had answered with `.started` but not with `.finished` when its server stopped
/// (or a cluster's leader died) are answered again: what was stored is stored once, and what
/// was missing (an automatic approval's `.finished`) is sent now.
pub async fn answer_each<A, F>(
    mut feed: Feed,
    driver: DriverHandle,
    store: Arc<Store>,
    event_type: &'static str,
    source: &'static str,
    task: &'static str,
    answers: A,
) where
    A: Fn(Arc<KeptnEvent>) -> F + Send + Sync + 'static,
    F: Future<Output = Vec<KeptnEvent>> + Send + 'static,
{
    let answers = Arc::new(answers);
    let (recovering, again) = (driver.clone(), answers.clone());
    tokio::spawn(async move {
        recovering.restored().await;
        for event in cut_off_tasks(&recovering, &store, Some(event_type), task).await {
            tracing::info!(
                event = event.id.as_deref().unwrap_or(""),
                service = source,
                "answering a task again that was cut off after its .started"
            );
            answer_one(&recovering, &*again, Arc::new(event), source, task).await;
        }
    });
    while let Some(event) = feed.recv().await {
        if event.event_type.as_deref() != Some(event_type) {
            continue;
        }
        answer_one(&driver, &*answers, event, source, task).await;
    }
}

/// Submits the events `answers` computes for `event`, in order, under [`guard`].
async fn answer_one<A, F>(
    driver: &DriverHandle,
    answers: &A,
    event: Arc<KeptnEvent>,
    source: &str,
    task: &str,
) where
    A: Fn(Arc<KeptnEvent>) -> F,
    F: Future<Output = Vec<KeptnEvent>> + Send + 'static,
{
    let (d, pending) = (driver.clone(), answers(event.clone()));
    let work = async move {
        for answer in pending.await {
            d.submit(answer).await?;
        }
        Ok::<(), crate::runtime::driver::Error>(())
    };
    guard(driver, &event, source, task, Claim::Always, work).await;
}

/// Whether a service's answer `what` (`<prefix>.started`, `<prefix>.finished`) to the task
/// `triggered_id` is stored: its id is derived from both (see [`answer`]).
pub async fn answer_stored(
    store: &Store,
    triggered_id: &str,
    what: &str,
) -> Result<bool, sluice_store::Error> {
    let id = crate::runtime::ids::derived(triggered_id, what);
    Ok(store.event(&id).await?.is_some())
}

/// Whether the service whose answers are prefixed `prefix` answered the task `triggered_id`
/// with `.started` but not with `.finished`: its handling was cut off (its server stopped,
/// or a cluster's leader died). A store failure is logged and counts as no.
pub async fn cut_off(store: &Store, triggered_id: &str, prefix: &str) -> bool {
    let (started, finished) = (format!("{prefix}.started"), format!("{prefix}.finished"));
    match (
        answer_stored(store, triggered_id, &started).await,
        answer_stored(store, triggered_id, &finished).await,
    ) {
        (Ok(started), Ok(finished)) => started && !finished,
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, event = %triggered_id, "cannot read a task's answers");
            false
        }
    }
}

/// The open tasks (of `event_type`; of every type with `None`) whose handling by the service
/// prefixed `prefix` was cut off ([`cut_off`]).
pub async fn cut_off_tasks(
    driver: &DriverHandle,
    store: &Store,
    event_type: Option<&str>,
    prefix: &str,
) -> Vec<KeptnEvent> {
    let mut out = Vec::new();
    for open in driver.open_tasks(event_type) {
        let id = &open.triggered_id;
        if !open.answered || !cut_off(store, id, prefix).await {
            continue;
        }
        match store.event(id).await {
            Ok(Some(event)) => out.push(event),
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, event = %id, "cannot read an open task"),
        }
    }
    out
}

/// When [`guard`] answers a task whose handling failed.
#[derive(Debug, Clone, Copy)]
pub enum Claim<'a> {
    /// Always: the task is this service's by its type (approval, evaluation, get-action, a
    /// get-sli request addressed to this provider).
    Always,
    /// Only once the service has sent its `.started` for it (the job executor, which takes a
    /// task only when a job config matches it).
    IfStarted(&'a Store),
    /// Never: the event is not a task of this service (the failure is only logged).
    Never,
}

/// Runs `work`, a built-in service's handling of the task `triggered`, in a tokio task of its
/// own, so that a panic ends only that handling. When the work panics or returns an error,
/// the task gets an answer from `source`: `<task>.started` and `<task>.finished` with
/// `result: fail`, `status: errored` and a message saying what went wrong. Their ids are the
/// ones the service's own answers have (derived from `<answer>.started` and
/// `<answer>.finished`), so an answer the service sent before it failed is not sent twice.
///
/// Every built-in service handles each task through this function: no single event or stored
/// file can stop a service or the server (the poison-pill rule, `docs/security.md`).
pub async fn guard<F, E>(
    driver: &DriverHandle,
    triggered: &KeptnEvent,
    source: &str,
    answer_prefix: &str,
    claim: Claim<'_>,
    work: F,
) where
    F: Future<Output = Result<(), E>> + Send + 'static,
    E: Display + Send + 'static,
{
    let message = match tokio::spawn(work).await {
        Ok(Ok(())) => return,
        Ok(Err(e)) => format!("{source} could not handle the task: {e}"),
        Err(join) if join.is_panic() => {
            let payload = join.into_panic();
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            format!("{source} failed while handling the task (internal error: {what})")
        }
        // Cancelled: the runtime is shutting down.
        Err(_) => return,
    };
    let id = triggered.id.as_deref().unwrap_or("");
    tracing::error!(event = id, service = source, "{message}");
    let Some(task) = triggered.triggered_task() else {
        return;
    };
    let started_what = format!("{answer_prefix}.started");
    if matches!(claim, Claim::Never) {
        return;
    }
    if let Claim::IfStarted(store) = claim {
        match answer_stored(store, id, &started_what).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::error!(error = %e, service = source, "cannot check whether a failed task was taken");
                return;
            }
        }
    }
    let scope = triggered.data_value();
    let mut data = json!({
        "project": scope.get("project").cloned().unwrap_or(Value::Null),
        "stage": scope.get("stage").cloned().unwrap_or(Value::Null),
        "service": scope.get("service").cloned().unwrap_or(Value::Null),
    });
    if let Some(labels) = scope.get("labels") {
        data["labels"] = labels.clone();
    }
    let mut started = data.clone();
    started["status"] = json!("succeeded");
    data["status"] = json!("errored");
    data["result"] = json!("fail");
    data["message"] = json!(message);
    let answers = [
        answer(
            triggered,
            source,
            &EventType::task_started(&task).to_string(),
            &started_what,
            started,
        ),
        answer(
            triggered,
            source,
            &EventType::task_finished(&task).to_string(),
            &format!("{answer_prefix}.finished"),
            data,
        ),
    ];
    for event in answers {
        if let Err(e) = driver.submit(event).await {
            tracing::error!(error = %e, service = source, "cannot answer a task that failed");
            return;
        }
    }
}

/// [`guard`] for work that cannot return an error.
pub async fn guard_infallible<F>(
    driver: &DriverHandle,
    triggered: &KeptnEvent,
    source: &str,
    answer_prefix: &str,
    claim: Claim<'_>,
    work: F,
) where
    F: Future<Output = ()> + Send + 'static,
{
    let work = async move {
        work.await;
        Ok::<(), std::convert::Infallible>(())
    };
    guard(driver, triggered, source, answer_prefix, claim, work).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testkit;

    fn trigger() -> KeptnEvent {
        KeptnEvent {
            specversion: Some("1.0".into()),
            id: Some(crate::runtime::ids::fresh()),
            source: Some("test".into()),
            event_type: Some("sh.keptn.event.dev.delivery.triggered".into()),
            shkeptncontext: Some(crate::runtime::ids::fresh()),
            data: Some(json!({"project": "p", "stage": "dev", "service": "a"})),
            ..KeptnEvent::default()
        }
    }

    /// Starts a delivery and returns its open `deployment.triggered` event.
    async fn open_task(app: &crate::state::App) -> KeptnEvent {
        open_task_of(app, "a").await
    }

    /// [`open_task`] on `service`.
    async fn open_task_of(app: &crate::state::App, service: &str) -> KeptnEvent {
        let mut sequence = trigger();
        sequence.data = Some(json!({"project": "p", "stage": "dev", "service": service}));
        let context = sequence.shkeptncontext.clone();
        app.driver.submit(sequence).await.expect("submit");
        let task = app
            .driver
            .open_tasks(Some("sh.keptn.event.deployment.triggered"))
            .into_iter()
            .find(|t| Some(&t.keptn_context) == context.as_ref())
            .expect("the task is open");
        app.store
            .event(&task.triggered_id)
            .await
            .expect("read")
            .expect("stored")
    }

    async fn stored(app: &crate::state::App, triggered: &KeptnEvent, what: &str) -> Option<Value> {
        let id = crate::runtime::ids::derived(triggered.id.as_deref().unwrap_or(""), what);
        app.store
            .event(&id)
            .await
            .expect("read")
            .and_then(|e| e.data)
    }

    #[tokio::test]
    async fn a_builtin_that_panics_on_one_task_answers_fail_and_the_next_task_still_works() {
        let (app, _router) = testkit::app().await;
        testkit::create_project(&app, "p", testkit::ONE_TASK_SHIPYARD, &["a"]).await;

        let poisoned = open_task(&app).await;
        let work = async { panic!("index out of bounds: the len is 0 but the index is 3") };
        guard_infallible(
            &app.driver,
            &poisoned,
            "svc",
            "svc-task",
            Claim::Always,
            work,
        )
        .await;
        let finished = stored(&app, &poisoned, "svc-task.finished")
            .await
            .expect("the failed task is answered");
        assert_eq!(finished["result"], "fail");
        assert_eq!(finished["status"], "errored");
        let message = finished["message"].as_str().unwrap_or("");
        assert!(
            message.contains("svc failed while handling the task")
                && message.contains("index out of bounds"),
            "{message}"
        );
        assert!(stored(&app, &poisoned, "svc-task.started").await.is_some());
        assert!(
            app.driver
                .open_tasks(None)
                .iter()
                .all(|t| t.triggered_id != poisoned.id.clone().unwrap_or_default()),
            "the task is settled"
        );

        // The next task is handled normally; an error is answered like a panic.
        let next = open_task(&app).await;
        let ok = async { Ok::<(), String>(()) };
        guard(&app.driver, &next, "svc", "svc-task", Claim::Always, ok).await;
        assert!(stored(&app, &next, "svc-task.finished").await.is_none());
        let failing = async { Err::<(), String>("the SLO file is unreadable".into()) };
        guard(
            &app.driver,
            &next,
            "svc",
            "svc-task",
            Claim::Always,
            failing,
        )
        .await;
        let finished = stored(&app, &next, "svc-task.finished")
            .await
            .expect("answered");
        assert_eq!(finished["result"], "fail");
        assert!(
            finished["message"]
                .as_str()
                .is_some_and(|m| m.contains("the SLO file is unreadable")),
            "{finished}"
        );
    }

    #[tokio::test]
    async fn a_failure_on_a_task_the_service_never_took_is_not_answered() {
        let (app, _router) = testkit::app().await;
        testkit::create_project(&app, "p", testkit::ONE_TASK_SHIPYARD, &["a"]).await;
        let task = open_task(&app).await;
        let work = async { panic!("boom") };
        let claim = Claim::IfStarted(&app.store);
        guard_infallible(&app.driver, &task, "svc", "svc-task", claim, work).await;
        assert!(stored(&app, &task, "svc-task.finished").await.is_none());
        guard_infallible(&app.driver, &task, "svc", "svc-task", Claim::Never, async {
            panic!("boom")
        })
        .await;
        assert!(stored(&app, &task, "svc-task.finished").await.is_none());
    }

    /// A service that answers each task of a type (like the approval service) and was cut off
    /// after its `.started` answers the task again once the engine is restored: the
    /// `.finished` it owed is sent, the `.started` is not stored twice, and a task it never
    /// took is left alone.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_task_cut_off_after_its_started_is_answered_again_once() {
        let (app, _router) = testkit::app().await;
        testkit::create_project(&app, "p", testkit::ONE_TASK_SHIPYARD, &["a", "b"]).await;
        let (cut, foreign) = (open_task(&app).await, open_task_of(&app, "b").await);
        let answer = |task: &KeptnEvent, kind: TaskEventKind| {
            let service = task.data_value()["service"].clone();
            let mut data =
                json!({"project": "p", "stage": "dev", "service": service, "status": "succeeded"});
            if kind == TaskEventKind::Finished {
                data["result"] = json!("pass");
            }
            answer_task(task, "svc", "deployment", kind, data)
        };
        // What the stopped server stored, and another integration's answer.
        app.driver
            .submit(answer(&cut, TaskEventKind::Started))
            .await
            .unwrap();
        let mut other = answer(&foreign, TaskEventKind::Started);
        other.id = Some(crate::runtime::ids::fresh());
        app.driver.submit(other).await.unwrap();

        let mut events = app.bus.subscribe();
        let feed = Feed::new(
            app.bus.subscribe_triggered(),
            app.driver.clone(),
            app.store.clone(),
            Some("sh.keptn.event.deployment.triggered"),
            "svc",
        );
        let answers = move |task: Arc<KeptnEvent>| async move {
            vec![
                answer(&task, TaskEventKind::Started),
                answer(&task, TaskEventKind::Finished),
            ]
        };
        tokio::spawn(answer_each(
            feed,
            app.driver.clone(),
            app.store.clone(),
            "sh.keptn.event.deployment.triggered",
            "svc",
            "deployment",
            answers,
        ));
        let cut_id = cut.id.clone().unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(30), async {
            loop {
                let e = events.recv().await.expect("bus open");
                if e.triggeredid.as_deref() == Some(cut_id.as_str())
                    && e.event_type.as_deref() == Some("sh.keptn.event.deployment.finished")
                {
                    return;
                }
            }
        })
        .await
        .expect("the cut-off task is finished");
        let context = cut.shkeptncontext.clone().unwrap();
        let stored_events = app.store.events_of_context(&context).await.unwrap();
        let count = |ty: &str| {
            stored_events
                .iter()
                .filter(|e| e.event_type.as_deref() == Some(ty))
                .count()
        };
        assert_eq!(count("sh.keptn.event.deployment.started"), 1);
        assert_eq!(count("sh.keptn.event.deployment.finished"), 1);
        let foreign_id = foreign.id.clone().unwrap();
        assert!(
            app.driver
                .open_tasks(None)
                .iter()
                .any(|t| t.triggered_id == foreign_id),
            "a task the service never took stays with whoever took it"
        );
        assert!(
            stored(&app, &foreign, "deployment.finished")
                .await
                .is_none()
        );
    }
}
