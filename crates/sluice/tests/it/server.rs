//! `sluice server` end to end: a delivery of the tutorial project through qa and production,
//! driven by a test executor that answers the job tasks over Keptn's polling API (the built-in
//! approval and evaluation services answer theirs), and a crash test that kills the server with
//! SIGKILL in the middle of a sequence.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::http::{Answer, call};
use crate::{repo_root, scratch};

pub const TOKEN: &str = "integration-test-token-0123456789";

/// A running `sluice server` child process.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Server {
    /// Starts a server on a free loopback port and waits until it listens.
    pub fn start(data_dir: &Path) -> Server {
        Server::start_with(data_dir, &[], &[], None)
    }

    /// Like [`Server::start`], with more flags and environment variables, and optionally
    /// under a lowered open-file limit (soft and hard, set by `prlimit`).
    pub fn start_with(
        data_dir: &Path,
        flags: &[&str],
        env: &[(&str, &str)],
        open_files: Option<u64>,
    ) -> Server {
        Server::start_full(data_dir, flags, env, open_files, Stdio::inherit())
    }

    /// Like [`Server::start_with`], logging at `info` (and above) into `log`.
    pub fn start_logging(data_dir: &Path, flags: &[&str], log: &Path) -> Server {
        let file = std::fs::File::create(log).expect("create the server log");
        Server::start_full(
            data_dir,
            flags,
            &[("SLUICE_LOG", "info")],
            None,
            file.into(),
        )
    }

    fn start_full(
        data_dir: &Path,
        flags: &[&str],
        env: &[(&str, &str)],
        open_files: Option<u64>,
        stderr: Stdio,
    ) -> Server {
        let binary = env!("CARGO_BIN_EXE_sluice");
        let mut command = match open_files {
            Some(n) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}")).arg(binary);
                c
            }
            None => Command::new(binary),
        };
        let mut child = command
            .args([
                "server",
                "--data-dir",
                data_dir.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
            ])
            .args(flags)
            .env("SLUICE_API_TOKEN", TOKEN)
            .env("SLUICE_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start sluice server");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("server printed its address")
                .expect("read stdout");
            if let Some(rest) = line.strip_prefix("sluice server listening on ") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let server = Server { child, base };
        if flags.contains(&"--store") {
            // A replica listens before it leads (and forwards with 503 until some replica
            // does): wait until the API answers.
            let deadline = Instant::now() + Duration::from_secs(60);
            while server.call("GET", "/api/v1/metadata", None).status == 503 {
                assert!(Instant::now() < deadline, "no replica became the leader");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        server
    }

    /// Sends a request with the test token.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        call(&self.base, TOKEN, method, path, body)
    }

    /// The process id (to pause the server with SIGSTOP).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server without warning (SIGKILL).
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    /// Stops the server with SIGTERM and returns its exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("send SIGTERM");
        self.child.wait().expect("wait for the server")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn tutorial_project(server: &Server) {
    let shipyard = std::fs::read(repo_root().join("examples/fulltour/shipyard.yaml")).unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode(shipyard);
    let a = server.call(
        "POST",
        "/api/controlPlane/v1/project",
        Some(&json!({"name": "fulltour", "shipyard": encoded})),
    );
    assert!(
        a.status == 200 || a.status == 201,
        "{} {}",
        a.status,
        a.body
    );
    let a = server.call(
        "POST",
        "/api/controlPlane/v1/project/fulltour/service",
        Some(&json!({"serviceName": "helloservice"})),
    );
    assert!(
        a.status == 200 || a.status == 201,
        "{} {}",
        a.status,
        a.body
    );
}

pub fn trigger_delivery(server: &Server, image: &str) -> String {
    let event = json!({
        "specversion": "1.0",
        "type": "sh.keptn.event.qa.delivery.triggered",
        "source": "https://github.com/keptn/keptn/cli#configuration-change",
        "datacontenttype": "application/json",
        "data": {"project": "fulltour", "stage": "qa", "service": "helloservice",
                 "labels": {"version": "v0.1.1"},
                 "configurationChange": {"values": {"image": image}}}
    });
    let a = server.call("POST", "/api/v1/event", Some(&event));
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["keptnContext"].as_str().unwrap().to_owned()
}

