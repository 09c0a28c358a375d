//! Prometheus provider tests: the pure query building and answer reading, and the provider
//! inside a server against a fake Prometheus HTTP API on a loopback port.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::json;
use sluice_model::event::KeptnEvent;

use super::*;
use crate::services::evaluation::SLO_URI;
use crate::services::evaluation::tests::{app, create_project, event, put, wait_for};
use sluice_model::event::kind::{
    EVALUATION_FINISHED, EVALUATION_TRIGGERED, GET_SLI_FINISHED, GET_SLI_STARTED, GET_SLI_TRIGGERED,
};

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn ctx<'a>(labels: &'a BTreeMap<String, String>, filters: &'a [SliFilter]) -> QueryContext<'a> {
    QueryContext {
        project: "shop",
        stage: "dev",
        service: "carts",
        deployment: "canary",
        labels,
        filters,
        start: ts("2024-05-01T10:00:00.000Z"),
        end: ts("2024-05-01T10:05:00.500Z"),
    }
}

fn filter(key: &str, value: &str) -> SliFilter {
    SliFilter {
        key: key.into(),
        value: value.into(),
    }
}

#[test]
fn placeholders_in_prometheus_services_order() {
    let labels = BTreeMap::from([("build".to_owned(), "7".to_owned())]);
    let filters = [filter("handler", "'Items\"Controller'")];
    let c = ctx(&labels, &filters);
    assert_eq!(c.duration(), "301s");
    assert_eq!(
        c.substitute("$handler $HANDLER $PROJECT-$STAGE-$SERVICE $DEPLOYMENT $LABEL.build $LABEL.none [$DURATION_SECONDS]"),
        "ItemsController ItemsController shop-dev-carts canary 7 $LABEL.none [301s]"
    );
    // A filter key that is a placeholder name wins, since filters are replaced first.
    let filters = [filter("PROJECT", "other")];
    assert_eq!(ctx(&labels, &filters).substitute("$PROJECT"), "other");
    let exact = QueryContext {
        end: ts("2024-05-01T10:05:00Z"),
        ..ctx(&labels, &[])
    };
    assert_eq!(exact.duration(), "300s");
}

#[test]
fn builtin_queries() {
    let labels = BTreeMap::new();
    let none = ctx(&labels, &[]);
    assert_eq!(
        none.builtin("throughput").unwrap(),
        "sum(rate(http_requests_total{job='carts-shop-dev-canary'}[301s]))"
    );
    assert_eq!(
        none.builtin("error_rate").unwrap(),
        "sum(rate(http_requests_total{job='carts-shop-dev-canary',status!~'2..'}[301s]))/sum(rate(http_requests_total{job='carts-shop-dev-canary'}[301s]))"
    );
    assert_eq!(
        none.builtin("response_time_p90").unwrap(),
        "histogram_quantile(0.90,sum(rate(http_response_time_milliseconds_bucket{job='carts-shop-dev-canary'}[301s]))by(le))"
    );
    assert_eq!(none.builtin("cpu"), None);
    let filters = [filter("handler", "\"Items\""), filter("code", "!=\"200\"")];
    assert_eq!(
        ctx(&labels, &filters).default_filter(),
        "job='carts-shop-dev-canary',handler='Items',code!='200'"
    );
    let filters = [filter("job", "mine")];
    assert_eq!(ctx(&labels, &filters).default_filter(), "job='mine'");
    // sli.yaml first, then the built-ins; nothing else.
    let config = sluice_model::sli::parse("indicators:\n  throughput: up{s='$SERVICE'}\n")
        .value
        .unwrap();
    assert_eq!(
        none.query_for("throughput", &config).unwrap(),
        "up{s='carts'}"
    );
    assert!(none.query_for("error_rate", &config).is_some());
    assert_eq!(none.query_for("cpu", &config), None);
}

#[test]
fn deployment_time_and_url_rules() {
    let mut labels = BTreeMap::new();
    assert_eq!(deployment_type("", &labels), "primary");
    assert_eq!(deployment_type("canary", &labels), "canary");
    labels.insert("deployment".to_owned(), "blue".to_owned());
    assert_eq!(deployment_type("canary", &labels), "blue");
    assert_eq!(time_param(ts("2024-05-01T10:05:00Z")), "1714557900");
    assert_eq!(time_param(ts("2024-05-01T10:05:00.500Z")), "1714557900.5");
    assert_eq!(parse_time("1714557900"), Some(ts("2024-05-01T10:05:00Z")));
    assert_eq!(base_url("prom:9090/"), "https://prom:9090");
    assert_eq!(base_url("http://prom:9090"), "http://prom:9090");
}

