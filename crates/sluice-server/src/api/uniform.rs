//! Keptn's integration registry ("uniform") and integration error logs:
//! `/api/controlPlane/v1/uniform/registration[...]` and `/api/controlPlane/v1/log`.
//!
//! Registrations live in the store. As in Keptn, the id of an integration is the hex SHA-1 of
//! `"<name>-<namespace>-<hostname>"`; registering again with the same name and namespace
//! keeps the existing id and subscriptions (adding subscriptions that are new), refreshes the
//! metadata and answers 200; a new registration answers 201. Subscription ids are generated
//! by the server (UUIDs). Keptn refused a `webhook-service` subscription that does not name
//! exactly one project, and a service filter without a stage filter; so does sluice.
//! Unlike Keptn, namespace and hostname may be empty (integrations outside Kubernetes).
//!
//! Bodies are read as Keptn's typed Go models read them: a JSON object where the model has a
//! struct (serde alone would also take an array), `null` as the empty value, and only the
//! model's keys kept (the stored metadata is [`IntegrationMetadata`], never the raw JSON).
//! Beyond Keptn, names, events and filter values with control characters or white space, and
//! log entries without an integration id or a message, are refused.
//!
//! Error logs are kept durably in the store's settings table as one bounded list (the newest
//! [`MAX_LOG_ENTRIES`]; Keptn expired them after 120 h instead).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sluice_model::event::Timestamp;
use sluice_store::{Changes, UniformRegistration};
use tokio::sync::Mutex;

use crate::api::extract::{Body, Json, Path, Query};
use crate::api::params::{Params, next_offset, store_error};
use crate::error::ApiError;
use crate::runtime::{clock, ids};
use crate::state::App;

/// Settings key of the integration error logs.
pub const LOGS_KEY: &str = "uniform.logs";
/// At most this many log entries are kept (the oldest go first).
pub const MAX_LOG_ENTRIES: usize = 1000;
/// Largest page of the log list.
pub const MAX_LOG_PAGE: u32 = 100;

/// Serialises read-modify-write of registrations and logs within this process.
static WRITE_LOCK: Mutex<()> = Mutex::const_new(());

/// The routes of this module.
pub fn routes() -> Router<Arc<App>> {
    const BASE: &str = "/api/controlPlane/v1/uniform/registration";
    Router::new()
        .route(BASE, get(list_integrations).post(register))
        .route(&format!("{BASE}/{{id}}"), axum::routing::delete(unregister))
        .route(&format!("{BASE}/{{id}}/ping"), put(ping))
        .route(
            &format!("{BASE}/{{id}}/subscription"),
            get(list_subscriptions).post(create_subscription),
        )
        .route(
            &format!("{BASE}/{{id}}/subscription/{{sid}}"),
            get(get_subscription)
                .put(put_subscription)
                .delete(delete_subscription),
        )
        .route(
            "/api/controlPlane/v1/log",
            get(list_logs).post(create_logs).delete(delete_logs),
        )
}

/// Go's decoding of JSON `null` into a value type: the zero value.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Keptn's `EventSubscription`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Subscription {
    /// Server-generated id.
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    /// Event type (NATS wildcards allowed).
    #[serde(default, deserialize_with = "null_as_default")]
    pub event: String,
    /// Which events of that type.
    #[serde(default, deserialize_with = "null_as_default")]
    pub filter: SubscriptionFilter,
}

/// Keptn's integration `MetaData`: only these keys are kept (Keptn's typed model dropped any
/// other), each a string (`null` is empty, as in Go); `lastseen` is the server's.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IntegrationMetadata {
    /// The node the integration runs on.
    #[serde(default, deserialize_with = "null_as_default")]
    pub hostname: String,
    /// The integration's version.
    #[serde(default, deserialize_with = "null_as_default")]
    pub integrationversion: String,
    /// The version of its distributor (go-utils' cp-connector).
    #[serde(default, deserialize_with = "null_as_default")]
    pub distributorversion: String,
    /// `control-plane` or `remote`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub location: String,
    /// Where it runs in Kubernetes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub kubernetesmetadata: KubernetesMetadata,
}

/// Keptn's `KubernetesMetaData`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KubernetesMetadata {
    /// The namespace (part of the integration id).
    #[serde(default, deserialize_with = "null_as_default")]
    pub namespace: String,
    /// The pod.
    #[serde(default, deserialize_with = "null_as_default")]
    pub podname: String,
    /// The deployment.
    #[serde(default, deserialize_with = "null_as_default")]
    pub deploymentname: String,
}

