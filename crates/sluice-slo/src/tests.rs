//! Conformance tests: Keptn's lighthouse unit tests (`evaluate_sli_handler_test.go`) ported
//! case by case, a table of cases computed with Keptn 1.4.5's lighthouse code
//! (`keptn_1_4_5.rs`), the worked examples of the spec digest and the tutorial, and property
//! tests.

mod keptn_1_4_5;
mod statistical;
mod statistics_properties;
mod statistics_scipy;

use std::collections::BTreeMap;

use base64::Engine as _;
use proptest::prelude::*;
use sluice_model::evaluation::{
    EvaluationDetails, EvaluationFinishedEventData, EventData, IndicatorStatus, ResultType,
    SliEvaluationResult, SliResult, SliTarget, StatusType,
};
use sluice_model::slo::{self, CriteriaSet, Criterion, CriterionSpec, Operator, Slo};

use crate::gate::evaluate_sets;
use crate::{EvaluationInput, PreviousEvaluation, evaluate, percentile};

const START: &str = "2019-10-20T07:57:27.152330783Z";
const END: &str = "2019-10-22T08:57:27.152330783Z";

fn slo(yaml: &str) -> Slo {
    let p = slo::parse(yaml);
    p.value.unwrap_or_else(|| panic!("{:?}", p.diagnostics))
}

fn val(metric: &str, value: f64) -> SliResult {
    SliResult {
        metric: metric.to_owned(),
        value,
        success: true,
        ..Default::default()
    }
}

fn failed_val(metric: &str, message: &str) -> SliResult {
    SliResult {
        metric: metric.to_owned(),
        success: false,
        message: message.to_owned(),
        ..Default::default()
    }
}

fn target(criteria: &str, target_value: f64, violated: bool) -> SliTarget {
    SliTarget {
        criteria: criteria.to_owned(),
        target_value,
        violated,
    }
}

/// A stored previous evaluation with the given data result and indicator values.
fn previous(result: ResultType, values: &[SliResult]) -> EvaluationFinishedEventData {
    EvaluationFinishedEventData {
        base: EventData {
            result: result.clone(),
            ..EventData::default()
        },
        evaluation: EvaluationDetails {
            result,
            indicator_results: values
                .iter()
                .map(|v| SliEvaluationResult {
                    score: 0.0,
                    value: Some(v.clone()),
                    display_name: String::new(),
                    pass_targets: None,
                    warning_targets: None,
                    key_sli: false,
                    status: IndicatorStatus::Pass,
                })
                .collect(),
            ..Default::default()
        },
    }
}

fn run(
    slo: &Slo,
    values: &[SliResult],
    prev: &[EvaluationFinishedEventData],
) -> EvaluationFinishedEventData {
    let previous: Vec<PreviousEvaluation<'_>> = prev
        .iter()
        .enumerate()
        .map(|(i, data)| PreviousEvaluation {
            id: Some(["e0", "e1", "e2", "e3", "e4"][i.min(4)]),
            data,
        })
        .collect();
    evaluate(&EvaluationInput {
        project: "sockshop",
        stage: "dev",
        service: "carts",
        slo: Some(slo),
        slo_file: b"slo",
        indicator_values: values,
        previous: &previous,
        time_start: START,
        time_end: END,
        ..Default::default()
    })
}

fn sets(list: &[&[&str]]) -> Vec<CriteriaSet> {
    list.iter()
        .map(|s| CriteriaSet {
            criteria: s.iter().map(|c| CriterionSpec::new(*c)).collect(),
        })
        .collect()
}

// ---- TestEvaluateValue / TestEvaluateFixedThreshold -------------------------------------

#[test]
fn keptn_evaluate_value() {
    assert!(Operator::Gt.holds(10.0, 9.0));
    assert!(Operator::Ge.holds(10.0, 10.0));
    assert!(Operator::Le.holds(10.0, 10.0));
    assert!(!Operator::Lt.holds(10.0, 10.0));
    assert!(!Operator::Gt.holds(10.0, 10.0));
    assert!(!Operator::Eq.holds(10.0, 9.0));
}

#[test]
fn keptn_evaluate_fixed_threshold() {
    let mut any = false;
    let (ok, t) = evaluate_sets(&sets(&[&[">9.0"]]), 10.0, None, &mut any).unwrap();
    assert!(ok);
    assert_eq!(t, vec![target(">9.0", 9.0, false)]);
    let (ok, t) = evaluate_sets(&sets(&[&["=9.0"]]), 10.0, None, &mut any).unwrap();
    assert!(!ok);
    assert_eq!(t, vec![target("=9.0", 9.0, true)]);
    // An unparsable criterion is an error (for pass and warning criteria alike).
    assert!(evaluate_sets(&sets(&[&["?9.0"]]), 10.0, None, &mut any).is_err());
}

// ---- TestCalculatePercentile ---------------------------------------------------------------

