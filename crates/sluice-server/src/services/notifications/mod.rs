//! Notifications: per-project rules that send chosen events (sequence finished or failed,
//! approval waiting, evaluation failed, remediation started) to a channel (a generic webhook
//! signed per Standard Webhooks, a Slack or a Microsoft Teams incoming webhook).
//!
//! This module is the pure part: which notification events a stored Keptn event is
//! ([`notices`]), the notice object templates see, template checks, the payload of each
//! channel, Standard Webhooks signatures and the retry schedule. [`worker`] is the IO: it
//! derives deliveries from the committed event log and sends them (see `docs/notifications.md`).

pub mod worker;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sluice_model::event::{EventType, KeptnEvent, SequenceEventKind, TaskEventKind, Timestamp};
use sluice_model::webhook::template::{RenderError, Template};

use crate::services::approval::{self, Decision};

/// The notification events, most specific first (a rule that names several gets one delivery
/// per Keptn event: the first that applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// A sequence finished with result `fail` (or status `errored`).
    SequenceFailed,
    /// A sequence finished, whatever its result.
    SequenceFinished,
    /// An approval waits for a person.
    ApprovalWaiting,
    /// An evaluation finished with result `fail`.
    EvaluationFailed,
    /// A remediation sequence started.
    RemediationStarted,
}

