//! Control-plane benchmark (not a test): the engine's own overhead per task, from a `.finished`
//! event accepted to the next `.triggered` event published, and the sustained throughput of
//! many concurrent sequences through the durable store, with executors that answer instantly.
//!
//! `cargo bench -p sluice-server` prints one line per figure: name, value, unit, target, ok/short.
//! `-- --quick` runs small sizes (CI uses it to keep the benchmark working).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use sluice_model::event::KeptnEvent;
use sluice_server::auth::ApiToken;
use sluice_server::state::App;

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: bench\nspec:\n  stages:\n    - name: dev\n      sequences:\n        - name: delivery\n          tasks:\n            - name: deployment\n            - name: test\n            - name: release\n";

fn event(ty: &str, ctx: &str, triggered: Option<&str>, data: serde_json::Value) -> KeptnEvent {
    KeptnEvent {
        specversion: Some("1.0".into()),
        id: Some(sluice_server::ids::fresh()),
        source: Some("bench-executor".into()),
        event_type: Some(ty.into()),
        time: Some(sluice_server::clock::now().to_rfc3339_nano()),
        datacontenttype: Some("application/json".into()),
        shkeptncontext: Some(ctx.into()),
        triggeredid: triggered.map(str::to_owned),
        data: Some(data),
        ..KeptnEvent::default()
    }
}

async fn setup(services: usize) -> Arc<App> {
    let dir = std::env::temp_dir().join(format!(
        "sluice-bench-{}-{}",
        std::process::id(),
        sluice_server::ids::fresh()
    ));
    let app = Arc::new(
        sluice_server::open(&dir, ApiToken::from_value("bench-token-0123456789"))
            .await
            .unwrap(),
    );
    app.resources
        .create_project("bench", &["dev"], SHIPYARD.as_bytes())
        .unwrap();
    app.store
        .create_project(&sluice_store::ProjectRecord {
            name: "bench".into(),
            shipyard: SHIPYARD.into(),
            shipyard_version: "spec.keptn.sh/0.2.2".into(),
            creation_date: "0".into(),
            git_upstream: None,
            stages: vec!["dev".into()],
        })
        .await
        .unwrap();
    for i in 0..services {
        let name = format!("svc{i}");
        app.resources.create_service("bench", &name).unwrap();
        app.store.create_service("bench", &name, "0").await.unwrap();
    }
    let shipyard = sluice_model::shipyard::parse(SHIPYARD).ok().unwrap();
    app.driver
        .shipyard_changed("bench".into(), Some(Arc::new(shipyard)))
        .await;
    app
}

