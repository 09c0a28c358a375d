//! Built-in services that answer tasks inside the server (Keptn ran each as its own pod).

pub mod approval;
pub mod evaluation;
pub mod feed;
pub mod jobs;
pub mod load_artifacts;
pub mod loadtest;
pub mod monitoring;
pub mod prometheus;
pub mod prometheus_rules;
pub mod remediation;
pub mod sli_provider;

use serde_json::Value;
use sluice_model::event::KeptnEvent;

/// An event a built-in service sends for `triggered` (its `.started` or `.finished`, or a
/// request it makes on the task's behalf): the same context and commit, `triggeredid` naming
/// `triggered`, and an id derived from `triggered`'s id and `what`, so that handling the same
/// event twice stores nothing twice.
pub fn answer(
    triggered: &KeptnEvent,
    source: &str,
    event_type: &str,
    what: &str,
    data: Value,
) -> KeptnEvent {
    let triggered_id = triggered.id.clone().unwrap_or_default();
    KeptnEvent {
        specversion: Some("1.0".to_owned()),
        id: Some(crate::ids::derived(&triggered_id, what)),
        source: Some(source.to_owned()),
        event_type: Some(event_type.to_owned()),
        time: Some(crate::clock::now().to_rfc3339_nano()),
        datacontenttype: Some("application/json".to_owned()),
        shkeptncontext: triggered.shkeptncontext.clone(),
        triggeredid: Some(triggered_id),
        gitcommitid: triggered.gitcommitid.clone(),
        data: Some(data),
        ..KeptnEvent::default()
    }
}
