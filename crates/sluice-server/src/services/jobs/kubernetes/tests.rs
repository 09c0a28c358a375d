//! The Kubernetes backend end to end through the job executor, against the fake API server
//! in [`super::fake`]: each test scripts a Job's status sequence and checks the `.finished`
//! event, the run record and logs, and the requests the backend made.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sluice_kube::{Allowlist as ClusterAllowlist, ClusterAllowlists, JobSettings};
use sluice_model::event::KeptnEvent;

use super::fake::{BLIND_NAMESPACE, Cluster, FORBIDDEN_NAMESPACE, FakeCluster, Phase, Script};
use super::{ClusterAccess, ClusterBackend, ClusterSettings, Timing};
use crate::services::jobs::record::{self, RunStatus};
use crate::services::jobs::tests::{
    DEADLINE, app, config, finished_of, get_logs, put, svc, triggered,
};
use crate::services::jobs::{Allowlist, BackendChoice, BackendKind, JobExecutor, runs_dir};
use crate::state::App;

const NAMESPACE: &str = "sluice-jobs";

fn settings(start_grace: Duration, images: &str) -> ClusterSettings {
    ClusterSettings {
        job: JobSettings {
            namespace: NAMESPACE.into(),
            ..JobSettings::default()
        },
        allowlists: ClusterAllowlists {
            images: ClusterAllowlist::parse("images", images).unwrap(),
            ..ClusterAllowlists::default()
        },
        timing: Timing {
            poll: Duration::from_millis(5),
            start_grace,
            deadline_slack: Duration::from_secs(30),
        },
    }
}

fn executor(app: &App, fake: &FakeCluster, settings: ClusterSettings) -> Arc<JobExecutor> {
    executor_choosing(
        app,
        fake,
        settings,
        BackendChoice::only(BackendKind::Kubernetes),
    )
}

fn executor_choosing(
    app: &App,
    fake: &FakeCluster,
    settings: ClusterSettings,
    choice: BackendChoice,
) -> Arc<JobExecutor> {
    let backend = ClusterBackend::new(fake.client(), settings);
    Arc::new(
        JobExecutor::new(
            app.store.clone(),
            app.resources.clone(),
            app.driver.clone(),
            runs_dir(&app.data_dir),
            Allowlist::parse("sh"),
        )
        .with_backends(choice, ClusterAccess::ready(backend)),
    )
}

/// Handles the event with the executor and waits (bounded) until the handling has ended.
async fn handle(executor: &Arc<JobExecutor>, event: &KeptnEvent) {
    let handle = executor
        .clone()
        .dispatch(Arc::new(event.clone()))
        .expect("dispatched");
    tokio::time::timeout(DEADLINE, handle)
        .await
        .expect("handled in time")
        .expect("no panic");
}

fn script(phases: &[Phase], logs: &str) -> Script {
    Script {
        phases: phases.to_vec(),
        logs: logs.to_owned(),
        ..Script::default()
    }
}

fn task(image: &str) -> String {
    format!("      - name: run\n        image: {image}\n        cmd: [sh, -c, 'echo hi']\n")
}

/// The name of the only Job the fake has seen created.
fn only_job(fake: &FakeCluster) -> String {
    fake.with(|c| {
        let created: Vec<&String> = c
            .requests
            .iter()
            .filter(|r| r.starts_with("POST jobs "))
            .collect();
        assert_eq!(created.len(), 1, "{:?}", c.requests);
        created[0].trim_start_matches("POST jobs ").to_owned()
    })
}

fn position(c: &Cluster, prefix: &str) -> usize {
    c.requests
        .iter()
        .position(|r| r.starts_with(prefix))
        .unwrap_or_else(|| panic!("no request {prefix}: {:?}", c.requests))
}

fn run_record(app: &App, event: &KeptnEvent) -> record::RunRecord {
    let dir = record::task_dir(&runs_dir(&app.data_dir), event.id.as_deref().unwrap(), 0, 0);
    record::read_record(&dir).expect("a run record")
}