/// An executor that answers every open task at once with `.started` and `.finished`. It
/// polls the driver's open tasks the way Keptn's remote executors poll the API, so it never
/// misses a task however fast they come.
fn spawn_instant_executor(app: Arc<App>) {
    tokio::spawn(async move {
        let mut answered = std::collections::HashSet::new();
        loop {
            let mut any = false;
            for t in app.driver.open_tasks(None) {
                if !t.due
                    || t.event_type.contains(".approval.")
                    || !answered.insert(t.triggered_id.clone())
                {
                    continue;
                }
                any = true;
                let task = t
                    .event_type
                    .split('.')
                    .nth(3)
                    .unwrap_or_default()
                    .to_owned();
                let scope = json!({"project": t.project, "stage": t.stage, "service": t.service, "status": "succeeded", "result": "pass"});
                let driver = app.driver.clone();
                tokio::spawn(async move {
                    let started = event(
                        &format!("sh.keptn.event.{task}.started"),
                        &t.keptn_context,
                        Some(&t.triggered_id),
                        scope.clone(),
                    );
                    let _ = driver.submit(started).await;
                    let finished = event(
                        &format!("sh.keptn.event.{task}.finished"),
                        &t.keptn_context,
                        Some(&t.triggered_id),
                        scope,
                    );
                    let _ = driver.submit(finished).await;
                });
            }
            if !any {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
}

fn trigger(service: &str) -> KeptnEvent {
    event(
        "sh.keptn.event.dev.delivery.triggered",
        &sluice_server::ids::fresh(),
        None,
        json!({"project": "bench", "stage": "dev", "service": service}),
    )
}

fn report(name: &str, value: f64, unit: &str, target: f64, lower_is_better: bool) {
    let ok = if lower_is_better {
        value <= target
    } else {
        value >= target
    };
    println!(
        "{name} {value:.3} {unit} {target} {}",
        if ok { "ok" } else { "short" }
    );
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// Overhead per task: `.finished` submitted (durable) → next `.triggered` seen on the bus.
async fn overhead(runs: usize) -> Vec<f64> {
    let app = setup(1).await;
    let mut bus = app.bus.subscribe();
    let mut samples = Vec::new();
    for _ in 0..runs {
        let trig = trigger("svc0");
        let ctx = trig.shkeptncontext.clone().unwrap();
        app.driver.submit(trig).await.unwrap();
        let mut finished_at: Option<Instant> = None;
        loop {
            let ev = tokio::time::timeout(Duration::from_secs(10), bus.recv())
                .await
                .expect("event")
                .expect("bus");
            let ty = ev.event_type.clone().unwrap_or_default();
            if ev.shkeptncontext.as_deref() != Some(&ctx) {
                continue;
            }
            if ty.ends_with(".triggered") && ty.split('.').count() == 5 {
                if let Some(t) = finished_at.take() {
                    samples.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                let task = ty.split('.').nth(3).unwrap().to_owned();
                let id = ev.id.clone().unwrap();
                let scope = json!({"project": "bench", "stage": "dev", "service": "svc0", "status": "succeeded", "result": "pass"});
                app.driver
                    .submit(event(
                        &format!("sh.keptn.event.{task}.started"),
                        &ctx,
                        Some(&id),
                        scope.clone(),
                    ))
                    .await
                    .unwrap();
                let start = Instant::now();
                app.driver
                    .submit(event(
                        &format!("sh.keptn.event.{task}.finished"),
                        &ctx,
                        Some(&id),
                        scope,
                    ))
                    .await
                    .unwrap();
                finished_at = Some(start);
            }
            if ty == "sh.keptn.event.dev.delivery.finished" {
                break;
            }
        }
    }
    samples
}

/// Throughput: `sequences` sequences of 3 tasks on as many services, all at once.
async fn throughput(sequences: usize) -> f64 {
    let app = setup(sequences).await;
    spawn_instant_executor(app.clone());
    let start = Instant::now();
    let mut pending = Vec::new();
    for i in 0..sequences {
        let driver = app.driver.clone();
        pending.push(tokio::spawn(async move {
            driver.submit(trigger(&format!("svc{i}"))).await.unwrap();
        }));
    }
    for p in pending {
        p.await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let finished = app
            .store
            .events(&sluice_store::EventQuery {
                project: Some("bench".into()),
                event_type: Some("sh.keptn.event.dev.delivery.finished".into()),
                paging: sluice_store::Paging::first(1),
                ..sluice_store::EventQuery::default()
            })
            .await
            .unwrap()
            .total_count;
        if finished as usize >= sequences {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {finished} of {sequences} sequences finished"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    // Each task goes triggered → started → finished: three transitions per task.
    (sequences * 3 * 3) as f64 / elapsed
}

/// Resident set size of this process in MiB (Linux), or `None`.
fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Idle: a server state with one project and no traffic. This process also holds the
        // benchmark itself, so the figure is an upper bound for the server alone.
        let idle = setup(1).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(mib) = rss_mib() {
            report("idle_resident_memory", mib, "MiB", 30.0, true);
        }
        drop(idle);
        let mut samples = overhead(if quick { 10 } else { 200 }).await;
        samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
        report(
            "task_overhead_p50",
            percentile(&samples, 0.5),
            "ms",
            1.0,
            true,
        );
        report(
            "task_overhead_p99",
            percentile(&samples, 0.99),
            "ms",
            10.0,
            true,
        );
        let rate = throughput(if quick { 50 } else { 1000 }).await;
        report("task_transitions_per_second", rate, "1/s", 2000.0, false);
    });
}