impl IntegrationMetadata {
    /// Every string with its field path, for [`check_text`].
    fn fields(&self) -> [(&'static str, &str); 7] {
        let k = &self.kubernetesmetadata;
        [
            ("metadata.hostname", &self.hostname),
            ("metadata.integrationversion", &self.integrationversion),
            ("metadata.distributorversion", &self.distributorversion),
            ("metadata.location", &self.location),
            ("metadata.kubernetesmetadata.namespace", &k.namespace),
            ("metadata.kubernetesmetadata.podname", &k.podname),
            (
                "metadata.kubernetesmetadata.deploymentname",
                &k.deploymentname,
            ),
        ]
    }
}

/// Refuses control characters (and, with `words`, white space) in a name-like field.
fn check_text(what: &str, field: &str, value: &str, words: bool) -> Result<(), ApiError> {
    let bad = value
        .chars()
        .find(|c| c.is_control() || (words && c.is_whitespace()));
    match bad {
        None => Ok(()),
        Some(c) => Err(ApiError::bad_request(format!(
            "invalid {what}: {field} contains {} (U+{:04X}); remove it",
            if c.is_control() {
                "a control character"
            } else {
                "white space"
            },
            c as u32
        ))),
    }
}

/// Go decodes only a JSON object into a struct, where serde would also take an array. Checks
/// that each value at `paths` (`/`-separated keys; `*` is every element of an array), when
/// present and not `null`, is an object.
fn require_objects(body: &Value, paths: &[&str], what: &str) -> Result<(), ApiError> {
    fn walk(value: &Value, rest: &[&str], at: &str, what: &str) -> Result<(), ApiError> {
        let Some((first, rest)) = rest.split_first() else {
            return match value {
                Value::Object(_) | Value::Null => Ok(()),
                other => Err(ApiError::bad_request(format!(
                    "invalid {what}: {} must be an object, not {}",
                    if at.is_empty() { "the body" } else { at },
                    json_kind(other)
                ))),
            };
        };
        match (*first, value) {
            (_, Value::Null) => Ok(()),
            ("*", Value::Array(items)) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, item)| walk(item, rest, &format!("{at}[{i}]"), what)),
            ("*", other) => Err(ApiError::bad_request(format!(
                "invalid {what}: {at} must be an array, not {}",
                json_kind(other)
            ))),
            (key, Value::Object(map)) => match map.get(key) {
                Some(v) => {
                    let at = if at.is_empty() {
                        key.to_owned()
                    } else {
                        format!("{at}.{key}")
                    };
                    walk(v, rest, &at, what)
                }
                None => Ok(()),
            },
            (_, _) => Ok(()),
        }
    }
    if !body.is_object() {
        return Err(ApiError::bad_request(format!(
            "invalid {what}: the body must be a JSON object, not {}",
            json_kind(body)
        )));
    }
    for path in paths {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        walk(body, &parts, "", what)?;
    }
    Ok(())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Keptn's `EventSubscriptionFilter` (`null` lists are Go's nil: no restriction).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SubscriptionFilter {
    /// Projects.
    #[serde(default)]
    pub projects: Option<Vec<String>>,
    /// Stages.
    #[serde(default)]
    pub stages: Option<Vec<String>>,
    /// Services.
    #[serde(default)]
    pub services: Option<Vec<String>>,
}

impl SubscriptionFilter {
    /// Whether an empty filter or one naming `value` (Keptn's registry query).
    fn admits(list: &Option<Vec<String>>, value: &str) -> bool {
        list.as_ref()
            .is_none_or(|l| l.is_empty() || l.iter().any(|v| v == value))
    }
}

/// Keptn's integration id: hex SHA-1 of `name-namespace-hostname`.
pub fn integration_id(name: &str, namespace: &str, hostname: &str) -> String {
    sha1_smol::Sha1::from(format!("{name}-{namespace}-{hostname}"))
        .digest()
        .to_string()
}

/// Keptn's subscription checks (`UniformParamsValidator`).
/// sluice also refuses control characters in the event and filters, and white space in the
/// event (an event type never has any).
fn validate(subscription: &Subscription, webhook: bool) -> Result<(), ApiError> {
    if subscription.event.is_empty() {
        return Err(ApiError::bad_request(
            "the event must be specified when setting up a subscription",
        ));
    }
    check_text("subscription", "event", &subscription.event, true)?;
    let f = &subscription.filter;
    for (field, list) in [
        ("filter.projects", &f.projects),
        ("filter.stages", &f.stages),
        ("filter.services", &f.services),
    ] {
        for value in list.iter().flatten() {
            check_text("subscription", field, value, true)?;
        }
    }
    if f.services.is_some() && f.stages.is_none() {
        return Err(ApiError::bad_request(
            "at least one stage must be specified when setting up a subscription filter for a service",
        ));
    }
    if webhook && f.projects.as_ref().is_none_or(|p| p.len() != 1) {
        return Err(ApiError::bad_request(
            "webhook should refer to exactly one project",
        ));
    }
    Ok(())
}

fn subscriptions_of(r: &UniformRegistration) -> Vec<Subscription> {
    serde_json::from_value(r.subscriptions.clone()).unwrap_or_default()
}

fn set_subscriptions(r: &mut UniformRegistration, subs: &[Subscription]) {
    r.subscriptions = serde_json::to_value(subs).unwrap_or(Value::Array(Vec::new()));
}

