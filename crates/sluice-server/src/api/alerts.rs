//! `POST /api/sluice/v1/alerts`: an Alertmanager webhook receiver that opens problems
//! (prometheus-service's alert handling, `eventhandling/alertEvent.go`).
//!
//! Alertmanager's webhook body (`{version, status, alerts: [...], groupLabels, commonLabels,
//! ...}`) is read per alert:
//! - project, stage and service come from the alert's labels, else the notification's
//!   `commonLabels`; an alert without them, or naming an unknown project, stage or service, is
//!   reported under `ignored` and the others are still processed.
//! - The keptnContext is derived from `fingerprint + startsAt` exactly as prometheus-service
//!   derived it (SHA-256 of the string as the random source of a v4 UUID, see
//!   [`alert_context`]): every notification about one firing episode of an alert shares a
//!   context, and a later episode of the same alert gets its own.
//! - A FIRING alert sends `sh.keptn.event.<stage>.remediation.triggered` (source `prometheus`,
//!   as prometheus-service) with `problem.problemTitle` = the `summary` annotation (what
//!   prometheus-service used; the rules sluice generates set it to the SLI name), else the
//!   `alertname` label, and `problem.rootCause` = the `description` annotation (else
//!   prometheus-service's misspelt `descriptions`). Its event id is derived from the
//!   fingerprint and `startsAt`, so Alertmanager's repeats (every `repeat_interval`) are
//!   duplicates the driver drops: one remediation per firing episode. Within one
//!   notification, further firing alerts with the same project, stage, service and title
//!   (other series of the same rule) are reported under `ignored`: one remediation per problem.
//! - A RESOLVED alert is recorded as a legacy `sh.keptn.events.problem` event with
//!   `State: RESOLVED` in the context of its firing episode (prometheus-service dropped it).
//!   Nothing acts on that event type, so no sequence starts.
//!
//! The answer is 200 with `{accepted, duplicates, resolved, ignored}`; a body that is not an
//! Alertmanager notification is 400; a store failure is 500, so Alertmanager retries (which
//! is safe: the ids are deterministic).
//!
//! `GET /api/sluice/v1/project/{project}/alerting-rules?service=S[&stage=T]` answers the
//! Prometheus alerting rules for the service's SLO (see [`crate::services::prometheus_rules`])
//! as a YAML rule file, for every stage (or one), from the files at the stage's head.
//!
//! Differences from prometheus-service: every alert is handled, not only `alerts[0]`; the
//! per-alert `status` decides, not the group's; resolved alerts are recorded; the scope is
//! checked; problem keys are written camelCase (`problemTitle`, `rootCause`, `state`, ...; the
//! capitalised go-utils `ProblemEventData` keys matched case-insensitively in Keptn) and the
//! event id is deterministic rather than random.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sluice_model::event::data::LegacyProblemEventData;
use sluice_model::event::kind::LEGACY_PROBLEM_TYPE;
use sluice_model::event::{EventType, KeptnEvent, deterministic_keptn_context, is_go_uuid};

use crate::api::extract::{Body, Json, Path, Query};
use crate::error::ApiError;
use crate::runtime::driver::Accepted;
use crate::runtime::{clock, ids};
use crate::services::prometheus_rules::{self, StageRules};
use crate::state::App;

/// The webhook's path.
pub const PATH: &str = "/api/sluice/v1/alerts";
/// The `source` of the events it sends (prometheus-service's).
pub const SOURCE: &str = "prometheus";

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new().route(PATH, post(post_alerts)).route(
        "/api/sluice/v1/project/{project}/alerting-rules",
        get(get_alerting_rules),
    )
}

/// The query of `GET .../alerting-rules`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesParams {
    service: Option<String>,
    stage: Option<String>,
    /// The rules' `for` (Go duration; default 10m like prometheus-service).
    #[serde(rename = "for")]
    for_duration: Option<String>,
    /// The query window (Go duration; default 180s).
    window: Option<String>,
}

