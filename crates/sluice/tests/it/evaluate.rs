//! `sluice evaluate` on the tutorial's files, the spec's worked example and bad input.

use serde_json::{Value, json};

use crate::{scratch, sluice, write};

const SLO: &str = "examples/fulltour/slo.yaml";
const GOOD: &str = "examples/fulltour/evaluation/good-build.json";
const SLOW: &str = "examples/fulltour/evaluation/slow-build.json";

fn json_of(run: &crate::Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", run.stdout, run.stderr))
}

#[test]
fn the_good_build_gets_a_warning_and_exit_zero() {
    let run = sluice(&["evaluate", "--slo", SLO, "--sli", GOOD]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("Score 75 (3 of 4 points), pass ≥ 90%, warning ≥ 75%: WARNING"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("the SLI provider failed: query did return multiple values"),
        "{}",
        run.stdout
    );
    assert_eq!(
        sluice(&["evaluate", "--slo", SLO, "--sli", GOOD, "--fail-on-warning"]).code,
        1
    );
}

#[test]
fn a_missing_value_reads_as_missing_with_its_criteria_not_checked() {
    let dir = scratch("eval-missing");
    let slo = write(
        &dir,
        "slo.yaml",
        "objectives:\n  - sli: rt\n    displayName: Response time\n    key_sli: true\n    pass:\n      - criteria: ['<600']\n  - sli: cpu\n    warning:\n      - criteria: ['<90']\n  - sli: err\n    pass:\n      - criteria: ['<=1']\ntotal_score: {pass: '90%', warning: '75%'}\n",
    );
    let sli = write(
        &dir,
        "sli.json",
        r#"[{"metric": "err", "value": 0.5, "success": true}, {"metric": "cpu", "value": 95, "success": true}]"#,
    );
    let run = sluice(&["evaluate", "--slo", &slo, "--sli", &sli, "--color", "never"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let row = |name: &str| {
        run.stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no row {name}: {}", run.stdout))
            .to_owned()
    };
    assert!(row("Response time").contains("missing"), "{}", run.stdout);
    assert!(
        row("Response time").contains("→ 600        –"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("no value received from SLI provider"),
        "{}",
        run.stdout
    );
    // The informational objective's warning is listed by Keptn but never checked.
    assert!(row("cpu").contains("–"), "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "Evaluation failed due to key_sli objective 'Response time': no value received from SLI provider"
        ),
        "{}",
        run.stdout
    );
    let data = json_of(&sluice(&[
        "evaluate", "--slo", &slo, "--sli", &sli, "-o", "json",
    ]));
    let rt = &data["evaluation"]["indicatorResults"][0];
    assert_eq!(rt["keySli"], false);
    assert_eq!(rt["warningTargets"], json!([]));
    let cpu = &data["evaluation"]["indicatorResults"][1];
    assert_eq!(cpu["passTargets"], json!([]));
    assert_eq!(cpu["warningTargets"][0]["violated"], true);
}

#[test]
fn the_slow_build_fails_the_gate() {
    let run = sluice(&["evaluate", "--slo", SLO, "--sli", SLOW]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("FAIL"), "{}", run.stdout);
    let data = json_of(&sluice(&[
        "evaluate", "--slo", SLO, "--sli", SLOW, "-o", "json",
    ]));
    assert_eq!(data["result"], "fail");
    assert_eq!(data["status"], "succeeded");
    assert_eq!(data["evaluation"]["score"], 50);
    let statuses: Vec<&str> = data["evaluation"]["indicatorResults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["fail", "pass", "pass", "fail"]);
    assert_eq!(
        data["message"],
        "Evaluation failed since the calculated score of 50 is below the warning value of 75"
    );
}

#[test]
fn json_output_is_keptns_evaluation_finished_data() {
    let data = json_of(&sluice(&[
        "evaluate", "--slo", SLO, "--sli", GOOD, "-o", "json",
    ]));
    assert_eq!(data["result"], "warning");
    let first = &data["evaluation"]["indicatorResults"][0];
    assert_eq!(first["displayName"], "HTTP Response Time");
    assert_eq!(
        first["passTargets"],
        json!([{"criteria": "<=0.4", "targetValue": 0.4, "violated": false}])
    );
    assert_eq!(
        first["value"]["metric"],
        "http_response_time_seconds_main_page_sum"
    );
    let slo_file = std::fs::read(crate::repo_root().join(SLO)).unwrap();
    let encoded = data["evaluation"]["sloFileContent"].as_str().unwrap();
    assert_eq!(
        encoded.len(),
        slo_file.len().div_ceil(3) * 4,
        "sloFileContent is the base64 of the SLO file"
    );
}

#[test]
fn without_an_slo_nothing_is_evaluated_and_the_result_is_pass() {
    let run = sluice(&["evaluate", "--sli", GOOD, "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let data = json_of(&run);
    assert_eq!(data["result"], "pass");
    assert!(
        data["message"]
            .as_str()
            .unwrap()
            .starts_with("no evaluation performed by lighthouse because no SLO file configured")
    );
}

#[test]
fn an_empty_slo_file_is_no_slo_file() {
    let dir = scratch("eval-empty-slo");
    let slo = write(&dir, "slo.yaml", "");
    let run = sluice(&["evaluate", "--slo", &slo, "--sli", GOOD, "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("is empty"), "{}", run.stderr);
    let data = json_of(&run);
    assert_eq!(data["result"], "pass");
    assert_eq!(data["status"], "succeeded");
}

/// The spec digest's Appendix C: relative and absolute criteria against three earlier results.
#[test]
fn the_worked_example_compares_with_history() {
    let dir = scratch("eval-worked");
    let slo = write(
        &dir,
        "slo.yaml",
        "spec_version: '1.0'\ncomparison:\n  compare_with: several_results\n  number_of_comparison_results: 3\n  include_result_with_score: pass\n  aggregate_function: avg\nobjectives:\n  - sli: response_time_p95\n    pass:\n      - criteria: ['<=+10%', '<600']\n    warning:\n      - criteria: ['<=800']\n  - sli: error_rate\n    pass:\n      - criteria: ['<=1']\ntotal_score: {pass: '90%', warning: '75%'}\n",
    );
    let previous: Vec<Value> = [500, 520, 540]
        .iter()
        .enumerate()
        .map(|(i, v)| {
            json!({"id": format!("eval-{i}"), "type": "sh.keptn.event.evaluation.finished", "data": {
                "result": "pass",
                "evaluation": {"result": "pass", "score": 100, "indicatorResults": [
                    {"score": 1, "status": "pass", "value": {"metric": "response_time_p95", "value": v, "success": true}},
                    {"score": 1, "status": "pass", "value": {"metric": "error_rate", "value": 0, "success": true}}
                ]}
            }})
        })
        .collect();
    let previous = write(
        &dir,
        "previous.json",
        serde_json::to_vec(&previous).unwrap(),
    );
    let sli = write(
        &dir,
        "sli.json",
        r#"[{"metric": "response_time_p95", "value": 580, "success": true}, {"metric": "error_rate", "value": 0.5, "success": true}]"#,
    );
    let run = sluice(&[
        "evaluate",
        "--slo",
        &slo,
        "--sli",
        &sli,
        "--previous",
        &previous,
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let data = json_of(&run);
    assert_eq!(data["result"], "warning");
    assert_eq!(data["evaluation"]["score"], 75);
    assert_eq!(
        data["evaluation"]["comparedEvents"],
        json!(["eval-0", "eval-1", "eval-2"])
    );
    let rt = &data["evaluation"]["indicatorResults"][0];
    assert_eq!(rt["status"], "warning");
    assert_eq!(rt["value"]["comparedValue"], 520);
    let target = rt["passTargets"][0]["targetValue"].as_f64().unwrap();
    assert!((target - 572.0).abs() < 1e-9, "{target}");
    assert_eq!(rt["passTargets"][0]["violated"], true);

    let text = sluice(&[
        "evaluate",
        "--slo",
        &slo,
        "--sli",
        &sli,
        "--previous",
        &previous,
    ]);
    assert!(
        text.stdout
            .contains("compared with 3 earlier evaluations (avg)"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("→ 572"), "{}", text.stdout);
}

#[test]
fn unusable_input_exits_two_with_a_located_message() {
    let dir = scratch("eval-bad");
    let bad_json = write(
        &dir,
        "values.json",
        "[{\"metric\": \"rt\", \"value\": 1,}\n]",
    );
    let run = sluice(&["evaluate", "--slo", SLO, "--sli", &bad_json]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!("{bad_json}:1:")),
        "{}",
        run.stderr
    );

    let wrong_type = write(
        &dir,
        "typed.json",
        r#"[{"metric": "rt", "value": "fast", "success": true}]"#,
    );
    let run = sluice(&["evaluate", "--slo", SLO, "--sli", &wrong_type]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("indicator value [0]"), "{}", run.stderr);

    let broken_slo = write(&dir, "slo.yaml", "objectives:\n  - sli: rt\n   pass: []\n");
    let run = sluice(&["evaluate", "--slo", &broken_slo, "--sli", GOOD]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!("{broken_slo}:3:")),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());

    let missing = sluice(&["evaluate", "--slo", "/nonexistent/slo.yaml"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("cannot read /nonexistent/slo.yaml"),
        "{}",
        missing.stderr
    );
}

#[test]
fn an_invalid_slo_still_shows_what_keptn_reported_but_exits_two() {
    let dir = scratch("eval-invalid");
    let slo = write(
        &dir,
        "slo.yaml",
        "objectives:\n  - sli: rt\n    pass:\n      - criteria: ['<<600']\ntotal_score: {pass: '90%'}\n",
    );
    let sli = write(
        &dir,
        "sli.json",
        r#"[{"metric": "rt", "value": 100, "success": true}]"#,
    );
    let run = sluice(&["evaluate", "--slo", &slo, "--sli", &sli, "-o", "json"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains(&format!("{slo}:4:")), "{}", run.stderr);
    let data = json_of(&run);
    assert_eq!(data["result"], "fail");
}

#[test]
fn a_get_sli_finished_event_is_accepted_as_values() {
    let dir = scratch("eval-event");
    let event = write(
        &dir,
        "get-sli.finished.json",
        serde_json::to_vec(&json!({
            "type": "sh.keptn.event.get-sli.finished",
            "data": {"project": "fulltour", "stage": "qa", "service": "helloservice", "result": "pass", "status": "succeeded",
                "get-sli": {"start": "2026-11-27T10:00:00.000Z", "end": "2026-11-27T10:02:00.000Z", "indicatorValues": [
                    {"metric": "http_response_time_seconds_main_page_sum", "value": 0.01, "success": true},
                    {"metric": "request_throughput", "value": 1.2, "success": true},
                    {"metric": "go_routines", "value": 8, "success": true},
                    {"metric": "failing_request", "value": 0, "success": true}
                ]}}
        }))
        .unwrap(),
    );
    let run = sluice(&["evaluate", "--slo", SLO, "--sli", &event, "-o", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let data = json_of(&run);
    assert_eq!(data["result"], "pass");
    assert_eq!(data["evaluation"]["timeStart"], "2026-11-27T10:00:00.000Z");
    assert_eq!(data["evaluation"]["score"], 100);
}

#[test]
fn statistical_criteria_are_scored_and_explained_from_samples() {
    let dir = scratch("eval-statistical");
    let slo = write(
        &dir,
        "slo.yaml",
        "spec_version: '1.0'\nobjectives:\n  - sli: rt\n    displayName: Response time\n    pass: [{criteria: ['<600']}]\n    statistical: {test: mann-whitney, direction: increase, effect_size: 1.2}\ntotal_score: {pass: '90%'}\n",
    );
    let sli = write(
        &dir,
        "sli.json",
        r#"[{"metric": "rt", "value": 160, "success": true}]"#,
    );
    let series = |base: f64| -> Vec<f64> { (0..40).map(|i| base + f64::from(i % 10)).collect() };
    let current = write(
        &dir,
        "current.json",
        json!({"rt": series(150.0)}).to_string(),
    );
    let baseline = write(
        &dir,
        "baseline.json",
        json!({"rt": series(100.0)}).to_string(),
    );
    let args = [
        "evaluate",
        "--slo",
        &slo,
        "--sli",
        &sli,
        "--samples",
        &current,
        "--baseline-samples",
        &baseline,
    ];
    let run = sluice(&args);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    for expected in [
        "statistical mann-whitney increase alpha=0.05 effect_size=1.2 (median_ratio) ✘",
        "current n=40 median 154.5 · baseline n=40 median 104.5",
        "median ratio 1.478 · mean ratio 1.478 · shift 50 · U 1600 · p ",
        "and the median ratio 1.478 is beyond 1.2",
    ] {
        assert!(
            run.stdout.contains(expected),
            "expected `{expected}` in:\n{}",
            run.stdout
        );
    }
    // The same samples on both sides pass.
    let run = sluice(&[
        "evaluate",
        "--slo",
        &slo,
        "--sli",
        &sli,
        "--samples",
        &baseline,
        "--baseline-samples",
        &baseline,
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(json_of(&run)["result"], "pass");

    // Without the files: the samples the SLI values carry, and those kept in the first
    // previous evaluation's results (what the server stores).
    let sli_with_samples = write(
        &dir,
        "sli-samples.json",
        json!([{"metric": "rt", "value": 160, "success": true, "samples": series(150.0)}])
            .to_string(),
    );
    let previous = write(
        &dir,
        "previous.json",
        json!([{"result": "pass", "evaluation": {"result": "pass", "indicatorResults": [
            {"status": "pass", "score": 1, "value": {"metric": "rt", "value": 105, "success": true, "samples": series(100.0)}}
        ]}}])
        .to_string(),
    );
    let run = sluice(&[
        "evaluate",
        "--slo",
        &slo,
        "--sli",
        &sli_with_samples,
        "--previous",
        &previous,
    ]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("current n=40 median 154.5 · baseline n=40 median 104.5"),
        "{}",
        run.stdout
    );
}
