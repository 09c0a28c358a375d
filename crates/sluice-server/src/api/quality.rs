//! The service quality view's endpoints (sluice's own, for the web UI's heatmap):
//!
//! * `GET /api/sluice/v1/project/{p}/stage/{s}/service/{svc}/evaluations?pageSize&nextPageKey`:
//!   the service's evaluation results in the stage, newest first, paged (at most 100 a page),
//!   as compact rows: id, time, label, score, result, each SLI's value and status, the
//!   evaluations it was compared with, and whether it was invalidated;
//! * `GET /api/sluice/v1/evaluation/{id}`: why one evaluation decided what it did, the same
//!   explanation `sluice evaluate` prints ([`sluice_slo::explain`]), as JSON;
//! * `POST /api/sluice/v1/evaluation/{id}/invalidate`: Keptn Bridge's "ignore for comparison":
//!   sends `sh.keptn.event.evaluation.invalidated` with `triggeredid` = the evaluation's
//!   `triggeredid`, so later quality gates leave it out of their history.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::Engine as _;
use serde_json::{Map, Value, json};
use sluice_model::evaluation::EvaluationFinishedEventData;
use sluice_model::event::kind::{EVALUATION_FINISHED, EVALUATION_INVALIDATED};
use sluice_model::event::{EventData, EventType, KeptnEvent, TaskEventKind};
use sluice_slo::explain::{Explanation, StatisticalRow, TargetKind, explain_with_samples};
use sluice_slo::judge::{Outcome, SampleSummary, samples_of};
use sluice_slo::statistics::Method;
use sluice_slo::{EvaluationInput, PreviousEvaluation};
use sluice_slo::{Samples, SliSamples, samples_of_evaluation};
use sluice_store::{EventQuery, FieldFilter, TypeQuery};

use crate::access::rbac::{Action, Principal};
use crate::api::extract::{Json, Path, Query};
use crate::api::params::{Params, store_error};
use crate::error::ApiError;
use crate::runtime::{clock, ids};
use crate::state::App;

/// Source of the events the web UI sends (Keptn's Bridge used its repository URL).
pub const BRIDGE_SOURCE: &str = "https://github.com/keptn/keptn/bridge";

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route(
            "/api/sluice/v1/project/{project}/stage/{stage}/service/{service}/evaluations",
            get(history),
        )
        .route("/api/sluice/v1/evaluation/{id}", get(explanation))
        .route(
            "/api/sluice/v1/evaluation/{id}/invalidate",
            post(invalidate),
        )
}

/// The triggered ids of the project's invalidated evaluations.
pub(crate) async fn invalidated(app: &App, project: &str) -> Result<HashSet<String>, ApiError> {
    let events = app
        .store
        .events_by_type(
            EVALUATION_INVALIDATED,
            &TypeQuery {
                filters: vec![FieldFilter {
                    field: "data.project".into(),
                    values: vec![project.to_owned()],
                }],
                ..TypeQuery::default()
            },
        )
        .await
        .map_err(|e| store_error("cannot read evaluations", e))?;
    Ok(events.into_iter().filter_map(|e| e.triggeredid).collect())
}

/// What a person calls this evaluation: the `buildId` label, else `version`, else the time.
fn label_of(data: &EvaluationFinishedEventData, time: &str) -> String {
    ["buildId", "version", "image"]
        .iter()
        .find_map(|k| data.base.labels.get(*k).filter(|v| !v.is_empty()).cloned())
        .unwrap_or_else(|| time.get(..16).unwrap_or(time).replace('T', " "))
}

fn evaluation_data(event: &KeptnEvent) -> EvaluationFinishedEventData {
    event
        .data
        .as_ref()
        .and_then(|d| EvaluationFinishedEventData::from_data(d).ok())
        .unwrap_or_default()
}

