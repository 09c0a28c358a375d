//! The load generator: `users` concurrent keep-alive workers sending GETs round-robin over the
//! configured paths until a duration or request count is reached, optionally paced to a rate.
//!
//! Each worker keeps its own connection and buffers latencies locally, flushing them into the
//! shared HDR histogram in batches, so the generator is not the bottleneck. Latency is measured
//! from just before a request is sent (connection set-up included when a new connection is
//! needed) until its response is fully read; with `rate`, requests that start late are not
//! corrected for coordinated omission. Connect errors and timeouts have no response time and
//! are not in the histogram; HTTP error responses are.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sluice_model::event::Timestamp;
use tokio::task::JoinSet;

use crate::histogram::LatencyHistogram;
use crate::http::{self, Connection, Post, SendError, Target, UrlError};
use crate::summary::{FailureReason, LoadSummary, TOOL_SLUICE};

/// Live counts handed to the progress callback.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Time since the run started.
    pub elapsed: Duration,
    /// Completed requests so far (failed ones included).
    pub requests: u64,
    /// Failed requests so far.
    pub failures: u64,
    /// Requests per second since the previous report.
    pub current_per_second: f64,
    /// `true` for the last report, sent once when the run is over.
    pub done: bool,
}

/// A function called every 250 ms during a run (and once at the end).
pub type ProgressCallback = Arc<dyn Fn(&Progress) + Send + Sync>;

/// How often the progress callback runs.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// What to run.
#[derive(Clone)]
pub struct LoadConfig {
    /// Target URL (`http://` only).
    pub url: String,
    /// Paths appended to the URL's path, requested round-robin (empty: the URL itself).
    pub paths: Vec<String>,
    /// Concurrent workers, each with its own keep-alive connection.
    pub users: usize,
    /// Stop after this long (at least one of `duration` and `requests` is required).
    pub duration: Option<Duration>,
    /// Stop after this many requests.
    pub requests: Option<u64>,
    /// Upper bound on requests started per second, over all workers.
    pub rate: Option<f64>,
    /// Per-request timeout (connect, send and receive).
    pub timeout: Duration,
    /// Called every [`PROGRESS_INTERVAL`] with live counts.
    pub progress: Option<ProgressCallback>,
    /// POST this body (with its headers) instead of sending GETs. A request on a reused
    /// connection that the server closed before answering is sent again once, as for GETs,
    /// so use it for requests that may be repeated.
    pub post: Option<Post>,
}

impl fmt::Debug for LoadConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadConfig")
            .field("url", &self.url)
            .field("paths", &self.paths)
            .field("users", &self.users)
            .field("duration", &self.duration)
            .field("requests", &self.requests)
            .field("rate", &self.rate)
            .field("timeout", &self.timeout)
            .field("progress", &self.progress.is_some())
            .field("post", &self.post.as_ref().map(|p| p.body.len()))
            .finish()
    }
}

