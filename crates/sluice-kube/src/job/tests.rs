//! Golden-fixture and unit tests of the Job and ConfigMap builder.

use std::path::PathBuf;

use serde_json::{Value, json};
use sluice_model::job::{
    self, JobConfig, SeccompProfile as TaskSeccomp, SecurityContext as TaskSc,
};

use super::*;

fn event() -> TaskEvent {
    TaskEvent {
        context: "8e8b5a4e-3c0b-4c1e-9a5f-2f3c4d5e6f70".into(),
        id: "f2b0c1d2-3e4f-4a5b-8c6d-7e8f9a0b1c2d".into(),
        git_commit_id: "0123456789abcdef0123456789abcdef01234567".into(),
        project: "fulltour".into(),
        stage: "qa".into(),
        service: "helloservice".into(),
        labels: BTreeMap::new(),
    }
}

fn one_task(task: Task) -> Action {
    Action {
        name: "act".into(),
        tasks: vec![task],
        ..Action::default()
    }
}

fn simple_task() -> Task {
    Task {
        name: "t".into(),
        image: "alpine:3".into(),
        ..Task::default()
    }
}

fn build_one(
    action: &Action,
    ev: &TaskEvent,
    env: &[EnvEntry],
    files: &[TaskFile],
) -> Result<BuiltJob, BuildError> {
    build(
        &TaskRun {
            action,
            action_index: 0,
            task_index: 0,
            config_hash: "h",
            event: ev,
            env,
            files,
        },
        &JobSettings::default(),
    )
}

fn json_of(job: &Job) -> Value {
    serde_json::to_value(job).unwrap()
}

fn container(b: &BuiltJob) -> Value {
    json_of(&b.job)["spec"]["template"]["spec"]["containers"][0].clone()
}

#[test]
fn fixed_spec_fields_follow_jes() {
    let b = build_one(&one_task(simple_task()), &event(), &[], &[]).unwrap();
    let j = json_of(&b.job);
    assert_eq!(j["apiVersion"], "batch/v1");
    assert_eq!(j["kind"], "Job");
    assert_eq!(j["spec"]["backoffLimit"], 0);
    assert_eq!(j["spec"]["ttlSecondsAfterFinished"], 21600);
    assert_eq!(j["spec"]["activeDeadlineSeconds"], 300);
    let pod = &j["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["serviceAccountName"], DEFAULT_SERVICE_ACCOUNT);
    assert_eq!(
        pod["volumes"],
        json!([{"name": "job-volume", "emptyDir": {"sizeLimit": "20Mi"}}])
    );
    assert_eq!(
        container(&b)["volumeMounts"],
        json!([{"name": "job-volume", "mountPath": "/keptn"}])
    );
    assert_eq!(container(&b)["name"], b.name);
    assert_eq!(j["metadata"]["namespace"], "default");
    // No files: no ConfigMap and no init container.
    assert!(b.files.is_none());
    assert!(pod.get("initContainers").is_none());
}

#[test]
fn ttl_is_raised_to_jes_minimum() {
    let mut t = simple_task();
    t.ttl_seconds_after_finished = Some(5);
    let b = build_one(&one_task(t.clone()), &event(), &[], &[]).unwrap();
    assert_eq!(json_of(&b.job)["spec"]["ttlSecondsAfterFinished"], 60);
    t.ttl_seconds_after_finished = Some(600);
    let b = build_one(&one_task(t), &event(), &[], &[]).unwrap();
    assert_eq!(json_of(&b.job)["spec"]["ttlSecondsAfterFinished"], 600);
}

#[test]
fn max_poll_duration_becomes_the_active_deadline_capped_by_the_setting() {
    let mut t = simple_task();
    t.max_poll_duration = Some(1200);
    let action = one_task(t);
    let ev = event();
    let run = TaskRun {
        action: &action,
        action_index: 0,
        task_index: 0,
        config_hash: "h",
        event: &ev,
        env: &[],
        files: &[],
    };
    let b = build(&run, &JobSettings::default()).unwrap();
    assert_eq!(json_of(&b.job)["spec"]["activeDeadlineSeconds"], 1200);
    let capped = JobSettings {
        task_deadline_seconds: Some(600),
        ..JobSettings::default()
    };
    assert_eq!(
        json_of(&build(&run, &capped).unwrap().job)["spec"]["activeDeadlineSeconds"],
        600
    );
}

#[test]
fn non_positive_max_poll_duration_is_refused() {
    let mut t = simple_task();
    t.max_poll_duration = Some(0);
    let e = build_one(&one_task(t), &event(), &[], &[]).unwrap_err();
    assert_eq!(
        e,
        BuildError::Deadline {
            task: "t".into(),
            value: 0
        }
    );
    assert!(e.to_string().contains("positive"));
}

#[test]
fn env_order_is_task_entries_then_keptn_vars_then_labels() {
    let mut ev = event();
    ev.labels.insert("build-id".into(), "42".into());
    ev.labels.insert("a key".into(), "v".into());
    let env = [
        EnvEntry::Value {
            name: "IMAGE".into(),
            value: "img:1".into(),
        },
        EnvEntry::SecretKey {
            secret: "db".into(),
            key: "PASSWORD".into(),
        },
    ];
    let b = build_one(&one_task(simple_task()), &ev, &env, &[]).unwrap();
    assert_eq!(
        container(&b)["env"],
        json!([
            {"name": "IMAGE", "value": "img:1"},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "PASSWORD"}}},
            {"name": "KEPTN_PROJECT", "value": "fulltour"},
            {"name": "KEPTN_STAGE", "value": "qa"},
            {"name": "KEPTN_SERVICE", "value": "helloservice"},
            {"name": "LABELS_A_KEY", "value": "v"},
            {"name": "LABELS_BUILD_ID", "value": "42"},
        ])
    );
}

