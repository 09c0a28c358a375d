//! The built-in webhook service: Keptn's webhook-service, sending HTTP requests itself (no curl
//! process, no shell) through the shared client and its outbound rules.
//!
//! # How a project enables it
//!
//! As in Keptn: the server registers the integration `webhook-service` (id
//! [`integration_id`]) in the uniform; a subscription of that integration (event type, NATS
//! wildcards allowed, filter naming exactly one project, optionally stages and services) is
//! created through `POST /api/controlPlane/v1/uniform/registration/{id}/subscription`, and
//! `webhook/webhook.yaml` holds a webhook whose `subscriptionID` is that subscription's id. The
//! file alone does nothing.
//!
//! # What it does (Keptn's `handler.go`)
//!
//! For every stored event matched by one of its subscriptions (never its own events):
//! - the event's data must name project, stage and service, else nothing happens;
//! - the webhook is looked up in `webhook/webhook.yaml` at the service, then stage, then
//!   project level, at the event's `gitcommitid`; a file with errors is skipped (logged);
//!   none found: for a `<task>.triggered` event, `.started` and `.finished` with `result: fail`,
//!   `status: errored`, "could not retrieve Webhook config: no valid webhook config found";
//! - only `<task>.triggered` events are answered. `sendStarted` (default true) with
//!   `sendFinished` sends one `.started`; without `sendFinished` (the default) one `.started`
//!   per request, and the receiver sends the `.finished` events itself;
//! - `envFrom` secrets (sluice's secrets store: secret name and key) become `.env.<name>`;
//! - each request is rendered (placeholders over the whole CloudEvent plus `.env`, a missing
//!   key failing with the key's name) and sent; an answer's body is a JSON object when it is
//!   one, else a string;
//! - with `sendFinished`, `.finished` carries `{project, stage, service, labels, <task>:
//!   {responses: [...]}}` plus `result: pass`, `status: succeeded` (what Keptn's SDK adds);
//! - on an error the remaining requests are skipped and the task gets `.finished` with
//!   `result: fail`, `status: errored` and the message (secret values replaced by `***`): once
//!   with `sendFinished`, else once per request not yet sent.
//!
//! # Beyond Keptn
//!
//! Each attempt has a time limit of [`TIMEOUT`]; an idempotent request (GET, HEAD, PUT,
//! DELETE) is tried again up to [`RETRIES`] times, after [`BACKOFF`] and then twice that, on a
//! connection error, a timeout, HTTP 429 or 5xx. An answer over [`MAX_RESPONSE_BYTES`] fails
//! the request; so does HTTP ≥ 400 (Keptn's curl ran with `--fail-with-body`) and a redirect
//! (never followed). The URL must be http or https without credentials in it, and a header
//! value may not contain a line break. Secret values are also replaced by `***` in the
//! responses stored in `.finished`. A task answered once is not sent again after a restart
//! (its stored `.started` or `.finished` shows it was handled); one cut off between its
//! `.started` and its `.finished` (with `sendFinished`) is settled as errored by the next
//! server that runs the service ([`WebhookService::settle_interrupted`]), where Keptn left
//! it open.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};
use sluice_model::event::{ContentTypeKey, EventType, KeptnEvent, TaskEventKind};
use sluice_model::webhook::{self, Request, Webhook};
use sluice_resources::{ResourceError, ResourceStore, Scope};
use sluice_store::{Store, UniformRegistration};

use crate::api::uniform::{self, Subscription};
use crate::net::http::{self, Method};
use crate::runtime::bus::Bus;
use crate::runtime::driver::DriverHandle;
use crate::services::feed::Feed;

/// The `source` of the events this service sends, and its integration's name.
pub const SOURCE: &str = "webhook-service";

/// The host name in the built-in integration's id.
pub const INTEGRATION_HOST: &str = "sluice";

/// Time limit of one attempt of one request.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How many times an idempotent request is tried again.
pub const RETRIES: u32 = 2;

/// The wait before the first retry (doubled for each further one).
pub const BACKOFF: Duration = Duration::from_millis(500);

/// The largest answer read from a webhook receiver.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The largest part of an error answer quoted in a task's message.
const MAX_QUOTED_BYTES: usize = 4096;

/// The id of the built-in `webhook-service` integration (Keptn's id rule).
pub fn integration_id() -> String {
    uniform::integration_id(SOURCE, "", INTEGRATION_HOST)
}