async fn get_alerting_rules(
    State(app): State<Arc<App>>,
    Path(project): Path<String>,
    Query(params): Query<RulesParams>,
) -> Result<Response, ApiError> {
    let mut timing = prometheus_rules::RuleTiming::default();
    if let Some(f) = &params.for_duration {
        let d = sluice_model::duration::parse(f)
            .map_err(|e| ApiError::bad_request(format!("for: {e}")))?;
        timing.for_duration = format!("{}s", d.as_nanos() / 1_000_000_000);
    }
    if let Some(w) = &params.window {
        let d = sluice_model::duration::parse(w)
            .map_err(|e| ApiError::bad_request(format!("window: {e}")))?;
        let secs = d.as_nanos() / 1_000_000_000;
        if secs < 1 {
            return Err(ApiError::bad_request("window must be at least 1s"));
        }
        timing.window_seconds = secs;
    }
    let record = app.store.project(&project).await?;
    let service = params
        .service
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("the query parameter service is required"))?;
    let services = app.store.services(&project).await?;
    if !services.iter().any(|s| s.name == service) {
        return Err(ApiError::not_found(format!(
            "service not found: {service} is not a service of project {project}"
        )));
    }
    let stages: Vec<String> = match params.stage.filter(|s| !s.trim().is_empty()) {
        Some(stage) if record.stages.contains(&stage) => vec![stage],
        Some(stage) => {
            return Err(ApiError::not_found(format!(
                "stage not found: {stage} is not a stage of project {project}"
            )));
        }
        None => record.stages.clone(),
    };
    let mut header = vec![
        format!(
            "Prometheus alerting rules for service {service} of project {project}, made by sluice from"
        ),
        "slo.yaml and prometheus/sli.yaml as prometheus-service's configure monitoring did."
            .to_owned(),
        "Load it with rule_files in prometheus.yml; let Alertmanager send severity=webhook alerts"
            .to_owned(),
        format!("to POST {PATH} (http_config.authorization with the API token as bearer)."),
    ];
    let mut groups: Vec<StageRules> = Vec::new();
    for stage in &stages {
        match prometheus_rules::rules_from_files(&app.resources, &project, stage, &service, &timing)
            .await
        {
            Ok(Ok(rules)) => groups.push(rules),
            Ok(Err(note)) => header.push(note),
            Err(e @ prometheus_rules::Error::Invalid { .. }) => {
                return Err(ApiError::bad_request(e.to_string()));
            }
            Err(e) => return Err(ApiError::internal("cannot read the SLO files", &e)),
        }
    }
    Ok((
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        prometheus_rules::render(&header, &groups),
    )
        .into_response())
}

/// An Alertmanager webhook notification (the fields sluice reads).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Webhook format version (`4`).
    #[serde(default)]
    pub version: String,
    /// `firing` or `resolved` (of the group; each alert has its own).
    #[serde(default)]
    pub status: String,
    /// The alerts.
    pub alerts: Vec<Alert>,
    /// Labels common to all alerts (the fallback for project, stage and service).
    #[serde(default)]
    pub common_labels: BTreeMap<String, String>,
}

/// One alert of a notification.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Alert {
    /// `firing` or `resolved`.
    pub status: String,
    /// The alert's labels (`alertname`, `project`, `stage`, `service`, ...).
    pub labels: BTreeMap<String, String>,
    /// Its annotations (`summary`, `description`, ...).
    pub annotations: BTreeMap<String, String>,
    /// When it started firing (RFC 3339).
    pub starts_at: String,
    /// When it resolved (RFC 3339; zero time while firing).
    pub ends_at: String,
    /// Alertmanager's identity of the alert (a hash of its labels).
    pub fingerprint: String,
    /// Link to the expression in Prometheus.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
}

