//! The quality gate: turns an SLO, SLI values and previous evaluations into the
//! `evaluation.finished` data Keptn's lighthouse would have sent.
//!
//! Every rule cites the function of Keptn 1.4.5's
//! `lighthouse-service/event_handler/evaluate_sli_handler.go` (or `common.go`) it reproduces.

use std::collections::BTreeMap;

use base64::Engine as _;
use sluice_model::evaluation::{
    EvaluationDetails, EvaluationFinishedEventData, EventData, GetSliFinishedEventData,
    IndicatorStatus, ResultType, SliEvaluationResult, SliResult, SliTarget, StatusType,
};
use sluice_model::slo::{CriteriaSet, Criterion, CriterionError, Objective, OnMissing, Slo};

use crate::go_format::go_float;
use crate::history::{FnvMap, PreviousEvaluation, PreviousValues, select_previous};
use crate::judge::{self, Samples, samples_of};

/// Message Keptn attached to a value it never received (`getFailedValue`).
pub const NO_VALUE_MESSAGE: &str = "no value received from SLI provider";

/// Everything one evaluation needs. All inputs are borrowed; nothing is read from IO or the
/// clock.
#[derive(Debug, Clone, Copy)]
pub struct EvaluationInput<'a> {
    /// Project of the evaluation.
    pub project: &'a str,
    /// Stage.
    pub stage: &'a str,
    /// Service.
    pub service: &'a str,
    /// Labels of the `get-sli.finished` event (copied to the result).
    pub labels: Option<&'a BTreeMap<String, String>>,
    /// The parsed SLO, or `None` when the service has no `slo.yaml`.
    pub slo: Option<&'a Slo>,
    /// The raw `slo.yaml` bytes (for `sloFileContent`).
    pub slo_file: &'a [u8],
    /// `get-sli.finished` `indicatorValues`.
    pub indicator_values: &'a [SliResult],
    /// `get-sli.finished` status ([`StatusType::Unset`] when unknown).
    pub get_sli_status: &'a StatusType,
    /// `get-sli.finished` result ([`ResultType::Unset`] when unknown).
    pub get_sli_result: &'a ResultType,
    /// `get-sli.finished` message.
    pub get_sli_message: &'a str,
    /// Previous evaluations of the same project/stage/service, newest first, invalidated ones
    /// removed. [`evaluate`] applies Keptn's result filter and limit itself.
    pub previous: &'a [PreviousEvaluation<'a>],
    /// `get-sli.start`.
    pub time_start: &'a str,
    /// `get-sli.end`.
    pub time_end: &'a str,
}

impl Default for EvaluationInput<'_> {
    /// Nothing known: no SLO, no values, unset get-sli status and result.
    fn default() -> Self {
        EvaluationInput {
            project: "",
            stage: "",
            service: "",
            labels: None,
            slo: None,
            slo_file: &[],
            indicator_values: &[],
            get_sli_status: &StatusType::Unset,
            get_sli_result: &ResultType::Unset,
            get_sli_message: "",
            previous: &[],
            time_start: "",
            time_end: "",
        }
    }
}

impl<'a> EvaluationInput<'a> {
    /// The input for the values of a `get-sli.finished` event: its scope, labels, values,
    /// status, result, message and window; no SLO and no previous evaluations yet.
    pub fn of_get_sli(sli: &'a GetSliFinishedEventData) -> Self {
        EvaluationInput {
            project: &sli.base.project,
            stage: &sli.base.stage,
            service: &sli.base.service,
            labels: Some(&sli.base.labels),
            indicator_values: &sli.get_sli.indicator_values,
            get_sli_status: &sli.base.status,
            get_sli_result: &sli.base.result,
            get_sli_message: &sli.base.message,
            time_start: &sli.get_sli.start,
            time_end: &sli.get_sli.end,
            ..EvaluationInput::default()
        }
    }
}

/// Evaluates like Keptn 1.4.5's lighthouse on `get-sli.finished`
/// (`processGetSliFinishedEvent` without its IO).
pub fn evaluate(input: &EvaluationInput<'_>) -> EvaluationFinishedEventData {
    evaluate_with_samples(input, Samples::default())
}

