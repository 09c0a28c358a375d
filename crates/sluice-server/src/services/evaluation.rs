//! The built-in lighthouse (Keptn's lighthouse-service): runs quality gates.
//!
//! On `sh.keptn.event.evaluation.triggered` it sends `evaluation.started`, computes the window
//! (Keptn's rules: `evaluation.start`+`end` or `timeframe`, else `test.start`+`end`), reads
//! `slo.yaml` of the service at the run's commit, looks up the project's SLI provider
//! ([`super::monitoring`]) and sends its own `get-sli.triggered` to that provider. On the
//! matching `get-sli.finished` (from a built-in provider or an external one posting through
//! the API: both arrive on the bus) it loads the earlier results the SLO compares with (for
//! sluice's `compare_with: baseline`, the evaluation pinned for the stage and service), runs
//! [`sluice_slo::evaluate_with_samples`] with the SLI values' samples and those kept in the
//! compared evaluation, and sends `evaluation.finished`.
//!
//! Every event it sends has an id derived from the `evaluation.triggered` id, so handling an
//! evaluation twice (after a crash, or when the bus is replayed) stores nothing twice.
//! Evaluations waiting for SLI values are kept in memory and recovered from the store when
//! the server starts or the lighthouse fell behind the bus: an `evaluation.triggered`
//! without an `evaluation.finished` is resumed where it stopped.
//!
//! It also applies Keptn's `sh.keptn.event.monitoring.configure` (the provider name).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use sluice_model::evaluation::{
    EvaluationDetails, EvaluationFinishedEventData, GetSliFinishedEventData, MAX_SAMPLES,
    bounded_samples,
};
use sluice_model::event::data::{
    EvaluationTriggeredEventData, GetSliRequest, GetSliTriggeredEventData, SliFilter,
};
use sluice_model::event::kind::{
    EVALUATION_FINISHED, EVALUATION_TRIGGERED, GET_SLI_FINISHED, GET_SLI_TRIGGERED,
    MONITORING_CONFIGURE_TYPE,
};
use sluice_model::event::time::evaluation_window;
use sluice_model::event::{
    EventData, KeptnEvent, ResultType, StatusType, TaskEventKind, Timestamp,
};
use sluice_model::slo::{CompareWith, Slo};
use sluice_resources::{ResourceError, ResourceStore, Scope};
use sluice_slo::{EvaluationInput, PreviousEvaluation, Samples};
use sluice_store::{FieldFilter, Store, TypeQuery};
use tokio::sync::broadcast::{self, error::RecvError};

use super::monitoring;
use crate::runtime::bus::{Bus, Cancel};
use crate::runtime::clock;
use crate::runtime::driver::DriverHandle;

/// The `source` of the events the lighthouse sends (and of the history it compares with).
pub const SOURCE: &str = "lighthouse-service";
/// Where the SLO lives (service level of a stage).
pub const SLO_URI: &str = "slo.yaml";
/// Keptn's message when the event has no usable window.
pub const NO_TIMEFRAME: &str = "evaluation.triggered event does not contain evaluation timeframe";
/// How far back the recovery looks for unfinished evaluations that no open sequence task
/// holds (evaluations triggered directly, outside a sequence).
pub const RECOVERY_LOOKBACK: sluice_model::duration::GoDuration =
    sluice_model::duration::GoDuration::from_nanos(24 * 3600 * 1_000_000_000);

/// Keptn's message when a project has no SLI provider.
pub fn no_provider_message(project: &str) -> String {
    format!(
        "no evaluation performed by lighthouse because no SLI-provider configured for project {project}"
    )
}

/// Why the lighthouse could not read what it needs (logged; the evaluation stays pending
/// and is retried by the next recovery).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] sluice_store::Error),
    /// The driver stopped or failed to store an answer.
    #[error("cannot send: {0}")]
    Driver(#[from] crate::runtime::driver::Error),
}

