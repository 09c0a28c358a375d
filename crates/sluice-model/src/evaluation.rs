//! Evaluation wire types in Keptn's exact JSON shape (go-utils `pkg/lib/v0_2_0`
//! `evaluation.go`, `getsli.go` and the common `EventData`).
//!
//! Field names, order and `omitempty` behaviour follow the Go structs (go-utils 0.20.4): `message`
//! of an SLI value, `comparedEvents`, and the common event fields (`project`, `stage`,
//! `service`, `labels`, `status`, `result`, `message`) are left out when empty;
//! `indicatorResults` is written as `null` when Go had a nil slice (nothing appended);
//! `passTargets` and `warningTargets` keep Go's difference between a nil slice (`null`) and an
//! empty one (`[]`), because the lighthouse produced both; whole numbers are written without a
//! fraction (`100`, not `100.0`) as Go's `encoding/json` does. Deserialisation is lenient (every field
//! has a default, unknown wire strings are kept) so stored events of any Keptn version load.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::event::data::{ResultType, StatusType};
use crate::wire::wire_enum;

wire_enum!(
    /// The status of one evaluated objective.
    IndicatorStatus {
        /// Pass criteria met.
        Pass = "pass",
        /// Warning criteria met.
        Warning = "warning",
        /// Neither met, or no usable value.
        Fail = "fail",
        /// Informational objective (no pass criteria).
        Info = "info",
    }
);

/// Serialises an `f64` the way Go's `encoding/json` writes whole numbers (no `.0`).
pub fn go_f64<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

fn null_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or_default())
}

fn null_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

fn null_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or_default())
}

fn null_vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Writes an empty list as `null` (Go's nil slice).
fn nil_if_empty<S: Serializer, T: Serialize>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
    if v.is_empty() {
        s.serialize_none()
    } else {
        v.serialize(s)
    }
}

/// One SLI value as delivered by an SLI provider (`get-sli.finished` `indicatorValues[]`)
/// and as echoed in evaluation results.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SliResult {
    /// SLI name.
    #[serde(default, deserialize_with = "null_string")]
    pub metric: String,
    /// Measured value.
    #[serde(default, serialize_with = "go_f64", deserialize_with = "null_f64")]
    pub value: f64,
    /// Aggregate of previous values the criteria were compared with (set by lighthouse).
    #[serde(
        rename = "comparedValue",
        default,
        serialize_with = "go_f64",
        deserialize_with = "null_f64"
    )]
    pub compared_value: f64,
    /// Whether the provider could compute the value.
    #[serde(default, deserialize_with = "null_bool")]
    pub success: bool,
    /// Error message of the provider (omitted when empty).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_string"
    )]
    pub message: String,
}

/// One evaluated criterion.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SliTarget {
    /// The criterion as written in the SLO.
    #[serde(default, deserialize_with = "null_string")]
    pub criteria: String,
    /// The computed threshold.
    #[serde(
        rename = "targetValue",
        default,
        serialize_with = "go_f64",
        deserialize_with = "null_f64"
    )]
    pub target_value: f64,
    /// Whether the criterion was not met.
    #[serde(default, deserialize_with = "null_bool")]
    pub violated: bool,
}

/// The evaluation of one objective.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SliEvaluationResult {
    /// Score contributed (weight, half the weight, or 0).
    #[serde(default, serialize_with = "go_f64", deserialize_with = "null_f64")]
    pub score: f64,
    /// The SLI value (Go pointer; `null` when absent).
    #[serde(default)]
    pub value: Option<SliResult>,
    /// `displayName` from the SLO.
    #[serde(rename = "displayName", default, deserialize_with = "null_string")]
    pub display_name: String,
    /// Pass targets in SLO order: `None` is Go's nil slice (`null`), `Some(vec![])` an empty
    /// one (`[]`).
    #[serde(rename = "passTargets", default)]
    pub pass_targets: Option<Vec<SliTarget>>,
    /// Warning targets in SLO order: `None` is Go's nil slice (`null`), `Some(vec![])` an empty
    /// one (`[]`).
    #[serde(rename = "warningTargets", default)]
    pub warning_targets: Option<Vec<SliTarget>>,
    /// Whether the objective is a key SLI.
    #[serde(rename = "keySli", default, deserialize_with = "null_bool")]
    pub key_sli: bool,
    /// `pass`, `warning`, `fail` or `info`.
    #[serde(default = "default_indicator_status")]
    pub status: IndicatorStatus,
}