/// [`evaluate`] with the samples that objectives with a `statistical` criterion (sluice
/// extension) compare. Objectives without extensions are scored exactly as by [`evaluate`].
pub fn evaluate_with_samples(
    input: &EvaluationInput<'_>,
    samples: Samples<'_>,
) -> EvaluationFinishedEventData {
    let mut out = EvaluationFinishedEventData {
        base: EventData {
            project: input.project.to_owned(),
            stage: input.stage.to_owned(),
            service: input.service.to_owned(),
            labels: input.labels.cloned().unwrap_or_default(),
            status: StatusType::Succeeded,
            result: ResultType::Unset,
            message: String::new(),
        },
        evaluation: EvaluationDetails {
            time_start: input.time_start.to_owned(),
            time_end: input.time_end.to_owned(),
            result: ResultType::Pass,
            ..Default::default()
        },
    };
    // An aborted or errored get-sli is answered with the initial details (result "pass",
    // score 0, no SLO content), not through the errored-event helper.
    match input.get_sli_status {
        StatusType::Aborted => {
            out.base.result = ResultType::Fail;
            out.base.status = StatusType::Errored;
            out.base.message = "evaluation performed by lighthouse was aborted".to_owned();
            return out;
        }
        StatusType::Errored => {
            out.base.result = ResultType::Fail;
            out.base.status = StatusType::Errored;
            out.base.message = format!(
                "evaluation performed by lighthouse received an unexpected error: {}",
                input.get_sli_message
            );
            return out;
        }
        _ => {}
    }
    let Some(slo) = input.slo else {
        out.base.result = ResultType::Pass;
        out.base.message = format!(
            "no evaluation performed by lighthouse because no SLO file configured for project {}",
            input.project
        );
        return out;
    };

    let selected = select_previous(&slo.comparison, input.previous);
    let compared_events: Vec<String> = selected
        .iter()
        .filter_map(|p| p.id.map(str::to_owned))
        .collect();
    let slo_b64 = base64::engine::general_purpose::STANDARD.encode(input.slo_file);
    let history = PreviousValues::new(&selected);

    // `evaluateObjectives` returns a maximum of 100 and no results for an SLO without
    // objectives; the score is then still calculated (and may be an errored event).
    let objectives = if slo.objectives.is_empty() {
        Ok(ObjectivesOutcome {
            results: Vec::new(),
            counted: Vec::new(),
            maximum: 100.0,
            failed_key_sli: None,
            leftover_message: String::new(),
        })
    } else {
        evaluate_objectives(slo, input.indicator_values, samples, &history)
    };
    out.evaluation.compared_events = compared_events;
    out.evaluation.slo_file_content = slo_b64;
    let objectives = match objectives {
        Ok(o) => o,
        Err(message) => {
            out.base.result = ResultType::Fail;
            out.base.message = message;
            out.evaluation.result = ResultType::Fail;
            return out;
        }
    };
    out.base.message = objectives.leftover_message;
    out.evaluation.indicator_results = objectives.results;
    if let Err(message) = score(
        &mut out,
        slo,
        objectives.maximum,
        &objectives.counted,
        objectives.failed_key_sli,
    ) {
        return errored(out, message.to_owned());
    }
    if slo.objectives.is_empty() {
        out.base.result = ResultType::Fail;
        out.base.message = "lighthouse failed because no SLO objective was provided".to_owned();
    } else if *input.get_sli_result == ResultType::Fail {
        out.base.result = ResultType::Fail;
        out.base.message = format!(
            "lighthouse failed because SLI failed with message {}",
            input.get_sli_message
        );
    }
    out
}

/// Keptn's `sendErroredFinishedEventWithMessage` (common.go): status errored, result fail,
/// score 0, no indicator results and no compared events; the SLO file stays base64.
fn errored(mut out: EvaluationFinishedEventData, message: String) -> EvaluationFinishedEventData {
    out.base.status = StatusType::Errored;
    out.base.result = ResultType::Fail;
    out.base.message = message;
    out.evaluation = EvaluationDetails {
        time_start: std::mem::take(&mut out.evaluation.time_start),
        time_end: std::mem::take(&mut out.evaluation.time_end),
        result: ResultType::Fail,
        score: 0.0,
        slo_file_content: std::mem::take(&mut out.evaluation.slo_file_content),
        indicator_results: Vec::new(),
        compared_events: Vec::new(),
    };
    out
}

