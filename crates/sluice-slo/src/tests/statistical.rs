//! sluice's SLO extensions in the gate: `statistical` criteria scored from samples,
//! `on_missing`, and `compare_with: baseline`; an SLO without them scores as in Keptn.

use sluice_model::evaluation::{
    EvaluationFinishedEventData, IndicatorStatus, ResultType, SliResult,
};
use sluice_model::slo::{self, Slo};

use crate::judge::{Samples, SliSamples};
use crate::{EvaluationInput, PreviousEvaluation, evaluate, evaluate_with_samples};

fn slo(yaml: &str) -> Slo {
    let p = slo::parse(yaml);
    assert!(!p.diagnostics.has_errors(), "{:?}", p.diagnostics);
    p.value.expect("SLO")
}

fn val(metric: &str, value: f64) -> SliResult {
    SliResult {
        metric: metric.to_owned(),
        value,
        success: true,
        ..Default::default()
    }
}

fn samples(metric: &str, base: f64, n: usize) -> SliSamples {
    SliSamples {
        metric: metric.to_owned(),
        values: (0..n).map(|i| base + (i % 10) as f64).collect(),
    }
}

fn run(
    slo: &Slo,
    values: &[SliResult],
    current: &[SliSamples],
    baseline: &[SliSamples],
) -> EvaluationFinishedEventData {
    let input = EvaluationInput {
        slo: Some(slo),
        indicator_values: values,
        get_sli_status: &sluice_model::evaluation::StatusType::Succeeded,
        get_sli_result: &ResultType::Pass,
        ..Default::default()
    };
    evaluate_with_samples(&input, Samples { current, baseline })
}

const KEPTN_ONLY: &str = "comparison: {compare_with: several_results, number_of_comparison_results: 2}\nobjectives:\n  - sli: rt\n    pass: [{criteria: ['<=+10%', '<600']}]\n    warning: [{criteria: ['<=800']}]\n    key_sli: true\n  - sli: errors\n    pass: [{criteria: ['<=1']}]\n  - sli: missing\n    pass: [{criteria: ['<1']}]\n  - sli: info\ntotal_score: {pass: '90%', warning: '50%'}\n";

#[test]
fn samples_do_not_change_a_keptn_only_slo() {
    let s = slo(KEPTN_ONLY);
    let values = [val("rt", 580.0), val("errors", 2.0), val("info", 3.0)];
    let plain = evaluate(&EvaluationInput {
        slo: Some(&s),
        indicator_values: &values,
        get_sli_status: &sluice_model::evaluation::StatusType::Succeeded,
        get_sli_result: &ResultType::Pass,
        ..Default::default()
    });
    let with_samples = run(
        &s,
        &values,
        &[samples("rt", 900.0, 50)],
        &[samples("rt", 100.0, 50)],
    );
    assert_eq!(
        serde_json::to_string(&plain).unwrap(),
        serde_json::to_string(&with_samples).unwrap()
    );
}

const STATISTICAL_ONLY: &str = "objectives:\n  - sli: rt\n    displayName: Response time\n    key_sli: true\n    statistical: {test: mann-whitney, direction: increase, alpha: 0.05, effect_size: 1.2}\n  - sli: errors\n    pass: [{criteria: ['<=1']}]\ntotal_score: {pass: '90%', warning: '50%'}\n";

#[test]
fn a_statistical_objective_fails_on_a_significant_increase() {
    let s = slo(STATISTICAL_ONLY);
    let values = [val("rt", 155.0), val("errors", 0.0)];
    let out = run(
        &s,
        &values,
        &[samples("rt", 150.0, 40)],
        &[samples("rt", 100.0, 40)],
    );
    let rt = &out.evaluation.indicator_results[0];
    assert_eq!(rt.status, IndicatorStatus::Fail);
    assert_eq!(rt.score, 0.0);
    assert!(rt.key_sli);
    let targets = rt.pass_targets.as_ref().expect("targets");
    assert_eq!(targets.len(), 1);
    assert_eq!(
        targets[0].criteria,
        "mann-whitney increase alpha=0.05 effect_size=1.2 (median_ratio)"
    );
    assert_eq!(targets[0].target_value, 0.05);
    assert!(targets[0].violated);
    // The statistical objective counts toward the maximum: 1 of 2 points.
    assert_eq!(out.evaluation.score, 50.0);
    assert_eq!(out.base.result, ResultType::Fail);
    assert!(
        out.base.message.starts_with(
            "Evaluation failed due to key_sli objective 'Response time': significant increase (p = "
        ),
        "{}",
        out.base.message
    );
}

