//! helloservice's metrics and their Prometheus text exposition, written by hand with podtatoserver's names.
//!
//! Exposed families (names, labels and buckets follow podtatoserver and Go's client_golang defaults):
//! - `http_server_request_duration_seconds{method,route,status_code}` histogram, buckets
//!   .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10, one observation per routed request;
//! - `http_requests_total{status="success"}` counter, incremented by `/`;
//! - `promhttp_metric_handler_requests_total{code}` counter, pre-initialised for 200, 500 and 503 like
//!   client_golang (only 200 ever moves: this exporter cannot fail);
//! - `promhttp_metric_handler_requests_in_flight` gauge;
//! - `go_goroutines` gauge: an honest stand-in, see [`Metrics::goroutines`];
//! - `process_*` from /proc/self, see [`crate::process`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::process::ProcessStats;

/// podtatoserver's histogram buckets (upper bounds in seconds, as printed in the `le` label).
pub const DURATION_BUCKETS: [(f64, &str); 11] = [
    (0.005, "0.005"),
    (0.01, "0.01"),
    (0.025, "0.025"),
    (0.05, "0.05"),
    (0.1, "0.1"),
    (0.25, "0.25"),
    (0.5, "0.5"),
    (1.0, "1"),
    (2.5, "2.5"),
    (5.0, "5"),
    (10.0, "10"),
];

/// The label set of one request-duration series.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RequestLabels {
    /// HTTP method (`GET`); extension methods are folded into `OTHER` to keep cardinality bounded.
    pub method: String,
    /// The route template that matched (`/`, `/health`, `/metrics`).
    pub route: String,
    /// The response status code as digits (`200`).
    pub status_code: u16,
}

/// One histogram series: cumulative-at-render bucket counts, sum and count.
#[derive(Debug, Clone, Default)]
struct HistogramSeries {
    /// Non-cumulative counts per bucket of [`DURATION_BUCKETS`]; observations above 10 s only go to `+Inf`.
    buckets: [u64; DURATION_BUCKETS.len()],
    sum_seconds: f64,
    count: u64,
}

/// All metrics of one helloservice process. Shared by the handlers through an `Arc`.
#[derive(Debug, Default)]
pub struct Metrics {
    durations: Mutex<BTreeMap<RequestLabels, HistogramSeries>>,
    requests_success: AtomicU64,
    scrapes_ok: AtomicU64,
    scrapes_in_flight: AtomicU64,
    requests_in_flight: AtomicU64,
    open_connections: AtomicU64,
    serving_tasks: AtomicU64,
}

impl Metrics {
    /// Records one routed request in the duration histogram.
    pub fn observe_request(&self, labels: RequestLabels, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let mut durations = self
            .durations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let series = durations.entry(labels).or_default();
        if let Some(bucket) = DURATION_BUCKETS
            .iter()
            .position(|(bound, _)| seconds <= *bound)
        {
            series.buckets[bucket] += 1;
        }
        series.sum_seconds += seconds;
        series.count += 1;
    }

    /// Counts one answered `/` (podtatoserver's `http_requests_total{status="success"}`).
    pub fn count_success(&self) {
        self.requests_success.fetch_add(1, Ordering::Relaxed);
    }

