//! The one HTTP client of the CLI: timeouts, user agent, the `x-token` header, and mapping of
//! transport failures and Keptn's `{code, message}` error bodies to [`ApiError`].

use std::sync::Once;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;

use super::config::Credentials;

/// How long to wait for a TCP/TLS connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one ordinary request may take in total (streams have no total limit).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a request answered `503` with `Retry-After` is tried again before the CLI gives
/// up: a cluster electing a new leader answers so for well under a second usually, and a
/// paused leader's session times out in 10 s.
const RETRY_FOR: Duration = Duration::from_secs(30);
/// The longest wait between two tries, whatever `Retry-After` asks for.
const RETRY_WAIT_MAX: Duration = Duration::from_secs(5);

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an error status (message from Keptn's error body when present).
    #[error("{message} (HTTP {code})")]
    Server {
        /// HTTP status code.
        code: u16,
        /// The server's message.
        message: String,
    },
    /// Nothing answered at the endpoint.
    #[error(
        "cannot connect to the sluice server at {endpoint}: {detail}\n  hint: start it with `sluice server`, or point the CLI at the right one with `sluice auth --endpoint URL --api-token TOKEN`"
    )]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// What the transport said.
        detail: String,
    },
    /// The request took too long.
    #[error("{method} {url} timed out")]
    Timeout {
        /// Method.
        method: String,
        /// URL.
        url: String,
    },
    /// The answer could not be read.
    #[error("unexpected answer from {method} {url}: {detail}")]
    Body {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// The connection failed while a body over the server's limit was being sent (the server
    /// refuses such a body and closes the connection before reading it, so its 413 answer is
    /// often lost to the transport error).
    #[error(
        "{method} {url} failed while sending a {bytes}-byte request body: {detail}\n  hint: a sluice server accepts at most {limit} bytes per request; send the files in smaller parts"
    )]
    TooLarge {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// Size of the body sent.
        bytes: usize,
        /// The server's limit.
        limit: usize,
        /// What the transport said.
        detail: String,
    },
    /// Another transport problem.
    #[error("{method} {url} failed: {detail}")]
    Transport {
        /// Method.
        method: String,
        /// URL.
        url: String,
        /// What the transport said.
        detail: String,
    },
}

impl ApiError {
    /// The HTTP status of a server error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// True for a 404 answer.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// The message of an error answer: Keptn's `{code, message}` body, else the body text, else
/// the status reason.
pub fn error_message(status: StatusCode, body: &str) -> String {
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(body)
        && let Some(Value::String(m)) = map.get("message")
        && !m.is_empty()
    {
        return m.clone();
    }
    let text = body.trim();
    if !text.is_empty() && text.len() <= 500 && !text.starts_with('<') {
        return text.to_string();
    }
    status
        .canonical_reason()
        .map(|r| r.to_lowercase())
        .unwrap_or_else(|| "error".into())
}

/// Percent-encodes one URL path segment (unreserved characters stay as they are).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A connection to one sluice (or Keptn) server.
#[derive(Debug, Clone)]
pub struct Api {
    client: reqwest::Client,
    endpoint: String,
    /// How long a `503` with `Retry-After` is tried again ([`RETRY_FOR`]).
    retry_for: Duration,
}

pub(crate) fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only when a provider is installed already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Api {
    /// Builds the client for these credentials.
    pub fn new(creds: &Credentials) -> anyhow::Result<Api> {
        install_crypto_provider();
        let mut headers = HeaderMap::new();
        let mut token = HeaderValue::from_str(creds.api_token.expose()).map_err(|_| {
            anyhow::anyhow!("the API token contains characters not allowed in an HTTP header")
        })?;
        token.set_sensitive(true);
        headers.insert("x-token", token);
        let client = reqwest::Client::builder()
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {e}"))?;
        Ok(Api {
            client,
            endpoint: creds.endpoint.clone(),
            retry_for: RETRY_FOR,
        })
    }

    /// The same client, trying a `503` with `Retry-After` again for `retry_for` at most.
    #[cfg(test)]
    pub fn retrying_for(mut self, retry_for: Duration) -> Api {
        self.retry_for = retry_for;
        self
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.endpoint, path)
    }