/// Registers the integration (before the server answers any request, so that the registry
/// shows it from the start) and starts following the bus.
pub async fn start(
    bus: &Bus,
    driver: DriverHandle,
    store: Arc<Store>,
    resources: Arc<ResourceStore>,
    http: http::Client,
) {
    let feed = Feed::new(bus.subscribe(), driver.clone(), store.clone(), None, SOURCE);
    let service = Arc::new(WebhookService {
        driver,
        store,
        resources,
        http: http.with_body_limit(MAX_RESPONSE_BYTES),
        subscriptions: Mutex::new(None),
        handled: Mutex::new(HashSet::new()),
    });
    if let Err(e) = service.register().await {
        tracing::error!(error = %e, "cannot register the webhook-service integration");
    }
    // Once the engine is restored: tasks cut off after their `.started` are settled.
    let settler = service.clone();
    tokio::spawn(async move {
        settler.driver.restored().await;
        settler.settle_interrupted().await;
    });
    tokio::spawn(service.run(feed));
}

/// The service's state.
pub struct WebhookService {
    driver: DriverHandle,
    store: Arc<Store>,
    resources: Arc<ResourceStore>,
    http: http::Client,
    /// The subscriptions as read at a registry generation.
    subscriptions: Mutex<Option<(u64, Vec<Subscription>)>>,
    /// (event id, subscription id) pairs already taken in this process.
    handled: Mutex<HashSet<(String, String)>>,
}

/// At most this many handled pairs are remembered (then the memory starts over; the store
/// check still prevents answering twice).
const MAX_REMEMBERED: usize = 10_000;

impl WebhookService {
    /// Creates the integration if it is missing (its subscriptions are kept otherwise).
    async fn register(&self) -> Result<(), sluice_store::Error> {
        let id = integration_id();
        let now = crate::runtime::clock::now();
        match self.store.registration(&id).await {
            Ok(_) => self.store.touch_registration(&id, now).await?,
            Err(sluice_store::Error::NotFound { .. }) => {
                self.store
                    .upsert_registration(&UniformRegistration {
                        id,
                        name: SOURCE.to_owned(),
                        metadata: json!({
                            "hostname": INTEGRATION_HOST,
                            "integrationversion": env!("CARGO_PKG_VERSION"),
                            "distributorversion": "",
                            "location": "control-plane",
                            "kubernetesmetadata": {"namespace": "", "podname": "", "deploymentname": ""},
                        }),
                        subscriptions: json!([]),
                        last_seen: now,
                    })
                    .await?
            }
            Err(e) => return Err(e),
        }
        uniform::changed();
        Ok(())
    }

    async fn run(self: Arc<Self>, mut feed: Feed) {
        while let Some(event) = feed.recv().await {
            if event.source.as_deref() == Some(SOURCE) {
                continue;
            }
            let Some(id) = event.id.clone().filter(|i| !i.is_empty()) else {
                continue;
            };
            for sid in self.matching(&event).await {
                {
                    let mut handled = self.handled.lock().unwrap_or_else(|p| p.into_inner());
                    if handled.len() >= MAX_REMEMBERED {
                        handled.clear();
                    }
                    if !handled.insert((id.clone(), sid.clone())) {
                        continue;
                    }
                }
                let me = self.clone();
                let event = event.clone();
                tokio::spawn(async move {
                    let prefix = answer_prefix(&sid);
                    let (work_me, work_event) = (me.clone(), event.clone());
                    let work = async move { work_me.handle(&work_event, &sid).await };
                    super::guard(
                        &me.driver,
                        &event,
                        SOURCE,
                        &prefix,
                        super::Claim::Always,
                        work,
                    )
                    .await;
                });
            }
        }
    }

    /// The ids of the subscriptions that match `event`.
    async fn matching(&self, event: &KeptnEvent) -> Vec<String> {
        let subscriptions = self.subscriptions().await;
        if subscriptions.is_empty() {
            return Vec::new();
        }
        let event_type = event.event_type.as_deref().unwrap_or("");
        let data = event.data_value();
        let field = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("");
        subscriptions
            .into_iter()
            .filter(|s| nats_match(&s.event, event_type))
            .filter(|s| {
                admits(&s.filter.projects, field("project"))
                    && admits(&s.filter.stages, field("stage"))
                    && admits(&s.filter.services, field("service"))
            })
            .map(|s| s.id)
            .collect()
    }