/// The keptnContext of a firing episode, as prometheus-service derived it from
/// `fingerprint + startsAt`: a UUID as is; shorter than 16 bytes, Keptn's padded derivation
/// ([`deterministic_keptn_context`]); otherwise the first 16 bytes of the string's SHA-256 as
/// the random bytes of a version-4 UUID (Go's `uuid.New()` over that reader).
pub fn alert_context(fingerprint: &str, starts_at: &str) -> String {
    let seed = format!("{fingerprint}{starts_at}");
    if is_go_uuid(&seed) {
        return seed;
    }
    if seed.len() < 16 {
        return deterministic_keptn_context(&seed);
    }
    let digest = Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// What happened to one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// A remediation was triggered in this context.
    Accepted(String),
    /// This notification was seen before (same fingerprint and start): nothing new.
    Duplicate(String),
    /// Recorded as resolved in this context.
    Resolved(String),
    /// Not processed, and why.
    Ignored(String),
}

async fn post_alerts(
    State(app): State<Arc<App>>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let notification: Notification = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "not an Alertmanager webhook notification (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })?;
    let mut accepted = Vec::new();
    let mut duplicates = Vec::new();
    let mut resolved = Vec::new();
    let mut ignored = Vec::new();
    let mut problems = Problems::new();
    for alert in &notification.alerts {
        let fingerprint = fingerprint_of(alert);
        match handle(&app, &notification, alert, &fingerprint, &mut problems).await? {
            Disposition::Accepted(c) => accepted.push(c),
            Disposition::Duplicate(c) => duplicates.push(c),
            Disposition::Resolved(c) => resolved.push(c),
            Disposition::Ignored(reason) => {
                tracing::warn!(%fingerprint, %reason, "alert ignored");
                ignored.push(json!({
                    "fingerprint": fingerprint,
                    "alertname": alert.labels.get("alertname").cloned().unwrap_or_default(),
                    "reason": reason,
                }));
            }
        }
    }
    Ok(Json(json!({
        "accepted": accepted,
        "duplicates": duplicates,
        "resolved": resolved,
        "ignored": ignored,
    })))
}