#[test]
fn exactly_one_sample() {
    let vector = |result: Value| json!({"status": "success", "data": {"resultType": "vector", "result": result}});
    let sample = |v: &str| json!({"metric": {}, "value": [1714557900, v]});
    assert_eq!(single_value(&vector(json!([sample("10.5")]))), Ok(10.5));
    assert_eq!(
        single_value(&vector(json!([]))),
        Err("query did not return any values".into())
    );
    assert_eq!(
        single_value(&vector(json!([sample("1"), sample("2")]))),
        Err("query did return multiple values".into())
    );
    assert_eq!(
        single_value(&vector(json!([sample("NaN")]))),
        Err("query did not return valid values".into())
    );
    assert!(
        single_value(&json!({"status": "success", "data": {"resultType": "matrix", "result": []}}))
            .unwrap_err()
            .starts_with("prometheus api response is not a Vector")
    );
    assert_eq!(
        single_value(&json!({"status": "error", "errorType": "bad_data", "error": "parse error"})),
        Err("unable to query prometheus api: bad_data: parse error".into())
    );
}

/// What the fake Prometheus received: (query, time, authorization).
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

async fn fake_query(
    State(seen): State<Seen>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> axum::response::Response {
    let query = params.get("query").cloned().unwrap_or_default();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    seen.lock().unwrap().push((
        query.clone(),
        params.get("time").cloned().unwrap_or_default(),
        auth,
    ));
    let sample = |v: &str| json!({"metric": {"i": v}, "value": [1714557900.5, v]});
    let vector = |result: Value| {
        axum::Json(json!({"status": "success", "data": {"resultType": "vector", "result": result}}))
            .into_response()
    };
    if query.contains("huge") {
        // A valid-looking answer that never ends within the client's limit.
        let padding = "x".repeat(crate::net::http::MAX_RESPONSE_BYTES);
        axum::Json(json!({"status": "success", "padding": padding})).into_response()
    } else if query.contains("none") {
        vector(json!([]))
    } else if query.contains("multi") {
        vector(json!([sample("1"), sample("2")]))
    } else if query.contains("broken") {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"status": "error", "errorType": "bad_data", "error": "parse error"})),
        )
            .into_response()
    } else {
        vector(json!([sample("42.5")]))
    }
}

/// A range query: two series of three points (one NaN), or an error for `broken` queries;
/// records (query, "start end step", authorization).
async fn fake_range(
    State(seen): State<Seen>,
    Query(params): Query<HashMap<String, String>>,
) -> axum::response::Response {
    let p = |k: &str| params.get(k).cloned().unwrap_or_default();
    let query = p("query");
    seen.lock().unwrap().push((
        format!("range {query}"),
        format!("{} {} {}", p("start"), p("end"), p("step")),
        String::new(),
    ));
    if query.contains("flat") {
        return axum::Json(
            json!({"status": "success", "data": {"resultType": "matrix", "result": []}}),
        )
        .into_response();
    }
    let series =
        |vs: [&str; 3]| json!({"metric": {}, "values": [[1.0, vs[0]], [2.0, vs[1]], [3.0, vs[2]]]});
    axum::Json(json!({"status": "success", "data": {"resultType": "matrix",
        "result": [series(["3", "1", "NaN"]), series(["2", "5", "4"])]}}))
    .into_response()
}

async fn fake_prometheus() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let router = axum::Router::new()
        .route("/api/v1/query", axum::routing::get(fake_query))
        .route("/api/v1/query_range", axum::routing::get(fake_range))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    (format!("http://{addr}"), seen)
}

async fn configure(app: &crate::state::App, endpoint: Option<&str>, password: bool) {
    let secret = if password {
        Some(
            monitoring::save_password(&app.store, "shop", endpoint, Some("u"), "pw")
                .await
                .unwrap(),
        )
    } else {
        None
    };
    monitoring::save(
        &app.store,
        "shop",
        &monitoring::MonitoringConfig {
            provider: PROVIDER.into(),
            endpoint: endpoint.map(str::to_owned),
            user: password.then(|| "u".to_owned()),
            password_secret: secret,
        },
    )
    .await
    .unwrap();
}