    /// The integration's subscriptions, as read at the current registry generation.
    async fn subscriptions(&self) -> Vec<Subscription> {
        let generation = uniform::generation();
        let cached = {
            let guard = self.subscriptions.lock().unwrap_or_else(|p| p.into_inner());
            guard
                .as_ref()
                .filter(|(g, _)| *g == generation)
                .map(|(_, s)| s.clone())
        };
        match cached {
            Some(s) => s,
            None => {
                let read = match self.store.registration(&integration_id()).await {
                    Ok(r) => serde_json::from_value::<Vec<Subscription>>(r.subscriptions)
                        .unwrap_or_default(),
                    Err(sluice_store::Error::NotFound { .. }) => Vec::new(),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the webhook subscriptions");
                        return Vec::new();
                    }
                };
                *self.subscriptions.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((generation, read.clone()));
                read
            }
        }
    }

    /// Handles one event for one subscription (see the module documentation).
    async fn handle(&self, event: &KeptnEvent, sid: &str) -> Result<(), String> {
        let data = event.data_value();
        let field = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let (project, stage, service) = (field("project"), field("stage"), field("service"));
        let event_id = event.id.clone().unwrap_or_default();
        if project.is_empty() || stage.is_empty() || service.is_empty() {
            tracing::warn!(event = %event_id, "webhook-service: project, stage and service must be present in the event data");
            return Ok(());
        }
        let task = event.triggered_task();
        let prefix = answer_prefix(sid);
        if task.is_some() && self.answered_before(&event_id, &prefix).await {
            return Ok(());
        }
        let reply = Reply::new(self, event, task.as_deref(), &prefix);
        let commit = event.gitcommitid.clone().filter(|c| !c.is_empty());
        let webhook = match self.lookup(&project, &stage, &service, commit, sid).await {
            Some(w) => w,
            None => {
                let message =
                    "could not retrieve Webhook config: no valid webhook config found".to_owned();
                reply.started(None).await?;
                reply.failed(&message, &[None]).await?;
                return Ok(());
            }
        };
        let n = webhook.requests.len();
        // Which answers each outcome has: one pair with `sendFinished`, else one per request.
        let slots: Vec<Option<usize>> = if webhook.send_finished {
            vec![None]
        } else {
            (0..n).map(Some).collect()
        };
        if webhook.send_started {
            for slot in &slots {
                reply.started(*slot).await?;
            }
        }
        let (env, secrets) = match self.secrets(&webhook).await {
            Ok(found) => found,
            Err(message) => {
                return reply.failed(&message, &slots).await;
            }
        };
        let mut template_data = event.to_value(ContentTypeKey::default());
        if let Value::Object(map) = &mut template_data {
            map.insert("env".into(), Value::Object(env));
        }
        let mut responses = Vec::new();
        for (i, request) in webhook.requests.iter().enumerate() {
            match self.send(request, &template_data).await {
                Ok(response) => responses.push(redact_value(response, &secrets)),
                Err(message) => {
                    let message = redact(&message, &secrets);
                    let rest = if webhook.send_finished {
                        &slots[..]
                    } else {
                        &slots[i..]
                    };
                    return reply.failed(&message, rest).await;
                }
            }
        }
        if let (Some(task), true) = (task.as_deref(), webhook.send_finished) {
            let mut data = reply.base.clone();
            data[task] = json!({ "responses": responses });
            data["result"] = json!("pass");
            data["status"] = json!("succeeded");
            reply.send("finished", None, data).await?;
        }
        Ok(())
    }

    /// Settles the tasks this service was answering when its server stopped (a restart, or
    /// on a cluster the death of the leader): open tasks with a subscription's `.started` and
    /// without its `.finished`, whose webhook sends the `.finished` itself (`sendFinished`),
    /// and which this process is not handling. Whether the requests reached their receiver
    /// is unknown, and a request is never sent twice, so the task gets `.finished` with
    /// `result: fail`, `status: errored` and a message saying so, instead of staying open.
    /// Runs once the driver has restored the engine ([`DriverHandle::restored`]); returns how
    /// many tasks it settled.
    pub async fn settle_interrupted(self: Arc<Self>) -> usize {
        let mut settled = 0;
        if self.subscriptions().await.is_empty() {
            return settled;
        }
        for task in self.driver.open_tasks(None) {
            if !task.answered {
                continue;
            }
            let id = task.triggered_id;
            let event = match self.store.event(&id).await {
                Ok(Some(event)) => event,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(error = %e, event = %id, "webhook-service: cannot read an open task");
                    continue;
                }
            };
            let Some(name) = event.triggered_task() else {
                continue;
            };
            for sid in self.matching(&event).await {
                let prefix = answer_prefix(&sid);
                if !super::cut_off(&self.store, &id, &prefix).await
                    || self
                        .handled
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .contains(&(id.clone(), sid.clone()))
                {
                    continue;
                }
                let commit = event.gitcommitid.clone().filter(|c| !c.is_empty());
                let sends_finished = self
                    .lookup(&task.project, &task.stage, &task.service, commit, &sid)
                    .await
                    .is_some_and(|w| w.send_finished);
                if !sends_finished {
                    continue;
                }
                let reply = Reply::new(&self, &event, Some(&name), &prefix);
                if reply.failed(INTERRUPTED, &[None]).await.is_ok() {
                    settled += 1;
                }
            }
        }
        settled
    }

    /// Whether this subscription's answer to the task is stored already (handled before a
    /// restart or by an earlier delivery).
    async fn answered_before(&self, event_id: &str, prefix: &str) -> bool {
        for what in [
            format!("{prefix}.started"),
            format!("{prefix}.started.0"),
            format!("{prefix}.finished"),
            format!("{prefix}.finished.0"),
        ] {
            if matches!(
                super::answer_stored(&self.store, event_id, &what).await,
                Ok(true)
            ) {
                return true;
            }
        }
        false
    }

    /// The webhook of `sid` at the service, stage, then project level.
    async fn lookup(
        &self,
        project: &str,
        stage: &str,
        service: &str,
        commit: Option<String>,
        sid: &str,
    ) -> Option<Webhook> {
        let (r, p, st, sv, sid) = (
            self.resources.clone(),
            project.to_owned(),
            stage.to_owned(),
            service.to_owned(),
            sid.to_owned(),
        );
        tokio::task::spawn_blocking(move || {
            let scopes = [
                ("service", Scope::service(&p, &st, &sv)),
                ("stage", Scope::stage(&p, &st)),
                ("project", Scope::project(&p)),
            ];
            for (level, scope) in scopes {
                let text = match r.get_resource(scope, webhook::URI, commit.as_deref()) {
                    Ok(res) => String::from_utf8_lossy(&res.content).into_owned(),
                    Err(ResourceError::ResourceNotFound) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, level, "cannot read webhook/webhook.yaml");
                        continue;
                    }
                };
                let parsed = webhook::parse(&text);
                let config = match parsed.value {
                    Some(c) if !parsed.diagnostics.has_errors() => c,
                    _ => {
                        tracing::warn!(
                            level,
                            "found a malformed webhook configuration:\n{}",
                            parsed.diagnostics.render(webhook::URI).trim_end()
                        );
                        continue;
                    }
                };
                if let Some(w) = config.webhook(&sid) {
                    return Some(w.clone());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
    }

    /// `.env` from `envFrom`, and the secret values (to redact).
    async fn secrets(
        &self,
        webhook: &Webhook,
    ) -> Result<(Map<String, Value>, Vec<String>), String> {
        let mut env = Map::new();
        let mut values = Vec::new();
        let mut read: HashMap<String, std::collections::BTreeMap<String, String>> = HashMap::new();
        for entry in &webhook.env_from {
            if !read.contains_key(&entry.secret) {
                match self.store.secret(&entry.secret).await {
                    Ok(data) => {
                        read.insert(entry.secret.clone(), data);
                    }
                    Err(sluice_store::Error::NotFound { .. }) => {
                        return Err(format!(
                            "could not read secret {}.{}: secret `{}` does not exist",
                            entry.secret, entry.key, entry.secret
                        ));
                    }
                    Err(e) => {
                        return Err(format!(
                            "could not read secret {}.{}: {e}",
                            entry.secret, entry.key
                        ));
                    }
                }
            }
            let value = read
                .get(&entry.secret)
                .and_then(|d| d.get(&entry.key))
                .ok_or_else(|| {
                    format!(
                        "could not read secret {}.{}: the secret has no key `{}`",
                        entry.secret, entry.key, entry.key
                    )
                })?;
            if !value.is_empty() {
                values.push(value.clone());
            }
            env.insert(entry.name.clone(), Value::String(value.clone()));
        }
        Ok((env, values))
    }

    /// Renders and sends one request (with retries); its answer as Keptn stored it.
    async fn send(&self, request: &Request, data: &Value) -> Result<Value, String> {
        let described = format!("{} {}", request.method.as_str(), request.url);
        let fail = |e: String| format!("could not parse request '{described}' : {e}");
        let url = request.url.render(data).map_err(|e| fail(e.to_string()))?;
        let mut headers = Vec::new();
        for (name, value) in &request.headers {
            let name = name.render(data).map_err(|e| fail(e.to_string()))?;
            let value = value.render(data).map_err(|e| fail(e.to_string()))?;
            let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
            if name.is_empty() || !name.chars().all(token) {
                return Err(fail(format!(
                    "`{name}` is not a valid header name after its placeholders were filled in"
                )));
            }
            if value.contains(['\r', '\n', '\0']) {
                return Err(fail(format!(
                    "the value of header `{name}` contains a line break after its placeholders were filled in"
                )));
            }
            headers.push((name, value));
        }
        let body = match &request.body {
            Some(b) => Some(b.render(data).map_err(|e| fail(e.to_string()))?),
            None => None,
        };
        let user = match &request.basic_auth {
            Some(u) => Some(u.render(data).map_err(|e| fail(e.to_string()))?),
            None => None,
        };
        if let Ok(parsed) = reqwest::Url::parse(&url)
            && (!parsed.username().is_empty() || parsed.password().is_some())
        {
            return Err(fail(
                "the URL contains credentials; send them in a header or with curl's -u instead"
                    .to_owned(),
            ));
        }
        let failed = |e: String| format!("could not execute request '{described}': {e}");
        let method = match request.method {
            webhook::Method::Get => Method::Get,
            webhook::Method::Head => Method::Head,
            webhook::Method::Post => Method::Post,
            webhook::Method::Put => Method::Put,
            webhook::Method::Patch => Method::Patch,
            webhook::Method::Delete => Method::Delete,
        };
        let mut attempt = 0;
        loop {
            let mut req = self.http.request(method, &url).timeout(TIMEOUT);
            for (name, value) in &headers {
                req = req.header(name, value);
            }
            if let Some(b) = &body {
                req = req.body(b.clone().into_bytes());
            }
            if let Some(u) = &user {
                let (name, password) = u
                    .split_once(':')
                    .map_or((u.as_str(), None), |(n, p)| (n, Some(p)));
                req = req.basic_auth(name, password);
            }
            let outcome = req.send().await;
            let retryable = request.method.is_idempotent()
                && attempt < RETRIES
                && match &outcome {
                    Ok(a) => a.status.as_u16() == 429 || a.status.is_server_error(),
                    Err(e) => e.is_connect_or_timeout(),
                };
            if retryable {
                tokio::time::sleep(BACKOFF * 2u32.pow(attempt)).await;
                attempt += 1;
                continue;
            }
            let answer = outcome.map_err(|e| failed(e.to_string()))?;
            let code = answer.status.as_u16();
            if answer.status.is_redirection() {
                return Err(failed(format!(
                    "the server answered with a redirect (HTTP {code}), which sluice does not follow"
                )));
            }
            if code >= 400 {
                let mut text = answer.text();
                if text.len() > MAX_QUOTED_BYTES {
                    text.truncate(text.floor_char_boundary(MAX_QUOTED_BYTES));
                    text.push_str("...");
                }
                return Err(failed(format!(
                    "the server answered HTTP {code}.\nResponse: \n{text}"
                )));
            }
            return Ok(response_value(&answer.body));
        }
    }
}

/// Keptn's `UnmarshalResponse`: a JSON object, else the text.
fn response_value(body: &[u8]) -> Value {
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => v,
        _ => Value::String(String::from_utf8_lossy(body).into_owned()),
    }
}