/// A failed key SLI as `evaluateObjectives` remembers it (the last one wins).
struct FailedKeySli {
    /// The objective's `displayName` (Keptn did not fall back to the SLI name).
    name: String,
    /// The value's message, or "failed evaluation with score ..." for a measured value.
    reason: String,
}

struct ObjectivesOutcome {
    results: Vec<SliEvaluationResult>,
    /// Per objective, whether its weight counts toward the maximum.
    counted: Vec<bool>,
    maximum: f64,
    failed_key_sli: Option<FailedKeySli>,
    leftover_message: String,
}

/// Keptn's `evaluateObjectives` for an SLO with objectives.
fn evaluate_objectives(
    slo: &Slo,
    values: &[SliResult],
    samples: Samples<'_>,
    history: &PreviousValues<'_>,
) -> Result<ObjectivesOutcome, String> {
    let mut remaining = RemainingValues::new(values);
    let mut results = Vec::with_capacity(slo.objectives.len());
    let mut counted = Vec::with_capacity(slo.objectives.len());
    let mut maximum = 0.0;
    let mut failed_key_sli = None;
    for objective in &slo.objectives {
        let value = remaining.take(&objective.sli).map(|i| values[i].clone());
        let aggregate = history.aggregate(&objective.sli, &slo.comparison.aggregate_function);
        let outcome = if objective.statistical.is_none() && objective.on_missing.is_none() {
            evaluate_objective(objective, value, aggregate)
        } else {
            evaluate_extended_objective(objective, value, aggregate, samples)
        }
        .map_err(|e| format!("error with {}: {e}", objective.name()))?;
        if outcome.counted {
            maximum += objective.weight as f64;
        }
        counted.push(outcome.counted);
        if let Some(failed) = outcome.failed_key_sli {
            failed_key_sli = Some(failed);
        }
        results.push(outcome.result);
    }
    let mut leftover_message = String::new();
    if !remaining.order.is_empty() {
        let names: Vec<&str> = remaining
            .order
            .iter()
            .map(|&i| values[i].metric.as_str())
            .collect();
        let joined = names.join(", ");
        if !joined.is_empty() {
            leftover_message = format!(
                "Lighthouse received additional SLIs, which are not specified as SLO: {joined} . Please consider using them as an SLO."
            );
        }
    }
    Ok(ObjectivesOutcome {
        results,
        counted,
        maximum,
        failed_key_sli,
        leftover_message,
    })
}

/// The SLI values not yet taken by an objective, in the order Keptn's slice had them.
///
/// Keptn took the first value (in current slice order) whose metric matched and removed it by
/// moving the last element into its place (`getSLIResult`), so the order of the leftovers
/// (reported in the message by `checkLeftoverSLI`) depends on that. This reproduces it in O(1)
/// per lookup.
struct RemainingValues<'v> {
    /// Value indices in current slice order.
    order: Vec<usize>,
    /// Current position in `order` of each value index.
    position: Vec<usize>,
    /// Value indices still remaining, by metric name.
    by_metric: FnvMap<&'v str, Vec<usize>>,
}

impl<'v> RemainingValues<'v> {
    fn new(values: &'v [SliResult]) -> Self {
        let mut by_metric: FnvMap<&'v str, Vec<usize>> = FnvMap::default();
        for (i, v) in values.iter().enumerate() {
            by_metric.entry(v.metric.as_str()).or_default().push(i);
        }
        RemainingValues {
            order: (0..values.len()).collect(),
            position: (0..values.len()).collect(),
            by_metric,
        }
    }

    fn take(&mut self, metric: &str) -> Option<usize> {
        let candidates = self.by_metric.get_mut(metric)?;
        let (k, &index) = candidates
            .iter()
            .enumerate()
            .min_by_key(|(_, i)| self.position[**i])?;
        candidates.swap_remove(k);
        let pos = self.position[index];
        let last = self.order.pop()?;
        if pos < self.order.len() {
            self.order[pos] = last;
            self.position[last] = pos;
        }
        Some(index)
    }
}

/// One objective's result and, if it is a key SLI that failed, why.
struct ObjectiveOutcome {
    result: SliEvaluationResult,
    failed_key_sli: Option<FailedKeySli>,
    /// Whether its weight counts toward the maximum score (Keptn: it has pass criteria).
    counted: bool,
}