/// Sends a get-sli.triggered for prometheus and returns the provider's finished data.
async fn ask(app: &crate::state::App, indicators: &[&str], commit: Option<&str>) -> Value {
    let mut rx = app.bus.subscribe();
    let context = crate::runtime::ids::fresh();
    let mut request = event(
        GET_SLI_TRIGGERED,
        &context,
        None,
        json!({"project": "shop", "stage": "dev", "service": "carts", "labels": {"build": "7"},
               "get-sli": {"sliProvider": "prometheus", "start": "2024-05-01T10:00:00.000Z",
                           "end": "2024-05-01T10:05:00.500Z", "indicators": indicators,
                           "customFilters": [{"key": "handler", "value": "'ItemsController'"}]},
               "deployment": "canary"}),
    );
    request.source = Some("lighthouse-service".into());
    request.gitcommitid = commit.map(str::to_owned);
    let id = request.id.clone();
    app.driver.submit(request).await.unwrap();
    let answered = |ty: &'static str| {
        let id = id.clone();
        move |e: &KeptnEvent| e.event_type.as_deref() == Some(ty) && e.triggeredid == id
    };
    let started = wait_for(&mut rx, "get-sli.started", answered(GET_SLI_STARTED)).await;
    assert_eq!(started.source.as_deref(), Some(SOURCE));
    let finished = wait_for(&mut rx, "get-sli.finished", answered(GET_SLI_FINISHED)).await;
    assert_eq!(finished.gitcommitid.as_deref(), commit);
    finished.data.clone().unwrap()
}

const SLI_PROJECT: &str = r#"spec_version: "1.0"
indicators:
  rt: "histogram_quantile(0.95, rate(x{job='$SERVICE-$PROJECT-$STAGE',h='$handler',H='$HANDLER',d='$DEPLOYMENT',b='$LABEL.build'}[$DURATION_SECONDS]))"
  empty_one: "none_query"
  two: "first_version"
  bad: "broken_query"
"#;

const SLI_SERVICE: &str = "indicators:\n  two: \"multi{job='$SERVICE'}\"\n";