#[test]
fn keptn_calculate_percentile() {
    let v: Vec<f64> = (0..=10).map(f64::from).collect();
    assert_eq!(percentile(&v, 0.5), 5.0);
    assert_eq!(percentile(&v, 0.9), 9.8);
    assert_eq!(percentile(&v, 0.95), 10.0);
    assert_eq!(percentile(&[3.0], 0.5), 3.0);
    assert_eq!(percentile(&[4.0, 1.0], 0.1), 1.0);
    assert_eq!(percentile(&[], 0.5), 0.0);
}

// ---- TestEvaluateComparison / TestEvaluateSingleCriteria ------------------------------------

#[test]
fn keptn_evaluate_comparison_and_single_criteria() {
    // (criterion, measured, aggregate of previous [10, 10], expected)
    let cases: &[(&str, f64, f64, bool)] = &[
        ("<=+10%", 10.0, 10.0, true),
        ("<=+10%", 11.01, 10.0, false),
        ("<+0%", 10.0, 10.0, false),
        (">+0%", 10.0, 10.0, false),
        ("=+1", 11.0, 10.0, true),
        ("=-1", 9.0, 10.0, true),
        ("<=+10%", 10.0, 10.0, true), // p50 of [10, 10]
        ("<=10", 10.0, 10.0, true),
    ];
    for (c, measured, agg, expected) in cases {
        let mut any = false;
        let (ok, _) = evaluate_sets(&sets(&[&[c]]), *measured, Some(*agg), &mut any).unwrap();
        assert_eq!(ok, *expected, "{c} with {measured}");
    }
    // No previous values: relative criteria pass with target 0.
    let mut any = false;
    let (ok, t) = evaluate_sets(&sets(&[&["<=+10%"]]), 1e9, None, &mut any).unwrap();
    assert!(ok);
    assert_eq!(t, vec![target("<=+10%", 0.0, false)]);
}

// ---- TestEvaluateCriteriaSet / TestEvaluateOrCombinedCriteria ------------------------------

#[test]
fn keptn_evaluate_criteria_set() {
    let mut any = false;
    let (ok, t) =
        evaluate_sets(&sets(&[&["<=+10%", "<=10.0"]]), 10.0, Some(10.0), &mut any).unwrap();
    assert!(ok);
    assert_eq!(
        t,
        vec![target("<=+10%", 11.0, false), target("<=10.0", 10.0, false)]
    );
    let (ok, t) =
        evaluate_sets(&sets(&[&["<=+10%", "<=10.0"]]), 11.0, Some(10.0), &mut any).unwrap();
    assert!(!ok);
    assert_eq!(
        t,
        vec![target("<=+10%", 11.0, false), target("<=10.0", 10.0, true)]
    );
}

#[test]
fn keptn_evaluate_or_combined_criteria() {
    let s = sets(&[&["<=10.0"], &["<=+10%"]]);
    let mut any = false;
    let cases = [
        (10.0, true, [false, false]),
        (11.0, true, [true, false]),
        (20.0, false, [true, true]),
    ];
    for (measured, expected, violated) in cases {
        let (ok, t) = evaluate_sets(&s, measured, Some(10.0), &mut any).unwrap();
        assert_eq!(ok, expected);
        assert_eq!(
            t,
            vec![
                target("<=10.0", 10.0, violated[0]),
                target("<=+10%", 11.0, violated[1])
            ]
        );
    }
}

// ---- TestEvaluateObjectives -----------------------------------------------------------------

const METRIC1_SLO: &str = r#"
spec_version: "1.0"
comparison: {compare_with: several_results, include_result_with_score: pass, number_of_comparison_results: 2, aggregate_function: avg}
objectives:
  - sli: my-test-metric-1
    pass:
      - criteria: ["<=15.0"]
      - criteria: ["<=+10%"]
    warning:
      - criteria: ["<=20.0"]
      - criteria: ["<=+15%"]
    weight: 1
total_score: {pass: "90%", warning: "75%"}
"#;

#[test]
fn keptn_objectives_simple_comparison() {
    let s = slo(METRIC1_SLO);
    let prev = [previous(ResultType::Pass, &[val("my-test-metric-1", 10.0)])];
    let out = run(&s, &[val("my-test-metric-1", 10.0)], &prev);
    let r = &out.evaluation.indicator_results[0];
    assert_eq!(r.score, 1.0);
    assert_eq!(r.status, IndicatorStatus::Pass);
    assert_eq!(
        r.pass_targets,
        Some(vec![
            target("<=15.0", 15.0, false),
            target("<=+10%", 11.0, false)
        ])
    );
    assert_eq!(
        r.warning_targets,
        Some(vec![
            target("<=20.0", 20.0, false),
            target("<=+15%", 11.5, false)
        ])
    );
    assert_eq!(r.value.as_ref().unwrap().compared_value, 10.0);
    assert_eq!(out.evaluation.score, 100.0);
    assert_eq!(out.base.result, ResultType::Pass);
    assert_eq!(out.evaluation.compared_events, vec!["e0".to_owned()]);
}