fn metadata_of(r: &UniformRegistration) -> IntegrationMetadata {
    serde_json::from_value(r.metadata.clone()).unwrap_or_default()
}

/// Keptn's `Integration` document.
fn integration_view(r: &UniformRegistration) -> Value {
    let mut metadata = match serde_json::to_value(metadata_of(r)) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    metadata.insert(
        "lastseen".into(),
        Value::String(r.last_seen.to_rfc3339_nano()),
    );
    json!({
        "id": r.id,
        "name": r.name,
        "metadata": metadata,
        "subscriptions": subscriptions_of(r),
    })
}

/// Parses a body as Keptn's typed models did: JSON, objects where the model has structs
/// (`objects`, see [`require_objects`]), then the typed value.
fn parse_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
    objects: &[&str],
) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))?;
    require_objects(&value, objects, what)?;
    serde_json::from_value(value).map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))
}

/// Where a subscription body has objects.
const SUBSCRIPTION_OBJECTS: &[&str] = &["/filter"];

fn created(value: Value) -> Response {
    (StatusCode::CREATED, Json(value)).into_response()
}

async fn registration(app: &App, id: &str) -> Result<UniformRegistration, ApiError> {
    app.store.registration(id).await.map_err(|e| match e {
        sluice_store::Error::NotFound { .. } => ApiError::not_found(format!(
            "integration not found: no registration with id {id}"
        )),
        other => ApiError::internal("cannot read the registration", &other),
    })
}

async fn save(app: &App, r: &UniformRegistration) -> Result<(), ApiError> {
    let saved = app
        .store
        .upsert_registration(r)
        .await
        .map_err(|e| ApiError::internal("cannot store the registration", &e));
    changed();
    saved
}

/// Counts changes of registrations and subscriptions in this process, so that readers (the
/// webhook service) can keep what they read until it changes.
static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The number of changes so far (see [`GENERATION`]).
pub fn generation() -> u64 {
    GENERATION.load(std::sync::atomic::Ordering::Acquire)
}

/// Notes a change of registrations or subscriptions.
pub fn changed() {
    GENERATION.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
}

/// The body of a registration (Keptn's `Integration`; `id` is the server's).
#[derive(Debug, Deserialize)]
struct Registration {
    #[serde(default, deserialize_with = "null_as_default")]
    name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    metadata: IntegrationMetadata,
    #[serde(default, deserialize_with = "null_as_default")]
    subscriptions: Vec<Subscription>,
}

/// Where a registration body has objects.
const REGISTRATION_OBJECTS: &[&str] = &[
    "/metadata",
    "/metadata/kubernetesmetadata",
    "/subscriptions/*",
    "/subscriptions/*/filter",
];

/// `POST /uniform/registration`.
async fn register(State(app): State<Arc<App>>, Body(body): Body) -> Result<Response, ApiError> {
    let given: Registration = parse_json(&body, "integration", REGISTRATION_OBJECTS)?;
    if given.name.is_empty() {
        return Err(ApiError::bad_request("the integration needs a name"));
    }
    check_text("integration", "name", &given.name, true)?;
    for (field, value) in given.metadata.fields() {
        check_text("integration", field, value, false)?;
    }
    let webhook = given.name == "webhook-service";
    for s in &given.subscriptions {
        validate(s, webhook)?;
    }
    let namespace = given.metadata.kubernetesmetadata.namespace.clone();
    let hostname = given.metadata.hostname.clone();
    let metadata = serde_json::to_value(&given.metadata)
        .map_err(|e| ApiError::internal("cannot write the metadata", &e))?;
    let now = clock::now();

    let _guard = WRITE_LOCK.lock().await;
    let all = app
        .store
        .registrations()
        .await
        .map_err(|e| ApiError::internal("cannot read registrations", &e))?;
    let existing = all
        .into_iter()
        .find(|r| r.name == given.name && metadata_of(r).kubernetesmetadata.namespace == namespace);
    match existing {
        Some(mut r) => {
            let mut subs = subscriptions_of(&r);
            for mut s in given.subscriptions {
                if !subs
                    .iter()
                    .any(|have| have.event == s.event && have.filter == s.filter)
                {
                    s.id = ids::fresh();
                    subs.push(s);
                }
            }
            set_subscriptions(&mut r, &subs);
            r.metadata = metadata;
            r.last_seen = now;
            save(&app, &r).await?;
            Ok(Json(json!({"id": r.id})).into_response())
        }
        None => {
            let subs: Vec<Subscription> = given
                .subscriptions
                .into_iter()
                .map(|mut s| {
                    s.id = ids::fresh();
                    s
                })
                .collect();
            let mut r = UniformRegistration {
                id: integration_id(&given.name, &namespace, &hostname),
                name: given.name,
                metadata,
                subscriptions: Value::Null,
                last_seen: now,
            };
            set_subscriptions(&mut r, &subs);
            save(&app, &r).await?;
            Ok(created(json!({"id": r.id})))
        }
    }
}

