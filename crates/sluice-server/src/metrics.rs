//! The server's own metrics, rendered in Prometheus' text exposition format at `/metrics`.
//!
//! A handful of counters and histograms do not justify a metrics framework: this module keeps
//! them in plain maps behind mutexes (updates are rare compared with the work they count).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds (seconds) of the task-duration histogram buckets.
const TASK_BUCKETS: [f64; 12] = [
    0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; TASK_BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        for (i, le) in TASK_BUCKETS.iter().enumerate() {
            if v <= *le {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
}

/// Counters and histograms of one server.
#[derive(Debug, Default)]
pub struct Metrics {
    events_in: Mutex<BTreeMap<String, u64>>,
    task_durations: Mutex<BTreeMap<String, Histogram>>,
    http_errors: Mutex<BTreeMap<u16, u64>>,
    notification_attempts: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// Counts one accepted event of the given type.
    pub fn event_received(&self, event_type: &str) {
        *lock(&self.events_in)
            .entry(event_type.to_owned())
            .or_default() += 1;
    }

    /// Records how long a task took from `.triggered` to `.finished`.
    pub fn task_finished(&self, task: &str, seconds: f64) {
        lock(&self.task_durations)
            .entry(task.to_owned())
            .or_default()
            .observe(seconds);
    }

    /// Counts one error answer.
    pub fn http_error(&self, status: u16) {
        *lock(&self.http_errors).entry(status).or_default() += 1;
    }

    /// Counts one attempt of a notification delivery by its outcome (`delivered`, `retry`,
    /// `failed`).
    pub fn notification_attempt(&self, outcome: &'static str) {
        *lock(&self.notification_attempts)
            .entry(outcome)
            .or_default() += 1;
    }

    /// The exposition text; `sequences` are the current counts of sequence executions by state.
    pub fn render(&self, sequences: &[(String, u64)]) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP sluice_build_info Version of the running sluice."
        );
        let _ = writeln!(out, "# TYPE sluice_build_info gauge");
        let _ = writeln!(
            out,
            "sluice_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );

        let _ = writeln!(
            out,
            "# HELP sluice_events_received_total Events accepted, by type."
        );
        let _ = writeln!(out, "# TYPE sluice_events_received_total counter");
        for (t, n) in lock(&self.events_in).iter() {
            let _ = writeln!(
                out,
                "sluice_events_received_total{{type=\"{}\"}} {n}",
                escape(t)
            );
        }

        let _ = writeln!(
            out,
            "# HELP sluice_sequences Sequence executions, by state."
        );
        let _ = writeln!(out, "# TYPE sluice_sequences gauge");
        for (state, n) in sequences {
            let _ = writeln!(out, "sluice_sequences{{state=\"{}\"}} {n}", escape(state));
        }

        let _ = writeln!(
            out,
            "# HELP sluice_task_duration_seconds Time from a task's .triggered to its .finished."
        );
        let _ = writeln!(out, "# TYPE sluice_task_duration_seconds histogram");
        for (task, h) in lock(&self.task_durations).iter() {
            let task = escape(task);
            for (i, le) in TASK_BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "sluice_task_duration_seconds_bucket{{task=\"{task}\",le=\"{le}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "sluice_task_duration_seconds_bucket{{task=\"{task}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "sluice_task_duration_seconds_sum{{task=\"{task}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "sluice_task_duration_seconds_count{{task=\"{task}\"}} {}",
                h.count
            );
        }

        let _ = writeln!(
            out,
            "# HELP sluice_http_errors_total Error answers of the API, by status."
        );
        let _ = writeln!(out, "# TYPE sluice_http_errors_total counter");
        for (status, n) in lock(&self.http_errors).iter() {
            let _ = writeln!(out, "sluice_http_errors_total{{status=\"{status}\"}} {n}");
        }

        let _ = writeln!(
            out,
            "# HELP sluice_notification_attempts_total Attempts to deliver notifications, by outcome."
        );
        let _ = writeln!(out, "# TYPE sluice_notification_attempts_total counter");
        for (outcome, n) in lock(&self.notification_attempts).iter() {
            let _ = writeln!(
                out,
                "sluice_notification_attempts_total{{outcome=\"{outcome}\"}} {n}"
            );
        }
        out
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a metrics lock leaves counts that are still valid numbers.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.event_received("sh.keptn.event.qa.delivery.triggered");
        m.event_received("sh.keptn.event.qa.delivery.triggered");
        m.task_finished("deployment", 0.5);
        m.http_error(400);
        m.notification_attempt("retry");
        m.notification_attempt("delivered");
        let text = m.render(&[("started".into(), 2)]);
        assert!(text.contains(
            "sluice_events_received_total{type=\"sh.keptn.event.qa.delivery.triggered\"} 2\n"
        ));
        assert!(text.contains("sluice_sequences{state=\"started\"} 2\n"));
        assert!(
            text.contains(
                "sluice_task_duration_seconds_bucket{task=\"deployment\",le=\"0.1\"} 0\n"
            )
        );
        assert!(
            text.contains(
                "sluice_task_duration_seconds_bucket{task=\"deployment\",le=\"0.5\"} 1\n"
            )
        );
        assert!(text.contains("sluice_task_duration_seconds_count{task=\"deployment\"} 1\n"));
        assert!(text.contains("sluice_http_errors_total{status=\"400\"} 1\n"));
        assert!(text.contains("sluice_notification_attempts_total{outcome=\"retry\"} 1\n"));
    }
}