impl LoadConfig {
    /// Defaults: 10 users for 30 s, no rate limit, 10 s timeout, the URL's own path.
    pub fn new(url: impl Into<String>) -> LoadConfig {
        LoadConfig {
            url: url.into(),
            paths: Vec::new(),
            users: 10,
            duration: Some(Duration::from_secs(30)),
            requests: None,
            rate: None,
            timeout: Duration::from_secs(10),
            progress: None,
            post: None,
        }
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The URL is unusable (https, malformed).
    #[error(transparent)]
    Url(#[from] UrlError),
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// Host name.
        host: String,
        /// Resolver error.
        reason: String,
    },
    /// The configuration is inconsistent.
    #[error("invalid load configuration: {0}")]
    Config(&'static str),
}

struct Shared {
    tickets: AtomicU64,
    done: AtomicU64,
    failed: AtomicU64,
    histogram: Mutex<LatencyHistogram>,
}

struct Plan {
    addr: SocketAddr,
    requests: Vec<Vec<u8>>,
    started: Instant,
    deadline: Option<Instant>,
    max_requests: Option<u64>,
    rate: Option<f64>,
    timeout: Duration,
}

const FLUSH_EVERY: usize = 256;

/// Runs a load test and summarises it. Errors only when the run cannot start; failing
/// requests (refused connections included) are counted in the summary.
pub async fn run(config: LoadConfig) -> Result<LoadSummary, LoadError> {
    let target = Target::parse(&config.url)?;
    if config.users == 0 {
        return Err(LoadError::Config("users must be at least 1"));
    }
    if config.duration.is_none() && config.requests.is_none() {
        return Err(LoadError::Config("give a duration or a number of requests"));
    }
    if config.duration.is_some_and(|d| d.is_zero()) || config.requests == Some(0) {
        return Err(LoadError::Config("duration and requests must be positive"));
    }
    if config.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err(LoadError::Config(
            "rate must be a positive number of requests per second",
        ));
    }
    if config.timeout.is_zero() {
        return Err(LoadError::Config("timeout must be positive"));
    }
    let addr = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|e| LoadError::Resolve {
            host: target.host.clone(),
            reason: e.to_string(),
        })?
        .next()
        .ok_or_else(|| LoadError::Resolve {
            host: target.host.clone(),
            reason: "no addresses".into(),
        })?;
    let request = |path: &str| match &config.post {
        Some(post) => target.post_request_bytes(path, post),
        None => target.request_bytes(path),
    };
    let requests = if config.paths.is_empty() {
        vec![request(&target.path)]
    } else {
        config
            .paths
            .iter()
            .map(|p| request(&target.join(p)))
            .collect()
    };

    let shared = Arc::new(Shared {
        tickets: AtomicU64::new(0),
        done: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        histogram: Mutex::new(LatencyHistogram::new()),
    });
    let start_wall = SystemTime::now();
    let started = Instant::now();
    let plan = Arc::new(Plan {
        addr,
        requests,
        started,
        deadline: config.duration.map(|d| started + d),
        max_requests: config.requests,
        rate: config.rate,
        timeout: config.timeout,
    });

    let ticker = config.progress.clone().map(|callback| {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval_at(
                tokio::time::Instant::from_std(started + PROGRESS_INTERVAL),
                PROGRESS_INTERVAL,
            );
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let (mut last_count, mut last_at) = (0u64, started);
            loop {
                interval.tick().await;
                let now = Instant::now();
                let requests = shared.done.load(Ordering::Relaxed);
                let secs = now.duration_since(last_at).as_secs_f64();
                callback(&Progress {
                    elapsed: now.duration_since(started),
                    requests,
                    failures: shared.failed.load(Ordering::Relaxed),
                    current_per_second: if secs > 0.0 {
                        (requests - last_count) as f64 / secs
                    } else {
                        0.0
                    },
                    done: false,
                });
                (last_count, last_at) = (requests, now);
            }
        })
    });

    let mut workers = JoinSet::new();
    for _ in 0..config.users {
        workers.spawn(worker(Arc::clone(&plan), Arc::clone(&shared)));
    }
    let mut reasons: BTreeMap<FailureReason, u64> = BTreeMap::new();
    while let Some(result) = workers.join_next().await {
        // A worker cannot panic on network input; if one did, its counts are simply missing.
        if let Ok(worker_reasons) = result {
            for (reason, n) in worker_reasons {
                *reasons.entry(reason).or_default() += n;
            }
        }
    }
    let elapsed = started.elapsed();
    let end_wall = SystemTime::now();
    if let Some(t) = ticker {
        t.abort();
    }

    let requests = shared.done.load(Ordering::Relaxed);
    let failures = shared.failed.load(Ordering::Relaxed);
    if let Some(callback) = &config.progress {
        callback(&Progress {
            elapsed,
            requests,
            failures,
            current_per_second: 0.0,
            done: true,
        });
    }
    let histogram = match shared.histogram.lock() {
        Ok(h) => h.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    let secs = elapsed.as_secs_f64();
    Ok(LoadSummary {
        tool: TOOL_SLUICE.to_string(),
        url: config.url.clone(),
        start: Some(keptn_time(start_wall)),
        end: Some(keptn_time(end_wall)),
        duration_seconds: round3(secs),
        requests,
        failures,
        failures_by_reason: reasons
            .into_iter()
            .map(|(r, n)| (r.to_string(), n))
            .collect(),
        throughput_per_second: if secs > 0.0 {
            round3(requests as f64 / secs)
        } else {
            0.0
        },
        latency_ms: histogram.latency_ms(),
        latency_histogram: Some(histogram.to_base64()),
    })
}