/// An objective's result before it is scored: failed, no value, no targets.
fn unscored(objective: &Objective, key_sli: bool) -> SliEvaluationResult {
    SliEvaluationResult {
        score: 0.0,
        value: None,
        display_name: objective.display_name.clone(),
        pass_targets: None,
        warning_targets: None,
        key_sli,
        status: IndicatorStatus::Fail,
    }
}

/// One iteration of `evaluateObjectives`' loop. An unparsable pass criterion (for a measured
/// value) aborts the evaluation, as in Keptn.
fn evaluate_objective(
    objective: &Objective,
    value: Option<SliResult>,
    aggregate: Option<f64>,
) -> Result<ObjectiveOutcome, CriterionError> {
    let mut result = unscored(objective, false);
    // Informational (no pass criteria) is checked before the value: the value is reported as
    // received (`null` when there was none), nothing is evaluated, `keySli` stays false and
    // the warning criteria are listed as violated (`getEmptyTargets`).
    if objective.pass.is_empty() {
        result.status = IndicatorStatus::Info;
        result.value = value;
        result.pass_targets = Some(listed_targets(&objective.pass, aggregate));
        result.warning_targets = Some(listed_targets(&objective.warning, aggregate));
        return Ok(ObjectiveOutcome {
            result,
            failed_key_sli: None,
            counted: false,
        });
    }
    // A missing or unsuccessful value fails the objective (`getFailedValue`,
    // `getEmptyTargets`); `keySli` stays false in the result, but a key SLI fails the gate.
    let mut value = match value {
        Some(v) if v.success => v,
        other => {
            let value = other.unwrap_or_else(|| SliResult {
                metric: objective.sli.clone(),
                success: false,
                message: NO_VALUE_MESSAGE.to_owned(),
                ..Default::default()
            });
            let failed_key_sli = objective.key_sli.then(|| FailedKeySli {
                name: objective.display_name.clone(),
                reason: value.message.clone(),
            });
            result.value = Some(value);
            result.pass_targets = Some(listed_targets(&objective.pass, aggregate));
            result.warning_targets = Some(listed_targets(&objective.warning, aggregate));
            return Ok(ObjectiveOutcome {
                result,
                failed_key_sli,
                counted: true,
            });
        }
    };
    // Measured: `evaluateOrCombinedCriteria` for pass (errors abort) and warning (errors
    // leave an empty target list and no warning).
    let mut evaluated_any = false;
    let (passed, pass_targets) =
        evaluate_sets(&objective.pass, value.value, aggregate, &mut evaluated_any)?;
    result.pass_targets = non_empty(pass_targets);
    if passed {
        result.score = objective.weight as f64;
        result.status = IndicatorStatus::Pass;
    }
    let warned = if objective.warning.is_empty() {
        false
    } else {
        match evaluate_sets(
            &objective.warning,
            value.value,
            aggregate,
            &mut evaluated_any,
        ) {
            Ok((ok, targets)) => {
                result.warning_targets = non_empty(targets);
                ok
            }
            Err(_) => {
                result.warning_targets = Some(Vec::new());
                false
            }
        }
    };
    if !passed && warned {
        result.score = 0.5 * objective.weight as f64;
        result.status = IndicatorStatus::Warning;
    }
    // `evaluateSingleCriteria` set `comparedValue` for every criterion it could parse.
    if evaluated_any {
        value.compared_value = aggregate.unwrap_or(0.0);
    }
    result.value = Some(value);
    result.key_sli = objective.key_sli;
    let mut failed_key_sli = None;
    if !passed && !warned {
        if objective.key_sli {
            failed_key_sli = Some(FailedKeySli {
                name: objective.display_name.clone(),
                reason: format!("failed evaluation with score {:.6}", result.score),
            });
        }
        result.status = IndicatorStatus::Fail;
        result.score = 0.0;
    }
    Ok(ObjectiveOutcome {
        result,
        failed_key_sli,
        counted: true,
    })
}

/// A part of an objective's pass condition: Keptn's pass criteria or the statistical
/// criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Checked, and it held.
    Held,
    /// Checked, and it did not hold.
    Failed,
    /// Not checkable: the value or the samples are missing.
    Missing,
}

