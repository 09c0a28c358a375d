//! `GET /api/sluice/v1/stream`: a server-sent-events stream of stored events, for the CLI's
//! `--watch`, sluice's own agents and the web UI.
//!
//! With `keptnContext`, the stream first replays every stored event of that context in order
//! and then follows new ones, without gaps or repeats (it subscribes before it replays and
//! skips ids it has sent). Other filters (`project`, `stage`, `service`, `type`) apply to both.
//! Each event is one SSE message: `id: <event id>`, `event: <type>`, `data: <event JSON>`
//! (`untyped=true` leaves out `event:`, for browsers).
//!
//! A client that reconnects with `Last-Event-ID` (a browser's `EventSource` does so by itself;
//! or the query parameter `lastEventId`) first gets what was stored after that event and
//! matches its filters, then the live events, again without gaps or repeats: a stream through
//! a cluster follower that ended because the leader died resumes on the next leader where it
//! stopped. At most [`MAX_RESUMED`] events are replayed that way; when more were stored in
//! the meantime, a `lagged` message follows the replay (as when a slow client falls behind).
//! An id the store does not know replays nothing.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::routing::get;
use futures_util::Stream;
use serde::Deserialize;
use serde_json::Value;
use sluice_model::event::{ContentTypeKey, KeptnEvent};
use tokio::sync::broadcast::error::RecvError;

use crate::api::extract::Query;
use crate::error::ApiError;
use crate::state::App;

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    Router::new().route("/api/sluice/v1/stream", get(stream))
}

/// Filters of the stream.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamFilter {
    /// Only this context (replayed from the start).
    pub keptn_context: Option<String>,
    /// Only this project.
    pub project: Option<String>,
    /// Only this stage.
    pub stage: Option<String>,
    /// Only this service.
    pub service: Option<String>,
    /// Only this event type.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// Leave out the SSE `event:` field, so a browser's `EventSource.onmessage` sees every
    /// message (the web UI).
    #[serde(default)]
    pub untyped: bool,
    /// Resume after this event (as the `Last-Event-ID` header, which wins when both are sent).
    pub last_event_id: Option<String>,
}

/// The most events a resumed stream replays from the store.
pub const MAX_RESUMED: usize = 1000;
/// The most stored events a resume looks through for those that match the filters.
const MAX_SCANNED: usize = 20_000;
/// Stored events read per query while resuming.
const RESUME_PAGE: u32 = 500;

impl StreamFilter {
    /// Whether an event passes the filter.
    pub fn matches(&self, event: &KeptnEvent) -> bool {
        let data = event.data.as_ref().unwrap_or(&Value::Null);
        let field = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("");
        let same = |want: &Option<String>, have: &str| {
            want.as_deref().is_none_or(|w| w.is_empty() || w == have)
        };
        same(
            &self.keptn_context,
            event.shkeptncontext.as_deref().unwrap_or(""),
        ) && same(&self.event_type, event.event_type.as_deref().unwrap_or(""))
            && same(&self.project, field("project"))
            && same(&self.stage, field("stage"))
            && same(&self.service, field("service"))
    }
}

fn message(event: &KeptnEvent, untyped: bool) -> SseEvent {
    let mut m = SseEvent::default().data(event.to_json(ContentTypeKey::DataContentType));
    if let Some(id) = &event.id {
        m = m.id(id.clone());
    }
    if let Some(t) = event.event_type.as_ref().filter(|_| !untyped) {
        m = m.event(t.clone());
    }
    m
}

/// The `lagged` message: `missed` events (unknown: `null`) were not sent.
fn lagged(missed: Option<u64>) -> SseEvent {
    let missed = missed.map_or_else(|| "null".to_owned(), |n| n.to_string());
    SseEvent::default().event("lagged").data(format!(
        "{{\"missed\":{missed},\"hint\":\"read the missed events from /api/mongodb-datastore/event\"}}"
    ))
}

/// The ids a stream has sent, as far as it needs them to send nothing twice: all it replayed,
/// and the latest [`RECENT_IDS`] live ones.
#[derive(Default)]
struct SentIds {
    replayed: HashSet<String>,
    recent: HashSet<String>,
    order: VecDeque<String>,
}

/// Live ids a stream remembers.
const RECENT_IDS: usize = 1024;

impl SentIds {
    /// Whether the live event `id` was not sent yet (and remembers it).
    fn first_time(&mut self, id: &str) -> bool {
        if self.replayed.contains(id) || self.recent.contains(id) {
            return false;
        }
        if self.order.len() == RECENT_IDS
            && let Some(oldest) = self.order.pop_front()
        {
            self.recent.remove(&oldest);
        }
        self.recent.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        true
    }
}

/// What a stream sends before the live events: the stored events it replays, and whether
/// more were stored than it replays.
struct Replay {
    events: Vec<KeptnEvent>,
    cut: bool,
}