fn default_indicator_status() -> IndicatorStatus {
    IndicatorStatus::Other(String::new())
}

/// `data.evaluation` of an `evaluation.finished` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationDetails {
    /// Start of the evaluated window.
    #[serde(rename = "timeStart", default, deserialize_with = "null_string")]
    pub time_start: String,
    /// End of the evaluated window.
    #[serde(rename = "timeEnd", default, deserialize_with = "null_string")]
    pub time_end: String,
    /// The computed result (a plain string in Go; may be empty, and is always written).
    #[serde(default)]
    pub result: ResultType,
    /// Total score in percent.
    #[serde(default, serialize_with = "go_f64", deserialize_with = "null_f64")]
    pub score: f64,
    /// The SLO file, base64 (raw text in Keptn's errored events).
    #[serde(rename = "sloFileContent", default, deserialize_with = "null_string")]
    pub slo_file_content: String,
    /// Per-objective results (`null` when none).
    #[serde(
        rename = "indicatorResults",
        default,
        serialize_with = "nil_if_empty",
        deserialize_with = "null_vec"
    )]
    pub indicator_results: Vec<SliEvaluationResult>,
    /// Ids of the previous evaluations compared with (omitted when empty).
    #[serde(
        rename = "comparedEvents",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_vec"
    )]
    pub compared_events: Vec<String>,
}

impl Default for EvaluationDetails {
    fn default() -> Self {
        EvaluationDetails {
            time_start: String::new(),
            time_end: String::new(),
            result: ResultType::Unset,
            score: 0.0,
            slo_file_content: String::new(),
            indicator_results: Vec::new(),
            compared_events: Vec::new(),
        }
    }
}

/// `data` of an `sh.keptn.event.evaluation.finished` event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EvaluationFinishedEventData {
    /// Project.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_string"
    )]
    pub project: String,
    /// Stage.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_string"
    )]
    pub stage: String,
    /// Service.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_string"
    )]
    pub service: String,
    /// Labels (Go map: written with sorted keys, omitted when empty).
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_map"
    )]
    pub labels: BTreeMap<String, String>,
    /// Task status (omitted when unset).
    #[serde(default, skip_serializing_if = "StatusType::is_unset")]
    pub status: StatusType,
    /// Task result (omitted when unset).
    #[serde(default, skip_serializing_if = "ResultType::is_unset")]
    pub result: ResultType,
    /// Message (omitted when empty).
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_string"
    )]
    pub message: String,
    /// The evaluation details.
    #[serde(default)]
    pub evaluation: EvaluationDetails,
}

fn null_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(Option::<BTreeMap<String, String>>::deserialize(d)?.unwrap_or_default())
}

/// `data["get-sli"]` of a `get-sli.finished` event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GetSliFinished {
    /// Window start.
    #[serde(default, deserialize_with = "null_string")]
    pub start: String,
    /// Window end.
    #[serde(default, deserialize_with = "null_string")]
    pub end: String,
    /// The values (omitted when empty).
    #[serde(
        rename = "indicatorValues",
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_vec"
    )]
    pub indicator_values: Vec<SliResult>,
}

