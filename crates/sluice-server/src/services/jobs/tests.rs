//! End-to-end tests of the job executor through a whole server (store, repositories, driver,
//! bus), with real processes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_model::event::KeptnEvent;
use sluice_resources::{Scope, Upload};
use tokio::sync::broadcast;

use super::record::{self, RunStatus};
use super::{Allowlist, JobExecutor, prune_while_following, runs_dir};
use crate::access::auth::ApiToken;
use crate::runtime::bus::Cancel;
use crate::state::App;

const SHIPYARD: &str = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: s\nspec:\n  stages:\n    - name: dev\n      sequences:\n        - name: delivery\n          tasks:\n            - name: test\n";

/// Bounded wait for anything a test awaits (never reached when things work).
pub(super) const DEADLINE: Duration = Duration::from_secs(30);

pub(super) async fn app() -> Arc<App> {
    let dir = std::env::temp_dir().join(format!(
        "sluice-jobs-{}-{}",
        std::process::id(),
        crate::runtime::ids::fresh()
    ));
    let app = Arc::new(
        crate::open(&dir, ApiToken::from_value("jobs-test-token-0123456789"))
            .await
            .expect("open"),
    );
    app.resources
        .create_project("p", &["dev"], SHIPYARD.as_bytes())
        .expect("project");
    app.resources.create_service("p", "svc").expect("service");
    app.resources.create_service("p", "other").expect("service");
    app
}

pub(super) fn put(app: &App, scope: Scope<'_>, uri: &str, content: &str) {
    app.resources
        .put_resources(
            scope,
            &[Upload {
                uri,
                content: content.as_bytes(),
            }],
        )
        .expect("put resource");
}

pub(super) fn svc() -> Scope<'static> {
    Scope::service("p", "dev", "svc")
}

pub(super) fn triggered(task: &str, service: &str, extra: Value) -> KeptnEvent {
    let mut data = json!({"project": "p", "stage": "dev", "service": service});
    if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            d.insert(k.clone(), v.clone());
        }
    }
    KeptnEvent {
        specversion: Some("1.0".into()),
        id: Some(crate::runtime::ids::fresh()),
        source: Some("shipyard-controller".into()),
        event_type: Some(format!("sh.keptn.event.{task}.triggered")),
        time: Some(crate::runtime::clock::now().to_rfc3339_nano()),
        datacontenttype: Some("application/json".into()),
        shkeptncontext: Some(crate::runtime::ids::fresh()),
        data: Some(data),
        ..KeptnEvent::default()
    }
}

/// Submits a `.triggered` event and waits (bounded) for the server's executor to finish it.
async fn run_through_bus(app: &App, event: KeptnEvent) -> Arc<KeptnEvent> {
    let mut rx = app.bus.subscribe();
    let id = event.id.clone().unwrap_or_default();
    app.driver.submit(event).await.expect("submit");
    wait_for(&mut rx, &id, "finished").await
}

