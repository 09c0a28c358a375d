//! Evaluation wire types in Keptn's exact JSON shape (go-utils `pkg/lib/v0_2_0`
//! `evaluation.go`, `getsli.go` and the common `EventData`).
//!
//! Field names, order and `omitempty` behaviour follow the Go structs (go-utils 0.20.4): `message`
//! of an SLI value, `comparedEvents`, and the common event fields (`project`, `stage`,
//! `service`, `labels`, `status`, `result`, `message`) are left out when empty;
//! `indicatorResults` is written as `null` when Go had a nil slice (nothing appended);
//! `passTargets` and `warningTargets` keep Go's difference between a nil slice (`null`) and an
//! empty one (`[]`), because the lighthouse produced both; whole numbers are written without a
//! fraction (`100`, not `100.0`) as Go's `encoding/json` does. Reading follows Go's
//! `encoding/json`, as Keptn's lighthouse does (the structs are declared with the event
//! payloads' `go_struct!`): missing and `null` fields are zero, keys fold case, unknown wire
//! strings are kept, so stored events of any Keptn version load.

use serde::{Serialize, Serializer};

use crate::event::data::payload;
pub use crate::event::data::{EventData, GetSliFinishedEventData, ResultType, StatusType};
use crate::event::decode::{go_string, go_struct};
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

go_string!(IndicatorStatus);

/// Serialises an `f64` the way Go's `encoding/json` writes whole numbers (no `.0`).
pub fn go_f64<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f64(*v)
    }
}

/// Writes an empty list as `null` (Go's nil slice).
fn nil_if_empty<S: Serializer, T: Serialize>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
    if v.is_empty() {
        s.serialize_none()
    } else {
        v.serialize(s)
    }
}

go_struct! {
    /// One SLI value (go-utils `SLIResult`) as delivered by an SLI provider (`get-sli.finished`
    /// `indicatorValues[]`) and as echoed in evaluation results.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct SliResult {
        /// SLI name.
        pub metric: String,
        /// Measured value.
        #[serde(serialize_with = "go_f64")]
        pub value: f64,
        /// Aggregate of previous values the criteria were compared with (set by lighthouse).
        #[serde(serialize_with = "go_f64")]
        pub compared_value: f64 = "comparedValue",
        /// Whether the provider could compute the value.
        pub success: bool,
        /// Error message of the provider (omitted when empty).
        #[serde(skip_serializing_if = "String::is_empty")]
        pub message: String,
        /// The observations behind the value (sluice extension, absent in Keptn's events and
        /// omitted when `None`): for example each request's latency, at most
        /// [`MAX_SAMPLES`] of them, that statistical criteria compare.
        #[serde(skip_serializing_if = "Option::is_none")]
        pub samples: Option<Vec<f64>>,
    }
}

/// The most samples an SLI value carries (sluice extension): providers reduce larger sets to
/// this many evenly spaced quantiles ([`bounded_samples`]), so events stay small (at most about
/// 20 KiB per SLI) while a rank test still sees a slow tail of a few percent.
pub const MAX_SAMPLES: usize = 2000;

/// `values` reduced to what an SLI value carries: non-finite values dropped, then, when more
/// than [`MAX_SAMPLES`] are left, the `MAX_SAMPLES` quantiles at `(i + 0.5) / MAX_SAMPLES` of
/// the sorted values (nearest rank), which keep the distribution's shape, tails included,
/// deterministically. Returns the values sorted.
pub fn bounded_samples(mut values: Vec<f64>) -> Vec<f64> {
    values.retain(|v| v.is_finite());
    values.sort_by(f64::total_cmp);
    if values.len() <= MAX_SAMPLES {
        return values;
    }
    let n = values.len();
    (0..MAX_SAMPLES)
        .map(|i| {
            let q = (i as f64 + 0.5) / MAX_SAMPLES as f64;
            values[((q * n as f64) as usize).min(n - 1)]
        })
        .collect()
}

go_struct! {
    /// One evaluated criterion.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct SliTarget {
        /// The criterion as written in the SLO.
        pub criteria: String,
        /// The computed threshold.
        #[serde(serialize_with = "go_f64")]
        pub target_value: f64 = "targetValue",
        /// Whether the criterion was not met.
        pub violated: bool,
    }
}

