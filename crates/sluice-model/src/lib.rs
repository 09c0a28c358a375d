//! Keptn v1 file formats and events as typed, validated Rust values.
//!
//! This crate is pure: it does no IO and never reads the clock. Each file format has a module
//! that turns text into a typed value plus a list of [`diagnostic::Diagnostics`]
//! (errors where Keptn's code rejected the file, warnings where Keptn silently accepted
//! something that is almost certainly a mistake). All formats share the positioned YAML tree
//! and typed readers in [`yaml`].

pub mod diagnostic;
pub mod yaml;
