//! `GET /api/sluice/v1/stream`: a server-sent-events stream of stored events, for the CLI's
//! `--watch`, sluice's own agents and the web UI.
//!
//! With `keptnContext`, the stream first replays every stored event of that context in order
//! and then follows new ones, without gaps or repeats (it subscribes before it replays and
//! skips ids it has sent). Other filters (`project`, `stage`, `service`, `type`) apply to both.
//! Each event is one SSE message: `id: <event id>`, `event: <type>`, `data: <event JSON>`
//! (`untyped=true` leaves out `event:`, for browsers).

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
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
}

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

async fn stream(
    State(app): State<Arc<App>>,
    Query(filter): Query<StreamFilter>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    // Subscribe first, so nothing stored during the replay is missed.
    let live = app.bus.subscribe();
    let replay = match filter.keptn_context.as_deref().filter(|c| !c.is_empty()) {
        Some(ctx) => app
            .store
            .events_of_context(ctx)
            .await
            .map_err(|e| ApiError::internal("cannot read the context's events", &e))?,
        None => Vec::new(),
    };
    let replay: Vec<KeptnEvent> = replay.into_iter().filter(|e| filter.matches(e)).collect();
    let state = (replay.into_iter(), live, HashSet::<String>::new(), filter);
    let s = futures_util::stream::unfold(
        state,
        |(mut replay, mut live, mut seen, filter)| async move {
            if let Some(event) = replay.next() {
                if let Some(id) = &event.id {
                    seen.insert(id.clone());
                }
                let m = message(&event, filter.untyped);
                return Some((Ok(m), (replay, live, seen, filter)));
            }
            loop {
                match live.recv().await {
                    Ok(event) => {
                        if !filter.matches(&event) {
                            continue;
                        }
                        if let Some(id) = &event.id
                            && !seen.insert(id.clone())
                        {
                            continue;
                        }
                        let m = message(&event, filter.untyped);
                        return Some((Ok(m), (replay, live, seen, filter)));
                    }
                    Err(RecvError::Lagged(n)) => {
                        let m = SseEvent::default().event("lagged").data(format!(
                        "{{\"missed\":{n},\"hint\":\"read the missed events from /api/mongodb-datastore/event\"}}"
                    ));
                        return Some((Ok(m), (replay, live, seen, filter)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok(Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
