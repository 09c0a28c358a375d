//! Keptn-compatible SLO quality-gate evaluation (pure: no IO, no clock).
//!
//! [`evaluate`] reproduces what Keptn 1.4.5's lighthouse-service sent as
//! `sh.keptn.event.evaluation.finished` data after a `get-sli.finished` event: per-objective
//! status, score, pass and warning targets with computed target values and `violated` flags,
//! compared values from previous evaluations, the total score, the result and every message.
//!
//! Flow (in Keptn's order):
//! 1. get-sli status `errored` → errored/fail, "evaluation performed by lighthouse received an
//!    unexpected error: <msg>"; `aborted` → errored/fail, "evaluation performed by lighthouse
//!    was aborted" (Keptn 1.x sent both through its errored-event helper).
//! 2. No SLO file → succeeded/**pass**, "no evaluation performed by lighthouse because no SLO
//!    file configured for project <p>".
//! 3. No objectives → succeeded/fail, "lighthouse failed because no SLO objective was provided".
//! 4. Objectives in file order: weight counts toward the maximum only with pass criteria; the
//!    first unused SLI value with the objective's name is taken (leftovers are reported as
//!    "Lighthouse received additional SLIs, which are not specified as SLO: a, b . Please
//!    consider using them as an SLO."); a missing or unsuccessful value fails the objective
//!    (informational objectives stay `info`) with its parsable targets listed as violated;
//!    otherwise pass = OR of sets, AND inside a set; warning criteria are always evaluated
//!    and count (half the weight) only when pass failed; a failing key SLI fails the result.
//!    Relative criteria with no successful previous value are satisfied (target 0).
//!    An unparsable pass criterion aborts with "error with <name>: <reason>"; an unparsable
//!    warning criterion is a violated target.
//! 5. Score = 100 × Σscore / maximum (maximum 0 → pass with 100); compared with
//!    `total_score` (missing/unparsable targets → errored "no target score defined", "could not
//!    parse pass target percentage", "could not parse warning target percentage", only where
//!    Keptn reached them; Keptn put the raw SLO text in `sloFileContent` of those events).
//! 6. get-sli result `fail` → result forced to fail, "lighthouse failed because SLI failed with
//!    message <msg>" (the evaluation details keep the computed result and score).
//!
//! Where Keptn's documentation and code disagree, the code is followed: no SLO → pass; zero
//! objectives → fail; only informational objectives → pass with score 100; relative criteria
//! pass without history; `x%` without a sign is a relative increase; `=` is an operator;
//! `number_of_comparison_results` defaults to 3 in a present `comparison` block.
//!
//! Reconstruction notes: the newest lighthouse source readable here is the 1.0-era
//! `evaluate_sli_handler.go`; later behaviour is taken from Keptn 1.x integration tests and
//! merged pull requests (#8665 and #9194: a missing value is still reported, with display
//! name and violated targets; #9495: consistent `success: false` handling) and the spec
//! digest. The texts for an aborting pass criterion ("error with <name>: <reason>") and a
//! failed key SLI ([`key_sli_message`]) come from the digest only, and the evaluation details
//! of the "no objectives" and "bad pass criterion" events (result fail, score 0) are our
//! best reading; each sits in one place so it is easy to correct.

#![forbid(unsafe_code)]

pub mod explain;
pub mod gate;
pub mod go_format;
pub mod history;

#[cfg(test)]
mod tests;

pub use gate::{EvaluationInput, evaluate, key_sli_message};
pub use history::{
    PreviousEvaluation, PreviousValues, aggregate, average, percentile, select_previous,
};
