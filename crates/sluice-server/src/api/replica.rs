//! The HTTP side of a replica (see [`crate::runtime::cluster`]): `GET /api/sluice/v1/cluster`,
//! the full API when this replica leads, and otherwise every request forwarded to the leader
//! with its answer streamed back (server-sent events too), or 503 with `Retry-After` in
//! Keptn's error shape while there is no leader.
//!
//! The event stream (`GET /api/sluice/v1/stream`) forwarded by a follower outlives the
//! leader: when the leader's stream ends (it died, or stepped down), the follower waits for
//! the next leader (itself, possibly) and opens the stream there again with `Last-Event-ID`
//! set to the last event it passed on, so the client's connection goes on with what was
//! stored since, without gaps or repeats. Only whole messages are passed on, so a message cut
//! off by the leader's death is sent again in full after the resume.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower::ServiceExt as _;

use crate::error::ApiError;
use crate::runtime::cluster::{LeaderRecord, Replica};

/// The router of a replica.
pub fn router(replica: Arc<Replica>) -> Router {
    Router::new()
        .route("/api/sluice/v1/cluster", get(status))
        .fallback(dispatch)
        .with_state(replica)
}

async fn dispatch(State(replica): State<Arc<Replica>>, request: Request) -> Response {
    match replica.leading_api() {
        Some(api) => match api.oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        },
        None => forward(replica, request).await,
    }
}

async fn status(State(replica): State<Arc<Replica>>, request: Request) -> Response {
    let presented = super::presented_token(request.headers());
    if !presented.is_some_and(|t| replica.token.matches(t)) {
        return keptn_error(StatusCode::UNAUTHORIZED, "missing or invalid API token");
    }
    match replica.status().await {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => keptn_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot read the cluster state: {e}"),
        ),
    }
}

/// Forwards a request to the leader and streams its answer back.
async fn forward(replica: Arc<Replica>, request: Request) -> Response {
    let leader = match replica.leader().await {
        Ok(Some(l)) => l,
        Ok(None) if replica.elected() => {
            return unavailable("this replica was elected leader and is restoring the engine");
        }
        Ok(None) => return unavailable("no leader yet: the replicas are electing one"),
        Err(e) => return unavailable(&format!("cannot read the cluster state: {e}")),
    };
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let body = match axum::body::to_bytes(body, crate::api::MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return keptn_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!(
                    "the request body is too large: at most {} bytes are accepted",
                    crate::api::MAX_BODY_BYTES
                ),
            );
        }
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) && name != header::HOST {
            headers.append(name.clone(), value.clone());
        }
    }
    let url = format!("{}{path}", leader.url.trim_end_matches('/'));
    let resumable = parts.method == axum::http::Method::GET && parts.uri.path() == STREAM_PATH;
    let method = parts.method.clone();
    let sent = replica
        .proxy
        .request(parts.method, &url)
        .headers(headers.clone())
        .body(body)
        .send();
    // A leader that is paused or cut off answers nothing, and its connection may stay open
    // for a long time: the request is given up once another term began.
    let sent = tokio::select! {
        sent = sent => sent.map_err(|e| (e.is_connect(), e.to_string())),
        () = replica.leader_changed(&leader) => Err((false, "it no longer leads".to_owned())),
    };
    let answer = match sent {
        Ok(a) => a,
        Err((not_sent, e)) => {
            replica.forget_leader();
            let what = format!("the leader {} at {}", leader.node, leader.url);
            // Not connected: the request was not sent, so it may be sent again. Otherwise a
            // request that changes something may have been carried out before the leader
            // failed, and only the client knows whether sending it again is right.
            return if not_sent || method_is_safe(&method) {
                unavailable(&format!("{what} does not answer ({e})"))
            } else {
                keptn_error(
                    StatusCode::BAD_GATEWAY,
                    &format!(
                        "{what} failed while handling the request ({e}); it may or may not have been carried out"
                    ),
                )
            };
        }
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !hop_by_hop(name) {
            response = response.header(name, value);
        }
    }
    let body = if resumable && answer.status() == reqwest::StatusCode::OK {
        let upstream = answer.bytes_stream().map_err(|e| e.to_string()).boxed();
        Body::from_stream(resuming(replica, path, headers, upstream, Some(leader)))
    } else {
        let stopped = async move { replica.leader_changed(&leader).await };
        Body::from_stream(cut_off_when(answer.bytes_stream(), stopped))
    };
    response
        .body(body)
        .unwrap_or_else(|_| unavailable("the leader's answer cannot be passed on"))
}

