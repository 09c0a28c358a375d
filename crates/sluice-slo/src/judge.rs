//! Statistical criteria (sluice's `objectives[].statistical`): judges the samples of the
//! current evaluation against the baseline's, in the manner of Kayenta's Mann-Whitney judge.
//!
//! The steps, for each side: NaN and infinite values are dropped (Kayenta's
//! `nanStrategy: remove`), then,
//! with `outliers: remove`, values outside Kayenta's fences; fewer than `min_samples` values
//! left on either side is "no data" (the gate applies the objective's `on_missing`). Then the
//! Mann-Whitney U test runs with the alternative the direction asks for (`increase`: the
//! current values tend to be larger; `decrease`: smaller; `either`: two-sided). The criterion
//! fails when the change is significant (p ≤ alpha) **and**, if an `effect_size` is set, the
//! effect (median or mean ratio, current over baseline) lies beyond it in the bad direction
//! (`> effect_size` for an increase, `< 1/effect_size` for a decrease). As in Kayenta, an
//! undefined ratio (the baseline's center is not positive, or the current one is negative)
//! skips the effect check, so significance alone decides.

use sluice_model::evaluation::{EvaluationFinishedEventData, SliResult};
use sluice_model::slo::{Direction, EffectMeasure, Outliers, Statistical};

use crate::statistics::{
    Alternative, DEFAULT_OUTLIER_FACTOR, Method, drop_non_finite, hodges_lehmann, mann_whitney_u,
    mean, median, remove_outliers,
};

/// The samples an SLI provider returned for one SLI (sluice extension of the SLI values).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SliSamples {
    /// The SLI name.
    pub metric: String,
    /// Every observation (for example each request's latency), in any order.
    pub values: Vec<f64>,
}

/// The samples of one evaluation's input: the current ones and the baseline's, per SLI.
#[derive(Debug, Clone, Copy, Default)]
pub struct Samples<'a> {
    /// Samples of the evaluation being scored.
    pub current: &'a [SliSamples],
    /// Samples of the baseline evaluation it is compared with.
    pub baseline: &'a [SliSamples],
}

/// The samples SLI values carry (sluice's `samples` field of `indicatorValues[]`), in order.
pub fn samples_of_values(values: &[SliResult]) -> Vec<SliSamples> {
    values
        .iter()
        .filter_map(|v| {
            Some(SliSamples {
                metric: v.metric.clone(),
                values: v.samples.clone()?,
            })
        })
        .collect()
}

/// The samples an earlier evaluation's results carry (its SLI values as echoed in
/// `indicatorResults[].value`), so a later evaluation can compare with them.
pub fn samples_of_evaluation(evaluation: &EvaluationFinishedEventData) -> Vec<SliSamples> {
    evaluation
        .evaluation
        .indicator_results
        .iter()
        .filter_map(|r| {
            let v = r.value.as_ref()?;
            Some(SliSamples {
                metric: v.metric.clone(),
                values: v.samples.clone()?,
            })
        })
        .collect()
}

/// The first samples of `metric` in `samples`.
pub fn samples_of<'s>(samples: &'s [SliSamples], metric: &str) -> Option<&'s [f64]> {
    samples
        .iter()
        .find(|s| s.metric == metric)
        .map(|s| s.values.as_slice())
}

/// One side of the comparison after cleaning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleSummary {
    /// Values received.
    pub received: usize,
    /// NaN and infinite values dropped.
    pub dropped: usize,
    /// Outliers removed (`outliers: remove`).
    pub outliers_removed: usize,
    /// Values compared.
    pub count: usize,
    /// Median of the compared values.
    pub median: f64,
    /// Mean of the compared values.
    pub mean: f64,
}

/// What the criterion concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No bad change (not significant, or within the effect size).
    Pass,
    /// A significant change in the bad direction, beyond the effect size.
    Fail,
}

