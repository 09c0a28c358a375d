//! Binding the listening sockets (optionally with SO_REUSEPORT) and counting open connections for `go_goroutines`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::serve::Listener;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::metrics::{ConnectionGuard, Metrics};

/// Backlog of the listening socket (the same as Go's default on most Linux systems).
const BACKLOG: i32 = 1024;

/// Binds a non-blocking TCP listener on `addr` (a std listener, so this works outside a Tokio runtime too).
///
/// SO_REUSEADDR is set like tokio and Go do. With `reuse_port`, SO_REUSEPORT is set too, so several processes
/// (or several listeners in one process) can bind the same address and the kernel spreads new connections across
/// them; that is only available on unix and gives [`io::ErrorKind::Unsupported`] elsewhere.
pub fn bind(addr: SocketAddr, reuse_port: bool) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    if reuse_port {
        set_reuse_port(&socket)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

#[cfg(unix)]
fn set_reuse_port(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

#[cfg(not(unix))]
fn set_reuse_port(_socket: &Socket) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "SO_REUSEPORT is only available on unix",
    ))
}

/// A listener whose accepted connections are counted in [`Metrics::goroutines`] while they are open.
#[derive(Debug)]
pub struct CountingListener {
    inner: TcpListener,
    metrics: Arc<Metrics>,
}

impl CountingListener {
    /// Registers a bound (non-blocking) std listener with the current Tokio runtime and wraps it.
    pub fn new(inner: std::net::TcpListener, metrics: Arc<Metrics>) -> io::Result<Self> {
        Ok(Self {
            inner: TcpListener::from_std(inner)?,
            metrics,
        })
    }
}

impl Listener for CountingListener {
    type Io = CountedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // axum's own TcpListener impl retries and backs off on accept errors.
        let (stream, peer) = Listener::accept(&mut self.inner).await;
        let _ = stream.set_nodelay(true);
        (
            CountedStream {
                stream,
                _open: self.metrics.connection_opened(),
            },
            peer,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A TCP connection that stays counted as open until it is dropped.
#[derive(Debug)]
pub struct CountedStream {
    stream: TcpStream,
    _open: ConnectionGuard,
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