#[test]
fn secret_values_never_appear_in_the_job() {
    let env = [EnvEntry::SecretKey {
        secret: "db".into(),
        key: "PASSWORD".into(),
    }];
    let b = build_one(&one_task(simple_task()), &event(), &env, &[]).unwrap();
    let text = serde_json::to_string(&b.job).unwrap();
    assert!(text.contains("secretKeyRef"));
    assert!(
        !container(&b)["env"][0]
            .as_object()
            .unwrap()
            .contains_key("value")
    );
}

#[test]
fn resources_default_to_jes_values_and_a_task_block_replaces_all() {
    let b = build_one(&one_task(simple_task()), &event(), &[], &[]).unwrap();
    assert_eq!(
        container(&b)["resources"],
        json!({"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "50m", "memory": "128Mi"}})
    );
    let mut t = simple_task();
    t.resources = Some(Resources {
        limits: ResourceList {
            cpu: None,
            memory: Some("1Gi".into()),
        },
        requests: ResourceList::default(),
    });
    let b = build_one(&one_task(t.clone()), &event(), &[], &[]).unwrap();
    assert_eq!(
        container(&b)["resources"],
        json!({"limits": {"memory": "1Gi"}})
    );
    t.resources = Some(Resources::default());
    let b = build_one(&one_task(t), &event(), &[], &[]).unwrap();
    assert_eq!(container(&b)["resources"], json!({}));
}

#[test]
fn working_dir_cmd_args_and_pull_policy_are_copied() {
    let mut t = simple_task();
    t.working_dir = Some("/keptn/work".into());
    t.cmd = vec!["sh".into()];
    t.args = vec!["-c".into(), "echo $(KEPTN_PROJECT)".into()];
    t.image_pull_policy = Some("Always".into());
    let b = build_one(&one_task(t), &event(), &[], &[]).unwrap();
    let c = container(&b);
    assert_eq!(c["workingDir"], "/keptn/work");
    assert_eq!(c["command"], json!(["sh"]));
    // `$(VAR)` is left for Kubernetes to expand, as in JES.
    assert_eq!(c["args"], json!(["-c", "echo $(KEPTN_PROJECT)"]));
    assert_eq!(c["imagePullPolicy"], "Always");
}

#[test]
fn unknown_pull_policy_is_refused() {
    let mut t = simple_task();
    t.image_pull_policy = Some("always".into());
    let e = build_one(&one_task(t), &event(), &[], &[]).unwrap_err();
    assert!(
        matches!(e, BuildError::PullPolicy { ref value, .. } if value == "always"),
        "{e}"
    );
}

#[test]
fn task_namespace_and_service_account_override_the_defaults() {
    let mut t = simple_task();
    t.namespace = Some("team-a".into());
    t.service_account = Some("jes-deploy-using-helm".into());
    let b = build_one(&one_task(t.clone()), &event(), &[], &[]).unwrap();
    assert_eq!(b.namespace, "team-a");
    assert_eq!(json_of(&b.job)["metadata"]["namespace"], "team-a");
    assert_eq!(
        json_of(&b.job)["spec"]["template"]["spec"]["serviceAccountName"],
        "jes-deploy-using-helm"
    );
    t.namespace = Some("Team_A".into());
    assert!(matches!(
        build_one(&one_task(t), &event(), &[], &[]),
        Err(BuildError::Namespace { .. })
    ));
}

#[test]
fn security_context_is_merged_field_by_field() {
    let mut t = simple_task();
    t.security_context = Some(TaskSc {
        run_as_user: Some(0),
        run_as_non_root: Some(false),
        capabilities: Some(job::Capabilities {
            add: vec!["NET_ADMIN".into()],
            drop: vec![],
        }),
        seccomp_profile: Some(TaskSeccomp {
            profile_type: Some("Unconfined".into()),
            localhost_profile: None,
        }),
        ..TaskSc::default()
    });
    let b = build_one(&one_task(t), &event(), &[], &[]).unwrap();
    assert_eq!(
        container(&b)["securityContext"],
        json!({
            "allowPrivilegeEscalation": false,
            "capabilities": {"add": ["NET_ADMIN"], "drop": []},
            "privileged": false,
            "readOnlyRootFilesystem": true,
            "runAsGroup": 2000,
            "runAsNonRoot": false,
            "runAsUser": 0,
            "seccompProfile": {"type": "Unconfined"},
        })
    );
}

#[test]
fn privileged_needs_the_setting() {
    let mut t = simple_task();
    t.security_context = Some(TaskSc {
        privileged: Some(true),
        ..TaskSc::default()
    });
    let action = one_task(t);
    let e = build_one(&action, &event(), &[], &[]).unwrap_err();
    assert_eq!(e, BuildError::PrivilegedNotAllowed { task: "t".into() });
    let ev = event();
    let run = TaskRun {
        action: &action,
        action_index: 0,
        task_index: 0,
        config_hash: "h",
        event: &ev,
        env: &[],
        files: &[],
    };
    let allowed = JobSettings {
        allow_privileged: true,
        ..JobSettings::default()
    };
    assert!(build(&run, &allowed).is_ok());
}

#[test]
fn seccomp_profile_without_type_is_refused() {
    let mut t = simple_task();
    t.security_context = Some(TaskSc {
        seccomp_profile: Some(TaskSeccomp::default()),
        ..TaskSc::default()
    });
    assert!(matches!(
        build_one(&one_task(t), &event(), &[], &[]),
        Err(BuildError::SeccompWithoutType { .. })
    ));
}

#[test]
fn annotations_go_on_the_job() {
    let mut t = simple_task();
    t.annotations
        .insert("sluice.dev/executor".into(), "kubernetes".into());
    let b = build_one(&one_task(t), &event(), &[], &[]).unwrap();
    assert_eq!(
        json_of(&b.job)["metadata"]["annotations"],
        json!({"sluice.dev/executor": "kubernetes"})
    );
}

#[test]
fn files_go_into_an_immutable_config_map_copied_by_an_init_container() {
    let files = [
        TaskFile {
            path: "/locust/basic.py".into(),
            content: b"print(1)\n".to_vec(),
        },
        TaskFile {
            path: "it's top.bin".into(),
            content: vec![0xff, 0x00],
        },
    ];
    let b = build_one(&one_task(simple_task()), &event(), &[], &files).unwrap();
    let cm = serde_json::to_value(b.files.as_ref().unwrap()).unwrap();
    assert_eq!(cm["metadata"]["name"], b.name);
    assert_eq!(cm["immutable"], true);
    assert_eq!(cm["data"], json!({"f0": "print(1)\n"}));
    assert_eq!(cm["binaryData"], json!({"f1": "/wA="}));
    let pod = &json_of(&b.job)["spec"]["template"]["spec"];
    let init = &pod["initContainers"][0];
    assert_eq!(init["name"], format!("init-{}", b.name));
    assert_eq!(init["image"], DEFAULT_INIT_IMAGE);
    assert_eq!(
        init["command"],
        json!([
            "sh",
            "-c",
            "set -eu\nmkdir -p '/keptn/locust'\ncp '/sluice-files/f0' '/keptn/locust/basic.py'\ncp '/sluice-files/f1' '/keptn/it'\\''s top.bin'\n"
        ])
    );
    // No Keptn API token, no route back to sluice: the init container has no env at all.
    assert!(init.get("env").is_none());
    assert_eq!(pod["volumes"][1]["configMap"]["name"], b.name);
}

#[test]
fn file_paths_that_escape_keptn_are_refused() {
    for bad in ["", "/", "a/../b", "./a", "a//b"] {
        let files = [TaskFile {
            path: bad.into(),
            content: vec![],
        }];
        let e = build_one(&one_task(simple_task()), &event(), &[], &files).unwrap_err();
        assert!(matches!(e, BuildError::FilePath { .. }), "{bad}: {e}");
    }
}

#[test]
fn files_larger_than_a_config_map_are_refused() {
    let files = [TaskFile {
        path: "big".into(),
        content: vec![b'x'; CONFIG_MAP_MAX_BYTES],
    }];
    let e = build_one(&one_task(simple_task()), &event(), &[], &files).unwrap_err();
    assert!(
        matches!(e, BuildError::FilesTooLarge { total, .. } if total == CONFIG_MAP_MAX_BYTES + 2),
        "{e}"
    );
}

#[test]
fn labels_follow_jes_and_extra_labels_lose_to_generated_ones() {
    let action = Action {
        name: "Deploy using helm".into(),
        tasks: vec![simple_task()],
        ..Action::default()
    };
    let ev = event();
    let settings = JobSettings {
        labels: BTreeMap::from([
            ("team".to_owned(), "a".to_owned()),
            ("keptn.sh/context".to_owned(), "x".to_owned()),
        ]),
        ..JobSettings::default()
    };
    let run = TaskRun {
        action: &action,
        action_index: 2,
        task_index: 0,
        config_hash: "abc",
        event: &ev,
        env: &[],
        files: &[],
    };
    let b = build(&run, &settings).unwrap();
    assert_eq!(
        json_of(&b.job)["metadata"]["labels"],
        json!({
            "app.kubernetes.io/managed-by": "sluice",
            "keptn.sh/commitid": ev.git_commit_id,
            "keptn.sh/context": ev.context,
            "keptn.sh/event-id": ev.id,
            "keptn.sh/jes-action": "Deploy_using_helm",
            "keptn.sh/jes-action-index": "2",
            "keptn.sh/jes-job-confighash": "abc",
            "keptn.sh/jes-task": "t",
            "keptn.sh/jes-task-index": "0",
            "team": "a",
        })
    );
    assert!(b.name.ends_with("-002-001"));
}

#[test]
fn missing_task_index_is_an_error() {
    let action = one_task(simple_task());
    let ev = event();
    let run = TaskRun {
        action: &action,
        action_index: 0,
        task_index: 3,
        config_hash: "h",
        event: &ev,
        env: &[],
        files: &[],
    };
    assert!(matches!(
        build(&run, &JobSettings::default()),
        Err(BuildError::NoSuchTask { index: 3, .. })
    ));
}

// ---- golden fixtures: the seed tutorial's job/config.yaml -------------------------------

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fulltour_config() -> (String, JobConfig) {
    let path = manifest_dir().join("../../examples/fulltour/job/config.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let parsed = job::parse(&text);
    (
        text,
        parsed.value.expect("the tutorial's job/config.yaml parses"),
    )
}

/// The settings JES's chart gives (namespace `keptn-jes`, `default-job-account`).
fn jes_chart_settings() -> JobSettings {
    JobSettings {
        namespace: "keptn-jes".into(),
        service_account: "default-job-account".into(),
        ..JobSettings::default()
    }
}

/// Renders every task of the tutorial config: `(fixture stem, Job, ConfigMap)`.
fn render_fulltour() -> Vec<(String, Value, Option<Value>)> {
    let (text, config) = fulltour_config();
    let hash = names::config_hash(text.as_bytes());
    let examples = manifest_dir().join("../../examples/fulltour");
    let mut out = Vec::new();
    for (ai, action) in config.actions.iter().enumerate() {
        for (ti, task) in action.tasks.iter().enumerate() {
            let env: Vec<EnvEntry> = task
                .env
                .iter()
                .map(|e| EnvEntry::Value {
                    name: e.name.clone(),
                    value: match e.name.as_str() {
                        "IMAGE" => "ghcr.io/podtato-head/podtatoserver:v0.1.1".into(),
                        _ => "2".into(),
                    },
                })
                .collect();
            let files: Vec<TaskFile> = task
                .files
                .iter()
                .flat_map(|f| match f.as_str() {
                    // A stand-in for the packed chart: gzip magic, not UTF-8.
                    "/charts" => vec![TaskFile {
                        path: "charts/helloservice.tgz".into(),
                        content: vec![0x1f, 0x8b, 0x08, 0x00],
                    }],
                    other => vec![TaskFile {
                        path: other.into(),
                        content: std::fs::read(examples.join(other)).unwrap(),
                    }],
                })
                .collect();
            let ev = event();
            let run = TaskRun {
                action,
                action_index: ai,
                task_index: ti,
                config_hash: &hash,
                event: &ev,
                env: &env,
                files: &files,
            };
            let b = build(&run, &jes_chart_settings()).unwrap();
            let stem = names::sanitize_label(&task.name)
                .to_lowercase()
                .replace('_', "-");
            out.push((
                stem,
                json_of(&b.job),
                b.files.map(|c| serde_json::to_value(c).unwrap()),
            ));
        }
    }
    out
}

/// Compares with a fixture file; `SLUICE_UPDATE_FIXTURES=1` rewrites it instead.
fn check_fixture(rel: &str, actual: &Value) {
    let path = manifest_dir().join("tests/fixtures").join(rel);
    let text = serde_json::to_string_pretty(actual).unwrap() + "\n";
    if std::env::var_os("SLUICE_UPDATE_FIXTURES").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with SLUICE_UPDATE_FIXTURES=1 to create it)",
            path.display()
        )
    });
    assert_eq!(
        text,
        expected,
        "{} differs (SLUICE_UPDATE_FIXTURES=1 rewrites it)",
        path.display()
    );
}