/// A completed comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Judgement {
    /// The current evaluation's samples.
    pub current: SampleSummary,
    /// The baseline's samples.
    pub baseline: SampleSummary,
    /// Mann-Whitney U of the current samples.
    pub u: f64,
    /// The p-value for the direction's alternative.
    pub p_value: f64,
    /// Exact or asymptotic p-value.
    pub method: Method,
    /// Whether p ≤ alpha.
    pub significant: bool,
    /// Hodges-Lehmann estimate of the shift (current minus baseline), in the SLI's unit.
    pub shift: f64,
    /// Median ratio, current over baseline, when defined.
    pub median_ratio: Option<f64>,
    /// Mean ratio, current over baseline, when defined.
    pub mean_ratio: Option<f64>,
    /// The ratio the criterion's `effect_measure` names.
    pub effect: Option<f64>,
    /// The conclusion.
    pub verdict: Verdict,
    /// One sentence saying why.
    pub reason: String,
}

/// Why there was nothing to compare.
#[derive(Debug, Clone, PartialEq)]
pub struct NoData {
    /// Values usable on the current side (`None`: no samples received at all).
    pub current: Option<usize>,
    /// Values usable on the baseline side (`None`: no samples received at all).
    pub baseline: Option<usize>,
    /// The criterion's minimum per side.
    pub min_samples: usize,
    /// One sentence saying why.
    pub reason: String,
}

/// The outcome of a statistical criterion.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Both sides had enough values.
    Compared(Judgement),
    /// A side had no or too few values.
    NoData(NoData),
}

impl Outcome {
    /// Whether the criterion held (no data does not hold).
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Compared(j) if j.verdict == Verdict::Pass)
    }

    /// The sentence saying why.
    pub fn reason(&self) -> &str {
        match self {
            Outcome::Compared(j) => &j.reason,
            Outcome::NoData(n) => &n.reason,
        }
    }
}

struct Cleaned {
    values: Vec<f64>,
    dropped: usize,
    outliers_removed: usize,
    received: usize,
}

fn clean(values: &[f64], outliers: Outliers) -> Cleaned {
    let received = values.len();
    let (kept, dropped) = drop_non_finite(values);
    let (values, outliers_removed) = match outliers {
        Outliers::Keep => (kept, 0),
        Outliers::Remove => remove_outliers(&kept, DEFAULT_OUTLIER_FACTOR),
    };
    Cleaned {
        values,
        dropped,
        outliers_removed,
        received,
    }
}