/// An objective using sluice's extensions (`statistical`, `on_missing`).
///
/// Its pass condition has up to two parts: Keptn's pass criteria (on the SLI value) and the
/// statistical criterion (on the samples). A part that cannot be checked is treated per
/// `on_missing`: `fail` (the default, Keptn's behaviour) fails the objective, `warn` caps it
/// at a warning, `ignore` drops the part; an objective with no part left is informational and
/// does not count toward the score. A part that failed lets Keptn's warning criteria give a
/// warning, as a failed pass criterion does in Keptn.
///
/// Without a statistical criterion, everything but a missing value with `warn` or `ignore`
/// is exactly Keptn's [`evaluate_objective`].
fn evaluate_extended_objective(
    objective: &Objective,
    value: Option<SliResult>,
    aggregate: Option<f64>,
    samples: Samples<'_>,
) -> Result<ObjectiveOutcome, CriterionError> {
    let on_missing = objective.on_missing.unwrap_or(OnMissing::Fail);
    let delivered = value.as_ref().is_some_and(|v| v.success);
    let Some(criterion) = &objective.statistical else {
        let mut outcome = evaluate_objective(objective, value, aggregate)?;
        if delivered || objective.pass.is_empty() {
            return Ok(outcome);
        }
        match on_missing {
            OnMissing::Fail => {}
            OnMissing::Warn => {
                outcome.result.status = IndicatorStatus::Warning;
                outcome.result.score = 0.5 * objective.weight as f64;
                outcome.failed_key_sli = None;
            }
            OnMissing::Ignore => {
                outcome.result.status = IndicatorStatus::Info;
                outcome.result.score = 0.0;
                outcome.failed_key_sli = None;
                outcome.counted = false;
            }
        }
        return Ok(outcome);
    };

    let mut result = unscored(objective, objective.key_sli);
    let mut evaluated_any = false;
    let mut parts = Vec::with_capacity(2);
    let mut pass_targets = Vec::new();
    // Keptn's pass criteria, on the value.
    if !objective.pass.is_empty() {
        match value.as_ref().filter(|v| v.success) {
            Some(v) => {
                let (passed, targets) =
                    evaluate_sets(&objective.pass, v.value, aggregate, &mut evaluated_any)?;
                parts.push(if passed { Part::Held } else { Part::Failed });
                pass_targets = targets;
            }
            None => {
                parts.push(Part::Missing);
                pass_targets = listed_targets(&objective.pass, aggregate);
            }
        }
    }
    // The statistical criterion, on the samples.
    let judged = judge::judge(
        criterion,
        samples_of(samples.current, &objective.sli),
        samples_of(samples.baseline, &objective.sli),
    );
    parts.push(match &judged {
        judge::Outcome::Compared(j) if j.verdict == judge::Verdict::Pass => Part::Held,
        judge::Outcome::Compared(_) => Part::Failed,
        judge::Outcome::NoData(_) => Part::Missing,
    });
    pass_targets.push(SliTarget {
        criteria: criterion.describe(),
        target_value: criterion.alpha,
        violated: !judged.passed(),
    });
    result.pass_targets = Some(pass_targets);
    // Keptn's warning criteria, on the value: checked when it was delivered, listed as
    // violated otherwise.
    let mut warned = false;
    if !objective.warning.is_empty() {
        match value.as_ref().filter(|v| v.success) {
            Some(v) => {
                match evaluate_sets(&objective.warning, v.value, aggregate, &mut evaluated_any) {
                    Ok((ok, targets)) => {
                        warned = ok;
                        result.warning_targets = non_empty(targets);
                    }
                    Err(_) => result.warning_targets = Some(Vec::new()),
                }
            }
            None => result.warning_targets = Some(listed_targets(&objective.warning, aggregate)),
        }
    }

    let missing = parts.contains(&Part::Missing);
    let checked: Vec<Part> = parts
        .iter()
        .copied()
        .filter(|p| *p != Part::Missing || on_missing != OnMissing::Ignore)
        .collect();
    let weight = objective.weight as f64;
    let mut counted = true;
    let mut reason = None;
    if checked.is_empty() {
        result.status = IndicatorStatus::Info;
        counted = false;
    } else if missing && on_missing == OnMissing::Fail {
        result.status = IndicatorStatus::Fail;
        reason = Some(if delivered || objective.pass.is_empty() {
            judged.reason().to_owned()
        } else {
            value
                .as_ref()
                .map_or(NO_VALUE_MESSAGE.to_owned(), |v| v.message.clone())
        });
    } else if checked.contains(&Part::Failed) {
        if warned {
            result.status = IndicatorStatus::Warning;
            result.score = 0.5 * weight;
        } else {
            result.status = IndicatorStatus::Fail;
            reason = Some(if judged.passed() {
                format!("failed evaluation with score {:.6}", 0.0)
            } else {
                judged.reason().to_owned()
            });
        }
    } else if missing {
        result.status = IndicatorStatus::Warning;
        result.score = 0.5 * weight;
    } else {
        result.status = IndicatorStatus::Pass;
        result.score = weight;
    }
    result.value = match value {
        Some(mut v) if v.success => {
            if evaluated_any {
                v.compared_value = aggregate.unwrap_or(0.0);
            }
            Some(v)
        }
        Some(v) => Some(v),
        None if objective.pass.is_empty() => None,
        None => Some(SliResult {
            metric: objective.sli.clone(),
            success: false,
            message: NO_VALUE_MESSAGE.to_owned(),
            ..Default::default()
        }),
    };
    let failed_key_sli = match (objective.key_sli, result.status.clone(), reason) {
        (true, IndicatorStatus::Fail, Some(reason)) => Some(FailedKeySli {
            name: objective.display_name.clone(),
            reason,
        }),
        _ => None,
    };
    Ok(ObjectiveOutcome {
        result,
        failed_key_sli,
        counted,
    })
}