#[test]
fn keptn_objectives_expect_warning() {
    let s = slo(METRIC1_SLO);
    let prev = [previous(ResultType::Pass, &[val("my-test-metric-1", 10.0)])];
    let out = run(&s, &[val("my-test-metric-1", 16.0)], &prev);
    let r = &out.evaluation.indicator_results[0];
    assert_eq!(r.score, 0.5);
    assert_eq!(r.status, IndicatorStatus::Warning);
    assert_eq!(
        r.pass_targets,
        Some(vec![
            target("<=15.0", 15.0, true),
            target("<=+10%", 11.0, true)
        ])
    );
    assert_eq!(
        r.warning_targets,
        Some(vec![
            target("<=20.0", 20.0, false),
            target("<=+15%", 11.5, true)
        ])
    );
    assert_eq!(out.evaluation.score, 50.0);
    assert_eq!(out.base.result, ResultType::Fail);
    assert_eq!(
        out.base.message,
        "Evaluation failed since the calculated score of 50 is below the warning value of 75"
    );
}

#[test]
fn keptn_objectives_logging_sli_does_not_affect_score() {
    for log_objective in [
        "  - sli: my-log-metric\n",
        "  - sli: my-log-metric\n    pass: []\n    warning: []\n",
    ] {
        let yaml = METRIC1_SLO.replace("total_score", &format!("{log_objective}total_score"));
        let s = slo(&yaml);
        let prev = [previous(ResultType::Pass, &[val("my-test-metric-1", 10.0)])];
        let out = run(
            &s,
            &[val("my-test-metric-1", 10.0), val("my-log-metric", 30.0)],
            &prev,
        );
        let r = &out.evaluation.indicator_results[1];
        assert_eq!(r.status, IndicatorStatus::Info);
        assert_eq!(r.score, 0.0);
        // getEmptyTargets: empty, not nil, lists.
        assert_eq!(r.pass_targets, Some(Vec::new()));
        assert_eq!(r.warning_targets, Some(Vec::new()));
        assert_eq!(r.value.as_ref().unwrap().compared_value, 0.0);
        assert_eq!(out.evaluation.score, 100.0);
        assert_eq!(out.base.result, ResultType::Pass);
        assert_eq!(out.base.message, "");
    }
}

#[test]
fn keptn_objectives_bug_1125_no_history() {
    let s = slo(
        "comparison: {compare_with: several_results, include_result_with_score: pass, number_of_comparison_results: 2}\nobjectives:\n  - sli: response_time_p50\n    pass: [{criteria: [\"<=+20%\", \"<500\"]}]\ntotal_score: {pass: '90%', warning: '75%'}\n",
    );
    let out = run(&s, &[val("response_time_p50", 1011.0745528937252)], &[]);
    let r = &out.evaluation.indicator_results[0];
    assert_eq!(r.status, IndicatorStatus::Fail);
    assert_eq!(r.score, 0.0);
    assert_eq!(
        r.pass_targets,
        Some(vec![
            target("<=+20%", 0.0, false),
            target("<500", 500.0, true)
        ])
    );
    assert!(out.evaluation.compared_events.is_empty());
}

#[test]
fn keptn_objectives_bug_1263_failed_previous_value_ignored() {
    let s = slo(
        "comparison: {compare_with: single_result, include_result_with_score: pass}\nobjectives:\n  - sli: response_time_p50\n    pass: [{criteria: [\"<=+20%\"]}]\ntotal_score: {pass: '90%', warning: '75%'}\n",
    );
    let prev = [previous(
        ResultType::Pass,
        &[failed_val("response_time_p50", "")],
    )];
    let out = run(&s, &[val("response_time_p50", 100.0)], &prev);
    let r = &out.evaluation.indicator_results[0];
    assert_eq!(r.status, IndicatorStatus::Pass);
    assert_eq!(r.score, 1.0);
    assert_eq!(r.pass_targets, Some(vec![target("<=+20%", 0.0, false)]));
}

// ---- TestCalculateScore --------------------------------------------------------------------

#[test]
fn keptn_calculate_score_key_sli_failed() {
    let yaml = METRIC1_SLO.replace(
        "total_score",
        "  - sli: my-key-metric\n    key_sli: true\n    pass: [{criteria: [\"<=5\"]}]\ntotal_score",
    );
    let s = slo(&yaml);
    let out = run(
        &s,
        &[val("my-test-metric-1", 10.0), val("my-key-metric", 10.0)],
        &[],
    );
    assert_eq!(out.evaluation.score, 50.0);
    assert_eq!(out.evaluation.result, ResultType::Fail);
    assert_eq!(out.base.result, ResultType::Fail);
    assert_eq!(out.base.status, StatusType::Succeeded);
    // Keptn names the displayName (empty here), not the SLI.
    assert_eq!(
        out.base.message,
        "Evaluation failed due to key_sli objective '': failed evaluation with score 0.000000"
    );
    // A key SLI in warning does not fail the evaluation.
    let out = run(
        &s,
        &[val("my-test-metric-1", 10.0), val("my-key-metric", 3.0)],
        &[],
    );
    assert_eq!(out.base.result, ResultType::Pass);
}

