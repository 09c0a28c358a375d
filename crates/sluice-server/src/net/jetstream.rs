//! The NATS JetStream relay (`sluice server --bus nats://…`): publishes every stored event,
//! in commit order, to the JetStream stream `SLUICE` on the subject of its type (Keptn's subject
//! names, e.g. `sh.keptn.event.deployment.triggered`), so that remote integrations can consume
//! task events from NATS as they did from Keptn, besides polling the API.
//!
//! The store is the truth and NATS carries copies: the relay tails the datastore from a cursor
//! kept in the store's settings and moves the cursor only after JetStream acknowledged the
//! messages, so a crash or a NATS outage delays messages but loses none. Each message carries
//! the event id as `Nats-Msg-Id`, so a batch published again after a crash (between the
//! acknowledgement and the saved cursor) is dropped by JetStream's duplicate window instead
//! of reaching consumers twice. Consumers should still be idempotent (NATS delivers at least
//! once).

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage, stream};
use bytes::Bytes;
use serde_json::Value;
use sluice_model::event::{ContentTypeKey, KeptnEvent};
use sluice_store::{Changes, Store};
use tokio::sync::broadcast;

/// The JetStream stream the relay publishes to.
pub const STREAM: &str = "SLUICE";
/// The subjects of the stream: every Keptn event type.
pub const SUBJECTS: &str = "sh.keptn.>";
/// How long the stream keeps messages (consumers that were away longer read the API).
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// JetStream's duplicate window for `Nats-Msg-Id` (its default, stated explicitly).
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// The store setting holding the position of the last event JetStream acknowledged.
pub const CURSOR_SETTING: &str = "nats.relay.position";
/// Events published per batch (their acknowledgements are awaited together).
const BATCH: u32 = 256;
/// How often the relay looks at the store when no event woke it.
const POLL: Duration = Duration::from_secs(1);

/// Why a relay step failed (it is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store could not be read or the cursor saved.
    #[error("store: {0}")]
    Store(#[from] sluice_store::Error),
    /// Connecting to NATS failed.
    #[error("cannot connect to NATS at {url}: {detail}")]
    Connect {
        /// The server URL.
        url: String,
        /// What the client said.
        detail: String,
    },
    /// JetStream refused the stream or a message.
    #[error("JetStream: {0}")]
    JetStream(String),
}

/// Whether `subject` is a valid NATS subject for publishing: dot-separated non-empty tokens
/// without whitespace or wildcards.
pub fn valid_subject(subject: &str) -> bool {
    !subject.is_empty()
        && subject.split('.').all(|token| {
            !token.is_empty()
                && token != "*"
                && token != ">"
                && !token.chars().any(|c| c.is_whitespace() || c.is_control())
        })
}

/// The message of one event: its subject (the type) and body (Keptn's JSON, with
/// `contenttype` as Keptn sent on NATS); `None` when the type is no valid subject.
pub fn message(event: &KeptnEvent) -> Option<(String, Bytes)> {
    let subject = event.event_type.clone()?;
    if !valid_subject(&subject) || !subject.starts_with("sh.keptn.") {
        return None;
    }
    let body = serde_json::to_vec(&event.to_value(ContentTypeKey::ContentType)).ok()?;
    Some((subject, Bytes::from(body)))
}