/// Answers one open task of the given type, if there is one; returns whether it did.
fn answer_one(server: &Server, task: &str, result: &str) -> bool {
    let a = server.call(
        "GET",
        &format!(
            "/api/controlPlane/v1/event/triggered/sh.keptn.event.{task}.triggered?project=fulltour"
        ),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let events = a.json()["events"].as_array().cloned().unwrap_or_default();
    let Some(triggered) = events.first() else {
        return false;
    };
    let data = &triggered["data"];
    for (kind, extra) in [
        ("started", json!({})),
        ("finished", finished_data(task, result)),
    ] {
        let mut d = json!({"project": data["project"], "stage": data["stage"], "service": data["service"], "status": "succeeded"});
        if kind == "finished" {
            d["result"] = json!(result);
            for (k, v) in extra.as_object().unwrap() {
                d[k] = v.clone();
            }
        }
        let event = json!({
            "specversion": "1.0",
            "type": format!("sh.keptn.event.{task}.{kind}"),
            "source": "test-executor",
            "shkeptncontext": triggered["shkeptncontext"],
            "triggeredid": triggered["id"],
            "data": d,
        });
        let a = server.call("POST", "/api/v1/event", Some(&event));
        assert_eq!(a.status, 200, "{}", a.body);
    }
    true
}

fn finished_data(task: &str, result: &str) -> Value {
    match task {
        "evaluation" => {
            json!({"evaluation": {"result": result, "score": 100, "indicatorResults": null}})
        }
        "je-deployment" => {
            json!({"deployment": {"deploymentURIsLocal": ["http://127.0.0.1:9000"]}})
        }
        _ => json!({}),
    }
}

pub(crate) fn context_events(server: &Server, ctx: &str) -> Vec<Value> {
    let a = server.call(
        "GET",
        &format!("/api/mongodb-datastore/event?keptnContext={ctx}&pageSize=100"),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let mut events = a.json()["events"].as_array().cloned().unwrap_or_default();
    events.reverse(); // oldest first
    events
}

pub(crate) fn types_of(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            e["type"]
                .as_str()
                .unwrap_or("")
                .trim_start_matches("sh.keptn.event.")
                .to_owned()
        })
        .collect()
}