#[tokio::test]
async fn a_task_runs_as_a_job_with_files_and_secret_refs_and_passes_with_its_logs() {
    let app = app().await;
    let fake = FakeCluster::start([(
        "test/ok:1",
        script(
            &[
                Phase::NoPod,
                Phase::Pending,
                Phase::Running,
                Phase::Succeeded,
            ],
            "hello from the pod\ntoken s3cr3t-value\n",
        ),
    )])
    .await;
    app.store
        .create_secret(
            "creds",
            &BTreeMap::from([("TOKEN".to_owned(), "s3cr3t-value".to_owned())]),
        )
        .await
        .unwrap();
    put(&app, svc(), "locust/basic.py", "print('load')\n");
    let body = "      - name: run\n        image: test/ok:1\n        files: [locust]\n        cmd: [locust]\n        args: ['-f', /keptn/locust/basic.py]\n        env:\n          - name: creds\n            valueFrom: secret\n          - name: MODE\n            value: fast\n            valueFrom: string\n";
    put(&app, svc(), "job/config.yaml", &config("test", body));
    let event = triggered("test", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap();
    // Stored (not published: the server's own executor never sees it) so that the logs API
    // finds the run by its context.
    app.store
        .import_events(std::slice::from_ref(&event))
        .await
        .unwrap();
    let executor = executor(&app, &fake, settings(Duration::ZERO, ""));
    handle(&executor, &event).await;

    let (result, message) = finished_of(&app, &context).await;
    assert_eq!(result, "pass", "{message}");
    assert_eq!(
        message,
        "Task 'run' finished successfully!\n\nLogs:\nhello from the pod\ntoken ***\n\n\n"
    );
    let name = only_job(&fake);
    fake.with(|c| {
        // Per-run objects first, then the Job; logs read before the Job is deleted.
        assert!(position(c, "POST secrets") < position(c, "POST jobs"));
        assert!(position(c, "POST configmaps") < position(c, "POST jobs"));
        assert!(position(c, "LOG ") < position(c, "DELETE jobs"));
        assert_eq!(
            c.count(&format!("DELETE jobs {name} propagation=Background")),
            1
        );
        assert!(!c.has_job(&name));
        assert_eq!(
            c.object_names(),
            Vec::<(String, String)>::new(),
            "per-run objects deleted"
        );
        assert!(
            !c.requests.iter().any(|r| r.contains("s3cr3t")),
            "{:?}",
            c.requests
        );
    });
    // The Job as created: the secret by reference only, files through the ConfigMap.
    let created = fake.with(|c| c.requests.clone());
    assert!(
        created.contains(&format!("POST secrets {name}-s0")),
        "{created:?}"
    );
    let rec = run_record(&app, &event);
    assert_eq!(rec.status, RunStatus::Succeeded);
    assert_eq!(rec.exit_code, Some(0));
    assert_eq!(rec.backend.as_deref(), Some("kubernetes"));
    let job = rec.job.expect("the job in the record");
    assert_eq!(
        (job.namespace.as_str(), job.name.as_str()),
        (NAMESPACE, name.as_str())
    );
    assert_eq!(job.uid.as_deref(), Some("uid-1"));
    // The same log sink as local runs: `sluice logs` and the UI read it.
    let (status, logs) = get_logs(&app, &context, None).await;
    assert_eq!(status, 200);
    assert!(
        logs.contains("hello from the pod") && logs.contains("token ***"),
        "{logs}"
    );
    assert!(!logs.contains("s3cr3t"), "{logs}");
}

#[tokio::test]
async fn the_job_holds_secret_refs_and_the_deadline() {
    let app = app().await;
    let fake = FakeCluster::start([("test/hold:1", script(&[Phase::Running], ""))]).await;
    app.store
        .create_secret(
            "creds",
            &BTreeMap::from([("TOKEN".to_owned(), "s3cr3t-value".to_owned())]),
        )
        .await
        .unwrap();
    let body = "      - name: run\n        image: test/hold:1\n        maxPollDuration: 120\n        env:\n          - name: creds\n            valueFrom: secret\n";
    put(&app, svc(), "job/config.yaml", &config("test", body));
    let event = triggered("test", "svc", json!({}));
    let executor = executor(&app, &fake, settings(Duration::ZERO, ""));
    let handling = executor.clone().dispatch(Arc::new(event.clone())).unwrap();
    fake.wait_until("the Job running", DEADLINE, |c| {
        c.job_names()
            .first()
            .is_some_and(|n| c.shown(n) == Some(Phase::Running))
    })
    .await;
    let name = only_job(&fake);
    let (job, secret) = fake.with(|c| {
        (
            c.job(&name).cloned().unwrap(),
            c.object("secrets", &format!("{name}-s0")).cloned().unwrap(),
        )
    });
    assert_eq!(job["spec"]["activeDeadlineSeconds"], 120);
    assert_eq!(job["metadata"]["namespace"], NAMESPACE);
    let env = &job["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(
        env[0],
        json!({"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": format!("{name}-s0"), "key": "TOKEN"}}})
    );
    assert!(
        !job.to_string().contains("s3cr3t"),
        "no secret value in the Job"
    );
    // No Keptn API token (JES gave its init container KEPTN_API_TOKEN), no route back.
    let text = job.to_string();
    assert!(
        !text.contains("jobs-test-token")
            && !text.contains("KEPTN_API")
            && !text.contains("envFrom"),
        "no Keptn token or API address in the pod: {text}"
    );
    // Kubernetes stores Secret data base64-encoded.
    assert_eq!(secret["data"]["TOKEN"], "czNjcjN0LXZhbHVl");
    // Owned by the Job, so the garbage collector follows the Job's TTL.
    assert_eq!(
        secret["metadata"]["ownerReferences"],
        json!([{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": "uid-1"}])
    );
    assert!(executor.cancel(event.id.as_deref().unwrap()));
    tokio::time::timeout(DEADLINE, handling)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_non_zero_exit_fails_the_task_with_the_logs() {
    let app = app().await;
    let fake = FakeCluster::start([(
        "test/fail:1",
        script(
            &[Phase::Pending, Phase::Running, Phase::Exited(3)],
            "starting\nboom\n",
        ),
    )])
    .await;
    put(
        &app,
        svc(),
        "job/config.yaml",
        &config("test", &task("test/fail:1")),
    );
    let event = triggered("test", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap();
    handle(&executor(&app, &fake, settings(Duration::ZERO, "")), &event).await;
    let (result, message) = finished_of(&app, &context).await;
    assert_eq!(result, "fail");
    assert_eq!(
        message,
        "Task 'run' failed: exited with code 3\n\nLogs:\nstarting\nboom\n\n\n"
    );
    let rec = run_record(&app, &event);
    assert_eq!((rec.status, rec.exit_code), (RunStatus::Failed, Some(3)));
    let name = only_job(&fake);
    fake.with(|c| {
        assert!(position(c, "LOG ") < position(c, "DELETE jobs"));
        assert_eq!(
            c.count(&format!("DELETE jobs {name} propagation=Background")),
            1
        );
    });
}

#[tokio::test]
async fn pods_that_cannot_start_fail_the_task_quickly_with_the_reason() {
    let app = app().await;
    let no_sa = "Error creating: pods \"j\" is forbidden: error looking up service account sluice-jobs/nope: serviceaccount \"nope\" not found";
    let fake = FakeCluster::start([
        (
            "test/pull:1",
            script(
                &[
                    Phase::Pending,
                    Phase::Waiting("ErrImagePull", "pull access denied"),
                    Phase::Waiting("ImagePullBackOff", "Back-off pulling image \"test/pull:1\""),
                ],
                "",
            ),
        ),
        (
            "test/config:1",
            script(
                &[
                    Phase::Pending,
                    Phase::Waiting("CreateContainerConfigError", "secret \"x\" not found"),
                ],
                "",
            ),
        ),
        (
            "test/nopod:1",
            Script {
                phases: vec![Phase::NoPod],
                failed_create: Some(no_sa.to_owned()),
                ..Script::default()
            },
        ),
    ])
    .await;
    // maxPollDuration stays 300 s: the task must fail long before, with Kubernetes' reason.
    let cases = [
        (
            "test/pull:1",
            Duration::ZERO,
            "ErrImagePull: pull access denied",
        ),
        (
            "test/config:1",
            Duration::from_secs(3600),
            "CreateContainerConfigError: secret \"x\" not found",
        ),
        (
            "test/nopod:1",
            Duration::ZERO,
            "FailedCreate: Error creating",
        ),
    ];
    for (image, grace, reason) in cases {
        put(
            &app,
            svc(),
            "job/config.yaml",
            &config("test", &task(image)),
        );
        let event = triggered("test", "svc", json!({}));
        let context = event.shkeptncontext.clone().unwrap();
        let started = std::time::Instant::now();
        handle(&executor(&app, &fake, settings(grace, "")), &event).await;
        assert!(started.elapsed() < Duration::from_secs(60));
        let (result, message) = finished_of(&app, &context).await;
        assert_eq!(result, "fail");
        assert!(
            message.starts_with("Task 'run' failed: the pod of job sluice-")
                && message.contains(&format!("cannot start: {reason}")),
            "{image}: {message}"
        );
        let rec = run_record(&app, &event);
        assert_eq!(rec.status, RunStatus::Failed);
        let name = rec.job.unwrap().name;
        fake.with(|c| assert!(!c.has_job(&name), "{image}: the Job is deleted"));
    }
}

#[tokio::test]
async fn a_job_past_its_deadline_is_deleted_and_its_logs_kept() {
    let app = app().await;
    let fake = FakeCluster::start([(
        "test/slow:1",
        script(
            &[Phase::Running, Phase::Running, Phase::DeadlineExceeded],
            "working\nstill working\n",
        ),
    )])
    .await;
    let body = "      - name: run\n        image: test/slow:1\n        maxPollDuration: 60\n";
    put(&app, svc(), "job/config.yaml", &config("test", body));
    let event = triggered("test", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap();
    app.store
        .import_events(std::slice::from_ref(&event))
        .await
        .unwrap();
    handle(&executor(&app, &fake, settings(Duration::ZERO, "")), &event).await;
    let (result, message) = finished_of(&app, &context).await;
    assert_eq!(result, "fail");
    assert_eq!(
        message,
        "Task 'run' failed: job exceeded its time limit of 60 seconds\n\nLogs:\nworking\nstill working\n\n\n"
    );
    assert_eq!(run_record(&app, &event).status, RunStatus::TimedOut);
    let name = only_job(&fake);
    fake.with(|c| {
        assert!(position(c, "LOG ") < position(c, "DELETE jobs"));
        assert_eq!(
            c.count(&format!("DELETE jobs {name} propagation=Background")),
            1
        );
        assert!(!c.has_job(&name));
    });
    let (_, logs) = get_logs(&app, &context, None).await;
    assert!(logs.contains("still working"), "{logs}");
}

#[tokio::test]
async fn long_logs_are_capped_and_their_last_lines_kept() {
    let app = app().await;
    let mut logs = String::new();
    let mut n = 0;
    while logs.len() <= crate::services::jobs::supervisor::MAX_OUTPUT_BYTES {
        logs.push_str(&format!("line {n:07} of a long load test\n"));
        n += 1;
    }
    let last = format!("line {:07} of a long load test", n - 1);
    let fake = FakeCluster::start([(
        "test/chatty:1",
        script(&[Phase::Running, Phase::Succeeded], &logs),
    )])
    .await;
    put(
        &app,
        svc(),
        "job/config.yaml",
        &config("test", &task("test/chatty:1")),
    );
    let event = triggered("test", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap();
    handle(&executor(&app, &fake, settings(Duration::ZERO, "")), &event).await;
    let (result, message) = finished_of(&app, &context).await;
    assert_eq!(result, "pass");
    assert!(
        message.ends_with(&format!("{last}\n\n\n")),
        "the tail is the end of the log"
    );
    assert!(
        message.len() < 9 * 1024,
        "the message is small: {}",
        message.len()
    );
    let dir = record::task_dir(&runs_dir(&app.data_dir), event.id.as_deref().unwrap(), 0, 0);
    let output = std::fs::read_to_string(dir.join(record::OUTPUT_FILE)).unwrap();
    assert!(output.starts_with("line 0000000 of a long load test\n"));
    assert!(output.contains("[output truncated: more than 10485760 bytes"));
    assert!(output.len() < crate::services::jobs::supervisor::MAX_OUTPUT_BYTES + 200);
    fake.with(|c| {
        assert_eq!(
            c.count("LOG "),
            2,
            "{:?}",
            c.requests
                .iter()
                .filter(|r| r.starts_with("LOG"))
                .collect::<Vec<_>>()
        );
        assert!(
            c.requests
                .iter()
                .any(|r| r.starts_with("LOG ") && r.contains("limitBytes=10485761"))
        );
        assert!(
            c.requests
                .iter()
                .any(|r| r.starts_with("LOG ") && r.contains("tailLines=100"))
        );
    });
}

#[tokio::test]
async fn a_redelivered_task_adopts_its_existing_job() {
    use k8s_openapi::api::batch::v1::Job;
    let app = app().await;
    let fake = FakeCluster::start([(
        "test/ok:1",
        script(&[Phase::Running, Phase::Succeeded], "ran once\n"),
    )])
    .await;
    put(
        &app,
        svc(),
        "job/config.yaml",
        &config("test", &task("test/ok:1")),
    );
    let event = triggered("test", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap();
    // The Job an earlier delivery created (its run record lost with it).
    let name = sluice_kube::names::job_name(&context, event.id.as_deref().unwrap(), 0, 0);
    let earlier: Job = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": name, "image": "test/ok:1"}]}}}
    }))
    .unwrap();
    kube::Api::<Job>::namespaced(fake.client(), NAMESPACE)
        .create(&Default::default(), &earlier)
        .await
        .unwrap();
    handle(&executor(&app, &fake, settings(Duration::ZERO, "")), &event).await;
    let (result, message) = finished_of(&app, &context).await;
    assert_eq!(result, "pass", "{message}");
    assert!(message.contains("ran once"));
    fake.with(|c| {
        assert_eq!(c.count("POST jobs"), 2, "the second create got 409");
        assert_eq!(c.count("DELETE jobs"), 1);
    });
    assert_eq!(
        run_record(&app, &event).job.unwrap().uid.as_deref(),
        Some("uid-1"),
        "the existing Job was adopted"
    );
}

#[tokio::test]
async fn a_restarted_server_reattaches_to_the_running_job() {
    let app = app().await;
    let fake = FakeCluster::start([(
        "test/hold:1",
        script(
            &[Phase::Pending, Phase::Running],
            "before the restart\nafter it\n",
        ),
    )])
    .await;
    put(
        &app,
        svc(),
        "job/config.yaml",
        &config("test", &task("test/hold:1")),
    );
    let event = triggered("test", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap();
    let id = event.id.clone().unwrap();
    // The first server handles the event until the Job runs, then dies (its handling is
    // dropped mid-flight: nothing is cleaned up, as in a crash).
    let first = executor(&app, &fake, settings(Duration::ZERO, ""));
    let (_cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    tokio::select! {
        () = first.handle(&event, cancel_rx) => panic!("the held Job cannot end"),
        () = fake.wait_until("the Job running", DEADLINE, |c| {
            c.job_names().first().is_some_and(|n| c.shown(n) == Some(Phase::Running))
        }) => {}
    }
    drop(first);
    let name = only_job(&fake);
    assert_eq!(run_record(&app, &event).status, RunStatus::Running);
    assert_eq!(
        record::active_events(&runs_dir(&app.data_dir)),
        vec![id.clone()],
        "a restarted server resumes this handling"
    );
    fake.continue_job(&name, &[Phase::Running, Phase::Succeeded]);
    // The restarted server's recovery dispatches the marked handling again.
    let second = executor(&app, &fake, settings(Duration::ZERO, ""));
    handle(&second, &event).await;
    let (result, message) = finished_of(&app, &context).await;
    assert_eq!(result, "pass", "{message}");
    assert!(
        message.contains("before the restart\nafter it"),
        "{message}"
    );
    fake.with(|c| {
        assert_eq!(c.count("POST jobs"), 1, "never created twice");
        assert!(!c.has_job(&name));
    });
    assert!(record::active_events(&runs_dir(&app.data_dir)).is_empty());
}

#[tokio::test]
async fn an_abort_deletes_the_job_and_sends_no_finished_event() {
    let app = app().await;
    let fake = FakeCluster::start([("test/hold:1", script(&[Phase::Running], "busy\n"))]).await;
    put(
        &app,
        svc(),
        "job/config.yaml",
        &config("test", &task("test/hold:1")),
    );
    let event = triggered("test", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap();
    let executor = executor(&app, &fake, settings(Duration::ZERO, ""));
    let handling = executor.clone().dispatch(Arc::new(event.clone())).unwrap();
    fake.wait_until("the Job running", DEADLINE, |c| {
        c.job_names()
            .first()
            .is_some_and(|n| c.shown(n) == Some(Phase::Running))
    })
    .await;
    let name = only_job(&fake);
    assert!(executor.cancel(event.id.as_deref().unwrap()));
    tokio::time::timeout(DEADLINE, handling)
        .await
        .unwrap()
        .unwrap();
    fake.with(|c| {
        assert_eq!(
            c.count(&format!("DELETE jobs {name} propagation=Background")),
            1
        );
        assert!(!c.has_job(&name));
    });
    assert_eq!(run_record(&app, &event).status, RunStatus::Aborted);
    let events = app.store.events_of_context(&context).await.unwrap();
    assert!(
        !events.iter().any(|e| e
            .event_type
            .as_deref()
            .is_some_and(|t| t.ends_with(".finished"))),
        "no finished event after an abort"
    );
}

#[tokio::test]
async fn the_allowlists_refuse_a_task_before_any_job_is_created() {
    let app = app().await;
    let fake = FakeCluster::start([]).await;
    let body = format!(
        "{}{}",
        task("docker.io/alpine/helm:3"),
        task("evil/miner:1").replace("name: run", "name: mine")
    );
    put(&app, svc(), "job/config.yaml", &config("test", &body));
    let event = triggered("test", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap();
    handle(
        &executor(&app, &fake, settings(Duration::ZERO, "docker.io/*")),
        &event,
    )
    .await;
    let (result, message) = finished_of(&app, &context).await;
    assert_eq!(result, "fail");
    assert!(
        message.starts_with(
            "Forbidden: Image evil/miner:1 does not match configured image allowlist."
        ),
        "{message}"
    );
    fake.with(|c| assert_eq!(c.count("POST"), 0, "{:?}", c.requests));
}

#[tokio::test]
async fn an_annotation_picks_the_backend_per_task() {
    let app = app().await;
    let fake = FakeCluster::start([(
        "test/ok:1",
        script(&[Phase::Succeeded], "from the cluster\n"),
    )])
    .await;
    let body = format!(
        "{}      - name: here\n        image: ignored\n        cmd: [sh, -c, 'echo from the server']\n        annotations:\n          sluice.dev/job-backend: local\n",
        task("test/ok:1")
    );
    put(&app, svc(), "job/config.yaml", &config("test", &body));
    let event = triggered("test", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap();
    let executor = executor_choosing(
        &app,
        &fake,
        settings(Duration::ZERO, ""),
        BackendChoice::only(BackendKind::Local)
            .with_overrides(["p/dev=kubernetes"])
            .unwrap(),
    );
    handle(&executor, &event).await;
    let (result, message) = finished_of(&app, &context).await;
    assert_eq!(result, "pass", "{message}");
    assert!(
        message.contains("Task 'run' finished successfully!\n\nLogs:\nfrom the cluster")
            && message.contains("Task 'here' finished successfully!\n\nLogs:\nfrom the server"),
        "{message}"
    );
    fake.with(|c| assert_eq!(c.count("POST jobs"), 1));
}

#[tokio::test]
async fn an_api_refusal_fails_the_task_with_the_api_message_and_removes_the_run_objects() {
    let app = app().await;
    let fake = FakeCluster::start([]).await;
    app.store
        .create_secret(
            "creds",
            &BTreeMap::from([("TOKEN".to_owned(), "s3cr3t-value".to_owned())]),
        )
        .await
        .unwrap();
    let body = format!(
        "      - name: run\n        image: test/ok:1\n        namespace: {FORBIDDEN_NAMESPACE}\n        env:\n          - name: creds\n            valueFrom: secret\n"
    );
    put(&app, svc(), "job/config.yaml", &config("test", &body));
    let event = triggered("test", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap();
    handle(&executor(&app, &fake, settings(Duration::ZERO, "")), &event).await;
    let (result, message) = finished_of(&app, &context).await;
    assert_eq!(result, "fail");
    assert!(
        message.starts_with(
            "Task 'run' failed: the Kubernetes API refused to create the Job: jobs.batch is forbidden: User \"system:serviceaccount:sluice:sluice\" cannot create resource \"jobs\""
        ) && message.contains("(403 Forbidden)"),
        "{message}"
    );
    fake.with(|c| {
        assert_eq!(c.count("POST secrets"), 1);
        assert_eq!(
            c.object_names(),
            Vec::<(String, String)>::new(),
            "{:?}",
            c.requests
        );
    });
    assert_eq!(run_record(&app, &event).status, RunStatus::Failed);
}

/// The seed tutorial's unchanged `job/config.yaml` (helm and locust images), run through the
/// executor and the backend, creates exactly the Jobs and ConfigMaps of `sluice-kube`'s golden
/// fixtures (which equal job-executor-service's Jobs except at the deliberate differences).
#[tokio::test]
async fn the_seed_tutorials_job_config_creates_the_fixture_jobs() {
    let app = app().await;
    let fake = FakeCluster::start([]).await;
    let shipyard = "apiVersion: spec.keptn.sh/0.2.2\nkind: Shipyard\nmetadata:\n  name: s\nspec:\n  stages:\n    - name: qa\n      sequences:\n        - name: delivery\n          tasks:\n            - name: je-deployment\n";
    app.resources
        .create_project("fulltour", &["qa"], shipyard.as_bytes())
        .unwrap();
    app.resources
        .create_service("fulltour", "helloservice")
        .unwrap();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/fulltour");
    let scope = sluice_resources::Scope::service("fulltour", "qa", "helloservice");
    let file = |rel: &str| std::fs::read(examples.join(rel)).unwrap();
    let (config_text, basic, conf) = (
        file("job/config.yaml"),
        file("locust/basic.py"),
        file("locust/locust.conf"),
    );
    // The fixtures' stand-in for the packed chart.
    let chart = [0x1f, 0x8b, 0x08, 0x00];
    let uploads = [
        ("job/config.yaml", &config_text[..]),
        ("locust/basic.py", &basic[..]),
        ("locust/locust.conf", &conf[..]),
        ("charts/helloservice.tgz", &chart[..]),
    ];
    app.resources
        .put_resources(
            scope,
            &uploads
                .iter()
                .map(|(uri, content)| sluice_resources::Upload { uri, content })
                .collect::<Vec<_>>(),
        )
        .unwrap();
    let settings = ClusterSettings {
        job: JobSettings {
            namespace: "keptn-jes".into(),
            service_account: "default-job-account".into(),
            ..JobSettings::default()
        },
        ..settings(Duration::ZERO, "")
    };
    let executor = executor(&app, &fake, settings);
    // The fixtures' event (one context and id for all three actions).
    let event = |task: &str, data: serde_json::Value| {
        let mut e = triggered(task, "helloservice", data);
        e.shkeptncontext = Some("8e8b5a4e-3c0b-4c1e-9a5f-2f3c4d5e6f70".into());
        e.id = Some("f2b0c1d2-3e4f-4a5b-8c6d-7e8f9a0b1c2d".into());
        let d = e.data.as_mut().unwrap();
        d["project"] = json!("fulltour");
        d["stage"] = json!("qa");
        e
    };
    let image = "ghcr.io/podtato-head/podtatoserver:v0.1.1";
    for e in [
        event(
            "je-deployment",
            json!({"configurationChange": {"values": {"image": image}}}),
        ),
        event("je-test", json!({})),
        event("action", json!({"action": {"action": "scale", "value": 2}})),
    ] {
        handle(&executor, &e).await;
    }
    let created = fake.with(|c| c.created.clone());
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sluice-kube/tests/fixtures/fulltour/sluice");
    let fixture = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(fixtures.join(name)).unwrap()).unwrap()
    };
    let jobs: Vec<_> = created.iter().filter(|(k, _)| k == "jobs").collect();
    let maps: Vec<_> = created.iter().filter(|(k, _)| k == "configmaps").collect();
    assert_eq!(
        (jobs.len(), maps.len()),
        (3, 3),
        "{:?}",
        fake.with(|c| c.requests.clone())
    );
    for (i, stem) in ["run-helm", "run-locust", "scale-with-helm"]
        .iter()
        .enumerate()
    {
        let mut job = jobs[i].1.clone();
        // Set by the API server (here the fake), or by the pinned commit of this test's
        // repository instead of the fixture's made-up one.
        let meta = job["metadata"].as_object_mut().unwrap();
        meta.remove("uid");
        meta.remove("resourceVersion");
        job.as_object_mut().unwrap().remove("status");
        job["metadata"]["labels"]["keptn.sh/commitid"] =
            json!("0123456789abcdef0123456789abcdef01234567");
        assert_eq!(job, fixture(&format!("{stem}.job.json")), "{stem}");
        let mut map = maps[i].1.clone();
        let labels = map["metadata"]["labels"].as_object_mut().unwrap();
        assert_eq!(
            labels.remove(super::RUN_LABEL),
            Some(job["metadata"]["name"].clone()),
            "the ConfigMap is tied to its run"
        );
        labels.insert(
            "keptn.sh/commitid".into(),
            json!("0123456789abcdef0123456789abcdef01234567"),
        );
        assert_eq!(map, fixture(&format!("{stem}.configmap.json")), "{stem}");
    }
}

#[tokio::test]
async fn a_job_sluice_may_not_read_fails_the_task_at_once_and_is_deleted() {
    let app = app().await;
    let fake = FakeCluster::start([("test/ok:1", script(&[Phase::Running], ""))]).await;
    let body = format!(
        "      - name: run\n        image: test/ok:1\n        namespace: {BLIND_NAMESPACE}\n"
    );
    put(&app, svc(), "job/config.yaml", &config("test", &body));
    let event = triggered("test", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap();
    handle(&executor(&app, &fake, settings(Duration::ZERO, "")), &event).await;
    let (result, message) = finished_of(&app, &context).await;
    assert_eq!(result, "fail");
    assert!(
        message.starts_with(
            "Task 'run' failed: the Kubernetes API refused to read the Job: jobs.batch"
        ) && message.contains("cannot get resource \"jobs\"")
            && message.contains("(403 Forbidden)"),
        "{message}"
    );
    let name = only_job(&fake);
    fake.with(|c| {
        assert_eq!(
            c.count(&format!("GET jobs {name}")),
            1,
            "no retries of a refusal"
        );
        assert!(!c.has_job(&name), "the Job is deleted");
    });
}

/// Outside a pod the backend reads a kubeconfig: its server, and its context's namespace as
/// the Jobs' default namespace.
#[tokio::test]
async fn a_kubeconfig_gives_the_server_and_the_default_namespace() {
    let app = app().await;
    let fake =
        FakeCluster::start([("test/ok:1", script(&[Phase::Succeeded], "via kubeconfig\n"))]).await;
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: fake\nclusters:\n  - name: fake\n    cluster:\n      server: http://{}\ncontexts:\n  - name: fake\n    context:\n      cluster: fake\n      user: nobody\n      namespace: from-context\nusers:\n  - name: nobody\n    user: {{}}\n",
        fake.addr
    );
    let client_config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::from_yaml(&kubeconfig).unwrap(),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    let mut backend = ClusterBackend::with_config(client_config).unwrap();
    backend.settings.timing = settings(Duration::ZERO, "").timing;
    let executor = Arc::new(
        JobExecutor::new(
            app.store.clone(),
            app.resources.clone(),
            app.driver.clone(),
            runs_dir(&app.data_dir),
            Allowlist::default(),
        )
        .with_backends(
            BackendChoice::only(BackendKind::Kubernetes),
            ClusterAccess::ready(backend),
        ),
    );
    put(
        &app,
        svc(),
        "job/config.yaml",
        &config("test", &task("test/ok:1")),
    );
    let event = triggered("test", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap();
    handle(&executor, &event).await;
    let (result, message) = finished_of(&app, &context).await;
    assert_eq!(result, "pass", "{message}");
    assert!(message.contains("via kubeconfig"));
    let job = fake.with(|c| c.created[0].1.clone());
    assert_eq!(job["metadata"]["namespace"], "from-context");
}

/// A crash between creating the Job and recording its uid: the restarted server creates
/// again, gets 409 and follows the Job that exists.
#[tokio::test]
async fn a_restart_before_the_create_was_recorded_adopts_the_job_through_409() {
    let app = app().await;
    let fake = FakeCluster::start([(
        "test/hold:1",
        script(&[Phase::Running], "created before the crash\n"),
    )])
    .await;
    put(
        &app,
        svc(),
        "job/config.yaml",
        &config("test", &task("test/hold:1")),
    );
    let event = triggered("test", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap();
    let first = executor(&app, &fake, settings(Duration::ZERO, ""));
    let (_cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    tokio::select! {
        () = first.handle(&event, cancel_rx) => panic!("the held Job cannot end"),
        () = fake.wait_until("the Job running", DEADLINE, |c| {
            c.job_names().first().is_some_and(|n| c.shown(n) == Some(Phase::Running))
        }) => {}
    }
    drop(first);
    let name = only_job(&fake);
    // The record as it was just before the create was answered.
    let dir = record::task_dir(&runs_dir(&app.data_dir), event.id.as_deref().unwrap(), 0, 0);
    let mut rec = record::read_record(&dir).unwrap();
    rec.job.as_mut().unwrap().uid = None;
    record::write_record(&dir, &rec).unwrap();
    fake.continue_job(&name, &[Phase::Succeeded]);
    handle(&executor(&app, &fake, settings(Duration::ZERO, "")), &event).await;
    let (result, message) = finished_of(&app, &context).await;
    assert_eq!(result, "pass", "{message}");
    assert!(message.contains("created before the crash"), "{message}");
    fake.with(|c| {
        assert_eq!(c.count("POST jobs"), 2, "the second create got 409");
        assert_eq!(c.created.iter().filter(|(k, _)| k == "jobs").count(), 1);
    });
    assert_eq!(
        run_record(&app, &event).job.unwrap().uid.as_deref(),
        Some("uid-1")
    );
}

/// A failed init container (the files could not be copied): no exit code of the task, so the
/// Job's own reason is the message, and the init container's log is kept with a header.
#[tokio::test]
async fn a_failed_init_container_reports_the_jobs_reason_and_its_log() {
    let app = app().await;
    let fake = FakeCluster::start([(
        "test/ok:1",
        Script {
            phases: vec![Phase::Pending, Phase::InitFailed(1)],
            logs: "never printed\n".into(),
            init_logs: "cp: can't create '/keptn/locust': Read-only file system\n".into(),
            ..Script::default()
        },
    )])
    .await;
    put(&app, svc(), "locust/basic.py", "print('load')\n");
    let body = "      - name: run\n        image: test/ok:1\n        files: [locust]\n";
    put(&app, svc(), "job/config.yaml", &config("test", body));
    let event = triggered("test", "svc", json!({}));
    let context = event.shkeptncontext.clone().unwrap();
    handle(&executor(&app, &fake, settings(Duration::ZERO, "")), &event).await;
    let (result, message) = finished_of(&app, &context).await;
    assert_eq!(result, "fail");
    let name = only_job(&fake);
    assert_eq!(
        message,
        format!(
            "Task 'run' failed: job {name} failed. Reason: BackoffLimitExceeded, Message: Job has reached the specified backoff limit\n\nLogs:\nInit container init-{name} of pod {name}-x7k2p:\ncp: can't create '/keptn/locust': Read-only file system\n\n\n"
        )
    );
    let rec = run_record(&app, &event);
    assert_eq!((rec.status, rec.exit_code), (RunStatus::Failed, None));
    fake.with(|c| {
        assert_eq!(c.count(&format!("LOG {name}-x7k2p container={name} ")), 0);
        assert!(!c.has_job(&name));
    });
}
