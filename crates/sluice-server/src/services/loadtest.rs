//! The built-in `loadtest` SLI provider: SLIs without a monitoring system, computed from the
//! summaries of load tests that ran in the evaluation window (job-run artifacts).
//!
//! Where summaries come from is behind [`LoadSummarySource`]; the server plugs in the job
//! executor's run artifacts, tests use a fixed list. A summary is the JSON object
//! `{start, end, requests, failures, throughputPerSecond, latencyMs: {p50, p90, p95}}`.
//!
//! Indicators: `requests` (sum), `error_rate` (failures / requests), `throughput` (requests
//! per second over the summaries' run time), `response_time_p50|p90|p95` (milliseconds; with
//! several summaries, the request-weighted mean of their percentiles, an approximation).
//! Any other name fails; no summary in the window fails every indicator.

use std::future::Future;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;
use sluice_model::event::Timestamp;
use sluice_model::event::data::GetSliIndicatorValue;

use super::sli_provider::{SliOutcome, SliRequest, SliSource, failed, value};

/// The provider name.
pub const PROVIDER: &str = "loadtest";
/// The `source` of its events.
pub const SOURCE: &str = "sluice-loadtest";
/// The indicators it can compute.
pub const INDICATORS: [&str; 6] = [
    "response_time_p50",
    "response_time_p90",
    "response_time_p95",
    "error_rate",
    "throughput",
    "requests",
];

/// Which summaries are wanted.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryQuery<'a> {
    /// Project.
    pub project: &'a str,
    /// Stage.
    pub stage: &'a str,
    /// Service.
    pub service: &'a str,
    /// Window start.
    pub start: Timestamp,
    /// Window end.
    pub end: Timestamp,
}

/// Where load-test summaries come from.
pub trait LoadSummarySource: Send + Sync + 'static {
    /// The summaries (JSON, shape in the module docs) of load tests for this project, stage
    /// and service whose run overlaps `[start, end]`; `Err` when they cannot be read.
    fn summaries(
        &self,
        query: &SummaryQuery<'_>,
    ) -> impl Future<Output = Result<Vec<Value>, String>> + Send;
}

/// A source with no load tests at all (every request fails its indicators): the server's
/// source until job-run artifacts are available.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLoadSummaries;

impl LoadSummarySource for NoLoadSummaries {
    async fn summaries(&self, _query: &SummaryQuery<'_>) -> Result<Vec<Value>, String> {
        Ok(Vec::new())
    }
}

/// One load-test summary.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadSummary {
    /// When the run started.
    #[serde(default)]
    pub start: String,
    /// When it ended.
    #[serde(default)]
    pub end: String,
    /// Requests sent.
    pub requests: f64,
    /// Requests that failed.
    #[serde(default)]
    pub failures: f64,
    /// Requests per second over the run.
    #[serde(default)]
    pub throughput_per_second: f64,
    /// Latency percentiles in milliseconds.
    pub latency_ms: Latency,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
}

impl LoadSummary {
    fn seconds(&self) -> Option<f64> {
        let s = Timestamp::parse(&self.start).ok()?;
        let e = Timestamp::parse(&self.end).ok()?;
        let secs = e.nanos_since(s) as f64 / 1e9;
        (secs > 0.0).then_some(secs)
    }
}

/// The value of one indicator over the summaries.
pub fn indicator(name: &str, summaries: &[LoadSummary]) -> Result<f64, String> {
    let requests: f64 = summaries.iter().map(|s| s.requests).sum();
    let weighted = |pick: fn(&Latency) -> f64| {
        if requests > 0.0 {
            Ok(summaries
                .iter()
                .map(|s| pick(&s.latency_ms) * s.requests)
                .sum::<f64>()
                / requests)
        } else {
            Err("the load tests in the window sent no requests".to_owned())
        }
    };
    match name {
        "requests" => Ok(requests),
        "error_rate" if requests > 0.0 => {
            Ok(summaries.iter().map(|s| s.failures).sum::<f64>() / requests)
        }
        "error_rate" => Err("the load tests in the window sent no requests".to_owned()),
        "throughput" => {
            let durations: Option<Vec<f64>> = summaries.iter().map(LoadSummary::seconds).collect();
            match durations {
                Some(d) if !d.is_empty() => Ok(requests / d.iter().sum::<f64>()),
                _ => Ok(summaries
                    .iter()
                    .map(|s| s.throughput_per_second)
                    .sum::<f64>()
                    / summaries.len().max(1) as f64),
            }
        }
        "response_time_p50" => weighted(|l| l.p50),
        "response_time_p90" => weighted(|l| l.p90),
        "response_time_p95" => weighted(|l| l.p95),
        other => Err(format!(
            "no query found for indicator {other}: the loadtest provider computes {}",
            INDICATORS.join(", ")
        )),
    }
}