/// The stored events a new stream replays: the context's (after `last` when it is one of
/// them), or, for a stream that resumes without a context, those stored after `last` (at most
/// [`MAX_RESUMED`]). All match `filter`.
async fn replay(app: &App, filter: &StreamFilter, last: Option<&str>) -> Result<Replay, ApiError> {
    let bounds = Bounds {
        replayed: MAX_RESUMED,
        scanned: MAX_SCANNED,
        page: RESUME_PAGE,
    };
    replay_within(app, filter, last, bounds).await
}

/// How far a resume goes.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    /// Events replayed.
    replayed: usize,
    /// Stored events looked through (checked after each full page).
    scanned: usize,
    /// Stored events read per query.
    page: u32,
}

/// [`replay`] within `bounds`.
async fn replay_within(
    app: &App,
    filter: &StreamFilter,
    last: Option<&str>,
    bounds: Bounds,
) -> Result<Replay, ApiError> {
    let failed = |e: sluice_store::Error| ApiError::internal("cannot read the stored events", &e);
    if let Some(ctx) = filter.keptn_context.as_deref().filter(|c| !c.is_empty()) {
        let mut events = app.store.events_of_context(ctx).await.map_err(failed)?;
        if let Some(at) = last.and_then(|l| events.iter().position(|e| e.id.as_deref() == Some(l)))
        {
            events.drain(..=at);
        }
        events.retain(|e| filter.matches(e));
        return Ok(Replay { events, cut: false });
    }
    let mut out = Replay {
        events: Vec::new(),
        cut: false,
    };
    let Some(mut position) = (match last {
        Some(id) => app.store.event_position(id).await.map_err(failed)?,
        None => None,
    }) else {
        return Ok(out);
    };
    let mut scanned = 0;
    loop {
        let page = app
            .store
            .events_after(position, bounds.page)
            .await
            .map_err(failed)?;
        let Some((end, _)) = page.last() else {
            return Ok(out);
        };
        position = *end;
        scanned += page.len();
        let full = page.len() == bounds.page as usize;
        for (_, event) in page {
            if filter.matches(&event) {
                if out.events.len() == bounds.replayed {
                    out.cut = true;
                    return Ok(out);
                }
                out.events.push(event);
            }
        }
        if !full {
            return Ok(out);
        }
        if scanned >= bounds.scanned {
            out.cut = true;
            return Ok(out);
        }
    }
}