#[test]
fn fulltour_jobs_match_their_snapshots() {
    let rendered = render_fulltour();
    assert_eq!(rendered.len(), 3);
    for (stem, job, cm) in rendered {
        check_fixture(&format!("fulltour/sluice/{stem}.job.json"), &job);
        check_fixture(
            &format!("fulltour/sluice/{stem}.configmap.json"),
            &cm.unwrap(),
        );
    }
}

/// Where sluice's Job deliberately differs from JES's (see the crate documentation).
const DELIBERATE_DIFFERENCES: &[&str] = &[
    "/metadata/name",
    "/metadata/labels/app.kubernetes.io~1managed-by",
    "/spec/activeDeadlineSeconds",
    "/spec/template/metadata/labels/app.kubernetes.io~1managed-by",
    "/spec/template/spec/initContainers",
    "/spec/template/spec/containers/0/name",
    "/spec/template/spec/volumes/1",
];

fn remove_pointer(v: &mut Value, pointer: &str) -> bool {
    let (parent, last) = pointer.rsplit_once('/').unwrap();
    let last = last.replace("~1", "/").replace("~0", "~");
    match v.pointer_mut(parent) {
        Some(Value::Object(m)) => m.remove(&last).is_some(),
        Some(Value::Array(a)) => {
            let i: usize = last.parse().unwrap();
            i < a.len() && {
                a.remove(i);
                true
            }
        }
        _ => false,
    }
}

#[test]
fn fulltour_jobs_equal_job_executor_services_except_the_deliberate_differences() {
    for (stem, mut sluice, _) in render_fulltour() {
        let path = manifest_dir().join(format!("tests/fixtures/fulltour/jes/{stem}.job.json"));
        let mut jes: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for p in DELIBERATE_DIFFERENCES {
            assert!(
                remove_pointer(&mut sluice, p),
                "{stem}: sluice's Job has no {p}"
            );
            remove_pointer(&mut jes, p);
        }
        assert_eq!(
            sluice, jes,
            "{stem}: sluice's Job differs from JES's beyond the deliberate differences"
        );
    }
}
