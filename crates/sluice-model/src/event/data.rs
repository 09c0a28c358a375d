//! Typed `data` payloads of Keptn events (go-utils `pkg/lib/v0_2_0` structs).
//!
//! Every payload is read from the event's `data` JSON with `from_data`, using Go's
//! `encoding/json` rules (see [`super::decode`]): unknown keys ignored, missing keys zero,
//! keys matched case-insensitively, a wrong JSON type in a decoded field is an error.
//! Serialization (serde `Serialize`) writes go-utils' JSON tags with their `omitempty`
//! behaviour: `omitempty` fields are left out when empty, other fields are always written
//! (Go's nil slice or map as `null`). Each struct is declared once with
//! [`go_struct!`](super::decode), which writes its reader.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::decode::{go_string, go_struct};
use crate::evaluation::SliResult;
use crate::wire::wire_enum;

wire_enum!(
    /// Task status of an event (`data.status`, and of `evaluation.finished` and
    /// `get-sli.finished` payloads).
    ///
    /// Go's type is a string: an absent, `null` or empty status is [`StatusType::Unset`] and
    /// an unknown spelling is kept in [`StatusType::Other`] (Keptn compares exactly, so
    /// `Succeeded` is not `succeeded`), so every payload round-trips.
    StatusType {
        /// `succeeded`
        Succeeded = "succeeded",
        /// `errored`
        Errored = "errored",
        /// `unknown`
        Unknown = "unknown",
        /// `aborted` (the shipyard-controller's status for an aborted sequence).
        Aborted = "aborted";
        /// Empty or absent (wire `""`).
        Unset = "",
    }
);

wire_enum!(
    /// Task result of an event (`data.result`), also the computed result of an evaluation
    /// (`data.evaluation.result`).
    ///
    /// As with [`StatusType`], empty/absent/`null` is [`ResultType::Unset`] and unknown
    /// spellings (e.g. `failed`, used in some Keptn docs) are kept in [`ResultType::Other`].
    ResultType {
        /// `pass`
        Pass = "pass",
        /// `warning`
        Warning = "warning",
        /// `fail`
        Fail = "fail";
        /// Empty or absent (wire `""`).
        Unset = "",
    }
);

impl ResultType {
    /// Whether the shipyard-controller counts this result of a `.finished` event as a
    /// failure when it aggregates a task's results: everything that is neither `pass` nor
    /// `warning`, so `fail`, an empty or absent result, and unknown spellings such as
    /// `failed` or `Pass` (spec digest 4.4(d)).
    pub fn counts_as_fail_when_finished(&self) -> bool {
        !matches!(self, ResultType::Pass | ResultType::Warning)
    }
}

go_string!(StatusType, ResultType);

/// Keptn's three results ordered from best to worst, so the worst of many is their maximum:
/// the aggregated result of a task and of a sequence, and what `triggeredOn` selects on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// `pass`
    Pass,
    /// `warning`
    Warning,
    /// `fail`
    Fail,
}

