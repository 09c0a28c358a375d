//! Previous evaluations: which ones Keptn compares with, and how their values are aggregated.
//!
//! Keptn's lighthouse (`getPreviousEvaluations` in `evaluate_sli_handler.go` at 1.4.5) asked
//! mongodb-datastore for the newest `evaluation.finished` events of
//! the same project, stage and service (source lighthouse-service, invalidated ones excluded),
//! filtered by `data.result` (`pass` for `include_result_with_score: pass`, `pass` or
//! `warning` for `pass_or_warn`), limited to 1 (`single_result`), `number_of_comparison_results`
//! (`several_results`) or 3 (anything else). [`select_previous`] applies the same filter and
//! limit to a newest-first list (a limit of 0 or less takes all, as the datastore's
//! `getInvalidatedEventQuery` did). Inside the selected events, every indicator result with
//! the objective's SLI name is a candidate (`evaluateObjectives`), and only those with
//! `success: true` are aggregated (`aggregateValues`, `calculatePercentile`).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use sluice_model::evaluation::{EvaluationFinishedEventData, ResultType};
use sluice_model::slo::{AggregateFunction, CompareWith, Comparison, IncludeResults};

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
        // A pinned baseline (sluice extension) was chosen by a person: its result does not
        // filter it out.
        .filter(|p| match comparison.include_result_with_score {
            _ if comparison.compare_with == CompareWith::Baseline => true,
            IncludeResults::Pass => p.data.base.result == ResultType::Pass,
            IncludeResults::PassOrWarn => {
                matches!(p.data.base.result, ResultType::Pass | ResultType::Warning)
            }
            IncludeResults::All | IncludeResults::Other(_) => true,
        })
        .take(limit)
        .collect()
}

/// FNV-1a: SLI names are short, trusted-size keys; this is several times faster than SipHash
/// for grouping thousands of previous values.
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// A hash map keyed by short strings.
pub(crate) type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// Successful previous values of every SLI, grouped once by SLI name, in Keptn's order
/// (events newest first, indicator results in stored order).
#[derive(Default)]
pub struct PreviousValues<'a> {
    slot_of: FnvMap<&'a str, usize>,
    names: Vec<&'a str>,
    values: Vec<Vec<f64>>,
}

impl<'a> PreviousValues<'a> {
    /// Groups the successful values of the selected evaluations by SLI name.
    pub fn new(selected: &[&PreviousEvaluation<'a>]) -> Self {
        let mut grouped = PreviousValues::default();
        // Stored evaluations usually list their SLIs in the same order, so the slot found at
        // position j of one event is tried first for position j of the next.
        let mut slot_at: Vec<usize> = Vec::new();
        for p in selected {
            let data: &'a EvaluationFinishedEventData = p.data;
            for (j, r) in data.evaluation.indicator_results.iter().enumerate() {
                let Some(v) = &r.value else { continue };
                if !v.success {
                    continue;
                }
                let metric = v.metric.as_str();
                let slot = match slot_at.get(j) {
                    Some(&s) if grouped.names.get(s) == Some(&metric) => s,
                    _ => {
                        let s = grouped.slot(metric, selected.len());
                        if slot_at.len() <= j {
                            slot_at.resize(j + 1, usize::MAX);
                        }
                        slot_at[j] = s;
                        s
                    }
                };
                grouped.values[slot].push(v.value);
            }
        }
        grouped
    }

    fn slot(&mut self, metric: &'a str, capacity: usize) -> usize {
        if let Some(&s) = self.slot_of.get(metric) {
            return s;
        }
        let s = self.names.len();
        self.slot_of.insert(metric, s);
        self.names.push(metric);
        self.values.push(Vec::with_capacity(capacity));
        s
    }

    /// The successful previous values of one SLI.
    pub fn values(&self, sli: &str) -> &[f64] {
        self.slot_of
            .get(sli)
            .map_or(&[], |&s| self.values[s].as_slice())
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