#[tokio::test]
async fn queries_a_prometheus_and_reports_each_indicator() {
    let (app, dir) = app().await;
    create_project(&app, "shop", &["dev"], &["carts"]).await;
    let (endpoint, seen) = fake_prometheus().await;
    configure(&app, Some(&endpoint), true).await;
    put(&app, "shop", None, None, SLI_URI, SLI_PROJECT).await;
    let commit = put(
        &app,
        "shop",
        Some("dev"),
        Some("carts"),
        SLI_URI,
        SLI_SERVICE,
    )
    .await;

    let d = ask(
        &app,
        &["rt", "empty_one", "two", "bad", "throughput", "unknown"],
        Some(&commit),
    )
    .await;
    assert_eq!(d["status"], "succeeded", "{d}");
    assert_eq!(d["result"], "warning");
    assert_eq!(d["labels"], json!({"build": "7"}));
    assert_eq!(d["get-sli"]["end"], "2024-05-01T10:05:00.500Z");
    let values = d["get-sli"]["indicatorValues"].as_array().unwrap().clone();
    let got: Vec<(String, f64, bool, String)> = values
        .iter()
        .map(|v| {
            (
                v["metric"].as_str().unwrap().to_owned(),
                v["value"].as_f64().unwrap(),
                v["success"].as_bool().unwrap(),
                v["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expect = |m: &str, v: f64, ok: bool, msg: &str| (m.to_owned(), v, ok, msg.to_owned());
    assert_eq!(
        got,
        vec![
            expect("rt", 42.5, true, ""),
            expect("empty_one", 0.0, false, "query did not return any values"),
            expect("two", 0.0, false, "query did return multiple values"),
            expect(
                "bad",
                0.0,
                false,
                "unable to query prometheus api: bad_data: parse error"
            ),
            expect("throughput", 42.5, true, ""),
            expect(
                "unknown",
                0.0,
                false,
                "no query found for indicator unknown"
            ),
        ]
    );
    let seen = seen.lock().unwrap().clone();
    let queries: Vec<&str> = seen.iter().map(|(q, _, _)| q.as_str()).collect();
    assert_eq!(
        queries,
        vec![
            "histogram_quantile(0.95, rate(x{job='carts-shop-dev',h='ItemsController',H='ItemsController',d='canary',b='7'}[301s]))",
            "none_query",
            "multi{job='carts'}",
            "broken_query",
            "sum(rate(http_requests_total{job='carts-shop-dev-canary',handler='ItemsController'}[301s]))",
        ]
    );
    assert!(seen.iter().all(|(_, t, _)| t == "1714557900.5"), "{seen:?}");
    // Basic authentication with the password from the secret store ("u:pw").
    assert!(
        seen.iter().all(|(_, _, a)| a == "Basic dTpwdw=="),
        "{seen:?}"
    );

    let d = ask(&app, &["empty_one", "bad"], Some(&commit)).await;
    assert_eq!(d["status"], "succeeded");
    assert_eq!(d["result"], "fail");
    assert_eq!(d["message"], "unable to retrieve metrics");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn an_oversized_prometheus_answer_fails_the_indicator() {
    let (app, dir) = app().await;
    create_project(&app, "shop", &["dev"], &["carts"]).await;
    let (endpoint, _seen) = fake_prometheus().await;
    configure(&app, Some(&endpoint), false).await;
    put(
        &app,
        "shop",
        None,
        None,
        SLI_URI,
        "indicators:\n  big: \"huge_query\"\n",
    )
    .await;
    let d = ask(&app, &["big", "throughput"], None).await;
    let values = d["get-sli"]["indicatorValues"].as_array().unwrap();
    assert_eq!(values[0]["success"], false, "{d}");
    assert_eq!(
        values[0]["message"],
        format!(
            "unable to query prometheus api: the answer is larger than the limit of {} bytes",
            crate::net::http::MAX_RESPONSE_BYTES
        )
    );
    assert_eq!(
        values[1]["success"], true,
        "the next query still works: {d}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn unreachable_server_and_setup_errors() {
    let (app, dir) = app().await;
    create_project(&app, "shop", &["dev"], &["carts"]).await;
    // No endpoint: a setup error.
    configure(&app, None, false).await;
    let d = ask(&app, &["throughput"], None).await;
    assert_eq!(d["status"], "errored", "{d}");
    assert_eq!(d["result"], "fail");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .starts_with("failed to get Prometheus API URL: no Prometheus endpoint"),
        "{d}"
    );
    // Nothing listens: every query fails, like prometheus-service (status succeeded).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    configure(&app, Some(&format!("http://127.0.0.1:{port}")), false).await;
    let d = ask(&app, &["throughput", "error_rate"], None).await;
    assert_eq!(d["status"], "succeeded", "{d}");
    assert_eq!(d["result"], "fail");
    assert_eq!(d["message"], "unable to retrieve metrics");
    for v in d["get-sli"]["indicatorValues"].as_array().unwrap() {
        assert_eq!(v["success"], false);
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .starts_with("unable to query prometheus api: cannot connect"),
            "{v}"
        );
    }
    // An SLI file without indicators: a setup error.
    put(&app, "shop", None, None, SLI_URI, "spec_version: '1.0'\n").await;
    let d = ask(&app, &["throughput"], None).await;
    assert_eq!(d["status"], "errored", "{d}");
    assert_eq!(
        d["message"],
        "unable to retrieve custom queries for project shop: missing required field: indicators"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn quality_gate_end_to_end_with_prometheus() {
    let (app, dir) = app().await;
    create_project(&app, "shop", &["dev"], &["carts"]).await;
    let (endpoint, _seen) = fake_prometheus().await;
    configure(&app, Some(&endpoint), false).await;
    put(&app, "shop", None, None, SLI_URI, SLI_PROJECT).await;
    let slo = "objectives:\n  - sli: rt\n    pass:\n      - criteria: [\"<50\"]\n  - sli: throughput\n    pass:\n      - criteria: [\">40\"]\ntotal_score:\n  pass: \"90%\"\n";
    let commit = put(&app, "shop", Some("dev"), Some("carts"), SLO_URI, slo).await;
    let mut rx = app.bus.subscribe();
    let context = crate::runtime::ids::fresh();
    let mut t = event(
        EVALUATION_TRIGGERED,
        &context,
        None,
        json!({"project": "shop", "stage": "dev", "service": "carts", "evaluation": {"timeframe": "2m"}}),
    );
    t.gitcommitid = Some(commit);
    app.driver.submit(t.clone()).await.unwrap();
    let f = wait_for(&mut rx, "evaluation.finished", |e| {
        e.event_type.as_deref() == Some(EVALUATION_FINISHED) && e.triggeredid == t.id
    })
    .await;
    let d = f.data.clone().unwrap();
    assert_eq!(d["result"], "pass", "{d}");
    assert_eq!(d["evaluation"]["score"], 100);
    assert_eq!(
        d["evaluation"]["indicatorResults"][0]["value"]["value"],
        42.5
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A server opened with the default outbound rules (public addresses only) does not query a
/// Prometheus on loopback: the indicator fails with the refusal, and the fake Prometheus is
/// never asked.
#[tokio::test]
async fn a_loopback_prometheus_is_refused_unless_allowlisted() {
    let dir = std::env::temp_dir().join(format!("sluice-prom-{}", crate::runtime::ids::fresh()));
    let app = crate::open(
        &dir,
        crate::access::auth::ApiToken::from_value("test-token-0123456789"),
    )
    .await
    .unwrap();
    create_project(&app, "shop", &["dev"], &["carts"]).await;
    let (base, seen) = fake_prometheus().await;
    configure(&app, Some(&base), false).await;
    put(
        &app,
        "shop",
        None,
        None,
        SLI_URI,
        "spec_version: '1.0'\nindicators:\n  throughput: up\n",
    )
    .await;
    let d = ask(&app, &["throughput"], None).await;
    let v = &d["get-sli"]["indicatorValues"][0];
    assert_eq!(v["success"], false, "{d}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("unable to query prometheus api: refusing to connect to 127.0.0.1"),
        "{v}"
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "nothing reached Prometheus"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn range_answers_and_steps() {
    let matrix = json!({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {}, "values": [[1, "1.5"], [2, "+Inf"], [3, "2"]]}, {"metric": {}, "values": [[1, "7"]]}]}});
    assert_eq!(series_values(&matrix), Ok(vec![1.5, 2.0, 7.0]));
    assert!(
        series_values(
            &json!({"status": "success", "data": {"resultType": "vector", "result": []}})
        )
        .is_err()
    );
    assert_eq!(
        series_values(
            &json!({"status": "success", "data": {"resultType": "matrix", "result": []}})
        ),
        Err("range query did not return any values".into())
    );
    assert_eq!(range_step(300.5), 1);
    assert_eq!(range_step(3600.0), 2);
    assert_eq!(range_step(0.0), 1);
}

#[tokio::test]
async fn statistical_objectives_get_the_range_query_values_as_samples() {
    let (app, dir) = app().await;
    create_project(&app, "shop", &["dev"], &["carts"]).await;
    let (endpoint, seen) = fake_prometheus().await;
    configure(&app, Some(&endpoint), false).await;
    put(
        &app,
        "shop",
        None,
        None,
        SLI_URI,
        "indicators:\n  rt: \"rt_query\"\n  flat: \"flat_range\"\n  other: \"other_query\"\n",
    )
    .await;
    let commit = put(
        &app,
        "shop",
        Some("dev"),
        Some("carts"),
        SLO_URI,
        "objectives:\n  - sli: rt\n    statistical: {test: mann-whitney}\n  - sli: flat\n    statistical: {test: mann-whitney}\n  - sli: other\n    pass: [{criteria: ['<100']}]\ntotal_score: {pass: '90%'}\n",
    )
    .await;
    let d = ask(&app, &["rt", "flat", "other"], Some(&commit)).await;
    let values = &d["get-sli"]["indicatorValues"];
    assert_eq!(values[0]["value"], 42.5, "{d}");
    assert_eq!(
        values[0]["samples"],
        json!([1.0, 2.0, 3.0, 4.0, 5.0]),
        "{d}"
    );
    // A range query without values: the value stays, without samples, and says why.
    assert_eq!(values[1]["success"], true, "{d}");
    assert!(values[1].get("samples").is_none(), "{d}");
    assert_eq!(
        values[1]["message"],
        "no samples: range query did not return any values"
    );
    // Objectives without a statistical criterion: no range query.
    assert!(values[2].get("samples").is_none(), "{d}");
    let seen = seen.lock().unwrap().clone();
    let ranges: Vec<&(String, String, String)> =
        seen.iter().filter(|s| s.0.starts_with("range ")).collect();
    assert_eq!(ranges.len(), 2, "{seen:?}");
    assert_eq!(ranges[0].0, "range rt_query");
    assert_eq!(ranges[0].1, "1714557600 1714557900.5 1s");
    let _ = std::fs::remove_dir_all(dir);
}
