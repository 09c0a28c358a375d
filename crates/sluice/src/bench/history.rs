//! The event history: a large store (by default 1,000,000 events in 100,000 contexts) loaded
//! through the store's bulk import, then a real `sluice server` child process on it: its
//! start-up time, one context's events and a service's last 50 evaluations through the
//! datastore API (beside `/health` round trips), and its resident memory afterwards.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};
use sluice_model::event::{EventType, KeptnEvent, Timestamp};

use super::Sizes;
use super::figure::{Figure, Samples, Target};
use super::servers::{ApiClient, ChildServer};

/// Events per context: a delivery of deployment, evaluation and release.
const EVENTS_PER_CONTEXT: usize = 10;
const PROJECTS: usize = 4;
const STAGES: [&str; 3] = ["dev", "staging", "production"];
const SERVICES: usize = 5;
/// Contexts per import transaction.
const CONTEXTS_PER_IMPORT: usize = 2_000;
/// 2024-01-01T00:00:00Z.
const EPOCH: i64 = 1_704_067_200;

/// Where a context ran.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scope {
    project: String,
    stage: &'static str,
    service: String,
}

fn scope_of(i: usize) -> Scope {
    Scope {
        project: format!("shop{}", i % PROJECTS),
        stage: STAGES[(i / PROJECTS) % STAGES.len()],
        service: format!("svc{}", (i / (PROJECTS * STAGES.len())) % SERVICES),
    }
}

fn new_event(
    ty: &str,
    ctx: &str,
    secs: i64,
    triggered: Option<&str>,
    data: Value,
) -> Result<KeptnEvent> {
    let ty: EventType = ty.parse().map_err(|e| anyhow!("{ty}: {e}"))?;
    let source = match &ty {
        EventType::Task { task, .. } if task == "evaluation" => "lighthouse-service",
        EventType::Task { .. } => "job-executor-service",
        _ => "shipyard-controller",
    };
    let mut ev = KeptnEvent::new(
        &sluice_server::runtime::ids::fresh(),
        source,
        &ty,
        Timestamp::from_unix(EPOCH + secs, 0),
        ctx,
        data,
    );
    ev.triggeredid = triggered.map(str::to_owned);
    Ok(ev)
}

/// The ten events of context number `i`: a delivery sequence with its deployment, the
/// evaluation (with three indicators) and the release.
fn context_events(i: usize, ctx: &str) -> Result<Vec<KeptnEvent>> {
    let s = scope_of(i);
    let t = (i as i64) * 20;
    let base = json!({"project": s.project, "stage": s.stage, "service": s.service,
        "labels": {"buildId": format!("build-{i}")}});
    let with = |extra: Value| {
        let mut d = base.clone();
        if let (Some(m), Value::Object(e)) = (d.as_object_mut(), extra) {
            m.extend(e);
        }
        d
    };
    let done = json!({"status": "succeeded", "result": "pass"});
    let score = 60.0 + (i % 41) as f64;
    let result = if score >= 90.0 {
        "pass"
    } else if score >= 75.0 {
        "warning"
    } else {
        "fail"
    };
    let indicator = |name: &str, value: f64| {
        json!({"score": 1, "status": "pass", "keySli": false, "displayName": name,
            "value": {"metric": name, "value": value, "success": true},
            "passTargets": [{"criteria": "<=+10%", "targetValue": value * 1.1, "violated": false}],
            "warningTargets": null})
    };
    let evaluation = with(json!({
        "status": "succeeded", "result": result,
        "evaluation": {
            "timeStart": Timestamp::from_unix(EPOCH + t, 0).to_keptn_string(),
            "timeEnd": Timestamp::from_unix(EPOCH + t + 300, 0).to_keptn_string(),
            "result": result, "score": score, "sloFileContent": "", "comparedEvents": [],
            "indicatorResults": [
                indicator("response_time_p95", 180.0 + (i % 50) as f64),
                indicator("throughput", 900.0 + (i % 70) as f64),
                indicator("error_rate", (i % 3) as f64 / 100.0),
            ],
        },
    }));
    let seq = new_event(
        &EventType::sequence_triggered(s.stage, "delivery").to_string(),
        ctx,
        t,
        None,
        with(json!({})),
    )?;
    let mut out = vec![seq];
    let mut task = |name: &str, at: i64, started: bool, finished: Value| -> Result<()> {
        let triggered = new_event(
            &EventType::task_triggered(name).to_string(),
            ctx,
            at,
            None,
            with(json!({})),
        )?;
        let id = triggered.id.clone().unwrap_or_default();
        out.push(triggered);
        if started {
            out.push(new_event(
                &EventType::task_started(name).to_string(),
                ctx,
                at + 1,
                Some(&id),
                with(json!({})),
            )?);
        }
        out.push(new_event(
            &EventType::task_finished(name).to_string(),
            ctx,
            at + 2,
            Some(&id),
            finished,
        )?);
        Ok(())
    };
    task("deployment", t + 1, true, with(done.clone()))?;
    task("evaluation", t + 4, true, evaluation)?;
    // The release is answered without a `.started`: ten events in all.
    task("release", t + 7, false, with(done.clone()))?;
    out.push(new_event(
        &EventType::sequence_finished(s.stage, "delivery").to_string(),
        ctx,
        t + 10,
        None,
        with(done),
    )?);
    Ok(out)
}

