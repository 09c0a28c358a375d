//! Event ingestion: `POST /api/v1/event` from 64 concurrent keep-alive clients, beside a
//! no-op POST route that the benchmark adds to the same server (same body, same client).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use axum::body::Bytes;
use axum::routing::post;
use serde_json::json;
use sluice_load::{LoadConfig, LoadSummary, Post};
use sluice_model::event::ContentTypeKey;

use super::Sizes;
use super::figure::{Figure, Target};
use super::machine::{cpu_micros_per, process_cpu_seconds};
use super::servers::{InProcessServer, TOKEN};

/// The benchmark's own route: reads the body and answers like the event route, storing
/// nothing. It is never part of the product API.
const NOOP_PATH: &str = "/bench/noop";
const CLIENTS: usize = 64;

async fn noop(body: Bytes) -> axum::Json<serde_json::Value> {
    axum::Json(json!({"keptnContext": "", "bytes": body.len()}))
}

/// An executor's `.started` event for a task the engine does not know: stored and checked
/// like every task event (scope, project, stage, service), but it starts nothing.
fn body() -> Result<Vec<u8>> {
    let mut ev = sluice_model::event::KeptnEvent::new(
        "",
        "sluice-bench-executor",
        &"sh.keptn.event.deployment.started".parse()?,
        sluice_server::runtime::clock::now(),
        &sluice_server::runtime::ids::fresh(),
        json!({
            "project": "bench",
            "stage": "dev",
            "service": "svc0",
            "labels": {"buildId": "2024.1.17", "owner": "team-carts"},
            "status": "succeeded",
            "message": "deployment started by the benchmark executor",
        }),
    );
    ev.id = None;
    ev.triggeredid = Some(sluice_server::runtime::ids::fresh());
    Ok(ev.to_json(ContentTypeKey::DataContentType).into_bytes())
}

async fn load(url: String, body: &[u8], duration: Duration) -> Result<LoadSummary> {
    let config = LoadConfig {
        users: CLIENTS,
        duration: Some(duration),
        timeout: Duration::from_secs(30),
        post: Some(Post {
            content_type: "application/json".into(),
            headers: vec![("x-token".into(), TOKEN.into())],
            body: body.to_vec(),
        }),
        ..LoadConfig::new(url.clone())
    };
    let summary = sluice_load::run(config)
        .await
        .with_context(|| format!("cannot load {url}"))?;
    if summary.requests == 0 || summary.error_rate() > 0.001 {
        bail!(
            "{url}: {} of {} requests failed ({:?})",
            summary.failures,
            summary.requests,
            summary.failures_by_reason
        );
    }
    Ok(summary)
}

/// `event_ingestion_per_second` beside `noop_post_per_second`.
pub async fn ingestion(dir: &Path, sizes: &Sizes, http: reqwest::Client) -> Result<Vec<Figure>> {
    let extra = axum::Router::new().route(NOOP_PATH, post(noop));
    let server = InProcessServer::start(dir, extra, http).await?;
    server
        .api
        .create_project(
            "bench",
            super::control_plane::SHIPYARD,
            &["svc0".to_owned()],
        )
        .await?;
    let body = body()?;
    let base = server.api.base.clone();
    // A short warm-up opens the connections and fills the caches.
    load(
        format!("{base}/api/v1/event"),
        &body,
        Duration::from_millis(300),
    )
    .await?;
    let cpu = process_cpu_seconds();
    let events = load(format!("{base}/api/v1/event"), &body, sizes.ingestion).await?;
    let cpu_between = process_cpu_seconds();
    let noop = load(format!("{base}{NOOP_PATH}"), &body, sizes.ingestion).await?;
    let cpu_after = process_cpu_seconds();
    let cpu_per_event = cpu_micros_per(cpu, cpu_between, events.requests as f64);
    let cpu_per_noop = cpu_micros_per(cpu_between, cpu_after, noop.requests as f64);
    server.stop().await;
    let references = super::control_plane::References::measure(dir, sizes).await?;
    let p99 = |s: &LoadSummary| s.latency_ms.as_ref().map_or(f64::NAN, |l| l.p99);
    Ok(vec![
        Figure::new(
            "event_ingestion_per_second",
            events.throughput_per_second,
            "1/s",
            Target::at_least(30_000.0),
        )
        .beside("noop_post_per_second", noop.throughput_per_second, "1/s"),
        Figure::new(
            "event_ingestion_share_of_batched_inserts",
            events.throughput_per_second / references.batched,
            "ratio",
            None,
        ),
        references.figure(),
        Figure::new("event_ingestion_p99", p99(&events), "ms", None).beside(
            "noop_post_p99",
            p99(&noop),
            "ms",
        ),
        Figure::new("event_ingestion_cpu_per_event", cpu_per_event, "us", None).beside(
            "noop_post_cpu_per_request",
            cpu_per_noop,
            "us",
        ),
    ])
}