fn keptn_time(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
    Timestamp::from_unix(secs, since.subsec_nanos()).to_keptn_string()
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// One simulated user: take a ticket, wait for its slot if rate-limited, send, record.
async fn worker(plan: Arc<Plan>, shared: Arc<Shared>) -> BTreeMap<FailureReason, u64> {
    let mut conn: Option<Connection> = None;
    let mut latencies: Vec<u64> = Vec::with_capacity(FLUSH_EVERY);
    let mut reasons: BTreeMap<FailureReason, u64> = BTreeMap::new();
    loop {
        let ticket = shared.tickets.fetch_add(1, Ordering::Relaxed);
        if plan.max_requests.is_some_and(|max| ticket >= max) {
            break;
        }
        if let Some(rate) = plan.rate {
            let slot = plan.started + Duration::from_secs_f64(ticket as f64 / rate);
            if plan.deadline.is_some_and(|d| slot >= d) {
                break;
            }
            if slot > Instant::now() {
                tokio::time::sleep_until(slot.into()).await;
            }
        }
        let sent = Instant::now();
        if plan.deadline.is_some_and(|d| sent >= d) {
            break;
        }
        let request = &plan.requests[(ticket % plan.requests.len() as u64) as usize];
        let time_limit = sent + plan.timeout;
        let cutoff = plan.deadline.map_or(time_limit, |d| d.min(time_limit));
        let outcome =
            tokio::time::timeout_at(cutoff.into(), send(&mut conn, plan.addr, request)).await;
        let failure = match outcome {
            Ok(Ok(status)) => {
                latencies.push(u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX));
                if latencies.len() == FLUSH_EVERY {
                    flush(&shared, &mut latencies);
                }
                (status >= 400).then_some(FailureReason::Status(status))
            }
            Ok(Err(reason)) => {
                conn = None;
                Some(reason)
            }
            Err(_) if cutoff < time_limit => break, // the run is over: drop the request
            Err(_) => {
                conn = None;
                Some(FailureReason::Timeout)
            }
        };
        if let Some(reason) = failure {
            *reasons.entry(reason).or_default() += 1;
            shared.failed.fetch_add(1, Ordering::Relaxed);
        }
        shared.done.fetch_add(1, Ordering::Relaxed);
    }
    flush(&shared, &mut latencies);
    reasons
}

fn flush(shared: &Shared, latencies: &mut Vec<u64>) {
    if latencies.is_empty() {
        return;
    }
    let mut h = match shared.histogram.lock() {
        Ok(h) => h,
        Err(poisoned) => poisoned.into_inner(),
    };
    for &us in latencies.iter() {
        h.record_us(us);
    }
    latencies.clear();
}

/// Sends one request on the worker's connection ([`http::send`]) and returns the status.
async fn send(
    conn: &mut Option<Connection>,
    addr: SocketAddr,
    request: &[u8],
) -> Result<u16, FailureReason> {
    match http::send(conn, addr, request).await {
        Ok(response) => Ok(response.status),
        Err(SendError::Connect(_)) => Err(FailureReason::Connect),
        Err(SendError::Exchange(_)) => Err(FailureReason::Protocol),
    }
}
