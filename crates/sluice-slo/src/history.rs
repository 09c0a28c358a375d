//! Previous evaluations: which ones Keptn compares with, and how their values are aggregated.
//!
//! Keptn's lighthouse asked mongodb-datastore for the newest `evaluation.finished` events of
//! the same project, stage and service (source lighthouse-service, invalidated ones excluded),
//! filtered by `data.result` (`pass` for `include_result_with_score: pass`, `pass` or
//! `warning` for `pass_or_warn`), limited to 1 (`single_result`), `number_of_comparison_results`
//! (`several_results`) or 3 (anything else). [`select_previous`] applies the same filter and
//! limit to a newest-first list. Inside the selected events, every indicator result with the
//! objective's SLI name is a candidate, and only those with `success: true` are aggregated.

use std::collections::HashMap;

use sluice_model::evaluation::{EvaluationFinishedEventData, ResultKind};
use sluice_model::slo::{AggregateFunction, Comparison, IncludeResults};

/// A previous `evaluation.finished` event: its data and, if known, its event id.
#[derive(Debug, Clone, Copy)]
pub struct PreviousEvaluation<'a> {
    /// The event id (reported in `comparedEvents`).
    pub id: Option<&'a str>,
    /// The event's `data`.
    pub data: &'a EvaluationFinishedEventData,
}

/// Selects the previous evaluations Keptn would have compared with, from a newest-first list
/// of evaluations of the same project, stage and service (invalidated ones already removed).
pub fn select_previous<'p, 'a>(
    comparison: &Comparison,
    previous: &'p [PreviousEvaluation<'a>],
) -> Vec<&'p PreviousEvaluation<'a>> {
    let wanted = comparison.previous_results_wanted();
    let limit = if wanted <= 0 {
        usize::MAX
    } else {
        wanted as usize
    };
    previous
        .iter()
        .filter(|p| match comparison.include_result_with_score {
            IncludeResults::Pass => p.data.result == Some(ResultKind::Pass),
            IncludeResults::PassOrWarn => matches!(
                p.data.result,
                Some(ResultKind::Pass) | Some(ResultKind::Warning)
            ),
            IncludeResults::All | IncludeResults::Other(_) => true,
        })
        .take(limit)
        .collect()
}

/// Successful previous values of every SLI, grouped once by SLI name, in Keptn's order
/// (events newest first, indicator results in stored order).
#[derive(Debug, Default)]
pub struct PreviousValues<'a> {
    by_sli: HashMap<&'a str, Vec<f64>>,
}

impl<'a> PreviousValues<'a> {
    /// Groups the successful values of the selected evaluations by SLI name.
    pub fn new(selected: &[&PreviousEvaluation<'a>]) -> Self {
        let mut by_sli: HashMap<&'a str, Vec<f64>> = HashMap::new();
        for p in selected {
            let data: &'a EvaluationFinishedEventData = p.data;
            for r in &data.evaluation.indicator_results {
                if let Some(v) = &r.value
                    && v.success
                {
                    by_sli.entry(v.metric.as_str()).or_default().push(v.value);
                }
            }
        }
        PreviousValues { by_sli }
    }

    /// The successful previous values of one SLI.
    pub fn values(&self, sli: &str) -> &[f64] {
        self.by_sli.get(sli).map_or(&[], Vec::as_slice)
    }

    /// The aggregate Keptn compares with, or `None` when there is no usable history (Keptn
    /// then treats relative criteria as satisfied).
    pub fn aggregate(&self, sli: &str, function: &AggregateFunction) -> Option<f64> {
        let values = self.values(sli);
        (!values.is_empty()).then(|| aggregate(values, function))
    }
}

/// Keptn's aggregation of previous values: mean, or a percentile; 0 for an unknown function.
pub fn aggregate(values: &[f64], function: &AggregateFunction) -> f64 {
    match function {
        AggregateFunction::Avg => average(values),
        AggregateFunction::P50 => percentile(values, 0.5),
        AggregateFunction::P90 => percentile(values, 0.9),
        AggregateFunction::P95 => percentile(values, 0.95),
        AggregateFunction::Other(_) => 0.0,
    }
}

/// Arithmetic mean (0 for no values), summed in order like Keptn.
pub fn average(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// Keptn's percentile: sort ascending, `pos = p*(n+1)`; below 1 → minimum, at or above `n` →
/// maximum, else linear interpolation between the values at `floor(pos)-1` and `floor(pos)`.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    // Go's sort.Float64Slice orders NaN first.
    sorted.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let size = sorted.len();
    let pos = p * (size as f64 + 1.0);
    if pos < 1.0 {
        sorted[0]
    } else if pos >= size as f64 {
        sorted[size - 1]
    } else {
        let i = pos as usize;
        let lower = sorted[i - 1];
        let upper = sorted[i];
        lower + (pos - pos.floor()) * (upper - lower)
    }
}