/// `data` of a `get-sli.finished` event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GetSliFinishedEventData {
    /// Project.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_string"
    )]
    pub project: String,
    /// Stage.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_string"
    )]
    pub stage: String,
    /// Service.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_string"
    )]
    pub service: String,
    /// Labels.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "null_map"
    )]
    pub labels: BTreeMap<String, String>,
    /// Status.
    #[serde(default, skip_serializing_if = "StatusType::is_unset")]
    pub status: StatusType,
    /// Result.
    #[serde(default, skip_serializing_if = "ResultType::is_unset")]
    pub result: ResultType,
    /// Message.
    #[serde(
        default,
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_string"
    )]
    pub message: String,
    /// The SLI values.
    #[serde(rename = "get-sli", default)]
    pub get_sli: GetSliFinished,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keptn_stored_event_roundtrips_exactly() {
        // Shape of an evaluation.finished data object as stored by Keptn (from its tests).
        let src = r#"{"project":"p","stage":"s","service":"x","status":"succeeded","result":"pass","evaluation":{"timeStart":"a","timeEnd":"b","result":"pass","score":100,"sloFileContent":"Zm9v","indicatorResults":[{"score":1,"value":{"metric":"response_time_p95","value":200,"comparedValue":200,"success":true},"displayName":"","passTargets":[{"criteria":"<=+75%","targetValue":350,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"},{"score":0,"value":{"metric":"error_rate","value":0.5,"comparedValue":0,"success":false,"message":"boom"},"displayName":"Errors","passTargets":[],"warningTargets":[{"criteria":"<=5","targetValue":5,"violated":true}],"keySli":false,"status":"info"}],"comparedEvents":["id1"]}}"#;
        let data: EvaluationFinishedEventData = serde_json::from_str(src).unwrap();
        assert_eq!(data.result, ResultType::Pass);
        assert_eq!(
            data.evaluation.indicator_results[1].status,
            IndicatorStatus::Info
        );
        // Go's nil slice (`null`) and empty slice (`[]`) stay apart.
        assert_eq!(data.evaluation.indicator_results[0].warning_targets, None);
        assert_eq!(
            data.evaluation.indicator_results[1].pass_targets,
            Some(Vec::new())
        );
        assert_eq!(serde_json::to_string(&data).unwrap(), src);
    }

    #[test]
    fn empty_fields_are_omitted_or_null_like_go() {
        let data = EvaluationFinishedEventData {
            evaluation: EvaluationDetails {
                result: ResultType::Pass,
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"evaluation":{"timeStart":"","timeEnd":"","result":"pass","score":0,"sloFileContent":"","indicatorResults":null}}"#
        );
    }

    #[test]
    fn unknown_strings_and_nulls_are_tolerated() {
        let d: EvaluationFinishedEventData =
            serde_json::from_str(r#"{"result":"odd","status":null,"evaluation":{"result":"","indicatorResults":[{"value":null,"status":"weird"}]}}"#)
                .unwrap();
        assert_eq!(d.result, ResultType::Other("odd".into()));
        assert_eq!(d.status, StatusType::Unset);
        assert_eq!(d.evaluation.result, ResultType::Unset);
        assert_eq!(d.evaluation.indicator_results[0].status.as_str(), "weird");
        assert!(d.evaluation.indicator_results[0].value.is_none());
    }

    #[test]
    fn absent_null_and_empty_result_and_status_are_unset_and_omitted() {
        for src in [
            r#"{"evaluation":{}}"#,
            r#"{"status":null,"result":null,"evaluation":{"result":null}}"#,
            r#"{"status":"","result":"","evaluation":{"result":""}}"#,
        ] {
            let d: EvaluationFinishedEventData = serde_json::from_str(src).unwrap();
            assert_eq!(d.status, StatusType::Unset, "{src}");
            assert_eq!(d.result, ResultType::Unset, "{src}");
            assert_eq!(d.evaluation.result, ResultType::Unset, "{src}");
            // Top-level status/result are omitempty; evaluation.result is always written.
            assert_eq!(
                serde_json::to_string(&d).unwrap(),
                r#"{"evaluation":{"timeStart":"","timeEnd":"","result":"","score":0,"sloFileContent":"","indicatorResults":null}}"#
            );
        }
        let d: GetSliFinishedEventData =
            serde_json::from_str(r#"{"status":"Succeeded","result":null}"#).unwrap();
        assert_eq!(d.status, StatusType::Other("Succeeded".into()));
        assert_eq!(d.result, ResultType::Unset);
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            r#"{"status":"Succeeded","get-sli":{"start":"","end":""}}"#
        );
    }

    #[test]
    fn get_sli_finished_parses() {
        let d: GetSliFinishedEventData = serde_json::from_str(
            r#"{"project":"p","result":"fail","get-sli":{"start":"s","end":"e","indicatorValues":[{"metric":"m","value":1.5,"success":true}]}}"#,
        )
        .unwrap();
        assert_eq!(d.get_sli.indicator_values[0].value, 1.5);
        assert_eq!(d.result, ResultType::Fail);
    }
}