#[test]
fn keptn_calculate_score_only_info_slis() {
    let s =
        slo("objectives:\n  - sli: a\n  - sli: b\ntotal_score: {pass: '90%', warning: '75%'}\n");
    let out = run(&s, &[val("a", 10.0), val("b", 10.0)], &[]);
    assert_eq!(out.evaluation.score, 100.0);
    assert_eq!(out.evaluation.result, ResultType::Pass);
    assert_eq!(out.base.result, ResultType::Pass);
    assert_eq!(out.base.status, StatusType::Succeeded);
}

// ---- Spec digest Appendix C ----------------------------------------------------------------

const APPENDIX_C: &str = r#"
spec_version: "1.0"
comparison:
  compare_with: several_results
  number_of_comparison_results: 3
  include_result_with_score: pass
  aggregate_function: avg
objectives:
  - sli: response_time_p95
    pass:
      - criteria: ["<=+10%", "<600"]
    warning:
      - criteria: ["<=800"]
    weight: 1
  - sli: error_rate
    pass:
      - criteria: ["<=1"]
    weight: 1
total_score: {pass: "90%", warning: "75%"}
"#;

#[test]
fn appendix_c_worked_example() {
    let s = slo(APPENDIX_C);
    let prev = [
        previous(ResultType::Pass, &[val("response_time_p95", 500.0)]),
        previous(ResultType::Fail, &[val("response_time_p95", 9999.0)]),
        previous(ResultType::Pass, &[val("response_time_p95", 520.0)]),
        previous(ResultType::Pass, &[val("response_time_p95", 540.0)]),
        previous(ResultType::Pass, &[val("response_time_p95", 1.0)]),
    ];
    let out = run(
        &s,
        &[val("response_time_p95", 580.0), val("error_rate", 0.5)],
        &prev,
    );
    let rt = &out.evaluation.indicator_results[0];
    assert_eq!(rt.status, IndicatorStatus::Warning);
    assert_eq!(rt.score, 0.5);
    assert_eq!(
        rt.pass_targets,
        Some(vec![
            target("<=+10%", 572.0, true),
            target("<600", 600.0, false)
        ])
    );
    assert_eq!(
        rt.warning_targets,
        Some(vec![target("<=800", 800.0, false)])
    );
    assert_eq!(rt.value.as_ref().unwrap().compared_value, 520.0);
    let er = &out.evaluation.indicator_results[1];
    assert_eq!((er.status.clone(), er.score), (IndicatorStatus::Pass, 1.0));
    assert_eq!(out.evaluation.score, 75.0);
    assert_eq!(out.base.result, ResultType::Warning);
    assert_eq!(
        out.base.message,
        "Evaluation returned a warning: the calculated score of 75 is close to the warning target value of 75"
    );
    // The fail-result evaluation was skipped by the query filter; three were compared.
    assert_eq!(out.evaluation.compared_events, vec!["e0", "e2", "e3"]);

    // First-ever evaluation: relative criteria are satisfied.
    let out = run(
        &s,
        &[val("response_time_p95", 580.0), val("error_rate", 0.5)],
        &[],
    );
    assert_eq!(out.evaluation.score, 100.0);
    assert_eq!(out.base.result, ResultType::Pass);
}

// ---- Tutorial SLO (good and slow builds) ---------------------------------------------------

fn tutorial_slo() -> Slo {
    slo(include_str!(
        "../../sluice-model/tests/fixtures/slo/valid/poc-helloservice-tutorial.yaml"
    ))
}

#[test]
fn tutorial_good_build_is_warning_at_75() {
    let s = tutorial_slo();
    let values = [
        val("http_response_time_seconds_main_page_sum", 0.05),
        val("request_throughput", 1.02),
        val("go_routines", 10.0),
        failed_val("failing_request", "query did return multiple values"),
    ];
    let out = run(&s, &values, &[]);
    let st: Vec<_> = out
        .evaluation
        .indicator_results
        .iter()
        .map(|r| r.status.as_str().to_owned())
        .collect();
    assert_eq!(st, ["pass", "pass", "pass", "fail"]);
    let fr = &out.evaluation.indicator_results[3];
    assert_eq!(
        fr.value.as_ref().unwrap().message,
        "query did return multiple values"
    );
    assert_eq!(fr.pass_targets, Some(vec![target("<10", 10.0, true)]));
    assert_eq!(fr.display_name, "Failing Requests");
    assert_eq!(out.evaluation.score, 75.0);
    assert_eq!(out.base.result, ResultType::Warning);
    assert_eq!(out.base.status, StatusType::Succeeded);
}