/// Runs the test executor until `done` holds or the deadline passes.
pub(crate) fn drive(
    server: &Server,
    ctx: &str,
    tasks: &[&str],
    done: &dyn Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let events = context_events(server, ctx);
        if done(&events) {
            return events;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; events so far: {:?}",
            types_of(&events)
        );
        let mut any = false;
        for task in tasks {
            any |= answer_one(server, task, "pass");
        }
        if !any {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

pub(crate) fn has(events: &[Value], ty: &str) -> bool {
    events
        .iter()
        .any(|e| e["type"] == format!("sh.keptn.event.{ty}"))
}

#[test]
fn a_delivery_runs_through_qa_and_production() {
    let dir = scratch("server-e2e");
    let server = Server::start(&dir);
    tutorial_project(&server);
    let ctx = trigger_delivery(&server, "ghcr.io/podtato-head/podtatoserver:v0.1.1");
    let events = drive(&server, &ctx, &["je-deployment", "je-test"], &|ev| {
        has(ev, "production.delivery.finished")
    });
    let flow: Vec<String> = types_of(&events);
    let expected = [
        "qa.delivery.triggered",
        "je-deployment.triggered",
        "je-deployment.started",
        "je-deployment.finished",
        "je-test.triggered",
        "je-test.started",
        "je-test.finished",
        "evaluation.triggered",
        "evaluation.started",
        "evaluation.finished",
        "qa.delivery.finished",
        "production.delivery.triggered",
        "approval.triggered",
        "approval.started",
        "approval.finished",
        "je-deployment.triggered",
        "je-deployment.started",
        "je-deployment.finished",
        "je-test.triggered",
        "je-test.started",
        "je-test.finished",
        "evaluation.triggered",
        "evaluation.started",
        "evaluation.finished",
        "production.delivery.finished",
    ];
    assert_eq!(flow, expected);
    let finished = events
        .iter()
        .find(|e| e["type"] == "sh.keptn.event.production.delivery.finished")
        .unwrap();
    assert_eq!(finished["data"]["result"], "pass");
    assert_eq!(finished["data"]["status"], "succeeded");
    // The production deployment got the image and the qa evaluation through the payload merge.
    let prod_deploy = events
        .iter()
        .filter(|e| e["type"] == "sh.keptn.event.je-deployment.triggered")
        .nth(1)
        .unwrap();
    assert_eq!(prod_deploy["data"]["stage"], "production");
    assert_eq!(
        prod_deploy["data"]["configurationChange"]["values"]["image"],
        "ghcr.io/podtato-head/podtatoserver:v0.1.1"
    );
    // Every task .triggered carries the stage's pinned commit (chained sequence triggers do
    // not, as in Keptn: each stage pins its own head when its sequence starts).
    let task_triggers: Vec<&Value> = events
        .iter()
        .filter(|e| {
            let t = e["type"].as_str().unwrap();
            t.ends_with(".triggered") && t.split('.').count() == 5
        })
        .collect();
    assert_eq!(task_triggers.len(), 7);
    assert!(
        task_triggers
            .iter()
            .all(|e| e["gitcommitid"].as_str().is_some_and(|c| c.len() == 40)),
        "{task_triggers:?}"
    );
    assert!(
        server.terminate().success(),
        "SIGTERM stops the server cleanly"
    );
}

#[test]
fn after_sigkill_running_sequences_continue_and_nothing_is_lost_or_doubled() {
    let dir = scratch("server-crash");
    let server = Server::start(&dir);
    tutorial_project(&server);
    let ctx = trigger_delivery(&server, "ghcr.io/podtato-head/podtatoserver:v0.1.1");
    // Let the first task finish, then crash while je-test is open.
    let _ = drive(&server, &ctx, &["je-deployment"], &|ev| {
        has(ev, "je-test.triggered")
    });
    server.kill();

    let server = Server::start(&dir);
    let events = drive(&server, &ctx, &["je-deployment", "je-test"], &|ev| {
        has(ev, "production.delivery.finished")
    });
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "no event is stored twice");
    let triggered_tests = events
        .iter()
        .filter(|e| e["type"] == "sh.keptn.event.je-test.triggered")
        .count();
    assert_eq!(
        triggered_tests,
        2,
        "je-test triggered once per stage, not again after the restart: {:?}",
        types_of(&events)
    );
    let finished = events
        .iter()
        .find(|e| e["type"] == "sh.keptn.event.production.delivery.finished")
        .unwrap();
    assert_eq!(finished["data"]["result"], "pass");
}

#[test]
fn bad_requests_get_keptns_error_shape_and_store_nothing() {
    let dir = scratch("server-bad");
    let server = Server::start(&dir);
    tutorial_project(&server);
    let cases = [
        (
            Some(json!({"type": "sh.keptn.event.qa.delivery.triggered"})),
            "data",
        ),
        (
            Some(json!({"type": "com.example.nope", "source": "x", "data": {}})),
            "event type",
        ),
        (
            Some(
                json!({"type": "sh.keptn.event.qa.delivery.triggered", "source": "x", "data": {"project": "nope", "stage": "qa", "service": "helloservice"}}),
            ),
            "project not found",
        ),
        (
            Some(
                json!({"type": "sh.keptn.event.qa.delivery.triggered", "source": "x", "data": {"project": "fulltour", "stage": "qa"}}),
            ),
            "service",
        ),
    ];
    for (body, phrase) in cases {
        let a = server.call("POST", "/api/v1/event", body.as_ref());
        assert_eq!(a.status, 400, "{}", a.body);
        let err = a.json();
        assert_eq!(err["code"], 400);
        assert!(
            err["message"].as_str().unwrap().contains(phrase),
            "`{phrase}` not in {}",
            a.body
        );
    }
    let raw = call(&server.base, TOKEN, "POST", "/api/v1/event", None);
    assert_eq!(raw.status, 400, "{}", raw.body);
    let unauthorized = call(
        &server.base,
        "wrong-token-0000000000",
        "GET",
        "/api/controlPlane/v1/project",
        None,
    );
    assert_eq!(unauthorized.status, 401);
    let stored = server
        .call(
            "GET",
            "/api/mongodb-datastore/event?project=fulltour&pageSize=100",
            None,
        )
        .json();
    let types = types_of(stored["events"].as_array().unwrap());
    assert!(
        types.iter().all(|t| !t.contains("delivery")),
        "a rejected event was stored: {types:?}"
    );
}

/// `sluice create secret` of an existing name replaces it: the API answers POST with 409 (as
/// Keptn's secret service) and the CLI then replaces the secret with PUT.
#[test]
fn create_secret_twice_replaces_it_through_the_apis_post_then_put() {
    let dir = scratch("server-secret");
    let server = Server::start(&dir.join("data"));
    let run = |literal: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["create", "secret", "creds", "--from-literal", literal])
            .env("NO_COLOR", "1")
            .env("HOME", &dir)
            .env("SLUICE_CONFIG", dir.join("config.json"))
            .env("SLUICE_ENDPOINT", &server.base)
            .env("SLUICE_API_TOKEN", TOKEN)
            .output()
            .expect("run sluice");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run("first=1");
    let again = json!({"name": "creds", "data": {"x": "y"}});
    let conflict = server.call("POST", "/api/secrets/v1/secret", Some(&again));
    assert_eq!(conflict.status, 409, "{}", conflict.body);
    run("second=2");
    let listed = server
        .call("GET", "/api/secrets/v1/secret?name=creds", None)
        .json();
    assert_eq!(
        listed,
        json!({"Secrets": [{"name": "creds", "scope": "keptn-default", "keys": ["second"]}]})
    );
}