go_struct! {
    /// The evaluation of one objective.
    #[derive(Debug, Clone, PartialEq, Serialize)]
    pub struct SliEvaluationResult {
        /// Score contributed (weight, half the weight, or 0).
        #[serde(serialize_with = "go_f64")]
        pub score: f64,
        /// The SLI value (Go pointer; `null` when absent).
        pub value: Option<SliResult>,
        /// `displayName` from the SLO.
        pub display_name: String = "displayName",
        /// Pass targets in SLO order: `None` is Go's nil slice (`null`), `Some(vec![])` an
        /// empty one (`[]`).
        pub pass_targets: Option<Vec<SliTarget>> = "passTargets",
        /// Warning targets in SLO order: `None` is Go's nil slice (`null`), `Some(vec![])` an
        /// empty one (`[]`).
        pub warning_targets: Option<Vec<SliTarget>> = "warningTargets",
        /// Whether the objective is a key SLI.
        pub key_sli: bool = "keySli",
        /// `pass`, `warning`, `fail` or `info` (absent reads as the empty `Other`).
        pub status: IndicatorStatus,
    }
}

go_struct! {
    /// `data.evaluation` of an `evaluation.finished` event.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct EvaluationDetails {
        /// Start of the evaluated window.
        pub time_start: String = "timeStart",
        /// End of the evaluated window.
        pub time_end: String = "timeEnd",
        /// The computed result (a plain string in Go; may be empty, and is always written).
        pub result: ResultType,
        /// Total score in percent.
        #[serde(serialize_with = "go_f64")]
        pub score: f64,
        /// The SLO file, base64 (raw text in Keptn's errored events).
        pub slo_file_content: String = "sloFileContent",
        /// Per-objective results (`null` when none).
        #[serde(serialize_with = "nil_if_empty")]
        pub indicator_results: Vec<SliEvaluationResult> = "indicatorResults",
        /// Ids of the previous evaluations compared with (omitted when empty).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        pub compared_events: Vec<String> = "comparedEvents",
    }
}

go_struct! {
    /// `data` of an `sh.keptn.event.evaluation.finished` event.
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    pub struct EvaluationFinishedEventData: EventData {
        /// The evaluation details.
        pub evaluation: EvaluationDetails,
    }
}

payload!(EvaluationFinishedEventData);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keptn_stored_event_roundtrips_exactly() {
        // Shape of an evaluation.finished data object as stored by Keptn (from its tests).
        let src = r#"{"project":"p","stage":"s","service":"x","status":"succeeded","result":"pass","evaluation":{"timeStart":"a","timeEnd":"b","result":"pass","score":100,"sloFileContent":"Zm9v","indicatorResults":[{"score":1,"value":{"metric":"response_time_p95","value":200,"comparedValue":200,"success":true},"displayName":"","passTargets":[{"criteria":"<=+75%","targetValue":350,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"},{"score":0,"value":{"metric":"error_rate","value":0.5,"comparedValue":0,"success":false,"message":"boom"},"displayName":"Errors","passTargets":[],"warningTargets":[{"criteria":"<=5","targetValue":5,"violated":true}],"keySli":false,"status":"info"}],"comparedEvents":["id1"]}}"#;
        let data: EvaluationFinishedEventData = serde_json::from_str(src).unwrap();
        assert_eq!(data.base.result, ResultType::Pass);
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
        assert_eq!(d.base.result, ResultType::Other("odd".into()));
        assert_eq!(d.base.status, StatusType::Unset);
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
            assert_eq!(d.base.status, StatusType::Unset, "{src}");
            assert_eq!(d.base.result, ResultType::Unset, "{src}");
            assert_eq!(d.evaluation.result, ResultType::Unset, "{src}");
            // Top-level status/result are omitempty; evaluation.result is always written.
            assert_eq!(
                serde_json::to_string(&d).unwrap(),
                r#"{"evaluation":{"timeStart":"","timeEnd":"","result":"","score":0,"sloFileContent":"","indicatorResults":null}}"#
            );
        }
        let d: GetSliFinishedEventData =
            serde_json::from_str(r#"{"status":"Succeeded","result":null}"#).unwrap();
        assert_eq!(d.base.status, StatusType::Other("Succeeded".into()));
        assert_eq!(d.base.result, ResultType::Unset);
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
        assert_eq!(d.base.result, ResultType::Fail);
    }
}