/// Runs the relay until the process ends: connects (retrying), makes sure the stream exists,
/// then publishes what the store holds after the cursor, woken by the bus.
pub async fn run(url: String, store: Arc<Store>, mut woken: broadcast::Receiver<Arc<KeptnEvent>>) {
    let mut backoff = Duration::from_millis(200);
    // The first start with a bus sets the position before anything else, so that what is
    // stored from then on is published even when NATS is not reachable yet; events stored
    // before are history and are not sent.
    loop {
        match start_position(&store).await {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!("NATS relay: {e}; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
    loop {
        match relay(&url, &store, &mut woken).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!("NATS relay: {e}; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

async fn relay(
    url: &str,
    store: &Store,
    woken: &mut broadcast::Receiver<Arc<KeptnEvent>>,
) -> Result<(), Error> {
    let client = async_nats::ConnectOptions::new()
        .name("sluice")
        .connect(url)
        .await
        .map_err(|e| Error::Connect {
            url: url.to_owned(),
            detail: e.to_string(),
        })?;
    let js = jetstream::new(client);
    js.get_or_create_stream(stream::Config {
        name: STREAM.to_owned(),
        subjects: vec![SUBJECTS.to_owned()],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        max_age: MAX_AGE,
        duplicate_window: DUPLICATE_WINDOW,
        ..stream::Config::default()
    })
    .await
    .map_err(|e| Error::JetStream(format!("cannot create the stream {STREAM}: {e}")))?;
    let mut cursor = match store.setting(CURSOR_SETTING).await? {
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => return Err(Error::JetStream("the relay's position is not set".into())),
    };
    tracing::info!("NATS relay publishing to stream {STREAM} at {url} after position {cursor}");
    loop {
        let events = store.events_after(cursor, BATCH).await?;
        if events.is_empty() {
            wait(woken).await;
            continue;
        }
        let mut acks = Vec::with_capacity(events.len());
        for (_, event) in &events {
            let Some((subject, body)) = message(event) else {
                tracing::warn!(
                    "NATS relay: event {} has type {:?}, which is no NATS subject; not published",
                    event.id.as_deref().unwrap_or(""),
                    event.event_type
                );
                continue;
            };
            let publish = PublishMessage::build()
                .message_id(event.id.clone().unwrap_or_default())
                .payload(body);
            let ack = js
                .send_publish(subject, publish)
                .await
                .map_err(|e| Error::JetStream(format!("publish: {e}")))?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await
                .map_err(|e| Error::JetStream(format!("publish not acknowledged: {e}")))?;
        }
        cursor = events.last().map_or(cursor, |(position, _)| *position);
        save_cursor(store, cursor).await?;
    }
}

async fn start_position(store: &Store) -> Result<(), Error> {
    if store.setting(CURSOR_SETTING).await?.is_none() {
        let now = store.last_event_position().await?;
        save_cursor(store, now).await?;
    }
    Ok(())
}

async fn save_cursor(store: &Store, position: i64) -> Result<(), Error> {
    let changes = Changes {
        settings_set: vec![(CURSOR_SETTING.to_owned(), Value::from(position))],
        ..Changes::default()
    };
    store.commit(changes).await?;
    Ok(())
}

/// Waits until the bus reports a stored event (or fell behind, or closed) or [`POLL`] passed.
async fn wait(woken: &mut broadcast::Receiver<Arc<KeptnEvent>>) {
    let _ = tokio::time::timeout(POLL, woken.recv()).await;
    // Whatever else arrived meanwhile is read from the store in the next round.
    while woken.try_recv().is_ok() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subjects_are_keptns_event_types_and_nothing_else() {
        for ok in [
            "sh.keptn.event.deployment.triggered",
            "sh.keptn.event.dev.delivery.finished",
            "sh.keptn.log.error",
        ] {
            assert!(valid_subject(ok), "{ok}");
        }
        for bad in [
            "",
            "sh.keptn..x",
            "sh.keptn.*",
            "sh.keptn.>",
            "sh.keptn.a b",
            "sh.keptn.\u{7}",
        ] {
            assert!(!valid_subject(bad), "{bad:?}");
        }
        let mut e = KeptnEvent::from_value(json!({
            "specversion": "1.0", "id": "e1", "source": "s", "type": "sh.keptn.event.deployment.triggered",
            "shkeptncontext": "c", "datacontenttype": "application/json", "data": {"project": "p"}
        }))
        .unwrap();
        let (subject, body) = message(&e).unwrap();
        assert_eq!(subject, "sh.keptn.event.deployment.triggered");
        let sent: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(sent["contenttype"], "application/json");
        assert_eq!(sent["data"]["project"], "p");
        e.event_type = Some("other.thing".into());
        assert!(message(&e).is_none());
    }
}