/// One compact row of the heatmap.
pub(crate) fn row(event: &KeptnEvent, invalidated: &HashSet<String>) -> Value {
    let data = evaluation_data(event);
    let time = event.time.clone().unwrap_or_default();
    let triggered = event.triggeredid.clone().unwrap_or_default();
    let indicators: Vec<Value> = data
        .evaluation
        .indicator_results
        .iter()
        .map(|r| {
            let v = r.value.as_ref();
            json!({
                "metric": v.map(|v| v.metric.as_str()).unwrap_or(""),
                "displayName": r.display_name,
                "value": v.filter(|v| v.success).map(|v| v.value),
                "success": v.is_some_and(|v| v.success),
                "status": r.status.as_str(),
                "keySli": r.key_sli,
                "score": r.score,
            })
        })
        .collect();
    json!({
        "id": event.id,
        "keptnContext": event.shkeptncontext,
        "triggeredId": triggered,
        "time": time,
        "label": label_of(&data, &time),
        "labels": data.base.labels,
        "score": data.evaluation.score,
        "result": data.base.result.as_str(),
        "message": data.base.message,
        "comparedEvents": data.evaluation.compared_events,
        "invalidated": !triggered.is_empty() && invalidated.contains(&triggered),
        "indicators": indicators,
    })
}

async fn history(
    State(app): State<Arc<App>>,
    Path((project, stage, service)): Path<(String, String, String)>,
    Query(params): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let params = Params::from(params);
    let page = app
        .store
        .events(&EventQuery {
            project: Some(project.clone()),
            stage: Some(stage),
            service: Some(service),
            event_type: Some(EVALUATION_FINISHED.to_owned()),
            from_time: params.time("fromTime")?,
            before_time: params.time("beforeTime")?,
            paging: params.paging()?,
            ..EventQuery::default()
        })
        .await
        .map_err(|e| store_error("cannot read evaluations", e))?;
    let gone = invalidated(&app, &project).await?;
    let rows: Vec<Value> = page.items.iter().map(|e| row(e, &gone)).collect();
    let mut out = Map::new();
    out.insert("evaluations".into(), Value::Array(rows));
    out.insert("pageSize".into(), json!(page.page_size));
    out.insert("totalCount".into(), json!(page.total_count));
    if let Some(next) = page.next_page_key {
        out.insert("nextPageKey".into(), json!(next));
    }
    Ok(Json(Value::Object(out)))
}

async fn evaluation_event(app: &App, id: &str) -> Result<KeptnEvent, ApiError> {
    let event = app
        .store
        .event(id)
        .await
        .map_err(|e| store_error("cannot read evaluations", e))?;
    match event {
        Some(e) if e.event_type.as_deref() == Some(EVALUATION_FINISHED) => Ok(e),
        Some(_) => Err(ApiError::bad_request(format!(
            "event {id} is not an {EVALUATION_FINISHED} event"
        ))),
        None => Err(ApiError::not_found(format!("evaluation not found: {id}"))),
    }
}

/// The explanation as JSON, field names as in Keptn's camelCase.
fn explanation_json(e: &Explanation, samples: Samples<'_>) -> Value {
    let objectives: Vec<Value> = e
        .objectives
        .iter()
        .map(|o| {
            let targets: Vec<Value> = o
                .targets
                .iter()
                .map(|t| {
                    json!({
                        "kind": match t.kind { TargetKind::Pass => "pass", TargetKind::Warning => "warning" },
                        "criteria": t.criteria,
                        "threshold": t.threshold,
                        "held": t.held,
                        "evaluated": t.evaluated,
                        "relative": t.relative,
                    })
                })
                .collect();
            json!({
                "name": o.name,
                "sli": o.sli,
                "keySli": o.key_sli,
                "status": o.status.as_str(),
                "value": o.value,
                "missing": o.missing,
                "valueError": o.value_error,
                "comparedValue": o.compared_value,
                "history": o.history,
                "targets": targets,
                "points": o.points,
                "maxPoints": o.max_points,
                "statistical": o.statistical.as_ref().map(|row| statistical_json(row, &o.sli, samples)),
            })
        })
        .collect();
    json!({
        "objectives": objectives,
        "comparedEvaluations": e.compared_evaluations,
        "aggregateFunction": e.aggregate_function,
        "score": e.score,
        "passThreshold": e.pass_threshold,
        "warningThreshold": e.warning_threshold,
        "result": e.result.as_str(),
        "message": e.message,
        "points": e.points,
        "maxPoints": e.max_points,
        "groups": e.groups.iter().map(|g| json!({
            "name": g.name,
            "weight": g.weight,
            "points": g.points,
            "maxPoints": g.max_points,
        })).collect::<Vec<_>>(),
    })
}

