//! Conformance table computed with Keptn 1.4.5's lighthouse code.
//!
//! Every `expected` below is the `evaluation.finished` data that Keptn 1.4.5 (keptn/keptn
//! 318a3d541) computed for the case: `processGetSliFinishedEvent` of
//! `lighthouse-service/event_handler/evaluate_sli_handler.go` with its IO removed, and the
//! functions it calls (`evaluateObjectives`, `getSLIResult`, `getFailedValue`,
//! `getEmptyTargets`, `criteriaObject.getTargetValue`, `evaluateOrCombinedCriteria`,
//! `evaluateCriteriaSet`, `evaluateSingleCriteria`, `evaluateComparison`, `aggregateValues`,
//! `calculatePercentile`, `parseCriteriaString`, `checkLeftoverSLI`, `calculateScore`, and
//! `parseSLO` and `sendErroredFinishedEventWithMessage` from `common.go`), built unchanged with
//! Go 1.19 against the go-utils 0.20.4 model structs and gopkg.in/yaml.v3 3.0.1, and encoded
//! with `encoding/json` (HTML escaping off, so `<` reads as itself). The datastore query was
//! stood in for by filtering `previous` (newest first) on `data.result` and the limit, as
//! mongodb-datastore answered it. Keptn's Go code is not part of this repository.

use super::*;
use sluice_model::evaluation::GetSliFinishedEventData;

/// One case: the SLO file (empty: none), the `get-sli.finished` data, the earlier
/// evaluations (`[{"id", "data"}]`, newest first) and what Keptn sent.
struct Case {
    name: &'static str,
    slo: &'static str,
    get_sli: &'static str,
    previous: &'static str,
    expected: &'static str,
}