#[test]
fn tutorial_slow_build_fails() {
    let s = tutorial_slo();
    let good = previous(
        ResultType::Warning,
        &[
            val("request_throughput", 1.0),
            val("http_response_time_seconds_main_page_sum", 0.05),
        ],
    );
    let good_pass = previous(ResultType::Pass, &[val("request_throughput", 1.0)]);
    let values = [
        val("http_response_time_seconds_main_page_sum", 0.45),
        val("request_throughput", 0.9),
        val("go_routines", 10.0),
        failed_val("failing_request", "query did return multiple values"),
    ];
    let out = run(&s, &values, &[good, good_pass]);
    let rt = &out.evaluation.indicator_results[0];
    assert_eq!(rt.status, IndicatorStatus::Fail);
    assert_eq!(rt.warning_targets, Some(vec![target("<=0.1", 0.1, true)]));
    // single_result + include pass: only the pass evaluation (e1) is compared.
    assert_eq!(out.evaluation.compared_events, vec!["e1"]);
    let tp = &out.evaluation.indicator_results[1];
    assert_eq!(tp.pass_targets, Some(vec![target(">=-80%", 0.2, false)]));
    assert_eq!(out.evaluation.score, 50.0);
    assert_eq!(out.base.result, ResultType::Fail);
    assert_eq!(
        out.base.message,
        "Evaluation failed since the calculated score of 50 is below the warning value of 75"
    );
}

// ---- Keptn messages and special flows ------------------------------------------------------

#[test]
fn no_slo_file_passes() {
    let out = evaluate(&EvaluationInput {
        project: "sockshop",
        stage: "dev",
        service: "carts",
        time_start: START,
        time_end: END,
        ..Default::default()
    });
    assert_eq!(out.base.result, ResultType::Pass);
    assert_eq!(out.base.status, StatusType::Succeeded);
    assert_eq!(
        out.base.message,
        "no evaluation performed by lighthouse because no SLO file configured for project sockshop"
    );
}

#[test]
fn errored_and_aborted_get_sli() {
    let s = slo(APPENDIX_C);
    for (status, msg) in [
        (
            StatusType::Errored,
            "evaluation performed by lighthouse received an unexpected error: boom",
        ),
        (
            StatusType::Aborted,
            "evaluation performed by lighthouse was aborted",
        ),
    ] {
        let out = evaluate(&EvaluationInput {
            slo: Some(&s),
            get_sli_status: &status,
            get_sli_message: "boom",
            ..Default::default()
        });
        assert_eq!(out.base.status, StatusType::Errored);
        assert_eq!(out.base.result, ResultType::Fail);
        assert_eq!(out.base.message, msg);
    }
}

#[test]
fn no_objectives_fail() {
    let p = slo::parse(include_str!(
        "../../sluice-model/tests/fixtures/slo/invalid/keptn-lighthouse-no-objectives.yaml"
    ));
    let s = p.value.unwrap();
    let fail = ResultType::Fail;
    let out = evaluate(&EvaluationInput {
        slo: Some(&s),
        get_sli_result: &fail,
        get_sli_message: "no SLIs were requested",
        ..Default::default()
    });
    assert_eq!(out.base.status, StatusType::Succeeded);
    assert_eq!(out.base.result, ResultType::Fail);
    assert_eq!(
        out.base.message,
        "lighthouse failed because no SLO objective was provided"
    );
}

#[test]
fn get_sli_fail_forces_result_fail() {
    let s = slo(APPENDIX_C);
    let fail = ResultType::Fail;
    let values = [val("response_time_p95", 100.0), val("error_rate", 0.0)];
    let out = evaluate(&EvaluationInput {
        slo: Some(&s),
        indicator_values: &values,
        get_sli_result: &fail,
        get_sli_message: "some-silly-msg",
        ..Default::default()
    });
    assert_eq!(out.base.status, StatusType::Succeeded);
    assert_eq!(out.base.result, ResultType::Fail);
    assert_eq!(out.evaluation.result, ResultType::Pass);
    assert_eq!(out.evaluation.score, 100.0);
    assert_eq!(
        out.base.message,
        "lighthouse failed because SLI failed with message some-silly-msg"
    );
}

