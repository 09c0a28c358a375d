//! Load testing for sluice: a fast HTTP/1.1 load generator, a reader for Locust's CSV output,
//! and the built-in SLI provider that computes quality-gate SLIs from load-test summaries
//! when no monitoring system is available.
//!
//! The artifact tying them together is [`LoadSummary`]: a test task writes it (e.g. to
//! `/keptn/out/load-summary.json`), and [`slis_from_summaries`] turns the summaries whose run
//! overlaps an evaluation window into `get-sli.finished` indicator values.

pub mod generator;
pub mod histogram;
pub mod http;
pub mod locust;
pub mod loopback_server;
pub mod sli;
pub mod summary;

#[cfg(test)]
mod tests;

pub use generator::{LoadConfig, LoadError, Progress, ProgressCallback, run};
pub use histogram::{LatencyHistogram, LatencyMs};
pub use http::Post;
pub use locust::{LocustError, parse_locust_csv, read_locust_csv};
pub use sli::{INDICATORS, SliValue, slis_from_summaries};
pub use summary::{FailureReason, LoadSummary};
