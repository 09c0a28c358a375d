//! A Keptn integration built on go-utils' cp-connector (job-executor-service,
//! prometheus-service, webhook-service, ...) talking to a real `sluice server`: the requests
//! are replayed exactly as go-utils v0.20.4 (the version of Keptn 1.4.5's integrations) builds
//! them, with `KEPTN_API_ENDPOINT=http://<server>/api`, and every answer is checked for what the
//! Go code reads from it. Also the regression tests for retried deliveries.
//!
//! Paths below are go-utils' (`G:` = github.com/keptn/go-utils@v0.20.4):
//! - the control-plane handlers append `/controlPlane` to the endpoint
//!   (`G:pkg/api/utils/v2/uniformUtils.go` `NewAuthenticatedUniformHandler`, likewise logs and
//!   shipyard controller), `SendEvent` strips it again (`G:pkg/api/utils/v2/apiUtils.go`
//!   `getAPIServicePath`), and resources go to `/resource-service`
//!   (`G:pkg/api/utils/v2/resourceUtils.go` `NewAuthenticatedResourceHandler`);
//! - every request carries `Content-Type: application/json` and the token in `x-token`
//!   (`G:pkg/api/utils/v2/apiServiceUtils.go` `get`/`put`/`post`, `addAuthHeader`;
//!   `G:pkg/api/utils/client.go` `WithAuthToken`); Go's transport adds `User-Agent` and
//!   `Accept-Encoding: gzip`.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::http::{Answer, send};
use crate::scratch;
use crate::server::{Server, TOKEN};

/// `K8S_DEPLOYMENT_NAME`-style name of the replayed integration.
const INTEGRATION: &str = "connector-replay";
const PROJECT: &str = "shop";
const STAGE: &str = "dev";
const SERVICE: &str = "carts";
const DEPLOYMENT_TRIGGERED: &str = "sh.keptn.event.deployment.triggered";
const TEST_TRIGGERED: &str = "sh.keptn.event.test.triggered";
/// A resource the integration reads at the run's commit (as job-executor-service reads its
/// `job/config.yaml`; another name here, so that sluice's own job executor ignores it); the
/// slash is query-escaped in the path, as `url.QueryEscape` does.
const RESOURCE: &str = "connector/settings.yaml";

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2
kind: Shipyard
metadata:
  name: shipyard-shop
spec:
  stages:
    - name: dev
      sequences:
        - name: delivery
          tasks:
            - name: deployment
            - name: test
";

/// One request with the headers go-utils' `apiServiceUtils.go` sets (and Go's transport).
fn go(server: &Server, method: &str, path: &str, body: Option<&Value>) -> Answer {
    let payload = body.map(Value::to_string);
    let headers = [
        ("User-Agent", "Go-http-client/1.1"),
        ("Content-Type", "application/json"),
        ("X-Token", TOKEN),
        ("Accept-Encoding", "gzip"),
    ];
    send(&server.base, method, path, &headers, payload.as_deref())
}

fn ok(a: &Answer) -> Value {
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()
}