/// The alert's fingerprint; without one (Alertmanager before 0.19), a stand-in derived from
/// its sorted labels, so that repeats still match.
pub fn fingerprint_of(alert: &Alert) -> String {
    if !alert.fingerprint.is_empty() {
        return alert.fingerprint.clone();
    }
    let mut hasher = Sha256::new();
    for (k, v) in &alert.labels {
        hasher.update(k.as_bytes());
        hasher.update([0xff]);
        hasher.update(v.as_bytes());
        hasher.update([0xff]);
    }
    hasher.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The problems (project, stage, service, title) opened by a notification so far, with the
/// fingerprint of the alert that opened each.
type Problems = std::collections::HashMap<(String, String, String, String), String>;

async fn handle(
    app: &App,
    notification: &Notification,
    alert: &Alert,
    fingerprint: &str,
    problems: &mut Problems,
) -> Result<Disposition, ApiError> {
    let resolved = match alert.status.as_str() {
        "firing" => false,
        "resolved" => true,
        other => {
            return Ok(Disposition::Ignored(format!(
                "status `{other}` is neither firing nor resolved"
            )));
        }
    };
    let label = |k: &str| {
        alert
            .labels
            .get(k)
            .or_else(|| notification.common_labels.get(k))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let scope: Vec<(&str, Option<String>)> = ["project", "stage", "service"]
        .into_iter()
        .map(|k| (k, label(k)))
        .collect();
    let missing: Vec<&str> = scope
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| *k)
        .collect();
    let (Some(project), Some(stage), Some(service)) =
        (label("project"), label("stage"), label("service"))
    else {
        return Ok(Disposition::Ignored(format!(
            "the alert has no {} label (nor in commonLabels): add them to the alerting rule",
            missing.join(", ")
        )));
    };
    if let Some(reason) = check_scope(app, &project, &stage, &service).await? {
        return Ok(Disposition::Ignored(reason));
    }
    let title = alert
        .annotations
        .get("summary")
        .filter(|s| !s.trim().is_empty())
        .or_else(|| alert.labels.get("alertname"))
        .cloned()
        .unwrap_or_default();
    if title.trim().is_empty() {
        return Ok(Disposition::Ignored(
            "the alert has neither a summary annotation nor an alertname label".to_owned(),
        ));
    }
    let description = alert
        .annotations
        .get("description")
        .or_else(|| alert.annotations.get("descriptions"))
        .cloned()
        .unwrap_or_default();
    if !resolved {
        // One rule over several series fires one alert per series (the tutorial's
        // `failing_request` has two): one remediation per problem and notification.
        let key = (
            project.clone(),
            stage.clone(),
            service.clone(),
            title.clone(),
        );
        if let Some(first) = problems.get(&key) {
            return Ok(Disposition::Ignored(format!(
                "the same problem ({title} of service {service} in stage {stage}) as alert {first} of this notification: one remediation per problem"
            )));
        }
        problems.insert(key, fingerprint.to_owned());
    }
    let context = alert_context(fingerprint, &alert.starts_at);
    let episode = format!("alert/{fingerprint}/{}", alert.starts_at);
    let impacted = alert.labels.get("pod_name").cloned().unwrap_or_default();
    let (event_type, data, what) = if resolved {
        let data = LegacyProblemEventData {
            state: "RESOLVED".to_owned(),
            problem_id: fingerprint.to_owned(),
            problem_title: title,
            problem_details: Some(json!({"problemDetails": description})),
            pid: String::new(),
            problem_url: alert.generator_url.clone(),
            impacted_entity: impacted,
            tags: String::new(),
            project,
            stage: stage.clone(),
            service,
            labels: Some(alert.labels.clone()),
        };
        (LEGACY_PROBLEM_TYPE.to_owned(), data.to_data(), "resolved")
    } else {
        let mut labels = serde_json::Map::new();
        if !alert.generator_url.is_empty() {
            labels.insert("Problem URL".into(), json!(alert.generator_url));
        }
        let mut data = json!({
            "project": project,
            "stage": stage,
            "service": service,
            "labels": labels,
            "problem": {
                "state": "OPEN",
                "problemID": fingerprint,
                "problemTitle": title,
                "rootCause": description,
                "problemDetails": {"problemDetails": description},
                "problemURL": alert.generator_url,
                "impactedEntity": impacted,
                "startsAt": alert.starts_at,
                "labels": alert.labels,
                "annotations": alert.annotations,
            },
        });
        if let Some(d) = alert.labels.get("deployment").filter(|d| !d.is_empty()) {
            data["deployment"] = json!({"deploymentNames": [d]});
        }
        (
            EventType::sequence_triggered(&stage, "remediation").to_string(),
            data,
            "remediation.triggered",
        )
    };
    let event = KeptnEvent {
        specversion: Some("1.0".to_owned()),
        id: Some(ids::derived(&episode, what)),
        source: Some(SOURCE.to_owned()),
        event_type: Some(event_type),
        time: Some(clock::now().to_rfc3339_nano()),
        datacontenttype: Some("application/json".to_owned()),
        shkeptncontext: Some(context.clone()),
        data: Some(data),
        ..KeptnEvent::default()
    };
    let outcome = app
        .driver
        .submit(event)
        .await
        .map_err(|e| ApiError::internal("the alert could not be stored", &e))?;
    Ok(match (outcome, resolved) {
        (_, true) => Disposition::Resolved(context),
        (Accepted::Stored, false) => Disposition::Accepted(context),
        (Accepted::Duplicate, false) => Disposition::Duplicate(context),
    })
}

/// `Some(reason)` when the project, stage or service does not exist.
async fn check_scope(
    app: &App,
    project: &str,
    stage: &str,
    service: &str,
) -> Result<Option<String>, ApiError> {
    let checked = crate::runtime::scope::check(&app.store, project, stage, service)
        .await
        .map_err(|e| ApiError::internal("cannot read the project", &e))?;
    Ok(checked.err().map(|missing| missing.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testkit::{self, TOKEN};
    use crate::services::evaluation::tests::{put, wait_for};
    use crate::services::remediation::tests::FULLTOUR_SHIPYARD;
    use axum::http::StatusCode;

    const STARTS: &str = "2024-05-01T10:00:00.000Z";

    fn alert(fingerprint: &str, status: &str, labels: Value) -> Value {
        json!({
            "status": status,
            "labels": labels,
            "annotations": {"summary": labels["alertname"], "description": "Response time degradation"},
            "startsAt": STARTS,
            "endsAt": if status == "firing" { "0001-01-01T00:00:00Z" } else { "2024-05-01T10:30:00.000Z" },
            "generatorURL": "http://prometheus:9090/graph?g0.expr=x",
            "fingerprint": fingerprint,
        })
    }

    fn scoped(extra: Value) -> Value {
        let mut l = json!({"alertname": "http_response_time_seconds_main_page_sum", "project": "fulltour", "stage": "production", "service": "helloservice", "severity": "webhook"});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                l.as_object_mut().unwrap().remove(k);
            } else {
                l[k] = v.clone();
            }
        }
        l
    }

    fn notification(alerts: Vec<Value>, common: Value) -> Value {
        json!({
            "receiver": "keptn_integration", "status": "firing", "version": "4",
            "groupKey": "{}:{alertname=\"x\"}", "truncatedAlerts": 0,
            "alerts": alerts, "groupLabels": {}, "commonLabels": common,
            "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
        })
    }

    async fn setup() -> (Arc<App>, Router) {
        let (app, router) = testkit::app().await;
        testkit::create_project(&app, "fulltour", FULLTOUR_SHIPYARD, &["helloservice"]).await;
        put(
            &app,
            "fulltour",
            Some("production"),
            Some("helloservice"),
            "remediation.yaml",
            include_str!("../../../../examples/fulltour/remediation.yaml"),
        )
        .await;
        (app, router)
    }

    #[test]
    fn contexts_are_derived_like_prometheus_service() {
        // Computed independently: sha256(fingerprint + startsAt)[..16], version 4, RFC variant.
        assert_eq!(
            alert_context("c6fa2a5bbd4d9d6c", STARTS),
            "cbc5990b-0b07-4f55-9443-e0f721880caa"
        );
        assert_eq!(alert_context("abc", ""), deterministic_keptn_context("abc"));
        assert_ne!(
            alert_context("c6fa2a5bbd4d9d6c", STARTS),
            alert_context("c6fa2a5bbd4d9d6c", "2024-05-01T11:00:00.000Z")
        );
        let a = Alert {
            labels: [("alertname".to_owned(), "x".to_owned())].into(),
            ..Alert::default()
        };
        assert_eq!(fingerprint_of(&a), fingerprint_of(&a.clone()));
        assert_eq!(fingerprint_of(&a).len(), 16);
    }

    #[tokio::test]
    async fn a_firing_alert_starts_one_remediation() {
        let (app, router) = setup().await;
        let mut rx = app.bus.subscribe();
        let body = notification(
            vec![alert("c6fa2a5bbd4d9d6c", "firing", scoped(json!({})))],
            json!({}),
        );
        let (status, answer) = testkit::call(&router, "POST", PATH, Some(body.clone())).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let context = "cbc5990b-0b07-4f55-9443-e0f721880caa";
        assert_eq!(
            answer,
            json!({"accepted": [context], "duplicates": [], "resolved": [], "ignored": []})
        );
        let trigger = wait_for(&mut rx, "remediation.triggered", |e| {
            e.event_type.as_deref() == Some("sh.keptn.event.production.remediation.triggered")
        })
        .await;
        assert_eq!(trigger.shkeptncontext.as_deref(), Some(context));
        assert_eq!(trigger.source.as_deref(), Some(SOURCE));
        let d = trigger.data.clone().unwrap();
        assert_eq!(d["project"], "fulltour");
        assert_eq!(
            d["problem"]["problemTitle"],
            "http_response_time_seconds_main_page_sum"
        );
        assert_eq!(d["problem"]["rootCause"], "Response time degradation");
        assert_eq!(d["problem"]["state"], "OPEN");
        assert_eq!(
            d["labels"]["Problem URL"],
            "http://prometheus:9090/graph?g0.expr=x"
        );
        // The sequence runs: the remediation-service picks the tutorial's action.
        let finished = wait_for(&mut rx, "get-action.finished", |e| {
            e.event_type.as_deref() == Some("sh.keptn.event.get-action.finished")
                && e.shkeptncontext.as_deref() == Some(context)
        })
        .await;
        assert_eq!(finished.data.as_ref().unwrap()["action"]["value"], "2");

        // Alertmanager repeats the notification: a duplicate, nothing new starts.
        let (status, answer) = testkit::call(&router, "POST", PATH, Some(body)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            answer,
            json!({"accepted": [], "duplicates": [context], "resolved": [], "ignored": []})
        );
    }

    #[tokio::test]
    async fn each_fingerprint_gets_its_own_context_and_bad_alerts_are_reported() {
        let (app, router) = setup().await;
        let body = notification(
            vec![
                alert(
                    "1111111111111111",
                    "firing",
                    scoped(json!({"project": null, "stage": null})),
                ),
                alert(
                    "2222222222222222",
                    "firing",
                    scoped(json!({"service": null})),
                ),
                alert(
                    "3333333333333333",
                    "firing",
                    scoped(json!({"project": "nope"})),
                ),
                alert(
                    "4444444444444444",
                    "firing",
                    scoped(json!({"alertname": "go_routines"})),
                ),
                // Another series of the first alert's rule: the same problem.
                alert(
                    "5555555555555555",
                    "firing",
                    scoped(json!({"instance": "b"})),
                ),
            ],
            // The fallback for the first alert's project and stage.
            json!({"project": "fulltour", "stage": "production"}),
        );
        let (status, answer) = testkit::call(&router, "POST", PATH, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let accepted = answer["accepted"].as_array().unwrap();
        assert_eq!(accepted.len(), 2, "{answer}");
        assert_eq!(
            accepted[0],
            alert_context("1111111111111111", STARTS).as_str()
        );
        assert_eq!(
            accepted[1],
            alert_context("4444444444444444", STARTS).as_str()
        );
        assert_ne!(accepted[0], accepted[1]);
        let ignored = answer["ignored"].as_array().unwrap();
        assert_eq!(ignored.len(), 3, "{answer}");
        assert_eq!(ignored[0]["fingerprint"], "2222222222222222");
        assert!(
            ignored[0]["reason"]
                .as_str()
                .unwrap()
                .contains("no service label"),
            "{answer}"
        );
        assert_eq!(ignored[1]["fingerprint"], "3333333333333333");
        assert_eq!(ignored[1]["reason"], "project not found: nope");
        assert_eq!(ignored[2]["fingerprint"], "5555555555555555");
        assert!(
            ignored[2]["reason"]
                .as_str()
                .unwrap()
                .contains("as alert 1111111111111111 of this notification"),
            "{answer}"
        );
        drop(app);
    }

    #[tokio::test]
    async fn resolved_alerts_are_recorded_and_start_nothing() {
        let (app, router) = setup().await;
        let mut rx = app.bus.subscribe();
        let body = notification(
            vec![alert("5555555555555555", "resolved", scoped(json!({})))],
            json!({}),
        );
        let (status, answer) = testkit::call(&router, "POST", PATH, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let context = alert_context("5555555555555555", STARTS);
        assert_eq!(
            answer,
            json!({"accepted": [], "duplicates": [], "resolved": [context], "ignored": []})
        );
        let recorded = wait_for(&mut rx, "problem event", |e| {
            e.event_type.as_deref() == Some(LEGACY_PROBLEM_TYPE)
        })
        .await;
        assert_eq!(recorded.shkeptncontext.as_deref(), Some(context.as_str()));
        assert_eq!(recorded.data.as_ref().unwrap()["State"], "RESOLVED");
        // The driver answered once the engine had handled the event: no task is open for it.
        assert!(
            app.driver
                .open_tasks(None)
                .iter()
                .all(|t| t.keptn_context != context),
            "{:?}",
            app.driver.open_tasks(None)
        );
        let stored = app
            .store
            .event_exists(recorded.id.as_deref().unwrap())
            .await
            .unwrap();
        assert!(stored);
    }

    #[tokio::test]
    async fn alerting_rules_for_the_stages_with_slo_and_remediation() {
        let (app, router) = setup().await;
        put(
            &app,
            "fulltour",
            None,
            None,
            "prometheus/sli.yaml",
            include_str!("../../../../examples/fulltour/prometheus/sli.yaml"),
        )
        .await;
        for stage in ["qa", "production"] {
            put(
                &app,
                "fulltour",
                Some(stage),
                Some("helloservice"),
                "slo.yaml",
                include_str!("../../../../examples/fulltour/slo.yaml"),
            )
            .await;
        }
        let uri = "/api/sluice/v1/project/fulltour/alerting-rules?service=helloservice";
        let (status, body) = testkit::call(&router, "GET", uri, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let text = body.as_str().unwrap();
        // qa has no remediation.yaml: no group, a comment.
        assert!(
            text.contains("# stage qa: no remediation.yaml for service helloservice"),
            "{text}"
        );
        assert!(
            text.contains("  - name: \"helloservice fulltour-production alerts\""),
            "{text}"
        );
        assert!(!text.contains("fulltour-qa alerts"), "{text}");
        assert!(
            text.contains("job=\\\"helloservice-fulltour-production\\\"}[180s]))) > 0.4\""),
            "{text}"
        );
        crate::services::prometheus_rules::tests::check_with_promtool(text);

        let (status, body) = testkit::call(&router, "GET", &format!("{uri}&stage=qa"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.as_str().unwrap().ends_with("groups: []\n"), "{body}");
        for (bad, want) in [
            (
                "/api/sluice/v1/project/fulltour/alerting-rules",
                StatusCode::BAD_REQUEST,
            ),
            (
                "/api/sluice/v1/project/fulltour/alerting-rules?service=nope",
                StatusCode::NOT_FOUND,
            ),
            (
                "/api/sluice/v1/project/fulltour/alerting-rules?service=helloservice&stage=dev",
                StatusCode::NOT_FOUND,
            ),
            (
                "/api/sluice/v1/project/nope/alerting-rules?service=helloservice",
                StatusCode::NOT_FOUND,
            ),
            (
                "/api/sluice/v1/project/fulltour/alerting-rules?service=helloservice&typo=1",
                StatusCode::BAD_REQUEST,
            ),
        ] {
            let (status, body) = testkit::call(&router, "GET", bad, None).await;
            assert_eq!(status, want, "{bad}: {body}");
        }
        put(
            &app,
            "fulltour",
            Some("production"),
            Some("helloservice"),
            "slo.yaml",
            "objectives: [",
        )
        .await;
        let (status, body) = testkit::call(&router, "GET", uri, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("slo.yaml of stage production is not valid"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn malformed_bodies_are_rejected_and_the_token_is_required() {
        let (_app, router) = setup().await;
        for bad in [
            json!("not an object"),
            json!({"status": "firing"}),
            json!({"alerts": [{"labels": {"a": 1}}]}),
        ] {
            let (status, answer) = testkit::call(&router, "POST", PATH, Some(bad.clone())).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} -> {answer}");
        }
        let request = |auth: Option<&str>| {
            let mut b = axum::http::Request::builder()
                .method("POST")
                .uri(PATH)
                .header("content-type", "application/json");
            if let Some(a) = auth {
                b = b.header("authorization", a);
            }
            b.body(axum::body::Body::from("{not json")).unwrap()
        };
        use tower::ServiceExt;
        let r = router.clone().oneshot(request(None)).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        // Alertmanager's `http_config.authorization` sends a bearer token.
        let r = router
            .clone()
            .oneshot(request(Some(&format!("Bearer {TOKEN}"))))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
}
