//! Why a quality gate decided what it did: one row per objective, ready to be shown to a person.
//!
//! Keptn's `evaluation.finished` data holds the numbers but not the reasoning: which target
//! came from which criterion, whether a relative target had any history behind it, how many
//! points each objective could have earned. [`explain`] joins the SLO, the evaluation input
//! and the result into an [`Explanation`] that the CLI renders as a table and the web UI can
//! render the same way. It is pure and does not re-score anything: every status, target and
//! score comes from the evaluation result.

use sluice_model::evaluation::{
    EvaluationFinishedEventData, IndicatorStatus, ResultType, SliTarget,
};
use sluice_model::slo::Criterion;

use crate::gate::{EvaluationInput, NO_VALUE_MESSAGE};
use crate::history::{PreviousValues, select_previous};
use crate::judge::{self, Samples, samples_of};

/// The reasoning behind one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// One row per objective, in SLO order.
    pub objectives: Vec<ObjectiveRow>,
    /// Number of earlier evaluations the relative criteria were compared with.
    pub compared_evaluations: usize,
    /// The aggregate function used for comparisons (`avg`, `p90`, ...).
    pub aggregate_function: String,
    /// Total score in percent.
    pub score: f64,
    /// `total_score.pass` as written, if any.
    pub pass_threshold: Option<String>,
    /// `total_score.warning` as written, if any.
    pub warning_threshold: Option<String>,
    /// The verdict (`data.result`).
    pub result: ResultType,
    /// Keptn's message.
    pub message: String,
    /// Points earned over all objectives that have pass criteria.
    pub points: f64,
    /// Points available (the sum of their weights).
    pub max_points: f64,
    /// With the SLO's `groups`: each group's points and weight (the score is their weighted
    /// mean); empty otherwise.
    pub groups: Vec<GroupRow>,
}

/// One group of an SLO with `groups`.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupRow {
    /// The group's name.
    pub name: String,
    /// Its weight.
    pub weight: i64,
    /// Points its objectives earned.
    pub points: f64,
    /// Points they could earn.
    pub max_points: f64,
}

/// One objective's row.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectiveRow {
    /// `displayName`, or the SLI name.
    pub name: String,
    /// The SLI name.
    pub sli: String,
    /// Whether it is a key SLI (failing it fails the gate).
    pub key_sli: bool,
    /// `pass`, `warning`, `fail` or `info`.
    pub status: IndicatorStatus,
    /// The measured value, when the provider delivered one successfully.
    pub value: Option<f64>,
    /// Whether the SLI provider sent no value at all for this SLI.
    pub missing: bool,
    /// Why there is no value (Keptn's "no value received from SLI provider", or the
    /// provider's message), when there is none.
    pub value_error: Option<String>,
    /// The aggregate of earlier values, when there was usable history and the value was
    /// compared with it.
    pub compared_value: Option<f64>,
    /// Number of earlier successful values of this SLI that were compared with.
    pub history: usize,
    /// Every target, pass targets first, then warning targets.
    pub targets: Vec<TargetRow>,
    /// Points earned.
    pub points: f64,
    /// Points available (the weight), or 0 for an informational objective.
    pub max_points: f64,
    /// The statistical criterion (sluice extension), when the objective has one.
    pub statistical: Option<StatisticalRow>,
}

/// A statistical criterion with what its judge found: both samples' sizes and medians, the
/// effect and the p-value (see [`judge::Judgement`]), or why there was no data.
#[derive(Debug, Clone, PartialEq)]
pub struct StatisticalRow {
    /// The criterion as listed in the pass targets.
    pub criterion: String,
    /// What the judge concluded from the samples.
    pub outcome: judge::Outcome,
}

/// Which list a target belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// A `pass` criterion.
    Pass,
    /// A `warning` criterion.
    Warning,
}

/// One criterion with its computed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRow {
    /// Pass or warning.
    pub kind: TargetKind,
    /// The criterion as written.
    pub criteria: String,
    /// The threshold the value was compared with; `None` for a relative criterion without
    /// usable history (Keptn then counts it as met) or that was not evaluated.
    pub threshold: Option<f64>,
    /// Whether the criterion held (false when it was not evaluated).
    pub held: bool,
    /// Whether Keptn evaluated the criterion at all: not for an informational objective nor
    /// for a missing or unsuccessful value, whose targets Keptn lists as violated.
    pub evaluated: bool,
    /// Whether the criterion is relative to earlier results.
    pub relative: bool,
}

