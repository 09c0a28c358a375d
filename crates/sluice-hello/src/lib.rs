//! helloservice: a local stand-in for podtatoserver, the example app of Keptn's "full tour" tutorial.
//!
//! sluice's quickstart replays the tutorial without Kubernetes; instead of a helm release of the podtatoserver
//! container it runs this service as a process (`sluice helloservice`). It mirrors what the tutorial's SLIs and SLOs
//! observe:
//!
//! - `GET /` renders a small page; version **0.1.2** then sleeps 400 ms (the "slow build"), every other version,
//!   including unknown ones, answers fast;
//! - `GET /metrics` exposes podtatoserver's metric names (see [`metrics`]) so the tutorial's `prometheus/sli.yaml`
//!   queries work unchanged;
//! - `GET /health` answers `ok`.
//!
//! Replicas: with [`HelloConfig::reuse_port`] several processes bind the same address (SO_REUSEPORT) and the kernel
//! spreads connections across them, the local equivalent of `replicaCount`. Each process keeps its own metrics, so
//! Prometheus must scrape every replica separately: give each one its own [`HelloConfig::metrics_listen`] port and
//! list all of them as targets of the `helloservice-<project>-<stage>` scrape job.

pub mod app;
pub mod listener;
pub mod metrics;
pub mod process;
pub mod version;

use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use thiserror::Error;
use tokio::sync::watch;

pub use version::{ServiceVersion, VersionError};

use crate::app::AppState;
use crate::listener::CountingListener;
use crate::metrics::Metrics;

/// How to run one helloservice process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelloConfig {
    /// The version to behave as: `v0.1.1`, `0.1.2` or an image reference such as
    /// `ghcr.io/podtato-head/podtatoserver:v0.1.2` (the tag is used). See [`ServiceVersion::parse`].
    pub version: String,
    /// The address of the main port (`/`, `/health`, `/metrics`).
    pub listen: SocketAddr,
    /// Bind with SO_REUSEPORT so several processes can share `listen` (unix only).
    pub reuse_port: bool,
    /// The instance id shown on the page; empty means `pid-<process id>`.
    pub instance: String,
    /// An optional separate port serving only `/metrics` (and an untimed `/health`), so replicas sharing `listen` can
    /// each be scraped and probed.
    pub metrics_listen: Option<SocketAddr>,
}

/// Why helloservice could not start or stopped with an error.
#[derive(Debug, Error)]
pub enum HelloError {
    /// The configured version could not be parsed.
    #[error("invalid helloservice version: {0}")]
    Version(#[from] VersionError),
    /// A listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: io::Error,
    },
    /// Serving failed after the sockets were bound.
    #[error("helloservice stopped: {0}")]
    Serve(io::Error),
}

/// The result type of this crate.
pub type Result<T, E = HelloError> = std::result::Result<T, E>;

/// A helloservice whose sockets are bound but which is not serving yet.
///
/// Binding first lets a caller learn the real addresses (when asked for port 0) before serving.
#[derive(Debug)]
pub struct BoundService {
    state: Arc<AppState>,
    main: std::net::TcpListener,
    metrics: Option<std::net::TcpListener>,
}

impl BoundService {
    /// Parses the version and binds the main (and optional metrics) socket.
    pub fn bind(config: HelloConfig) -> Result<Self> {
        let version = ServiceVersion::parse(&config.version)?;
        let instance = if config.instance.trim().is_empty() {
            format!("pid-{}", std::process::id())
        } else {
            config.instance
        };
        let main = listener::bind(config.listen, config.reuse_port).map_err(|source| {
            HelloError::Bind {
                addr: config.listen,
                source,
            }
        })?;
        let metrics = config
            .metrics_listen
            .map(|addr| {
                listener::bind(addr, false).map_err(|source| HelloError::Bind { addr, source })
            })
            .transpose()?;
        let state = Arc::new(AppState {
            version,
            instance,
            metrics: Arc::new(Metrics::default()),
            pages: std::sync::atomic::AtomicU64::new(0),
        });
        Ok(Self {
            state,
            main,
            metrics,
        })
    }

