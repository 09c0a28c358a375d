//! The quality gate: turns an SLO, SLI values and previous evaluations into the
//! `evaluation.finished` data Keptn's lighthouse would have sent.

use std::collections::BTreeMap;

use base64::Engine as _;
use sluice_model::evaluation::{
    EvaluationDetails, EvaluationFinishedEventData, IndicatorStatus, ResultType,
    SliEvaluationResult, SliResult, SliTarget, StatusType,
};
use sluice_model::slo::{CriteriaSet, CriterionError, Objective, Slo};

use crate::go_format::go_float;
use crate::history::{FnvMap, PreviousEvaluation, PreviousValues, select_previous};

/// Message Keptn attached to a value it never received.
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

/// Evaluates like Keptn 1.4.5's lighthouse on `get-sli.finished`.
pub fn evaluate(input: &EvaluationInput<'_>) -> EvaluationFinishedEventData {
    let mut out = EvaluationFinishedEventData {
        project: input.project.to_owned(),
        stage: input.stage.to_owned(),
        service: input.service.to_owned(),
        labels: input.labels.cloned().unwrap_or_default(),
        status: StatusType::Succeeded,
        result: ResultType::Unset,
        message: String::new(),
        evaluation: EvaluationDetails {
            time_start: input.time_start.to_owned(),
            time_end: input.time_end.to_owned(),
            result: ResultType::Pass,
            ..Default::default()
        },
    };
    match input.get_sli_status {
        StatusType::Errored => {
            return errored(
                out,
                format!(
                    "evaluation performed by lighthouse received an unexpected error: {}",
                    input.get_sli_message
                ),
                String::new(),
            );
        }
        StatusType::Aborted => {
            return errored(
                out,
                "evaluation performed by lighthouse was aborted".to_owned(),
                String::new(),
            );
        }
        _ => {}
    }
    let Some(slo) = input.slo else {
        out.result = ResultType::Pass;
        out.message = format!(
            "no evaluation performed by lighthouse because no SLO file configured for project {}",
            input.project
        );
        return out;
    };

    let selected = select_previous(&slo.comparison, input.previous);
    out.evaluation.compared_events = selected
        .iter()
        .filter_map(|p| p.id.map(str::to_owned))
        .collect();
    let slo_b64 = base64::engine::general_purpose::STANDARD.encode(input.slo_file);

    if slo.objectives.is_empty() {
        out.result = ResultType::Fail;
        out.message = "lighthouse failed because no SLO objective was provided".to_owned();
        out.evaluation.result = ResultType::Fail;
        out.evaluation.slo_file_content = slo_b64;
        return out;
    }

    let history = PreviousValues::new(&selected);
    let objectives = match evaluate_objectives(slo, input.indicator_values, &history) {
        Ok(o) => o,
        Err(message) => {
            out.result = ResultType::Fail;
            out.message = message;
            out.evaluation.result = ResultType::Fail;
            out.evaluation.slo_file_content = slo_b64;
            return out;
        }
    };
    out.message = objectives.leftover_message;
    out.evaluation.indicator_results = objectives.results;
    if let Err(message) = score(&mut out, slo, objectives.maximum, objectives.failed_key_sli) {
        let raw = String::from_utf8_lossy(input.slo_file).into_owned();
        return errored(out, message.to_owned(), raw);
    }
    out.evaluation.slo_file_content = slo_b64;
    if *input.get_sli_result == ResultType::Fail {
        out.result = ResultType::Fail;
        out.message = format!(
            "lighthouse failed because SLI failed with message {}",
            input.get_sli_message
        );
    }
    out
}

/// Keptn's `sendErroredFinishedEventWithMessage`: status errored, result fail, no indicator
/// results, and the SLO file content as raw text (not base64), as Keptn did.
fn errored(
    mut out: EvaluationFinishedEventData,
    message: String,
    slo_text: String,
) -> EvaluationFinishedEventData {
    out.status = StatusType::Errored;
    out.result = ResultType::Fail;
    out.message = message;
    out.evaluation = EvaluationDetails {
        time_start: std::mem::take(&mut out.evaluation.time_start),
        time_end: std::mem::take(&mut out.evaluation.time_end),
        result: ResultType::Fail,
        score: 0.0,
        slo_file_content: slo_text,
        indicator_results: Vec::new(),
        compared_events: Vec::new(),
    };
    out
}

