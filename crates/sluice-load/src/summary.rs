//! The load-test summary: the JSON artifact a test task writes (e.g. `/keptn/out/load-summary.json`)
//! and the input of the built-in load-test SLI provider.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sluice_model::event::Timestamp;

use crate::histogram::{HistogramError, LatencyHistogram, LatencyMs};

/// Which tool produced a summary.
pub const TOOL_SLUICE: &str = "sluice-load";
/// The tool name of summaries read from Locust's CSV output.
pub const TOOL_LOCUST: &str = "locust";

/// Why a request failed (the keys of `failuresByReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FailureReason {
    /// The TCP connection could not be opened (`connect`).
    Connect,
    /// No complete response within the per-request timeout (`timeout`).
    Timeout,
    /// The connection broke or the response was not valid HTTP/1.1 (`protocol`).
    Protocol,
    /// The server answered with a status of 400 or more (`http_<code>`).
    Status(u16),
    /// A failure the tool reported without a usable classification (`other`).
    Other,
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::Connect => f.write_str("connect"),
            FailureReason::Timeout => f.write_str("timeout"),
            FailureReason::Protocol => f.write_str("protocol"),
            FailureReason::Status(code) => write!(f, "http_{code}"),
            FailureReason::Other => f.write_str("other"),
        }
    }
}

impl FromStr for FailureReason {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "connect" => Ok(FailureReason::Connect),
            "timeout" => Ok(FailureReason::Timeout),
            "protocol" => Ok(FailureReason::Protocol),
            "other" => Ok(FailureReason::Other),
            _ => s
                .strip_prefix("http_")
                .and_then(|c| c.parse::<u16>().ok())
                .map(FailureReason::Status)
                .ok_or_else(|| format!("unknown failure reason {s:?}")),
        }
    }
}

/// The result of one load run, whatever tool produced it.
///
/// Times are Keptn-format UTC strings (`2006-01-02T15:04:05.000Z`). `latencyMs` is `null` when
/// no response time was recorded. `latencyHistogram` (sluice-load only) is the HDR histogram of
/// response times in microseconds, base64 of HdrHistogram's uncompressed V2 encoding; with it
/// several runs merge exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadSummary {
    /// `sluice-load` or `locust`.
    pub tool: String,
    /// Target base URL (Locust: empty unless the caller sets it).
    pub url: String,
    /// When the run started, if known.
    pub start: Option<String>,
    /// When the run ended, if known.
    pub end: Option<String>,
    /// Length of the run in seconds.
    pub duration_seconds: f64,
    /// Completed requests, failed ones included.
    pub requests: u64,
    /// Failed requests.
    pub failures: u64,
    /// Failed requests per reason (`connect`, `timeout`, `protocol`, `http_<code>`, `other`).
    pub failures_by_reason: BTreeMap<String, u64>,
    /// Completed requests per second over the run.
    pub throughput_per_second: f64,
    /// Response-time percentiles in milliseconds.
    pub latency_ms: Option<LatencyMs>,
    /// HDR histogram of response times (see the type docs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_histogram: Option<String>,
}

impl LoadSummary {
    /// Failed requests / requests (0 when there were no requests).
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 / self.requests as f64
        }
    }

    /// The start time, parsed (any format Keptn accepts).
    pub fn start_time(&self) -> Option<Timestamp> {
        self.start.as_deref().and_then(|s| Timestamp::parse(s).ok())
    }

    /// The end time, parsed (any format Keptn accepts).
    pub fn end_time(&self) -> Option<Timestamp> {
        self.end.as_deref().and_then(|s| Timestamp::parse(s).ok())
    }

    /// The decoded latency histogram, if the summary carries one.
    pub fn histogram(&self) -> Option<Result<LatencyHistogram, HistogramError>> {
        self.latency_histogram
            .as_deref()
            .map(LatencyHistogram::from_base64)
    }

    /// Sets `start` and `end` when the tool did not record them (e.g. a Locust run without
    /// `_stats_history.csv`: the caller knows when the test task ran).
    pub fn with_times_if_missing(mut self, start: Timestamp, end: Timestamp) -> LoadSummary {
        if self.start.is_none() {
            self.start = Some(start.to_keptn_string());
        }
        if self.end.is_none() {
            self.end = Some(end.to_keptn_string());
        }
        self
    }

    /// Pretty JSON, as written to the artifact file.
    pub fn to_json(&self) -> String {
        // Serialising plain data (strings, numbers, maps with string keys) cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads a summary from JSON.
    pub fn from_json(text: &str) -> Result<LoadSummary, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_reasons_round_trip() {
        for r in [
            FailureReason::Connect,
            FailureReason::Timeout,
            FailureReason::Protocol,
            FailureReason::Status(503),
            FailureReason::Other,
        ] {
            assert_eq!(r.to_string().parse::<FailureReason>(), Ok(r));
        }
        assert!("http_x".parse::<FailureReason>().is_err());
        assert!("dns".parse::<FailureReason>().is_err());
    }

    #[test]
    fn json_uses_the_documented_field_names() {
        let s = LoadSummary {
            tool: TOOL_SLUICE.into(),
            url: "http://x".into(),
            start: Some("2022-01-01T00:00:00.000Z".into()),
            end: None,
            duration_seconds: 1.5,
            requests: 10,
            failures: 1,
            failures_by_reason: BTreeMap::from([("http_500".into(), 1)]),
            throughput_per_second: 6.667,
            latency_ms: None,
            latency_histogram: None,
        };
        let v: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        for key in [
            "tool",
            "url",
            "start",
            "end",
            "durationSeconds",
            "requests",
            "failures",
            "failuresByReason",
            "throughputPerSecond",
            "latencyMs",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert!(v.get("latencyHistogram").is_none());
        assert_eq!(LoadSummary::from_json(&s.to_json()).unwrap(), s);
        assert!((s.error_rate() - 0.1).abs() < 1e-12);
    }
}