/// Judges `current` against `baseline` (either may be missing) with `criterion`.
pub fn judge(
    criterion: &Statistical,
    current: Option<&[f64]>,
    baseline: Option<&[f64]>,
) -> Outcome {
    let current = current.map(|v| clean(v, criterion.outliers));
    let baseline = baseline.map(|v| clean(v, criterion.outliers));
    let usable = |c: &Option<Cleaned>| c.as_ref().map(|c| c.values.len());
    let (n_current, n_baseline) = (usable(&current), usable(&baseline));
    let enough = |n: Option<usize>| n.is_some_and(|n| n >= criterion.min_samples.max(1));
    let (Some(current), Some(baseline)) = (current, baseline) else {
        return no_data(criterion, n_current, n_baseline);
    };
    if !enough(n_current) || !enough(n_baseline) {
        return no_data(criterion, n_current, n_baseline);
    }
    let alternative = match criterion.direction {
        Direction::Increase => Alternative::Greater,
        Direction::Decrease => Alternative::Less,
        Direction::Either => Alternative::TwoSided,
    };
    let (Ok(test), Ok(shift)) = (
        mann_whitney_u(&current.values, &baseline.values, alternative),
        hodges_lehmann(&current.values, &baseline.values),
    ) else {
        // Unreachable: both sides are non-empty and finite here.
        return no_data(criterion, n_current, n_baseline);
    };
    let summary = |c: &Cleaned| SampleSummary {
        received: c.received,
        dropped: c.dropped,
        outliers_removed: c.outliers_removed,
        count: c.values.len(),
        median: median(&c.values).unwrap_or(f64::NAN),
        mean: mean(&c.values).unwrap_or(f64::NAN),
    };
    let (cur, base) = (summary(&current), summary(&baseline));
    let median_ratio = ratio(cur.median, base.median);
    let mean_ratio = ratio(cur.mean, base.mean);
    let effect = match criterion.effect_measure {
        EffectMeasure::MedianRatio => median_ratio,
        EffectMeasure::MeanRatio => mean_ratio,
    };
    let significant = test.p_value <= criterion.alpha;
    let change = match criterion.direction {
        Direction::Increase => "increase",
        Direction::Decrease => "decrease",
        Direction::Either => "change",
    };
    let p = format!(
        "p = {} {} alpha {}",
        fmt_p(test.p_value),
        if significant { "≤" } else { ">" },
        criterion.alpha
    );
    let measure = criterion.effect_measure.as_str().replace('_', " ");
    let (verdict, reason) = if !significant {
        (Verdict::Pass, format!("no significant {change} ({p})"))
    } else {
        match (criterion.effect_size, effect) {
            (None, _) => (Verdict::Fail, format!("significant {change} ({p})")),
            (Some(_), None) => (
                Verdict::Fail,
                format!(
                    "significant {change} ({p}); the {measure} is undefined, so significance decides"
                ),
            ),
            (Some(limit), Some(e)) => {
                let beyond = match criterion.direction {
                    Direction::Increase => e > limit,
                    Direction::Decrease => e < 1.0 / limit,
                    Direction::Either => e > limit || e < 1.0 / limit,
                };
                if beyond {
                    (
                        Verdict::Fail,
                        format!(
                            "significant {change} ({p}) and the {measure} {} is beyond {limit}",
                            fmt_ratio(e)
                        ),
                    )
                } else {
                    (
                        Verdict::Pass,
                        format!(
                            "significant {change} ({p}) but the {measure} {} is within {limit}",
                            fmt_ratio(e)
                        ),
                    )
                }
            }
        }
    };
    Outcome::Compared(Judgement {
        current: cur,
        baseline: base,
        u: test.u1,
        p_value: test.p_value,
        method: test.method,
        significant,
        shift,
        median_ratio,
        mean_ratio,
        effect,
        verdict,
        reason,
    })
}

fn no_data(criterion: &Statistical, current: Option<usize>, baseline: Option<usize>) -> Outcome {
    let side = |name: &str, n: Option<usize>| match n {
        None => format!("no {name} samples"),
        Some(n) => format!("{n} usable {name} sample{}", if n == 1 { "" } else { "s" }),
    };
    let reason = format!(
        "no data: {}, {} (at least {} needed on each side)",
        side("current", current),
        side("baseline", baseline),
        criterion.min_samples
    );
    Outcome::NoData(NoData {
        current,
        baseline,
        min_samples: criterion.min_samples,
        reason,
    })
}

/// current / baseline, defined for a positive baseline and a non-negative current value.
fn ratio(current: f64, baseline: f64) -> Option<f64> {
    (baseline > 0.0 && current >= 0.0)
        .then(|| current / baseline)
        .filter(|r| r.is_finite())
}

