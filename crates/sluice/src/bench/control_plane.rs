//! The engine's figures: control-plane overhead per task (`.finished` sent → next
//! `.triggered` published) and the throughput of many concurrent sequences, with executors
//! that answer at once through the HTTP API of a real server in this process.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use sluice_model::event::{EventType, KeptnEvent};
use sluice_server::state::App;
use sluice_store::Durability;
use tokio::sync::{Semaphore, mpsc};

use super::Sizes;
use super::figure::{Figure, Samples, Target};
use super::machine::{cpu_micros_per, process_cpu_seconds};
use super::servers::{ApiClient, InProcessServer};

const PROJECT: &str = "bench";
const STAGE: &str = "dev";
const SEQUENCE_FINISHED: &str = "sh.keptn.event.dev.delivery.finished";

/// A stage with one sequence of three tasks, none of which a built-in service answers.
pub const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: bench\nspec:\n  stages:\n    - name: dev\n      sequences:\n        - name: delivery\n          tasks:\n            - name: deployment\n            - name: test\n            - name: release\n";

/// Transitions of one task: triggered, started, finished.
const TRANSITIONS_PER_TASK: usize = 3;
const TASKS_PER_SEQUENCE: usize = 3;

/// How an executor's answers reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// `POST /api/v1/event` (what a real executor does).
    Http,
    /// `driver.submit` in this process (the engine alone: the reference).
    Driver,
}

fn event(
    event_type: &str,
    context: &str,
    triggered: Option<&str>,
    data: Value,
) -> Result<KeptnEvent> {
    let ty: EventType = event_type
        .parse()
        .map_err(|e| anyhow!("event type {event_type}: {e}"))?;
    let mut ev = KeptnEvent::new(
        &sluice_server::runtime::ids::fresh(),
        "sluice-bench-executor",
        &ty,
        sluice_server::runtime::clock::now(),
        context,
        data,
    );
    ev.triggeredid = triggered.map(str::to_owned);
    Ok(ev)
}

fn trigger(service: &str, context: &str) -> Result<KeptnEvent> {
    event(
        "sh.keptn.event.dev.delivery.triggered",
        context,
        None,
        json!({"project": PROJECT, "stage": STAGE, "service": service}),
    )
}

/// The `.started` and `.finished` answers to a task `.triggered` event.
fn answers(
    triggered_type: &str,
    context: &str,
    triggered_id: &str,
    service: &str,
) -> Result<[KeptnEvent; 2]> {
    let task = triggered_type
        .parse::<EventType>()
        .ok()
        .and_then(|t| t.task_name().map(str::to_owned))
        .ok_or_else(|| anyhow!("not a task event: {triggered_type}"))?;
    let scope = json!({"project": PROJECT, "stage": STAGE, "service": service});
    let mut finished = scope.clone();
    finished["status"] = json!("succeeded");
    finished["result"] = json!("pass");
    Ok([
        event(
            &EventType::task_started(&task).to_string(),
            context,
            Some(triggered_id),
            scope,
        )?,
        event(
            &EventType::task_finished(&task).to_string(),
            context,
            Some(triggered_id),
            finished,
        )?,
    ])
}

async fn send(server: &InProcessServer, via: Via, ev: KeptnEvent) -> Result<()> {
    match via {
        Via::Http => server.api.send_event(&ev).await,
        Via::Driver => server
            .app
            .driver
            .submit(ev)
            .await
            .map(drop)
            .map_err(|e| anyhow!("driver: {e}")),
    }
}

/// How creating the services went: one API call each, one after the other.
struct Creation {
    elapsed: Duration,
    /// This process's CPU time per service meanwhile (the server's and the client's), in µs.
    cpu_micros: f64,
}

/// Starts a server with the project and `services` services.
async fn start(
    dir: &Path,
    services: usize,
    http: reqwest::Client,
) -> Result<(InProcessServer, Creation)> {
    let server = InProcessServer::start(dir, axum::Router::new(), http).await?;
    let names: Vec<String> = (0..services).map(|i| format!("svc{i}")).collect();
    server.api.create_project(PROJECT, SHIPYARD, &[]).await?;
    let (started, cpu) = (Instant::now(), process_cpu_seconds());
    server.api.create_services(PROJECT, &names).await?;
    let creation = Creation {
        elapsed: started.elapsed(),
        cpu_micros: cpu_micros_per(cpu, process_cpu_seconds(), services as f64),
    };
    Ok((server, creation))
}