/// `GET /uniform/registration?id&name&project&stage&service`.
async fn list_integrations(
    State(app): State<Arc<App>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = Params::from(query);
    let (id, name) = (p.text("id"), p.text("name"));
    let (project, stage, service) = (p.text("project"), p.text("stage"), p.text("service"));
    let all = app
        .store
        .registrations()
        .await
        .map_err(|e| ApiError::internal("cannot read registrations", &e))?;
    let admits = |subs: &[Subscription],
                  pick: fn(&SubscriptionFilter) -> &Option<Vec<String>>,
                  want: &Option<String>| {
        want.as_deref().is_none_or(|w| {
            subs.iter()
                .any(|s| SubscriptionFilter::admits(pick(&s.filter), w))
        })
    };
    let out: Vec<Value> = all
        .iter()
        .filter(|r| {
            let subs = subscriptions_of(r);
            id.as_deref().is_none_or(|i| r.id == i)
                && name.as_deref().is_none_or(|n| r.name == n)
                && admits(&subs, |f| &f.projects, &project)
                && admits(&subs, |f| &f.stages, &stage)
                && admits(&subs, |f| &f.services, &service)
        })
        .map(integration_view)
        .collect();
    Ok(Json(Value::Array(out)))
}

/// `DELETE /uniform/registration/{id}`.
async fn unregister(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let deleted = app
        .store
        .delete_registration(&id)
        .await
        .map_err(|e| store_error("cannot delete the registration", e));
    changed();
    deleted?;
    Ok(Json(json!({})))
}

/// `PUT /uniform/registration/{id}/ping`: records that the integration is alive and answers
/// it with its current subscriptions.
async fn ping(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app.store
        .touch_registration(&id, clock::now())
        .await
        .map_err(|e| match e {
            sluice_store::Error::NotFound { .. } => ApiError::not_found(format!(
                "integration not found: no registration with id {id}"
            )),
            other => ApiError::internal("cannot record the ping", &other),
        })?;
    Ok(Json(integration_view(&registration(&app, &id).await?)))
}

/// `GET /uniform/registration/{id}/subscription`.
async fn list_subscriptions(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let r = registration(&app, &id).await?;
    Ok(Json(json!(subscriptions_of(&r))))
}

/// `POST /uniform/registration/{id}/subscription` → 201 `{id}`.
async fn create_subscription(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let mut s: Subscription = parse_json(&body, "subscription", SUBSCRIPTION_OBJECTS)?;
    let _guard = WRITE_LOCK.lock().await;
    let mut r = registration(&app, &id).await?;
    validate(&s, r.name == "webhook-service")?;
    s.id = ids::fresh();
    let mut subs = subscriptions_of(&r);
    subs.push(s.clone());
    set_subscriptions(&mut r, &subs);
    save(&app, &r).await?;
    Ok(created(json!({"id": s.id})))
}

/// `GET /uniform/registration/{id}/subscription/{sid}`.
async fn get_subscription(
    State(app): State<Arc<App>>,
    Path((id, sid)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let r = registration(&app, &id).await?;
    subscriptions_of(&r)
        .into_iter()
        .find(|s| s.id == sid)
        .map(|s| Json(json!(s)))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "subscription not found: integration {id} has no subscription {sid}"
            ))
        })
}

/// `PUT /uniform/registration/{id}/subscription/{sid}`: replaces or adds → 201 `{id}`.
async fn put_subscription(
    State(app): State<Arc<App>>,
    Path((id, sid)): Path<(String, String)>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let mut s: Subscription = parse_json(&body, "subscription", SUBSCRIPTION_OBJECTS)?;
    let _guard = WRITE_LOCK.lock().await;
    let mut r = registration(&app, &id).await?;
    validate(&s, r.name == "webhook-service")?;
    s.id = sid.clone();
    let mut subs = subscriptions_of(&r);
    match subs.iter_mut().find(|have| have.id == sid) {
        Some(have) => *have = s,
        None => subs.push(s),
    }
    set_subscriptions(&mut r, &subs);
    save(&app, &r).await?;
    Ok(created(json!({"id": sid})))
}

/// `DELETE /uniform/registration/{id}/subscription/{sid}` (an unknown subscription id is not
/// an error, as in Keptn).
async fn delete_subscription(
    State(app): State<Arc<App>>,
    Path((id, sid)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let _guard = WRITE_LOCK.lock().await;
    let mut r = registration(&app, &id).await?;
    let mut subs = subscriptions_of(&r);
    subs.retain(|s| s.id != sid);
    set_subscriptions(&mut r, &subs);
    save(&app, &r).await?;
    Ok(Json(json!({})))
}

/// Keptn's `LogEntry`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LogEntry {
    /// The integration that logged.
    #[serde(default, deserialize_with = "null_as_default")]
    pub integrationid: String,
    /// What went wrong.
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
    /// When (RFC 3339; set to the receive time when empty).
    #[serde(default, deserialize_with = "null_as_default")]
    pub time: String,
    /// The task concerned.
    #[serde(default, deserialize_with = "null_as_default")]
    pub task: String,
    /// The run concerned.
    #[serde(default, deserialize_with = "null_as_default")]
    pub shkeptncontext: String,
    /// The `.triggered` event concerned.
    #[serde(default, deserialize_with = "null_as_default")]
    pub triggeredid: String,
    /// The configuration commit.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub gitcommitid: String,
}

