//! Lighthouse tests: the whole flow over the bus with an external provider, window rules,
//! history comparison and recovery. Also home of the helpers other server tests use to set
//! up projects and events.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sluice_model::event::KeptnEvent;
use sluice_model::event::kind::EVALUATION_STARTED;
use sluice_resources::{Scope, Upload};
use sluice_store::{Changes, NewEvent, ProjectRecord};
use tokio::sync::broadcast;

use super::*;
use crate::access::auth::ApiToken;
use crate::state::App;

/// A server on a fresh data directory.
pub(crate) async fn app() -> (Arc<App>, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("sluice-lh-{}", crate::runtime::ids::fresh()));
    let app = crate::open_with(
        &dir,
        ApiToken::from_value("test-token-0123456789"),
        &crate::api::testkit::options(),
    )
    .await
    .unwrap();
    (Arc::new(app), dir)
}

/// Creates a project with stages and services (repository and records).
pub(crate) async fn create_project(app: &App, project: &str, stages: &[&str], services: &[&str]) {
    let stage_yaml: String = stages
        .iter()
        .map(|s| format!("    - name: {s}\n      sequences: []\n"))
        .collect();
    let shipyard = format!(
        "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: s\nspec:\n  stages:\n{stage_yaml}"
    );
    let (r, p, st, sv, text) = (
        app.resources.clone(),
        project.to_owned(),
        stages.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        services.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        shipyard.clone(),
    );
    tokio::task::spawn_blocking(move || {
        let stages: Vec<&str> = st.iter().map(String::as_str).collect();
        r.create_project(&p, &stages, text.as_bytes()).unwrap();
        for s in &sv {
            r.create_service(&p, s).unwrap();
        }
    })
    .await
    .unwrap();
    app.store
        .create_project(&ProjectRecord {
            name: project.to_owned(),
            shipyard,
            shipyard_version: "spec.keptn.sh/0.2.2".into(),
            creation_date: "0".into(),
            git_upstream: None,
            stages: stages.iter().map(|s| s.to_string()).collect(),
        })
        .await
        .unwrap();
    for s in services {
        app.store.create_service(project, s, "0").await.unwrap();
    }
}

/// Writes a file at a level; returns the new commit.
pub(crate) async fn put(
    app: &App,
    project: &str,
    stage: Option<&str>,
    service: Option<&str>,
    uri: &str,
    content: &str,
) -> String {
    let (r, p, st, sv, u, c) = (
        app.resources.clone(),
        project.to_owned(),
        stage.map(str::to_owned),
        service.map(str::to_owned),
        uri.to_owned(),
        content.to_owned(),
    );
    tokio::task::spawn_blocking(move || {
        let scope = match (&st, &sv) {
            (Some(s), Some(v)) => Scope::service(&p, s, v),
            (Some(s), None) => Scope::stage(&p, s),
            _ => Scope::project(&p),
        };
        r.put_resources(
            scope,
            &[Upload {
                uri: &u,
                content: c.as_bytes(),
            }],
        )
        .unwrap()
        .to_string()
    })
    .await
    .unwrap()
}

/// A complete event as the API would store it.
pub(crate) fn event(ty: &str, context: &str, triggeredid: Option<&str>, data: Value) -> KeptnEvent {
    KeptnEvent {
        specversion: Some("1.0".into()),
        id: Some(crate::runtime::ids::fresh()),
        source: Some("test".into()),
        event_type: Some(ty.into()),
        time: Some(clock::now().to_rfc3339_nano()),
        datacontenttype: Some("application/json".into()),
        shkeptncontext: Some(context.into()),
        triggeredid: triggeredid.map(str::to_owned),
        data: Some(data),
        ..KeptnEvent::default()
    }
}