    /// The bound address of the main port.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.main.local_addr().map_err(HelloError::Serve)
    }

    /// The bound address of the separate metrics port, if one was configured.
    pub fn metrics_addr(&self) -> Option<Result<SocketAddr>> {
        self.metrics
            .as_ref()
            .map(|listener| listener.local_addr().map_err(HelloError::Serve))
    }

    /// The version this service behaves as.
    pub fn version(&self) -> &ServiceVersion {
        &self.state.version
    }

    /// The instance id shown on the page.
    pub fn instance(&self) -> &str {
        &self.state.instance
    }

    /// Serves until `shutdown` completes, then stops accepting and lets open requests finish.
    ///
    /// Must run inside a Tokio runtime with IO and timers enabled.
    pub async fn run(self, shutdown: impl Future) -> Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = |mut rx: watch::Receiver<bool>| async move {
            // An Err means the sender is gone, which also means stop.
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let metrics = Arc::clone(&self.state.metrics);

        let main_app = app::router(Arc::clone(&self.state));
        let main_listener =
            CountingListener::new(self.main, Arc::clone(&metrics)).map_err(HelloError::Serve)?;
        let metrics_listener = self
            .metrics
            .map(|listener| CountingListener::new(listener, Arc::clone(&metrics)))
            .transpose()
            .map_err(HelloError::Serve)?;
        let main_server = {
            let metrics = Arc::clone(&metrics);
            let shutdown = stopped(stop_rx.clone());
            async move {
                let _task = metrics.serving_task();
                axum::serve(main_listener, main_app)
                    .with_graceful_shutdown(shutdown)
                    .into_future()
                    .await
            }
        };
        let metrics_server = {
            let metrics = Arc::clone(&metrics);
            let shutdown = stopped(stop_rx);
            let state = Arc::clone(&self.state);
            async move {
                let Some(listener) = metrics_listener else {
                    return Ok(());
                };
                let _task = metrics.serving_task();
                axum::serve(listener, app::metrics_router(state))
                    .with_graceful_shutdown(shutdown)
                    .into_future()
                    .await
            }
        };

        let servers = async { tokio::try_join!(main_server, metrics_server).map(|_| ()) };
        tokio::pin!(servers);
        tokio::select! {
            result = &mut servers => return result.map_err(HelloError::Serve),
            _ = shutdown => {}
        }
        let _ = stop_tx.send(true);
        servers.await.map_err(HelloError::Serve)
    }
}

