//! The client commands end to end against a tiny fake HTTP server (std only): the requests
//! they send and how they show the answers.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::{Run, scratch, sluice_env, write};

/// One request the fake server received.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    /// Path with the query string.
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("request body is JSON")
    }
}

/// A canned answer: status, content type, body.
type Answer = (u16, &'static str, String);

type Handler = dyn Fn(&Request) -> Answer + Send + Sync;

/// A fake server on 127.0.0.1:0 answering each request with `handler` and recording it.
struct FakeServer {
    endpoint: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeServer {
    fn start(handler: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let handler: Arc<Handler> = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let recorded = Arc::clone(&recorded);
                let handler = Arc::clone(&handler);
                std::thread::spawn(move || serve(stream, &recorded, &*handler));
            }
        });
        FakeServer { endpoint, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().expect("lock").clone()
    }

    fn find(&self, method: &str, path: &str) -> Request {
        self.requests()
            .into_iter()
            .find(|r| r.method == method && r.target.split('?').next() == Some(path))
            .unwrap_or_else(|| panic!("no {method} {path} in {:#?}", self.requests()))
    }
}

fn serve(stream: TcpStream, recorded: &Mutex<Vec<Request>>, handler: &Handler) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).expect("body");
    let req = Request {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let (status, content_type, text) = handler(&req);
    recorded.lock().expect("lock").push(req);
    let mut stream = stream;
    let head = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        text.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.flush();
}

fn json_answer(status: u16, v: Value) -> Answer {
    (status, "application/json", v.to_string())
}

fn not_found() -> Answer {
    json_answer(404, json!({"code": 404, "message": "not found"}))
}

/// Runs the binary logged in to `server` through the environment.
fn against(server: &FakeServer, home: &Path, args: &[&str]) -> Run {
    sluice_env(
        home,
        &[
            ("SLUICE_ENDPOINT", &server.endpoint),
            ("SLUICE_API_TOKEN", "tok-123"),
        ],
        args,
    )
}

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: sockshop\nspec:\n  stages:\n    - name: dev\n      sequences:\n        - name: delivery\n          tasks:\n            - name: deployment\n            - name: evaluation\n";
const SHIPYARD_BASE64: &str = "YXBpVmVyc2lvbjogc3BlYy5rZXB0bi5zaC8wLjIuMgpraW5kOiBTaGlweWFyZAptZXRhZGF0YToKICBuYW1lOiBzb2Nrc2hvcApzcGVjOgogIHN0YWdlczoKICAgIC0gbmFtZTogZGV2CiAgICAgIHNlcXVlbmNlczoKICAgICAgICAtIG5hbWU6IGRlbGl2ZXJ5CiAgICAgICAgICB0YXNrczoKICAgICAgICAgICAgLSBuYW1lOiBkZXBsb3ltZW50CiAgICAgICAgICAgIC0gbmFtZTogZXZhbHVhdGlvbgo=";

fn project_answer() -> Value {
    json!({
        "projectName": "sockshop",
        "creationDate": "1704207845000000000",
        "shipyard": SHIPYARD,
        "stages": [{"stageName": "dev", "services": [{"serviceName": "carts"}]}]
    })
}