/// Go's nil slice for a list nothing was appended to.
fn non_empty(targets: Vec<SliTarget>) -> Option<Vec<SliTarget>> {
    (!targets.is_empty()).then_some(targets)
}

/// `evaluateOrCombinedCriteria`: OR over criteria sets, AND inside a set; every target is
/// evaluated and listed; the first unparsable criterion is an error. A relative criterion
/// without usable history holds with target 0 (`evaluateComparison` skips).
pub(crate) fn evaluate_sets(
    sets: &[CriteriaSet],
    measured: f64,
    aggregate: Option<f64>,
    evaluated_any: &mut bool,
) -> Result<(bool, Vec<SliTarget>), CriterionError> {
    let mut satisfied = false;
    let mut targets = Vec::with_capacity(sets.iter().map(|s| s.criteria.len()).sum());
    for set in sets {
        let mut all = true;
        for spec in &set.criteria {
            let c = spec.parsed.as_ref().map_err(|e| *e)?;
            *evaluated_any = true;
            let (ok, target_value) = match (c, aggregate) {
                (Criterion::Relative { .. }, None) => (true, 0.0),
                _ => {
                    let t = c.target(aggregate.unwrap_or(0.0));
                    (c.op().holds(measured, t), t)
                }
            };
            all &= ok;
            targets.push(SliTarget {
                criteria: spec.text.clone(),
                target_value,
                violated: !ok,
            });
        }
        satisfied |= all;
    }
    Ok((satisfied, targets))
}

/// `getEmptyTargets`: the parsable criteria of an objective that was not evaluated, all
/// violated. Keptn's `getTargetValue` gives a relative criterion the aggregate of previous
/// values itself (0 without history), not the threshold derived from it.
fn listed_targets(sets: &[CriteriaSet], aggregate: Option<f64>) -> Vec<SliTarget> {
    sets.iter()
        .flat_map(|s| &s.criteria)
        .filter_map(|spec| {
            let target_value = match spec.parsed.as_ref().ok()? {
                Criterion::Absolute { value, .. } => *value,
                Criterion::Relative { .. } => aggregate.unwrap_or(0.0),
            };
            Some(SliTarget {
                criteria: spec.text.clone(),
                target_value,
                violated: true,
            })
        })
        .collect()
}