/// A forwarded answer's body, passed on until `stopped` returns; then it ends in an error,
/// which aborts the answer to the client (a cut-off body, never one that looks whole). A
/// leader paused or cut off in the middle of an answer sends nothing more, and its
/// connection may stay open for minutes: without this the client would wait as long.
fn cut_off_when<E: std::fmt::Display + Send + 'static>(
    upstream: impl futures_util::Stream<Item = Result<Bytes, E>> + Send + 'static,
    stopped: impl std::future::Future<Output = ()> + Send + 'static,
) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
    let state = (upstream.boxed(), Some(Box::pin(stopped)));
    futures_util::stream::unfold(state, |(mut upstream, stopped)| async move {
        let mut stopped = stopped?;
        let next = tokio::select! {
            biased;
            next = upstream.next() => next,
            () = &mut stopped => {
                let cut = "the leader stopped leading in the middle of its answer";
                return Some((Err(std::io::Error::other(cut)), (upstream, None)));
            }
        };
        match next? {
            Ok(chunk) => Some((Ok(chunk), (upstream, Some(stopped)))),
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), (upstream, None))),
        }
    })
    .boxed()
}

/// The event stream's path, which a follower resumes on the next leader.
const STREAM_PATH: &str = "/api/sluice/v1/stream";
/// How long a follower looks for the next leader to resume a stream on.
const RESUME_FOR: Duration = Duration::from_secs(60);
/// How often it looks.
const RESUME_EVERY: Duration = Duration::from_millis(200);

/// A stream of the leader's server-sent events in whole messages, which resumes on the next
/// leader when the current one's ends (see the module documentation).
fn resuming(
    replica: Arc<Replica>,
    path: String,
    headers: HeaderMap,
    upstream: BoxStream<'static, Result<Bytes, String>>,
    source: Option<LeaderRecord>,
) -> BoxStream<'static, Result<Bytes, std::io::Error>> {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let state = Messages {
        pending: Vec::new(),
        last,
    };
    futures_util::stream::unfold(
        (replica, path, headers, upstream, source, state),
        |(replica, path, mut headers, mut upstream, mut source, mut state)| async move {
            loop {
                if let Some(whole) = state.take_whole() {
                    return Some((Ok(whole), (replica, path, headers, upstream, source, state)));
                }
                // A paused or cut-off leader's stream goes silent rather than ending: it
                // counts as ended once another term began.
                let next = async {
                    match &source {
                        Some(leader) => tokio::select! {
                            next = upstream.next() => next,
                            () = replica.leader_changed(leader) => None,
                        },
                        None => upstream.next().await,
                    }
                };
                match next.await {
                    Some(Ok(bytes)) => state.pending.extend_from_slice(&bytes),
                    Some(Err(_)) | None => {
                        // A message cut off is sent again in full by the next leader.
                        state.pending.clear();
                        if let Some(id) = state
                            .last
                            .as_deref()
                            .and_then(|l| HeaderValue::from_str(l).ok())
                        {
                            headers.insert("last-event-id", id);
                        }
                        (upstream, source) = reopen(&replica, &path, &headers).await?;
                    }
                }
            }
        },
    )
    .boxed()
}

/// The server-sent-events text received and not passed on yet, and the id of the last event
/// passed on.
struct Messages {
    pending: Vec<u8>,
    last: Option<String>,
}

impl Messages {
    /// The whole messages received so far (up to the last blank line), noting the last id.
    fn take_whole(&mut self) -> Option<Bytes> {
        let end = self.pending.windows(2).rposition(|w| w == b"\n\n")? + 2;
        let whole: Vec<u8> = self.pending.drain(..end).collect();
        for line in whole.split(|b| *b == b'\n') {
            if let Some(id) = line.strip_prefix(b"id:") {
                let id = id.strip_prefix(b" ").unwrap_or(id);
                self.last = Some(String::from_utf8_lossy(id).into_owned());
            }
        }
        Some(Bytes::from(whole))
    }
}