/// Every stored event as the bus publishes it, stamped with the moment it arrived.
fn stamped_bus(app: &App) -> mpsc::UnboundedReceiver<(Instant, Arc<KeptnEvent>)> {
    let mut bus = app.bus.subscribe();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match bus.recv().await {
                Ok(ev) => {
                    if tx.send((Instant::now(), ev)).is_err() {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    rx
}

/// Runs `runs` sequences one after the other with one executor answering each task; a sample
/// is the time from just before the `.finished` is sent to the next `.triggered` published.
async fn overhead_samples(server: &InProcessServer, via: Via, runs: usize) -> Result<Samples> {
    let mut bus = stamped_bus(&server.app);
    let mut samples = Samples::default();
    for _ in 0..runs {
        let context = sluice_server::runtime::ids::fresh();
        send(server, via, trigger("svc0", &context)?).await?;
        let mut finished_sent: Option<Instant> = None;
        loop {
            let (at, ev) = tokio::time::timeout(Duration::from_secs(30), bus.recv())
                .await
                .map_err(|_| anyhow!("no event within 30 s (context {context})"))?
                .ok_or_else(|| anyhow!("the bus closed"))?;
            if ev.shkeptncontext.as_deref() != Some(context.as_str()) {
                continue;
            }
            let ty = ev.event_type.as_deref().unwrap_or_default();
            if ty == SEQUENCE_FINISHED {
                break;
            }
            let is_task_trigger = ty.ends_with(".triggered") && ty.split('.').count() == 5;
            if !is_task_trigger {
                continue;
            }
            if let Some(sent) = finished_sent.take() {
                samples.push_ms(at.duration_since(sent).as_secs_f64() * 1000.0);
            }
            let id = ev.id.as_deref().unwrap_or_default();
            let [started, finished] = answers(ty, &context, id, "svc0")?;
            send(server, via, started).await?;
            finished_sent = Some(Instant::now());
            send(server, via, finished).await?;
        }
    }
    Ok(samples)
}

/// `task_overhead_p50` and `_p99` through the API, beside the same through `driver.submit`.
pub async fn overhead(dir: &Path, sizes: &Sizes, http: reqwest::Client) -> Result<Vec<Figure>> {
    let (server, _) = start(dir, 1, http).await?;
    // One warm-up sequence each (first-use costs: connections, caches).
    overhead_samples(&server, Via::Http, 1).await?;
    overhead_samples(&server, Via::Driver, 1).await?;
    // Interleaved, so that both see the same conditions on a busy machine.
    let (mut http_samples, mut driver_samples) = (Samples::default(), Samples::default());
    for _ in 0..sizes.overhead_runs {
        http_samples.extend(overhead_samples(&server, Via::Http, 1).await?);
        driver_samples.extend(overhead_samples(&server, Via::Driver, 1).await?);
    }
    server.stop().await;
    let mut out = Vec::new();
    for (name, p, target) in [("p50", 0.5, 1.0), ("p99", 0.99, 10.0)] {
        out.push(
            Figure::new(
                &format!("task_overhead_{name}"),
                http_samples.quantile(p),
                "ms",
                Target::at_most(target),
            )
            .beside(
                &format!("in_process_overhead_{name}"),
                driver_samples.quantile(p),
                "ms",
            ),
        );
    }
    Ok(out)
}

/// Requests in flight at most, from the executors and from the triggers each.
const CONCURRENT_REQUESTS: usize = 64;

/// How often the executor also sweeps the engine's open tasks.
const SWEEP: Duration = Duration::from_millis(50);

/// An open task as the executor needs it.
struct Task {
    event_type: String,
    context: String,
    triggered_id: String,
    service: String,
}

/// An instant executor answering each task once through the API. It hears `.triggered`
/// events on the bus (at once) and also sweeps the engine's open tasks every 50 ms, as
/// remote executors poll the API, so a task is never missed, even if the bus lagged.
///
/// Hearing and answering are two tasks: the listener never waits for a free request slot, so
/// it keeps up with the bus. (When one loop did both, it fell thousands of events behind while
/// waiting for slots, and many tasks were only found by the sweep; the figures did not change
/// measurably, see docs/performance.md.)
fn spawn_executor(
    app: Arc<App>,
    api: ApiClient,
    failures: mpsc::UnboundedSender<anyhow::Error>,
) -> tokio::task::JoinHandle<()> {
    let mut bus = app.bus.subscribe();
    let (heard_tx, mut heard) = mpsc::unbounded_channel::<Task>();
    let listener = async move {
        let mut answered = HashSet::new();
        let mut sweep = tokio::time::interval(SWEEP);
        loop {
            let tasks: Vec<Task> = tokio::select! {
                heard = bus.recv() => match heard {
                    Ok(ev) => {
                        let ty = ev.event_type.as_deref().unwrap_or_default();
                        let data = ev.data.as_ref();
                        if ty.ends_with(".triggered") && ty.split('.').count() == 5 {
                            vec![Task {
                                event_type: ty.to_owned(),
                                context: ev.shkeptncontext.clone().unwrap_or_default(),
                                triggered_id: ev.id.clone().unwrap_or_default(),
                                service: data
                                    .and_then(|d| d.get("service"))
                                    .and_then(Value::as_str)
                                    .unwrap_or_default()
                                    .to_owned(),
                            }]
                        } else {
                            Vec::new()
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Vec::new(),
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                _ = sweep.tick() => app
                    .driver
                    .open_tasks(None)
                    .into_iter()
                    .filter(|t| t.due)
                    .map(|t| Task {
                        event_type: t.event_type,
                        context: t.keptn_context,
                        triggered_id: t.triggered_id,
                        service: t.service,
                    })
                    .collect(),
            };
            for task in tasks {
                if answered.insert(task.triggered_id.clone()) && heard_tx.send(task).is_err() {
                    return;
                }
            }
        }
    };
    tokio::spawn(async move {
        // Dropped (and so stopped) with this task when the benchmark aborts it.
        let mut listening = tokio::task::JoinSet::new();
        listening.spawn(listener);
        let concurrent = Arc::new(Semaphore::new(CONCURRENT_REQUESTS));
        while let Some(task) = heard.recv().await {
            let (api, failures) = (api.clone(), failures.clone());
            let Ok(permit) = concurrent.clone().acquire_owned().await else {
                return;
            };
            tokio::spawn(async move {
                let answered = async {
                    let [started, finished] = answers(
                        &task.event_type,
                        &task.context,
                        &task.triggered_id,
                        &task.service,
                    )?;
                    api.send_event(&started).await?;
                    api.send_event(&finished).await
                }
                .await;
                if let Err(e) = answered {
                    let _ = failures.send(e);
                }
                drop(permit);
            });
        }
    })
}

/// How many sequences have finished, as heard on the bus: the measurement must not load the
/// server with a history query every few milliseconds. If the bus lagged, events were missed
/// and from then on the store is asked instead (every 10 ms).
struct FinishedCount {
    bus: Option<tokio::sync::broadcast::Receiver<Arc<KeptnEvent>>>,
    heard: u64,
}

impl FinishedCount {
    fn new(app: &App) -> FinishedCount {
        FinishedCount {
            bus: Some(app.bus.subscribe()),
            heard: 0,
        }
    }

    /// The count after the next sequence finished, or after `at_most`.
    async fn wait(&mut self, app: &App, at_most: Duration) -> Result<u64> {
        use tokio::sync::broadcast::error::RecvError;
        let Some(bus) = self.bus.as_mut() else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            return finished_sequences(app).await;
        };
        let deadline = tokio::time::Instant::now() + at_most;
        loop {
            match tokio::time::timeout_at(deadline, bus.recv()).await {
                Err(_) => return Ok(self.heard),
                Ok(Ok(ev)) => {
                    if ev.event_type.as_deref() == Some(SEQUENCE_FINISHED) {
                        self.heard += 1;
                        return Ok(self.heard);
                    }
                }
                Ok(Err(RecvError::Lagged(_))) => {
                    self.bus = None;
                    return finished_sequences(app).await;
                }
                Ok(Err(RecvError::Closed)) => bail!("the bus closed"),
            }
        }
    }
}

async fn finished_sequences(app: &App) -> Result<u64> {
    Ok(app
        .store
        .events(&sluice_store::EventQuery {
            project: Some(PROJECT.into()),
            event_type: Some(SEQUENCE_FINISHED.into()),
            paging: sluice_store::Paging::first(1),
            ..sluice_store::EventQuery::default()
        })
        .await?
        .total_count)
}

/// `task_transitions_per_second`: `sequences` sequences at once, each on its own service,
/// beside the raw rate of durable single-row inserts into SQLite with the store's settings.
pub async fn throughput(dir: &Path, sizes: &Sizes, http: reqwest::Client) -> Result<Vec<Figure>> {
    let n = sizes.sequences;
    let (server, creating) = start(&dir.join("server"), n, http).await?;
    let (fail_tx, mut fail_rx) = mpsc::unbounded_channel();
    let executor = spawn_executor(server.app.clone(), server.api.clone(), fail_tx);
    let mut finished = FinishedCount::new(&server.app);
    let started = Instant::now();
    let cpu = process_cpu_seconds();
    let mut triggers_sent = false;
    // The sequences start at once: up to 64 triggers in flight, like the executors' answers.
    let mut triggers = {
        let api = server.api.clone();
        tokio::spawn(async move {
            let mut sending = tokio::task::JoinSet::new();
            for i in 0..n {
                if sending.len() >= CONCURRENT_REQUESTS
                    && let Some(sent) = sending.join_next().await
                {
                    sent??;
                }
                let api = api.clone();
                sending.spawn(async move {
                    api.send_event(&trigger(
                        &format!("svc{i}"),
                        &sluice_server::runtime::ids::fresh(),
                    )?)
                    .await
                });
            }
            while let Some(sent) = sending.join_next().await {
                sent??;
            }
            Ok::<(), anyhow::Error>(())
        })
    };
    let deadline = started + Duration::from_secs(900);
    let outcome = loop {
        if let Ok(e) = fail_rx.try_recv() {
            break Err(e.context("an executor's answer was refused"));
        }
        if !triggers_sent && triggers.is_finished() {
            // A refused trigger would leave the loop waiting for a sequence that never runs.
            triggers_sent = true;
            if let Err(e) = (&mut triggers)
                .await
                .map_err(anyhow::Error::from)
                .and_then(|sent| sent)
            {
                break Err(e.context("a sequence could not be triggered"));
            }
        }
        let done = finished
            .wait(&server.app, Duration::from_millis(100))
            .await?;
        if done as usize >= n {
            break Ok(started.elapsed());
        }
        if Instant::now() > deadline {
            break Err(anyhow!(
                "only {done} of {n} sequences finished within 900 s"
            ));
        }
    };
    let cpu_after = process_cpu_seconds();
    executor.abort();
    triggers.abort();
    server.stop().await;
    let elapsed = outcome?;
    let transitions = (n * TASKS_PER_SEQUENCE * TRANSITIONS_PER_TASK) as f64;
    let rate = transitions / elapsed.as_secs_f64();

    let references = References::measure(dir, sizes).await?;
    let mut figures = vec![
        Figure::new(
            "task_transitions_per_second",
            rate,
            "1/s",
            Target::at_least(10_000.0),
        )
        .beside(
            "sqlite_durable_inserts_per_second",
            references.single,
            "1/s",
        ),
        Figure::new(
            "task_transitions_share_of_inserts",
            rate / references.single,
            "ratio",
            Target::at_least(1.0 / 3.0),
        ),
        Figure::new(
            "task_transitions_share_of_batched_inserts",
            rate / references.batched,
            "ratio",
            None,
        ),
    ];
    figures.push(references.figure());
    figures.push(Figure::new(
        "task_transition_cpu_per_transition",
        cpu_micros_per(cpu, cpu_after, transitions),
        "us",
        None,
    ));
    // 1,000 services in under 5 s.
    figures.push(Figure::new(
        "service_creation_per_second",
        n as f64 / creating.elapsed.as_secs_f64(),
        "1/s",
        Target::at_least(200.0),
    ));
    figures.push(Figure::new(
        "service_creation_cpu_per_service",
        creating.cpu_micros,
        "us",
        None,
    ));
    Ok(figures)
}

/// The store's write ceilings on this machine, measured in the same run: durable single-row
/// inserts (one transaction each) and durable batched inserts (the true ceiling of group
/// commit), both with the store's own connection settings.
pub struct References {
    /// Single-row inserts per second.
    pub single: f64,
    /// Rows per second in transactions of [`REFERENCE_BATCH`] rows.
    pub batched: f64,
}

/// Rows per transaction of the batched reference (the driver's largest batch).
pub const REFERENCE_BATCH: usize = 256;

/// Bytes per row of both references (an event's size).
pub const REFERENCE_ROW_BYTES: usize = 1024;

impl References {
    /// Measures both into fresh files under `dir`.
    pub async fn measure(dir: &Path, sizes: &Sizes) -> Result<References> {
        let single = sizes.reference_inserts;
        let took = sluice_store::reference::single_row_inserts(
            &dir.join("reference.db"),
            Durability::default(),
            single,
            REFERENCE_ROW_BYTES,
        )
        .await
        .context("the reference inserts failed")?;
        let batched = sizes.reference_batched_inserts;
        let took_batched = sluice_store::reference::batched_inserts(
            &dir.join("reference-batched.db"),
            Durability::default(),
            batched,
            REFERENCE_BATCH,
            REFERENCE_ROW_BYTES,
        )
        .await
        .context("the batched reference inserts failed")?;
        Ok(References {
            single: single as f64 / took.as_secs_f64(),
            batched: batched as f64 / took_batched.as_secs_f64(),
        })
    }

    /// `sqlite_batched_inserts_per_second` beside the single-row rate.
    pub fn figure(&self) -> Figure {
        Figure::new(
            "sqlite_batched_inserts_per_second",
            self.batched,
            "1/s",
            None,
        )
        .beside("sqlite_durable_inserts_per_second", self.single, "1/s")
    }
}