#[test]
fn auth_checks_the_token_and_stores_it_privately() {
    let home = scratch("client-auth");
    let server = FakeServer::start(|r| match (r.method.as_str(), r.target.as_str()) {
        ("POST", "/api/v1/auth") => json_answer(200, json!({})),
        _ => not_found(),
    });
    let endpoint = format!("{}/api", server.endpoint);
    let run = sluice_env(
        &home,
        &[],
        &["auth", "--endpoint", &endpoint, "--api-token", "tok-123"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("tok-123") && !run.stderr.contains("tok-123"));
    let req = server.find("POST", "/api/v1/auth");
    assert_eq!(req.header("x-token"), Some("tok-123"));
    assert!(
        req.header("user-agent")
            .is_some_and(|u| u.starts_with("sluice/")),
        "{req:?}"
    );
    let config = home.join("config.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config)
            .expect("config")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(&config).expect("read")).expect("json");
    assert_eq!(stored["endpoint"], json!(server.endpoint));

    // The stored credentials are used by the next command.
    let run = sluice_env(&home, &[], &["get", "projects", "-o", "json"]);
    assert_eq!(
        run.code, 2,
        "the fake server has no project list: {}",
        run.stderr
    );
    assert_eq!(
        server
            .find("GET", "/api/controlPlane/v1/project")
            .header("x-token"),
        Some("tok-123")
    );
}

#[test]
fn wrong_token_is_refused_and_nothing_is_stored() {
    let home = scratch("client-auth-bad");
    let server =
        FakeServer::start(|_| json_answer(401, json!({"code": 401, "message": "invalid token"})));
    let run = sluice_env(
        &home,
        &[],
        &[
            "auth",
            "--endpoint",
            &server.endpoint,
            "--api-token",
            "nope",
        ],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("rejected the API token"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("invalid token (HTTP 401)"),
        "{}",
        run.stderr
    );
    assert!(!home.join("config.json").exists());
}

#[test]
fn create_project_sends_the_shipyard_in_base64() {
    let home = scratch("client-create");
    let server = FakeServer::start(|r| match (r.method.as_str(), r.target.as_str()) {
        ("POST", "/api/controlPlane/v1/project") => (201, "application/json", String::new()),
        _ => not_found(),
    });
    let file = write(&home, "shipyard.yaml", SHIPYARD);
    let run = against(
        &server,
        &home,
        &["create", "project", "sockshop", "--shipyard", &file],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("Project sockshop created with stages: dev"),
        "{}",
        run.stdout
    );
    let req = server.find("POST", "/api/controlPlane/v1/project");
    assert_eq!(
        req.json(),
        json!({"name": "sockshop", "shipyard": SHIPYARD_BASE64})
    );
    assert_eq!(req.header("x-token"), Some("tok-123"));
}

#[test]
fn an_invalid_shipyard_is_never_sent() {
    let home = scratch("client-create-bad");
    let server = FakeServer::start(|_| json_answer(201, json!({})));
    let file = write(
        &home,
        "shipyard.yaml",
        SHIPYARD.replace("name: dev", "name: Dev_Stage"),
    );
    let run = against(
        &server,
        &home,
        &["create", "project", "sockshop", "--shipyard", &file],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains(&format!("{file}:7:")), "{}", run.stderr);
    assert!(
        run.stderr.contains("not a valid shipyard"),
        "{}",
        run.stderr
    );
    assert!(server.requests().is_empty());
}

#[test]
fn trigger_delivery_sends_keptns_event() {
    let home = scratch("client-delivery");
    let server = FakeServer::start(|r| {
        match (r.method.as_str(), r.target.split('?').next().unwrap_or("")) {
            ("GET", "/api/controlPlane/v1/project/sockshop") => json_answer(200, project_answer()),
            ("POST", "/api/v1/event") => json_answer(200, json!({"keptnContext": "ctx-1"})),
            _ => not_found(),
        }
    });
    let run = against(
        &server,
        &home,
        &[
            "trigger",
            "delivery",
            "--project",
            "sockshop",
            "--service",
            "carts",
            "--image",
            "docker.io/keptnexamples/carts:0.13.1",
            "-l",
            "buildId=17",
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("ID of Keptn context: ctx-1"),
        "{}",
        run.stdout
    );
    let mut ev = server.find("POST", "/api/v1/event").json();
    let id = ev["id"].take();
    assert_eq!(id.as_str().map(str::len), Some(36), "a UUID: {id}");
    assert_eq!(
        ev,
        json!({"specversion": "1.0", "id": null,
               "source": "https://github.com/keptn/keptn/cli#configuration-change",
               "type": "sh.keptn.event.dev.delivery.triggered", "datacontenttype": "application/json",
               "data": {"project": "sockshop", "stage": "dev", "service": "carts", "labels": {"buildId": "17"},
                        "configurationChange": {"values": {"image": "docker.io/keptnexamples/carts:0.13.1"}},
                        "deployment": {"deploymentURIsLocal": null, "deploymentstrategy": ""}}})
    );
}

#[test]
fn bad_input_is_refused_before_sending() {
    let home = scratch("client-bad-input");
    let server = FakeServer::start(|r| {
        match (r.method.as_str(), r.target.split('?').next().unwrap_or("")) {
            ("GET", "/api/controlPlane/v1/project/sockshop") => json_answer(200, project_answer()),
            _ => not_found(),
        }
    });
    let base = [
        "trigger",
        "delivery",
        "--project",
        "sockshop",
        "--service",
        "carts",
    ];
    let with = |extra: &[&str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        against(&server, &home, &a)
    };
    let run = with(&["--image", "carts:1", "--labels", "a=b,c"]);
    assert!(run.stderr.contains("invalid label \"c\""), "{}", run.stderr);
    let run = with(&["--image", "Carts:1"]);
    assert!(run.stderr.contains("invalid image"), "{}", run.stderr);
    let run = with(&["--image", "carts:1", "--stage", "prod"]);
    assert!(
        run.stderr
            .contains("stage \"prod\" not found in project \"sockshop\"; its stages are: dev"),
        "{}",
        run.stderr
    );
    let run = against(
        &server,
        &home,
        &[
            "trigger",
            "delivery",
            "--project",
            "nope",
            "--service",
            "carts",
            "--image",
            "carts:1",
        ],
    );
    assert!(
        run.stderr.contains("project \"nope\" not found"),
        "{}",
        run.stderr
    );
    assert!(server.requests().iter().all(|r| r.method == "GET"));
}

#[test]
fn server_errors_show_their_message() {
    let home = scratch("client-error");
    let server = FakeServer::start(|_| {
        json_answer(
            409,
            json!({"code": 409, "message": "service carts already exists"}),
        )
    });
    let run = against(
        &server,
        &home,
        &["create", "service", "carts", "--project", "sockshop"],
    );
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.trim(),
        "error: service carts already exists (HTTP 409)"
    );
    assert_eq!(
        server
            .find("POST", "/api/controlPlane/v1/project/sockshop/service")
            .json(),
        json!({"serviceName": "carts"})
    );
}

#[test]
fn connection_refused_names_the_endpoint() {
    let home = scratch("client-refused");
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let run = sluice_env(
        &home,
        &[("SLUICE_ENDPOINT", &endpoint), ("SLUICE_API_TOKEN", "t")],
        &["get", "projects"],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains(&endpoint), "{}", run.stderr);
    assert!(run.stderr.contains("sluice server"), "{}", run.stderr);
}

#[test]
fn not_logged_in_says_how_to_log_in() {
    let home = scratch("client-nologin");
    let run = sluice_env(&home, &[], &["get", "projects"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("sluice auth"), "{}", run.stderr);
}

fn context_events(second_result: &str) -> Vec<Value> {
    let d = |extra: Value| {
        let mut base = json!({"project": "sockshop", "stage": "dev", "service": "carts"});
        if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
            b.extend(e);
        }
        base
    };
    vec![
        json!({"id": "t1", "type": "sh.keptn.event.dev.delivery.triggered", "source": "cli", "shkeptncontext": "ctx-1",
               "time": "2024-01-02T15:04:05.000Z", "data": d(json!({}))}),
        json!({"id": "e1", "type": "sh.keptn.event.evaluation.finished", "source": "lighthouse-service", "shkeptncontext": "ctx-1",
               "triggeredid": "x", "time": "2024-01-02T15:04:06.000Z",
               "data": d(json!({"result": second_result, "status": "succeeded", "evaluation": {"score": 42.5}}))}),
        json!({"id": "f1", "type": "sh.keptn.event.dev.delivery.finished", "source": "shipyard-controller", "shkeptncontext": "ctx-1",
               "triggeredid": "t1", "time": "2024-01-02T15:04:07.000Z",
               "data": d(json!({"result": second_result, "status": "succeeded"}))}),
    ]
}

#[test]
fn watch_follows_the_stream_and_fails_with_the_sequence() {
    let home = scratch("client-watch-sse");
    let server = FakeServer::start(|r| {
        match (r.method.as_str(), r.target.split('?').next().unwrap_or("")) {
            ("GET", "/api/controlPlane/v1/project/sockshop") => json_answer(200, project_answer()),
            ("POST", "/api/v1/event") => json_answer(200, json!({"keptnContext": "ctx-1"})),
            ("GET", "/api/sluice/v1/stream") => {
                let body: String = context_events("fail")
                    .iter()
                    .map(|e| format!("id: {}\ndata: {e}\n\n", e["id"].as_str().unwrap_or("")))
                    .collect();
                (200, "text/event-stream", format!(": replay\n{body}"))
            }
            ("GET", "/api/mongodb-datastore/event") => {
                let mut evs = context_events("fail");
                evs.reverse();
                json_answer(200, json!({"events": evs, "totalCount": 3}))
            }
            _ => not_found(),
        }
    });
    let run = against(
        &server,
        &home,
        &[
            "trigger",
            "delivery",
            "--project",
            "sockshop",
            "--service",
            "carts",
            "--image",
            "carts:1",
            "--watch",
        ],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("[dev] sequence delivery triggered for service carts"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("(score 42.5)"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("[dev] sequence delivery finished: fail (succeeded)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("sequence delivery in stage dev failed"),
        "{}",
        run.stderr
    );
    let stream = server.find("GET", "/api/sluice/v1/stream");
    assert_eq!(stream.target, "/api/sluice/v1/stream?keptnContext=ctx-1");
    assert_eq!(stream.header("x-token"), Some("tok-123"));
    // Each event is printed once although the datastore repeats them.
    assert_eq!(
        run.stdout.matches("sequence delivery finished").count(),
        1,
        "{}",
        run.stdout
    );
}

#[test]
fn watch_polls_the_datastore_without_a_stream() {
    let home = scratch("client-watch-poll");
    let server = FakeServer::start(|r| {
        match (r.method.as_str(), r.target.split('?').next().unwrap_or("")) {
            ("GET", "/api/controlPlane/v1/project/sockshop") => json_answer(200, project_answer()),
            (
                "POST",
                "/api/controlPlane/v1/project/sockshop/stage/dev/service/carts/evaluation",
            ) => json_answer(200, json!({"keptnContext": "ctx-1"})),
            ("GET", "/api/mongodb-datastore/event") => {
                let mut evs = context_events("pass");
                evs.reverse();
                json_answer(200, json!({"events": evs, "totalCount": 3}))
            }
            _ => not_found(),
        }
    });
    let run = against(
        &server,
        &home,
        &[
            "trigger",
            "evaluation",
            "--project",
            "sockshop",
            "--stage",
            "dev",
            "--service",
            "carts",
            "--timeframe",
            "10m",
            "--watch",
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("All 1 sequence of context ctx-1 succeeded"),
        "{}",
        run.stdout
    );
    assert_eq!(
        server
            .find(
                "POST",
                "/api/controlPlane/v1/project/sockshop/stage/dev/service/carts/evaluation"
            )
            .json(),
        json!({"timeframe": "10m"})
    );
    let poll = server.find("GET", "/api/mongodb-datastore/event");
    assert!(
        poll.target.contains("keptnContext=ctx-1"),
        "{}",
        poll.target
    );
}

#[test]
fn approve_refuses_to_guess_and_answers_the_chosen_approval() {
    let home = scratch("client-approve");
    let server = FakeServer::start(|r| {
        match (r.method.as_str(), r.target.split('?').next().unwrap_or("")) {
            ("GET", "/api/controlPlane/v1/project/sockshop") => json_answer(200, project_answer()),
            ("GET", "/api/controlPlane/v1/event/triggered/sh.keptn.event.approval.triggered") => {
                json_answer(
                    200,
                    json!({"events": [
                        {"id": "a1", "shkeptncontext": "c1", "type": "sh.keptn.event.approval.triggered",
                         "data": {"project": "sockshop", "stage": "dev", "service": "carts", "result": "warning",
                                  "labels": {"buildId": "7"}, "configurationChange": {"values": {"image": "carts:0.2"}}}},
                        {"id": "a2", "shkeptncontext": "c2", "type": "sh.keptn.event.approval.triggered",
                         "data": {"project": "sockshop", "stage": "dev", "service": "carts", "result": "pass"}}
                    ]}),
                )
            }
            ("POST", "/api/v1/event") => json_answer(200, json!({"keptnContext": "c1"})),
            _ => not_found(),
        }
    });
    let run = against(
        &server,
        &home,
        &["approve", "--project", "sockshop", "--stage", "dev"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("2 open approvals in stage dev"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("carts:0.2"), "{}", run.stderr);
    assert!(server.requests().iter().all(|r| r.method == "GET"));

    let run = against(
        &server,
        &home,
        &[
            "decline",
            "--project",
            "sockshop",
            "--stage",
            "dev",
            "--keptn-context",
            "c1",
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Declined carts carts:0.2 in stage dev"),
        "{}",
        run.stdout
    );
    let list = server.find(
        "GET",
        "/api/controlPlane/v1/event/triggered/sh.keptn.event.approval.triggered",
    );
    assert_eq!(
        list.target,
        "/api/controlPlane/v1/event/triggered/sh.keptn.event.approval.triggered?project=sockshop&stage=dev"
    );
    let ev = server.find("POST", "/api/v1/event").json();
    assert_eq!(ev["type"], "sh.keptn.event.approval.finished");
    assert_eq!(ev["shkeptncontext"], "c1");
    assert_eq!(ev["triggeredid"], "a1");
    assert_eq!(
        ev["data"],
        json!({"project": "sockshop", "stage": "dev", "service": "carts", "labels": {"buildId": "7"},
               "status": "succeeded", "result": "fail"})
    );
}

#[test]
fn add_resource_uploads_to_every_stage() {
    let home = scratch("client-resource");
    let server = FakeServer::start(|r| {
        match (r.method.as_str(), r.target.split('?').next().unwrap_or("")) {
            ("GET", "/api/controlPlane/v1/project/sockshop/stage") => json_answer(
                200,
                json!({"stages": [{"stageName": "dev"}, {"stageName": "prod"}]}),
            ),
            ("POST", p) if p.ends_with("/resource") => {
                json_answer(201, json!({"commitID": "abc123"}))
            }
            _ => not_found(),
        }
    });
    write(&home, "carts/slo.yaml", "spec_version: '1.0'\n");
    let run = sluice_env_in(
        &server,
        &home,
        &[
            "add-resource",
            "--project",
            "sockshop",
            "--service",
            "carts",
            "--all-stages",
            "--resource",
            "./carts/slo.yaml",
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("(commit abc123)"), "{}", run.stdout);
    let posts: Vec<Request> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    let mut targets: Vec<&str> = posts.iter().map(|r| r.target.as_str()).collect();
    targets.sort_unstable();
    assert_eq!(
        targets,
        [
            "/api/resource-service/v1/project/sockshop/stage/dev/service/carts/resource",
            "/api/resource-service/v1/project/sockshop/stage/prod/service/carts/resource",
        ]
    );
    assert_eq!(
        posts[0].json(),
        json!({"resources": [{"resourceURI": "carts/slo.yaml", "resourceContent": "c3BlY192ZXJzaW9uOiAnMS4wJwo="}]})
    );
}

/// Like [`against`], but runs in `dir` so relative paths resolve there.
fn sluice_env_in(server: &FakeServer, dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("HOME", dir)
        .env("SLUICE_CONFIG", dir.join("config.json"))
        .env("SLUICE_ENDPOINT", &server.endpoint)
        .env("SLUICE_API_TOKEN", "tok-123")
        .output()
        .expect("run sluice");
    Run::of(out)
}

#[test]
fn an_upload_over_the_servers_limit_says_so() {
    // A server that, like sluice's, refuses a body over its limit from the headers alone and
    // closes the connection without reading it: the client usually fails while still sending.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && line.trim() != "" {
                line.clear();
            }
            let body = r#"{"code":413,"message":"the request body is too large"}"#;
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    });
    let home = scratch("client-too-large");
    // Incompressible-looking content well over 5 MiB once base64-encoded.
    let big: String = (0..6 * 1024 * 1024 / 16)
        .map(|i| format!("{i:015}\n"))
        .collect();
    write(&home, "big.txt", &big);
    let run = sluice_env(
        &home,
        &[
            ("SLUICE_ENDPOINT", &endpoint),
            ("SLUICE_API_TOKEN", "tok-123"),
        ],
        &[
            "add-resource",
            "--project",
            "sockshop",
            "--stage",
            "dev",
            "--resource",
            home.join("big.txt").to_str().expect("utf-8"),
            "--resourceUri",
            "big.txt",
        ],
    );
    assert_ne!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("too large") || run.stderr.contains("at most 5242880 bytes"),
        "{}",
        run.stderr
    );
}