/// The answers of one handling.
struct Reply<'a> {
    service: &'a WebhookService,
    event: &'a KeptnEvent,
    /// The task of a `<task>.triggered` event (only those are answered).
    task: Option<&'a str>,
    prefix: &'a str,
    /// `{project, stage, service, labels}`.
    base: Value,
}

impl<'a> Reply<'a> {
    /// The answers of `service` (its subscription's `prefix`) to `event`, whose `task` is
    /// answered; their data starts with the event's project, stage, service and labels.
    fn new(
        service: &'a WebhookService,
        event: &'a KeptnEvent,
        task: Option<&'a str>,
        prefix: &'a str,
    ) -> Reply<'a> {
        let data = event.data_value();
        let field = |k: &str| data.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        Reply {
            service,
            event,
            task,
            prefix,
            base: json!({
                "project": field("project"),
                "stage": field("stage"),
                "service": field("service"),
                "labels": data.get("labels").cloned().unwrap_or(Value::Null),
            }),
        }
    }

    /// Sends `<task>.<kind>`; `slot` numbers the answers of one request (no `sendFinished`).
    async fn send(&self, kind: &str, slot: Option<usize>, data: Value) -> Result<(), String> {
        let Some(task) = self.task else {
            return Ok(());
        };
        let what = match slot {
            Some(i) => format!("{}.{kind}.{i}", self.prefix),
            None => format!("{}.{kind}", self.prefix),
        };
        let event_type = format!(
            "{}",
            EventType::task(
                task,
                if kind == "started" {
                    TaskEventKind::Started
                } else {
                    TaskEventKind::Finished
                }
            )
        );
        let answer = super::answer(self.event, SOURCE, &event_type, &what, data);
        self.service
            .driver
            .submit(answer)
            .await
            .map_err(|e| format!("cannot send {kind}: {e}"))?;
        Ok(())
    }

    async fn started(&self, slot: Option<usize>) -> Result<(), String> {
        let mut data = self.base.clone();
        data["status"] = json!("succeeded");
        self.send("started", slot, data).await
    }

    /// `.finished` with `result: fail` for each of `slots`.
    async fn failed(&self, message: &str, slots: &[Option<usize>]) -> Result<(), String> {
        tracing::warn!(
            event = self.event.id.as_deref().unwrap_or(""),
            "webhook failed: {message}"
        );
        let mut data = self.base.clone();
        data["result"] = json!("fail");
        data["status"] = json!("errored");
        data["message"] = json!(message);
        for slot in slots {
            self.send("finished", *slot, data.clone()).await?;
        }
        Ok(())
    }
}