/// An evaluation that waits for its `get-sli.finished`.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The `evaluation.triggered` event.
    pub triggered: Arc<KeptnEvent>,
    /// Id of the lighthouse's `get-sli.triggered` event.
    pub get_sli_id: String,
    /// Project.
    pub project: String,
    /// Stage.
    pub stage: String,
    /// Service.
    pub service: String,
}

impl Pending {
    fn triggered_id(&self) -> &str {
        self.triggered.id.as_deref().unwrap_or("")
    }
}

/// The lighthouse service.
pub struct Lighthouse {
    store: Arc<Store>,
    resources: Arc<ResourceStore>,
    driver: DriverHandle,
    bus: Bus,
    /// Waiting evaluations by `shkeptncontext`.
    pending: Mutex<HashMap<String, Vec<Pending>>>,
}

impl std::fmt::Debug for Lighthouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lighthouse")
            .field("pending", &self.pending_count())
            .finish_non_exhaustive()
    }
}

/// The id of an answer of the lighthouse to an `evaluation.triggered` event.
pub fn answer_id(triggered_id: &str, what: &str) -> String {
    crate::runtime::ids::derived(triggered_id, what)
}

/// The evaluation window of an `evaluation.triggered` payload as Keptn timestamps, or Keptn's
/// error message (lighthouse's `getEvaluationTimestamps`).
pub fn window(
    data: &EvaluationTriggeredEventData,
    now: Timestamp,
) -> Result<(String, String), String> {
    let e = &data.evaluation;
    if (!e.start.is_empty() && !e.end.is_empty()) || !e.timeframe.is_empty() {
        let (start, end) = evaluation_window(&e.start, &e.end, &e.timeframe, now)
            .map_err(|err| err.to_string())?;
        return Ok((start.to_keptn_string(), end.to_keptn_string()));
    }
    if !data.test.start.is_empty() && !data.test.end.is_empty() {
        return Ok((data.test.start.clone(), data.test.end.clone()));
    }
    Err(NO_TIMEFRAME.to_owned())
}