fn side_json(side: &SampleSummary) -> Value {
    json!({
        "received": side.received,
        "dropped": side.dropped,
        "outliersRemoved": side.outliers_removed,
        "count": side.count,
        "median": finite(side.median),
        "mean": finite(side.mean),
    })
}

/// A number JSON can carry (`null` for NaN and infinities).
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// A statistical criterion's numbers, and both samples for the UI's chart.
fn statistical_json(row: &StatisticalRow, sli: &str, samples: Samples<'_>) -> Value {
    let values = |side: &[SliSamples]| samples_of(side, sli).map(<[f64]>::to_vec);
    let mut out = json!({
        "criterion": row.criterion,
        "passed": row.outcome.passed(),
        "reason": row.outcome.reason(),
        "samples": {"current": values(samples.current), "baseline": values(samples.baseline)},
    });
    match &row.outcome {
        Outcome::Compared(j) => {
            out["compared"] = json!(true);
            out["current"] = side_json(&j.current);
            out["baseline"] = side_json(&j.baseline);
            out["u"] = json!(finite(j.u));
            out["pValue"] = json!(finite(j.p_value));
            out["method"] = json!(match j.method {
                Method::Exact => "exact",
                Method::Asymptotic | Method::Auto => "asymptotic",
            });
            out["significant"] = json!(j.significant);
            out["shift"] = json!(finite(j.shift));
            out["medianRatio"] = json!(j.median_ratio.and_then(finite));
            out["meanRatio"] = json!(j.mean_ratio.and_then(finite));
            out["effect"] = json!(j.effect.and_then(finite));
        }
        Outcome::NoData(n) => {
            out["compared"] = json!(false);
            out["current"] = json!({"count": n.current});
            out["baseline"] = json!({"count": n.baseline});
            out["minSamples"] = json!(n.min_samples);
        }
    }
    out
}