/// Opens the stream again on the leader (this replica's own API when it leads now), for up
/// to [`RESUME_FOR`]; `None` when no leader answered in that time. Also answers which other
/// replica serves it (`None`: this one).
async fn reopen(
    replica: &Arc<Replica>,
    path: &str,
    headers: &HeaderMap,
) -> Option<(
    BoxStream<'static, Result<Bytes, String>>,
    Option<LeaderRecord>,
)> {
    let deadline = tokio::time::Instant::now() + RESUME_FOR;
    loop {
        tokio::time::sleep(RESUME_EVERY).await;
        if tokio::time::Instant::now() > deadline {
            tracing::warn!("no leader to resume an event stream on; it ends");
            return None;
        }
        if let Some(api) = replica.leading_api() {
            let mut request = Request::new(Body::empty());
            *request.uri_mut() = path.parse().ok()?;
            *request.headers_mut() = headers.clone();
            let Ok(answer) = api.oneshot(request).await;
            if answer.status() == StatusCode::OK {
                let body = answer.into_body().into_data_stream();
                return Some((body.map_err(|e| e.to_string()).boxed(), None));
            }
            continue;
        }
        replica.forget_leader();
        let Ok(Some(leader)) = replica.leader().await else {
            continue;
        };
        let url = format!("{}{path}", leader.url.trim_end_matches('/'));
        match replica
            .proxy
            .get(&url)
            .headers(headers.clone())
            .send()
            .await
        {
            Ok(answer) if answer.status() == reqwest::StatusCode::OK => {
                tracing::info!(leader = %leader.node, "an event stream resumes on the new leader");
                let stream = answer.bytes_stream().map_err(|e| e.to_string()).boxed();
                return Some((stream, Some(leader)));
            }
            _ => {}
        }
    }
}

/// Methods that change nothing, which a client may always send again.
fn method_is_safe(method: &axum::http::Method) -> bool {
    matches!(
        *method,
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    )
}

fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
    )
}

/// An answer in Keptn's error shape (the API's own [`ApiError`]).
fn keptn_error(status: StatusCode, message: &str) -> Response {
    ApiError::new(status, message).into_response()
}

/// 503: the request was not carried out; [`ApiError`] adds `Retry-After`.
fn unavailable(message: &str) -> Response {
    keptn_error(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("{message}; retry shortly"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A forwarded body is passed on whole while the leader leads, and cut off with an error
    /// once it stops leading, also while the leader sends nothing.
    #[tokio::test(start_paused = true)]
    async fn a_forwarded_body_is_cut_off_when_the_leader_stops_leading() {
        let chunks = || {
            futures_util::stream::iter([Ok::<_, String>(Bytes::from("a")), Ok(Bytes::from("b"))])
        };
        let whole: Vec<_> = cut_off_when(chunks(), std::future::pending())
            .collect()
            .await;
        let whole: Vec<Bytes> = whole.into_iter().map(Result::unwrap).collect();
        assert_eq!(whole, [Bytes::from("a"), Bytes::from("b")]);

        // The leader sends one chunk and then nothing, and stops leading a minute later.
        let silent = chunks().take(1).chain(futures_util::stream::pending());
        let stopped = tokio::time::sleep(Duration::from_secs(60));
        let mut body = cut_off_when(silent, stopped);
        assert_eq!(body.next().await.unwrap().unwrap(), Bytes::from("a"));
        let cut = body.next().await.unwrap().unwrap_err();
        assert!(cut.to_string().contains("stopped leading"), "{cut}");
        assert!(body.next().await.is_none(), "nothing after the cut");

        // An error of the leader's connection ends the body too.
        let broken = futures_util::stream::iter([Err::<Bytes, _>("reset".to_owned())]);
        let mut body = cut_off_when(broken, std::future::pending());
        assert_eq!(body.next().await.unwrap().unwrap_err().to_string(), "reset");
        assert!(body.next().await.is_none());
    }

    /// Only whole messages are passed on, and the id of the last one is kept for the resume.
    #[test]
    fn whole_messages_pass_and_the_last_id_is_kept() {
        let mut m = Messages {
            pending: Vec::new(),
            last: Some("from-the-client".into()),
        };
        assert_eq!(m.take_whole(), None);
        m.pending
            .extend_from_slice(b"id: a\nevent: t\ndata: {}\n\n:\n\nid:b\ndata: {");
        assert_eq!(
            m.take_whole().as_deref(),
            Some(&b"id: a\nevent: t\ndata: {}\n\n:\n\n"[..])
        );
        assert_eq!(m.last.as_deref(), Some("a"));
        assert_eq!(m.take_whole(), None, "the cut message waits");
        m.pending.extend_from_slice(b"}\n\n");
        assert_eq!(m.take_whole().as_deref(), Some(&b"id:b\ndata: {}\n\n"[..]));
        assert_eq!(m.last.as_deref(), Some("b"));
        assert!(m.pending.is_empty());
    }
}