/// Builds the explanation of `output`, which [`crate::evaluate`] produced from `input`.
pub fn explain(input: &EvaluationInput<'_>, output: &EvaluationFinishedEventData) -> Explanation {
    explain_with_samples(input, Samples::default(), output)
}

/// Builds the explanation of `output`, which [`crate::evaluate_with_samples`] produced from
/// `input` and `samples`. The statistical rows are the judge's findings on the same samples
/// (the judge is deterministic, so they are what the gate scored).
pub fn explain_with_samples(
    input: &EvaluationInput<'_>,
    samples: Samples<'_>,
    output: &EvaluationFinishedEventData,
) -> Explanation {
    let (selected, aggregate_function) = match input.slo {
        Some(slo) => (
            select_previous(&slo.comparison, input.previous),
            slo.comparison.aggregate_function.as_str().to_owned(),
        ),
        None => (Vec::new(), String::new()),
    };
    let history = PreviousValues::new(&selected);
    let results = &output.evaluation.indicator_results;
    let mut objectives = Vec::new();
    let (mut points, mut max_points) = (0.0, 0.0);
    let mut groups: Vec<GroupRow> = input.slo.map_or_else(Vec::new, |slo| {
        slo.groups
            .iter()
            .map(|g| GroupRow {
                name: g.name.clone(),
                weight: g.weight,
                points: 0.0,
                max_points: 0.0,
            })
            .collect()
    });
    let group_index: std::collections::HashMap<String, usize> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.name.clone(), i))
        .collect();
    // Keptn reports one result per objective, in SLO order, or none when it gave up early.
    let slo_objectives = input.slo.map_or(&[][..], |slo| slo.objectives.as_slice());
    let rows = if results.len() == slo_objectives.len() {
        slo_objectives
    } else {
        &[][..]
    };
    for (objective, result) in rows.iter().zip(results) {
        // Informational objectives (Keptn: no pass criteria; sluice: nothing left to check)
        // earn nothing.
        let max = if result.status == IndicatorStatus::Info {
            0.0
        } else {
            objective.weight as f64
        };
        max_points += max;
        // Keptn's total counts only results that listed pass targets.
        let earned = if max > 0.0 && result.pass_targets.as_ref().is_some_and(|t| !t.is_empty()) {
            result.score
        } else {
            0.0
        };
        points += earned;
        if let Some(group) = objective
            .group
            .as_deref()
            .and_then(|name| group_index.get(name))
            .map(|&i| &mut groups[i])
        {
            group.points += earned;
            group.max_points += max;
        }
        let value = result.value.as_ref();
        let delivered = value.is_some_and(|v| v.success);
        // Keptn evaluated criteria only for a delivered value of an objective with pass
        // criteria; otherwise it listed them all as violated without checking them.
        let evaluated = delivered && !objective.pass.is_empty();
        let past = history.values(&objective.sli).len();
        let relative_of = |criteria: &str, kind: TargetKind| -> bool {
            let sets = match kind {
                TargetKind::Pass => &objective.pass,
                TargetKind::Warning => &objective.warning,
            };
            sets.iter()
                .flat_map(|s| s.criteria.iter())
                .find(|c| c.text == criteria)
                .and_then(|c| c.parsed.as_ref().ok())
                .is_some_and(|c| matches!(c, Criterion::Relative { .. }))
        };
        let row_of = |t: &SliTarget, kind: TargetKind| {
            let relative = relative_of(&t.criteria, kind);
            TargetRow {
                kind,
                criteria: t.criteria.clone(),
                // A relative target not evaluated carries the aggregate, not a threshold.
                threshold: if relative && (past == 0 || !evaluated) {
                    None
                } else {
                    Some(t.target_value)
                },
                held: evaluated && !t.violated,
                evaluated,
                relative,
            }
        };
        let statistical = objective.statistical.map(|criterion| StatisticalRow {
            criterion: criterion.describe(),
            outcome: judge::judge(
                &criterion,
                samples_of(samples.current, &objective.sli),
                samples_of(samples.baseline, &objective.sli),
            ),
        });
        let mut targets: Vec<TargetRow> = result
            .pass_targets
            .iter()
            .flatten()
            .filter(|t| {
                statistical
                    .as_ref()
                    .is_none_or(|s| s.criterion != t.criteria)
            })
            .map(|t| row_of(t, TargetKind::Pass))
            .collect();
        targets.extend(
            result
                .warning_targets
                .iter()
                .flatten()
                .map(|t| row_of(t, TargetKind::Warning)),
        );
        let missing = value.is_none_or(|v| !v.success && v.message == NO_VALUE_MESSAGE);
        objectives.push(ObjectiveRow {
            name: objective.name().to_owned(),
            sli: objective.sli.clone(),
            key_sli: objective.key_sli,
            status: result.status.clone(),
            value: value.filter(|v| v.success).map(|v| v.value),
            missing,
            value_error: if delivered {
                None
            } else if missing {
                Some(NO_VALUE_MESSAGE.to_owned())
            } else {
                Some(
                    value
                        .map(|v| v.message.clone())
                        .filter(|m| !m.is_empty())
                        .unwrap_or_else(|| "the SLI provider reported no success".to_owned()),
                )
            },
            compared_value: (past > 0 && evaluated)
                .then(|| value.map_or(0.0, |v| v.compared_value)),
            history: past,
            targets,
            points: result.score,
            max_points: max,
            statistical,
        });
    }
    let total = input.slo.and_then(|s| s.total_score.as_ref());
    Explanation {
        objectives,
        compared_evaluations: selected.len(),
        aggregate_function,
        score: output.evaluation.score,
        pass_threshold: total.and_then(|t| t.pass.as_ref()).map(|t| t.text.clone()),
        warning_threshold: total
            .and_then(|t| t.warning.as_ref())
            .map(|t| t.text.clone()),
        result: output.base.result.clone(),
        message: output.base.message.clone(),
        points,
        max_points,
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::PreviousEvaluation;
    use sluice_model::evaluation::SliResult;

    fn value(metric: &str, v: f64) -> SliResult {
        SliResult {
            metric: metric.into(),
            value: v,
            success: true,
            ..Default::default()
        }
    }

    const SLO: &str = "spec_version: '1.0'\ncomparison:\n  compare_with: several_results\n  number_of_comparison_results: 3\n  include_result_with_score: pass\n  aggregate_function: avg\nobjectives:\n  - sli: response_time_p95\n    displayName: Response time\n    pass:\n      - criteria: ['<=+10%', '<600']\n    warning:\n      - criteria: ['<=800']\n  - sli: error_rate\n    pass:\n      - criteria: ['<=1']\n  - sli: throughput\ntotal_score: {pass: '90%', warning: '75%'}\n";

    #[test]
    fn explains_the_spec_worked_example() {
        let slo = sluice_model::slo::parse(SLO).ok().expect("valid SLO");
        // Three previous passing evaluations with 500, 520 and 540.
        let previous: Vec<EvaluationFinishedEventData> = [500.0, 520.0, 540.0]
            .iter()
            .map(|v| {
                let input = EvaluationInput {
                    slo: Some(&slo),
                    indicator_values: &[value("response_time_p95", *v), value("error_rate", 0.1)],
                    ..Default::default()
                };
                crate::evaluate(&input)
            })
            .collect();
        let previous: Vec<PreviousEvaluation> = previous
            .iter()
            .map(|d| PreviousEvaluation { id: None, data: d })
            .collect();
        let values = [
            value("response_time_p95", 580.0),
            value("error_rate", 0.5),
            value("throughput", 12.0),
        ];
        let input = EvaluationInput {
            slo: Some(&slo),
            indicator_values: &values,
            previous: &previous,
            ..Default::default()
        };
        let out = crate::evaluate(&input);
        let e = explain(&input, &out);
        assert_eq!(e.compared_evaluations, 3);
        assert_eq!((e.points, e.max_points), (1.5, 2.0));
        assert_eq!(e.score, 75.0);
        assert_eq!(e.result, ResultType::Warning);
        let rt = &e.objectives[0];
        assert_eq!(rt.name, "Response time");
        assert_eq!(rt.compared_value, Some(520.0));
        assert_eq!(rt.history, 3);
        let t: Vec<(TargetKind, &str, Option<f64>, bool)> = rt
            .targets
            .iter()
            .map(|t| {
                (
                    t.kind,
                    t.criteria.as_str(),
                    t.threshold.map(|v| v.round()),
                    t.held,
                )
            })
            .collect();
        assert_eq!(
            t,
            vec![
                (TargetKind::Pass, "<=+10%", Some(572.0), false),
                (TargetKind::Pass, "<600", Some(600.0), true),
                (TargetKind::Warning, "<=800", Some(800.0), true),
            ]
        );
        assert_eq!((rt.points, rt.max_points), (0.5, 1.0));
        let info = &e.objectives[2];
        assert_eq!((info.status.as_str(), info.max_points), ("info", 0.0));
    }

    #[test]
    fn relative_targets_without_history_have_no_threshold() {
        let slo = sluice_model::slo::parse(SLO).ok().expect("valid SLO");
        let values = [value("response_time_p95", 580.0), value("error_rate", 0.5)];
        let input = EvaluationInput {
            slo: Some(&slo),
            indicator_values: &values,
            ..Default::default()
        };
        let out = crate::evaluate(&input);
        let e = explain(&input, &out);
        let rt = &e.objectives[0];
        assert_eq!(rt.compared_value, None);
        assert_eq!(rt.targets[0].threshold, None);
        assert!(rt.targets[0].held && rt.targets[0].relative);
        let missing = &e.objectives[2];
        assert_eq!(missing.value, None);
        assert!(missing.value_error.is_some());
    }

    #[test]
    fn missing_and_informational_rows_are_not_checked() {
        let slo = sluice_model::slo::parse(SLO).ok().expect("valid SLO");
        // response_time_p95 missing, throughput (informational) missing, error_rate failed.
        let values = [SliResult {
            metric: "error_rate".into(),
            message: "query failed".into(),
            ..Default::default()
        }];
        let input = EvaluationInput {
            slo: Some(&slo),
            indicator_values: &values,
            ..Default::default()
        };
        let out = crate::evaluate(&input);
        let e = explain(&input, &out);
        assert_eq!(e.objectives.len(), 3, "a null value still has its row");
        let rt = &e.objectives[0];
        assert!(rt.missing);
        assert_eq!(rt.value_error.as_deref(), Some(NO_VALUE_MESSAGE));
        assert!(rt.targets.iter().all(|t| !t.evaluated && !t.held));
        // A relative target that was not evaluated has no threshold (Keptn put the aggregate).
        assert_eq!(rt.targets[0].threshold, None);
        assert_eq!(rt.targets[1].threshold, Some(600.0));
        let er = &e.objectives[1];
        assert!(!er.missing);
        assert_eq!(er.value_error.as_deref(), Some("query failed"));
        let info = &e.objectives[2];
        assert!(info.missing);
        assert_eq!(info.status, IndicatorStatus::Info);
        assert_eq!((e.points, e.max_points), (0.0, 2.0));
    }

    #[test]
    fn statistical_rows_show_sizes_medians_effect_and_p_value() {
        use crate::judge::{Outcome, SliSamples, Verdict};
        let slo = sluice_model::slo::parse(
            "objectives:\n  - sli: rt\n    statistical: {test: mann-whitney, effect_size: 1.2}\n    pass: [{criteria: ['<600']}]\n  - sli: errors\n    statistical: {test: mann-whitney}\n    on_missing: ignore\ntotal_score: {pass: '90%'}\n",
        )
        .ok()
        .expect("valid SLO");
        let series =
            |base: f64| -> Vec<f64> { (0..40).map(|i| base + f64::from(i % 10)).collect() };
        let current = [SliSamples {
            metric: "rt".into(),
            values: series(150.0),
        }];
        let baseline = [SliSamples {
            metric: "rt".into(),
            values: series(100.0),
        }];
        let samples = Samples {
            current: &current,
            baseline: &baseline,
        };
        let values = [value("rt", 155.0)];
        let input = EvaluationInput {
            slo: Some(&slo),
            indicator_values: &values,
            ..Default::default()
        };
        let out = crate::evaluate_with_samples(&input, samples);
        let e = explain_with_samples(&input, samples, &out);
        let rt = &e.objectives[0];
        assert_eq!(rt.status, IndicatorStatus::Fail);
        // Only Keptn's criterion is a target row; the statistical one has its own row.
        assert_eq!(rt.targets.len(), 1);
        let stat = rt.statistical.as_ref().expect("statistical row");
        assert_eq!(
            stat.criterion,
            "mann-whitney increase alpha=0.05 effect_size=1.2 (median_ratio)"
        );
        let Outcome::Compared(j) = &stat.outcome else {
            panic!("compared expected");
        };
        assert_eq!((j.current.count, j.baseline.count), (40, 40));
        assert_eq!((j.current.median, j.baseline.median), (154.5, 104.5));
        assert!(j.p_value < 1e-10);
        assert_eq!(j.verdict, Verdict::Fail);
        // The ignored objective earns nothing and is not counted.
        let errors = &e.objectives[1];
        assert_eq!(
            (errors.status.clone(), errors.max_points),
            (IndicatorStatus::Info, 0.0)
        );
        assert!(matches!(
            errors.statistical.as_ref().map(|s| &s.outcome),
            Some(Outcome::NoData(_))
        ));
        assert_eq!((e.points, e.max_points), (0.0, 1.0));
    }
}
