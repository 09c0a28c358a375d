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
    /// An optional separate port serving only `/metrics`, so replicas sharing `listen` can each be scraped.
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