/// The message of a task whose handling was cut off after its `.started`.
pub const INTERRUPTED: &str = "the webhook-service stopped while it was sending this task's requests (the server was restarted, or the cluster's leader changed); whether they reached their receiver is unknown, and a webhook request is never sent twice";

/// The prefix of the answer ids of one subscription.
fn answer_prefix(sid: &str) -> String {
    format!("webhook.{sid}")
}

/// Replaces every secret value in `text` by `***` (Keptn's `removeSecretsFromMessage`).
fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        out = out.replace(s.as_str(), "***");
    }
    out
}

fn redact_value(value: Value, secrets: &[String]) -> Value {
    if secrets.is_empty() {
        return value;
    }
    match value {
        Value::String(s) => Value::String(redact(&s, secrets)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| redact_value(v, secrets))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (redact(&k, secrets), redact_value(v, secrets)))
                .collect(),
        ),
        other => other,
    }
}

/// Whether an empty filter or one naming `value`.
fn admits(list: &Option<Vec<String>>, value: &str) -> bool {
    list.as_ref()
        .is_none_or(|l| l.is_empty() || l.iter().any(|v| v == value))
}

/// NATS subject matching: `*` is one token, `>` one or more trailing tokens.
fn nats_match(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testkit::{self, TestServer};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback receiver answering the n-th request with `script[n]` (the last one
    /// repeated); counts requests.
    async fn receiver(script: Vec<(u16, String)>) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let n = counted.fetch_add(1, Ordering::SeqCst);
                let (status, body) = script[n.min(script.len() - 1)].clone();
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(k) => request.extend_from_slice(&buf[..k]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(body.as_bytes()).await;
            }
        });
        (format!("http://{addr}"), hits)
    }

    /// Runs one delivery of project `p` (task `deployment`) with `webhook` (its
    /// `subscriptionID` written as `SUB`) at the project level; returns the webhook-service's
    /// `.started` count and its `.finished` data.
    async fn run(webhook: &str) -> (usize, Value) {
        let (_server, mut events) = start_delivery(webhook).await;
        let mut started = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let e = tokio::time::timeout_at(deadline, events.recv())
                .await
                .expect("a .finished from the webhook service in time")
                .expect("bus open");
            if e.source.as_deref() != Some(SOURCE) {
                continue;
            }
            match e.event_type.as_deref() {
                Some("sh.keptn.event.deployment.started") => started += 1,
                Some("sh.keptn.event.deployment.finished") => {
                    return (started, e.data_value().clone());
                }
                _ => {}
            }
        }
    }

    /// Starts a delivery of project `p` (task `deployment`) with `webhook` (its
    /// `subscriptionID` written as `SUB`) at the project level; returns the server and a bus
    /// subscription made before the trigger.
    async fn start_delivery(
        webhook: &str,
    ) -> (
        TestServer,
        tokio::sync::broadcast::Receiver<Arc<KeptnEvent>>,
    ) {
        let server = TestServer::new().await;
        let app = server.app.clone();
        testkit::create_project(&app, "p", testkit::ONE_TASK_SHIPYARD, &["a"]).await;
        let (status, body) = server
            .call(
                "POST",
                &format!(
                    "/api/controlPlane/v1/uniform/registration/{}/subscription",
                    integration_id()
                ),
                Some(json!({"event": "sh.keptn.event.deployment.triggered", "filter": {"projects": ["p"]}})),
            )
            .await;
        assert_eq!(status.as_u16(), 201, "{body}");
        let sid = body["id"].as_str().unwrap().to_owned();
        let (status, body) = server
            .call(
                "POST",
                "/api/resource-service/v1/project/p/resource",
                Some(json!({"resources": [{"resourceURI": webhook::URI,
                    "resourceContent": testkit::b64(webhook.replace("SUB", &sid))}]})),
            )
            .await;
        assert!(status.is_success(), "{body}");
        let events = app.bus.subscribe();
        let (status, body) = server
            .call(
                "POST",
                "/api/v1/event",
                Some(
                    json!({"specversion": "1.0", "type": "sh.keptn.event.dev.delivery.triggered",
                    "source": "test", "data": {"project": "p", "stage": "dev", "service": "a"}}),
                ),
            )
            .await;
        assert!(status.is_success(), "{body}");
        (server, events)
    }

    /// A handling cut off between its `.started` and its `.finished` (the server stopped, or
    /// the leader died, while the request was out: here it never gets an answer) is settled
    /// by the next server's service once: `.finished` with `result: fail`, `status:
    /// errored` and why; the request is not sent again. A handling under way in the same
    /// process is left to itself.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_handling_cut_off_after_its_started_is_settled_as_errored_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = hits.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                held.push(socket);
            }
        });
        let (server, mut events) =
            start_delivery(&config(true, "POST", &format!("{base}/slow"))).await;
        let app = server.app.clone();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let started = loop {
            let e = tokio::time::timeout_at(deadline, events.recv())
                .await
                .expect("a .started in time")
                .expect("bus open");
            if e.source.as_deref() == Some(SOURCE)
                && e.event_type.as_deref() == Some("sh.keptn.event.deployment.started")
            {
                break e;
            }
        };
        let triggered_id = started.triggeredid.clone().unwrap();
        // A service (the next server's) with nothing handled yet in its process.
        let next = || {
            Arc::new(WebhookService {
                driver: app.driver.clone(),
                store: app.store.clone(),
                resources: app.resources.clone(),
                http: app.http.clone(),
                subscriptions: Mutex::new(None),
                handled: Mutex::new(HashSet::new()),
            })
        };
        // A service that is handling the task itself (as this server's is, waiting for the
        // answer) leaves it alone.
        let busy = next();
        let triggered = app.store.event(&triggered_id).await.unwrap().unwrap();
        for sid in busy.matching(&triggered).await {
            let pair = (triggered_id.clone(), sid);
            busy.handled.lock().unwrap().insert(pair);
        }
        assert_eq!(busy.settle_interrupted().await, 0);
        assert_eq!(next().settle_interrupted().await, 1);
        let finished = loop {
            let e = tokio::time::timeout_at(deadline, events.recv())
                .await
                .expect("a .finished in time")
                .expect("bus open");
            if e.triggeredid.as_deref() == Some(triggered_id.as_str())
                && e.event_type.as_deref() == Some("sh.keptn.event.deployment.finished")
            {
                break e;
            }
        };
        let data = finished.data_value();
        assert_eq!(finished.source.as_deref(), Some(SOURCE));
        assert_eq!(data["result"], "fail", "{data}");
        assert_eq!(data["status"], "errored");
        assert_eq!(data["message"], INTERRUPTED);
        assert_eq!(next().settle_interrupted().await, 0, "settled once");
        assert_eq!(hits.load(Ordering::SeqCst), 1, "the request was sent once");
    }

    fn config(send_started: bool, method: &str, url: &str) -> String {
        format!(
            "apiVersion: webhookconfig.keptn.sh/v1beta1\nkind: WebhookConfig\nspec:\n  webhooks:\n    - type: sh.keptn.event.deployment.triggered\n      subscriptionID: SUB\n      sendStarted: {send_started}\n      sendFinished: true\n      requests:\n        - url: \"{url}\"\n          method: {method}\n"
        )
    }

    #[tokio::test]
    async fn an_idempotent_request_is_retried_after_a_5xx_and_its_answer_reported() {
        let (base, hits) = receiver(vec![(503, "busy".into()), (200, r#"{"n": 1}"#.into())]).await;
        let (started, data) = run(&config(
            false,
            "GET",
            &format!("{base}/flaky/{{{{.data.service}}}}"),
        ))
        .await;
        assert_eq!(started, 0, "sendStarted: false");
        assert_eq!(data["result"], "pass", "{data}");
        assert_eq!(data["status"], "succeeded");
        assert_eq!(data["deployment"], json!({"responses": [{"n": 1}]}));
        assert_eq!(data["project"], "p");
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_post_is_not_retried_and_fails_with_the_answer() {
        let (base, hits) = receiver(vec![(500, "broken".into()), (200, "ok".into())]).await;
        let (started, data) = run(&config(true, "POST", &format!("{base}/down"))).await;
        assert_eq!(started, 1);
        assert_eq!(data["result"], "fail", "{data}");
        assert_eq!(data["status"], "errored");
        assert_eq!(
            data["message"],
            format!(
                "could not execute request 'POST {base}/down': the server answered HTTP 500.\nResponse: \nbroken"
            )
        );
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_header_name_made_invalid_by_event_data_is_refused_before_sending() {
        let (base, hits) = receiver(vec![(200, "ok".into())]).await;
        let yaml = format!(
            "apiVersion: webhookconfig.keptn.sh/v1beta1\nkind: WebhookConfig\nspec:\n  webhooks:\n    - type: t\n      subscriptionID: SUB\n      sendFinished: true\n      requests:\n        - url: {base}/h\n          method: GET\n          headers:\n            - key: \"x-{{{{.data.project}}}} {{{{.data.stage}}}}\"\n              value: v\n"
        );
        let (_, data) = run(&yaml).await;
        assert_eq!(
            data["message"],
            format!(
                "could not parse request 'GET {base}/h' : `x-p dev` is not a valid header name after its placeholders were filled in"
            )
        );
        assert_eq!(hits.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_missing_key_and_an_oversized_answer_fail_the_task_clearly() {
        let (base, hits) = receiver(vec![(200, "x".repeat(MAX_RESPONSE_BYTES + 1))]).await;
        let (_, data) = run(&config(
            true,
            "GET",
            &format!("{base}/{{{{.data.nothere}}}}"),
        ))
        .await;
        assert_eq!(
            data["message"],
            format!(
                "could not parse request 'GET {base}/{{{{.data.nothere}}}}' : executing template at <.data.nothere>: map has no entry for key \"nothere\""
            )
        );
        assert_eq!(hits.load(Ordering::SeqCst), 0);
        let (_, data) = run(&config(true, "GET", &format!("{base}/big"))).await;
        assert_eq!(
            data["message"],
            format!(
                "could not execute request 'GET {base}/big': the answer is larger than the limit of 65536 bytes"
            )
        );
    }

    #[test]
    fn subjects_match_like_nats() {
        assert!(nats_match(
            "sh.keptn.event.mytask.triggered",
            "sh.keptn.event.mytask.triggered"
        ));
        assert!(nats_match(
            "sh.keptn.event.*.triggered",
            "sh.keptn.event.mytask.triggered"
        ));
        assert!(nats_match(
            "sh.keptn.event.>",
            "sh.keptn.event.mytask.finished"
        ));
        assert!(!nats_match("sh.keptn.event.>", "sh.keptn.event"));
        assert!(!nats_match(
            "sh.keptn.event.mytask.triggered",
            "sh.keptn.event.mytask.started"
        ));
        assert!(!nats_match(
            "sh.keptn.event.*",
            "sh.keptn.event.mytask.triggered"
        ));
    }

    #[test]
    fn answers_are_objects_or_text_and_secrets_are_hidden() {
        assert_eq!(response_value(br#"{"a": 1}"#), json!({"a": 1}));
        assert_eq!(response_value(b"[1, 2]"), json!("[1, 2]"));
        assert_eq!(response_value(b"plain"), json!("plain"));
        let secrets = vec!["s3cr3t".to_owned()];
        assert_eq!(
            redact_value(json!({"echo": ["token s3cr3t"], "s3cr3t": 1}), &secrets),
            json!({"echo": ["token ***"], "***": 1})
        );
    }
}