async fn explanation(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let event = evaluation_event(&app, &id).await?;
    super::authorize_event(&principal, Action::Read, &event)?;
    let data = evaluation_data(&event);
    let slo_text = base64::engine::general_purpose::STANDARD
        .decode(data.evaluation.slo_file_content.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let slo = if slo_text.trim().is_empty() {
        None
    } else {
        sluice_model::slo::parse(&slo_text).value
    };
    // The evaluations it was compared with, in the order it listed them (newest first).
    let mut compared = Vec::new();
    for cid in &data.evaluation.compared_events {
        if let Some(e) = app
            .store
            .event(cid)
            .await
            .map_err(|e| store_error("cannot read evaluations", e))?
        {
            compared.push((e.id.clone(), evaluation_data(&e)));
        }
    }
    let previous: Vec<PreviousEvaluation<'_>> = compared
        .iter()
        .map(|(id, d)| PreviousEvaluation {
            id: id.as_deref(),
            data: d,
        })
        .collect();
    let input = EvaluationInput {
        project: &data.base.project,
        stage: &data.base.stage,
        service: &data.base.service,
        slo: slo.as_ref(),
        previous: &previous,
        ..EvaluationInput::default()
    };
    // Samples (sluice extension): this evaluation's own, and those of the evaluation it was
    // compared with first (the pinned baseline for `compare_with: baseline`).
    let current = samples_of_evaluation(&data);
    let baseline = compared
        .first()
        .map(|(_, d)| samples_of_evaluation(d))
        .unwrap_or_default();
    let samples = Samples {
        current: &current,
        baseline: &baseline,
    };
    let explained = explain_with_samples(&input, samples, &data);
    let project = data.base.project.clone();
    let gone = invalidated(&app, &project).await?;
    let mut answer = row(&event, &gone);
    if let Value::Object(map) = &mut answer {
        map.insert("project".into(), json!(data.base.project));
        map.insert("stage".into(), json!(data.base.stage));
        map.insert("service".into(), json!(data.base.service));
        map.insert("timeStart".into(), json!(data.evaluation.time_start));
        map.insert("timeEnd".into(), json!(data.evaluation.time_end));
        map.insert("sloFileContent".into(), json!(slo_text));
        map.insert("explanation".into(), explanation_json(&explained, samples));
    }
    Ok(Json(answer))
}

async fn invalidate(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let event = evaluation_event(&app, &id).await?;
    super::authorize_event(&principal, Action::Control, &event)?;
    let Some(triggered) = event.triggeredid.clone().filter(|t| !t.is_empty()) else {
        return Err(ApiError::bad_request(format!(
            "evaluation {id} has no triggeredid and cannot be invalidated"
        )));
    };
    let data = evaluation_data(&event);
    let context = event.shkeptncontext.clone().unwrap_or_default();
    let mut answer = KeptnEvent::new(
        &ids::fresh(),
        BRIDGE_SOURCE,
        &EventType::task("evaluation", TaskEventKind::Invalidated),
        clock::now(),
        &context,
        EventData {
            project: data.base.project.clone(),
            stage: data.base.stage.clone(),
            service: data.base.service.clone(),
            labels: data.base.labels.clone(),
            ..EventData::default()
        }
        .to_data(),
    );
    answer.triggeredid = Some(triggered);
    app.driver
        .submit(answer)
        .await
        .map_err(|e| ApiError::internal("the invalidation could not be stored", &e))?;
    Ok(Json(json!({"keptnContext": context, "invalidated": id})))
}

#[cfg(test)]
mod tests {
    use crate::api::testkit::{self, call};
    use axum::http::StatusCode;
    use serde_json::{Value, json};
    use sluice_model::event::KeptnEvent;

    const SLO: &str = "spec_version: \"1.0\"
comparison:
  compare_with: single_result
  include_result_with_score: pass
  aggregate_function: avg
objectives:
  - sli: response_time_p95
    displayName: Response time
    key_sli: true
    pass:
      - criteria: [\"<=+10%\", \"<600\"]
    warning:
      - criteria: [\"<=800\"]
  - sli: throughput
total_score:
  pass: \"90%\"
  warning: \"75%\"
";

    fn finished(id: &str, n: i64, value: f64, result: &str, compared: &[&str]) -> KeptnEvent {
        use base64::Engine as _;
        let slo = base64::engine::general_purpose::STANDARD.encode(SLO);
        let status = if result == "pass" { "pass" } else { "fail" };
        KeptnEvent::from_value(json!({
            "specversion": "1.0", "id": id, "source": "lighthouse-service",
            "type": "sh.keptn.event.evaluation.finished",
            "time": format!("2026-01-01T00:{n:02}:00.000Z"),
            "shkeptncontext": format!("00000000-0000-4000-8000-0000000000{n:02}"),
            "triggeredid": format!("t-{id}"),
            "data": {"project": "shop", "stage": "dev", "service": "carts",
                     "labels": {"buildId": format!("b{n}")},
                     "result": result, "status": "succeeded", "message": "m",
                     "evaluation": {"score": if result == "pass" {100.0} else {0.0}, "result": result,
                         "sloFileContent": slo, "comparedEvents": compared,
                         "timeStart": "2026-01-01T00:00:00Z", "timeEnd": "2026-01-01T00:05:00Z",
                         "indicatorResults": [
                            {"score": if result == "pass" {1.0} else {0.0}, "status": status, "keySli": true,
                             "displayName": "Response time",
                             "value": {"metric": "response_time_p95", "value": value, "comparedValue": 500.0, "success": true},
                             "passTargets": [{"criteria": "<=+10%", "targetValue": 550.0, "violated": result != "pass"},
                                             {"criteria": "<600", "targetValue": 600.0, "violated": false}],
                             "warningTargets": [{"criteria": "<=800", "targetValue": 800.0, "violated": false}]},
                            {"score": 0.0, "status": "info", "keySli": false,
                             "value": {"metric": "throughput", "value": 10.0, "success": true}}
                         ]}}
        }))
        .unwrap()
    }

    async fn seeded() -> (std::sync::Arc<crate::state::App>, axum::Router) {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "shop", testkit::ONE_TASK_SHIPYARD, &["carts"]).await;
        app.store
            .insert_event(&finished("e1", 1, 500.0, "pass", &[]))
            .await
            .unwrap();
        for n in 2..=5 {
            let prev = format!("e{}", n - 1);
            let result = if n == 5 { "fail" } else { "pass" };
            let value = if n == 5 { 700.0 } else { 500.0 };
            app.store
                .insert_event(&finished(&format!("e{n}"), n, value, result, &[&prev]))
                .await
                .unwrap();
        }
        (app, router)
    }

    const HISTORY: &str = "/api/sluice/v1/project/shop/stage/dev/service/carts/evaluations";

    #[tokio::test]
    async fn history_is_compact_newest_first_and_paged() {
        let (_app, router) = seeded().await;
        let (status, page) = call(&router, "GET", &format!("{HISTORY}?pageSize=2"), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["totalCount"], 5);
        assert_eq!(page["pageSize"], 2);
        assert_eq!(page["nextPageKey"], "2");
        let rows = page["evaluations"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        let newest = &rows[0];
        assert_eq!(newest["id"], "e5");
        assert_eq!(newest["label"], "b5");
        assert_eq!(newest["result"], "fail");
        assert_eq!(newest["score"], 0.0);
        assert_eq!(newest["comparedEvents"], json!(["e4"]));
        assert_eq!(newest["invalidated"], false);
        assert_eq!(
            newest["indicators"][0],
            json!({"metric": "response_time_p95", "displayName": "Response time", "value": 700.0,
                   "success": true, "status": "fail", "keySli": true, "score": 0.0})
        );
        assert!(newest.get("sloFileContent").is_none(), "rows stay compact");

        let (_, last) = call(
            &router,
            "GET",
            &format!("{HISTORY}?pageSize=2&nextPageKey=4"),
            None,
        )
        .await;
        assert_eq!(last["evaluations"].as_array().unwrap().len(), 1);
        assert!(last.get("nextPageKey").is_none());
        let (status, _) = call(&router, "GET", &format!("{HISTORY}?nextPageKey=x"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn one_evaluation_is_explained_like_sluice_evaluate() {
        let (_app, router) = seeded().await;
        let (status, body) = call(&router, "GET", "/api/sluice/v1/evaluation/e5", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["project"], "shop");
        assert_eq!(body["result"], "fail");
        let x = &body["explanation"];
        assert_eq!(x["passThreshold"], "90%");
        assert_eq!(x["warningThreshold"], "75%");
        assert_eq!(x["comparedEvaluations"], 1);
        assert_eq!(x["aggregateFunction"], "avg");
        let rt = &x["objectives"][0];
        assert_eq!(rt["name"], "Response time");
        assert_eq!(rt["keySli"], true);
        assert_eq!(rt["status"], "fail");
        assert_eq!(rt["value"], 700.0);
        assert_eq!(rt["comparedValue"], 500.0);
        assert_eq!(rt["history"], 1);
        assert_eq!(
            rt["targets"][0],
            json!({"kind": "pass", "criteria": "<=+10%", "threshold": 550.0, "held": false, "evaluated": true, "relative": true})
        );
        assert_eq!(rt["targets"][2]["kind"], "warning");
        assert_eq!(x["objectives"][1]["status"], "info");
        assert_eq!(x["objectives"][1]["maxPoints"], 0.0);

        let (status, _) = call(&router, "GET", "/api/sluice/v1/evaluation/nope", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn invalidation_marks_the_row_and_removes_it_from_the_history() {
        let (app, router) = seeded().await;
        let (status, body) = call(
            &router,
            "POST",
            "/api/sluice/v1/evaluation/e4/invalidate",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (_, page) = call(&router, "GET", HISTORY, None).await;
        let flags: Vec<(Value, Value)> = page["evaluations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["id"].clone(), r["invalidated"].clone()))
            .collect();
        assert!(flags.contains(&(json!("e4"), json!(true))), "{flags:?}");
        assert!(flags.contains(&(json!("e3"), json!(false))), "{flags:?}");
        let history = app
            .store
            .previous_evaluations("shop", "dev", "carts", &[], 10)
            .await
            .unwrap();
        assert!(history.iter().all(|e| e.id.as_deref() != Some("e4")));
        assert_eq!(history.len(), 4);
        let (status, _) = call(
            &router,
            "POST",
            "/api/sluice/v1/evaluation/nope/invalidate",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
