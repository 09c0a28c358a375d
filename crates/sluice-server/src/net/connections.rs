//! Incoming HTTP connections under limits: at most [`ConnectionLimits::max_connections`] open
//! at once (the rest wait in the kernel's listen queue), a deadline for each request's
//! headers (which also ends idle keep-alive connections), and a deadline between the pieces
//! of a request body. Long responses (the event stream, `--watch`) are not limited.
//!
//! The cap stays below the process's descriptor limit ([`effective_max_connections`]), so
//! a flood of idle connections never takes the descriptors the store, the git repositories
//! and job processes need, and `/health` is answered as soon as the flood's connections
//! time out.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// Default of [`ConnectionLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Default of [`ConnectionLimits::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Default of [`ConnectionLimits::body_idle_timeout`].
pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Descriptors kept free for everything but connections: at most this many, and at most
/// half of the limit (see [`effective_max_connections`]).
pub const RESERVED_DESCRIPTORS: u64 = 256;

/// How many connections the server serves at once and how long it waits for clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections served at once; more wait in the listen queue until one closes. Lowered
    /// at start to fit the descriptor limit ([`effective_max_connections`]).
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, counted from when the
    /// server is ready to read them (a new connection, or the end of the previous answer on
    /// a keep-alive connection): slow or idle connections are closed after it.
    pub header_read_timeout: Duration,
    /// How long a request body may pause between two pieces before the request fails.
    pub body_idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_idle_timeout: DEFAULT_BODY_IDLE_TIMEOUT,
        }
    }
}

/// The process's descriptor limit (`RLIMIT_NOFILE`) after [`raise_descriptor_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DescriptorLimit {
    /// The soft limit before.
    pub was: Option<u64>,
    /// The soft limit now (`None`: unlimited).
    pub now: Option<u64>,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (what any process may do), so the
/// connection cap and the reserve fit; child processes inherit it.
pub fn raise_descriptor_limit() -> DescriptorLimit {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let before = getrlimit(Resource::Nofile);
    if before.current != before.maximum {
        let wanted = Rlimit {
            current: before.maximum,
            maximum: before.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, wanted) {
            tracing::warn!(error = %e, "cannot raise the open-file limit to the hard limit");
        }
    }
    DescriptorLimit {
        was: before.current,
        now: getrlimit(Resource::Nofile).current,
    }
}

/// The connection cap that fits `descriptors` (the soft limit; `None`: unlimited): the
/// configured cap, lowered so that [`RESERVED_DESCRIPTORS`] (or half the limit, when
/// that is less) stay free; at least 1.
pub fn effective_max_connections(configured: usize, descriptors: Option<u64>) -> usize {
    let Some(limit) = descriptors else {
        return configured.max(1);
    };
    let reserve = RESERVED_DESCRIPTORS.min(limit / 2);
    let room = usize::try_from(limit.saturating_sub(reserve)).unwrap_or(usize::MAX);
    configured.min(room).max(1)
}

/// Serves `router` on `listener` under `limits` until `shutdown` completes, then waits for
/// the open connections to finish. Each request carries the client's address as
/// [`ConnectInfo`]`<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let service = tower::ServiceBuilder::new()
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            limits.body_idle_timeout,
        ))
        .service(router);
    tokio::pin!(shutdown);
    loop {
        // A slot first: while all are taken, new connections wait in the listen queue and
        // use no descriptor of this process.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let handler = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            service.clone().oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), handler));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// An accept error: the client's own trouble is skipped; running out of descriptors (the
/// reserve used up by something else) pauses accepting briefly instead of spinning.
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::warn!(error = %e, "cannot accept a connection; pausing accepts for 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_descriptors_for_the_store_git_and_jobs() {
        assert_eq!(effective_max_connections(1024, None), 1024);
        assert_eq!(effective_max_connections(1024, Some(1_048_576)), 1024);
        assert_eq!(effective_max_connections(1024, Some(1024)), 768);
        assert_eq!(effective_max_connections(1024, Some(256)), 128);
        assert_eq!(effective_max_connections(50, Some(256)), 50);
        assert_eq!(effective_max_connections(1024, Some(1)), 1);
        assert_eq!(effective_max_connections(0, None), 1);
    }
}
