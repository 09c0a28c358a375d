//! The notifier: derives deliveries from the committed event log and sends them.
//!
//! It tails the datastore in commit order from a position kept in the store's settings (like
//! the NATS relay); for each event that is a notification event it writes one delivery per
//! matching rule, together with the new position, in one transaction
//! ([`Store::enqueue_deliveries`]; delivery ids are derived from the rule and the
//! event, so a repeat after a crash inserts nothing; a position that moved past events
//! without deliveries is saved at most every few seconds; while no project has a rule it moves
//! to the end of the log without reading it). Then it sends the deliveries that are
//! due, each attempt through the shared outgoing client with a timeout, records every
//! attempt, and retries failed ones with exponential backoff up to [`MAX_ATTEMPTS`]. Pending
//! deliveries survive a restart. It runs where the built-in services run: on the leader.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sluice_model::event::{KeptnEvent, Timestamp};
use sluice_store::notifications::state;
use sluice_store::{
    AttemptOutcome, ChannelRecord, DeliveryAttempt, DeliveryRecord, RuleRecord, Store,
};
use tokio::sync::broadcast;

use super::{
    Channel, MAX_ATTEMPTS, NoticeKind, backoff, check_template, delivery_id, notice, notices,
    payload, permanent, secret_key, signature,
};
use crate::metrics::Metrics;
use crate::net::http::{self, Method};
use crate::runtime::clock;

/// The store setting holding the position of the last event the notifier looked at.
pub const CURSOR_SETTING: &str = "notifications.position";
/// Events read per round.
const BATCH: u32 = 256;
/// Deliveries sent per round (concurrently).
const SEND_BATCH: u32 = 32;
/// How long one attempt may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from a receiver.
const MAX_ANSWER: usize = 64 * 1024;
/// How often the notifier looks at the store when nothing woke it.
const POLL: Duration = Duration::from_secs(1);
/// The largest error text kept per attempt.
const MAX_ERROR: usize = 512;

/// What is sealed with a channel: where to send and the signing secret (webhooks).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Sealed {
    /// The URL.
    pub url: String,
    /// The Standard Webhooks secret (`whsec_…`), webhooks only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Sets the position at the end of the log when there is none (the first start), so that
/// what is stored from then on is notified and older history is not. Called before the
/// driver starts.
pub async fn start_position(store: &Store) -> Result<(), sluice_store::Error> {
    if store.setting(CURSOR_SETTING).await?.is_none() {
        let end = store.last_event_position().await?;
        store.enqueue_deliveries(&[], CURSOR_SETTING, end).await?;
    }
    Ok(())
}

