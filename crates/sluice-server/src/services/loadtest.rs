//! The built-in `loadtest` SLI provider: SLIs without a monitoring system, computed from the
//! summaries of load tests that ran in the evaluation window (job-run artifacts).
//!
//! Where summaries come from is behind [`LoadSummarySource`]; the server plugs in the job
//! executor's run artifacts, tests use a fixed list. The maths is `sluice-load`'s
//! [`slis_from_summaries`] (indicators [`sluice_load::INDICATORS`]; runs overlapping the
//! window; unknown names and an empty window fail their indicators).

use std::future::Future;
use std::sync::Arc;

use sluice_load::{LoadSummary, slis_from_summaries};
use sluice_model::event::Timestamp;

use super::sli_provider::{SliOutcome, SliRequest, SliSource};

/// The provider name.
pub const PROVIDER: &str = "loadtest";
/// The `source` of its events.
pub const SOURCE: &str = "sluice-loadtest";

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
    /// The summaries of load tests for this project, stage and service whose run may overlap
    /// `[start, end]` (returning more is fine: the provider applies the window rule), or why
    /// they cannot be read.
    fn summaries(
        &self,
        query: &SummaryQuery<'_>,
    ) -> impl Future<Output = Result<Vec<LoadSummary>, String>> + Send;
}

/// A source with no load tests at all (every request fails its indicators): the server's
/// source until job-run artifacts are wired in.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLoadSummaries;

impl LoadSummarySource for NoLoadSummaries {
    async fn summaries(&self, _query: &SummaryQuery<'_>) -> Result<Vec<LoadSummary>, String> {
        Ok(Vec::new())
    }
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
        let summaries = match self.source.summaries(&query).await {
            Ok(s) => s,
            Err(m) => return SliOutcome::Errored(format!("cannot read load-test results: {m}")),
        };
        SliOutcome::Values(slis_from_summaries(
            &summaries,
            start,
            end,
            &d.get_sli.indicators,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sluice_model::event::ResultType;

    use sluice_model::event::kind::GET_SLI_TRIGGERED;

    use crate::services::sli_provider;

    fn summary(start: &str, end: &str, requests: u64, failures: u64, p95: f64) -> LoadSummary {
        serde_json::from_value(json!({
            "tool": "sluice-load", "url": "http://x", "start": start, "end": end,
            "durationSeconds": 60.0, "requests": requests, "failures": failures,
            "failuresByReason": {}, "throughputPerSecond": requests as f64 / 60.0,
            "latencyMs": {"min": 1.0, "p50": p95 / 3.0, "p90": p95 / 1.5, "p95": p95,
                          "p99": p95, "max": p95, "mean": p95 / 2.0}
        }))
        .unwrap()
    }

    /// A fixed list, filtered by service like a real source.
    struct Fixed(Vec<(&'static str, LoadSummary)>);

    impl LoadSummarySource for Fixed {
        async fn summaries(&self, q: &SummaryQuery<'_>) -> Result<Vec<LoadSummary>, String> {
            Ok(self
                .0
                .iter()
                .filter(|(service, _)| *service == q.service)
                .map(|(_, s)| s.clone())
                .collect())
        }
    }

    struct Broken;

    impl LoadSummarySource for Broken {
        async fn summaries(&self, _q: &SummaryQuery<'_>) -> Result<Vec<LoadSummary>, String> {
            Err("runs directory unreadable".into())
        }
    }

    fn request(indicators: &[&str]) -> SliRequest {
        let event = Arc::new(sluice_model::event::KeptnEvent {
            id: Some("g".into()),
            event_type: Some(GET_SLI_TRIGGERED.into()),
            data: Some(json!({
                "project": "p", "stage": "s", "service": "svc",
                "get-sli": {"sliProvider": "loadtest", "start": "2024-01-01T10:00:00.000Z",
                            "end": "2024-01-01T10:10:00.000Z", "indicators": indicators}
            })),
            ..Default::default()
        });
        SliRequest::addressed_to(&event, PROVIDER).unwrap()
    }

    fn values(outcome: SliOutcome) -> Vec<sluice_model::evaluation::SliResult> {
        match outcome {
            SliOutcome::Values(v) => v,
            SliOutcome::Errored(m) => panic!("errored: {m}"),
        }
    }

    #[tokio::test]
    async fn computes_slis_from_the_runs_in_the_window() {
        let provider = Loadtest::new(Fixed(vec![
            (
                "svc",
                summary(
                    "2024-01-01T10:01:00.000Z",
                    "2024-01-01T10:02:00.000Z",
                    600,
                    6,
                    300.0,
                ),
            ),
            // Outside the window, and another service: ignored.
            (
                "svc",
                summary(
                    "2024-01-01T09:00:00.000Z",
                    "2024-01-01T09:01:00.000Z",
                    9,
                    9,
                    9e6,
                ),
            ),
            (
                "other",
                summary(
                    "2024-01-01T10:01:00.000Z",
                    "2024-01-01T10:02:00.000Z",
                    1,
                    1,
                    1.0,
                ),
            ),
        ]));
        let got = values(
            provider
                .fetch(&request(&[
                    "response_time_p95",
                    "error_rate",
                    "requests",
                    "cpu",
                ]))
                .await,
        );
        let pick = |i: usize| (got[i].metric.as_str(), got[i].value, got[i].success);
        assert_eq!(pick(0), ("response_time_p95", 300.0, true));
        assert_eq!(pick(1), ("error_rate", 0.01, true));
        assert_eq!(pick(2), ("requests", 600.0, true));
        assert!(!got[3].success, "{:?}", got[3]);
        assert_eq!(sli_provider::result_of(&got).0, ResultType::Warning);
    }

    #[tokio::test]
    async fn response_time_samples_travel_in_get_sli_finished() {
        let mut h = sluice_load::LatencyHistogram::new();
        for ms in 1..=50u64 {
            h.record_us(ms * 1000);
        }
        let mut s = summary(
            "2024-01-01T10:01:00.000Z",
            "2024-01-01T10:02:00.000Z",
            50,
            0,
            50.0,
        );
        s.latency_histogram = Some(h.to_base64());
        let provider = Loadtest::new(Fixed(vec![("svc", s)]));
        let req = request(&["response_time", "response_time_p95"]);
        let finished = sli_provider::finished(&req, SOURCE, provider.fetch(&req).await);
        let values = &finished.data.unwrap()["get-sli"]["indicatorValues"];
        assert_eq!(
            values[0]["samples"].as_array().unwrap().len(),
            50,
            "{values}"
        );
        assert!(values[1].get("samples").is_none(), "{values}");
    }

    #[tokio::test]
    async fn nothing_in_the_window_fails_every_indicator() {
        let provider = Loadtest::new(Fixed(vec![]));
        let got = values(
            provider
                .fetch(&request(&["error_rate", "throughput"]))
                .await,
        );
        assert!(got.iter().all(|v| !v.success && v.value == 0.0), "{got:?}");
        assert_eq!(
            sli_provider::result_of(&got),
            (ResultType::Fail, "unable to retrieve metrics".to_owned())
        );
    }

    #[tokio::test]
    async fn an_unreadable_source_is_an_errored_answer() {
        let provider = Loadtest::new(Broken);
        assert_eq!(
            provider.fetch(&request(&["error_rate"])).await,
            SliOutcome::Errored("cannot read load-test results: runs directory unreadable".into())
        );
    }
}
