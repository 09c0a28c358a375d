//! Remediation-service tests: the choice of action, escalation, the end of the loop, missing
//! and broken files, and reading at the pinned commit, all through the driver and the bus.

use serde_json::{Value, json};
use sluice_model::event::KeptnEvent;

use super::*;
use crate::api::testkit;
use crate::services::evaluation::tests::{event, put, wait_for};
use crate::state::App;

/// The step-5 shipyard of the full tour (qa and production, with the remediation loop).
pub(crate) const FULLTOUR_SHIPYARD: &str =
    include_str!("../../../../../examples/fulltour/shipyard-step5-self-healing.yaml");

const REMEDIATION: &str = r#"apiVersion: spec.keptn.sh/0.1.4
kind: Remediation
metadata:
  name: carts-remediation
spec:
  remediations:
    - problemType: Response time degradation
      actionsOnOpen:
        - name: scale
          action: scaling
          description: Scale up
          value: "1"
        - name: scale more
          action: scaling
          value: "2"
    - problemType: http_response_time_seconds_main_page_sum
      actionsOnOpen:
        - name: toggle
          action: toggle-feature
          value:
            EnablePromotion: off
    - problemType: default
      actionsOnOpen:
        - name: restart
          action: restart
"#;

/// A server with project `shop` (stage `production`, service `carts`) holding `REMEDIATION`;
/// answers the commit of that file.
async fn setup() -> (Arc<App>, String) {
    let (app, _router) = testkit::app().await;
    testkit::create_project(
        &app,
        "shop",
        &FULLTOUR_SHIPYARD.replace("helloservice", "carts"),
        &["carts"],
    )
    .await;
    let commit = put(
        &app,
        "shop",
        Some("production"),
        Some("carts"),
        REMEDIATION_URI,
        REMEDIATION,
    )
    .await;
    (app, commit)
}

/// Sends a get-action.triggered and waits for its `.finished` answer's data.
async fn get_action(
    app: &App,
    problem: Value,
    index: Option<i64>,
    commit: Option<&str>,
) -> (KeptnEvent, Value) {
    let mut rx = app.bus.subscribe();
    let context = crate::runtime::ids::fresh();
    let mut data = json!({"project": "shop", "stage": "production", "service": "carts",
        "labels": {"owner": "team-a"}, "problem": problem});
    if let Some(i) = index {
        data["get-action"] = json!({"actionIndex": i});
    }
    let mut e = event(GET_ACTION_TRIGGERED, &context, None, data);
    e.gitcommitid = commit.map(str::to_owned);
    app.driver.submit(e.clone()).await.unwrap();
    let id = e.id.clone().unwrap();
    let started = wait_for(&mut rx, "get-action.started", |x| {
        x.event_type.as_deref() == Some("sh.keptn.event.get-action.started")
            && x.triggeredid.as_deref() == Some(id.as_str())
    })
    .await;
    assert_eq!(started.source.as_deref(), Some(SOURCE));
    let finished = wait_for(&mut rx, "get-action.finished", |x| {
        x.event_type.as_deref() == Some("sh.keptn.event.get-action.finished")
            && x.triggeredid.as_deref() == Some(id.as_str())
    })
    .await;
    assert_eq!(finished.shkeptncontext.as_deref(), Some(context.as_str()));
    assert!(finished.validate().is_empty(), "{:?}", finished.validate());
    let data = finished.data.clone().unwrap();
    assert_eq!(data["project"], "shop");
    assert_eq!(data["stage"], "production");
    assert_eq!(data["service"], "carts");
    assert_eq!(data["labels"], json!({"owner": "team-a"}));
    (e, data)
}