const CASES: &[Case] = &[
    Case {
        name: "missing_value_no_entry",
        slo: r#"objectives:
  - sli: rt
    displayName: Response time
    pass: [{criteria: ["<=+10%", "<600"]}]
    warning: [{criteria: ["<=800"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 50 is below the warning value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIGRpc3BsYXlOYW1lOiBSZXNwb25zZSB0aW1lCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9KzEwJSIsICI8NjAwIl19XQogICAgd2FybmluZzogW3tjcml0ZXJpYTogWyI8PTgwMCJdfV0KICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":[{"score":0,"value":{"metric":"rt","value":0,"comparedValue":0,"success":false,"message":"no value received from SLI provider"},"displayName":"Response time","passTargets":[{"criteria":"<=+10%","targetValue":0,"violated":true},{"criteria":"<600","targetValue":600,"violated":true}],"warningTargets":[{"criteria":"<=800","targetValue":800,"violated":true}],"keySli":false,"status":"fail"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}]}}"#,
    },
    Case {
        name: "missing_value_with_history",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: avg}
objectives:
  - sli: rt
    displayName: Response time
    pass: [{criteria: ["<=+10%", "<600"]}]
    warning: [{criteria: ["<=800"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 50 is below the warning value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAzLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzLCBhZ2dyZWdhdGVfZnVuY3Rpb246IGF2Z30Kb2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIGRpc3BsYXlOYW1lOiBSZXNwb25zZSB0aW1lCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9KzEwJSIsICI8NjAwIl19XQogICAgd2FybmluZzogW3tjcml0ZXJpYTogWyI8PTgwMCJdfV0KICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":[{"score":0,"value":{"metric":"rt","value":0,"comparedValue":0,"success":false,"message":"no value received from SLI provider"},"displayName":"Response time","passTargets":[{"criteria":"<=+10%","targetValue":520,"violated":true},{"criteria":"<600","targetValue":600,"violated":true}],"warningTargets":[{"criteria":"<=800","targetValue":800,"violated":true}],"keySli":false,"status":"fail"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0.75,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":["e1","e3","e4"]}}"#,
    },
    Case {
        name: "unsuccessful_value_with_message",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: avg}
objectives:
  - sli: rt
    displayName: Response time
    pass: [{criteria: ["<=+10%", "<600"]}]
    warning: [{criteria: ["<=800"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":12,"success":false,"comparedValue":3,"message":"query did return multiple values"},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 50 is below the warning value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAzLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzLCBhZ2dyZWdhdGVfZnVuY3Rpb246IGF2Z30Kb2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIGRpc3BsYXlOYW1lOiBSZXNwb25zZSB0aW1lCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9KzEwJSIsICI8NjAwIl19XQogICAgd2FybmluZzogW3tjcml0ZXJpYTogWyI8PTgwMCJdfV0KICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":[{"score":0,"value":{"metric":"rt","value":12,"comparedValue":3,"success":false,"message":"query did return multiple values"},"displayName":"Response time","passTargets":[{"criteria":"<=+10%","targetValue":520,"violated":true},{"criteria":"<600","targetValue":600,"violated":true}],"warningTargets":[{"criteria":"<=800","targetValue":800,"violated":true}],"keySli":false,"status":"fail"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0.75,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":["e1","e3","e4"]}}"#,
    },
    Case {
        name: "unsuccessful_value_without_message",
        slo: r#"objectives:
  - sli: rt
    displayName: Response time
    pass: [{criteria: ["<=+10%", "<600"]}]
    warning: [{criteria: ["<=800"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":0,"success":false},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 50 is below the warning value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIGRpc3BsYXlOYW1lOiBSZXNwb25zZSB0aW1lCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9KzEwJSIsICI8NjAwIl19XQogICAgd2FybmluZzogW3tjcml0ZXJpYTogWyI8PTgwMCJdfV0KICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":[{"score":0,"value":{"metric":"rt","value":0,"comparedValue":0,"success":false},"displayName":"Response time","passTargets":[{"criteria":"<=+10%","targetValue":0,"violated":true},{"criteria":"<600","targetValue":600,"violated":true}],"warningTargets":[{"criteria":"<=800","targetValue":800,"violated":true}],"keySli":false,"status":"fail"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}]}}"#,
    },
    Case {
        name: "informational_measured_with_history",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: avg}
objectives:
  - sli: err
    pass: [{criteria: ["<=1"]}]
  - sli: cpu
    displayName: CPU
    warning: [{criteria: ["<=50", "<=+10%"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true},{"metric":"cpu","value":45,"success":true,"comparedValue":7}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":100,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAzLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzLCBhZ2dyZWdhdGVfZnVuY3Rpb246IGF2Z30Kb2JqZWN0aXZlczoKICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KICAtIHNsaTogY3B1CiAgICBkaXNwbGF5TmFtZTogQ1BVCiAgICB3YXJuaW5nOiBbe2NyaXRlcmlhOiBbIjw9NTAiLCAiPD0rMTAlIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiNzUlIn0K","indicatorResults":[{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0.75,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"},{"score":0,"value":{"metric":"cpu","value":45,"comparedValue":7,"success":true},"displayName":"CPU","passTargets":[],"warningTargets":[{"criteria":"<=50","targetValue":50,"violated":true},{"criteria":"<=+10%","targetValue":50,"violated":true}],"keySli":false,"status":"info"}],"comparedEvents":["e1","e3","e4"]}}"#,
    },
    Case {
        name: "informational_measured_no_history",
        slo: r#"objectives:
  - sli: err
    pass: [{criteria: ["<=1"]}]
  - sli: cpu
    displayName: CPU
    warning: [{criteria: ["<=50", "<=+10%"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true},{"metric":"cpu","value":45,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":100,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KICAtIHNsaTogY3B1CiAgICBkaXNwbGF5TmFtZTogQ1BVCiAgICB3YXJuaW5nOiBbe2NyaXRlcmlhOiBbIjw9NTAiLCAiPD0rMTAlIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiNzUlIn0K","indicatorResults":[{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"},{"score":0,"value":{"metric":"cpu","value":45,"comparedValue":0,"success":true},"displayName":"CPU","passTargets":[],"warningTargets":[{"criteria":"<=50","targetValue":50,"violated":true},{"criteria":"<=+10%","targetValue":0,"violated":true}],"keySli":false,"status":"info"}]}}"#,
    },
    Case {
        name: "informational_missing",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: avg}
objectives:
  - sli: err
    pass: [{criteria: ["<=1"]}]
  - sli: cpu
    displayName: CPU
    warning: [{criteria: ["<=50", "<=+10%"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":100,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAzLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzLCBhZ2dyZWdhdGVfZnVuY3Rpb246IGF2Z30Kb2JqZWN0aXZlczoKICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KICAtIHNsaTogY3B1CiAgICBkaXNwbGF5TmFtZTogQ1BVCiAgICB3YXJuaW5nOiBbe2NyaXRlcmlhOiBbIjw9NTAiLCAiPD0rMTAlIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiNzUlIn0K","indicatorResults":[{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0.75,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"},{"score":0,"value":null,"displayName":"CPU","passTargets":[],"warningTargets":[{"criteria":"<=50","targetValue":50,"violated":true},{"criteria":"<=+10%","targetValue":50,"violated":true}],"keySli":false,"status":"info"}],"comparedEvents":["e1","e3","e4"]}}"#,
    },
    Case {
        name: "informational_unsuccessful",
        slo: r#"objectives:
  - sli: err
    pass: [{criteria: ["<=1"]}]
  - sli: cpu
    displayName: CPU
    warning: [{criteria: ["<=50", "<=+10%"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true},{"metric":"cpu","value":0,"success":false,"message":"no data"}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":100,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KICAtIHNsaTogY3B1CiAgICBkaXNwbGF5TmFtZTogQ1BVCiAgICB3YXJuaW5nOiBbe2NyaXRlcmlhOiBbIjw9NTAiLCAiPD0rMTAlIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiNzUlIn0K","indicatorResults":[{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"},{"score":0,"value":{"metric":"cpu","value":0,"comparedValue":0,"success":false,"message":"no data"},"displayName":"CPU","passTargets":[],"warningTargets":[{"criteria":"<=50","targetValue":50,"violated":true},{"criteria":"<=+10%","targetValue":0,"violated":true}],"keySli":false,"status":"info"}]}}"#,
    },
    Case {
        name: "informational_without_criteria_missing",
        slo: r#"objectives:
  - sli: err
    pass: [{criteria: ["<=1"]}]
  - sli: mem
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":100,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KICAtIHNsaTogbWVtCnRvdGFsX3Njb3JlOiB7cGFzczogIjkwJSIsIHdhcm5pbmc6ICI3NSUifQo=","indicatorResults":[{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"},{"score":0,"value":null,"displayName":"","passTargets":[],"warningTargets":[],"keySli":false,"status":"info"}]}}"#,
    },
    Case {
        name: "informational_key_sli_missing_does_not_fail",
        slo: r#"objectives:
  - sli: err
    pass: [{criteria: ["<=1"]}]
  - sli: cpu
    key_sli: true
    warning: [{criteria: ["<90"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":100,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KICAtIHNsaTogY3B1CiAgICBrZXlfc2xpOiB0cnVlCiAgICB3YXJuaW5nOiBbe2NyaXRlcmlhOiBbIjw5MCJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":[{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"},{"score":0,"value":null,"displayName":"","passTargets":[],"warningTargets":[{"criteria":"<90","targetValue":90,"violated":true}],"keySli":false,"status":"info"}]}}"#,
    },
    Case {
        name: "key_sli_missing",
        slo: r#"objectives:
  - sli: rt
    displayName: Response time
    key_sli: true
    pass: [{criteria: ["<600"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed due to key_sli objective 'Response time': no value received from SLI provider","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIGRpc3BsYXlOYW1lOiBSZXNwb25zZSB0aW1lCiAgICBrZXlfc2xpOiB0cnVlCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw2MDAiXX1dCiAgLSBzbGk6IGVycgogICAgcGFzczogW3tjcml0ZXJpYTogWyI8PTEiXX1dCnRvdGFsX3Njb3JlOiB7cGFzczogIjkwJSIsIHdhcm5pbmc6ICI3NSUifQo=","indicatorResults":[{"score":0,"value":{"metric":"rt","value":0,"comparedValue":0,"success":false,"message":"no value received from SLI provider"},"displayName":"Response time","passTargets":[{"criteria":"<600","targetValue":600,"violated":true}],"warningTargets":[],"keySli":false,"status":"fail"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}]}}"#,
    },
    Case {
        name: "key_sli_unsuccessful_without_display_name",
        slo: r#"objectives:
  - sli: rt
    key_sli: true
    pass: [{criteria: ["<600"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":0,"success":false,"message":"timeout"},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed due to key_sli objective '': timeout","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIGtleV9zbGk6IHRydWUKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPDYwMCJdfV0KICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":[{"score":0,"value":{"metric":"rt","value":0,"comparedValue":0,"success":false,"message":"timeout"},"displayName":"","passTargets":[{"criteria":"<600","targetValue":600,"violated":true}],"warningTargets":[],"keySli":false,"status":"fail"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}]}}"#,
    },
    Case {
        name: "key_sli_measured_fail",
        slo: r#"objectives:
  - sli: rt
    displayName: Response time
    key_sli: true
    pass: [{criteria: ["<600"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":700,"success":true},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed due to key_sli objective 'Response time': failed evaluation with score 0.000000","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIGRpc3BsYXlOYW1lOiBSZXNwb25zZSB0aW1lCiAgICBrZXlfc2xpOiB0cnVlCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw2MDAiXX1dCiAgLSBzbGk6IGVycgogICAgcGFzczogW3tjcml0ZXJpYTogWyI8PTEiXX1dCnRvdGFsX3Njb3JlOiB7cGFzczogIjkwJSIsIHdhcm5pbmc6ICI3NSUifQo=","indicatorResults":[{"score":0,"value":{"metric":"rt","value":700,"comparedValue":0,"success":true},"displayName":"Response time","passTargets":[{"criteria":"<600","targetValue":600,"violated":true}],"warningTargets":null,"keySli":true,"status":"fail"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}]}}"#,
    },
    Case {
        name: "key_sli_last_failure_is_reported",
        slo: r#"objectives:
  - sli: rt
    displayName: Response time
    key_sli: true
    pass: [{criteria: ["<600"]}]
  - sli: err
    displayName: Errors
    key_sli: true
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":700,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed due to key_sli objective 'Errors': no value received from SLI provider","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":0,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIGRpc3BsYXlOYW1lOiBSZXNwb25zZSB0aW1lCiAgICBrZXlfc2xpOiB0cnVlCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw2MDAiXX1dCiAgLSBzbGk6IGVycgogICAgZGlzcGxheU5hbWU6IEVycm9ycwogICAga2V5X3NsaTogdHJ1ZQogICAgcGFzczogW3tjcml0ZXJpYTogWyI8PTEiXX1dCnRvdGFsX3Njb3JlOiB7cGFzczogIjkwJSIsIHdhcm5pbmc6ICI3NSUifQo=","indicatorResults":[{"score":0,"value":{"metric":"rt","value":700,"comparedValue":0,"success":true},"displayName":"Response time","passTargets":[{"criteria":"<600","targetValue":600,"violated":true}],"warningTargets":null,"keySli":true,"status":"fail"},{"score":0,"value":{"metric":"err","value":0,"comparedValue":0,"success":false,"message":"no value received from SLI provider"},"displayName":"Errors","passTargets":[{"criteria":"<=1","targetValue":1,"violated":true}],"warningTargets":[],"keySli":false,"status":"fail"}]}}"#,
    },
    Case {
        name: "key_sli_in_warning_does_not_fail",
        slo: r#"objectives:
  - sli: rt
    key_sli: true
    pass: [{criteria: ["<600"]}]
    warning: [{criteria: ["<800"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "50%", warning: "25%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":700,"success":true},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":75,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIGtleV9zbGk6IHRydWUKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPDYwMCJdfV0KICAgIHdhcm5pbmc6IFt7Y3JpdGVyaWE6IFsiPDgwMCJdfV0KICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiNTAlIiwgd2FybmluZzogIjI1JSJ9Cg==","indicatorResults":[{"score":0.5,"value":{"metric":"rt","value":700,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<600","targetValue":600,"violated":true}],"warningTargets":[{"criteria":"<800","targetValue":800,"violated":false}],"keySli":true,"status":"warning"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}]}}"#,
    },
    Case {
        name: "relative_missing_value_with_history_avg",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: avg}
objectives:
  - sli: rt
    pass: [{criteria: ["<=+10%"]}, {criteria: ["<=-5", ">=+0%"]}]
    warning: [{criteria: ["<=+50%", ">-20%"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 50 is below the warning value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAzLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzLCBhZ2dyZWdhdGVfZnVuY3Rpb246IGF2Z30Kb2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0rMTAlIl19LCB7Y3JpdGVyaWE6IFsiPD0tNSIsICI+PSswJSJdfV0KICAgIHdhcm5pbmc6IFt7Y3JpdGVyaWE6IFsiPD0rNTAlIiwgIj4tMjAlIl19XQogIC0gc2xpOiBlcnIKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0xIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiNzUlIn0K","indicatorResults":[{"score":0,"value":{"metric":"rt","value":0,"comparedValue":0,"success":false,"message":"no value received from SLI provider"},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":520,"violated":true},{"criteria":"<=-5","targetValue":520,"violated":true},{"criteria":">=+0%","targetValue":520,"violated":true}],"warningTargets":[{"criteria":"<=+50%","targetValue":520,"violated":true},{"criteria":">-20%","targetValue":520,"violated":true}],"keySli":false,"status":"fail"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0.75,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":["e1","e3","e4"]}}"#,
    },
    Case {
        name: "relative_missing_value_with_history_p90",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: p90}
objectives:
  - sli: rt
    pass: [{criteria: ["<=+10%"]}, {criteria: ["<=-5", ">=+0%"]}]
    warning: [{criteria: ["<=+50%", ">-20%"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 50 is below the warning value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAzLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzLCBhZ2dyZWdhdGVfZnVuY3Rpb246IHA5MH0Kb2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0rMTAlIl19LCB7Y3JpdGVyaWE6IFsiPD0tNSIsICI+PSswJSJdfV0KICAgIHdhcm5pbmc6IFt7Y3JpdGVyaWE6IFsiPD0rNTAlIiwgIj4tMjAlIl19XQogIC0gc2xpOiBlcnIKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0xIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiNzUlIn0K","indicatorResults":[{"score":0,"value":{"metric":"rt","value":0,"comparedValue":0,"success":false,"message":"no value received from SLI provider"},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":540,"violated":true},{"criteria":"<=-5","targetValue":540,"violated":true},{"criteria":">=+0%","targetValue":540,"violated":true}],"warningTargets":[{"criteria":"<=+50%","targetValue":540,"violated":true},{"criteria":">-20%","targetValue":540,"violated":true}],"keySli":false,"status":"fail"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":1,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":["e1","e3","e4"]}}"#,
    },
    Case {
        name: "relative_missing_value_history_all_unsuccessful",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: avg}
objectives:
  - sli: rt
    pass: [{criteria: ["<=+10%"]}, {criteria: ["<=-5", ">=+0%"]}]
    warning: [{criteria: ["<=+50%", ">-20%"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":1,"success":false,"message":"a"},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":2,"success":false},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 50 is below the warning value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAzLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzLCBhZ2dyZWdhdGVfZnVuY3Rpb246IGF2Z30Kb2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0rMTAlIl19LCB7Y3JpdGVyaWE6IFsiPD0tNSIsICI+PSswJSJdfV0KICAgIHdhcm5pbmc6IFt7Y3JpdGVyaWE6IFsiPD0rNTAlIiwgIj4tMjAlIl19XQogIC0gc2xpOiBlcnIKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0xIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiNzUlIn0K","indicatorResults":[{"score":0,"value":{"metric":"rt","value":0,"comparedValue":0,"success":false,"message":"no value received from SLI provider"},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":0,"violated":true},{"criteria":"<=-5","targetValue":0,"violated":true},{"criteria":">=+0%","targetValue":0,"violated":true}],"warningTargets":[{"criteria":"<=+50%","targetValue":0,"violated":true},{"criteria":">-20%","targetValue":0,"violated":true}],"keySli":false,"status":"fail"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":["e1","e2"]}}"#,
    },
    Case {
        name: "relative_measured_without_history",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: avg}
objectives:
  - sli: rt
    pass: [{criteria: ["<=+10%"]}, {criteria: ["<=-5", ">=+0%"]}]
    warning: [{criteria: ["<=+50%", ">-20%"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":10000,"success":true},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":100,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAzLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzLCBhZ2dyZWdhdGVfZnVuY3Rpb246IGF2Z30Kb2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0rMTAlIl19LCB7Y3JpdGVyaWE6IFsiPD0tNSIsICI+PSswJSJdfV0KICAgIHdhcm5pbmc6IFt7Y3JpdGVyaWE6IFsiPD0rNTAlIiwgIj4tMjAlIl19XQogIC0gc2xpOiBlcnIKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0xIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiNzUlIn0K","indicatorResults":[{"score":1,"value":{"metric":"rt","value":10000,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":0,"violated":false},{"criteria":"<=-5","targetValue":0,"violated":false},{"criteria":">=+0%","targetValue":0,"violated":false}],"warningTargets":[{"criteria":"<=+50%","targetValue":0,"violated":false},{"criteria":">-20%","targetValue":0,"violated":false}],"keySli":false,"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}]}}"#,
    },
    Case {
        name: "relative_measured_with_history",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: avg}
objectives:
  - sli: rt
    pass: [{criteria: ["<=+10%"]}, {criteria: ["<=-5", ">=+0%"]}]
    warning: [{criteria: ["<=+50%", ">-20%"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":560,"success":true},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":100,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAzLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzLCBhZ2dyZWdhdGVfZnVuY3Rpb246IGF2Z30Kb2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0rMTAlIl19LCB7Y3JpdGVyaWE6IFsiPD0tNSIsICI+PSswJSJdfV0KICAgIHdhcm5pbmc6IFt7Y3JpdGVyaWE6IFsiPD0rNTAlIiwgIj4tMjAlIl19XQogIC0gc2xpOiBlcnIKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0xIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiNzUlIn0K","indicatorResults":[{"score":1,"value":{"metric":"rt","value":560,"comparedValue":520,"success":true},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":572,"violated":false},{"criteria":"<=-5","targetValue":515,"violated":true},{"criteria":">=+0%","targetValue":520,"violated":false}],"warningTargets":[{"criteria":"<=+50%","targetValue":780,"violated":false},{"criteria":">-20%","targetValue":416,"violated":false}],"keySli":false,"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0.75,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":["e1","e3","e4"]}}"#,
    },
    Case {
        name: "relative_unknown_aggregate_function",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: median}
objectives:
  - sli: rt
    pass: [{criteria: ["<=+10%"]}, {criteria: ["<=-5", ">=+0%"]}]
    warning: [{criteria: ["<=+50%", ">-20%"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 50 is below the warning value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAzLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzLCBhZ2dyZWdhdGVfZnVuY3Rpb246IG1lZGlhbn0Kb2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0rMTAlIl19LCB7Y3JpdGVyaWE6IFsiPD0tNSIsICI+PSswJSJdfV0KICAgIHdhcm5pbmc6IFt7Y3JpdGVyaWE6IFsiPD0rNTAlIiwgIj4tMjAlIl19XQogIC0gc2xpOiBlcnIKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0xIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiNzUlIn0K","indicatorResults":[{"score":0,"value":{"metric":"rt","value":0,"comparedValue":0,"success":false,"message":"no value received from SLI provider"},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":0,"violated":true},{"criteria":"<=-5","targetValue":0,"violated":true},{"criteria":">=+0%","targetValue":0,"violated":true}],"warningTargets":[{"criteria":"<=+50%","targetValue":0,"violated":true},{"criteria":">-20%","targetValue":0,"violated":true}],"keySli":false,"status":"fail"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":["e1","e3","e4"]}}"#,
    },
    Case {
        name: "mixed_pass",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: avg}
objectives:
  - sli: rt
    pass: [{criteria: ["<=+10%", "<600"]}]
    warning: [{criteria: ["<=800", "<=+50%"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":540,"success":true},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":100,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAzLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzLCBhZ2dyZWdhdGVfZnVuY3Rpb246IGF2Z30Kb2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0rMTAlIiwgIjw2MDAiXX1dCiAgICB3YXJuaW5nOiBbe2NyaXRlcmlhOiBbIjw9ODAwIiwgIjw9KzUwJSJdfV0KICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"comparedValue":520,"success":true},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":572,"violated":false},{"criteria":"<600","targetValue":600,"violated":false}],"warningTargets":[{"criteria":"<=800","targetValue":800,"violated":false},{"criteria":"<=+50%","targetValue":780,"violated":false}],"keySli":false,"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0.75,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":["e1","e3","e4"]}}"#,
    },
    Case {
        name: "mixed_warning",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: avg}
objectives:
  - sli: rt
    pass: [{criteria: ["<=+10%", "<600"]}]
    warning: [{criteria: ["<=800", "<=+50%"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":590,"success":true},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"warning","message":"Evaluation returned a warning: the calculated score of 75 is close to the warning target value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"warning","score":75,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAzLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzLCBhZ2dyZWdhdGVfZnVuY3Rpb246IGF2Z30Kb2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0rMTAlIiwgIjw2MDAiXX1dCiAgICB3YXJuaW5nOiBbe2NyaXRlcmlhOiBbIjw9ODAwIiwgIjw9KzUwJSJdfV0KICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":[{"score":0.5,"value":{"metric":"rt","value":590,"comparedValue":520,"success":true},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":572,"violated":true},{"criteria":"<600","targetValue":600,"violated":false}],"warningTargets":[{"criteria":"<=800","targetValue":800,"violated":false},{"criteria":"<=+50%","targetValue":780,"violated":false}],"keySli":false,"status":"warning"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0.75,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":["e1","e3","e4"]}}"#,
    },
    Case {
        name: "mixed_fail",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: avg}
objectives:
  - sli: rt
    pass: [{criteria: ["<=+10%", "<600"]}]
    warning: [{criteria: ["<=800", "<=+50%"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":900,"success":true},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 50 is below the warning value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAzLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzLCBhZ2dyZWdhdGVfZnVuY3Rpb246IGF2Z30Kb2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0rMTAlIiwgIjw2MDAiXX1dCiAgICB3YXJuaW5nOiBbe2NyaXRlcmlhOiBbIjw9ODAwIiwgIjw9KzUwJSJdfV0KICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":[{"score":0,"value":{"metric":"rt","value":900,"comparedValue":520,"success":true},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":572,"violated":true},{"criteria":"<600","targetValue":600,"violated":true}],"warningTargets":[{"criteria":"<=800","targetValue":800,"violated":true},{"criteria":"<=+50%","targetValue":780,"violated":true}],"keySli":false,"status":"fail"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0.75,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":["e1","e3","e4"]}}"#,
    },
    Case {
        name: "mixed_absolute_only_holds",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: avg}
objectives:
  - sli: rt
    pass: [{criteria: ["<=+10%", "<600"]}]
    warning: [{criteria: ["<=800", "<=+50%"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":580,"success":true},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"warning","message":"Evaluation returned a warning: the calculated score of 75 is close to the warning target value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"warning","score":75,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAzLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzLCBhZ2dyZWdhdGVfZnVuY3Rpb246IGF2Z30Kb2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0rMTAlIiwgIjw2MDAiXX1dCiAgICB3YXJuaW5nOiBbe2NyaXRlcmlhOiBbIjw9ODAwIiwgIjw9KzUwJSJdfV0KICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":[{"score":0.5,"value":{"metric":"rt","value":580,"comparedValue":520,"success":true},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":572,"violated":true},{"criteria":"<600","targetValue":600,"violated":false}],"warningTargets":[{"criteria":"<=800","targetValue":800,"violated":false},{"criteria":"<=+50%","targetValue":780,"violated":false}],"keySli":false,"status":"warning"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0.75,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":["e1","e3","e4"]}}"#,
    },
    Case {
        name: "weights_missing_heavy_objective",
        slo: r#"objectives:
  - sli: rt
    weight: 3
    pass: [{criteria: ["<600"]}]
    warning: [{criteria: ["<800"]}]
  - sli: err
    weight: 2
    pass: [{criteria: ["<=1"]}]
  - sli: thr
    pass: [{criteria: [">=10"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true},{"metric":"thr","value":12,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 50 is below the warning value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHdlaWdodDogMwogICAgcGFzczogW3tjcml0ZXJpYTogWyI8NjAwIl19XQogICAgd2FybmluZzogW3tjcml0ZXJpYTogWyI8ODAwIl19XQogIC0gc2xpOiBlcnIKICAgIHdlaWdodDogMgogICAgcGFzczogW3tjcml0ZXJpYTogWyI8PTEiXX1dCiAgLSBzbGk6IHRocgogICAgcGFzczogW3tjcml0ZXJpYTogWyI+PTEwIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiNzUlIn0K","indicatorResults":[{"score":0,"value":{"metric":"rt","value":0,"comparedValue":0,"success":false,"message":"no value received from SLI provider"},"displayName":"","passTargets":[{"criteria":"<600","targetValue":600,"violated":true}],"warningTargets":[{"criteria":"<800","targetValue":800,"violated":true}],"keySli":false,"status":"fail"},{"score":2,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"},{"score":1,"value":{"metric":"thr","value":12,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":">=10","targetValue":10,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}]}}"#,
    },
    Case {
        name: "weights_warning_half_weight",
        slo: r#"objectives:
  - sli: rt
    weight: 3
    pass: [{criteria: ["<600"]}]
    warning: [{criteria: ["<800"]}]
  - sli: err
    weight: 2
    pass: [{criteria: ["<=1"]}]
  - sli: thr
    pass: [{criteria: [">=10"]}]
total_score: {pass: "90%", warning: "60%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":700,"success":true},{"metric":"err","value":0.5,"success":true},{"metric":"thr","value":12,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"warning","message":"Evaluation returned a warning: the calculated score of 75 is close to the warning target value of 60","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"warning","score":75,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHdlaWdodDogMwogICAgcGFzczogW3tjcml0ZXJpYTogWyI8NjAwIl19XQogICAgd2FybmluZzogW3tjcml0ZXJpYTogWyI8ODAwIl19XQogIC0gc2xpOiBlcnIKICAgIHdlaWdodDogMgogICAgcGFzczogW3tjcml0ZXJpYTogWyI8PTEiXX1dCiAgLSBzbGk6IHRocgogICAgcGFzczogW3tjcml0ZXJpYTogWyI+PTEwIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiNjAlIn0K","indicatorResults":[{"score":1.5,"value":{"metric":"rt","value":700,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<600","targetValue":600,"violated":true}],"warningTargets":[{"criteria":"<800","targetValue":800,"violated":false}],"keySli":false,"status":"warning"},{"score":2,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"},{"score":1,"value":{"metric":"thr","value":12,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":">=10","targetValue":10,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}]}}"#,
    },
    Case {
        name: "weights_missing_light_objective_warning",
        slo: r#"objectives:
  - sli: rt
    weight: 3
    pass: [{criteria: ["<600"]}]
    warning: [{criteria: ["<800"]}]
  - sli: err
    weight: 2
    pass: [{criteria: ["<=1"]}]
  - sli: thr
    pass: [{criteria: [">=10"]}]
total_score: {pass: "90%", warning: "80%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":100,"success":true},{"metric":"err","value":0.5,"success":true},{"metric":"thr","value":12,"success":true},{"metric":"thr","value":1,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"warning","message":"Evaluation returned a warning: the calculated score of 83.33333333333334 is close to the warning target value of 80","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"warning","score":83.33333333333334,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHdlaWdodDogMwogICAgcGFzczogW3tjcml0ZXJpYTogWyI8NjAwIl19XQogICAgd2FybmluZzogW3tjcml0ZXJpYTogWyI8ODAwIl19XQogIC0gc2xpOiBlcnIKICAgIHdlaWdodDogMgogICAgcGFzczogW3tjcml0ZXJpYTogWyI8PTEiXX1dCiAgLSBzbGk6IHRocgogICAgcGFzczogW3tjcml0ZXJpYTogWyI+PTEwIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiODAlIn0K","indicatorResults":[{"score":3,"value":{"metric":"rt","value":100,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<600","targetValue":600,"violated":false}],"warningTargets":[{"criteria":"<800","targetValue":800,"violated":false}],"keySli":false,"status":"pass"},{"score":2,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"},{"score":0,"value":{"metric":"thr","value":1,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":">=10","targetValue":10,"violated":true}],"warningTargets":null,"keySli":false,"status":"fail"}]}}"#,
    },
    Case {
        name: "weights_missing_no_warning_target",
        slo: r#"objectives:
  - sli: rt
    weight: 3
    pass: [{criteria: ["<600"]}]
    warning: [{criteria: ["<800"]}]
  - sli: err
    weight: 2
    pass: [{criteria: ["<=1"]}]
  - sli: thr
    pass: [{criteria: [">=10"]}]
total_score: {pass: "90%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":100,"success":true},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 83.33333333333334 is below the target value of 90","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":83.33333333333334,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHdlaWdodDogMwogICAgcGFzczogW3tjcml0ZXJpYTogWyI8NjAwIl19XQogICAgd2FybmluZzogW3tjcml0ZXJpYTogWyI8ODAwIl19XQogIC0gc2xpOiBlcnIKICAgIHdlaWdodDogMgogICAgcGFzczogW3tjcml0ZXJpYTogWyI8PTEiXX1dCiAgLSBzbGk6IHRocgogICAgcGFzczogW3tjcml0ZXJpYTogWyI+PTEwIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUifQo=","indicatorResults":[{"score":3,"value":{"metric":"rt","value":100,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<600","targetValue":600,"violated":false}],"warningTargets":[{"criteria":"<800","targetValue":800,"violated":false}],"keySli":false,"status":"pass"},{"score":2,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"},{"score":0,"value":{"metric":"thr","value":0,"comparedValue":0,"success":false,"message":"no value received from SLI provider"},"displayName":"","passTargets":[{"criteria":">=10","targetValue":10,"violated":true}],"warningTargets":[],"keySli":false,"status":"fail"}]}}"#,
    },
    Case {
        name: "weights_zero_and_negative",
        slo: r#"objectives:
  - sli: a
    weight: 0
    pass: [{criteria: ["<1"]}]
  - sli: b
    weight: -1
    pass: [{criteria: ["<1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"a","value":0,"success":true},{"metric":"b","value":0,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":100,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogYQogICAgd2VpZ2h0OiAwCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjwxIl19XQogIC0gc2xpOiBiCiAgICB3ZWlnaHQ6IC0xCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjwxIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiNzUlIn0K","indicatorResults":[{"score":1,"value":{"metric":"a","value":0,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"},{"score":-1,"value":{"metric":"b","value":0,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}]}}"#,
    },
    Case {
        name: "unparsable_warning_criterion_measured",
        slo: r#"objectives:
  - sli: rt
    pass: [{criteria: ["<600"]}]
    warning: [{criteria: ["<800"]}, {criteria: ["<=900", "<<10"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":700,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 0 is below the warning value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":0,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPDYwMCJdfV0KICAgIHdhcm5pbmc6IFt7Y3JpdGVyaWE6IFsiPDgwMCJdfSwge2NyaXRlcmlhOiBbIjw9OTAwIiwgIjw8MTAiXX1dCnRvdGFsX3Njb3JlOiB7cGFzczogIjkwJSIsIHdhcm5pbmc6ICI3NSUifQo=","indicatorResults":[{"score":0,"value":{"metric":"rt","value":700,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<600","targetValue":600,"violated":true}],"warningTargets":[],"keySli":false,"status":"fail"}]}}"#,
    },
    Case {
        name: "unparsable_criteria_missing_value",
        slo: r#"objectives:
  - sli: rt
    pass: [{criteria: ["<600", "bad", "<=x"]}]
    warning: [{criteria: ["<<10", "<800"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 50 is below the warning value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPDYwMCIsICJiYWQiLCAiPD14Il19XQogICAgd2FybmluZzogW3tjcml0ZXJpYTogWyI8PDEwIiwgIjw4MDAiXX1dCiAgLSBzbGk6IGVycgogICAgcGFzczogW3tjcml0ZXJpYTogWyI8PTEiXX1dCnRvdGFsX3Njb3JlOiB7cGFzczogIjkwJSIsIHdhcm5pbmc6ICI3NSUifQo=","indicatorResults":[{"score":0,"value":{"metric":"rt","value":0,"comparedValue":0,"success":false,"message":"no value received from SLI provider"},"displayName":"","passTargets":[{"criteria":"<600","targetValue":600,"violated":true}],"warningTargets":[{"criteria":"<800","targetValue":800,"violated":true}],"keySli":false,"status":"fail"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}]}}"#,
    },
    Case {
        name: "unparsable_pass_criterion_measured",
        slo: r#"objectives:
  - sli: err
    pass: [{criteria: ["<=1"]}]
  - sli: rt
    displayName: Response time
    pass: [{criteria: ["<600", "bad"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":100,"success":true},{"metric":"err","value":0.5,"success":true},{"metric":"extra","value":1,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"error with Response time: invalid criteria string","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":0,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KICAtIHNsaTogcnQKICAgIGRpc3BsYXlOYW1lOiBSZXNwb25zZSB0aW1lCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw2MDAiLCAiYmFkIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiNzUlIn0K","indicatorResults":null,"comparedEvents":["e1"]}}"#,
    },
    Case {
        name: "pass_set_without_criteria",
        slo: r#"objectives:
  - sli: rt
    pass: [{criteria: []}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":100,"success":true,"comparedValue":5},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 50 is below the warning value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFtdfV0KICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":[{"score":1,"value":{"metric":"rt","value":100,"comparedValue":5,"success":true},"displayName":"","passTargets":null,"warningTargets":null,"keySli":false,"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}]}}"#,
    },
    Case {
        name: "no_objectives",
        slo: r#"objectives: []
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":1,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"lighthouse failed because no SLO objective was provided","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":0,"sloFileContent":"b2JqZWN0aXZlczogW10KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":null,"comparedEvents":["e1"]}}"#,
    },
    Case {
        name: "no_objectives_pass_target_zero",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: avg}
objectives: []
total_score: {pass: '0%'}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"lighthouse failed because no SLO objective was provided","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":0,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAzLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzLCBhZ2dyZWdhdGVfZnVuY3Rpb246IGF2Z30Kb2JqZWN0aXZlczogW10KdG90YWxfc2NvcmU6IHtwYXNzOiAnMCUnfQo=","indicatorResults":null,"comparedEvents":["e1","e3","e4"]}}"#,
    },
    Case {
        name: "no_objectives_without_total_score",
        slo: r#"objectives: []
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"errored","result":"fail","message":"no target score defined","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":0,"sloFileContent":"b2JqZWN0aXZlczogW10K","indicatorResults":null}}"#,
    },
    Case {
        name: "only_informational_without_total_score",
        slo: r#"objectives:
  - sli: cpu
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"cpu","value":1,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"errored","result":"fail","message":"no target score defined","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":0,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogY3B1Cg==","indicatorResults":null}}"#,
    },
    Case {
        name: "only_informational_missing",
        slo: r#"objectives:
  - sli: cpu
    displayName: CPU
    warning: [{criteria: ["<=50", "<=+10%"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":100,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogY3B1CiAgICBkaXNwbGF5TmFtZTogQ1BVCiAgICB3YXJuaW5nOiBbe2NyaXRlcmlhOiBbIjw9NTAiLCAiPD0rMTAlIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiNzUlIn0K","indicatorResults":[{"score":0,"value":null,"displayName":"CPU","passTargets":[],"warningTargets":[{"criteria":"<=50","targetValue":50,"violated":true},{"criteria":"<=+10%","targetValue":0,"violated":true}],"keySli":false,"status":"info"}]}}"#,
    },
    Case {
        name: "bad_warning_total_score_on_passing_gate",
        slo: r#"objectives:
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true}]},"labels":{"k":"v"}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","labels":{"k":"v"},"status":"errored","result":"fail","message":"could not parse warning target percentage","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":0,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSUifQo=","indicatorResults":null}}"#,
    },
    Case {
        name: "bad_pass_total_score",
        slo: r#"objectives:
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "ninety"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"errored","result":"fail","message":"could not parse pass target percentage","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":0,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAibmluZXR5In0K","indicatorResults":null}}"#,
    },
    Case {
        name: "get_sli_aborted",
        slo: r#"objectives:
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"aborted","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"errored","result":"fail","message":"evaluation performed by lighthouse was aborted","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":0,"sloFileContent":"","indicatorResults":null}}"#,
    },
    Case {
        name: "get_sli_errored",
        slo: r#"objectives:
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"errored","result":"fail","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true}]},"message":"prometheus unreachable","labels":{"k":"v"}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","labels":{"k":"v"},"status":"errored","result":"fail","message":"evaluation performed by lighthouse received an unexpected error: prometheus unreachable","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":0,"sloFileContent":"","indicatorResults":null}}"#,
    },
    Case {
        name: "get_sli_fail_with_missing_value",
        slo: r#"objectives:
  - sli: rt
    displayName: Response time
    pass: [{criteria: ["<=+10%", "<600"]}]
    warning: [{criteria: ["<=800"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true}]},"message":"could not retrieve rt"}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"lighthouse failed because SLI failed with message could not retrieve rt","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIGRpc3BsYXlOYW1lOiBSZXNwb25zZSB0aW1lCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9KzEwJSIsICI8NjAwIl19XQogICAgd2FybmluZzogW3tjcml0ZXJpYTogWyI8PTgwMCJdfV0KICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":[{"score":0,"value":{"metric":"rt","value":0,"comparedValue":0,"success":false,"message":"no value received from SLI provider"},"displayName":"Response time","passTargets":[{"criteria":"<=+10%","targetValue":0,"violated":true},{"criteria":"<600","targetValue":600,"violated":true}],"warningTargets":[{"criteria":"<=800","targetValue":800,"violated":true}],"keySli":false,"status":"fail"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}]}}"#,
    },
    Case {
        name: "no_slo_file",
        slo: r#""#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","message":"no evaluation performed by lighthouse because no SLO file configured for project sockshop","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":0,"sloFileContent":"","indicatorResults":null}}"#,
    },
    Case {
        name: "duplicate_metric_first_taken_rest_left_over",
        slo: r#"objectives:
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"x","value":1,"success":true},{"metric":"err","value":5,"success":true},{"metric":"err","value":0.5,"success":true},{"metric":"y","value":2,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 0 is below the warning value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":0,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":[{"score":0,"value":{"metric":"err","value":5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":true}],"warningTargets":null,"keySli":false,"status":"fail"}]}}"#,
    },
    Case {
        name: "leftover_message_survives_pass",
        slo: r#"objectives:
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true},{"metric":"x","value":1,"success":true},{"metric":"y","value":2,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","message":"Lighthouse received additional SLIs, which are not specified as SLO: y, x . Please consider using them as an SLO.","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":100,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":[{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}]}}"#,
    },
    Case {
        name: "pass_or_warn_history_and_missing",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 2, include_result_with_score: pass_or_warn, aggregate_function: avg}
objectives:
  - sli: rt
    pass: [{criteria: ["<=+10%"]}, {criteria: ["<=-5", ">=+0%"]}]
    warning: [{criteria: ["<=+50%", ">-20%"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"w1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"warning","evaluation":{"result":"warning","indicatorResults":[{"score":1,"value":{"metric":"rt","value":700,"success":true},"status":"pass"}]}}},{"id":"f1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":1,"success":true},"status":"pass"}]}}},{"id":"p1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"}]}}},{"id":"p2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":100,"success":true},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 50 is below the warning value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAyLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzX29yX3dhcm4sIGFnZ3JlZ2F0ZV9mdW5jdGlvbjogYXZnfQpvYmplY3RpdmVzOgogIC0gc2xpOiBydAogICAgcGFzczogW3tjcml0ZXJpYTogWyI8PSsxMCUiXX0sIHtjcml0ZXJpYTogWyI8PS01IiwgIj49KzAlIl19XQogICAgd2FybmluZzogW3tjcml0ZXJpYTogWyI8PSs1MCUiLCAiPi0yMCUiXX1dCiAgLSBzbGk6IGVycgogICAgcGFzczogW3tjcml0ZXJpYTogWyI8PTEiXX1dCnRvdGFsX3Njb3JlOiB7cGFzczogIjkwJSIsIHdhcm5pbmc6ICI3NSUifQo=","indicatorResults":[{"score":0,"value":{"metric":"rt","value":0,"comparedValue":0,"success":false,"message":"no value received from SLI provider"},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":600,"violated":true},{"criteria":"<=-5","targetValue":600,"violated":true},{"criteria":">=+0%","targetValue":600,"violated":true}],"warningTargets":[{"criteria":"<=+50%","targetValue":600,"violated":true},{"criteria":">-20%","targetValue":600,"violated":true}],"keySli":false,"status":"fail"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":["w1","p1"]}}"#,
    },
    Case {
        name: "fractional_weight_truncated",
        slo: r#"objectives:
  - sli: a
    weight: 2.7
    pass: [{criteria: ["<1"]}]
  - sli: b
    weight: 0.5
    pass: [{criteria: ["<1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"a","value":5,"success":true},{"metric":"b","value":0,"success":true}]}}"#,
        previous: r#"[]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 33.33333333333333 is below the warning value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":33.33333333333333,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogYQogICAgd2VpZ2h0OiAyLjcKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPDEiXX1dCiAgLSBzbGk6IGIKICAgIHdlaWdodDogMC41CiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjwxIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiNzUlIn0K","indicatorResults":[{"score":0,"value":{"metric":"a","value":5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<1","targetValue":1,"violated":true}],"warningTargets":null,"keySli":false,"status":"fail"},{"score":1,"value":{"metric":"b","value":0,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}]}}"#,
    },
    Case {
        name: "aggregate_function_is_case_sensitive",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: pass, aggregate_function: AVG}
objectives:
  - sli: rt
    pass: [{criteria: ["<=+10%"]}, {criteria: ["<=-5", ">=+0%"]}]
    warning: [{criteria: ["<=+50%", ">-20%"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":10,"success":true},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"fail","message":"Evaluation failed since the calculated score of 50 is below the warning value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"fail","score":50,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAzLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzLCBhZ2dyZWdhdGVfZnVuY3Rpb246IEFWR30Kb2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0rMTAlIl19LCB7Y3JpdGVyaWE6IFsiPD0tNSIsICI+PSswJSJdfV0KICAgIHdhcm5pbmc6IFt7Y3JpdGVyaWE6IFsiPD0rNTAlIiwgIj4tMjAlIl19XQogIC0gc2xpOiBlcnIKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0xIl19XQp0b3RhbF9zY29yZToge3Bhc3M6ICI5MCUiLCB3YXJuaW5nOiAiNzUlIn0K","indicatorResults":[{"score":0,"value":{"metric":"rt","value":10,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":0,"violated":true},{"criteria":"<=-5","targetValue":-5,"violated":true},{"criteria":">=+0%","targetValue":0,"violated":false}],"warningTargets":[{"criteria":"<=+50%","targetValue":0,"violated":true},{"criteria":">-20%","targetValue":0,"violated":false}],"keySli":false,"status":"fail"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":["e1","e3","e4"]}}"#,
    },
    Case {
        name: "include_result_is_lower_cased",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: 3, include_result_with_score: PASS, aggregate_function: avg}
objectives:
  - sli: rt
    pass: [{criteria: ["<=+10%", "<600"]}]
    warning: [{criteria: ["<=800", "<=+50%"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":560,"success":true},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":100,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAzLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBQQVNTLCBhZ2dyZWdhdGVfZnVuY3Rpb246IGF2Z30Kb2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0rMTAlIiwgIjw2MDAiXX1dCiAgICB3YXJuaW5nOiBbe2NyaXRlcmlhOiBbIjw9ODAwIiwgIjw9KzUwJSJdfV0KICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":[{"score":1,"value":{"metric":"rt","value":560,"comparedValue":520,"success":true},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":572,"violated":false},{"criteria":"<600","targetValue":600,"violated":false}],"warningTargets":[{"criteria":"<=800","targetValue":800,"violated":false},{"criteria":"<=+50%","targetValue":780,"violated":false}],"keySli":false,"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0.75,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":["e1","e3","e4"]}}"#,
    },
    Case {
        name: "compare_with_is_case_sensitive",
        slo: r#"comparison: {compare_with: Several_Results, number_of_comparison_results: 1, include_result_with_score: pass, aggregate_function: avg}
objectives:
  - sli: rt
    pass: [{criteria: ["<=+10%", "<600"]}]
    warning: [{criteria: ["<=800", "<=+50%"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":560,"success":true},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"pass","score":100,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogU2V2ZXJhbF9SZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAxLCBpbmNsdWRlX3Jlc3VsdF93aXRoX3Njb3JlOiBwYXNzLCBhZ2dyZWdhdGVfZnVuY3Rpb246IGF2Z30Kb2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0rMTAlIiwgIjw2MDAiXX1dCiAgICB3YXJuaW5nOiBbe2NyaXRlcmlhOiBbIjw9ODAwIiwgIjw9KzUwJSJdfV0KICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":[{"score":1,"value":{"metric":"rt","value":560,"comparedValue":520,"success":true},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":572,"violated":false},{"criteria":"<600","targetValue":600,"violated":false}],"warningTargets":[{"criteria":"<=800","targetValue":800,"violated":false},{"criteria":"<=+50%","targetValue":780,"violated":false}],"keySli":false,"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0.75,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":["e1","e3","e4"]}}"#,
    },
    Case {
        name: "negative_number_of_comparison_results_takes_all",
        slo: r#"comparison: {compare_with: several_results, number_of_comparison_results: -1, include_result_with_score: pass, aggregate_function: avg}
objectives:
  - sli: rt
    pass: [{criteria: ["<=+10%", "<600"]}]
    warning: [{criteria: ["<=800", "<=+50%"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":560,"success":true},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}},{"id":"e5","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":100,"success":true},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"warning","message":"Evaluation returned a warning: the calculated score of 75 is close to the warning target value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"warning","score":75,"sloFileContent":"Y29tcGFyaXNvbjoge2NvbXBhcmVfd2l0aDogc2V2ZXJhbF9yZXN1bHRzLCBudW1iZXJfb2ZfY29tcGFyaXNvbl9yZXN1bHRzOiAtMSwgaW5jbHVkZV9yZXN1bHRfd2l0aF9zY29yZTogcGFzcywgYWdncmVnYXRlX2Z1bmN0aW9uOiBhdmd9Cm9iamVjdGl2ZXM6CiAgLSBzbGk6IHJ0CiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9KzEwJSIsICI8NjAwIl19XQogICAgd2FybmluZzogW3tjcml0ZXJpYTogWyI8PTgwMCIsICI8PSs1MCUiXX1dCiAgLSBzbGk6IGVycgogICAgcGFzczogW3tjcml0ZXJpYTogWyI8PTEiXX1dCnRvdGFsX3Njb3JlOiB7cGFzczogIjkwJSIsIHdhcm5pbmc6ICI3NSUifQo=","indicatorResults":[{"score":0.5,"value":{"metric":"rt","value":560,"comparedValue":415,"success":true},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":456.5,"violated":true},{"criteria":"<600","targetValue":600,"violated":false}],"warningTargets":[{"criteria":"<=800","targetValue":800,"violated":false},{"criteria":"<=+50%","targetValue":622.5,"violated":false}],"keySli":false,"status":"warning"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":0.75,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":["e1","e3","e4","e5"]}}"#,
    },
    Case {
        name: "single_result_default_comparison",
        slo: r#"objectives:
  - sli: rt
    pass: [{criteria: ["<=+10%", "<600"]}]
    warning: [{criteria: ["<=800", "<=+50%"]}]
  - sli: err
    pass: [{criteria: ["<=1"]}]
total_score: {pass: "90%", warning: "75%"}
"#,
        get_sli: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"pass","get-sli":{"start":"2022-01-26T10:05:53.931Z","end":"2022-01-26T10:10:53.931Z","indicatorValues":[{"metric":"rt","value":560,"success":true},{"metric":"err","value":0.5,"success":true}]}}"#,
        previous: r#"[{"id":"e1","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":500,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":1,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":40,"success":true},"status":"pass"}]}}},{"id":"e2","data":{"project":"sockshop","stage":"dev","service":"carts","result":"fail","evaluation":{"result":"fail","indicatorResults":[{"score":1,"value":{"metric":"rt","value":9000,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":9,"success":true},"status":"pass"}]}}},{"id":"e3","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":520,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":0.5,"success":true},"status":"pass"},{"score":1,"value":{"metric":"cpu","value":60,"success":true},"status":"pass"}]}}},{"id":"e4","data":{"project":"sockshop","stage":"dev","service":"carts","result":"pass","evaluation":{"result":"pass","indicatorResults":[{"score":1,"value":{"metric":"rt","value":540,"success":true},"status":"pass"},{"score":1,"value":{"metric":"err","value":2,"success":false,"message":"x"},"status":"pass"}]}}}]"#,
        expected: r#"{"project":"sockshop","stage":"dev","service":"carts","status":"succeeded","result":"warning","message":"Evaluation returned a warning: the calculated score of 75 is close to the warning target value of 75","evaluation":{"timeStart":"2022-01-26T10:05:53.931Z","timeEnd":"2022-01-26T10:10:53.931Z","result":"warning","score":75,"sloFileContent":"b2JqZWN0aXZlczoKICAtIHNsaTogcnQKICAgIHBhc3M6IFt7Y3JpdGVyaWE6IFsiPD0rMTAlIiwgIjw2MDAiXX1dCiAgICB3YXJuaW5nOiBbe2NyaXRlcmlhOiBbIjw9ODAwIiwgIjw9KzUwJSJdfV0KICAtIHNsaTogZXJyCiAgICBwYXNzOiBbe2NyaXRlcmlhOiBbIjw9MSJdfV0KdG90YWxfc2NvcmU6IHtwYXNzOiAiOTAlIiwgd2FybmluZzogIjc1JSJ9Cg==","indicatorResults":[{"score":0.5,"value":{"metric":"rt","value":560,"comparedValue":500,"success":true},"displayName":"","passTargets":[{"criteria":"<=+10%","targetValue":550,"violated":true},{"criteria":"<600","targetValue":600,"violated":false}],"warningTargets":[{"criteria":"<=800","targetValue":800,"violated":false},{"criteria":"<=+50%","targetValue":750,"violated":false}],"keySli":false,"status":"warning"},{"score":1,"value":{"metric":"err","value":0.5,"comparedValue":1,"success":true},"displayName":"","passTargets":[{"criteria":"<=1","targetValue":1,"violated":false}],"warningTargets":null,"keySli":false,"status":"pass"}],"comparedEvents":["e1"]}}"#,
    },
];

#[derive(serde::Deserialize)]
struct Stored {
    id: String,
    data: EvaluationFinishedEventData,
}

fn run_case(case: &Case) -> String {
    let slo = (!case.slo.is_empty()).then(|| {
        slo::parse(case.slo)
            .value
            .unwrap_or_else(|| panic!("{}: SLO does not parse", case.name))
    });
    let sli: GetSliFinishedEventData = serde_json::from_str(case.get_sli).unwrap();
    let stored: Vec<Stored> = serde_json::from_str(case.previous).unwrap();
    let previous: Vec<PreviousEvaluation<'_>> = stored
        .iter()
        .map(|s| PreviousEvaluation {
            id: Some(&s.id),
            data: &s.data,
        })
        .collect();
    let out = evaluate(&EvaluationInput {
        slo: slo.as_ref(),
        slo_file: case.slo.as_bytes(),
        previous: &previous,
        ..EvaluationInput::of_get_sli(&sli)
    });
    serde_json::to_string(&out).unwrap()
}

#[test]
fn keptn_1_4_5_lighthouse_table() {
    let mut failed = Vec::new();
    for case in CASES {
        let got = run_case(case);
        if got != case.expected {
            failed.push(format!(
                "{}:\n  keptn:  {}\n  sluice: {}",
                case.name, case.expected, got
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