/// Loads the history into a fresh store at `dir`; returns the contexts and the time spent in
/// the store's import (generating the events is not counted).
async fn load_history(dir: &Path, contexts: usize) -> Result<(Vec<String>, Duration)> {
    let store = sluice_store::Store::open(dir).await?;
    let ids: Vec<String> = (0..contexts)
        .map(|_| sluice_server::runtime::ids::fresh())
        .collect();
    let mut importing = Duration::ZERO;
    for (chunk_no, chunk) in ids.chunks(CONTEXTS_PER_IMPORT).enumerate() {
        let mut events = Vec::with_capacity(chunk.len() * EVENTS_PER_CONTEXT);
        for (j, ctx) in chunk.iter().enumerate() {
            events.extend(context_events(chunk_no * CONTEXTS_PER_IMPORT + j, ctx)?);
        }
        let started = Instant::now();
        let stored = store.import_events(&events).await?;
        importing += started.elapsed();
        if stored != events.len() {
            bail!("only {stored} of {} events were imported", events.len());
        }
    }
    store.close().await;
    Ok((ids, importing))
}

/// A small deterministic generator for picking queries (xorshift).
struct Picker(u64);

impl Picker {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn count(answer: &Value) -> usize {
    answer["events"].as_array().map_or(0, Vec::len)
}

async fn timed(api: &ApiClient, path: &str, samples: &mut Samples) -> Result<Value> {
    let started = Instant::now();
    let answer = api.get(path).await?;
    samples.push_since(started);
    Ok(answer)
}

/// The history figures. `empty_dir` holds a fresh server for the start-up reference.
pub async fn history(dir: &Path, sizes: &Sizes, http: reqwest::Client) -> Result<Vec<Figure>> {
    let empty = ChildServer::start(&dir.join("empty"), http.clone()).await?;
    let empty_ready = empty.ready_after;
    let empty_rss = empty.resident_mib()?;
    drop(empty);

    let data = dir.join("history");
    let contexts = sizes.history_events / EVENTS_PER_CONTEXT;
    let (ids, importing) = load_history(&data, contexts).await?;
    let events = contexts * EVENTS_PER_CONTEXT;

    let server = ChildServer::start(&data, http).await?;
    let ready = server.ready_after;
    let api = &server.api;
    let mut pick = Picker(0x9E37_79B9_7F4A_7C15);
    let (mut by_context, mut evaluations, mut health) =
        (Samples::default(), Samples::default(), Samples::default());
    // Warm-up: connections, statement caches.
    for _ in 0..5 {
        api.get("/health").await?;
        api.get(&format!(
            "/api/mongodb-datastore/event?keptnContext={}",
            ids[0]
        ))
        .await?;
    }
    for _ in 0..sizes.history_queries {
        timed(api, "/health", &mut health).await?;

        let ctx = &ids[pick.below(ids.len())];
        let answer = timed(
            api,
            &format!("/api/mongodb-datastore/event?keptnContext={ctx}"),
            &mut by_context,
        )
        .await?;
        if count(&answer) != EVENTS_PER_CONTEXT {
            bail!(
                "context {ctx}: {} events instead of {EVENTS_PER_CONTEXT}",
                count(&answer)
            );
        }

        let s = scope_of(pick.below(contexts.min(PROJECTS * STAGES.len() * SERVICES)));
        let path = format!(
            "/api/mongodb-datastore/event/type/sh.keptn.event.evaluation.finished?filter=data.project:{}%20AND%20data.stage:{}%20AND%20data.service:{}&excludeInvalidated=true&limit=50",
            s.project, s.stage, s.service
        );
        let answer = timed(api, &path, &mut evaluations).await?;
        let expected = (contexts / (PROJECTS * STAGES.len() * SERVICES)).clamp(1, 50);
        if count(&answer) < expected {
            bail!(
                "{path}: {} evaluations, expected {expected}",
                count(&answer)
            );
        }
    }
    let rss = server.resident_mib()?;
    drop(server);

    let mut out = vec![
        Figure::new(
            "history_import_events_per_second",
            events as f64 / importing.as_secs_f64(),
            "1/s",
            None,
        ),
        Figure::new("history_events_stored", events as f64, "events", None),
        Figure::new(
            "startup_to_ready_with_history",
            ready.as_secs_f64() * 1000.0,
            "ms",
            Target::at_most(1000.0),
        )
        .beside(
            "startup_to_ready_empty",
            empty_ready.as_secs_f64() * 1000.0,
            "ms",
        ),
    ];
    for (what, samples) in [
        ("context_events", &by_context),
        ("last_50_evaluations", &evaluations),
    ] {
        for (p, q) in [("p50", 0.5), ("p99", 0.99)] {
            out.push(
                Figure::new(
                    &format!("history_{what}_{p}"),
                    samples.quantile(q),
                    "ms",
                    Target::at_most(10.0),
                )
                .beside(
                    &format!("health_round_trip_{p}"),
                    health.quantile(q),
                    "ms",
                ),
            );
        }
    }
    out.push(
        Figure::new(
            "resident_memory_after_history",
            rss,
            "MiB",
            Target::at_most(200.0),
        )
        .beside("resident_memory_empty_server", empty_rss, "MiB"),
    );
    Ok(out)
}

/// `idle_resident_memory`: a fresh server process with one project, after a second of rest.
pub async fn idle(dir: &Path, http: reqwest::Client) -> Result<Vec<Figure>> {
    let server = ChildServer::start(dir, http).await?;
    server
        .api
        .create_project(
            "bench",
            super::control_plane::SHIPYARD,
            &["svc0".to_owned()],
        )
        .await
        .context("cannot create the project")?;
    // Let the background work after a project creation settle before measuring.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = server.resident_mib()?;
    Ok(vec![
        Figure::new("idle_resident_memory", rss, "MiB", Target::at_most(30.0)),
        Figure::new(
            "startup_to_ready_empty",
            server.ready_after.as_secs_f64() * 1000.0,
            "ms",
            Target::at_most(1000.0),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_has_ten_events_in_time_order_with_one_evaluation() {
        let events = context_events(7, "ctx").unwrap();
        assert_eq!(events.len(), EVENTS_PER_CONTEXT);
        let times: Vec<_> = events.iter().map(|e| e.time.clone().unwrap()).collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted);
        let evaluations: Vec<_> = events
            .iter()
            .filter(|e| e.event_type.as_deref() == Some("sh.keptn.event.evaluation.finished"))
            .collect();
        assert_eq!(evaluations.len(), 1);
        let data = evaluations[0].data.as_ref().unwrap();
        assert_eq!(data["project"], scope_of(7).project);
        assert_eq!(
            data["evaluation"]["indicatorResults"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        assert_eq!(
            events.last().unwrap().event_type.as_deref(),
            Some(format!("sh.keptn.event.{}.delivery.finished", scope_of(7).stage).as_str())
        );
        for e in &events {
            assert!(e.event_type().is_ok(), "{:?}", e.event_type);
        }
    }
}