impl LogEntry {
    /// An entry names its integration and says something; ids have no control characters
    /// (the message may have line breaks and tabs).
    fn check(&self, index: usize) -> Result<(), ApiError> {
        let what = format!("log entry {index}");
        if self.integrationid.is_empty() || self.message.trim().is_empty() {
            return Err(ApiError::bad_request(format!(
                "invalid {what}: an entry needs an integrationid and a message"
            )));
        }
        for (field, value) in [
            ("integrationid", &self.integrationid),
            ("task", &self.task),
            ("shkeptncontext", &self.shkeptncontext),
            ("triggeredid", &self.triggeredid),
            ("gitcommitid", &self.gitcommitid),
        ] {
            check_text(&what, field, value, true)?;
        }
        let text: String = self
            .message
            .chars()
            .filter(|c| !matches!(c, '\n' | '\r' | '\t'))
            .collect();
        check_text(&what, "message", &text, false)
    }
}

impl LogEntry {
    fn at(&self) -> Timestamp {
        Timestamp::parse(&self.time).unwrap_or(Timestamp::from_unix(0, 0))
    }
}

async fn load_logs(app: &App) -> Result<Vec<LogEntry>, ApiError> {
    let stored = app
        .store
        .setting(LOGS_KEY)
        .await
        .map_err(|e| ApiError::internal("cannot read the logs", &e))?;
    Ok(stored
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default())
}

async fn save_logs(app: &App, logs: &[LogEntry]) -> Result<(), ApiError> {
    let value =
        serde_json::to_value(logs).map_err(|e| ApiError::internal("cannot write the logs", &e))?;
    app.store
        .commit(Changes {
            settings_set: vec![(LOGS_KEY.to_owned(), value)],
            ..Changes::default()
        })
        .await
        .map(|_| ())
        .map_err(|e| ApiError::internal("cannot store the logs", &e))
}

/// Whether an entry matches `integrationId`, `fromTime` (after) and `beforeTime` (before).
fn log_filter(p: &Params) -> Result<impl Fn(&LogEntry) -> bool, ApiError> {
    let integration = p.text("integrationId");
    let (from, before) = (p.time("fromTime")?, p.time("beforeTime")?);
    Ok(move |e: &LogEntry| {
        integration.as_deref().is_none_or(|i| e.integrationid == i)
            && from.is_none_or(|t| e.at() > t)
            && before.is_none_or(|t| e.at() < t)
    })
}

/// `POST /log` with `{"logs": [...]}`.
async fn create_logs(
    State(app): State<Arc<App>>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    #[derive(Deserialize)]
    struct CreateLogs {
        #[serde(default, deserialize_with = "null_as_default")]
        logs: Vec<LogEntry>,
    }
    let given: CreateLogs = parse_json(&body, "log request", &["/logs/*"])?;
    let now = clock::now();
    let mut new = Vec::with_capacity(given.logs.len());
    for (index, mut entry) in given.logs.into_iter().enumerate() {
        entry.check(index)?;
        // As Keptn: an unset time (empty, or Go's zero time, which go-utils' log forwarder
        // always sends) is the receive time.
        let at = if entry.time.is_empty() {
            now
        } else {
            Timestamp::parse(&entry.time)
                .map_err(|e| ApiError::bad_request(format!("invalid log time: {e}")))?
        };
        entry.time = if at.is_go_zero() { now } else { at }.to_rfc3339_nano();
        new.push(entry);
    }
    let _guard = WRITE_LOCK.lock().await;
    let mut logs = load_logs(&app).await?;
    logs.extend(new);
    if logs.len() > MAX_LOG_ENTRIES {
        let excess = logs.len() - MAX_LOG_ENTRIES;
        logs.drain(..excess);
    }
    save_logs(&app, &logs).await?;
    Ok(Json(json!({})))
}

/// `GET /log?integrationId&fromTime&beforeTime&pageSize&nextPageKey`, newest first.
async fn list_logs(
    State(app): State<Arc<App>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = Params::from(query);
    let keep = log_filter(&p)?;
    let (size, offset) = p.page_window(MAX_LOG_PAGE)?;
    let mut logs: Vec<LogEntry> = load_logs(&app)
        .await?
        .into_iter()
        .filter(|e| keep(e))
        .collect();
    logs.reverse();
    let total = logs.len();
    let page: Vec<LogEntry> = logs.into_iter().skip(offset).take(size).collect();
    let mut body = json!({"logs": page, "pageSize": size, "totalCount": total});
    if let Some(next) = next_offset(offset, size, total) {
        body["nextPageKey"] = json!(next);
    }
    Ok(Json(body))
}