#[tokio::test]
async fn picks_by_root_cause_then_title_then_default() {
    let (app, _) = setup().await;
    let (_, d) = get_action(
        &app,
        json!({"problemTitle": "http_response_time_seconds_main_page_sum", "rootCause": "Response time degradation"}),
        None,
        None,
    )
    .await;
    assert_eq!(
        (d["status"].as_str(), d["result"].as_str()),
        (Some("succeeded"), Some("pass")),
        "{d}"
    );
    assert_eq!(
        d["action"],
        json!({"name": "scale", "action": "scaling", "description": "Scale up", "value": "1"})
    );
    assert_eq!(d["get-action"], json!({"actionIndex": 1}));
    assert_eq!(d["problem"]["rootCause"], "Response time degradation");

    let (_, d) = get_action(
        &app,
        json!({"problemTitle": "http_response_time_seconds_main_page_sum", "rootCause": "something else"}),
        None,
        None,
    )
    .await;
    // YAML 1.1 typing as Keptn's decoder: `off` is false; no description is omitted.
    assert_eq!(
        d["action"],
        json!({"name": "toggle", "action": "toggle-feature", "value": {"EnablePromotion": false}})
    );

    // Capitalised keys (prometheus-service's ProblemEventData) match too, as in Go.
    let (_, d) = get_action(&app, json!({"ProblemTitle": "disk full"}), None, None).await;
    assert_eq!(d["action"]["name"], "restart", "{d}");
    assert_eq!(d["get-action"]["actionIndex"], 1);
}

#[tokio::test]
async fn escalates_with_the_index_and_stops_when_actions_run_out() {
    let (app, _) = setup().await;
    let problem = json!({"problemTitle": "x", "rootCause": "Response time degradation"});
    let (_, d) = get_action(&app, problem.clone(), Some(1), None).await;
    assert_eq!(d["action"]["name"], "scale more", "{d}");
    assert_eq!(d["get-action"]["actionIndex"], 2);

    let (_, d) = get_action(&app, problem.clone(), Some(2), None).await;
    assert_eq!(
        (d["status"].as_str(), d["result"].as_str()),
        (Some("succeeded"), Some("fail")),
        "{d}"
    );
    assert_eq!(
        d["message"],
        "unable to get next action from remediation.yaml: failed to get action for root cause Response time degradation. There is no action with index 2"
    );
    assert!(
        d.get("action").is_none() && d.get("get-action").is_none(),
        "{d}"
    );

    let (_, d) = get_action(&app, problem, Some(-1), None).await;
    assert_eq!(d["result"], "fail", "{d}");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .ends_with("There is no action with index -1"),
        "{d}"
    );
}

#[tokio::test]
async fn no_matching_problem_type_fails_with_keptns_message() {
    let (app, _) = setup().await;
    put(
        &app,
        "shop",
        Some("production"),
        Some("carts"),
        REMEDIATION_URI,
        "apiVersion: spec.keptn.sh/0.1.4\nkind: Remediation\nmetadata:\n  name: r\nspec:\n  remediations:\n    - problemType: cpu\n      actionsOnOpen: []\n",
    )
    .await;
    let (_, d) = get_action(
        &app,
        json!({"problemTitle": "t", "rootCause": "rc"}),
        None,
        None,
    )
    .await;
    assert_eq!(
        (d["status"].as_str(), d["result"].as_str()),
        (Some("succeeded"), Some("fail")),
        "{d}"
    );
    assert_eq!(
        d["message"],
        "unable to get next action from remediation.yaml: unable to find actions for root cause rc"
    );
}