/// A p-value for people: four decimals, or two significant digits below 0.0001.
pub fn fmt_p(p: f64) -> String {
    if p != 0.0 && p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

/// A ratio for people: three decimals.
pub fn fmt_ratio(r: f64) -> String {
    format!("{r:.3}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latencies(base: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| base + (i % 10) as f64).collect()
    }

    #[test]
    fn significant_increase_beyond_the_effect_size_fails() {
        let c = Statistical {
            effect_size: Some(1.2),
            ..Statistical::default()
        };
        let Outcome::Compared(j) =
            judge(&c, Some(&latencies(150.0, 40)), Some(&latencies(100.0, 40)))
        else {
            panic!("compared expected");
        };
        assert_eq!(j.verdict, Verdict::Fail);
        assert!(j.significant);
        assert_eq!((j.current.median, j.baseline.median), (154.5, 104.5));
        assert_eq!(j.shift, 50.0);
        assert!(
            j.reason.starts_with("significant increase (p = "),
            "{}",
            j.reason
        );
        assert!(
            j.reason.ends_with("the median ratio 1.478 is beyond 1.2"),
            "{}",
            j.reason
        );
    }

    #[test]
    fn significant_increase_within_the_effect_size_passes() {
        let c = Statistical {
            effect_size: Some(1.2),
            ..Statistical::default()
        };
        let outcome = judge(&c, Some(&latencies(110.0, 40)), Some(&latencies(100.0, 40)));
        let Outcome::Compared(j) = &outcome else {
            panic!("compared expected");
        };
        assert!(j.significant);
        assert_eq!(j.verdict, Verdict::Pass);
        assert!(outcome.passed());
        assert!(j.reason.contains("is within 1.2"), "{}", j.reason);
    }

    #[test]
    fn decrease_and_either_directions() {
        let low = latencies(50.0, 30);
        let high = latencies(100.0, 30);
        let c = |direction| Statistical {
            direction,
            effect_size: Some(1.5),
            ..Statistical::default()
        };
        assert!(!judge(&c(Direction::Decrease), Some(&low), Some(&high)).passed());
        assert!(judge(&c(Direction::Decrease), Some(&high), Some(&low)).passed());
        assert!(!judge(&c(Direction::Either), Some(&low), Some(&high)).passed());
        assert!(!judge(&c(Direction::Either), Some(&high), Some(&low)).passed());
    }

    #[test]
    fn too_few_or_missing_samples_are_no_data() {
        let c = Statistical::default();
        let outcome = judge(&c, Some(&[1.0, f64::NAN, 2.0]), Some(&[1.0, 2.0, 3.0]));
        assert_eq!(
            outcome,
            Outcome::NoData(NoData {
                current: Some(2),
                baseline: Some(3),
                min_samples: 3,
                reason: "no data: 2 usable current samples, 3 usable baseline samples (at least 3 needed on each side)".into(),
            })
        );
        let outcome = judge(&c, None, Some(&[1.0, 2.0, 3.0]));
        assert_eq!(
            outcome.reason(),
            "no data: no current samples, 3 usable baseline samples (at least 3 needed on each side)"
        );
        assert!(!outcome.passed());
    }

    #[test]
    fn undefined_ratio_leaves_the_decision_to_significance() {
        let c = Statistical {
            effect_size: Some(2.0),
            ..Statistical::default()
        };
        let zeros = vec![0.0; 30];
        let errors: Vec<f64> = (0..30).map(|i| 1.0 + f64::from(i % 3)).collect();
        let Outcome::Compared(j) = judge(&c, Some(&errors), Some(&zeros)) else {
            panic!("compared expected");
        };
        assert_eq!((j.median_ratio, j.mean_ratio), (None, None));
        assert_eq!(j.verdict, Verdict::Fail);
        assert!(j.reason.contains("undefined"), "{}", j.reason);
    }

    #[test]
    fn outliers_are_removed_before_the_test() {
        let mut current = latencies(100.0, 50);
        current.push(1.0e6);
        let c = Statistical {
            outliers: Outliers::Remove,
            effect_measure: EffectMeasure::MeanRatio,
            effect_size: Some(1.5),
            ..Statistical::default()
        };
        let Outcome::Compared(j) = judge(&c, Some(&current), Some(&latencies(100.0, 50))) else {
            panic!("compared expected");
        };
        assert_eq!(
            (
                j.current.received,
                j.current.outliers_removed,
                j.current.count
            ),
            (51, 1, 50)
        );
        assert_eq!(j.mean_ratio, Some(1.0));
        assert_eq!(j.verdict, Verdict::Pass);
    }

    #[test]
    fn p_values_are_formatted_for_people() {
        assert_eq!(fmt_p(0.04321), "0.0432");
        assert_eq!(fmt_p(0.0000123), "1.2e-5");
        assert_eq!(fmt_p(0.0), "0.0000");
        assert_eq!(fmt_p(1.0), "1.0000");
    }
}