impl NoticeKind {
    /// Every kind, most specific first.
    pub const ALL: [NoticeKind; 5] = [
        NoticeKind::SequenceFailed,
        NoticeKind::SequenceFinished,
        NoticeKind::ApprovalWaiting,
        NoticeKind::EvaluationFailed,
        NoticeKind::RemediationStarted,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeKind::SequenceFailed => "sequence.failed",
            NoticeKind::SequenceFinished => "sequence.finished",
            NoticeKind::ApprovalWaiting => "approval.waiting",
            NoticeKind::EvaluationFailed => "evaluation.failed",
            NoticeKind::RemediationStarted => "remediation.started",
        }
    }

    /// The kind with this wire name.
    pub fn parse(text: &str) -> Option<NoticeKind> {
        NoticeKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// The kinds of channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// A generic JSON POST signed per Standard Webhooks.
    Webhook,
    /// A Slack incoming webhook (`{"text": …}`).
    Slack,
    /// A Microsoft Teams webhook (Workflows or an incoming-webhook connector; an Adaptive
    /// Card).
    Teams,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 3] = [Channel::Webhook, Channel::Slack, Channel::Teams];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => "webhook",
            Channel::Slack => "slack",
            Channel::Teams => "teams",
        }
    }

    /// The channel with this wire name.
    pub fn parse(text: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

/// Which notification events a stored Keptn event is, most specific first (empty for most
/// events).
pub fn notices(event: &KeptnEvent) -> Vec<NoticeKind> {
    let Ok(kind) = event.event_type() else {
        return Vec::new();
    };
    let data = event.data_value();
    let field = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("");
    match kind {
        EventType::Sequence {
            kind: SequenceEventKind::Finished,
            ..
        } => {
            if field("result") == "fail" || field("status") == "errored" {
                vec![NoticeKind::SequenceFailed, NoticeKind::SequenceFinished]
            } else {
                vec![NoticeKind::SequenceFinished]
            }
        }
        EventType::Sequence {
            sequence,
            kind: SequenceEventKind::Triggered,
            ..
        } if sequence == "remediation" => vec![NoticeKind::RemediationStarted],
        EventType::Task {
            task,
            kind: TaskEventKind::Triggered,
        } if task == "approval" => {
            if approval::decide(data).2 == Decision::Manual {
                vec![NoticeKind::ApprovalWaiting]
            } else {
                Vec::new()
            }
        }
        EventType::Task {
            task,
            kind: TaskEventKind::Finished,
        } if task == "evaluation" => {
            let result = data
                .pointer("/evaluation/result")
                .and_then(Value::as_str)
                .unwrap_or_else(|| field("result"));
            if result == "fail" || field("result") == "fail" {
                vec![NoticeKind::EvaluationFailed]
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

/// The fields of the notice object, what templates see (`.data` is the Keptn event's data,
/// any field below it may be used).
pub const NOTICE_FIELDS: &[&str] = &[
    "type",
    "project",
    "stage",
    "service",
    "sequence",
    "keptnContext",
    "eventId",
    "eventType",
    "time",
    "result",
    "status",
    "message",
    "score",
    "data",
];

/// The notice object of `event` as the notification event `kind`.
pub fn notice(kind: NoticeKind, event: &KeptnEvent) -> Value {
    let data = event.data_value();
    let field = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let sequence = match event.event_type() {
        Ok(EventType::Sequence { sequence, .. }) => sequence,
        Ok(EventType::Task { task, .. }) => task,
        _ => String::new(),
    };
    let evaluation_result = data
        .pointer("/evaluation/result")
        .and_then(Value::as_str)
        .map(str::to_owned);
    json!({
        "type": kind.as_str(),
        "project": field("project"),
        "stage": field("stage"),
        "service": field("service"),
        "sequence": sequence,
        "keptnContext": event.shkeptncontext.clone().unwrap_or_default(),
        "eventId": event.id.clone().unwrap_or_default(),
        "eventType": event.event_type.clone().unwrap_or_default(),
        "time": event.time.clone().unwrap_or_default(),
        "result": if field("result").is_empty() { evaluation_result.unwrap_or_default() } else { field("result") },
        "status": field("status"),
        "message": field("message"),
        "score": data.pointer("/evaluation/score").cloned().unwrap_or(Value::Null),
        "data": data.clone(),
    })
}

/// Reads a template and checks every field it uses against the notice object: an unknown
/// field or a syntax error is refused with a precise message.
pub fn check_template(text: &str) -> Result<Template, String> {
    let template = Template::parse(text).map_err(|e| e.to_string())?;
    for path in template.fields() {
        let Some(first) = path.first() else {
            continue;
        };
        let shown = format!(".{}", path.join("."));
        if !NOTICE_FIELDS.contains(&first.as_str()) {
            return Err(format!(
                "template: unknown field {shown}; the fields are {}",
                NOTICE_FIELDS
                    .iter()
                    .map(|f| format!(".{f}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if first != "data" && path.len() > 1 {
            return Err(format!(
                "template: {shown}: .{first} has no fields (only .data has)"
            ));
        }
    }
    Ok(template)
}

/// The default message of a notice (Slack and Teams text without a template).
pub fn default_text(notice: &Value) -> String {
    let s = |k: &str| notice[k].as_str().unwrap_or("").to_owned();
    let scope = {
        let mut out = s("project");
        for k in ["stage", "service"] {
            if !s(k).is_empty() {
                out.push('/');
                out.push_str(&s(k));
            }
        }
        out
    };
    let mut text = match s("type").as_str() {
        "sequence.failed" => format!("Sequence {} failed in {scope}", s("sequence")),
        "sequence.finished" => format!(
            "Sequence {} finished in {scope} with result {}",
            s("sequence"),
            s("result")
        ),
        "approval.waiting" => format!("Approval waiting in {scope}"),
        "evaluation.failed" => match notice["score"].as_f64() {
            Some(score) => format!("Evaluation failed in {scope} (score {score})"),
            None => format!("Evaluation failed in {scope}"),
        },
        "remediation.started" => format!("Remediation started in {scope}"),
        other => format!("{other} in {scope}"),
    };
    if !s("message").is_empty() {
        text.push_str(": ");
        text.push_str(&s("message"));
    }
    text.push_str(&format!(" (context {})", s("keptnContext")));
    text
}

/// The body a channel sends for a notice: the template's output when there is one (the whole
/// body for a webhook, the message text for Slack and Teams), else the channel's default.
pub fn payload(
    channel: Channel,
    template: Option<&Template>,
    notice: &Value,
    now: Timestamp,
) -> Result<String, RenderError> {
    let rendered = template.map(|t| t.render(notice)).transpose()?;
    Ok(match channel {
        Channel::Webhook => match rendered {
            Some(body) => body,
            None => json!({
                "type": notice["type"],
                "timestamp": now.to_rfc3339_nano(),
                "data": notice,
            })
            .to_string(),
        },
        Channel::Slack => {
            json!({"text": rendered.unwrap_or_else(|| default_text(notice))}).to_string()
        }
        Channel::Teams => {
            let text = rendered.unwrap_or_else(|| default_text(notice));
            let failed = matches!(
                notice["type"].as_str(),
                Some("sequence.failed" | "evaluation.failed")
            );
            let title = format!(
                "sluice: {} ({})",
                notice["type"].as_str().unwrap_or(""),
                notice["project"].as_str().unwrap_or("")
            );
            // An Adaptive Card in a message: what Teams' Workflows webhooks take, and what
            // its older incoming-webhook connectors take too.
            json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": null,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium",
                             "wrap": true, "color": if failed { "Attention" } else { "Default" }},
                            {"type": "TextBlock", "text": text, "wrap": true},
                        ],
                    },
                }],
            })
            .to_string()
        }
    })
}

/// The prefix of Standard Webhooks secrets.
pub const SECRET_PREFIX: &str = "whsec_";

/// The key bytes of a `whsec_<base64>` secret.
pub fn secret_key(secret: &str) -> Result<Vec<u8>, String> {
    let b64 = secret.strip_prefix(SECRET_PREFIX).ok_or_else(|| {
        format!("the signing secret must look like {SECRET_PREFIX}<base64> (Standard Webhooks)")
    })?;
    let key = STANDARD
        .decode(b64)
        .map_err(|e| format!("the signing secret after {SECRET_PREFIX} is not base64: {e}"))?;
    if !(24..=64).contains(&key.len()) {
        return Err(format!(
            "the signing secret must hold 24 to 64 bytes, not {}",
            key.len()
        ));
    }
    Ok(key)
}

/// A new random signing secret (`whsec_` and 32 bytes in base64).
pub fn generate_secret() -> Result<String, String> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| format!("no randomness: {e}"))?;
    Ok(format!("{SECRET_PREFIX}{}", STANDARD.encode(key)))
}