#[tokio::test]
async fn missing_or_broken_remediation_yaml_errors() {
    let (app, _router) = testkit::app().await;
    testkit::create_project(
        &app,
        "shop",
        &FULLTOUR_SHIPYARD.replace("helloservice", "carts"),
        &["carts"],
    )
    .await;
    let (_, d) = get_action(&app, json!({"problemTitle": "t"}), None, None).await;
    assert_eq!(
        (d["status"].as_str(), d["result"].as_str()),
        (Some("errored"), Some("fail")),
        "{d}"
    );
    assert_eq!(
        d["message"],
        "unable to get remediation.yaml: remediation.yaml not found for service carts in stage production of project shop"
    );

    put(
        &app,
        "shop",
        Some("production"),
        Some("carts"),
        REMEDIATION_URI,
        "apiVersion: spec.keptn.sh/0.1.3\nkind: Remediation\nmetadata:\n  name: r\nspec:\n  remediations: []\n",
    )
    .await;
    let (_, d) = get_action(&app, json!({"problemTitle": "t"}), None, None).await;
    assert_eq!(
        (d["status"].as_str(), d["result"].as_str()),
        (Some("errored"), Some("fail")),
        "{d}"
    );
    let message = d["message"].as_str().unwrap();
    assert!(
        message.starts_with("unable to parse remediation.yaml: remediation.yaml:1:"),
        "{message}"
    );
    assert!(message.contains("apiVersion"), "{message}");
}

#[tokio::test]
async fn reads_the_file_at_the_pinned_commit() {
    let (app, pinned) = setup().await;
    // Uploaded after the run was pinned: only runs at the new head see it.
    let head = put(
        &app,
        "shop",
        Some("production"),
        Some("carts"),
        REMEDIATION_URI,
        &REMEDIATION.replace("name: scale\n", "name: scale-v2\n"),
    )
    .await;
    let problem = json!({"rootCause": "Response time degradation"});
    let (_, d) = get_action(&app, problem.clone(), None, Some(&pinned)).await;
    assert_eq!(d["action"]["name"], "scale", "{d}");
    let (_, d) = get_action(&app, problem.clone(), None, Some(&head)).await;
    assert_eq!(d["action"]["name"], "scale-v2", "{d}");
    let (_, d) = get_action(&app, problem, None, None).await;
    assert_eq!(d["action"]["name"], "scale-v2", "{d}");
}

#[tokio::test]
async fn answers_are_deterministic() {
    let (app, _) = setup().await;
    let (e, _) = get_action(
        &app,
        json!({"rootCause": "Response time degradation"}),
        None,
        None,
    )
    .await;
    let file = read_file(&app.resources, &e).await;
    let a = answers(&e, &file);
    let b = answers(&e, &file);
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].id, b[0].id);
    assert_eq!(a[1].id, b[1].id);
    assert_ne!(a[0].id, a[1].id);
    // Handling the same event again is a duplicate for the driver.
    assert_eq!(
        app.driver.submit(a[1].clone()).await.unwrap(),
        crate::runtime::driver::Accepted::Duplicate
    );
}

#[tokio::test]
async fn the_remediation_sequence_gets_the_action_of_the_tutorial() {
    let (app, _router) = testkit::app().await;
    testkit::create_project(&app, "fulltour", FULLTOUR_SHIPYARD, &["helloservice"]).await;
    put(
        &app,
        "fulltour",
        Some("production"),
        Some("helloservice"),
        REMEDIATION_URI,
        include_str!("../../../../../examples/fulltour/remediation.yaml"),
    )
    .await;
    let mut rx = app.bus.subscribe();
    let trigger: Value = serde_json::from_str(include_str!(
        "../../../../../examples/fulltour/remediation_trigger.json"
    ))
    .unwrap();
    let context = crate::runtime::ids::fresh();
    let e = event(
        trigger["type"].as_str().unwrap(),
        &context,
        None,
        trigger["data"].clone(),
    );
    app.driver.submit(e).await.unwrap();
    let action = wait_for(&mut rx, "action.triggered", |x| {
        x.event_type.as_deref() == Some("sh.keptn.event.action.triggered")
            && x.shkeptncontext.as_deref() == Some(context.as_str())
    })
    .await;
    let d = action.data.clone().unwrap();
    assert_eq!(
        d["action"],
        json!({"name": "scale", "action": "scale", "description": "Scale up", "value": "2"})
    );
    assert_eq!(
        d["problem"]["problemTitle"],
        "http_response_time_seconds_main_page_sum"
    );
}