fn ok_or_created(a: &Answer) -> Value {
    assert!(
        a.status == 200 || a.status == 201,
        "{} {}",
        a.status,
        a.body
    );
    a.json()
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The project, its service and the resource, as a user sets them up.
fn project(server: &Server) {
    let a = server.call(
        "POST",
        "/api/controlPlane/v1/project",
        Some(&json!({"name": PROJECT, "shipyard": b64(SHIPYARD)})),
    );
    ok_or_created(&a);
    let a = server.call(
        "POST",
        &format!("/api/controlPlane/v1/project/{PROJECT}/service"),
        Some(&json!({"serviceName": SERVICE})),
    );
    ok_or_created(&a);
    write_resource(server, "version: 1\n");
}

fn write_resource(server: &Server, content: &str) {
    let a = server.call(
        "POST",
        &format!(
            "/api/resource-service/v1/project/{PROJECT}/stage/{STAGE}/service/{SERVICE}/resource"
        ),
        Some(&json!({"resources": [{"resourceURI": RESOURCE, "resourceContent": b64(content)}]})),
    );
    ok_or_created(&a);
}

/// A user (or CI) starts a delivery; returns the run's context.
fn trigger(server: &Server, id: Option<&str>) -> (Answer, Value) {
    let mut event = json!({
        "specversion": "1.0",
        "type": format!("sh.keptn.event.{STAGE}.delivery.triggered"),
        "source": "https://github.com/keptn/keptn/cli#configuration-change",
        "contenttype": "application/json",
        "data": {"project": PROJECT, "stage": STAGE, "service": SERVICE},
    });
    if let Some(id) = id {
        event["id"] = json!(id);
    }
    (server.call("POST", "/api/v1/event", Some(&event)), event)
}

/// `G:pkg/api/models/keptn_context_extended_c_e.go` as Go marshals it for an event built by
/// `G:pkg/lib/v0_2_0/events.go` `createEvent` (used by `CreateStartedEvent` and
/// `CreateFinishedEvent`): a new uuid, `triggeredid` = the `.triggered` event's id, its
/// context, no `gitcommitid` (empty, `omitempty`), `time` in Go's RFC 3339 with nanoseconds.
fn answer_event(triggered: &Value, kind: &str, id: &str, data: Value) -> Value {
    let task = triggered["type"]
        .as_str()
        .unwrap()
        .strip_suffix(".triggered")
        .unwrap();
    json!({
        "contenttype": "application/json",
        "data": data,
        "id": id,
        "shkeptncontext": triggered["shkeptncontext"],
        "shkeptnspecversion": "0.2.4",
        "source": INTEGRATION,
        "specversion": "1.0",
        "time": "2026-01-02T03:04:05.123456789Z",
        "triggeredid": triggered["id"],
        "type": format!("{task}.{kind}"),
    })
}

/// `CreateStartedEvent` with nil data: `EventData` decoded from the parent (project, stage,
/// service, labels; empty fields omitted).
fn started(triggered: &Value, id: &str) -> Value {
    let d = &triggered["data"];
    answer_event(
        triggered,
        "started",
        id,
        json!({"project": d["project"], "stage": d["stage"], "service": d["service"]}),
    )
}

/// `CreateFinishedEvent`: the task's result data with `status`/`result` defaulted to
/// `succeeded`/`pass` (`Decode` into a map, so only what the integration returned).
fn finished(triggered: &Value, id: &str, status: &str, result: &str, message: &str) -> Value {
    let d = &triggered["data"];
    answer_event(
        triggered,
        "finished",
        id,
        json!({"project": d["project"], "stage": d["stage"], "service": d["service"],
               "status": status, "result": result, "message": message}),
    )
}

/// `G:pkg/api/utils/v2/apiUtils.go` `SendEvent` → `postWithEventContext`: any 2xx, and a body,
/// when there is one, must decode as `EventContext`.
fn send_event(server: &Server, event: &Value) -> String {
    let a = go(server, "POST", "/api/v1/event", Some(event));
    let body = ok(&a);
    body["keptnContext"]
        .as_str()
        .unwrap_or_else(|| panic!("no keptnContext: {body}"))
        .to_owned()
}

/// `G:pkg/sdk/connector/eventsource/http/http.go` `getEventFilterForSubscription` (a filter
/// field is used only when it names exactly one value) and
/// `G:pkg/api/utils/v2/shipyardControllerUtils.go` `GetOpenTriggeredEvents`
/// (`url.Values.Encode`: keys sorted; expects exactly 200 and `models.Events`, follows
/// `nextPageKey` until it is empty or "0").
fn poll(server: &Server, subscription: &Value) -> Vec<Value> {
    let one = |key: &str| {
        subscription["filter"][key]
            .as_array()
            .filter(|l| l.len() == 1)
            .and_then(|l| l[0].as_str())
            .map(str::to_owned)
    };
    let mut query: Vec<(String, String)> = Vec::new();
    for (param, key) in [
        ("project", "projects"),
        ("service", "services"),
        ("stage", "stages"),
    ] {
        if let Some(v) = one(key) {
            query.push((param.to_owned(), v));
        }
    }
    let event_type = subscription["event"].as_str().unwrap();
    let mut events = Vec::new();
    let mut next: Option<String> = None;
    for _page in 0..100 {
        let mut q = query.clone();
        if let Some(key) = &next {
            q.insert(0, ("nextPageKey".to_owned(), key.clone()));
            q.sort();
        }
        let encoded: Vec<String> = q.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut path = format!("/api/controlPlane/v1/event/triggered/{event_type}");
        if !encoded.is_empty() {
            path = format!("{path}?{}", encoded.join("&"));
        }
        let body = ok(&go(server, "GET", &path, None));
        let page = body["events"]
            .as_array()
            .unwrap_or_else(|| panic!("`events` must be a list: {body}"));
        for event in page {
            check_polled_event(event);
        }
        events.extend(page.iter().cloned());
        match body.get("nextPageKey") {
            None => return events,
            Some(Value::String(k)) if k.is_empty() || k == "0" => return events,
            // `Events.NextPageKey` is a Go string: a number would fail to decode.
            Some(Value::String(k)) => next = Some(k.clone()),
            Some(other) => panic!("nextPageKey must be a string, got {other}"),
        }
    }
    panic!("more than 100 pages of open events");
}

/// What the connector and the SDK read from a polled event (`KeptnContextExtendedCE`,
/// `keptnv2.EventData`, `IsTaskEventType`/`IsTriggeredEventType`).
fn check_polled_event(e: &Value) {
    for key in ["id", "type", "source", "shkeptncontext", "specversion"] {
        assert!(
            e[key].as_str().is_some_and(|v| !v.is_empty()),
            "{key} missing in {e}"
        );
    }
    assert!(
        e["gitcommitid"].as_str().is_some_and(|v| v.len() == 40),
        "the run's commit in gitcommitid: {e}"
    );
    // Go's time.Time decodes RFC 3339 only.
    let time = e["time"].as_str().unwrap();
    assert!(
        time.len() >= 20 && time.as_bytes()[10] == b'T' && time.ends_with('Z'),
        "RFC 3339 time: {time}"
    );
    for key in ["project", "stage", "service"] {
        assert!(e["data"][key].as_str().is_some(), "data.{key} in {e}");
    }
}

/// Registration as `G:pkg/sdk/keptn.go` `RegistrationData` builds it (`PUBSUB_TOPIC` split on
/// commas into filterless subscriptions, `DistributorVersion` "0.15.0", the `K8S_*` variables
/// empty outside Kubernetes, `LOCATION` "control-plane") and `models.Integration` marshals it
/// (empty id, Go's zero `lastseen`, nil filter lists as `null`).
fn registration(topics: &[&str]) -> Value {
    let subscriptions: Vec<Value> = topics
        .iter()
        .map(|t| {
            json!({"id": "", "event": t,
                   "filter": {"projects": null, "stages": null, "services": null}})
        })
        .collect();
    json!({
        "id": "",
        "name": INTEGRATION,
        "metadata": {
            "hostname": "",
            "integrationversion": "",
            "distributorversion": "0.15.0",
            "location": "control-plane",
            "kubernetesmetadata": {"namespace": "", "podname": "", "deploymentname": ""},
            "lastseen": "0001-01-01T00:00:00Z",
        },
        "subscriptions": subscriptions,
    })
}

/// `G:pkg/api/utils/v2/uniformUtils.go` `RegisterIntegration` (via
/// `G:pkg/sdk/connector/subscriptionsource/subscriptionsource.go` `Register`): POST, any 2xx,
/// `RegisterIntegrationResponse{id}`.
fn register(server: &Server, topics: &[&str]) -> (u16, String) {
    let a = go(
        server,
        "POST",
        "/api/controlPlane/v1/uniform/registration",
        Some(&registration(topics)),
    );
    let body = ok_or_created(&a);
    (a.status, body["id"].as_str().unwrap().to_owned())
}

/// `G:pkg/api/utils/v2/uniformUtils.go` `Ping` (the heartbeat of `subscriptionsource.go`, at
/// start and every 5 s): PUT with no body, any 2xx, `models.Integration` whose
/// `subscriptions` the event source polls for.
fn ping(server: &Server, id: &str) -> Value {
    let a = go(
        server,
        "PUT",
        &format!("/api/controlPlane/v1/uniform/registration/{id}/ping"),
        None,
    );
    let body = ok(&a);
    assert_eq!(body["id"], id, "{body}");
    assert_eq!(body["name"], INTEGRATION, "{body}");
    let seen = body["metadata"]["lastseen"].as_str().unwrap_or("");
    assert!(
        seen.starts_with("20") && seen.ends_with('Z'),
        "lastseen is the ping's time: {body}"
    );
    for s in body["subscriptions"].as_array().expect("subscriptions") {
        assert!(s["id"].as_str().is_some_and(|i| !i.is_empty()), "{s}");
        assert!(s["event"].as_str().is_some(), "{s}");
        assert!(s["filter"].is_object(), "{s}");
    }
    body
}

/// The resource at a commit: `G:pkg/api/utils/v2/resourceUtils.go` `GetResource` with
/// `AppendQuery(url.Values{"gitCommitID": ...})` (how integrations pin their reads), then
/// `GetResourceByURI`: 404 is `ResourceNotFoundError`, 2xx decodes `models.Resource` and
/// base64-decodes `resourceContent`.
fn get_resource(server: &Server, uri: &str, commit: &str) -> Answer {
    let escaped = uri.replace('/', "%2F");
    go(
        server,
        "GET",
        &format!(
            "/api/resource-service/v1/project/{PROJECT}/stage/{STAGE}/service/{SERVICE}/resource/{escaped}?gitCommitID={commit}"
        ),
        None,
    )
}

/// Stored events of a run, oldest first.
fn run_events(server: &Server, ctx: &str) -> Vec<Value> {
    let a = server.call(
        "GET",
        &format!("/api/mongodb-datastore/event?keptnContext={ctx}&pageSize=100"),
        None,
    );
    let mut events = ok(&a)["events"].as_array().cloned().unwrap_or_default();
    events.reverse();
    events
}

fn count(events: &[Value], ty: &str) -> usize {
    events
        .iter()
        .filter(|e| e["type"] == format!("sh.keptn.event.{ty}"))
        .count()
}

/// The run's state in the sequence API.
fn run_state(server: &Server, ctx: &str) -> Value {
    let a = server.call(
        "GET",
        &format!("/api/controlPlane/v1/sequence/{PROJECT}?keptnContext={ctx}"),
        None,
    );
    let body = ok(&a);
    body["states"][0].clone()
}

/// The one open `.triggered` event of a type (no filter).
fn open_task(server: &Server, event_type: &str) -> Value {
    let events = poll(server, &json!({"event": event_type, "filter": {}}));
    assert_eq!(events.len(), 1, "one open {event_type}: {events:?}");
    events[0].clone()
}

#[test]
fn a_go_utils_integration_runs_a_sequence_against_sluice() {
    let dir = scratch("connector");
    let server = Server::start(&dir);
    project(&server);

    // 1. Register (PUBSUB_TOPIC with two topics): new → 201 with the integration id.
    let topics = [DEPLOYMENT_TRIGGERED, TEST_TRIGGERED];
    let (status, id) = register(&server, &topics);
    assert_eq!(status, 201);
    assert!(
        id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    // A restarted pod registers again: same id, 200, subscriptions not doubled.
    let (status, again) = register(&server, &topics);
    assert_eq!((status, again.as_str()), (200, id.as_str()));

    // 2. Subscriptions with filters, as the Bridge or `keptn` create them through
    //    `G:pkg/api/utils/v2/uniformUtils.go` `CreateSubscription`: 2xx,
    //    `CreateSubscriptionResponse{id}`.
    for projects in [json!([PROJECT]), json!(["elsewhere"])] {
        let a = go(
            &server,
            "POST",
            &format!("/api/controlPlane/v1/uniform/registration/{id}/subscription"),
            Some(&json!({"id": "", "event": DEPLOYMENT_TRIGGERED,
                         "filter": {"projects": projects, "stages": [STAGE], "services": [SERVICE]}})),
        );
        let body = ok_or_created(&a);
        assert!(body["id"].as_str().is_some_and(|s| !s.is_empty()), "{body}");
    }

    // 3. Heartbeat: the subscriptions to poll for.
    let integration = ping(&server, &id);
    let subscriptions = integration["subscriptions"].as_array().unwrap().clone();
    assert_eq!(subscriptions.len(), 4, "{integration}");

    // Nothing is open yet: every subscription polls an empty list.
    for s in &subscriptions {
        assert!(poll(&server, s).is_empty());
    }

    // 4. A delivery starts; the integration's poll (per subscription) finds the deployment.
    let (a, _) = trigger(&server, None);
    let ctx = ok(&a)["keptnContext"].as_str().unwrap().to_owned();
    let mut seen = Vec::new();
    for s in &subscriptions {
        let events = poll(&server, s);
        let elsewhere = s["filter"]["projects"] == json!(["elsewhere"]);
        let expected = usize::from(s["event"] == DEPLOYMENT_TRIGGERED && !elsewhere);
        assert_eq!(events.len(), expected, "subscription {s}: {events:?}");
        seen.extend(events);
    }
    let triggered = seen[0].clone();
    assert_eq!(triggered["shkeptncontext"], ctx.as_str());
    assert!(seen.iter().all(|e| e["id"] == triggered["id"]));
    let commit = triggered["gitcommitid"].as_str().unwrap().to_owned();

    // The project's files change after the run started; the run keeps its commit.
    write_resource(&server, "version: 2\n");

    // 5. `.started` (`G:pkg/sdk/keptn.go` `OnEvent`), sent through
    //    `G:pkg/sdk/connector/eventsource/http/eventapi.go` `Send`, whose `retry.Do` sends the
    //    same event again when it got no answer: the retry must change nothing.
    let started_event = started(&triggered, "5b0a3a0e-0c1d-4c3e-9f10-000000000001");
    assert_eq!(send_event(&server, &started_event), ctx);
    assert_eq!(send_event(&server, &started_event), ctx, "retried .started");

    // 6. The integration reads its configuration at the run's commit.
    let a = get_resource(&server, RESOURCE, &commit);
    let resource = ok(&a);
    assert_eq!(
        resource["resourceURI"]
            .as_str()
            .unwrap()
            .trim_start_matches('/'),
        RESOURCE
    );
    let content = base64::engine::general_purpose::STANDARD
        .decode(resource["resourceContent"].as_str().unwrap())
        .unwrap();
    assert_eq!(String::from_utf8(content).unwrap(), "version: 1\n");
    assert_eq!(resource["metadata"]["version"], commit.as_str());
    let a = get_resource(&server, "connector/missing.yaml", &commit);
    assert_eq!(a.status, 404, "ResourceNotFoundError: {}", a.body);

    // 7. `.finished` (succeeded): `G:pkg/sdk/connector/controlplane/controlplane.go`
    //    `getSender` first hands it to the log forwarder, which posts nothing for a
    //    non-errored `.finished`.
    let done = finished(
        &triggered,
        "5b0a3a0e-0c1d-4c3e-9f10-000000000002",
        "succeeded",
        "pass",
        "",
    );
    assert_eq!(send_event(&server, &done), ctx);

    // The sequence proceeds: the deployment is no longer open, the test is.
    for s in &subscriptions {
        if s["event"] == DEPLOYMENT_TRIGGERED {
            assert!(poll(&server, s).is_empty(), "deployment still open");
        }
    }
    let test = open_task(&server, TEST_TRIGGERED);
    assert_eq!(test["shkeptncontext"], ctx.as_str());
    assert_eq!(test["gitcommitid"], commit.as_str());

    // 8. The test fails: `.started`, then an errored `.finished`, before which
    //    `G:pkg/sdk/connector/logforwarder/logforwarder.go` `Forward` logs the message
    //    (`G:pkg/api/utils/v2/logUtils.go` `Flush`: POST `CreateLogsRequest`, any 2xx). Go's
    //    zero `time.Time` is sent because `Forward` sets no time.
    assert_eq!(
        send_event(
            &server,
            &started(&test, "5b0a3a0e-0c1d-4c3e-9f10-000000000003")
        ),
        ctx
    );
    let log = json!({"logs": [{
        "integrationid": id,
        "message": "job failed: exit status 1",
        "time": "0001-01-01T00:00:00Z",
        "shkeptncontext": ctx,
        "task": "test",
        "triggeredid": test["id"],
        "gitcommitid": "",
    }]});
    let a = go(&server, "POST", "/api/controlPlane/v1/log", Some(&log));
    assert!((200..=204).contains(&a.status), "{} {}", a.status, a.body);
    let failed = finished(
        &test,
        "5b0a3a0e-0c1d-4c3e-9f10-000000000004",
        "errored",
        "fail",
        "job failed: exit status 1",
    );
    assert_eq!(send_event(&server, &failed), ctx);

    // The log is there for the integration's page in the Bridge (`GetLogs`, `GetLogsResponse`
    // with an int64 `nextPageKey`), with the receive time instead of Go's zero time.
    let a = go(
        &server,
        "GET",
        &format!("/api/controlPlane/v1/log?integrationId={id}&pageSize=10"),
        None,
    );
    let logs = ok(&a);
    assert_eq!(logs["totalCount"], 1, "{logs}");
    let entry = &logs["logs"][0];
    assert_eq!(entry["message"], "job failed: exit status 1");
    assert_eq!(entry["task"], "test");
    assert_eq!(entry["triggeredid"], test["id"]);
    assert_eq!(entry["shkeptncontext"], ctx.as_str());
    assert!(
        !entry["time"].as_str().unwrap().starts_with("0001"),
        "{entry}"
    );
    assert!(logs.get("nextPageKey").is_none_or(Value::is_i64), "{logs}");

    // 9. The run is over: nothing open, one of each answer, the failure recorded.
    for s in &subscriptions {
        assert!(poll(&server, s).is_empty(), "still open for {s}");
    }
    let state = run_state(&server, &ctx);
    assert_eq!(state["state"], "finished", "{state}");
    let events = run_events(&server, &ctx);
    for ty in [
        "deployment.triggered",
        "deployment.started",
        "deployment.finished",
        "test.triggered",
        "test.started",
        "test.finished",
    ] {
        assert_eq!(count(&events, ty), 1, "{ty} once in {events:?}");
    }
    let end = events
        .iter()
        .find(|e| e["type"] == format!("sh.keptn.event.{STAGE}.delivery.finished"))
        .unwrap_or_else(|| panic!("the sequence finished: {events:?}"));
    assert_eq!(end["data"]["result"], "fail", "{end}");
    // The sender's ids are kept, so the integration can find its own events again.
    assert!(events.iter().any(|e| e["id"] == started_event["id"]));

    // The heartbeat goes on, with the same subscriptions.
    let integration = ping(&server, &id);
    assert_eq!(integration["subscriptions"].as_array().unwrap().len(), 4);
}

/// Answers one open task: `.started` `starts` times and `.finished` `finishes` times, each
/// repetition a retry of the same request (same event, same id).
fn answer(server: &Server, event_type: &str, starts: usize, finishes: usize, ctx: &str) {
    let triggered = open_task(server, event_type);
    let task = event_type.trim_end_matches(".triggered");
    let started_event = started(&triggered, &format!("{task}-started-1"));
    for _ in 0..starts {
        assert_eq!(send_event(server, &started_event), ctx);
    }
    let done = finished(
        &triggered,
        &format!("{task}-finished-1"),
        "succeeded",
        "pass",
        "",
    );
    for _ in 0..finishes {
        assert_eq!(send_event(server, &done), ctx);
    }
}

/// Runs a delivery with the given number of deliveries of each answer and checks that it
/// completes with every event stored once.
fn run_with_retries(name: &str, starts: usize, finishes: usize) {
    let dir = scratch(name);
    let server = Server::start(&dir);
    project(&server);
    let (a, _) = trigger(&server, None);
    let ctx = ok(&a)["keptnContext"].as_str().unwrap().to_owned();
    answer(&server, DEPLOYMENT_TRIGGERED, starts, finishes, &ctx);
    answer(&server, TEST_TRIGGERED, starts, finishes, &ctx);
    let state = run_state(&server, &ctx);
    assert_eq!(state["state"], "finished", "{state}");
    let events = run_events(&server, &ctx);
    for ty in [
        "deployment.triggered",
        "deployment.started",
        "deployment.finished",
        "test.triggered",
        "test.started",
        "test.finished",
        "dev.delivery.finished",
    ] {
        assert_eq!(count(&events, ty), 1, "{ty} once in {events:?}");
    }
    assert_eq!(
        events
            .last()
            .map(|e| e["data"]["result"].clone())
            .unwrap_or_default(),
        "pass"
    );
}

#[test]
fn retried_started_is_idempotent() {
    run_with_retries("retried-started", 2, 1);
}

#[test]
fn retried_finished_is_idempotent() {
    run_with_retries("retried-finished", 1, 2);
}

#[test]
fn retried_sequence_trigger_starts_one_run() {
    let dir = scratch("retried-trigger");
    let server = Server::start(&dir);
    project(&server);
    let id = "0f6e2f8c-7d4b-4c55-8a1e-5f5d1c2b3a40";
    let (first, event) = trigger(&server, Some(id));
    let ctx = ok(&first)["keptnContext"].as_str().unwrap().to_owned();
    // The same request again (no context in it): the answer names the first run.
    let again = server.call("POST", "/api/v1/event", Some(&event));
    assert_eq!(ok(&again)["keptnContext"], ctx.as_str());
    let open = poll(
        &server,
        &json!({"event": DEPLOYMENT_TRIGGERED, "filter": {}}),
    );
    assert_eq!(open.len(), 1, "one run: {open:?}");
    let a = server.call(
        "GET",
        &format!("/api/mongodb-datastore/event?project={PROJECT}&type=sh.keptn.event.{STAGE}.delivery.triggered"),
        None,
    );
    assert_eq!(ok(&a)["events"].as_array().map(Vec::len), Some(1));
}