async fn wait_for(
    rx: &mut broadcast::Receiver<Arc<KeptnEvent>>,
    triggered_id: &str,
    kind: &str,
) -> Arc<KeptnEvent> {
    let suffix = format!(".{kind}");
    tokio::time::timeout(DEADLINE, async {
        loop {
            match rx.recv().await {
                Ok(ev)
                    if ev.triggeredid.as_deref() == Some(triggered_id)
                        && ev
                            .event_type
                            .as_deref()
                            .is_some_and(|t| t.ends_with(&suffix)) =>
                {
                    return ev;
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("bus closed"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no .{kind} event for {triggered_id} within {DEADLINE:?}"))
}

/// A second executor with its own allowlist, driven directly (the event is not stored, so
/// the server's own executor never sees it); returns when the handling is complete.
async fn run_directly(app: &App, allowlist: Allowlist, event: KeptnEvent) {
    let executor = Arc::new(JobExecutor::new(
        app.store.clone(),
        app.resources.clone(),
        app.driver.clone(),
        runs_dir(&app.data_dir),
        allowlist,
    ));
    let handle = executor.dispatch(Arc::new(event)).expect("dispatched");
    tokio::time::timeout(DEADLINE, handle)
        .await
        .expect("handled in time")
        .expect("no panic");
}

pub(super) fn data(ev: &KeptnEvent) -> &Value {
    ev.data_value()
}

pub(super) fn message(ev: &KeptnEvent) -> String {
    data(ev)["message"].as_str().unwrap_or("").to_owned()
}

pub(super) fn config(task: &str, body: &str) -> String {
    format!(
        "apiVersion: v2\nactions:\n  - name: act\n    events:\n      - name: sh.keptn.event.{task}.triggered\n    tasks:\n{body}"
    )
}

#[tokio::test]
async fn a_test_task_runs_with_env_files_expansion_and_artifacts() {
    let app = app().await;
    put(&app, svc(), "scripts/hello.txt", "file-content\n");
    let body = r#"      - name: greet
        image: alpine:3
        files: [/scripts]
        env:
          - name: IMAGE
            value: $.data.configurationChange.values.image
            valueFrom: event
          - name: VALUES
            value: $.data.configurationChange.values
            valueFrom: event
            as: yaml
          - name: LITERAL
            value: lit
            valueFrom: string
          - name: OUT
            value: /keptn/out
            valueFrom: string
        cmd: [sh]
        args:
          - -c
          - 'echo hello $KEPTN_SERVICE $IMAGE $LABELS_BUILD_ID; echo "$VALUES"; cat "$1"; echo arg=$2; echo art > "$OUT/report.txt"; pwd'
          - sh
          - /keptn/scripts/hello.txt
          - $(KEPTN_PROJECT)-$(LITERAL)-$(NOPE)
"#;
    put(&app, svc(), "job/config.yaml", &config("test", body));
    let event = triggered(
        "test",
        "svc",
        json!({"labels": {"build-id": "42"}, "configurationChange": {"values": {"image": "nginx:1.2"}}}),
    );
    let id = event.id.clone().unwrap_or_default();
    let finished = run_through_bus(&app, event).await;
    let d = data(&finished);
    assert_eq!(d["result"], "pass", "{d}");
    assert_eq!(d["status"], "succeeded");
    assert_eq!(d["project"], "p");
    assert_eq!(d["service"], "svc");
    assert_eq!(d["labels"]["build-id"], "42");
    assert_eq!(finished.source.as_deref(), Some(super::SOURCE));
    let keptn_dir = record::task_dir(&runs_dir(&app.data_dir), &id, 0, 0).join("keptn");
    let expected = format!(
        "Task 'greet' finished successfully!\n\nLogs:\nhello svc nginx:1.2 42\nimage: nginx:1.2\n\nfile-content\narg=p-lit-$(NOPE)\n{}\n\n\n",
        keptn_dir.display()
    );
    // `as: yaml` text ends with a newline (as yaml.Marshal's did); echo adds one.
    assert_eq!(message(&finished), expected);
    assert!(
        d["test"]["start"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z')),
        "{d}"
    );
    assert!(d["test"]["end"].is_string());

    // A started event came first, with a deterministic id.
    let events = app
        .store
        .events_of_context(finished.shkeptncontext.as_deref().unwrap_or(""))
        .await
        .unwrap();
    let types: Vec<&str> = events
        .iter()
        .filter_map(|e| e.event_type.as_deref())
        .collect();
    assert_eq!(
        types,
        vec![
            "sh.keptn.event.test.triggered",
            "sh.keptn.event.test.started",
            "sh.keptn.event.test.finished"
        ]
    );
    assert_eq!(
        finished.id.as_deref(),
        Some(crate::runtime::ids::derived(&id, "job-executor.finished").as_str())
    );

    // The record, the output file and the artifact; the copied inputs are gone.
    let runs = record::read_runs(&runs_dir(&app.data_dir), &id);
    assert_eq!(runs.len(), 1);
    let (rec, output) = &runs[0];
    assert_eq!(rec.status, RunStatus::Succeeded);
    assert_eq!(rec.exit_code, Some(0));
    assert_eq!(rec.image, "alpine:3");
    assert_eq!(rec.task, "test");
    assert_eq!(rec.config_level, "service");
    assert!(output.starts_with("hello svc nginx:1.2 42\n"), "{output}");
    assert_eq!(
        rec.artifacts,
        vec![record::Artifact {
            path: "report.txt".into(),
            size: 4
        }]
    );
    assert!(keptn_dir.join("out/report.txt").is_file());
    assert!(!keptn_dir.join("scripts").exists());

    // The logs endpoint serves the same.
    let (status, body) =
        get_logs(&app, finished.shkeptncontext.as_deref().unwrap_or(""), None).await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["runs"][0]["triggeredId"], id.as_str());
    assert_eq!(v["runs"][0]["taskName"], "greet");
    assert_eq!(v["runs"][0]["status"], "succeeded");
    assert_eq!(v["runs"][0]["artifacts"][0]["path"], "report.txt");
    assert!(
        v["runs"][0]["output"]
            .as_str()
            .unwrap()
            .contains("file-content")
    );
    let (_, filtered) = get_logs(
        &app,
        finished.shkeptncontext.as_deref().unwrap_or(""),
        Some("deployment"),
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&filtered).unwrap()["runs"],
        json!([])
    );
}

pub(super) async fn get_logs(app: &Arc<App>, context: &str, task: Option<&str>) -> (u16, String) {
    use tower::ServiceExt;
    let mut uri = format!("/api/sluice/v1/logs?keptnContext={context}");
    if let Some(t) = task {
        uri.push_str(&format!("&task={t}"));
    }
    let request = axum::http::Request::builder()
        .uri(uri)
        .header("x-token", "jobs-test-token-0123456789")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = crate::api::router(app.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn the_service_config_wins_over_stage_and_project() {
    let app = app().await;
    let echo = |what: &str| {
        config(
            "deployment",
            &format!("      - name: t\n        image: x\n        cmd: [echo, {what}]\n"),
        )
    };
    put(
        &app,
        Scope::project("p"),
        "job/config.yaml",
        &echo("from-project"),
    );
    put(
        &app,
        Scope::stage("p", "dev"),
        "job/config.yaml",
        &echo("from-stage"),
    );
    put(&app, svc(), "job/config.yaml", &echo("from-service"));

    let f = run_through_bus(&app, triggered("deployment", "svc", json!({}))).await;
    assert!(message(&f).contains("from-service"), "{}", message(&f));
    // No test span for other tasks.
    assert!(data(&f).get("test").is_none());

    let f = run_through_bus(&app, triggered("deployment", "other", json!({}))).await;
    assert!(message(&f).contains("from-stage"), "{}", message(&f));

    app.resources
        .delete_resource(Scope::stage("p", "dev"), "job/config.yaml")
        .unwrap();
    let f = run_through_bus(&app, triggered("deployment", "other", json!({}))).await;
    assert!(message(&f).contains("from-project"), "{}", message(&f));
}

#[tokio::test]
async fn a_failing_task_fails_the_action_with_its_output_tail() {
    let app = app().await;
    let body = "      - name: boom\n        image: x\n        cmd: [sh, -c, 'echo line1; echo oops >&2; exit 3']\n      - name: never\n        image: x\n        cmd: [echo, never]\n";
    put(&app, svc(), "job/config.yaml", &config("deployment", body));
    let event = triggered("deployment", "svc", json!({}));
    let id = event.id.clone().unwrap_or_default();
    let f = run_through_bus(&app, event).await;
    assert_eq!(data(&f)["result"], "fail");
    assert_eq!(data(&f)["status"], "errored");
    assert_eq!(
        message(&f),
        "Task 'boom' failed: exited with code 3\n\nLogs:\nline1\noops\n\n\n"
    );
    let runs = record::read_runs(&runs_dir(&app.data_dir), &id);
    assert_eq!(runs.len(), 1, "the second task must not run");
    assert_eq!(runs[0].0.exit_code, Some(3));
    assert_eq!(runs[0].0.status, RunStatus::Failed);
}

/// Runs one job task through the bus: the runs directory and the task's event id.
async fn one_job_run(app: &App) -> (PathBuf, String) {
    let body = "      - name: hello\n        image: x\n        cmd: [echo, hello]\n";
    put(app, svc(), "job/config.yaml", &config("deployment", body));
    let event = triggered("deployment", "svc", json!({}));
    let id = event.id.clone().unwrap_or_default();
    run_through_bus(app, event).await;
    let runs = runs_dir(&app.data_dir);
    assert_eq!(record::read_runs(&runs, &id).len(), 1);
    (runs, id)
}

/// A run stays while it is younger than the retention and goes after it.
#[tokio::test]
async fn runs_past_the_retention_are_pruned() {
    let app = app().await;
    let (runs, id) = one_job_run(&app).await;
    let executor = JobExecutor::new(
        app.store.clone(),
        app.resources.clone(),
        app.driver.clone(),
        runs.clone(),
        Allowlist::parse("echo"),
    );
    executor.prune(Duration::from_secs(3600)).await;
    assert_eq!(record::read_runs(&runs, &id).len(), 1);
    executor.prune(Duration::ZERO).await;
    assert!(record::read_runs(&runs, &id).is_empty());
    assert!(!record::event_dir(&runs, &id).exists());
}

/// A follower prunes the runs it made while it led before (a first pass at once), until it
/// is told to stop; the stop waits for the pass under way.
#[tokio::test]
async fn a_follower_prunes_its_own_runs_until_it_leads() {
    let app = app().await;
    let (runs, id) = one_job_run(&app).await;
    for (retention, kept) in [(Duration::from_secs(3600), 1), (Duration::ZERO, 0)] {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let pruner = prune_while_following(&app.data_dir, retention, stopped);
        drop(stop);
        pruner.await.unwrap();
        assert_eq!(record::read_runs(&runs, &id).len(), kept, "{retention:?}");
    }
    assert!(!record::event_dir(&runs, &id).exists());
}

#[tokio::test]
async fn missing_files_fail_the_task() {
    let app = app().await;
    let body =
        "      - name: t\n        image: x\n        files: [nope/dir]\n        cmd: [echo, hi]\n";
    put(&app, svc(), "job/config.yaml", &config("deployment", body));
    let f = run_through_bus(&app, triggered("deployment", "svc", json!({}))).await;
    assert_eq!(data(&f)["result"], "fail");
    assert!(
        message(&f).contains("could not find file or directory nope/dir"),
        "{}",
        message(&f)
    );
}

#[tokio::test]
async fn working_directories() {
    let app = app().await;
    let cfg = |wd: &str| {
        config(
            "deployment",
            &format!(
                "      - name: t\n        image: x\n        workingDir: {wd}\n        cmd: [pwd]\n"
            ),
        )
    };
    put(&app, svc(), "job/config.yaml", &cfg("/keptn/sub"));
    let event = triggered("deployment", "svc", json!({}));
    let id = event.id.clone().unwrap_or_default();
    let f = run_through_bus(&app, event).await;
    let sub = record::task_dir(&runs_dir(&app.data_dir), &id, 0, 0).join("keptn/sub");
    assert!(
        message(&f).contains(&format!("{}\n", sub.display())),
        "{}",
        message(&f)
    );

    put(&app, svc(), "job/config.yaml", &cfg("/"));
    let f = run_through_bus(&app, triggered("deployment", "svc", json!({}))).await;
    assert!(message(&f).contains("Logs:\n/\n"), "{}", message(&f));

    put(&app, svc(), "job/config.yaml", &cfg("/no/such/dir"));
    let f = run_through_bus(&app, triggered("deployment", "svc", json!({}))).await;
    assert!(message(&f).contains("the working directory /no/such/dir does not exist"));

    put(&app, svc(), "job/config.yaml", &cfg("/keptn/../.."));
    let f = run_through_bus(&app, triggered("deployment", "svc", json!({}))).await;
    assert!(message(&f).contains("must not leave"), "{}", message(&f));
}

#[tokio::test]
async fn the_time_limit_kills_the_task() {
    let app = app().await;
    let body = "      - name: slow\n        image: x\n        maxPollDuration: 1\n        cmd: [sleep, '30']\n";
    put(&app, svc(), "job/config.yaml", &config("deployment", body));
    let began = Instant::now();
    let f = run_through_bus(&app, triggered("deployment", "svc", json!({}))).await;
    assert!(began.elapsed() < Duration::from_secs(25));
    assert_eq!(data(&f)["result"], "fail");
    assert!(
        message(&f).starts_with("Task 'slow' failed: job exceeded its time limit of 1 seconds"),
        "{}",
        message(&f)
    );
}

fn mkfifo(path: &Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo")
        .success();
    assert!(ok);
}

/// Whether a process no longer runs (gone, or a zombie nobody reaped yet).
fn is_gone(pid: u32) -> bool {
    let alive = std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    if !alive {
        return true;
    }
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

#[tokio::test]
async fn an_abort_kills_the_process_group_and_sends_no_finished_event() {
    let app = app().await;
    let fifos: PathBuf = app.data_dir.join("fifos");
    std::fs::create_dir_all(&fifos).unwrap();
    let (alive, pids) = (fifos.join("alive"), fifos.join("pids"));
    mkfifo(&alive);
    mkfifo(&pids);
    // Every process of the group holds `alive` open: the reader sees its end only when all
    // of them are gone.
    let script = format!(
        "exec 3>'{}'; sleep 30 & echo $! >'{}'; sleep 30",
        alive.display(),
        pids.display()
    );
    let body = format!(
        "      - name: hang\n        image: x\n        cmd: [sh, -c, {}]\n",
        serde_json::to_string(&script).unwrap()
    );
    put(&app, svc(), "job/config.yaml", &config("deployment", &body));
    let event = triggered("deployment", "svc", json!({}));
    let id = event.id.clone().unwrap_or_default();
    let context = event.shkeptncontext.clone().unwrap_or_default();
    let mut rx = app.bus.subscribe();
    app.driver.submit(event).await.unwrap();
    wait_for(&mut rx, &id, "started").await;

    let alive_reader = {
        let alive = alive.clone();
        tokio::task::spawn_blocking(move || std::fs::File::open(alive).expect("open alive"))
    };
    let pid_text = tokio::time::timeout(
        DEADLINE,
        tokio::task::spawn_blocking(move || std::fs::read_to_string(pids).expect("read pids")),
    )
    .await
    .expect("the task started in time")
    .unwrap();
    let background: u32 = pid_text.trim().parse().expect("a pid");
    let mut alive_file = tokio::time::timeout(DEADLINE, alive_reader)
        .await
        .unwrap()
        .unwrap();
    assert!(!is_gone(background));

    app.bus.cancel(Cancel {
        keptn_context: context.clone(),
        task: "deployment".into(),
        triggered_id: id.clone(),
    });
    let began = Instant::now();
    tokio::time::timeout(
        DEADLINE,
        tokio::task::spawn_blocking(move || {
            let mut sink = Vec::new();
            std::io::Read::read_to_end(&mut alive_file, &mut sink).ok();
        }),
    )
    .await
    .expect("the process group ended in time")
    .unwrap();
    assert!(began.elapsed() < Duration::from_secs(25));
    // Its descriptors are closed: it is exiting (the kernel closes files before the process
    // becomes a zombie, so wait, bounded, for that last step).
    tokio::time::timeout(DEADLINE, async {
        while !is_gone(background) {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the background sleep {background} survived"));

    // The run is recorded as aborted (written right after the group ended) and no finished
    // event was sent.
    let dir = runs_dir(&app.data_dir);
    let recorded = tokio::time::timeout(DEADLINE, async {
        loop {
            let runs = record::read_runs(&dir, &id);
            if runs
                .first()
                .is_some_and(|(r, _)| r.status != RunStatus::Running)
            {
                return runs;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the run was recorded");
    assert_eq!(recorded[0].0.status, RunStatus::Aborted);
    let events = app.store.events_of_context(&context).await.unwrap();
    assert!(
        events
            .iter()
            .all(|e| !e.event_type.as_deref().unwrap_or("").ends_with(".finished")),
        "no finished event after an abort"
    );
}

#[tokio::test]
async fn secrets_become_variables_and_never_leave_the_process() {
    let app = app().await;
    let secret = "hunter2-very-secret";
    app.store
        .set_secret(
            "creds",
            &BTreeMap::from([("SECRET_X".to_owned(), secret.to_owned())]),
        )
        .await
        .unwrap();
    let body = "      - name: leak\n        image: x\n        env:\n          - name: creds\n            valueFrom: secret\n        cmd: [sh, -c, 'echo token=$SECRET_X; echo \"$SECRET_X\" >&2; exit 1']\n";
    put(&app, svc(), "job/config.yaml", &config("deployment", body));
    let event = triggered("deployment", "svc", json!({}));
    let id = event.id.clone().unwrap_or_default();
    let f = run_through_bus(&app, event).await;
    assert_eq!(
        message(&f),
        "Task 'leak' failed: exited with code 1\n\nLogs:\ntoken=***\n***\n\n\n"
    );
    let events = app
        .store
        .events_of_context(f.shkeptncontext.as_deref().unwrap_or(""))
        .await
        .unwrap();
    for e in &events {
        assert!(!e.to_json(Default::default()).contains(secret));
    }
    let runs = record::read_runs(&runs_dir(&app.data_dir), &id);
    assert_eq!(runs[0].1, "token=***\n***\n");
    let stored = std::fs::read_to_string(
        record::task_dir(&runs_dir(&app.data_dir), &id, 0, 0).join(record::RECORD_FILE),
    )
    .unwrap();
    assert!(!stored.contains(secret));

    // A missing secret fails the task by name.
    let body = "      - name: t\n        image: x\n        env:\n          - name: nope\n            valueFrom: secret\n        cmd: [echo]\n";
    put(&app, svc(), "job/config.yaml", &config("deployment", body));
    let f = run_through_bus(&app, triggered("deployment", "svc", json!({}))).await;
    assert!(
        message(&f).contains("secret `nope` does not exist"),
        "{}",
        message(&f)
    );
}

#[tokio::test]
async fn the_allowlist_is_checked_for_every_task_before_any_runs() {
    let app = app().await;
    let body = "      - name: allowed\n        image: x\n        cmd: ['true']\n      - name: refused\n        image: x\n        cmd: [sh, -c, 'exit 0']\n";
    put(&app, svc(), "job/config.yaml", &config("deployment", body));
    let event = triggered("deployment", "svc", json!({}));
    let id = event.id.clone().unwrap_or_default();
    let context = event.shkeptncontext.clone().unwrap_or_default();
    run_directly(&app, Allowlist::parse("true, helm"), event).await;
    let events = app.store.events_of_context(&context).await.unwrap();
    let finished = events
        .iter()
        .find(|e| e.event_type.as_deref() == Some("sh.keptn.event.deployment.finished"))
        .expect("a finished event");
    assert_eq!(data(finished)["result"], "fail");
    assert_eq!(
        message(finished),
        "Forbidden: command sh does not match the allowed command list"
    );
    let runs = record::read_runs(&runs_dir(&app.data_dir), &id);
    assert_eq!(runs.len(), 1, "only the refusal is recorded; nothing ran");
    assert_eq!(runs[0].0.task_name, "refused");
    assert_eq!(runs[0].0.status, RunStatus::Failed);

    // Globs over resolved paths.
    let event = triggered("deployment", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap_or_default();
    run_directly(&app, Allowlist::parse("/usr/bin/*, /bin/*"), event).await;
    let events = app.store.events_of_context(&context).await.unwrap();
    assert!(events.iter().any(|e| data(e)["result"] == "pass"));
}

#[tokio::test]
async fn yaml_depth_bomb_stored_job_config_is_logged_and_nothing_is_sent() {
    let app = app().await;
    // Stored directly, as an older version without upload checks could have.
    put(
        &app,
        svc(),
        "job/config.yaml",
        &format!("a:\n  {}x\n", "- ".repeat(35_000)),
    );
    let event = triggered("deployment", "svc", json!({}));
    let id = event.id.clone().unwrap_or_default();
    let context = event.shkeptncontext.clone().unwrap_or_default();
    run_directly(&app, Allowlist::default(), event).await;
    let errors = record::read_errors(&runs_dir(&app.data_dir), &id);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].message.contains("job/config.yaml:2:")
            && errors[0].message.contains("nested more than 128 levels"),
        "{}",
        errors[0].message
    );
    assert!(
        app.store
            .events_of_context(&context)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn an_invalid_config_is_logged_and_nothing_is_sent() {
    let app = app().await;
    put(
        &app,
        svc(),
        "job/config.yaml",
        "apiVersion: v1\nactions: []\n",
    );
    let event = triggered("deployment", "svc", json!({}));
    let id = event.id.clone().unwrap_or_default();
    let context = event.shkeptncontext.clone().unwrap_or_default();
    run_directly(&app, Allowlist::default(), event).await;
    let errors = record::read_errors(&runs_dir(&app.data_dir), &id);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].message.contains("apiVersion"),
        "{}",
        errors[0].message
    );
    assert_eq!(errors[0].keptn_context, context);
    assert!(
        app.store
            .events_of_context(&context)
            .await
            .unwrap()
            .is_empty()
    );

    // No config at all, or no matching action: nothing either.
    app.resources
        .delete_resource(svc(), "job/config.yaml")
        .unwrap();
    let event = triggered("deployment", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap_or_default();
    run_directly(&app, Allowlist::default(), event).await;
    assert!(
        app.store
            .events_of_context(&context)
            .await
            .unwrap()
            .is_empty()
    );
    put(
        &app,
        svc(),
        "job/config.yaml",
        &config(
            "test",
            "      - name: t\n        image: x\n        cmd: [echo]\n",
        ),
    );
    let event = triggered("deployment", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap_or_default();
    run_directly(&app, Allowlist::default(), event).await;
    assert!(
        app.store
            .events_of_context(&context)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn silent_actions_run_and_the_first_loud_one_answers() {
    let app = app().await;
    let cfg = r#"apiVersion: v2
actions:
  - name: quiet
    silent: true
    events:
      - name: "sh.keptn.event.*.triggered"
    tasks:
      - {name: q, image: x, cmd: [echo, quiet]}
  - name: loud
    events:
      - name: sh.keptn.event.action.triggered
        jsonpath: {property: $.data.action.action, match: scale}
    tasks:
      - {name: l, image: x, cmd: [echo, loud]}
  - name: never
    events:
      - name: sh.keptn.event.action.triggered
    tasks:
      - {name: n, image: x, cmd: [echo, never]}
"#;
    put(&app, svc(), "job/config.yaml", cfg);
    let event = triggered("action", "svc", json!({"action": {"action": "scale"}}));
    let id = event.id.clone().unwrap_or_default();
    let f = run_through_bus(&app, event).await;
    assert!(message(&f).contains("loud"), "{}", message(&f));
    let runs = record::read_runs(&runs_dir(&app.data_dir), &id);
    let names: Vec<&str> = runs.iter().map(|(r, _)| r.action.as_str()).collect();
    assert_eq!(names, vec!["quiet", "loud"]);
}

#[tokio::test]
async fn a_burst_asks_a_head_once_and_the_next_burst_sees_the_new_commit() {
    use super::config::{ConfigCache, Heads};
    let app = app().await;
    put(&app, Scope::project("p"), "job/config.yaml", "project-1");
    let cache = ConfigCache::default();
    let text = |found: Option<super::config::FoundConfig>| found.map(|f| f.text.to_string());
    assert_eq!(
        text(cache.find(&app.resources, "p", "dev", "svc", None)),
        Some("project-1".into())
    );
    let mut burst = Heads::default();
    let cached = |heads: &mut Heads| {
        cache
            .cached(&app.resources, "p", "dev", "svc", None, heads)
            .map(text)
    };
    assert_eq!(cached(&mut burst), Some(Some("project-1".into())));
    put(&app, Scope::project("p"), "job/config.yaml", "project-2");
    // Within the burst (its events were all published before the first question) the
    // answer stays; the next burst asks again and finds a commit it must read.
    assert_eq!(cached(&mut burst), Some(Some("project-1".into())));
    assert_eq!(cached(&mut Heads::default()), None);
    assert_eq!(
        text(cache.find(&app.resources, "p", "dev", "svc", None)),
        Some("project-2".into())
    );
    assert_eq!(
        cached(&mut Heads::default()),
        Some(Some("project-2".into()))
    );
}

#[tokio::test]
async fn configs_are_read_at_the_pinned_commit_and_the_project_level_at_the_latest() {
    let app = app().await;
    put(&app, Scope::project("p"), "job/config.yaml", "project-1");
    put(&app, svc(), "job/config.yaml", "service-1");
    let pinned = app.resources.project_head("p").unwrap().to_string();
    app.resources
        .delete_resource(svc(), "job/config.yaml")
        .unwrap();
    put(&app, Scope::project("p"), "job/config.yaml", "project-2");
    let cache = super::config::ConfigCache::default();
    let find = |commit: Option<&str>, service: &str| {
        let found = cache.find(&app.resources, "p", "dev", service, commit);
        // Once read, the same answer comes from memory without git.
        let again = cache.cached(
            &app.resources,
            "p",
            "dev",
            service,
            commit,
            &mut super::config::Heads::default(),
        );
        assert_eq!(again.as_ref(), Some(&found));
        found.map(|f| (f.level, f.text.to_string()))
    };
    assert_eq!(
        find(Some(&pinned), "svc"),
        Some(("service", "service-1".into()))
    );
    assert_eq!(
        find(Some(&pinned), "other"),
        Some(("project", "project-2".into())),
        "the project level is read at the latest commit"
    );
    assert_eq!(find(None, "svc"), Some(("project", "project-2".into())));
    assert_eq!(
        find(Some("\"\""), "svc"),
        Some(("project", "project-2".into()))
    );
    // An abbreviated id is resolved by git, without the cache.
    assert_eq!(
        cache.cached(
            &app.resources,
            "p",
            "dev",
            "svc",
            Some(&pinned[..8]),
            &mut super::config::Heads::default()
        ),
        None
    );
    assert_eq!(
        cache
            .find(&app.resources, "p", "dev", "svc", Some(&pinned[..8]))
            .map(|f| f.level),
        Some("service")
    );
    assert_eq!(cache.find(&app.resources, "nope", "dev", "svc", None), None);
}

#[tokio::test]
async fn an_unknown_commit_moves_on_to_the_project_level_with_the_cache_as_without() {
    let app = app().await;
    put(&app, svc(), "job/config.yaml", "service-1");
    put(&app, Scope::project("p"), "job/config.yaml", "project-1");
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    let text =
        |found: Option<super::config::FoundConfig>| found.map(|f| (f.level, f.text.to_string()));
    let expected = Some(("project", "project-1".to_owned()));
    assert_eq!(
        text(super::config::find(
            &app.resources,
            "p",
            "dev",
            "svc",
            Some(unknown)
        )),
        expected
    );
    let cache = super::config::ConfigCache::default();
    assert_eq!(
        text(cache.find(&app.resources, "p", "dev", "svc", Some(unknown))),
        expected
    );
}

#[tokio::test]
async fn an_event_without_a_stage_reads_the_project_level_alone() {
    let app = app().await;
    put(&app, svc(), "job/config.yaml", "service-1");
    put(&app, Scope::project("p"), "job/config.yaml", "project-1");
    let cache = super::config::ConfigCache::default();
    let lookup = |stage: &str, heads: &mut super::config::Heads| {
        cache
            .cached(&app.resources, "p", stage, "svc", None, heads)
            .map(|found| found.map(|f| (f.level, f.text.to_string())))
    };
    let project = Some(("project", "project-1".to_owned()));
    assert_eq!(
        cache
            .find(&app.resources, "p", "", "svc", None)
            .map(|f| (f.level, f.text.to_string())),
        project
    );
    assert_eq!(cache.commits_read(), 0, "no stage, so no stage's tree read");
    // From memory now, for a new burst too.
    assert_eq!(
        lookup("", &mut super::config::Heads::default()),
        Some(project.clone())
    );
    // An event with a stage still reads every level, and finds the service's file.
    assert_eq!(lookup("dev", &mut super::config::Heads::default()), None);
    assert_eq!(
        cache
            .find(&app.resources, "p", "dev", "svc", None)
            .map(|f| (f.level, f.text.to_string())),
        Some(("service", "service-1".to_owned()))
    );
    assert_eq!(cache.commits_read(), 1);
    // A project without a config: nothing, remembered as nothing.
    app.resources
        .delete_resource(Scope::project("p"), "job/config.yaml")
        .unwrap();
    assert_eq!(cache.find(&app.resources, "p", "", "svc", None), None);
    assert_eq!(lookup("", &mut super::config::Heads::default()), Some(None));
}

/// The message and result of the `.finished` event of a context.
pub(super) async fn finished_of(app: &App, context: &str) -> (String, String) {
    let events = app.store.events_of_context(context).await.unwrap();
    let finished = events
        .iter()
        .find(|e| {
            e.event_type
                .as_deref()
                .is_some_and(|t| t.ends_with(".finished"))
        })
        .expect("a finished event");
    (
        data(finished)["result"].as_str().unwrap_or("").to_owned(),
        message(finished),
    )
}

#[tokio::test]
async fn allowlist_escape_sluice_server_is_refused_when_sluice_is_allowed() {
    let app = app().await;
    for (args, sub) in [
        ("[server, --listen, '127.0.0.1:0']", "server"),
        ("[quickstart]", "quickstart"),
        ("[helloservice]", "helloservice"),
        ("[bench, --quick]", "bench"),
    ] {
        let body = format!(
            "      - name: nested\n        image: x\n        cmd: [sluice]\n        args: {args}\n"
        );
        put(&app, svc(), "job/config.yaml", &config("deployment", &body));
        let event = triggered("deployment", "svc", json!({}));
        let id = event.id.clone().unwrap_or_default();
        let context = event.shkeptncontext.clone().unwrap_or_default();
        run_directly(&app, Allowlist::parse("sluice"), event).await;
        let (result, message) = finished_of(&app, &context).await;
        assert_eq!(result, "fail");
        assert!(
            message.starts_with(&format!(
                "Forbidden: `sluice {sub}` is not a task subcommand"
            )),
            "{message}"
        );
        let runs = record::read_runs(&runs_dir(&app.data_dir), &id);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].0.status, RunStatus::Failed, "nothing ran");
        assert_eq!(runs[0].0.exit_code, None, "nothing ran");
    }
}

#[tokio::test]
async fn allowlist_escape_a_fake_ls_on_the_tasks_own_path_is_refused() {
    let app = app().await;
    // A program called `ls` somewhere a task could have written it.
    let fake_dir = app.data_dir.join("planted");
    std::fs::create_dir_all(&fake_dir).unwrap();
    let fake = fake_dir.join("ls");
    std::fs::write(&fake, "#!/bin/sh\necho planted\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let body = format!(
        "      - name: list\n        image: x\n        cmd: [ls]\n        env:\n          - name: PATH\n            value: '{}:/usr/bin:/bin'\n            valueFrom: string\n",
        fake_dir.display()
    );
    put(&app, svc(), "job/config.yaml", &config("deployment", &body));
    let event = triggered("deployment", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap_or_default();
    run_directly(&app, Allowlist::parse("ls"), event).await;
    let (result, message) = finished_of(&app, &context).await;
    assert_eq!(result, "fail");
    assert_eq!(
        message,
        "Forbidden: command ls does not match the allowed command list"
    );

    // Without the planted directory in front, `ls` is the server's `ls` and runs.
    let body = "      - name: list\n        image: x\n        cmd: [ls, /]\n";
    put(&app, svc(), "job/config.yaml", &config("deployment", body));
    let event = triggered("deployment", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap_or_default();
    run_directly(&app, Allowlist::parse("ls"), event).await;
    let (result, message) = finished_of(&app, &context).await;
    assert_eq!(result, "pass", "{message}");
}

#[tokio::test]
async fn secret_in_finished_data_base64_and_url_forms_is_redacted_in_event_logs_and_artifacts() {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let app = app().await;
    let secret = "hunter2/very+secret?x y&z";
    app.store
        .set_secret(
            "creds",
            &BTreeMap::from([("SECRET_X".to_owned(), secret.to_owned())]),
        )
        .await
        .unwrap();
    let url_form = "hunter2%2Fvery%2Bsecret%3Fx%20y%26z";
    // The task writes the secret into its finished data, and prints and keeps it base64-
    // encoded (alone, and inside a longer blob at an odd offset) and URL-encoded.
    let script = format!(
        r#"blob=$(printf 'xy%s-and-more' "$SECRET_X" | base64 -w0)
plain=$(printf '%s' "$SECRET_X" | base64 -w0)
printf '{{"leaked":"%s","nested":{{"blob":"%s"}}}}' "$SECRET_X" "$blob" > out/finished-data.json
printf 'plain=%s\nblob=%s\nurl=%s\nurlsafe=%s\n' "$plain" "$blob" '{url_form}' "$(printf '%s' "$plain" | tr '+/' '-_' | tr -d '=')" | tee out/report.txt
"#
    );
    let body = format!(
        "      - name: leak\n        image: x\n        env:\n          - name: creds\n            valueFrom: secret\n        cmd: [sh, -c, {}]\n",
        serde_json::to_string(&script).unwrap()
    );
    put(&app, svc(), "job/config.yaml", &config("deployment", &body));
    let event = triggered("deployment", "svc", json!({}));
    let id = event.id.clone().unwrap_or_default();
    let f = run_through_bus(&app, event).await;
    assert_eq!(data(&f)["result"], "pass", "{}", message(&f));
    assert_eq!(
        data(&f)["leaked"],
        "***",
        "the finished data is merged, redacted"
    );

    let blob = STANDARD.encode(format!("xy{secret}-and-more"));
    let forms = [
        secret.to_owned(),
        STANDARD.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
        url_form.to_owned(),
        // The part of the blob that only the secret's bytes determine.
        blob[4..4 + secret.len() * 4 / 3 - 4].to_owned(),
    ];
    let leaks = |what: &str, text: &str| {
        for form in &forms {
            assert!(!text.contains(form.as_str()), "{what} leaks {form}: {text}");
        }
    };
    let events = app
        .store
        .events_of_context(f.shkeptncontext.as_deref().unwrap_or(""))
        .await
        .unwrap();
    for e in &events {
        leaks("an event", &e.to_json(Default::default()));
    }
    let (status, logs) = get_logs(&app, f.shkeptncontext.as_deref().unwrap_or(""), None).await;
    assert_eq!(status, 200);
    leaks("the logs", &logs);
    assert!(logs.contains("url=***"), "{logs}");
    let out = record::task_dir(&runs_dir(&app.data_dir), &id, 0, 0).join("keptn/out");
    for artifact in ["finished-data.json", "report.txt"] {
        let text = std::fs::read_to_string(out.join(artifact)).unwrap();
        leaks(artifact, &text);
    }
    let runs = record::read_runs(&runs_dir(&app.data_dir), &id);
    let sizes: Vec<u64> = runs[0].0.artifacts.iter().map(|a| a.size).collect();
    let on_disk: Vec<u64> = runs[0]
        .0
        .artifacts
        .iter()
        .map(|a| std::fs::metadata(out.join(&a.path)).unwrap().len())
        .collect();
    assert_eq!(sizes, on_disk, "the record has the redacted sizes");
}

#[tokio::test]
async fn a_redelivered_event_never_runs_a_task_twice() {
    let app = app().await;
    let counter = app.data_dir.join("counter");
    // The first task passes, the second fails: a redelivery reports the same and runs none.
    let body = format!(
        "      - name: count\n        image: x\n        cmd: [sh, -c, 'echo run >> {0}']\n      - name: fail\n        image: x\n        cmd: [sh, -c, 'echo failing >> {0}; exit 4']\n",
        counter.display()
    );
    put(&app, svc(), "job/config.yaml", &config("deployment", &body));
    let event = triggered("deployment", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap_or_default();
    run_directly(&app, Allowlist::default(), event.clone()).await;
    let (result, first) = finished_of(&app, &context).await;
    assert_eq!(result, "fail");
    run_directly(&app, Allowlist::default(), event).await;
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap(),
        "run\nfailing\n",
        "each task ran once"
    );
    let events = app.store.events_of_context(&context).await.unwrap();
    let finished: Vec<_> = events
        .iter()
        .filter(|e| e.event_type.as_deref() == Some("sh.keptn.event.deployment.finished"))
        .collect();
    assert_eq!(finished.len(), 1, "answered once");
    assert!(
        first.starts_with("Task 'fail' failed: exited with code 4"),
        "{first}"
    );
}

/// A handling that another server started and left (a leader that died: the executor's
/// `.started` is stored, its `.finished` is not, and the new leader's data directory has no
/// record of it) is taken over: the job runs again there, once, and answers the task, so the
/// sequence ends. A task another integration started is left alone, and a server that comes
/// back with a record of a handling finished elsewhere meanwhile runs nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_another_server_started_and_left_is_taken_over_once() {
    let app = app().await;
    let mut rx = app.bus.subscribe();
    crate::api::testkit::create_project(&app, "t", SHIPYARD, &["svc", "other"]).await;
    let (counter, gate) = (app.data_dir.join("counter"), app.data_dir.join("gate"));
    // The job waits for the gate, so the first handling is still running when it is cut off.
    let body = format!(
        "      - name: count\n        image: x\n        cmd: [sh, -c, 'echo run >> {}; while [ ! -e {} ]; do sleep 0.05; done']\n",
        counter.display(),
        gate.display()
    );
    put(
        &app,
        Scope::service("t", "dev", "svc"),
        "job/config.yaml",
        &config("test", &body),
    );
    let mut tasks = Vec::new();
    for service in ["svc", "other"] {
        let mut trigger = triggered("dev.delivery", service, json!({}));
        trigger.source = Some("test".into());
        trigger.data = Some(json!({"project": "t", "stage": "dev", "service": service}));
        let context = trigger.shkeptncontext.clone();
        app.driver.submit(trigger).await.expect("trigger");
        let open = app
            .driver
            .open_tasks(Some("sh.keptn.event.test.triggered"))
            .into_iter()
            .find(|t| Some(&t.keptn_context) == context.as_ref())
            .expect("the task is open");
        tasks.push(app.store.event(&open.triggered_id).await.unwrap().unwrap());
    }
    let (left, foreign) = (&tasks[0], &tasks[1]);
    let (left_id, foreign_id) = (left.id.clone().unwrap(), foreign.id.clone().unwrap());
    // The server's executor takes the first task; it is cut off mid-run as when its server
    // dies (killed, no `.finished`).
    wait_for(&mut rx, &left_id, "started").await;
    tokio::time::timeout(DEADLINE, async {
        while std::fs::read_to_string(&counter).unwrap_or_default() != "run\n" {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the job runs");
    app.bus.cancel(Cancel {
        keptn_context: left.shkeptncontext.clone().unwrap_or_default(),
        task: "test".into(),
        triggered_id: left_id.clone(),
    });
    // The cut-off run is over (its process killed) before the gate opens.
    let first_run = record::task_dir(&runs_dir(&app.data_dir), &left_id, 0, 0);
    tokio::time::timeout(DEADLINE, async {
        while record::read_record(&first_run).map(|r| r.status) != Some(RunStatus::Aborted) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the first run is aborted");
    // Another integration answers the second task (it has no job config).
    let scope = json!({"project": "t", "stage": "dev", "service": "other", "status": "succeeded"});
    let other = super::super::answer(
        foreign,
        "someone-else",
        "sh.keptn.event.test.started",
        "someone-else.started",
        scope,
    );
    app.driver.submit(other).await.expect("started");
    let answered = |id: &str| {
        app.driver
            .open_tasks(None)
            .iter()
            .any(|t| t.triggered_id == id && t.answered)
    };
    assert!(answered(&left_id) && answered(&foreign_id));

    // The new leader: the same store, a data directory of its own.
    let elsewhere = app.data_dir.join("elsewhere");
    let new_leader = || {
        Arc::new(JobExecutor::new(
            app.store.clone(),
            app.resources.clone(),
            app.driver.clone(),
            runs_dir(&elsewhere),
            Allowlist::default(),
        ))
    };
    std::fs::write(&gate, "").unwrap();
    assert_eq!(
        new_leader().take_over().await,
        1,
        "only the executor's own task"
    );
    let finished = wait_for(&mut rx, &left_id, "finished").await;
    assert_eq!(finished.source.as_deref(), Some(super::SOURCE));
    assert_eq!(data(&finished)["result"], "pass", "{}", message(&finished));
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap(),
        "run\nrun\n",
        "a local job runs again on the new leader"
    );
    assert_eq!(new_leader().take_over().await, 0, "nothing is taken twice");

    // The server that was cut off comes back with its record of the handling: it was
    // finished meanwhile, so the record is dropped and nothing runs.
    let runs = runs_dir(&app.data_dir);
    record::mark_active(&runs, &left_id).unwrap();
    let returning = Arc::new(JobExecutor::new(
        app.store.clone(),
        app.resources.clone(),
        app.driver.clone(),
        runs.clone(),
        Allowlist::default(),
    ));
    returning.clone().recover().await;
    assert!(!returning.is_active(&left_id), "not handled again");
    assert!(record::active_events(&runs).is_empty());
    assert_eq!(std::fs::read_to_string(&counter).unwrap(), "run\nrun\n");
}
