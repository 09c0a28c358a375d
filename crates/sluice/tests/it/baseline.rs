//! Pinned baselines end to end: a real server with an external SLI provider answering with
//! samples, `sluice baseline set|get|clear`, and statistical criteria that compare with the
//! pinned evaluation's samples.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::server::{Server, TOKEN, tutorial_project};
use crate::{scratch, sluice_env};

const SLO: &str = "comparison:
  compare_with: baseline
objectives:
  - sli: response_time
    pass:
      - criteria: [\"<=+50%\"]
    statistical:
      test: mann-whitney
      direction: increase
      alpha: 0.05
      effect_size: 1.1
      effect_measure: mean_ratio
total_score:
  pass: \"90%\"
  warning: \"75%\"
";

fn events_of(server: &Server, ctx: &str) -> Vec<Value> {
    let a = server.call(
        "GET",
        &format!("/api/mongodb-datastore/event?keptnContext={ctx}&pageSize=100"),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["events"].as_array().cloned().unwrap_or_default()
}

/// Polls (bounded) until the context has an event of this type.
fn wait_for_event(server: &Server, ctx: &str, ty: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(e) = events_of(server, ctx).into_iter().find(|e| e["type"] == ty) {
            return e;
        }
        assert!(Instant::now() < deadline, "no {ty} in time");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// 400 latencies: a spread body and, with `tail`, every tenth request 300 ms slower.
fn latencies(tail: bool) -> Vec<f64> {
    (0..400)
        .map(|i| {
            let body = 20.0 + f64::from((i * 37) % 100) / 10.0;
            if tail && i % 10 == 0 {
                body + 300.0
            } else {
                body
            }
        })
        .collect()
}

/// Triggers an evaluation, answers its get-sli.triggered as an external provider with a
/// value and its samples, and returns the evaluation.finished event.
fn evaluate(server: &Server, value: f64, samples: Vec<f64>) -> Value {
    let scope = json!({"project": "fulltour", "stage": "qa", "service": "helloservice"});
    let mut data = scope.clone();
    data["evaluation"] = json!({"timeframe": "5m"});
    let a = server.call(
        "POST",
        "/api/v1/event",
        Some(
            &json!({"specversion": "1.0", "type": "sh.keptn.event.evaluation.triggered",
                     "source": "test", "data": data}),
        ),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let ctx = a.json()["keptnContext"].as_str().unwrap().to_owned();
    let request = wait_for_event(server, &ctx, "sh.keptn.event.get-sli.triggered");
    let mut finished = scope.clone();
    finished["status"] = json!("succeeded");
    finished["result"] = json!("pass");
    finished["get-sli"] = json!({
        "start": request["data"]["get-sli"]["start"], "end": request["data"]["get-sli"]["end"],
        "indicatorValues": [{"metric": "response_time", "value": value, "success": true, "samples": samples}]
    });
    let a = server.call(
        "POST",
        "/api/v1/event",
        Some(
            &json!({"specversion": "1.0", "type": "sh.keptn.event.get-sli.finished",
                     "source": "test-sli", "shkeptncontext": ctx, "triggeredid": request["id"],
                     "data": finished}),
        ),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    wait_for_event(server, &ctx, "sh.keptn.event.evaluation.finished")
}

#[test]
fn a_pinned_baseline_is_compared_statistically_and_managed_from_the_cli() {
    let dir = scratch("baseline");
    let server = Server::start(&dir.join("data"));
    tutorial_project(&server);
    let a = server.call(
        "POST",
        "/api/sluice/v1/project/fulltour/monitoring",
        Some(&json!({"type": "test-sli"})),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let content = base64::engine::general_purpose::STANDARD.encode(SLO);
    let a = server.call(
        "POST",
        "/api/resource-service/v1/project/fulltour/stage/qa/service/helloservice/resource",
        Some(&json!({"resources": [{"resourceURI": "slo.yaml", "resourceContent": content}]})),
    );
    assert!(
        a.status == 200 || a.status == 201,
        "{} {}",
        a.status,
        a.body
    );
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let env = [
        ("SLUICE_ENDPOINT", server.base.as_str()),
        ("SLUICE_API_TOKEN", TOKEN),
    ];
    let scope = [
        "--project",
        "fulltour",
        "--stage",
        "qa",
        "--service",
        "helloservice",
    ];

    // Nothing pinned yet: the statistical criterion has nothing to compare with.
    let first = evaluate(&server, 25.0, latencies(false));
    assert_eq!(first["data"]["result"], "fail", "{first}");
    assert!(
        first["data"]["message"]
            .as_str()
            .unwrap()
            .contains("no baseline is pinned"),
        "{first}"
    );
    let mut args = vec!["baseline", "get"];
    args.extend(scope);
    let run = sluice_env(&home, &env, &args);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("no baseline is pinned"),
        "{}",
        run.stderr
    );

    // A scope that is not the evaluation's is refused before anything is sent.
    let id = first["id"].as_str().unwrap();
    let run = sluice_env(
        &home,
        &env,
        &[
            "baseline",
            "set",
            "--evaluation",
            id,
            "--stage",
            "production",
        ],
    );
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("not \"production\""), "{}", run.stderr);
    let run = sluice_env(&home, &env, &["baseline", "set", "--evaluation", id]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(id), "{}", run.stdout);
    let mut args = vec!["baseline", "get", "-o", "json"];
    args.extend(scope);
    let run = sluice_env(&home, &env, &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let pinned: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(pinned["evaluationId"], id);

    // The same distribution passes; a slow tail on a tenth of the requests fails
    // statistically although the value's Keptn criterion holds.
    let same = evaluate(&server, 25.0, latencies(false));
    assert_eq!(same["data"]["result"], "pass", "{same}");
    assert_eq!(same["data"]["evaluation"]["comparedEvents"], json!([id]));
    let tail = evaluate(&server, 30.0, latencies(true));
    assert_eq!(tail["data"]["result"], "fail", "{tail}");
    let targets = &tail["data"]["evaluation"]["indicatorResults"][0]["passTargets"];
    assert_eq!(targets[0]["violated"], false, "{targets}");
    assert_eq!(targets[1]["violated"], true, "{targets}");

    // The explanation shows both samples' sizes, medians, the effect and the p-value.
    let a = server.call(
        "GET",
        &format!("/api/sluice/v1/evaluation/{}", tail["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let stat = &a.json()["explanation"]["objectives"][0]["statistical"];
    assert_eq!(stat["current"]["count"], 400, "{stat}");
    assert_eq!(stat["baseline"]["count"], 400, "{stat}");
    assert!(stat["pValue"].as_f64().unwrap() < 0.05, "{stat}");
    assert!(stat["effect"].as_f64().unwrap() > 1.1, "{stat}");
    assert!(stat["current"]["median"].is_number(), "{stat}");
    assert_eq!(stat["samples"]["baseline"].as_array().unwrap().len(), 400);

    let mut args = vec!["baseline", "clear"];
    args.extend(scope);
    let run = sluice_env(&home, &env, &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = sluice_env(&home, &env, &args);
    assert_ne!(run.code, 0);
    let run = sluice_env(
        &home,
        &env,
        &["audit", "--action", "baseline.set", "-o", "json"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(id), "{}", run.stdout);
    let _ = std::fs::remove_dir_all(dir);
}