    fn transport_error(&self, method: &Method, url: &str, e: &reqwest::Error) -> ApiError {
        if e.is_connect() {
            ApiError::Connect {
                endpoint: self.endpoint.clone(),
                detail: root_cause(e),
            }
        } else if e.is_timeout() {
            ApiError::Timeout {
                method: method.to_string(),
                url: url.to_string(),
            }
        } else {
            ApiError::Transport {
                method: method.to_string(),
                url: url.to_string(),
                detail: root_cause(e),
            }
        }
    }

    /// Sends a request and returns the response if its status is a success.
    ///
    /// A `503` answer with `Retry-After` (a replica while the cluster has no leader, a leader
    /// that has just lost its term) means the request was not carried out: it is sent again
    /// after the wait it asks for (at most [`RETRY_WAIT_MAX`]) for up to the client's retry
    /// time, with a note on stderr, before its error is returned.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        total_timeout: Option<Duration>,
    ) -> Result<Response, ApiError> {
        let url = self.url(path);
        let body = match body {
            Some(b) => Some(bytes::Bytes::from(serde_json::to_vec(b).map_err(|e| {
                ApiError::Body {
                    method: method.to_string(),
                    url: url.clone(),
                    detail: format!("the request body cannot be written as JSON ({e})"),
                }
            })?)),
            None => None,
        };
        let body_len = body.as_ref().map_or(0, bytes::Bytes::len);
        let started = std::time::Instant::now();
        loop {
            let mut req = self.client.request(method.clone(), &url);
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Some(bytes) = &body {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(bytes.clone());
            }
            if let Some(t) = total_timeout {
                req = req.timeout(t);
            }
            let resp = req.send().await.map_err(|e| {
                if body_len > sluice_server::api::MAX_BODY_BYTES
                    && !e.is_connect()
                    && !e.is_timeout()
                {
                    ApiError::TooLarge {
                        method: method.to_string(),
                        url: url.clone(),
                        bytes: body_len,
                        limit: sluice_server::api::MAX_BODY_BYTES,
                        detail: root_cause(&e),
                    }
                } else {
                    self.transport_error(&method, &url, &e)
                }
            })?;
            let status = resp.status();
            if status.is_success() {
                return Ok(resp);
            }
            let wait = retry_wait(&resp);
            let text = resp.text().await.unwrap_or_default();
            let error = ApiError::Server {
                code: status.as_u16(),
                message: error_message(status, &text),
            };
            match wait {
                Some(wait) if started.elapsed() + wait <= self.retry_for => {
                    eprintln!(
                        "sluice: {error}; trying again in {:.1} s",
                        wait.as_secs_f64()
                    );
                    tokio::time::sleep(wait).await;
                }
                _ => return Err(error),
            }
        }
    }

    /// Sends a request with an optional JSON body and returns the JSON answer (`Null` for an
    /// empty body).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let url = self.url(path);
        let resp = self
            .send(method.clone(), path, query, body, Some(REQUEST_TIMEOUT))
            .await?;
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(&method, &url, &e))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Body {
            method: method.to_string(),
            url,
            detail: format!("not JSON ({e})"),
        })
    }

    /// `GET path?query` as text (for answers that are not JSON, such as YAML files).
    pub async fn get_text(&self, path: &str, query: &[(&str, String)]) -> Result<String, ApiError> {
        let url = self.url(path);
        let resp = self
            .send(Method::GET, path, query, None, Some(REQUEST_TIMEOUT))
            .await?;
        resp.text()
            .await
            .map_err(|e| self.transport_error(&Method::GET, &url, &e))
    }

    /// `GET path?query` as JSON.
    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ApiError> {
        self.call(Method::GET, path, query, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        self.call(Method::POST, path, &[], Some(body)).await
    }

    /// Opens a long-lived streaming `GET` (no total timeout). `Ok(None)` when the server
    /// answers 404 (it does not offer the stream).
    pub async fn open_stream(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<Response>, ApiError> {
        match self.send(Method::GET, path, query, None, None).await {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// How long to wait before sending again a request answered `503` with `Retry-After`
/// (seconds; an HTTP date or anything else unreadable counts as 1 s), at least 100 ms and at
/// most [`RETRY_WAIT_MAX`]; `None` for any other answer.
fn retry_wait(resp: &Response) -> Option<Duration> {
    if resp.status() != StatusCode::SERVICE_UNAVAILABLE {
        return None;
    }
    let value = resp.headers().get(reqwest::header::RETRY_AFTER)?;
    let seconds = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(1);
    Some(Duration::from_secs(seconds).clamp(Duration::from_millis(100), RETRY_WAIT_MAX))
}

/// The innermost cause of a reqwest error (e.g. "Connection refused (os error 111)").
fn root_cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

/// Runs a future on a small single-threaded runtime (one per command).
pub fn block_on<F: std::future::Future>(fut: F) -> anyhow::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    Ok(rt.block_on(fut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keptn_error_bodies_give_their_message() {
        let m = error_message(
            StatusCode::NOT_FOUND,
            r#"{"code":404,"message":"project not found"}"#,
        );
        assert_eq!(m, "project not found");
        let e = ApiError::Server {
            code: 404,
            message: m,
        };
        assert_eq!(e.to_string(), "project not found (HTTP 404)");
        assert!(e.is_not_found());
    }

    #[test]
    fn other_bodies_fall_back_to_text_or_reason() {
        assert_eq!(
            error_message(StatusCode::BAD_REQUEST, "bad label\n"),
            "bad label"
        );
        assert_eq!(
            error_message(StatusCode::BAD_GATEWAY, "<html>gateway</html>"),
            "bad gateway"
        );
        assert_eq!(error_message(StatusCode::CONFLICT, ""), "conflict");
        assert_eq!(
            error_message(StatusCode::CONFLICT, r#"{"code":409,"message":""}"#),
            r#"{"code":409,"message":""}"#
        );
    }

    #[test]
    fn segments_are_escaped() {
        assert_eq!(segment("dev"), "dev");
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn connection_refused_names_the_endpoint() {
        let e = ApiError::Connect {
            endpoint: "http://127.0.0.1:9".into(),
            detail: "Connection refused".into(),
        };
        let s = e.to_string();
        assert!(
            s.contains("http://127.0.0.1:9")
                && s.contains("sluice server")
                && s.contains("sluice auth"),
            "{s}"
        );
    }
    /// A loopback server that answers the first `unavailable` requests with `status` (and
    /// `Retry-After: 0` when `retry_after`), then 200 with the body it received; it counts the
    /// requests.
    async fn flaky_server(
        unavailable: usize,
        status: u16,
        retry_after: bool,
    ) -> (Api, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use axum::response::IntoResponse as _;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let seen = std::sync::Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
            let counter = counter.clone();
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) < unavailable {
                    let code = axum::http::StatusCode::from_u16(status).unwrap();
                    let mut r = (
                        code,
                        r#"{"code":503,"message":"no leader yet: the replicas are electing one; retry shortly"}"#,
                    )
                        .into_response();
                    if retry_after {
                        r.headers_mut()
                            .insert("retry-after", axum::http::HeaderValue::from_static("0"));
                    }
                    r
                } else {
                    body.into_response()
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let creds = Credentials {
            endpoint: format!("http://{addr}"),
            api_token: super::super::config::ApiToken::new("token"),
        };
        (Api::new(&creds).unwrap(), seen)
    }

    #[tokio::test]
    async fn unavailable_with_retry_after_is_sent_again_with_its_body() {
        let (api, seen) = flaky_server(2, 503, true).await;
        let body = serde_json::json!({"type": "sh.keptn.event.dev.delivery.triggered"});
        let answer = api.post("/api/v1/event", &body).await.unwrap();
        assert_eq!(answer, body, "the body is sent again unchanged");
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn other_errors_and_unavailable_without_retry_after_are_not_retried() {
        for (status, retry_after) in [(503, false), (429, true), (500, true)] {
            let (api, seen) = flaky_server(1, status, retry_after).await;
            let e = api.get("/api/v1/project", &[]).await.unwrap_err();
            assert_eq!(e.status(), Some(status), "{e}");
            assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
        }
    }

    #[tokio::test]
    async fn retrying_stops_after_the_retry_time() {
        let (api, seen) = flaky_server(usize::MAX, 503, true).await;
        let api = api.retrying_for(Duration::from_secs(1));
        let e = api.get("/api/v1/project", &[]).await.unwrap_err();
        assert_eq!(e.status(), Some(503));
        assert!(e.to_string().contains("no leader yet"), "{e}");
        // Waits of at least 100 ms: the first try and at most nine more fit in 1 s.
        let tries = seen.load(std::sync::atomic::Ordering::SeqCst);
        assert!((2..=10).contains(&tries), "{tries} tries");
    }
}
