//! Keptn v1 file formats and events as typed, validated Rust values.
//!
//! This crate is pure: it does no IO and never reads the clock. Each file format has a module
//! that turns text into a typed value plus a list of [`diagnostic::Diagnostics`]
//! (errors where Keptn's code rejected the file, warnings where Keptn silently accepted
//! something that is almost certainly a mistake). All formats share the positioned YAML tree
//! and typed readers in [`yaml`].

/// The wall clock, read in one place.
pub mod clock;

pub mod diagnostic;
/// Go duration strings (`10m`, `1h30m`) with `time.ParseDuration` semantics.
pub mod duration;
/// Evaluation wire types (`evaluation.finished`, get-sli values) in Keptn's JSON shape.
pub mod evaluation;
/// Keptn CloudEvents: envelope, event types, typed payloads, Keptn time and context.
pub mod event;
/// job-executor-service configuration (`job/config.yaml`).
pub mod job;
pub mod kind;
/// Keptn's project, stage and service name rules.
pub mod names;
/// `remediation.yaml` (spec 0.1.4) and the get-action selection.
pub mod remediation;
/// The project shipyard (spec 0.2.x) and sequence chaining.
pub mod shipyard;
/// SLI files (`<provider>/sli.yaml`) and their project/stage/service merge.
pub mod sli;
/// The SLO file (`slo.yaml`).
pub mod slo;
/// Keptn webhook-service configuration (`webhook/webhook.yaml`), curl commands included.
pub mod webhook;
/// The wire-string enum macro (closed sets of strings with an `Other` fallback).
mod wire;
pub mod yaml;
pub mod yaml_writer;

use diagnostic::Diagnostics;

/// The result of parsing one file: the typed value (when the YAML could be decoded into the
/// format's shape at all) and every diagnostic found.
///
/// `value` may be `Some` even when `diagnostics` has errors: callers that must reproduce
/// Keptn's run-time behaviour for a file Keptn would have rejected (for example an SLO with
/// an unparsable pass criterion, which Keptn reported in the evaluation result) can still look
/// at it. Use [`Parsed::ok`] to get the value only when the file is valid.
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    /// The decoded value, if the document had the right overall shape.
    pub value: Option<T>,
    /// Errors and warnings, in the order found.
    pub diagnostics: Diagnostics,
}

impl<T> Parsed<T> {
    /// The value if there are no errors (warnings are allowed).
    pub fn ok(self) -> Option<T> {
        if self.diagnostics.has_errors() {
            None
        } else {
            self.value
        }
    }
}