/// The total score of an SLO with `groups` (sluice extension after Kayenta's judge): each
/// group's score is the percentage its objectives reach of their counted weights (Keptn's
/// rule within the group: pass earns the weight, warning half of it), and the total is the
/// mean of those scores weighted by the groups' weights, over the groups with an objective
/// that counts. 100 when none does.
fn grouped_score(slo: &Slo, results: &[SliEvaluationResult], counted: &[bool]) -> f64 {
    // One pass over the objectives (an SLO may have many groups and many objectives).
    let mut totals: FnvMap<&str, (f64, f64)> = FnvMap::default();
    for ((objective, result), counts) in slo.objectives.iter().zip(results).zip(counted) {
        let Some(group) = objective.group.as_deref() else {
            continue;
        };
        let (reached, maximum) = totals.entry(group).or_default();
        if *counts {
            *maximum += objective.weight as f64;
        }
        if result.pass_targets.as_ref().is_some_and(|t| !t.is_empty()) {
            *reached += result.score;
        }
    }
    let (mut sum, mut weights) = (0.0, 0.0);
    for group in &slo.groups {
        let (reached, maximum) = totals.get(group.name.as_str()).copied().unwrap_or_default();
        if maximum > 0.0 {
            sum += group.weight as f64 * 100.0 * reached / maximum;
            weights += group.weight as f64;
        }
    }
    if weights == 0.0 { 100.0 } else { sum / weights }
}

/// Keptn's `calculateScore`. The total-score targets are checked first, whatever the
/// objectives; returns Keptn's error text when they are missing or unparsable.
fn score(
    out: &mut EvaluationFinishedEventData,
    slo: &Slo,
    maximum: f64,
    counted: &[bool],
    failed_key_sli: Option<FailedKeySli>,
) -> Result<(), &'static str> {
    let targets = slo.total_score.as_ref();
    let pass = targets
        .and_then(|t| t.pass.as_ref())
        .filter(|p| !p.text.is_empty())
        .ok_or("no target score defined")?;
    let pass_target = pass
        .percent
        .ok_or("could not parse pass target percentage")?;
    let warn_target = match targets
        .and_then(|t| t.warning.as_ref())
        .filter(|w| !w.text.is_empty())
    {
        Some(w) => Some(
            w.percent
                .ok_or("could not parse warning target percentage")?,
        ),
        None => None,
    };
    let set = |out: &mut EvaluationFinishedEventData, r: ResultType| {
        out.evaluation.result = r.clone();
        out.base.result = r;
        out.base.status = StatusType::Succeeded;
    };
    if maximum == 0.0 {
        set(out, ResultType::Pass);
        out.evaluation.score = 100.0;
        return Ok(());
    }
    // Only objectives that listed pass targets count.
    let total: f64 = out
        .evaluation
        .indicator_results
        .iter()
        .filter(|r| r.pass_targets.as_ref().is_some_and(|t| !t.is_empty()))
        .map(|r| r.score)
        .sum();
    let achieved = if slo.groups.is_empty() {
        100.0 * (total / maximum)
    } else {
        grouped_score(slo, &out.evaluation.indicator_results, counted)
    };
    out.evaluation.score = achieved;
    let key_failed = failed_key_sli.is_some();
    if achieved >= pass_target && !key_failed {
        set(out, ResultType::Pass);
    } else if let (Some(warn_target), false) = (warn_target, key_failed) {
        if achieved >= warn_target {
            set(out, ResultType::Warning);
            out.base.message = format!(
                "Evaluation returned a warning: the calculated score of {} is close to the warning target value of {}",
                go_float(achieved),
                go_float(warn_target)
            );
        } else {
            set(out, ResultType::Fail);
            out.base.message = format!(
                "Evaluation failed since the calculated score of {} is below the warning value of {}",
                go_float(achieved),
                go_float(warn_target)
            );
        }
    } else if let Some(key) = failed_key_sli {
        set(out, ResultType::Fail);
        out.base.message = key_sli_message(&key.name, &key.reason);
    } else {
        set(out, ResultType::Fail);
        out.base.message = format!(
            "Evaluation failed since the calculated score of {} is below the target value of {}",
            go_float(achieved),
            go_float(pass_target)
        );
    }
    Ok(())
}

/// The message for a failed key SLI (`calculateScore`): the objective's `displayName` (empty
/// when it has none) and the reason (the value's message, or "failed evaluation with score
/// 0.000000").
pub fn key_sli_message(display_name: &str, reason: &str) -> String {
    format!("Evaluation failed due to key_sli objective '{display_name}': {reason}")
}
