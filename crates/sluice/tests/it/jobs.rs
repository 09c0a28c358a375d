//! The built-in job executor across a crash of the server: a task that runs when the server is
//! killed (SIGKILL) is adopted by the restarted server and its real result reported, or, when
//! its process is gone too, settled as errored with its output kept.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::scratch;
use crate::server::Server;

/// Bound of every wait (the default job time limit is 300 s: a task settled within this did
/// not wait for its limit).
const DEADLINE: Duration = Duration::from_secs(60);

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: s\nspec:\n  stages:\n    - name: dev\n      sequences:\n        - name: delivery\n          tasks:\n            - name: deployment\n";

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn created(a: &crate::http::Answer) {
    assert!(
        a.status == 200 || a.status == 201,
        "{} {}",
        a.status,
        a.body
    );
}

/// A project `p` with service `svc` whose deployment task runs `script` with `sh -c`.
fn project(server: &Server, script: &str) {
    created(&server.call(
        "POST",
        "/api/controlPlane/v1/project",
        Some(&json!({"name": "p", "shipyard": b64(SHIPYARD)})),
    ));
    created(&server.call(
        "POST",
        "/api/controlPlane/v1/project/p/service",
        Some(&json!({"serviceName": "svc"})),
    ));
    let config = format!(
        "apiVersion: v2\nactions:\n  - name: act\n    events:\n      - name: sh.keptn.event.deployment.triggered\n    tasks:\n      - name: wait\n        image: x\n        cmd: [sh, -c, {}]\n",
        serde_json::to_string(script).unwrap()
    );
    created(&server.call(
        "POST",
        "/api/resource-service/v1/project/p/stage/dev/service/svc/resource",
        Some(&json!({"resources": [{"resourceURI": "job/config.yaml", "resourceContent": b64(&config)}]})),
    ));
}

fn trigger(server: &Server) -> String {
    let event = json!({
        "specversion": "1.0",
        "type": "sh.keptn.event.dev.delivery.triggered",
        "source": "test",
        "datacontenttype": "application/json",
        "data": {"project": "p", "stage": "dev", "service": "svc"}
    });
    let a = server.call("POST", "/api/v1/event", Some(&event));
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["keptnContext"].as_str().unwrap().to_owned()
}

fn events_of(server: &Server, ctx: &str) -> Vec<Value> {
    let a = server.call(
        "GET",
        &format!("/api/mongodb-datastore/event?keptnContext={ctx}&pageSize=100"),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["events"].as_array().cloned().unwrap_or_default()
}

fn find(events: &[Value], ty: &str) -> Option<Value> {
    events
        .iter()
        .find(|e| e["type"] == format!("sh.keptn.event.{ty}"))
        .cloned()
}

/// Polls the API (bounded) until the context has an event of this type.
fn wait_for_event(server: &Server, ctx: &str, ty: &str) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(e) = find(&events_of(server, ctx), ty) {
            return e;
        }
        assert!(Instant::now() < deadline, "no {ty} within {DEADLINE:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

/// Runs a blocking FIFO operation with a bound.
fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(DEADLINE)
        .unwrap_or_else(|_| panic!("{what} did not happen within {DEADLINE:?}"))
}

/// Starts a server, a delivery whose task prints `before`, signals `ready` and waits for a
/// line on `go`; returns when the task is running. Then SIGKILLs the server.
fn crash_during_a_running_job(name: &str) -> (PathBuf, PathBuf, String) {
    let dir = scratch(name);
    let fifos = dir.join("fifos");
    std::fs::create_dir_all(&fifos).unwrap();
    let (ready, go) = (fifos.join("ready"), fifos.join("go"));
    mkfifo(&ready);
    mkfifo(&go);
    let data = dir.join("data");
    let server = Server::start(&data);
    let script = format!(
        "echo before; echo ready > '{}'; read line < '{}'; echo \"after $line\"; exit 0",
        ready.display(),
        go.display()
    );
    project(&server, &script);
    let ctx = trigger(&server);
    let signalled = bounded("the task's start", move || {
        std::fs::read_to_string(ready).expect("read ready")
    });
    assert_eq!(signalled.trim(), "ready");
    server.kill();
    (data, go, ctx)
}

fn logs_output(server: &Server, ctx: &str) -> String {
    let a = server.call(
        "GET",
        &format!("/api/sluice/v1/logs?keptnContext={ctx}"),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["runs"][0]["output"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[test]
fn sigkill_during_a_running_job_the_restarted_server_adopts_it_and_reports_its_result() {
    let (data, go, ctx) = crash_during_a_running_job("job-adopt");
    let server = Server::start(&data);
    // The task still waits on `go`: let it finish now, under the new server.
    bounded("releasing the task", move || {
        std::fs::write(go, "go\n").expect("write go")
    });
    let finished = wait_for_event(&server, &ctx, "deployment.finished");
    assert_eq!(finished["data"]["result"], "pass", "{finished}");
    assert_eq!(finished["data"]["status"], "succeeded");
    let message = finished["data"]["message"].as_str().unwrap_or("");
    assert!(message.contains("before\nafter go"), "{message}");
    let output = logs_output(&server, &ctx);
    assert_eq!(output, "before\nafter go\n");
    wait_for_event(&server, &ctx, "dev.delivery.finished");
}

#[test]
fn sigkill_during_a_running_job_whose_process_dies_too_settles_it_as_errored_with_its_output() {
    let (data, _go, ctx) = crash_during_a_running_job("job-lost");
    // The task's process and its supervisor go as well (as in a power loss).
    let runs = data.join("runs");
    let event_dir = std::fs::read_dir(&runs)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.join("000-000").is_dir())
        .expect("the run directory");
    // The supervisor records the task right after starting it (the task may signal first).
    let process_file = event_dir.join("000-000/process.json");
    let deadline = Instant::now() + DEADLINE;
    let process: Value = loop {
        let read = std::fs::read(&process_file).ok();
        let record = read.and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        if let Some(record) = record.filter(|r| r["task"]["pid"].is_i64()) {
            break record;
        }
        assert!(Instant::now() < deadline, "no process.json");
        std::thread::sleep(Duration::from_millis(10));
    };
    // And the output printed so far has reached the supervisor's copy (a loaded machine may
    // schedule the supervisor after the task's signal): that copy is what must survive.
    let raw = event_dir.join("000-000/output.raw");
    while std::fs::read_to_string(&raw).map_or(true, |t| !t.contains("before\n")) {
        assert!(
            Instant::now() < deadline,
            "no output.raw with the task's first line"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let supervisor = process["supervisor"]["pid"].as_i64().unwrap().to_string();
    let task_group = format!("-{}", process["task"]["pid"].as_i64().unwrap());
    for target in [&supervisor, &task_group] {
        let ok = Command::new("kill")
            .args(["-KILL", "--", target])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {target}");
    }
    let server = Server::start(&data);
    let finished = wait_for_event(&server, &ctx, "deployment.finished");
    assert_eq!(finished["data"]["result"], "fail", "{finished}");
    assert_eq!(finished["data"]["status"], "errored");
    let message = finished["data"]["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with("Task 'wait' failed: the server stopped (it crashed or was killed) while the task was running"),
        "{message}"
    );
    assert!(message.contains("Logs:\nbefore\n"), "{message}");
    assert_eq!(logs_output(&server, &ctx), "before\n");
    let sequence = wait_for_event(&server, &ctx, "dev.delivery.finished");
    assert_eq!(sequence["data"]["result"], "fail");
}