#[test]
fn total_score_errors_are_errored_events_with_base64_slo() {
    let cases = [
        ("total_score: {warning: '75%'}", "no target score defined"),
        (
            "total_score: {pass: bla, warning: bla}",
            "could not parse pass target percentage",
        ),
        (
            "total_score: {pass: '90%', warning: '75%%'}",
            "could not parse warning target percentage",
        ),
    ];
    for (ts, msg) in cases {
        let yaml = format!("objectives:\n  - sli: a\n    pass: [{{criteria: ['<1']}}]\n{ts}\n");
        let s = slo(&yaml);
        let values = [val("a", 5.0)];
        let out = evaluate(&EvaluationInput {
            slo: Some(&s),
            slo_file: yaml.as_bytes(),
            indicator_values: &values,
            ..Default::default()
        });
        assert_eq!(out.base.status, StatusType::Errored, "{ts}");
        assert_eq!(out.base.result, ResultType::Fail);
        assert_eq!(out.base.message, msg);
        // sendErroredFinishedEventWithMessage base64-encodes the file like the other events.
        assert_eq!(
            out.evaluation.slo_file_content,
            base64::engine::general_purpose::STANDARD.encode(&yaml)
        );
        assert!(out.evaluation.indicator_results.is_empty());
    }
    // calculateScore checks an unparsable warning target before it scores, so even a
    // passing evaluation is errored.
    let yaml = "objectives:\n  - sli: a\n    pass: [{criteria: ['<10']}]\ntotal_score: {pass: '90%', warning: '75%%'}\n";
    let out = run(&slo(yaml), &[val("a", 5.0)], &[]);
    assert_eq!(out.base.status, StatusType::Errored);
    assert_eq!(
        out.base.message,
        "could not parse warning target percentage"
    );
}

#[test]
fn bad_pass_criterion_aborts_bad_warning_criterion_drops_warning_targets() {
    let p = slo::parse(include_str!(
        "../../sluice-model/tests/fixtures/slo/invalid/keptn-lighthouse-wrong-criteria.yaml"
    ));
    let s = p.value.unwrap();
    let out = run(&s, &[val("response_time_p95", 100.0)], &[]);
    assert_eq!(out.base.result, ResultType::Fail);
    assert_eq!(out.base.status, StatusType::Succeeded);
    assert_eq!(
        out.base.message,
        "error with response_time_p95: invalid criteria string"
    );

    let yaml = "objectives:\n  - sli: a\n    pass: [{criteria: ['<1']}]\n    warning: [{criteria: ['<<10']}]\ntotal_score: {pass: '90%', warning: '50%'}\n";
    let out = run(&slo(yaml), &[val("a", 5.0)], &[]);
    let r = &out.evaluation.indicator_results[0];
    assert_eq!(r.status, IndicatorStatus::Fail);
    // evaluateOrCombinedCriteria returns an empty list with its error; no warning.
    assert_eq!(r.warning_targets, Some(Vec::new()));
}

#[test]
fn missing_value_fails_objective_and_key_sli() {
    let yaml = "objectives:\n  - sli: a\n    displayName: A\n    key_sli: true\n    pass: [{criteria: ['<1', '<=+5%', 'bad']}]\n  - sli: b\n    pass: [{criteria: ['<1']}]\ntotal_score: {pass: '50%'}\n";
    let s = slo(yaml);
    let out = run(&s, &[val("b", 0.0)], &[]);
    let r = &out.evaluation.indicator_results[0];
    assert_eq!(r.status, IndicatorStatus::Fail);
    assert_eq!(r.display_name, "A");
    // Keptn set keySli only on the measured path.
    assert!(!r.key_sli);
    assert_eq!(
        r.value.as_ref().unwrap().message,
        crate::gate::NO_VALUE_MESSAGE
    );
    assert_eq!(
        r.pass_targets,
        Some(vec![target("<1", 1.0, true), target("<=+5%", 0.0, true)])
    );
    assert_eq!(r.warning_targets, Some(Vec::new()));
    assert_eq!(out.evaluation.score, 50.0);
    assert_eq!(out.base.result, ResultType::Fail);
    assert_eq!(
        out.base.message,
        "Evaluation failed due to key_sli objective 'A': no value received from SLI provider"
    );
}

#[test]
fn additional_slis_message_uses_keptns_swap_remove_order() {
    let s = slo("objectives:\n  - sli: a\ntotal_score: {pass: '90%'}\n");
    let values = [val("a", 1.0), val("x", 1.0), val("y", 1.0), val("z", 1.0)];
    let out = run(&s, &values, &[]);
    assert_eq!(
        out.base.message,
        "Lighthouse received additional SLIs, which are not specified as SLO: z, x, y . Please consider using them as an SLO."
    );
    assert_eq!(out.base.result, ResultType::Pass);
}