/// Waits (at most 10 s) for an event on the bus.
pub(crate) async fn wait_for(
    rx: &mut broadcast::Receiver<Arc<KeptnEvent>>,
    what: &str,
    pred: impl Fn(&KeptnEvent) -> bool,
) -> Arc<KeptnEvent> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(e)) if pred(&e) => return e,
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("bus closed while waiting for {what}: {e}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

fn of_type<'a>(ty: &'a str, context: &'a str) -> impl Fn(&KeptnEvent) -> bool + 'a {
    move |e| e.event_type.as_deref() == Some(ty) && e.shkeptncontext.as_deref() == Some(context)
}

async fn configure(app: &App, project: &str, provider: &str) {
    monitoring::save(
        &app.store,
        project,
        &monitoring::MonitoringConfig {
            provider: provider.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
}

fn scope(extra: Value) -> Value {
    let mut d =
        json!({"project": "shop", "stage": "dev", "service": "carts", "labels": {"build": "7"}});
    if let (Some(m), Some(x)) = (d.as_object_mut(), extra.as_object()) {
        for (k, v) in x {
            m.insert(k.clone(), v.clone());
        }
    }
    d
}

/// Sends an evaluation.triggered and returns it with its context.
async fn trigger(app: &App, extra: Value, commit: Option<&str>) -> (KeptnEvent, String) {
    let context = crate::runtime::ids::fresh();
    let mut e = event(EVALUATION_TRIGGERED, &context, None, scope(extra));
    e.gitcommitid = commit.map(str::to_owned);
    app.driver.submit(e.clone()).await.unwrap();
    (e, context)
}

const SLO: &str = r#"spec_version: "1.0"
filter:
  handler: "ItemsController"
comparison:
  compare_with: single_result
  include_result_with_score: pass
  aggregate_function: avg
objectives:
  - sli: response_time_p95
    displayName: "Response time P95"
    pass:
      - criteria: ["<=+10%", "<600"]
    warning:
      - criteria: ["<=800"]
  - sli: throughput
total_score:
  pass: "90%"
  warning: "75%"
"#;

#[tokio::test]
async fn no_provider_passes_with_keptns_message() {
    let (app, dir) = app().await;
    create_project(&app, "shop", &["dev"], &["carts"]).await;
    let mut rx = app.bus.subscribe();
    let (t, ctx) = trigger(&app, json!({"evaluation": {"timeframe": "5m"}}), None).await;
    let started = wait_for(&mut rx, "started", of_type(EVALUATION_STARTED, &ctx)).await;
    assert_eq!(started.triggeredid, t.id);
    assert_eq!(started.source.as_deref(), Some(SOURCE));
    assert_eq!(started.data.as_ref().unwrap()["status"], "succeeded");
    let f = wait_for(&mut rx, "finished", of_type(EVALUATION_FINISHED, &ctx)).await;
    assert_eq!(f.triggeredid, t.id);
    let d = f.data.clone().unwrap();
    assert_eq!(d["status"], "succeeded");
    assert_eq!(d["result"], "pass");
    assert_eq!(d["message"], no_provider_message("shop"));
    assert_eq!(d["evaluation"]["result"], "pass");
    assert_eq!(d["labels"], json!({"build": "7"}));
    assert!(f.validate().is_empty(), "{:?}", f.validate());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn window_errors_finish_errored() {
    let (app, dir) = app().await;
    create_project(&app, "shop", &["dev"], &["carts"]).await;
    let mut rx = app.bus.subscribe();
    for (extra, message) in [
        (json!({}), NO_TIMEFRAME.to_owned()),
        (
            json!({"evaluation": {"start": "2024-01-01T10:00:00Z", "end": "2024-01-01T10:00:30Z"}}),
            sluice_model::event::TimeError::WindowTooShort.to_string(),
        ),
    ] {
        let (_, ctx) = trigger(&app, extra, None).await;
        let f = wait_for(&mut rx, "finished", of_type(EVALUATION_FINISHED, &ctx)).await;
        let d = f.data.clone().unwrap();
        assert_eq!(d["status"], "errored");
        assert_eq!(d["result"], "fail");
        assert_eq!(d["message"], message.as_str());
        assert_eq!(d["evaluation"]["result"], "fail");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn window_rules() {
    let now = Timestamp::parse("2024-05-01T12:00:00Z").unwrap();
    let data = |v: Value| EvaluationTriggeredEventData::from_data(&v).unwrap();
    let w = |v: Value| window(&data(v), now);
    assert_eq!(
        w(json!({"evaluation": {"timeframe": "5m"}})),
        Ok((
            "2024-05-01T11:55:00.000Z".into(),
            "2024-05-01T12:00:00.000Z".into()
        ))
    );
    assert_eq!(
        w(json!({"evaluation": {"start": "2024-05-01T10:00:00Z", "end": "2024-05-01T10:30:00Z"}})),
        Ok((
            "2024-05-01T10:00:00.000Z".into(),
            "2024-05-01T10:30:00.000Z".into()
        ))
    );
    assert_eq!(
        w(json!({"evaluation": {"start": "2024-05-01T10:00:00Z", "timeframe": "2m"}})),
        Ok((
            "2024-05-01T10:00:00.000Z".into(),
            "2024-05-01T10:02:00.000Z".into()
        ))
    );
    // test.start/end are used as sent.
    assert_eq!(
        w(json!({"test": {"start": "2024-05-01T10:00:00Z", "end": "2024-05-01T10:09:00Z"}})),
        Ok(("2024-05-01T10:00:00Z".into(), "2024-05-01T10:09:00Z".into()))
    );
    // evaluation wins over test.
    assert_eq!(
        w(json!({"evaluation": {"timeframe": "1m"}, "test": {"start": "a", "end": "b"}}))
            .unwrap()
            .0,
        "2024-05-01T11:59:00.000Z"
    );
    // start alone is not a window: falls through to test, then to the error.
    assert_eq!(
        w(json!({"evaluation": {"start": "2024-05-01T10:00:00Z"}})),
        Err(NO_TIMEFRAME.into())
    );
    assert_eq!(w(json!({})), Err(NO_TIMEFRAME.into()));
    assert_eq!(
        w(json!({"evaluation": {"end": "2024-05-01T10:00:00Z", "timeframe": "5m"}})),
        Err(sluice_model::event::TimeError::EndAndTimeframe.to_string())
    );
    assert!(w(json!({"evaluation": {"timeframe": "soon"}})).is_err());
}

/// Answers the lighthouse's get-sli.triggered like an external provider posting to the API.
async fn answer_get_sli(app: &App, request: &KeptnEvent, values: Value, result: &str) {
    let d = request.data.clone().unwrap();
    let id = request.id.as_deref();
    let ctx = request.shkeptncontext.clone().unwrap();
    let mut started = event(
        GET_SLI_STARTED_TYPE,
        &ctx,
        id,
        json!({"project": d["project"], "stage": d["stage"], "service": d["service"], "status": "succeeded"}),
    );
    started.source = Some("dynatrace-service".into());
    app.driver.submit(started).await.unwrap();
    let mut finished = event(
        GET_SLI_FINISHED,
        &ctx,
        id,
        json!({"project": d["project"], "stage": d["stage"], "service": d["service"],
               "labels": d["labels"], "status": "succeeded", "result": result,
               "get-sli": {"start": d["get-sli"]["start"], "end": d["get-sli"]["end"], "indicatorValues": values}}),
    );
    finished.source = Some("dynatrace-service".into());
    app.driver.submit(finished).await.unwrap();
}

const GET_SLI_STARTED_TYPE: &str = "sh.keptn.event.get-sli.started";

#[tokio::test]
async fn external_provider_flow_and_comparison_with_the_previous_result() {
    let (app, dir) = app().await;
    create_project(&app, "shop", &["dev"], &["carts"]).await;
    configure(&app, "shop", "dynatrace").await;
    let commit = put(&app, "shop", Some("dev"), Some("carts"), SLO_URI, SLO).await;
    let mut rx = app.bus.subscribe();

    let window = json!({"evaluation": {"start": "2024-05-01T10:00:00Z", "end": "2024-05-01T10:05:00Z"},
                        "deployment": {"deploymentNames": ["canary", "primary"]}});
    let (t1, ctx1) = trigger(&app, window.clone(), Some(&commit)).await;
    let request = wait_for(
        &mut rx,
        "get-sli.triggered",
        of_type(GET_SLI_TRIGGERED, &ctx1),
    )
    .await;
    assert_eq!(request.source.as_deref(), Some(SOURCE));
    assert_eq!(request.triggeredid, None);
    assert_eq!(request.gitcommitid.as_deref(), Some(commit.as_str()));
    let d = request.data.clone().unwrap();
    assert_eq!(
        d,
        json!({"project": "shop", "stage": "dev", "service": "carts", "labels": {"build": "7"},
               "get-sli": {"sliProvider": "dynatrace", "start": "2024-05-01T10:00:00.000Z",
                           "end": "2024-05-01T10:05:00.000Z",
                           "indicators": ["response_time_p95", "throughput"],
                           "customFilters": [{"key": "handler", "value": "ItemsController"}]},
               "deployment": "canary"})
    );
    answer_get_sli(
        &app,
        &request,
        json!([{"metric": "response_time_p95", "value": 500, "success": true},
               {"metric": "throughput", "value": 12.5, "success": true}]),
        "pass",
    )
    .await;
    let f1 = wait_for(&mut rx, "first result", of_type(EVALUATION_FINISHED, &ctx1)).await;
    assert_eq!(f1.triggeredid, t1.id);
    assert_eq!(f1.source.as_deref(), Some(SOURCE));
    let d1 = f1.data.clone().unwrap();
    assert_eq!(d1["result"], "pass", "{d1}");
    assert_eq!(d1["evaluation"]["score"], 100);
    assert_eq!(d1["evaluation"]["timeStart"], "2024-05-01T10:00:00.000Z");
    assert_eq!(d1["labels"], json!({"build": "7"}));
    assert!(d1["evaluation"].get("comparedEvents").is_none(), "{d1}");
    assert_eq!(app.lighthouse.pending_count(), 0);

    // Second run: 580 is above the previous 500 + 10 %, so only the warning criterion holds.
    let (t2, ctx2) = trigger(&app, window, Some(&commit)).await;
    let request = wait_for(
        &mut rx,
        "get-sli.triggered",
        of_type(GET_SLI_TRIGGERED, &ctx2),
    )
    .await;
    let values = json!([{"metric": "response_time_p95", "value": 580, "success": true},
                        {"metric": "throughput", "value": 11, "success": true}]);
    answer_get_sli(&app, &request, values.clone(), "pass").await;
    let f2 = wait_for(
        &mut rx,
        "second result",
        of_type(EVALUATION_FINISHED, &ctx2),
    )
    .await;
    assert_eq!(f2.triggeredid, t2.id);
    let d2 = f2.data.clone().unwrap();
    assert_eq!(d2["result"], "fail", "{d2}");
    assert_eq!(d2["evaluation"]["score"], 50);
    assert_eq!(
        d2["evaluation"]["comparedEvents"],
        json!([f1.id.clone().unwrap()])
    );
    let p95 = &d2["evaluation"]["indicatorResults"][0];
    assert_eq!(p95["status"], "warning");
    assert_eq!(p95["value"]["comparedValue"], 500);
    assert_eq!(p95["passTargets"][0]["targetValue"], 550);

    // Exactly what the quality gate computes from the same inputs.
    let slo = sluice_model::slo::parse(SLO).value.unwrap();
    let first: EvaluationFinishedEventData = serde_json::from_value(d1).unwrap();
    let sli: GetSliFinishedEventData =
        serde_json::from_value(json!({"labels": {"build": "7"}, "status": "succeeded", "result": "pass",
            "get-sli": {"start": "2024-05-01T10:00:00.000Z", "end": "2024-05-01T10:05:00.000Z", "indicatorValues": values}}))
        .unwrap();
    let expected = sluice_slo::evaluate(&EvaluationInput {
        project: "shop",
        stage: "dev",
        service: "carts",
        labels: Some(&sli.base.labels),
        slo: Some(&slo),
        slo_file: SLO.as_bytes(),
        indicator_values: &sli.get_sli.indicator_values,
        get_sli_status: &sli.base.status,
        get_sli_result: &sli.base.result,
        get_sli_message: "",
        previous: &[PreviousEvaluation {
            id: f1.id.as_deref(),
            data: &first,
        }],
        time_start: &sli.get_sli.start,
        time_end: &sli.get_sli.end,
    });
    assert_eq!(d2, serde_json::to_value(&expected).unwrap());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn without_slo_the_provider_is_still_asked_and_the_result_passes() {
    let (app, dir) = app().await;
    create_project(&app, "shop", &["dev"], &["carts"]).await;
    configure(&app, "shop", "dynatrace").await;
    let mut rx = app.bus.subscribe();
    let (_, ctx) = trigger(
        &app,
        json!({"test": {"start": "2024-05-01T10:00:00Z", "end": "2024-05-01T10:05:00Z"}}),
        None,
    )
    .await;
    let request = wait_for(
        &mut rx,
        "get-sli.triggered",
        of_type(GET_SLI_TRIGGERED, &ctx),
    )
    .await;
    let d = request.data.clone().unwrap();
    assert!(
        d["get-sli"]
            .get("indicators")
            .is_none_or(|i| i == &json!([])),
        "{d}"
    );
    assert_eq!(d["get-sli"]["start"], "2024-05-01T10:00:00Z");
    answer_get_sli(&app, &request, json!([]), "pass").await;
    let f = wait_for(&mut rx, "finished", of_type(EVALUATION_FINISHED, &ctx)).await;
    let d = f.data.clone().unwrap();
    assert_eq!(d["result"], "pass");
    assert_eq!(
        d["message"],
        "no evaluation performed by lighthouse because no SLO file configured for project shop"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn an_empty_slo_file_counts_as_no_slo_and_passes() {
    let (app, dir) = app().await;
    create_project(&app, "shop", &["dev"], &["carts"]).await;
    configure(&app, "shop", "dynatrace").await;
    put(&app, "shop", Some("dev"), Some("carts"), SLO_URI, "").await;
    let mut rx = app.bus.subscribe();
    let (_, ctx) = trigger(
        &app,
        json!({"test": {"start": "2024-05-01T10:00:00Z", "end": "2024-05-01T10:05:00Z"}}),
        None,
    )
    .await;
    let request = wait_for(
        &mut rx,
        "get-sli.triggered",
        of_type(GET_SLI_TRIGGERED, &ctx),
    )
    .await;
    answer_get_sli(&app, &request, json!([]), "pass").await;
    let f = wait_for(&mut rx, "finished", of_type(EVALUATION_FINISHED, &ctx)).await;
    let d = f.data.clone().unwrap();
    assert_eq!(d["status"], "succeeded", "{d}");
    assert_eq!(d["result"], "pass", "{d}");
    assert_eq!(
        d["message"],
        "no evaluation performed by lighthouse because no SLO file configured for project shop"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn monitoring_configure_event_sets_the_provider() {
    let (app, dir) = app().await;
    create_project(&app, "shop", &["dev"], &["carts"]).await;
    let mut rx = app.bus.subscribe();
    let e = event(
        MONITORING_CONFIGURE_TYPE,
        &crate::runtime::ids::fresh(),
        None,
        json!({"type": "prometheus", "project": "shop", "service": "carts"}),
    );
    app.driver.submit(e).await.unwrap();
    // The lighthouse handles events in order: once it answered a later evaluation, the
    // configuration is in place.
    let (_, ctx) = trigger(&app, json!({"evaluation": {"timeframe": "5m"}}), None).await;
    let request = wait_for(
        &mut rx,
        "get-sli.triggered",
        of_type(GET_SLI_TRIGGERED, &ctx),
    )
    .await;
    assert_eq!(
        request.data.as_ref().unwrap()["get-sli"]["sliProvider"],
        "prometheus"
    );
    assert_eq!(
        monitoring::load(&app.store, "shop")
            .await
            .unwrap()
            .unwrap()
            .provider,
        "prometheus"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Stores events without publishing them (what a crash between commit and handling leaves).
async fn store_quietly(app: &App, events: &[KeptnEvent]) {
    app.store
        .commit(Changes {
            events: events
                .iter()
                .map(|e| NewEvent {
                    event: e.clone().into(),
                    outgoing: false,
                })
                .collect(),
            ..Changes::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn recovery_resumes_unfinished_evaluations() {
    let (app, dir) = app().await;
    create_project(&app, "shop", &["dev"], &["carts"]).await;
    configure(&app, "shop", "dynatrace").await;
    let mut rx = app.bus.subscribe();
    // A restarted lighthouse: nothing in memory.
    let fresh = || {
        Lighthouse::new(
            app.store.clone(),
            app.resources.clone(),
            app.driver.clone(),
            app.bus.clone(),
        )
    };
    let w = json!({"evaluation": {"start": "2024-05-01T10:00:00Z", "end": "2024-05-01T10:05:00Z"}});

    // 1. Stopped before anything was sent: started over.
    let ctx_a = crate::runtime::ids::fresh();
    let a = event(EVALUATION_TRIGGERED, &ctx_a, None, scope(w.clone()));
    store_quietly(&app, std::slice::from_ref(&a)).await;
    // 2. Asked for values, answer stored, result not sent: evaluated now.
    let ctx_b = crate::runtime::ids::fresh();
    let b = event(EVALUATION_TRIGGERED, &ctx_b, None, scope(w.clone()));
    let b_id = b.id.clone().unwrap();
    let mut b_request = event(GET_SLI_TRIGGERED, &ctx_b, None, json!({}));
    b_request.id = Some(answer_id(&b_id, "get-sli.triggered"));
    let b_answer = event(
        GET_SLI_FINISHED,
        &ctx_b,
        b_request.id.as_deref(),
        json!({"project": "shop", "stage": "dev", "service": "carts", "status": "succeeded", "result": "pass",
               "get-sli": {"start": "2024-05-01T10:00:00.000Z", "end": "2024-05-01T10:05:00.000Z"}}),
    );
    store_quietly(&app, &[b, b_request, b_answer]).await;
    // 3. Finished: left alone.
    let ctx_c = crate::runtime::ids::fresh();
    let c = event(EVALUATION_TRIGGERED, &ctx_c, None, scope(w.clone()));
    let c_done = event(
        EVALUATION_FINISHED,
        &ctx_c,
        c.id.as_deref(),
        scope(json!({"result": "pass"})),
    );
    store_quietly(&app, &[c, c_done]).await;

    let lh = fresh();
    assert_eq!(lh.recover().await.unwrap(), 2);
    // Published in either order.
    let (mut request, mut fb) = (None, None);
    while request.is_none() || fb.is_none() {
        let e = wait_for(&mut rx, "a: get-sli.triggered and b: finished", |e| {
            of_type(GET_SLI_TRIGGERED, &ctx_a)(e) || of_type(EVALUATION_FINISHED, &ctx_b)(e)
        })
        .await;
        if e.event_type.as_deref() == Some(GET_SLI_TRIGGERED) {
            request = Some(e);
        } else {
            fb = Some(e);
        }
    }
    let (request, fb) = (request.unwrap(), fb.unwrap());
    assert_eq!(
        request.id,
        Some(answer_id(a.id.as_deref().unwrap(), "get-sli.triggered"))
    );
    assert_eq!(fb.triggeredid.as_deref(), Some(b_id.as_str()));
    assert_eq!(lh.pending_count(), 1, "a waits for its values");

    // Running recovery again changes nothing (same ids).
    assert_eq!(fresh().recover().await.unwrap(), 1);
    // The provider answers; the running lighthouse and the fresh one both handle it, and
    // only one result is stored.
    answer_get_sli(&app, &request, json!([]), "pass").await;
    let fa = wait_for(&mut rx, "a: finished", of_type(EVALUATION_FINISHED, &ctx_a)).await;
    lh.handle(&fa).await;
    assert_eq!(lh.pending_count(), 0);
    let finished = app
        .store
        .events_of_context(&ctx_a)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type.as_deref() == Some(EVALUATION_FINISHED))
        .count();
    assert_eq!(finished, 1);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn history_excludes_invalidated_and_other_sources() {
    let (app, dir) = app().await;
    create_project(&app, "shop", &["dev"], &["carts"]).await;
    let slo = sluice_model::slo::parse(SLO).value.unwrap();
    let lh = Lighthouse::new(
        app.store.clone(),
        app.resources.clone(),
        app.driver.clone(),
        app.bus.clone(),
    );
    let finished = |result: &str, source: &str| {
        let mut e = event(
            EVALUATION_FINISHED,
            &crate::runtime::ids::fresh(),
            Some(&crate::runtime::ids::fresh()),
            scope(json!({"result": result})),
        );
        e.source = Some(source.into());
        e
    };
    let older = finished("pass", SOURCE);
    let invalidated = finished("pass", SOURCE);
    let other_source = finished("pass", "someone-else");
    let warning = finished("warning", SOURCE);
    store_quietly(
        &app,
        &[older.clone(), invalidated.clone(), other_source, warning],
    )
    .await;
    let invalidation = event(
        "sh.keptn.event.evaluation.invalidated",
        invalidated.shkeptncontext.as_deref().unwrap(),
        invalidated.triggeredid.as_deref(),
        scope(json!({})),
    );
    app.driver.submit(invalidation).await.unwrap();
    let pending = pending_of(Arc::new(event(
        EVALUATION_TRIGGERED,
        "x",
        None,
        scope(json!({})),
    )));
    let got = lh.history(&pending, &slo).await.unwrap();
    let ids: Vec<&str> = got.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, vec![older.id.as_deref().unwrap()]);
    let _ = std::fs::remove_dir_all(dir);
}

const BASELINE_SLO: &str = r#"comparison:
  compare_with: baseline
  include_result_with_score: pass
objectives:
  - sli: response_time
    pass:
      - criteria: ["<=+50%"]
    statistical:
      test: mann-whitney
      direction: increase
      alpha: 0.05
      effect_size: 1.1
      effect_measure: mean_ratio
total_score:
  pass: "90%"
  warning: "75%"
"#;

/// 400 latencies: a spread body, and with `tail` every tenth one 300 ms slower.
fn latencies(tail: bool) -> Vec<f64> {
    (0..400)
        .map(|i| {
            let body = 20.0 + f64::from((i * 37) % 100) / 10.0;
            if tail && i % 10 == 0 {
                body + 300.0
            } else {
                body
            }
        })
        .collect()
}

async fn evaluate_samples(
    app: &App,
    rx: &mut broadcast::Receiver<Arc<KeptnEvent>>,
    commit: &str,
    value: f64,
    samples: Vec<f64>,
) -> Arc<KeptnEvent> {
    let window =
        json!({"evaluation": {"start": "2024-05-01T10:00:00Z", "end": "2024-05-01T10:05:00Z"}});
    let (_, ctx) = trigger(app, window, Some(commit)).await;
    let request = wait_for(rx, "get-sli.triggered", of_type(GET_SLI_TRIGGERED, &ctx)).await;
    answer_get_sli(
        app,
        &request,
        json!([{"metric": "response_time", "value": value, "success": true, "samples": samples}]),
        "pass",
    )
    .await;
    wait_for(rx, "result", of_type(EVALUATION_FINISHED, &ctx)).await
}

#[tokio::test]
async fn compare_with_baseline_uses_the_pinned_evaluation_and_its_samples() {
    let (app, dir) = app().await;
    create_project(&app, "shop", &["dev"], &["carts"]).await;
    configure(&app, "shop", "dynatrace").await;
    let commit = put(
        &app,
        "shop",
        Some("dev"),
        Some("carts"),
        SLO_URI,
        BASELINE_SLO,
    )
    .await;
    let mut rx = app.bus.subscribe();

    // Nothing pinned: no baseline samples, so the statistical criterion has no data and fails
    // (on_missing defaults to fail), and the message says why.
    let first = evaluate_samples(&app, &mut rx, &commit, 25.0, latencies(false)).await;
    let d = first.data.clone().unwrap();
    assert_eq!(d["result"], "fail", "{d}");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .starts_with("no baseline is pinned for service carts in stage dev"),
        "{d}"
    );
    // The samples travel with the SLI value into the result.
    assert_eq!(
        d["evaluation"]["indicatorResults"][0]["value"]["samples"]
            .as_array()
            .unwrap()
            .len(),
        400
    );
    // More than an SLI value carries are bounded before they are judged and kept.
    let many: Vec<f64> = (0..5000).map(f64::from).collect();
    let big = evaluate_samples(&app, &mut rx, &commit, 25.0, many).await;
    let kept = big.data.clone().unwrap()["evaluation"]["indicatorResults"][0]["value"]["samples"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(kept, sluice_model::evaluation::MAX_SAMPLES);

    // Pinned (even though it failed), it is what later evaluations compare with.
    let first_id = first.id.clone().unwrap();
    let audit = sluice_store::AuditEntry {
        seq: 0,
        at: clock::now(),
        actor: "test".into(),
        action: "baseline.set".into(),
        project: "shop".into(),
        stage: "dev".into(),
        service: "carts".into(),
        keptn_context: String::new(),
        detail: first_id.clone(),
        client: "127.0.0.1".into(),
    };
    app.store
        .set_baseline(
            &sluice_store::Baseline {
                project: "shop".into(),
                stage: "dev".into(),
                service: "carts".into(),
                evaluation_id: first_id.clone(),
                set_by: "test".into(),
                set_at: clock::now(),
            },
            &audit,
        )
        .await
        .unwrap();
    let same = evaluate_samples(&app, &mut rx, &commit, 25.0, latencies(false)).await;
    let d = same.data.clone().unwrap();
    assert_eq!(d["result"], "pass", "{d}");
    assert_eq!(d["evaluation"]["comparedEvents"], json!([first_id]));

    // A slow tail on a tenth of the requests: the Keptn criterion on the single value holds
    // (+20 % against +50 % allowed), the distributions differ significantly.
    let tail = evaluate_samples(&app, &mut rx, &commit, 30.0, latencies(true)).await;
    let d = tail.data.clone().unwrap();
    assert_eq!(d["result"], "fail", "{d}");
    assert_eq!(d["evaluation"]["comparedEvents"], json!([first_id]), "{d}");
    let targets = &d["evaluation"]["indicatorResults"][0]["passTargets"];
    assert_eq!(targets[0]["violated"], false, "{targets}");
    assert_eq!(targets[1]["violated"], true, "{targets}");

    // An invalidated baseline is no baseline.
    let first_triggered = first.triggeredid.clone().unwrap();
    let mut invalidated = event(
        "sh.keptn.event.evaluation.invalidated",
        first.shkeptncontext.as_deref().unwrap(),
        Some(&first_triggered),
        json!({"project": "shop", "stage": "dev", "service": "carts"}),
    );
    invalidated.source = Some("test".into());
    app.driver.submit(invalidated).await.unwrap();
    let after = evaluate_samples(&app, &mut rx, &commit, 25.0, latencies(false)).await;
    let d = after.data.clone().unwrap();
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("no longer a valid evaluation"),
        "{d}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