/// A remediation aborted in the middle (its `action` task running) ends aborted, is not
/// re-triggered, and leaves nothing open.
#[test]
fn a_remediation_aborted_in_the_middle_ends_and_is_not_retriggered() {
    let dir = scratch("server-remediation-abort");
    let server = Server::start(&dir);
    let shipyard =
        std::fs::read(repo_root().join("examples/fulltour/shipyard-step5-self-healing.yaml"))
            .unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode(shipyard);
    let a = server.call(
        "POST",
        "/api/controlPlane/v1/project",
        Some(&json!({"name": "fulltour", "shipyard": encoded})),
    );
    assert!(a.status == 201 || a.status == 200, "{}", a.body);
    server.call(
        "POST",
        "/api/controlPlane/v1/project/fulltour/service",
        Some(&json!({"serviceName": "helloservice"})),
    );
    let remediation =
        std::fs::read(repo_root().join("examples/fulltour/remediation.yaml")).unwrap();
    let a = server.call(
        "POST",
        "/api/resource-service/v1/project/fulltour/stage/production/service/helloservice/resource",
        Some(&json!({"resources": [{"resourceURI": "remediation.yaml", "resourceContent": base64::engine::general_purpose::STANDARD.encode(remediation)}]})),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let problem: Value = serde_json::from_slice(
        &std::fs::read(repo_root().join("examples/fulltour/remediation_trigger.json")).unwrap(),
    )
    .unwrap();
    let a = server.call("POST", "/api/v1/event", Some(&problem));
    assert_eq!(a.status, 200, "{}", a.body);
    let ctx = a.json()["keptnContext"].as_str().unwrap().to_owned();
    // get-action answers at once (built in); nobody runs the `action` task here.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !has(&context_events(&server, &ctx), "action.triggered") {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            types_of(&context_events(&server, &ctx))
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let a = server.call(
        "POST",
        &format!("/api/controlPlane/v1/sequence/fulltour/{ctx}/control"),
        Some(&json!({"state": "abort", "stage": ""})),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let deadline = Instant::now() + Duration::from_secs(30);
    let events = loop {
        let events = context_events(&server, &ctx);
        if has(&events, "production.remediation.finished") {
            break events;
        }
        assert!(Instant::now() < deadline, "{:?}", types_of(&events));
        std::thread::sleep(Duration::from_millis(20));
    };
    let finished = events
        .iter()
        .find(|e| e["type"] == "sh.keptn.event.production.remediation.finished")
        .unwrap();
    assert_eq!(finished["data"]["status"], "aborted");
    let triggers = events
        .iter()
        .filter(|e| e["type"] == "sh.keptn.event.production.remediation.triggered")
        .count();
    assert_eq!(
        triggers,
        1,
        "an aborted remediation is not re-triggered: {:?}",
        types_of(&events)
    );
    let open = server.call(
        "GET",
        "/api/controlPlane/v1/event/triggered/sh.keptn.event.action.triggered?project=fulltour",
        None,
    );
    assert_eq!(
        open.json()["events"].as_array().map_or(0, Vec::len),
        0,
        "{}",
        open.body
    );
}