#[test]
fn a_statistical_objective_passes_without_a_significant_change() {
    let s = slo(STATISTICAL_ONLY);
    let values = [val("rt", 100.0), val("errors", 0.0)];
    let out = run(
        &s,
        &values,
        &[samples("rt", 100.0, 40)],
        &[samples("rt", 100.0, 35)],
    );
    let rt = &out.evaluation.indicator_results[0];
    assert_eq!(rt.status, IndicatorStatus::Pass);
    assert_eq!(rt.score, 1.0);
    assert!(!rt.pass_targets.as_ref().unwrap()[0].violated);
    assert_eq!(
        (out.evaluation.score, out.base.result),
        (100.0, ResultType::Pass)
    );
    // The value is reported as received; no value is needed for a statistical-only objective.
    assert_eq!(rt.value.as_ref().map(|v| v.value), Some(100.0));
    let out = run(
        &s,
        &[val("errors", 0.0)],
        &[samples("rt", 100.0, 40)],
        &[samples("rt", 100.0, 35)],
    );
    assert_eq!(
        out.evaluation.indicator_results[0].status,
        IndicatorStatus::Pass
    );
    assert_eq!(out.evaluation.indicator_results[0].value, None);
}

const COMBINED: &str = "objectives:\n  - sli: rt\n    pass: [{criteria: ['<600']}]\n    warning: [{criteria: ['<=800']}]\n    statistical: {test: mann-whitney}\ntotal_score: {pass: '90%', warning: '50%'}\n";

#[test]
fn the_statistical_criterion_is_an_extra_pass_criterion() {
    let s = slo(COMBINED);
    // Keptn's criteria hold, the distribution moved: the warning criterion still holds.
    let out = run(
        &s,
        &[val("rt", 500.0)],
        &[samples("rt", 150.0, 40)],
        &[samples("rt", 100.0, 40)],
    );
    let rt = &out.evaluation.indicator_results[0];
    assert_eq!(rt.status, IndicatorStatus::Warning);
    assert_eq!(rt.score, 0.5);
    let targets = rt.pass_targets.as_ref().unwrap();
    assert_eq!(
        targets
            .iter()
            .map(|t| (t.criteria.as_str(), t.violated))
            .collect::<Vec<_>>(),
        vec![("<600", false), ("mann-whitney increase alpha=0.05", true)]
    );
    assert_eq!(rt.value.as_ref().unwrap().compared_value, 0.0);
    // Both hold: pass.
    let out = run(
        &s,
        &[val("rt", 500.0)],
        &[samples("rt", 100.0, 40)],
        &[samples("rt", 100.0, 40)],
    );
    assert_eq!(
        out.evaluation.indicator_results[0].status,
        IndicatorStatus::Pass
    );
    // Keptn's criterion fails, the statistical one holds, the warning fails too: fail.
    let out = run(
        &s,
        &[val("rt", 900.0)],
        &[samples("rt", 100.0, 40)],
        &[samples("rt", 100.0, 40)],
    );
    assert_eq!(
        out.evaluation.indicator_results[0].status,
        IndicatorStatus::Fail
    );
}

fn with_on_missing(on_missing: &str) -> Slo {
    slo(&format!(
        "objectives:\n  - sli: rt\n    key_sli: true\n    statistical: {{test: mann-whitney}}\n{on_missing}  - sli: errors\n    pass: [{{criteria: ['<=1']}}]\ntotal_score: {{pass: '90%', warning: '50%'}}\n"
    ))
}