#[test]
fn output_json_has_keptns_shape() {
    let s = slo(APPENDIX_C);
    let mut labels = BTreeMap::new();
    labels.insert("k".to_owned(), "v".to_owned());
    let values = [val("response_time_p95", 100.0), val("error_rate", 0.0)];
    let out = evaluate(&EvaluationInput {
        project: "p",
        stage: "s",
        service: "x",
        labels: Some(&labels),
        slo: Some(&s),
        slo_file: b"abc",
        indicator_values: &values,
        time_start: "t0",
        time_end: "t1",
        ..Default::default()
    });
    let json = serde_json::to_string(&out).unwrap();
    assert_eq!(
        json,
        r#"{"project":"p","stage":"s","service":"x","labels":{"k":"v"},"status":"succeeded","result":"pass","evaluation":{"timeStart":"t0","timeEnd":"t1","result":"pass","score":100,"sloFileContent":"YWJj","indicatorResults":[{"score":1,"value":{"metric":"response_time_p95","value":100,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":0,"violated":false},{"criteria":"<600","targetValue":600,"violated":false}],"warningTargets":[{"criteria":"<=800","targetValue":800,"violated":false}],"keySli":false,"status":"pass"},{"score":1,"value":{"metric":"error_rate","value":0,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}]}}"#
    );
}

// ---- Property tests --------------------------------------------------------------------------

fn arb_criterion() -> impl Strategy<Value = Criterion> {
    let op = prop_oneof![
        Just(Operator::Lt),
        Just(Operator::Le),
        Just(Operator::Eq),
        Just(Operator::Ge),
        Just(Operator::Gt)
    ];
    let num = prop_oneof![
        0.0f64..1e6,
        any::<f64>().prop_filter("finite", |f| f.is_finite())
    ];
    (op, num, any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(op, v, relative, percent, increase)| {
            if relative {
                Criterion::Relative {
                    op,
                    change: v,
                    percent,
                    increase,
                }
            } else {
                Criterion::Absolute { op, value: v.abs() }
            }
        },
    )
}

fn same(a: &Criterion, b: &Criterion) -> bool {
    match (a, b) {
        (Criterion::Absolute { op: o1, value: v1 }, Criterion::Absolute { op: o2, value: v2 }) => {
            o1 == o2 && v1.to_bits() == v2.to_bits()
        }
        (
            Criterion::Relative {
                op: o1,
                change: c1,
                percent: p1,
                increase: i1,
            },
            Criterion::Relative {
                op: o2,
                change: c2,
                percent: p2,
                increase: i2,
            },
        ) => o1 == o2 && c1.to_bits() == c2.to_bits() && p1 == p2 && i1 == i2,
        _ => false,
    }
}

/// An SLO with objectives `o0..oN`, each `<=limit` (optionally key SLIs), weights given.
fn numbered_slo(weights: &[i64], key: &[bool]) -> Slo {
    let mut y = String::from("objectives:\n");
    for (i, w) in weights.iter().enumerate() {
        y.push_str(&format!(
            "  - sli: o{i}\n    weight: {w}\n    key_sli: {}\n    pass: [{{criteria: ['<=10']}}]\n    warning: [{{criteria: ['<=20']}}]\n",
            key.get(i).copied().unwrap_or(false)
        ));
    }
    y.push_str("total_score: {pass: '90%', warning: '75%'}\n");
    slo(&y)
}

proptest! {
    #[test]
    fn criterion_parse_never_panics(s in ".{0,24}") {
        let _ = Criterion::parse(&s);
    }

    #[test]
    fn criterion_parse_never_panics_on_near_misses(s in "[<>=|+\\-%0-9. eEnaifx]{0,12}") {
        let _ = Criterion::parse(&s);
    }

    #[test]
    fn formatted_criterion_reparses_to_itself(c in arb_criterion()) {
        let text = c.to_string();
        let back = Criterion::parse(&text);
        prop_assert!(back.as_ref().is_ok_and(|b| same(b, &c)), "{} -> {:?}", text, back);
    }

    #[test]
    fn score_is_bounded_and_monotone(
        weights in proptest::collection::vec(1i64..5, 1..8),
        measured in proptest::collection::vec(0.0f64..30.0, 8),
        key in proptest::collection::vec(any::<bool>(), 8),
    ) {
        let s = numbered_slo(&weights, &key);
        let values: Vec<SliResult> = (0..weights.len()).map(|i| val(&format!("o{i}"), measured[i])).collect();
        let out = run(&s, &values, &[]);
        prop_assert!((0.0..=100.0).contains(&out.evaluation.score));
        let key_failed = out.evaluation.indicator_results.iter().any(|r| r.key_sli && r.status == IndicatorStatus::Fail);
        if key_failed {
            prop_assert_eq!(out.base.result.clone(), ResultType::Fail);
        }
        // All values passing → pass with 100.
        let passing: Vec<SliResult> = (0..weights.len()).map(|i| val(&format!("o{i}"), 1.0)).collect();
        let all = run(&s, &passing, &[]);
        prop_assert_eq!(all.evaluation.score, 100.0);
        prop_assert_eq!(all.base.result, ResultType::Pass);
        // Adding a failing objective never raises the score.
        let mut more_w = weights.clone();
        more_w.push(1);
        let s2 = numbered_slo(&more_w, &key);
        let mut v2 = values.clone();
        v2.push(val(&format!("o{}", weights.len()), 100.0));
        let out2 = run(&s2, &v2, &[]);
        prop_assert!(out2.evaluation.score <= out.evaluation.score + 1e-9);
    }
}

