//! Keptn-compatible SLO quality-gate evaluation (pure: no IO, no clock).
//!
//! [`evaluate`] reproduces what Keptn 1.4.5's lighthouse-service sent as
//! `sh.keptn.event.evaluation.finished` data after a `get-sli.finished` event. The source is
//! Keptn's own code at 1.4.5 (keptn/keptn 318a3d541, go-utils 0.20.4):
//! `lighthouse-service/event_handler/evaluate_sli_handler.go` (EH) and `common.go` (C).
//!
//! Flow (in Keptn's order, EH `processGetSliFinishedEvent`):
//! 1. get-sli status `aborted` → status errored, result fail, "evaluation performed by
//!    lighthouse was aborted"; `errored` → the same with "evaluation performed by lighthouse
//!    received an unexpected error: {msg}". The details stay the initial ones
//!    (`evaluation.result` pass, score 0, no SLO content).
//! 2. No SLO file (or an empty one, C `GetSLOs`) → succeeded/**pass**, "no evaluation
//!    performed by lighthouse because no SLO file configured for project {p}".
//! 3. Objectives in file order (EH `evaluateObjectives`): the weight counts toward the maximum
//!    only with pass criteria; the first unused SLI value with the objective's name is taken
//!    (`getSLIResult`; leftovers are reported by `checkLeftoverSLI`).
//!    - No pass criteria: `info`, score 0, the value as received (`null` when missing),
//!      `keySli` false, `passTargets: []`, every parsable warning criterion listed as violated
//!      and never evaluated (`getEmptyTargets`).
//!    - Missing or unsuccessful value: `fail`, score 0, the value as received or Keptn's
//!      "no value received from SLI provider" (`getFailedValue`), `keySli` false, parsable pass
//!      and warning criteria listed as violated (`[]` when none). A relative criterion's
//!      target value is then the aggregate of previous values itself (`getTargetValue`).
//!      A key SLI fails the gate.
//!    - Measured: pass = OR of sets, AND inside a set, every criterion evaluated
//!      (`evaluateOrCombinedCriteria`); warning criteria too, counting half the weight only
//!      when pass failed. A relative criterion without a successful previous value holds with
//!      target 0 (`evaluateComparison`). An unparsable pass criterion aborts with "error with
//!      {displayName or sli}: {reason}"; an unparsable warning criterion empties the warning
//!      targets. Neither pass nor warning: `fail`, and a key SLI fails the gate.
//! 4. Score (EH `calculateScore`): `total_score` is checked first ("no target score defined",
//!    "could not parse pass target percentage", "could not parse warning target percentage":
//!    errored events, C `sendErroredFinishedEventWithMessage`); maximum 0 → pass with 100;
//!    otherwise 100 × Σscore of results **with pass targets** / maximum against the targets;
//!    a failed key SLI (the last one) gives "Evaluation failed due to key_sli objective
//!    '{displayName}': {reason}".
//! 5. No objectives → the score is still calculated (maximum 100, no results), then result
//!    fail, "lighthouse failed because no SLO objective was provided"; otherwise a get-sli
//!    result `fail` forces result fail, "lighthouse failed because SLI failed with message
//!    {msg}" (the details keep the computed result and score).
//!
//! sluice's SLO extensions (`objectives[].statistical`, `objectives[].on_missing`,
//! `comparison.compare_with: baseline`) are scored by [`evaluate_with_samples`]; the
//! statistical criterion's samples are judged by [`judge`] with the tests of [`statistics`].
//! An objective without them takes exactly Keptn's path, so a Keptn-only SLO is scored as
//! before (`src/tests/statistical.rs` checks this).
//!
//! `src/tests/keptn_1_4_5.rs` holds cases whose expected output was computed by running that
//! Go code; `docs/compatibility.md` lists the rules with the function each comes from.

#![forbid(unsafe_code)]

pub mod explain;
pub mod gate;
pub mod go_format;
pub mod history;
pub mod judge;
pub mod statistics;

#[cfg(test)]
mod tests;

pub use gate::{EvaluationInput, evaluate, evaluate_with_samples, key_sli_message};
pub use history::{
    PreviousEvaluation, PreviousValues, aggregate, average, percentile, select_previous,
};
pub use judge::{Samples, SliSamples, samples_of_evaluation, samples_of_values};