/// Binds and serves helloservice until `shutdown` completes (the entry point of `sluice helloservice`).
pub async fn serve(config: HelloConfig, shutdown: impl Future) -> Result<()> {
    BoundService::bind(config)?.run(shutdown).await
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::sync::oneshot;
    use tokio::task::JoinHandle;

    use super::*;

    fn config(version: &str, instance: &str) -> HelloConfig {
        HelloConfig {
            version: version.to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            reuse_port: false,
            instance: instance.to_owned(),
            metrics_listen: None,
        }
    }

    /// A service running in a background task of the test's runtime.
    struct Running {
        addr: SocketAddr,
        metrics_addr: Option<SocketAddr>,
        stop: oneshot::Sender<()>,
        task: JoinHandle<Result<()>>,
    }

    impl Running {
        fn start(config: HelloConfig) -> Self {
            let bound = BoundService::bind(config).unwrap_or_else(|e| panic!("bind: {e}"));
            let addr = bound
                .local_addr()
                .unwrap_or_else(|e| panic!("local_addr: {e}"));
            let metrics_addr = bound
                .metrics_addr()
                .map(|a| a.unwrap_or_else(|e| panic!("metrics_addr: {e}")));
            let (stop, stopped) = oneshot::channel::<()>();
            let task = tokio::spawn(bound.run(stopped));
            Self {
                addr,
                metrics_addr,
                stop,
                task,
            }
        }

        async fn stop(self) {
            let _ = self.stop.send(());
            let result = self.task.await.unwrap_or_else(|e| panic!("join: {e}"));
            assert!(result.is_ok(), "service ended with {result:?}");
        }
    }

    /// A one-request HTTP/1.1 client over a fresh TCP connection: (status, body).
    async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .unwrap_or_else(|e| panic!("write: {e}"));
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .await
            .unwrap_or_else(|e| panic!("read: {e}"));
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no header end in {text:?}"));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        (status, body.to_owned())
    }

    /// The value of the sample line `series` in an exposition text.
    fn sample(text: &str, series: &str) -> Option<f64> {
        let prefix = format!("{series} ");
        text.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .and_then(|value| value.parse().ok())
    }

    fn instance_of(page: &str) -> Option<String> {
        let start = page.find("<b id=\"instance\">")? + "<b id=\"instance\">".len();
        let end = page[start..].find("</b>")? + start;
        Some(page[start..end].to_owned())
    }

    const ROOT: &str = "method=\"GET\",route=\"/\",status_code=\"200\"";

    #[tokio::test]
    async fn fast_version_serves_page_health_and_metrics() {
        let service = Running::start(config("v0.1.1", "replica-a"));
        for _ in 0..3 {
            let (status, body) = get(service.addr, "/").await;
            assert_eq!(status, 200);
            assert!(
                body.contains("v0.1.1") && body.contains("replica-a"),
                "{body}"
            );
        }
        assert_eq!(get(service.addr, "/health").await, (200, "ok".to_owned()));
        assert_eq!(get(service.addr, "/nope").await.0, 404);

        let (status, text) = get(service.addr, "/metrics").await;
        assert_eq!(status, 200);
        let hist = "http_server_request_duration_seconds";
        assert_eq!(
            sample(&text, &format!("{hist}_count{{{ROOT}}}")),
            Some(3.0),
            "{text}"
        );
        assert_eq!(
            sample(&text, &format!("{hist}_bucket{{{ROOT},le=\"+Inf\"}}")),
            Some(3.0),
            "{text}"
        );
        let mut previous = 0.0;
        for le in [
            "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf",
        ] {
            let count = sample(&text, &format!("{hist}_bucket{{{ROOT},le=\"{le}\"}}"));
            let count = count.unwrap_or_else(|| panic!("bucket le={le} missing in {text}"));
            assert!(
                count >= previous && count <= 3.0,
                "bucket le={le} = {count} in {text}"
            );
            previous = count;
        }
        assert!(
            sample(&text, &format!("{hist}_sum{{{ROOT}}}")).is_some_and(|sum| sum > 0.0),
            "{text}"
        );
        let health = "method=\"GET\",route=\"/health\",status_code=\"200\"";
        assert_eq!(
            sample(&text, &format!("{hist}_count{{{health}}}")),
            Some(1.0),
            "{text}"
        );
        assert!(
            !text.contains("/nope"),
            "unrouted requests must not be recorded: {text}"
        );

        assert_eq!(
            sample(&text, "http_requests_total{status=\"success\"}"),
            Some(3.0),
            "{text}"
        );
        for code in ["200", "500", "503"] {
            let series = format!("promhttp_metric_handler_requests_total{{code=\"{code}\"}}");
            assert_eq!(sample(&text, &series), Some(0.0), "{series} in {text}");
        }
        // The accept loop, this scrape's connection and this scrape's request.
        assert!(
            sample(&text, "go_goroutines").is_some_and(|n| n >= 3.0),
            "{text}"
        );
        if cfg!(target_os = "linux") {
            for name in [
                "process_resident_memory_bytes",
                "process_cpu_seconds_total",
                "process_start_time_seconds",
            ] {
                assert!(sample(&text, name).is_some(), "{name} missing in {text}");
            }
        }

        let (_, second) = get(service.addr, "/metrics").await;
        assert_eq!(
            sample(
                &second,
                "promhttp_metric_handler_requests_total{code=\"200\"}"
            ),
            Some(1.0)
        );
        let scrape = "method=\"GET\",route=\"/metrics\",status_code=\"200\"";
        assert_eq!(
            sample(&second, &format!("{hist}_count{{{scrape}}}")),
            Some(1.0),
            "{second}"
        );
        service.stop().await;
    }

    #[tokio::test]
    async fn version_0_1_2_sleeps_400ms_per_page() {
        let service = Running::start(config("ghcr.io/podtato-head/podtatoserver:v0.1.2", "slow"));
        for _ in 0..2 {
            let started = Instant::now();
            let (status, body) = get(service.addr, "/").await;
            let elapsed = started.elapsed();
            assert_eq!(status, 200);
            assert!(body.contains("v0.1.2"), "{body}");
            assert!(
                elapsed >= Duration::from_millis(400),
                "took only {elapsed:?}"
            );
        }
        let (_, text) = get(service.addr, "/metrics").await;
        let hist = "http_server_request_duration_seconds";
        assert_eq!(
            sample(&text, &format!("{hist}_bucket{{{ROOT},le=\"0.25\"}}")),
            Some(0.0),
            "{text}"
        );
        assert_eq!(
            sample(&text, &format!("{hist}_count{{{ROOT}}}")),
            Some(2.0),
            "{text}"
        );
        assert!(
            sample(&text, &format!("{hist}_sum{{{ROOT}}}")).is_some_and(|sum| sum >= 0.8),
            "{text}"
        );
        service.stop().await;
    }

    #[tokio::test]
    async fn separate_metrics_port_serves_metrics_and_health() {
        let mut cfg = config("0.1.1", "m");
        cfg.metrics_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        let service = Running::start(cfg);
        let metrics_addr = service
            .metrics_addr
            .unwrap_or_else(|| panic!("no metrics port"));
        assert_ne!(metrics_addr, service.addr);
        assert_eq!(get(service.addr, "/").await.0, 200);
        let (status, text) = get(metrics_addr, "/metrics").await;
        assert_eq!(status, 200);
        assert_eq!(
            sample(&text, "http_requests_total{status=\"success\"}"),
            Some(1.0),
            "{text}"
        );
        assert_eq!(get(metrics_addr, "/").await.0, 404);
        // The readiness probe answers on the metrics port and is not timed into the histogram.
        assert_eq!(get(metrics_addr, "/health").await, (200, "ok".to_owned()));
        let (_, text) = get(metrics_addr, "/metrics").await;
        assert!(!text.contains("route=\"/health\""), "{text}");
        assert_eq!(get(service.addr, "/metrics").await.0, 200);
        service.stop().await;
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn reuse_port_lets_two_instances_share_an_address() {
        let mut first = config("v0.1.1", "one");
        first.reuse_port = true;
        let first = Running::start(first);
        let mut second = config("v0.1.1", "two");
        second.listen = first.addr;
        second.reuse_port = true;
        let second = Running::start(second);
        assert_eq!(second.addr, first.addr);

        let mut exclusive = config("v0.1.1", "three");
        exclusive.listen = first.addr;
        assert!(matches!(
            BoundService::bind(exclusive),
            Err(HelloError::Bind { .. })
        ));

        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let (status, page) = get(first.addr, "/").await;
            assert_eq!(status, 200);
            seen.extend(instance_of(&page));
            if seen.len() == 2 {
                break;
            }
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["one", "two"]);
        first.stop().await;
        second.stop().await;
    }

    #[tokio::test]
    async fn bad_version_is_an_error_and_empty_instance_gets_the_pid() {
        let result = serve(config("", "x"), std::future::ready(())).await;
        assert!(
            matches!(result, Err(HelloError::Version(VersionError::Empty))),
            "{result:?}"
        );

        let bound = BoundService::bind(config("v0.1.0", " ")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bound.instance(), format!("pid-{}", std::process::id()));
        assert!(!bound.version().is_slow());
    }

    #[test]
    fn serve_is_send_with_a_send_shutdown() {
        fn assert_send<T: Send>(_: &T) {}
        let future = serve(config("v0.1.1", "x"), std::future::pending::<()>());
        assert_send(&future);
    }

    #[tokio::test]
    async fn serve_returns_after_shutdown() {
        let result = serve(config("v0.1.1", "x"), std::future::ready(())).await;
        assert!(result.is_ok(), "{result:?}");
    }
}