/// The `webhook-signature` header of Standard Webhooks:
/// `v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>`.
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let signed = format!("{id}.{timestamp}.{body}");
    let tag = ring::hmac::sign(&key, signed.as_bytes());
    format!("v1,{}", STANDARD.encode(tag.as_ref()))
}

/// The URL as shown: a webhook's without user, query and fragment; a Slack or Teams URL
/// (whose path is the credential) with its path hidden. `Err` when it is no http(s) URL.
pub fn shown_target(channel: Channel, url: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "invalid URL: only http and https are allowed, not `{}`",
            parsed.scheme()
        ));
    }
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Err("invalid URL: it has no host".into());
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("invalid URL: it contains credentials".into());
    }
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    let base = format!("{}://{host}{port}", parsed.scheme());
    Ok(match channel {
        Channel::Webhook => format!("{base}{}", parsed.path()),
        Channel::Slack | Channel::Teams => format!("{base}/…"),
    })
}

/// The id of the delivery of rule `name` of `project` for the event `event_id`
/// (also its `webhook-id`): the same inputs always give the same id.
pub fn delivery_id(project: &str, name: &str, event_id: &str) -> String {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    for part in [project, name, event_id] {
        hash.update(part.len().to_be_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

/// Attempts of a delivery before it is given up.
pub const MAX_ATTEMPTS: u32 = 12;

/// How long to wait after failed attempt `n` (from 1): 1 s, doubling, at most 10 minutes.
pub fn backoff(n: u32) -> std::time::Duration {
    let secs = 1u64 << n.saturating_sub(1).min(20);
    std::time::Duration::from_secs(secs.min(600))
}

/// Whether an answer's HTTP status ends a delivery as failed without retrying: a redirect
/// (never followed) or a client error other than timeout, conflict, too early and too many
/// requests.
pub fn permanent(status: u16) -> bool {
    (300..400).contains(&status)
        || (400..500).contains(&status) && !matches!(status, 408 | 409 | 425 | 429)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ty: &str, data: Value) -> KeptnEvent {
        KeptnEvent::from_value(json!({
            "specversion": "1.0", "id": "e1", "source": "s", "type": ty, "time": "2026-01-01T00:00:00.000Z",
            "shkeptncontext": "ctx", "data": data,
        }))
        .unwrap()
    }

    #[test]
    fn keptn_events_map_to_notification_events() {
        let scope = |extra: Value| {
            let mut d = json!({"project": "p", "stage": "dev", "service": "s"});
            d.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            d
        };
        let cases = [
            (
                "sh.keptn.event.dev.delivery.finished",
                scope(json!({"result": "pass", "status": "succeeded"})),
                vec![NoticeKind::SequenceFinished],
            ),
            (
                "sh.keptn.event.dev.delivery.finished",
                scope(json!({"result": "fail", "status": "succeeded"})),
                vec![NoticeKind::SequenceFailed, NoticeKind::SequenceFinished],
            ),
            (
                "sh.keptn.event.dev.delivery.finished",
                scope(json!({"result": "pass", "status": "errored"})),
                vec![NoticeKind::SequenceFailed, NoticeKind::SequenceFinished],
            ),
            (
                "sh.keptn.event.dev.remediation.triggered",
                scope(json!({})),
                vec![NoticeKind::RemediationStarted],
            ),
            (
                "sh.keptn.event.dev.delivery.triggered",
                scope(json!({})),
                vec![],
            ),
            (
                "sh.keptn.event.approval.triggered",
                scope(json!({"result": "pass", "approval": {"pass": "manual"}})),
                vec![NoticeKind::ApprovalWaiting],
            ),
            (
                "sh.keptn.event.approval.triggered",
                scope(json!({"result": "pass", "approval": {"pass": "automatic"}})),
                vec![],
            ),
            (
                "sh.keptn.event.evaluation.finished",
                scope(json!({"result": "fail", "evaluation": {"result": "fail", "score": 10}})),
                vec![NoticeKind::EvaluationFailed],
            ),
            (
                "sh.keptn.event.evaluation.finished",
                scope(json!({"result": "pass", "evaluation": {"result": "pass"}})),
                vec![],
            ),
            (
                "sh.keptn.event.deployment.finished",
                scope(json!({"result": "fail"})),
                vec![],
            ),
        ];
        for (ty, data, want) in cases {
            assert_eq!(notices(&event(ty, data.clone())), want, "{ty} {data}");
        }
        for k in NoticeKind::ALL {
            assert_eq!(NoticeKind::parse(k.as_str()), Some(k));
        }
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
    }

    #[test]
    fn templates_are_checked_against_the_notice() {
        assert!(check_template("{{.project}} {{.data.evaluation.score}}").is_ok());
        let unknown = check_template("hi {{.projet}}").unwrap_err();
        assert!(unknown.contains("unknown field .projet"), "{unknown}");
        let deep = check_template("{{.stage.name}}").unwrap_err();
        assert!(deep.contains(".stage has no fields"), "{deep}");
        let syntax = check_template("{{.project").unwrap_err();
        assert!(syntax.contains("character 1"), "{syntax}");
        let pipeline = check_template("{{.project | printf}}").unwrap_err();
        assert!(pipeline.starts_with("template:"), "{pipeline}");
    }

    #[test]
    fn channel_payloads_have_their_shapes() {
        let e = event(
            "sh.keptn.event.dev.delivery.finished",
            json!({"project": "p", "stage": "dev", "service": "s", "result": "fail", "message": "boom"}),
        );
        let n = notice(NoticeKind::SequenceFailed, &e);
        let now = Timestamp::from_unix(1_700_000_000, 0);
        let slack: Value =
            serde_json::from_str(&payload(Channel::Slack, None, &n, now).unwrap()).unwrap();
        assert_eq!(
            slack,
            json!({"text": "Sequence delivery failed in p/dev/s: boom (context ctx)"})
        );
        let teams: Value =
            serde_json::from_str(&payload(Channel::Teams, None, &n, now).unwrap()).unwrap();
        assert_eq!(teams["type"], "message");
        let card = &teams["attachments"][0];
        assert_eq!(
            card["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(card["content"]["type"], "AdaptiveCard");
        assert_eq!(card["content"]["body"][0]["color"], "Attention");
        assert_eq!(
            card["content"]["body"][1]["text"],
            "Sequence delivery failed in p/dev/s: boom (context ctx)"
        );
        let hook: Value =
            serde_json::from_str(&payload(Channel::Webhook, None, &n, now).unwrap()).unwrap();
        assert_eq!(hook["type"], "sequence.failed");
        assert_eq!(hook["data"]["eventId"], "e1");
        let t = check_template("{{.project}} failed: {{.data.message}}").unwrap();
        assert_eq!(
            payload(Channel::Slack, Some(&t), &n, now).unwrap(),
            r#"{"text":"p failed: boom"}"#
        );
        let missing = check_template("{{.data.nothing}}").unwrap();
        assert!(payload(Channel::Webhook, Some(&missing), &n, now).is_err());
    }

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The example of the Standard Webhooks specification's reference libraries.
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(secret_key("MfKQ9r8G").is_err());
        assert!(secret_key("whsec_%%%").is_err());
        let generated = generate_secret().unwrap();
        assert_eq!(secret_key(&generated).unwrap().len(), 32);
    }

    #[test]
    fn targets_hide_credentials_and_ids_are_stable() {
        assert_eq!(
            shown_target(Channel::Slack, "https://hooks.slack.com/services/T/B/x").unwrap(),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            shown_target(Channel::Webhook, "http://127.0.0.1:9000/hook?token=x").unwrap(),
            "http://127.0.0.1:9000/hook"
        );
        assert!(shown_target(Channel::Webhook, "ftp://x/y").is_err());
        assert!(shown_target(Channel::Webhook, "https://u:p@x/y").is_err());
        assert_eq!(delivery_id("p", "n", "e"), delivery_id("p", "n", "e"));
        assert_ne!(delivery_id("p", "n", "e"), delivery_id("p", "ne", ""));
        assert_eq!(backoff(1).as_secs(), 1);
        assert_eq!(backoff(4).as_secs(), 8);
        assert_eq!(backoff(40).as_secs(), 600);
        assert!(permanent(404) && permanent(302) && !permanent(429) && !permanent(503));
    }
}