/// `DELETE /log?integrationId&fromTime&beforeTime`.
async fn delete_logs(
    State(app): State<Arc<App>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let p = Params::from(query);
    let matches = log_filter(&p)?;
    let _guard = WRITE_LOCK.lock().await;
    let mut logs = load_logs(&app).await?;
    logs.retain(|e| !matches(e));
    save_logs(&app, &logs).await?;
    Ok(Json(json!({})))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testkit::{self, call};

    const BASE: &str = "/api/controlPlane/v1/uniform/registration";

    fn job_executor(version: &str, subscriptions: Value) -> Value {
        json!({
            "name": "job-executor-service",
            "metadata": {
                "hostname": "node-1",
                "integrationversion": version,
                "distributorversion": "0.3.0",
                "location": "remote",
                "kubernetesmetadata": {"namespace": "keptn-jes", "podname": "jes-1", "deploymentname": "jes"}
            },
            "subscriptions": subscriptions
        })
    }

    #[test]
    fn id_is_keptns_sha1() {
        // echo -n "job-executor-service-keptn-jes-node-1" | sha1sum
        assert_eq!(
            integration_id("job-executor-service", "keptn-jes", "node-1"),
            "2675fc424fb48b64366953c3307e2dab33ada101"
        );
        assert_ne!(integration_id("a", "b", "c"), integration_id("a", "b", "d"));
    }

    #[tokio::test]
    async fn register_ping_and_subscription_round_trip() {
        let (_app, router) = testkit::app().await;
        let first = json!([{"event": "sh.keptn.event.test.triggered", "filter": {"projects": ["shop"], "stages": null, "services": null}}]);
        let (status, body) = call(
            &router,
            "POST",
            BASE,
            Some(job_executor("0.3.0", first.clone())),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        assert_eq!(
            id,
            integration_id("job-executor-service", "keptn-jes", "node-1")
        );

        // Registering again keeps the id and the subscriptions, adds new ones: 200.
        let second = json!([
            {"event": "sh.keptn.event.test.triggered", "filter": {"projects": ["shop"], "stages": null, "services": null}},
            {"event": "sh.keptn.event.deployment.triggered", "filter": {"projects": null, "stages": ["dev"], "services": ["carts"]}}
        ]);
        let (status, body) = call(&router, "POST", BASE, Some(job_executor("0.3.1", second))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["id"], id.as_str());

        let (status, body) = call(&router, "PUT", &format!("{BASE}/{id}/ping"), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["name"], "job-executor-service");
        assert_eq!(body["metadata"]["integrationversion"], "0.3.1");
        assert!(
            body["metadata"]["lastseen"]
                .as_str()
                .unwrap()
                .ends_with('Z')
        );
        let subs = body["subscriptions"].as_array().unwrap();
        assert_eq!(subs.len(), 2);
        assert!(subs.iter().all(|s| s["id"].as_str().unwrap().len() == 36));

        // Registry queries.
        let list = |q: &str| {
            let router = router.clone();
            let uri = format!("{BASE}{q}");
            async move {
                let (status, body) = call(&router, "GET", &uri, None).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                body.as_array().unwrap().len()
            }
        };
        // The server's own webhook-service integration is listed too.
        assert_eq!(list("").await, 2);
        assert_eq!(list(&format!("?id={id}")).await, 1);
        assert_eq!(list("?name=webhook-service").await, 1);
        assert_eq!(list("?project=shop").await, 1);
        assert_eq!(
            list("?project=other").await,
            1,
            "the second subscription has no project filter"
        );
        assert_eq!(
            list("?stage=prod").await,
            1,
            "the first has no stage filter"
        );
        assert_eq!(list("?service=carts").await, 1);

        // Subscriptions.
        let subs_uri = format!("{BASE}/{id}/subscription");
        let (status, body) = call(
            &router,
            "POST",
            &subs_uri,
            Some(json!({"event": "sh.keptn.event.evaluation.triggered", "filter": {"projects": ["shop"]}})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let sid = body["id"].as_str().unwrap().to_owned();
        let (_, body) = call(&router, "GET", &subs_uri, None).await;
        assert_eq!(body.as_array().unwrap().len(), 3);
        let one = format!("{subs_uri}/{sid}");
        let (status, body) = call(&router, "GET", &one, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["event"], "sh.keptn.event.evaluation.triggered");
        let (status, body) = call(
            &router,
            "PUT",
            &one,
            Some(json!({"event": "sh.keptn.event.release.triggered", "filter": {}})),
        )
        .await;
        assert_eq!(
            (status, body["id"].as_str()),
            (StatusCode::CREATED, Some(sid.as_str()))
        );
        let (_, body) = call(&router, "GET", &one, None).await;
        assert_eq!(body["event"], "sh.keptn.event.release.triggered");
        let (status, _) = call(&router, "DELETE", &one, None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = call(&router, "GET", &one, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Invalid subscriptions.
        for bad in [
            json!({"event": ""}),
            json!({"event": "x", "filter": {"services": ["carts"]}}),
        ] {
            let (status, body) = call(&router, "POST", &subs_uri, Some(bad)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        }

        // Unregister.
        let (status, _) = call(&router, "DELETE", &format!("{BASE}/{id}"), None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = call(&router, "PUT", &format!("{BASE}/{id}/ping"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        let (status, _) = call(&router, "GET", &subs_uri, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            list("").await,
            1,
            "only the built-in webhook-service is left"
        );
    }

    #[tokio::test]
    async fn webhook_subscriptions_name_exactly_one_project() {
        let (_app, router) = testkit::app().await;
        let hook = |projects: Value| {
            json!({"name": "webhook-service", "metadata": {"hostname": "h", "kubernetesmetadata": {"namespace": "keptn"}},
                   "subscriptions": [{"event": "sh.keptn.event.test.triggered", "filter": {"projects": projects}}]})
        };
        let (status, body) = call(&router, "POST", BASE, Some(hook(json!(null)))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            body["message"],
            "webhook should refer to exactly one project"
        );
        let (status, _) = call(&router, "POST", BASE, Some(hook(json!(["a", "b"])))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = call(&router, "POST", BASE, Some(hook(json!(["a"])))).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) = call(&router, "POST", BASE, Some(json!({"metadata": {}}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a name is needed");
    }

    #[tokio::test]
    async fn error_logs_are_kept_filtered_paged_and_deleted() {
        let (_app, router) = testkit::app().await;
        let entry = |id: &str, minute: u32| {
            json!({"integrationid": id, "message": format!("failed at {minute}"),
                   "time": format!("2021-01-01T10:{minute:02}:00.000Z"), "task": "deployment",
                   "shkeptncontext": "ctx", "triggeredid": "t"})
        };
        let logs: Vec<Value> = (0..5)
            .map(|m| entry(if m % 2 == 0 { "a" } else { "b" }, m))
            .collect();
        let (status, body) = call(
            &router,
            "POST",
            "/api/controlPlane/v1/log",
            Some(json!({"logs": logs})),
        )
        .await;
        assert_eq!((status, body), (StatusCode::OK, json!({})));
        let (status, _) = call(
            &router,
            "POST",
            "/api/controlPlane/v1/log",
            Some(json!({"logs": [{"integrationid": "a", "time": "noon"}]})),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let get = |q: &str| {
            let router = router.clone();
            let uri = format!("/api/controlPlane/v1/log{q}");
            async move {
                let (status, body) = call(&router, "GET", &uri, None).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                body
            }
        };
        let body = get("").await;
        assert_eq!(body["totalCount"], 5);
        assert_eq!(body["logs"][0]["message"], "failed at 4", "newest first");
        assert_eq!(get("?integrationId=a").await["totalCount"], 3);
        assert_eq!(
            get("?fromTime=2021-01-01T10:01:00Z&beforeTime=2021-01-01T10:04:00Z").await["totalCount"],
            2
        );
        let body = get("?pageSize=2&nextPageKey=2").await;
        assert_eq!(body["logs"][0]["message"], "failed at 2");
        assert_eq!(body["nextPageKey"], 4);

        let (status, _) = call(
            &router,
            "DELETE",
            "/api/controlPlane/v1/log?integrationId=b",
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(get("").await["totalCount"], 3);
        let (status, _) = call(&router, "GET", "/api/controlPlane/v1/log?fromTime=x", None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn go_zero_log_time_becomes_the_receive_time() {
        // go-utils' log forwarder never sets LogEntry.Time: Go sends its zero time.
        let (_app, router) = testkit::app().await;
        let (status, _) = call(
            &router,
            "POST",
            "/api/controlPlane/v1/log",
            Some(json!({"logs": [{"integrationid": "a", "message": "m",
                "time": "0001-01-01T00:00:00Z", "shkeptncontext": "c", "task": "t",
                "triggeredid": "x", "gitcommitid": ""}]})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (_, body) = call(&router, "GET", "/api/controlPlane/v1/log", None).await;
        let time = body["logs"][0]["time"].as_str().unwrap().to_owned();
        assert!(!time.starts_with("0001"), "{time}");
        let (_, body) = call(
            &router,
            "GET",
            "/api/controlPlane/v1/log?fromTime=2000-01-01T00:00:00Z",
            None,
        )
        .await;
        assert_eq!(body["totalCount"], 1, "{body}");
    }

    #[tokio::test]
    async fn uniform_registration_keeps_keptns_typed_metadata_and_refuses_malformed_input() {
        let (app, router) = testkit::app().await;
        let mut given = job_executor(
            "0.3.0",
            json!([{"event": "sh.keptn.event.test.triggered", "filter": null}]),
        );
        given["metadata"]["extra"] = json!({"nested": {"deep": true}});
        given["metadata"]["kubernetesmetadata"]["unknown"] = json!(1);
        given["metadata"]["distributorversion"] = Value::Null;
        given["metadata"]["lastseen"] = json!("yesterday");
        let (status, body) = call(&router, "POST", BASE, Some(given)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().unwrap().to_owned();
        let stored = app.store.registration(&id).await.unwrap();
        assert_eq!(
            stored.metadata,
            json!({"hostname": "node-1", "integrationversion": "0.3.0", "distributorversion": "",
                   "location": "remote",
                   "kubernetesmetadata": {"namespace": "keptn-jes", "podname": "jes-1", "deploymentname": "jes"}}),
            "only Keptn's keys, null as empty"
        );
        let (_, view) = call(&router, "PUT", &format!("{BASE}/{id}/ping"), None).await;
        assert_ne!(view["metadata"]["lastseen"], "yesterday");

        let registrations = || app.store.registrations();
        let before = registrations().await.unwrap().len();
        for (bad, message) in [
            (
                json!([]),
                "invalid integration: the body must be a JSON object, not an array",
            ),
            (
                json!({"name": "x", "metadata": []}),
                "invalid integration: metadata must be an object, not an array",
            ),
            (
                json!({"name": "x", "metadata": {"kubernetesmetadata": [[]]}}),
                "invalid integration: metadata.kubernetesmetadata must be an object, not an array",
            ),
            (
                json!({"name": "x", "subscriptions": [[]]}),
                "invalid integration: subscriptions[0] must be an object, not an array",
            ),
            (
                json!({"name": "x", "subscriptions": [{"event": "e", "filter": []}]}),
                "invalid integration: subscriptions[0].filter must be an object, not an array",
            ),
            (
                json!({"name": "x", "metadata": {"integrationversion": 3}}),
                "",
            ),
            (
                json!({"name": "job\u{7}executor"}),
                "invalid integration: name contains a control character (U+0007); remove it",
            ),
            (
                json!({"name": "job executor"}),
                "invalid integration: name contains white space (U+0020); remove it",
            ),
            (
                json!({"name": "x", "metadata": {"hostname": "a\nb"}}),
                "invalid integration: metadata.hostname contains a control character (U+000A); remove it",
            ),
            (
                json!({"name": "x", "subscriptions": [{"event": "sh.keptn.event.test\u{0}.triggered"}]}),
                "invalid subscription: event contains a control character (U+0000); remove it",
            ),
            (
                json!({"name": "x", "subscriptions": [{"event": "sh.keptn.event.test.triggered", "filter": {"projects": ["a\tb"]}}]}),
                "invalid subscription: filter.projects contains a control character (U+0009); remove it",
            ),
        ] {
            let (status, body) = call(&router, "POST", BASE, Some(bad.clone())).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
            if !message.is_empty() {
                assert_eq!(body["message"], message, "{bad}");
            }
        }
        assert_eq!(
            registrations().await.unwrap().len(),
            before,
            "nothing stored"
        );

        let subs_uri = format!("{BASE}/{id}/subscription");
        for bad in [
            json!([]),
            json!({"event": "a b"}),
            json!({"event": "e", "filter": [[]]}),
        ] {
            let (status, body) = call(&router, "POST", &subs_uri, Some(bad.clone())).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        }
        let (_, subs) = call(&router, "GET", &subs_uri, None).await;
        assert_eq!(subs.as_array().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn log_entries_must_be_objects_with_an_integration_and_a_message() {
        let (_app, router) = testkit::app().await;
        const LOG: &str = "/api/controlPlane/v1/log";
        for (bad, message) in [
            (
                json!([]),
                "invalid log request: the body must be a JSON object, not an array",
            ),
            (
                json!({"logs": [[]]}),
                "invalid log request: logs[0] must be an object, not an array",
            ),
            (
                json!({"logs": {}}),
                "invalid log request: logs must be an array, not an object",
            ),
            (
                json!({"logs": [{}]}),
                "invalid log entry 0: an entry needs an integrationid and a message",
            ),
            (
                json!({"logs": [{"integrationid": "a", "message": "ok"}, {"integrationid": "a", "message": " "}]}),
                "invalid log entry 1: an entry needs an integrationid and a message",
            ),
            (
                json!({"logs": [{"integrationid": "a\u{1b}", "message": "m"}]}),
                "invalid log entry 0: integrationid contains a control character (U+001B); remove it",
            ),
        ] {
            let (status, body) = call(&router, "POST", LOG, Some(bad.clone())).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
            assert_eq!(body["message"], message, "{bad}");
        }
        let (_, body) = call(&router, "GET", LOG, None).await;
        assert_eq!(body["totalCount"], 0, "nothing stored: {body}");

        let (status, _) = call(
            &router,
            "POST",
            LOG,
            Some(json!({"logs": [{"integrationid": "a", "message": "line 1\nline 2\tend", "task": null}]})),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = call(&router, "POST", LOG, Some(json!({"logs": null}))).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "no entries: nothing to do, as in Keptn"
        );
        let (_, body) = call(&router, "GET", LOG, None).await;
        assert_eq!(body["totalCount"], 1);
    }
}