impl Verdict {
    /// The wire string (`pass`, `warning`, `fail`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Warning => "warning",
            Verdict::Fail => "fail",
        }
    }

    /// How the shipyard-controller counts the result of one `.finished` event (see
    /// [`ResultType::counts_as_fail_when_finished`]).
    pub fn of_finished(result: &ResultType) -> Verdict {
        if result.counts_as_fail_when_finished() {
            Verdict::Fail
        } else if *result == ResultType::Warning {
            Verdict::Warning
        } else {
            Verdict::Pass
        }
    }

    /// The event field value.
    pub fn to_result_type(self) -> ResultType {
        ResultType::from(self.as_str())
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not `pass`, `warning` or `fail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown result `{0}` (expected pass, warning or fail)")]
pub struct UnknownResult(pub String);

impl std::str::FromStr for Verdict {
    type Err = UnknownResult;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pass" => Ok(Verdict::Pass),
            "warning" => Ok(Verdict::Warning),
            "fail" => Ok(Verdict::Fail),
            other => Err(UnknownResult(other.to_owned())),
        }
    }
}

impl Serialize for Verdict {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Verdict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Serializes any payload to a JSON value (payload structs hold only strings, numbers,
/// booleans, maps and JSON values, so this cannot fail; `Null` is the defensive fallback).
pub fn to_data<T: Serialize>(payload: &T) -> Value {
    serde_json::to_value(payload).unwrap_or(Value::Null)
}

go_struct! {
    /// The fields every Keptn event payload carries (go-utils `EventData`); all `omitempty`.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct EventData {
        /// Project name.
        #[serde(skip_serializing_if = "String::is_empty")]
        pub project: String,
        /// Stage name.
        #[serde(skip_serializing_if = "String::is_empty")]
        pub stage: String,
        /// Service name.
        #[serde(skip_serializing_if = "String::is_empty")]
        pub service: String,
        /// Labels; executors echo the triggered event's labels.
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        pub labels: BTreeMap<String, String>,
        /// Status.
        #[serde(skip_serializing_if = "StatusType::is_unset")]
        pub status: StatusType,
        /// Result.
        #[serde(skip_serializing_if = "ResultType::is_unset")]
        pub result: ResultType,
        /// Message.
        #[serde(skip_serializing_if = "String::is_empty")]
        pub message: String,
    }
}

/// Implements `from_data` and `to_data` for event payload structs.
macro_rules! payload {
    ($($ty:ty),* $(,)?) => {
        $(
            impl $ty {
                /// Reads this payload from an event's `data` (Go `encoding/json` rules).
                pub fn from_data(
                    data: &::serde_json::Value,
                ) -> Result<Self, $crate::event::decode::DataError> {
                    Self::read(&$crate::event::decode::Fields::root(data)?)
                }

                /// This payload as event `data` JSON (go-utils tags and omitempty).
                pub fn to_data(&self) -> ::serde_json::Value {
                    $crate::event::data::to_data(self)
                }
            }
        )*
    };
}

payload!(
    EventData,
    DeploymentTriggeredEventData,
    DeploymentFinishedEventData,
    TestTriggeredEventData,
    TestFinishedEventData,
    EvaluationTriggeredEventData,
    GetSliTriggeredEventData,
    GetSliFinishedEventData,
    ApprovalTriggeredEventData,
    ReleaseTriggeredEventData,
    RemediationTriggeredEventData,
    GetActionTriggeredEventData,
    GetActionFinishedEventData,
    ActionTriggeredEventData,
    LegacyProblemEventData,
    MonitoringConfigureEventData,
    ConfigureMonitoringTriggeredEventData,
    ProjectCreateFinishedEventData,
    ServiceCreateFinishedEventData,
    ErrorLogEventData,
);
pub(crate) use payload;

// ---------------------------------------------------------------------------------------
// deployment

go_struct! {
    /// `configurationChange` of a deployment/delivery trigger.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct ConfigurationChange {
        /// `values` (free-form; `image` is the artifact set by `keptn trigger delivery`).
        /// `None` is Go's nil map, written as `null`.
        pub values: Option<Map<String, Value>>,
    }
}

impl ConfigurationChange {
    /// `values.image` when it is a string.
    pub fn image(&self) -> Option<&str> {
        self.values.as_ref()?.get("image")?.as_str()
    }
}

go_struct! {
    /// `deployment` of a `deployment.triggered` event.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct DeploymentTriggeredData {
        /// `deploymentURIsLocal` (always written; nil as `null`).
        pub deployment_uris_local: Option<Vec<String>> = "deploymentURIsLocal",
        /// `deploymentURIsPublic` (omitempty).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub deployment_uris_public: Vec<String> = "deploymentURIsPublic",
        /// `deploymentstrategy` (`direct`, `blue_green_service`, `user_managed`; always written).
        pub deployment_strategy: String = "deploymentstrategy",
    }
}

go_struct! {
    /// Data of `sh.keptn.event.deployment.triggered`, and of the delivery sequence trigger sent
    /// by `keptn trigger delivery` (see [`DeliveryTriggeredEventData`]).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct DeploymentTriggeredEventData: EventData {
        /// `configurationChange`.
        pub configuration_change: ConfigurationChange = "configurationChange",
        /// `deployment`.
        pub deployment: DeploymentTriggeredData,
    }
}

/// Data of the sequence trigger `sh.keptn.event.<stage>.delivery.triggered` as built by
/// `keptn trigger delivery` (the CLI uses the deployment-triggered struct).
pub type DeliveryTriggeredEventData = DeploymentTriggeredEventData;

go_struct! {
    /// `deployment` of a `deployment.finished` event (also propagated into `release.triggered`).
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct DeploymentFinishedData {
        /// `deploymentstrategy` (always written).
        pub deployment_strategy: String = "deploymentstrategy",
        /// `deploymentURIsLocal` (always written; nil as `null`).
        pub deployment_uris_local: Option<Vec<String>> = "deploymentURIsLocal",
        /// `deploymentURIsPublic` (omitempty).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub deployment_uris_public: Vec<String> = "deploymentURIsPublic",
        /// `deploymentNames` (always written; nil as `null`), e.g. `["canary"]`.
        pub deployment_names: Option<Vec<String>> = "deploymentNames",
    }
}

go_struct! {
    /// Data of `sh.keptn.event.deployment.finished`.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct DeploymentFinishedEventData: EventData {
        /// `deployment`.
        pub deployment: DeploymentFinishedData,
    }
}

// ---------------------------------------------------------------------------------------
// test

go_struct! {
    /// `test` of a `test.triggered` event.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct TestTriggeredDetails {
        /// `teststrategy` (`functional`, `performance`, `real-user`, `healthcheck`; always
        /// written).
        pub test_strategy: String = "teststrategy",
    }
}

go_struct! {
    /// `deployment` of a `test.triggered` event (URIs to test against).
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct TestTriggeredDeployment {
        /// `deploymentURIsLocal` (omitempty).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub deployment_uris_local: Vec<String> = "deploymentURIsLocal",
        /// `deploymentURIsPublic` (omitempty).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub deployment_uris_public: Vec<String> = "deploymentURIsPublic",
    }
}

go_struct! {
    /// Data of `sh.keptn.event.test.triggered`.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct TestTriggeredEventData: EventData {
        /// `test`.
        pub test: TestTriggeredDetails,
        /// `deployment`.
        pub deployment: TestTriggeredDeployment,
    }
}

go_struct! {
    /// A `{start, end}` pair of Keptn timestamps (strings as sent; both always written).
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct TimeRange {
        /// `start`
        pub start: String,
        /// `end`
        pub end: String,
    }
}

go_struct! {
    /// Data of `sh.keptn.event.test.finished`.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct TestFinishedEventData: EventData {
        /// `test.{start,end}`: when the tests ran.
        pub test: TimeRange,
    }
}

// ---------------------------------------------------------------------------------------
// evaluation

go_struct! {
    /// `evaluation` of an `evaluation.triggered` event.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct EvaluationWindowSpec {
        /// `start`
        pub start: String,
        /// `end`
        pub end: String,
        /// `timeframe` (Go duration, e.g. `5m`).
        pub timeframe: String,
    }
}

go_struct! {
    /// `deployment` of an `evaluation.triggered` event.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct EvaluationDeployment {
        /// `deploymentNames` (always written; nil as `null`).
        pub deployment_names: Option<Vec<String>> = "deploymentNames",
    }
}

go_struct! {
    /// Data of `sh.keptn.event.evaluation.triggered`.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct EvaluationTriggeredEventData: EventData {
        /// `test.{start,end}` (window fallback when `evaluation` has none).
        pub test: TimeRange,
        /// `evaluation.{start,end,timeframe}`.
        pub evaluation: EvaluationWindowSpec,
        /// `deployment.deploymentNames`.
        pub deployment: EvaluationDeployment,
    }
}

// ---------------------------------------------------------------------------------------
// get-sli

go_struct! {
    /// One `customFilters` entry of a `get-sli.triggered` event.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct SliFilter {
        /// `key`
        pub key: String,
        /// `value`
        pub value: String,
    }
}

go_struct! {
    /// `get-sli` of a `get-sli.triggered` event.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct GetSliRequest {
        /// `sliProvider`: only the provider with this name answers.
        pub sli_provider: String = "sliProvider",
        /// `start`
        pub start: String,
        /// `end`
        pub end: String,
        /// `indicators` (omitempty): the SLI names wanted.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub indicators: Vec<String>,
        /// `customFilters` (omitempty): the SLO `filter` map as a list.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub custom_filters: Vec<SliFilter> = "customFilters",
    }
}

go_struct! {
    /// Data of `sh.keptn.event.get-sli.triggered`.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct GetSliTriggeredEventData: EventData {
        /// `get-sli`.
        pub get_sli: GetSliRequest = "get-sli",
        /// `deployment`: first deployment name (`canary`, `primary`, `direct`, ...).
        pub deployment: String,
    }
}

go_struct! {
    /// `get-sli` of a `get-sli.finished` event.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct GetSliResult {
        /// `start`
        pub start: String,
        /// `end`
        pub end: String,
        /// `indicatorValues` (omitempty), written as the providers send them (see
        /// `provided_values`).
        #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "provided_values")]
        pub indicator_values: Vec<SliResult> = "indicatorValues",
    }
}

/// Writes `indicatorValues` the way an SLI provider sends them: without `comparedValue`
/// (the lighthouse fills it in) and with numbers as serde writes them.
fn provided_values<S: Serializer>(values: &[SliResult], s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Provided<'a> {
        metric: &'a str,
        value: f64,
        success: bool,
        #[serde(skip_serializing_if = "str::is_empty")]
        message: &'a str,
        /// sluice extension (omitted when absent).
        #[serde(skip_serializing_if = "Option::is_none")]
        samples: Option<&'a [f64]>,
    }
    s.collect_seq(values.iter().map(|v| Provided {
        metric: &v.metric,
        value: v.value,
        success: v.success,
        message: &v.message,
        samples: v.samples.as_deref(),
    }))
}

go_struct! {
    /// Data of `sh.keptn.event.get-sli.finished` (written by the SLI providers, read by the
    /// lighthouse).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct GetSliFinishedEventData: EventData {
        /// `get-sli`.
        pub get_sli: GetSliResult = "get-sli",
    }
}

// ---------------------------------------------------------------------------------------
// approval

wire_enum!(
    /// An approval strategy (`approval.pass` / `approval.warning`). Only exactly `automatic`
    /// approves by itself: [`ApprovalStrategy::Unset`] and any other spelling
    /// ([`ApprovalStrategy::Other`]) are treated as manual.
    ApprovalStrategy {
        /// `automatic`
        Automatic = "automatic",
        /// `manual`
        Manual = "manual";
        /// Empty or absent: the approval-service treats it as manual (spec digest 2.5).
        Unset = "",
    }
);

go_string!(ApprovalStrategy);

impl ApprovalStrategy {
    /// Whether the approval-service approves without a human: only exactly `automatic`.
    /// (Docs say the default is automatic; the code treats unset as manual. We follow the code.)
    pub fn is_automatic(&self) -> bool {
        matches!(self, ApprovalStrategy::Automatic)
    }
}

go_struct! {
    /// `approval` of an `approval.triggered` event (both always written).
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct ApprovalSettings {
        /// Strategy when the previous result is `pass`.
        pub pass: ApprovalStrategy,
        /// Strategy when the previous result is `warning`.
        pub warning: ApprovalStrategy,
    }
}

go_struct! {
    /// Data of `sh.keptn.event.approval.triggered` (the common `result` is the previous task's
    /// result).
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct ApprovalTriggeredEventData: EventData {
        /// `approval`.
        pub approval: ApprovalSettings,
    }
}

// ---------------------------------------------------------------------------------------
// release

go_struct! {
    /// Data of `sh.keptn.event.release.triggered` (the deployment result is propagated).
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct ReleaseTriggeredEventData: EventData {
        /// `deployment`.
        pub deployment: DeploymentFinishedData,
    }
}

// ---------------------------------------------------------------------------------------
// remediation: problem, get-action, action

go_struct! {
    /// `problem` of remediation, get-action and action events.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct ProblemDetails {
        /// `problemTitle`
        pub problem_title: String = "problemTitle",
        /// `rootCause`
        pub root_cause: String = "rootCause",
    }
}

go_struct! {
    /// Data of `sh.keptn.event.<stage>.remediation.triggered` (a sequence trigger sent by a
    /// monitoring integration when a problem opens).
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct RemediationTriggeredEventData: EventData {
        /// `problem`.
        pub problem: ProblemDetails,
    }
}

go_struct! {
    /// `get-action` of get-action events.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
    pub struct GetActionIndex {
        /// `actionIndex`: which action of the matching problem type to run (0 first).
        pub action_index: i64 = "actionIndex",
    }
}

go_struct! {
    /// `action` of get-action.finished and action.triggered events.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct ActionInfo {
        /// `name`
        pub name: String,
        /// `action`: the action type an executor subscribes to.
        pub action: String,
        /// `description` (omitempty).
        #[serde(skip_serializing_if = "String::is_empty")]
        pub description: String,
        /// `value` (omitempty; any JSON).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub value: Option<Value>,
    }
}

go_struct! {
    /// Data of `sh.keptn.event.get-action.triggered`.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct GetActionTriggeredEventData: EventData {
        /// `problem`.
        pub problem: ProblemDetails,
        /// `get-action.actionIndex` (absent on the first round = 0).
        pub get_action: GetActionIndex = "get-action",
    }
}

go_struct! {
    /// Data of `sh.keptn.event.get-action.finished`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct GetActionFinishedEventData: EventData {
        /// `action`: the chosen action.
        pub action: ActionInfo,
        /// `get-action.actionIndex` = input index + 1.
        pub get_action: GetActionIndex = "get-action",
    }
}

go_struct! {
    /// Data of `sh.keptn.event.action.triggered`.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct ActionTriggeredEventData: EventData {
        /// `action`.
        pub action: ActionInfo,
        /// `problem`.
        pub problem: ProblemDetails,
    }
}

go_struct! {
    /// Data of the legacy `sh.keptn.events.problem` event (keptn v0.1 `ProblemEventData`).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct LegacyProblemEventData {
        /// `State` (omitempty): `OPEN` or `RESOLVED`.
        #[serde(skip_serializing_if = "String::is_empty")]
        pub state: String = "State",
        /// `ProblemID`
        pub problem_id: String = "ProblemID",
        /// `ProblemTitle`
        pub problem_title: String = "ProblemTitle",
        /// `ProblemDetails` (raw JSON; `null` when absent).
        pub problem_details: Option<Value> = "ProblemDetails",
        /// `PID`
        pub pid: String = "PID",
        /// `ProblemURL` (omitempty).
        #[serde(skip_serializing_if = "String::is_empty")]
        pub problem_url: String = "ProblemURL",
        /// `ImpactedEntity` (omitempty).
        #[serde(skip_serializing_if = "String::is_empty")]
        pub impacted_entity: String = "ImpactedEntity",
        /// `Tags` (omitempty): comma-separated.
        #[serde(skip_serializing_if = "String::is_empty")]
        pub tags: String = "Tags",
        /// `project` (omitempty).
        #[serde(skip_serializing_if = "String::is_empty")]
        pub project: String,
        /// `stage` (omitempty).
        #[serde(skip_serializing_if = "String::is_empty")]
        pub stage: String,
        /// `service` (omitempty).
        #[serde(skip_serializing_if = "String::is_empty")]
        pub service: String,
        /// `labels` (always written; nil as `null`).
        pub labels: Option<BTreeMap<String, String>>,
    }
}

// ---------------------------------------------------------------------------------------
// monitoring, lifecycle, log

go_struct! {
    /// Data of the legacy `sh.keptn.event.monitoring.configure` event.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct MonitoringConfigureEventData {
        /// `type`: the monitoring/SLI provider name (e.g. `prometheus`).
        pub provider: String = "type",
        /// `project`
        pub project: String,
        /// `service`
        pub service: String,
    }
}

go_struct! {
    /// `configureMonitoring` of a configure-monitoring trigger.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct ConfigureMonitoringParams {
        /// `type`: the provider name.
        pub provider: String = "type",
    }
}

go_struct! {
    /// Data of `sh.keptn.event.configure-monitoring.triggered` (the v0.2 task form).
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct ConfigureMonitoringTriggeredEventData: EventData {
        /// `configureMonitoring.type`.
        pub configure_monitoring: ConfigureMonitoringParams = "configureMonitoring",
    }
}

go_struct! {
    /// `createdProject` of `project.create.finished`.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct CreatedProject {
        /// `projectName`
        pub project_name: String = "projectName",
        /// `gitRemoteURL`
        pub git_remote_url: String = "gitRemoteURL",
        /// `shipyard` (base64 of shipyard.yaml).
        pub shipyard: String,
    }
}

go_struct! {
    /// Data of `sh.keptn.event.project.create.finished`.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct ProjectCreateFinishedEventData: EventData {
        /// `createdProject`.
        pub created_project: CreatedProject = "createdProject",
    }
}

go_struct! {
    /// `helm` of `service.create.finished`.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct HelmChart {
        /// `chart`
        pub chart: String,
    }
}

go_struct! {
    /// Data of `sh.keptn.event.service.create.finished`.
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct ServiceCreateFinishedEventData: EventData {
        /// `helm`.
        pub helm: HelmChart,
    }
}

go_struct! {
    /// Data of `sh.keptn.log.error` (go-utils `ErrorLogEvent`).
    #[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
    pub struct ErrorLogEventData {
        /// `message`
        pub message: String,
        /// `IntegrationId` (go-utils' tag; `integrationid` is read too, keys fold like Go).
        pub integration_id: String = "IntegrationId",
        /// `task`
        pub task: String,
    }
}

/// Data of `sh.keptn.event.evaluation.invalidated`, `rollback.*`, `approval.finished`,
/// `action.finished`, `*.started`, `project.delete.*`, ...: just the common fields.
pub type PlainEventData = EventData;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_data_reads_and_omits_empty() {
        let v = json!({"project": "p", "stage": "s", "service": "x", "labels": {"a": "b"},
                       "status": "succeeded", "result": "", "message": "", "extra": [1, 2]});
        let d = EventData::from_data(&v).unwrap();
        assert_eq!(d.status, StatusType::Succeeded);
        assert_eq!(d.result, ResultType::Unset);
        assert!(d.result.counts_as_fail_when_finished());
        assert_eq!(
            d.to_data(),
            json!({"project": "p", "stage": "s", "service": "x", "labels": {"a": "b"}, "status": "succeeded"})
        );
        let d = EventData::from_data(&json!({"result": "failed", "status": "Errored"})).unwrap();
        assert_eq!(d.result, ResultType::Other("failed".into()));
        assert!(d.result.counts_as_fail_when_finished());
        assert_eq!(d.status, StatusType::Other("Errored".into()));
        assert_eq!(
            d.to_data(),
            json!({"result": "failed", "status": "Errored"})
        );
        assert_eq!(
            EventData::from_data(&Value::Null).unwrap(),
            EventData::default()
        );
    }

    #[test]
    fn finished_result_fails_unless_pass_or_warning() {
        // shipyard-controller: a `.finished` result that is neither pass nor warning is a fail.
        for (wire, fails) in [
            ("pass", false),
            ("warning", false),
            ("fail", true),
            ("", true),
            ("failed", true),
            ("Pass", true),
            ("WARNING", true),
        ] {
            let r = ResultType::from(wire);
            assert_eq!(r.counts_as_fail_when_finished(), fails, "{wire:?}");
        }
    }

    #[test]
    fn verdicts_order_worst_last_and_read_finished_results() {
        assert!(Verdict::Pass < Verdict::Warning && Verdict::Warning < Verdict::Fail);
        let worst = ["pass", "warning", "pass"]
            .map(|r| Verdict::of_finished(&ResultType::from(r)))
            .into_iter()
            .max();
        assert_eq!(worst, Some(Verdict::Warning));
        for (wire, verdict) in [("failed", Verdict::Fail), ("", Verdict::Fail)] {
            assert_eq!(Verdict::of_finished(&ResultType::from(wire)), verdict);
        }
        for v in [Verdict::Pass, Verdict::Warning, Verdict::Fail] {
            let json = serde_json::to_value(v).unwrap();
            assert_eq!(json, json!(v.as_str()));
            assert_eq!(serde_json::from_value::<Verdict>(json).unwrap(), v);
            assert_eq!(v.to_result_type().as_str(), v.as_str());
        }
        assert!(serde_json::from_value::<Verdict>(json!("Pass")).is_err());
    }

    #[test]
    fn wrong_type_in_decoded_field_fails_ignored_field_does_not() {
        assert!(EventData::from_data(&json!({"project": 5})).is_err());
        assert!(EventData::from_data(&json!({"labels": ["a"]})).is_err());
        assert!(EventData::from_data(&json!("just a string")).is_err());
        // `deployment` is not a field of EventData: any type is fine there.
        assert!(EventData::from_data(&json!({"deployment": 5})).is_ok());
        // ...but it is for DeploymentFinishedEventData.
        let err = DeploymentFinishedEventData::from_data(&json!({"deployment": "x"})).unwrap_err();
        assert!(err.to_string().contains("`deployment`"), "{err}");
        // get-sli.triggered's `deployment` is a string, not an object.
        assert!(GetSliTriggeredEventData::from_data(&json!({"deployment": {"a": 1}})).is_err());
        assert!(GetSliTriggeredEventData::from_data(&json!({"deployment": "canary"})).is_ok());
    }

    #[test]
    fn deployment_triggered_matches_trigger_delivery_shape() {
        let data = json!({"project":"sockshop","stage":"dev","service":"carts","labels":{"buildId":"17"},
            "configurationChange":{"values":{"image":"docker.io/keptnexamples/carts:0.13.1"}},
            "deployment":{"deploymentURIsLocal":null,"deploymentstrategy":""}});
        let d = DeliveryTriggeredEventData::from_data(&data).unwrap();
        assert_eq!(
            d.configuration_change.image(),
            Some("docker.io/keptnexamples/carts:0.13.1")
        );
        assert_eq!(d.base.labels.get("buildId").map(String::as_str), Some("17"));
        assert_eq!(d.to_data(), data);
    }

    #[test]
    fn deployment_finished_round_trip() {
        let data = json!({"project":"sockshop","stage":"dev","service":"carts","result":"pass","status":"succeeded",
            "deployment":{"deploymentstrategy":"blue_green_service",
              "deploymentURIsLocal":["http://carts.sockshop-dev:80"],
              "deploymentURIsPublic":["http://carts.sockshop-dev.example.com"],
              "deploymentNames":["canary"]}});
        let d = DeploymentFinishedEventData::from_data(&data).unwrap();
        assert_eq!(
            d.deployment.deployment_names.as_deref(),
            Some(&["canary".to_string()][..])
        );
        assert_eq!(d.to_data(), data);
        // Missing arrays: nil written as null, omitempty public list left out.
        let d = DeploymentFinishedEventData::from_data(&json!({"deployment": {}})).unwrap();
        assert_eq!(
            d.to_data(),
            json!({"deployment":{"deploymentstrategy":"","deploymentURIsLocal":null,"deploymentNames":null}})
        );
    }

    #[test]
    fn test_events() {
        let t = TestTriggeredEventData::from_data(&json!({"test":{"teststrategy":"performance"},
            "deployment":{"deploymentURIsLocal":["http://a"]}}))
        .unwrap();
        assert_eq!(t.test.test_strategy, "performance");
        assert_eq!(
            t.to_data(),
            json!({"test":{"teststrategy":"performance"},"deployment":{"deploymentURIsLocal":["http://a"]}})
        );
        let f = TestFinishedEventData::from_data(&json!({"test":{"start":"2021-01-01T00:00:00.000Z","end":"2021-01-01T00:05:00.000Z","gitCommit":"x"}}))
            .unwrap();
        assert_eq!(f.test.end, "2021-01-01T00:05:00.000Z");
    }

    #[test]
    fn evaluation_triggered() {
        let data = json!({"project":"p","stage":"s","service":"x",
            "test":{"start":"2021-01-01T00:00:00.000Z","end":"2021-01-01T00:05:00.000Z"},
            "evaluation":{"start":"","end":"","timeframe":"5m"},
            "deployment":{"deploymentNames":["direct"]}});
        let e = EvaluationTriggeredEventData::from_data(&data).unwrap();
        assert_eq!(e.evaluation.timeframe, "5m");
        assert_eq!(e.to_data(), data);
        assert!(
            EvaluationTriggeredEventData::from_data(&json!({"evaluation":{"timeframe":5}}))
                .is_err()
        );
    }

    #[test]
    fn get_sli_events() {
        let data = json!({"project":"p","stage":"s","service":"x",
            "get-sli":{"sliProvider":"prometheus","start":"2021-01-01T00:00:00.000Z","end":"2021-01-01T00:05:00.000Z",
               "indicators":["response_time_p95"],"customFilters":[{"key":"mz_id","value":"4711"}]},
            "deployment":"canary"});
        let t = GetSliTriggeredEventData::from_data(&data).unwrap();
        assert_eq!(t.get_sli.custom_filters[0].value, "4711");
        assert_eq!(t.to_data(), data);
        let data = json!({"project":"p","stage":"s","service":"x","result":"pass","status":"succeeded",
            "get-sli":{"start":"a","end":"b","indicatorValues":[
               {"metric":"response_time_p95","value":512.5,"success":true},
               {"metric":"error_rate","value":0.0,"success":false,"message":"no data"}]}});
        let f = GetSliFinishedEventData::from_data(&data).unwrap();
        assert_eq!(f.get_sli.indicator_values.len(), 2);
        assert!(!f.get_sli.indicator_values[1].success);
        assert_eq!(f.to_data(), data);
        // Integer values decode into float64 fields, as in Go.
        let f = GetSliFinishedEventData::from_data(
            &json!({"get-sli":{"indicatorValues":[{"value":3}]}}),
        )
        .unwrap();
        assert_eq!(f.get_sli.indicator_values[0].value, 3.0);
        assert!(
            GetSliFinishedEventData::from_data(
                &json!({"get-sli":{"indicatorValues":[{"value":"3"}]}})
            )
            .is_err()
        );
        assert!(
            GetSliFinishedEventData::from_data(&json!({"get-sli":{"indicatorValues":{"value":3}}}))
                .is_err()
        );
    }

    #[test]
    fn approval_strategies() {
        let a = ApprovalTriggeredEventData::from_data(
            &json!({"result":"pass","approval":{"pass":"automatic","warning":"manual"}}),
        )
        .unwrap();
        assert!(a.approval.pass.is_automatic());
        assert!(!a.approval.warning.is_automatic());
        let a = ApprovalTriggeredEventData::from_data(&json!({})).unwrap();
        assert_eq!(a.approval.pass, ApprovalStrategy::Unset);
        assert!(!a.approval.pass.is_automatic());
        assert_eq!(a.to_data(), json!({"approval":{"pass":"","warning":""}}));
        let a = ApprovalTriggeredEventData::from_data(&json!({"approval":{"pass":"Automatic"}}))
            .unwrap();
        assert_eq!(a.approval.pass, ApprovalStrategy::Other("Automatic".into()));
        assert!(!a.approval.pass.is_automatic());
    }

    #[test]
    fn remediation_flow_payloads() {
        // Tutorial remediation_trigger.json data.
        let r = RemediationTriggeredEventData::from_data(
            &json!({"project":"fulltour","stage":"production","service":"helloservice",
            "problem":{"problemTitle":"http_response_time_seconds_main_page_sum"}}),
        )
        .unwrap();
        assert_eq!(
            r.problem.problem_title,
            "http_response_time_seconds_main_page_sum"
        );
        assert_eq!(r.problem.root_cause, "");
        // Old-style capitalised keys fold onto the same fields.
        let r = RemediationTriggeredEventData::from_data(
            &json!({"problem":{"ProblemTitle":"t","RootCause":"c"}}),
        )
        .unwrap();
        assert_eq!(
            (
                r.problem.problem_title.as_str(),
                r.problem.root_cause.as_str()
            ),
            ("t", "c")
        );

        let g = GetActionTriggeredEventData::from_data(
            &json!({"problem":{"problemTitle":"t","rootCause":"c"}}),
        )
        .unwrap();
        assert_eq!(g.get_action.action_index, 0);
        assert_eq!(
            g.to_data(),
            json!({"problem":{"problemTitle":"t","rootCause":"c"},"get-action":{"actionIndex":0}})
        );
        // Keptn's malformed fixture: get-action is a string -> error.
        assert!(GetActionTriggeredEventData::from_data(&json!({"get-action":"1"})).is_err());
        assert!(
            GetActionTriggeredEventData::from_data(&json!({"get-action":{"actionIndex":1.5}}))
                .is_err()
        );

        let data = json!({"project":"p","stage":"production","service":"x","result":"pass","status":"succeeded",
            "action":{"name":"scale","action":"scale","description":"Scale up","value":"2"},
            "get-action":{"actionIndex":1}});
        let f = GetActionFinishedEventData::from_data(&data).unwrap();
        assert_eq!(f.action.value, Some(json!("2")));
        assert_eq!(f.to_data(), data);

        let data = json!({"action":{"name":"n","action":"scaling","value":{"replicas":3}},
            "problem":{"problemTitle":"t","rootCause":""}});
        let a = ActionTriggeredEventData::from_data(&data).unwrap();
        assert_eq!(a.action.value, Some(json!({"replicas":3})));
        assert_eq!(a.to_data(), data);
        // value null/absent is omitted (Go nil interface, omitempty).
        let a = ActionTriggeredEventData::from_data(&json!({"action":{"value":null}})).unwrap();
        assert_eq!(a.action.value, None);
        assert_eq!(a.to_data()["action"], json!({"name":"","action":""}));
    }

    #[test]
    fn legacy_problem_and_log_and_lifecycle() {
        let data = json!({"State":"OPEN","ProblemID":"762","ProblemTitle":"cpu","ProblemDetails":{"x":1},
            "PID":"93a5","ImpactedEntity":"carts","project":"sockshop","stage":"production","service":"carts","labels":null});
        let p = LegacyProblemEventData::from_data(&data).unwrap();
        assert_eq!(p.problem_details, Some(json!({"x":1})));
        assert_eq!(p.to_data(), data);

        let l = ErrorLogEventData::from_data(
            &json!({"message":"boom","integrationid":"abc","task":"deployment"}),
        )
        .unwrap();
        assert_eq!(l.integration_id, "abc");
        assert_eq!(
            l.to_data(),
            json!({"message":"boom","IntegrationId":"abc","task":"deployment"})
        );

        let m = MonitoringConfigureEventData::from_data(
            &json!({"type":"prometheus","project":"p","service":"s"}),
        )
        .unwrap();
        assert_eq!(m.provider, "prometheus");
        assert_eq!(
            m.to_data(),
            json!({"type":"prometheus","project":"p","service":"s"})
        );

        let c = ConfigureMonitoringTriggeredEventData::from_data(
            &json!({"configureMonitoring":{"type":"dynatrace"}}),
        )
        .unwrap();
        assert_eq!(c.configure_monitoring.provider, "dynatrace");

        let pc = ProjectCreateFinishedEventData::from_data(&json!({"project":"p","createdProject":{"projectName":"p","gitRemoteURL":"https://g","shipyard":"c2hpcHlhcmQ="}}))
            .unwrap();
        assert_eq!(pc.created_project.git_remote_url, "https://g");
        let sc = ServiceCreateFinishedEventData::from_data(
            &json!({"service":"s","helm":{"chart":"Y2hhcnQ="}}),
        )
        .unwrap();
        assert_eq!(sc.helm.chart, "Y2hhcnQ=");

        let r = ReleaseTriggeredEventData::from_data(
            &json!({"deployment":{"deploymentNames":["primary"]}}),
        )
        .unwrap();
        assert_eq!(
            r.deployment.deployment_names,
            Some(vec!["primary".to_string()])
        );
        let inv =
            PlainEventData::from_data(&json!({"project":"p","stage":"s","service":"x"})).unwrap();
        assert_eq!(inv.project, "p");
    }
}
