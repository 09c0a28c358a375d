//! The server's one outgoing HTTP client (SLI providers, later webhooks), built in one place
//! so connection pools, TLS setup, timeouts and the size limit of answers are shared by
//! everything that calls out.
//!
//! Callers build a [`Request`] from the [`Client`] and [`Request::send`] it; the answer's
//! body is read in chunks and refused past [`MAX_RESPONSE_BYTES`] (or the client's own
//! limit), so a misbehaving server cannot make sluice buffer more than that. There is no other
//! way to send: the `reqwest` client and request builder stay private to this module.

use std::sync::Once;
use std::time::Duration;

/// How long to wait for a TCP/TLS connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest answer body read from any server (Prometheus' answers to the instant queries
/// sluice sends are a few hundred bytes).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Why a request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Connecting, sending or reading failed, or the request timed out.
    #[error("{}", transport_message(.0))]
    Transport(#[source] reqwest::Error),
    /// The answer's body is longer than the limit; reading stopped there.
    #[error("the answer is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
}

/// The shared client. Clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    inner: reqwest::Client,
    max_body: usize,
}

/// A request being built (see [`Client::get`]).
#[derive(Debug)]
pub struct Request {
    inner: reqwest::RequestBuilder,
    max_body: usize,
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: reqwest::StatusCode,
    /// The body, at most the client's limit.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Builds the client. Call it once per server (see [`crate::state::App::http`]).
pub fn client() -> Client {
    Client::with_body_limit(MAX_RESPONSE_BYTES)
}

impl Client {
    /// A client that refuses answers longer than `max_body` bytes.
    pub fn with_body_limit(max_body: usize) -> Client {
        install_crypto_provider();
        let inner = reqwest::Client::builder()
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            // Building fails only when the TLS backend cannot start; fall back to the
            // default client rather than stopping the server (plain-HTTP calls still work).
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "cannot configure the HTTP client; using defaults");
                reqwest::Client::new()
            });
        Client { inner, max_body }
    }

    /// A GET request to `url`.
    pub fn get(&self, url: &str) -> Request {
        Request {
            inner: self.inner.get(url),
            max_body: self.max_body,
        }
    }
}

impl Request {
    /// Adds query parameters.
    pub fn query<T: serde::Serialize + ?Sized>(self, query: &T) -> Request {
        Request {
            inner: self.inner.query(query),
            ..self
        }
    }

    /// Limits the whole request, answer included.
    pub fn timeout(self, timeout: Duration) -> Request {
        Request {
            inner: self.inner.timeout(timeout),
            ..self
        }
    }

    /// HTTP basic authentication.
    pub fn basic_auth(self, user: &str, password: Option<&str>) -> Request {
        Request {
            inner: self.inner.basic_auth(user, password),
            ..self
        }
    }

    /// Sends the request and reads the whole answer, refusing bodies over the limit (a
    /// declared `Content-Length` over it is refused before reading).
    pub async fn send(self) -> Result<Answer, Error> {
        let limit = self.max_body;
        let mut response = self.inner.send().await.map_err(Error::Transport)?;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(Error::TooLarge { limit });
        }
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(Error::Transport)? {
            if body.len() + chunk.len() > limit {
                return Err(Error::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, body })
    }
}

/// A transport error without the URL (it can be long; credentials are never in it).
fn transport_message(e: &reqwest::Error) -> String {
    let mut msg = if e.is_timeout() {
        "request timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// rustls is built with ring only; it must be told so before the first client exists.
pub(crate) fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only when a provider is installed already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn builds_twice() {
        let _a = client();
        let _b = client();
    }

    /// A real HTTP server on 127.0.0.1 that answers every request with `body_len` bytes,
    /// chunked (no length given) or with a `Content-Length`.
    async fn server(body_len: usize, chunked: bool) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = if chunked {
                        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                            .to_owned()
                    } else {
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {body_len}\r\nConnection: close\r\n\r\n"
                        )
                    };
                    if socket.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let piece = vec![b'x'; 64 * 1024];
                    let mut left = body_len;
                    while left > 0 {
                        let n = left.min(piece.len());
                        let sent = if chunked {
                            let mut c = format!("{n:x}\r\n").into_bytes();
                            c.extend_from_slice(&piece[..n]);
                            c.extend_from_slice(b"\r\n");
                            socket.write_all(&c).await
                        } else {
                            socket.write_all(&piece[..n]).await
                        };
                        if sent.is_err() {
                            return; // the client stopped reading
                        }
                        left -= n;
                    }
                    if chunked {
                        let _ = socket.write_all(b"0\r\n\r\n").await;
                    }
                });
            }
        });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn an_oversized_answer_is_refused_with_or_without_a_length() {
        for chunked in [true, false] {
            let url = server(MAX_RESPONSE_BYTES + 1, chunked).await;
            match client().get(&url).send().await {
                Err(Error::TooLarge { limit }) => assert_eq!(limit, MAX_RESPONSE_BYTES),
                other => panic!("chunked {chunked}: expected TooLarge, got {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn an_answer_up_to_the_limit_is_read_whole() {
        for chunked in [true, false] {
            let url = server(100_000, chunked).await;
            let answer = Client::with_body_limit(100_000)
                .get(&url)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status, 200);
            assert_eq!(answer.body.len(), 100_000);
        }
    }
}