struct ObjectivesOutcome {
    results: Vec<SliEvaluationResult>,
    maximum: f64,
    failed_key_sli: Option<String>,
    leftover_message: String,
}

fn evaluate_objectives(
    slo: &Slo,
    values: &[SliResult],
    history: &PreviousValues<'_>,
) -> Result<ObjectivesOutcome, String> {
    let mut remaining = RemainingValues::new(values);
    let mut results = Vec::with_capacity(slo.objectives.len());
    let mut maximum = 0.0;
    let mut failed_key_sli = None;
    for objective in &slo.objectives {
        if !objective.pass.is_empty() {
            maximum += objective.weight as f64;
        }
        let value = remaining.take(&objective.sli).map(|i| values[i].clone());
        let aggregate = history.aggregate(&objective.sli, &slo.comparison.aggregate_function);
        let (result, failed) = evaluate_objective(objective, value, aggregate)
            .map_err(|e| format!("error with {}: {e}", objective.name()))?;
        if failed && objective.key_sli && failed_key_sli.is_none() {
            failed_key_sli = Some(objective.name().to_owned());
        }
        results.push(result);
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
        maximum,
        failed_key_sli,
        leftover_message,
    })
}

/// The SLI values not yet taken by an objective, in the order Keptn's slice had them.
///
/// Keptn took the first value (in current slice order) whose metric matched and removed it by
/// moving the last element into its place, so the order of the leftovers (reported in the
/// message) depends on that. This reproduces it in O(1) per lookup.
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

/// Evaluates one objective; returns the result and whether it failed (for key SLIs).
/// An unparsable pass criterion (for a usable value) aborts the evaluation, as in Keptn.
fn evaluate_objective(
    objective: &Objective,
    value: Option<SliResult>,
    aggregate: Option<f64>,
) -> Result<(SliEvaluationResult, bool), CriterionError> {
    let mut result = SliEvaluationResult {
        score: 0.0,
        value: None,
        display_name: objective.display_name.clone(),
        pass_targets: Vec::new(),
        warning_targets: Vec::new(),
        key_sli: objective.key_sli,
        status: IndicatorStatus::Fail,
    };
    // Without pass criteria an objective is informational whatever its value (Keptn checks
    // the pass criteria first), so a missing value cannot fail it or a key SLI.
    let informational = objective.pass.is_empty();
    let mut value = match value {
        Some(v) if v.success => v,
        other => {
            // No usable value: informational objectives stay info; others fail, with their
            // parsable targets listed as violated.
            result.value = Some(other.unwrap_or_else(|| SliResult {
                metric: objective.sli.clone(),
                success: false,
                message: NO_VALUE_MESSAGE.to_owned(),
                ..Default::default()
            }));
            result.pass_targets = listed_targets(&objective.pass, aggregate);
            result.warning_targets = listed_targets(&objective.warning, aggregate);
            if informational {
                result.status = IndicatorStatus::Info;
                return Ok((result, false));
            }
            return Ok((result, true));
        }
    };
    let mut evaluated_any = false;
    let passed = if objective.pass.is_empty() {
        result.status = IndicatorStatus::Info;
        true
    } else {
        let (ok, targets) = evaluate_sets(
            &objective.pass,
            value.value,
            aggregate,
            true,
            &mut evaluated_any,
        )?;
        result.pass_targets = targets;
        if ok {
            result.score = objective.weight as f64;
            result.status = IndicatorStatus::Pass;
        }
        ok
    };
    let warned = if objective.warning.is_empty() {
        false
    } else {
        let (ok, targets) = evaluate_sets(
            &objective.warning,
            value.value,
            aggregate,
            false,
            &mut evaluated_any,
        )
        .unwrap_or_default();
        result.warning_targets = targets;
        if !passed && ok {
            result.score = 0.5 * objective.weight as f64;
            result.status = IndicatorStatus::Warning;
        }
        ok
    };
    if evaluated_any {
        value.compared_value = aggregate.unwrap_or(0.0);
    }
    result.value = Some(value);
    let failed = !passed && !warned;
    if failed {
        result.status = IndicatorStatus::Fail;
        result.score = 0.0;
    }
    Ok((result, failed))
}