async fn stream(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(filter): Query<StreamFilter>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or(filter.last_event_id.as_deref())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned);
    // Subscribe first, so nothing stored during the replay is missed.
    let live = app.bus.subscribe();
    let Replay { events, cut } = replay(&app, &filter, last.as_deref()).await?;
    // Live events that were replayed too (stored between the subscription and the read) are
    // skipped, and so is an event the bus carries again (a service asking once more); a long
    // stream remembers only the replayed ids and the latest live ones.
    let mut sent = SentIds::default();
    for id in events.iter().filter_map(|e| e.id.as_deref()) {
        sent.replayed.insert(id.to_owned());
    }
    let state = (events.into_iter(), cut, live, sent, filter);
    let s = futures_util::stream::unfold(
        state,
        |(mut replay, mut cut, mut live, mut sent, filter)| async move {
            if let Some(event) = replay.next() {
                let m = message(&event, filter.untyped);
                return Some((Ok(m), (replay, cut, live, sent, filter)));
            }
            if cut {
                cut = false;
                return Some((Ok(lagged(None)), (replay, cut, live, sent, filter)));
            }
            loop {
                match live.recv().await {
                    Ok(event) => {
                        if !filter.matches(&event)
                            || event.id.as_deref().is_some_and(|id| !sent.first_time(id))
                        {
                            continue;
                        }
                        let m = message(&event, filter.untyped);
                        return Some((Ok(m), (replay, cut, live, sent, filter)));
                    }
                    Err(RecvError::Lagged(n)) => {
                        return Some((Ok(lagged(Some(n))), (replay, cut, live, sent, filter)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok(Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use futures_util::StreamExt;
    use serde_json::json;
    use tower::ServiceExt;

    use super::*;
    use crate::api::testkit::{TOKEN, TestServer};

    fn event(id: &str, project: &str, context: &str) -> KeptnEvent {
        KeptnEvent {
            specversion: Some("1.0".into()),
            id: Some(id.into()),
            source: Some("test".into()),
            event_type: Some("sh.keptn.event.deployment.started".into()),
            shkeptncontext: Some(context.into()),
            triggeredid: Some(crate::runtime::ids::fresh()),
            data: Some(json!({"project": project, "stage": "dev", "service": "a"})),
            ..KeptnEvent::default()
        }
    }

    /// Opens the stream at `uri` (with `last` as `Last-Event-ID`) and reads the ids of its
    /// first `n` messages.
    async fn open(
        server: &TestServer,
        uri: &str,
        last: Option<&str>,
    ) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, axum::Error>> + use<> {
        let mut request = Request::get(uri).header("x-token", TOKEN);
        if let Some(last) = last {
            request = request.header("Last-Event-ID", last);
        }
        let response = server
            .router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.into_body().into_data_stream()
    }

    async fn ids(
        body: &mut (impl futures_util::Stream<Item = Result<axum::body::Bytes, axum::Error>> + Unpin),
        n: usize,
    ) -> Vec<String> {
        let mut text = String::new();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), async {
            while out.len() < n {
                let chunk = body.next().await.expect("stream open").unwrap();
                text.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = text.find("\n\n") {
                    let message: String = text.drain(..end + 2).collect();
                    for line in message.lines() {
                        if let Some(id) = line.strip_prefix("id: ") {
                            out.push(id.to_owned());
                        } else if line == "event: lagged" {
                            out.push("lagged".to_owned());
                        }
                    }
                }
            }
        })
        .await
        .expect("messages in time");
        out
    }

    /// A stream that resumes after an event gets what was stored since and matches its
    /// filters, then the live events, without gaps or repeats; with a context, after the
    /// event in that context; an unknown id replays nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stream_resumes_after_the_last_event_it_sent() {
        let server = TestServer::new().await;
        let app = server.app.clone();
        for (id, project, context) in [
            ("e1", "p", "c1"),
            ("e2", "p", "c1"),
            ("q1", "q", "c2"),
            ("e3", "p", "c1"),
            ("e4", "p", "c3"),
        ] {
            app.driver
                .submit(event(id, project, context))
                .await
                .unwrap();
        }
        let mut body = Box::pin(open(&server, "/api/sluice/v1/stream?project=p", Some("e1")).await);
        assert_eq!(ids(&mut body, 3).await, ["e2", "e3", "e4"]);
        app.driver.submit(event("e5", "p", "c1")).await.unwrap();
        // Carried again by the bus (a service asking once more): not sent twice.
        let again = app.store.event("e5").await.unwrap().unwrap();
        app.bus.publish(Arc::new(again));
        app.driver.submit(event("e6", "p", "c1")).await.unwrap();
        assert_eq!(ids(&mut body, 2).await, ["e5", "e6"]);

        let uri = "/api/sluice/v1/stream?keptnContext=c1&lastEventId=e2";
        let mut body = Box::pin(open(&server, uri, None).await);
        assert_eq!(ids(&mut body, 3).await, ["e3", "e5", "e6"]);

        let mut body =
            Box::pin(open(&server, "/api/sluice/v1/stream?project=p", Some("unknown")).await);
        app.driver.submit(event("e7", "p", "c1")).await.unwrap();
        assert_eq!(ids(&mut body, 1).await, ["e7"]);
    }

    /// A resume replays at most so many events, and looks through at most so many, and says
    /// when it stopped short.
    #[tokio::test]
    async fn a_resume_is_bounded_and_says_when_it_was_cut() {
        let server = TestServer::new().await;
        let app = server.app.clone();
        for i in 0..6 {
            let project = if i % 2 == 0 { "p" } else { "q" };
            app.driver
                .submit(event(&format!("e{i}"), project, "c"))
                .await
                .unwrap();
        }
        let filter = StreamFilter {
            project: Some("p".into()),
            ..StreamFilter::default()
        };
        let run = |replayed, scanned, page, last: &'static str| {
            let (app, filter) = (app.clone(), filter.clone());
            let bounds = Bounds {
                replayed,
                scanned,
                page,
            };
            async move {
                let r = replay_within(&app, &filter, Some(last), bounds)
                    .await
                    .unwrap();
                let ids: Vec<String> = r.events.iter().map(|e| e.id.clone().unwrap()).collect();
                (ids, r.cut)
            }
        };
        let e = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // After e0, in pages of two: e1 e2 | e3 e4 | e5.
        assert_eq!(run(10, 100, 2, "e0").await, (e(&["e2", "e4"]), false));
        assert_eq!(run(1, 100, 2, "e0").await, (e(&["e2"]), true));
        assert_eq!(run(10, 2, 2, "e0").await, (e(&["e2"]), true));
        assert_eq!(run(10, 4, 2, "e0").await, (e(&["e2", "e4"]), true));
        assert_eq!(run(10, 5, 2, "e0").await, (e(&["e2", "e4"]), false));
        assert_eq!(run(10, 100, 2, "unknown").await, (e(&[]), false));
    }

    /// A long stream remembers only the latest live ids.
    #[test]
    fn a_stream_remembers_a_bounded_number_of_live_ids() {
        let mut sent = SentIds::default();
        sent.replayed.insert("r".into());
        assert!(!sent.first_time("r"));
        assert!(sent.first_time("a"));
        assert!(!sent.first_time("a"));
        for i in 0..RECENT_IDS {
            assert!(sent.first_time(&i.to_string()));
        }
        assert_eq!(sent.recent.len(), RECENT_IDS);
        assert!(
            sent.first_time("a"),
            "forgotten after RECENT_IDS newer ones"
        );
        assert!(!sent.first_time("r"), "replayed ids are kept");
    }
}
