//! The built-in "load-test" SLI provider (pure): SLI values computed from the load-test
//! summaries whose run overlaps the evaluation window, for clusters without a monitoring system.
//!
//! Indicators: `response_time_p50|p90|p95|p99|mean` (milliseconds), `error_rate`
//! (failures / requests, 0..1), `throughput` (requests per second) and `requests` (count);
//! and `response_time` (sluice extension for statistical criteria): the mean in milliseconds
//! with the response times themselves as the value's `samples` (every one up to
//! [`MAX_SAMPLES`], else that many quantiles of the merged histograms), which needs every run's
//! histogram.
//!
//! Window rule: a run counts when `[start, end]` overlaps `[window_start, window_end]`
//! (boundaries inclusive); its whole figures are used, since a summary cannot be split.
//! Summaries without a readable start or end are ignored.
//!
//! Combining several runs: requests and failures add up (so the error rate is weighted by
//! requests); throughput is total requests / the length of the union of the runs' intervals;
//! the mean is weighted by requests. Percentiles are exact when every run with response times
//! carries its HDR histogram (the histograms are added); otherwise the per-run maximum is taken,
//! an upper bound, and the SLI's message says so.

use sluice_model::evaluation::{MAX_SAMPLES, SliResult};
use sluice_model::event::Timestamp;

use crate::histogram::{LatencyHistogram, LatencyMs};
use crate::summary::LoadSummary;

/// The indicator names this provider answers, in the order it lists them.
pub const INDICATORS: &[&str] = &[
    "response_time",
    "response_time_p50",
    "response_time_p90",
    "response_time_p95",
    "response_time_p99",
    "response_time_mean",
    "error_rate",
    "throughput",
    "requests",
];

/// One SLI value as it goes into `get-sli.finished` `indicatorValues[]`.
pub type SliValue = SliResult;

/// The figures of all runs in a window, combined.
#[derive(Debug, Clone, PartialEq)]
pub struct Combined {
    /// How many runs were combined.
    pub runs: usize,
    /// Total requests.
    pub requests: u64,
    /// Total failures.
    pub failures: u64,
    /// Length of the union of the runs' [start, end] intervals, in seconds.
    pub union_seconds: f64,
    /// Combined response times, if any run recorded some.
    pub latency_ms: Option<LatencyMs>,
    /// Whether the percentiles are exact (merged histograms) or per-run maxima.
    pub exact_percentiles: bool,
    /// The merged histogram, when every run with response times carries one.
    pub histogram: Option<LatencyHistogram>,
}

/// The summaries whose run overlaps the window (inclusive), in input order.
pub fn summaries_in_window(
    summaries: &[LoadSummary],
    window_start: Timestamp,
    window_end: Timestamp,
) -> Vec<&LoadSummary> {
    summaries
        .iter()
        .filter(|s| match (s.start_time(), s.end_time()) {
            (Some(start), Some(end)) => start <= window_end && end >= window_start,
            _ => false,
        })
        .collect()
}