/// OR over criteria sets, AND inside a set; every target is evaluated and listed.
/// With `strict`, an unparsable criterion is an error; otherwise it is a violated target.
pub(crate) fn evaluate_sets(
    sets: &[CriteriaSet],
    measured: f64,
    aggregate: Option<f64>,
    strict: bool,
    evaluated_any: &mut bool,
) -> Result<(bool, Vec<SliTarget>), CriterionError> {
    let mut satisfied = false;
    let mut targets = Vec::with_capacity(sets.iter().map(|s| s.criteria.len()).sum());
    for set in sets {
        let mut all = true;
        for spec in &set.criteria {
            let (ok, target_value) = match &spec.parsed {
                Err(e) if strict => return Err(*e),
                Err(_) => (false, 0.0),
                Ok(c) => {
                    *evaluated_any = true;
                    match (c, aggregate) {
                        (sluice_model::slo::Criterion::Relative { .. }, None) => (true, 0.0),
                        _ => {
                            let t = c.target(aggregate.unwrap_or(0.0));
                            (c.op().holds(measured, t), t)
                        }
                    }
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

/// Targets of an objective without a usable value: parsable criteria only, all violated.
fn listed_targets(sets: &[CriteriaSet], aggregate: Option<f64>) -> Vec<SliTarget> {
    sets.iter()
        .flat_map(|s| &s.criteria)
        .filter_map(|spec| {
            let c = spec.parsed.as_ref().ok()?;
            let target_value = match (c, aggregate) {
                (sluice_model::slo::Criterion::Relative { .. }, None) => 0.0,
                _ => c.target(aggregate.unwrap_or(0.0)),
            };
            Some(SliTarget {
                criteria: spec.text.clone(),
                target_value,
                violated: true,
            })
        })
        .collect()
}

/// Keptn's `calculateScore`. Returns Keptn's error text when the total score targets are
/// missing or unparsable (only checked where Keptn reached them).
fn score(
    out: &mut EvaluationFinishedEventData,
    slo: &Slo,
    maximum: f64,
    failed_key_sli: Option<String>,
) -> Result<(), &'static str> {
    let set = |out: &mut EvaluationFinishedEventData, r: ResultType| {
        out.evaluation.result = r.clone();
        out.result = r;
        out.status = StatusType::Succeeded;
    };
    if maximum == 0.0 {
        set(out, ResultType::Pass);
        out.evaluation.score = 100.0;
        return Ok(());
    }
    let total: f64 = out
        .evaluation
        .indicator_results
        .iter()
        .map(|r| r.score)
        .sum();
    let achieved = 100.0 * (total / maximum);
    out.evaluation.score = achieved;
    let targets = slo.total_score.as_ref();
    let pass = targets
        .and_then(|t| t.pass.as_ref())
        .filter(|p| !p.text.is_empty())
        .ok_or("no target score defined")?;
    let pass_target = pass
        .percent
        .ok_or("could not parse pass target percentage")?;
    let key_failed = failed_key_sli.is_some();
    let warning = targets
        .and_then(|t| t.warning.as_ref())
        .filter(|w| !w.text.is_empty());
    if achieved >= pass_target && !key_failed {
        set(out, ResultType::Pass);
    } else if let (Some(w), false) = (warning, key_failed) {
        let warn_target = w
            .percent
            .ok_or("could not parse warning target percentage")?;
        if achieved >= warn_target {
            set(out, ResultType::Warning);
            out.message = format!(
                "Evaluation returned a warning: the calculated score of {} is close to the warning target value of {}",
                go_float(achieved),
                go_float(warn_target)
            );
        } else {
            set(out, ResultType::Fail);
            out.message = format!(
                "Evaluation failed since the calculated score of {} is below the warning value of {}",
                go_float(achieved),
                go_float(warn_target)
            );
        }
    } else if let Some(name) = failed_key_sli {
        set(out, ResultType::Fail);
        out.message = key_sli_message(&name);
    } else {
        set(out, ResultType::Fail);
        out.message = format!(
            "Evaluation failed since the calculated score of {} is below the target value of {}",
            go_float(achieved),
            go_float(pass_target)
        );
    }
    Ok(())
}

/// The message for a failed key SLI (Keptn 1.4.5 named the objective).
pub fn key_sli_message(name: &str) -> String {
    format!("Evaluation failed due to key_sli objective '{name}'")
}