/// The `get-sli.triggered` data for an evaluation (Keptn's `sendInternalGetSLIEvent`).
pub fn get_sli_request(
    triggered: &EvaluationTriggeredEventData,
    slo: Option<&Slo>,
    provider: &str,
    start: &str,
    end: &str,
) -> GetSliTriggeredEventData {
    let b = &triggered.base;
    GetSliTriggeredEventData {
        base: EventData {
            project: b.project.clone(),
            stage: b.stage.clone(),
            service: b.service.clone(),
            labels: b.labels.clone(),
            ..EventData::default()
        },
        get_sli: GetSliRequest {
            sli_provider: provider.to_owned(),
            start: start.to_owned(),
            end: end.to_owned(),
            indicators: slo
                .map(|s| s.objectives.iter().map(|o| o.sli.clone()).collect())
                .unwrap_or_default(),
            custom_filters: slo
                .map(|s| {
                    s.filter
                        .iter()
                        .map(|(key, value)| SliFilter {
                            key: key.clone(),
                            value: value.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        },
        deployment: triggered
            .deployment
            .deployment_names
            .as_ref()
            .and_then(|n| n.first().cloned())
            .unwrap_or_default(),
    }
}

/// `slo.yaml` of a service at a commit: `Ok(None)` when there is none, `Err` with Keptn's
/// message when the project, stage or service is missing or the file cannot be read.
pub async fn read_slo(
    resources: &Arc<ResourceStore>,
    project: &str,
    stage: &str,
    service: &str,
    at: Option<&str>,
) -> Result<Option<(Vec<u8>, Slo)>, String> {
    let (r, p, st, sv, at) = (
        resources.clone(),
        project.to_owned(),
        stage.to_owned(),
        service.to_owned(),
        at.filter(|c| !c.is_empty()).map(str::to_owned),
    );
    // Reading and parsing on the blocking pool: parsing a stored file is CPU work.
    let read = tokio::task::spawn_blocking(move || {
        r.get_resource(Scope::service(&p, &st, &sv), SLO_URI, at.as_deref())
            .map(|resource| {
                let parsed = std::str::from_utf8(&resource.content)
                    .ok()
                    .map(sluice_model::slo::parse);
                (resource.content, parsed)
            })
    })
    .await
    .map_err(|e| format!("error retrieving SLO file: {e}"))?;
    let (bytes, parsed) = match read {
        Ok(read) => read,
        Err(ResourceError::ResourceNotFound) => return Ok(None),
        Err(ResourceError::ServiceNotFound) => {
            return Err(format!(
                "error retrieving SLO file: service {service} not found"
            ));
        }
        Err(ResourceError::StageNotFound) => {
            return Err(format!(
                "error retrieving SLO file: stage {stage} not found"
            ));
        }
        Err(ResourceError::ProjectNotFound) => {
            return Err(format!(
                "error retrieving SLO file: project {project} not found"
            ));
        }
        Err(e) => return Err(format!("error retrieving SLO file: {e}")),
    };
    // Keptn's GetSLOs (lighthouse common.go) treats an empty slo.yaml as no SLO file.
    if bytes.is_empty() {
        return Ok(None);
    }
    let parsed =
        parsed.ok_or_else(|| "error retrieving SLO file: slo.yaml is not UTF-8 text".to_owned())?;
    // Problems Keptn only noticed while evaluating (an unparsable criterion, a missing total
    // score) are left to the quality gate, which reports them as Keptn did. A file that cannot
    // be read at all (a syntax error, nesting deeper than the parser allows, an alias bomb)
    // fails the evaluation with the parser's first error and its position.
    match parsed.value {
        Some(slo) => Ok(Some((bytes, slo))),
        None => Err(format!(
            "error retrieving SLO file: {}",
            parsed.diagnostics.iter().next().map_or_else(
                || "slo.yaml could not be parsed".to_owned(),
                |d| format!("slo.yaml:{}: {}", d.pos, d.message)
            )
        )),
    }
}

impl Lighthouse {
    /// A lighthouse over the server's store, repositories and driver.
    pub fn new(
        store: Arc<Store>,
        resources: Arc<ResourceStore>,
        driver: DriverHandle,
        bus: Bus,
    ) -> Self {
        Lighthouse {
            store,
            resources,
            driver,
            bus,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Number of evaluations waiting for SLI values.
    pub fn pending_count(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Pending>>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn remember(&self, p: Pending) {
        let context = p.triggered.shkeptncontext.clone().unwrap_or_default();
        let mut pending = self.lock();
        let list = pending.entry(context).or_default();
        if !list.iter().any(|q| q.triggered_id() == p.triggered_id()) {
            list.push(p);
        }
    }

    fn forget(&self, triggered_id: &str) {
        let mut pending = self.lock();
        pending.retain(|_, list| {
            list.retain(|p| p.triggered_id() != triggered_id);
            !list.is_empty()
        });
    }

    /// Runs until the bus closes: recovers unfinished evaluations once the driver has
    /// restored the engine (so that the open evaluation tasks older than the look-back are
    /// known), then handles events from `events` (subscribe before spawning so nothing is
    /// missed; what arrives meanwhile waits there) one at a time.
    pub async fn run(
        self: Arc<Self>,
        mut events: broadcast::Receiver<Arc<KeptnEvent>>,
        mut cancels: broadcast::Receiver<Cancel>,
    ) {
        self.driver.restored().await;
        self.recover_logged().await;
        loop {
            tokio::select! {
                received = events.recv() => match received {
                    Ok(event) => {
                        if !matches!(
                            event.event_type.as_deref(),
                            Some(EVALUATION_TRIGGERED | GET_SLI_FINISHED | EVALUATION_FINISHED | MONITORING_CONFIGURE_TYPE)
                        ) {
                            // Most of the bus is not for the lighthouse: no task for it.
                            continue;
                        }
                        let claim = if event.event_type.as_deref() == Some(EVALUATION_TRIGGERED) {
                            super::Claim::Always
                        } else {
                            super::Claim::Never
                        };
                        let (me, e) = (self.clone(), event.clone());
                        let work = async move { me.try_handle(&e).await };
                        super::guard(&self.driver, &event, SOURCE, "evaluation", claim, work).await;
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "lighthouse fell behind the event bus; catching up from the store");
                        self.recover_logged().await;
                    }
                    Err(RecvError::Closed) => return,
                },
                cancel = cancels.recv() => match cancel {
                    Ok(c) => self.forget(&c.triggered_id),
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
            }
        }
    }

    async fn recover_logged(&self) {
        match self.recover().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(evaluations = n, "lighthouse resumed unfinished evaluations"),
            Err(e) => {
                tracing::error!(error = %e, "lighthouse could not resume unfinished evaluations")
            }
        }
    }

    /// Handles one event from the bus (errors are logged).
    pub async fn handle(&self, event: &Arc<KeptnEvent>) {
        if let Err(e) = self.try_handle(event).await {
            tracing::error!(error = %e, "lighthouse could not handle {}", event.event_type.as_deref().unwrap_or(""));
        }
    }

    /// Handles one event from the bus.
    async fn try_handle(&self, event: &Arc<KeptnEvent>) -> Result<(), Error> {
        match event.event_type.as_deref() {
            Some(EVALUATION_TRIGGERED) => self.on_triggered(event).await,
            Some(GET_SLI_FINISHED) => self.on_get_sli_finished(event).await,
            Some(EVALUATION_FINISHED) => {
                // Whoever finished it (we did, or a person or tool did), it waits no more.
                if let Some(t) = &event.triggeredid {
                    self.forget(t);
                }
                Ok(())
            }
            Some(MONITORING_CONFIGURE_TYPE) => {
                match monitoring::apply_configure_event(&self.store, event).await {
                    Ok(Some(c)) => {
                        tracing::info!(provider = %c.provider, "SLI provider configured by monitoring.configure")
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "cannot apply monitoring.configure"),
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// `evaluation.triggered`: started, window, SLO, provider, then `get-sli.triggered` (or
    /// an immediate `evaluation.finished`).
    async fn on_triggered(&self, triggered: &Arc<KeptnEvent>) -> Result<(), Error> {
        let triggered_id = triggered.id.clone().unwrap_or_default();
        let parsed = EvaluationTriggeredEventData::from_data(triggered.data_value());
        let base = match &parsed {
            Ok(d) => d.base.clone(),
            // Keep what can be read for the answers.
            Err(_) => EventData::from_data(triggered.data_value()).unwrap_or_default(),
        };
        let started = EventData {
            status: StatusType::Succeeded,
            ..scope_of(&base)
        };
        self.driver
            .submit(super::answer_task(
                triggered,
                SOURCE,
                "evaluation",
                TaskEventKind::Started,
                started.to_data(),
            ))
            .await?;
        let data = match parsed {
            Ok(d) => d,
            Err(e) => {
                return self
                    .finish_early(
                        triggered,
                        &base,
                        errored(&base, "", "", format!("could not parse event payload: {e}")),
                    )
                    .await;
            }
        };
        let (start, end) = match window(&data, clock::now()) {
            Ok(w) => w,
            Err(message) => {
                return self
                    .finish_early(triggered, &base, errored(&base, "", "", message))
                    .await;
            }
        };
        let slo = match read_slo(
            &self.resources,
            &base.project,
            &base.stage,
            &base.service,
            triggered.gitcommitid.as_deref(),
        )
        .await
        {
            Ok(slo) => slo,
            Err(message) => {
                return self
                    .finish_early(triggered, &base, errored(&base, &start, &end, message))
                    .await;
            }
        };
        let provider = match monitoring::load(&self.store, &base.project).await {
            Ok(Some(c)) if !c.provider.is_empty() => c.provider,
            Ok(_) => {
                let mut out = finished_base(&base, &start, &end);
                out.base.result = ResultType::Pass;
                out.evaluation.result = ResultType::Pass;
                out.base.message = no_provider_message(&base.project);
                return self.finish_early(triggered, &base, out).await;
            }
            Err(e) => {
                let message = format!(
                    "cannot read the SLI provider of project {}: {e}",
                    base.project
                );
                return self
                    .finish_early(triggered, &base, errored(&base, &start, &end, message))
                    .await;
            }
        };
        let request = get_sli_request(&data, slo.as_ref().map(|(_, s)| s), &provider, &start, &end);
        let get_sli_id = answer_id(&triggered_id, "get-sli.triggered");
        // Remember first: a fast provider's answer is handled after this function returns,
        // and must find the evaluation.
        self.remember(Pending {
            triggered: triggered.clone(),
            get_sli_id: get_sli_id.clone(),
            project: base.project.clone(),
            stage: base.stage.clone(),
            service: base.service.clone(),
        });
        // A request of the lighthouse's own, not an answer: no `triggeredid`.
        let mut event = super::answer(
            triggered,
            SOURCE,
            GET_SLI_TRIGGERED,
            "get-sli.triggered",
            request.to_data(),
        );
        event.triggeredid = None;
        if let Err(e) = self.driver.submit(event).await {
            self.forget(&triggered_id);
            return Err(e.into());
        }
        Ok(())
    }

    async fn finish_early(
        &self,
        triggered: &Arc<KeptnEvent>,
        base: &EventData,
        mut data: EvaluationFinishedEventData,
    ) -> Result<(), Error> {
        data.base.labels = base.labels.clone();
        self.send_finished(triggered, &data).await
    }

    async fn send_finished(
        &self,
        triggered: &Arc<KeptnEvent>,
        data: &EvaluationFinishedEventData,
    ) -> Result<(), Error> {
        let triggered_id = triggered.id.clone().unwrap_or_default();
        let event = super::answer_task(
            triggered,
            SOURCE,
            "evaluation",
            TaskEventKind::Finished,
            data.to_data(),
        );
        // Forgotten first, so nobody sees the result while it still looks pending; should
        // the send fail, the store still shows the evaluation as unfinished.
        self.forget(&triggered_id);
        self.driver.submit(event).await?;
        Ok(())
    }

    /// `get-sli.finished`: find the waiting evaluation, compare, send `evaluation.finished`.
    async fn on_get_sli_finished(&self, finished: &Arc<KeptnEvent>) -> Result<(), Error> {
        let data_value = finished.data_value();
        let field = |k: &str| {
            data_value
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let (project, stage, service) = (field("project"), field("stage"), field("service"));
        let context = finished.shkeptncontext.clone().unwrap_or_default();
        let Some(pending) = self
            .find_pending(
                &context,
                &project,
                &stage,
                &service,
                finished.triggeredid.as_deref(),
            )
            .await?
        else {
            tracing::debug!(%context, "get-sli.finished without a waiting evaluation; ignored");
            return Ok(());
        };
        let data = match GetSliFinishedEventData::from_data(data_value) {
            Ok(d) => d,
            Err(e) => {
                let base = EventData {
                    project,
                    stage,
                    service,
                    ..EventData::default()
                };
                let out = errored(&base, "", "", format!("could not parse event payload: {e}"));
                return self.send_finished(&pending.triggered, &out).await;
            }
        };
        let out = self.evaluate(&pending, &data).await?;
        self.send_finished(&pending.triggered, &out).await
    }

    /// Runs the quality gate for a waiting evaluation and its SLI values.
    async fn evaluate(
        &self,
        pending: &Pending,
        sli: &GetSliFinishedEventData,
    ) -> Result<EvaluationFinishedEventData, Error> {
        // A provider may send more samples than an SLI value carries: bound them before they
        // are judged and kept in the result.
        let bounded;
        let sli = if sli
            .get_sli
            .indicator_values
            .iter()
            .any(|v| v.samples.as_ref().is_some_and(|s| s.len() > MAX_SAMPLES))
        {
            let mut copy = sli.clone();
            for v in &mut copy.get_sli.indicator_values {
                if let Some(s) = v.samples.take() {
                    v.samples = Some(bounded_samples(s));
                }
            }
            bounded = copy;
            &bounded
        } else {
            sli
        };
        let slo = match read_slo(
            &self.resources,
            &pending.project,
            &pending.stage,
            &pending.service,
            pending.triggered.gitcommitid.as_deref(),
        )
        .await
        {
            Ok(slo) => slo,
            Err(message) => {
                let base = EventData {
                    project: pending.project.clone(),
                    stage: pending.stage.clone(),
                    service: pending.service.clone(),
                    labels: sli.base.labels.clone(),
                    ..EventData::default()
                };
                let mut out = errored(&base, &sli.get_sli.start, &sli.get_sli.end, message);
                out.base.labels = sli.base.labels.clone();
                return Ok(out);
            }
        };
        let mut baseline_missing = None;
        let history = match &slo {
            Some((_, s)) if s.comparison.compare_with == CompareWith::Baseline => {
                match self.pinned_baseline(pending).await? {
                    Ok(pinned) => vec![pinned],
                    Err(why) => {
                        baseline_missing = Some(why);
                        Vec::new()
                    }
                }
            }
            Some((_, s)) => self.history(pending, s).await?,
            None => Vec::new(),
        };
        let previous: Vec<PreviousEvaluation<'_>> = history
            .iter()
            .map(|(id, data)| PreviousEvaluation {
                id: Some(id.as_str()),
                data,
            })
            .collect();
        let (bytes, parsed) = match &slo {
            Some((b, s)) => (b.as_slice(), Some(s)),
            None => (&[][..], None),
        };
        // Samples (sluice extension): the current ones from the SLI values, the baseline's
        // from the evaluation compared with (the pinned one, else the newest compared).
        let current = sluice_slo::samples_of_values(&sli.get_sli.indicator_values);
        let baseline = history
            .first()
            .map(|(_, d)| sluice_slo::samples_of_evaluation(d))
            .unwrap_or_default();
        let mut out = sluice_slo::evaluate_with_samples(
            &EvaluationInput {
                project: &pending.project,
                stage: &pending.stage,
                service: &pending.service,
                slo: parsed,
                slo_file: bytes,
                previous: &previous,
                ..EvaluationInput::of_get_sli(sli)
            },
            Samples {
                current: &current,
                baseline: &baseline,
            },
        );
        if let Some(why) = baseline_missing {
            out.base.message = if out.base.message.is_empty() {
                why
            } else {
                format!("{why}; {}", out.base.message)
            };
        }
        Ok(out)
    }

    /// The pinned baseline of the evaluation's stage and service (`compare_with:
    /// baseline`), or why there is none to compare with: none pinned, or the pinned event
    /// is gone, invalidated or unreadable.
    async fn pinned_baseline(
        &self,
        pending: &Pending,
    ) -> Result<Result<(String, EvaluationFinishedEventData), String>, Error> {
        let scope = format!("service {} in stage {}", pending.service, pending.stage);
        let Some(pin) = self
            .store
            .baseline(&pending.project, &pending.stage, &pending.service)
            .await?
        else {
            return Ok(Err(format!(
                "no baseline is pinned for {scope} (sluice baseline set), so there is nothing to compare with"
            )));
        };
        let query = TypeQuery {
            filters: vec![
                FieldFilter {
                    field: "data.project".to_owned(),
                    values: vec![pending.project.clone()],
                },
                FieldFilter {
                    field: "id".to_owned(),
                    values: vec![pin.evaluation_id.clone()],
                },
            ],
            exclude_invalidated: true,
            from_time: None,
            limit: Some(1),
        };
        let found = self
            .store
            .events_by_type(EVALUATION_FINISHED, &query)
            .await?
            .into_iter()
            .next()
            .and_then(|e| EvaluationFinishedEventData::from_data(&e.data?).ok());
        Ok(match found {
            Some(data) => Ok((pin.evaluation_id, data)),
            None => Err(format!(
                "the baseline pinned for {scope} ({}) is no longer a valid evaluation (deleted or invalidated), so there is nothing to compare with",
                pin.evaluation_id
            )),
        })
    }

    /// The earlier results Keptn's lighthouse asked the datastore for: `evaluation.finished`
    /// from the lighthouse for the same project, stage and service, newest first, not
    /// invalidated, filtered by result and limited per the SLO's `comparison`.
    async fn history(
        &self,
        pending: &Pending,
        slo: &Slo,
    ) -> Result<Vec<(String, EvaluationFinishedEventData)>, Error> {
        use sluice_model::slo::IncludeResults;
        let one = |field: &str, v: &str| FieldFilter {
            field: field.to_owned(),
            values: vec![v.to_owned()],
        };
        let mut filters = vec![
            one("source", SOURCE),
            one("data.project", &pending.project),
            one("data.stage", &pending.stage),
            one("data.service", &pending.service),
        ];
        match slo.comparison.include_result_with_score {
            IncludeResults::Pass => filters.push(one("data.result", "pass")),
            IncludeResults::PassOrWarn => filters.push(FieldFilter {
                field: "data.result".to_owned(),
                values: vec!["pass".to_owned(), "warning".to_owned()],
            }),
            IncludeResults::All | IncludeResults::Other(_) => {}
        }
        let wanted = slo.comparison.previous_results_wanted();
        let query = TypeQuery {
            filters,
            exclude_invalidated: true,
            from_time: None,
            limit: u32::try_from(wanted).ok().filter(|n| *n > 0),
        };
        let events = self
            .store
            .events_by_type(EVALUATION_FINISHED, &query)
            .await?;
        Ok(events
            .into_iter()
            .filter_map(|e| {
                let id = e.id.clone()?;
                let data = EvaluationFinishedEventData::from_data(&e.data?).ok()?;
                Some((id, data))
            })
            .collect())
    }

    /// The waiting evaluation a `get-sli.finished` answers: from memory, else from the
    /// store (the newest `evaluation.triggered` of the context and scope without a result).
    async fn find_pending(
        &self,
        context: &str,
        project: &str,
        stage: &str,
        service: &str,
        answers: Option<&str>,
    ) -> Result<Option<Pending>, Error> {
        {
            let pending = self.lock();
            if let Some(list) = pending.get(context) {
                let by_id = answers.and_then(|id| list.iter().find(|p| p.get_sli_id == id));
                let by_scope = || {
                    list.iter()
                        .rev()
                        .find(|p| p.project == project && p.stage == stage && p.service == service)
                };
                if let Some(p) = by_id.or_else(by_scope) {
                    return Ok(Some(p.clone()));
                }
            }
        }
        if context.is_empty() {
            return Ok(None);
        }
        let events = self.store.events_of_context(context).await?;
        let done: HashSet<&str> = events
            .iter()
            .filter(|e| e.event_type.as_deref() == Some(EVALUATION_FINISHED))
            .filter_map(|e| e.triggeredid.as_deref())
            .collect();
        let found = events.iter().rev().find(|e| {
            e.event_type.as_deref() == Some(EVALUATION_TRIGGERED)
                && !done.contains(e.id.as_deref().unwrap_or(""))
                && scope_matches(e, project, stage, service)
        });
        Ok(found.map(|e| pending_of(Arc::new(e.clone()))))
    }

    /// Resumes every unfinished evaluation: those of open sequence tasks, and those
    /// triggered within [`RECOVERY_LOOKBACK`]. Returns how many were resumed.
    pub async fn recover(&self) -> Result<usize, Error> {
        let since = clock::now().minus(RECOVERY_LOOKBACK);
        let mut candidates: Vec<KeptnEvent> = Vec::new();
        for project in self.store.projects().await? {
            let query = TypeQuery {
                filters: vec![FieldFilter {
                    field: "data.project".to_owned(),
                    values: vec![project.name.clone()],
                }],
                exclude_invalidated: false,
                from_time: Some(since),
                limit: None,
            };
            candidates.extend(
                self.store
                    .events_by_type(EVALUATION_TRIGGERED, &query)
                    .await?,
            );
        }
        for task in self.driver.open_tasks(Some(EVALUATION_TRIGGERED)) {
            if !candidates
                .iter()
                .any(|e| e.id.as_deref() == Some(&task.triggered_id))
                && let Some(e) = self.store.event(&task.triggered_id).await?
            {
                candidates.push(e);
            }
        }
        let mut resumed = 0;
        for triggered in candidates {
            if self.resume(Arc::new(triggered)).await? {
                resumed += 1;
            }
        }
        Ok(resumed)
    }

    /// Continues one evaluation from what the store shows; `false` when it had finished.
    async fn resume(&self, triggered: Arc<KeptnEvent>) -> Result<bool, Error> {
        let triggered_id = triggered.id.clone().unwrap_or_default();
        let context = triggered.shkeptncontext.clone().unwrap_or_default();
        let events = self.store.events_of_context(&context).await?;
        if events.iter().any(|e| {
            e.event_type.as_deref() == Some(EVALUATION_FINISHED)
                && e.triggeredid.as_deref() == Some(triggered_id.as_str())
        }) {
            return Ok(false);
        }
        let get_sli_id = answer_id(&triggered_id, "get-sli.triggered");
        let Some(request_at) = events
            .iter()
            .position(|e| e.id.as_deref() == Some(get_sli_id.as_str()))
        else {
            // Stopped before asking for values: start over (answers already stored are
            // recognised by their ids).
            self.on_triggered(&triggered).await?;
            return Ok(true);
        };
        let pending = pending_of(triggered.clone());
        self.remember(pending.clone());
        let answer = events[request_at + 1..].iter().find(|e| {
            e.event_type.as_deref() == Some(GET_SLI_FINISHED)
                && scope_matches(e, &pending.project, &pending.stage, &pending.service)
        });
        match answer {
            Some(finished) => {
                self.on_get_sli_finished(&Arc::new(finished.clone()))
                    .await?
            }
            // Ask again: built-in providers answer with the same ids; external ones see the
            // request once more.
            None => self.bus.publish(Arc::new(events[request_at].clone())),
        }
        Ok(true)
    }
}

fn pending_of(triggered: Arc<KeptnEvent>) -> Pending {
    let field = |k: &str| {
        triggered
            .data_value()
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let triggered_id = triggered.id.clone().unwrap_or_default();
    Pending {
        get_sli_id: answer_id(&triggered_id, "get-sli.triggered"),
        project: field("project"),
        stage: field("stage"),
        service: field("service"),
        triggered,
    }
}

fn scope_matches(e: &KeptnEvent, project: &str, stage: &str, service: &str) -> bool {
    let d = e.data_value();
    let f = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("");
    f("project") == project && f("stage") == stage && f("service") == service
}

fn scope_of(base: &EventData) -> EventData {
    EventData {
        project: base.project.clone(),
        stage: base.stage.clone(),
        service: base.service.clone(),
        labels: base.labels.clone(),
        ..EventData::default()
    }
}

fn finished_base(base: &EventData, start: &str, end: &str) -> EvaluationFinishedEventData {
    EvaluationFinishedEventData {
        base: EventData {
            project: base.project.clone(),
            stage: base.stage.clone(),
            service: base.service.clone(),
            labels: base.labels.clone(),
            status: StatusType::Succeeded,
            result: ResultType::Unset,
            message: String::new(),
        },
        evaluation: EvaluationDetails {
            time_start: start.to_owned(),
            time_end: end.to_owned(),
            ..EvaluationDetails::default()
        },
    }
}

/// Keptn's `sendEvaluationFinishedWithErrorEvent`: errored, fail, the message, and an
/// evaluation with only the window and result fail.
fn errored(
    base: &EventData,
    start: &str,
    end: &str,
    message: String,
) -> EvaluationFinishedEventData {
    let mut out = finished_base(base, start, end);
    out.base.status = StatusType::Errored;
    out.base.result = ResultType::Fail;
    out.base.message = message;
    out.evaluation.result = ResultType::Fail;
    out
}

#[cfg(test)]
pub(crate) mod tests;