#[test]
fn missing_samples_follow_on_missing() {
    let values = [val("errors", 0.0)];
    let few = [SliSamples {
        metric: "rt".into(),
        values: vec![1.0, f64::NAN],
    }];
    let baseline = [samples("rt", 100.0, 10)];
    // Default (Keptn's behaviour for missing data): the objective fails, a key SLI the gate.
    let out = run(&with_on_missing(""), &values, &few, &baseline);
    assert_eq!(
        out.evaluation.indicator_results[0].status,
        IndicatorStatus::Fail
    );
    assert_eq!(out.base.result, ResultType::Fail);
    assert_eq!(
        out.base.message,
        "Evaluation failed due to key_sli objective '': no data: 1 usable current sample, 10 usable baseline samples (at least 3 needed on each side)"
    );
    let explicit = run(
        &with_on_missing("    on_missing: fail\n"),
        &values,
        &few,
        &baseline,
    );
    assert_eq!(explicit, out);
    // warn: half the weight, no gate failure.
    let out = run(
        &with_on_missing("    on_missing: warn\n"),
        &values,
        &[],
        &baseline,
    );
    assert_eq!(
        out.evaluation.indicator_results[0].status,
        IndicatorStatus::Warning
    );
    assert_eq!(out.evaluation.score, 75.0);
    assert_eq!(out.base.result, ResultType::Warning);
    // ignore: informational, not counted.
    let out = run(
        &with_on_missing("    on_missing: ignore\n"),
        &values,
        &few,
        &[],
    );
    assert_eq!(
        out.evaluation.indicator_results[0].status,
        IndicatorStatus::Info
    );
    assert_eq!(
        (out.evaluation.score, out.base.result),
        (100.0, ResultType::Pass)
    );
}

#[test]
fn on_missing_for_a_keptn_objective() {
    let keptn = slo(
        "objectives:\n  - sli: rt\n    key_sli: true\n    pass: [{criteria: ['<600']}]\n  - sli: errors\n    pass: [{criteria: ['<=1']}]\ntotal_score: {pass: '90%', warning: '50%'}\n",
    );
    let on = |policy: &str| {
        slo(&format!(
            "objectives:\n  - sli: rt\n    key_sli: true\n    pass: [{{criteria: ['<600']}}]\n    on_missing: {policy}\n  - sli: errors\n    pass: [{{criteria: ['<=1']}}]\ntotal_score: {{pass: '90%', warning: '50%'}}\n"
        ))
    };
    let missing = [val("errors", 0.0)];
    // fail is Keptn's behaviour, byte for byte.
    let keptn_out = run(&keptn, &missing, &[], &[]);
    assert_eq!(keptn_out.base.result, ResultType::Fail);
    assert_eq!(run(&on("fail"), &missing, &[], &[]), keptn_out);
    let out = run(&on("warn"), &missing, &[], &[]);
    assert_eq!(
        out.evaluation.indicator_results[0].status,
        IndicatorStatus::Warning
    );
    assert_eq!(
        (out.evaluation.score, out.base.result.clone()),
        (75.0, ResultType::Warning)
    );
    let out = run(&on("ignore"), &missing, &[], &[]);
    assert_eq!(
        out.evaluation.indicator_results[0].status,
        IndicatorStatus::Info
    );
    assert_eq!(
        (out.evaluation.score, out.base.result.clone()),
        (100.0, ResultType::Pass)
    );
    // With a value, every policy scores as Keptn does.
    let values = [val("rt", 700.0), val("errors", 0.0)];
    let keptn_out = run(&keptn, &values, &[], &[]);
    for policy in ["fail", "warn", "ignore"] {
        assert_eq!(run(&on(policy), &values, &[], &[]), keptn_out, "{policy}");
    }
}

#[test]
fn compare_with_baseline_compares_with_the_one_pinned_evaluation() {
    let s = slo(
        "comparison: {compare_with: baseline}\nobjectives:\n  - sli: rt\n    pass: [{criteria: ['<=+10%']}]\ntotal_score: {pass: '90%'}\n",
    );
    let old = |v: f64| {
        evaluate(&EvaluationInput {
            slo: Some(&s),
            indicator_values: &[val("rt", v)],
            ..Default::default()
        })
    };
    let (pinned, older) = (old(100.0), old(1000.0));
    let previous = [
        PreviousEvaluation {
            id: Some("pinned"),
            data: &pinned,
        },
        PreviousEvaluation {
            id: Some("older"),
            data: &older,
        },
    ];
    let out = evaluate(&EvaluationInput {
        slo: Some(&s),
        indicator_values: &[val("rt", 150.0)],
        previous: &previous,
        ..Default::default()
    });
    assert_eq!(out.evaluation.compared_events, vec!["pinned".to_owned()]);
    assert_eq!(
        out.evaluation.indicator_results[0].status,
        IndicatorStatus::Fail
    );
}