/// Combines runs as described in the module docs; `None` when there are none.
pub fn combine(runs: &[&LoadSummary]) -> Option<Combined> {
    if runs.is_empty() {
        return None;
    }
    let requests = runs.iter().map(|s| s.requests).sum();
    let failures = runs.iter().map(|s| s.failures).sum();

    let mut intervals: Vec<(Timestamp, Timestamp)> = runs
        .iter()
        .filter_map(|s| Some((s.start_time()?, s.end_time()?)))
        .filter(|(a, b)| a <= b)
        .collect();
    intervals.sort();
    let mut union_nanos: i128 = 0;
    let mut current: Option<(Timestamp, Timestamp)> = None;
    for (a, b) in intervals {
        current = match current {
            Some((ca, cb)) if a <= cb => Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                union_nanos += cb.nanos_since(ca);
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((ca, cb)) = current {
        union_nanos += cb.nanos_since(ca);
    }
    let mut union_seconds = union_nanos as f64 / 1e9;
    if union_seconds <= 0.0 {
        union_seconds = runs.iter().map(|s| s.duration_seconds).sum();
    }

    let with_latency: Vec<(&LoadSummary, LatencyMs)> = runs
        .iter()
        .filter_map(|s| Some((*s, s.latency_ms?)))
        .collect();
    let histograms: Option<Vec<LatencyHistogram>> = with_latency
        .iter()
        .map(|(s, _)| s.histogram().and_then(Result::ok))
        .collect();
    let (latency_ms, exact_percentiles, histogram) = match histograms {
        Some(hs) if !hs.is_empty() => {
            let mut merged = LatencyHistogram::new();
            for h in &hs {
                merged.merge(h);
            }
            (merged.latency_ms(), true, Some(merged))
        }
        _ => (approximate(&with_latency), with_latency.len() <= 1, None),
    };
    Some(Combined {
        runs: runs.len(),
        requests,
        failures,
        union_seconds,
        latency_ms,
        exact_percentiles,
        histogram,
    })
}

/// Per-run maxima of the percentiles, min of minima, max of maxima, request-weighted mean.
fn approximate(runs: &[(&LoadSummary, LatencyMs)]) -> Option<LatencyMs> {
    let (_, first) = runs.first()?;
    let mut out = *first;
    let mut weight_sum = 0.0;
    let mut weighted_mean = 0.0;
    for (s, l) in runs {
        out.min = out.min.min(l.min);
        out.p50 = out.p50.max(l.p50);
        out.p90 = out.p90.max(l.p90);
        out.p95 = out.p95.max(l.p95);
        out.p99 = out.p99.max(l.p99);
        out.max = out.max.max(l.max);
        let w = s.requests.max(1) as f64;
        weight_sum += w;
        weighted_mean += w * l.mean;
    }
    out.mean = weighted_mean / weight_sum;
    Some(out)
}

/// Computes the requested indicators from the summaries of runs overlapping the window.
///
/// Unknown names, an empty window and values that cannot be computed (no requests, no
/// response times) give `success: false` with a message, as an SLI provider reports them.
pub fn slis_from_summaries(
    summaries: &[LoadSummary],
    window_start: Timestamp,
    window_end: Timestamp,
    indicators: &[String],
) -> Vec<SliValue> {
    let runs = summaries_in_window(summaries, window_start, window_end);
    let combined = combine(&runs);
    indicators
        .iter()
        .map(|name| {
            let outcome = match (INDICATORS.contains(&name.as_str()), &combined) {
                (false, _) => Err(format!(
                    "unknown indicator {name:?}: the load-test provider offers: {}",
                    INDICATORS.join(", ")
                )),
                (true, None) => Err(format!(
                    "no load test ran between {} and {}",
                    window_start.to_keptn_string(),
                    window_end.to_keptn_string()
                )),
                (true, Some(c)) if name == "response_time" => samples_of(c),
                (true, Some(c)) => value_of(name, c).map(|(v, m)| (v, m, None)),
            };
            match outcome {
                Ok((value, message, samples)) => SliResult {
                    metric: name.clone(),
                    value,
                    success: true,
                    message,
                    samples,
                    ..SliResult::default()
                },
                Err(message) => SliResult {
                    metric: name.clone(),
                    success: false,
                    message,
                    ..SliResult::default()
                },
            }
        })
        .collect()
}

/// `response_time`: the mean with the response times as samples, or why there are none.
fn samples_of(c: &Combined) -> Result<(f64, String, Option<Vec<f64>>), String> {
    let latency = c
        .latency_ms
        .as_ref()
        .ok_or_else(|| "no response times were recorded in the window".to_string())?;
    let histogram = c.histogram.as_ref().ok_or_else(|| {
        format!(
            "the response times of the {} runs cannot be sampled: not every run has a latency histogram",
            c.runs
        )
    })?;
    Ok((
        latency.mean,
        String::new(),
        Some(histogram.samples_ms(MAX_SAMPLES)),
    ))
}

/// One indicator's value (and an optional note), or why it cannot be computed.
fn value_of(name: &str, c: &Combined) -> Result<(f64, String), String> {
    let no_requests = || {
        format!(
            "the {} load test run(s) in the window completed no requests",
            c.runs
        )
    };
    let latency = |pick: fn(&LatencyMs) -> f64, is_percentile: bool| {
        let l = c
            .latency_ms
            .as_ref()
            .ok_or_else(|| "no response times were recorded in the window".to_string())?;
        let note = if is_percentile && !c.exact_percentiles {
            format!(
                "approximate: the highest of the {} runs' own percentiles (not every run has a latency histogram)",
                c.runs
            )
        } else {
            String::new()
        };
        Ok((pick(l), note))
    };
    match name {
        "response_time_p50" => latency(|l| l.p50, true),
        "response_time_p90" => latency(|l| l.p90, true),
        "response_time_p95" => latency(|l| l.p95, true),
        "response_time_p99" => latency(|l| l.p99, true),
        "response_time_mean" => latency(|l| l.mean, false),
        "error_rate" if c.requests == 0 => Err(no_requests()),
        "error_rate" => Ok((c.failures as f64 / c.requests as f64, String::new())),
        "throughput" if c.union_seconds <= 0.0 => Err("the load test runs have no duration".into()),
        "throughput" => Ok((c.requests as f64 / c.union_seconds, String::new())),
        "requests" => Ok((c.requests as f64, String::new())),
        _ => Err(format!("unknown indicator {name:?}")),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// A run from `start` to `end` (minutes past 10:00) with `latencies` in ms.
    fn run(
        start_min: u32,
        end_min: u32,
        failures: u64,
        latencies: &[(u64, u64)],
        histogram: bool,
    ) -> LoadSummary {
        let mut h = LatencyHistogram::new();
        for &(ms, n) in latencies {
            h.record_us_n(ms * 1000, n);
        }
        let requests = h.count();
        let (start, end) = (
            format!("2022-06-22T10:{start_min:02}:00.000Z"),
            format!("2022-06-22T10:{end_min:02}:00.000Z"),
        );
        let secs = f64::from((end_min - start_min) * 60);
        LoadSummary {
            tool: "sluice-load".into(),
            url: "http://x".into(),
            start: Some(start),
            end: Some(end),
            duration_seconds: secs,
            requests,
            failures,
            failures_by_reason: BTreeMap::new(),
            throughput_per_second: requests as f64 / secs,
            latency_ms: h.latency_ms(),
            latency_histogram: histogram.then(|| h.to_base64()),
        }
    }

    fn value(results: &[SliValue], metric: &str) -> f64 {
        let r = results.iter().find(|r| r.metric == metric).unwrap();
        assert!(r.success, "{metric}: {}", r.message);
        r.value
    }

    #[test]
    fn single_run_values() {
        let s = run(0, 2, 12, &[(100, 90), (400, 10)], true);
        let all = names(INDICATORS);
        let out = slis_from_summaries(
            &[s],
            ts("2022-06-22T10:00:00Z"),
            ts("2022-06-22T10:02:00Z"),
            &all,
        );
        assert_eq!(out.len(), INDICATORS.len());
        assert!((value(&out, "response_time_p50") - 100.0).abs() < 0.1);
        assert!((value(&out, "response_time_p95") - 400.0).abs() < 0.4);
        assert!((value(&out, "response_time_mean") - 130.0).abs() < 0.2);
        assert!((value(&out, "error_rate") - 0.12).abs() < 1e-12);
        assert!((value(&out, "throughput") - 100.0 / 120.0).abs() < 1e-9);
        assert_eq!(value(&out, "requests"), 100.0);
        assert!(out.iter().all(|r| r.message.is_empty()));
    }

    #[test]
    fn window_overlap_is_inclusive_and_whole_runs_count() {
        let runs = [
            run(0, 2, 0, &[(10, 1)], true),   // 10:00-10:02
            run(5, 7, 0, &[(10, 2)], true),   // 10:05-10:07
            run(10, 12, 0, &[(10, 4)], true), // 10:10-10:12
        ];
        let count = |from: &str, to: &str| {
            let out = slis_from_summaries(&runs, ts(from), ts(to), &names(&["requests"]));
            out[0].success.then_some(out[0].value)
        };
        // Touching boundaries count on both sides.
        assert_eq!(
            count("2022-06-22T10:02:00Z", "2022-06-22T10:05:00Z"),
            Some(3.0)
        );
        // Partial overlap takes the whole run.
        assert_eq!(
            count("2022-06-22T10:06:00Z", "2022-06-22T10:11:00Z"),
            Some(6.0)
        );
        // Gaps between runs.
        assert_eq!(count("2022-06-22T10:02:01Z", "2022-06-22T10:04:59Z"), None);
        assert_eq!(count("2022-06-22T09:00:00Z", "2022-06-22T09:59:59Z"), None);
        // A run without times is never in a window.
        let mut timeless = run(0, 2, 0, &[(10, 1)], true);
        timeless.start = None;
        assert!(
            summaries_in_window(
                &[timeless],
                ts("2000-01-01T00:00:00Z"),
                ts("2100-01-01T00:00:00Z")
            )
            .is_empty()
        );
    }

    #[test]
    fn empty_window_and_unknown_names_fail_with_messages() {
        let out = slis_from_summaries(
            &[],
            ts("2022-06-22T10:00:00Z"),
            ts("2022-06-22T10:02:00Z"),
            &names(&["error_rate", "go_routines"]),
        );
        assert!(!out[0].success);
        assert_eq!(
            out[0].message,
            "no load test ran between 2022-06-22T10:00:00.000Z and 2022-06-22T10:02:00.000Z"
        );
        assert!(!out[1].success);
        assert!(
            out[1]
                .message
                .contains("the load-test provider offers: response_time, response_time_p50"),
            "{}",
            out[1].message
        );
        assert_eq!(out[1].metric, "go_routines");
    }

    #[test]
    fn merging_with_histograms_is_exact() {
        // Run A: 900 x 10 ms. Run B: 100 x 500 ms. Combined p95 is 500 ms, though A's own p95
        // is 10 ms and B's own p50 is 500 ms; the combined p50 is 10 ms.
        let a = run(0, 1, 10, &[(10, 900)], true);
        let b = run(1, 3, 90, &[(500, 100)], true);
        let out = slis_from_summaries(
            &[a, b],
            ts("2022-06-22T10:00:00Z"),
            ts("2022-06-22T10:03:00Z"),
            &names(&[
                "response_time_p50",
                "response_time_p95",
                "error_rate",
                "throughput",
                "response_time_mean",
            ]),
        );
        assert!((value(&out, "response_time_p50") - 10.0).abs() < 0.01);
        assert!((value(&out, "response_time_p95") - 500.0).abs() < 0.5);
        assert!((value(&out, "response_time_mean") - 59.0).abs() < 0.1);
        assert!((value(&out, "error_rate") - 0.1).abs() < 1e-12);
        // Union of 10:00-10:01 and 10:01-10:03 is 180 s.
        assert!((value(&out, "throughput") - 1000.0 / 180.0).abs() < 1e-9);
        assert!(out.iter().all(|r| r.message.is_empty()));
    }

    #[test]
    fn response_time_carries_every_latency_or_bounded_quantiles() {
        // 900 x 10 ms and 100 x 500 ms in two runs: every one of the 1000 is a sample.
        let a = run(0, 1, 0, &[(10, 900)], true);
        let b = run(1, 3, 0, &[(500, 100)], true);
        let (start, end) = (ts("2022-06-22T10:00:00Z"), ts("2022-06-22T10:03:00Z"));
        let out = slis_from_summaries(&[a.clone(), b], start, end, &names(&["response_time"]));
        assert!((value(&out, "response_time") - 59.0).abs() < 0.1);
        let samples = out[0].samples.as_ref().unwrap();
        assert_eq!(samples.len(), 1000);
        assert_eq!(samples.iter().filter(|v| **v > 400.0).count(), 100);
        assert!(
            samples
                .iter()
                .all(|v| (*v - 10.0).abs() < 0.02 || (*v - 500.0).abs() < 0.5)
        );
        // Past MAX_SAMPLES: that many quantiles, the 10 % tail kept as 10 %.
        let big = run(0, 1, 0, &[(10, 9000), (500, 1000)], true);
        let out = slis_from_summaries(&[big], start, end, &names(&["response_time"]));
        let samples = out[0].samples.as_ref().unwrap();
        assert_eq!(samples.len(), MAX_SAMPLES);
        assert_eq!(
            samples.iter().filter(|v| **v > 400.0).count(),
            MAX_SAMPLES / 10
        );
        // Other indicators carry none; a run without a histogram gives no samples, and says so.
        let out = slis_from_summaries(
            &[a, run(1, 3, 0, &[(500, 100)], false)],
            start,
            end,
            &names(&["response_time_mean", "response_time"]),
        );
        assert_eq!(out[0].samples, None);
        assert!(!out[1].success);
        assert!(
            out[1].message.contains("latency histogram"),
            "{}",
            out[1].message
        );
    }

    #[test]
    fn merging_without_histograms_takes_the_max_and_says_so() {
        let a = run(0, 1, 0, &[(10, 900)], false);
        let b = run(1, 3, 0, &[(500, 100)], true);
        let out = slis_from_summaries(
            &[a, b],
            ts("2022-06-22T10:00:00Z"),
            ts("2022-06-22T10:03:00Z"),
            &names(&["response_time_p50", "response_time_mean", "requests"]),
        );
        // Max of the per-run medians (10 and 500) is 500: an upper bound.
        assert!((value(&out, "response_time_p50") - 500.0).abs() < 0.5);
        assert!(
            out[0].message.starts_with("approximate"),
            "{}",
            out[0].message
        );
        // The mean is still request-weighted, and not flagged.
        assert!((value(&out, "response_time_mean") - 59.0).abs() < 0.1);
        assert!(out[1].message.is_empty());
        assert_eq!(value(&out, "requests"), 1000.0);
    }

    #[test]
    fn overlapping_runs_use_the_union_of_their_intervals() {
        let a = run(0, 2, 0, &[(10, 60)], true);
        let b = run(1, 3, 0, &[(10, 120)], true);
        let c = combine(&[&a, &b]).unwrap();
        assert_eq!(c.union_seconds, 180.0);
        assert_eq!(c.requests, 180);
        assert!(c.exact_percentiles);
    }

    #[test]
    fn runs_without_requests_or_latencies() {
        let mut idle = run(0, 2, 0, &[], true);
        idle.latency_histogram = None;
        let out = slis_from_summaries(
            &[idle],
            ts("2022-06-22T10:00:00Z"),
            ts("2022-06-22T10:02:00Z"),
            &names(&["error_rate", "response_time_p90", "requests", "throughput"]),
        );
        assert!(!out[0].success && out[0].message.contains("completed no requests"));
        assert!(!out[1].success && out[1].message.contains("no response times"));
        assert_eq!(value(&out, "requests"), 0.0);
        assert_eq!(value(&out, "throughput"), 0.0);
    }
}