/// Runs the notifier until the process ends.
pub async fn run(
    store: Arc<Store>,
    http: http::Client,
    metrics: Arc<Metrics>,
    mut woken: broadcast::Receiver<Arc<KeptnEvent>>,
) {
    let http = http.with_body_limit(MAX_ANSWER);
    let mut backoff_on_error = Duration::from_millis(200);
    let mut position = None;
    let mut pruned_at: Option<tokio::time::Instant> = None;
    loop {
        if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            prune(&store).await;
            pruned_at = Some(tokio::time::Instant::now());
        }
        match round(&store, &http, &metrics, &mut position).await {
            Ok(busy) => {
                backoff_on_error = Duration::from_millis(200);
                if !busy {
                    wait(&store, &mut woken).await;
                }
            }
            Err(e) => {
                // Read the position again: what was not saved is derived again (the delivery
                // ids make that insert nothing twice).
                position = None;
                tracing::warn!("notifications: {e}; retrying in {backoff_on_error:?}");
                tokio::time::sleep(backoff_on_error).await;
                backoff_on_error = (backoff_on_error * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// The notifier's place in the event log: how far it has looked, and when that was last saved.
/// A batch without deliveries moves it in memory only, and it is saved at most every
/// [`SAVE_EVERY`] (or with the next deliveries): events looked at again after a crash derive
/// the same delivery ids, so nothing is sent twice, and a server without notifications does
/// not write for every event it stores.
#[derive(Debug, Clone, Copy)]
struct Position {
    looked: i64,
    saved: i64,
    saved_at: tokio::time::Instant,
}

/// How often a position that moved without deliveries is saved.
const SAVE_EVERY: Duration = Duration::from_secs(5);

/// One round: derive deliveries from new events, send what is due. Answers whether there
/// may be more to do at once.
async fn round(
    store: &Arc<Store>,
    http: &http::Client,
    metrics: &Arc<Metrics>,
    position: &mut Option<Position>,
) -> Result<bool, sluice_store::Error> {
    let derived = derive(store, position).await?;
    let due = store.due_deliveries(clock::now(), SEND_BATCH).await?;
    let sent = due.len();
    let sends = due
        .into_iter()
        .map(|delivery| send(store.clone(), http.clone(), metrics.clone(), delivery));
    for outcome in futures_util::future::join_all(sends).await {
        outcome?;
    }
    Ok(derived || sent == SEND_BATCH as usize)
}

/// Reads the events after the position and enqueues their deliveries with the new position.
/// Answers whether a full batch was read.
async fn derive(
    store: &Store,
    position: &mut Option<Position>,
) -> Result<bool, sluice_store::Error> {
    let mut at = match *position {
        Some(p) => p,
        None => {
            let saved = match store.setting(CURSOR_SETTING).await? {
                Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
                _ => 0,
            };
            Position {
                looked: saved,
                saved,
                saved_at: tokio::time::Instant::now(),
            }
        }
    };
    *position = Some(at);
    // Without any rule no event is notified: the position moves to the end of the log
    // without reading it (a rule created later ignores events older than itself).
    if let Some(end) = store.log_end_without_rules().await? {
        at.looked = at.looked.max(end);
        save_when_due(store, at, position).await?;
        return Ok(false);
    }
    let events = store.events_after(at.looked, BATCH).await?;
    let Some((last, _)) = events.last() else {
        save_when_due(store, at, position).await?;
        return Ok(false);
    };
    let last = *last;
    let now = clock::now();
    let mut rules: HashMap<String, (Vec<RuleRecord>, Vec<ChannelRecord>)> = HashMap::new();
    let mut deliveries = Vec::new();
    for (_, event) in &events {
        let kinds = notices(event);
        if kinds.is_empty() {
            continue;
        }
        let project = event
            .data_value()
            .get("project")
            .and_then(Value::as_str)
            .unwrap_or("");
        if project.is_empty() {
            continue;
        }
        if !rules.contains_key(project) {
            let of_project = (
                store.notification_rules(project).await?,
                store.notification_channels(project).await?,
            );
            rules.insert(project.to_owned(), of_project);
        }
        let (project_rules, channels) = &rules[project];
        for rule in project_rules {
            let Some(channel) = channels.iter().find(|c| c.name == rule.channel) else {
                continue;
            };
            if let Some(d) = delivery_for(rule, channel, &kinds, event, now) {
                deliveries.push(d);
            }
        }
    }
    at.looked = last;
    if !deliveries.is_empty() || at.saved_at.elapsed() >= SAVE_EVERY {
        store
            .enqueue_deliveries(&deliveries, CURSOR_SETTING, last)
            .await?;
        at.saved = last;
        at.saved_at = tokio::time::Instant::now();
    }
    *position = Some(at);
    Ok(events.len() == BATCH as usize)
}

/// Keeps `at` as the position, saving it when it moved and was last saved [`SAVE_EVERY`] ago.
async fn save_when_due(
    store: &Store,
    mut at: Position,
    position: &mut Option<Position>,
) -> Result<(), sluice_store::Error> {
    if at.looked != at.saved && at.saved_at.elapsed() >= SAVE_EVERY {
        store
            .enqueue_deliveries(&[], CURSOR_SETTING, at.looked)
            .await?;
        at.saved = at.looked;
        at.saved_at = tokio::time::Instant::now();
    }
    *position = Some(at);
    Ok(())
}

/// How long before a rule's creation an event may have happened and still be notified (the
/// clocks of remote senders).
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);

/// The delivery of `rule` (sending to `channel`) for `event` (which is the notification
/// events `kinds`), if the rule wants it: its first event that applies, its stages and
/// services. Events that happened before the rule was created (an imported history keeps its
/// original times) are not notified.
pub fn delivery_for(
    rule: &RuleRecord,
    channel: &ChannelRecord,
    kinds: &[NoticeKind],
    event: &KeptnEvent,
    now: Timestamp,
) -> Option<DeliveryRecord> {
    let kind = kinds
        .iter()
        .find(|k| rule.events.iter().any(|e| e == k.as_str()))?;
    if let Some(Ok(at)) = event.timestamp() {
        let skew = i128::try_from(CLOCK_SKEW.as_nanos()).unwrap_or(0);
        if at.unix_nanos() < rule.created_at.unix_nanos() - skew {
            return None;
        }
    }
    let n = notice(*kind, event);
    let s = |k: &str| n[k].as_str().unwrap_or("").to_owned();
    if !rule.stages.is_empty() && !rule.stages.contains(&s("stage")) {
        return None;
    }
    if !rule.services.is_empty() && !rule.services.contains(&s("service")) {
        return None;
    }
    let kind_of_channel = Channel::parse(&channel.kind)?;
    let built = if channel.template.is_empty() {
        payload(kind_of_channel, None, &n, now).map_err(|e| e.to_string())
    } else {
        check_template(&channel.template)
            .and_then(|t| payload(kind_of_channel, Some(&t), &n, now).map_err(|e| e.to_string()))
    };
    let (body, delivery_state, error) = match built {
        Ok(body) => (body, state::PENDING, String::new()),
        Err(e) => (String::new(), state::FAILED, e),
    };
    let event_id = s("eventId");
    Some(DeliveryRecord {
        id: delivery_id(&rule.project, &rule.name, &event_id),
        project: rule.project.clone(),
        rule: rule.name.clone(),
        channel: channel.name.clone(),
        event: kind.as_str().to_owned(),
        event_id,
        keptn_context: s("keptnContext"),
        stage: s("stage"),
        service: s("service"),
        body,
        state: delivery_state.to_owned(),
        attempts: 0,
        next_at: now,
        created_at: now,
        last_status: 0,
        last_error: error,
    })
}

/// Makes one attempt of a delivery and records it.
async fn send(
    store: Arc<Store>,
    http: http::Client,
    metrics: Arc<Metrics>,
    delivery: DeliveryRecord,
) -> Result<(), sluice_store::Error> {
    let n = delivery.attempts + 1;
    let (status, error) = match attempt(&store, &http, &delivery).await {
        Ok(status) if (200..300).contains(&status) => (status, String::new()),
        Ok(status) => (status, format!("the receiver answered HTTP {status}")),
        Err(Failure { message }) => (0, message),
    };
    let at = clock::now();
    let (new_state, next_at) = match attempt_kind(status, &error) {
        Kind::Delivered => (state::DELIVERED, at),
        Kind::Permanent => (state::FAILED, at),
        Kind::Retry if n >= MAX_ATTEMPTS => (state::FAILED, at),
        Kind::Retry => {
            let wait = backoff(n);
            let nanos = at.unix_nanos() + i128::try_from(wait.as_nanos()).unwrap_or(i128::MAX);
            (state::PENDING, Timestamp::from_unix_nanos(nanos))
        }
    };
    metrics.notification_attempt(match new_state {
        state::DELIVERED => "delivered",
        state::PENDING => "retry",
        _ => "failed",
    });
    if new_state != state::DELIVERED {
        tracing::info!(
            project = %delivery.project,
            rule = %delivery.rule,
            delivery = %delivery.id,
            attempt = n,
            "notification not delivered: {error}"
        );
    }
    store
        .record_attempt(
            &delivery.id,
            &AttemptOutcome {
                attempt: DeliveryAttempt {
                    n,
                    at,
                    status,
                    error: clip(error),
                },
                state: new_state.to_owned(),
                next_at,
            },
        )
        .await
}

/// What an attempt's outcome means for its delivery.
enum Kind {
    /// A receiver accepted it.
    Delivered,
    /// Worth trying again later.
    Retry,
    /// No retry can change it.
    Permanent,
}

fn attempt_kind(status: u16, error: &str) -> Kind {
    if error.is_empty() {
        Kind::Delivered
    } else if (status != 0 && permanent(status)) || error.starts_with(REFUSED) {
        Kind::Permanent
    } else {
        Kind::Retry
    }
}

/// The prefix of failures that no retry can change (a URL the outbound rules refuse, a
/// broken stored secret, a channel deleted meanwhile).
const REFUSED: &str = "refused: ";

struct Failure {
    message: String,
}

/// Sends a delivery once; answers the HTTP status.
async fn attempt(
    store: &Store,
    http: &http::Client,
    delivery: &DeliveryRecord,
) -> Result<u16, Failure> {
    let refused = |m: String| Failure {
        message: format!("{REFUSED}{m}"),
    };
    let text = store
        .notification_channel_secret(&delivery.project, &delivery.channel)
        .await
        .map_err(|e| refused(format!("cannot read the channel's URL: {e}")))?;
    let sealed: Sealed = serde_json::from_str(&text)
        .map_err(|e| refused(format!("the channel's stored URL is unreadable: {e}")))?;
    let mut request = http
        .request(Method::Post, &sealed.url)
        .timeout(TIMEOUT)
        .header("content-type", "application/json");
    if let Some(secret) = &sealed.secret {
        let key = secret_key(secret).map_err(refused)?;
        let timestamp = clock::now().unix_seconds();
        request = request
            .header("webhook-id", &delivery.id)
            .header("webhook-timestamp", &timestamp.to_string())
            .header(
                "webhook-signature",
                &signature(&key, &delivery.id, timestamp, &delivery.body),
            );
    }
    match request
        .body(delivery.body.clone().into_bytes())
        .send()
        .await
    {
        Ok(answer) => Ok(answer.status.as_u16()),
        Err(e @ (http::Error::Refused(_) | http::Error::Url(_))) => Err(refused(e.to_string())),
        Err(e) => Err(Failure {
            message: e.to_string(),
        }),
    }
}

fn clip(mut text: String) -> String {
    if text.len() > MAX_ERROR {
        text.truncate(text.floor_char_boundary(MAX_ERROR));
        text.push('…');
    }
    text
}

/// How long finished deliveries stay in the log.
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// How often finished deliveries older than [`RETENTION`] are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes finished deliveries older than [`RETENTION`] (a failure is logged and retried at
/// the next turn).
async fn prune(store: &Store) {
    let now = clock::now();
    let keep = i128::try_from(RETENTION.as_nanos()).unwrap_or(0);
    let before = Timestamp::from_unix_nanos(now.unix_nanos() - keep);
    match store.prune_deliveries(before).await {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!("notifications: deleted {n} finished deliveries older than 30 days")
        }
        Err(e) => tracing::warn!("notifications: cannot delete old deliveries: {e}"),
    }
}

/// How long the notifier lets events gather after the bus woke it, so that a busy server
/// costs it a few rounds a second, not one per event.
const GATHER: Duration = Duration::from_millis(50);

/// Waits until the bus reports a stored event, the next delivery is due, or [`POLL`] passed.
async fn wait(store: &Store, woken: &mut broadcast::Receiver<Arc<KeptnEvent>>) {
    let mut limit = POLL;
    if let Ok(Some(due)) = store.next_delivery_due().await {
        limit = limit.min(clock::until(due));
    }
    if limit.is_zero() {
        return;
    }
    if tokio::time::timeout(limit, woken.recv()).await.is_ok() {
        tokio::time::sleep(GATHER).await;
    }
    // Whatever else arrived meanwhile is read from the store in the next round.
    while woken.try_recv().is_ok() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_pick_their_first_event_stage_and_service() {
        let rule = RuleRecord {
            project: "p".into(),
            name: "n".into(),
            channel: "c".into(),
            events: vec!["sequence.finished".into()],
            stages: vec!["prod".into()],
            services: vec![],
            created_by: "a".into(),
            created_at: Timestamp::from_unix(0, 0),
        };
        let channel = ChannelRecord {
            project: "p".into(),
            name: "c".into(),
            kind: "slack".into(),
            target: String::new(),
            template: String::new(),
            created_by: "a".into(),
            created_at: Timestamp::from_unix(0, 0),
        };
        let event = |stage: &str| {
            KeptnEvent::from_value(json!({
                "specversion": "1.0", "id": "e1", "source": "s", "type": format!("sh.keptn.event.{stage}.delivery.finished"),
                "time": "2026-01-01T00:00:00.000Z",
                "shkeptncontext": "ctx", "data": {"project": "p", "stage": stage, "service": "s", "result": "fail"},
            }))
            .unwrap()
        };
        let now = Timestamp::from_unix(1_767_225_600, 0);
        let prod = event("prod");
        let kinds = notices(&prod);
        let d = delivery_for(&rule, &channel, &kinds, &prod, now).unwrap();
        assert_eq!(d.event, "sequence.finished");
        assert_eq!(d.state, state::PENDING);
        assert_eq!(d.id, delivery_id("p", "n", "e1"));
        assert!(delivery_for(&rule, &channel, &kinds, &event("dev"), now).is_none());
        let both = RuleRecord {
            events: vec!["sequence.finished".into(), "sequence.failed".into()],
            ..rule.clone()
        };
        assert_eq!(
            delivery_for(&both, &channel, &kinds, &prod, now)
                .unwrap()
                .event,
            "sequence.failed",
            "one delivery per event: the most specific"
        );
        let later = RuleRecord {
            created_at: Timestamp::from_unix(1_767_225_600 + 61, 0),
            ..rule.clone()
        };
        assert!(
            delivery_for(&later, &channel, &kinds, &prod, now).is_none(),
            "an event from before the rule (imported history) is not notified"
        );
        let just_after = RuleRecord {
            created_at: Timestamp::from_unix(1_767_225_600 + 59, 0),
            ..rule.clone()
        };
        assert!(delivery_for(&just_after, &channel, &kinds, &prod, now).is_some());
        let broken = ChannelRecord {
            kind: "webhook".into(),
            template: "{{.data.nothing}}".into(),
            ..channel
        };
        let failed = delivery_for(&rule, &broken, &kinds, &prod, now).unwrap();
        assert_eq!(failed.state, state::FAILED);
        assert!(
            failed.last_error.contains("nothing"),
            "{}",
            failed.last_error
        );
    }
}