    /// Guards one in-flight request; the count drops when the guard is dropped.
    pub fn request_started(&self) -> Gauge<'_> {
        Gauge::enter(&self.requests_in_flight)
    }

    /// Counts one open connection until the returned guard is dropped.
    pub fn connection_opened(self: &Arc<Self>) -> ConnectionGuard {
        self.open_connections.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(Arc::clone(self))
    }

    /// Guards one accept loop (a serving task); the count drops when the guard is dropped.
    pub fn serving_task(&self) -> Gauge<'_> {
        Gauge::enter(&self.serving_tasks)
    }

    /// The `go_goroutines` stand-in: accept loops + open connections (each served by its own task, as Go serves
    /// each connection on its own goroutine) + in-flight requests.
    ///
    /// It is not a goroutine count, but it grows with concurrency the same way, so the tutorial's
    /// `go_routines <= 30` objective stays meaningful: ten locust users keep it around a dozen, a pile-up of slow
    /// requests pushes it up.
    pub fn goroutines(&self) -> u64 {
        self.serving_tasks.load(Ordering::Relaxed)
            + self.open_connections.load(Ordering::Relaxed)
            + self.requests_in_flight.load(Ordering::Relaxed)
    }

    /// Renders the exposition text for one scrape and then counts the scrape as a `code="200"` request, in that
    /// order like client_golang (a scrape does not see itself).
    pub fn scrape(&self, process: Option<&ProcessStats>) -> String {
        let _in_flight = Gauge::enter(&self.scrapes_in_flight);
        let text = self.render(process);
        self.scrapes_ok.fetch_add(1, Ordering::Relaxed);
        text
    }

    fn render(&self, process: Option<&ProcessStats>) -> String {
        let mut out = String::with_capacity(4096);
        self.render_durations(&mut out);
        family(
            &mut out,
            "http_requests_total",
            "counter",
            "Count of all HTTP requests",
        );
        sample(
            &mut out,
            "http_requests_total{status=\"success\"}",
            self.requests_success.load(Ordering::Relaxed),
        );

        family(
            &mut out,
            "go_goroutines",
            "gauge",
            "Number of goroutines that currently exist.",
        );
        sample(&mut out, "go_goroutines", self.goroutines());

        if let Some(stats) = process {
            family(
                &mut out,
                "process_cpu_seconds_total",
                "counter",
                "Total user and system CPU time spent in seconds.",
            );
            sample(&mut out, "process_cpu_seconds_total", stats.cpu_seconds);
            family(
                &mut out,
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
            );
            sample(
                &mut out,
                "process_resident_memory_bytes",
                stats.resident_memory_bytes,
            );
            family(
                &mut out,
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since unix epoch in seconds.",
            );
            sample(
                &mut out,
                "process_start_time_seconds",
                stats.start_time_seconds,
            );
        }

        family(
            &mut out,
            "promhttp_metric_handler_requests_in_flight",
            "gauge",
            "Current number of scrapes being served.",
        );
        sample(
            &mut out,
            "promhttp_metric_handler_requests_in_flight",
            self.scrapes_in_flight.load(Ordering::Relaxed),
        );
        family(
            &mut out,
            "promhttp_metric_handler_requests_total",
            "counter",
            "Total number of scrapes by HTTP status code.",
        );
        sample(
            &mut out,
            "promhttp_metric_handler_requests_total{code=\"200\"}",
            self.scrapes_ok.load(Ordering::Relaxed),
        );
        sample(
            &mut out,
            "promhttp_metric_handler_requests_total{code=\"500\"}",
            0,
        );
        sample(
            &mut out,
            "promhttp_metric_handler_requests_total{code=\"503\"}",
            0,
        );
        out
    }

    fn render_durations(&self, out: &mut String) {
        family(
            out,
            "http_server_request_duration_seconds",
            "histogram",
            "Duration of HTTP requests.",
        );
        let durations = self
            .durations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (labels, series) in durations.iter() {
            let base = format!(
                "method=\"{}\",route=\"{}\",status_code=\"{}\"",
                escape_label(&labels.method),
                escape_label(&labels.route),
                labels.status_code
            );
            let mut cumulative = 0;
            for ((_, le), count) in DURATION_BUCKETS.iter().zip(series.buckets) {
                cumulative += count;
                sample(
                    out,
                    &format!("http_server_request_duration_seconds_bucket{{{base},le=\"{le}\"}}"),
                    cumulative,
                );
            }
            sample(
                out,
                &format!("http_server_request_duration_seconds_bucket{{{base},le=\"+Inf\"}}"),
                series.count,
            );
            sample(
                out,
                &format!("http_server_request_duration_seconds_sum{{{base}}}"),
                series.sum_seconds,
            );
            sample(
                out,
                &format!("http_server_request_duration_seconds_count{{{base}}}"),
                series.count,
            );
        }
    }
}