/// An objective without pass criteria stays informational even when its value is missing or
/// unsuccessful, and so cannot fail a gate as a key SLI (Keptn checks pass criteria first).
#[test]
fn informational_key_sli_without_value_does_not_fail_the_gate() {
    let s = slo(
        "objectives:\n  - sli: rt\n    pass:\n      - criteria: ['<600']\n  - sli: cpu\n    key_sli: true\n    warning:\n      - criteria: ['<90']\ntotal_score: {pass: '90%', warning: '75%'}\n",
    );
    let values = [val("rt", 100.0), failed_val("cpu", "no data")];
    let input = EvaluationInput {
        slo: Some(&s),
        indicator_values: &values,
        ..Default::default()
    };
    let out = evaluate(&input);
    assert_eq!(out.base.result, ResultType::Pass);
    let cpu = &out.evaluation.indicator_results[1];
    assert_eq!(cpu.status, IndicatorStatus::Info);
    assert_eq!(cpu.warning_targets, Some(vec![target("<90", 90.0, true)]));
}

/// Kayenta-style groups: latency (weight 3) has two objectives, one passing and one failing;
/// errors (weight 1) has one passing. Keptn's single sum would give 2 of 3 objectives
/// (66.7 %); the groups give (3 × 50 + 1 × 100) / 4 = 62.5 %.
const GROUPED_SLO: &str = "spec_version: '1.0'\ngroups: {latency: 3, errors: 1}\nobjectives:\n  - sli: p95\n    group: latency\n    pass: [{criteria: ['<=500']}]\n  - sli: p99\n    group: latency\n    pass: [{criteria: ['<=800']}]\n  - sli: error_rate\n    group: errors\n    pass: [{criteria: ['<=1']}]\n  - sli: throughput\n    group: errors\ntotal_score: {pass: '90%', warning: '60%'}\n";

#[test]
fn grouped_score_is_the_weighted_mean_of_the_groups_scores() {
    let s = slo(GROUPED_SLO);
    let values = [
        val("p95", 400.0),
        val("p99", 900.0),
        val("error_rate", 0.5),
        val("throughput", 100.0),
    ];
    let out = run(&s, &values, &[]);
    assert_eq!(out.evaluation.score, 62.5);
    assert_eq!(out.evaluation.result, ResultType::Warning);
    // The same objectives without groups: Keptn's one sum, 2 of 3.
    let flat = slo(&GROUPED_SLO
        .replace("groups: {latency: 3, errors: 1}\n", "")
        .replace("    group: latency\n", "")
        .replace("    group: errors\n", ""));
    let out = run(&flat, &values, &[]);
    assert!((out.evaluation.score - 200.0 / 3.0).abs() < 1e-9);
    // Both latency objectives failing: (3 × 0 + 1 × 100) / 4 = 25 %, a fail.
    let out = run(
        &s,
        &[val("p95", 600.0), val("p99", 900.0), val("error_rate", 0.5)],
        &[],
    );
    assert_eq!(out.evaluation.score, 25.0);
    assert_eq!(out.evaluation.result, ResultType::Fail);
}

#[test]
fn a_group_without_counted_objectives_does_not_weigh() {
    // `errors` holds only an informational objective: the total is latency's score alone.
    let s = slo(
        "groups: {latency: 1, errors: 5}\nobjectives:\n  - sli: p95\n    group: latency\n    pass: [{criteria: ['<=500']}]\n  - sli: throughput\n    group: errors\ntotal_score: {pass: '90%'}\n",
    );
    let out = run(&s, &[val("p95", 400.0), val("throughput", 3.0)], &[]);
    assert_eq!(out.evaluation.score, 100.0);
    assert_eq!(out.evaluation.result, ResultType::Pass);
}

#[test]
fn the_explanation_lists_each_groups_points_and_weight() {
    let s = slo(GROUPED_SLO);
    let values = [
        val("p95", 400.0),
        val("p99", 900.0),
        val("error_rate", 0.5),
        val("throughput", 100.0),
    ];
    let input = EvaluationInput {
        project: "sockshop",
        stage: "dev",
        service: "carts",
        slo: Some(&s),
        slo_file: b"slo",
        indicator_values: &values,
        time_start: START,
        time_end: END,
        ..Default::default()
    };
    let out = evaluate(&input);
    let e = crate::explain::explain(&input, &out);
    let groups: Vec<(&str, i64, f64, f64)> = e
        .groups
        .iter()
        .map(|g| (g.name.as_str(), g.weight, g.points, g.max_points))
        .collect();
    assert_eq!(
        groups,
        vec![("latency", 3, 1.0, 2.0), ("errors", 1, 1.0, 1.0)]
    );
    assert_eq!(e.score, 62.5);
}