/// The values for the requested indicators (one per name, in order).
pub fn values(indicators: &[String], summaries: &[LoadSummary]) -> Vec<GetSliIndicatorValue> {
    indicators
        .iter()
        .map(|name| {
            if summaries.is_empty() {
                return failed(name, "no load-test results in the evaluation window");
            }
            match indicator(name, summaries) {
                Ok(v) if v.is_finite() => value(name, v),
                Ok(_) => failed(name, "the load-test results give no finite value"),
                Err(m) => failed(name, m),
            }
        })
        .collect()
}

/// The `loadtest` provider over a summary source.
#[derive(Debug)]
pub struct Loadtest<S> {
    source: Arc<S>,
}

impl<S: LoadSummarySource> Loadtest<S> {
    /// A provider reading summaries from `source`.
    pub fn new(source: S) -> Self {
        Loadtest {
            source: Arc::new(source),
        }
    }
}

impl<S: LoadSummarySource> SliSource for Loadtest<S> {
    fn provider(&self) -> &str {
        PROVIDER
    }

    fn source(&self) -> &str {
        SOURCE
    }

    async fn fetch(&self, request: &SliRequest) -> SliOutcome {
        let d = &request.data;
        let (Ok(start), Ok(end)) = (
            Timestamp::parse(&d.get_sli.start),
            Timestamp::parse(&d.get_sli.end),
        ) else {
            return SliOutcome::Errored(format!(
                "invalid evaluation window: start {:?}, end {:?}",
                d.get_sli.start, d.get_sli.end
            ));
        };
        let query = SummaryQuery {
            project: &d.base.project,
            stage: &d.base.stage,
            service: &d.base.service,
            start,
            end,
        };
        let raw = match self.source.summaries(&query).await {
            Ok(r) => r,
            Err(m) => return SliOutcome::Errored(format!("cannot read load-test results: {m}")),
        };
        let mut summaries = Vec::with_capacity(raw.len());
        for r in raw {
            match serde_json::from_value::<LoadSummary>(r) {
                Ok(s) => summaries.push(s),
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable load-test summary"),
            }
        }
        SliOutcome::Values(values(&d.get_sli.indicators, &summaries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(start: &str, end: &str, requests: f64, failures: f64, p95: f64) -> Value {
        json!({"start": start, "end": end, "requests": requests, "failures": failures,
               "throughputPerSecond": requests / 60.0,
               "latencyMs": {"p50": p95 / 3.0, "p90": p95 / 1.5, "p95": p95}})
    }

    /// A fixed list, filtered by scope and overlap like a real source.
    struct Fixed(Vec<(&'static str, Value)>);

    impl LoadSummarySource for Fixed {
        async fn summaries(&self, q: &SummaryQuery<'_>) -> Result<Vec<Value>, String> {
            Ok(self
                .0
                .iter()
                .filter(|(service, _)| *service == q.service)
                .filter(|(_, v)| {
                    let t = |k: &str| Timestamp::parse(v[k].as_str().unwrap_or("")).unwrap();
                    t("start").nanos_since(q.end) <= 0 && t("end").nanos_since(q.start) >= 0
                })
                .map(|(_, v)| v.clone())
                .collect())
        }
    }

    struct Broken;

    impl LoadSummarySource for Broken {
        async fn summaries(&self, _q: &SummaryQuery<'_>) -> Result<Vec<Value>, String> {
            Err("runs directory unreadable".into())
        }
    }

    fn request(indicators: &[&str]) -> SliRequest {
        let event = Arc::new(sluice_model::event::KeptnEvent {
            id: Some("g".into()),
            event_type: Some(super::super::sli_provider::GET_SLI_TRIGGERED.into()),
            data: Some(json!({
                "project": "p", "stage": "s", "service": "svc",
                "get-sli": {"sliProvider": "loadtest", "start": "2024-01-01T10:00:00.000Z",
                            "end": "2024-01-01T10:10:00.000Z", "indicators": indicators}
            })),
            ..Default::default()
        });
        SliRequest::addressed_to(&event, PROVIDER).unwrap()
    }

    fn by_name(outcome: &SliOutcome) -> Vec<(String, f64, bool)> {
        match outcome {
            SliOutcome::Values(v) => v
                .iter()
                .map(|x| (x.metric.clone(), x.value, x.success))
                .collect(),
            SliOutcome::Errored(m) => panic!("errored: {m}"),
        }
    }

    #[tokio::test]
    async fn computes_slis_from_the_summaries_in_the_window() {
        let provider = Loadtest::new(Fixed(vec![
            (
                "svc",
                summary(
                    "2024-01-01T10:01:00Z",
                    "2024-01-01T10:02:00Z",
                    600.0,
                    6.0,
                    300.0,
                ),
            ),
            (
                "svc",
                summary(
                    "2024-01-01T10:03:00Z",
                    "2024-01-01T10:04:00Z",
                    200.0,
                    0.0,
                    100.0,
                ),
            ),
            // Outside the window, and another service: ignored.
            (
                "svc",
                summary(
                    "2024-01-01T09:00:00Z",
                    "2024-01-01T09:01:00Z",
                    9e6,
                    9e6,
                    9e6,
                ),
            ),
            (
                "other",
                summary(
                    "2024-01-01T10:01:00Z",
                    "2024-01-01T10:02:00Z",
                    1.0,
                    1.0,
                    1.0,
                ),
            ),
        ]));
        let r = request(&[
            "response_time_p95",
            "error_rate",
            "throughput",
            "requests",
            "cpu",
        ]);
        let got = by_name(&provider.fetch(&r).await);
        assert_eq!(got[0], ("response_time_p95".into(), 250.0, true)); // (300*600+100*200)/800
        assert_eq!(got[1], ("error_rate".into(), 6.0 / 800.0, true));
        assert_eq!(got[2], ("throughput".into(), 800.0 / 120.0, true));
        assert_eq!(got[3], ("requests".into(), 800.0, true));
        assert!(!got[4].2, "{:?}", got[4]);
    }

    #[tokio::test]
    async fn nothing_in_the_window_fails_every_indicator() {
        let provider = Loadtest::new(Fixed(vec![]));
        let got = by_name(
            &provider
                .fetch(&request(&["error_rate", "throughput"]))
                .await,
        );
        assert!(got.iter().all(|(_, v, ok)| !ok && *v == 0.0));
        let (result, message) = super::super::sli_provider::result_of(
            match &provider.fetch(&request(&["error_rate"])).await {
                SliOutcome::Values(v) => v,
                SliOutcome::Errored(_) => unreachable!(),
            },
        );
        assert_eq!(result, sluice_model::event::ResultType::Fail);
        assert_eq!(message, "unable to retrieve metrics");
    }

    #[tokio::test]
    async fn an_unreadable_source_is_an_errored_answer() {
        let provider = Loadtest::new(Broken);
        assert_eq!(
            provider.fetch(&request(&["error_rate"])).await,
            SliOutcome::Errored("cannot read load-test results: runs directory unreadable".into())
        );
    }

    #[test]
    fn zero_requests_give_no_rates() {
        let s: Vec<LoadSummary> = vec![
            serde_json::from_value(summary(
                "2024-01-01T10:01:00Z",
                "2024-01-01T10:02:00Z",
                0.0,
                0.0,
                5.0,
            ))
            .unwrap(),
        ];
        assert!(indicator("error_rate", &s).is_err());
        assert!(indicator("response_time_p50", &s).is_err());
        assert_eq!(indicator("requests", &s), Ok(0.0));
    }
}