/// A counted presence in a gauge, released on drop.
#[derive(Debug)]
pub struct Gauge<'a>(&'a AtomicU64);

impl<'a> Gauge<'a> {
    fn enter(gauge: &'a AtomicU64) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        Self(gauge)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An open connection counted in [`Metrics::goroutines`]; the count drops when this is dropped.
#[derive(Debug)]
pub struct ConnectionGuard(Arc<Metrics>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, series: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "{series} {value}");
}

/// Escapes a label value for the text format: backslash, double quote and newline.
fn escape_label(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(route: &str, status_code: u16) -> RequestLabels {
        RequestLabels {
            method: "GET".into(),
            route: route.into(),
            status_code,
        }
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let metrics = Metrics::default();
        metrics.observe_request(labels("/", 200), Duration::from_millis(3));
        metrics.observe_request(labels("/", 200), Duration::from_millis(420));
        metrics.observe_request(labels("/", 200), Duration::from_secs(11));
        let text = metrics.scrape(None);
        let series = "http_server_request_duration_seconds";
        let base = "method=\"GET\",route=\"/\",status_code=\"200\"";
        assert!(
            text.contains(&format!("{series}_bucket{{{base},le=\"0.005\"}} 1\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{series}_bucket{{{base},le=\"0.25\"}} 1\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{series}_bucket{{{base},le=\"0.5\"}} 2\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{series}_bucket{{{base},le=\"10\"}} 2\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{series}_bucket{{{base},le=\"+Inf\"}} 3\n")),
            "{text}"
        );
        assert!(
            text.contains(&format!("{series}_count{{{base}}} 3\n")),
            "{text}"
        );
        let sum_prefix = format!("{series}_sum{{{base}}} ");
        let sum: f64 = text
            .lines()
            .find_map(|line| line.strip_prefix(&sum_prefix))
            .and_then(|value| value.parse().ok())
            .unwrap_or(f64::NAN);
        assert!((sum - 11.423).abs() < 1e-9, "{text}");
    }

    #[test]
    fn every_family_has_help_and_type_once() {
        let metrics = Metrics::default();
        let text = metrics.scrape(None);
        for name in [
            "http_server_request_duration_seconds",
            "http_requests_total",
            "go_goroutines",
            "promhttp_metric_handler_requests_total",
        ] {
            assert_eq!(
                text.matches(&format!("# TYPE {name} ")).count(),
                1,
                "{name} in {text}"
            );
            assert_eq!(
                text.matches(&format!("# HELP {name} ")).count(),
                1,
                "{name} in {text}"
            );
        }
    }

    #[test]
    fn scrape_counts_itself_afterwards() {
        let metrics = Metrics::default();
        assert!(
            metrics
                .scrape(None)
                .contains("promhttp_metric_handler_requests_total{code=\"200\"} 0\n")
        );
        let second = metrics.scrape(None);
        assert!(
            second.contains("promhttp_metric_handler_requests_total{code=\"200\"} 1\n"),
            "{second}"
        );
        assert!(second.contains("promhttp_metric_handler_requests_total{code=\"500\"} 0\n"));
        assert!(second.contains("promhttp_metric_handler_requests_total{code=\"503\"} 0\n"));
        assert!(
            second.contains("promhttp_metric_handler_requests_in_flight 1\n"),
            "{second}"
        );
    }

    #[test]
    fn goroutines_follow_connections_and_requests() {
        let metrics = Arc::new(Metrics::default());
        let task = metrics.serving_task();
        let connection = metrics.connection_opened();
        {
            let _request = metrics.request_started();
            assert_eq!(metrics.goroutines(), 3);
        }
        assert_eq!(metrics.goroutines(), 2);
        drop(connection);
        drop(task);
        assert_eq!(metrics.goroutines(), 0);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
